//! The hot fold: occupancy, compliance and both together (the engine) over the simulated
//! call centre's event mix, at 10k and 100k agents, in events/s on one core.
//!
//! Same-run baselines, over the same records:
//! * `baseline_bare_vec`: agent states in a `Vec` indexed by pre-resolved agent numbers
//!   (no strings, no maps, no rules): the floor every ratio in docs/performance.md is
//!   quoted against;
//! * `baseline_hashmap`: the same fold resolving each agent id through a std `HashMap`.
//!
//! Each iteration folds the measured window into a clone of a projection that has
//! already folded the day up to the window (roster, shifts, logins, the first calls), so
//! the state has its real size; cloning happens outside the timed part.
//!
//! Run: `cargo bench -p seatwatch-benches --bench fold` (`-- fold/10k` for one size).

use chrono::NaiveTime;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use seatwatch_benches::{Pair, bare_vec_fold, compact, envelopes, fold_all, hashmap_fold, sim_config, smoke_test};
use seatwatch_compliance::Compliance;
use seatwatch_config::Config;
use seatwatch_engine::Engine;
use seatwatch_occupancy::Occupancy;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

fn split() -> NaiveTime {
    NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN)
}

fn fold(c: &mut Criterion) {
    let smoke = smoke_test();
    // (label, agents, measured records)
    let sizes: &[(&str, u32, usize)] =
        if smoke { &[("smoke", 200, 2_000)] } else { &[("10k", 10_000, 1_000_000), ("100k", 100_000, 1_000_000)] };
    let config = Config::default();
    for &(label, agents, window) in sizes {
        let cfg = sim_config(agents, 1);
        let (prefix, measured) = envelopes(&cfg, split(), window);
        eprintln!(
            "fold/{label}: {agents} agents, {} records folded before the window, {} measured ({:.0} simulated s)",
            prefix.len(),
            measured.len(),
            seatwatch_benches::span_secs(&measured)
        );
        let mut g = c.benchmark_group(format!("fold/{label}"));
        g.throughput(Throughput::Elements(measured.len() as u64));
        g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(10));

        let all: Vec<_> = prefix.iter().chain(measured.iter()).cloned().collect();
        let (compact_all, n_agents) = compact(&all);
        let compact_measured = &compact_all[prefix.len()..];
        let mut bare0 = vec![seatwatch_benches::BareAgent::default(); n_agents];
        bare_vec_fold(&compact_all[..prefix.len()], &mut bare0);
        g.bench_function("baseline_bare_vec", |b| {
            b.iter_batched_ref(
                || bare0.clone(),
                |agents| black_box(bare_vec_fold(compact_measured, agents)),
                BatchSize::LargeInput,
            )
        });
        let mut index0 = HashMap::new();
        let mut hm0 = Vec::new();
        hashmap_fold(&prefix, &mut index0, &mut hm0);
        g.bench_function("baseline_hashmap", |b| {
            b.iter_batched_ref(
                || (index0.clone(), hm0.clone()),
                |(index, agents)| black_box(hashmap_fold(&measured, index, agents)),
                BatchSize::LargeInput,
            )
        });

        let mut occ0 = Occupancy::new(config.default_tenant.occupancy(), Default::default()).with_changes(false);
        fold_all(&mut occ0, &prefix);
        g.bench_function("occupancy", |b| {
            b.iter_batched_ref(|| occ0.clone(), |p| fold_all(p, &measured), BatchSize::LargeInput)
        });

        let mut comp0 = Compliance::new(config.default_tenant.compliance(), Default::default());
        comp0.set_change_log(false);
        fold_all(&mut comp0, &prefix);
        g.bench_function("compliance", |b| {
            b.iter_batched_ref(|| comp0.clone(), |p| fold_all(p, &measured), BatchSize::LargeInput)
        });

        let mut pair0 = Pair::new(&config);
        fold_all(&mut pair0, &prefix);
        g.bench_function("occupancy+compliance", |b| {
            b.iter_batched_ref(|| pair0.clone(), |p| fold_all(p, &measured), BatchSize::LargeInput)
        });

        // The engine as replay runs it: occupancy, compliance and the metrics histograms,
        // no change log.
        let mut eng0 = Engine::new(&config);
        eng0.set_change_log(false);
        fold_all(&mut eng0, &prefix);
        g.bench_function("engine", |b| {
            b.iter_batched_ref(|| eng0.clone(), |p| fold_all(p, &measured), BatchSize::LargeInput)
        });

        // The engine as the server's follower runs it: changes on, turned into
        // `/v1/stream` pushes every 4096 records.
        let mut live0 = Engine::new(&config);
        fold_all(&mut live0, &prefix);
        let _ = live0.take_pushes();
        g.bench_function("engine_with_pushes", |b| {
            b.iter_batched_ref(
                || live0.clone(),
                |p| {
                    for chunk in measured.chunks(4096) {
                        fold_all(p, chunk);
                        black_box(p.take_pushes());
                    }
                },
                BatchSize::LargeInput,
            )
        });
        g.finish();
    }
}

criterion_group!(benches, fold);
criterion_main!(benches);
