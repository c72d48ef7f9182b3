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

pub fn run(a: SimulateArgs) -> Result<ExitCode> {
    crate::init_tracing("warn");
    if !(0.0..=1.0).contains(&a.violations) {
        bail!("--violations must be between 0 and 1, got {}", a.violations);
    }
    if !(a.call_rate.is_finite() && a.call_rate >= 0.0) {
        bail!("--call-rate must be a non-negative number, got {}", a.call_rate);
    }
    if !(a.max_skew.is_finite() && a.max_skew >= 0.0) {
        bail!("--max-skew must be a number of seconds ≥ 0, got {}", a.max_skew);
    }
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
        duration: a.duration.map(Duration::from_secs_f64),
        max_skew: (a.max_skew > 0.0).then(|| Duration::from_secs_f64(a.max_skew)),
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
    Ok(ExitCode::SUCCESS)
}
