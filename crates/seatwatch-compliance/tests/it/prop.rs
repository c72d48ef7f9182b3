//! Property tests: the fold is deterministic, independent of batching, snapshots and
//! draining, and the change stream reconstructs the alarm list.

use proptest::prelude::*;
use seatwatch_compliance::{Alarm, AlarmChange, AlarmQuery, Compliance, TenantSettings};
use seatwatch_model::{AgentId, CallId, Date, Dur, Envelope, Event, EventKind, Projector, ShiftHours, TimeOfDay, Ts};
use std::collections::BTreeMap;

const SEC: i64 = 1_000_000_000;
/// 2026-03-20T00:00:00+08:00, a Friday: generated logs cross a weekend, the 25th and
/// the ISO week boundary.
const BASE: i64 = 1_773_936_000;

#[derive(Clone, Debug)]
struct Step {
    dt: i64,
    back: bool,
    tenant: usize,
    agent: usize,
    kind: u8,
    a: u8,
    b: u8,
    flag: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![4 => 0i64..120, 3 => 0i64..1200, 1 => 0i64..30_000],
        prop::bool::weighted(0.1),
        0usize..2,
        0usize..4,
        0u8..26,
        any::<u8>(),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(dt, back, tenant, agent, kind, a, b, flag)| Step { dt, back, tenant, agent, kind, a, b, flag })
}

fn kind_of(s: &Step, now: i64) -> (EventKind, bool) {
    let call = CallId::from(format!("c{}", s.a % 6));
    let date = |off: u8| Date::from_naive(Ts::from_secs(now).to_utc().date_naive()).0 + i32::from(off % 40) - 5;
    let tod = |v: u8| TimeOfDay(u32::from(v % 24) * 3600 + u32::from(v % 4) * 900);
    let k = match s.kind {
        0 | 1 => EventKind::Login { station: format!("s{}", s.a % 3) },
        2 => EventKind::Logout,
        3 | 4 => EventKind::Ready,
        5 | 6 => EventKind::NotReady { reason: None },
        7 => EventKind::Offered { call, queue: None, caller: None, emergency: s.flag, priority: None },
        8 => EventKind::Answered { call, rings: s.flag.then_some(u32::from(s.b % 7)) },
        9 => EventKind::Missed { call },
        10 => EventKind::Ended { call },
        11 => EventKind::WrapUp { call: None },
        12 => EventKind::SurveyOffered { call },
        13 => EventKind::Transferred { call, to: "x".into() },
        14 => return (EventKind::Heartbeat, false),
        15 => EventKind::Roster { certified: s.flag, name: None, active: !s.b.is_multiple_of(5) },
        16 => {
            let (st, en) = (tod(s.a), tod(s.b));
            let hours = (!s.flag && st != en).then_some(ShiftHours { start: st, end: en });
            EventKind::Shift { date: Date(date(s.a)), hours }
        }
        17 => {
            EventKind::LeaveApproved { from: Date(date(s.a)), to: Date(date(s.a) + i32::from(s.b % 3)), by: "s".into() }
        }
        18 => EventKind::BusyApproved { until: Ts::from_secs(now + i64::from(s.b) * 30), by: "s".into() },
        19 => EventKind::Monitored { call: None, by: "qa".into() },
        20 => EventKind::CallbackSampled { call: None, by: "qa".into() },
        21 => EventKind::CallbackPromised { call, due: Ts::from_secs(now + i64::from(s.b) * 60 - 600) },
        22 => EventKind::CallbackDone { call },
        23 => EventKind::Escalated { call },
        24 => {
            return (
                EventKind::Queued { call, queue: "q".into(), caller: None, emergency: s.flag, priority: None },
                false,
            );
        }
        _ => return (EventKind::Tick, false),
    };
    (k, true)
}

fn build(steps: &[Step]) -> Vec<Envelope> {
    let mut now = BASE;
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        now += s.dt;
        let t = if s.back { now - s.dt.min(40) } else { now };
        let (kind, has_agent) = kind_of(s, t);
        let ts = Ts::from_nanos(t * SEC);
        out.push(Envelope {
            seq: i as u64 + 1,
            tenant: ["acme", "berlin"][s.tenant].into(),
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

fn fresh() -> Compliance {
    let mut per = BTreeMap::new();
    let mut berlin = TenantSettings { timezone: chrono_tz::Europe::Berlin, ..TenantSettings::default() };
    berlin.rules.not_ready_max = Dur::mins(10);
    per.insert("berlin".to_owned(), berlin);
    Compliance::new(TenantSettings::default(), per)
}

fn alarms(c: &Compliance) -> Vec<(String, Alarm)> {
    c.all_alarms().map(|(t, a)| (t.to_owned(), a.clone())).collect()
}

proptest! {
    #![proptest_config(seatwatch_testkit::proptest_config("compliance-fold", 64))]

    #[test]
    fn fold_is_deterministic_and_batching_free(
        steps in prop::collection::vec(step(), 1..160),
        cuts in prop::collection::vec(0usize..160, 0..6),
    ) {
        let log = build(&steps);

        // One by one, draining the change stream as the server does.
        let mut one = fresh();
        let mut changes: Vec<AlarmChange> = Vec::new();
        for r in &log {
            one.apply(r);
            changes.extend(one.take_changes());
        }

        // Folded in chunks, with a snapshot/restore and a query at every boundary.
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (log.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunked = fresh();
        chunked.set_change_log(false);
        let mut start = 0;
        for cut in cuts.into_iter().chain([log.len()]) {
            seatwatch_model::fold(&mut chunked, &log[start..cut]);
            start = cut;
            let _ = chunked.alarms("acme", &AlarmQuery { active_only: true, ..Default::default() });
            let snap = chunked.snapshot();
            let per = {
                let mut p = BTreeMap::new();
                p.insert("berlin".to_owned(), chunked.settings("berlin").clone());
                p
            };
            chunked = Compliance::restore(&snap, TenantSettings::default(), per).expect("restore");
            chunked.set_change_log(false);
        }
        prop_assert_eq!(&chunked, &one);
        prop_assert_eq!(alarms(&chunked), alarms(&one));

        // Folding again from scratch gives the same.
        let mut twice = fresh();
        seatwatch_model::fold(&mut twice, &log);
        prop_assert_eq!(&twice, &one);

        // The change stream rebuilds the alarm list.
        let mut rebuilt: BTreeMap<(String, String), Alarm> = BTreeMap::new();
        for ch in &changes {
            let a = ch.alarm();
            match ch {
                AlarmChange::Raised(_) => prop_assert!(rebuilt.insert((a.tenant.clone(), a.id.clone()), a.clone()).is_none(), "raised twice: {}", a.id),
                AlarmChange::Cleared(_) => {
                    let old = rebuilt.insert((a.tenant.clone(), a.id.clone()), a.clone());
                    prop_assert!(old.is_some_and(|o| o.cleared_at.is_none()), "cleared before raised or twice: {}", a.id);
                }
            }
        }
        let mut direct: BTreeMap<(String, String), Alarm> = BTreeMap::new();
        for (t, a) in alarms(&one) {
            direct.insert((t, a.id.clone()), a);
        }
        prop_assert_eq!(rebuilt, direct);

        // Invariants: cleared after raised, evidence from the log, nothing from the future.
        let max_ts = log.iter().map(|r| r.event.ts).max();
        for (_, a) in alarms(&one) {
            prop_assert!(a.cleared_at.is_none_or(|c| c >= a.raised_at), "{a:?}");
            prop_assert!(a.evidence.windows(2).all(|w| w[0] < w[1]), "{a:?}");
            prop_assert!(a.evidence.iter().all(|s| *s >= 1 && *s <= log.len() as u64), "{a:?}");
            prop_assert!(max_ts.is_some_and(|m| a.raised_at <= m), "raised in the future: {a:?}");
        }
    }

    #[test]
    fn tenants_do_not_see_each_other(steps in prop::collection::vec(step(), 1..120)) {
        let log = build(&steps);
        let mut both = fresh();
        seatwatch_model::fold(&mut both, &log);
        for tenant in ["acme", "berlin"] {
            let mut alone = fresh();
            seatwatch_model::fold(&mut alone, log.iter().filter(|r| r.tenant == tenant));
            prop_assert_eq!(
                both.alarms(tenant, &AlarmQuery::default()),
                alone.alarms(tenant, &AlarmQuery::default())
            );
        }
    }
}

/// The generator is useful only if its logs do raise and clear alarms of many rules.
#[test]
fn generated_logs_exercise_the_rules() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut raised = std::collections::BTreeSet::new();
    let mut cleared = 0;
    for _ in 0..40 {
        let steps = prop::collection::vec(step(), 150).new_tree(&mut runner).expect("tree").current();
        let mut c = fresh();
        seatwatch_model::fold(&mut c, &build(&steps));
        for (_, a) in c.all_alarms() {
            raised.insert(a.rule);
            cleared += usize::from(a.cleared_at.is_some());
        }
    }
    assert!(raised.len() >= 10, "only {raised:?}");
    assert!(cleared > 10, "{cleared}");
}
