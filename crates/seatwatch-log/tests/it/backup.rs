//! `read_raw_from` + `append_raw`: copying a live log verbatim (`seatwatch backup`).

use crate::fixtures::{every_kind, hb, pending_kind};
use seatwatch_log::{AppendOutcome, Log, LogError, RawRecord, verify};

fn source_log(dir: &std::path::Path) -> Log {
    let log = Log::open(dir).unwrap();
    for round in 0..3 {
        let batch = every_kind()
            .into_iter()
            .enumerate()
            .map(|(i, k)| pending_kind(i as i64, &format!("r{round}-{i}"), k))
            .collect();
        log.append_blocking(batch).unwrap();
    }
    log
}

#[test]
fn a_verbatim_copy_has_the_same_records_and_head_and_continues_the_chain() {
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let a = source_log(a_dir.path());
    let b = Log::open(b_dir.path()).unwrap();
    // Copy in two steps, as an incremental backup would.
    let first: Vec<_> = a.read_raw_from(1).take(30).map(Result::unwrap).collect();
    b.append_raw(first).unwrap();
    assert_eq!(b.head().last_seq, 30);
    let rest: Vec<_> = a.read_raw_from(b.head().last_seq + 1).map(Result::unwrap).collect();
    b.append_raw(rest).unwrap();
    assert_eq!(b.head(), a.head());
    let ra: Vec<_> = a.read_raw_from(1).map(Result::unwrap).collect();
    let rb: Vec<_> = b.read_raw_from(1).map(Result::unwrap).collect();
    assert_eq!(ra, rb, "byte-identical records");
    // The copy knows the ids it holds, and goes on from the same head.
    let out = b.append_blocking(vec![pending_kind(0, "r1-0", every_kind().remove(0)), hb("new")]).unwrap();
    assert_eq!(out, vec![AppendOutcome::Duplicate, AppendOutcome::Appended(a.head().last_seq + 1)]);
    b.close().unwrap();
    assert_eq!(verify(b_dir.path(), &mut |_| {}).unwrap().last_seq, a.head().last_seq + 1);
}

#[test]
fn raw_records_that_do_not_continue_the_log_are_refused_whole() {
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let a = source_log(a_dir.path());
    let b = Log::open(b_dir.path()).unwrap();
    let raw: Vec<RawRecord> = a.read_raw_from(1).map(Result::unwrap).collect();

    // A gap: starts at 2.
    let err = b.append_raw(raw[1..5].to_vec()).unwrap_err();
    assert!(matches!(err, LogError::RawRejected { seq: 2, .. }), "{err:?}");
    // A record in the middle of the batch breaks the chain: nothing of the batch is stored.
    let mut broken = raw[..5].to_vec();
    let n = broken[3].bytes.len();
    broken[3].bytes[n - 1] ^= 1;
    let err = b.append_raw(broken).unwrap_err();
    assert!(matches!(err, LogError::RawRejected { seq: 4, .. }), "{err:?}");
    assert!(err.to_string().contains("chain"), "{err}");
    assert_eq!(b.head().last_seq, 0, "all or nothing");
    // A record whose bytes hold another seq than claimed.
    let mut lying = raw[1].clone();
    lying.seq = 1;
    assert!(matches!(b.append_raw(vec![lying]), Err(LogError::RawRejected { seq: 1, .. })));
    // Undecodable bytes.
    let junk = RawRecord { seq: 1, bytes: vec![1, 1, 0, 0] };
    assert!(matches!(b.append_raw(vec![junk]), Err(LogError::RawRejected { seq: 1, .. })));
    assert!(Log::decode_raw(&RawRecord { seq: 1, bytes: vec![9; 40] }).is_err());
    // The genuine ones still go in.
    b.append_raw(raw).unwrap();
    assert_eq!(b.head(), a.head());
}
