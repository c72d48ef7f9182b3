//! One ingest WebSocket connection.
//!
//! A reader loop takes frames off the socket, validates them and submits their events to
//! the log *in frame order* (so per-agent order survives into the log); a writer loop
//! awaits each frame's durable append in the same order and sends its reply. Between
//! them, a per-connection budget of in-flight bytes: when a client sends faster than the
//! disk commits, or never reads its replies, the reader stops reading and TCP pushes
//! back — nothing is buffered without bound.

use crate::auth;
use crate::frame::{self, Reply};
use crate::server::AppState;
use crate::telemetry;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use seatwatch_config::{Identity, Role};
use seatwatch_log::{AppendOutcome, LogError};
use seatwatch_model::Ts;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// `GET /v1/ingest`: authenticate (401/403 before the upgrade), take a connection
/// permit (503 when the cap is reached), upgrade.
pub async fn ingest(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let who = match auth::authorize(
        &state.tokens,
        state.no_auth,
        &headers,
        q.get("access_token").map(String::as_str),
        &[Role::Producer, Role::Admin],
    ) {
        Ok(who) => who,
        Err(d) => return d.into_response(),
    };
    // Events always go to the token's own tenant; a request naming another is refused
    // rather than silently written elsewhere than its sender meant.
    if let Some(t) = q.get("tenant")
        && *t != who.tenant
    {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({
                "error": "forbidden",
                "message": "events go to the token's own tenant; `?tenant=` on /v1/ingest may only name it"
            })),
        )
            .into_response();
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        tracing::warn!("connection cap reached; refusing an ingest connection");
        telemetry::connection_refused("ingest");
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections; retry later").into_response();
    };
    let max = state.config.server.max_frame_bytes;
    let tracker = state.tracker.clone();
    ws.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| {
        tracker.track_future(async move {
            state.open_connections.fetch_add(1, Ordering::Relaxed);
            serve(socket, state.clone(), who).await;
            state.open_connections.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        })
    })
}

type AppendFuture = Pin<Box<dyn Future<Output = Result<Vec<AppendOutcome>, LogError>> + Send>>;

/// What the writer must answer, in order.
enum Outgoing {
    /// A reply that needs no append.
    Now(Reply, OwnedSemaphorePermit),
    /// A frame whose events are being appended.
    Pending {
        positions: Vec<(usize, String)>,
        rejected: Vec<seatwatch_model::Rejection>,
        append: AppendFuture,
        started: Instant,
        _budget: OwnedSemaphorePermit,
    },
    /// Close the connection with this code after everything before it is answered.
    Close(u16, &'static str),
}

fn now() -> Ts {
    Ts::from_datetime(&chrono::Utc::now()).unwrap_or_default()
}

async fn serve(socket: WebSocket, state: Arc<AppState>, who: Identity) {
    tracing::debug!(source = %who.name, tenant = %who.tenant, "ingest connection open");
    let (mut sink, mut stream) = socket.split();
    let budget_bytes = state.config.server.max_in_flight_bytes;
    let budget = Arc::new(Semaphore::new(budget_bytes));
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    let idle = Duration::from_millis(state.config.server.idle_timeout.0.max(1000));

    let writer_state = state.clone();
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let (text, latency) = match out {
                Outgoing::Now(reply, _permit) => {
                    count_rejected(&reply);
                    (reply.to_json(), None)
                }
                Outgoing::Pending { positions, rejected, append, started, _budget } => {
                    let outcome = append.await;
                    if let Err(e) = &outcome {
                        tracing::error!(error = %e, "append failed; events rejected as internal");
                    }
                    let reply = frame::finish(positions, rejected, outcome, writer_state.log.head().last_seq);
                    telemetry::events("accepted", reply.accepted);
                    telemetry::events("duplicate", reply.duplicate);
                    count_rejected(&reply);
                    (reply.to_json(), Some(started.elapsed()))
                }
                Outgoing::Close(code, reason) => {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    return;
                }
            };
            if let Some(l) = latency {
                telemetry::ack_latency(l);
            }
            if sink.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
        if writer_state.shutdown.is_cancelled() {
            let _ = sink
                .send(Message::Close(Some(CloseFrame {
                    code: close_code::AWAY,
                    reason: "server shutting down".into(),
                })))
                .await;
        } else {
            let _ = sink.send(Message::Close(None)).await;
        }
    });

    loop {
        let next = tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => break,
            n = tokio::time::timeout(idle, stream.next()) => n,
        };
        let msg = match next {
            Err(_) => {
                tracing::debug!(source = %who.name, "idle timeout");
                let _ = tx.send(Outgoing::Close(close_code::POLICY, "idle timeout"));
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                if is_too_big(&e) {
                    tracing::warn!(source = %who.name, "frame over the size limit; closing with 1009");
                    let _ = tx.send(Outgoing::Close(close_code::SIZE, "frame too big"));
                } else if e.to_string().to_ascii_lowercase().contains("utf") {
                    tracing::debug!(source = %who.name, "invalid UTF-8 in a text frame; closing with 1007");
                    let _ = tx.send(Outgoing::Close(close_code::INVALID, "invalid UTF-8 in a text frame"));
                } else {
                    tracing::debug!(source = %who.name, error = %e, "ingest connection error");
                    let _ = tx.send(Outgoing::Close(close_code::PROTOCOL, "WebSocket protocol error"));
                }
                break;
            }
            Ok(Some(Ok(m))) => m,
        };
        let (text, size) = match &msg {
            Message::Text(t) => (Some(t.as_str()), t.len()),
            Message::Binary(b) => (None, b.len()),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        // Backpressure: wait for budget before doing any work on the frame.
        let want = u32::try_from(size.clamp(1, budget_bytes)).unwrap_or(u32::MAX);
        let permit = tokio::select! {
            p = budget.clone().acquire_many_owned(want) => match p { Ok(p) => p, Err(_) => break },
            _ = state.shutdown.cancelled() => break,
        };
        telemetry::frame();
        state.frames_read.fetch_add(1, Ordering::Relaxed);
        let Some(text) = text else {
            let _ = tx.send(Outgoing::Now(frame::unsupported("binary"), permit));
            continue;
        };
        let tenant_cfg = state.config.tenant(&who.tenant);
        let mut work = frame::decode(text, &who, tenant_cfg, state.log.caller_key(), now());
        if let Some(rate) = state.config.rate_limit(&who.name) {
            rate_limit(&state, &who.name, rate, &mut work);
        }
        if work.pending.is_empty() {
            let reply = frame::finish(work.positions, work.rejected, Ok(Vec::new()), state.log.head().last_seq);
            let _ = tx.send(Outgoing::Now(reply, permit));
            continue;
        }
        let started = Instant::now();
        let durable = state.log.append(work.pending);
        let append: AppendFuture = Box::pin(async move {
            let outcome = durable.await;
            telemetry::flush_latency(started.elapsed());
            outcome
        });
        let _ = tx.send(Outgoing::Pending {
            positions: work.positions,
            rejected: work.rejected,
            append,
            started,
            _budget: permit,
        });
    }
    drop(tx);
    let _ = writer.await;
    tracing::debug!(source = %who.name, "ingest connection closed");
}

/// Keep the events of `work` that the token's rate allows now (in frame order); reject
/// the rest with `internal`, which tells the producer to send them again.
fn rate_limit(state: &AppState, name: &str, rate: f64, work: &mut frame::FrameWork) {
    let allowed = state.rates.take(name, rate, work.pending.len());
    if allowed == work.pending.len() {
        return;
    }
    work.pending.truncate(allowed);
    let message = format!(
        "rate limit: token `{name}` may send at most {rate} events per second; not stored, send it again later"
    );
    let over = work.positions.split_off(allowed);
    telemetry::rate_limited(name, over.len() as u64);
    tracing::debug!(source = %name, rejected = over.len(), "event rate limit reached");
    work.rejected.extend(over.into_iter().map(|(index, id)| seatwatch_model::Rejection {
        index: Some(index),
        id: Some(id),
        code: seatwatch_model::RejectCode::Internal,
        message: message.clone(),
    }));
}

/// Count a reply's rejected events by code (including `internal` ones from a failed
/// append).
fn count_rejected(reply: &Reply) {
    for r in &reply.rejected {
        telemetry::rejected(r.code.as_str());
    }
}

fn is_too_big(e: &axum::Error) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("too long") || text.contains("too big") || text.contains("capacity") || text.contains("space limit")
}
