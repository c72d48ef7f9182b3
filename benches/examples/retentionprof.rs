//! What the occupancy `retention` costs: the interval book's memory, the occupancy
//! snapshot and an unbounded `/v1/intervals` answer after DAYS simulated days, for each
//! retention given (in days):
//!
//! `cargo run --release -p seatwatch-benches --example retentionprof -- AGENTS DAYS [RETENTION_DAYS...]`
//!
//! The simulated centre is the benches' (`sim_config`: AGENTS / 20 queues, at most 50,
//! about 8 calls per agent-hour, heartbeats every 10 s), DAYS consecutive days streamed
//! through the projector (not kept in memory). The heap the projector holds is what
//! dropping it frees (`allocation-counter`, which replaces the global allocator of this
//! program only). Default: 1,000 agents, 40 days, retentions 7 and 35 days.

use seatwatch_benches::{TENANT, sim_config};
use seatwatch_config::Config;
use seatwatch_model::{CallerKey, CallerPolicy, Dur, Envelope, IngestOptions, Projector, parse_frame, validate_event};
use seatwatch_occupancy::Occupancy;
use seatwatch_sim::generate;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let agents: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000);
    let days: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(40);
    let mut retentions: Vec<u64> = args.iter().skip(3).filter_map(|s| s.parse().ok()).collect();
    if retentions.is_empty() {
        retentions = vec![7, 35];
    }
    let sim = seatwatch_sim::SimConfig { days, ..sim_config(agents, 1) };
    for keep in retentions {
        let mut config = Config::default();
        config.default_tenant.occupancy.retention = Dur::mins(keep * 24 * 60);
        let mut occ = Occupancy::new(config.default_tenant.occupancy(), Default::default()).with_changes(false);
        let t = Instant::now();
        let records = stream(&sim, |env| occ.apply(env));
        let fold = t.elapsed();
        let snapshot = occ.snapshot().len();
        let t = Instant::now();
        let rows = occ.intervals(TENANT, None, None, None);
        let json = serde_json::to_vec(&rows).map_or(0, |v| v.len());
        let query = t.elapsed();
        let intervals = {
            let mut starts: Vec<_> = rows.iter().map(|r| r.start).collect();
            starts.dedup();
            starts.len()
        };
        let retained = occ.retained_from(TENANT).map(|t| t.to_rfc3339()).unwrap_or_default();
        let held = -allocation_counter::measure(|| drop(occ)).bytes_current;
        println!(
            "retention {keep} d: {agents} agents, {} queues, {days} days, {records} records folded in {:.1} s; \
             {intervals} intervals ({} rows) from {retained}; occupancy heap {:.1} MiB, snapshot {:.1} MiB; \
             unbounded /v1/intervals {:.1} MiB of JSON in {:.0} ms",
            sim.queues,
            fold.as_secs_f64(),
            rows.len(),
            held as f64 / 1_048_576.0,
            snapshot as f64 / 1_048_576.0,
            json as f64 / 1_048_576.0,
            query.as_secs_f64() * 1e3,
        );
    }
}

/// Feed every simulated event to `f` as a stored envelope (as `seatwatch_benches::envelopes`
/// makes them, without keeping them); how many there were.
fn stream(sim: &seatwatch_sim::SimConfig, mut f: impl FnMut(&Envelope)) -> u64 {
    let key = CallerKey([7; 32]);
    let opts = IngestOptions::any_time(TENANT, CallerPolicy::Hmac, &key);
    let Ok(events) = generate(sim) else { return 0 };
    let mut seq = 0u64;
    for ev in events {
        let Some(event) =
            parse_frame(&ev.json).ok().and_then(|fr| fr.items.first().and_then(|v| validate_event(v, 0, &opts).ok()))
        else {
            continue;
        };
        seq += 1;
        let env = Envelope { seq, tenant: TENANT.into(), source: "acd".into(), received: event.ts, event };
        f(&env);
    }
    seq
}
