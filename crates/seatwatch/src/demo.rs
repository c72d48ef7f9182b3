//! `seatwatch demo`: an embedded server and a simulated call centre's working day.

use crate::cli::DemoArgs;
use crate::simulate::workday_on_or_before;
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rand::RngCore;
use seatwatch_config::{ClockMode, Config, Role, TenantConfig, TokenConfig, hash_secret};
use seatwatch_ingest::{AppState, ServerOptions};
use seatwatch_log::Log;
use seatwatch_model::Projector;
use seatwatch_sim::client::{ClientOptions, run as run_client};
use seatwatch_sim::generator::{SimConfig, generate};
use std::collections::BTreeMap;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

const TENANT: &str = "demo";
/// The longest `--seconds`: a day, already slower than the simulated day itself.
const MAX_SECONDS: u64 = 86_400;

fn secret() -> String {
    let mut b = [0u8; 24];
    rand::rng().fill_bytes(&mut b);
    format!("sw_{}", hex::encode(b))
}

/// `println!` that ends the demo with the I/O error instead of panicking when stdout
/// cannot be written (`seatwatch demo | head` closes it early).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*).map_err(anyhow::Error::new)?;
    }};
}

pub fn run(a: DemoArgs) -> Result<ExitCode> {
    crate::init_tracing("warn");
    let (sim, speed) = simulation(&a)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    match runtime.block_on(demo(a, sim, speed)) {
        // The reader of stdout went away: the demo stops (its server too), quietly.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) => {
            Ok(ExitCode::SUCCESS)
        }
        r => r.map(|()| ExitCode::SUCCESS),
    }
}

/// The demo's simulated day, checked: nothing is started before the settings are known
/// to be good.
fn simulation(a: &DemoArgs) -> Result<(SimConfig, f64)> {
    if !(1..=MAX_SECONDS).contains(&a.seconds) {
        bail!("--seconds must be 1 to {MAX_SECONDS} (the day's length in real seconds), got {}", a.seconds);
    }
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let sim = SimConfig { seed: a.seed, agents: a.agents, day: workday_on_or_before(today), ..SimConfig::default() };
    sim.validate().map_err(|e| match e.field {
        "agents" => anyhow::anyhow!("--agents {}", e.message),
        _ => anyhow::Error::new(e),
    })?;
    let day_secs = (sim.end - sim.start).num_seconds().max(1) as f64;
    Ok((sim, day_secs / a.seconds as f64))
}

async fn demo(a: DemoArgs, sim: SimConfig, speed: f64) -> Result<()> {
    let events = generate(&sim).context("simulation settings")?;
    let dir = tempfile::Builder::new()
        .prefix("seatwatch-demo-")
        .tempdir()
        .context("cannot make a temporary data directory")?;
    let data = dir.path().join("data");
    let (producer, reader) = (secret(), secret());
    let mut tenants = BTreeMap::new();
    tenants.insert(TENANT.to_owned(), TenantConfig { clock: ClockMode::Event, ..TenantConfig::default() });
    let config = Config {
        tokens: vec![
            TokenConfig {
                name: "demo-acd".into(),
                tenant: TENANT.into(),
                role: Role::Producer,
                sha256: hash_secret(&producer),
                rate_limit: None,
            },
            TokenConfig {
                name: "demo-supervisor".into(),
                tenant: TENANT.into(),
                role: Role::Reader,
                sha256: hash_secret(&reader),
                rate_limit: None,
            },
        ],
        tenants,
        ..Config::default()
    };
    let log = Log::open(&data).with_context(|| format!("cannot open {}", data.display()))?;
    let listener = match tokio::net::TcpListener::bind(a.listen).await {
        Ok(l) => l,
        Err(e) => {
            let l = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.context("cannot listen on 127.0.0.1")?;
            // The newcomer's demo runs whatever else holds the port; it says where.
            eprintln!(
                "note: cannot listen on {} ({e}); the demo listens on {} instead",
                a.listen,
                l.local_addr().map_or_else(|_| "another port".to_owned(), |x| x.to_string())
            );
            l
        }
    };
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    // However the demo ends (an error, or a panic such as printing into a closed pipe:
    // `seatwatch demo | head`), the server stops: otherwise the runtime's drop would wait
    // for the projections' follower forever.
    let _stop_on_exit = shutdown.clone().drop_guard();
    let state = AppState::new(config, log, ServerOptions::default(), shutdown.clone());
    let server = tokio::spawn(seatwatch_ingest::run(listener, state.clone()));
    tokio::spawn(crate::serve::signals(shutdown.clone()));

    // However the day ends (an error, stdout closed under `seatwatch demo | head`), the
    // server is stopped and awaited before the runtime goes: a server task dropped
    // half-way through its shutdown would leave the projections' thread waiting.
    let day = run_day(&a, &sim, speed, events, &state, &shutdown, addr, &data, &producer, &reader).await;
    shutdown.cancel();
    let served = server.await.context("server task").and_then(|r| r.context("server"));
    day.and(served)
}

/// The demo's day against its running server: the banner, the simulated call centre,
/// the summary.
#[allow(clippy::too_many_arguments)]
async fn run_day(
    a: &DemoArgs,
    sim: &SimConfig,
    speed: f64,
    events: seatwatch_sim::generator::Generator,
    state: &AppState,
    shutdown: &CancellationToken,
    addr: std::net::SocketAddr,
    data: &std::path::Path,
    producer: &str,
    reader: &str,
) -> Result<()> {
    let day_secs = (sim.end - sim.start).num_seconds().max(1) as f64;
    say!(
        "Seatwatch demo: {} agents, {} queues, the working day of {} (Asia/Shanghai) compressed {speed:.0}x into ~{} s.",
        sim.agents,
        sim.queues,
        sim.day,
        a.seconds
    );
    say!("Data directory (temporary): {}", data.display());
    say!();
    say!("While it runs, look at:");
    say!("  http://{addr}/metrics?access_token={reader}");
    say!("  http://{addr}/v1/alarms?access_token={reader}");
    say!("  http://{addr}/v1/agents?access_token={reader}");
    say!("  http://{addr}/v1/intervals?access_token={reader}");
    say!("  ws://{addr}/v1/stream?access_token={reader}   (live pushes)");
    say!("PromQL to try once Prometheus scrapes /metrics:");
    say!("  sum by (state) (seatwatch_agents{{tenant=\"demo\"}})");
    say!("  sum by (rule) (increase(seatwatch_alarms_raised_total[5m]))");
    say!();

    let bar = ProgressBar::new(day_secs as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let bar2 = bar.clone();
    let start_of_day = sim.start;
    let opts = ClientOptions {
        connections: 1,
        batch: 50,
        max_in_flight: 32,
        speed: Some(speed),
        progress: Some(Box::new(move |p: &seatwatch_sim::client::Progress| {
            let local = p.sim_time.map(|t| t.time());
            if let Some(t) = local {
                bar2.set_position((t - start_of_day).num_seconds().max(0) as u64);
            }
            bar2.set_message(format!(
                "{} local · {} events sent, {} acked",
                local.map(|t| t.format("%H:%M").to_string()).unwrap_or_default(),
                p.events_sent,
                p.events_acked
            ));
        })),
        ..ClientOptions::new(format!("ws://{addr}/v1/ingest"), producer.to_owned())
    };
    let report = run_client(events, opts).await.context("the simulated call centre failed")?;
    bar.finish_and_clear();

    // Let the projections fold the last records.
    while state.engine.read().map(|e| e.position()).unwrap_or(0) < state.log.head().last_seq {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    print_summary(state, &report)?;

    if a.keep {
        say!();
        say!("The server keeps running at http://{addr}/ — press Ctrl-C to stop.");
        shutdown.cancelled().await;
    }
    Ok(())
}

fn print_summary(state: &AppState, report: &seatwatch_sim::client::Report) -> Result<()> {
    let Ok(engine) = state.engine.read() else { return Ok(()) };
    let head = state.log.head();
    say!("The day is over.");
    say!();
    say!(
        "Ingest: {} events sent, {} accepted, {} duplicate, {} rejected; ack latency p50 {} µs, p99 {} µs, max {} µs.",
        report.events_sent,
        report.accepted,
        report.duplicate,
        report.rejected_by_code.values().sum::<u64>(),
        report.ack_latency_us.p50,
        report.ack_latency_us.p99,
        report.ack_latency_us.max
    );
    say!("Log: {} records, head {}", head.last_seq, head.hash_hex());
    say!();
    let mut by_state: BTreeMap<&str, u32> = BTreeMap::new();
    let agents = engine.occupancy.agents(TENANT);
    for ag in &agents {
        *by_state.entry(ag.state.as_str()).or_default() += 1;
    }
    let roster_only = engine.occupancy.agents_with_roster(TENANT).len().saturating_sub(agents.len());
    let not_seen = if roster_only > 0 {
        format!(" (and {roster_only} on the roster who did not log in: on leave or absent)")
    } else {
        String::new()
    };
    say!("Agents now: {}{not_seen}", by_state.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", "));
    say!();
    say!("Queues, whole day:");
    say!(
        "  {:<12} {:>7} {:>8} {:>8} {:>9} {:>9} {:>7} {:>8} {:>8}",
        "queue",
        "queued",
        "offered",
        "answered",
        "in 3 rings",
        "abandoned",
        "missed",
        "ASA s",
        "AHT s"
    );
    for (queue, t) in engine.occupancy.totals(TENANT) {
        let name = queue.as_ref().map(|q| q.as_str().to_owned()).unwrap_or_else(|| "(all)".into());
        let asa = if t.answered > 0 { t.answer_delay_seconds / t.answered as f64 } else { 0.0 };
        let aht = if t.handled > 0 { t.handle_seconds / t.handled as f64 } else { 0.0 };
        say!(
            "  {:<12} {:>7} {:>8} {:>8} {:>9} {:>9} {:>7} {:>8.1} {:>8.1}",
            name,
            t.queued,
            t.offered,
            t.answered,
            t.answered_in_time,
            t.abandoned,
            t.missed,
            asa,
            aht
        );
    }
    say!();
    let raised = engine.compliance.raised_counts(TENANT);
    let active = engine.compliance.active_counts(TENANT);
    say!("Alarms raised today, by rule (still active):");
    if raised.is_empty() {
        say!("  none");
    }
    for (rule, n) in &raised {
        say!("  {:<26} {:>4}  ({})", rule.as_str(), n, active.get(rule).copied().unwrap_or(0));
    }
    Ok(())
}
