//! Secrets and caller numbers never reach the server's log output, at any log level.
//!
//! The real binary runs with `RUST_LOG=trace` through a session that authenticates with
//! secrets in the header and in `?access_token=`, fails to authenticate with wrong ones,
//! sends events carrying `caller` numbers, a malformed frame and rejected events holding
//! numbers in their text, reads, streams and scrapes `/metrics`. Then the server's whole
//! stderr (and the `/metrics` text) is searched for every secret and number, as typed
//! and hex-encoded (as a frame dump would show them).

use futures_util::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PRODUCER: &str = "Prod-Secret-4f1c9e2ab7d3";
const READER: &str = "Read-Secret-9b2e7c1d5a8f";
const ADMIN: &str = "Admin-Secret-3d8a6f0c2e9b";
/// Tried and refused: must not be echoed either.
const WRONG: [&str; 2] = ["Wrong-Secret-7e5d3c1b9a0f", "Prod-Secret-4f1c9e2ab7d4"];
/// Callers sent in accepted events, in a malformed frame, in rejected events.
const CALLERS: [&str; 5] = ["+8613800138000", "13912345678", "+4915112345678", "+8613511112222", "+8618699990000"];

fn config(dir: &Path) -> std::path::PathBuf {
    let tok = |name: &str, role: &str, secret: &str| {
        format!(
            "[[token]]\nname = \"{name}\"\ntenant = \"acme\"\nrole = \"{role}\"\nsha256 = \"{}\"\n\n",
            seatwatch_config::hash_secret(secret)
        )
    };
    let text = format!(
        "{}{}{}[tenant.acme]\nclock = \"event\"\n",
        tok("acd-1", "producer", PRODUCER),
        tok("sup", "reader", READER),
        tok("root", "admin", ADMIN)
    );
    let p = dir.join("seatwatch.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn http_get(addr: SocketAddr, path: &str, auth: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = auth.map(|a| format!("Authorization: Bearer {a}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).unwrap();
    let buf = String::from_utf8_lossy(&bytes).into_owned();
    let status = buf.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, buf)
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(url: &str, bearer: Option<&str>) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = url.into_client_request().unwrap();
    if let Some(b) = bearer {
        req.headers_mut().insert("Authorization", format!("Bearer {b}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.map(|(w, _)| w)
}

async fn roundtrip(w: &mut Ws, text: &str) -> serde_json::Value {
    w.send(Message::text(text)).await.unwrap();
    loop {
        match w.next().await.unwrap().unwrap() {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            _ => continue,
        }
    }
}

fn ev(id: &str, ty: &str, ts: &str, extra: &str) -> String {
    format!(r#"{{"id":"{id}","type":"{ty}","ts":"{ts}"{extra}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_caller_numbers_never_appear_in_logs_or_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_seatwatch"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .arg("--data")
        .arg(&data)
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let addr: SocketAddr = loop {
        let line = rx.recv().expect("serve exited before listening");
        lines.push(line.clone());
        if line.contains("listening")
            && let Some(rest) = line.split("addr=").nth(1)
        {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };

    let ts = "2026-03-02T08:20:00+08:00";
    // Failed authentications: header and query, on ingest and on reads.
    for w in WRONG {
        assert!(ws(&format!("ws://{addr}/v1/ingest"), Some(w)).await.is_err());
        assert!(ws(&format!("ws://{addr}/v1/ingest?access_token={w}"), None).await.is_err());
        assert_eq!(http_get(addr, "/v1/agents", Some(w)).0, 401);
        assert_eq!(http_get(addr, &format!("/v1/alarms?access_token={w}"), None).0, 401);
    }
    // A reader's secret on ingest: 403.
    assert!(ws(&format!("ws://{addr}/v1/ingest"), Some(READER)).await.is_err());

    let mut prod = ws(&format!("ws://{addr}/v1/ingest"), Some(PRODUCER)).await.unwrap();
    let mut via_query = ws(&format!("ws://{addr}/v1/ingest?access_token={PRODUCER}"), None).await.unwrap();
    let mut stream = ws(&format!("ws://{addr}/v1/stream?access_token={READER}"), None).await.unwrap();
    let frame = format!(
        "[{},{},{},{}]",
        ev("e-1", "login", ts, r#","agent":"a1","station":"S1""#),
        ev("e-2", "queued", ts, &format!(r#","call":"c1","queue":"sales","caller":"{}""#, CALLERS[0])),
        ev("e-3", "offered", ts, &format!(r#","agent":"a1","call":"c1","queue":"sales","caller":"{}""#, CALLERS[0])),
        ev("e-4", "queued", ts, &format!(r#","call":"c2","queue":"sales","caller":"{}""#, CALLERS[1])),
    );
    let r = roundtrip(&mut prod, &frame).await;
    assert_eq!(r["accepted"], 4, "{r}");
    let r = roundtrip(
        &mut via_query,
        &ev("q-1", "queued", ts, &format!(r#","call":"c3","queue":"sales","caller":"{}""#, CALLERS[2])),
    )
    .await;
    assert_eq!(r["accepted"], 1, "{r}");
    // A malformed frame with a number in its text.
    let r = roundtrip(&mut prod, &format!(r#"{{"id":"m-1","type":"queued","caller":"{}", "ts": "#, CALLERS[3])).await;
    assert_eq!(r["rejected"][0]["code"], "malformed_json", "{r}");
    // Rejected events holding numbers: an unknown type, a caller of the wrong type, a missing field.
    let bad = format!(
        "[{},{},{}]",
        ev("r-1", "teleport", ts, &format!(r#","caller":"{}""#, CALLERS[4])),
        ev("r-2", "queued", ts, &format!(r#","call":"c9","queue":"sales","caller":{}"#, &CALLERS[4][1..])),
        ev("r-3", "offered", ts, &format!(r#","agent":"a1","caller":"{}""#, CALLERS[4])),
    );
    let r = roundtrip(&mut prod, &bad).await;
    assert_eq!(r["rejected"].as_array().unwrap().len(), 3, "{r}");
    // A binary frame holding a number.
    prod.send(Message::binary(CALLERS[3].as_bytes().to_vec())).await.unwrap();
    let _ = prod.next().await;
    // Reads with every secret.
    assert_eq!(http_get(addr, "/v1/agents", Some(READER)).0, 200);
    assert_eq!(http_get(addr, &format!("/v1/queues?access_token={READER}"), None).0, 200);
    assert_eq!(http_get(addr, "/v1/log?from_seq=1", Some(ADMIN)).0, 200);
    let _ = stream.next().await; // at least one push went out
    let (status, metrics) = http_get(addr, "/metrics", Some(ADMIN));
    assert_eq!(status, 200);
    drop((prod, via_query, stream));

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
    lines.extend(rx.iter());
    let log = lines.join("\n");
    assert!(lines.len() > 20, "trace logging produced too little to be a meaningful check:\n{log}");

    let mut needles: Vec<String> = Vec::new();
    for s in [PRODUCER, READER, ADMIN].iter().chain(WRONG.iter()).chain(CALLERS.iter()) {
        needles.push((*s).to_owned());
        needles.push(hex::encode(s.as_bytes()));
        needles.push(s.trim_start_matches('+').to_owned());
    }
    for n in &needles {
        assert!(!log.contains(n.as_str()), "the server's log holds {n:?}:\n{}", context(&log, n));
        assert!(!metrics.contains(n.as_str()), "/metrics holds {n:?}");
    }
}

fn context(log: &str, needle: &str) -> String {
    log.lines().filter(|l| l.contains(needle)).take(5).collect::<Vec<_>>().join("\n")
}
