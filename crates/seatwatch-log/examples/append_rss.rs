//! Resident memory of the log alone while it takes appends (docs/performance.md, memory).
//!
//! ```text
//! cargo run --release -p seatwatch-log --example append_rss -- DIR [EVENTS]
//! ```
//!
//! Appends EVENTS (default 2,000,000) `answered` events of 10,000 agents in durable
//! batches of 1,000 to a new log in DIR and prints the process's RSS every 500,000
//! events and after close: what sled's cache and the duplicate index cost per event.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatwatch_log::{Log, Pending};
use seatwatch_model::{AgentId, CallId, Event, EventKind, Ts};

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let pick = |k: &str| {
        status.lines().find(|l| l.starts_with(k)).map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
    };
    format!("RSS {} KiB (peak {} KiB)", pick("VmRSS:").unwrap_or_default(), pick("VmHWM:").unwrap_or_default())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: append_rss DIR [EVENTS]"));
    let n: u64 = args.next().map_or(2_000_000, |s| s.parse().expect("EVENTS is a number"));
    let log = Log::open(&dir).unwrap();
    println!("opened: {}", rss());
    let started = std::time::Instant::now();
    let t0 = 1_772_413_200_000_000_000i64;
    let mut i = 0u64;
    while i < n {
        let batch: Vec<Pending> = (i..(i + 1000).min(n))
            .map(|k| {
                let ts = Ts { nanos: t0 + k as i64 * 1000, offset_secs: 0 };
                let kind = EventKind::Answered { call: CallId::from(format!("call-{k:010}")), rings: Some(2) };
                let agent = Some(AgentId::from(format!("agent-{:05}", k % 10_000)));
                let event = Event { id: format!("ev-{k:012}").into(), ts, agent, kind, extra: None };
                Pending { tenant: "acme".into(), source: "acd-1".into(), received: ts, event }
            })
            .collect();
        i += batch.len() as u64;
        log.append_blocking(batch).unwrap();
        if i.is_multiple_of(500_000) || i == n {
            println!("{i} events: {}", rss());
        }
    }
    log.close().unwrap();
    println!("closed: {} ({:.0} events/s)", rss(), n as f64 / started.elapsed().as_secs_f64());
}
