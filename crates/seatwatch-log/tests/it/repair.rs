//! A log that does not verify: `Log::open` refuses it naming the first bad seq and the
//! way out; `repair` moves every segment from that seq on into a quarantine file (bytes
//! as found), keeps the good prefix, and the log verifies and takes appends again.

use crate::fixtures::hb;
use seatwatch_log::format::{SegmentReader, split_segment};
use seatwatch_log::{AppendOutcome, Log, LogError, OpenOptions, read_quarantine, repair, verify};
use std::path::Path;

const RECORDS: u64 = 60;

/// A closed log of 60 heartbeats in small segments (several records per segment).
fn build(dir: &Path) {
    let log = Log::open_with(dir, OpenOptions { sync_data: false, max_segment_bytes: 1024, ..OpenOptions::default() })
        .unwrap();
    for chunk in 0..6 {
        let batch = (0..10).map(|i| hb(&format!("e-{chunk}-{i}"))).collect();
        log.append_blocking(batch).unwrap();
    }
    log.close().unwrap();
}

fn segments(dir: &Path) -> Vec<(u64, Vec<u8>)> {
    let db = sled::open(dir.join("log")).unwrap();
    db.iter()
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (u64::from_be_bytes(k.as_ref().try_into().unwrap()), v.to_vec())
        })
        .collect()
}

/// Flip one byte inside the payload of record `seq` (in the middle of the log).
pub fn flip(dir: &Path, seq: u64) {
    let db = sled::open(dir.join("log")).unwrap();
    let (key, value) = db
        .iter()
        .map(|kv| kv.unwrap())
        .filter(|(k, _)| u64::from_be_bytes(k.as_ref().try_into().unwrap()) <= seq)
        .last()
        .unwrap();
    let first = u64::from_be_bytes(key.as_ref().try_into().unwrap());
    let recs = split_segment(&value).unwrap();
    // Byte offset of the record inside the value: header, then prefix + record each.
    let mut at = 5;
    for r in &recs[..(seq - first) as usize] {
        at += 4 + r.len();
    }
    let mut v = value.to_vec();
    v[at + 4 + 10] ^= 0x01; // inside the payload, past version/kind
    db.insert(key, v).unwrap();
    db.flush().unwrap();
}

#[test]
fn open_refuses_a_log_corrupted_in_the_middle_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    flip(dir.path(), 23);
    let e = Log::open(dir.path()).unwrap_err();
    assert!(matches!(e, LogError::Corrupt { seq: 23, .. }), "{e}");
    let text = e.to_string();
    for needle in ["seq 23", "seatwatch verify", "seatwatch repair", "quarantine", "backup"] {
        assert!(text.contains(needle), "missing {needle:?} in: {text}");
    }
    assert_eq!(verify(dir.path(), &mut |_| {}).unwrap_err().bad_seq(), Some(23));
}

#[test]
fn repair_quarantines_from_the_first_bad_seq_on_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let before = segments(dir.path());
    flip(dir.path(), 23);
    let corrupted = segments(dir.path());
    let report = repair(dir.path()).unwrap();
    let (seq, reason) = report.first_bad.clone().unwrap();
    assert_eq!(seq, 23, "{reason}");
    assert!(reason.contains("chain") || reason.contains("decode"), "{reason}");
    assert_eq!(report.quarantined_records, RECORDS - 22, "{report:?}");
    assert_eq!(report.now.last_seq, 22);
    // The log verifies, holds exactly records 1..=22 as they were written.
    let v = verify(dir.path(), &mut |_| {}).unwrap();
    assert_eq!(v.last_seq, 22);
    // The quarantine file holds every removed segment, byte for byte as found, in order.
    let file = report.quarantine_file.clone().unwrap();
    assert!(file.starts_with(dir.path().join("quarantine")));
    let (header, moved) = read_quarantine(&file).unwrap();
    assert!(header.contains("\"first_bad_seq\":23"), "{header}");
    let cut = corrupted.iter().position(|(k, v)| k + u64::from(SegmentReader::count(v).unwrap()) > 23).unwrap();
    assert_eq!(moved.len(), corrupted.len() - cut);
    for (m, (k, v)) in moved.iter().zip(&corrupted[cut..]) {
        assert_eq!(m.key, k.to_be_bytes().to_vec());
        assert_eq!(&m.value, v);
    }
    assert_eq!(report.quarantined_segments, moved.len() as u64);
    // Nothing was lost: kept records + quarantined records = every record written.
    let kept_records: u64 = segments(dir.path()).iter().map(|(_, v)| u64::from(SegmentReader::count(v).unwrap())).sum();
    assert_eq!(kept_records + report.quarantined_records, RECORDS);
    // The kept prefix is byte-identical to the original records 1..=22.
    let original: Vec<Vec<u8>> =
        before.iter().flat_map(|(_, v)| split_segment(v).unwrap().into_iter().map(<[u8]>::to_vec)).collect();
    let now: Vec<Vec<u8>> = segments(dir.path())
        .iter()
        .flat_map(|(_, v)| split_segment(v).unwrap().into_iter().map(<[u8]>::to_vec))
        .collect();
    assert_eq!(now, original[..22].to_vec());
    // The log opens and continues at 23; the quarantined events can be sent again.
    let log = Log::open(dir.path()).unwrap();
    assert_eq!(log.append_blocking(vec![hb("e-2-5")]).unwrap(), vec![AppendOutcome::Appended(23)]);
    assert_eq!(log.append_blocking(vec![hb("e-0-0")]).unwrap(), vec![AppendOutcome::Duplicate]);
    log.close().unwrap();
    // A second repair finds nothing to do and writes no file.
    let again = repair(dir.path()).unwrap();
    assert_eq!((again.first_bad, again.quarantine_file), (None, None));
    assert_eq!(std::fs::read_dir(dir.path().join("quarantine")).unwrap().count(), 1);
}

#[test]
fn repair_of_a_gap_moves_everything_after_it() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let segs = segments(dir.path());
    // Delete a whole segment in the middle: every later record can no longer be chained.
    let (gone, _) = segs[segs.len() / 2];
    {
        let db = sled::open(dir.path().join("log")).unwrap();
        db.remove(gone.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    assert!(matches!(Log::open(dir.path()).unwrap_err(), LogError::Corrupt { seq, .. } if seq == gone));
    let report = repair(dir.path()).unwrap();
    assert_eq!(report.first_bad.as_ref().unwrap().0, gone);
    assert_eq!(report.now.last_seq, gone - 1);
    assert_eq!(report.quarantined_segments as usize, segs.len() / 2 - 1 + segs.len() % 2);
    assert!(Log::open(dir.path()).is_ok());
}

#[test]
fn a_missing_database_file_is_a_clear_error_not_an_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    std::fs::remove_file(dir.path().join("log").join("db")).unwrap();
    let e = Log::open(dir.path()).unwrap_err();
    assert!(matches!(e, LogError::MissingDatabase { .. }), "{e}");
    assert!(e.to_string().contains("backup"), "{e}");
    assert!(verify(dir.path(), &mut |_| {}).is_err());
    assert!(matches!(repair(dir.path()).unwrap_err(), LogError::MissingDatabase { .. }));
    // It did not create one either.
    assert!(!dir.path().join("log").join("db").exists());
}

#[test]
fn repair_of_a_sound_log_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let before = segments(dir.path());
    let r = repair(dir.path()).unwrap();
    assert_eq!(r.first_bad, None);
    assert_eq!(r.now.last_seq, RECORDS);
    assert_eq!(segments(dir.path()), before);
    assert!(!dir.path().join("quarantine").exists());
}

/// A full disk can leave sled's own snapshot half-written as `snap.*.generating`; sled
/// 0.34 would take it for its newest snapshot and refuse to open. The log removes it.
#[test]
fn a_half_written_sled_snapshot_does_not_lock_the_log_out() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let leftover = dir.path().join("log").join("snap.00000000FFFFFFFF.generating");
    std::fs::write(&leftover, b"").unwrap();
    let log = Log::open(dir.path()).unwrap();
    assert_eq!(log.head().last_seq, RECORDS);
    log.close().unwrap();
    assert!(!leftover.exists());
    assert_eq!(verify(dir.path(), &mut |_| {}).unwrap().last_seq, RECORDS);
}
