//! Hostile clients: slowloris, invalid UTF-8, huge and deeply nested input, ping/pong and
//! idle timeouts, per-token rate limits, a connection flood. Every test ends by checking
//! that a well-behaved client is still served.

use crate::harness::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const TS: &str = "2026-03-02T08:20:00+08:00";

/// A well-behaved producer still gets its events stored.
async fn still_served(srv: &Server, id: &str) {
    let mut ws = srv.connect(Some(ACME_ACD2)).await.expect("a well-behaved client connects");
    let r = roundtrip(&mut ws, &ev(id, "heartbeat", TS, None, "")).await;
    assert_eq!(r["accepted"], 1, "{r}");
    assert_eq!(srv.get("/healthz", None).await.0, 200);
}

/// Read until the peer closes; returns what it sent. Fails the test after `bound`.
async fn read_until_closed(s: &mut TcpStream, bound: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(bound, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open beyond {bound:?}");
    out
}

#[tokio::test]
async fn slowloris_a_partial_or_silent_request_is_closed_after_the_handshake_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("[server]\nhandshake_timeout = \"700ms\"\n")).await;
    let timed_out_before = srv.scrape("seatwatch_sockets_timed_out_total").await;
    let started = Instant::now();
    // Half a request head, then nothing.
    let mut partial = TcpStream::connect(srv.addr).await.unwrap();
    partial.write_all(b"GET /v1/agents HTTP/1.1\r\nHost: seatwatch\r\nAuthorization: Bea").await.unwrap();
    // Connects and sends nothing at all.
    let mut silent = TcpStream::connect(srv.addr).await.unwrap();
    // A half-sent WebSocket upgrade.
    let mut upgrade = TcpStream::connect(srv.addr).await.unwrap();
    upgrade.write_all(b"GET /v1/ingest HTTP/1.1\r\nHost: seatwatch\r\nUpgrade: websocket\r\n").await.unwrap();
    // Meanwhile, a well-behaved client is served.
    still_served(&srv, "h-1").await;
    for s in [&mut partial, &mut silent, &mut upgrade] {
        let got = read_until_closed(s, Duration::from_secs(15)).await;
        let text = String::from_utf8_lossy(&got);
        assert!(got.is_empty() || text.starts_with("HTTP/1.1 408"), "unexpected answer: {text}");
    }
    assert!(started.elapsed() >= Duration::from_millis(600), "closed before the timeout: {:?}", started.elapsed());
    assert!(srv.state.sockets.timed_out.load(Ordering::Relaxed) >= 3);
    // … and /metrics says so.
    let timed_out = srv.scrape("seatwatch_sockets_timed_out_total").await - timed_out_before;
    assert!(timed_out >= 3.0, "seatwatch_sockets_timed_out_total moved by {timed_out}");
    // A kept-alive connection that goes quiet after a request is closed the same way.
    let mut keep = TcpStream::connect(srv.addr).await.unwrap();
    keep.write_all(b"GET /healthz HTTP/1.1\r\nHost: seatwatch\r\n\r\n").await.unwrap();
    let got = read_until_closed(&mut keep, Duration::from_secs(15)).await;
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    still_served(&srv, "h-2").await;
    srv.stop().await;
}

/// A WebSocket to `/v1/ingest` by hand, to send frames no client library would.
async fn raw_ws(srv: &Server, secret: &str) -> TcpStream {
    upgrade(TcpStream::connect(srv.addr).await.unwrap(), srv, "/v1/ingest", secret).await
}

/// The WebSocket upgrade of `path` on the connected `s`, by hand; the 101 head read.
async fn upgrade(mut s: TcpStream, srv: &Server, path: &str, secret: &str) -> TcpStream {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {secret}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        srv.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(s.read(&mut b).await.unwrap(), 1, "closed during the handshake");
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    s
}

/// One masked client frame (payload under 126 bytes).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_ends_that_connection_only() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut good = srv.connect(Some(ACME_ACD)).await.unwrap();
    let mut bad = raw_ws(&srv, ACME_ACD2).await;
    bad.write_all(&client_frame(0x1, b"{\"id\":\"\xff\xfe\xfd\"}")).await.unwrap();
    let got = read_until_closed(&mut bad, Duration::from_secs(15)).await;
    // Either a close frame (1007, invalid payload) or a dropped connection; never a reply.
    if let Some(&first) = got.first() {
        assert_eq!(first & 0x0f, 0x8, "expected a close frame, got {got:?}");
        if got.len() >= 4 {
            assert_eq!(u16::from_be_bytes([got[2], got[3]]), 1007, "{got:?}");
        }
    }
    // A continuation frame with no message started, and an unknown opcode: same.
    for frame in [client_frame(0x0, b"x"), client_frame(0x3, b"x")] {
        let mut s = raw_ws(&srv, ACME_ACD2).await;
        s.write_all(&frame).await.unwrap();
        read_until_closed(&mut s, Duration::from_secs(15)).await;
    }
    // The other connection goes on.
    let r = roundtrip(&mut good, &ev("u-1", "heartbeat", TS, None, "")).await;
    assert_eq!(r["accepted"], 1, "{r}");
    still_served(&srv, "u-2").await;
    srv.stop().await;
}

#[tokio::test]
async fn huge_ids_huge_fields_and_absurd_numbers_are_rejected_precisely() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let long = "x".repeat(100_000);
    let cases: Vec<(String, &str, &str)> = vec![
        (ev(&long, "heartbeat", TS, None, ""), "invalid_field", "id"),
        (ev("big-agent", "login", TS, Some(&long), r#","station":"S1""#), "invalid_field", "agent"),
        (ev("big-station", "login", TS, Some("a1"), &format!(r#","station":"{long}""#)), "invalid_field", "station"),
        (ev("big-extra", "heartbeat", TS, None, &format!(r#","note":"{long}""#)), "invalid_field", "extra"),
        (ev("big-rings", "answered", TS, Some("a1"), r#","call":"c","rings":1e400"#), "malformed_json", ""),
        (ev("neg-rings", "answered", TS, Some("a1"), r#","call":"c","rings":-1"#), "invalid_field", "rings"),
        (ev("huge-rings", "answered", TS, Some("a1"), r#","call":"c","rings":18446744073709551616"#), "", ""),
        (ev("big-ts", "heartbeat", "99999-01-01T00:00:00+08:00", None, ""), "invalid_field", "ts"),
        (ev("", "heartbeat", TS, None, ""), "invalid_field", "id"),
    ];
    for (frame, code, needle) in cases {
        let r = roundtrip(&mut ws, &frame).await;
        let rej = &r["rejected"][0];
        if code.is_empty() {
            // Whatever the verdict, it is a verdict: accepted, or rejected with a code.
            assert!(r["accepted"] == 1 || rej["code"].is_string(), "{r}");
            continue;
        }
        assert_eq!(rej["code"], code, "{}: {r}", &frame[..frame.len().min(80)]);
        assert!(rej["message"].as_str().unwrap().contains(needle), "{r}");
        assert!(r.to_string().len() < 2000, "the reply echoes the huge input: {} bytes", r.to_string().len());
    }
    still_served(&srv, "hu-1").await;
    srv.stop().await;
}

#[tokio::test]
async fn deep_json_nesting_is_rejected_without_exhausting_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    // 200,000 levels of arrays, then of objects: far past serde_json's recursion limit.
    let arrays = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let r = roundtrip(&mut ws, &arrays).await;
    assert_eq!(r["rejected"][0]["code"], "malformed_json", "{r}");
    let objects = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
    let r = roundtrip(&mut ws, &objects).await;
    assert_eq!(r["rejected"][0]["code"], "malformed_json", "{r}");
    // Nesting inside an extra field, within the limit: kept (it is only stored as text),
    // and the stored event reads back.
    let nested = format!("{}1{}", r#"{"a":"#.repeat(100), "}".repeat(100));
    let r = roundtrip(&mut ws, &ev("deep-1", "heartbeat", TS, None, &format!(r#","x":{nested}"#))).await;
    assert_eq!(r["accepted"], 1, "{r}");
    srv.caught_up().await;
    let stored: Vec<_> = srv.state.log.read_from(1).collect::<Result<_, _>>().unwrap();
    assert!(stored.iter().any(|e| e.event.id == "deep-1"));
    still_served(&srv, "d-1").await;
    srv.stop().await;
}

#[tokio::test]
async fn pings_are_answered_keep_a_quiet_connection_open_and_silence_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("[server]\nidle_timeout = \"1s\"\n")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    // Pinged for about twice the idle timeout, the connection stays open.
    let started = Instant::now();
    let mut pongs = 0;
    while started.elapsed() < Duration::from_millis(2200) {
        ws.send(Message::Ping(b"are you there".to_vec().into())).await.unwrap();
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("no pong") {
            Some(Ok(Message::Pong(p))) => {
                assert_eq!(&p[..], b"are you there");
                pongs += 1;
            }
            other => panic!("expected a pong, got {other:?}"),
        }
        // Pacing between pings (not synchronisation): well under the idle timeout.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(pongs >= 3);
    let r = roundtrip(&mut ws, &ev("p-1", "heartbeat", TS, None, "")).await;
    assert_eq!(r["accepted"], 1, "{r}");
    // Now silence: closed with 1008 "idle timeout".
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(f)))) => return Some((f.code, f.reason.to_string())),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("an idle connection was not closed");
    let (code, reason) = closed.expect("a close frame");
    assert_eq!(code, CloseCode::Policy);
    assert!(reason.contains("idle"), "{reason}");
    still_served(&srv, "p-2").await;
    srv.stop().await;
}

fn heartbeats(prefix: &str, n: usize) -> String {
    let v: Vec<String> = (0..n).map(|i| ev(&format!("{prefix}-{i}"), "heartbeat", TS, None, "")).collect();
    format!("[{}]", v.join(","))
}

#[tokio::test]
async fn a_token_over_its_event_rate_gets_internal_for_the_excess_and_may_resend() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("[server]\nrate_limit = 10\n")).await;
    const SERIES: &str = r#"seatwatch_ingest_rate_limited_events_total{token="acme-acd"}"#;
    let limited_before = srv.scrape(SERIES).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let r = roundtrip(&mut ws, &heartbeats("r", 25)).await;
    assert_eq!(r["accepted"], 10, "the bucket holds one second's worth: {r}");
    let rejected = r["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 15, "{r}");
    for (k, rej) in rejected.iter().enumerate() {
        assert_eq!(rej["index"], 10 + k, "the frame's first events are the ones stored: {r}");
        assert_eq!(rej["code"], "internal", "{r}");
        assert!(rej["message"].as_str().unwrap().contains("rate limit"), "{r}");
    }
    let limited = srv.scrape(SERIES).await - limited_before;
    assert!(limited >= 15.0, "{SERIES} moved by {limited}");
    // The limit is per token over all its connections: a second connection of the same
    // token gets (almost) nothing now, another token has its own budget.
    let mut same = srv.connect(Some(ACME_ACD)).await.unwrap();
    let r = roundtrip(&mut same, &heartbeats("s", 10)).await;
    assert!(r["accepted"].as_u64().unwrap() <= 2, "{r}");
    let mut other = srv.connect(Some(ACME_ACD2)).await.unwrap();
    assert_eq!(roundtrip(&mut other, &heartbeats("o", 10)).await["accepted"], 10);
    // A second later the bucket is full again: the producer resends what was refused.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resend: Vec<String> = (10..20).map(|i| ev(&format!("r-{i}"), "heartbeat", TS, None, "")).collect();
    let r = roundtrip(&mut ws, &format!("[{}]", resend.join(","))).await;
    assert_eq!(r["accepted"], 10, "{r}");
    srv.stop().await;
}

#[tokio::test]
async fn a_per_token_rate_limit_overrides_the_server_default() {
    let mut cfg = config("[server]\nrate_limit = 1000\n");
    cfg.tokens.iter_mut().find(|t| t.name == "acme-acd").unwrap().rate_limit = Some(3.0);
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), cfg).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    assert_eq!(roundtrip(&mut ws, &heartbeats("t", 5)).await["accepted"], 3);
    let mut ws2 = srv.connect(Some(ACME_ACD2)).await.unwrap();
    assert_eq!(roundtrip(&mut ws2, &heartbeats("t", 50)).await["accepted"], 50);
    srv.stop().await;
}

/// The process's open-file soft limit (from /proc/self/limits).
fn fd_limit() -> usize {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1024)
}

fn rss_kib() -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_connections_is_shed_memory_stays_bounded_and_good_clients_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("[server]\nmax_sockets = 256\nmax_connections = 64\nhandshake_timeout = \"2s\"\n");
    let srv = Server::start(dir.path(), cfg).await;
    // 10,000 connections attempted at once (the issue's figure; about 11 s, most of it
    // the clients' 8 s wait below); SEATWATCH_FLOOD=N for another size. Both ends of
    // every connection live in this process: each attacker holds one descriptor here,
    // the server at most max_sockets more, so the flood stays under the fd limit
    // (scripts/test raises the soft limit to the hard one).
    let want: usize = std::env::var("SEATWATCH_FLOOD").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let flood = want.min(fd_limit().saturating_sub(1024));
    assert!(flood >= 500, "the fd limit ({}) is too low for a meaningful flood", fd_limit());
    if flood < want {
        eprintln!("note: the fd limit ({}) allows a flood of {flood}, not {want}; raise `ulimit -n`", fd_limit());
    }
    eprintln!("flood of {flood} connections (fd limit {})", fd_limit());
    let rss_before = rss_kib();
    let accepted_before = srv.scrape("seatwatch_sockets_accepted_total").await;
    let shed_before = srv.scrape("seatwatch_sockets_shed_total").await;
    let mut good = srv.connect(Some(ACME_ACD2)).await.unwrap();
    let addr = srv.addr;
    // Half hold silent sockets, half try WebSocket upgrades with a wrong token.
    let attackers: Vec<_> = (0..flood)
        .map(|i| {
            tokio::spawn(async move {
                let Ok(mut s) = TcpStream::connect(addr).await else { return 0u8 };
                if i % 2 == 0 {
                    let _ = s.write_all(b"GET /v1/ingest HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer wrong\r\n\r\n").await;
                }
                let mut buf = [0u8; 512];
                let mut first = Vec::new();
                // A connection the kernel completed while the accept queue was full may
                // never reach the server at all; such a client waits in vain.
                let read = tokio::time::timeout(Duration::from_secs(8), async {
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        first.extend_from_slice(&buf[..n]);
                    }
                })
                .await;
                match (read.is_ok(), first.starts_with(b"HTTP/1.1 401")) {
                    (false, _) => 3,
                    (true, true) => 1,
                    (true, false) => 2,
                }
            })
        })
        .collect();
    // During the flood the established client keeps being served.
    for i in 0..20 {
        let r = roundtrip(&mut good, &ev(&format!("f-{i}"), "heartbeat", TS, None, "")).await;
        assert_eq!(r["accepted"], 1, "{r}");
    }
    let mut outcomes = [0u64; 4];
    for a in attackers {
        outcomes[usize::from(a.await.unwrap())] += 1;
    }
    let [_, refused_401, closed, unanswered] = outcomes;
    let stats = &srv.state.sockets;
    let (accepted, shed) = (stats.accepted.load(Ordering::Relaxed), stats.shed.load(Ordering::Relaxed));
    eprintln!(
        "401: {refused_401}, closed: {closed}, never accepted: {unanswered}; server: accepted {accepted}, shed {shed}, timed out {}",
        stats.timed_out.load(Ordering::Relaxed)
    );
    // Connections the kernel completed while the accept queue was full reach the server
    // late (or never); the server closes every socket it holds within the handshake
    // timeout of its last request, so it soon holds none of the flood.
    let bound = Instant::now() + Duration::from_secs(30);
    while stats.open.load(Ordering::Relaxed) > 0 {
        assert!(Instant::now() < bound, "{} flood sockets still open", stats.open.load(Ordering::Relaxed));
        // Polling a condition with a deadline, not waiting on luck.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(shed > 0, "a flood over max_sockets must be shed");
    // /metrics counts the same (at least: other servers of this test process count too).
    let shed_metric = srv.scrape("seatwatch_sockets_shed_total").await - shed_before;
    let accepted_metric = srv.scrape("seatwatch_sockets_accepted_total").await - accepted_before;
    assert!(shed_metric >= shed as f64, "seatwatch_sockets_shed_total moved by {shed_metric}, {shed} shed");
    assert!(accepted_metric >= accepted as f64, "seatwatch_sockets_accepted_total moved by {accepted_metric}");
    assert!(refused_401 > 0, "some upgrade attempts were answered");
    assert!(srv.state.sockets.open.load(Ordering::Relaxed) <= 256);
    let grown = rss_kib().saturating_sub(rss_before);
    assert!(grown < 256 * 1024, "memory grew by {grown} KiB during the flood");
    // Once the flood is gone, new clients are served again.
    still_served(&srv, "f-end").await;
    let r = roundtrip(&mut good, &ev("f-last", "heartbeat", TS, None, "")).await;
    assert_eq!(r["accepted"], 1, "{r}");
    let v: Value = srv.get_json("/v1/head", ACME_READER).await;
    assert!(v["last_seq"].as_u64().unwrap() >= 22, "{v}");
    srv.stop().await;
}

#[tokio::test]
async fn a_stream_subscriber_sending_a_huge_message_is_closed_with_1009_and_others_keep_their_pushes() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let url = srv.ws_url(&format!("/v1/stream?access_token={ACME_READER}"));
    let mut hostile = connect(&url, None).await.unwrap();
    let mut quiet = connect(&url, None).await.unwrap();
    // Small messages (and pings) are read and dropped; the subscription goes on.
    hostile.send(Message::text("hello")).await.unwrap();
    // Well under tungstenite's default limit (64 MiB), far over the stream's.
    hostile.send(Message::text("x".repeat(1_000_000))).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match hostile.next().await {
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    });
    let close = closed.await.expect("the server closes the stream").expect("a close frame with a code");
    assert_eq!(close.code, CloseCode::Size);
    assert!(close.reason.contains("takes no messages"), "{}", close.reason);
    // The other subscriber still gets the tenant's pushes.
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let login = ev("s-1", "login", TS, Some("a1"), r#","station":"S1""#);
    assert_eq!(roundtrip(&mut ws, &login).await["accepted"], 1);
    let push = loop {
        if let Message::Text(t) = quiet.next().await.unwrap().unwrap() {
            break serde_json::from_str::<Value>(t.as_str()).unwrap();
        }
    };
    assert_eq!(push["type"], "agent_state", "{push}");
    still_served(&srv, "s-end").await;
    srv.stop().await;
}

/// A `/v1/stream` subscriber that stops reading (its socket full of pushes) must not hold
/// up shutdown: the hostile tester's reader token kept a server alive past SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_subscriber_that_stops_reading_does_not_hold_up_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    // A subscriber with a tiny receive window that never reads a byte after the upgrade.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let sub = upgrade(sock.connect(srv.addr).await.unwrap(), &srv, "/v1/stream", ACME_READER).await;
    // Far more pushes than the two sockets' buffers hold (~300 bytes each, 20 MB).
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let reason = "r".repeat(100);
    for f in 0..70 {
        let events: Vec<String> = (0..1000)
            .map(|i| {
                let agent = format!("{:0>60}", i % 50);
                let (ty, extra) = if (i / 50) % 2 == 0 {
                    ("not_ready", format!(r#","reason":"{reason}""#))
                } else {
                    ("ready", String::new())
                };
                let ts = format!("2026-03-02T09:{:02}:{:02}.{:03}+08:00", f / 2 % 60, i / 20 % 60, i % 1000);
                ev(&format!("p-{f}-{i}"), ty, &ts, Some(&agent), &extra)
            })
            .collect();
        let reply = roundtrip(&mut ws, &format!("[{}]", events.join(","))).await;
        assert_eq!(reply["accepted"], 1000, "{reply}");
    }
    srv.caught_up().await;
    let took = Instant::now();
    tokio::time::timeout(Duration::from_secs(20), srv.stop()).await.expect("shutdown did not wait for the subscriber");
    assert!(took.elapsed() < Duration::from_secs(5), "shutdown took {:?}", took.elapsed());
    drop(sub);
}

/// Every frame's reply counts in the ack-latency histogram, those that store nothing too
/// (the docs tester's 5,056 rejected frames left it empty).
#[tokio::test]
async fn frames_that_store_nothing_count_in_the_ack_latency_histogram() {
    const SERIES: &str = "seatwatch_ingest_ack_latency_seconds_count";
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let before = srv.scrape(SERIES).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    for frame in ["not json", r#"{"id": "x", "type": "nonsense", "ts": "2026-03-02T08:00:00Z"}"#, "[]"] {
        let reply = roundtrip(&mut ws, frame).await;
        assert_eq!(reply["accepted"], 0, "{reply}");
    }
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let reply = next_json(&mut ws).await;
    assert_eq!(reply["rejected"][0]["code"], "unsupported_frame", "{reply}");
    assert_eq!(srv.scrape(SERIES).await - before, 4.0);
    srv.stop().await;
}
