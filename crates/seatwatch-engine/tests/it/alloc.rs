//! The fold asks the allocator for nothing per event: once warm, a stream of ordinary
//! call-handling events allocates only when a table that keeps the new calls grows
//! (amortised doubling), so the count over tens of thousands of events stays in the
//! tens. Any allocation made per event (a message built and thrown away, a key copied to
//! the heap) would show up as thousands.
//!
//! `allocation-counter` replaces this test binary's global allocator and counts the
//! calling thread's allocations only, so tests running in parallel do not disturb it.

use seatwatch_config::Config;
use seatwatch_engine::Engine;
use seatwatch_model::{AgentId, CallId, Envelope, Event, EventKind, Projector, QueueId, Ts};

const AGENTS: usize = 8;
const NANOS: i64 = 1_000_000_000;

/// A morning of calls for [`AGENTS`] agents: login, then `rounds` rounds in which every
/// agent is offered a new call, answers it at the first ring, invites the customer to
/// the survey, hangs up, wraps up, is ready, takes a second's break and is ready again, with a heartbeat every round. No rule is broken.
fn morning(rounds: usize) -> Vec<Envelope> {
    let start = Ts::parse_rfc3339("2026-03-02T08:00:00+08:00").map_or(0, |t| t.nanos);
    let mut out = Vec::new();
    let mut push = |at: i64, agent: Option<usize>, kind: EventKind| {
        let seq = out.len() as u64 + 1;
        let ts = Ts::from_nanos(at);
        out.push(Envelope {
            seq,
            tenant: "acme".into(),
            source: "acd".into(),
            received: ts,
            event: Event {
                id: format!("e{seq}").into(),
                ts,
                agent: agent.map(|a| AgentId::from(format!("agent-{a:03}"))),
                kind,
                extra: None,
            },
        });
    };
    for a in 0..AGENTS {
        push(start, Some(a), EventKind::Login { station: format!("st-{a}") });
        push(start, Some(a), EventKind::Ready);
    }
    for r in 0..rounds {
        let t0 = start + NANOS * (10 + 10 * r as i64);
        push(t0, None, EventKind::Heartbeat);
        for a in 0..AGENTS {
            let call = || CallId::from(format!("call-{r}-{a}"));
            let queue = Some(QueueId::from(format!("q{}", a % 3)));
            let offered = EventKind::Offered { call: call(), queue, caller: None, emergency: false, priority: None };
            push(t0, Some(a), offered);
            push(t0 + NANOS, Some(a), EventKind::Answered { call: call(), rings: Some(1) });
            push(t0 + 3 * NANOS, Some(a), EventKind::SurveyOffered { call: call() });
            push(t0 + 4 * NANOS, Some(a), EventKind::Ended { call: call() });
            push(t0 + 5 * NANOS, Some(a), EventKind::WrapUp { call: Some(call()) });
            push(t0 + 7 * NANOS, Some(a), EventKind::Ready);
            push(t0 + 8 * NANOS, Some(a), EventKind::NotReady { reason: Some("coaching".into()) });
            push(t0 + 9 * NANOS, Some(a), EventKind::Ready);
        }
    }
    out
}

/// Fold the first half untimed, then count the allocations of folding the second half.
fn second_half_allocations(engine: &mut Engine, records: &[Envelope]) -> u64 {
    let (warm, counted) = records.split_at(records.len() / 2);
    for env in warm {
        engine.apply(env);
    }
    allocation_counter::measure(|| {
        for env in counted {
            engine.apply(env);
        }
    })
    .count_total
}

#[test]
fn ordinary_call_events_do_not_allocate_once_warm() {
    let records = morning(2_000);
    let mut engine = Engine::new(&Config::default());
    engine.set_change_log(false);
    let allocations = second_half_allocations(&mut engine, &records);
    let counted = records.len() / 2;
    let alarms: Vec<String> = engine.compliance.all_alarms().map(|(_, a)| a.message.to_string()).take(3).collect();
    assert!(alarms.is_empty(), "the morning breaks no rule: {alarms:?}");
    assert!(allocations <= 64, "{allocations} allocations while folding {counted} ordinary events");
}
