//! The fold bench's workload as a plain program, for profilers (callgrind, perf):
//!
//! `cargo run --release -p seatwatch-benches --example foldprof -- WHAT AGENTS RECORDS`
//!
//! WHAT is `occupancy`, `compliance`, `engine` or `bare`; the day is folded up to 09:00
//! first (untimed), then RECORDS records are folded and timed.

use chrono::NaiveTime;
use seatwatch_benches::{bare_vec_fold, compact, envelopes, fold_all, sim_config};
use seatwatch_compliance::Compliance;
use seatwatch_config::Config;
use seatwatch_engine::Engine;
use seatwatch_occupancy::Occupancy;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map_or("engine", String::as_str);
    let agents: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let records: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let split = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN);
    let t0 = Instant::now();
    let (prefix, measured) = envelopes(&sim_config(agents, 1), split, records);
    eprintln!("generated {} + {} records in {:?}", prefix.len(), measured.len(), t0.elapsed());
    let config = Config::default();
    let t = Instant::now();
    let n = measured.len() as f64;
    match what {
        "occupancy" => {
            let mut p = Occupancy::new(config.default_tenant.occupancy(), Default::default()).with_changes(false);
            fold_all(&mut p, &prefix);
            let t = Instant::now();
            measured_fold(&mut p, &measured);
            report(what, n, t);
        }
        "compliance" => {
            let mut p = Compliance::new(config.default_tenant.compliance(), Default::default());
            p.set_change_log(false);
            fold_all(&mut p, &prefix);
            eprintln!("prefix folded in {:?}", t.elapsed());
            let t = Instant::now();
            measured_fold(&mut p, &measured);
            report(what, n, t);
        }
        "pair" => {
            let mut p = seatwatch_benches::Pair::new(&config);
            fold_all(&mut p, &prefix);
            eprintln!("prefix folded in {:?}", t.elapsed());
            let t = Instant::now();
            measured_fold(&mut p, &measured);
            report(what, n, t);
        }
        "engine" => {
            let mut p = Engine::new(&config);
            p.set_change_log(false);
            fold_all(&mut p, &prefix);
            eprintln!("prefix folded in {:?}", t.elapsed());
            let t = Instant::now();
            measured_fold(&mut p, &measured);
            report(what, n, t);
        }
        _ => {
            let all: Vec<_> = prefix.iter().chain(measured.iter()).cloned().collect();
            let (c, agents) = compact(&all);
            let mut v = vec![seatwatch_benches::BareAgent::default(); agents];
            bare_vec_fold(&c[..prefix.len()], &mut v);
            let t = Instant::now();
            std::hint::black_box(bare_vec_fold(&c[prefix.len()..], &mut v));
            report("bare", n, t);
        }
    }
}

/// The timed part, a separate symbol for `valgrind --tool=callgrind --toggle-collect=*measured_fold*`.
#[inline(never)]
fn measured_fold<P: seatwatch_model::Projector>(p: &mut P, records: &[seatwatch_model::Envelope]) {
    fold_all(p, records);
}

fn report(what: &str, n: f64, t: Instant) {
    let el = t.elapsed();
    println!(
        "{what}: {n} records in {el:?}: {:.3} M records/s, {:.0} ns/record",
        n / el.as_secs_f64() / 1e6,
        el.as_nanos() as f64 / n
    );
}
