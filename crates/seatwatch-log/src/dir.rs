//! The data directory: its lock, the caller key, sled.

use crate::dedup::{DedupIndex, dedup_key};
use crate::error::LogError;
use crate::format::{self, SegmentReader, key_seq};
use seatwatch_model::CallerKey;
use std::fs::{File, OpenOptions as FsOpen};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "seatwatch.lock";
/// The caller key's file name inside the data directory.
pub const KEY_FILE: &str = "caller.key";
/// The sled database's directory inside the data directory.
pub const LOG_DIR: &str = "log";
/// A database `seatwatch repair` rebuilt, complete, before it is renamed to [`LOG_DIR`].
pub(crate) const REBUILT_DIR: &str = "log.rebuilt";

/// Take the data directory's exclusive lock; held until the returned file is dropped.
pub fn acquire_lock(dir: &Path) -> Result<File, LogError> {
    let path = dir.join(LOCK_FILE);
    let f = FsOpen::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| LogError::io("cannot open the lock file", &path, e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(LogError::Locked { dir: dir.to_path_buf() }),
        Err(std::fs::TryLockError::Error(e)) => Err(LogError::io("cannot lock", &path, e)),
    }
}

/// fsync a directory so that entries created in it survive power loss.
pub fn sync_dir(dir: &Path) -> Result<(), LogError> {
    #[cfg(unix)]
    {
        let d = File::open(dir).map_err(|e| LogError::io("cannot open directory", dir, e))?;
        d.sync_all().map_err(|e| LogError::io("cannot sync directory", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Load `DIR/caller.key`, or make one (32 random bytes, mode 0600) on first open.
pub fn load_or_create_key(dir: &Path) -> Result<CallerKey, LogError> {
    let path = dir.join(KEY_FILE);
    match File::open(&path) {
        Ok(mut f) => {
            let len = f.metadata().map_err(|e| LogError::io("cannot read", &path, e))?.len();
            if len != 32 {
                return Err(LogError::BadCallerKey { path, len });
            }
            let mut k = [0u8; 32];
            f.read_exact(&mut k).map_err(|e| LogError::io("cannot read", &path, e))?;
            Ok(CallerKey(k))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut k = [0u8; 32];
            rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut k).map_err(|e| {
                LogError::io("cannot get random bytes for", &path, std::io::Error::other(e.to_string()))
            })?;
            write_key(dir, &CallerKey(k))?;
            tracing::info!(path = %path.display(), "created a new caller key");
            Ok(CallerKey(k))
        }
        Err(e) => Err(LogError::io("cannot open", &path, e)),
    }
}

/// Write `key` as `DIR/caller.key` (mode 0600), atomically and durably.
pub fn write_key(dir: &Path, key: &CallerKey) -> Result<(), LogError> {
    let path = dir.join(KEY_FILE);
    let tmp = dir.join(format!("{KEY_FILE}.tmp"));
    let mut o = FsOpen::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(&tmp).map_err(|e| LogError::io("cannot create", &tmp, e))?;
    f.write_all(&key.0).map_err(|e| LogError::io("cannot write", &tmp, e))?;
    f.sync_all().map_err(|e| LogError::io("cannot sync", &tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(|e| LogError::io("cannot create", &path, e))?;
    sync_dir(dir)
}

/// Whether `dir` holds a log, or did: its database file, or one of the files that
/// remember acknowledged records (`log.hwm`, `dedup.meta`). A directory with none of
/// them has never had a record acknowledged in it, whatever else it holds (a caller key
/// put there for a log still to be made).
pub fn holds_log(dir: &Path) -> bool {
    db_file_path(dir).exists()
        || dir.join(crate::index::HWM_FILE).exists()
        || dir.join(crate::index::META_FILE).exists()
}

/// Refuse to open a data directory that was used before (it has a caller key) but whose
/// database file is gone: sled would silently start an empty log.
pub fn check_database_present(data_dir: &Path) -> Result<(), LogError> {
    let db = db_file_path(data_dir);
    if !db.exists() && data_dir.join(REBUILT_DIR).is_dir() {
        return Err(LogError::RepairInterrupted { data_dir: data_dir.to_path_buf() });
    }
    if data_dir.join(KEY_FILE).exists() && !db.exists() {
        return Err(LogError::MissingDatabase { path: db });
    }
    Ok(())
}

/// Open sled at `DIR/log`. The background flusher is off: every commit flushes itself.
///
/// The caller holds `DIR/seatwatch.lock`, so a conflict on sled's own lock means a sled
/// instance of this process that was just dropped: sled releases its file lock only once
/// its deferred (epoch-based) frees and background work have run, a few milliseconds
/// later. Such a conflict is retried with a short backoff (about 1.7 s in all).
pub fn open_sled(data_dir: &Path) -> Result<sled::Db, LogError> {
    let mut wait = std::time::Duration::from_millis(2);
    for _ in 0..11 {
        match open_sled_once(data_dir) {
            Err(LogError::Locked { .. }) => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_millis(400));
            }
            other => return other,
        }
    }
    open_sled_once(data_dir)
}

/// Wait (with the same backoff) until no sled instance holds the lock on `DIR/log/db`.
pub fn wait_sled_released(data_dir: &Path) {
    wait_file_unlocked(&db_file_path(data_dir));
}

/// Wait (with the same backoff) until no sled instance holds the lock on `path` (a
/// database file).
pub(crate) fn wait_file_unlocked(path: &Path) {
    let mut wait = std::time::Duration::from_millis(1);
    for _ in 0..12 {
        let Ok(f) = FsOpen::new().read(true).write(true).open(path) else { return };
        match f.try_lock() {
            Ok(()) => return,
            Err(std::fs::TryLockError::Error(_)) => return,
            Err(std::fs::TryLockError::WouldBlock) => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_millis(400));
            }
        }
    }
    tracing::warn!(path = %path.display(), "sled still holds its lock after close");
}

/// sled writes its own snapshot as `snap.<lsn>.generating`, then renames it. A write that
/// failed (a full disk) leaves that file behind, and sled 0.34 then takes it for its
/// newest snapshot and refuses to open ("Read corrupted data"). Such a file is by
/// definition incomplete, and the snapshot before it (kept until the rename) plus sled's
/// log rebuild the same state: remove it.
fn remove_incomplete_sled_snapshots(log_dir: &Path) {
    let Ok(rd) = std::fs::read_dir(log_dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            match std::fs::remove_file(e.path()) {
                Ok(()) => tracing::warn!(file = %e.path().display(), "removed an incomplete sled snapshot"),
                Err(err) => {
                    tracing::warn!(file = %e.path().display(), error = %err, "cannot remove an incomplete sled snapshot")
                }
            }
        }
    }
}

/// sled's page cache. sled's default (1 GiB) keeps nearly every segment written since
/// start in memory: 270 MB of the server's RSS after 2 M events. The log appends at its
/// tail, the follower reads records just written, and everything else streams old
/// segments once (replay, verify, backup), which the OS page cache serves as well: the
/// cache only has to hold the tree's index nodes and the last few leaves. 64 MiB cut the
/// RSS of 2 M appended events from 336 MB to 165 MB; 4 MiB (with the vendored sled's
/// LRU patch that makes the cap hold, ADR 0008) took another ~60 MiB off the server at
/// 100,000 agents at the same append and read speed; a full scan (open with a full
/// check, verify) now frees what it read as it goes, 0–18 % slower in the benches
/// (docs/performance.md).
pub const SLED_CACHE_BYTES: u64 = 4 << 20;

/// sled's configuration for a database at `path`: the one Seatwatch always uses.
pub(crate) fn sled_config(path: &Path) -> sled::Config {
    sled::Config::new().path(path).flush_every_ms(None).cache_capacity(SLED_CACHE_BYTES)
}

/// sled's own snapshot files in `DIR/log` (`snap.*`): a cache of its page table that sled
/// rebuilds from its database file when they are gone.
pub fn sled_snapshots(data_dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(data_dir.join(LOG_DIR)) else { return Vec::new() };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("snap.") && e.path().is_file())
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

fn open_sled_once(data_dir: &Path) -> Result<sled::Db, LogError> {
    let log_dir = data_dir.join(LOG_DIR);
    remove_incomplete_sled_snapshots(&log_dir);
    let db = sled_config(&log_dir).open().map_err(|e| match e {
        // Not damage: the files are there but this user, or this machine right now, cannot
        // use them (permissions, a full disk, no file descriptors or memory left).
        sled::Error::Io(io)
            if matches!(io.kind(), std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::StorageFull)
                || matches!(io.raw_os_error(), Some(12 | 23 | 24)) =>
        {
            LogError::io("cannot open the database in", &log_dir, io)
        }
        e if e.to_string().contains("could not acquire lock") => LogError::Locked { dir: data_dir.to_path_buf() },
        e => LogError::Unopenable {
            data_dir: data_dir.to_path_buf(),
            message: unopenable_message(&e),
            snapshot: !sled_snapshots(data_dir).is_empty(),
        },
    })?;
    sync_dir(&log_dir)?;
    sync_dir(data_dir)?;
    Ok(db)
}

/// What [`LogError::Unopenable`] says when sled cannot parse `log/conf`.
pub(crate) const CONF_UNREADABLE: &str = "sled cannot read its configuration file log/conf (damaged, or not sled's)";

/// sled's reason for not opening a database, in words (its own text ends in an empty
/// backtrace, and blames an old sled version for a configuration file it cannot parse).
fn unopenable_message(e: &sled::Error) -> String {
    match e {
        sled::Error::Unsupported(m) if m.contains("0.29") => CONF_UNREADABLE.to_owned(),
        sled::Error::Corruption { at: Some(at), .. } => {
            format!("sled found corrupted data at {at:?} while recovering the database")
        }
        sled::Error::Corruption { at: None, .. } => {
            "sled found corrupted data while recovering the database (its snapshot `snap.*`, its configuration \
             `conf` or the database file `db`)"
                .to_owned()
        }
        other => other.to_string(),
    }
}

/// The file sled writes its log to, which each commit `sync_data`s.
pub fn db_file_path(data_dir: &Path) -> PathBuf {
    data_dir.join(LOG_DIR).join("db")
}

/// Open the file for `sync_data`.
pub fn open_sync_file(data_dir: &Path) -> Result<File, LogError> {
    let p = db_file_path(data_dir);
    FsOpen::new().write(true).open(&p).map_err(|e| LogError::io("cannot open for syncing", &p, e))
}

/// Bytes used by files under `path`.
pub fn disk_usage(path: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(path) else { return 0 };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_usage(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// What the writer needs to continue the log: the next seq, the head link, the dedup index.
#[derive(Debug)]
pub struct Tail {
    /// The seq the next record gets.
    pub next_seq: u64,
    /// The link of the last record ([`format::GENESIS`] when empty).
    pub head: [u8; 32],
    /// Every dedup key in the log.
    pub dedup: DedupIndex,
    /// The dedup keys of the records after [`Start::collect_after`], in log order.
    pub scanned_keys: Vec<u128>,
}

fn corrupt(seq: u64, reason: impl Into<String>) -> LogError {
    LogError::Corrupt { seq, reason: reason.into() }
}

/// A scanned segment's key, which must be `expected` (its first record's seq).
pub(crate) fn check_segment_key(k: &[u8], expected: u64) -> Result<u64, LogError> {
    let key = key_seq(k).ok_or_else(|| corrupt(expected, format!("a segment key is {} bytes, not 8", k.len())))?;
    if key != expected {
        return Err(corrupt(expected, format!("expected a segment starting at seq {expected}, found one at {key}")));
    }
    Ok(key)
}

/// A scanned record, which must hold seq `expected`: its (tenant, source, id) and its
/// stored link.
pub(crate) fn check_record(rec: &[u8], expected: u64) -> Result<(&str, &str, &str, [u8; 32]), LogError> {
    let (seq, tenant, source, id) = format::decode_ids(rec).map_err(|r| corrupt(expected, r))?;
    if seq != expected {
        return Err(corrupt(expected, format!("found seq {seq} where seq {expected} belongs")));
    }
    Ok((tenant, source, id, format::stored_link(rec).unwrap_or(format::GENESIS)))
}

/// Record `seq`'s stored `link` must be the hash of the link before it (`head`) and the
/// record.
pub(crate) fn check_chain(head: &[u8; 32], rec: &[u8], link: &[u8; 32], seq: u64) -> Result<(), LogError> {
    if format::chain_link(head, &rec[..rec.len() - format::LINK_LEN]) != *link {
        return Err(corrupt(
            seq,
            "the hash chain is broken: the record (or one before it) was altered after it was written",
        ));
    }
    Ok(())
}

/// Where a scan starts: after record `seq` (0: from the start), whose link is `link`,
/// with `dedup` holding the keys of records `1..=seq`.
#[derive(Debug)]
pub struct Start {
    /// The last record already accounted for.
    pub seq: u64,
    /// Its link.
    pub link: [u8; 32],
    /// The keys of records `1..=seq`.
    pub dedup: DedupIndex,
    /// Collect the keys of records after this seq into [`Tail::scanned_keys`].
    pub collect_after: Option<u64>,
}

impl Start {
    /// A scan of the whole log.
    pub fn full() -> Start {
        Start { seq: 0, link: format::GENESIS, dedup: DedupIndex::default(), collect_after: None }
    }
}

/// How many keys the scan collects before it adds them to the index (16 MiB of keys).
const SCAN_BATCH: usize = 1 << 20;

/// Scan the log after `start`: check that seqs are gapless and that every record's
/// hash-chain link holds (so any changed, missing or reordered byte is found before the
/// server starts), add the records' keys to the dedup index, and fully decode the last
/// segment. `verify` also decodes every record in full; a record whose link holds is the
/// one that was written, so the difference matters only for a build that wrote
/// undecodable records. With [`Start::full`] the whole log is checked; after a
/// checkpoint, the caller has checked that record `start.seq` holds `start.link`.
pub fn scan(db: &sled::Db, start: Start) -> Result<Tail, LogError> {
    let Start { seq: skip_to, link: start_link, mut dedup, collect_after } = start;
    let mut scanned_keys = Vec::new();
    // Keys found, added to the index a batch at a time (sorted, one merge per shard).
    let mut found = Vec::new();
    // The segment holding record skip_to + 1 (or the last one, when nothing follows).
    let first_key = if skip_to == 0 {
        1
    } else {
        match db.range(..=format::segment_key(skip_to + 1)).next_back() {
            Some(Ok((k, _))) => key_seq(&k).unwrap_or(1),
            Some(Err(e)) => {
                return Err(corrupt(
                    skip_to + 1,
                    format!("sled cannot read the segment: {}", crate::error::sled_text(&e)),
                ));
            }
            None => 1,
        }
    };
    let mut expected = first_key;
    let mut head = if skip_to == 0 { format::GENESIS } else { start_link };
    let mut last: Option<(u64, sled::IVec, [u8; 32])> = None;
    for item in db.range(format::segment_key(first_key)..) {
        let (k, v) = item
            .map_err(|e| corrupt(expected, format!("sled cannot read the segment: {}", crate::error::sled_text(&e))))?;
        let key = check_segment_key(&k, expected)?;
        let link_before = head;
        let mut r = SegmentReader::new(&v).map_err(|r| corrupt(expected, r))?;
        while let Some(rec) = r.next_record().map_err(|r| corrupt(expected, r))? {
            let (tenant, source, id, link) = check_record(rec, expected)?;
            let seq = expected;
            if seq <= skip_to {
                // Covered by the checkpoint: its keys are in `dedup` already.
                if seq == skip_to {
                    head = link;
                }
                expected += 1;
                continue;
            }
            check_chain(&head, rec, &link, seq)?;
            if let Some(k) = dedup_key(tenant, source, id) {
                found.push(k);
                if found.len() >= SCAN_BATCH {
                    dedup.insert_many(&mut found);
                }
                if collect_after.is_some_and(|after| seq > after) {
                    scanned_keys.push(k);
                }
            }
            head = link;
            expected += 1;
        }
        last = Some((key, v, link_before));
    }
    if let Some((key, v, mut prev)) = last {
        let mut seq = key;
        let mut r = SegmentReader::new(&v).map_err(|r| corrupt(seq, r))?;
        while let Some(rec) = r.next_record().map_err(|r| corrupt(seq, r))? {
            let (env, link) = format::decode_record(rec).map_err(|r| corrupt(seq, r))?;
            if env.seq != seq {
                return Err(corrupt(seq, format!("found seq {} where seq {seq} belongs", env.seq)));
            }
            let body = &rec[..rec.len() - format::LINK_LEN];
            if seq > skip_to && format::chain_link(&prev, body) != link {
                return Err(corrupt(seq, "the hash chain is broken at the log's tail"));
            }
            prev = link;
            seq += 1;
        }
    }
    dedup.insert_many(&mut found);
    Ok(Tail { next_seq: expected, head, dedup, scanned_keys })
}
