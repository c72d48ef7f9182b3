//! `seatwatch export`: the raw events as JSON, one per line, so any tool can read the log.

use crate::cli::ExportArgs;
use crate::report::{each_record, open_existing, progress};
use anyhow::{Context, Result, bail};
use std::io::{BufWriter, Write};
use std::process::ExitCode;

pub fn run(a: ExportArgs) -> Result<ExitCode> {
    crate::init_tracing("warn");
    let log = open_existing(&a.data)?;
    let last = log.head().last_seq;
    // Past the end (not just at it: `--from-seq LAST+1` is "whatever came since", nothing
    // yet) is refused, as `replay --upto-seq` past the end is: likely a wrong number.
    if a.from_seq > last.saturating_add(1) {
        log.close().context("cannot close the log")?;
        bail!(
            "--from-seq {} is past the end of the log in {}: its last seq is {last} \
             (--from-seq {} would export what is written after it); nothing was exported",
            a.from_seq,
            a.data.display(),
            last + 1
        );
    }
    let bar = progress(last.saturating_sub(a.from_seq.saturating_sub(1)), "exporting");
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut written = 0u64;
    let mut tenants = std::collections::BTreeSet::<String>::new();
    let result = each_record(&log, a.from_seq, None, &bar, |env, link| {
        if a.tenant.as_deref().is_some_and(|t| t != env.tenant) {
            if !tenants.contains(env.tenant.as_str()) {
                tenants.insert(env.tenant.to_string());
            }
            return Ok(());
        }
        let json = env.to_export_json_linked(link);
        let line = serde_json::to_string(&json).context("cannot encode an event as JSON")?;
        match out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n")) {
            Ok(()) => written += 1,
            // The reader went away (`| head`): stop reading the log; not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Err(PipeClosed.into()),
            Err(e) => return Err(e).context("cannot write to stdout"),
        }
        Ok(())
    });
    let head = match result {
        Ok(head) => Some(head),
        Err(e) if e.is::<PipeClosed>() => None,
        Err(e) => return Err(e),
    };
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e).context("cannot write to stdout"),
        _ => {}
    }
    // The log's head, not the last exported record's: `--from-seq LAST+1` reads none.
    let end = log.head();
    log.close().context("cannot close the log")?;
    if head.is_some() {
        // The whole log read and nothing of the tenant asked for: a wrong name, as
        // `replay --tenant` says (not for `--from-seq`: nothing new of it is normal).
        if let Some(t) = a.tenant.as_deref().filter(|_| written == 0 && a.from_seq <= 1) {
            let known =
                if tenants.is_empty() { "none".to_owned() } else { tenants.into_iter().collect::<Vec<_>>().join(", ") };
            bail!("tenant {t:?} has no records in this log; tenants in it: {known}");
        }
        eprintln!("exported {written} events (the log's last seq {}, head {})", end.last_seq, end.hash_hex());
    }
    Ok(ExitCode::SUCCESS)
}

/// stdout was closed by its reader.
#[derive(Debug)]
struct PipeClosed;

impl std::fmt::Display for PipeClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stdout was closed")
    }
}

impl std::error::Error for PipeClosed {}
