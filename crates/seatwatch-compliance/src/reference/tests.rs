//! Differential tests: the optimised projector against the frozen reference.

use super::Reference;
use crate::{AlarmQuery, Compliance, TenantSettings};
use proptest::prelude::*;
use seatwatch_model::{AgentId, CallId, Date, Dur, Envelope, Event, EventKind, Projector, ShiftHours, TimeOfDay, Ts};
use std::collections::BTreeMap;

const SEC: i64 = 1_000_000_000;
/// 2026-03-20T00:00:00+08:00, a Friday: logs cross weekends, the 25th, ISO week
/// boundaries and (with long gaps) Berlin's DST change on 2026-03-29.
const BASE: i64 = 1_773_936_000;
const TENANTS: [&str; 2] = ["acme", "berlin"];

#[derive(Clone, Debug)]
struct Step {
    dt: i64,
    back: Option<u16>,
    tenant: usize,
    agent: u8,
    kind: u8,
    a: u8,
    b: u8,
    flag: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (
        // Mostly seconds to minutes; sometimes hours, a day, or more than the two days
        // call bookkeeping is kept.
        prop_oneof![8 => 0i64..60, 5 => 0i64..900, 2 => 0i64..7_200, 1 => 0i64..100_000, 1 => 150_000i64..260_000],
        prop::option::weighted(0.12, any::<u16>()),
        prop::bool::weighted(0.2).prop_map(usize::from),
        0u8..5,
        0u8..28,
        any::<u8>(),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(dt, back, tenant, agent, kind, a, b, flag)| Step { dt, back, tenant, agent, kind, a, b, flag })
}

fn kind_of(s: &Step, now: i64, calls: u8) -> (EventKind, bool) {
    let call = CallId::from(format!("c{}", s.a % calls));
    let date = |off: u8| Date::from_naive(Ts::from_secs(now).to_utc().date_naive()).0 + i32::from(off % 40) - 5;
    let tod = |v: u8| TimeOfDay(u32::from(v % 24) * 3600 + u32::from(v % 4) * 900);
    let k = match s.kind {
        0 | 1 => EventKind::Login { station: format!("s{}", s.b % 4) },
        2 => EventKind::Logout,
        3 | 4 => EventKind::Ready,
        5 | 6 => EventKind::NotReady { reason: None },
        7 | 8 => EventKind::Offered { call, queue: None, caller: None, emergency: s.flag && s.b < 40, priority: None },
        9 | 10 => EventKind::Answered { call, rings: (s.flag && s.b < 60).then_some(u32::from(s.b % 7)) },
        11 => EventKind::Missed { call },
        12 | 13 => EventKind::Ended { call },
        14 => EventKind::WrapUp { call: None },
        15 => EventKind::SurveyOffered { call },
        16 => EventKind::Transferred { call, to: "x".into() },
        17 => return (EventKind::Heartbeat, false),
        18 => EventKind::Roster { certified: s.flag, name: None, active: !s.b.is_multiple_of(5) },
        19 => {
            let (st, en) = (tod(s.a), tod(s.b));
            let hours = (!s.flag && st != en).then_some(ShiftHours { start: st, end: en });
            EventKind::Shift { date: Date(date(s.a)), hours }
        }
        20 => {
            EventKind::LeaveApproved { from: Date(date(s.a)), to: Date(date(s.a) + i32::from(s.b % 3)), by: "s".into() }
        }
        21 => EventKind::BusyApproved { until: Ts::from_secs(now + i64::from(s.b) * 30), by: "s".into() },
        22 => EventKind::Monitored { call: None, by: "qa".into() },
        23 => EventKind::CallbackSampled { call: None, by: "qa".into() },
        24 => EventKind::CallbackPromised { call, due: Ts::from_secs(now + i64::from(s.b) * 60 - 600) },
        25 => EventKind::CallbackDone { call },
        26 => EventKind::Escalated { call },
        _ if s.flag => {
            return (
                EventKind::Queued { call, queue: "q".into(), caller: None, emergency: s.b < 80, priority: None },
                false,
            );
        }
        _ => return (EventKind::Tick, false),
    };
    (k, true)
}

fn build(steps: &[Step], calls: u8) -> Vec<Envelope> {
    let mut now = BASE;
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        now += s.dt;
        // Out of order: up to ~18 h back, mostly less than the allowed lateness.
        let t = s.back.map_or(now, |b| now - i64::from(b % 64) - if b > 60_000 { i64::from(b) } else { 0 });
        let (kind, has_agent) = kind_of(s, t, calls);
        let ts = Ts::from_nanos(t * SEC);
        out.push(Envelope {
            seq: i as u64 + 1,
            tenant: TENANTS[s.tenant].into(),
            source: "p".into(),
            received: ts,
            event: Event {
                id: format!("e{i}").into(),
                ts,
                agent: has_agent.then(|| AgentId::from(format!("a{}", s.agent))),
                kind,
                extra: None,
            },
        });
    }
    out
}

fn settings() -> (TenantSettings, BTreeMap<String, TenantSettings>) {
    let mut berlin = TenantSettings { timezone: chrono_tz::Europe::Berlin, ..TenantSettings::default() };
    berlin.rules.not_ready_max = Dur::mins(10);
    berlin.rules.absent_after = Dur::mins(30);
    berlin.allowed_lateness = Dur::secs(30);
    (TenantSettings::default(), BTreeMap::from([("berlin".to_owned(), berlin)]))
}

fn both() -> (Compliance, Reference) {
    let (d, per) = settings();
    (Compliance::new(d.clone(), per.clone()), Reference::new(d, per))
}

/// Everything a reader can see, compared between the two.
fn same_view(c: &Compliance, r: &Reference) -> Result<(), TestCaseError> {
    for t in TENANTS {
        prop_assert_eq!(c.next_deadline(t), r.next_deadline(t), "next_deadline of {}", t);
        prop_assert_eq!(c.watermark(t), r.watermark(t), "watermark of {}", t);
        prop_assert_eq!(c.alarms(t, &AlarmQuery::default()), r.alarms(t, &AlarmQuery::default()), "alarms of {}", t);
        prop_assert_eq!(c.active_counts(t), r.active_counts(t));
        prop_assert_eq!(c.raised_counts(t), r.raised_counts(t));
    }
    Ok(())
}

fn check(steps: &[Step], calls: u8, cut: usize) -> Result<(), TestCaseError> {
    compare(&build(steps, calls), cut).map(|_| ())
}

/// Fold `log` through both projectors, the optimised one restored from the reference's
/// snapshot before record `cut`: the same changes, deadlines, views and snapshots
/// throughout. Returns the optimised projector.
fn compare(log: &[Envelope], cut: usize) -> Result<Compliance, TestCaseError> {
    let (mut c, mut r) = both();
    let cut = cut % (log.len() + 1);
    for (i, env) in log.iter().enumerate() {
        if i == cut {
            // Restore the optimised projector from the reference's snapshot: the bytes
            // are the same format.
            let (d, per) = settings();
            let snap = r.snapshot();
            prop_assert_eq!(&c.snapshot(), &snap, "snapshot before record {}", i);
            c = Compliance::restore(&snap, d, per).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        c.apply(env);
        r.apply(env);
        prop_assert_eq!(c.take_changes(), r.take_changes(), "changes at record {}: {:?}", i, env);
        for t in TENANTS {
            prop_assert_eq!(c.next_deadline(t), r.next_deadline(t), "next_deadline of {} at record {}", t, i);
        }
        if i % 16 == 15 {
            same_view(&c, &r)?;
            prop_assert_eq!(c.snapshot(), r.snapshot(), "snapshot after record {}", i);
        }
    }
    same_view(&c, &r)?;
    prop_assert_eq!(c.snapshot(), r.snapshot(), "final snapshot");
    Ok(c)
}

proptest! {
    #![proptest_config(seatwatch_testkit::proptest_config("compliance-reference", 64))]

    /// Few call ids, reused across calls and days.
    #[test]
    fn same_as_reference_with_reused_calls(steps in prop::collection::vec(step(), 1..260), cut in any::<usize>()) {
        check(&steps, 4, cut)?;
    }

    /// Many call ids: many call legs kept, pruned and looked up late.
    #[test]
    fn same_as_reference_with_many_calls(steps in prop::collection::vec(step(), 1..260), cut in any::<usize>()) {
        check(&steps, 64, cut)?;
    }
}

/// Station handovers a few seconds out of order: logins and logouts of four agents at two
/// stations, each stamped up to 4 s before the time so far, and heartbeats. The random
/// logs above seldom put another agent's logout at or before a login that arrived first;
/// here most duplicate_login checks are decided by one (ended before, exactly at, or
/// after the login).
fn handovers(steps: &[(i64, i64, u8, u8)], cut: usize) -> Result<usize, TestCaseError> {
    let mut now = BASE + 9 * 3600;
    let log: Vec<Envelope> = steps
        .iter()
        .enumerate()
        .map(|(i, &(dt, back, agent, kind))| {
            now += dt;
            let ts = Ts::from_nanos((now - back) * SEC);
            let (agent, kind) = match kind % 6 {
                0 | 1 => (Some(agent % 4), EventKind::Login { station: format!("s{}", kind % 2) }),
                2..=4 => (Some(agent % 4), EventKind::Logout),
                _ => (None, EventKind::Heartbeat),
            };
            Envelope {
                seq: i as u64 + 1,
                tenant: "acme".into(),
                source: "p".into(),
                received: ts,
                event: Event {
                    id: format!("e{i}").into(),
                    ts,
                    agent: agent.map(|a| AgentId::from(format!("a{a}"))),
                    kind,
                    extra: None,
                },
            }
        })
        .collect();
    let c = compare(&log, cut)?;
    Ok(c.alarms("acme", &AlarmQuery::default()).iter().filter(|a| a.rule == crate::Rule::DuplicateLogin).count())
}

fn handover_steps() -> impl Strategy<Value = Vec<(i64, i64, u8, u8)>> {
    prop::collection::vec((0i64..4, 0i64..5, any::<u8>(), any::<u8>()), 1..120)
}

proptest! {
    #![proptest_config(seatwatch_testkit::proptest_config("compliance-reference-handovers", 128))]

    #[test]
    fn reordered_handovers_match_the_reference(steps in handover_steps(), cut in any::<usize>()) {
        handovers(&steps, cut)?;
    }
}

/// The generator must reach the rules and the prune, or the comparison proves little.
#[test]
fn generated_logs_exercise_the_rules_and_the_prune() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut raised = std::collections::BTreeSet::new();
    let (mut cleared, mut long) = (0, 0);
    for _ in 0..40 {
        let steps = prop::collection::vec(step(), 200).new_tree(&mut runner).expect("tree").current();
        let log = build(&steps, 8);
        let (mut c, _) = both();
        seatwatch_model::fold(&mut c, &log);
        for (_, a) in c.all_alarms() {
            raised.insert(a.rule);
            cleared += usize::from(a.cleared_at.is_some());
        }
        let span = log.iter().map(|e| e.event.ts.nanos).max().unwrap_or(0) - BASE * SEC;
        long += usize::from(span > 3 * 86_400 * SEC);
    }
    assert!(raised.len() >= 12, "only {raised:?}");
    assert!(cleared > 20, "{cleared}");
    assert!(long > 10, "{long} logs span more than 3 days");
}

/// Deadline churn: timers started and ended many times, call-backs promised again and
/// again far ahead (each replacing the last), no-show deadlines moved by shift events,
/// so that removed deadlines pile up in the optimised projector's heap and it rebuilds it
/// many times. The next deadline and every alarm stay the reference's.
#[test]
fn deadline_churn_matches_the_reference() {
    let (mut c, mut r) = both();
    let mut seq = 0u64;
    let mut push = |c: &mut Compliance, r: &mut Reference, t: i64, agent: Option<usize>, kind: EventKind| {
        seq += 1;
        let ts = Ts::from_nanos(t * SEC);
        let env = Envelope {
            seq,
            tenant: "acme".into(),
            source: "p".into(),
            received: ts,
            event: Event {
                id: format!("e{seq}").into(),
                ts,
                agent: agent.map(|a| AgentId::from(format!("a{a}"))),
                kind,
                extra: None,
            },
        };
        c.apply(&env);
        r.apply(&env);
        assert_eq!(c.take_changes(), r.take_changes(), "changes at {seq}");
        assert_eq!(c.next_deadline("acme"), r.next_deadline("acme"), "next deadline at {seq}");
    };
    let mut t = BASE + 8 * 3600;
    for a in 0..40 {
        push(&mut c, &mut r, t, Some(a), EventKind::Login { station: format!("s{a}") });
    }
    for i in 0..6_000usize {
        t += 1 + (i as i64 % 7);
        let a = (i * 7) % 40;
        let kind = match i % 9 {
            0 | 3 => EventKind::NotReady { reason: None },
            1 | 4 | 6 => EventKind::Ready,
            2 => EventKind::CallbackPromised {
                call: CallId::from(format!("c{}", i % 13)),
                due: Ts::from_secs(t + 86_400 * (30 + (i as i64 % 50))),
            },
            5 => EventKind::Shift {
                date: Date::from_naive(Ts::from_secs(t + 86_400).to_utc().date_naive()),
                hours: Some(ShiftHours {
                    start: TimeOfDay(9 * 3600 + (i as u32 % 4) * 900),
                    end: TimeOfDay(17 * 3600),
                }),
            },
            7 => EventKind::WrapUp { call: None },
            _ => {
                push(&mut c, &mut r, t, None, EventKind::Heartbeat);
                continue;
            }
        };
        push(&mut c, &mut r, t, Some(a), kind);
    }
    // Past every call-back: they all fire, in order.
    push(&mut c, &mut r, t + 86_400 * 90, None, EventKind::Heartbeat);
    assert_eq!(c.snapshot(), r.snapshot());
    assert_eq!(c.alarms("acme", &AlarmQuery::default()), r.alarms("acme", &AlarmQuery::default()));
    assert!(c.alarms("acme", &AlarmQuery::default()).len() > 20);
}
