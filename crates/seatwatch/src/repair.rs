//! `seatwatch repair`: quarantine what does not verify, keep the rest.

use crate::cli::RepairArgs;
use anyhow::{Context, Result};
use std::process::ExitCode;

pub fn run(a: RepairArgs) -> Result<ExitCode> {
    let r = seatwatch_log::repair(&a.data).with_context(|| format!("cannot repair the log in {}", a.data.display()))?;
    for f in &r.set_aside {
        println!(
            "sled could not open the database with {}; it was set aside (a file sled writes anew): {}",
            f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            f.display()
        );
    }
    if let Some(copy) = &r.database_copy {
        println!(
            "the database file as it was before sled opened it without them is kept in {} (sled may cut a damaged \
             file short when it recovers it)",
            copy.display()
        );
    }
    match (&r.first_bad, &r.quarantine_file) {
        (Some((seq, reason)), Some(file)) => {
            println!("the log was bad at seq {seq}: {reason}");
            if let Some((old, why)) = &r.quarantined_database {
                println!("{why}");
                println!(
                    "rebuilt the log from its {} verified record(s) in a new database; the whole old database \
                     directory (with the {} record(s) from seq {seq} on that it held or was known to hold) was moved \
                     to {}, described in {}; nothing was deleted",
                    seq - 1,
                    r.quarantined_records,
                    old.display(),
                    file.display()
                );
            } else if r.quarantined_segments == 0 {
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
                 holds are accepted again). Keep the quarantine with the evidence.",
                r.now.last_seq
            );
        }
        _ if !r.set_aside.is_empty() => {
            println!(
                "ok: the log verifies ({} records, last seq {}, head {}) now that sled's damaged file(s) are set \
                 aside; no record needed repair",
                r.now.records,
                r.now.last_seq,
                r.now.head.hash_hex()
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
