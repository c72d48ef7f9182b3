//! Corruption end to end: `serve` refuses a log that does not verify and says what to
//! do; `seatwatch repair` quarantines from the first bad seq on; the server then starts
//! (ignoring the snapshot that no longer fits) and continues the log. A missing database
//! file is a clear error, not an empty log.

use crate::proc::*;
use futures_util::{SinkExt, StreamExt};
use std::path::Path;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const FRAMES: usize = 10;
const PER_FRAME: usize = 20;

/// Send the same 200 events; returns (accepted, duplicate).
async fn fill(addr: std::net::SocketAddr, prefix: &str) -> (u64, u64) {
    let mut req = format!("ws://{addr}/v1/ingest").into_client_request().unwrap();
    req.headers_mut().insert("Authorization", format!("Bearer {PRODUCER}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let (mut acc, mut dup) = (0, 0);
    for f in 0..FRAMES {
        let events: Vec<String> = (0..PER_FRAME)
            .map(|i| format!(r#"{{"id":"{prefix}-{f}-{i}","type":"heartbeat","ts":"2026-03-02T08:00:00+08:00"}}"#))
            .collect();
        ws.send(Message::text(format!("[{}]", events.join(",")))).await.unwrap();
        let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("no reply") };
        let r: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        let (a, d) = (r["accepted"].as_u64().unwrap(), r["duplicate"].as_u64().unwrap());
        assert_eq!(a + d, PER_FRAME as u64, "{r}");
        (acc, dup) = (acc + a, dup + d);
    }
    (acc, dup)
}

/// Flip a byte inside record `seq`'s payload.
fn flip(data: &Path, seq: u64) {
    let db = sled::open(data.join("log")).unwrap();
    let (key, value) = db
        .iter()
        .map(|kv| kv.unwrap())
        .filter(|(k, _)| u64::from_be_bytes(k.as_ref().try_into().unwrap()) <= seq)
        .last()
        .unwrap();
    let first = u64::from_be_bytes(key.as_ref().try_into().unwrap());
    let recs = seatwatch_log::format::split_segment(&value).unwrap();
    let mut at = 5;
    for r in &recs[..(seq - first) as usize] {
        at += 4 + r.len();
    }
    let mut v = value.to_vec();
    v[at + 4 + 12] ^= 0x20;
    db.insert(key, v).unwrap();
    db.flush().unwrap();
}

fn serve_fails(cfg: &Path, data: &Path, check: &str) -> String {
    let (cfg, data) = (cfg.to_str().unwrap(), data.to_str().unwrap());
    let o = run(&["serve", "--listen", "127.0.0.1:0", "--config", cfg, "--data", data, "--start-check", check]);
    assert!(!o.status.success(), "serve started on a bad data directory: {}", text(&o));
    text(&o)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_a_corrupt_log_repair_quarantines_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = write_config(dir.path(), "");
    let serve = Serve::start(&cfg, &data);
    assert_eq!(fill(serve.addr, "a").await, ((FRAMES * PER_FRAME) as u64, 0));
    let (status, _) = serve.terminate();
    assert!(status.success());
    let total = (FRAMES * PER_FRAME) as u64;
    let bad = total / 2 + 3;
    flip(&data, bad);

    // Refused, with the seq, what is wrong and what to do: before serving with a full
    // check; by the background check of the records before the checkpoint (the clean
    // stop wrote one at the head) a moment after start-up by default.
    for check in ["full", "background"] {
        let out = serve_fails(&cfg, &data, check);
        for needle in [&format!("corrupt at seq {bad}") as &str, "seatwatch verify", "seatwatch repair", "quarantine"] {
            assert!(out.contains(needle), "--start-check {check}: missing {needle:?}:\n{out}");
        }
        let background = out.contains("the log does not verify; shutting down");
        assert_eq!(background, check == "background", "--start-check {check}:\n{out}");
    }
    let o = run(&["verify", "--data", data.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(&format!("seq {bad}")), "{}", text(&o));

    // Repair: reports how many records went where.
    let o = run(&["repair", "--data", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains(&format!("bad at seq {bad}")), "{out}");
    assert!(out.contains(&format!("moved {} record(s)", total - bad + 1)), "{out}");
    assert!(out.contains("nothing was deleted") && out.contains("quarantine"), "{out}");
    let files: Vec<_> = std::fs::read_dir(data.join("quarantine")).unwrap().collect();
    assert_eq!(files.len(), 1);
    let o = run(&["verify", "--data", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&format!("last seq {}", bad - 1)), "{}", text(&o));
    // A second repair has nothing to do.
    let o = run(&["repair", "--data", data.to_str().unwrap()]);
    assert!(o.status.success() && text(&o).contains("nothing to repair"), "{}", text(&o));

    // The server starts (the shutdown snapshot is past the log's end now: not used), and
    // the producer's resent events after the cut are stored again, the others duplicates.
    let serve = Serve::start(&cfg, &data);
    let (code, body) = get(serve.addr, "/v1/head", READER);
    assert_eq!(code, 200, "{body}");
    let head: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(head["last_seq"], bad - 1);
    assert_eq!(fill(serve.addr, "a").await, (total - bad + 1, bad - 1));
    let (_, body) = get(serve.addr, "/v1/head", READER);
    let head: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(head["last_seq"], total, "every quarantined event was accepted again: {head}");
    let (status, _) = serve.terminate();
    assert!(status.success());
    let o = run(&["verify", "--data", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_missing_database_file_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = write_config(dir.path(), "");
    let serve = Serve::start(&cfg, &data);
    let (status, _) = serve.terminate();
    assert!(status.success());
    std::fs::remove_file(data.join("log").join("db")).unwrap();
    let out = serve_fails(&cfg, &data, "background");
    assert!(out.contains("missing") && out.contains("backup"), "{out}");
    assert!(!data.join("log").join("db").exists(), "an empty database was created");
}

/// `GET path` with a bearer token.
fn get(addr: std::net::SocketAddr, path: &str, secret: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {secret}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut b = Vec::new();
    s.read_to_end(&mut b).unwrap();
    let t = String::from_utf8_lossy(&b).into_owned();
    let status = t.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = t.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}
