//! A whole working day of a dozen agents, with the exact alarm list it must produce.

use crate::support::{Builder, ts};
use seatwatch_compliance::{AlarmQuery, Compliance, Rule, TenantSettings};
use seatwatch_model::{CallId, Date, EventKind, Projector, fold};
use std::collections::BTreeMap;

type Row = (String, Rule, String, String, Option<String>);

fn row(id: String, rule: Rule, agent: &str, raised: &str, cleared: Option<&str>) -> Row {
    (id, rule, agent.to_owned(), raised.to_owned(), cleared.map(str::to_owned))
}

#[test]
fn a_working_day_of_twelve_agents() {
    let mut b = Builder::new("acme", "+08:00");
    let fri = |t: &str| format!("2026-02-27T{t}");
    let mon = |t: &str| format!("2026-03-02T{t}");

    // Friday evening: WFM files the roster, Monday's exceptions and a leave.
    for a in ["a01", "a02", "a03", "a04", "a05", "a06", "a07", "a08", "a09", "a11"] {
        b.roster(&fri("18:00:00"), a, true);
    }
    b.roster(&fri("18:00:00"), "a10", false); // still in training
    b.shift(&fri("18:01:00"), "a08", "2026-03-02", Some(("12:00", "21:00")));
    b.shift(&fri("18:01:00"), "a09", "2026-03-02", None);
    let d = Date::parse("2026-03-02").unwrap();
    b.ev(&fri("18:02:00"), Some("a07"), EventKind::LeaveApproved { from: d, to: d, by: "sup".into() });

    // Monday.
    let a12_login = b.login(&mon("08:00:00"), "a12", "s12"); // not on the roster
    b.login(&mon("08:10:00"), "a04", "s04");
    b.login(&mon("08:15:00"), "a05", "s05");
    b.login(&mon("08:20:00"), "a01", "s01");
    let a10_login = b.login(&mon("08:20:00"), "a10", "s10");
    b.ready(&mon("08:25:00"), "a01");
    let dup = b.login(&mon("08:25:00"), "a11", "s01"); // a01's station
    let a11_out = b.logout(&mon("08:27:00"), "a11");
    b.login(&mon("08:28:00"), "a11", "s11");
    b.login(&mon("08:29:00"), "a06", "s06");
    b.ready(&mon("08:30:00"), "a06");
    let late = b.login(&mon("08:41:00"), "a02", "s02");
    b.ready(&mon("08:42:00"), "a02");
    b.ready(&mon("08:45:00"), "a11");
    b.offered(&mon("09:00:00"), "a01", "c1");
    b.answered(&mon("09:00:06"), "a01", "c1");
    b.survey(&mon("09:04:50"), "a01", "c1");
    b.ended(&mon("09:05:00"), "a01", "c1");
    b.ready(&mon("09:06:00"), "a01");
    b.heartbeat(&mon("09:30:10")); // a03 has not come
    b.login(&mon("10:00:00"), "a09", "s09"); // overtime on a day off
    let nr = b.not_ready(&mon("10:00:00"), "a06", "break");
    b.offered(&mon("10:00:00"), "a11", "c11");
    let slow = b.answered(&mon("10:00:20"), "a11", "c11"); // 5th ring
    let no_survey = b.ended(&mon("10:03:00"), "a11", "c11");
    b.ready(&mon("10:04:00"), "a11");
    b.ready(&mon("10:20:00"), "a06");
    b.offered(&mon("11:00:00"), "a11", "c12");
    let missed = b.ev(&mon("11:00:30"), Some("a11"), EventKind::Missed { call: CallId::from("c12") });
    b.login(&mon("11:50:00"), "a08", "s08");
    b.logout(&mon("12:00:00"), "a09");
    b.not_ready(&mon("12:00:00"), "a01", "lunch");
    b.ready(&mon("12:14:00"), "a01");
    b.offered(&mon("14:00:00"), "a11", "c13");
    b.answered(&mon("14:00:05"), "a11", "c13");
    b.survey(&mon("14:05:00"), "a11", "c13");
    let wrap = b.ended(&mon("14:06:00"), "a11", "c13");
    b.ready(&mon("14:08:30"), "a11");
    b.ev(
        &mon("15:00:00"),
        None,
        EventKind::Queued {
            call: CallId::from("e1"),
            queue: "hotline".into(),
            caller: None,
            emergency: true,
            priority: Some("emergency".into()),
        },
    );
    b.offered(&mon("15:00:01"), "a12", "e1");
    let emergency = b.answered(&mon("15:00:05"), "a12", "e1");
    b.heartbeat(&mon("15:05:00"));
    b.survey(&mon("15:10:00"), "a12", "e1");
    b.ended(&mon("15:12:00"), "a12", "e1");
    b.ready(&mon("15:13:00"), "a12");
    let promise = b.ev(
        &mon("15:20:00"),
        Some("a12"),
        EventKind::CallbackPromised { call: CallId::from("c20"), due: ts(&mon("16:00:00"), "+08:00") },
    );
    let a04_out = b.logout(&mon("16:00:00"), "a04");
    b.heartbeat(&mon("16:00:00"));
    b.heartbeat(&mon("16:00:01"));
    let early = b.logout(&mon("17:20:00"), "a05");
    b.login(&mon("17:25:00"), "a05", "s05");
    b.logout(&mon("17:35:00"), "a06");
    b.logout(&mon("17:36:00"), "a02");
    for a in ["a01", "a10", "a12", "a05"] {
        b.logout(&mon("17:40:00"), a);
    }
    b.logout(&mon("17:45:00"), "a11");
    let a08_out = b.logout(&mon("20:30:00"), "a08");
    b.heartbeat(&mon("21:00:00"));

    let mut c = Compliance::new(TenantSettings::default(), BTreeMap::new());
    fold(&mut c, &b.records);
    assert_eq!(c.position(), b.records.len() as u64);

    let tz = chrono_tz::Asia::Shanghai;
    let local = |t: seatwatch_model::Ts| t.to_utc().with_timezone(&tz).format("%H:%M:%S").to_string();
    let got: Vec<Row> = c
        .alarms("acme", &AlarmQuery::default())
        .into_iter()
        .map(|a| {
            (
                a.id,
                a.rule,
                a.agent.map(|x| x.0.into_string()).unwrap_or_default(),
                local(a.raised_at),
                a.cleared_at.map(local),
            )
        })
        .collect();
    let want = vec![
        row(format!("uncertified_login-{a12_login}"), Rule::UncertifiedLogin, "a12", "08:00:00", Some("17:40:00")),
        row(format!("uncertified_login-{a10_login}"), Rule::UncertifiedLogin, "a10", "08:20:00", Some("17:40:00")),
        row(format!("duplicate_login-{dup}"), Rule::DuplicateLogin, "a11", "08:25:00", Some("08:27:00")),
        row(format!("absent-{a11_out}"), Rule::Absent, "a11", "08:27:00", Some("08:28:00")),
        row(format!("late_login-{late}"), Rule::LateLogin, "a02", "08:41:00", None),
        row("absent-a03-2026-03-02".into(), Rule::Absent, "a03", "09:30:00", None),
        row(format!("slow_answer-{slow}"), Rule::SlowAnswer, "a11", "10:00:20", None),
        row(format!("survey_not_offered-{no_survey}"), Rule::SurveyNotOffered, "a11", "10:03:00", None),
        row(format!("not_ready_overlong-{nr}"), Rule::NotReadyOverlong, "a06", "10:15:00", Some("10:20:00")),
        row(format!("missed_call-{missed}"), Rule::MissedCall, "a11", "11:00:30", None),
        row(format!("wrap_up_overlong-{wrap}"), Rule::WrapUpOverlong, "a11", "14:08:00", Some("14:08:30")),
        row(format!("emergency_not_escalated-{emergency}"), Rule::EmergencyNotEscalated, "a12", "15:05:05", None),
        row(format!("absent-{a04_out}"), Rule::Absent, "a04", "16:00:00", None),
        row(format!("callback_overdue-{promise}"), Rule::CallbackOverdue, "a12", "16:00:00", None),
        row(format!("early_logout-{early}"), Rule::EarlyLogout, "a05", "17:20:00", Some("17:25:00")),
        row(format!("early_logout-{a08_out}"), Rule::EarlyLogout, "a08", "20:30:00", None),
    ];
    assert_eq!(got, want);

    // Spot checks of messages and JSON.
    let all = c.alarms("acme", &AlarmQuery::default());
    let late_alarm = all.iter().find(|a| a.rule == Rule::LateLogin).unwrap();
    assert_eq!(
        late_alarm.message,
        "first login at 08:41 local on 2026-03-02, after 08:30 (11 min late; log in by 08:25, seed art. 8)"
    );
    let json = serde_json::to_value(&all[0]).unwrap();
    assert_eq!(json["rule"], "uncertified_login");
    assert_eq!(json["raised_at"], "2026-03-02T00:00:00Z");
    assert_eq!(json["cleared_at"], "2026-03-02T09:40:00Z");
    assert_eq!(json["call"], serde_json::Value::Null);
    let active = c.alarms("acme", &AlarmQuery { active_only: true, ..Default::default() });
    assert_eq!(active.len(), 9);
    assert_eq!(c.active_counts("acme")[&Rule::Absent], 2);
    assert_eq!(c.raised_counts("acme")[&Rule::Absent], 3);

    // The live change stream tells the same story, and a replay gives the same alarms.
    let changes = c.take_changes();
    assert_eq!(changes.len(), 16 + 7);
    let mut again = Compliance::new(TenantSettings::default(), BTreeMap::new());
    for r in &b.records {
        again.apply(r);
    }
    assert_eq!(again, c);
}
