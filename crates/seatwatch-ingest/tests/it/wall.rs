//! Wall-clock tenants: ticks make elapsed-time alarms fire on time with no events.

use crate::harness::*;
use futures_util::StreamExt;
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_wall_clock_alarm_fires_within_a_second_of_its_deadline_without_events() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("[tenant.globex.rules]\nnot_ready_max = \"2s\"\n")).await;
    let mut stream = connect(&srv.ws_url(&format!("/v1/stream?access_token={GLOBEX_READER}")), None).await.unwrap();
    let mut ws = srv.connect(Some(GLOBEX_ACD)).await.unwrap();
    // The deadline 10 ms after a whole second: the whole-second ticks (stamped 500 ms
    // behind) would carry the watermark past it only ~990 ms later; the wake-up at the
    // deadline does it ~500 ms after.
    let now = chrono::Utc::now();
    let next_second = now + chrono::Duration::nanoseconds(1_000_000_000 - i64::from(now.timestamp_subsec_nanos()));
    let deadline_at = next_second + chrono::Duration::milliseconds(10);
    let start = deadline_at - chrono::Duration::seconds(2);
    let ts = start.to_rfc3339();
    let frame = format!(
        "[{},{}]",
        ev("w-1", "login", &ts, Some("g1"), r#","station":"G1""#),
        ev("w-2", "not_ready", &ts, Some("g1"), r#","reason":"break""#)
    );
    assert_eq!(roundtrip(&mut ws, &frame).await["accepted"], 2);
    let deadline = seatwatch_model::Ts::from_datetime(&deadline_at).unwrap();
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
    let seen = seatwatch_model::Ts::from_datetime(&chrono::Utc::now()).unwrap();
    let raised = seatwatch_model::Ts::parse_rfc3339(alarm["raised_at"].as_str().unwrap()).unwrap();
    assert_eq!(raised, deadline, "raised_at is the deadline itself: {alarm}");
    // The tick that fired it is in the log (so a replay fires it identically), stamped
    // tick_lateness (500 ms by default) behind the server's clock, and written at the
    // deadline + 500 ms, not at the next whole-second tick.
    let fired = srv
        .state
        .log
        .read_from(1)
        .filter_map(Result::ok)
        .find(|e| e.event.kind == seatwatch_model::EventKind::Tick && e.event.ts > deadline)
        .expect("a tick past the deadline");
    drop(ws);
    srv.stop().await;
    assert_eq!(fired.received.nanos - fired.event.ts.nanos, 500_000_000, "ticks stamp now − 500 ms");
    let written_after = Duration::from_nanos((fired.received.nanos - deadline.nanos) as u64);
    assert!(written_after < Duration::from_millis(900), "the firing tick came {written_after:?} after the deadline");
    // Within a second of the deadline, with slack for a loaded 2-core CI machine.
    let late = Duration::from_nanos(seen.nanos.saturating_sub(deadline.nanos) as u64);
    assert!(late < Duration::from_millis(2500), "seen {late:?} after the deadline");
}

/// Wait (on the log's commits, at most 15 s) for a tick record that satisfies `pred`.
async fn tick_where(srv: &Server, pred: impl Fn(&seatwatch_model::Envelope) -> bool) -> seatwatch_model::Envelope {
    let mut commits = srv.state.log.subscribe();
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let found = srv
                .state
                .log
                .read_from(1)
                .filter_map(Result::ok)
                .find(|e| e.event.kind == seatwatch_model::EventKind::Tick && pred(e));
            if let Some(e) = found {
                return e;
            }
            commits.changed().await.unwrap();
        }
    })
    .await
    .expect("the server ticks")
}

#[tokio::test]
async fn tick_lateness_lets_an_event_delayed_on_its_way_beat_its_deadline() {
    // A `ready` stamped 1.5 s into a 2 s not-ready limit reaches the server after the
    // deadline has passed on the server's clock. With tick_lateness = 3s the ticks
    // promise only "nothing before now − 3 s is still coming", so it still ends the spell
    // in time: no alarm. A spell nobody ends still alarms, at its deadline.
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(
        dir.path(),
        // The harness's config ends in `[tenant.globex]`: the first line is its key.
        config("tick_lateness = \"3s\"\n[tenant.globex.rules]\nnot_ready_max = \"2s\"\n"),
    )
    .await;
    let mut ws = srv.connect(Some(GLOBEX_ACD)).await.unwrap();
    let now = chrono::Utc::now();
    let at = |ms: i64| (now + chrono::Duration::milliseconds(ms)).to_rfc3339();
    let ts = |ms: i64| seatwatch_model::Ts::from_datetime(&(now + chrono::Duration::milliseconds(ms))).unwrap();
    let frame = format!("[{},{}]", not_ready_from("l-1", "g1", now), not_ready_from("l-2", "g2", now));
    assert_eq!(roundtrip(&mut ws, &frame).await["accepted"], 4);
    // The server's clock passes the deadline (a tick received after it)...
    let tick = tick_where(&srv, |e| e.received > ts(2_200)).await;
    let stamped_behind = tick.received.nanos - tick.event.ts.nanos;
    // ...then g1's `ready`, stamped before the deadline, arrives.
    let ready = ev("l-5", "ready", &at(1_500), Some("g1"), "");
    assert_eq!(roundtrip(&mut ws, &ready).await["accepted"], 1);
    // Once a tick has carried the watermark past the deadline, g2 alarms and g1 does not.
    tick_where(&srv, |e| e.event.ts > ts(2_000)).await;
    srv.caught_up().await;
    let alarms = srv.get_json("/v1/alarms?state=all&rule=not_ready_overlong", GLOBEX_READER).await;
    let agents: Vec<&str> = alarms["alarms"].as_array().unwrap().iter().map(|a| a["agent"].as_str().unwrap()).collect();
    let raised = alarms["alarms"][0]["raised_at"].as_str().map(|r| seatwatch_model::Ts::parse_rfc3339(r).unwrap());
    drop(ws);
    srv.stop().await;
    assert_eq!(stamped_behind, 3_000_000_000, "ticks stamp now − tick_lateness");
    assert_eq!(agents, ["g2"], "{alarms}");
    assert_eq!(raised, Some(ts(2_000)), "raised at the deadline itself");
}

#[tokio::test]
async fn an_event_that_beat_its_deadline_but_arrived_after_the_alarm_withdraws_it() {
    // With tick_lateness = 0 the tick past g1's deadline raises the alarm; g1's `ready`,
    // stamped before the deadline, then arrives: the alarm was false and is withdrawn,
    // listed only under `state=withdrawn`.
    let dir = tempfile::tempdir().unwrap();
    let srv =
        Server::start(dir.path(), config("tick_lateness = \"0s\"\n[tenant.globex.rules]\nnot_ready_max = \"1s\"\n"))
            .await;
    let mut ws = srv.connect(Some(GLOBEX_ACD)).await.unwrap();
    let now = chrono::Utc::now();
    let at = |ms: i64| (now + chrono::Duration::milliseconds(ms)).to_rfc3339();
    let ts = |ms: i64| seatwatch_model::Ts::from_datetime(&(now + chrono::Duration::milliseconds(ms))).unwrap();
    let frame = format!("[{}]", not_ready_from("w-1", "g1", now));
    assert_eq!(roundtrip(&mut ws, &frame).await["accepted"], 2);
    tick_where(&srv, |e| e.event.ts > ts(1_000)).await;
    srv.caught_up().await;
    let before = srv.get_json("/v1/alarms?state=all&rule=not_ready_overlong", GLOBEX_READER).await;
    let ready = ev("w-3", "ready", &at(900), Some("g1"), "");
    assert_eq!(roundtrip(&mut ws, &ready).await["accepted"], 1);
    srv.caught_up().await;
    // By rule: the login "now" is late or absent by the default schedule at some hours.
    let listed = srv.get_json("/v1/alarms?state=all&rule=not_ready_overlong", GLOBEX_READER).await;
    let withdrawn = srv.get_json("/v1/alarms?state=withdrawn&rule=not_ready_overlong", GLOBEX_READER).await;
    drop(ws);
    srv.stop().await;
    assert_eq!(before["alarms"].as_array().unwrap().len(), 1, "raised at the deadline: {before}");
    assert_eq!(listed["alarms"], serde_json::json!([]), "{listed}");
    let w = &withdrawn["alarms"][0];
    assert_eq!((w["rule"].as_str(), w["withdrawn"].as_bool()), (Some("not_ready_overlong"), Some(true)), "{withdrawn}");
    assert_eq!(w["cleared_at"], w["raised_at"]);
}

/// The login and not-ready of `agent` stamped `start`, as one frame's events.
fn not_ready_from(id: &str, agent: &str, start: chrono::DateTime<chrono::Utc>) -> String {
    let ts = start.to_rfc3339();
    format!(
        "{},{}",
        ev(&format!("{id}-l"), "login", &ts, Some(agent), &format!(r#","station":"S-{agent}""#)),
        ev(&format!("{id}-n"), "not_ready", &ts, Some(agent), "")
    )
}

/// The next whole second of the wall clock, plus `ms`.
fn after_next_second(ms: i64) -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Utc::now();
    now + chrono::Duration::nanoseconds(1_000_000_000 - i64::from(now.timestamp_subsec_nanos()))
        + chrono::Duration::milliseconds(ms)
}

#[tokio::test]
async fn a_second_deadline_in_the_same_second_gets_its_own_wake_up() {
    // Deadlines at a whole second + 10 ms and + 200 ms: the second must not wait for the
    // next whole-second tick (800 ms after it) because the first one's tick was still
    // being folded when the ticker looked again.
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("[tenant.globex.rules]\nnot_ready_max = \"2s\"\n")).await;
    let mut ws = srv.connect(Some(GLOBEX_ACD)).await.unwrap();
    let d1 = after_next_second(10);
    let d2 = after_next_second(200);
    let two = chrono::Duration::seconds(2);
    let frame = format!("[{},{}]", not_ready_from("a", "g1", d1 - two), not_ready_from("b", "g2", d2 - two));
    assert_eq!(roundtrip(&mut ws, &frame).await["accepted"], 4);
    let d2 = seatwatch_model::Ts::from_datetime(&d2).unwrap();
    let fired = tick_where(&srv, |e| e.event.ts > d2).await;
    drop(ws);
    srv.stop().await;
    let after = Duration::from_nanos((fired.received.nanos - d2.nanos) as u64);
    assert!(after < Duration::from_millis(750), "the tick past the second deadline came {after:?} after it");
}

#[tokio::test]
async fn one_tenants_deadlines_do_not_make_ticks_for_another() {
    // w2 (wall clock, one agent logged in, no deadline) gets its whole-second ticks only,
    // while globex's ten deadlines 100 ms apart each get a tick of their own.
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[[token]]\nname = \"w2-acd\"\ntenant = \"w2\"\nrole = \"producer\"\nsha256 = \"{}\"\n\n\
         [tenant.w2]\nclock = \"wall\"\n\n[tenant.globex.rules]\nnot_ready_max = \"2s\"\n",
        seatwatch_config::hash_secret("w2-secret")
    );
    let srv = Server::start(dir.path(), config(&extra)).await;
    let mut w2 = srv.connect(Some("w2-secret")).await.unwrap();
    let login = ev("w-l", "login", &chrono::Utc::now().to_rfc3339(), Some("x1"), r#","station":"X1""#);
    assert_eq!(roundtrip(&mut w2, &login).await["accepted"], 1);
    let mut ws = srv.connect(Some(GLOBEX_ACD)).await.unwrap();
    let first = after_next_second(50);
    let two = chrono::Duration::seconds(2);
    let events: Vec<String> = (0..10)
        .map(|i| {
            not_ready_from(&format!("g{i}"), &format!("g{i}"), first - two + chrono::Duration::milliseconds(100 * i))
        })
        .collect();
    assert_eq!(roundtrip(&mut ws, &format!("[{}]", events.join(","))).await["accepted"], 20);
    let last = seatwatch_model::Ts::from_datetime(&(first + chrono::Duration::milliseconds(900))).unwrap();
    tick_where(&srv, |e| e.tenant.as_str() == "globex" && e.event.ts > last).await;
    let w2_ticks: Vec<i64> = srv
        .state
        .log
        .read_from(1)
        .filter_map(Result::ok)
        .filter(|e| e.event.kind == seatwatch_model::EventKind::Tick && e.tenant.as_str() == "w2")
        .map(|e| e.received.nanos)
        .collect();
    drop((w2, ws));
    srv.stop().await;
    for pair in w2_ticks.windows(2) {
        assert!(pair[1] - pair[0] >= 900_000_000, "w2 ticked twice within a second: {w2_ticks:?}");
    }
}

#[test]
fn tick_lateness_is_bounded() {
    let e = seatwatch_config::Config::parse("[tenant.acme]\ntick_lateness = \"11m\"\n").unwrap_err().to_string();
    assert!(e.contains("tick_lateness is at most 10m"), "{e}");
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
