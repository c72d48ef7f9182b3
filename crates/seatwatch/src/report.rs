//! `seatwatch replay`: rebuild the projections from the log alone and print a report.

use crate::cli::{Format, ReplayArgs, ReportKind};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use seatwatch_log::{Head, Log, format};
use seatwatch_model::{Envelope, Ts};
use seatwatch_reports::{Filter, Replay};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Open an existing data directory for reading the whole log: refuses a directory with
/// no log (rather than creating one) and, through the log's lock, one a server holds.
pub fn open_existing(data: &Path) -> Result<Log> {
    if !data.join("log").is_dir() {
        bail!("no Seatwatch log in {}: expected the directory {}", data.display(), data.join("log").display());
    }
    Log::open(data).with_context(|| format!("cannot open the data directory {}", data.display()))
}

/// A progress bar on stderr over `total` records (drawn only when stderr is a terminal).
pub fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
    let template = format!("{what} {{bar:40}} {{pos}}/{{len}} records ({{per_sec}}, {{eta}} left)");
    bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar
}

/// Feed every record of `log` from `from_seq` up to `upto` (default: the head) to `f`
/// with its chain link, in order (the envelope is `f`'s to keep), checking the hash
/// chain on the way (from seq 1 only: a later start has no link to check against).
/// Returns the last record's seq and link: the head of the log as it was at `upto`.
pub fn each_record(
    log: &Log,
    from_seq: u64,
    upto: Option<u64>,
    bar: &ProgressBar,
    mut f: impl FnMut(Envelope, &[u8; 32]) -> Result<()>,
) -> Result<Head> {
    let head = log.head();
    let last = match upto {
        Some(u) if u > head.last_seq => {
            bail!("the log ends at seq {}, before the requested seq {u}", head.last_seq)
        }
        Some(u) => u,
        None => head.last_seq,
    };
    let check_chain = from_seq <= 1;
    let mut prev = format::GENESIS;
    let mut reached = Head { last_seq: from_seq.saturating_sub(1), hash: format::GENESIS };
    for raw in log.read_raw_from(from_seq) {
        let raw = raw.context("cannot read the log (run `seatwatch verify` for a full check)")?;
        if raw.seq > last {
            break;
        }
        let body_len = raw.bytes.len().saturating_sub(format::LINK_LEN);
        let link = format::stored_link(&raw.bytes).unwrap_or(format::GENESIS);
        if check_chain {
            if link != format::chain_link(&prev, &raw.bytes[..body_len]) {
                bail!(
                    "the hash chain is broken at seq {}: the log was altered; run `seatwatch verify --data DIR` for details",
                    raw.seq
                );
            }
            prev = link;
        }
        let env =
            Log::decode_raw(&raw).context("a record does not decode (run `seatwatch verify` for a full check)")?;
        f(env, &link)?;
        reached = Head { last_seq: raw.seq, hash: link };
        if raw.seq % 8192 == 0 {
            bar.set_position(raw.seq);
        }
    }
    bar.finish_and_clear();
    if reached.last_seq != last {
        bail!("the log ended at seq {} before seq {last}; run `seatwatch verify`", reached.last_seq);
    }
    if check_chain && upto.is_none() && reached.hash != head.hash {
        bail!("the log's records do not chain up to its head {}; run `seatwatch verify`", head.hash_hex());
    }
    Ok(reached)
}

fn time_arg(v: Option<&str>, flag: &str) -> Result<Option<Ts>> {
    match v {
        None => Ok(None),
        Some(s) => match Ts::parse_rfc3339(s) {
            Some(t) => Ok(Some(t)),
            None => bail!("{flag} must be an RFC 3339 time with an offset, e.g. 2026-03-01T00:00:00+08:00; got {s:?}"),
        },
    }
}

fn kind(k: ReportKind) -> seatwatch_reports::ReportKind {
    match k {
        ReportKind::Alarms => seatwatch_reports::ReportKind::Alarms,
        ReportKind::Intervals => seatwatch_reports::ReportKind::Intervals,
        ReportKind::Attendance => seatwatch_reports::ReportKind::Attendance,
        ReportKind::Agents => seatwatch_reports::ReportKind::Agents,
        ReportKind::Scorecard => seatwatch_reports::ReportKind::Scorecard,
        ReportKind::Supervision => seatwatch_reports::ReportKind::Supervision,
    }
}

fn format_of(f: Format) -> seatwatch_reports::Format {
    match f {
        Format::Jsonl => seatwatch_reports::Format::Jsonl,
        Format::Csv => seatwatch_reports::Format::Csv,
        Format::Table => seatwatch_reports::Format::Table,
    }
}

/// Write `text` to stdout; a closed pipe (`| head`) is not an error.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write the report to stdout"),
    }
}

/// Records `seatwatch replay` folds at a time.
const REPLAY_RUN: usize = 16_384;

pub fn replay(a: ReplayArgs) -> Result<ExitCode> {
    crate::init_tracing("warn");
    let config = crate::serve::load_config(a.config.as_deref())?;
    if a.config.is_none() {
        // The log holds events, not settings: time zones, clocks and rule limits come from
        // the configuration, and a replay with other settings computes other answers.
        eprintln!(
            "note: no --config: every tenant is replayed with the default settings (time zone Asia/Shanghai, the \
             seed's rules); pass the server's configuration file to get the answers it gave"
        );
    }
    let filter = Filter {
        from: time_arg(a.from.as_deref(), "--from")?,
        to: time_arg(a.to.as_deref(), "--to")?,
        tenant: a.tenant.clone(),
        agent: a.agent.clone(),
    };
    let kind = kind(a.report);
    if kind == seatwatch_reports::ReportKind::Intervals && filter.agent.is_some() {
        bail!("the intervals report is per queue, not per agent: drop --agent");
    }
    let log = open_existing(&a.data)?;
    let mut replay = Replay::new(&config, &[kind]);
    let bar = progress(a.upto_seq.unwrap_or(log.head().last_seq), "replaying");
    // A reader thread reads, checks and decodes the next run while the last one folds
    // (`Replay::apply_runs`: compliance on a helper thread beside occupancy): the same
    // result as record by record.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Envelope>>(2);
    let (log_ref, bar_ref, upto) = (&log, &bar, a.upto_seq);
    let read = std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut run = Vec::with_capacity(REPLAY_RUN);
            let head = each_record(log_ref, 1, upto, bar_ref, |env, _| {
                run.push(env);
                if run.len() == REPLAY_RUN {
                    // A send fails only if the fold panicked (the scope raises that).
                    let _ = tx.send(std::mem::replace(&mut run, Vec::with_capacity(REPLAY_RUN)));
                }
                Ok(())
            });
            let _ = tx.send(run);
            head
        });
        replay.apply_runs(rx);
        reader.join()
    });
    let head = match read {
        Ok(head) => head?,
        Err(_) => bail!("the thread reading the log panicked"),
    };
    log.close().context("cannot close the log")?;
    let report = replay.report(kind, &filter)?;
    print(&report.render(format_of(a.format)))?;
    eprintln!(
        "{} report: {} rows from the log up to seq {}, head {}",
        kind,
        report.rows.len(),
        head.last_seq,
        head.hash_hex()
    );
    Ok(ExitCode::SUCCESS)
}
