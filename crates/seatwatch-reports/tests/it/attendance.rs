//! The attendance report on a hand-made log: a night shift's logout (after midnight) is
//! on its shift's row, as the compliance rules judge it, not on the next day's, and so is
//! the time logged in after midnight.

use seatwatch_config::Config;
use seatwatch_model::{AgentId, Date, Envelope, Event, EventKind, Projector, ShiftHours, TimeOfDay, Ts};
use seatwatch_reports::{Filter, Replay, ReportKind};
use serde_json::{Value, json};

fn push(log: &mut Vec<Envelope>, at: &str, agent: &str, kind: EventKind) {
    let seq = log.len() as u64 + 1;
    let ts = Ts::parse_rfc3339(at).unwrap();
    log.push(Envelope {
        seq,
        tenant: "acme".into(),
        source: "acd".into(),
        received: ts,
        event: Event { id: format!("e{seq}").into(), ts, agent: Some(AgentId::from(agent)), kind, extra: None },
    });
}

fn shift(date: &str, hours: Option<(&str, &str)>) -> EventKind {
    let hours =
        hours.map(|(s, e)| ShiftHours { start: TimeOfDay::parse(s).unwrap(), end: TimeOfDay::parse(e).unwrap() });
    EventKind::Shift { date: Date::parse(date).unwrap(), hours }
}

#[test]
fn a_night_shifts_logout_after_midnight_is_on_its_shifts_row() {
    // Tuesday 22:00 to Wednesday 06:00; Wednesday off. Logged in 22:05, out at 05:50
    // (10 min early), back at 05:52 and out again at 06:30 (after the end, within the
    // grace), as a black-box run of session 12 tried it.
    let mut log = Vec::new();
    push(&mut log, "2026-11-20T09:00:00+08:00", "f3", shift("2026-11-24", Some(("22:00", "06:00"))));
    push(&mut log, "2026-11-20T09:00:01+08:00", "f3", shift("2026-11-25", None));
    push(&mut log, "2026-11-24T22:05:00+08:00", "f3", EventKind::Login { station: "s1".into() });
    push(&mut log, "2026-11-25T05:50:00+08:00", "f3", EventKind::Logout);
    push(&mut log, "2026-11-25T05:52:00+08:00", "f3", EventKind::Login { station: "s1".into() });
    push(&mut log, "2026-11-25T06:30:00+08:00", "f3", EventKind::Logout);
    let config = Config::parse("[tenant.acme]\nclock = \"event\"\n").unwrap();
    let mut r = Replay::new(&config, &[ReportKind::Attendance]);
    for env in &log {
        r.apply(env);
    }
    let report = r.report(ReportKind::Attendance, &Filter::default()).unwrap();
    let rows: Vec<Value> = report.rows.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let tue: Vec<&Value> = rows.iter().filter(|v| v["date"] == json!("2026-11-24")).collect();
    assert_eq!(tue.len(), 1, "{rows:#?}");
    let tue = tue[0];
    assert_eq!(tue["scheduled"], json!(true));
    assert_eq!(tue["first_login"], json!("2026-11-24T14:05:00Z"));
    assert_eq!(tue["last_logout"], json!("2026-11-24T22:30:00Z"), "the 06:30 logout, next morning");
    assert_eq!(tue["logins"], json!(2));
    // Both sessions' time, 22:05 to 05:50 and 05:52 to 06:30, is the night's too.
    assert_eq!(tue["logged_in_seconds"], json!(30_180.0));
    // Late (after 22:00); the 05:50 early logout was cleared by the login at 05:52.
    assert_eq!(
        (tue["late"].clone(), tue["early"].clone(), tue["absent"].clone()),
        (json!(true), json!(false), json!(false))
    );
    assert_eq!(tue["alarms"], json!(["late_login-3", "early_logout-4"]), "{tue}");
    // Wednesday (off) has no logins of its own; its row, if any, shows none.
    for wed in rows.iter().filter(|v| v["date"] == json!("2026-11-25")) {
        assert_eq!((wed["first_login"].clone(), wed["last_logout"].clone()), (Value::Null, Value::Null), "{wed}");
        assert_eq!(wed["logged_in_seconds"], json!(0.0), "{wed}");
    }
}
