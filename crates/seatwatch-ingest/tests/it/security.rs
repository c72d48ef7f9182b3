//! The access-control matrix: every endpoint × every credential (producer, reader, admin,
//! none, a wrong secret) × own and another tenant (`?tenant=`), each with the status the
//! policy in docs/security.md promises. Run against `[server] metrics_auth` off and on.

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
        Kind::Metrics => match cred {
            Cred::Reader | Cred::Admin => 200,
            _ => 403,
        },
    }
}

fn path_for(endpoint: &str, cred: Cred, scope: Scope) -> String {
    match scope {
        Scope::Implicit => endpoint.to_owned(),
        Scope::Own => format!("{endpoint}?tenant={}", cred.own_tenant()),
        // `globex` is nobody's own tenant among these credentials.
        Scope::Other => format!("{endpoint}?tenant=globex"),
    }
}

async fn status(srv: &Server, kind: Kind, path: &str, secret: Option<&str>) -> u16 {
    match kind {
        Kind::Ingest | Kind::Stream => match connect(&srv.ws_url(path), secret).await {
            Ok(_) => 101,
            Err(e) => upgrade_status(&e),
        },
        _ => srv.get(path, secret).await.0,
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
    let extra = if metrics_auth { "[server]\nmetrics_auth = true\n" } else { "" };
    let srv = Server::start(dir.path(), config(extra)).await;
    ready(&srv).await;
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
                    let got = status(&srv, kind, &path, header).await;
                    checked += 1;
                    if got != want {
                        failures.push(format!(
                            "{path} as {cred:?} ({}): expected {want}, got {got}",
                            if via_query { "query" } else { "header" }
                        ));
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
    // Producer naming another tenant on ingest: refused, with the reason.
    let e = connect(&srv.ws_url("/v1/ingest?tenant=globex"), Some(ACME_ACD)).await.unwrap_err();
    assert_eq!(upgrade_status(&e), 403);
    srv.stop().await;
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
