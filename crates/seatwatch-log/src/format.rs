//! The on-disk format: records, segments, the hash chain.
//!
//! # Record (format version 1)
//!
//! ```text
//! [format version u8 = 1][record kind u8: 1 event, 2 tick][payload][link: 32 bytes]
//! ```
//!
//! * `payload` is `bincode` 2 of [`seatwatch_model::Envelope`] under
//!   [`seatwatch_model::BINCODE_CONFIG`] (varint integers). It carries the record's `seq`.
//! * `link_n = BLAKE3(link_{n-1} ‖ record_n without its link)`, with `link_0` = 32 zero
//!   bytes ([`GENESIS`]). The link of the last record is the log's head hash.
//!
//! These bytes are a [`RawRecord`](crate::RawRecord): what `read_raw_from` returns and
//! `append_raw` takes.
//!
//! # Segment (segment version 1)
//!
//! One sled value holds a group of consecutive records; its key is the first record's
//! `seq` as a big-endian `u64` (so sled's byte order is seq order).
//!
//! ```text
//! [segment version u8 = 1][record count u32 LE] then count × ([record length u32 LE][record])
//! ```
//!
//! A segment is never rewritten once committed: each commit adds new segments.

use crate::error::LogError;
use seatwatch_model::{BINCODE_CONFIG, Envelope, RecordKind};

/// The record format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// The segment format version this build writes and reads.
pub const SEGMENT_VERSION: u8 = 1;
/// The chain link that precedes record 1.
pub const GENESIS: [u8; 32] = [0; 32];
/// Bytes of a chain link.
pub const LINK_LEN: usize = 32;
/// Bytes of a segment header: version and record count.
pub const SEGMENT_HEADER_LEN: usize = 1 + 4;
/// Bytes of the length prefix in front of each record inside a segment.
pub const RECORD_PREFIX_LEN: usize = 4;
/// Version and kind bytes in front of the payload.
pub const RECORD_HEADER_LEN: usize = 2;
/// The smallest possible record: header, a one-byte payload, link.
pub const MIN_RECORD_LEN: usize = RECORD_HEADER_LEN + 1 + LINK_LEN;
/// The largest segment value [`crate::OpenOptions`] accepts: above sled's blob threshold for
/// its default 512 KiB log segments, values are written to un-fsynced blob files.
pub const MAX_SEGMENT_BYTES_LIMIT: usize = 100 * 1024;
/// The smallest `max_segment_bytes` accepted.
pub const MIN_SEGMENT_BYTES: usize = 256;

/// Upper bound on what decoding one payload may allocate: a corrupt length prefix inside
/// the payload must produce an error, not an attempt to allocate exabytes.
const DECODE_LIMIT: usize = 1 << 20;

/// The sled key of a segment whose first record is `seq`.
pub fn segment_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// The first seq a sled key names, if it is a well-formed key.
pub fn key_seq(key: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(key).ok().map(u64::from_be_bytes)
}

/// The chain link of a record: `BLAKE3(prev ‖ body)`, `body` being the record without its link.
pub fn chain_link(prev: &[u8; 32], body: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(prev);
    h.update(body);
    *h.finalize().as_bytes()
}

/// The kind byte of a record kind.
pub fn kind_byte(kind: RecordKind) -> u8 {
    kind as u8
}

/// The link stored at the end of a record (callers check the length first).
pub fn stored_link(record: &[u8]) -> Option<[u8; 32]> {
    let start = record.len().checked_sub(LINK_LEN)?;
    <[u8; 32]>::try_from(&record[start..]).ok()
}

/// Append `seq` as bincode encodes it (varint) to `out`.
pub fn push_seq(out: &mut Vec<u8>, seq: u64) {
    let mut buf = [0u8; 10];
    // Encoding a u64 into 10 bytes cannot fail: a varint u64 takes at most 9.
    let n = bincode::encode_into_slice(seq, &mut buf, BINCODE_CONFIG).unwrap_or(0);
    out.extend_from_slice(&buf[..n]);
}

/// Everything of an envelope's payload after its `seq`: tenant, source, received, event.
/// `payload = varint(seq) ‖ tail`, because bincode encodes a struct as its fields in order.
pub fn encode_tail(
    out: &mut Vec<u8>,
    tenant: &str,
    source: &str,
    received: &seatwatch_model::Ts,
    event: &seatwatch_model::Event,
) -> Result<(), bincode::error::EncodeError> {
    bincode::encode_into_std_write(tenant, out, BINCODE_CONFIG)?;
    bincode::encode_into_std_write(source, out, BINCODE_CONFIG)?;
    bincode::encode_into_std_write(received, out, BINCODE_CONFIG)?;
    bincode::encode_into_std_write(event, out, BINCODE_CONFIG)?;
    Ok(())
}

/// Encode one whole record of `env` after the link `prev`; returns the record and its link.
pub fn encode_record(prev: &[u8; 32], env: &Envelope) -> Result<(Vec<u8>, [u8; 32]), LogError> {
    let mut out = Vec::with_capacity(256);
    out.push(FORMAT_VERSION);
    out.push(kind_byte(env.record_kind()));
    bincode::encode_into_std_write(env, &mut out, BINCODE_CONFIG)
        .map_err(|e| LogError::Encode { reason: e.to_string() })?;
    let link = chain_link(prev, &out);
    out.extend_from_slice(&link);
    Ok((out, link))
}

/// Decode one record (no chain check): the envelope and the stored link. `Err` is a
/// human-readable reason.
pub fn decode_record(record: &[u8]) -> Result<(Envelope, [u8; 32]), String> {
    if record.len() < MIN_RECORD_LEN {
        return Err(format!("record is {} bytes, shorter than the minimum {MIN_RECORD_LEN}", record.len()));
    }
    let version = record[0];
    if version != FORMAT_VERSION {
        return Err(format!("unknown record format version {version} (this build reads version {FORMAT_VERSION})"));
    }
    let kind = record[1];
    let payload = &record[RECORD_HEADER_LEN..record.len() - LINK_LEN];
    let cfg = BINCODE_CONFIG.with_limit::<DECODE_LIMIT>();
    let (env, used): (Envelope, usize) =
        bincode::decode_from_slice(payload, cfg).map_err(|e| format!("payload does not decode: {e}"))?;
    if used != payload.len() {
        return Err(format!("payload has {} trailing bytes after the envelope", payload.len() - used));
    }
    let expected = kind_byte(env.record_kind());
    if kind != expected {
        return Err(format!(
            "record kind byte is {kind} but the envelope is a {} (kind {expected})",
            env.event.kind.type_name()
        ));
    }
    let link = stored_link(record).ok_or_else(|| "record has no link".to_owned())?;
    Ok((env, link))
}

/// The dedup-relevant prefix of a payload, borrowed: `(seq, tenant, source, event id)`.
pub fn decode_ids(record: &[u8]) -> Result<(u64, &str, &str, &str), String> {
    if record.len() < MIN_RECORD_LEN {
        return Err(format!("record is {} bytes, shorter than the minimum {MIN_RECORD_LEN}", record.len()));
    }
    if record[0] != FORMAT_VERSION {
        return Err(format!("unknown record format version {} (this build reads version {FORMAT_VERSION})", record[0]));
    }
    let payload = &record[RECORD_HEADER_LEN..record.len() - LINK_LEN];
    let cfg = BINCODE_CONFIG.with_limit::<DECODE_LIMIT>();
    #[allow(clippy::type_complexity)]
    let ((seq, tenant, source, _received, id), _): ((u64, &str, &str, seatwatch_model::Ts, &str), usize) =
        bincode::borrow_decode_from_slice(payload, cfg).map_err(|e| format!("payload does not decode: {e}"))?;
    Ok((seq, tenant, source, id))
}

/// Walks the records of one segment value.
#[derive(Debug)]
pub struct SegmentReader<'a> {
    value: &'a [u8],
    pos: usize,
    left: u32,
}

impl<'a> SegmentReader<'a> {
    /// Check the header. `Err` is a human-readable reason.
    pub fn new(value: &'a [u8]) -> Result<Self, String> {
        if value.len() < SEGMENT_HEADER_LEN {
            return Err(format!("segment is {} bytes, shorter than its header", value.len()));
        }
        if value[0] != SEGMENT_VERSION {
            return Err(format!(
                "unknown segment format version {} (this build reads version {SEGMENT_VERSION})",
                value[0]
            ));
        }
        let count = u32::from_le_bytes([value[1], value[2], value[3], value[4]]);
        if count == 0 {
            return Err("segment holds no records".to_owned());
        }
        Ok(SegmentReader { value, pos: SEGMENT_HEADER_LEN, left: count })
    }

    /// Continue reading `value` at byte `pos` with `left` records to go (from
    /// [`SegmentReader::position`]).
    pub fn resume(value: &'a [u8], pos: usize, left: u32) -> Self {
        SegmentReader { value, pos, left }
    }

    /// Where the reader is: byte offset and records left.
    pub fn position(&self) -> (usize, u32) {
        (self.pos, self.left)
    }

    /// How many records the header says the segment holds.
    pub fn count(value: &[u8]) -> Option<u32> {
        value.get(1..5).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The next record's bytes; `Ok(None)` after the last, which must end the value exactly.
    pub fn next_record(&mut self) -> Result<Option<&'a [u8]>, String> {
        if self.left == 0 {
            if self.pos != self.value.len() {
                return Err(format!("segment has {} bytes after its last record", self.value.len() - self.pos));
            }
            return Ok(None);
        }
        let prefix = self
            .value
            .get(self.pos..self.pos + RECORD_PREFIX_LEN)
            .ok_or_else(|| "segment ends inside a record length prefix".to_owned())?;
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let start = self.pos + RECORD_PREFIX_LEN;
        let record = self
            .value
            .get(start..start.saturating_add(len))
            .ok_or_else(|| format!("record length {len} runs past the end of its segment"))?;
        self.pos = start + len;
        self.left -= 1;
        Ok(Some(record))
    }
}

/// Every record of a segment value, in order (for audits and tools that inspect or
/// repair a log record by record).
pub fn split_segment(value: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut r = SegmentReader::new(value)?;
    let mut out = Vec::new();
    while let Some(rec) = r.next_record()? {
        out.push(rec);
    }
    Ok(out)
}

/// A segment value holding `records` verbatim: the inverse of [`split_segment`].
pub fn join_segment<R: AsRef<[u8]>>(records: &[R]) -> Vec<u8> {
    let body: usize = records.iter().map(|r| RECORD_PREFIX_LEN + r.as_ref().len()).sum();
    let mut v = Vec::with_capacity(SEGMENT_HEADER_LEN + body);
    v.push(SEGMENT_VERSION);
    v.extend_from_slice(&u32::try_from(records.len()).unwrap_or(u32::MAX).to_le_bytes());
    for r in records {
        let r = r.as_ref();
        v.extend_from_slice(&u32::try_from(r.len()).unwrap_or(u32::MAX).to_le_bytes());
        v.extend_from_slice(r);
    }
    v
}

/// Builds the segments of one commit, splitting at `max_bytes`.
#[derive(Debug)]
pub struct SegmentBuilder {
    max_bytes: usize,
    done: Vec<(u64, Vec<u8>)>,
    cur: Vec<u8>,
    cur_first: u64,
    cur_count: u32,
    spare: Vec<Vec<u8>>,
}

/// Where a [`SegmentBuilder`] was, to undo one request's records.
#[derive(Clone, Copy, Debug)]
pub struct BuilderMark {
    done: usize,
    cur_len: usize,
    cur_first: u64,
    cur_count: u32,
}

/// A record does not fit in a segment even alone.
#[derive(Debug)]
pub struct TooLarge {
    /// Bytes the segment would need.
    pub bytes: usize,
}

impl SegmentBuilder {
    /// A builder for segments of at most `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        SegmentBuilder { max_bytes, done: Vec::new(), cur: Vec::new(), cur_first: 0, cur_count: 0, spare: Vec::new() }
    }

    /// Whether no record was added since the last [`SegmentBuilder::reset`].
    pub fn is_empty(&self) -> bool {
        self.done.is_empty() && self.cur_count == 0
    }

    /// Remember the current position.
    pub fn mark(&self) -> BuilderMark {
        BuilderMark {
            done: self.done.len(),
            cur_len: self.cur.len(),
            cur_first: self.cur_first,
            cur_count: self.cur_count,
        }
    }

    /// Forget everything added since `m`.
    pub fn rewind(&mut self, m: BuilderMark) {
        if self.done.len() > m.done {
            let mut tail = self.done.split_off(m.done);
            let (first, buf) = tail.remove(0);
            self.spare.push(std::mem::replace(&mut self.cur, buf));
            self.cur_first = first;
            for (_, b) in tail {
                self.spare.push(b);
            }
        }
        self.cur.truncate(m.cur_len);
        self.cur_first = m.cur_first;
        self.cur_count = m.cur_count;
    }

    fn fresh(&mut self) -> Vec<u8> {
        let mut b = self.spare.pop().unwrap_or_else(|| Vec::with_capacity(self.max_bytes));
        b.clear();
        b.push(SEGMENT_VERSION);
        b.extend_from_slice(&[0; 4]);
        b
    }

    /// Append one record with sequence number `seq` after the link `prev`; `write_payload`
    /// writes the payload. Returns the new link.
    pub fn push(
        &mut self,
        seq: u64,
        prev: &[u8; 32],
        kind: u8,
        write_payload: impl FnOnce(&mut Vec<u8>),
    ) -> Result<[u8; 32], TooLarge> {
        self.push_with(seq, kind, write_payload, |body| chain_link(prev, body))
    }

    /// Append one record given verbatim (from [`crate::Log::append_raw`]); the caller
    /// has checked that it decodes and that its link follows the chain.
    pub fn push_raw(&mut self, seq: u64, record: &[u8]) -> Result<(), TooLarge> {
        let end = record.len().saturating_sub(LINK_LEN).max(RECORD_HEADER_LEN.min(record.len()));
        let payload = record.get(RECORD_HEADER_LEN..end).unwrap_or(&[]);
        let kind = record.get(1).copied().unwrap_or(0);
        let link = stored_link(record).unwrap_or(GENESIS);
        self.push_with(seq, kind, |out| out.extend_from_slice(payload), |_| link).map(|_| ())
    }

    fn push_with(
        &mut self,
        seq: u64,
        kind: u8,
        write_payload: impl FnOnce(&mut Vec<u8>),
        link_of: impl FnOnce(&[u8]) -> [u8; 32],
    ) -> Result<[u8; 32], TooLarge> {
        if self.cur_count == 0 {
            if self.cur.is_empty() {
                self.cur = self.fresh();
            }
            self.cur.truncate(SEGMENT_HEADER_LEN);
            self.cur_first = seq;
        }
        let start = self.cur.len();
        self.cur.extend_from_slice(&[0; RECORD_PREFIX_LEN]);
        let body = self.cur.len();
        self.cur.push(FORMAT_VERSION);
        self.cur.push(kind);
        write_payload(&mut self.cur);
        let link = link_of(&self.cur[body..]);
        self.cur.extend_from_slice(&link);
        let rec_len = self.cur.len() - body;
        let Ok(rec_len32) = u32::try_from(rec_len) else {
            self.cur.truncate(start);
            return Err(TooLarge { bytes: rec_len });
        };
        self.cur[start..body].copy_from_slice(&rec_len32.to_le_bytes());
        if self.cur.len() > self.max_bytes {
            let alone = SEGMENT_HEADER_LEN + RECORD_PREFIX_LEN + rec_len;
            if self.cur_count == 0 || alone > self.max_bytes {
                self.cur.truncate(start);
                return Err(TooLarge { bytes: alone });
            }
            // Move this record into a new segment.
            let mut next = self.fresh();
            next.extend_from_slice(&self.cur[start..]);
            self.cur.truncate(start);
            self.finish_current();
            self.cur = next;
            self.cur_first = seq;
        }
        self.cur_count += 1;
        Ok(link)
    }

    fn finish_current(&mut self) {
        if self.cur_count > 0 {
            self.cur[1..5].copy_from_slice(&self.cur_count.to_le_bytes());
            let buf = std::mem::take(&mut self.cur);
            self.done.push((self.cur_first, buf));
        }
        self.cur_count = 0;
    }

    /// Close the current segment and return every segment of this commit.
    pub fn segments(&mut self) -> &[(u64, Vec<u8>)] {
        self.finish_current();
        &self.done
    }

    /// Empty the builder for the next commit, keeping its buffers.
    pub fn reset(&mut self) {
        for (_, b) in self.done.drain(..) {
            self.spare.push(b);
        }
        self.spare.truncate(8);
        self.cur.clear();
        self.cur_count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatwatch_model::{Event, EventKind, Ts};

    fn env(seq: u64, id: &str) -> Envelope {
        Envelope {
            seq,
            tenant: "acme".into(),
            source: "acd-1".into(),
            received: Ts::from_secs(1_700_000_000),
            event: Event {
                id: id.into(),
                ts: Ts::from_secs(1_700_000_000),
                agent: None,
                kind: EventKind::Heartbeat,
                extra: None,
            },
        }
    }

    #[test]
    fn builder_record_equals_encode_record() {
        let e = env(300, "e-1");
        let (whole, link) = encode_record(&GENESIS, &e).unwrap();
        let mut b = SegmentBuilder::new(4096);
        let l2 = b
            .push(300, &GENESIS, 1, |out| {
                push_seq(out, 300);
                encode_tail(out, &e.tenant, &e.source, &e.received, &e.event).unwrap();
            })
            .unwrap();
        assert_eq!(link, l2);
        let segs = b.segments().to_vec();
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].0, 300);
        let mut r = SegmentReader::new(&segs[0].1).unwrap();
        assert_eq!(r.next_record().unwrap().unwrap(), &whole[..]);
        assert!(r.next_record().unwrap().is_none());
        let (back, l3) = decode_record(&whole).unwrap();
        assert_eq!(back, e);
        assert_eq!(l3, link);
        assert_eq!(decode_ids(&whole).unwrap(), (300, "acme", "acd-1", "e-1"));
    }

    #[test]
    fn builder_splits_and_rewinds() {
        let mut b = SegmentBuilder::new(300);
        let mut prev = GENESIS;
        let mut marks = vec![];
        for seq in 1..=10u64 {
            marks.push(b.mark());
            let e = env(seq, "x");
            prev = b
                .push(seq, &prev, 1, |out| {
                    push_seq(out, seq);
                    encode_tail(out, &e.tenant, &e.source, &e.received, &e.event).unwrap();
                })
                .unwrap();
        }
        b.rewind(marks[4]);
        let segs = b.segments().to_vec();
        let mut seqs = vec![];
        for (key, v) in &segs {
            assert!(v.len() <= 300);
            let mut r = SegmentReader::new(v).unwrap();
            let mut first = true;
            while let Some(rec) = r.next_record().unwrap() {
                let (e, _) = decode_record(rec).unwrap();
                if first {
                    assert_eq!(e.seq, *key);
                    first = false;
                }
                seqs.push(e.seq);
            }
        }
        assert_eq!(seqs, vec![1, 2, 3, 4]);
        assert!(segs.len() >= 2, "300-byte segments hold few records");
    }

    #[test]
    fn oversize_record_is_refused_and_leaves_builder_clean() {
        let mut b = SegmentBuilder::new(MIN_SEGMENT_BYTES);
        let err = b.push(1, &GENESIS, 1, |out| out.extend_from_slice(&[7; 400])).unwrap_err();
        assert!(err.bytes > MIN_SEGMENT_BYTES);
        assert!(b.is_empty());
    }

    #[test]
    fn corrupt_inputs_give_reasons_not_panics() {
        let (rec, _) = encode_record(&GENESIS, &env(1, "a")).unwrap();
        let mut bad = rec.clone();
        bad[0] = 9;
        assert!(decode_record(&bad).unwrap_err().contains("version 9"));
        let mut bad = rec.clone();
        bad[1] = 2;
        assert!(decode_record(&bad).unwrap_err().contains("kind byte"));
        // A huge length varint inside the payload (tenant length) must not allocate.
        let mut bad = rec.clone();
        bad[3] = 0xFD;
        assert!(decode_record(&bad).is_err());
        assert!(decode_record(&rec[..10]).is_err());
        assert!(SegmentReader::new(&[1, 0, 0, 0, 0]).is_err());
        assert!(SegmentReader::new(&[2, 1, 0, 0, 0]).is_err());
        let mut r = SegmentReader::new(&[1, 1, 0, 0, 0, 255, 255, 0, 0]).unwrap();
        assert!(r.next_record().is_err());
    }
}
