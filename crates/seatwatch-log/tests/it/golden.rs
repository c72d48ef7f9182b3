//! The record format, pinned: the golden envelopes encode to exactly the checked-in bytes.
//!
//! If this fails, the on-disk format changed. If that was deliberate, introduce a new
//! format version (see docs/adr/0001-storage.md) and regenerate the files consciously
//! with `SEATWATCH_BLESS=1 cargo test -p seatwatch-log --test it golden`.

use crate::fixtures::golden_envelopes;
use seatwatch_log::format::{self, GENESIS};
use seatwatch_log::{Log, OpenOptions, Pending, RawRecord};
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// `[len u32 LE][record]` for each record, and the head hash.
fn encode_all() -> (Vec<u8>, [u8; 32]) {
    let mut out = Vec::new();
    let mut prev = GENESIS;
    for env in golden_envelopes() {
        let (rec, link) = format::encode_record(&prev, &env).unwrap();
        out.extend_from_slice(&(rec.len() as u32).to_le_bytes());
        out.extend_from_slice(&rec);
        prev = link;
    }
    (out, prev)
}

fn split(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = vec![];
    let mut rest = bytes;
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        out.push(&rest[4..4 + len]);
        rest = &rest[4 + len..];
    }
    out
}

#[test]
fn golden_records_v1_are_byte_identical() {
    let (bytes, head) = encode_all();
    let bin = golden_dir().join("records-v1.bin");
    let head_file = golden_dir().join("records-v1.head");
    if std::env::var_os("SEATWATCH_BLESS").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&bin, &bytes).unwrap();
        std::fs::write(&head_file, format!("{}\n", hex::encode(head))).unwrap();
    }
    let want = std::fs::read(&bin).expect("tests/golden/records-v1.bin is missing: bless it (see module docs)");
    let want_head = std::fs::read_to_string(&head_file).unwrap();
    if bytes != want {
        let at = bytes.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(bytes.len().min(want.len()));
        panic!(
            "the record encoding changed (first difference at byte {at}; {} bytes now, {} in the golden file). \
             See this module's docs before blessing.",
            bytes.len(),
            want.len()
        );
    }
    assert_eq!(hex::encode(head), want_head.trim(), "head hash changed");
}

#[test]
fn golden_file_decodes_to_the_golden_envelopes() {
    let want = std::fs::read(golden_dir().join("records-v1.bin")).unwrap();
    let recs = split(&want);
    let envs = golden_envelopes();
    assert_eq!(recs.len(), envs.len());
    assert_eq!(envs.len(), 24, "every EventKind variant");
    let mut prev = GENESIS;
    for (rec, env) in recs.iter().zip(&envs) {
        assert_eq!(rec[0], 1, "format version");
        assert_eq!(rec[1], env.record_kind() as u8, "record kind");
        let back = Log::decode_raw(&RawRecord { seq: env.seq, bytes: rec.to_vec() }).unwrap();
        assert_eq!(&back, env);
        assert_eq!(format::chain_link(&prev, &rec[..rec.len() - 32]), rec[rec.len() - 32..]);
        prev = rec[rec.len() - 32..].try_into().unwrap();
    }
    assert_eq!(envs.last().unwrap().record_kind(), seatwatch_model::RecordKind::Tick);
    assert_eq!(recs.last().unwrap()[1], 2);
}

#[test]
fn the_log_writes_exactly_the_golden_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_with(dir.path(), OpenOptions { sync_data: false, ..OpenOptions::default() }).unwrap();
    let pending: Vec<Pending> = golden_envelopes()
        .into_iter()
        .map(|e| Pending {
            tenant: e.tenant.to_string().into(),
            source: e.source.to_string().into(),
            received: e.received,
            event: e.event,
        })
        .collect();
    // Two commits, to cross a commit boundary in the chain.
    let (a, b) = pending.split_at(10);
    log.append_blocking(a.to_vec()).unwrap();
    log.append_blocking(b.to_vec()).unwrap();
    let mut bytes = Vec::new();
    for r in log.read_raw_from(1) {
        let r = r.unwrap();
        bytes.extend_from_slice(&(r.bytes.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&r.bytes);
    }
    assert_eq!(bytes, std::fs::read(golden_dir().join("records-v1.bin")).unwrap());
    let want_head = std::fs::read_to_string(golden_dir().join("records-v1.head")).unwrap();
    assert_eq!(log.head().hash_hex(), want_head.trim());
}
