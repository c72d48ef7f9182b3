//! `verify` finds tampering, and reports the first bad seq.

use crate::fixtures::hb;
use seatwatch_log::format::{SegmentReader, join_segment, segment_key, split_segment};
use seatwatch_log::{Log, LogError, OpenOptions, VerifyError, verify};
use std::path::Path;

const RECORDS: u64 = 60;

/// A closed log of `RECORDS` heartbeats in several commits and small segments.
fn build(dir: &Path) {
    let log = Log::open_with(dir, OpenOptions { sync_data: false, max_segment_bytes: 1024, ..OpenOptions::default() })
        .unwrap();
    for chunk in 0..6 {
        let batch = (0..10).map(|i| hb(&format!("e-{chunk}-{i}"))).collect();
        log.append_blocking(batch).unwrap();
    }
    log.close().unwrap();
}

fn segments(db: &sled::Db) -> Vec<(u64, Vec<u8>)> {
    db.iter()
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (u64::from_be_bytes(k.as_ref().try_into().unwrap()), v.to_vec())
        })
        .collect()
}

fn records(value: &[u8]) -> Vec<Vec<u8>> {
    split_segment(value).unwrap().into_iter().map(<[u8]>::to_vec).collect()
}

fn assemble(records: &[Vec<u8>]) -> Vec<u8> {
    join_segment(records)
}

/// The segment holding `seq`: its key, and `seq`'s index in it.
fn locate(db: &sled::Db, seq: u64) -> (u64, usize) {
    let segs = segments(db);
    let (key, _) = segs.iter().rev().find(|(k, _)| *k <= seq).unwrap();
    (*key, (seq - key) as usize)
}

/// Tamper with the closed log in `dir`, then verify it.
fn tamper_then_verify(dir: &Path, f: impl FnOnce(&sled::Db)) -> Result<seatwatch_log::VerifyReport, VerifyError> {
    {
        let db = sled::open(dir.join("log")).unwrap();
        f(&db);
        db.flush().unwrap();
    }
    verify(dir, &mut |_| {})
}

fn expect_bad(r: Result<seatwatch_log::VerifyReport, VerifyError>, seq: u64, words: &str) {
    match r {
        Err(e @ VerifyError::BadRecord { .. }) => {
            assert_eq!(e.bad_seq(), Some(seq), "{e}");
            assert!(e.to_string().contains(words), "{e}");
            assert!(e.to_string().contains(&format!("seq {seq}")), "{e}");
        }
        other => panic!("expected bad record {seq}, got {other:?}"),
    }
}

/// Rewrite the record at `seq` with `edit`.
fn edit_record(db: &sled::Db, seq: u64, edit: impl FnOnce(&mut Vec<u8>)) {
    let (key, idx) = locate(db, seq);
    let mut recs = records(&db.get(segment_key(key)).unwrap().unwrap());
    edit(&mut recs[idx]);
    db.insert(segment_key(key), assemble(&recs)).unwrap();
}

#[test]
fn a_clean_log_verifies_with_progress() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let mut seen = vec![];
    let r = verify(dir.path(), &mut |s| seen.push(s)).unwrap();
    assert_eq!((r.records, r.last_seq), (RECORDS, RECORDS));
    assert!(seen.len() > 3, "one progress call per segment");
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(*seen.last().unwrap(), RECORDS);
    let log = Log::open(dir.path()).unwrap();
    assert_eq!(log.head(), r.head);
    // The test's own reassembly is faithful: rewriting a segment unchanged keeps it valid.
    log.close().unwrap();
    let r2 = tamper_then_verify(dir.path(), |db| edit_record(db, 20, |_| {})).unwrap();
    assert_eq!(r2, r);
}

#[test]
fn a_flipped_payload_byte_is_found_at_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    // Flip a byte of the event id ("e-3-6" → "e-3-7"): still decodes, only the chain knows.
    let r = tamper_then_verify(dir.path(), |db| {
        edit_record(db, 37, |rec| {
            let pos = rec.windows(5).position(|w| w == b"e-3-6").unwrap() + 4;
            rec[pos] ^= 0x01;
        })
    });
    expect_bad(r, 37, "hash chain");
}

#[test]
fn a_flipped_link_byte_is_found_at_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let r = tamper_then_verify(dir.path(), |db| {
        edit_record(db, 12, |rec| {
            let n = rec.len();
            rec[n - 5] ^= 0x80;
        })
    });
    expect_bad(r, 12, "hash chain");
}

#[test]
fn a_flipped_version_or_kind_byte_is_found() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    expect_bad(tamper_then_verify(dir.path(), |db| edit_record(db, 5, |rec| rec[0] = 2)), 5, "version 2");
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    expect_bad(tamper_then_verify(dir.path(), |db| edit_record(db, 8, |rec| rec[1] = 2)), 8, "kind");
}

#[test]
fn a_flipped_byte_in_stored_bytes_is_found_wherever_it_is() {
    // Flip each byte of one whole segment value in turn (header, length prefixes,
    // payloads, links): verify must always fail, at a seq inside that segment, never panic.
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let (key, value) = {
        let db = sled::open(dir.path().join("log")).unwrap();
        let (key, _) = locate(&db, 30);
        (key, db.get(segment_key(key)).unwrap().unwrap().to_vec())
    };
    let last_in_seg = key + SegmentReader::count(&value).unwrap() as u64 - 1;
    for pos in (0..value.len()).step_by(7) {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        let r = tamper_then_verify(copy.path(), |db| {
            let mut v = value.clone();
            v[pos] ^= 0x10;
            db.insert(segment_key(key), v).unwrap();
        });
        let e = r.expect_err("a flipped byte must be found");
        let seq = e.bad_seq().unwrap_or_else(|| panic!("byte {pos}: {e}"));
        // A corrupt count or length may make later records unreadable, reported at the
        // first record the damage reaches; never before this segment.
        assert!(
            (key..=last_in_seg + 1).contains(&seq),
            "byte {pos}: reported seq {seq}, segment {key}..={last_in_seg}"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn a_removed_segment_is_found_at_its_first_seq() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let mut removed = 0;
    let r = tamper_then_verify(dir.path(), |db| {
        let segs = segments(db);
        assert!(segs.len() >= 4);
        removed = segs[2].0;
        db.remove(segment_key(removed)).unwrap();
    });
    expect_bad(r, removed, "missing");
}

#[test]
fn a_record_removed_from_inside_a_segment_is_found() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let mut target = 0;
    let r = tamper_then_verify(dir.path(), |db| {
        let segs = segments(db);
        // A middle record of a segment with at least 3 records.
        let (key, value) = segs.iter().find(|(_, v)| records(v).len() >= 3).unwrap();
        let mut recs = records(value);
        recs.remove(1);
        target = key + 1;
        db.insert(segment_key(*key), assemble(&recs)).unwrap();
    });
    expect_bad(r, target, "deleted or reordered");
}

#[test]
fn the_last_record_of_a_segment_removed_is_found() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let mut target = 0;
    let r = tamper_then_verify(dir.path(), |db| {
        let (key, value) = segments(db).into_iter().filter(|(_, v)| records(v).len() >= 2).nth(1).unwrap();
        let mut recs = records(&value);
        recs.pop();
        target = key + recs.len() as u64;
        db.insert(segment_key(key), assemble(&recs)).unwrap();
    });
    expect_bad(r, target, "missing");
}

#[test]
fn a_reordered_record_is_found_at_the_first_moved_seq() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let mut target = 0;
    let r = tamper_then_verify(dir.path(), |db| {
        let (key, value) = segments(db).into_iter().nth(2).unwrap();
        let mut recs = records(&value);
        recs.swap(1, 2);
        target = key + 1;
        db.insert(segment_key(key), assemble(&recs)).unwrap();
    });
    expect_bad(r, target, "deleted or reordered");
}

#[test]
fn a_segment_filed_under_another_key_is_found() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let mut target = 0;
    let r = tamper_then_verify(dir.path(), |db| {
        let (key, value) = segments(db).into_iter().nth(3).unwrap();
        db.remove(segment_key(key)).unwrap();
        db.insert(segment_key(key - 1), value).unwrap();
        target = key;
    });
    // Everything up to key-1 is intact; record `key` sits in a segment filed under key-1.
    expect_bad(r, target, "filed under");
}

#[test]
fn open_refuses_a_log_whose_tail_does_not_decode() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        let db = sled::open(dir.path().join("log")).unwrap();
        edit_record(&db, RECORDS, |rec| rec[3] ^= 0xff);
        db.flush().unwrap();
    }
    let err = Log::open(dir.path()).unwrap_err();
    match err {
        LogError::Corrupt { seq, .. } => assert_eq!(seq, RECORDS),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    expect_bad(verify(dir.path(), &mut |_| {}), RECORDS, "");
}

#[test]
fn open_refuses_a_log_with_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let removed;
    {
        let db = sled::open(dir.path().join("log")).unwrap();
        removed = segments(&db)[1].0;
        db.remove(segment_key(removed)).unwrap();
        db.flush().unwrap();
    }
    match Log::open(dir.path()).unwrap_err() {
        LogError::Corrupt { seq, .. } => assert_eq!(seq, removed),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn records_lost_from_the_end_are_found_by_the_high_water_mark_alone() {
    // As when the database's recovery keeps only what it can read of a damaged file,
    // after a crash that left no duplicate index checkpoint: the log chains, but ends early.
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    assert_eq!(seatwatch_log::load_hwm(dir.path()), Some(RECORDS));
    std::fs::remove_file(dir.path().join(seatwatch_log::INDEX_META_FILE)).unwrap();
    let cut = {
        let db = sled::open(dir.path().join("log")).unwrap();
        let (key, _) = *segments(&db).last().unwrap();
        db.remove(segment_key(key)).unwrap();
        db.flush().unwrap();
        key
    };
    match verify(dir.path(), &mut |_| {}) {
        Err(VerifyError::BadRecord { seq, reason, good }) => {
            assert_eq!((seq, good), (cut, cut - 1), "{reason}");
            assert!(reason.contains(&format!("records {cut} to {RECORDS} are missing")), "{reason}");
        }
        other => panic!("verify: {other:?}"),
    }
    match Log::open(dir.path()) {
        Err(LogError::Corrupt { seq, .. }) => assert_eq!(seq, cut),
        Err(e) => panic!("open: {e}"),
        Ok(_) => panic!("a log that lost acknowledged records opened"),
    }
    // A repair records the loss; the log opens and goes on from the seq it has.
    let r = seatwatch_log::repair(dir.path()).unwrap();
    assert_eq!(
        (r.first_bad.map(|b| b.0), r.quarantined_records, r.now.last_seq),
        (Some(cut), RECORDS + 1 - cut, cut - 1)
    );
    let log = Log::open(dir.path()).unwrap();
    assert_eq!(log.head().last_seq, cut - 1);
    log.close().unwrap();
}

#[test]
fn a_damaged_or_foreign_high_water_mark_is_ignored_never_trusted() {
    // The mark is a hint for catching lost records: a file that does not check out
    // (flipped byte, cut short, garbage) is not believed, and the log opens as before.
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let path = dir.path().join(seatwatch_log::HWM_FILE);
    let good = std::fs::read(&path).unwrap();
    for bad in [
        {
            let mut b = good.clone();
            b[9] ^= 0x01;
            b
        },
        good[..40].to_vec(),
        b"not a high-water mark".to_vec(),
        Vec::new(),
    ] {
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(seatwatch_log::load_hwm(dir.path()), None);
        let log = Log::open(dir.path()).unwrap();
        assert_eq!(log.head().last_seq, RECORDS);
        log.close().unwrap();
    }
    assert_eq!(seatwatch_log::load_hwm(dir.path()), Some(RECORDS), "rewritten on close");
}
