//! An in-process server on 127.0.0.1:0 over a temporary data directory, and clients.

use futures_util::{SinkExt, StreamExt};
use seatwatch_config::{Config, hash_secret};
use seatwatch_ingest::{AppState, ServerOptions};
use seatwatch_log::Log;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Secrets of the tokens every test config has.
pub const ACME_ACD: &str = "acme-acd-secret";
pub const ACME_ACD2: &str = "acme-acd2-secret";
pub const ACME_READER: &str = "acme-reader-secret";
pub const GLOBEX_ACD: &str = "globex-acd-secret";
pub const GLOBEX_READER: &str = "globex-reader-secret";
pub const ADMIN: &str = "admin-secret";

/// A config with two tenants (`acme` on the event clock, `globex` on the wall clock)
/// and `extra` appended.
pub fn config(extra: &str) -> Config {
    let tok = |name: &str, tenant: &str, role: &str, secret: &str| {
        format!(
            "[[token]]\nname = \"{name}\"\ntenant = \"{tenant}\"\nrole = \"{role}\"\nsha256 = \"{}\"\n\n",
            hash_secret(secret)
        )
    };
    let text = [
        tok("acme-acd", "acme", "producer", ACME_ACD),
        tok("acme-acd2", "acme", "producer", ACME_ACD2),
        tok("acme-reader", "acme", "reader", ACME_READER),
        tok("globex-acd", "globex", "producer", GLOBEX_ACD),
        tok("globex-reader", "globex", "reader", GLOBEX_READER),
        tok("root", "ops", "admin", ADMIN),
        "[tenant.acme]\nclock = \"event\"\n\n[tenant.globex]\nclock = \"wall\"\n\n".to_owned(),
        extra.to_owned(),
    ]
    .concat();
    Config::parse(&text).expect("test config")
}

pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(dir: &Path, config: Config) -> Server {
        let log = Log::open(dir).expect("open log");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let state = AppState::new(config, log, ServerOptions::default(), shutdown.clone());
        let task = tokio::spawn(seatwatch_ingest::run(listener, state.clone()));
        Server { addr, state, shutdown, task }
    }

    /// Graceful stop; returns once the log is closed.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Connect to `/v1/ingest` with `secret` (None: no Authorization header).
    pub async fn connect(&self, secret: Option<&str>) -> Result<Ws, tungstenite::Error> {
        connect(&self.ws_url("/v1/ingest"), secret).await
    }

    /// Wait until the projections have applied everything in the log.
    pub async fn caught_up(&self) {
        use seatwatch_model::Projector;
        let mut commits = self.state.log.subscribe();
        loop {
            let head = self.state.log.head().last_seq;
            let pos = self.state.engine.read().unwrap().position();
            if pos >= head {
                return;
            }
            // The follower applies after each commit; a new commit or a short yield
            // lets it run.
            tokio::select! {
                _ = commits.changed() => {},
                _ = tokio::task::yield_now() => {},
            }
        }
    }

    /// `GET path` with `secret`; returns (status, body).
    pub async fn get(&self, path: &str, secret: Option<&str>) -> (u16, String) {
        http_get(self.addr, path, secret).await
    }

    /// The value of one sample of `/metrics` (scraped with the admin token), given as
    /// rendered: `seatwatch_sockets_shed_total`, `x_total{token="a"}`. 0 when absent.
    pub async fn scrape(&self, series: &str) -> f64 {
        let (status, body) = self.get("/metrics", Some(ADMIN)).await;
        assert_eq!(status, 200, "GET /metrics: {body}");
        body.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    pub async fn get_json(&self, path: &str, secret: &str) -> Value {
        let (status, body) = self.get(path, Some(secret)).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

pub async fn connect(url: &str, secret: Option<&str>) -> Result<Ws, tungstenite::Error> {
    let mut req = url.into_client_request()?;
    if let Some(s) = secret {
        req.headers_mut().insert("Authorization", format!("Bearer {s}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws)
}

/// The HTTP status of a failed upgrade.
pub fn upgrade_status(e: &tungstenite::Error) -> u16 {
    match e {
        tungstenite::Error::Http(resp) => resp.status().as_u16(),
        other => panic!("expected an HTTP error, got {other}"),
    }
}

/// Send one text frame and read its reply.
pub async fn roundtrip(ws: &mut Ws, text: &str) -> Value {
    ws.send(Message::text(text)).await.unwrap();
    next_json(ws).await
}

/// The next text frame, as JSON.
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match ws.next().await.expect("connection open").expect("frame") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Minimal HTTP/1.1 GET (Connection: close).
pub async fn http_get(addr: SocketAddr, path: &str, secret: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let auth = secret.map(|s| format!("Authorization: Bearer {s}\r\n")).unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").map_or(buf.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&buf[..split]).to_ascii_lowercase();
    let status: u16 = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = if head.contains("transfer-encoding: chunked") { dechunk(&buf[split..]) } else { buf[split..].to_vec() };
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        let rest = &b[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        b = rest.get(n + 2..).unwrap_or_default();
    }
    out
}

/// An event object as text.
pub fn ev(id: &str, ty: &str, ts: &str, agent: Option<&str>, extra: &str) -> String {
    let agent = agent.map(|a| format!(r#","agent":"{a}""#)).unwrap_or_default();
    format!(r#"{{"id":"{id}","type":"{ty}","ts":"{ts}"{agent}{extra}}}"#)
}
