//! Wall-clock tenants: ticks make elapsed-time alarms fire on time with no events.

use crate::harness::*;
use futures_util::StreamExt;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_wall_clock_alarm_fires_within_a_second_of_its_deadline_without_events() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("[tenant.globex.rules]\nnot_ready_max = \"2s\"\n")).await;
    let mut stream = connect(&srv.ws_url(&format!("/v1/stream?access_token={GLOBEX_READER}")), None).await.unwrap();
    let mut ws = srv.connect(Some(GLOBEX_ACD)).await.unwrap();
    let now = chrono::Utc::now();
    let ts = now.to_rfc3339();
    let frame = format!(
        "[{},{}]",
        ev("w-1", "login", &ts, Some("g1"), r#","station":"G1""#),
        ev("w-2", "not_ready", &ts, Some("g1"), r#","reason":"break""#)
    );
    assert_eq!(roundtrip(&mut ws, &frame).await["accepted"], 2);
    let deadline = Instant::now() + Duration::from_secs(2);
    let alarm = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if let Some(Ok(Message::Text(t))) = stream.next().await {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "alarm_raised" && v["rule"] == "not_ready_overlong" {
                    return v;
                }
            }
        }
    })
    .await
    .expect("the alarm fires without any further event");
    let late = Instant::now().saturating_duration_since(deadline);
    // Within a second of the deadline (ticks are whole seconds), with slack for a
    // loaded 2-core CI machine.
    assert!(late < Duration::from_millis(2500), "fired {late:?} after the deadline");
    let raised = seatwatch_model::Ts::parse_rfc3339(alarm["raised_at"].as_str().unwrap()).unwrap();
    let expected = seatwatch_model::Ts::from_datetime(&(now + chrono::Duration::seconds(2))).unwrap();
    assert_eq!(raised, expected, "raised_at is the deadline itself: {alarm}");
    // The tick that fired it is in the log, so a replay fires it identically.
    let ticks = srv
        .state
        .log
        .read_from(1)
        .filter(|e| e.as_ref().is_ok_and(|e| e.event.kind == seatwatch_model::EventKind::Tick))
        .count();
    assert!(ticks >= 1);
    drop(ws);
    srv.stop().await;
}

#[tokio::test]
async fn the_connection_cap_refuses_with_503_and_frees_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("[server]\nmax_connections = 2\n")).await;
    const INGEST: &str = r#"seatwatch_connections_refused_total{endpoint="ingest"}"#;
    const STREAM: &str = r#"seatwatch_connections_refused_total{endpoint="stream"}"#;
    let (ingest_before, stream_before) = (srv.scrape(INGEST).await, srv.scrape(STREAM).await);
    let a = srv.connect(Some(ACME_ACD)).await.unwrap();
    let b = srv.connect(Some(ACME_ACD)).await.unwrap();
    assert_eq!(upgrade_status(&srv.connect(Some(ACME_ACD)).await.unwrap_err()), 503);
    let stream = connect(&srv.ws_url("/v1/stream"), Some(ACME_READER)).await.unwrap_err();
    assert_eq!(upgrade_status(&stream), 503, "/v1/stream shares the cap");
    assert!(srv.scrape(INGEST).await - ingest_before >= 1.0, "{INGEST} did not move");
    assert!(srv.scrape(STREAM).await - stream_before >= 1.0, "{STREAM} did not move");
    drop(a);
    // The permit returns when the server sees the close; retry until it has.
    let mut c = None;
    for _ in 0..200 {
        match srv.connect(Some(ACME_ACD)).await {
            Ok(ws) => {
                c = Some(ws);
                break;
            }
            Err(e) => {
                assert_eq!(upgrade_status(&e), 503);
                tokio::task::yield_now().await;
            }
        }
    }
    assert!(c.is_some(), "a closed connection frees its slot");
    drop((b, c));
    srv.stop().await;
}
