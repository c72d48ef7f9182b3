//! The fold bench's workload as a plain program, for profilers (callgrind, perf):
//!
//! `cargo run --release -p seatwatch-benches --example foldprof -- WHAT AGENTS RECORDS`
//!
//! WHAT is `occupancy`, `compliance`, `pair`, `engine`, `engine-parallel` (runs of 16,384
//! records, `Engine::apply_runs_parallel`), `pushes` (the engine with its
//! `/v1/stream` pushes built every 4,096 records) or `bare`; the day is folded up to
//! 09:00 first (untimed), then RECORDS records are folded and timed. `mem` streams
//! RECORDS records into an engine and reports the resident memory per agent.
//!
//! `valgrind --tool=callgrind --toggle-collect='*measured_fold*'` counts the timed fold
//! only; `FOLDPROF_REPEAT=N perf record …` folds the records N more times first (untimed),
//! so that samples land mostly in the fold rather than in the event generator.

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
    if what == "mem" {
        return memory(agents, records);
    }
    if let Some(days) = what.strip_prefix("backlog") {
        return backlog(days.trim_start_matches('-').parse().unwrap_or(1), agents, records);
    }
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
            repeated_fold(&p, &measured);
            let t = Instant::now();
            measured_fold(&mut p, &measured);
            report(what, n, t);
        }
        "compliance" => {
            let mut p = Compliance::new(config.default_tenant.compliance(), Default::default());
            p.set_change_log(false);
            fold_all(&mut p, &prefix);
            eprintln!("prefix folded in {:?}", t.elapsed());
            repeated_fold(&p, &measured);
            let t = Instant::now();
            measured_fold(&mut p, &measured);
            report(what, n, t);
        }
        "pair" => {
            let mut p = seatwatch_benches::Pair::new(&config);
            fold_all(&mut p, &prefix);
            eprintln!("prefix folded in {:?}", t.elapsed());
            repeated_fold(&p, &measured);
            let t = Instant::now();
            measured_fold(&mut p, &measured);
            report(what, n, t);
        }
        "engine" => {
            let mut p = Engine::new(&config);
            p.set_change_log(false);
            fold_all(&mut p, &prefix);
            eprintln!("prefix folded in {:?}", t.elapsed());
            repeated_fold(&p, &measured);
            let t = Instant::now();
            measured_fold(&mut p, &measured);
            report(what, n, t);
        }
        "engine-parallel" => {
            // As `seatwatch replay` folds: runs of 16,384 records, compliance and the
            // histograms on a helper thread beside occupancy.
            let mut p = Engine::new(&config);
            p.set_change_log(false);
            fold_all(&mut p, &prefix);
            let runs: Vec<Vec<_>> = measured.chunks(16_384).map(<[_]>::to_vec).collect();
            let t = Instant::now();
            p.apply_runs_parallel(runs, |run, occupancy| seatwatch_model::Projector::apply_run(occupancy, run));
            report(what, n, t);
        }
        "pushes" => {
            // As the server's follower while someone listens on /v1/stream: change logs
            // on, the pushes taken (JSON built) after every 4,096 records.
            let mut p = Engine::new(&config);
            fold_all(&mut p, &prefix);
            p.take_pushes();
            eprintln!("prefix folded in {:?}", t.elapsed());
            for _ in 0..std::env::var("FOLDPROF_REPEAT").ok().and_then(|s| s.parse().ok()).unwrap_or(0) {
                measured_pushes(&mut p.clone(), &measured);
            }
            let t = Instant::now();
            let pushes = measured_pushes(&mut p, &measured);
            report(what, n, t);
            println!("{pushes} pushes");
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

/// The engine's memory per agent: stream `records` simulated records (not kept) into an
/// engine, then report the growth of the process's resident set and the snapshot size.
fn memory(agents: u32, records: usize) {
    use seatwatch_model::{CallerKey, CallerPolicy, Envelope, IngestOptions, Projector, parse_frame, validate_event};
    let key = CallerKey([7; 32]);
    let opts = IngestOptions::any_time(seatwatch_benches::TENANT, CallerPolicy::Hmac, &key);
    let config = Config::default();
    let rss0 = rss_kib();
    let mut engine = Engine::new(&config);
    engine.set_change_log(false);
    let mut seq = 0;
    let Ok(events) = seatwatch_sim::generate(&sim_config(agents, 1)) else { return };
    for ev in events.take(records) {
        let Some(event) =
            parse_frame(&ev.json).ok().and_then(|f| f.items.first().and_then(|v| validate_event(v, 0, &opts).ok()))
        else {
            continue;
        };
        seq += 1;
        let env =
            Envelope { seq, tenant: seatwatch_benches::TENANT.into(), source: "acd".into(), received: event.ts, event };
        engine.apply(&env);
    }
    let rss1 = rss_kib();
    let snap = engine.occupancy.snapshot().len() + engine.compliance.snapshot().len();
    let logged_in = engine
        .occupancy
        .agents(seatwatch_benches::TENANT)
        .iter()
        .filter(|a| a.state != seatwatch_occupancy::AgentState::LoggedOut)
        .count();
    let (mut alarms, mut message_bytes) = (0usize, 0usize);
    for (_, a) in engine.compliance.all_alarms() {
        alarms += 1;
        message_bytes += a.message.len();
    }
    println!("alarms: {alarms}, {:.0} message bytes each", message_bytes as f64 / alarms.max(1) as f64);
    println!(
        "mem: {agents} agents ({logged_in} logged in), {seq} records: RSS +{} KiB = {:.2} KiB/agent; snapshots {} KiB = {:.2} KiB/agent",
        rss1 - rss0,
        (rss1 - rss0) as f64 / f64::from(agents),
        snap / 1024,
        snap as f64 / 1024.0 / f64::from(agents)
    );
}

/// `backlog-DAYS`: a wall-clock tenant whose clock (a server tick) is DAYS days ahead of
/// the simulated day when the day's records arrive, as when a producer resends a backlog
/// after an outage: every record is late by about DAYS days. Folds the whole day (from
/// midnight, RECORDS records) through occupancy, then through the engine.
fn backlog(days: i64, agents: u32, records: usize) {
    use seatwatch_model::{Event, EventKind, Projector, Ts};
    let (_, day) = envelopes(&sim_config(agents, 1), NaiveTime::MIN, records);
    let Some(first) = day.first() else { return };
    let ahead = Ts { nanos: first.event.ts.nanos + days * 86_400_000_000_000, ..first.event.ts };
    let mut tick = first.clone();
    tick.source = "server".into();
    tick.received = ahead;
    tick.event = Event { id: Default::default(), ts: ahead, agent: None, kind: EventKind::Tick, extra: None };
    let records: Vec<_> = std::iter::once(tick)
        .chain(day)
        .enumerate()
        .map(|(i, mut e)| {
            e.seq = i as u64 + 1;
            e
        })
        .collect();
    let config = Config::default();
    let n = records.len() as f64;
    let mut occ = Occupancy::new(config.default_tenant.occupancy(), Default::default()).with_changes(false);
    let t = Instant::now();
    measured_fold(&mut occ, &records);
    report(&format!("occupancy, {days} days late"), n, t);
    // What the fold made, to compare builds: the snapshot's and the intervals' digests.
    // (std's SipHash with its fixed keys, as `folddigest` digests.)
    let digest = |b: &[u8]| {
        use std::hash::{DefaultHasher, Hasher};
        let mut h = DefaultHasher::new();
        h.write(b);
        h.finish()
    };
    let json = serde_json::to_vec(&occ.intervals(seatwatch_benches::TENANT, None, None, None)).unwrap_or_default();
    println!("occupancy snapshot {:016x}, intervals {:016x}", digest(&occ.snapshot()), digest(&json));
    let mut engine = Engine::new(&config);
    engine.set_change_log(false);
    let t = Instant::now();
    measured_fold(&mut engine, &records);
    report(&format!("engine, {days} days late"), n, t);
    let alarms = engine.compliance.all_alarms().count();
    println!("resident {} MiB with both; {alarms} alarms", rss_kib() / 1024);
    std::hint::black_box(engine.position());
}

fn rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The timed part, a separate symbol for `valgrind --tool=callgrind --toggle-collect=*measured_fold*`.
#[inline(never)]
fn measured_fold<P: seatwatch_model::Projector>(p: &mut P, records: &[seatwatch_model::Envelope]) {
    // With `FOLDPROF_RUN=N`: in runs of N records (`Projector::apply_run`), as the
    // server's follower folds a chunk read from the log.
    match std::env::var("FOLDPROF_RUN").ok().and_then(|s| s.parse::<usize>().ok()).filter(|&n| n > 0) {
        Some(n) => records.chunks(n).for_each(|run| p.apply_run(run)),
        None => fold_all(p, records),
    }
}

/// The engine's fold with its pushes taken every 4,096 records; how many there were.
#[inline(never)]
fn measured_pushes(p: &mut Engine, records: &[seatwatch_model::Envelope]) -> usize {
    records
        .chunks(4096)
        .map(|chunk| {
            fold_all(p, chunk);
            std::hint::black_box(p.take_pushes()).len()
        })
        .sum()
}

/// With `FOLDPROF_REPEAT=N`, fold the records N times into clones of the projector first
/// (untimed), so that a sampling profiler (`perf record`) sees mostly the fold rather
/// than the event generator.
#[inline(never)]
fn repeated_fold<P: seatwatch_model::Projector + Clone>(p: &P, records: &[seatwatch_model::Envelope]) {
    let repeat: usize = std::env::var("FOLDPROF_REPEAT").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    for _ in 0..repeat {
        let mut copy = p.clone();
        fold_all(&mut copy, records);
    }
}

fn report(what: &str, n: f64, t: Instant) {
    let el = t.elapsed();
    println!(
        "{what}: {n} records in {el:?}: {:.3} M records/s, {:.0} ns/record",
        n / el.as_secs_f64() / 1e6,
        el.as_nanos() as f64 / n
    );
}
