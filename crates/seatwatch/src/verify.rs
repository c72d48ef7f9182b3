//! `seatwatch verify`: check the whole log.

use crate::cli::VerifyArgs;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;

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
        Err(e) => {
            println!("FAILED: {e}");
            if let seatwatch_log::VerifyError::Open(seatwatch_log::LogError::Sled { .. }) = &e {
                // The database itself cannot be read: no record can be vouched for.
                let acked = seatwatch_log::load_hwm(&a.data)
                    .map(|n| format!("; records up to seq {n} were acknowledged (log.hwm)"))
                    .unwrap_or_default();
                println!(
                    "first bad seq: 1 (the database cannot be opened, so no record could be checked{acked}); \
                     restore the data directory from a backup (docs/operations.md)"
                );
            }
            Ok(ExitCode::from(1))
        }
    }
}
