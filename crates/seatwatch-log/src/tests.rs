//! Unit tests that need the crate's test hooks (failure injection).

use super::*;
use seatwatch_model::EventKind;

fn pending(id: &str) -> Pending {
    Pending {
        tenant: "acme".into(),
        source: "acd-1".into(),
        received: Ts::from_secs(1_772_400_000),
        event: Event {
            id: id.into(),
            ts: Ts::from_secs(1_772_400_000),
            agent: None,
            kind: EventKind::Heartbeat,
            extra: None,
        },
    }
}

#[test]
fn a_failed_commit_is_rolled_back_and_the_log_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    assert_eq!(
        log.append_blocking(vec![pending("a"), pending("b")]).unwrap(),
        vec![AppendOutcome::Appended(1), AppendOutcome::Appended(2)]
    );
    let head = log.head();
    let mut rx = log.subscribe();
    rx.borrow_and_update();

    log.fail_next_commits(1);
    let err = log.append_blocking(vec![pending("c"), pending("d")]).unwrap_err();
    assert!(matches!(err, LogError::Write { .. }), "{err}");
    assert!(err.to_string().contains("send it again"), "{err}");
    assert_eq!(log.head(), head, "the head does not move on a failed commit");
    assert!(!rx.has_changed().unwrap(), "subscribers are not told about a failed commit");
    assert_eq!(log.read_from(1).count(), 2);

    // The retry is not a duplicate, and takes the seqs the failed commit would have had.
    assert_eq!(
        log.append_blocking(vec![pending("c"), pending("d"), pending("a")]).unwrap(),
        vec![AppendOutcome::Appended(3), AppendOutcome::Appended(4), AppendOutcome::Duplicate]
    );
    // Subscribers are woken just after the acknowledgements go out.
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let woken = rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(10), rx.wait_for(|s| *s == 4)).await.map(|r| r.is_ok())
    });
    assert_eq!(woken, Ok(true), "the subscriber is told about the commit");
    let ids: Vec<String> = log.read_from(1).map(|e| e.unwrap().event.id.to_string()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
    log.close().unwrap();

    let report = verify(dir.path(), &mut |_| {}).unwrap();
    assert_eq!(report.last_seq, 4);
    let log = Log::open(dir.path()).unwrap();
    assert_eq!(log.head().last_seq, 4);
    assert_eq!(log.append_blocking(vec![pending("d")]).unwrap(), vec![AppendOutcome::Duplicate]);
}

#[test]
fn every_request_of_a_failed_commit_gets_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    log.fail_next_commits(1);
    // Queue several requests before any can be committed: eager sends, awaited later.
    let futs: Vec<_> = (0..5).map(|i| log.append(vec![pending(&format!("e{i}"))])).collect();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let results: Vec<_> = rt.block_on(async {
        let mut out = vec![];
        for f in futs {
            out.push(f.await);
        }
        out
    });
    // The first commit failed (all requests in it erred); the later commits (if the
    // writer split the requests) succeeded with gapless seqs after nothing.
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert!(failed >= 1);
    let mut seqs: Vec<u64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .flat_map(|v| {
            v.iter().map(|o| match o {
                AppendOutcome::Appended(s) => *s,
                AppendOutcome::Duplicate => panic!("no duplicates here"),
            })
        })
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(log.head().last_seq, seqs.len() as u64);
    log.close().unwrap();
    assert_eq!(verify(dir.path(), &mut |_| {}).unwrap().last_seq, seqs.len() as u64);
}

#[test]
fn handles_iterators_and_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path()).unwrap();
    send_sync(&log);
    send(&log.read_from(1));
    send(&log.read_raw_from(1));
    let fut = log.append(vec![pending("x")]);
    send(&fut);
    drop(fut);
    log.close().unwrap();
    // The batch was queued when `append` was called, so close committed it.
    let log = Log::open(dir.path()).unwrap();
    assert_eq!(log.head().last_seq, 1);
}

#[test]
fn open_with_key_installs_the_key_in_a_new_directory_and_checks_it_in_an_old_one() {
    let key = CallerKey([7; 32]);
    let other = CallerKey([9; 32]);
    let tmp = tempfile::tempdir().unwrap();
    let read_key = |d: &Path| std::fs::read(d.join(dir::KEY_FILE)).unwrap();

    // A directory that does not exist yet.
    let new = tmp.path().join("new");
    let log = Log::open_with_key(&new, &key, OpenOptions::default()).unwrap();
    assert_eq!(log.caller_key().0, key.0);
    log.append_blocking(vec![pending("a")]).unwrap();
    log.close().unwrap();
    assert_eq!(read_key(&new), key.0);
    // Its key again: opens; another: refused, whatever the log holds.
    Log::open_with_key(&new, &key, OpenOptions::default()).unwrap().close().unwrap();
    let err = Log::open_with_key(&new, &other, OpenOptions::default()).unwrap_err();
    assert!(matches!(err, LogError::CallerKeyMismatch { .. }), "{err}");
    assert_eq!(read_key(&new), key.0);

    // A directory that holds only the key (copied in before the first open): the log is
    // made, not refused as a lost database. Another key there is refused before anything
    // is made.
    let keyed = tmp.path().join("keyed");
    std::fs::create_dir(&keyed).unwrap();
    std::fs::write(keyed.join(dir::KEY_FILE), key.0).unwrap();
    let err = Log::open_with_key(&keyed, &other, OpenOptions::default()).unwrap_err();
    assert!(matches!(err, LogError::CallerKeyMismatch { .. }), "{err}");
    assert!(!keyed.join(dir::LOG_DIR).exists());
    assert!(matches!(Log::open(&keyed).unwrap_err(), LogError::MissingDatabase { .. }), "plain open still refuses");
    let log = Log::open_with_key(&keyed, &key, OpenOptions::default()).unwrap();
    assert_eq!(log.head().last_seq, 0);
    log.close().unwrap();
    Log::open(&keyed).unwrap().close().unwrap();

    // A directory whose database is gone after records were acknowledged: still refused.
    std::fs::remove_dir_all(new.join(dir::LOG_DIR)).unwrap();
    let err = Log::open_with_key(&new, &key, OpenOptions::default()).unwrap_err();
    assert!(matches!(err, LogError::MissingDatabase { .. }), "{err}");
}
