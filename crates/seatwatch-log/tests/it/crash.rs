//! Crash safety: an acknowledged batch survives SIGKILL of the process.
//!
//! The parent test re-executes this test binary as a child that appends batches in a loop
//! and prints each batch's seq range after `append_blocking` returns. The parent reads a
//! few of those lines, SIGKILLs the child mid-stream, reopens the directory and checks
//! that every acknowledged batch is there exactly once, whole, and that verify passes.

use crate::fixtures::hb;
use seatwatch_log::{AppendOutcome, Log, verify};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "SEATWATCH_LOG_CRASH_CHILD_DIR";
const CHILD_TEST: &str = "crash::crash_child_appender";

fn batch_size(i: u64) -> u64 {
    i % 7 + 1
}

/// Append batches to `dir`, printing `batch I FIRST LAST` after each returns; stop after
/// `max_batches` or `max_time`.
fn run_appender(dir: &Path, max_batches: u64, max_time: Duration, out: &mut dyn Write) -> u64 {
    let log = Log::open(dir).unwrap();
    let start = Instant::now();
    let mut done = 0;
    for i in 0..max_batches {
        if start.elapsed() > max_time {
            break;
        }
        let batch = (0..batch_size(i)).map(|j| hb(&format!("b{i}-{j}"))).collect();
        let outs = log.append_blocking(batch).unwrap();
        let seqs: Vec<u64> = outs
            .iter()
            .map(|o| match o {
                AppendOutcome::Appended(s) => *s,
                AppendOutcome::Duplicate => panic!("no duplicates are sent"),
            })
            .collect();
        writeln!(out, "batch {i} {} {}", seqs[0], seqs[seqs.len() - 1]).unwrap();
        out.flush().unwrap();
        done += 1;
    }
    done
}

/// The child's body when run by the parent; on its own, a short run of the same loop.
#[test]
fn crash_child_appender() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        // Bounded so that it stops by itself should the parent never kill it.
        run_appender(Path::new(&dir), 1_000_000, Duration::from_secs(60), &mut std::io::stdout());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    assert_eq!(run_appender(dir.path(), 5, Duration::from_secs(60), &mut out), 5);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text, "batch 0 1 1\nbatch 1 2 3\nbatch 2 4 6\nbatch 3 7 10\nbatch 4 11 15\n");
}

#[test]
fn acknowledged_batches_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut lines = BufReader::new(stdout).lines();
    while acked.len() < 40 {
        let Some(line) = lines.next() else { break };
        let line = line.unwrap();
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let ["batch", i, first, last] = parts[..] {
            acked.insert(i.parse().unwrap(), (first.parse().unwrap(), last.parse().unwrap()));
        }
    }
    child.kill().unwrap(); // SIGKILL, mid-stream
    child.wait().unwrap();
    assert_eq!(acked.len(), 40, "the child reported too few batches before ending");
    // The acknowledged high-water mark outlived the process and covers every batch
    // acknowledged (it is written before the acknowledgements go out).
    let max_acked = acked.values().map(|(_, last)| *last).max().unwrap();
    let hwm = seatwatch_log::load_hwm(dir.path()).unwrap();
    assert!(hwm >= max_acked, "high-water mark {hwm} below the last acknowledged seq {max_acked}");

    let report = verify(dir.path(), &mut |_| {}).unwrap();
    let log = Log::open(dir.path()).unwrap();
    assert_eq!(log.head(), report.head);
    let mut by_id: BTreeMap<String, u64> = BTreeMap::new();
    let mut expected_seq = 1;
    for env in log.read_from(1) {
        let env = env.unwrap();
        assert_eq!(env.seq, expected_seq, "gapless");
        expected_seq += 1;
        assert!(by_id.insert(env.event.id.to_string(), env.seq).is_none(), "{} stored twice", env.event.id);
    }
    for (i, (first, last)) in &acked {
        assert_eq!(last - first + 1, batch_size(*i));
        for (j, seq) in (*first..=*last).enumerate() {
            assert_eq!(by_id.get(&format!("b{i}-{j}")), Some(&seq), "acknowledged batch {i} lost or moved");
        }
    }
    // Batches after the last acknowledged one may or may not have made it, but only whole.
    let mut batches: BTreeMap<u64, u64> = BTreeMap::new();
    for id in by_id.keys() {
        let i: u64 = id[1..id.find('-').unwrap()].parse().unwrap();
        *batches.entry(i).or_default() += 1;
    }
    for (i, n) in batches {
        assert_eq!(n, batch_size(i), "batch {i} is partly stored");
    }
    // And the reopened log goes on.
    assert_eq!(log.append_blocking(vec![hb("after")]).unwrap(), vec![AppendOutcome::Appended(expected_seq)]);
}

const EFBIG_ENV: &str = "SEATWATCH_LOG_EFBIG_CHILD_DIR";
const EFBIG_TEST: &str = "crash::efbig_child_appender";

/// Child of [`write_failures_are_reported_and_leave_the_log_consistent`]: append batches of
/// 50 until five appends have failed (the file-size limit), printing what each got.
#[test]
fn efbig_child_appender() {
    let Some(dir) = std::env::var_os(EFBIG_ENV) else {
        // On its own: the printing loop against an unlimited directory never fails.
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        assert_eq!(run_until_failures(dir.path(), 3, &mut out), (3, 0));
        assert_eq!(String::from_utf8(out).unwrap(), "batch 0 1 50\nbatch 1 51 100\nbatch 2 101 150\nend\n");
        return;
    };
    run_until_failures(Path::new(&dir), 100_000, &mut std::io::stdout());
}

/// Returns (batches appended, appends failed).
fn run_until_failures(dir: &Path, max_batches: u64, out: &mut dyn Write) -> (u64, u64) {
    let log = Log::open(dir).unwrap();
    let start = Instant::now();
    let (mut ok, mut failed) = (0, 0);
    for i in 0..max_batches {
        if failed >= 5 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        let batch = (0..50).map(|j| hb(&format!("b{i}-{j}"))).collect();
        match log.append_blocking(batch) {
            Ok(outs) => {
                let AppendOutcome::Appended(first) = outs[0] else { panic!("no duplicates are sent") };
                assert_eq!(outs[49], AppendOutcome::Appended(first + 49));
                writeln!(out, "batch {i} {first} {}", first + 49).unwrap();
                ok += 1;
            }
            Err(e) => {
                writeln!(out, "error {i} {e}").unwrap();
                failed += 1;
            }
        }
        out.flush().unwrap();
    }
    writeln!(out, "end").unwrap();
    out.flush().unwrap();
    (ok, failed)
}

/// A real write failure: the child runs under a 2 MiB file-size limit (RLIMIT_FSIZE, with
/// SIGXFSZ ignored, so writes past it fail with EFBIG as on a full disk). Every failed
/// append must be an error, not a panic; without the limit the log must reopen, verify,
/// hold every acknowledged batch exactly once and whole, and accept appends.
#[cfg(target_os = "linux")]
#[test]
fn write_failures_are_reported_and_leave_the_log_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"trap "" XFSZ; ulimit -f 4096; exec "$0" --exact "$1" --nocapture --test-threads=1"#)
        .arg(exe)
        .arg(EFBIG_TEST)
        .env(EFBIG_ENV, dir.path())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the child failed: {stdout}");
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new();
    let mut errors = vec![];
    let mut ended = false;
    for line in stdout.lines() {
        let parts: Vec<&str> = line.splitn(3, ' ').collect();
        match parts[..] {
            ["batch", i, rest] => {
                acked.insert(i.parse().unwrap(), rest.split(' ').next().unwrap().parse().unwrap());
            }
            ["error", i, msg] => errors.push((i.parse::<u64>().unwrap(), msg.to_owned())),
            _ if line.ends_with("end") => ended = true,
            _ => {}
        }
    }
    assert!(ended, "the child did not finish its loop: {stdout}");
    assert!(!errors.is_empty(), "the file-size limit was never hit: {stdout}");
    assert!(acked.len() > 10, "{stdout}");
    // The same process went on after its first failure: sled was reopened and space it
    // had reclaimed was reused, with seqs continuing where the last acknowledged batch ended.
    let first_error = errors[0].0;
    let after: Vec<_> = acked.range(first_error..).collect();
    assert!(!after.is_empty(), "no append succeeded after the first failure: {stdout}");
    let (_, last_before) = acked.range(..first_error).next_back().unwrap();
    assert_eq!(*after[0].1, last_before + 50, "gapless across the failure");
    for (_, msg) in &errors {
        assert!(msg.contains("send it again") || msg.contains("database"), "{msg}");
    }

    let report = verify(dir.path(), &mut |_| {}).unwrap();
    let log = Log::open(dir.path()).unwrap();
    let mut by_id: BTreeMap<String, u64> = BTreeMap::new();
    for env in log.read_from(1) {
        let env = env.unwrap();
        assert!(by_id.insert(env.event.id.to_string(), env.seq).is_none(), "{} stored twice", env.event.id);
    }
    assert_eq!(by_id.len() as u64, report.last_seq);
    for (i, first) in &acked {
        for j in 0..50u64 {
            assert_eq!(by_id.get(&format!("b{i}-{j}")), Some(&(first + j)), "acknowledged batch {i} lost");
        }
    }
    // A failed batch is absent or (if it reached the disk after all) whole: never partial.
    for (i, _) in &errors {
        let n = (0..50).filter(|j| by_id.contains_key(&format!("b{i}-{j}"))).count();
        assert!(n == 0 || n == 50, "failed batch {i} is partly stored ({n} of 50)");
    }
    let next = report.last_seq + 1;
    assert_eq!(log.append_blocking(vec![hb("after")]).unwrap(), vec![AppendOutcome::Appended(next)]);
}
