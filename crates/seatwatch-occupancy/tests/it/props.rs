//! Property tests of the fold: determinism, batching, bounds, conservation of time.

use crate::at;
use proptest::prelude::*;
use seatwatch_model::{AgentId, CallId, Dur, Envelope, Event, EventKind, Projector, QueueId, Ts, fold};
use seatwatch_occupancy::{Occupancy, ServiceLevelSettings, SlFormula, TenantSettings};
use seatwatch_testkit::proptest_config;
use std::collections::BTreeMap;

const TENANT: &str = "acme";
const AGENTS: [&str; 3] = ["a0", "a1", "a2"];
const QUEUES: [&str; 2] = ["sales", "support"];

/// One generated step: seconds after the previous step, how late the event is (0: on
/// time), and what happens.
#[derive(Clone, Debug)]
struct Step {
    advance: i64,
    late: i64,
    agent: usize,
    call: usize,
    queue: usize,
    kind: u8,
    rings: Option<u32>,
}

fn step(late_events: bool) -> impl Strategy<Value = Step> {
    let late = if late_events { prop_oneof![4 => Just(0i64), 1 => 1i64..180].boxed() } else { Just(0i64).boxed() };
    (0i64..240, late, 0..AGENTS.len(), 0usize..6, 0..QUEUES.len(), 0u8..16, prop::option::weighted(0.2, 1u32..7))
        .prop_map(|(advance, late, agent, call, queue, kind, rings)| Step {
            advance,
            late,
            agent,
            call,
            queue,
            kind,
            rings,
        })
}

fn log(late_events: bool) -> impl Strategy<Value = Vec<Envelope>> {
    prop::collection::vec(step(late_events), 1..120).prop_map(|steps| {
        let mut t = at("08:00:00");
        steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                t = t.plus_secs(s.advance);
                let ts = t.plus_secs(-s.late);
                let call = CallId::from(format!("c{}", s.call));
                let queue = QueueId::from(QUEUES[s.queue]);
                let mut agent = Some(AgentId::from(AGENTS[s.agent]));
                let kind = match s.kind {
                    0 => EventKind::Login { station: format!("st-{}", (s.agent + s.call) % 4) },
                    1 => EventKind::Logout,
                    2 => EventKind::Ready,
                    3 => EventKind::NotReady { reason: (s.call % 2 == 0).then(|| "lunch".to_owned()) },
                    4 => EventKind::Queued { call, queue, caller: None, emergency: false, priority: None },
                    5 => EventKind::Abandoned { call, queue },
                    6 | 7 => EventKind::Offered {
                        call,
                        queue: (s.call % 3 != 0).then_some(queue),
                        caller: None,
                        emergency: false,
                        priority: None,
                    },
                    8 | 9 => EventKind::Answered { call, rings: s.rings },
                    10 => EventKind::Missed { call },
                    11 => EventKind::Ended { call },
                    12 => EventKind::WrapUp { call: (s.call % 2 == 0).then_some(call) },
                    13 => EventKind::Transferred { call, to: "2001".into() },
                    14 => EventKind::Heartbeat,
                    _ => EventKind::Escalated { call },
                };
                if !kind.has_agent() {
                    agent = None;
                }
                let seq = i as u64 + 1;
                Envelope {
                    seq,
                    tenant: TENANT.into(),
                    source: "acd".into(),
                    received: ts,
                    event: Event { id: format!("e{seq}").into(), ts, agent, kind, extra: None },
                }
            })
            .collect()
    })
}

fn fresh() -> Occupancy {
    Occupancy::new(TenantSettings::default(), BTreeMap::new()).with_timeline(true)
}

fn folded(records: &[Envelope]) -> Occupancy {
    let mut occ = fresh();
    fold(&mut occ, records);
    occ
}

/// Logged-in seconds per agent by an independent model of the documented rules: an
/// agent's events apply at max(ts, its last effective time); `login`, `ready`,
/// `not_ready`, `offered` and `answered` (imply a) log in; `logout` logs out. Valid for
/// logs without late events (a caller's abandon may also move an agent's effective time).
fn logged_in_model(records: &[Envelope]) -> BTreeMap<String, f64> {
    let now = records.iter().map(|r| r.event.ts).max().unwrap_or_default();
    let mut agents: BTreeMap<String, (Ts, bool, i64)> = BTreeMap::new();
    for r in records {
        let Some(a) = &r.event.agent else { continue };
        let logs_in = match r.event.kind {
            EventKind::Login { .. }
            | EventKind::Ready
            | EventKind::NotReady { .. }
            | EventKind::Offered { .. }
            | EventKind::Answered { .. } => Some(true),
            EventKind::Logout => Some(false),
            EventKind::Missed { .. }
            | EventKind::Ended { .. }
            | EventKind::WrapUp { .. }
            | EventKind::Transferred { .. } => None,
            _ => continue,
        };
        let e = agents.entry(a.as_str().to_owned()).or_insert((r.event.ts, false, 0));
        let eff = r.event.ts.max(e.0);
        if e.1 {
            e.2 += eff.nanos_since(e.0);
        }
        e.0 = eff;
        if let Some(l) = logs_in {
            e.1 = l;
        }
    }
    agents
        .into_iter()
        .map(|(a, (last, logged, ns))| {
            let ns = ns + if logged { now.nanos_since(last) } else { 0 };
            (a, ns as f64 / 1e9)
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

proptest! {
    #![proptest_config(proptest_config("occupancy-fold", 64))]

    #[test]
    fn replaying_the_same_events_gives_identical_state(records in log(true)) {
        let a = folded(&records);
        let b = folded(&records);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a.snapshot(), b.snapshot());
        prop_assert_eq!(a.intervals(TENANT, None, None, None), b.intervals(TENANT, None, None, None));
        prop_assert_eq!(a.agents(TENANT), b.agents(TENANT));
        prop_assert_eq!(a.windows(TENANT), b.windows(TENANT));
        prop_assert_eq!(a.agent_timeline(TENANT, None), b.agent_timeline(TENANT, None));
    }

    #[test]
    fn batches_of_any_size_give_the_same_state(records in log(true), size in 1usize..40, cut in 0usize..120) {
        let whole = folded(&records);
        let mut batched = fresh();
        for chunk in records.chunks(size) {
            fold(&mut batched, chunk);
            // Reading between batches must not change anything.
            let _ = (batched.intervals(TENANT, None, None, None), batched.agents(TENANT), batched.windows(TENANT));
            let _ = (batched.queues(TENANT), batched.totals(TENANT));
        }
        prop_assert_eq!(&batched, &whole);
        prop_assert_eq!(batched.take_changes(), fresh_changes(&records));
        // A snapshot taken anywhere, restored, and folded on ends in the same state.
        let cut = cut.min(records.len());
        let head = folded(&records[..cut]);
        let mut resumed = Occupancy::restore(&head.snapshot(), TenantSettings::default(), BTreeMap::new()).unwrap();
        fold(&mut resumed, &records[cut..]);
        prop_assert_eq!(resumed.intervals(TENANT, None, None, None), whole.intervals(TENANT, None, None, None));
        prop_assert_eq!(resumed.agents(TENANT), whole.agents(TENANT));
        prop_assert_eq!(resumed.position(), whole.position());
    }

    #[test]
    fn ratios_stay_within_bounds(records in log(true), formulas in (0usize..4, 0usize..4, 0usize..4), threshold in prop::option::of(1u64..40)) {
        // Service levels too, under every formula (the total's and each queue's), with and
        // without a threshold: numerator and denominator count a call in the same row.
        let all = [SlFormula::Offered, SlFormula::AnsweredAbandoned, SlFormula::AnsweredLongAbandoned, SlFormula::Queued];
        let mut settings = TenantSettings::default();
        let sl = |i: usize, threshold: Option<u64>| ServiceLevelSettings { formula: all[i], threshold: threshold.map(Dur::secs) };
        settings.settings.service_level = sl(formulas.0, None);
        settings.settings.queues.insert(QUEUES[0].into(), sl(formulas.1, threshold));
        settings.settings.queues.insert(QUEUES[1].into(), sl(formulas.2, None));
        let mut occ = Occupancy::new(settings, BTreeMap::new());
        fold(&mut occ, &records);
        for r in occ.intervals(TENANT, None, None, None) {
            for v in [r.figures.occupancy, r.figures.utilization, r.figures.service_level].into_iter().flatten() {
                prop_assert!((0.0..=1.0).contains(&v), "{:?}", r);
            }
            prop_assert!(r.figures.answered_in_time <= r.figures.answered);
            prop_assert!(r.figures.short_abandoned <= r.figures.abandoned);
        }
        for r in occ.windows(TENANT) {
            for v in [r.figures.occupancy, r.figures.utilization, r.figures.service_level].into_iter().flatten() {
                prop_assert!((0.0..=1.0).contains(&v), "{:?}", r);
            }
        }
    }

    #[test]
    fn agent_state_seconds_add_up_to_the_logged_in_time(records in log(true)) {
        let occ = folded(&records);
        let mut logged_in = 0.0;
        for a in occ.agents(TENANT) {
            let t = &a.today;
            let sum = t.ready_seconds + t.not_ready_seconds + t.ringing_seconds + t.talk_seconds + t.wrap_up_seconds;
            prop_assert!(close(sum, t.logged_in_seconds), "{:?}", a);
            prop_assert!(a.seconds_in_state >= 0.0);
            logged_in += t.logged_in_seconds;
        }
        // The same time, split across intervals instead of days, adds up too.
        let rows: Vec<_> = occ.intervals(TENANT, None, None, None).into_iter().filter(|r| r.queue.is_none()).collect();
        let staffed: f64 = rows.iter().map(|r| r.figures.staffed_seconds).sum();
        prop_assert!(close(staffed, logged_in), "intervals {staffed} vs agents {logged_in}");
        for r in &rows {
            let f = &r.figures;
            let sum = f.ready_seconds + f.not_ready_seconds + f.ringing_seconds + f.talk_seconds + f.wrap_up_seconds;
            prop_assert!(close(sum, f.staffed_seconds), "{:?}", r);
        }
        // The timeline's logged-in spans add up to the same.
        let timeline = occ.agent_timeline(TENANT, None).unwrap_or_default();
        let spans: f64 = timeline
            .iter()
            .filter(|e| e.state != seatwatch_occupancy::AgentState::LoggedOut)
            .map(|e| e.to.nanos_since(e.from) as f64 / 1e9)
            .sum();
        prop_assert!(close(spans, logged_in), "timeline {spans} vs agents {logged_in}");
    }

    #[test]
    fn logged_in_time_matches_an_independent_model(records in log(false)) {
        let occ = folded(&records);
        let model = logged_in_model(&records);
        for a in occ.agents(TENANT) {
            let want = model.get(a.agent.as_str()).copied().unwrap_or(0.0);
            prop_assert!(close(a.today.logged_in_seconds, want), "{}: {} vs model {}", a.agent, a.today.logged_in_seconds, want);
        }
    }
}

/// The changes a fresh projector reports for the whole log at once.
fn fresh_changes(records: &[Envelope]) -> Vec<seatwatch_occupancy::AgentStateChange> {
    let mut occ = fresh();
    fold(&mut occ, records);
    occ.take_changes()
}
