//! `/v1/ingest`: auth, replies, every rejection code, duplicates, order, limits.

use crate::harness::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const TS: &str = "2026-03-02T08:20:00+08:00";

#[tokio::test]
async fn auth_failures_are_refused_before_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    assert_eq!(upgrade_status(&srv.connect(None).await.unwrap_err()), 401);
    assert_eq!(upgrade_status(&srv.connect(Some("not-a-token")).await.unwrap_err()), 401);
    assert_eq!(upgrade_status(&srv.connect(Some(ACME_READER)).await.unwrap_err()), 403);
    assert!(srv.connect(Some(ACME_ACD)).await.is_ok());
    assert!(srv.connect(Some(ADMIN)).await.is_ok());
    // Browser softphones: ?access_token=
    let url = srv.ws_url(&format!("/v1/ingest?access_token={ACME_ACD}"));
    assert!(connect(&url, None).await.is_ok());
    let url = srv.ws_url(&format!("/v1/ingest?access_token={ACME_READER}"));
    assert_eq!(upgrade_status(&connect(&url, None).await.unwrap_err()), 403);
    srv.stop().await;
}

#[tokio::test]
async fn a_frame_mixing_good_and_bad_events_gets_one_precise_reply() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let frame = format!(
        "[{},{},{},{},{}]",
        ev("e-1", "login", TS, Some("a1"), r#","station":"S1""#),
        ev("e-2", "login", TS, Some("a2"), ""),
        ev("e-1", "login", TS, Some("a1"), r#","station":"S1""#),
        ev("e-4", "dance", TS, Some("a1"), ""),
        ev("e-5", "ready", TS, Some("a1"), ""),
    );
    let r = roundtrip(&mut ws, &frame).await;
    assert_eq!(r["accepted"], 2, "{r}");
    assert_eq!(r["duplicate"], 1, "{r}");
    assert_eq!(r["last_seq"], 2, "{r}");
    let rejected = r["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(
        (rejected[0]["index"].as_u64(), rejected[0]["id"].as_str(), rejected[0]["code"].as_str()),
        (Some(1), Some("e-2"), Some("missing_field"))
    );
    assert!(rejected[0]["message"].as_str().unwrap().contains("`login` needs `station`"));
    assert_eq!((rejected[1]["index"].as_u64(), rejected[1]["code"].as_str()), (Some(3), Some("unknown_type")));
    // A lone object is index 0.
    let r = roundtrip(&mut ws, &ev("e-9", "login", TS, Some("a9"), "")).await;
    assert_eq!(r["rejected"][0]["index"], 0);
    srv.stop().await;
}

#[tokio::test]
async fn every_rejection_code_over_the_wire_and_the_connection_stays_open() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let code = |r: &Value| r["rejected"][0]["code"].as_str().unwrap().to_owned();
    let index = |r: &Value| r["rejected"][0]["index"].clone();

    let r = roundtrip(&mut ws, "{not json").await;
    assert_eq!((code(&r), index(&r)), ("malformed_json".into(), Value::Null));
    let r = roundtrip(&mut ws, &ev("u", "teleport", TS, Some("a"), "")).await;
    assert_eq!(code(&r), "unknown_type");
    let r = roundtrip(&mut ws, &ev("m", "offered", TS, Some("a"), "")).await;
    assert_eq!(code(&r), "missing_field");
    let r = roundtrip(&mut ws, &ev("i", "answered", TS, Some("a"), r#","call":"c","rings":"three""#)).await;
    assert_eq!(code(&r), "invalid_field");
    let many = format!("[{}]", vec![ev("x", "heartbeat", TS, None, ""); 1001].join(","));
    let r = roundtrip(&mut ws, &many).await;
    assert_eq!((code(&r), index(&r)), ("too_many_events".into(), Value::Null));
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let r = next_json(&mut ws).await;
    assert_eq!((code(&r), index(&r)), ("unsupported_frame".into(), Value::Null));

    // clock_skew: only for wall-clock tenants (globex), an hour ahead of the server.
    let mut wall = srv.connect(Some(GLOBEX_ACD)).await.unwrap();
    let ahead = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let r = roundtrip(&mut wall, &ev("s", "ready", &ahead, Some("g1"), "")).await;
    assert_eq!(code(&r), "clock_skew");
    let now = chrono::Utc::now().to_rfc3339();
    let r = roundtrip(&mut wall, &ev("s", "login", &now, Some("g1"), r#","station":"G1""#)).await;
    assert_eq!(r["accepted"], 1, "{r}");
    // Before `max_past` (default ~10 years), whatever the clock: a reset device clock.
    let r = roundtrip(&mut wall, &ev("epoch", "logout", "1970-01-01T00:00:00Z", Some("g1"), "")).await;
    assert_eq!(code(&r), "clock_skew");
    assert!(r["rejected"][0]["message"].as_str().unwrap().contains("`max_past`"), "{r}");
    // The event-clock tenant accepts times far from the server's (history, simulations
    // ahead) but not years ahead: one such heartbeat would move its clock past every
    // scheduled day in between.
    let next_year = (chrono::Utc::now() + chrono::Duration::days(365)).to_rfc3339();
    let r = roundtrip(&mut ws, &ev("ahead", "ready", &next_year, Some("a"), "")).await;
    assert_eq!(r["accepted"], 1, "{r}");
    let r = roundtrip(&mut ws, &ev("future", "heartbeat", "2099-01-01T00:00:00Z", None, "")).await;
    assert_eq!(code(&r), "clock_skew");
    assert!(r["rejected"][0]["message"].as_str().unwrap().contains("1830 days allowed (`max_future`)"), "{r}");

    // internal: the log cannot store (here: closed under the server) → "send it again".
    srv.state.log.close().unwrap();
    let r = roundtrip(&mut ws, &ev("late", "ready", TS, Some("a"), "")).await;
    assert_eq!((r["accepted"].as_u64(), code(&r)), (Some(0), "internal".to_owned()), "{r}");
    assert_eq!(r["rejected"][0]["id"], "late");
    drop(ws);
    drop(wall);
    srv.shutdown.cancel();
    let _ = srv.task.await;
}

#[tokio::test]
async fn duplicates_within_and_across_connections_and_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let login = ev("d-1", "login", TS, Some("a1"), r#","station":"S1""#);
    let mut a = srv.connect(Some(ACME_ACD)).await.unwrap();
    let mut b = srv.connect(Some(ACME_ACD)).await.unwrap();
    assert_eq!(roundtrip(&mut a, &login).await["accepted"], 1);
    let r = roundtrip(&mut b, &login).await;
    assert_eq!((r["accepted"].as_u64(), r["duplicate"].as_u64()), (Some(0), Some(1)));
    // Another source may use the same id: it is a different event.
    let mut c = srv.connect(Some(ACME_ACD2)).await.unwrap();
    assert_eq!(roundtrip(&mut c, &login).await["accepted"], 1);
    drop((a, b, c));
    srv.stop().await;

    let srv = Server::start(dir.path(), config("")).await;
    let mut a = srv.connect(Some(ACME_ACD)).await.unwrap();
    let r = roundtrip(&mut a, &login).await;
    assert_eq!((r["accepted"].as_u64(), r["duplicate"].as_u64(), r["last_seq"].as_u64()), (Some(0), Some(1), Some(2)));
    drop(a);
    srv.stop().await;
}

#[tokio::test]
async fn pipelined_frames_are_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let n = 300;
    for i in 0..n {
        // Frames of different sizes so their appends take different time.
        let size = 1 + (i * 7) % 50;
        let events: Vec<String> = (0..size).map(|j| ev(&format!("p-{i}-{j}"), "heartbeat", TS, None, "")).collect();
        ws.feed(Message::text(format!("[{}]", events.join(",")))).await.unwrap();
    }
    ws.flush().await.unwrap();
    let mut last = 0;
    for i in 0..n {
        let r = next_json(&mut ws).await;
        let size = 1 + (i * 7) % 50;
        assert_eq!(r["accepted"].as_u64(), Some(size as u64), "frame {i}: {r}");
        let seq = r["last_seq"].as_u64().unwrap();
        assert_eq!(seq, last + size as u64, "replies in frame order, seqs in frame order");
        last = seq;
    }
    drop(ws);
    srv.stop().await;
}

/// Frames sent back to back are read together and appended as one request; each still
/// gets its own reply, in order, whatever mix of good, duplicate and bad frames it is, and
/// a frame that ends the connection comes after every earlier frame's reply.
#[tokio::test]
async fn back_to_back_frames_of_every_kind_get_their_own_reply_in_order_then_the_close() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("[server]\nmax_frame_bytes = 65536\n")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut expected = Vec::new();
    for i in 0..400usize {
        let (msg, want) = match i % 11 {
            3 => (Message::text("{not json"), "malformed_json"),
            5 => (Message::binary(vec![1u8, 2, 3]), "unsupported_frame"),
            7 => (Message::text(ev(&format!("g-{}", i - 1), "heartbeat", TS, None, "")), "resent"),
            9 => (Message::text(format!(r#"{{"id":"u-{i}","type":"teleport","ts":"{TS}"}}"#)), "unknown_type"),
            _ => (Message::text(ev(&format!("g-{i}"), "heartbeat", TS, None, "")), "new"),
        };
        let want = match want {
            "new" | "resent" => {
                let id = if want == "new" { format!("g-{i}") } else { format!("g-{}", i - 1) };
                if seen.insert(id) { "accepted" } else { "duplicate" }
            }
            code => code,
        };
        expected.push(want);
        ws.feed(msg).await.unwrap();
    }
    let big = format!(r#"{{"id":"big","type":"heartbeat","ts":"{TS}","pad":"{}"}}"#, "x".repeat(100_000));
    ws.feed(Message::text(big)).await.unwrap();
    ws.flush().await.unwrap();
    let mut last_seq = 0;
    for (i, want) in expected.iter().enumerate() {
        let r = next_json(&mut ws).await;
        match *want {
            "accepted" => {
                assert_eq!((r["accepted"].as_u64(), r["duplicate"].as_u64()), (Some(1), Some(0)), "frame {i}: {r}");
                let seq = r["last_seq"].as_u64().unwrap();
                assert_eq!(seq, last_seq + 1, "frame {i}: seqs follow frame order: {r}");
                last_seq = seq;
            }
            "duplicate" => {
                assert_eq!((r["accepted"].as_u64(), r["duplicate"].as_u64()), (Some(0), Some(1)), "frame {i}: {r}");
            }
            code => {
                assert_eq!(r["accepted"].as_u64(), Some(0), "frame {i}: {r}");
                assert_eq!(r["rejected"][0]["code"].as_str(), Some(code), "frame {i}: {r}");
            }
        }
    }
    let close = loop {
        match ws.next().await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected the close after every reply, got {other:?}"),
        }
    };
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Size));
    // Frames that were waiting together went to the log together.
    let appending = expected.iter().filter(|w| matches!(**w, "accepted" | "duplicate")).count();
    let requests = srv.scrape("seatwatch_log_append_requests_total").await;
    assert!(requests >= 1.0 && requests < appending as f64, "{requests} log requests for {appending} frames");
    srv.stop().await;
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_with_1009() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("[server]\nmax_frame_bytes = 65536\n")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    assert_eq!(roundtrip(&mut ws, &ev("ok", "heartbeat", TS, None, "")).await["accepted"], 1);
    let big = format!(r#"{{"id":"big","type":"heartbeat","ts":"{TS}","pad":"{}"}}"#, "x".repeat(100_000));
    ws.send(Message::text(big)).await.unwrap();
    let close = loop {
        match ws.next().await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Size));
    srv.stop().await;
}

#[tokio::test]
async fn a_client_that_never_reads_replies_is_stalled_not_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let srv =
        Server::start(dir.path(), config("[server]\nmax_frame_bytes = 16384\nmax_in_flight_bytes = 65536\n")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    // Each frame is small, but its reply lists 1000 rejections (~100 KB): the replies
    // fill the socket buffers quickly once the client stops reading.
    let frame = format!("[{}]", vec!["{}"; 1000].join(","));
    let limit = 20_000u64;
    let mut sent = 0u64;
    let stalled = loop {
        if sent == limit {
            break false;
        }
        // A send that makes no progress for seconds means the server stopped reading.
        match tokio::time::timeout(Duration::from_secs(3), ws.send(Message::text(frame.clone()))).await {
            Ok(r) => {
                r.unwrap();
                sent += 1;
            }
            Err(_) => break true,
        }
    };
    assert!(stalled, "the server kept reading {limit} frames from a client that reads nothing");
    let read = srv.state.frames_read.load(std::sync::atomic::Ordering::Relaxed);
    assert!(read < sent, "the server read {read} of {sent} frames");
    // Its memory is bounded by the in-flight budget: at most 64 KiB of frames in flight,
    // the rest waits in kernel socket buffers.
    assert!(read <= 5_000, "server read {read} frames without answering");
    // Once the client reads, every frame it managed to send is answered.
    let mut answered = 0u64;
    let total = sent + 1; // the frame stuck in the cancelled send may or may not have gone out
    while answered < sent {
        let r = tokio::time::timeout(Duration::from_secs(30), next_json(&mut ws)).await.expect("reply");
        assert_eq!(r["rejected"].as_array().unwrap().len(), 1000);
        answered += 1;
    }
    assert!(answered <= total);
    drop(ws);
    srv.stop().await;
}

#[tokio::test]
async fn shutdown_answers_every_frame_it_read_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let n = 200;
    for i in 0..n {
        ws.feed(Message::text(ev(&format!("s-{i}"), "heartbeat", TS, None, ""))).await.unwrap();
    }
    ws.flush().await.unwrap();
    let first = next_json(&mut ws).await;
    assert_eq!(first["accepted"], 1);
    srv.shutdown.cancel();
    let mut acked = 1u64;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let r: Value = serde_json::from_str(t.as_str()).unwrap();
                acked += r["accepted"].as_u64().unwrap();
            }
            // Reading on after the Close sends our reply: the closing handshake ends.
            None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    srv.task.await.unwrap().unwrap();
    let log = seatwatch_log::Log::open(dir.path()).unwrap();
    let stored = log.read_from(1).count() as u64;
    assert!(stored >= acked, "acknowledged {acked}, stored {stored}");
    assert!(acked >= 1);
}

/// SIGTERM while a client pipelines frames without reading its replies, and goes on
/// sending after the server decided to stop: every frame the log stored is answered, then
/// the Close frame (1001) comes, and the server completes the closing handshake (it reads,
/// and discards, what the client sent after, until the client's Close) before it closes
/// TCP. Closing with the client's frames still unread made the kernel send a RST, which
/// destroys replies in flight and ends the client's stream with "connection reset".
#[tokio::test]
async fn shutdown_mid_stream_answers_every_stored_frame_then_closes_without_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let frame = |i: usize| {
        let events: Vec<String> = (0..5).map(|j| ev(&format!("m-{i}-{j}"), "heartbeat", TS, None, "")).collect();
        Message::text(format!("[{}]", events.join(",")))
    };
    let (before, after) = (300usize, 20usize);
    for i in 0..before {
        ws.feed(frame(i)).await.unwrap();
    }
    ws.flush().await.unwrap();
    // The server is storing the stream: its first reply has gone out.
    let guard = Duration::from_secs(20);
    let first = tokio::time::timeout(guard, next_json(&mut ws)).await.expect("the first reply");
    assert_eq!((first["accepted"].as_u64(), first["last_seq"].as_u64()), (Some(5), Some(5)), "{first}");
    srv.shutdown.cancel();
    // The client does not know yet and goes on sending.
    for i in before..before + after {
        ws.feed(frame(i)).await.unwrap();
    }
    ws.flush().await.unwrap();
    let mut replies = vec![first];
    let close = loop {
        match tokio::time::timeout(guard, ws.next()).await.expect("replies, then the Close frame") {
            Some(Ok(Message::Text(t))) => replies.push(serde_json::from_str::<Value>(t.as_str()).unwrap()),
            Some(Ok(Message::Close(close))) => break close,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("after {} replies: expected a reply or the Close frame, got {other:?}", replies.len()),
        }
    };
    assert_eq!(close.map(|c| c.code), Some(CloseCode::Away));
    // Reading on sends our Close reply; the server then closes TCP in order (FIN): the
    // stream ends without an error.
    match tokio::time::timeout(guard, ws.next()).await.expect("the end of the connection") {
        None => {}
        other => panic!("expected the connection to end cleanly after the closing handshake, got {other:?}"),
    }
    tokio::time::timeout(guard, srv.task).await.expect("the server stops").unwrap().unwrap();
    // One reply per stored frame, in order; nothing stored that was not answered.
    for (i, r) in replies.iter().enumerate() {
        let i = i as u64;
        assert_eq!((r["accepted"].as_u64(), r["duplicate"].as_u64()), (Some(5), Some(0)), "reply {i}: {r}");
        assert_eq!(r["last_seq"].as_u64(), Some(5 * (i + 1)), "reply {i}: {r}");
    }
    let answered = replies.len();
    let stored = srv.state.log.head().last_seq;
    assert_eq!(stored, 5 * answered as u64, "{answered} frames answered, {stored} events stored");
    // Frames sent after the server decided to stop are not stored (the client resends them).
    assert!(answered <= before, "{answered} frames stored of {before} sent before the shutdown");
}

/// A client that takes its replies but never answers the server's Close frame (nor closes
/// TCP) does not hold up shutdown beyond the closing handshake's timeout.
#[tokio::test]
async fn shutdown_does_not_wait_for_a_client_that_never_completes_the_close() {
    use seatwatch_ingest::connection::CLOSE_HANDSHAKE_TIMEOUT;
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    assert_eq!(roundtrip(&mut ws, &ev("n-1", "heartbeat", TS, None, "")).await["accepted"], 1);
    let started = std::time::Instant::now();
    // `ws` stays open and is never read again: no Close reply ever goes out.
    tokio::time::timeout(CLOSE_HANDSHAKE_TIMEOUT + Duration::from_secs(20), srv.stop())
        .await
        .expect("the server stops without the client's Close");
    assert!(started.elapsed() >= CLOSE_HANDSHAKE_TIMEOUT, "the server waited for the client's Close first");
    drop(ws);
}

/// A binary frame stores nothing; its reply, like every other whole-frame rejection,
/// reports the log's last sequence number, not 0.
#[tokio::test]
async fn an_unsupported_frame_reports_the_logs_last_seq() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let two = format!("[{},{}]", ev("b-1", "heartbeat", TS, None, ""), ev("b-2", "heartbeat", TS, None, ""));
    assert_eq!(roundtrip(&mut ws, &two).await["last_seq"], 2);
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let r = next_json(&mut ws).await;
    assert_eq!(r["rejected"][0]["code"], "unsupported_frame", "{r}");
    assert_eq!((r["accepted"].as_u64(), r["last_seq"].as_u64()), (Some(0), Some(2)), "{r}");
    // Sent back to back with a storing frame, it reports the log as of its reply.
    ws.feed(Message::text(ev("b-3", "heartbeat", TS, None, ""))).await.unwrap();
    ws.feed(Message::binary(vec![4u8])).await.unwrap();
    ws.flush().await.unwrap();
    assert_eq!(next_json(&mut ws).await["last_seq"], 3);
    let r = next_json(&mut ws).await;
    assert_eq!(
        (r["rejected"][0]["code"].as_str(), r["last_seq"].as_u64()),
        (Some("unsupported_frame"), Some(3)),
        "{r}"
    );
    drop(ws);
    srv.stop().await;
}
