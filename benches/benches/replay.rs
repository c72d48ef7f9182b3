//! Replay from a real data directory: the simulated day at 10k agents appended to a sled
//! log (as the server stores it), the log closed, then read back.
//!
//! * `open`: opening the data directory (the tail scan that rebuilds the duplicate index);
//! * `read_raw`: committed records as stored (no decode);
//! * `read_decode`: records decoded into envelopes;
//! * `read_decode_fold`: decoded and folded through the engine, as `seatwatch replay`
//!   and a restart without a snapshot do;
//! * `read_decode_fold_threads`: what `seatwatch replay` does: a reader thread reads and
//!   decodes runs of 16,384 records (two runs queued) while the engine folds the last
//!   run with occupancy on this thread and compliance beside it
//!   (`Engine::apply_runs_parallel`);
//! * `baseline_fold_in_memory`: the same fold over the same envelopes already in memory,
//!   one record at a time on one thread, the same-run baseline: `read_decode_fold` minus
//!   this is what the log costs.
//!
//! Run: `cargo bench -p seatwatch-benches --bench replay`.

use chrono::NaiveTime;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use seatwatch_benches::{envelopes, fold_all, sim_config, smoke_test};
use seatwatch_config::Config;
use seatwatch_engine::Engine;
use seatwatch_log::{Log, OpenOptions, Pending};
use seatwatch_model::{Envelope, Projector};
use std::hint::black_box;
use std::time::Duration;

/// Records per run in `read_decode_fold_threads`, as `seatwatch replay` reads them.
const RUN: usize = 16_384;

fn replay(c: &mut Criterion) {
    let smoke = smoke_test();
    let (agents, records) = if smoke { (200, 5_000) } else { (10_000, 1_000_000) };
    let (prefix, rest) = envelopes(&sim_config(agents, 1), NaiveTime::MIN, records);
    let all: Vec<_> = prefix.into_iter().chain(rest).collect();
    let n = all.len() as u64;
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    {
        // Durability does not matter for a read bench: no fsync while building.
        let log = match Log::open_with(dir.path(), OpenOptions { sync_data: false, ..OpenOptions::default() }) {
            Ok(l) => l,
            Err(e) => panic!("open: {e}"),
        };
        for chunk in all.chunks(1000) {
            let batch = chunk
                .iter()
                .map(|e| Pending {
                    tenant: e.tenant.to_string().into(),
                    source: e.source.to_string().into(),
                    received: e.received,
                    event: e.event.clone(),
                })
                .collect();
            if let Err(e) = log.append_blocking(batch) {
                panic!("append: {e}");
            }
        }
        if let Err(e) = log.close() {
            panic!("close: {e}");
        }
    }
    eprintln!("replay: {n} records of {agents} agents, {} bytes on disk", dir_size(dir.path()));

    let mut g = c.benchmark_group("replay");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(n));
    g.bench_function("open", |b| {
        b.iter(|| match Log::open(dir.path()) {
            Ok(log) => {
                let head = log.head().last_seq;
                let _ = log.close();
                head
            }
            Err(e) => panic!("open: {e}"),
        })
    });
    let log = match Log::open(dir.path()) {
        Ok(l) => l,
        Err(e) => panic!("open: {e}"),
    };
    g.bench_function("read_raw", |b| b.iter(|| log.read_raw_from(1).filter(|r| r.is_ok()).count()));
    g.bench_function("read_decode", |b| b.iter(|| log.read_from(1).filter(|r| r.is_ok()).count()));
    let config = Config::default();
    let fresh = || {
        let mut e = Engine::new(&config);
        e.set_change_log(false);
        e
    };
    g.bench_function("read_decode_fold", |b| {
        b.iter_batched_ref(
            fresh,
            |engine| {
                for env in log.read_from(1).flatten() {
                    engine.apply(&env);
                }
                black_box(engine.position())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("read_decode_fold_threads", |b| {
        b.iter_batched_ref(
            fresh,
            |engine| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Envelope>>(2);
                let log = &log;
                std::thread::scope(|s| {
                    // `move`: the channel closes when the reader is done.
                    s.spawn(move || {
                        let mut run = Vec::with_capacity(RUN);
                        for env in log.read_from(1).flatten() {
                            run.push(env);
                            if run.len() == RUN {
                                let _ = tx.send(std::mem::replace(&mut run, Vec::with_capacity(RUN)));
                            }
                        }
                        let _ = tx.send(run);
                    });
                    engine.apply_runs_parallel(rx, |run, occupancy| occupancy.apply_run(run));
                });
                black_box(engine.position())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("baseline_fold_in_memory", |b| {
        b.iter_batched_ref(
            fresh,
            |engine| {
                fold_all(engine, &all);
                black_box(engine.position())
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
    let _ = log.close();
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

criterion_group!(benches, replay);
criterion_main!(benches);
