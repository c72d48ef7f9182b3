//! The read API: tenant scoping, the projections seen live, the push stream.

use crate::harness::*;
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn the_tenant_comes_from_the_token_and_reads_are_scoped() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut acme = srv.connect(Some(ACME_ACD)).await.unwrap();
    // The event claims another tenant: ignored (kept as an extra field), acme gets it.
    let e = ev("t-1", "login", "2026-03-02T08:20:00+08:00", Some("li.lei"), r#","station":"S1","tenant":"globex""#);
    assert_eq!(roundtrip(&mut acme, &e).await["accepted"], 1);
    srv.caught_up().await;

    let agents = srv.get_json("/v1/agents", ACME_READER).await;
    let list = agents["agents"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{agents}");
    assert_eq!(list[0]["agent"], "li.lei");
    assert_eq!(list[0]["station"], "S1");
    assert_eq!(list[0]["state"], "ready", "a login makes the agent available (docs/metrics-definitions.md): {agents}");
    for key in ["agent", "state", "since", "station", "reason"] {
        assert!(list[0].get(key).is_some(), "missing {key}: {agents}");
    }
    // The producer may read its own tenant.
    assert_eq!(srv.get_json("/v1/agents", ACME_ACD).await, agents);
    // An agent on the roster that has sent no state event: listed only with the roster.
    let r = ev("t-2", "roster", "2026-03-02T08:00:00+08:00", Some("han.mei"), r#","certified":true"#);
    assert_eq!(roundtrip(&mut acme, &r).await["accepted"], 1);
    srv.caught_up().await;
    assert_eq!(srv.get_json("/v1/agents", ACME_READER).await, agents);
    let with = srv.get_json("/v1/agents?include=roster", ACME_READER).await;
    let names: Vec<(&str, &str)> = with["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["agent"].as_str().unwrap(), a["state"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("han.mei", "logged_out"), ("li.lei", "ready")], "{with}");
    // globex sees nothing of acme's.
    assert_eq!(srv.get_json("/v1/agents", GLOBEX_READER).await["agents"], Value::Array(vec![]));
    // Naming another tenant: 403 for readers, allowed for admins.
    assert_eq!(srv.get("/v1/agents?tenant=acme", Some(GLOBEX_READER)).await.0, 403);
    assert_eq!(srv.get_json("/v1/agents?tenant=acme", ADMIN).await, agents);
    // No or a wrong token: 401.
    assert_eq!(srv.get("/v1/agents", None).await.0, 401);
    assert_eq!(srv.get("/v1/alarms", Some("nope")).await.0, 401);
    // The raw log is for admins only.
    assert_eq!(srv.get("/v1/log?from_seq=1", Some(ACME_READER)).await.0, 403);
    assert_eq!(srv.get("/v1/log?from_seq=1", Some(ADMIN)).await.0, 200);
    // JSON by default, as every read: the records with their chain links.
    let log = srv.get_json("/v1/log?from_seq=1", ADMIN).await;
    assert_eq!(log["last_seq"], 2, "{log}");
    let records = log["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{log}");
    assert_eq!((records[0]["seq"].clone(), records[0]["tenant"].clone()), (Value::from(1), Value::from("acme")));
    assert_eq!(records[0]["event"]["type"], "login", "{log}");
    assert_eq!(records[0]["event"]["agent"], "li.lei", "{log}");
    assert_eq!(records[1]["link"].as_str().map(str::len), Some(64), "{log}");
    let tail = srv.get_json("/v1/log?from_seq=2", ADMIN).await;
    assert_eq!(tail["records"].as_array().map(Vec::len), Some(1), "{tail}");
    assert_eq!(tail["records"][0], records[1]);
    // The stored bytes on request (what `seatwatch backup` reads); a bad format is a 400.
    let (status, raw) = srv.get("/v1/log?from_seq=1&format=raw", Some(ADMIN)).await;
    assert_eq!(status, 200);
    assert!(raw.starts_with('\0') && !raw.contains("\"records\""), "{raw:?}");
    let (status, body) = srv.get("/v1/log?format=xml", Some(ADMIN)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("`format` is `json` (the default) or `raw`"), "{body}");
    drop(acme);
    srv.stop().await;
}

#[tokio::test]
async fn bad_query_parameters_get_a_400_saying_what_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    for (path, needle) in [
        ("/v1/alarms?state=open", "state"),
        ("/v1/alarms?rule=nonsense", "late_login"),
        ("/v1/alarms?from=yesterday", "RFC 3339"),
        ("/v1/intervals?to=3pm", "RFC 3339"),
        ("/v1/intervals?from=2026-03-02T03:00:00Z&to=2026-03-02T02:00:00Z", "the time range is empty"),
        ("/v1/alarms?from=2026-03-02T03:00:00Z&to=2026-03-02T03:00:00Z", "the time range is empty"),
        ("/v1/log?from_seq=-1", "from_seq"),
        ("/v1/agents?include=everyone", "roster"),
    ] {
        let secret = if path.starts_with("/v1/log") { ADMIN } else { ACME_READER };
        let (status, body) = srv.get(path, Some(secret)).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body}");
    }
    assert_eq!(srv.get("/healthz", None).await.0, 200);
    assert_eq!(srv.get("/nope", None).await.0, 404);
    srv.stop().await;
}

#[tokio::test]
async fn alarms_intervals_and_the_stream_follow_ingest_live() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let stream_url = srv.ws_url(&format!("/v1/stream?access_token={ACME_READER}"));
    let mut stream = connect(&stream_url, None).await.unwrap();
    let other_url = srv.ws_url(&format!("/v1/stream?access_token={GLOBEX_READER}"));
    let mut other = connect(&other_url, None).await.unwrap();

    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let frame = format!(
        "[{},{},{},{}]",
        ev("a-1", "login", "2026-03-02T08:20:00+08:00", Some("a1"), r#","station":"S1""#),
        ev("a-2", "not_ready", "2026-03-02T09:00:00+08:00", Some("a1"), r#","reason":"break""#),
        // 15 min 1 s later, by a heartbeat: not_ready_overlong fires.
        ev("a-3", "heartbeat", "2026-03-02T09:15:01+08:00", None, ""),
        ev("a-4", "ready", "2026-03-02T09:20:00+08:00", Some("a1"), ""),
    );
    assert_eq!(roundtrip(&mut ws, &frame).await["accepted"], 4);
    srv.caught_up().await;

    let all = srv.get_json("/v1/alarms?state=all&rule=not_ready_overlong", ACME_READER).await;
    let alarms = all["alarms"].as_array().unwrap();
    assert_eq!(alarms.len(), 1, "{all}");
    let a = &alarms[0];
    assert_eq!(a["agent"], "a1");
    assert_eq!(a["raised_at"], "2026-03-02T01:15:00Z");
    assert_eq!(a["cleared_at"], "2026-03-02T01:20:00Z");
    for key in ["id", "rule", "agent", "call", "raised_at", "cleared_at", "message", "evidence"] {
        assert!(a.get(key).is_some(), "missing {key}: {a}");
    }
    assert!(a["evidence"].as_array().unwrap().contains(&Value::from(2)), "the not_ready event is evidence: {a}");
    let active = srv.get_json("/v1/alarms?rule=not_ready_overlong", ACME_READER).await;
    assert_eq!(active["alarms"], Value::Array(vec![]), "cleared alarms are not active");
    assert_eq!(srv.get_json("/v1/alarms?state=all", GLOBEX_READER).await["alarms"], Value::Array(vec![]));

    let intervals = srv.get_json("/v1/intervals", ACME_READER).await;
    assert!(intervals["intervals"].is_array(), "{intervals}");

    // The stream pushed the agent's states and the alarm's life, in order.
    let mut types = Vec::new();
    while !types.contains(&"alarm_cleared".to_owned()) {
        if let Message::Text(t) = stream.next().await.unwrap().unwrap() {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            types.push(v["type"].as_str().unwrap().to_owned());
        }
    }
    assert!(types.contains(&"agent_state".to_owned()), "{types:?}");
    let raised = types.iter().position(|t| t == "alarm_raised").expect("raised pushed");
    let cleared = types.iter().position(|t| t == "alarm_cleared").unwrap();
    assert!(raised < cleared);
    // globex's stream got none of it: the next thing it sees is the server closing.
    drop(ws);
    srv.shutdown.cancel();
    while let Some(Ok(m)) = other.next().await {
        assert!(!matches!(m, Message::Text(_)), "another tenant's push leaked: {m:?}");
    }
    srv.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_read_after_an_acknowledgement_sees_the_acknowledged_events() {
    // Read your writes, with no waiting on the client's side: each read right after an
    // ack shows the event (the read waits for the projections to fold what was
    // committed when it came). Clients written from the contract read straight after
    // their ack; before, a read could miss the last event for the few milliseconds the
    // fold took.
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut acme = srv.connect(Some(ACME_ACD)).await.unwrap();
    for i in 0..150 {
        let agent = format!("a{i}");
        let (state, e) = if i % 2 == 0 {
            ("ready", ev(&format!("r-{i}"), "login", "2026-03-02T08:20:00+08:00", Some(&agent), r#","station":"S""#))
        } else {
            ("not_ready", ev(&format!("r-{i}"), "not_ready", "2026-03-02T08:20:00+08:00", Some(&agent), ""))
        };
        assert_eq!(roundtrip(&mut acme, &e).await["accepted"], 1);
        let agents = srv.get_json("/v1/agents", ACME_READER).await;
        let seen = agents["agents"].as_array().unwrap().iter().find(|a| a["agent"] == agent.as_str()).cloned();
        assert_eq!(seen.map(|a| a["state"].clone()), Some(Value::from(state)), "read {i} after its ack: {agents}");
    }
    // The same for the alarms: a not-ready spell past its limit, then a heartbeat past
    // it; the alarm is listed at once.
    let late = ev("hb", "heartbeat", "2026-03-02T08:40:00+08:00", None, "");
    assert_eq!(roundtrip(&mut acme, &late).await["accepted"], 1);
    let alarms = srv.get_json("/v1/alarms?rule=not_ready_overlong", ACME_READER).await;
    assert_eq!(alarms["alarms"].as_array().unwrap().len(), 75, "{alarms}");
    srv.stop().await;
}
