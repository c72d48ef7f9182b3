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

/// A closed log of `n` heartbeats from the producer's token (`acme`, `acd-1`) with ids
/// `h-00001`…, written as a server restarting every 1,000 records writes it, then
/// verified once more: sled's snapshot then covers the older pages, which it reads only
/// when asked for them (not while it recovers at open).
fn build_restarting(data: &Path, n: u64) {
    for k in 0..n / 1000 {
        let log = seatwatch_log::Log::open_with(
            data,
            seatwatch_log::OpenOptions { sync_data: false, ..seatwatch_log::OpenOptions::default() },
        )
        .unwrap();
        for c in 0..10 {
            let base = k * 1000 + c * 100 + 1;
            log.append_blocking((base..base + 100).map(heartbeat).collect()).unwrap();
        }
        log.close().unwrap();
    }
    let o = run(&["verify", "--data", data.to_str().unwrap()]);
    assert!(text(&o).starts_with(&format!("ok: {n} records")), "{}", text(&o));
}

fn hb_id(i: u64) -> String {
    format!("h-{i:05}")
}

fn heartbeat(i: u64) -> seatwatch_log::Pending {
    use seatwatch_model::{Event, EventKind, Ts};
    seatwatch_log::Pending {
        tenant: "acme".into(),
        source: "acd-1".into(),
        received: Ts::from_secs(1_772_400_000),
        event: Event {
            id: hb_id(i).into(),
            ts: Ts::from_secs(1_772_400_000),
            agent: None,
            kind: EventKind::Heartbeat,
            extra: None,
        },
    }
}

/// Send heartbeats with these ids, 100 to a frame; returns (accepted, duplicate).
async fn send_ids(addr: std::net::SocketAddr, ids: &[String]) -> (u64, u64) {
    let mut req = format!("ws://{addr}/v1/ingest").into_client_request().unwrap();
    req.headers_mut().insert("Authorization", format!("Bearer {PRODUCER}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let (mut acc, mut dup) = (0, 0);
    for chunk in ids.chunks(100) {
        let events: Vec<String> = chunk
            .iter()
            .map(|id| format!(r#"{{"id":"{id}","type":"heartbeat","ts":"2026-03-02T08:00:00+08:00"}}"#))
            .collect();
        ws.send(Message::text(format!("[{}]", events.join(",")))).await.unwrap();
        let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("no reply") };
        let r: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        acc += r["accepted"].as_u64().unwrap();
        dup += r["duplicate"].as_u64().unwrap();
    }
    (acc, dup)
}

/// Flip every stored copy of `needle` in `file` (a page may be in sled's log-structured
/// file more than once; only the latest counts).
fn flip_all(file: &Path, needle: &[u8]) -> usize {
    let mut bytes = std::fs::read(file).unwrap();
    let at: Vec<usize> =
        bytes.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect();
    for &i in &at {
        bytes[i + 3] ^= 0xFF;
    }
    std::fs::write(file, &bytes).unwrap();
    at.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_in_the_database_file_is_repaired_by_a_rebuild_and_the_server_takes_the_lost_events_again() {
    const N: u64 = 6000;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = write_config(dir.path(), "");
    build_restarting(&data, N);
    assert!(flip_all(&data.join("log").join("db"), hb_id(2500).as_bytes()) > 0);
    let d = data.to_str().unwrap();

    // verify: the log is bad from the first record sled cannot read back.
    let o = run(&["verify", "--data", d]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let bad: u64 = out
        .split("bad record at seq ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no seq in: {out}"));
    assert!((2..=2500).contains(&bad), "{out}");
    assert!(out.contains(&format!("({} records before it are intact)", bad - 1)), "{out}");
    let out = serve_fails(&cfg, &data, "full");
    assert!(out.contains(&format!("corrupt at seq {bad}")) && out.contains("seatwatch repair"), "{out}");

    // repair: sled cannot take the damaged page out in place; the prefix is rebuilt and
    // the whole old database directory moved into the quarantine.
    let o = run(&["repair", "--data", d]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains(&format!("the log was bad at seq {bad}")), "{out}");
    assert!(out.contains(&format!("rebuilt the log from its {} verified record(s)", bad - 1)), "{out}");
    assert!(out.contains("nothing was deleted"), "{out}");
    let mut names: Vec<String> = std::fs::read_dir(data.join("quarantine"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].starts_with(&format!("from-seq-{bad}-at-")) && names[0].ends_with(".log"), "{names:?}");
    assert!(names[1].ends_with(".swq"), "{names:?}");
    assert!(data.join("quarantine").join(&names[0]).join("db").is_file());
    let o = run(&["verify", "--data", d]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).starts_with(&format!("ok: {} records, last seq {}", bad - 1, bad - 1)), "{}", text(&o));

    // The server starts on the repaired log and stores the quarantined events again;
    // those before the cut stay duplicates.
    let serve = Serve::start(&cfg, &data);
    let ids: Vec<String> = (bad - 10..=N).map(hb_id).collect();
    assert_eq!(send_ids(serve.addr, &ids).await, (N - bad + 1, 10));
    let (_, body) = get(serve.addr, "/v1/head", READER);
    let head: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(head["last_seq"], N, "{head}");
    let (status, _) = serve.terminate();
    assert!(status.success());
    let o = run(&["verify", "--data", d]);
    assert!(text(&o).starts_with(&format!("ok: {N} records")), "{}", text(&o));
}

#[test]
fn a_damaged_sled_snapshot_is_no_verdict_and_repair_sets_it_aside() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = write_config(dir.path(), "");
    build_restarting(&data, 3000);
    let d = data.to_str().unwrap();
    let ok = text(&run(&["verify", "--data", d]));
    let snaps: Vec<_> = std::fs::read_dir(data.join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("snap."))
        .collect();
    assert!(!snaps.is_empty());
    for s in &snaps {
        let mut b = std::fs::read(s).unwrap();
        for x in &mut b[40..44] {
            *x ^= 0xFF;
        }
        std::fs::write(s, b).unwrap();
    }

    // Not a verdict: no record could be read. Exit 2, and the way out.
    let o = run(&["verify", "--data", d]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("could not check the log"), "{out}");
    assert!(out.contains("seatwatch repair") && out.contains("snap") && out.contains("backup"), "{out}");
    assert!(!out.contains("FAILED") && !out.contains("first bad seq"), "{out}");
    let out = serve_fails(&cfg, &data, "background");
    assert!(out.contains("cannot be opened") && out.contains(&format!("seatwatch repair --data {d}")), "{out}");

    let o = run(&["repair", "--data", d]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("set aside") && out.contains("no record needed repair"), "{out}");
    assert!(out.contains("ok: the log verifies (3000 records"), "{out}");
    let aside: Vec<_> = std::fs::read_dir(data.join("quarantine")).unwrap().collect();
    assert_eq!(aside.len(), 1, "one directory of set-aside sled files");
    // Every record, the same head.
    let o = run(&["verify", "--data", d]);
    assert_eq!(text(&o), ok);
    let serve = Serve::start(&cfg, &data);
    let (status, _) = serve.terminate();
    assert!(status.success());
}
