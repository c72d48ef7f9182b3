//! Property tests over random logs: what the server shows live equals what a replay of
//! the same log computes, and the reports agree with each other.

use proptest::prelude::*;
use seatwatch_compliance::AlarmQuery;
use seatwatch_config::Config;
use seatwatch_engine::Engine;
use seatwatch_model::{
    AgentId, CallId, Date, Envelope, Event, EventKind, Projector, QueueId, ShiftHours, TimeOfDay, Ts,
};
use seatwatch_reports::{Filter, Replay, ReportKind};
use serde_json::Value;
use std::collections::BTreeMap;

/// 2026-03-27T00:00:00+08:00, a Friday: logs cross a weekend, a month end and ISO weeks.
const BASE: i64 = 1_774_540_800;

fn config() -> Config {
    Config::parse(
        "[tenant.acme]\nclock = \"event\"\n\n[tenant.globex]\ntimezone = \"Europe/Berlin\"\nallowed_lateness = \"2s\"\n\n[tenant.globex.occupancy]\ninterval = \"30m\"\nretention = \"3h\"\n",
    )
    .unwrap()
}

#[derive(Clone, Debug)]
struct Step {
    dt: i64,
    tenant: usize,
    agent: usize,
    kind: u8,
    a: u8,
    b: u8,
    flag: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![4 => 0i64..120, 3 => 0i64..1800, 1 => 0i64..40_000],
        0usize..2,
        0usize..4,
        0u8..26,
        any::<u8>(),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(dt, tenant, agent, kind, a, b, flag)| Step { dt, tenant, agent, kind, a, b, flag })
}

fn kind_of(s: &Step, now: i64) -> EventKind {
    let call = CallId::from(format!("c{}", s.a % 6));
    let queue = QueueId::from(format!("q{}", s.b % 2));
    let date = |off: u8| Date::from_naive(Ts::from_secs(now).to_utc().date_naive()).0 + i32::from(off % 20) - 5;
    let tod = |v: u8| TimeOfDay(u32::from(v % 24) * 3600 + u32::from(v % 4) * 900);
    match s.kind {
        0..=2 => EventKind::Login { station: format!("s{}", s.a % 3) },
        3 => EventKind::Logout,
        4 | 5 => EventKind::Ready,
        6 => EventKind::NotReady { reason: s.flag.then(|| "break".to_owned()) },
        7 | 8 => EventKind::Offered { call, queue: Some(queue), caller: None, emergency: s.flag, priority: None },
        9 | 10 => EventKind::Answered { call, rings: s.flag.then_some(u32::from(s.b % 7)) },
        11 => EventKind::Missed { call },
        12 => EventKind::Ended { call },
        13 => EventKind::WrapUp { call: None },
        14 => EventKind::SurveyOffered { call },
        15 => EventKind::Transferred { call, to: "x".into() },
        16 => EventKind::Heartbeat,
        17 => EventKind::Roster { certified: s.flag, name: None, active: !s.b.is_multiple_of(5) },
        18 => {
            let (st, en) = (tod(s.a), tod(s.b));
            let hours = (!s.flag && st != en).then_some(ShiftHours { start: st, end: en });
            EventKind::Shift { date: Date(date(s.a)), hours }
        }
        19 => {
            EventKind::LeaveApproved { from: Date(date(s.a)), to: Date(date(s.a) + i32::from(s.b % 3)), by: "s".into() }
        }
        20 => EventKind::BusyApproved { until: Ts::from_secs(now + i64::from(s.b) * 30), by: "s".into() },
        21 => EventKind::Monitored { call: None, by: "qa".into() },
        22 => EventKind::CallbackSampled { call: None, by: "qa".into() },
        23 => EventKind::CallbackPromised { call, due: Ts::from_secs(now + i64::from(s.b) * 60 - 600) },
        24 => EventKind::Queued { call, queue, caller: None, emergency: s.flag, priority: None },
        _ => EventKind::Tick,
    }
}

fn build(steps: &[Step]) -> Vec<Envelope> {
    let mut now = BASE + 7 * 3600;
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            now += s.dt;
            let kind = kind_of(s, now);
            let agent = kind.has_agent().then(|| AgentId::from(format!("a{}", s.agent)));
            let seq = i as u64 + 1;
            Envelope {
                seq,
                tenant: ["acme", "globex"][s.tenant].into(),
                source: "acd".into(),
                received: Ts::from_secs(now),
                event: Event { id: format!("e{seq}").into(), ts: Ts::from_secs(now), agent, kind, extra: None },
            }
        })
        .collect()
}

/// The server's way: apply committed records in chunks, drain the pushes after each.
fn live(config: &Config, log: &[Envelope], chunks: &[usize]) -> (Engine, usize) {
    let mut e = Engine::new(config);
    let (mut at, mut pushes) = (0, 0);
    let mut sizes = chunks.iter().cycle();
    while at < log.len() {
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, log.len() - at);
        for env in &log[at..at + n] {
            e.apply(env);
        }
        pushes += e.take_pushes().len();
        at += n;
    }
    (e, pushes)
}

fn rows(r: &Replay, kind: ReportKind, tenant: &str) -> Vec<Value> {
    let f = Filter { tenant: Some(tenant.into()), ..Filter::default() };
    r.report(kind, &f).unwrap().rows.iter().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #![proptest_config(seatwatch_testkit::proptest_config("reports-live-equals-replay", 48))]

    /// Alarms, agents, intervals (from the server's `retained_from`), queues, windows,
    /// totals and the metrics' counters and histograms are the same live and replayed.
    #[test]
    fn live_projections_equal_a_replay_of_the_same_log(
        steps in prop::collection::vec(step(), 1..140),
        chunks in prop::collection::vec(1usize..40, 1..6),
    ) {
        let config = config();
        let log = build(&steps);
        let (live, _) = live(&config, &log, &chunks);
        let mut replay = Replay::all(&config);
        for env in &log {
            replay.apply(env);
        }
        let r = replay.engine();
        prop_assert_eq!(r.position(), live.position());
        prop_assert_eq!(r.tenants(), live.tenants());
        prop_assert!(r.histograms == live.histograms, "metrics histograms differ");
        let all = AlarmQuery::default();
        for t in live.tenants() {
            prop_assert_eq!(r.compliance.alarms(&t, &all), live.compliance.alarms(&t, &all), "alarms of {}", t);
            prop_assert_eq!(r.compliance.active_counts(&t), live.compliance.active_counts(&t));
            prop_assert_eq!(r.compliance.raised_counts(&t), live.compliance.raised_counts(&t));
            prop_assert_eq!(r.occupancy.agents(&t), live.occupancy.agents(&t), "agents of {}", t);
            prop_assert_eq!(r.occupancy.queues(&t), live.occupancy.queues(&t));
            prop_assert_eq!(r.occupancy.windows(&t), live.occupancy.windows(&t));
            prop_assert_eq!(r.occupancy.totals(&t), live.occupancy.totals(&t));
            // A server keeps intervals for `retention`, the replay keeps them all: from
            // `retained_from` on (what `/v1/intervals` answers as whole) they are the same,
            // row for row, whatever left live state before it (globex keeps 3 hours).
            let from = live.occupancy.retained_from(&t);
            prop_assert!(from.is_some(), "a tenant with records has a clock");
            let whole = live.occupancy.intervals(&t, from, None, None);
            prop_assert_eq!(r.occupancy.intervals(&t, from, None, None), whole, "intervals of {} from {:?}", t, from);
        }
        // The report of the alarms is the live list, with the tenant.
        for t in live.tenants() {
            let reported = rows(&replay, ReportKind::Alarms, &t);
            let shown: Vec<Value> = live.compliance.alarms(&t, &all).iter().map(|a| {
                let mut v = serde_json::to_value(a).unwrap();
                let mut with = serde_json::Map::new();
                with.insert("tenant".into(), Value::String(t.clone()));
                with.append(v.as_object_mut().unwrap());
                Value::Object(with)
            }).collect();
            prop_assert_eq!(reported, shown);
        }
    }

    /// Time is conserved across reports: per agent and state, the agents report's spans,
    /// the scorecard's months and the attendance report's days book the same seconds.
    #[test]
    fn reports_book_the_same_time(steps in prop::collection::vec(step(), 1..140)) {
        let config = config();
        let mut replay = Replay::all(&config);
        for env in &build(&steps) {
            replay.apply(env);
        }
        for t in replay.engine().tenants() {
            let mut spans: BTreeMap<(String, String), f64> = BTreeMap::new();
            for row in rows(&replay, ReportKind::Agents, &t) {
                let state = row["state"].as_str().unwrap().to_owned();
                if state != "logged_out" {
                    let k = (row["agent"].as_str().unwrap().to_owned(), state);
                    *spans.entry(k).or_default() += row["seconds"].as_f64().unwrap();
                }
            }
            let mut cards: BTreeMap<(String, String), f64> = BTreeMap::new();
            for row in rows(&replay, ReportKind::Scorecard, &t) {
                let agent = row["agent"].as_str().unwrap().to_owned();
                for (state, col) in [("talking", "talk_seconds"), ("wrap_up", "wrap_up_seconds"), ("ready", "ready_seconds"), ("not_ready", "not_ready_seconds")] {
                    *cards.entry((agent.clone(), state.to_owned())).or_default() += row[col].as_f64().unwrap();
                }
                *cards.entry((agent.clone(), "logged_in".to_owned())).or_default() += row["logged_in_seconds"].as_f64().unwrap();
            }
            let mut days: BTreeMap<String, f64> = BTreeMap::new();
            for row in rows(&replay, ReportKind::Attendance, &t) {
                *days.entry(row["agent"].as_str().unwrap().to_owned()).or_default() += row["logged_in_seconds"].as_f64().unwrap();
            }
            for ((agent, state), s) in &spans {
                if state != "ringing" {
                    let c = cards.get(&(agent.clone(), state.clone())).copied().unwrap_or(0.0);
                    prop_assert!(close(*s, c), "{} {} {}: spans {} vs scorecard {}", t, agent, state, s, c);
                }
            }
            let mut per_agent: BTreeMap<String, f64> = BTreeMap::new();
            for ((agent, _), s) in &spans {
                *per_agent.entry(agent.clone()).or_default() += s;
            }
            for (agent, s) in &per_agent {
                let c = cards.get(&(agent.clone(), "logged_in".to_owned())).copied().unwrap_or(0.0);
                let d = days.get(agent).copied().unwrap_or(0.0);
                prop_assert!(close(*s, c) && close(*s, d), "{} {}: spans {} scorecard {} attendance {}", t, agent, s, c, d);
            }
        }
    }
    /// The supervision report and the `qa_coverage_low` rule count the same: every alarm
    /// of the rule is a closed, worked, unmet row with the counts of its message and its
    /// QA events as evidence; every closed, worked, unmet row has its alarm; and every QA
    /// event of the log is a row's, counted or late.
    #[test]
    fn supervision_rows_agree_with_the_qa_coverage_rule(steps in prop::collection::vec(step(), 1..160)) {
        let config = config();
        let log = build(&steps);
        let mut replay = Replay::all(&config);
        for env in &log {
            replay.apply(env);
        }
        for t in replay.engine().tenants() {
            let q = AlarmQuery { rule: Some(seatwatch_compliance::Rule::QaCoverageLow), ..AlarmQuery::default() };
            let alarms: BTreeMap<String, seatwatch_compliance::Alarm> =
                replay.engine().compliance.alarms(&t, &q).into_iter().map(|a| (a.id.clone(), a)).collect();
            let sup = rows(&replay, ReportKind::Supervision, &t);
            let mut with_alarm = 0;
            let mut qa_seqs: Vec<u64> = Vec::new();
            for row in &sup {
                let seqs = |k: &str| row[k].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect::<Vec<u64>>();
                qa_seqs.extend(seqs("evidence"));
                qa_seqs.extend(seqs("late_evidence"));
                let unmet = row["closed"] == true && row["worked"] == true && row["met"] == false;
                prop_assert_eq!(row["met"].is_null(), row["closed"] == false, "{}", row);
                match row["alarm"].as_str() {
                    None => prop_assert!(!unmet, "an unmet worked week without its alarm: {}", row),
                    Some(id) => {
                        with_alarm += 1;
                        prop_assert!(unmet, "{}", row);
                        let a = &alarms[id];
                        prop_assert_eq!(a.agent.as_ref().map(|x| x.as_str()), row["agent"].as_str());
                        let (m, c) = (row["monitored"].as_u64().unwrap(), row["callback_sampled"].as_u64().unwrap());
                        let said = format!(": {m} monitored call{} and {c} sampled call-back", if m == 1 { "" } else { "s" });
                        prop_assert!(a.message.contains(&said), "{} vs {}", a.message, row);
                        // The alarm's evidence: the week's first activity and the counted QA events.
                        let ev = seqs("evidence");
                        prop_assert!(ev.iter().all(|s| a.evidence.contains(s)), "{:?} vs {}", a.evidence, row);
                        prop_assert_eq!(a.evidence.len(), ev.len() + 1);
                    }
                }
            }
            prop_assert_eq!(with_alarm, alarms.len(), "every alarm of the rule is a row's");
            qa_seqs.sort_unstable();
            let in_log: Vec<u64> = log
                .iter()
                .filter(|e| e.tenant.as_str() == t)
                .filter(|e| matches!(e.event.kind, EventKind::Monitored { .. } | EventKind::CallbackSampled { .. }))
                .map(|e| e.seq)
                .collect();
            prop_assert_eq!(qa_seqs, in_log);
        }
    }
}
