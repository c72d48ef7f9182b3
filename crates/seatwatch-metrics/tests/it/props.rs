//! Property tests: the histograms agree with the occupancy projector's counts and sums,
//! and the fold does not depend on snapshots or batching.

use crate::Fold;
use proptest::prelude::*;
use seatwatch_config::Config;
use seatwatch_metrics::{CallHistograms, Hist};
use seatwatch_model::{AgentId, CallId, Envelope, Event, EventKind, Projector, QueueId, Ts, fold};
use seatwatch_testkit::proptest_config;

const TENANTS: [&str; 2] = ["acme", "globex"];
const AGENTS: [&str; 3] = ["a0", "a1", "a2"];
const QUEUES: [&str; 2] = ["sales", "support"];

#[derive(Clone, Debug)]
struct Step {
    advance: i64,
    late: i64,
    tenant: usize,
    agent: usize,
    call: usize,
    queue: usize,
    kind: u8,
    rings: Option<u32>,
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![3 => 0i64..60, 2 => 0i64..600, 1 => 0i64..40_000],
        prop_oneof![4 => Just(0i64), 1 => 1i64..180],
        0..TENANTS.len(),
        0..AGENTS.len(),
        0usize..6,
        0..QUEUES.len(),
        0u8..16,
        prop::option::weighted(0.2, 1u32..7),
    )
        .prop_map(|(advance, late, tenant, agent, call, queue, kind, rings)| Step {
            advance,
            late,
            tenant,
            agent,
            call,
            queue,
            kind,
            rings,
        })
}

/// Random logs over two tenants, three agents, six calls and two queues, with late
/// events, long gaps (calls forgotten after the call timeout) and every call event.
fn log() -> impl Strategy<Value = Vec<Envelope>> {
    prop::collection::vec(step(), 1..160).prop_map(|steps| {
        let mut t = Ts::parse_rfc3339("2026-03-02T08:00:00+08:00").unwrap();
        steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                t = t.plus_secs(s.advance);
                let ts = t.plus_secs(-s.late);
                let call = CallId::from(format!("c{}", s.call));
                let queue = QueueId::from(QUEUES[s.queue]);
                let kind = match s.kind {
                    0 => EventKind::Login { station: format!("st-{}", (s.agent + s.call) % 4) },
                    1 => EventKind::Logout,
                    2 => EventKind::Ready,
                    3 => EventKind::NotReady { reason: None },
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
                let agent = kind.has_agent().then(|| AgentId::from(AGENTS[s.agent]));
                let seq = i as u64 + 1;
                Envelope {
                    seq,
                    tenant: TENANTS[s.tenant].into(),
                    source: "acd".into(),
                    received: ts,
                    event: Event { id: format!("e{seq}").into(), ts, agent, kind, extra: None },
                }
            })
            .collect()
    })
}

fn config() -> Config {
    // A short call timeout for one tenant, so forgotten calls are exercised.
    Config::parse(
        "[tenant.globex]\nclock = \"event\"\n\n[tenant.globex.occupancy]\ncall_timeout = \"30m\"\ninterval = \"5m\"\n",
    )
    .unwrap()
}

fn sum(h: &[&Hist]) -> (u64, f64) {
    let mut all = Hist { counts: vec![0; h[0].counts.len()], sums_ns: vec![0; h[0].counts.len()] };
    for x in h {
        all.merge(x);
    }
    (all.count(), all.sum_seconds())
}

proptest! {
    #![proptest_config(proptest_config("metrics-histograms", 256))]

    /// Per queue and for the calls of no queue, the answer-delay histogram counts the
    /// occupancy projector's `answered` with its Σ answer delay, and the handle-time
    /// histogram its `handled` with Σ handle time.
    #[test]
    fn histograms_agree_with_occupancy_totals(records in log()) {
        let mut f = Fold::new(config());
        for r in &records {
            f.apply(r);
        }
        for tenant in TENANTS {
            let totals = f.occupancy.totals(tenant);
            let hists = f.histograms.queues(tenant);
            for (queue, t) in &totals {
                let Some(q) = queue else { continue };
                let h = hists.get(&Some(q.as_str())).expect("a histogram for every queue with totals");
                prop_assert_eq!((h.answer_delay.count(), h.answer_delay.sum_seconds()), (t.answered, t.answer_delay_seconds), "answer delay of {}", q.as_str());
                prop_assert_eq!((h.handle_time.count(), h.handle_time.sum_seconds()), (t.handled, t.handle_seconds), "handle time of {}", q.as_str());
            }
            if let Some(total) = totals.get(&None) {
                let all: Vec<&seatwatch_metrics::QueueHists> = hists.values().copied().collect();
                let ad = sum(&all.iter().map(|h| &h.answer_delay).collect::<Vec<_>>());
                let ht = sum(&all.iter().map(|h| &h.handle_time).collect::<Vec<_>>());
                prop_assert_eq!(ad.0, total.answered);
                prop_assert!((ad.1 - total.answer_delay_seconds).abs() < 1e-6);
                prop_assert_eq!(ht.0, total.handled);
                prop_assert!((ht.1 - total.handle_seconds).abs() < 1e-6);
            }
        }
    }

    /// fold(all) equals restore(snapshot(fold(prefix))) then fold(tail), and the
    /// snapshot of equal states is the same bytes.
    #[test]
    fn snapshot_at_any_point_continues_the_same(records in log(), cut in any::<prop::sample::Index>()) {
        let cfg = config();
        let split = cut.index(records.len() + 1);
        let mut whole = CallHistograms::new(&cfg);
        fold(&mut whole, &records);
        let mut first = CallHistograms::new(&cfg);
        fold(&mut first, &records[..split]);
        let mut resumed = CallHistograms::restore(&first.snapshot(), &cfg).unwrap();
        fold(&mut resumed, &records[split..]);
        prop_assert_eq!(resumed.position(), whole.position());
        prop_assert_eq!(resumed.snapshot(), whole.snapshot());
        prop_assert!(resumed == whole);
    }
}
