//! The persisted duplicate index: a cache that lets [`crate::Log::open`] skip scanning
//! the whole log.
//!
//! Without it, opening a log rebuilds the in-memory duplicate index by reading every
//! record (about 0.7 µs per record: 7–20 s for 10 million). With it, open reads a file of
//! 16-byte keys, checks it against the log, and scans only the records written after it.
//!
//! # Files (in the data directory)
//!
//! ```text
//! dedup.keys   b"SWKEYS\0\x01", then one 16-byte key (little-endian u128) per deduplicated
//!              record, in log order. Appended after every commit (no fsync of its own).
//! dedup.meta   120 bytes, replaced atomically (write, fsync, rename, fsync directory):
//!              b"SWIDXM\0\x01" | seq u64 BE | keys u64 BE | link at seq (32) |
//!              BLAKE3 of the first `keys` keys (32) | BLAKE3 of the 88 bytes before (32)
//! ```
//!
//! `dedup.meta` is a *checkpoint*: "the first `keys` keys of `dedup.keys` are exactly the
//! duplicate keys of records `1..=seq`, and record `seq`'s link is `link`". It is written
//! only after `dedup.keys` was synced, every [`CHECKPOINT_EVERY`] while keys are appended
//! and when the log closes. Open trusts it only if its own checksum holds, the keys'
//! digest holds and record `seq` of the log still has that link; otherwise the log is
//! scanned in full and both files are written anew. The files are a cache: deleting them
//! costs one slow open, never data.
//!
//! The link at `seq` pins the checkpoint to the log's content up to `seq` (each link
//! hashes the one before), but it does not prove that the *stored bytes* of records
//! before `seq` are still those links' preimages — a flipped byte in the middle of the
//! log. That is what the background check ([`verify_prefix`]) is for: the log is usable
//! at once, and the records up to the checkpoint are checked while it serves.

use crate::dir;
use crate::error::LogError;
use crate::format::{self, SegmentReader, key_seq, segment_key};
use std::fs::{File, OpenOptions as FsOpen};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The keys file's name inside the data directory.
pub const KEYS_FILE: &str = "dedup.keys";
/// The checkpoint's file name inside the data directory.
pub const META_FILE: &str = "dedup.meta";
/// How often, at most, the writer syncs the keys file and writes a checkpoint while keys
/// are being appended (also on close).
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(30);

const KEYS_MAGIC: &[u8; 8] = b"SWKEYS\0\x01";
const META_MAGIC: &[u8; 8] = b"SWIDXM\0\x01";
const META_LEN: usize = 8 + 8 + 8 + 32 + 32 + 32;
const KEY_LEN: u64 = 16;

/// A checkpoint as read from `dedup.meta`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The last seq the keys cover.
    pub seq: u64,
    /// How many keys of `dedup.keys` belong to the checkpoint.
    pub keys: u64,
    /// Record `seq`'s chain link.
    pub link: [u8; 32],
    /// BLAKE3 of those keys' bytes.
    pub digest: [u8; 32],
}

impl Meta {
    fn encode(&self) -> [u8; META_LEN] {
        let mut b = [0u8; META_LEN];
        b[..8].copy_from_slice(META_MAGIC);
        b[8..16].copy_from_slice(&self.seq.to_be_bytes());
        b[16..24].copy_from_slice(&self.keys.to_be_bytes());
        b[24..56].copy_from_slice(&self.link);
        b[56..88].copy_from_slice(&self.digest);
        let check = blake3::hash(&b[..88]);
        b[88..].copy_from_slice(check.as_bytes());
        b
    }

    fn decode(b: &[u8]) -> Result<Meta, String> {
        if b.len() != META_LEN {
            return Err(format!("{} bytes, not {META_LEN}", b.len()));
        }
        if &b[..8] != META_MAGIC {
            return Err("unknown format (magic bytes differ)".into());
        }
        if blake3::hash(&b[..88]).as_bytes() != &b[88..] {
            return Err("its checksum does not match".into());
        }
        let u = |r: std::ops::Range<usize>| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[r]);
            u64::from_be_bytes(a)
        };
        let h = |r: std::ops::Range<usize>| {
            let mut a = [0u8; 32];
            a.copy_from_slice(&b[r]);
            a
        };
        Ok(Meta { seq: u(8..16), keys: u(16..24), link: h(24..56), digest: h(56..88) })
    }
}

/// A checkpoint that was read and whose keys' digest holds.
#[derive(Debug)]
pub struct Loaded {
    /// The checkpoint.
    pub meta: Meta,
    /// Its keys, in file order.
    pub keys: Vec<u128>,
}

/// Read the checkpoint alone (not its keys). `Ok(None)`: there is none.
pub fn load_meta(data_dir: &Path) -> Result<Option<Meta>, String> {
    let meta_path = data_dir.join(META_FILE);
    match std::fs::read(&meta_path) {
        Ok(b) => Meta::decode(&b).map(Some).map_err(|r| format!("{}: {r}", meta_path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", meta_path.display())),
    }
}

/// The acknowledged high-water mark's file name inside the data directory.
pub const HWM_FILE: &str = "log.hwm";
const HWM_MAGIC: &[u8; 8] = b"SWHWM\0\0\x01";
const HWM_LEN: usize = 8 + 8 + 32 + 32;

/// The last seq acknowledged and its link, with a checksum: rewritten in place after
/// every commit, before its acknowledgements go out, so that it survives the process
/// (not the machine: it is synced only on close) and a database that later comes back
/// shorter is caught ([`missing_records`]).
pub fn encode_hwm(seq: u64, link: &[u8; 32]) -> [u8; HWM_LEN] {
    let mut b = [0u8; HWM_LEN];
    b[..8].copy_from_slice(HWM_MAGIC);
    b[8..16].copy_from_slice(&seq.to_be_bytes());
    b[16..48].copy_from_slice(link);
    let check = blake3::hash(&b[..48]);
    b[48..].copy_from_slice(check.as_bytes());
    b
}

/// The high-water mark's seq, when its file is there and whole.
pub fn load_hwm(data_dir: &Path) -> Option<u64> {
    let b = std::fs::read(data_dir.join(HWM_FILE)).ok()?;
    if b.len() != HWM_LEN || &b[..8] != HWM_MAGIC || blake3::hash(&b[..48]).as_bytes() != &b[48..] {
        return None;
    }
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[8..16]);
    Some(u64::from_be_bytes(a))
}

/// Remove the high-water mark (after a repair that accepted a loss).
pub fn remove_hwm(dir: &Path) -> Result<(), String> {
    remove_if_there(&dir.join(HWM_FILE))
}

/// Remove a file; one that is not there is fine.
fn remove_if_there(path: &Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
    }
}

/// The last seq the database holds (0 when empty), from its last segment's header.
pub fn last_seq(db: &sled::Db) -> Option<u64> {
    match db.last() {
        Ok(None) => Some(0),
        Ok(Some((k, v))) => {
            let first = key_seq(&k)?;
            let n = u64::from(SegmentReader::count(&v)?);
            Some(first + n.saturating_sub(1))
        }
        Err(_) => None,
    }
}

/// Records the log lost: the acknowledged high-water mark ([`HWM_FILE`], rewritten
/// after every commit) or the duplicate index's checkpoint (written every
/// [`CHECKPOINT_EVERY`] and on close), files beside the database, say that records up to
/// their seq were written and acknowledged, but the database now ends before that seq —
/// as when the database's own recovery, opening a damaged file, keeps only what it can
/// read. Returns `(first missing seq, last seq acknowledged)`; `None` when nothing is
/// known to be missing.
pub fn missing_records(data_dir: &Path, db: &sled::Db) -> Option<(u64, u64)> {
    let meta = load_meta(data_dir).ok().flatten().map_or(0, |m| m.seq);
    let acked = meta.max(load_hwm(data_dir).unwrap_or(0));
    let last = last_seq(db)?;
    (acked > last).then_some((last + 1, acked))
}

/// Why [`missing_records`] matters, in words.
pub fn missing_reason(first: u64, upto: u64) -> String {
    format!(
        "the log ends at seq {}, but records up to seq {upto} were written and acknowledged (the files \
         log.hwm and dedup.meta beside the database say so): records {first} to {upto} are missing (the database lost them: \
         its file was damaged or replaced). Restore the data directory from a backup (docs/operations.md), \
         or run `seatwatch repair --data DIR` to record the loss and continue without them",
        first - 1
    )
}

/// Read the checkpoint and its keys. `Ok(None)`: there is none (a new or older data
/// directory); `Err`: there is one but it cannot be trusted (the reason, for a warning).
pub fn load(data_dir: &Path) -> Result<Option<Loaded>, String> {
    let meta_path = data_dir.join(META_FILE);
    let Some(meta) = load_meta(data_dir)? else { return Ok(None) };
    let keys_path = data_dir.join(KEYS_FILE);
    let mut f = File::open(&keys_path).map_err(|e| format!("cannot open {}: {e}", keys_path.display()))?;
    let mut magic = [0u8; 8];
    f.read_exact(&mut magic).map_err(|e| format!("cannot read {}: {e}", keys_path.display()))?;
    if &magic != KEYS_MAGIC {
        return Err(format!("{}: unknown format (magic bytes differ)", keys_path.display()));
    }
    let len = usize::try_from(meta.keys.saturating_mul(KEY_LEN))
        .map_err(|_| format!("{}: claims {} keys", meta_path.display(), meta.keys))?;
    let have = f.metadata().map(|m| m.len()).unwrap_or(0).saturating_sub(KEYS_MAGIC.len() as u64);
    if have < len as u64 {
        return Err(format!(
            "{} holds {} keys, its checkpoint needs {}",
            keys_path.display(),
            have / KEY_LEN,
            meta.keys
        ));
    }
    let mut raw = vec![0u8; len];
    f.read_exact(&mut raw).map_err(|e| format!("cannot read {}: {e}", keys_path.display()))?;
    if blake3::hash(&raw).as_bytes() != &meta.digest {
        return Err(format!("{}: the keys do not match their checkpoint's digest", keys_path.display()));
    }
    let keys = raw
        .chunks_exact(KEY_LEN as usize)
        .map(|c| {
            let mut a = [0u8; 16];
            a.copy_from_slice(c);
            u128::from_le_bytes(a)
        })
        .collect();
    Ok(Some(Loaded { meta, keys }))
}

/// The link record `seq` holds, or `None` when the log has no such record (or it does
/// not decode). Reads one segment.
pub fn link_at(db: &sled::Db, seq: u64) -> Option<[u8; 32]> {
    let (k, v) = db.range(..=segment_key(seq)).next_back()?.ok()?;
    let first = key_seq(&k)?;
    let mut r = SegmentReader::new(&v).ok()?;
    let mut at = first;
    while let Some(rec) = r.next_record().ok()? {
        if at == seq {
            return format::stored_link(rec);
        }
        at += 1;
    }
    None
}

/// Check the chain of records `1..=upto`: seqs gapless, every link the hash of the one
/// before and the record. `progress` is told the seq reached every 65,536 records and
/// may stop the check by returning false (the log is closing).
pub fn verify_prefix(db: &sled::Db, upto: u64, mut progress: impl FnMut(u64) -> bool) -> Result<(), LogError> {
    let corrupt = |seq: u64, reason: String| LogError::Corrupt { seq, reason };
    let mut expected = 1u64;
    let mut head = format::GENESIS;
    for item in db.range(..=segment_key(upto)) {
        let (k, v) = item
            .map_err(|e| corrupt(expected, format!("sled cannot read the segment: {}", crate::error::sled_text(&e))))?;
        dir::check_segment_key(&k, expected)?;
        let mut r = SegmentReader::new(&v).map_err(|r| corrupt(expected, r))?;
        while let Some(rec) = r.next_record().map_err(|r| corrupt(expected, r))? {
            if expected > upto {
                return Ok(());
            }
            let (.., link) = dir::check_record(rec, expected)?;
            dir::check_chain(&head, rec, &link, expected)?;
            head = link;
            expected += 1;
            if expected.is_multiple_of(65_536) && !progress(expected) {
                return Ok(());
            }
        }
    }
    if expected <= upto {
        return Err(corrupt(expected, format!("the log ends before seq {upto}, which its index checkpoint covers")));
    }
    Ok(())
}

/// Appends keys to `dedup.keys` after each commit and writes checkpoints.
#[derive(Debug)]
pub struct IndexWriter {
    dir: PathBuf,
    file: File,
    hasher: blake3::Hasher,
    keys: u64,
    pending: Vec<u8>,
    last_checkpoint: Instant,
    checkpointed: Option<(u64, u64)>,
}

impl IndexWriter {
    /// Start the keys file anew with `keys` (after a full scan) and write a checkpoint
    /// at (`seq`, `link`).
    pub fn create(dir: &Path, keys: impl Iterator<Item = u128>, seq: u64, link: [u8; 32]) -> Result<Self, String> {
        // The old checkpoint must not outlive the keys it describes.
        remove_meta(dir)?;
        let path = dir.join(KEYS_FILE);
        let file = FsOpen::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let mut w = IndexWriter {
            dir: dir.to_path_buf(),
            file,
            hasher: blake3::Hasher::new(),
            keys: 0,
            pending: Vec::with_capacity(1 << 20),
            last_checkpoint: Instant::now(),
            checkpointed: None,
        };
        w.file.write_all(KEYS_MAGIC).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        for k in keys {
            w.push(k);
            if w.pending.len() >= 1 << 20 {
                w.write_pending()?;
            }
        }
        w.checkpoint(seq, link)?;
        Ok(w)
    }

    /// Continue the keys file of a checkpoint that was loaded: cut it after the
    /// checkpoint's keys (what follows was never checkpointed) and append `tail`, the
    /// keys of the records scanned after it.
    pub fn resume(dir: &Path, loaded: &Loaded, tail: &[u128]) -> Result<Self, String> {
        let path = dir.join(KEYS_FILE);
        let mut file = FsOpen::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let end = KEYS_MAGIC.len() as u64 + loaded.meta.keys * KEY_LEN;
        file.set_len(end).map_err(|e| format!("cannot truncate {}: {e}", path.display()))?;
        file.seek(SeekFrom::Start(end)).map_err(|e| format!("cannot seek in {}: {e}", path.display()))?;
        let mut hasher = blake3::Hasher::new();
        for k in &loaded.keys {
            hasher.update(&k.to_le_bytes());
        }
        let mut w = IndexWriter {
            dir: dir.to_path_buf(),
            file,
            hasher,
            keys: loaded.meta.keys,
            pending: Vec::with_capacity(1 << 16),
            last_checkpoint: Instant::now(),
            checkpointed: Some((loaded.meta.seq, loaded.meta.keys)),
        };
        for k in tail {
            w.push(*k);
        }
        w.write_pending()?;
        Ok(w)
    }

    /// Queue one key (of a record that is durable, or about to be once the caller's
    /// commit returns: [`IndexWriter::committed`] writes them).
    pub fn push(&mut self, key: u128) {
        self.pending.extend_from_slice(&key.to_le_bytes());
    }

    /// After a commit: write the queued keys; every [`CHECKPOINT_EVERY`], sync and
    /// checkpoint at (`seq`, `link`), the log's head.
    pub fn committed(&mut self, seq: u64, link: [u8; 32]) -> Result<(), String> {
        self.write_pending()?;
        if self.last_checkpoint.elapsed() >= CHECKPOINT_EVERY && self.checkpointed.map(|c| c.0) != Some(seq) {
            self.checkpoint(seq, link)?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.pending)
            .map_err(|e| format!("cannot write {}: {e}", self.dir.join(KEYS_FILE).display()))?;
        self.hasher.update(&self.pending);
        self.keys += self.pending.len() as u64 / KEY_LEN;
        self.pending.clear();
        Ok(())
    }

    /// Sync the keys and write the checkpoint (`seq`, `link`): every key written so far
    /// belongs to records `1..=seq`.
    pub fn checkpoint(&mut self, seq: u64, link: [u8; 32]) -> Result<(), String> {
        self.write_pending()?;
        self.last_checkpoint = Instant::now();
        if self.checkpointed == Some((seq, self.keys)) {
            return Ok(());
        }
        let keys_path = self.dir.join(KEYS_FILE);
        self.file.sync_data().map_err(|e| format!("cannot sync {}: {e}", keys_path.display()))?;
        let meta = Meta { seq, keys: self.keys, link, digest: *self.hasher.finalize().as_bytes() };
        let tmp = self.dir.join(format!("{META_FILE}.tmp"));
        let path = self.dir.join(META_FILE);
        let write = || -> std::io::Result<()> {
            let mut f = FsOpen::new().write(true).create(true).truncate(true).open(&tmp)?;
            f.write_all(&meta.encode())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        self.checkpointed = Some((seq, self.keys));
        tracing::debug!(seq, keys = self.keys, "duplicate index checkpoint written");
        Ok(())
    }
}

/// Remove the checkpoint (the keys file then is never trusted).
pub fn remove_meta(dir: &Path) -> Result<(), String> {
    remove_if_there(&dir.join(META_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_and_any_flipped_byte_is_refused() {
        let m = Meta { seq: 42, keys: 40, link: [7; 32], digest: [9; 32] };
        let b = m.encode();
        assert_eq!(Meta::decode(&b), Ok(m));
        for i in 0..b.len() {
            let mut c = b;
            c[i] ^= 1;
            assert!(Meta::decode(&c).is_err(), "byte {i}");
        }
        assert!(Meta::decode(&b[..100]).is_err());
    }

    #[test]
    fn a_checkpoint_covers_exactly_what_was_written_before_it() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let mut w = IndexWriter::create(dir.path(), [1u128, 2, 3].into_iter(), 3, [3; 32]).unwrap();
        let l = load(dir.path()).unwrap().unwrap();
        assert_eq!((l.meta.seq, l.keys.clone()), (3, vec![1, 2, 3]));
        // Keys written after the checkpoint are not part of it until the next one.
        w.push(4);
        w.committed(4, [4; 32]).unwrap();
        let l = load(dir.path()).unwrap().unwrap();
        assert_eq!((l.meta.seq, l.keys.len()), (3, 3));
        w.checkpoint(4, [4; 32]).unwrap();
        let l = load(dir.path()).unwrap().unwrap();
        assert_eq!((l.meta.seq, l.keys.clone()), (4, vec![1, 2, 3, 4]));
        drop(w);
        // Resuming cuts keys written after the checkpoint and continues the digest.
        let mut f = FsOpen::new().append(true).open(dir.path().join(KEYS_FILE)).unwrap();
        f.write_all(&[0xAA; 16]).unwrap();
        drop(f);
        let mut w = IndexWriter::resume(dir.path(), &l, &[5]).unwrap();
        w.checkpoint(5, [5; 32]).unwrap();
        let l = load(dir.path()).unwrap().unwrap();
        assert_eq!((l.meta.seq, l.keys), (5, vec![1, 2, 3, 4, 5]));
    }

    #[test]
    fn damaged_keys_or_meta_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        IndexWriter::create(dir.path(), [1u128, 2].into_iter(), 2, [2; 32]).unwrap();
        let keys = dir.path().join(KEYS_FILE);
        let mut b = std::fs::read(&keys).unwrap();
        b[9] ^= 1;
        std::fs::write(&keys, &b).unwrap();
        assert!(load(dir.path()).unwrap_err().contains("digest"));
        b.truncate(8 + 16);
        std::fs::write(&keys, &b).unwrap();
        assert!(load(dir.path()).unwrap_err().contains("holds 1 keys"));
        std::fs::write(dir.path().join(META_FILE), b"short").unwrap();
        assert!(load(dir.path()).unwrap_err().contains("not 120"));
    }
}
