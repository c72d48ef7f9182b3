//! `/v1/intervals` says what the live state holds: `retained_from` and `truncated`.

use crate::harness::*;
use serde_json::Value;

/// Rows of an `/v1/intervals` answer as `(start, queue, abandoned)`.
fn rows(answer: &Value) -> Vec<(String, Option<String>, u64)> {
    answer["intervals"]
        .as_array()
        .expect("intervals")
        .iter()
        .map(|r| {
            let queue = r["queue"].as_str().map(str::to_owned);
            (r["start"].as_str().unwrap().to_owned(), queue, r["abandoned"].as_u64().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn intervals_older_than_the_retention_are_reported_as_cut() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), config("[tenant.acme.occupancy]\nretention = \"1d\"\n")).await;
    // Nothing folded yet: no interval held, nothing cut.
    let empty = srv.get_json("/v1/intervals?from=2026-03-01T00:00:00Z", ACME_READER).await;
    assert_eq!(empty["retained_from"], Value::Null, "{empty}");
    assert_eq!(empty["truncated"], false, "{empty}");
    assert_eq!(empty["intervals"], Value::Array(vec![]));

    // Three days on the event clock, one abandoned call a day in `sales`.
    let mut ws = srv.connect(Some(ACME_ACD)).await.unwrap();
    let mut events = Vec::new();
    for (day, call_at) in [("02", "09:00"), ("03", "13:00"), ("04", "10:00")] {
        let ts = |hm: &str, s: &str| format!("2026-03-{day}T{hm}:{s}Z");
        events.push(ev(&format!("{day}-1"), "login", &ts("08:00", "00"), Some("a1"), r#","station":"S1""#));
        let call = format!(r#","call":"c-{day}","queue":"sales""#);
        events.push(ev(&format!("{day}-2"), "queued", &ts(call_at, "00"), None, &call));
        events.push(ev(&format!("{day}-3"), "abandoned", &ts(call_at, "30"), None, &call));
        if day != "04" {
            events.push(ev(&format!("{day}-4"), "logout", &ts("17:00", "00"), Some("a1"), ""));
        }
    }
    // The clock ends at 12:07 on the 4th: now − 1 day falls inside 12:00–12:15 on the 3rd,
    // so the oldest interval held whole starts at 12:15.
    events.push(ev("04-9", "heartbeat", "2026-03-04T12:07:00Z", None, ""));
    let frame = format!("[{}]", events.join(","));
    assert_eq!(roundtrip(&mut ws, &frame).await["accepted"], events.len());
    srv.caught_up().await;

    let retained = "2026-03-03T12:15:00Z";
    // A range reaching back to the first day: cut, and says so.
    let all = srv.get_json("/v1/intervals?from=2026-03-02T00:00:00Z", ACME_READER).await;
    assert_eq!(all["retained_from"], retained, "{all}");
    assert_eq!(all["truncated"], true, "{all}");
    let got = rows(&all);
    assert!(got.iter().all(|r| r.0.as_str() >= "2026-03-03T12:00:00Z"), "the first day left live state: {got:?}");
    // The calls of the 3rd (after retained_from) and the 4th are there, per queue and in total.
    for start in ["2026-03-03T13:00:00Z", "2026-03-04T10:00:00Z"] {
        for queue in [None, Some("sales".to_owned())] {
            assert!(got.contains(&(start.to_owned(), queue.clone(), 1)), "{start} {queue:?}: {got:?}");
        }
    }
    // No `from` asks for everything: also cut.
    let open = srv.get_json("/v1/intervals", ACME_READER).await;
    assert_eq!((&open["retained_from"], &open["truncated"]), (&Value::from(retained), &Value::from(true)));
    assert_eq!(rows(&open), got);

    // From retained_from on: whole.
    let whole = srv.get_json(&format!("/v1/intervals?from={retained}"), ACME_READER).await;
    assert_eq!((&whole["retained_from"], &whole["truncated"]), (&Value::from(retained), &Value::from(false)));
    let in_retention: Vec<_> = got.iter().filter(|r| r.0.as_str() >= retained).cloned().collect();
    assert_eq!(rows(&whole), in_retention);
    // A minute before it: the interval holding `now − retention` may lack agent time.
    let cut = srv.get_json("/v1/intervals?from=2026-03-03T12:14:00Z&queue=sales", ACME_READER).await;
    assert_eq!(cut["truncated"], true, "{cut}");
    let day3 = srv.get_json("/v1/intervals?from=2026-03-04T00:00:00Z&to=2026-03-04T12:00:00Z", ACME_READER).await;
    assert_eq!(day3["truncated"], false, "{day3}");
    assert_eq!(rows(&day3).iter().filter(|r| r.2 == 1).count(), 2, "{day3}");

    // Another tenant with no record: null, not cut.
    let other = srv.get_json("/v1/intervals", GLOBEX_READER).await;
    assert_eq!((&other["retained_from"], &other["truncated"]), (&Value::Null, &Value::from(false)));
    drop(ws);
    srv.stop().await;
}
