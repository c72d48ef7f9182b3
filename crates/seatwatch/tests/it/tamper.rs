//! `seatwatch verify` on a tampered data directory: exit 1 and the first bad seq; and
//! `seatwatch replay` refuses it.

use crate::proc::*;
use seatwatch_log::format::{join_segment, segment_key, split_segment};
use seatwatch_log::{Log, OpenOptions, Pending};
use seatwatch_model::{Event, EventKind, Ts};
use std::path::Path;

/// A closed log of 40 heartbeats in segments of a few records each.
pub fn build(dir: &Path) {
    let log = Log::open_with(dir, OpenOptions { sync_data: false, max_segment_bytes: 512, ..OpenOptions::default() })
        .unwrap();
    for chunk in 0..4 {
        let batch = (0..10)
            .map(|i| Pending {
                tenant: "acme".into(),
                source: "acd-1".into(),
                received: Ts::from_secs(1_772_400_000),
                event: Event {
                    id: format!("t-{chunk}-{i}").into(),
                    ts: Ts::from_secs(1_772_400_000 + chunk * 10 + i),
                    agent: None,
                    kind: EventKind::Heartbeat,
                    extra: None,
                },
            })
            .collect();
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

fn verify_cli(dir: &Path) -> (Option<i32>, String) {
    let o = run(&["verify", "--data", dir.to_str().unwrap()]);
    (o.status.code(), text(&o))
}

/// Build, tamper, verify; the seq `verify` must name is returned by `tamper`.
fn case(tamper: impl FnOnce(&sled::Db) -> u64) {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let (code, out) = verify_cli(dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("ok: 40 records, last seq 40, head "), "{out}");
    let (ok, out) = replay_cli(dir.path());
    assert!(ok, "{out}");
    let bad = {
        let db = sled::open(dir.path().join("log")).unwrap();
        let bad = tamper(&db);
        db.flush().unwrap();
        bad
    };
    let (code, out) = verify_cli(dir.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("seq {bad}")), "expected seq {bad} named: {out}");
    // A replay refuses the log too (here its open finds the damage) and says why.
    let (ok, out) = replay_cli(dir.path());
    assert!(!ok, "{out}");
    assert!(out.to_lowercase().contains("run `seatwatch verify"), "{out}");
}

fn replay_cli(dir: &Path) -> (bool, String) {
    let o = run(&["replay", "--data", dir.to_str().unwrap(), "--report", "alarms"]);
    (o.status.success(), text(&o))
}

#[test]
fn a_flipped_byte_is_reported_with_its_seq() {
    case(|db| {
        let segs = segments(db);
        let (key, value) = &segs[2];
        let mut recs = records(value);
        let last = recs.len() - 1;
        let mid = recs[last].len() / 2;
        recs[last][mid] ^= 0x20;
        db.insert(segment_key(*key), join_segment(&recs)).unwrap();
        key + last as u64
    });
}

#[test]
fn a_deleted_record_is_reported_with_its_seq() {
    case(|db| {
        let segs = segments(db);
        let (key, _) = &segs[3];
        db.remove(segment_key(*key)).unwrap();
        *key
    });
}

#[test]
fn a_reordered_record_is_reported_with_its_seq() {
    case(|db| {
        let segs = segments(db);
        let (key, value) = &segs[1];
        let mut recs = records(value);
        assert!(recs.len() >= 2);
        recs.swap(0, 1);
        db.insert(segment_key(*key), join_segment(&recs)).unwrap();
        *key
    });
}

#[test]
fn a_lost_tail_is_reported_with_its_seq() {
    // The database's own recovery, opening a damaged file, keeps what it can read and
    // drops the rest: the log then chains and verifies, only shorter. The duplicate
    // index's checkpoint (written on close) remembers the records it lost.
    case(|db| {
        let segs = segments(db);
        let (key, _) = &segs[segs.len() - 2];
        for (k, _) in &segs[segs.len() - 2..] {
            db.remove(segment_key(*k)).unwrap();
        }
        *key
    });
}

#[test]
fn a_lost_tail_stops_the_server_and_repair_records_the_loss() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let cut = {
        let db = sled::open(dir.path().join("log")).unwrap();
        let segs = segments(&db);
        let (key, _) = segs[segs.len() - 1];
        db.remove(segment_key(key)).unwrap();
        db.flush().unwrap();
        key
    };
    // The log refuses to open (a server would not start), naming the first missing seq.
    match Log::open(dir.path()) {
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(&format!("records {cut} to 40 are missing")), "{msg}");
            assert!(msg.contains("seatwatch repair"), "{msg}");
        }
        Ok(_) => panic!("a log that lost acknowledged records opened"),
    }
    // `repair` records the loss (nothing left to move) and the log opens again.
    let o = run(&["repair", "--data", dir.path().to_str().unwrap()]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains(&format!("the log was bad at seq {cut}")), "{out}");
    assert!(out.contains("already gone from the database; the loss is recorded in"), "{out}");
    let (code, out) = verify_cli(dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with(&format!("ok: {} records, last seq {}", cut - 1, cut - 1)), "{out}");
    let log = Log::open(dir.path()).unwrap();
    assert_eq!(log.head().last_seq, cut - 1);
    log.close().unwrap();
}
