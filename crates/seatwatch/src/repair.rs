//! `seatwatch repair`: quarantine what does not verify, keep the rest.

use crate::cli::RepairArgs;
use anyhow::{Context, Result};
use std::process::ExitCode;

pub fn run(a: RepairArgs) -> Result<ExitCode> {
    let r = seatwatch_log::repair(&a.data).with_context(|| format!("cannot repair the log in {}", a.data.display()))?;
    match (&r.first_bad, &r.quarantine_file) {
        (Some((seq, reason)), Some(file)) => {
            println!("the log was bad at seq {seq}: {reason}");
            if r.quarantined_segments == 0 {
                println!(
                    "{} record(s) from seq {seq} on were already gone from the database; the loss is recorded in {}",
                    r.quarantined_records,
                    file.display()
                );
            } else {
                println!(
                    "moved {} record(s) in {} segment(s) ({} bytes), from seq {seq} on, to {}; nothing was deleted",
                    r.quarantined_records,
                    r.quarantined_segments,
                    r.quarantined_bytes,
                    file.display()
                );
            }
            println!("ok: {} records, last seq {}, head {}", r.now.records, r.now.last_seq, r.now.head.hash_hex());
            println!(
                "next: start the server; producers may resend what they sent after seq {} (events the log no longer \
                 holds are accepted again). Keep the quarantine file with the evidence.",
                r.now.last_seq
            );
        }
        _ => {
            println!(
                "ok: the log verifies ({} records, last seq {}, head {}); nothing to repair",
                r.now.records,
                r.now.last_seq,
                r.now.head.hash_hex()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
