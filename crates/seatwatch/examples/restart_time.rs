//! How long a server takes to become ready after a restart, with and without a
//! snapshot, on a log of N simulated events (docs/performance.md).
//!
//! ```text
//! cargo run --release -p seatwatch --example restart_time -- DIR [EVENTS] [TAIL]
//! ```
//!
//! Builds (once) a log of EVENTS events (default 10,000,000) in DIR/data with the
//! simulated call centre, sent through the same validation and log as live ingest. Then
//! measures what `seatwatch serve` does before it is ready:
//!
//! 1. without a snapshot: open the log (its scan rebuilds the duplicate index) and fold
//!    every record into the projections (the follower's `catch_up`);
//! 2. writes the snapshot a clean shutdown writes;
//! 3. with that snapshot: open the log, load and check the snapshot, fold what follows;
//! 4. the same after appending TAIL more events (default 100,000), as after a crash some
//!    minutes past the last periodic snapshot.
//!
//! Steps 3 and 4 run twice: with the full check of the log before serving
//! (`--start-check full`, [`OpenCheck::Full`]) and from the duplicate index's checkpoint
//! (`--start-check background`, the default, [`OpenCheck::Checkpoint`]), which also
//! reports how long the background check of the records before the checkpoint took. In
//! step 4 the checkpoint is the one of step 3 (a crash: the tail after it is scanned).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatwatch_config::Config;
use seatwatch_ingest::{AppState, ServerOptions, follower, snapshot};
use seatwatch_log::{INDEX_META_FILE, Log, OpenCheck, OpenOptions, Pending};
use seatwatch_model::{CallerKey, CallerPolicy, IngestOptions, Projector, validate_event};
use seatwatch_sim::SimConfig;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn config() -> Config {
    Config::parse("[tenant.acme]\nclock = \"event\"\n").unwrap()
}

/// Append simulated events until the log holds `target` records.
fn fill(log: &Log, target: u64, first_day: chrono::NaiveDate, prefix: &str) {
    let have = log.head().last_seq;
    if have >= target {
        return;
    }
    let sim = SimConfig {
        seed: 42,
        agents: 200,
        queues: 8,
        calls_per_hour: 150.0,
        day: first_day,
        days: 3000,
        violation_rate: 0.05,
        heartbeat_every: Duration::from_secs(30),
        id_prefix: prefix.to_owned(),
        ..SimConfig::default()
    };
    let key = CallerKey([1; 32]);
    let opts = IngestOptions::any_time("acme", CallerPolicy::Hmac, &key);
    let started = Instant::now();
    let mut batch = Vec::with_capacity(2000);
    let mut n = have;
    for ev in seatwatch_sim::generate(&sim).unwrap() {
        let v: serde_json::Value = serde_json::from_str(&ev.json).unwrap();
        let event = validate_event(&seatwatch_model::Json::from_value(&v), 0, &opts).unwrap();
        batch.push(Pending { tenant: "acme".into(), source: "acd-1".into(), received: event.ts, event });
        if batch.len() == 2000 || n + batch.len() as u64 >= target {
            let out = log.append_blocking(std::mem::take(&mut batch)).unwrap();
            n += out.iter().filter(|o| matches!(o, seatwatch_log::AppendOutcome::Appended(_))).count() as u64;
            if n % 1_000_000 < 2000 {
                eprintln!("  {n} records ({:.0} events/s)", (n - have) as f64 / started.elapsed().as_secs_f64());
            }
            if n >= target {
                break;
            }
        }
    }
    eprintln!("log filled to {n} records in {:.1} s", started.elapsed().as_secs_f64());
}

/// What `seatwatch serve` does before it is ready; returns (seconds, records folded).
fn start(data: &Path, use_snapshot: bool, check: OpenCheck) -> (f64, f64, f64, u64, AppStateGuard) {
    let t0 = Instant::now();
    let log = Log::open_with(data, OpenOptions { check, ..OpenOptions::default() }).unwrap();
    let opened = t0.elapsed().as_secs_f64();
    let config = config();
    let engine = if use_snapshot { snapshot::load(&config, &log) } else { None };
    let loaded = t0.elapsed().as_secs_f64() - opened;
    let from = engine.as_ref().map_or(0, |e| e.position());
    let state = match engine {
        Some(e) => AppState::with_engine(config, log, e, ServerOptions::default(), CancellationToken::new()),
        None => AppState::new(config, log, ServerOptions::default(), CancellationToken::new()),
    };
    let folded = follower::catch_up(&state).unwrap();
    assert_eq!(state.engine.read().unwrap().position(), state.log.head().last_seq);
    let total = t0.elapsed().as_secs_f64();
    assert_eq!(folded, state.log.head().last_seq - from);
    (opened, loaded, total, folded, AppStateGuard(state))
}

struct AppStateGuard(std::sync::Arc<AppState>);

impl Drop for AppStateGuard {
    fn drop(&mut self) {
        self.0.log.close().unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).expect("usage: restart_time DIR [EVENTS] [TAIL]"));
    let events: u64 = args.get(2).map_or(10_000_000, |s| s.parse().unwrap());
    let tail: u64 = args.get(3).map_or(100_000, |s| s.parse().unwrap());
    let data = dir.join("data");
    {
        let log = Log::open(&data).unwrap();
        fill(&log, events, chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(), "r-");
        log.close().unwrap();
    }
    let _ = std::fs::remove_dir_all(data.join(snapshot::SNAPSHOT_DIR));

    let (open, _, cold, folded, guard) = start(&data, false, OpenCheck::Full);
    println!("without a snapshot: ready in {cold:.2} s (log open {open:.2} s, folded {folded} records)");
    let t = Instant::now();
    let path = snapshot::take(&guard.0).unwrap().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "snapshot at seq {}: written in {:.2} s, {size} bytes",
        guard.0.log.head().last_seq,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    drop(guard);
    println!("close (writes the duplicate index checkpoint): {:.2} s", t.elapsed().as_secs_f64());

    for (name, check) in [("full check", OpenCheck::Full), ("from the checkpoint", OpenCheck::Checkpoint)] {
        let (open, load, warm, folded, guard) = start(&data, true, check);
        println!(
            "{name}, with the shutdown snapshot: ready in {warm:.2} s (log open {open:.2} s, snapshot load {load:.2} s, \
             folded {folded} records)"
        );
        let t = Instant::now();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(guard.0.log.verified()).unwrap();
        println!("  background check done {:.2} s after ready", t.elapsed().as_secs_f64());
    }
    // A crash some minutes after the last snapshot and checkpoint: keep the checkpoint
    // of this point and put it back after the tail was appended and the log closed.
    let meta = std::fs::read(data.join(INDEX_META_FILE)).unwrap();
    let (_, _, _, _, guard) = start(&data, true, OpenCheck::Checkpoint);
    // The tail continues the simulated calendar from the day after the last event.
    let last = guard.0.log.head().last_seq;
    let last_ts = guard.0.log.read_from(last).next().unwrap().unwrap().event.ts;
    let next_day = last_ts.to_utc().with_timezone(&chrono_tz::Asia::Shanghai).date_naive().succ_opt().unwrap();
    fill(&guard.0.log, last + tail, next_day, &format!("tail{last}-"));
    drop(guard);
    for (name, check) in [("full check", OpenCheck::Full), ("from the checkpoint", OpenCheck::Checkpoint)] {
        std::fs::write(data.join(INDEX_META_FILE), &meta).unwrap();
        let (open, load, warm, folded, guard) = start(&data, true, check);
        println!(
            "{name}, with a snapshot and checkpoint {tail} records old: ready in {warm:.2} s (log open {open:.2} s, \
             snapshot load {load:.2} s, folded {folded} records)"
        );
        drop(guard);
    }
}
