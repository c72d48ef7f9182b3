//! `seatwatch simulate`: the simulated call centre as a load generator.

use crate::cli::SimulateArgs;
use anyhow::{Context, Result, bail};
use seatwatch_sim::client::{ClientOptions, run as run_client};
use seatwatch_sim::generator::{SimConfig, generate};
use std::process::ExitCode;
use std::time::Duration;

/// The most recent weekday on or before `d` (the default schedule is Mon–Fri).
pub fn workday_on_or_before(mut d: chrono::NaiveDate) -> chrono::NaiveDate {
    use chrono::Datelike;
    while matches!(d.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) {
        d = d.pred_opt().unwrap_or(d);
    }
    d
}

/// The longest span a seconds flag takes (about 31 years): longer ones are typos, and
/// `Duration` and `Instant` arithmetic overflow somewhere past it.
const MAX_SECONDS: f64 = 1e9;

/// A flag's number of seconds as a `Duration`: finite, positive (or zero when
/// `zero_ok`), at most [`MAX_SECONDS`]; a specific error otherwise (never a panic).
pub fn seconds_arg(flag: &str, secs: f64, zero_ok: bool) -> Result<Duration> {
    let low_ok = if zero_ok { secs >= 0.0 } else { secs > 0.0 };
    if !(secs.is_finite() && low_ok && secs <= MAX_SECONDS) {
        let what = if zero_ok { "a number of seconds from 0" } else { "a positive number of seconds" };
        // 1e30 as written, not as thirty-one digits.
        let got = if secs.is_finite() && secs.abs() >= 1e15 { format!("{secs:e}") } else { secs.to_string() };
        bail!("{flag} must be {what} up to {MAX_SECONDS:e}, got {got}");
    }
    Duration::try_from_secs_f64(secs).with_context(|| format!("{flag}: {secs} is not a valid number of seconds"))
}

pub fn run(a: SimulateArgs) -> Result<ExitCode> {
    crate::init_tracing("warn");
    if !(0.0..=1.0).contains(&a.violations) {
        bail!("--violations must be between 0 and 1, got {}", a.violations);
    }
    if !(a.call_rate.is_finite() && a.call_rate >= 0.0) {
        bail!("--call-rate must be a non-negative number, got {}", a.call_rate);
    }
    let max_skew = seconds_arg("--max-skew", a.max_skew, true)?;
    let duration = a.duration.map(|d| seconds_arg("--duration", d, false)).transpose()?;
    if let Some(s) = a.speed.filter(|s| !(s.is_finite() && *s > 0.0)) {
        bail!("--speed must be a positive number, got {s}");
    }
    if let Some(r) = a.rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
        bail!("--rate must be a positive number of events per second, got {r}");
    }
    if !a.url.starts_with("ws://") && !a.url.starts_with("wss://") {
        bail!("--url must be a WebSocket URL such as ws://127.0.0.1:7878/v1/ingest, got {:?}", a.url);
    }
    let today = chrono::Utc::now().with_timezone(&a.timezone).date_naive();
    let cfg = SimConfig {
        seed: a.seed,
        agents: a.agents,
        queues: a.queues,
        calls_per_hour: a.call_rate,
        day: a.date.unwrap_or_else(|| workday_on_or_before(today)),
        timezone: a.timezone,
        days: a.days,
        violation_rate: a.violations,
        id_prefix: a.id_prefix.clone(),
        ..SimConfig::default()
    };
    let events = generate(&cfg).context("the simulation settings are not valid")?;
    let opts = ClientOptions {
        connections: a.connections as usize,
        batch: a.batch as usize,
        max_in_flight: a.in_flight as usize,
        speed: a.speed,
        rate: a.rate,
        duration,
        max_skew: (!max_skew.is_zero()).then_some(max_skew),
        ..ClientOptions::new(a.url.clone(), a.token.clone())
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let report = runtime.block_on(run_client(events, opts)).with_context(|| format!("simulating against {}", a.url))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    // Every event sent must be stored (accepted, or a duplicate of one stored before);
    // a run where some were not is a failure, whatever the throughput.
    let rejected = report.rejected();
    let unanswered = report.events_sent.saturating_sub(report.accepted + report.duplicate + rejected);
    if rejected > 0 || unanswered > 0 || report.mismatched_acks > 0 {
        eprintln!(
            "simulate: FAILED: of {} events sent, {rejected} were rejected and {unanswered} not acknowledged{}",
            report.events_sent,
            if report.mismatched_acks > 0 {
                format!(" ({} replies did not account for their frame's events)", report.mismatched_acks)
            } else {
                String::new()
            }
        );
        if report.rejected_by_code.contains_key("clock_skew") {
            eprintln!(
                "simulate: the server rejected events stamped ahead of its clock (`clock_skew`): its tenant uses \
                 `clock = \"wall\"`, and a simulated day sped up runs ahead of the real one. Run simulations \
                 against a tenant with `clock = \"event\"` (docs/configuration.md), or keep the simulated day \
                 in the past: `--date` an earlier day, a lower `--speed`"
            );
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
