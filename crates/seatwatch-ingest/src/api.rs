//! The HTTP read API (CONTRACT.md §4): tenant-scoped JSON views of the projections,
//! the push stream, the raw log for backups, `/metrics`, health.

use crate::auth::{self, Denied};
use crate::server::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use seatwatch_compliance::{AlarmQuery, Rule};
use seatwatch_config::{Identity, Role};
use seatwatch_model::{Projector, Ts};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

type Params = Query<HashMap<String, String>>;

const READ_ROLES: &[Role] = &[Role::Reader, Role::Admin, Role::Producer];

/// A 400 with a message saying what to send instead.
fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": "bad_request", "message": message}))).into_response()
}

/// Authenticate a read and decide which tenant it sees: its own; an admin may name
/// another with `?tenant=` (404 if no configuration, token or record knows it: a typo
/// must not read as a clean record); anyone else naming another tenant gets 403.
fn scope(state: &AppState, headers: &HeaderMap, q: &HashMap<String, String>) -> Result<(Identity, String), Denied> {
    let who =
        auth::authorize(&state.tokens, state.no_auth, headers, q.get("access_token").map(String::as_str), READ_ROLES)?;
    let tenant = match q.get("tenant") {
        Some(t) if *t == who.tenant => t.clone(),
        Some(_) if who.role != Role::Admin => return Err(Denied::OtherTenant),
        Some(t) if known_tenant(state, t) => t.clone(),
        Some(_) => return Err(Denied::UnknownTenant),
        None => who.tenant.clone(),
    };
    Ok((who, tenant))
}

/// Whether the configuration, a token or the projections know `tenant`.
fn known_tenant(state: &AppState, tenant: &str) -> bool {
    state.config.tenants.contains_key(tenant)
        || state.config.tokens.iter().any(|t| t.tenant == tenant)
        || state.engine.read().is_ok_and(|e| e.tenants().iter().any(|t| t == tenant))
}

/// 503 while the projections are still folding the log found at start: a partial
/// answer with 200 would read as the truth (`/readyz` says when to come back).
fn not_ready(state: &AppState) -> Option<Response> {
    if state.is_ready() {
        return None;
    }
    let (head, position) = (state.log.head().last_seq, state.engine.read().map(|e| e.position()).unwrap_or(0));
    Some(
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            Json(json!({
                "error": "not_ready",
                "message": format!("catching up with the log: {position} of {head} records folded; retry when /readyz answers 200"),
            })),
        )
            .into_response(),
    )
}

fn time_param(q: &HashMap<String, String>, key: &str) -> Result<Option<Ts>, Box<Response>> {
    match q.get(key) {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => Ts::parse_rfc3339(s).map(Some).ok_or_else(|| {
            Box::new(bad_request(format!(
                "`{key}` must be an RFC 3339 time with an offset, e.g. 2026-03-02T00:00:00Z or \
                 2026-03-02T08:00:00%2B08:00 (a `+` in a URL must be written %2B: unescaped it reads as a space); \
                 got {s:?}"
            )))
        }),
    }
}

/// `from` and `to`, each optional; both given, `from` must be before `to` (as
/// `seatwatch replay` requires: an empty range is a mistake, not an empty answer).
fn range_params(q: &HashMap<String, String>) -> Result<(Option<Ts>, Option<Ts>), Box<Response>> {
    let (from, to) = (time_param(q, "from")?, time_param(q, "to")?);
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(Box::new(bad_request(format!(
            "the time range is empty: `from` ({}) must be before `to` ({})",
            f.to_rfc3339(),
            t.to_rfc3339()
        ))));
    }
    Ok((from, to))
}

macro_rules! scoped {
    ($state:expr, $headers:expr, $q:expr) => {
        match scope(&$state, &$headers, &$q) {
            Ok(s) => s,
            Err(d) => return d.into_response(),
        }
    };
}

/// [`scoped!`] for the projections' views, which also wait for the start-up fold.
macro_rules! scoped_view {
    ($state:expr, $headers:expr, $q:expr) => {{
        let s = match scope(&$state, &$headers, &$q) {
            Ok(s) => s,
            // During the start-up fold a tenant only the log knows may not be known yet.
            Err(Denied::UnknownTenant) if !$state.is_ready() => {
                return not_ready(&$state).unwrap_or_else(|| Denied::UnknownTenant.into_response());
            }
            Err(d) => return d.into_response(),
        };
        if let Some(r) = not_ready(&$state) {
            return r;
        }
        folded_to_now(&$state).await;
        s
    }};
}

/// The longest a read waits for the projections to fold what was committed before it.
const READ_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Read your writes: wait until the projections have folded every record committed
/// (and so possibly acknowledged) when the request came, so that a client reading after
/// an acknowledgement sees the events it sent. Usually no wait at all, else a fold's
/// few milliseconds; under a backlog at most [`READ_WAIT`], after which the read
/// answers with what is folded (`/metrics`' `seatwatch_projection_lag_records` says how
/// far behind).
async fn folded_to_now(state: &AppState) {
    let target = state.log.head().last_seq;
    let deadline = tokio::time::Instant::now() + READ_WAIT;
    loop {
        // Registered before the position is read, so a fold in between is not missed.
        let folded = state.folded.notified();
        tokio::pin!(folded);
        folded.as_mut().enable();
        if state.engine.read().map_or(true, |e| e.position() >= target) {
            return;
        }
        if tokio::time::timeout_at(deadline, folded).await.is_err() {
            tracing::debug!(target, "read answered before the projections caught up with it");
            return;
        }
    }
}

macro_rules! engine {
    ($state:expr) => {
        match $state.engine.read() {
            Ok(e) => e,
            Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "projection state unavailable").into_response(),
        }
    };
}

/// `GET /v1/agents[?include=roster]`.
pub async fn agents(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Params) -> Response {
    let (_, tenant) = scoped_view!(state, headers, q);
    let with_roster = match q.get("include").map(String::as_str) {
        None | Some("") => false,
        Some("roster") => true,
        Some(other) => {
            return bad_request(format!(
                "`include` may only be `roster` (the roster's agents that have sent no state event yet), not {other:?}"
            ));
        }
    };
    let e = engine!(state);
    let agents = if with_roster { e.occupancy.agents_with_roster(&tenant) } else { e.occupancy.agents(&tenant) };
    Json(json!({"agents": agents})).into_response()
}

/// `GET /v1/queues`.
pub async fn queues(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Params) -> Response {
    let (_, tenant) = scoped_view!(state, headers, q);
    let e = engine!(state);
    Json(json!({"queues": e.occupancy.queues(&tenant)})).into_response()
}

/// `GET /v1/windows`: the sliding 15- and 60-minute windows.
pub async fn windows(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Params) -> Response {
    let (_, tenant) = scoped_view!(state, headers, q);
    let e = engine!(state);
    Json(json!({"windows": e.occupancy.windows(&tenant)})).into_response()
}

/// `GET /v1/intervals?from=&to=&queue=`, with what the live state holds: `retained_from`
/// (the start of the oldest interval kept whole, `null` before the tenant's first record)
/// and `truncated` (the range starts before it, or has no `from`: older rows may have left
/// live state; `seatwatch replay --report intervals` rebuilds them from the log).
pub async fn intervals(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Params) -> Response {
    let (_, tenant) = scoped_view!(state, headers, q);
    let (from, to) = match range_params(&q) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let queue = q.get("queue").filter(|s| !s.is_empty()).map(String::as_str);
    let e = engine!(state);
    let rows = e.occupancy.intervals(&tenant, from, to, queue);
    let retained_from = e.occupancy.retained_from(&tenant);
    drop(e);
    let truncated = retained_from.is_some_and(|r| from.is_none_or(|f| f < r));
    Json(json!({
        "intervals": rows,
        "retained_from": retained_from,
        "truncated": truncated,
    }))
    .into_response()
}

/// `GET /v1/alarms?state=active|all|withdrawn&rule=&agent=&from=&to=` (default
/// `state=active`; `withdrawn` lists the alarms withdrawn after they were raised).
pub async fn alarms(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Params) -> Response {
    let (_, tenant) = scoped_view!(state, headers, q);
    let (active_only, withdrawn) = match q.get("state").map(String::as_str) {
        None | Some("") | Some("active") => (true, false),
        Some("all") => (false, false),
        Some("withdrawn") => (false, true),
        Some(other) => {
            return bad_request(format!("`state` must be `active`, `all` or `withdrawn`, not {other:?}"));
        }
    };
    let rule = match q.get("rule").filter(|s| !s.is_empty()) {
        None => None,
        Some(r) => match r.parse::<Rule>() {
            Ok(r) => Some(r),
            Err(_) => {
                let known: Vec<&str> = Rule::ALL.iter().map(|r| r.as_str()).collect();
                return bad_request(format!("unknown rule {r:?}; rules are: {}", known.join(", ")));
            }
        },
    };
    let (from, to) = match range_params(&q) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let agent = q.get("agent").filter(|s| !s.is_empty()).cloned();
    let query = AlarmQuery { active_only, rule, agent, from, to, withdrawn };
    let e = engine!(state);
    Json(json!({"alarms": e.compliance.alarms(&tenant, &query)})).into_response()
}

/// `GET /v1/head`: the log's last seq and head hash (what an auditor publishes).
pub async fn head(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Params) -> Response {
    let _ = scoped!(state, headers, q);
    let h = state.log.head();
    Json(json!({"last_seq": h.last_seq, "head": h.hash_hex()})).into_response()
}

/// `GET /v1/stream`: a WebSocket of `alarm_raised`, `alarm_cleared` and `agent_state`
/// pushes for the caller's tenant.
pub async fn stream(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Params,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let (_, tenant) = scoped!(state, headers, q);
    let ws = match ws {
        Ok(ws) => ws,
        Err(r) => return r.into_response(),
    };
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        crate::telemetry::connection_refused("stream");
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections; retry later").into_response();
    };
    let rx = state.pushes.subscribe(&tenant);
    let tracker = state.tracker.clone();
    let limit = STREAM_MAX_CLIENT_MESSAGE_BYTES;
    ws.max_message_size(limit).max_frame_size(limit).read_buffer_size(limit).on_upgrade(move |socket| {
        tracker.track_future(async move {
            push_loop(socket, rx, tenant, state).await;
            drop(permit);
        })
    })
}

/// The largest message a `/v1/stream` client may send. The stream takes no messages
/// (what a client sends is read and dropped, so that pings are answered and a close is
/// seen); without a limit tungstenite would buffer one of up to 64 MiB per subscriber.
const STREAM_MAX_CLIENT_MESSAGE_BYTES: usize = 4 * 1024;

/// How long one push may wait for a `/v1/stream` subscriber whose socket is full (it
/// stopped reading): then the subscriber is dropped. Shutdown does not wait for it at all.
const STREAM_SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the server's Close frame may wait for such a subscriber on shutdown.
const STREAM_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Send one push; false when the subscriber is gone, has not taken it within
/// [`STREAM_SEND_TIMEOUT`], or shutdown began while it waited.
async fn push_one(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    msg: Message,
    state: &AppState,
    tenant: &str,
) -> bool {
    tokio::select! {
        r = tokio::time::timeout(STREAM_SEND_TIMEOUT, sink.send(msg)) => match r {
            Ok(r) => r.is_ok(),
            Err(_) => {
                tracing::warn!(tenant = %tenant, "a /v1/stream subscriber took no push for {STREAM_SEND_TIMEOUT:?}; dropped");
                false
            }
        },
        _ = state.shutdown.cancelled() => false,
    }
}

async fn push_loop(
    socket: WebSocket,
    mut rx: tokio::sync::broadcast::Receiver<Arc<seatwatch_engine::Push>>,
    tenant: String,
    state: Arc<AppState>,
) {
    let (mut sink, mut incoming) = socket.split();
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                // The tenant's own channel: the check keeps isolation independent of it.
                Ok(p) if p.tenant == tenant => {
                    if !push_one(&mut sink, Message::Text(p.json.clone().into()), &state, &tenant).await { break; }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    let text = json!({"type": "lagged", "missed": n}).to_string();
                    if !push_one(&mut sink, Message::Text(text.into()), &state, &tenant).await { break; }
                }
                Err(_) => return,
            },
            m = incoming.next() => match m {
                Some(Err(e)) if crate::connection::is_too_big(&e) => {
                    tracing::warn!(tenant = %tenant, "message over the size limit on /v1/stream; closing with 1009");
                    let reason = "message too big: /v1/stream takes no messages";
                    let close = CloseFrame { code: close_code::SIZE, reason: reason.into() };
                    let _ = sink.send(Message::Close(Some(close))).await;
                    return;
                }
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
            _ = state.shutdown.cancelled() => break,
        }
    }
    if state.shutdown.is_cancelled() {
        // Going away; a subscriber that does not read gets no more than a moment.
        let close = CloseFrame { code: close_code::AWAY, reason: "server shutting down".into() };
        let _ = tokio::time::timeout(STREAM_CLOSE_TIMEOUT, sink.send(Message::Close(Some(close)))).await;
    }
}

/// The raw log's binary content type (`seatwatch backup` asks for it).
const RAW_LOG_TYPE: &str = "application/vnd.seatwatch.log-v1";

/// `GET /v1/log?from_seq=N` (admin): the records from N on, for backups and audits. JSON
/// by default, as every read (`{"last_seq", "records": [{"seq", "tenant", "source",
/// "received", "event", "link"}]}`: `seatwatch export`'s lines, streamed); the stored
/// bytes, `[seq: u64 BE][len: u32 BE][record bytes]`, when the request's `Accept` names
/// `application/vnd.seatwatch.log-v1` or it says `?format=raw`.
pub async fn log(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Params) -> Response {
    let who = match auth::authorize(
        &state.tokens,
        state.no_auth,
        &headers,
        q.get("access_token").map(String::as_str),
        &[Role::Admin],
    ) {
        Ok(w) => w,
        Err(d) => return d.into_response(),
    };
    let from_seq = match q.get("from_seq").map(|s| s.parse::<u64>()) {
        None => 1,
        Some(Ok(n)) => n.max(1),
        Some(Err(_)) => {
            return bad_request(
                "`from_seq` must be a whole number (the first seq wanted; 0 and 1 both start at the first record)"
                    .into(),
            );
        }
    };
    let raw = match q.get("format").map(String::as_str) {
        Some("raw") => true,
        Some("json") => false,
        Some(other) => {
            let shown: String = other.chars().take(32).collect();
            return bad_request(format!("`format` is `json` (the default) or `raw`, not {shown:?}"));
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.split(',').any(|t| t.trim().starts_with(RAW_LOG_TYPE))),
    };
    let to_seq = state.log.head().last_seq;
    tracing::info!(admin = %who.name, from_seq, to_seq, raw, "log requested");
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(8);
    let log = state.log.clone();
    tokio::task::spawn_blocking(move || {
        let mut buf = Vec::with_capacity(64 * 1024);
        if !raw {
            buf.extend_from_slice(format!("{{\"last_seq\":{to_seq},\"records\":[").as_bytes());
        }
        let mut first = true;
        for r in log.read_raw_from(from_seq) {
            match r {
                Ok(rec) if rec.seq > to_seq => break,
                Ok(rec) if raw => {
                    buf.extend_from_slice(&rec.seq.to_be_bytes());
                    buf.extend_from_slice(&u32::try_from(rec.bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
                    buf.extend_from_slice(&rec.bytes);
                }
                Ok(rec) => match seatwatch_log::format::decode_record(&rec.bytes) {
                    Ok((env, link)) => {
                        let line = env.to_export_json_linked(&link);
                        if !std::mem::take(&mut first) {
                            buf.push(b',');
                        }
                        buf.extend_from_slice(line.to_string().as_bytes());
                    }
                    Err(e) => {
                        let msg = format!("record {} does not decode: {e}", rec.seq);
                        let _ = tx.blocking_send(Err(std::io::Error::other(msg)));
                        return;
                    }
                },
                Err(e) => {
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            }
            if buf.len() >= 60 * 1024 && tx.blocking_send(Ok(std::mem::take(&mut buf))).is_err() {
                return;
            }
        }
        if !raw {
            buf.extend_from_slice(b"]}");
        }
        if !buf.is_empty() {
            let _ = tx.blocking_send(Ok(buf));
        }
    });
    let body = Body::from_stream(tokio_stream_from(rx));
    (
        [
            (header::CONTENT_TYPE, if raw { RAW_LOG_TYPE } else { "application/json" }.to_owned()),
            (header::HeaderName::from_static("x-seatwatch-last-seq"), to_seq.to_string()),
        ],
        body,
    )
        .into_response()
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// `GET /metrics`: Prometheus text format. The call-centre series are set from the
/// projections now (see [`crate::telemetry::publish`]), the engine gauges from the log
/// and the server state; then the process's recorder is rendered — on a blocking thread,
/// since with many agents and queues this takes milliseconds.
///
/// Who sees what: with `[server] metrics_auth = true` the request needs a token, as a
/// read does (reader, admin, or a producer for its own tenant); an admin sees every
/// series, any other token only its own tenant's and the server-wide series that reveal
/// no tenant's activity ([`crate::exposition`]). `?tenant=T` narrows the view to
/// tenant T (only an admin may name another tenant than its token's). Without
/// `metrics_auth` the endpoint is open and shows every series, or T's with `?tenant=T`.
pub async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap, Query(q): Params) -> Response {
    use crate::telemetry as t;
    // The tenant whose view is rendered; `None`: everything.
    let view: Option<String> = if state.config.server.metrics_auth {
        match scope(&state, &headers, &q) {
            Ok((who, _)) if who.role == Role::Admin && !q.contains_key("tenant") => None,
            Ok((_, tenant)) => Some(tenant),
            Err(d) => return d.into_response(),
        }
    } else {
        q.get("tenant").cloned()
    };
    if state.is_ready() {
        folded_to_now(&state).await;
    }
    let render = move || {
        let head = state.log.head().last_seq;
        let position = {
            let e = state.engine.read().ok()?;
            // Not before the projections have caught up with the log found at start: a
            // half-folded state would show counters lower than before the restart, which
            // Prometheus would take for a reset. Until then the series are absent.
            if state.is_ready() {
                t::publish(&seatwatch_engine::metrics::Sources {
                    occupancy: &e.occupancy,
                    compliance: &e.compliance,
                    histograms: &e.histograms,
                    config: &state.config,
                });
            }
            e.position()
        };
        let stats = state.log.stats();
        metrics::gauge!(t::LOG_LAST_SEQ).set(head as f64);
        metrics::gauge!(t::LOG_SIZE).set(state.log.size_on_disk() as f64);
        metrics::counter!(t::LOG_COMMITS).absolute(stats.commits);
        metrics::counter!(t::LOG_REQUESTS).absolute(stats.requests);
        metrics::gauge!(t::PROJECTION_POSITION).set(position as f64);
        metrics::gauge!(t::PROJECTION_LAG).set(head.saturating_sub(position) as f64);
        metrics::gauge!(t::CONNECTIONS).set(state.open_connections.load(Ordering::Relaxed) as f64);
        metrics::gauge!(t::SOCKETS_OPEN).set(state.sockets.open.load(Ordering::Relaxed) as f64);
        metrics::gauge!(t::READY).set(if state.is_ready() { 1.0 } else { 0.0 });
        let text = state.metrics.render();
        Some(match view {
            None => text,
            Some(tenant) => crate::exposition::scope_to_tenant(&text, &tenant),
        })
    };
    match tokio::task::spawn_blocking(render).await {
        Ok(Some(text)) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "projection state unavailable").into_response(),
    }
}

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// `GET /readyz`: the log is open and the projections have caught up.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.is_ready() && !state.shutdown.is_cancelled() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: catching up with the log\n").into_response()
    }
}

/// Anything else: 404 with the list of endpoints.
pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "not_found", "message": "endpoints: /v1/ingest, /v1/agents, /v1/queues, /v1/intervals, /v1/windows, /v1/alarms, /v1/stream, /v1/log, /v1/head, /metrics, /healthz, /readyz"})),
    )
        .into_response()
}
