//! Reading committed records in order.

use crate::RawRecord;
use crate::error::LogError;
use crate::format::{self, SegmentReader, key_seq, segment_key};
use crate::writer::Shared;
use seatwatch_model::Envelope;
use std::sync::Arc;

/// Walks records `from..=upto` segment by segment. It holds no sled handle between
/// segments, so it never keeps the database open after the log is closed.
#[derive(Debug)]
struct Cursor {
    shared: Arc<Shared>,
    next: u64,
    upto: u64,
    seg: Option<(sled::IVec, usize, u32)>,
    started: bool,
    done: bool,
}

impl Cursor {
    fn new(shared: Arc<Shared>, from_seq: u64) -> Self {
        let upto = shared.committed.load(std::sync::atomic::Ordering::Acquire);
        let next = from_seq.max(1);
        Cursor { shared, next, upto, seg: None, started: false, done: next > upto }
    }

    fn corrupt(&self, reason: impl Into<String>) -> LogError {
        LogError::Corrupt { seq: self.next, reason: reason.into() }
    }

    /// Load the segment holding `self.next`, skipping records before it.
    fn load(&mut self) -> Result<(), LogError> {
        let db = self.shared.db()?;
        let found = if self.started {
            db.range(&segment_key(self.next)[..]..).next()
        } else {
            db.range(..=&segment_key(self.next)[..]).next_back()
        };
        self.started = true;
        let (k, v) = match found {
            Some(Ok(kv)) => kv,
            Some(Err(e)) => return Err(LogError::sled("reading a segment", &e)),
            None => return Err(self.corrupt("the segment holding this committed record is missing")),
        };
        let first = key_seq(&k).ok_or_else(|| self.corrupt("a segment key is not 8 bytes"))?;
        if first > self.next {
            return Err(self.corrupt(format!("the record is missing: the next segment starts at seq {first}")));
        }
        let (pos, left) = {
            let mut r = SegmentReader::new(&v).map_err(|r| self.corrupt(r))?;
            for _ in first..self.next {
                if r.next_record().map_err(|r| self.corrupt(r))?.is_none() {
                    return Err(self.corrupt(format!("the segment at seq {first} ends before this record")));
                }
            }
            r.position()
        };
        self.seg = Some((v, pos, left));
        Ok(())
    }

    /// The next record's seq and bytes.
    fn next_bytes<T>(&mut self, f: impl FnOnce(u64, &[u8]) -> Result<T, LogError>) -> Option<Result<T, LogError>> {
        if self.done {
            return None;
        }
        if self.next > self.upto {
            self.done = true;
            return None;
        }
        if self.seg.as_ref().is_none_or(|(_, _, left)| *left == 0)
            && let Err(e) = self.load()
        {
            self.done = true;
            return Some(Err(e));
        }
        let Some((v, pos, left)) = self.seg.as_mut() else {
            self.done = true;
            return Some(Err(self.corrupt("no segment")));
        };
        let mut r = SegmentReader::resume(v, *pos, *left);
        let rec = match r.next_record() {
            Ok(Some(rec)) => rec,
            Ok(None) => {
                self.done = true;
                return Some(Err(LogError::Corrupt { seq: self.next, reason: "segment ended early".into() }));
            }
            Err(reason) => {
                self.done = true;
                return Some(Err(LogError::Corrupt { seq: self.next, reason }));
            }
        };
        (*pos, *left) = r.position();
        let seq = self.next;
        let out = f(seq, rec);
        if out.is_err() {
            self.done = true;
        }
        self.next += 1;
        Some(out)
    }
}

/// Decode a record and check it holds `seq`.
pub(crate) fn decode_at(seq: u64, bytes: &[u8]) -> Result<Envelope, LogError> {
    let (env, _) = format::decode_record(bytes).map_err(|reason| LogError::Corrupt { seq, reason })?;
    if env.seq != seq {
        return Err(LogError::Corrupt { seq, reason: format!("found seq {} where seq {seq} belongs", env.seq) });
    }
    Ok(env)
}

/// Committed records, decoded, in seq order (from [`crate::Log::read_from`]). It yields
/// the records durable when it was made; after an error it ends.
#[derive(Debug)]
pub struct ReadIter {
    cursor: Cursor,
}

impl ReadIter {
    pub(crate) fn new(shared: Arc<Shared>, from_seq: u64) -> Self {
        ReadIter { cursor: Cursor::new(shared, from_seq) }
    }
}

impl Iterator for ReadIter {
    type Item = Result<Envelope, LogError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.cursor.next_bytes(decode_at)
    }
}

/// Committed records as stored, in seq order (from [`crate::Log::read_raw_from`]).
#[derive(Debug)]
pub struct RawIter {
    cursor: Cursor,
}

impl RawIter {
    pub(crate) fn new(shared: Arc<Shared>, from_seq: u64) -> Self {
        RawIter { cursor: Cursor::new(shared, from_seq) }
    }
}

impl Iterator for RawIter {
    type Item = Result<RawRecord, LogError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.cursor.next_bytes(|seq, b| Ok(RawRecord { seq, bytes: b.to_vec() }))
    }
}
