//! Log benches: append throughput (events/s) by batch size and number of concurrent
//! appenders, the cost of `sync_data`, and replay (read_from + decode) throughput.
//!
//! Every append is durable on return (flush + `sync_data`) unless the name says `nosync`.
//! Run: `cargo bench -p seatwatch-benches --bench log_append`. The figures quoted in
//! docs/adr/0001-storage.md come from this file.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use seatwatch_log::{Log, OpenOptions, Pending};
use seatwatch_model::{AgentId, CallId, Event, EventKind, QueueId, Ts};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A typical event (an `offered`, ~150 bytes encoded) with a fresh id.
fn event() -> Pending {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    Pending {
        tenant: "acme".into(),
        source: "acd-1".into(),
        received: Ts::from_nanos(1_772_413_200_000_000_000 + n as i64 * 1_000_000),
        event: Event {
            id: format!("e-{n}").into(),
            ts: Ts::from_nanos(1_772_413_200_000_000_000 + n as i64 * 1_000_000),
            agent: Some(AgentId::from("a017")),
            kind: EventKind::Offered {
                call: CallId::from(format!("c-{}", n / 4)),
                queue: Some(QueueId::from("billing")),
                caller: None,
                emergency: false,
                priority: None,
            },
            extra: None,
        },
    }
}

/// `appenders` threads each append `rounds` batches of `batch` events; the time they take.
fn run(log: &Log, appenders: usize, batch: usize, rounds: u64) -> Duration {
    let work: Vec<Vec<Vec<Pending>>> =
        (0..appenders).map(|_| (0..rounds).map(|_| (0..batch).map(|_| event()).collect()).collect()).collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for batches in work {
            s.spawn(move || {
                for b in batches {
                    let _ = log.append_blocking(b);
                }
            });
        }
    });
    start.elapsed()
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("log_append");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    let cases: &[(usize, usize, bool)] = &[
        (1, 1, true),
        (1, 8, true),
        (64, 1, true),
        (64, 4, true),
        (1000, 1, true),
        (1000, 4, true),
        (1, 1, false),
        (64, 4, false),
    ];
    for &(batch, appenders, sync) in cases {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("tempdir: {e}"),
        };
        let log = match Log::open_with(dir.path(), OpenOptions { sync_data: sync, ..OpenOptions::default() }) {
            Ok(l) => l,
            Err(e) => panic!("open: {e}"),
        };
        g.throughput(Throughput::Elements((batch * appenders) as u64));
        let name = format!("batch{batch}_appenders{appenders}{}", if sync { "" } else { "_nosync" });
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| run(&log, appenders, batch, iters));
        });
        let _ = log.close();
    }
    g.finish();
}

fn replay(c: &mut Criterion) {
    const N: usize = 100_000;
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let log = match Log::open_with(dir.path(), OpenOptions { sync_data: false, ..OpenOptions::default() }) {
        Ok(l) => l,
        Err(e) => panic!("open: {e}"),
    };
    for _ in 0..N / 1000 {
        let _ = log.append_blocking((0..1000).map(|_| event()).collect());
    }
    let mut g = c.benchmark_group("log_replay");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("read_from_decode_100k", |b| {
        b.iter(|| log.read_from(1).filter(|r| r.is_ok()).count());
    });
    g.bench_function("read_raw_from_100k", |b| {
        b.iter(|| log.read_raw_from(1).filter(|r| r.is_ok()).count());
    });
    g.finish();
}

criterion_group!(benches, append, replay);
criterion_main!(benches);
