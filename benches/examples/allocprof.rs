//! Allocations per record of the fold, for the performance issue's "no allocation per
//! event" goal:
//!
//! `cargo run --release -p seatwatch-benches --example allocprof -- AGENTS RECORDS [WHAT]`
//!
//! The simulated day is folded up to 09:00 first (not counted), then the next RECORDS
//! records are folded into each projection on its own and into the engine, change logs
//! off (as `seatwatch replay` runs them), and every allocation and reallocation made
//! meanwhile is counted (`allocation-counter`, which replaces the global allocator of
//! this program only). WHAT (`occupancy`, `compliance`, `histograms` or `engine`) runs
//! only that one, for a heap profiler's call sites. Growing a table or a list that keeps what the records add (an
//! alarm, a new call) counts too: the figure is what the fold asks of the allocator.

use chrono::NaiveTime;
use seatwatch_benches::{envelopes, fold_all, sim_config};
use seatwatch_compliance::Compliance;
use seatwatch_config::Config;
use seatwatch_engine::Engine;
use seatwatch_model::{Envelope, Projector};
use seatwatch_occupancy::Occupancy;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let agents: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let records: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let split = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN);
    let (prefix, measured) = envelopes(&sim_config(agents, 1), split, records);
    let only = args.get(3).map(String::as_str);
    let wanted = |what: &str| only.is_none_or(|o| o == what);
    let config = Config::default();

    let mut occupancy = Occupancy::new(config.default_tenant.occupancy(), Default::default()).with_changes(false);
    if wanted("occupancy") {
        count("occupancy", &prefix, &measured, &mut occupancy, |_| 0);
    }
    let mut compliance = Compliance::new(config.default_tenant.compliance(), Default::default());
    compliance.set_change_log(false);
    if wanted("compliance") {
        count("compliance", &prefix, &measured, &mut compliance, |c| c.all_alarms().count());
    }
    let mut histograms = seatwatch_engine::metrics::CallHistograms::new(&config);
    if wanted("histograms") {
        count("histograms", &prefix, &measured, &mut histograms, |_| 0);
    }
    let mut engine = Engine::new(&config);
    engine.set_change_log(false);
    if wanted("engine") {
        count("engine", &prefix, &measured, &mut engine, |e| e.compliance.all_alarms().count());
    }
}

/// Fold `prefix`, then count the allocations of folding `measured`; `alarms` counts the
/// alarms kept (each is a few allocations: its id, message and index entries).
fn count<P: Projector>(what: &str, prefix: &[Envelope], measured: &[Envelope], p: &mut P, alarms: fn(&P) -> usize) {
    fold_all(p, prefix);
    let before = alarms(p);
    let info = allocation_counter::measure(|| measured_fold(p, measured));
    let raised = alarms(p) - before;
    let (a, b) = (info.count_total, info.bytes_total);
    let n = measured.len().max(1) as f64;
    println!(
        "{what}: {a} allocations ({:.1} MiB) over {} records: {:.4} per record, {:.1} bytes per record; {raised} alarms raised",
        b as f64 / 1048576.0,
        measured.len(),
        a as f64 / n,
        b as f64 / n
    );
}

/// The counted fold, a symbol of its own for a debugger's breakpoint (to see where a
/// counted allocation comes from).
#[inline(never)]
fn measured_fold<P: Projector>(p: &mut P, records: &[Envelope]) {
    fold_all(p, records);
}
