//! `seatwatch verify`: check the whole log.

use crate::dir;
use crate::error::{LogError, VerifyError};
use crate::format::{self, SegmentReader, key_seq};
use crate::{Head, VerifyReport};
use std::path::Path;

/// Check every record of the log in `dir`: each segment's key is its first record's
/// seq, every record decodes with known version and kind bytes, seqs run gapless from
/// 1, and every hash-chain link holds. `progress` is called after each segment with the
/// last seq checked. Returns the first bad seq on failure.
///
/// Takes the data directory's lock like [`crate::Log::open`]: a directory a running
/// server holds gives [`VerifyError::Open`] with [`LogError::Locked`] (verify a copy made
/// with `seatwatch backup` instead). It never creates a log.
pub fn verify(dir: &Path, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport, VerifyError> {
    if !dir.join(dir::LOG_DIR).is_dir() {
        if dir.join(dir::REBUILT_DIR).is_dir() {
            return Err(VerifyError::Open(LogError::RepairInterrupted { data_dir: dir.to_path_buf() }));
        }
        return Err(VerifyError::NoLog { dir: dir.to_path_buf() });
    }
    let _lock = dir::acquire_lock(dir).map_err(VerifyError::Open)?;
    dir::check_database_present(dir).map_err(VerifyError::Open)?;
    let db = dir::open_sled(dir).map_err(VerifyError::Open)?;
    let report = verify_db(&db, progress)?;
    // Every record verifies; were some lost from the end?
    if let Some((first, upto)) = crate::index::missing_records(dir, &db) {
        return Err(VerifyError::BadRecord {
            seq: first,
            reason: crate::index::missing_reason(first, upto),
            good: first - 1,
        });
    }
    Ok(report)
}

/// The check itself, on an open database.
pub(crate) fn verify_db(db: &sled::Db, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport, VerifyError> {
    let mut expected = 1u64;
    let mut prev = format::GENESIS;
    let bad = |seq: u64, reason: String| VerifyError::BadRecord { seq, reason, good: seq - 1 };
    for item in db.iter() {
        let (k, v) = item.map_err(|e| {
            bad(expected, format!("the database cannot read the next segment: {}", crate::error::sled_text(&e)))
        })?;
        let Some(key) = key_seq(&k) else {
            return Err(bad(expected, format!("a segment key is {} bytes long, not 8", k.len())));
        };
        if key > expected {
            let what = if key == expected + 1 {
                format!("record {expected} is missing")
            } else {
                format!("records {expected} to {} are missing", key - 1)
            };
            return Err(bad(expected, format!("{what}: the next segment starts at seq {key}")));
        }
        if key < expected {
            return Err(bad(
                expected,
                format!("a segment is filed under seq {key}, but the log had already reached seq {expected}"),
            ));
        }
        let mut r = SegmentReader::new(&v).map_err(|r| bad(expected, format!("segment {key}: {r}")))?;
        loop {
            let rec = match r.next_record() {
                Ok(Some(rec)) => rec,
                Ok(None) => break,
                Err(reason) => return Err(bad(expected, format!("segment {key}: {reason}"))),
            };
            let (env, link) = format::decode_record(rec).map_err(|r| bad(expected, r))?;
            if env.seq != expected {
                return Err(bad(
                    expected,
                    format!("found record {} where record {expected} belongs (deleted or reordered)", env.seq),
                ));
            }
            let body = &rec[..rec.len() - format::LINK_LEN];
            if format::chain_link(&prev, body) != link {
                return Err(bad(
                    expected,
                    "the hash chain is broken: the record's link is not BLAKE3(previous link ‖ record), \
                     so the record (or one before it) was altered"
                        .to_owned(),
                ));
            }
            prev = link;
            expected += 1;
        }
        progress(expected - 1);
    }
    let last_seq = expected - 1;
    Ok(VerifyReport { records: last_seq, last_seq, head: Head { last_seq, hash: prev } })
}

impl From<LogError> for VerifyError {
    fn from(e: LogError) -> Self {
        VerifyError::Open(e)
    }
}
