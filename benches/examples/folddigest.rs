//! A digest of everything the projections compute over simulated days, to check that a
//! performance change leaves behaviour exactly as it was: run it before and after the
//! change (e.g. in a `git worktree` of the old commit) and compare the output.
//!
//! `cargo run --release -p seatwatch-benches --example folddigest -- AGENTS DAYS [SEED [TIMEZONE]]`
//!
//! It folds the days through the engine as the server does (change log on, pushes taken
//! every 4096 records), queries every read model at the end of each simulated hour, and
//! prints one line per part: the engine's pushes, each projection's snapshot bytes, and
//! the JSON of alarms, agents, queues, intervals, windows and totals.

use seatwatch_benches::{TENANT, envelopes, sim_config};
use seatwatch_compliance::AlarmQuery;
use seatwatch_config::Config;
use seatwatch_engine::Engine;
use seatwatch_model::Projector;
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

#[derive(Default)]
struct Digests(BTreeMap<&'static str, (DefaultHasher, u64)>);

impl Digests {
    fn add(&mut self, part: &'static str, bytes: &[u8]) {
        let e = self.0.entry(part).or_insert_with(|| (DefaultHasher::new(), 0));
        bytes.hash(&mut e.0);
        e.1 += 1;
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let agents: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(300);
    let days: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let tz: chrono_tz::Tz = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(chrono_tz::Asia::Shanghai);
    let mut cfg = sim_config(agents, seed);
    cfg.days = days;
    cfg.timezone = tz;
    cfg.violation_rate = 0.2;
    let (_, records) = envelopes(&cfg, chrono::NaiveTime::MIN, usize::MAX);
    let config = Config::parse(&format!("[defaults]\nclock = \"event\"\ntimezone = \"{tz}\"\n")).unwrap_or_default();
    let mut engine = Engine::new(&config);
    let mut d = Digests::default();
    let mut next_query = records.first().map_or(0, |e| e.event.ts.nanos);
    for chunk in records.chunks(4096) {
        for env in chunk {
            engine.apply(env);
            if env.event.ts.nanos >= next_query {
                next_query = env.event.ts.nanos + 3_600_000_000_000;
                query(&engine, &mut d);
            }
        }
        for p in engine.take_pushes() {
            d.add("pushes", p.tenant.as_bytes());
            d.add("pushes", p.json.as_bytes());
        }
    }
    query(&engine, &mut d);
    d.add("snapshot.compliance", &engine.compliance.snapshot());
    d.add("snapshot.occupancy", &engine.occupancy.snapshot());
    println!("records {} position {}", records.len(), engine.position());
    for (part, (h, n)) in &d.0 {
        println!("{part:<22} {n:>8} {:016x}", h.finish());
    }
}

fn query(e: &Engine, d: &mut Digests) {
    let json = |v: &dyn erased::Ser| v.json();
    d.add("alarms", json(&e.compliance.alarms(TENANT, &AlarmQuery::default())).as_bytes());
    d.add(
        "alarm_counts",
        format!("{:?}{:?}", e.compliance.active_counts(TENANT), e.compliance.raised_counts(TENANT)).as_bytes(),
    );
    d.add(
        "deadline",
        format!("{:?}{:?}", e.compliance.next_deadline(TENANT), e.compliance.watermark(TENANT)).as_bytes(),
    );
    d.add("agents", json(&e.occupancy.agents(TENANT)).as_bytes());
    d.add("queues", json(&e.occupancy.queues(TENANT)).as_bytes());
    d.add("intervals", json(&e.occupancy.intervals(TENANT, None, None, None)).as_bytes());
    d.add("windows", json(&e.occupancy.windows(TENANT)).as_bytes());
    d.add("totals", format!("{:?}", e.occupancy.totals(TENANT)).as_bytes());
}

mod erased {
    pub trait Ser {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}
