//! The persisted duplicate index ([`OpenCheck::Checkpoint`]): an open from its checkpoint
//! scans only what follows it and still knows every stored event; a bad record before the
//! checkpoint is found by the background check, which then refuses appends; a checkpoint
//! that no longer matches the log (repaired, damaged, stale) falls back to a full scan.

use crate::fixtures::hb;
use crate::repair::flip;
use seatwatch_log::{
    AppendOutcome, INDEX_KEYS_FILE, INDEX_META_FILE, Integrity, Log, LogError, OpenCheck, OpenOptions, repair,
};

fn opts(check: OpenCheck) -> OpenOptions {
    OpenOptions { sync_data: false, max_segment_bytes: 1024, check }
}

/// Append `n` heartbeats with ids `{prefix}-{i}` in batches of 7; returns the outcomes.
fn append(log: &Log, prefix: &str, n: usize) -> Vec<AppendOutcome> {
    let mut out = Vec::new();
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    for chunk in ids.chunks(7) {
        out.extend(log.append_blocking(chunk.iter().map(|id| hb(id)).collect()).unwrap());
    }
    out
}

fn appended(o: &[AppendOutcome]) -> usize {
    o.iter().filter(|o| matches!(o, AppendOutcome::Appended(_))).count()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

#[test]
fn an_open_from_the_checkpoint_knows_every_event_and_scans_only_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_with(dir.path(), opts(OpenCheck::Full)).unwrap();
    assert_eq!(appended(&append(&log, "a", 300)), 300);
    log.close().unwrap();
    // Closing wrote the checkpoint at the head.
    assert!(dir.path().join(INDEX_META_FILE).exists() && dir.path().join(INDEX_KEYS_FILE).exists());

    let log = Log::open_with(dir.path(), opts(OpenCheck::Checkpoint)).unwrap();
    assert_eq!(log.head().last_seq, 300);
    block_on(log.verified()).unwrap();
    assert_eq!(log.integrity(), Integrity::Verified);
    // Every stored event is still a duplicate; new ones continue the log.
    assert_eq!(appended(&append(&log, "a", 300)), 0);
    assert_eq!(appended(&append(&log, "b", 50)), 50);
    let head = log.head();
    // A crash: the checkpoint of the last close is older than the log (keep a copy of
    // it, close, and put the old one back: the keys file then holds more than it says).
    let old_meta = std::fs::read(dir.path().join(INDEX_META_FILE)).unwrap();
    log.close().unwrap();
    std::fs::write(dir.path().join(INDEX_META_FILE), &old_meta).unwrap();

    let log = Log::open_with(dir.path(), opts(OpenCheck::Checkpoint)).unwrap();
    assert_eq!(log.head(), head);
    block_on(log.verified()).unwrap();
    assert_eq!(appended(&append(&log, "a", 300)), 0);
    assert_eq!(appended(&append(&log, "b", 50)), 0, "the tail after the checkpoint was scanned");
    assert_eq!(appended(&append(&log, "c", 20)), 20);
    log.close().unwrap();
    // And a full open agrees with everything the checkpointed opens wrote.
    let log = Log::open_with(dir.path(), opts(OpenCheck::Full)).unwrap();
    assert_eq!(log.head().last_seq, 370);
    for p in ["a", "b", "c"] {
        assert_eq!(appended(&append(&log, p, 20)), 0);
    }
}

#[test]
fn a_bad_record_before_the_checkpoint_is_found_in_the_background_and_appends_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_with(dir.path(), opts(OpenCheck::Full)).unwrap();
    append(&log, "a", 200);
    log.close().unwrap();
    flip(dir.path(), 77);

    // The full open refuses it at once; the checkpointed open finds it on its thread.
    assert!(matches!(Log::open_with(dir.path(), opts(OpenCheck::Full)), Err(LogError::Corrupt { seq: 77, .. })));
    let log = Log::open_with(dir.path(), opts(OpenCheck::Checkpoint)).unwrap();
    let e = block_on(log.verified()).unwrap_err();
    assert!(matches!(e, LogError::Corrupt { seq: 77, .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains("seatwatch repair") && text.contains("quarantine"), "{text}");
    assert!(matches!(log.integrity(), Integrity::Broken { seq: 77, .. }));
    // Nothing more is appended to a log that does not verify; reads go on.
    assert!(matches!(log.append_blocking(vec![hb("z-1")]), Err(LogError::Corrupt { seq: 77, .. })));
    assert_eq!(log.head().last_seq, 200);
    assert_eq!(log.read_from(190).count(), 11);
    log.close().unwrap();

    // After the repair the checkpoint no longer matches: a full scan, and the
    // quarantined events are new again.
    let r = repair(dir.path()).unwrap();
    assert_eq!(r.first_bad.map(|f| f.0), Some(77));
    let log = Log::open_with(dir.path(), opts(OpenCheck::Checkpoint)).unwrap();
    assert_eq!(log.head().last_seq, 76);
    assert_eq!(log.integrity(), Integrity::Verified);
    assert_eq!(appended(&append(&log, "a", 200)), 124);
}

#[test]
fn a_damaged_or_missing_index_costs_a_full_scan_never_a_wrong_answer() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_with(dir.path(), opts(OpenCheck::Full)).unwrap();
    append(&log, "a", 100);
    log.close().unwrap();
    let keys = dir.path().join(INDEX_KEYS_FILE);
    let meta = dir.path().join(INDEX_META_FILE);
    let damage: [&dyn Fn(); 4] = [
        &|| {
            let mut b = std::fs::read(&keys).unwrap();
            b[20] ^= 0x40;
            std::fs::write(&keys, b).unwrap();
        },
        &|| {
            let b = std::fs::read(&keys).unwrap();
            std::fs::write(&keys, &b[..b.len() / 2]).unwrap();
        },
        &|| {
            let mut b = std::fs::read(&meta).unwrap();
            b[10] ^= 0x01;
            std::fs::write(&meta, b).unwrap();
        },
        &|| std::fs::remove_file(&keys).unwrap(),
    ];
    for (i, d) in damage.iter().enumerate() {
        d();
        let log = Log::open_with(dir.path(), opts(OpenCheck::Checkpoint)).unwrap();
        assert_eq!(log.integrity(), Integrity::Verified, "damage {i}: a full scan checked everything");
        assert_eq!(appended(&append(&log, "a", 100)), 0, "damage {i}");
        assert_eq!(appended(&append(&log, &format!("n{i}"), 3)), 3, "damage {i}");
        log.close().unwrap();
    }
    // The index written anew after each fall-back is usable again.
    let log = Log::open_with(dir.path(), opts(OpenCheck::Checkpoint)).unwrap();
    block_on(log.verified()).unwrap();
    assert_eq!(appended(&append(&log, "n3", 3)), 0);
}

#[test]
fn a_checkpoint_of_another_log_is_not_trusted() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (d, p) in [(one.path(), "x"), (two.path(), "y")] {
        let log = Log::open_with(d, opts(OpenCheck::Full)).unwrap();
        append(&log, p, 40);
        log.close().unwrap();
    }
    for f in [INDEX_KEYS_FILE, INDEX_META_FILE] {
        std::fs::copy(two.path().join(f), one.path().join(f)).unwrap();
    }
    let log = Log::open_with(one.path(), opts(OpenCheck::Checkpoint)).unwrap();
    assert_eq!(appended(&append(&log, "x", 40)), 0);
    assert_eq!(appended(&append(&log, "y", 40)), 40);
}
