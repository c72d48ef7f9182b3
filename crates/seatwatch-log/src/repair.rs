//! `seatwatch repair`: make a log that does not verify usable again without deleting
//! anything.
//!
//! The log is trustworthy up to the record before the first bad one (`verify` says
//! which). Repair keeps exactly that prefix and moves every stored segment from the
//! first bad record on — bytes as found, including records after it that may be intact
//! but can no longer be chained — into a quarantine file under `DIR/quarantine/`. The
//! file is written and fsynced before anything is taken out of the log. A segment that
//! holds good records before the bad one is split: its good records stay, the whole
//! original segment goes to the quarantine.
//!
//! # Quarantine file
//!
//! ```text
//! SEATWATCH-QUARANTINE 1\n
//! {one line of JSON: data_dir, first_bad_seq, reason, segments, records, made_at}\n
//! then per segment: [key length u32 LE][sled key][value length u32 LE][sled value]
//! ```
//!
//! The key and value are the database's, byte for byte ([`crate::format`] describes a
//! segment value); [`read_quarantine`] reads them back.

use crate::dir;
use crate::error::{LogError, VerifyError};
use crate::format::{self, SegmentReader, key_seq};
use crate::verify::verify_db;
use crate::{Head, VerifyReport};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The quarantine directory's name inside the data directory.
pub const QUARANTINE_DIR: &str = "quarantine";

const MAGIC: &[u8] = b"SEATWATCH-QUARANTINE 1\n";

/// What [`repair`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepairReport {
    /// The first bad seq found, and why; `None` when the log verified and nothing was done.
    pub first_bad: Option<(u64, String)>,
    /// Segments moved to the quarantine file.
    pub quarantined_segments: u64,
    /// Records in them from the first bad one on, as their segment headers count them
    /// (a header may itself be damaged: the bytes in the file are what counts). With no
    /// segments moved: the records already missing from the database, which the
    /// quarantine file then records (its header, no segments).
    pub quarantined_records: u64,
    /// Bytes of segment values moved.
    pub quarantined_bytes: u64,
    /// The quarantine file written.
    pub quarantine_file: Option<PathBuf>,
    /// The log as it verifies now.
    pub now: VerifyReport,
}

/// One segment as stored in a quarantine file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarantinedSegment {
    /// The sled key (normally the first seq, big-endian).
    pub key: Vec<u8>,
    /// The sled value, as found.
    pub value: Vec<u8>,
}

/// Check the log in `dir`; if it does not verify, move every segment from the first bad
/// record on into a new quarantine file, keep the good prefix, and verify the result.
/// Takes the data directory's lock: a running server's directory gives
/// [`LogError::Locked`].
pub fn repair(dir: &Path) -> Result<RepairReport, LogError> {
    if !dir.join(dir::LOG_DIR).is_dir() {
        return Err(LogError::io(
            "there is no Seatwatch log to repair: expected the directory",
            dir.join(dir::LOG_DIR),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let _lock = dir::acquire_lock(dir)?;
    dir::check_database_present(dir)?;
    let db = dir::open_sled(dir)?;
    let (seq, reason) = match verify_db(&db, &mut |_| {}) {
        Ok(now) if let Some((first, upto)) = crate::index::missing_records(dir, &db) => {
            // Every record left verifies, but records were lost from the end: nothing is
            // left to move. Record the loss in a quarantine file (a header, no segments)
            // and drop the checkpoint that remembers them, so the log opens again.
            let reason = crate::index::missing_reason(first, upto);
            tracing::warn!(
                first_missing_seq = first,
                last_missing_seq = upto,
                "repairing the log: records are missing"
            );
            let path = quarantine(dir, first, &reason, upto + 1 - first, &[])?;
            forget_acknowledged(dir, first)?;
            return Ok(RepairReport {
                first_bad: Some((first, reason)),
                quarantined_segments: 0,
                quarantined_records: upto + 1 - first,
                quarantined_bytes: 0,
                quarantine_file: Some(path),
                now,
            });
        }
        Ok(now) => {
            return Ok(RepairReport {
                first_bad: None,
                quarantined_segments: 0,
                quarantined_records: 0,
                quarantined_bytes: 0,
                quarantine_file: None,
                now,
            });
        }
        Err(VerifyError::BadRecord { seq, reason, .. }) => (seq, reason),
        Err(VerifyError::Open(e)) => return Err(e),
        Err(e @ VerifyError::NoLog { .. }) => {
            return Err(LogError::Corrupt { seq: 0, reason: e.to_string() });
        }
    };
    tracing::warn!(first_bad_seq = seq, %reason, "repairing the log");

    // Every segment before the first bad seq verified, in key order: keep those that end
    // before it; the first one that does not is the cut, and everything from it on goes.
    let mut moved: Vec<QuarantinedSegment> = Vec::new();
    let mut keep_partial: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut records = 0u64;
    for item in db.iter() {
        let (k, v) = item.map_err(|e| LogError::sled("reading the log for repair", &e))?;
        if moved.is_empty() {
            if let Some(first) = key_seq(&k)
                && first < seq
            {
                let count = u64::from(SegmentReader::count(&v).unwrap_or(0));
                if first + count <= seq {
                    continue; // wholly before the bad record: verified, kept
                }
                // The good records at its start stay, in a segment of their own.
                let good = usize::try_from(seq - first).unwrap_or(usize::MAX);
                let mut r = SegmentReader::new(&v).map_err(|r| LogError::Corrupt { seq: first, reason: r })?;
                let mut kept = Vec::with_capacity(good);
                for _ in 0..good {
                    match r.next_record() {
                        Ok(Some(rec)) => kept.push(rec.to_vec()),
                        _ => {
                            return Err(LogError::Corrupt {
                                seq: first,
                                reason: "a verified segment ends early".into(),
                            });
                        }
                    }
                }
                keep_partial = Some((k.to_vec(), format::join_segment(&kept)));
                records += count - (seq - first);
            } else {
                records += u64::from(SegmentReader::count(&v).unwrap_or(0));
            }
        } else {
            records += u64::from(SegmentReader::count(&v).unwrap_or(0));
        }
        moved.push(QuarantinedSegment { key: k.to_vec(), value: v.to_vec() });
    }
    let bytes: u64 = moved.iter().map(|m| m.value.len() as u64).sum();

    // The evidence first, durably; only then change the log.
    let path = quarantine(dir, seq, &reason, records, &moved)?;

    let mut batch = sled::Batch::default();
    for m in &moved {
        batch.remove(m.key.as_slice());
    }
    if let Some((k, v)) = &keep_partial {
        batch.insert(k.as_slice(), v.as_slice());
    }
    db.apply_batch(batch).map_err(|e| LogError::sled("taking the quarantined records out of the log", &e))?;
    db.flush().map_err(|e| LogError::sled("flushing the repaired log", &e))?;
    dir::open_sync_file(dir)?.sync_data().map_err(|e| LogError::io("cannot sync", dir::db_file_path(dir), e))?;
    let now = verify_db(&db, &mut |_| {}).map_err(|e| LogError::Corrupt {
        seq,
        reason: format!("the repaired log still does not verify ({e}); the quarantine file {} is kept", path.display()),
    })?;
    forget_acknowledged(dir, seq)?;
    tracing::warn!(
        quarantined_segments = moved.len(),
        quarantined_records = records,
        file = %path.display(),
        last_seq = now.last_seq,
        "log repaired"
    );
    Ok(RepairReport {
        first_bad: Some((seq, reason)),
        quarantined_segments: moved.len() as u64,
        quarantined_records: records,
        quarantined_bytes: bytes,
        quarantine_file: Some(path),
        now,
    })
}

/// Write the quarantine file for the records from `seq` on (`records` of them, `moved`
/// their segments, none when they were already gone), fsynced with its directory.
fn quarantine(
    dir: &Path,
    seq: u64,
    reason: &str,
    records: u64,
    moved: &[QuarantinedSegment],
) -> Result<PathBuf, LogError> {
    let qdir = dir.join(QUARANTINE_DIR);
    std::fs::create_dir_all(&qdir).map_err(|e| LogError::io("cannot create", &qdir, e))?;
    let made_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let path = qdir.join(format!("from-seq-{seq}-at-{made_at}.swq"));
    let header = serde_json_line(dir, seq, reason, moved.len() as u64, records, made_at);
    write_quarantine(&path, &header, moved)?;
    dir::sync_dir(&qdir)?;
    dir::sync_dir(dir)?;
    Ok(path)
}

/// The duplicate index's checkpoint and the acknowledged high-water mark remember
/// records the repaired log no longer has: drop both (the next open scans the log and
/// writes them anew), so that the log opens again.
fn forget_acknowledged(dir: &Path, seq: u64) -> Result<(), LogError> {
    crate::index::remove_meta(dir).map_err(|reason| LogError::Corrupt { seq, reason })?;
    crate::index::remove_hwm(dir).map_err(|reason| LogError::Corrupt { seq, reason })?;
    dir::sync_dir(dir)
}

fn serde_json_line(dir: &Path, seq: u64, reason: &str, segments: u64, records: u64, made_at: u64) -> String {
    // Hand-written JSON (this crate has no serde_json): escape what a reason may hold.
    let esc = |s: &str| {
        let mut o = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o
    };
    format!(
        "{{\"data_dir\":\"{}\",\"first_bad_seq\":{seq},\"reason\":\"{}\",\"segments\":{segments},\"records\":{records},\"made_at_unix\":{made_at}}}\n",
        esc(&dir.display().to_string()),
        esc(reason)
    )
}

fn write_quarantine(path: &Path, header: &str, moved: &[QuarantinedSegment]) -> Result<(), LogError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| LogError::io("cannot create the quarantine file", path, e))?;
    let mut buf =
        Vec::with_capacity(MAGIC.len() + header.len() + moved.iter().map(|m| m.value.len() + 16).sum::<usize>());
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(header.as_bytes());
    for m in moved {
        for part in [&m.key, &m.value] {
            buf.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_le_bytes());
            buf.extend_from_slice(part);
        }
    }
    f.write_all(&buf).map_err(|e| LogError::io("cannot write the quarantine file", path, e))?;
    f.sync_all().map_err(|e| LogError::io("cannot sync the quarantine file", path, e))?;
    Ok(())
}

/// Read a quarantine file back: its JSON header line and the segments, byte for byte.
pub fn read_quarantine(path: &Path) -> Result<(String, Vec<QuarantinedSegment>), LogError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| LogError::io("cannot read the quarantine file", path, e))?;
    let bad = |why: &str| LogError::Corrupt { seq: 0, reason: format!("{}: {why}", path.display()) };
    let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| bad("not a Seatwatch quarantine file"))?;
    let nl = rest.iter().position(|b| *b == b'\n').ok_or_else(|| bad("no header line"))?;
    let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
    let mut at = &rest[nl + 1..];
    let mut out = Vec::new();
    let take = |at: &mut &[u8]| -> Result<Vec<u8>, LogError> {
        let len = at.get(..4).ok_or_else(|| bad("truncated length"))?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let part = at.get(4..4 + len).ok_or_else(|| bad("truncated segment"))?.to_vec();
        *at = &at[4 + len..];
        Ok(part)
    };
    while !at.is_empty() {
        let key = take(&mut at)?;
        let value = take(&mut at)?;
        out.push(QuarantinedSegment { key, value });
    }
    Ok((header, out))
}

impl RepairReport {
    /// The head after the repair.
    pub fn head(&self) -> Head {
        self.now.head
    }
}
