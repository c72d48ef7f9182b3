//! The writer thread: group commit.
//!
//! Callers encode their events (everything but the seq) on their own thread and send a
//! [`Request`]. The writer takes every request that is queued, gives the records gapless
//! seqs, drops duplicates, frames them into segments, writes ONE sled batch, flushes and
//! `sync_data`s once, then answers every request and bumps the watch. Under load many
//! callers share one flush, so throughput grows with concurrency.

use crate::dedup::{DedupIndex, dedup_key};
use crate::dir::{self, Tail};
use crate::error::LogError;
use crate::format::{self, SegmentBuilder, SegmentReader, key_seq, segment_key};
use crate::index::IndexWriter;
use crate::{AppendOutcome, Head, Integrity, OpenOptions, RawRecord};
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use tokio::sync::{oneshot, watch};

/// What one request gets back.
pub type Outcomes = Result<Vec<AppendOutcome>, LogError>;

/// State shared by the handles, the read iterators and the writer.
#[derive(Debug)]
pub struct Shared {
    /// sled; `None` once closed (or while it is reopened after a failed write).
    pub db: RwLock<Option<sled::Db>>,
    /// The last durable record and its link.
    pub head: Mutex<Head>,
    /// The last durable seq (what readers may see).
    pub committed: AtomicU64,
    /// Bumped after each commit; dropped on close.
    pub watch: Mutex<Option<watch::Sender<u64>>>,
    /// Commits made (sled batches written).
    pub commits: AtomicU64,
    /// Requests answered.
    pub requests: AtomicU64,
    /// Set when the handle is closed.
    pub closed: std::sync::atomic::AtomicBool,
    /// What the background check of the records before the checkpoint found.
    pub integrity: watch::Sender<Integrity>,
    /// Set by the background check when it found a bad record: appends are refused.
    pub broken: Mutex<Option<(u64, String)>>,
    /// Tells the background check to stop (the log is closing).
    pub stop_checker: std::sync::atomic::AtomicBool,
    /// Test hook: make this many upcoming commits fail after sled applied the batch.
    #[cfg(test)]
    pub fail_commits: std::sync::atomic::AtomicU32,
}

impl Shared {
    pub fn new(db: sled::Db, head: Head) -> Self {
        let (tx, _) = watch::channel(head.last_seq);
        Shared {
            db: RwLock::new(Some(db)),
            committed: AtomicU64::new(head.last_seq),
            head: Mutex::new(head),
            watch: Mutex::new(Some(tx)),
            commits: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            closed: std::sync::atomic::AtomicBool::new(false),
            integrity: watch::channel(Integrity::Verified).0,
            broken: Mutex::new(None),
            stop_checker: std::sync::atomic::AtomicBool::new(false),
            #[cfg(test)]
            fail_commits: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// A clone of the sled handle, or why there is none.
    pub fn db(&self) -> Result<sled::Db, LogError> {
        let g = self.db.read().unwrap_or_else(|e| e.into_inner());
        match g.as_ref() {
            Some(db) => Ok(db.clone()),
            None if self.closed.load(Ordering::Acquire) => Err(LogError::Closed),
            None => Err(LogError::Sled {
                what: "reading",
                message: "the database is being reopened after a failed write; try again".into(),
            }),
        }
    }

    fn publish(&self, last_seq: u64, hash: [u8; 32]) {
        self.set_head(last_seq, hash);
        self.wake(last_seq);
    }

    /// Make a commit visible to readers (`committed`, `head`).
    fn set_head(&self, last_seq: u64, hash: [u8; 32]) {
        *self.head.lock().unwrap_or_else(|e| e.into_inner()) = Head { last_seq, hash };
        self.committed.store(last_seq, Ordering::Release);
    }

    /// Wake whoever follows the log (the projections, `/v1/log` tails).
    fn wake(&self, last_seq: u64) {
        if let Some(w) = self.watch.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            w.send_replace(last_seq);
        }
    }
}

/// One event, encoded but for its seq.
#[derive(Debug)]
pub struct Item {
    pub start: usize,
    pub end: usize,
    pub kind: u8,
    pub key: Option<u128>,
}

/// A batch encoded on the caller's thread: `buf[item.start..item.end]` is the payload
/// after the seq.
#[derive(Debug)]
pub struct Prepared {
    pub buf: Vec<u8>,
    pub items: Vec<Item>,
}

/// What a request asks.
#[derive(Debug)]
pub enum Work {
    Append(Prepared),
    Raw(Vec<RawRecord>),
}

/// Where the answer goes.
#[derive(Debug)]
pub enum Reply {
    Async(oneshot::Sender<Outcomes>),
    Blocking(mpsc::SyncSender<Outcomes>),
}

impl Reply {
    fn send(self, r: Outcomes) {
        // A caller that stopped waiting (dropped future) is no error: the commit stands.
        match self {
            Reply::Async(tx) => {
                let _ = tx.send(r);
            }
            Reply::Blocking(tx) => {
                let _ = tx.send(r);
            }
        }
    }
}

/// One request to the writer.
#[derive(Debug)]
pub struct Request {
    pub work: Work,
    pub reply: Reply,
}

/// The writer thread's state.
pub struct Writer {
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Request>,
    data_dir: PathBuf,
    opts: OpenOptions,
    next_seq: u64,
    head: [u8; 32],
    dedup: DedupIndex,
    builder: SegmentBuilder,
    sync_file: Option<File>,
    needs_reopen: bool,
    poisoned: Option<String>,
    journal: Vec<u128>,
    index: Option<IndexWriter>,
    /// The acknowledged high-water mark's file (`index::HWM_FILE`), once opened; `None`
    /// after it could not be written (warned once: the log works without it).
    hwm: Option<File>,
    hwm_failed: bool,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("next_seq", &self.next_seq).field("data_dir", &self.data_dir).finish()
    }
}

impl Writer {
    pub fn new(
        shared: Arc<Shared>,
        rx: mpsc::Receiver<Request>,
        data_dir: PathBuf,
        opts: OpenOptions,
        tail: Tail,
        sync_file: Option<File>,
        index: Option<IndexWriter>,
    ) -> Self {
        Writer {
            shared,
            rx,
            data_dir,
            builder: SegmentBuilder::new(opts.max_segment_bytes),
            opts,
            next_seq: tail.next_seq,
            head: tail.head,
            dedup: tail.dedup,
            sync_file,
            needs_reopen: false,
            poisoned: None,
            journal: Vec::new(),
            index,
            hwm: None,
            hwm_failed: false,
        }
    }

    /// Record the last seq acknowledged ([`crate::index::missing_records`]) before the
    /// acknowledgements go out: one write into the page cache, synced with `sync`.
    fn write_hwm(&mut self, sync: bool) {
        use std::os::unix::fs::FileExt;
        if self.hwm_failed {
            return;
        }
        // The path only when opening or reporting: a commit writes, nothing more.
        let path = || self.data_dir.join(crate::index::HWM_FILE);
        if self.hwm.is_none() {
            match std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path()) {
                Ok(f) => self.hwm = Some(f),
                Err(e) => {
                    tracing::warn!(error = %e, path = %path().display(), "cannot keep the acknowledged high-water mark");
                    self.hwm_failed = true;
                    return;
                }
            }
        }
        let bytes = crate::index::encode_hwm(self.next_seq - 1, &self.head);
        let Some(f) = &self.hwm else { return };
        let r = f.write_all_at(&bytes, 0).and_then(|()| if sync { f.sync_data() } else { Ok(()) });
        if let Err(e) = r {
            tracing::warn!(error = %e, path = %path().display(), "cannot keep the acknowledged high-water mark");
            self.hwm = None;
            self.hwm_failed = true;
            let _ = crate::index::remove_hwm(&self.data_dir);
        }
    }

    /// Serve requests until every handle is gone, then flush and sync one last time.
    pub fn run(mut self) -> Result<(), LogError> {
        let mut reqs = Vec::new();
        loop {
            // After a failed write (a full disk), try to reopen every half second even
            // with nothing to append, so that reads and the projections resume by
            // themselves once the cause is gone.
            let first = if self.needs_reopen {
                match self.rx.recv_timeout(std::time::Duration::from_millis(500)) {
                    Ok(r) => r,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        match self.reopen() {
                            Ok(()) => tracing::info!("log reopened after a failed write"),
                            Err(e) => tracing::debug!(error = %e, "the log still cannot be reopened"),
                        }
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match self.rx.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                }
            };
            reqs.push(first);
            while let Ok(more) = self.rx.try_recv() {
                reqs.push(more);
            }
            self.commit(&mut reqs);
        }
        self.final_flush()
    }

    fn final_flush(&mut self) -> Result<(), LogError> {
        if self.needs_reopen {
            return Ok(());
        }
        let db = self.shared.db()?;
        db.flush().map_err(|e| LogError::sled("flushing on close", &e))?;
        if let Some(f) = &self.sync_file {
            f.sync_data().map_err(|e| LogError::io("cannot sync", dir::db_file_path(&self.data_dir), e))?;
        }
        if self.poisoned.is_none()
            && let Some(ix) = &mut self.index
            && let Err(reason) = ix.checkpoint(self.next_seq - 1, self.head)
        {
            tracing::warn!(%reason, "cannot write the duplicate index checkpoint; the next open scans the whole log");
            let _ = crate::index::remove_meta(&self.data_dir);
        }
        self.write_hwm(true);
        tracing::debug!(last_seq = self.next_seq - 1, "log writer stopped");
        Ok(())
    }

    fn commit(&mut self, reqs: &mut Vec<Request>) {
        if self.needs_reopen
            && let Err(e) = self.reopen()
        {
            tracing::error!(error = %e, "the log is still unavailable after a failed write");
            let reason = e.to_string();
            self.shared.requests.fetch_add(reqs.len() as u64, Ordering::Relaxed);
            for req in reqs.drain(..) {
                req.reply.send(Err(LogError::Write { reason: reason.clone() }));
            }
            return;
        }
        let seq0 = self.next_seq;
        let head0 = self.head;
        self.journal.clear();
        self.builder.reset();
        let mut results: Vec<Outcomes> = Vec::with_capacity(reqs.len());
        let broken = self.shared.broken.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for req in reqs.iter() {
            let mark = self.builder.mark();
            let (s, h, j) = (self.next_seq, self.head, self.journal.len());
            let r = match (&self.poisoned, &broken) {
                (_, Some((seq, reason))) => Err(LogError::Corrupt { seq: *seq, reason: reason.clone() }),
                (Some(reason), None) => Err(LogError::Corrupt { seq: self.next_seq, reason: reason.clone() }),
                (None, None) => match &req.work {
                    Work::Append(p) => self.stage_append(p),
                    Work::Raw(records) => self.stage_raw(records),
                },
            };
            if r.is_err() {
                self.builder.rewind(mark);
                self.next_seq = s;
                self.head = h;
                for k in self.journal.drain(j..) {
                    self.dedup.remove(k);
                }
            }
            results.push(r);
        }
        let mut committed = None;
        if !self.builder.is_empty() {
            match self.write() {
                Ok(()) => {
                    self.shared.commits.fetch_add(1, Ordering::Relaxed);
                    self.shared.set_head(self.next_seq - 1, self.head);
                    self.write_hwm(false);
                    committed = Some(self.next_seq - 1);
                }
                Err(e) => {
                    tracing::error!(error = %e, first_seq = seq0, "log commit failed; nothing of it is acknowledged");
                    self.next_seq = seq0;
                    self.head = head0;
                    for k in self.journal.drain(..) {
                        self.dedup.remove(k);
                    }
                    let reason = e.to_string();
                    for r in results.iter_mut() {
                        if r.is_ok() {
                            *r = Err(LogError::Write { reason: reason.clone() });
                        }
                    }
                    self.recover(seq0);
                }
            }
        }
        self.shared.requests.fetch_add(reqs.len() as u64, Ordering::Relaxed);
        for (req, r) in reqs.drain(..).zip(results) {
            req.reply.send(r);
        }
        // The acknowledgements first: the projections' thread woken before them would
        // compete with the connections' for the cores while they send (docs/performance.md,
        // "One disk round trip less per commit"). Readers already see the commit.
        if let Some(last_seq) = committed {
            self.shared.wake(last_seq);
            if let Some(ix) = &mut self.index {
                for k in &self.journal {
                    ix.push(*k);
                }
            }
            self.index_committed();
        }
    }

    /// Write the keys queued for the index (and checkpoint now and then). The index is a
    /// cache: when it cannot be written it is dropped, and the next open scans in full.
    fn index_committed(&mut self) {
        if let Some(ix) = &mut self.index
            && let Err(reason) = ix.committed(self.next_seq - 1, self.head)
        {
            tracing::warn!(%reason, "cannot keep the duplicate index file; the next open scans the whole log");
            let _ = crate::index::remove_meta(&self.data_dir);
            self.index = None;
        }
    }

    fn stage_append(&mut self, p: &Prepared) -> Outcomes {
        let mut out = Vec::with_capacity(p.items.len());
        for (index, it) in p.items.iter().enumerate() {
            if let Some(k) = it.key {
                if !self.dedup.insert(k) {
                    out.push(AppendOutcome::Duplicate);
                    continue;
                }
                self.journal.push(k);
            }
            let seq = self.next_seq;
            let tail = p.buf.get(it.start..it.end).unwrap_or(&[]);
            let link = self
                .builder
                .push(seq, &self.head, it.kind, |o| {
                    format::push_seq(o, seq);
                    o.extend_from_slice(tail);
                })
                .map_err(|t| LogError::TooLarge { index, bytes: t.bytes, max: self.opts.max_segment_bytes })?;
            self.head = link;
            self.next_seq += 1;
            out.push(AppendOutcome::Appended(seq));
        }
        Ok(out)
    }

    fn stage_raw(&mut self, records: &[RawRecord]) -> Outcomes {
        for (index, r) in records.iter().enumerate() {
            let rejected = |reason: String| LogError::RawRejected { seq: r.seq, reason };
            if r.seq != self.next_seq {
                return Err(rejected(format!("the log continues at seq {}", self.next_seq)));
            }
            let (env, link) = format::decode_record(&r.bytes).map_err(rejected)?;
            if env.seq != r.seq {
                return Err(rejected(format!("its bytes hold seq {}", env.seq)));
            }
            let body = &r.bytes[..r.bytes.len() - format::LINK_LEN];
            if format::chain_link(&self.head, body) != link {
                return Err(rejected("its hash-chain link does not follow this log's head".into()));
            }
            self.builder.push_raw(r.seq, &r.bytes).map_err(|t| LogError::TooLarge {
                index,
                bytes: t.bytes,
                max: self.opts.max_segment_bytes,
            })?;
            if let Some(k) = dedup_key(&env.tenant, &env.source, &env.event.id)
                && self.dedup.insert(k)
            {
                self.journal.push(k);
            }
            self.head = link;
            self.next_seq += 1;
        }
        Ok(Vec::new())
    }

    /// Write the staged segments as one sled batch, flush, sync.
    fn write(&mut self) -> Result<(), LogError> {
        let db = self.shared.db()?;
        // One segment (a commit of up to ~12 KiB of records) is one sled `insert`,
        // atomic by itself. Several go in one `apply_batch` so that recovery takes all or
        // none of them; sled writes a batch's manifest in an I/O buffer of its own, with
        // its own `sync_file_range`: one more disk round trip before the acknowledgement
        // (docs/performance.md, "One disk round trip less per commit").
        let written = match self.builder.segments() {
            [(first, value)] => db.insert(&segment_key(*first)[..], &value[..]).map(drop),
            segments => {
                let mut batch = sled::Batch::default();
                for (first, value) in segments {
                    batch.insert(&segment_key(*first)[..], &value[..]);
                }
                db.apply_batch(batch)
            }
        };
        if let Err(e) = written {
            self.needs_reopen = true;
            return Err(LogError::sled("writing a batch", &e));
        }
        #[cfg(test)]
        {
            let f = &self.shared.fail_commits;
            if f.load(Ordering::Acquire) > 0 {
                f.fetch_sub(1, Ordering::AcqRel);
                self.needs_reopen = true;
                return Err(LogError::Write { reason: "injected failure".into() });
            }
        }
        if let Err(e) = db.flush() {
            self.needs_reopen = true;
            return Err(LogError::sled("flushing", &e));
        }
        if self.opts.sync_data
            && let Some(f) = &self.sync_file
            && let Err(e) = f.sync_data()
        {
            self.needs_reopen = true;
            return Err(LogError::io("cannot sync", dir::db_file_path(&self.data_dir), e));
        }
        Ok(())
    }

    /// After a failed commit: take back what sled may hold of it, reopen sled (a failed
    /// sled write leaves it refusing all further work until reopened) and adopt whatever
    /// of the failed commit did reach the disk, so the log stays gapless and the chain and
    /// dedup index match it.
    fn recover(&mut self, from_seq: u64) {
        if let Ok(db) = self.shared.db() {
            let mut undo = sled::Batch::default();
            for (first, _) in self.builder.segments() {
                undo.remove(&segment_key(*first)[..]);
            }
            if let Err(e) = db.apply_batch(undo) {
                tracing::warn!(error = %e, "could not take back the failed commit in memory");
            }
        }
        if let Err(e) = self.reopen() {
            tracing::error!(error = %e, "cannot reopen the log after a failed write; will retry on the next append");
            return;
        }
        tracing::info!(from_seq, "log reopened after a failed write");
    }

    fn reopen(&mut self) -> Result<(), LogError> {
        self.sync_file = None;
        {
            let mut g = self.shared.db.write().unwrap_or_else(|e| e.into_inner());
            *g = None;
        }
        let db = reopen_sled(&self.data_dir)?;
        // Adopt segments at or after next_seq: a failed commit that still reached the disk.
        let mut adopted = 0u64;
        let start = segment_key(self.next_seq);
        for item in db.range(&start[..]..) {
            let (k, v) = item.map_err(|e| LogError::sled("reading after reopen", &e))?;
            let key = key_seq(&k).unwrap_or(0);
            if let Err(reason) = self.adopt(key, &v) {
                self.poisoned = Some(reason.clone());
                *self.shared.db.write().unwrap_or_else(|e| e.into_inner()) = Some(db);
                self.needs_reopen = false;
                return Err(LogError::Corrupt { seq: self.next_seq, reason });
            }
            adopted += 1;
        }
        let sync_file = dir::open_sync_file(&self.data_dir)?;
        db.flush().map_err(|e| LogError::sled("flushing after reopen", &e))?;
        if self.opts.sync_data {
            sync_file.sync_data().map_err(|e| LogError::io("cannot sync", dir::db_file_path(&self.data_dir), e))?;
        }
        self.sync_file = Some(sync_file);
        *self.shared.db.write().unwrap_or_else(|e| e.into_inner()) = Some(db);
        self.needs_reopen = false;
        if adopted > 0 {
            tracing::warn!(segments = adopted, "a commit reported as failed had reached the disk; it is kept");
            self.shared.publish(self.next_seq - 1, self.head);
            self.index_committed();
        }
        Ok(())
    }

    fn adopt(&mut self, key: u64, value: &[u8]) -> Result<(), String> {
        if key != self.next_seq {
            return Err(format!("after reopening, found a segment at seq {key} where {} was expected", self.next_seq));
        }
        let mut r = SegmentReader::new(value)?;
        while let Some(rec) = r.next_record()? {
            let (env, link) = format::decode_record(rec)?;
            if env.seq != self.next_seq || format::chain_link(&self.head, &rec[..rec.len() - format::LINK_LEN]) != link
            {
                return Err(format!("after reopening, record {} does not continue the chain", self.next_seq));
            }
            if let Some(k) = dedup_key(&env.tenant, &env.source, &env.event.id)
                && self.dedup.insert(k)
                && let Some(ix) = &mut self.index
            {
                ix.push(k);
            }
            self.head = link;
            self.next_seq += 1;
        }
        Ok(())
    }
}

/// Open sled again after a failure ([`dir::open_sled`] waits for the failed instance to
/// release its lock).
fn reopen_sled(data_dir: &std::path::Path) -> Result<sled::Db, LogError> {
    dir::open_sled(data_dir).map_err(|e| match e {
        LogError::Locked { .. } => LogError::Sled {
            what: "reopening the database after a failed write",
            message: "the failed instance still holds its file lock; will retry on the next append".into(),
        },
        other => other,
    })
}
