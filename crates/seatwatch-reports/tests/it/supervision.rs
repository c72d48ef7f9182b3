//! The supervision report on a hand-made log: which agent-weeks appear, what is counted,
//! when a week is met, and how it lines up with the `qa_coverage_low` alarms.

use seatwatch_config::Config;
use seatwatch_model::{AgentId, CallId, Envelope, Event, EventKind, Projector, Ts};
use seatwatch_reports::{Filter, Format, Replay, ReportError, ReportKind};
use serde_json::{Value, json};

fn config() -> Config {
    Config::parse(
        "[tenant.acme]\ntimezone = \"Asia/Shanghai\"\nclock = \"event\"\n\n[tenant.acme.rules]\nmin_callbacks = 1\n\n[tenant.globex]\ntimezone = \"Europe/Berlin\"\n",
    )
    .unwrap()
}

struct Log(Vec<Envelope>);

impl Log {
    fn push(&mut self, tenant: &str, at: &str, agent: Option<&str>, kind: EventKind) -> u64 {
        let seq = self.0.len() as u64 + 1;
        let ts = Ts::parse_rfc3339(at).unwrap();
        self.0.push(Envelope {
            seq,
            tenant: tenant.into(),
            source: "acd".into(),
            received: ts,
            event: Event { id: format!("e{seq}").into(), ts, agent: agent.map(AgentId::from), kind, extra: None },
        });
        seq
    }
}

fn login() -> EventKind {
    EventKind::Login { station: "s1".into() }
}

fn mon(call: Option<&str>, by: &str) -> EventKind {
    EventKind::Monitored { call: call.map(CallId::from), by: by.into() }
}

fn cb(call: Option<&str>, by: &str) -> EventKind {
    EventKind::CallbackSampled { call: call.map(CallId::from), by: by.into() }
}

/// Two weeks of acme (Shanghai) and a day of globex (Berlin).
fn log() -> Log {
    let mut l = Log(Vec::new());
    // Week 9: a3 logs in late on Sunday and stays on into Monday (week 10).
    l.push("acme", "2026-03-01T22:00:00+08:00", Some("a3"), login()); // 1
    // Week 10: a1 is monitored twice on the same call and called back once; a2 works
    // with no QA at all.
    l.push("acme", "2026-03-02T02:00:00+08:00", Some("a3"), EventKind::Logout); // 2
    l.push("acme", "2026-03-02T08:20:00+08:00", Some("a1"), login()); // 3
    l.push("acme", "2026-03-02T08:21:00+08:00", Some("a2"), login()); // 4
    l.push("acme", "2026-03-02T10:00:00+08:00", Some("a1"), mon(Some("c1"), "qa-2")); // 5
    l.push("acme", "2026-03-03T10:00:00+08:00", Some("a1"), mon(Some("c1"), "qa-1")); // 6
    l.push("acme", "2026-03-04T10:00:00+08:00", Some("a1"), cb(None, "qa-1")); // 7
    l.push("acme", "2026-03-06T17:40:00+08:00", Some("a1"), EventKind::Logout); // 8
    l.push("acme", "2026-03-06T17:41:00+08:00", Some("a2"), EventKind::Logout); // 9
    // Week 10 closes strictly after Monday 00:00 local; a call-back for it arriving
    // afterwards is in the log but not counted.
    l.push("acme", "2026-03-09T00:00:01+08:00", None, EventKind::Heartbeat); // 10
    l.push("acme", "2026-03-08T12:00:00+08:00", Some("a2"), cb(Some("c7"), "qa-1")); // 11
    // Week 11, still open at the end of the log.
    l.push("acme", "2026-03-09T08:20:00+08:00", Some("a1"), login()); // 12
    l.push("acme", "2026-03-09T09:00:00+08:00", Some("a1"), cb(Some("c9"), "qa-3")); // 13
    // A QA event about an agent who never worked that week still makes a row.
    l.push("acme", "2026-03-09T09:30:00+08:00", Some("a4"), mon(Some("c8"), "qa-3")); // 14
    l.push("globex", "2026-03-09T08:00:00+01:00", Some("b1"), login()); // 15
    l
}

fn replay(log: &Log, kinds: &[ReportKind]) -> Replay {
    let mut r = Replay::new(&config(), kinds);
    for env in &log.0 {
        r.apply(env);
    }
    r
}

fn rows(r: &Replay, filter: &Filter) -> Vec<Value> {
    let report = r.report(ReportKind::Supervision, filter).unwrap();
    report.rows.iter().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn key(v: &Value) -> String {
    format!("{} {} {}", v["tenant"].as_str().unwrap(), v["agent"].as_str().unwrap(), v["week"].as_str().unwrap())
}

#[test]
fn one_row_per_agent_and_local_week_with_the_rule_counting() {
    let r = replay(&log(), &[ReportKind::Supervision]);
    let all = rows(&r, &Filter::default());
    let keys: Vec<String> = all.iter().map(key).collect();
    assert_eq!(
        keys,
        [
            "acme a1 2026-W10",
            "acme a1 2026-W11",
            "acme a2 2026-W10",
            "acme a3 2026-W09",
            "acme a3 2026-W10",
            "acme a4 2026-W11",
            "globex b1 2026-W11"
        ]
    );
    assert_eq!(
        all[0],
        json!({
            "tenant": "acme", "agent": "a1", "week": "2026-W10", "week_start": "2026-03-02",
            "closed": true, "worked": true, "logged_in_seconds": 379_200.0,
            "monitored": 2, "callback_sampled": 1, "min_monitored": 2, "min_callbacks": 1,
            "met": true, "alarm": null,
            "monitored_calls": ["c1", "c1"], "callback_calls": [], "qa_by": ["qa-1", "qa-2"],
            "evidence": [5, 6, 7], "late_evidence": []
        })
    );
    // Open week: `met` is not decided yet.
    assert_eq!((all[1]["closed"].clone(), all[1]["met"].clone()), (json!(false), Value::Null));
    assert_eq!(all[1]["callback_calls"], json!(["c9"]));
    assert_eq!(all[1]["evidence"], json!([13]));
    // Worked, no QA: evidence of no evidence, and the alarm the rule raised.
    assert_eq!(all[2]["met"], json!(false));
    assert_eq!(all[2]["alarm"], json!("qa_coverage_low-a2-2026-W10"));
    assert_eq!((all[2]["callback_sampled"].clone(), all[2]["evidence"].clone()), (json!(0), json!([])));
    assert_eq!(all[2]["late_evidence"], json!([11]), "arrived after the week closed");
    // Week 9: a Sunday login is a worked week; the rule raised its alarm.
    assert_eq!(all[3]["alarm"], json!("qa_coverage_low-a3-2026-W09"));
    assert_eq!(all[3]["logged_in_seconds"], json!(7_200.0));
    // Week 10: on duty (the session carried over) but no activity event: not checked.
    assert_eq!((all[4]["worked"].clone(), all[4]["logged_in_seconds"].clone()), (json!(false), json!(7_200.0)));
    assert_eq!((all[4]["met"].clone(), all[4]["alarm"].clone()), (json!(false), Value::Null));
    assert_eq!((all[5]["worked"].clone(), all[5]["monitored"].clone()), (json!(false), json!(1)));
    // Another tenant's rules and zone.
    assert_eq!((all[6]["min_monitored"].clone(), all[6]["min_callbacks"].clone()), (json!(2), json!(2)));
    assert_eq!(all[6]["week_start"], json!("2026-03-09"));

    // Every qa_coverage_low alarm is a row's.
    let full = replay(&log(), &ReportKind::ALL);
    let ids: Vec<String> = full
        .engine()
        .compliance
        .alarms("acme", &Default::default())
        .into_iter()
        .filter(|a| a.rule == seatwatch_compliance::Rule::QaCoverageLow)
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, ["qa_coverage_low-a3-2026-W09", "qa_coverage_low-a2-2026-W10"]);
    assert_eq!(rows(&full, &Filter::default()), all, "the same rows whatever else the replay collects");
}

#[test]
fn filters_narrow_by_tenant_agent_and_overlapping_week() {
    let r = replay(&log(), &[ReportKind::Supervision]);
    let f = Filter { agent: Some("a1".into()), ..Filter::default() };
    assert_eq!(rows(&r, &f).iter().map(key).collect::<Vec<_>>(), ["acme a1 2026-W10", "acme a1 2026-W11"]);
    let f = Filter { tenant: Some("globex".into()), ..Filter::default() };
    assert_eq!(rows(&r, &f).iter().map(key).collect::<Vec<_>>(), ["globex b1 2026-W11"]);
    // A range overlapping the last hour of Sunday (local) keeps week 10 only: weeks are
    // local, and a week passes when it overlaps [from, to).
    let f = Filter {
        from: Ts::parse_rfc3339("2026-03-08T23:00:00+08:00"),
        to: Ts::parse_rfc3339("2026-03-09T00:00:00+08:00"),
        tenant: Some("acme".into()),
        agent: None,
    };
    assert_eq!(
        rows(&r, &f).iter().map(key).collect::<Vec<_>>(),
        ["acme a1 2026-W10", "acme a2 2026-W10", "acme a3 2026-W10"]
    );
    let f = Filter { from: Ts::parse_rfc3339("2026-03-09T00:00:00+08:00"), ..f };
    assert!(matches!(r.report(ReportKind::Supervision, &f), Err(ReportError::EmptyRange { .. })));
    let f = Filter { tenant: Some("initech".into()), ..Filter::default() };
    let e = r.report(ReportKind::Supervision, &f).unwrap_err().to_string();
    assert!(e.contains("acme, globex"), "{e}");
    // A replay built for another report did not keep the weekly book.
    let other = replay(&log(), &[ReportKind::Scorecard]);
    assert_eq!(
        other.report(ReportKind::Supervision, &Filter::default()),
        Err(ReportError::NotCollected(ReportKind::Supervision))
    );
}

#[test]
fn renders_identically_record_by_record_and_in_runs() {
    let log = log();
    let a = replay(&log, &[ReportKind::Supervision]);
    let mut b = Replay::new(&config(), &[ReportKind::Supervision]);
    b.apply_runs(log.0.chunks(4).map(<[_]>::to_vec));
    for format in Format::ALL {
        let x = a.report(ReportKind::Supervision, &Filter::default()).unwrap().render(format);
        let y = b.report(ReportKind::Supervision, &Filter::default()).unwrap().render(format);
        assert_eq!(x, y, "{format:?}");
    }
    let csv = a.report(ReportKind::Supervision, &Filter::default()).unwrap().render(Format::Csv);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "tenant,agent,week,week_start,closed,worked,logged_in_seconds,monitored,callback_sampled,min_monitored,min_callbacks,met,alarm,monitored_calls,callback_calls,qa_by,evidence,late_evidence"
        )
    );
    assert_eq!(
        lines.next(),
        Some("acme,a1,2026-W10,2026-03-02,true,true,379200.0,2,1,2,1,true,,c1 c1,,qa-1 qa-2,5 6 7,")
    );
}
