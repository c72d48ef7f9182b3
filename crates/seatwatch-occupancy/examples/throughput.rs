//! Rough fold throughput: `cargo run --release -p seatwatch-occupancy --example throughput`.
use seatwatch_model::{AgentId, CallId, Envelope, Event, EventKind, Projector, QueueId, Ts};
use seatwatch_occupancy::{Occupancy, TenantSettings};
use std::collections::BTreeMap;
use std::time::Instant;

fn main() {
    let mut recs = Vec::new();
    let mut t = Ts::parse_rfc3339("2026-03-02T08:00:00+08:00").expect("ts");
    let agents: Vec<AgentId> = (0..100).map(|i| AgentId::from(format!("agent-{i:03}"))).collect();
    for (i, a) in agents.iter().enumerate() {
        recs.push((Some(a.clone()), EventKind::Login { station: format!("st-{i}") }, t));
    }
    for n in 0..400_000u64 {
        t = t.plus_nanos(300_000_000);
        let a = &agents[(n % 100) as usize];
        let call = CallId::from(format!("call-{n}"));
        let queue = QueueId::from(format!("q{}", n % 5));
        recs.push((
            None,
            EventKind::Queued {
                call: call.clone(),
                queue: queue.clone(),
                caller: None,
                emergency: false,
                priority: None,
            },
            t,
        ));
        recs.push((
            Some(a.clone()),
            EventKind::Offered {
                call: call.clone(),
                queue: Some(queue),
                caller: None,
                emergency: false,
                priority: None,
            },
            t.plus_secs(2),
        ));
        recs.push((Some(a.clone()), EventKind::Answered { call: call.clone(), rings: None }, t.plus_secs(6)));
        recs.push((Some(a.clone()), EventKind::Ended { call }, t.plus_secs(25)));
        recs.push((Some(a.clone()), EventKind::Ready, t.plus_secs(29)));
    }
    let envs: Vec<Envelope> = recs
        .into_iter()
        .enumerate()
        .map(|(i, (agent, kind, ts))| Envelope {
            seq: i as u64 + 1,
            tenant: "acme".into(),
            source: "acd".into(),
            received: ts,
            event: Event { id: Default::default(), ts, agent, kind, extra: None },
        })
        .collect();
    for _ in 0..5 {
        let mut occ = Occupancy::new(TenantSettings::default(), BTreeMap::new()).with_changes(false);
        let start = Instant::now();
        for e in &envs {
            occ.apply(e);
        }
        let el = start.elapsed();
        println!("{} events in {:?}: {:.1} M events/s", envs.len(), el, envs.len() as f64 / el.as_secs_f64() / 1e6);
    }
    let mut occ2 = Occupancy::new(TenantSettings::default(), BTreeMap::new());
    let start = Instant::now();
    for e in &envs {
        occ2.apply(e);
        if e.seq % 1000 == 0 {
            occ2.take_changes();
        }
    }
    let el = start.elapsed();
    println!("with changes tracked: {:.1} M events/s", envs.len() as f64 / el.as_secs_f64() / 1e6);
}
