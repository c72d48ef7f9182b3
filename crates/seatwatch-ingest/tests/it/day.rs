//! A working day of a dozen agents through the WebSocket; exactly the expected alarms
//! come back from `/v1/alarms`, and the day's figures from `/v1/intervals`.

use crate::harness::*;
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// (local time on Monday 2026-03-02, type, agent, extra fields)
fn day() -> Vec<Value> {
    let mut out = Vec::new();
    let mut n = 0;
    let mut e = |date: &str, time: &str, ty: &str, agent: Option<&str>, extra: Value| {
        n += 1;
        let mut v = json!({"id": format!("day-{n}"), "type": ty, "ts": format!("{date}T{time}+08:00")});
        if let Some(a) = agent {
            v["agent"] = json!(a);
        }
        if let Value::Object(m) = extra {
            for (k, x) in m {
                v[k] = x;
            }
        }
        out.push(v);
    };
    let fri = "2026-02-27";
    let mon = "2026-03-02";
    let none = json!({});
    for a in ["a01", "a02", "a03", "a04", "a05", "a06", "a07", "a08", "a09", "a10", "a11"] {
        e(fri, "18:00:00", "roster", Some(a), json!({"certified": true}));
    }
    let login = |s: &str| json!({"station": s});
    e(mon, "08:10:00", "login", Some("a01"), login("s01"));
    e(mon, "08:11:00", "ready", Some("a01"), none.clone());
    e(mon, "08:12:00", "login", Some("a02"), login("s02"));
    e(mon, "08:12:30", "ready", Some("a02"), none.clone());
    for a in ["a07", "a08", "a09", "a10", "a11"] {
        e(mon, "08:15:00", "login", Some(a), login(&format!("s{}", &a[1..])));
        e(mon, "08:15:30", "ready", Some(a), none.clone());
    }
    e(mon, "08:20:00", "login", Some("a04"), login("s04"));
    e(mon, "08:20:00", "login", Some("a12"), login("s12")); // not on the roster
    e(mon, "08:22:00", "login", Some("a05"), login("s04")); // a04's station
    e(mon, "08:31:00", "login", Some("a03"), login("s03")); // late
    e(mon, "09:00:00", "offered", Some("a09"), json!({"call": "c1", "queue": "billing"}));
    e(mon, "09:00:16", "answered", Some("a09"), json!({"call": "c1"})); // 16 s ÷ 5 s: the 4th ring
    e(mon, "09:03:00", "survey_offered", Some("a09"), json!({"call": "c1"}));
    e(mon, "09:04:00", "ended", Some("a09"), json!({"call": "c1"}));
    e(mon, "09:05:00", "ready", Some("a09"), none.clone());
    e(mon, "09:10:00", "offered", Some("a10"), json!({"call": "c2", "queue": "billing"}));
    e(mon, "09:10:14", "answered", Some("a10"), json!({"call": "c2"})); // 3rd ring: fine
    e(mon, "09:12:00", "ended", Some("a10"), json!({"call": "c2"})); // no survey
    e(mon, "09:15:00", "ready", Some("a10"), none.clone()); // 180 s of wrap-up
    e(mon, "09:20:00", "offered", Some("a11"), json!({"call": "c3", "queue": "sales"}));
    e(mon, "09:20:30", "missed", Some("a11"), json!({"call": "c3"}));
    e(mon, "09:30:01", "heartbeat", None, none.clone()); // a06 never came
    e(mon, "10:00:00", "not_ready", Some("a07"), json!({"reason": "break"}));
    e(mon, "10:00:00", "not_ready", Some("a08"), json!({"reason": "break"}));
    e(mon, "10:15:00", "ready", Some("a07"), none.clone()); // exactly 15 min: fine
    e(mon, "10:15:01", "heartbeat", None, none.clone());
    e(mon, "10:20:00", "ready", Some("a08"), none.clone());
    e(
        mon,
        "10:30:00",
        "queued",
        None,
        json!({"call": "e1", "queue": "hotline", "priority": "emergency", "caller": "+8613800138000"}),
    );
    e(mon, "10:30:01", "offered", Some("a02"), json!({"call": "e1", "queue": "hotline", "priority": "emergency"}));
    e(mon, "10:30:05", "answered", Some("a02"), json!({"call": "e1"}));
    e(mon, "10:34:00", "escalated", Some("a02"), json!({"call": "e1"}));
    e(mon, "10:39:00", "survey_offered", Some("a02"), json!({"call": "e1"}));
    e(mon, "10:40:00", "ended", Some("a02"), json!({"call": "e1"}));
    e(mon, "10:41:00", "ready", Some("a02"), none.clone());
    e(mon, "10:50:00", "callback_promised", Some("a01"), json!({"call": "c9", "due": "2026-03-02T11:00:00+08:00"}));
    e(mon, "11:30:00", "callback_done", Some("a01"), json!({"call": "c9"}));
    e(mon, "17:00:00", "logout", Some("a04"), none.clone()); // 35 min early
    for a in ["a01", "a02", "a03", "a05", "a07", "a08", "a09", "a10", "a11", "a12"] {
        e(mon, "17:40:00", "logout", Some(a), none.clone());
    }
    e(mon, "18:00:00", "heartbeat", None, none);
    out
}

#[tokio::test]
async fn a_working_day_of_a_dozen_agents_gives_exactly_the_expected_alarms() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("")).await;
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let events = day();
    for chunk in events.chunks(10) {
        ws.feed(Message::text(Value::Array(chunk.to_vec()).to_string())).await.unwrap();
    }
    ws.flush().await.unwrap();
    let mut accepted = 0;
    for _ in events.chunks(10) {
        let r = next_json(&mut ws).await;
        assert_eq!(r["rejected"], json!([]), "{r}");
        accepted += r["accepted"].as_u64().unwrap();
    }
    assert_eq!(accepted, events.len() as u64);
    srv.caught_up().await;

    let got = srv.get_json("/v1/alarms?state=all", ACME_READER).await;
    let rows: Vec<(String, String, String, Value)> = got["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_owned(),
                a["agent"].as_str().unwrap_or("-").to_owned(),
                a["raised_at"].as_str().unwrap().to_owned(),
                a["cleared_at"].clone(),
            )
        })
        .collect();
    let exp = |rule: &str, agent: &str, raised: &str, cleared: Option<&str>| {
        (rule.to_owned(), agent.to_owned(), raised.to_owned(), cleared.map_or(Value::Null, |c| json!(c)))
    };
    let expected = vec![
        exp("uncertified_login", "a12", "2026-03-02T00:20:00Z", Some("2026-03-02T09:40:00Z")),
        exp("duplicate_login", "a05", "2026-03-02T00:22:00Z", Some("2026-03-02T09:00:00Z")),
        exp("late_login", "a03", "2026-03-02T00:31:00Z", None),
        exp("slow_answer", "a09", "2026-03-02T01:00:16Z", None),
        exp("survey_not_offered", "a10", "2026-03-02T01:12:00Z", None),
        exp("wrap_up_overlong", "a10", "2026-03-02T01:14:00Z", Some("2026-03-02T01:15:00Z")),
        exp("missed_call", "a11", "2026-03-02T01:20:30Z", None),
        exp("absent", "a06", "2026-03-02T01:30:00Z", None),
        exp("not_ready_overlong", "a08", "2026-03-02T02:15:00Z", Some("2026-03-02T02:20:00Z")),
        exp("callback_overdue", "a01", "2026-03-02T03:00:00Z", Some("2026-03-02T03:30:00Z")),
        exp("early_logout", "a04", "2026-03-02T09:00:00Z", None),
    ];
    assert_eq!(rows, expected, "{got:#}");

    // Active: the ones without an end, and none of the cleared.
    let active = srv.get_json("/v1/alarms", ACME_READER).await;
    let active_rules: Vec<&str> =
        active["alarms"].as_array().unwrap().iter().map(|a| a["rule"].as_str().unwrap()).collect();
    assert_eq!(
        active_rules,
        ["late_login", "slow_answer", "survey_not_offered", "missed_call", "absent", "early_logout"]
    );
    // Filters.
    let a10 = srv.get_json("/v1/alarms?state=all&agent=a10", ACME_READER).await;
    assert_eq!(a10["alarms"].as_array().unwrap().len(), 2);
    let one = srv.get_json("/v1/alarms?state=all&rule=absent", ACME_READER).await;
    assert_eq!(one["alarms"].as_array().unwrap().len(), 1);
    let window = srv
        .get_json("/v1/alarms?state=all&from=2026-03-02T09:00:00%2B08:00&to=2026-03-02T10:00:00%2B08:00", ACME_READER)
        .await;
    assert_eq!(window["alarms"].as_array().unwrap().len(), 5, "{window:#}");
    // Ids are stable: a second read gives the same ids, and each is unique.
    let ids: std::collections::BTreeSet<String> =
        got["alarms"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), expected.len());

    // The day's figures: billing had 2 calls offered and answered, one of them in time.
    let iv = srv
        .get_json(
            "/v1/intervals?queue=billing&from=2026-03-02T09:00:00%2B08:00&to=2026-03-02T09:15:00%2B08:00",
            ACME_READER,
        )
        .await;
    let rows = iv["intervals"].as_array().unwrap();
    let billing: Vec<&Value> = rows.iter().filter(|r| r["queue"] == "billing").collect();
    assert_eq!(billing.len(), 1, "{iv:#}");
    assert_eq!(
        (billing[0]["offered"].as_u64(), billing[0]["answered"].as_u64(), billing[0]["answered_in_time"].as_u64()),
        (Some(2), Some(2), Some(1)),
        "{iv:#}"
    );
    assert_eq!(billing[0]["start"], "2026-03-02T01:00:00Z");
    drop(ws);
    srv.stop().await;
}
