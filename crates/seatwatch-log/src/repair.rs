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
//! # Damage to the database itself
//!
//! * **sled cannot open the database** (its recovery stops at damaged data). sled's own
//!   snapshot files (`log/snap.*`) are a cache it rebuilds from its database file, and
//!   its configuration file (`log/conf`) holds the settings Seatwatch always opens it
//!   with: repair moves the snapshot files (then, if that is not enough, the
//!   configuration file) into `DIR/quarantine/sled-files-at-T/`, copies the database
//!   file there too (`db.before-recovery`: sled, opening it without its snapshot, may
//!   cut it short at damage it cannot read past) and opens the database again. If it
//!   opens, repair goes on as usual (the log may then be wholly fine, or shorter than
//!   `log.hwm` says: the loss is then recorded as for any lost records).
//! * **sled cannot read or rewrite a page of the database** (a flipped byte in the
//!   database file). Taking segments out in place would need the damaged page, so
//!   repair *rebuilds* instead: it copies the verified prefix (the segments before the
//!   first bad record, a partial segment cut as above) into a new database beside the
//!   old one (`DIR/log.rebuilding`, renamed `DIR/log.rebuilt` once it is complete,
//!   fsynced and verified), writes a quarantine file (format version 2, below) naming
//!   the old directory, moves the whole old `DIR/log/` directory, byte for byte, to
//!   `DIR/quarantine/from-seq-N-at-T.log/`, and renames the new database into place
//!   (directories fsynced after each step). A repair interrupted after the old
//!   directory was moved finishes the rename when run again.
//!
//! # Quarantine file
//!
//! ```text
//! SEATWATCH-QUARANTINE 1\n   (or 2, see below)
//! {one line of JSON: data_dir, first_bad_seq, reason, segments, records, made_at_unix}\n
//! then per segment: [key length u32 LE][sled key][value length u32 LE][sled value]
//! ```
//!
//! The key and value are the database's, byte for byte ([`crate::format`] describes a
//! segment value); [`read_quarantine`] reads them back.
//!
//! Version 2 is written when the whole database directory was moved: the same layout,
//! and its header adds `database` (the moved directory's name, beside the file in
//! `DIR/quarantine/`), `database_reason` (why it could not be repaired in place) and
//! `acknowledged_upto` (the last seq known to have been written: the old database's last
//! segment, `log.hwm` or `dedup.meta`, whichever is furthest). It holds no segments (the
//! records are in the moved database); `records` counts the records from
//! `first_bad_seq` to `acknowledged_upto`.

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
const MAGIC_V2: &[u8] = b"SEATWATCH-QUARANTINE 2\n";

/// Where a rebuilt database is written, inside the data directory.
const REBUILDING_DIR: &str = "log.rebuilding";
use dir::REBUILT_DIR;

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
    /// quarantine file then records (its header, no segments); after a rebuild, the
    /// records from the first bad one on that the old database (or `log.hwm`) says were
    /// written.
    pub quarantined_records: u64,
    /// Bytes of segment values moved.
    pub quarantined_bytes: u64,
    /// The quarantine file written.
    pub quarantine_file: Option<PathBuf>,
    /// When the database itself was damaged (sled could not read or rewrite it): where
    /// the whole old `log/` directory was moved, and why the log was rebuilt.
    pub quarantined_database: Option<(PathBuf, String)>,
    /// sled files set aside because the database could not be opened with them (its
    /// snapshot `snap.*`, its configuration `conf`): where each one is now.
    pub set_aside: Vec<PathBuf>,
    /// With files set aside: a copy of the database file as it was before sled opened it
    /// without them (sled then recovers from the file alone, and may cut it short at
    /// damage it cannot read past).
    pub database_copy: Option<PathBuf>,
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
/// When sled cannot open the database, its snapshot (and then its configuration file) is
/// set aside first; when it cannot read or rewrite the damaged part, the prefix is
/// rebuilt into a new database and the old one moved into the quarantine (module docs).
/// Takes the data directory's lock: a running server's directory gives
/// [`LogError::Locked`].
pub fn repair(dir: &Path) -> Result<RepairReport, LogError> {
    let log_dir = dir.join(dir::LOG_DIR);
    if !log_dir.is_dir() && !dir.join(REBUILT_DIR).is_dir() {
        return Err(LogError::io(
            "there is no Seatwatch log to repair: expected the directory",
            log_dir,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let _lock = dir::acquire_lock(dir)?;
    finish_or_clear_rebuild(dir)?;
    dir::check_database_present(dir)?;
    let (db, set_aside) = open_setting_aside(dir)?;
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
                quarantined_database: None,
                set_aside: set_aside.files,
                database_copy: set_aside.database_copy,
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
                quarantined_database: None,
                set_aside: set_aside.files,
                database_copy: set_aside.database_copy,
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
    match in_place(dir, &db, seq, &reason) {
        Ok(mut report) => {
            (report.set_aside, report.database_copy) = (set_aside.files, set_aside.database_copy);
            Ok(report)
        }
        // sled cannot read or rewrite the damaged part of its database: rebuild.
        Err(LogError::Sled { what, message }) => {
            let why = format!("the database could not be repaired in place: sled failed while {what}: {message}");
            tracing::warn!(first_bad_seq = seq, reason = %why, "rebuilding the log from its verified prefix");
            let mut report = rebuild(dir, db, seq, &reason, &why)?;
            (report.set_aside, report.database_copy) = (set_aside.files, set_aside.database_copy);
            Ok(report)
        }
        Err(e) => Err(e),
    }
}

/// Open the database; if sled cannot, set aside its snapshot files, then its
/// configuration file, into the quarantine and try again after each.
fn open_setting_aside(dir: &Path) -> Result<(sled::Db, SetAside), LogError> {
    let first = match dir::open_sled(dir) {
        Ok(db) => return Ok((db, SetAside::default())),
        Err(e @ LogError::Unopenable { .. }) => e,
        Err(e) => return Err(e),
    };
    tracing::warn!(error = %first, "sled cannot open the database; setting aside its snapshot and trying again");
    let made_at = unix_now();
    let aside = dir.join(QUARANTINE_DIR).join(format!("sled-files-at-{made_at}"));
    let mut moved = Vec::new();
    let mut copy = None;
    let mut last = None;
    let conf = dir.join(dir::LOG_DIR).join("conf");
    let conf = if conf.is_file() { vec![conf] } else { Vec::new() };
    // The snapshot first (a cache), unless sled named its configuration file.
    let conf_named = matches!(&first, LogError::Unopenable { message, .. } if message == dir::CONF_UNREADABLE);
    let steps: [Vec<PathBuf>; 2] =
        if conf_named { [conf, dir::sled_snapshots(dir)] } else { [dir::sled_snapshots(dir), conf] };
    for files in steps {
        if files.is_empty() {
            continue;
        }
        for f in files {
            moved.push(set_aside_file(dir, &aside, &f)?);
        }
        if copy.is_none() {
            copy = Some(copy_database_file(dir, &aside)?);
        }
        match dir::open_sled(dir) {
            Ok(db) => {
                tracing::warn!(files = ?moved, "the database opened once sled's damaged files were set aside");
                return Ok((db, SetAside { files: moved, database_copy: copy }));
            }
            Err(e @ LogError::Unopenable { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    let message = match last.as_ref().unwrap_or(&first) {
        LogError::Unopenable { message, .. } => message.clone(),
        other => other.to_string(),
    };
    Err(LogError::Unrepairable {
        data_dir: dir.to_path_buf(),
        reason: if moved.is_empty() {
            format!("sled cannot open the database ({message})")
        } else {
            format!(
                "sled cannot open the database even without its snapshot and configuration files ({message}); \
                 they were set aside in {} (nothing was deleted)",
                aside.display()
            )
        },
    })
}

/// What [`open_setting_aside`] set aside.
#[derive(Default)]
struct SetAside {
    files: Vec<PathBuf>,
    database_copy: Option<PathBuf>,
}

/// Copy `DIR/log/db` into `aside`, durably: sled, opening it without its snapshot,
/// recovers from the file alone and may cut it short at damage it cannot read past.
fn copy_database_file(dir: &Path, aside: &Path) -> Result<PathBuf, LogError> {
    let from = dir::db_file_path(dir);
    let to = aside.join("db.before-recovery");
    std::fs::copy(&from, &to)
        .map_err(|e| LogError::io("cannot copy the database file into the quarantine", &from, e))?;
    std::fs::File::open(&to).and_then(|f| f.sync_all()).map_err(|e| LogError::io("cannot sync", &to, e))?;
    dir::sync_dir(aside)?;
    Ok(to)
}

/// Move `file` (in `DIR/log`) into `aside` (in the quarantine), durably.
fn set_aside_file(dir: &Path, aside: &Path, file: &Path) -> Result<PathBuf, LogError> {
    std::fs::create_dir_all(aside).map_err(|e| LogError::io("cannot create", aside, e))?;
    dir::sync_dir(&dir.join(QUARANTINE_DIR))?;
    let to = aside.join(file.file_name().unwrap_or_default());
    std::fs::rename(file, &to).map_err(|e| LogError::io("cannot set aside", file, e))?;
    dir::sync_dir(aside)?;
    dir::sync_dir(&dir.join(dir::LOG_DIR))?;
    tracing::warn!(from = %file.display(), to = %to.display(), "set aside a sled file");
    Ok(to)
}

/// The repair in place: take the segments from the cut on out of the database.
fn in_place(dir: &Path, db: &sled::Db, seq: u64, reason: &str) -> Result<RepairReport, LogError> {
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
                keep_partial = Some((k.to_vec(), cut_segment(&v, first, seq)?));
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
    let path = quarantine(dir, seq, reason, records, &moved)?;

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
    // Still bad: sled's walk of the damaged tree missed part of it (a flipped byte in an
    // index page hides the records behind it from iteration, not from look-ups). The
    // caller rebuilds the verified prefix instead; what was moved stays in `path`.
    let now = verify_db(db, &mut |_| {}).map_err(|e| LogError::Sled {
        what: "taking the damaged records out of the database in place",
        message: format!(
            "the repaired log still does not verify ({e}): sled's iteration missed part of the damaged database; \
             what was taken out is kept in {}",
            path.display()
        ),
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
        first_bad: Some((seq, reason.to_owned())),
        quarantined_segments: moved.len() as u64,
        quarantined_records: records,
        quarantined_bytes: bytes,
        quarantine_file: Some(path),
        quarantined_database: None,
        set_aside: Vec::new(),
        database_copy: None,
        now,
    })
}

/// The first `seq - first` records of segment `v` (filed under `first`), as a segment.
fn cut_segment(v: &[u8], first: u64, seq: u64) -> Result<Vec<u8>, LogError> {
    let good = usize::try_from(seq - first).unwrap_or(usize::MAX);
    let mut r = SegmentReader::new(v).map_err(|r| LogError::Corrupt { seq: first, reason: r })?;
    let mut kept = Vec::with_capacity(good);
    for _ in 0..good {
        match r.next_record() {
            Ok(Some(rec)) => kept.push(rec.to_vec()),
            _ => {
                return Err(LogError::Corrupt { seq: first, reason: "a verified segment ends early".into() });
            }
        }
    }
    Ok(format::join_segment(&kept))
}

/// A repair interrupted between moving the old database away and renaming the rebuilt
/// one into place left `log.rebuilt` and no `log`: finish it. With `log` in place, a
/// `log.rebuilding` or `log.rebuilt` is a copy of part of it that an interrupted repair
/// made (the old database was not touched): it is removed and the repair starts over.
fn finish_or_clear_rebuild(dir: &Path) -> Result<(), LogError> {
    let log_dir = dir.join(dir::LOG_DIR);
    let rebuilt = dir.join(REBUILT_DIR);
    if !log_dir.exists() && rebuilt.is_dir() {
        tracing::warn!(dir = %dir.display(), "finishing an interrupted repair: putting the rebuilt log in place");
        std::fs::rename(&rebuilt, &log_dir).map_err(|e| LogError::io("cannot rename", &rebuilt, e))?;
        dir::sync_dir(dir)?;
        return Ok(());
    }
    for name in [REBUILDING_DIR, REBUILT_DIR] {
        let p = dir.join(name);
        if p.is_dir() {
            tracing::warn!(dir = %p.display(), "removing the partial copy an interrupted repair left");
            std::fs::remove_dir_all(&p).map_err(|e| LogError::io("cannot remove", &p, e))?;
        }
    }
    dir::sync_dir(dir)
}

/// The rebuild: copy the verified prefix (records `1..seq`) into a new database, move the
/// whole old `log/` directory into the quarantine, put the new one in its place.
fn rebuild(dir: &Path, db: sled::Db, seq: u64, reason: &str, why: &str) -> Result<RepairReport, LogError> {
    let building = dir.join(REBUILDING_DIR);
    let new_db = dir::sled_config(&building).open().map_err(|e| LogError::sled("creating the rebuilt database", &e))?;
    let copied = copy_prefix(&db, &new_db, seq).and_then(|()| {
        new_db.flush().map_err(|e| LogError::sled("flushing the rebuilt database", &e))?;
        let file = building.join("db");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .and_then(|f| f.sync_all())
            .map_err(|e| LogError::io("cannot sync", &file, e))?;
        verify_db(&new_db, &mut |_| {}).map_err(|e| LogError::Unrepairable {
            data_dir: dir.to_path_buf(),
            reason: format!("the rebuilt copy of the verified prefix does not verify: {e}"),
        })
    });
    drop(new_db);
    dir::wait_file_unlocked(&building.join("db"));
    let prefix = match copied {
        Ok(r) if r.last_seq + 1 == seq => r,
        Ok(r) => {
            return Err(LogError::Unrepairable {
                data_dir: dir.to_path_buf(),
                reason: format!(
                    "only records 1 to {} of the verified prefix (to seq {}) could be read back from the damaged \
                     database; nothing was changed (the partial copy {} is removed by the next repair)",
                    r.last_seq,
                    seq - 1,
                    building.display()
                ),
            });
        }
        Err(e) => return Err(e),
    };
    let known_last = crate::index::last_seq(&db)
        .unwrap_or(0)
        .max(crate::index::load_hwm(dir).unwrap_or(0))
        .max(crate::index::load_meta(dir).ok().flatten().map_or(0, |m| m.seq));
    drop(db);
    dir::wait_sled_released(dir);
    dir::sync_dir(&building)?;
    let rebuilt = dir.join(REBUILT_DIR);
    std::fs::rename(&building, &rebuilt).map_err(|e| LogError::io("cannot rename", &building, e))?;
    dir::sync_dir(dir)?;

    // The evidence first: the quarantine file naming the old directory, then the move.
    let qdir = dir.join(QUARANTINE_DIR);
    std::fs::create_dir_all(&qdir).map_err(|e| LogError::io("cannot create", &qdir, e))?;
    let (base, made_at) = quarantine_base(&qdir, seq);
    let old = qdir.join(format!("{base}.log"));
    let records = known_last.saturating_sub(seq - 1);
    let mut header = header_json(dir, seq, reason, 0, records, made_at);
    header.pop(); // the closing brace
    header.push_str(&format!(
        ",\"database\":\"{}\",\"database_reason\":\"{}\",\"acknowledged_upto\":{known_last}}}",
        json_escape(&format!("{base}.log")),
        json_escape(why)
    ));
    let path = qdir.join(format!("{base}.swq"));
    write_quarantine(&path, MAGIC_V2, &format!("{header}\n"), &[])?;
    dir::sync_dir(&qdir)?;
    let log_dir = dir.join(dir::LOG_DIR);
    std::fs::rename(&log_dir, &old).map_err(|e| LogError::io("cannot move into the quarantine", &log_dir, e))?;
    dir::sync_dir(&qdir)?;
    dir::sync_dir(dir)?;
    std::fs::rename(&rebuilt, &log_dir).map_err(|e| LogError::io("cannot rename", &rebuilt, e))?;
    dir::sync_dir(dir)?;
    forget_acknowledged(dir, seq)?;

    let db = dir::open_sled(dir)?;
    let now = verify_db(&db, &mut |_| {}).map_err(|e| LogError::Corrupt {
        seq,
        reason: format!(
            "the rebuilt log does not verify ({e}); the old database is kept in {}, the quarantine file in {}",
            old.display(),
            path.display()
        ),
    })?;
    if now.head != prefix.head {
        return Err(LogError::Corrupt {
            seq,
            reason: format!(
                "the rebuilt log's head changed once in place; the old database is kept in {}",
                old.display()
            ),
        });
    }
    tracing::warn!(
        old_database = %old.display(),
        file = %path.display(),
        last_seq = now.last_seq,
        "log rebuilt from its verified prefix"
    );
    Ok(RepairReport {
        first_bad: Some((seq, reason.to_owned())),
        quarantined_segments: 0,
        quarantined_records: records,
        quarantined_bytes: 0,
        quarantine_file: Some(path),
        quarantined_database: Some((old, why.to_owned())),
        set_aside: Vec::new(),
        database_copy: None,
        now,
    })
}

/// Copy the segments holding records `1..seq` from `from` to `to` in key order (the
/// segment holding `seq` cut before it), stopping at the first one sled cannot read.
fn copy_prefix(from: &sled::Db, to: &sled::Db, seq: u64) -> Result<(), LogError> {
    const BATCH: usize = 1024;
    let mut batch = sled::Batch::default();
    let mut n = 0;
    for item in from.range(..format::segment_key(seq)) {
        let Ok((k, v)) = item else { break };
        let Some(first) = key_seq(&k) else { break };
        let count = u64::from(SegmentReader::count(&v).unwrap_or(0));
        if first + count <= seq {
            batch.insert(k, v);
        } else {
            batch.insert(k, cut_segment(&v, first, seq)?);
        }
        n += 1;
        if n % BATCH == 0 {
            to.apply_batch(std::mem::take(&mut batch))
                .map_err(|e| LogError::sled("writing the rebuilt database", &e))?;
        }
    }
    to.apply_batch(batch).map_err(|e| LogError::sled("writing the rebuilt database", &e))
}

/// A new quarantine entry's name for the records from `seq` on, `from-seq-SEQ-at-T`
/// (T: Unix seconds), with `-2`, `-3`, ... when an entry of that name is there already
/// (two repairs in one second: an in-place repair that fell back to a rebuild).
fn quarantine_base(qdir: &Path, seq: u64) -> (String, u64) {
    let made_at = unix_now();
    let base = format!("from-seq-{seq}-at-{made_at}");
    let taken = |b: &str| qdir.join(format!("{b}.swq")).exists() || qdir.join(format!("{b}.log")).exists();
    if !taken(&base) {
        return (base, made_at);
    }
    let n = (2u32..).find(|n| !taken(&format!("{base}-{n}"))).unwrap_or(u32::MAX);
    (format!("{base}-{n}"), made_at)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
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
    let (base, made_at) = quarantine_base(&qdir, seq);
    let path = qdir.join(format!("{base}.swq"));
    let header = header_json(dir, seq, reason, moved.len() as u64, records, made_at);
    write_quarantine(&path, MAGIC, &format!("{header}\n"), moved)?;
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

/// The header line's JSON object (no newline). Hand-written: this crate has no
/// serde_json.
fn header_json(dir: &Path, seq: u64, reason: &str, segments: u64, records: u64, made_at: u64) -> String {
    format!(
        "{{\"data_dir\":\"{}\",\"first_bad_seq\":{seq},\"reason\":\"{}\",\"segments\":{segments},\"records\":{records},\"made_at_unix\":{made_at}}}",
        json_escape(&dir.display().to_string()),
        json_escape(reason)
    )
}

/// Escape what a string in the header may hold.
fn json_escape(s: &str) -> String {
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
}

fn write_quarantine(path: &Path, magic: &[u8], header: &str, moved: &[QuarantinedSegment]) -> Result<(), LogError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| LogError::io("cannot create the quarantine file", path, e))?;
    let mut buf =
        Vec::with_capacity(magic.len() + header.len() + moved.iter().map(|m| m.value.len() + 16).sum::<usize>());
    buf.extend_from_slice(magic);
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

/// Read a quarantine file back (format version 1 or 2): its JSON header line and the
/// segments, byte for byte.
pub fn read_quarantine(path: &Path) -> Result<(String, Vec<QuarantinedSegment>), LogError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| LogError::io("cannot read the quarantine file", path, e))?;
    let bad = |why: &str| LogError::Corrupt { seq: 0, reason: format!("{}: {why}", path.display()) };
    let rest = bytes
        .strip_prefix(MAGIC)
        .or_else(|| bytes.strip_prefix(MAGIC_V2))
        .ok_or_else(|| bad("not a Seatwatch quarantine file (of a version this build reads)"))?;
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
