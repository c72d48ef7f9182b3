//! Where single-event commits stall (docs/performance.md, latency).
//!
//! ```text
//! cargo run --release -p seatwatch-log --example commit_stalls -- DIR [SECONDS] [THREADS]
//! ```
//!
//! THREADS (default 4) threads append one event at a time, durably, for SECONDS (default
//! 20) to a new log in DIR, like single-event frames from that many connections. Prints
//! every append slower than 5 ms with when it happened, then the latency percentiles.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatwatch_log::{Log, Pending};
use seatwatch_model::{AgentId, CallId, Event, EventKind, Ts};
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: commit_stalls DIR [SECONDS] [THREADS]"));
    let secs: u64 = args.next().map_or(20, |s| s.parse().expect("SECONDS is a number"));
    let threads: u64 = args.next().map_or(4, |s| s.parse().expect("THREADS is a number"));
    let log = Log::open(&dir).unwrap();
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let t0 = 1_772_413_200_000_000_000i64;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut k = 0u64;
                while Instant::now() < end {
                    let ts = Ts { nanos: t0 + k as i64 * 1000, offset_secs: 0 };
                    let kind = EventKind::Answered { call: CallId::from(format!("call-{t}-{k:010}")), rings: Some(2) };
                    let agent = Some(AgentId::from(format!("agent-{:05}", k % 10_000)));
                    let event = Event { id: format!("ev-{t}-{k:012}").into(), ts, agent, kind, extra: None };
                    let p = Pending { tenant: "acme".into(), source: "acd-1".into(), received: ts, event };
                    let s = Instant::now();
                    log.append_blocking(vec![p]).unwrap();
                    let d = s.elapsed();
                    if d > Duration::from_millis(5) {
                        println!(
                            "thread {t}: append {k} at {:.3} s took {:.1} ms",
                            s.duration_since(start).as_secs_f64(),
                            d.as_secs_f64() * 1e3
                        );
                    }
                    lat.push(d);
                    k += 1;
                }
                lat
            })
        })
        .collect();
    let mut all: Vec<Duration> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    all.sort();
    let q = |p: f64| all[((all.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    println!(
        "{} appends in {secs} s: p50 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ms; {} commits",
        all.len(),
        q(0.5),
        q(0.99),
        q(0.999),
        q(1.0),
        log.stats().commits
    );
    log.close().unwrap();
}
