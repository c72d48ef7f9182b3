//! Property-based fuzzing of the record and segment decoders (what a damaged disk or a
//! hostile backup source controls), run with the normal tests; the cargo-fuzz target
//! `record_decode` in `fuzz/` drives the same entry points longer.
//!
//! Never a panic or an unbounded allocation on any bytes; and any change to a stored
//! record — a flipped, inserted or deleted byte anywhere — is caught by the chain check.

use crate::fixtures::{every_kind, pending_kind};
use proptest::prelude::*;
use seatwatch_log::format::{self, SegmentReader, join_segment};
use seatwatch_log::{Log, RawRecord};
use seatwatch_model::Envelope;

/// Valid records of every kind, chained from genesis.
fn records() -> Vec<(Vec<u8>, [u8; 32])> {
    let mut prev = format::GENESIS;
    every_kind()
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            let p = pending_kind(0, &format!("id-{i}"), k);
            let env = Envelope {
                seq: i as u64 + 1,
                tenant: p.tenant,
                source: p.source,
                received: p.received,
                event: p.event,
            };
            let (bytes, link) = format::encode_record(&prev, &env).unwrap();
            let before = prev;
            prev = link;
            (bytes, before)
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Damage {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Damage::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Insert(i, b)),
        any::<usize>().prop_map(Damage::Delete),
        any::<usize>().prop_map(Damage::Truncate),
    ]
}

fn apply(bytes: &[u8], d: &Damage) -> Vec<u8> {
    let mut v = bytes.to_vec();
    let n = v.len().max(1);
    if v.is_empty() && !matches!(d, Damage::Insert(..)) {
        return v;
    }
    match *d {
        Damage::Flip(i, x) => v[i % n] ^= x,
        Damage::Insert(i, b) => v.insert(i % (v.len() + 1), b),
        Damage::Delete(i) => {
            v.remove(i % n);
        }
        Damage::Truncate(i) => v.truncate(i % n),
    }
    v
}

/// What opening or verifying a log does with a record: decode, then check the link.
fn accepted(seq: u64, bytes: &[u8], prev: &[u8; 32]) -> bool {
    let Ok(env) = Log::decode_raw(&RawRecord { seq, bytes: bytes.to_vec() }) else { return false };
    let _ = env;
    bytes.len() >= format::LINK_LEN
        && format::stored_link(bytes)
            .is_some_and(|l| format::chain_link(prev, &bytes[..bytes.len() - format::LINK_LEN]) == l)
}

proptest! {
    #![proptest_config(seatwatch_testkit::proptest_config("log-fuzz", 512))]

    #[test]
    fn any_change_to_a_record_is_caught(which in any::<prop::sample::Index>(), d in damage()) {
        let recs = records();
        let i = which.index(recs.len());
        let (bytes, prev) = &recs[i];
        prop_assert!(accepted(i as u64 + 1, bytes, prev));
        let damaged = apply(bytes, &d);
        prop_assume!(&damaged != bytes);
        prop_assert!(!accepted(i as u64 + 1, &damaged, prev), "{d:?} went unnoticed");
        let _ = format::decode_ids(&damaged);
    }

    #[test]
    fn damaged_segments_never_panic(damages in prop::collection::vec(damage(), 1..6)) {
        let recs = records();
        let mut seg = join_segment(&recs.iter().map(|(b, _)| b.clone()).collect::<Vec<_>>());
        for d in &damages {
            seg = apply(&seg, d);
        }
        if let Ok(mut r) = SegmentReader::new(&seg) {
            while let Ok(Some(rec)) = r.next_record() {
                let _ = format::decode_record(rec);
                let _ = format::decode_ids(rec);
            }
        }
        let _ = format::split_segment(&seg);
    }

    #[test]
    fn huge_length_prefixes_are_errors_not_allocations(count in any::<u32>(), len in any::<u32>(), tail in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut seg = vec![format::SEGMENT_VERSION];
        seg.extend_from_slice(&count.to_le_bytes());
        seg.extend_from_slice(&len.to_le_bytes());
        seg.extend_from_slice(&tail);
        if let Ok(mut r) = SegmentReader::new(&seg) {
            for _ in 0..4 {
                match r.next_record() {
                    Ok(Some(rec)) => { let _ = format::decode_record(rec); }
                    _ => break,
                }
            }
        }
        // A record whose bincode payload claims a huge string: an error, bounded work.
        let mut rec = vec![format::FORMAT_VERSION, 1, 1];
        rec.extend_from_slice(&[0xfc, 0xff, 0xff, 0xff, 0xff]);
        rec.extend_from_slice(&tail);
        rec.extend_from_slice(&[0u8; 32]);
        prop_assert!(format::decode_record(&rec).is_err());
    }
}
