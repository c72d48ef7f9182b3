//! The access-control matrix: every endpoint × every credential (producer, reader, admin,
//! none, a wrong secret) × own and another tenant (`?tenant=`), each with the status the
//! policy in docs/security.md promises, and for `/metrics` which tenants' series the
//! answer holds. Run against `[server] metrics_auth` off and on.

use crate::harness::*;
use serde_json::Value;

/// Who is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cred {
    None,
    Wrong,
    Producer,
    Reader,
    Admin,
}

impl Cred {
    const ALL: [Cred; 5] = [Cred::None, Cred::Wrong, Cred::Producer, Cred::Reader, Cred::Admin];

    fn secret(self) -> Option<&'static str> {
        match self {
            Cred::None => None,
            Cred::Wrong => Some("this-is-not-a-configured-secret"),
            Cred::Producer => Some(ACME_ACD),
            Cred::Reader => Some(ACME_READER),
            Cred::Admin => Some(ADMIN),
        }
    }

    /// The token's own tenant (the admin token belongs to `ops`).
    fn own_tenant(self) -> &'static str {
        if self == Cred::Admin { "ops" } else { "acme" }
    }

    fn is_authenticated(self) -> bool {
        !matches!(self, Cred::None | Cred::Wrong)
    }
}

/// Which tenant the request names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// No `?tenant=`.
    Implicit,
    /// `?tenant=` naming the token's own tenant.
    Own,
    /// `?tenant=` naming a tenant the token does not belong to.
    Other,
}

const SCOPES: [Scope; 3] = [Scope::Implicit, Scope::Own, Scope::Other];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `/v1/ingest`: producer or admin; the tenant is always the token's own.
    Ingest,
    /// A tenant-scoped read: any role sees its own tenant; only an admin another.
    Read,
    /// `/v1/stream`: a read, as a WebSocket.
    Stream,
    /// `/v1/log`: admins only (it is every tenant's raw log).
    RawLog,
    /// `/metrics`.
    Metrics,
    /// `/healthz`, `/readyz`: no authentication.
    Health,
}

const ENDPOINTS: [(&str, Kind); 12] = [
    ("/v1/ingest", Kind::Ingest),
    ("/v1/agents", Kind::Read),
    ("/v1/queues", Kind::Read),
    ("/v1/intervals", Kind::Read),
    ("/v1/windows", Kind::Read),
    ("/v1/alarms", Kind::Read),
    ("/v1/head", Kind::Read),
    ("/v1/stream", Kind::Stream),
    ("/v1/log", Kind::RawLog),
    ("/metrics", Kind::Metrics),
    ("/healthz", Kind::Health),
    ("/readyz", Kind::Health),
];

/// The policy of docs/security.md, as statuses (101: the WebSocket upgrade succeeded).
fn expected(kind: Kind, cred: Cred, scope: Scope, metrics_auth: bool) -> u16 {
    let other = scope == Scope::Other;
    match kind {
        Kind::Health => 200,
        Kind::Metrics if !metrics_auth => 200,
        _ if !cred.is_authenticated() => 401,
        Kind::Ingest => match cred {
            Cred::Reader => 403,
            // Events go to the token's tenant, never one a request names.
            _ if other => 403,
            _ => 101,
        },
        Kind::Read | Kind::Stream => {
            let ok = if kind == Kind::Stream { 101 } else { 200 };
            if other && cred != Cred::Admin { 403 } else { ok }
        }
        Kind::RawLog => {
            if cred == Cred::Admin {
                200
            } else {
                403
            }
        }
        // As a read: any role, its own tenant's series; only an admin names another.
        Kind::Metrics => {
            if other && cred != Cred::Admin {
                403
            } else {
                200
            }
        }
    }
}

/// Whose series a `/metrics` answer may hold: `None`, every tenant's and the server-wide
/// ones; `Some(t)`, tenant t's and the harmless server-wide ones only.
fn metrics_view(cred: Cred, scope: Scope, metrics_auth: bool) -> Option<&'static str> {
    match scope {
        Scope::Implicit if !metrics_auth || cred == Cred::Admin => None,
        Scope::Implicit | Scope::Own => Some(cred.own_tenant()),
        Scope::Other => Some("globex"),
    }
}

/// The sample lines of an exposition, and a check that every `# HELP`/`# TYPE` line is
/// followed by a sample of its family (no header left without samples).
fn samples(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut header: Option<(&str, bool)> = None;
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let name = rest.split_whitespace().nth(1).unwrap();
            if let Some((prev, seen)) = header
                && prev != name
            {
                assert!(seen, "`{prev}` has HELP/TYPE lines but no sample:\n{body}");
            }
            header = Some((name, header.is_some_and(|(prev, seen)| prev == name && seen)));
        } else if !line.trim().is_empty() {
            if let Some((name, seen)) = header.as_mut() {
                assert!(line.starts_with(*name), "sample `{line}` under the header of `{name}`");
                *seen = true;
            }
            out.push(line);
        }
    }
    if let Some((name, seen)) = header {
        assert!(seen, "`{name}` has HELP/TYPE lines but no sample:\n{body}");
    }
    out
}

/// Server-wide series a tenant may see (docs/security.md).
const HARMLESS: [&str; 2] = ["seatwatch_build_info", "seatwatch_ready"];
/// Server-wide series only an unscoped view (an admin's) holds.
const SERVER_WIDE: [&str; 7] = [
    "seatwatch_log_last_seq ",
    "seatwatch_ingest_events_total{",
    "seatwatch_ingest_frames_total ",
    "seatwatch_log_commits_total ",
    "seatwatch_sockets_shed_total ",
    "seatwatch_sockets_timed_out_total ",
    "seatwatch_ingest_rate_limited_events_total{",
];

/// What the matrix checks of a `/metrics` answer seen as `view`.
fn check_metrics_body(body: &str, view: Option<&str>) -> Result<(), String> {
    let lines = samples(body);
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    match view {
        None => {
            for needle in ["tenant=\"acme\"", "tenant=\"globex\"", "seatwatch_build_info{"] {
                if !has(needle) {
                    return Err(format!("no `{needle}` series"));
                }
            }
            if let Some(missing) = SERVER_WIDE.iter().find(|n| !has(n)) {
                return Err(format!("no server-wide `{missing}` series"));
            }
        }
        Some(tenant) => {
            for line in &lines {
                let harmless = HARMLESS.iter().any(|h| line.starts_with(h));
                if !harmless && !line.contains(&format!("tenant=\"{tenant}\"")) {
                    return Err(format!("a series not of {tenant}: {line}"));
                }
            }
            // Other tenants' names appear nowhere. globex's producer named a queue
            // `evil",tenant="acme`: globex sees that queue (it is globex's), nobody else
            // mistakes it for an acme series.
            const EVIL: &str = r#"queue="evil\",tenant=\"acme""#;
            for other in ["acme", "globex", "evil"] {
                let mentions = |l: &&&str| l.replace(EVIL, "globex's queue").contains(other);
                if other != tenant
                    && let Some(line) = lines.iter().find(mentions)
                {
                    return Err(format!("{tenant}'s view mentions `{other}`: {line}"));
                }
            }
            if tenant == "globex" && !has(EVIL) {
                return Err("globex's own queue `evil\",tenant=\"acme` is missing from its view".into());
            }
            if tenant != "ops" && !has(&format!("seatwatch_agents{{tenant=\"{tenant}\"")) {
                return Err(format!("{tenant}'s own seatwatch_agents series are missing"));
            }
            if !has("seatwatch_build_info{") || !has("seatwatch_ready ") {
                return Err("no seatwatch_build_info / seatwatch_ready".into());
            }
            if let Some(leak) = SERVER_WIDE.iter().find(|n| has(n)) {
                return Err(format!("a server-wide series in a tenant's view: {leak}"));
            }
        }
    }
    Ok(())
}

fn path_for(endpoint: &str, cred: Cred, scope: Scope) -> String {
    match scope {
        Scope::Implicit => endpoint.to_owned(),
        Scope::Own => format!("{endpoint}?tenant={}", cred.own_tenant()),
        // `globex` is nobody's own tenant among these credentials.
        Scope::Other => format!("{endpoint}?tenant=globex"),
    }
}

async fn status(srv: &Server, kind: Kind, path: &str, secret: Option<&str>) -> (u16, String) {
    match kind {
        Kind::Ingest | Kind::Stream => match connect(&srv.ws_url(path), secret).await {
            Ok(_) => (101, String::new()),
            Err(e) => (upgrade_status(&e), String::new()),
        },
        _ => srv.get(path, secret).await,
    }
}

async fn ready(srv: &Server) {
    while !srv.state.is_ready() {
        let mut commits = srv.state.log.subscribe();
        tokio::select! {
            _ = commits.changed() => {},
            _ = tokio::task::yield_now() => {},
        }
    }
}

async fn run_matrix(metrics_auth: bool) -> usize {
    let dir = tempfile::tempdir().unwrap();
    // A rate limit, so that the rate-limit counters exist (server-wide: admin only).
    let extra = if metrics_auth {
        "[server]\nmetrics_auth = true\nrate_limit = 1000\n"
    } else {
        "[server]\nmetrics_auth = false\nrate_limit = 1000\n"
    };
    let srv = Server::start(dir.path(), config(extra)).await;
    ready(&srv).await;
    // Both tenants have series; globex's producer tries to smuggle an `acme` label into
    // a queue id.
    let mut acme = srv.connect(Some(ACME_ACD)).await.unwrap();
    let e = ev("m-1", "login", "2026-03-02T08:20:00+08:00", Some("a1"), r#","station":"S1""#);
    assert_eq!(roundtrip(&mut acme, &e).await["accepted"], 1);
    let mut globex = srv.connect(Some(GLOBEX_ACD)).await.unwrap();
    let now = chrono::Utc::now().to_rfc3339();
    let e = ev("m-2", "queued", &now, None, r#","call":"c1","queue":"evil\",tenant=\"acme""#);
    assert_eq!(roundtrip(&mut globex, &e).await["accepted"], 1, "{e}");
    drop((acme, globex));
    srv.caught_up().await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for (endpoint, kind) in ENDPOINTS {
        for cred in Cred::ALL {
            for scope in SCOPES {
                // Both ways of presenting a secret: the header and `?access_token=`.
                for via_query in [false, true] {
                    if via_query && cred.secret().is_none() {
                        continue;
                    }
                    let mut path = path_for(endpoint, cred, scope);
                    let header = if via_query {
                        let sep = if path.contains('?') { '&' } else { '?' };
                        path = format!("{path}{sep}access_token={}", cred.secret().unwrap());
                        None
                    } else {
                        cred.secret()
                    };
                    let want = expected(kind, cred, scope, metrics_auth);
                    let (got, body) = status(&srv, kind, &path, header).await;
                    checked += 1;
                    let how = if via_query { "query" } else { "header" };
                    if got != want {
                        failures.push(format!("{path} as {cred:?} ({how}): expected {want}, got {got}"));
                    } else if kind == Kind::Metrics && got == 200 {
                        let view = metrics_view(cred, scope, metrics_auth);
                        if let Err(e) = check_metrics_body(&body, view) {
                            failures.push(format!("{path} as {cred:?} ({how}), view {view:?}: {e}"));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "metrics_auth = {metrics_auth}:\n{}", failures.join("\n"));
    srv.stop().await;
    checked
}

#[tokio::test]
async fn access_matrix_every_endpoint_role_tenant_and_bad_token() {
    let n = run_matrix(false).await;
    // 12 endpoints × (2 unauthenticated × 3 scopes + 4 secrets × 3 scopes × 2 ways).
    assert_eq!(n, 12 * (3 + 4 * 3 * 2));
}

#[tokio::test]
async fn access_matrix_with_metrics_behind_a_token() {
    run_matrix(true).await;
}

#[tokio::test]
async fn refusals_say_what_to_do_and_reveal_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let (code, body) = srv.get("/v1/agents", Some("guess")).await;
    assert_eq!(code, 401);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "unauthorized", "{v}");
    assert!(!body.contains("guess"), "a refused secret is echoed: {body}");
    let (code, body) = srv.get("/v1/agents?tenant=globex", Some(ACME_READER)).await;
    assert_eq!(code, 403);
    assert!(!body.contains("globex-"), "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "forbidden", "{v}");
    assert!(v["message"].as_str().unwrap().contains("needs an admin token"), "{v}");
    // An admin's typo is not a clean record: 404, not 200 with nothing in it.
    let (code, body) = srv.get("/v1/alarms?tenant=globx", Some(ADMIN)).await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"], "unknown_tenant");
    assert_eq!(srv.get("/v1/alarms?tenant=globex", Some(ADMIN)).await.0, 200, "a tenant with tokens is known");
    // Producer naming another tenant on ingest: refused, with the reason.
    let e = connect(&srv.ws_url("/v1/ingest?tenant=globex"), Some(ACME_ACD)).await.unwrap_err();
    assert_eq!(upgrade_status(&e), 403);
    srv.stop().await;
}

#[tokio::test]
async fn the_views_answer_503_not_a_partial_200_while_the_start_up_fold_runs() {
    // The read API with no follower running: the state stays "catching up" until the
    // test says otherwise.
    let dir = tempfile::tempdir().unwrap();
    let log = seatwatch_log::Log::open(dir.path()).unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let state = seatwatch_ingest::server::AppState::new(config(""), log, Default::default(), shutdown.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = seatwatch_ingest::server::router(state.clone());
    let served = tokio::spawn(async move {
        axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await
    });
    for path in ["/v1/agents", "/v1/alarms", "/v1/intervals", "/v1/queues", "/v1/windows"] {
        let (code, body) = http_get(addr, path, Some(ACME_READER)).await;
        assert_eq!(code, 503, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"], "not_ready", "{path}: {v}");
        assert!(v["message"].as_str().unwrap().contains("/readyz"), "{v}");
    }
    assert_eq!(http_get(addr, "/v1/agents", Some("guess")).await.0, 401, "authentication first");
    assert_eq!(http_get(addr, "/readyz", None).await.0, 503);
    state.ready.store(true, std::sync::atomic::Ordering::Release);
    assert_eq!(http_get(addr, "/v1/agents", Some(ACME_READER)).await.0, 200);
    state.shutdown.cancel();
    served.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_producer_cannot_write_into_another_tenant_nor_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut acme = srv.connect(Some(ACME_ACD)).await.unwrap();
    // The event names globex in every field it could: it still lands in acme.
    let e = ev("x-1", "login", "2026-03-02T08:20:00+08:00", Some("spy"), r#","station":"S1","tenant":"globex""#);
    assert_eq!(roundtrip(&mut acme, &e).await["accepted"], 1);
    srv.caught_up().await;
    let acme_agents = srv.get_json("/v1/agents", ACME_READER).await;
    assert_eq!(acme_agents["agents"][0]["agent"], "spy", "{acme_agents}");
    assert_eq!(srv.get_json("/v1/agents", GLOBEX_READER).await["agents"], Value::Array(vec![]));
    assert_eq!(srv.get_json("/v1/agents?tenant=globex", ADMIN).await["agents"], Value::Array(vec![]));
    // globex's own producer reads globex, not acme.
    assert_eq!(srv.get_json("/v1/agents", GLOBEX_ACD).await["agents"], Value::Array(vec![]));
    assert_eq!(srv.get("/v1/agents?tenant=acme", Some(GLOBEX_ACD)).await.0, 403);
    drop(acme);
    srv.stop().await;
}
