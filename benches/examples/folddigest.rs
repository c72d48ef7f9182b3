//! A digest of everything the projections compute over simulated days, to check that a
//! performance change leaves behaviour exactly as it was: run it before and after the
//! change (e.g. on a `git archive` of the old commit) and compare the output.
//!
//! `cargo run --release -p seatwatch-benches --example folddigest -- AGENTS DAYS [SEED [TIMEZONE]]`
//!
//! It folds the days through the engine as the server does (change log on, pushes taken
//! every 4096 records) and prints one line per part:
//!
//! * `pushes`: every `/v1/stream` push;
//! * at the end of each simulated hour: the JSON of alarms, agents, queues, every interval
//!   kept, windows and totals (`alarms`, `agents`, …), and the same read models of an
//!   engine restored from the engine's snapshot taken then (`restored.*`);
//! * every 157 simulated seconds (a period that drifts across minute and interval
//!   boundaries): the windows, the intervals of the last two hours, the agents by state
//!   and the queues (`dense.*`);
//! * the projections' snapshot bytes at the end (`snapshot.*`: these change with a
//!   snapshot format version, everything else must not).
//!
//! `FOLDDIGEST_OCCUPANCY` may hold extra `[defaults.occupancy]` TOML lines (e.g.
//! `interval = "90s"` or `retention = "2h"`) to digest other settings.

use seatwatch_benches::{TENANT, envelopes, sim_config};
use seatwatch_compliance::AlarmQuery;
use seatwatch_config::Config;
use seatwatch_engine::Engine;
use seatwatch_model::Projector;
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

#[derive(Default)]
struct Digests(BTreeMap<String, (DefaultHasher, u64)>);

impl Digests {
    fn add(&mut self, part: &str, bytes: &[u8]) {
        let e = self.0.entry(part.to_owned()).or_insert_with(|| (DefaultHasher::new(), 0));
        bytes.hash(&mut e.0);
        e.1 += 1;
    }
}

const HOUR_NS: i64 = 3_600_000_000_000;
const DENSE_NS: i64 = 157_000_000_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let agents: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(300);
    let days: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let tz: chrono_tz::Tz = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(chrono_tz::Asia::Shanghai);
    let extra = std::env::var("FOLDDIGEST_OCCUPANCY").unwrap_or_default();
    let mut cfg = sim_config(agents, seed);
    cfg.days = days;
    cfg.timezone = tz;
    cfg.violation_rate = 0.2;
    let (_, records) = envelopes(&cfg, chrono::NaiveTime::MIN, usize::MAX);
    let toml = format!("[defaults]\nclock = \"event\"\ntimezone = \"{tz}\"\n[defaults.occupancy]\n{extra}\n");
    let config = match Config::parse(&toml) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("folddigest: bad FOLDDIGEST_OCCUPANCY: {e}");
            std::process::exit(2);
        }
    };
    let mut engine = Engine::new(&config);
    let mut d = Digests::default();
    let first = records.first().map_or(0, |e| e.event.ts.nanos);
    let (mut next_query, mut next_dense) = (first, first);
    for chunk in records.chunks(4096) {
        for env in chunk {
            engine.apply(env);
            if env.event.ts.nanos >= next_query {
                next_query = env.event.ts.nanos + HOUR_NS;
                query(&engine, &mut d, "");
                match Engine::restore(&config, &engine.snapshot()) {
                    Ok(restored) => query(&restored, &mut d, "restored."),
                    Err(e) => d.add("restored.error", e.to_string().as_bytes()),
                }
            }
            if env.event.ts.nanos >= next_dense {
                next_dense = env.event.ts.nanos + DENSE_NS;
                dense(&engine, &mut d);
            }
        }
        for p in engine.take_pushes() {
            d.add("pushes", p.tenant.as_bytes());
            d.add("pushes", p.json.as_bytes());
        }
    }
    query(&engine, &mut d, "");
    dense(&engine, &mut d);
    d.add("snapshot.compliance", &engine.compliance.snapshot());
    d.add("snapshot.occupancy", &engine.occupancy.snapshot());
    println!("records {} position {}", records.len(), engine.position());
    for (part, (h, n)) in &d.0 {
        println!("{part:<26} {n:>8} {:016x}", h.finish());
    }
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn query(e: &Engine, d: &mut Digests, prefix: &str) {
    let mut add = |part: &str, bytes: &[u8]| d.add(&format!("{prefix}{part}"), bytes);
    add("alarms", json(&e.compliance.alarms(TENANT, &AlarmQuery::default())).as_bytes());
    add(
        "alarm_counts",
        format!("{:?}{:?}", e.compliance.active_counts(TENANT), e.compliance.raised_counts(TENANT)).as_bytes(),
    );
    add("deadline", format!("{:?}{:?}", e.compliance.next_deadline(TENANT), e.compliance.watermark(TENANT)).as_bytes());
    add("agents", json(&e.occupancy.agents(TENANT)).as_bytes());
    add("queues", json(&e.occupancy.queues(TENANT)).as_bytes());
    add("intervals", json(&e.occupancy.intervals(TENANT, None, None, None)).as_bytes());
    add("windows", json(&e.occupancy.windows(TENANT)).as_bytes());
    add("totals", format!("{:?}", e.occupancy.totals(TENANT)).as_bytes());
}

fn dense(e: &Engine, d: &mut Digests) {
    let o = &e.occupancy;
    let Some(now) = o.now(TENANT) else { return };
    d.add("dense.windows", json(&o.windows(TENANT)).as_bytes());
    let recent = o.intervals(TENANT, Some(now.plus_nanos(-2 * HOUR_NS)), Some(now.plus_nanos(1)), None);
    d.add("dense.intervals", json(&recent).as_bytes());
    d.add("dense.state_counts", format!("{:?}", o.agent_state_counts(TENANT)).as_bytes());
    d.add("dense.queues", json(&o.queues(TENANT)).as_bytes());
}
