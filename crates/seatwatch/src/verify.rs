//! `seatwatch verify`: check the whole log. Exit 0: it verifies; 1: it does not (the
//! first bad seq is printed); 2: it could not be checked (in use, missing, unreadable, or a
//! database sled cannot open).

use crate::cli::VerifyArgs;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use seatwatch_log::{LogError, VerifyError};
use std::process::ExitCode;

/// Whether `e` says something about the log itself (exit 1), rather than that it could
/// not be checked at all (exit 2): a bad record, records lost from the end, or a
/// database file that is gone from a directory that held a log. A database sled cannot
/// open is no verdict: no record was read (often only sled's snapshot, a cache, is
/// damaged, which `seatwatch repair` sets aside).
fn is_a_verdict(e: &VerifyError) -> bool {
    match e {
        VerifyError::BadRecord { .. } => true,
        VerifyError::Open(LogError::Sled { .. } | LogError::MissingDatabase { .. } | LogError::Corrupt { .. }) => true,
        VerifyError::Open(_) | VerifyError::NoLog { .. } => false,
    }
}

pub fn run(a: VerifyArgs) -> Result<ExitCode> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} verifying: seq {pos} ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut last = 0u64;
    let result = seatwatch_log::verify(&a.data, &mut |seq| {
        if seq >= last + 65_536 {
            last = seq;
            bar.set_position(seq);
        }
    });
    bar.finish_and_clear();
    match result {
        Ok(r) => {
            println!("ok: {} records, last seq {}, head {}", r.records, r.last_seq, r.head.hash_hex());
            Ok(ExitCode::SUCCESS)
        }
        // Not a verdict on the log: in use, missing, unreadable. Exit 2, like every other
        // command that cannot do its work; 1 is kept for "the log is bad".
        Err(e) if !is_a_verdict(&e) => {
            eprintln!("error: could not check the log (it was not found bad): {e}");
            Ok(ExitCode::from(2))
        }
        Err(e) => {
            println!("FAILED: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
