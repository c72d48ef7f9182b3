//! Seatwatch's durable, tamper-evident, append-only event log.
//!
//! The log is the truth (CONTRACT.md §5): every projection is a fold over it. This crate
//! stores [`Envelope`]s in order, gives each a gapless `seq` from 1, answers an append only
//! once it is durable on disk, drops duplicates, and chains every record to the one
//! before it with BLAKE3 so that an edit anywhere is found by [`verify`].
//!
//! It knows nothing of projections, HTTP, tokens or tenants' rules: it takes already
//! validated events and hands them back in order.
//!
//! # Data directory
//!
//! ```text
//! DIR/seatwatch.lock   exclusive lock, held while a Log (or verify) has the directory
//! DIR/caller.key       32 random bytes (mode 0600): the key for hashing callers
//! DIR/log/             the sled database
//! DIR/snapshots/       (written by another crate)
//! ```
//!
//! # Format
//!
//! See [`format`](mod@format) for the bytes. In short: records
//! `[version 1][kind][bincode Envelope][32-byte BLAKE3 link]` are grouped into segments of
//! less than 12 KiB (one sled value each, keyed by the first seq as big-endian u64).
//!
//! # Invariants
//!
//! * Seqs are gapless from 1; the record at seq `n` holds `seq == n`; a segment's key is
//!   its first record's seq. Committed segments are never rewritten.
//! * `link_n = BLAKE3(link_{n-1} ‖ record_n without link)`, `link_0` = 32 zero bytes; the
//!   head hash ([`Head`]) is the last link.
//! * An append returns only after its records are in sled, sled is flushed and (unless
//!   [`OpenOptions::sync_data`] is off) the database file is `sync_data`ed.
//! * `(tenant, source, event id)` is stored at most once; events with an empty id (server
//!   ticks) are never deduplicated.
//! * A failed commit is answered with an error for every request in it, and leaves the
//!   log gapless and consistent; later appends work again once the cause is gone.
//!
//! # Concurrency
//!
//! [`Log`] is a cheap handle (`Clone`, `Send`, `Sync`). One writer thread owns the write
//! path and commits everything queued at once (group commit): callers encode their
//! events on their own threads, the writer assigns seqs, writes one sled batch, flushes
//! and syncs once, and answers every request of that commit.

mod dedup;
mod dir;
mod error;
pub mod format;
mod index;
mod read;
mod repair;
mod verify;
mod writer;

pub use dir::{KEY_FILE, holds_log};
pub use error::{LogError, VerifyError};
pub use index::{CHECKPOINT_EVERY, HWM_FILE, KEYS_FILE as INDEX_KEYS_FILE, META_FILE as INDEX_META_FILE, load_hwm};
pub use read::{RawIter, ReadIter};
pub use repair::{QUARANTINE_DIR, QuarantinedSegment, RepairReport, read_quarantine, repair};
pub use verify::verify;

use seatwatch_model::{CallerKey, Envelope, Event, Text, Ts};
use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock, mpsc};
use writer::{Item, Prepared, Reply, Request, Shared, Work, Writer};

/// The default [`OpenOptions::max_segment_bytes`]: under 12 KiB with room for sled's own
/// per-item framing.
pub const DEFAULT_MAX_SEGMENT_BYTES: usize = 12 * 1024 - 256;

/// How to open a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    /// `sync_data` the database file after every flush (default true). sled's own flush
    /// uses `sync_file_range` on Linux, which survives a process crash but not
    /// necessarily a power loss. Turn off only for benchmarks.
    pub sync_data: bool,
    /// The largest segment (sled value) in bytes, default [`DEFAULT_MAX_SEGMENT_BYTES`];
    /// one encoded event must fit in it.
    pub max_segment_bytes: usize,
    /// How much of the log [`Log::open`] checks before it returns (default
    /// [`OpenCheck::Full`]).
    pub check: OpenCheck,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { sync_data: true, max_segment_bytes: DEFAULT_MAX_SEGMENT_BYTES, check: OpenCheck::Full }
    }
}

/// How much of the log [`Log::open`] reads before it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OpenCheck {
    /// Read every record: check every seq and chain link, rebuild the duplicate index.
    /// Open refuses a log with a bad record anywhere. Takes time in proportion to the log
    /// (about 0.7 µs per record).
    #[default]
    Full,
    /// Start from the persisted duplicate index's checkpoint when it matches the log
    /// (the record at its seq still has its link): read its keys, check and scan only
    /// the records after it, and check the records up to it on a background thread
    /// ([`Log::integrity`], [`Log::verified`]). A bad record there is reported as soon
    /// as it is found and from then on every append is refused with
    /// [`LogError::Corrupt`]. Without a usable checkpoint, the same as `Full`.
    Checkpoint,
}

/// What the check of the log's records up to its checkpoint found so far
/// ([`OpenCheck::Checkpoint`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Integrity {
    /// Every record was checked (at open, or by the background check since).
    Verified,
    /// The background check is running: records `1..upto` are being checked.
    Checking {
        /// The last seq it will check.
        upto: u64,
    },
    /// The background check found a bad record: appends are refused from then on.
    Broken {
        /// The first bad seq.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
}

/// An event to append, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The tenant (from the producer's token).
    pub tenant: Text,
    /// The token name (`server` for ticks).
    pub source: Text,
    /// The server's wall clock when it was received.
    pub received: Ts,
    /// The validated event.
    pub event: Event,
}

/// What happened to one event of an append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppendOutcome {
    /// Stored under this seq.
    Appended(u64),
    /// The same `(tenant, source, id)` is already in the log (or earlier in this commit): not stored.
    Duplicate,
}

/// The last durable record and its chain link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Head {
    /// Its seq (0 for an empty log).
    pub last_seq: u64,
    /// Its link (32 zero bytes for an empty log).
    pub hash: [u8; 32],
}

impl Head {
    /// The hash as 64 lowercase hex digits.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }
}

/// One record exactly as stored: `[version][kind][payload][link]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRecord {
    /// Its seq.
    pub seq: u64,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What [`verify`] found in a sound log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked.
    pub records: u64,
    /// The last seq (0 for an empty log).
    pub last_seq: u64,
    /// The head.
    pub head: Head,
}

/// Counters for `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LogStats {
    /// sled batches committed (each one flush + sync).
    pub commits: u64,
    /// Append requests answered (successfully or not).
    pub requests: u64,
}

/// A handle to an open log. Cloning is cheap; the log closes when [`Log::close`] is called
/// or the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Log {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    tx: RwLock<Option<mpsc::Sender<Request>>>,
    writer: Mutex<Option<std::thread::JoinHandle<Result<(), LogError>>>>,
    lock: Mutex<Option<File>>,
    checker: Mutex<Option<std::thread::JoinHandle<()>>>,
    dir: PathBuf,
    caller_key: CallerKey,
    opts: OpenOptions,
}

impl Log {
    /// Open (or create) the log in `dir` with default options.
    pub fn open(dir: &Path) -> Result<Log, LogError> {
        Log::open_with(dir, OpenOptions::default())
    }

    /// Open (or create) the log in `dir`. Fails at once with [`LogError::Locked`] if
    /// another process or handle has it, and with [`LogError::Corrupt`] if the log's tail
    /// does not decode or chain.
    pub fn open_with(dir: &Path, opts: OpenOptions) -> Result<Log, LogError> {
        Log::open_inner(dir, opts, None)
    }

    /// Open (or create) the log in `dir`, whose callers are (to be) hashed with `key`: a
    /// copy of another data directory's `caller.key`, so that a log made from its
    /// records (a backup) hashes new callers as the original does.
    ///
    /// In a directory that holds no log yet ([`holds_log`] is false) the key is
    /// installed as `caller.key` (mode 0600); a `caller.key` already there must be the
    /// same key, and is then not taken for a sign of a lost database. A directory with a
    /// log must have this key: otherwise [`LogError::CallerKeyMismatch`], before anything
    /// is opened.
    pub fn open_with_key(dir: &Path, key: &CallerKey, opts: OpenOptions) -> Result<Log, LogError> {
        Log::open_inner(dir, opts, Some(key))
    }

    fn open_inner(dir: &Path, opts: OpenOptions, install: Option<&CallerKey>) -> Result<Log, LogError> {
        if !(format::MIN_SEGMENT_BYTES..=format::MAX_SEGMENT_BYTES_LIMIT).contains(&opts.max_segment_bytes) {
            return Err(LogError::InvalidOptions {
                reason: format!(
                    "max_segment_bytes is {}, but must be between {} and {}",
                    opts.max_segment_bytes,
                    format::MIN_SEGMENT_BYTES,
                    format::MAX_SEGMENT_BYTES_LIMIT
                ),
            });
        }
        std::fs::create_dir_all(dir).map_err(|e| LogError::io("cannot create the data directory", dir, e))?;
        let lock = dir::acquire_lock(dir)?;
        let key_path = dir.join(dir::KEY_FILE);
        let had_key = key_path.exists();
        let existing = if had_key { Some(dir::load_or_create_key(dir)?) } else { None };
        if let (Some(given), Some(have)) = (install, &existing)
            && given.0 != have.0
        {
            return Err(LogError::CallerKeyMismatch { path: key_path });
        }
        // A key that is the one being installed, in a directory that never held a log,
        // was put there for the log about to be made: not a sign of a lost database.
        if install.is_none() || dir::holds_log(dir) {
            dir::check_database_present(dir)?;
        }
        let db = dir::open_sled(dir)?;
        let (tail, index, check_upto) = open_index(dir, &db, opts.check)?;
        let caller_key = match existing {
            Some(k) => k,
            None if tail.next_seq > 1 => return Err(LogError::MissingCallerKey { path: key_path }),
            None => match install {
                Some(key) => {
                    dir::write_key(dir, key)?;
                    tracing::info!(path = %key_path.display(), "installed the given caller key");
                    key.clone()
                }
                None => dir::load_or_create_key(dir)?,
            },
        };
        let sync_file = Some(dir::open_sync_file(dir)?);
        let head = Head { last_seq: tail.next_seq - 1, hash: tail.head };
        tracing::info!(dir = %dir.display(), last_seq = head.last_seq, dedup_keys = tail.dedup.len(), "log opened");
        let shared = Arc::new(Shared::new(db, head));
        let checker = match check_upto {
            Some(upto) => Some(spawn_checker(shared.clone(), upto, dir)?),
            None => None,
        };
        let (tx, rx) = mpsc::channel();
        let w = Writer::new(shared.clone(), rx, dir.to_path_buf(), opts, tail, sync_file, index);
        let handle = std::thread::Builder::new()
            .name("seatwatch-log-writer".into())
            .spawn(move || w.run())
            .map_err(|e| LogError::io("cannot start the writer thread for", dir, e))?;
        Ok(Log {
            inner: Arc::new(Inner {
                shared,
                tx: RwLock::new(Some(tx)),
                writer: Mutex::new(Some(handle)),
                lock: Mutex::new(Some(lock)),
                checker: Mutex::new(checker),
                dir: dir.to_path_buf(),
                caller_key,
                opts,
            }),
        })
    }

    /// The data directory's key for hashing callers.
    pub fn caller_key(&self) -> &CallerKey {
        &self.inner.caller_key
    }

    /// The last durable record and its chain link.
    pub fn head(&self) -> Head {
        *self.inner.shared.head.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the check of the records before the checkpoint found so far
    /// ([`OpenCheck::Checkpoint`]); always [`Integrity::Verified`] after a full open.
    pub fn integrity(&self) -> Integrity {
        self.inner.shared.integrity.borrow().clone()
    }

    /// Resolves once the background check of [`OpenCheck::Checkpoint`] is done: `Ok` when
    /// every record checked out (at once after a full open), the [`LogError::Corrupt`] it
    /// found otherwise. Never resolves if the log is closed before the check ends.
    pub fn verified(&self) -> impl Future<Output = Result<(), LogError>> + Send + 'static + use<> {
        let mut rx = self.inner.shared.integrity.subscribe();
        async move {
            loop {
                match &*rx.borrow_and_update() {
                    Integrity::Verified => return Ok(()),
                    Integrity::Broken { seq, reason } => {
                        return Err(LogError::Corrupt { seq: *seq, reason: reason.clone() });
                    }
                    Integrity::Checking { .. } => {}
                }
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// The options the log was opened with.
    pub fn options(&self) -> OpenOptions {
        self.inner.opts
    }

    /// Commit and request counters.
    pub fn stats(&self) -> LogStats {
        LogStats {
            commits: self.inner.shared.commits.load(Ordering::Relaxed),
            requests: self.inner.shared.requests.load(Ordering::Relaxed),
        }
    }

    /// Encode a batch on the caller's thread (all but the seq) and queue it.
    fn send(&self, batch: Vec<Pending>, reply: Reply) -> Result<(), LogError> {
        let max = self.inner.opts.max_segment_bytes;
        let mut buf = Vec::with_capacity(batch.len() * 192);
        let mut items = Vec::with_capacity(batch.len());
        // Framing around a payload tail: segment header, length prefix, version, kind,
        // the seq (≤ 9 bytes as a varint) and the link.
        let overhead = format::SEGMENT_HEADER_LEN + format::RECORD_PREFIX_LEN + format::RECORD_HEADER_LEN + 9 + 32;
        for (index, p) in batch.iter().enumerate() {
            let start = buf.len();
            format::encode_tail(&mut buf, &p.tenant, &p.source, &p.received, &p.event)
                .map_err(|e| LogError::Encode { reason: e.to_string() })?;
            let bytes = buf.len() - start + overhead;
            if bytes > max {
                return Err(LogError::TooLarge { index, bytes, max });
            }
            let kind = if matches!(p.event.kind, seatwatch_model::EventKind::Tick) {
                seatwatch_model::RecordKind::Tick
            } else {
                seatwatch_model::RecordKind::Event
            };
            items.push(Item {
                start,
                end: buf.len(),
                kind: format::kind_byte(kind),
                key: dedup::dedup_key(&p.tenant, &p.source, &p.event.id),
            });
        }
        self.submit(Request { work: Work::Append(Prepared { buf, items }), reply })
    }

    fn submit(&self, req: Request) -> Result<(), LogError> {
        let g = self.inner.tx.read().unwrap_or_else(|e| e.into_inner());
        match g.as_ref() {
            Some(tx) => tx.send(req).map_err(|_| LogError::Closed),
            None => Err(LogError::Closed),
        }
    }

    /// Append a batch; resolves once it is durable, with one outcome per event, in order.
    ///
    /// The batch is encoded and queued when this is *called*, not when the future is
    /// first polled, so calls commit in call order; dropping the future does not take
    /// the batch back. Needs no tokio runtime of its own.
    pub fn append(
        &self,
        batch: Vec<Pending>,
    ) -> impl Future<Output = Result<Vec<AppendOutcome>, LogError>> + Send + 'static + use<> {
        let sent = if batch.is_empty() {
            Ok(None)
        } else {
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.send(batch, Reply::Async(tx)).map(|()| Some(rx))
        };
        async move {
            match sent? {
                None => Ok(Vec::new()),
                Some(rx) => rx.await.unwrap_or(Err(LogError::Closed)),
            }
        }
    }

    /// [`Log::append`] for threads that may block.
    pub fn append_blocking(&self, batch: Vec<Pending>) -> Result<Vec<AppendOutcome>, LogError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(batch, Reply::Blocking(tx))?;
        rx.recv().unwrap_or(Err(LogError::Closed))
    }

    /// Append records copied verbatim from another log (`seatwatch backup`). They must
    /// continue this log: the first has seq `head().last_seq + 1`, seqs are consecutive,
    /// and each link follows the chain. Durable on return; all or nothing.
    pub fn append_raw(&self, records: Vec<RawRecord>) -> Result<(), LogError> {
        if records.is_empty() {
            return Ok(());
        }
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(Request { work: Work::Raw(records), reply: Reply::Blocking(tx) })?;
        rx.recv().unwrap_or(Err(LogError::Closed)).map(|_| ())
    }

    /// Decode a raw record (checks its version and kind bytes and that it holds its seq).
    pub fn decode_raw(raw: &RawRecord) -> Result<Envelope, LogError> {
        read::decode_at(raw.seq, &raw.bytes)
    }

    /// Committed records with seq ≥ `from_seq`, in order: those durable when this is
    /// called. After an error the iterator ends.
    pub fn read_from(&self, from_seq: u64) -> ReadIter {
        ReadIter::new(self.inner.shared.clone(), from_seq)
    }

    /// Like [`Log::read_from`], the stored bytes of each record.
    pub fn read_raw_from(&self, from_seq: u64) -> RawIter {
        RawIter::new(self.inner.shared.clone(), from_seq)
    }

    /// The last durable seq, bumped after each commit. Its sender is dropped on close.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        let g = self.inner.shared.watch.lock().unwrap_or_else(|e| e.into_inner());
        match g.as_ref() {
            Some(w) => w.subscribe(),
            None => tokio::sync::watch::channel(self.inner.shared.committed.load(Ordering::Acquire)).1,
        }
    }

    /// Finish queued appends, flush and sync, stop the writer, close sled and release the
    /// directory. Later appends and reads get [`LogError::Closed`]. Idempotent; also done
    /// when the last clone is dropped.
    pub fn close(&self) -> Result<(), LogError> {
        self.inner.close()
    }

    /// Bytes the database uses on disk.
    pub fn size_on_disk(&self) -> u64 {
        dir::disk_usage(&self.inner.dir.join(dir::LOG_DIR))
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    #[cfg(test)]
    fn fail_next_commits(&self, n: u32) {
        self.inner.shared.fail_commits.store(n, Ordering::Release);
    }
}

impl Inner {
    fn close(&self) -> Result<(), LogError> {
        let tx = self.tx.write().unwrap_or_else(|e| e.into_inner()).take();
        let Some(tx) = tx else { return Ok(()) };
        drop(tx);
        self.shared.stop_checker.store(true, Ordering::Release);
        if let Some(h) = self.checker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
        let handle = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        let result = match handle.map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(LogError::Write { reason: "the log's writer thread stopped unexpectedly".into() }),
            None => Ok(()),
        };
        self.shared.closed.store(true, Ordering::Release);
        let db = self.shared.db.write().unwrap_or_else(|e| e.into_inner()).take();
        let had_db = db.is_some();
        drop(db);
        self.shared.watch.lock().unwrap_or_else(|e| e.into_inner()).take();
        if had_db {
            // So that the directory can be opened again as soon as this returns.
            dir::wait_sled_released(&self.dir);
        }
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
        tracing::info!(dir = %self.dir.display(), "log closed");
        result
    }
}

/// Open-time work for the duplicate index: with [`OpenCheck::Checkpoint`] and a usable
/// checkpoint, scan only after it (returning the seq the background check must reach);
/// otherwise scan in full. Either way, returns the index writer that keeps the keys file
/// (`None` if it cannot be written: the log works without it, opens are then slower).
fn open_index(
    dir: &Path,
    db: &sled::Db,
    check: OpenCheck,
) -> Result<(dir::Tail, Option<index::IndexWriter>, Option<u64>), LogError> {
    if let Some((first, upto)) = index::missing_records(dir, db) {
        return Err(LogError::Corrupt { seq: first, reason: index::missing_reason(first, upto) });
    }
    let loaded = match index::load(dir) {
        Ok(Some(l)) if l.meta.seq == 0 || index::link_at(db, l.meta.seq) == Some(l.meta.link) => Some(l),
        Ok(Some(l)) => {
            tracing::warn!(
                checkpoint_seq = l.meta.seq,
                "the duplicate index's checkpoint does not match the log (it was repaired or replaced); \
                 scanning the whole log and writing the index anew"
            );
            None
        }
        Ok(None) => {
            tracing::info!("no duplicate index checkpoint yet; scanning the whole log");
            None
        }
        Err(reason) => {
            tracing::warn!(%reason, "the duplicate index checkpoint cannot be used; scanning the whole log");
            None
        }
    };
    let warn = |reason: String| {
        tracing::warn!(%reason, "cannot keep the duplicate index file; the next open scans the whole log");
        let _ = index::remove_meta(dir);
    };
    match loaded {
        Some(l) if check == OpenCheck::Full => {
            let start = dir::Start { collect_after: Some(l.meta.seq), ..dir::Start::full() };
            let tail = dir::scan(db, start)?;
            let w = index::IndexWriter::resume(dir, &l, &tail.scanned_keys).map_err(warn).ok();
            Ok((tail, w, None))
        }
        Some(l) => {
            let dedup = dedup::DedupIndex::from_keys(&l.keys);
            let start = dir::Start { seq: l.meta.seq, link: l.meta.link, dedup, collect_after: Some(l.meta.seq) };
            let tail = dir::scan(db, start)?;
            tracing::info!(
                checkpoint_seq = l.meta.seq,
                scanned = tail.next_seq - 1 - l.meta.seq,
                "log opened from the duplicate index checkpoint; checking the records before it in the background"
            );
            let w = index::IndexWriter::resume(dir, &l, &tail.scanned_keys).map_err(warn).ok();
            let upto = (l.meta.seq > 0).then_some(l.meta.seq);
            Ok((tail, w, upto))
        }
        None => {
            let tail = dir::scan(db, dir::Start::full())?;
            let w = index::IndexWriter::create(dir, tail.dedup.iter(), tail.next_seq - 1, tail.head).map_err(warn).ok();
            Ok((tail, w, None))
        }
    }
}

/// The background check of records `1..=upto` ([`OpenCheck::Checkpoint`]).
fn spawn_checker(shared: Arc<Shared>, upto: u64, dir: &Path) -> Result<std::thread::JoinHandle<()>, LogError> {
    shared.integrity.send_replace(Integrity::Checking { upto });
    let db = shared.db()?;
    std::thread::Builder::new()
        .name("seatwatch-log-check".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            let stop = || shared.stop_checker.load(Ordering::Acquire);
            let r = index::verify_prefix(&db, upto, |_| !stop());
            drop(db);
            match r {
                Ok(()) if stop() => {}
                Ok(()) => {
                    tracing::info!(upto, secs = started.elapsed().as_secs_f64(), "background log check: every record up to the checkpoint holds");
                    shared.integrity.send_replace(Integrity::Verified);
                }
                Err(LogError::Corrupt { seq, reason }) => {
                    let e = LogError::Corrupt { seq, reason: reason.clone() };
                    tracing::error!(error = %e, "background log check: the log is corrupt; appends are refused from now on");
                    *shared.broken.lock().unwrap_or_else(|e| e.into_inner()) = Some((seq, reason.clone()));
                    shared.integrity.send_replace(Integrity::Broken { seq, reason });
                }
                Err(e) => {
                    let reason = e.to_string();
                    tracing::error!(error = %e, "background log check failed; appends are refused from now on");
                    *shared.broken.lock().unwrap_or_else(|e| e.into_inner()) = Some((1, reason.clone()));
                    shared.integrity.send_replace(Integrity::Broken { seq: 1, reason });
                }
            }
        })
        .map_err(|e| LogError::io("cannot start the log check thread for", dir, e))
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!(error = %e, dir = %self.dir.display(), "closing the log on drop failed");
        }
    }
}

#[cfg(test)]
mod tests;
