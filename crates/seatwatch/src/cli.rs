//! The command line (CONTRACT.md §1).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Seatwatch: event-sourced CTI telemetry — durable ingest of agent and call events,
/// live occupancy, compliance alarms and Prometheus metrics, reproducible audits.
#[derive(Debug, Parser)]
#[command(name = "seatwatch", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the engine: WebSocket ingest, HTTP read API, /metrics.
    Serve(ServeArgs),
    /// A simulated call centre's working day against an embedded server, in about a minute.
    Demo(DemoArgs),
    /// Drive any Seatwatch server with the simulated call centre (load generator).
    ///
    /// The simulated day starts at 08:00 (local) of the last workday up to today, and a
    /// `--speed` above 1 runs it ahead of the real clock: a tenant with `clock = "wall"`
    /// rejects what is ahead as `clock_skew`. Simulate against a tenant with
    /// `clock = "event"`, or give an earlier `--date`.
    ///
    /// Exit status: 0 every event sent was stored (accepted, or a duplicate of one
    /// stored before); 1 the run finished but some events were rejected or not
    /// acknowledged (a summary line on stderr says how many; the report shows the
    /// rejection codes); 2 the run could not be made (bad arguments, no server, a
    /// refused token, the connection lost).
    Simulate(SimulateArgs),
    /// Rebuild the projections from the log alone and print a report.
    Replay(ReplayArgs),
    /// Check the whole log: every record decodes, seqs are gapless, the hash chain holds.
    ///
    /// Exit status: 0 the log verifies ("ok: …" with its head); 1 the log is bad
    /// ("FAILED: …" and the first bad sequence number); 2 the log could not be checked
    /// (the directory is in use by a running server, missing, or unreadable, or the
    /// database cannot be opened at all, for instance because sled's own snapshot file
    /// is damaged: `seatwatch repair` sets that aside): no verdict.
    Verify(VerifyArgs),
    /// Make a log that does not verify usable again: move every record from the first
    /// bad one on into a quarantine file (nothing is deleted) and keep the good prefix.
    ///
    /// When the database file itself is damaged, the good prefix is copied into a new
    /// database and the whole old one moved into the quarantine; when sled cannot open
    /// the database, its snapshot (a cache) is set aside first. Exit status: 0 the log
    /// verifies now (what was done is printed); 2 it could not be repaired.
    Repair(RepairArgs),
    /// Copy a running server's log into a data directory of its own (or extend a copy).
    Backup(BackupArgs),
    /// Print the log's events as JSON, one per line (callers stay hashed).
    Export(ExportArgs),
    /// Make a new secret; print it once with the config lines that hold its SHA-256.
    Token(TokenArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The TOML configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory (created if missing).
    #[arg(long, value_name = "DIR", default_value = "./seatwatch-data")]
    pub data: PathBuf,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// Accept requests without tokens (every request is an admin of tenant `default`).
    /// Allowed on loopback addresses only.
    #[arg(long)]
    pub no_auth: bool,
    /// How the log is checked at start. `background`: start from the duplicate index's
    /// checkpoint, check the records after it before serving and the ones before it while
    /// serving (a bad record stops the server with exit code 2, as any refusal to start does). `full`: check every
    /// record before serving (start-up time grows with the log).
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = StartCheck::Background)]
    pub start_check: StartCheck,
}

/// How `seatwatch serve` checks the log at start.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum StartCheck {
    /// Records after the checkpoint before serving, the rest while serving.
    #[default]
    Background,
    /// Every record before serving.
    Full,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Simulated agents (1 to 1000000).
    #[arg(long, default_value_t = 50)]
    pub agents: u32,
    /// Real seconds the simulated working day takes (1 to 86400).
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Random seed (the same seed gives the same day).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Address for the embedded server (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// Keep the server running after the day ends, until Ctrl-C.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The server's ingest URL, e.g. ws://127.0.0.1:7878/v1/ingest.
    #[arg(long, value_name = "WS_URL")]
    pub url: String,
    /// A producer token's secret.
    #[arg(long, value_name = "SECRET", env = "SEATWATCH_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Simulated agents.
    #[arg(long, default_value_t = 50)]
    pub agents: u32,
    /// Queues.
    #[arg(long, default_value_t = 4)]
    pub queues: u32,
    /// Calls per hour, per queue.
    #[arg(long, default_value_t = 60.0)]
    pub call_rate: f64,
    /// Time compression: simulated seconds per real second (omit for as fast as possible).
    #[arg(long)]
    pub speed: Option<f64>,
    /// Fixed offered load in events per second (instead of --speed).
    #[arg(long, conflicts_with = "speed")]
    pub rate: Option<f64>,
    /// Stop after this many real seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Simulated working days.
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Events per frame (1 to 1000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch: u32,
    /// Concurrent WebSocket connections.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub connections: u32,
    /// Frames in flight (sent, not yet acknowledged) per connection.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100000))]
    pub in_flight: u32,
    /// How far (simulated seconds) connections may run ahead of each other; keeps
    /// other agents' events within the server's allowed lateness. 0 turns the guard off
    /// (raw throughput runs; elapsed-time alarms may then fire falsely).
    #[arg(long, default_value_t = 2.0)]
    pub max_skew: f64,
    /// Share of opportunities where an agent breaks a rule (0 to 1).
    #[arg(long, default_value_t = 0.05)]
    pub violations: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The simulated date (YYYY-MM-DD, local); default: today.
    #[arg(long)]
    pub date: Option<chrono::NaiveDate>,
    /// The tenant's time zone (IANA name).
    #[arg(long, default_value = "Asia/Shanghai")]
    pub timezone: chrono_tz::Tz,
    /// Prefix of event ids (change it to resend the same day as new events).
    #[arg(long, default_value = "sim")]
    pub id_prefix: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportKind {
    Alarms,
    Intervals,
    Attendance,
    Agents,
    Scorecard,
    Supervision,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Jsonl,
    Csv,
    Table,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The configuration the server ran with (tenants' time zones and rule parameters).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Which report.
    #[arg(long)]
    pub report: ReportKind,
    /// Start of the time range [from, to) (RFC 3339): alarms raised in it; intervals,
    /// days, weeks, months and spans that overlap it, whole (a scorecard row is its
    /// whole month). See docs/operations.md.
    #[arg(long, value_name = "TS")]
    pub from: Option<String>,
    /// End of the time range [from, to), exclusive (RFC 3339); see --from.
    #[arg(long, value_name = "TS")]
    pub to: Option<String>,
    /// Only this tenant.
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// Only this agent.
    #[arg(long, value_name = "ID")]
    pub agent: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    pub format: Format,
    /// Fold the log only up to this sequence number: the report as it was when the log
    /// ended there (stderr names that point's head hash, to compare with a published one).
    #[arg(long, value_name = "SEQ")]
    pub upto_seq: Option<u64>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// The data directory (not in use by a running server).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The server's base URL, e.g. http://127.0.0.1:7878.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// An admin token's secret.
    #[arg(long, value_name = "SECRET", env = "SEATWATCH_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The backup's data directory: created on the first run, extended on later ones.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// A copy of the server's DATA/caller.key, installed into a new backup so that a
    /// server restored from it hashes callers as the original did (an existing backup
    /// must already have this key).
    #[arg(long, value_name = "FILE")]
    pub caller_key: Option<PathBuf>,
    /// For an https:// URL: the PEM certificate(s) to trust (the server's own
    /// certificate, or the CA that issued it).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// One JSON object per line: seq, tenant, source, received, and the event.
    #[default]
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// Only this tenant's events.
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// Start at this sequence number (at most the log's last seq + 1, which exports
    /// nothing; a later one is refused).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub from_seq: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RoleArg {
    Producer,
    Reader,
    Admin,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The token's name: recorded as the source of every event sent with it.
    #[arg(long)]
    pub name: String,
    /// The tenant it belongs to.
    #[arg(long)]
    pub tenant: String,
    /// What it may do.
    #[arg(long, value_enum)]
    pub role: RoleArg,
}
