//! The public API: layout, locking, appends, duplicates, reads, subscribe, close.

use crate::fixtures::{every_kind, hb, pending_kind};
use seatwatch_log::{AppendOutcome, Log, LogError, OpenOptions, verify};
use seatwatch_model::EventKind;
use std::sync::Arc;

fn appended(n: std::ops::RangeInclusive<u64>) -> Vec<AppendOutcome> {
    n.map(AppendOutcome::Appended).collect()
}

#[test]
fn open_lays_out_the_directory_and_keeps_the_caller_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let log = Log::open(&d).unwrap();
    assert!(d.join("seatwatch.lock").is_file());
    assert!(d.join("log").is_dir());
    let key_path = d.join("caller.key");
    let meta = std::fs::metadata(&key_path).unwrap();
    assert_eq!(meta.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    let key = log.caller_key().0;
    assert_ne!(key, [0; 32]);
    assert_eq!(log.dir(), d);
    assert_eq!(log.head().last_seq, 0);
    assert_eq!(log.head().hash, [0; 32]);
    log.close().unwrap();
    let log = Log::open(&d).unwrap();
    assert_eq!(log.caller_key().0, key, "the key is loaded, not remade");
    drop(log);
    let other = tempfile::tempdir().unwrap();
    let log2 = Log::open(other.path()).unwrap();
    assert_ne!(log2.caller_key().0, key, "each directory gets its own random key");
}

#[test]
fn a_wrong_size_caller_key_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("caller.key"), b"short").unwrap();
    let err = Log::open(dir.path()).unwrap_err();
    assert!(matches!(err, LogError::BadCallerKey { len: 5, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("caller.key") && msg.contains("32"), "{msg}");
}

#[test]
fn a_missing_caller_key_is_refused_once_the_log_holds_records() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    log.append_blocking(vec![hb("a")]).unwrap();
    log.close().unwrap();
    std::fs::remove_file(dir.path().join("caller.key")).unwrap();
    let err = Log::open(dir.path()).unwrap_err();
    assert!(matches!(err, LogError::MissingCallerKey { .. }), "{err:?}");
    assert!(err.to_string().contains("restore it from a backup"), "{err}");
    assert!(!dir.path().join("caller.key").exists(), "no new key was made");
}

#[test]
fn a_second_opener_gets_locked_at_once_naming_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    let err = Log::open(dir.path()).unwrap_err();
    match &err {
        LogError::Locked { dir: d } => assert_eq!(d, dir.path()),
        other => panic!("expected Locked, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(msg.contains("seatwatch serve") && msg.contains("seatwatch backup"), "{msg}");
    // verify refuses too, and says why.
    let verr = verify(dir.path(), &mut |_| {}).unwrap_err();
    assert!(matches!(verr, seatwatch_log::VerifyError::Open(LogError::Locked { .. })), "{verr:?}");
    assert!(verr.to_string().contains("seatwatch backup"), "{verr}");
    // Closing releases the directory.
    log.close().unwrap();
    Log::open(dir.path()).unwrap();
}

#[test]
fn dropping_the_last_clone_closes_and_releases() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    let clone = log.clone();
    log.append_blocking(vec![hb("x")]).unwrap();
    drop(log);
    assert!(matches!(Log::open(dir.path()), Err(LogError::Locked { .. })), "a clone still holds it");
    drop(clone);
    let log = Log::open(dir.path()).unwrap();
    assert_eq!(log.head().last_seq, 1);
}

#[test]
fn appends_get_gapless_seqs_and_read_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    let batch: Vec<_> =
        every_kind().into_iter().enumerate().map(|(i, k)| pending_kind(i as i64, &format!("e{i}"), k)).collect();
    let n = batch.len() as u64;
    assert_eq!(log.append_blocking(batch.clone()).unwrap(), appended(1..=n));
    assert_eq!(log.append_blocking(vec![hb("next")]).unwrap(), appended(n + 1..=n + 1));
    assert_eq!(log.append_blocking(vec![]).unwrap(), vec![]);
    let all: Vec<_> = log.read_from(0).map(Result::unwrap).collect();
    assert_eq!(all.len() as u64, n + 1);
    for (i, (env, p)) in all.iter().zip(&batch).enumerate() {
        assert_eq!(env.seq, i as u64 + 1);
        assert_eq!(env, &crate::fixtures::envelope(i as u64 + 1, p));
    }
    let from_mid: Vec<u64> = log.read_from(5).map(|e| e.unwrap().seq).collect();
    assert_eq!(from_mid, (5..=n + 1).collect::<Vec<_>>());
    assert_eq!(log.read_from(n + 2).count(), 0);
    let raw: Vec<_> = log.read_raw_from(3).map(Result::unwrap).collect();
    assert_eq!(raw.len() as u64, n - 1);
    assert_eq!(Log::decode_raw(&raw[0]).unwrap(), all[2]);
    let head = log.head();
    assert_eq!(head.last_seq, n + 1);
    assert_eq!(head.hash_hex().len(), 64);
    assert_eq!(&raw.last().unwrap().bytes[raw.last().unwrap().bytes.len() - 32..], &head.hash);
    log.close().unwrap();
    let r = verify(dir.path(), &mut |_| {}).unwrap();
    assert_eq!((r.records, r.last_seq, r.head), (n + 1, n + 1, head));
}

#[tokio::test]
async fn async_append_works_and_is_queued_when_called() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    // Both are queued at the call, so they commit in call order even if awaited in reverse.
    let f1 = log.append(vec![hb("a")]);
    let f2 = log.append(vec![hb("b")]);
    assert_eq!(f2.await.unwrap(), appended(2..=2));
    assert_eq!(f1.await.unwrap(), appended(1..=1));
    let h = tokio::spawn(log.append(vec![hb("c")]));
    assert_eq!(h.await.unwrap().unwrap(), appended(3..=3));
}

#[test]
fn duplicates_are_dropped_across_batches_within_a_batch_and_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    let out = log.append_blocking(vec![hb("a"), hb("b"), hb("a")]).unwrap();
    assert_eq!(out, vec![AppendOutcome::Appended(1), AppendOutcome::Appended(2), AppendOutcome::Duplicate]);
    let out = log.append_blocking(vec![hb("b"), hb("c")]).unwrap();
    assert_eq!(out, vec![AppendOutcome::Duplicate, AppendOutcome::Appended(3)]);
    // Same id, other source or other tenant: not a duplicate.
    let mut other_source = hb("a");
    other_source.source = "acd-2".into();
    let mut other_tenant = hb("a");
    other_tenant.tenant = "globex".into();
    assert_eq!(log.append_blocking(vec![other_source, other_tenant]).unwrap(), appended(4..=5));
    // Ticks (empty id) are never deduplicated.
    let tick = || pending_kind(0, "", EventKind::Tick);
    assert_eq!(log.append_blocking(vec![tick(), tick()]).unwrap(), appended(6..=7));
    log.close().unwrap();

    let log = Log::open(dir.path()).unwrap();
    let out = log.append_blocking(vec![hb("c"), hb("d"), tick()]).unwrap();
    assert_eq!(out, vec![AppendOutcome::Duplicate, AppendOutcome::Appended(8), AppendOutcome::Appended(9)]);
}

#[test]
fn duplicates_across_requests_of_one_commit_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    // Many requests with the same ids, queued together: each id is stored exactly once.
    let futs: Vec<_> = (0..50).map(|_| log.append(vec![hb("same"), hb("also")])).collect();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let outs: Vec<_> = rt.block_on(async {
        let mut v = vec![];
        for f in futs {
            v.extend(f.await.unwrap());
        }
        v
    });
    let stored = outs.iter().filter(|o| matches!(o, AppendOutcome::Appended(_))).count();
    assert_eq!(stored, 2);
    assert_eq!(outs.iter().filter(|o| **o == AppendOutcome::Duplicate).count(), 98);
    assert_eq!(log.head().last_seq, 2);
}

#[test]
fn subscribe_bumps_after_each_commit_and_tails_with_read_from() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    let mut rx = log.subscribe();
    assert_eq!(*rx.borrow_and_update(), 0);
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for i in 0..20 {
                log.append_blocking(vec![hb(&format!("e{i}")), hb(&format!("f{i}"))]).unwrap();
            }
        })
    };
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let seen = rt.block_on(async {
        let mut pos = 0u64;
        let mut seen = vec![];
        while pos < 40 {
            rx.changed().await.unwrap();
            let durable = *rx.borrow_and_update();
            for env in log.read_from(pos + 1) {
                let env = env.unwrap();
                assert!(env.seq <= durable || env.seq <= log.head().last_seq);
                seen.push(env.seq);
                pos = env.seq;
            }
        }
        seen
    });
    writer.join().unwrap();
    assert_eq!(seen, (1..=40).collect::<Vec<_>>());
    // Closing drops the sender: a follower learns the log is gone.
    log.close().unwrap();
    assert!(rt.block_on(rx.changed()).is_err());
}

#[test]
fn close_drains_then_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    let pending: Vec<_> = (0..20).map(|i| log.append(vec![hb(&format!("e{i}"))])).collect();
    log.close().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for f in pending {
        assert!(rt.block_on(f).is_ok(), "appends queued before close are committed");
    }
    assert!(matches!(log.append_blocking(vec![hb("late")]), Err(LogError::Closed)));
    assert!(matches!(rt.block_on(log.append(vec![hb("late")])), Err(LogError::Closed)));
    assert!(matches!(
        log.append_raw(vec![seatwatch_log::RawRecord { seq: 21, bytes: vec![1] }]),
        Err(LogError::Closed)
    ));
    assert!(matches!(log.read_from(1).next(), Some(Err(LogError::Closed))));
    log.close().unwrap();
    let log = Log::open(dir.path()).unwrap();
    assert_eq!(log.head().last_seq, 20);
}

#[test]
fn segments_stay_under_the_limit_and_many_records_share_one() {
    let dir = tempfile::tempdir().unwrap();
    let opts = OpenOptions { sync_data: false, max_segment_bytes: 2048, ..OpenOptions::default() };
    let log = Log::open_with(dir.path(), opts).unwrap();
    let batch: Vec<_> = (0..500).map(|i| hb(&format!("event-{i:05}"))).collect();
    log.append_blocking(batch).unwrap();
    log.append_blocking(vec![hb("one")]).unwrap();
    log.close().unwrap();
    let db = sled::open(dir.path().join("log")).unwrap();
    let mut segments = 0;
    for kv in db.iter() {
        let (k, v) = kv.unwrap();
        assert_eq!(k.len(), 8);
        assert!(v.len() <= 2048, "segment of {} bytes", v.len());
        segments += 1;
    }
    assert!(segments > 2 && segments < 100, "{segments} segments for 501 small records");
    let keys: Vec<u64> =
        db.iter().keys().map(|k| u64::from_be_bytes(k.unwrap().as_ref().try_into().unwrap())).collect();
    assert_eq!(keys[0], 1);
    assert_eq!(*keys.last().unwrap(), 501, "a commit never rewrites an earlier segment");
    drop(db);
    assert_eq!(verify(dir.path(), &mut |_| {}).unwrap().last_seq, 501);
}

#[test]
fn an_event_too_large_for_a_segment_is_refused_and_nothing_of_its_batch_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    let mut big = hb("big");
    big.event.extra = Some(format!(r#"{{"blob":"{}"}}"#, "x".repeat(20_000)));
    let err = log.append_blocking(vec![hb("ok"), big]).unwrap_err();
    match &err {
        LogError::TooLarge { index, bytes, max } => {
            assert_eq!(*index, 1);
            assert!(bytes > max);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(log.head().last_seq, 0);
    assert_eq!(log.append_blocking(vec![hb("ok")]).unwrap(), appended(1..=1), "ok was not stored before");
}

#[test]
fn options_out_of_range_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [0, 100, 10 * 1024 * 1024] {
        let err = Log::open_with(
            dir.path(),
            OpenOptions { sync_data: true, max_segment_bytes: bad, ..OpenOptions::default() },
        )
        .unwrap_err();
        assert!(matches!(err, LogError::InvalidOptions { .. }), "{err:?}");
    }
    assert!(OpenOptions::default().sync_data);
    assert!(OpenOptions::default().max_segment_bytes < 12 * 1024);
}

#[test]
fn concurrent_appenders_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    let threads = 16;
    let per_thread = 25;
    let barrier = Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (log, barrier) = (log.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut seqs = vec![];
                for i in 0..per_thread {
                    for o in log.append_blocking(vec![hb(&format!("t{t}-{i}"))]).unwrap() {
                        let AppendOutcome::Appended(s) = o else { panic!("unexpected duplicate") };
                        seqs.push(s);
                    }
                }
                seqs
            })
        })
        .collect();
    let mut all: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort();
    let n = (threads * per_thread) as u64;
    assert_eq!(all, (1..=n).collect::<Vec<_>>(), "gapless, each seq once");
    let stats = log.stats();
    assert_eq!(stats.requests, n);
    assert!(stats.commits < n, "group commit: {} commits for {n} requests", stats.commits);
    assert!(log.size_on_disk() > 0);
}

#[test]
fn verify_of_an_empty_or_missing_log() {
    let dir = tempfile::tempdir().unwrap();
    let err = verify(&dir.path().join("nothing"), &mut |_| {}).unwrap_err();
    assert!(matches!(err, seatwatch_log::VerifyError::NoLog { .. }), "{err:?}");
    assert!(!dir.path().join("nothing").exists(), "verify creates nothing");
    Log::open(dir.path()).unwrap().close().unwrap();
    let r = verify(dir.path(), &mut |_| {}).unwrap();
    assert_eq!((r.records, r.last_seq, r.head.hash), (0, 0, [0; 32]));
}

#[test]
fn the_directory_can_be_reopened_and_verified_right_after_close() {
    // sled lets go of its own file lock a little after it is dropped; close waits for it.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..30u64 {
        let log = Log::open(dir.path()).unwrap();
        assert_eq!(log.append_blocking(vec![hb(&format!("e{i}"))]).unwrap(), appended(i + 1..=i + 1));
        log.close().unwrap();
        assert_eq!(verify(dir.path(), &mut |_| {}).unwrap().last_seq, i + 1);
    }
}
