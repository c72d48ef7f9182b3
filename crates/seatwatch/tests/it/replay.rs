//! Replay, backup, export and snapshots, end to end with the real binary: an online
//! backup of a server under the simulator verifies and replays exactly like the
//! original; a restart loads the shutdown snapshot and serves what a replay computes;
//! the CLI prints the golden reports byte for byte.

use crate::proc::*;
use seatwatch_log::{Log, Pending};
use seatwatch_model::{CallerKey, CallerPolicy, IngestOptions, validate_event};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const REPORTS: [&str; 6] = ["alarms", "intervals", "attendance", "agents", "scorecard", "supervision"];
const FORMATS: [&str; 3] = ["jsonl", "csv", "table"];

/// The test config: its admin token (`ADMIN`) takes backups.
fn config(dir: &Path) -> PathBuf {
    write_config(dir, "")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(o: Output, what: &str) -> String {
    assert!(o.status.success(), "{what} failed: {}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// One simulated day sent as fast as the server acknowledges.
fn simulate(addr: SocketAddr, date: &str, prefix: &str) -> Command {
    let mut c = bin();
    c.args(["simulate", "--url", &format!("ws://{addr}/v1/ingest"), "--token", PRODUCER])
        .args(["--agents", "8", "--queues", "2", "--call-rate", "15", "--violations", "0.2", "--seed", "5"])
        .args(["--date", date, "--id-prefix", prefix])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn backup(addr: SocketAddr, out: &Path) -> String {
    ok(run(&["backup", "--url", &format!("http://{addr}"), "--token", ADMIN, "--out", s(out)]), "backup")
}

fn replay(data: &Path, cfg: &Path, report: &str, format: &str) -> String {
    let args = ["replay", "--data", s(data), "--config", s(cfg), "--report", report, "--format", format];
    ok(run(&args), &format!("replay {report} {format}"))
}

/// `seatwatch serve`, keeping every stderr line (also those before "listening").
fn serve(cfg: &Path, data: &Path) -> (Serve, Vec<String>) {
    let p = Spawned::serve(cfg, data, "127.0.0.1:0");
    let mut early = Vec::new();
    let addr = p.addr_keeping(&mut early);
    (Serve { child: p.child, addr, stderr: p.lines }, early)
}

/// Wait (on the server's own log, no sleeping) until its projections caught up.
fn caught_up(serve: &Serve) {
    loop {
        let line = serve.stderr.recv_timeout(Duration::from_secs(120)).expect("projections never caught up");
        if line.contains("projections caught up") {
            return;
        }
    }
}

/// Minimal blocking HTTP GET (`Connection: close`, `Content-Length` bodies).
fn get(addr: SocketAddr, path: &str, secret: &str) -> (u16, String) {
    let mut c = TcpStream::connect(addr).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {secret}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    c.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), body.to_owned())
}

/// The server's alarms as the replay's alarm lines (with the tenant first).
fn served_alarms(addr: SocketAddr) -> String {
    let (status, body) = get(addr, "/v1/alarms?state=all", READER);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut out = String::new();
    for a in v["alarms"].as_array().unwrap() {
        let mut m = serde_json::Map::new();
        m.insert("tenant".into(), "acme".into());
        m.extend(a.as_object().unwrap().clone());
        // serde_json's map is sorted; compare as values, line by line.
        out.push_str(&serde_json::Value::Object(m).to_string());
        out.push('\n');
    }
    out
}

fn as_values(jsonl: &str) -> Vec<serde_json::Value> {
    jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn an_online_backup_verifies_and_replays_exactly_like_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let (data, copy) = (dir.path().join("data"), dir.path().join("backup"));
    let cfg = config(dir.path());
    let (server, _) = serve(&cfg, &data);

    // A first day, then a backup while the server runs.
    let o = simulate(server.addr, "2026-03-02", "d1-").output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let first = backup(server.addr, &copy);
    assert!(first.starts_with("backup: ") && !first.starts_with("backup: 0 new"), "{first}");

    // A second day, paced so that it takes a few seconds, backed up while the simulator
    // is still sending, then once more.
    let mut day2 = simulate(server.addr, "2026-03-03", "d2-").args(["--rate", "3000"]).spawn().unwrap();
    let during = backup(server.addr, &copy);
    assert!(day2.wait().unwrap().success());
    let last = backup(server.addr, &copy);
    assert!(last.contains("the server's head at seq"), "the copy's head is the server's: {last}");
    let again = backup(server.addr, &copy);
    assert!(again.starts_with("backup: 0 new records"), "nothing new: {again}");
    eprintln!("backups: {first}{during}{last}");

    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    assert!(!seatwatch_ingest::snapshot::list(&data).is_empty(), "a snapshot is written on shutdown");

    // verify: the same records, the same head.
    let v_orig = ok(run(&["verify", "--data", s(&data)]), "verify original");
    let v_copy = ok(run(&["verify", "--data", s(&copy)]), "verify backup");
    assert!(v_orig.starts_with("ok: "), "{v_orig}");
    assert_eq!(v_orig, v_copy);

    // Every report in every format, byte for byte.
    for report in REPORTS {
        for format in FORMATS {
            let a = replay(&data, &cfg, report, format);
            let b = replay(&copy, &cfg, report, format);
            assert!(a.lines().count() > 2, "{report} {format} has rows:\n{a}");
            assert!(a == b, "{report} {format} differs between the original and the backup");
        }
    }
    // And the raw events.
    let e_orig = ok(run(&["export", "--data", s(&data)]), "export");
    assert_eq!(e_orig, ok(run(&["export", "--data", s(&copy)]), "export backup"));
    let first_line: serde_json::Value = serde_json::from_str(e_orig.lines().next().unwrap()).unwrap();
    assert_eq!(first_line["seq"], 1);
    assert_eq!(first_line["tenant"], "acme");
    assert_eq!(first_line["source"], "acd-1");
    assert!(first_line["event"]["type"].is_string());
    let callers: Vec<&str> = e_orig.lines().filter_map(|l| l.split("\"caller\":\"").nth(1)).collect();
    assert!(!callers.is_empty() && callers.iter().all(|c| !c.starts_with('+')), "callers stay hashed");
}

#[test]
fn replay_and_export_of_a_directory_a_server_holds_point_to_backup() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(dir.path());
    let (server, _) = serve(&cfg, &data);
    for args in [
        vec!["replay", "--data", s(&data), "--report", "alarms"],
        vec!["export", "--data", s(&data)],
        vec!["verify", "--data", s(&data)],
    ] {
        let o = run(&args);
        assert!(!o.status.success(), "{args:?}");
        let t = text(&o);
        assert!(t.contains(s(&data)) && t.contains("seatwatch backup"), "{args:?}: {t}");
        assert!(!t.contains("panicked"), "{t}");
    }
    let (status, _) = server.terminate();
    assert!(status.success());
    // A directory with no log is not created by replay.
    let none = dir.path().join("nothing-here");
    let o = run(&["replay", "--data", s(&none), "--report", "alarms"]);
    assert!(!o.status.success() && text(&o).contains("no Seatwatch log"), "{}", text(&o));
    assert!(!none.exists());
    // Bad filters get clear errors.
    let o = run(&["replay", "--data", s(&data), "--report", "alarms", "--from", "yesterday"]);
    assert!(!o.status.success() && text(&o).contains("--from must be an RFC 3339 time"), "{}", text(&o));
    let o = run(&["replay", "--data", s(&data), "--report", "intervals", "--agent", "a1"]);
    assert!(!o.status.success() && text(&o).contains("per queue, not per agent"), "{}", text(&o));
}

#[test]
fn a_restart_uses_the_snapshot_ignores_a_damaged_one_and_serves_what_a_replay_computes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(dir.path());
    let (server, early) = serve(&cfg, &data);
    assert!(!early.iter().any(|l| l.contains("restored")), "nothing to restore at first");
    let o = simulate(server.addr, "2026-03-02", "d1-").output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let (status, _) = server.terminate();
    assert!(status.success());
    let snaps = seatwatch_ingest::snapshot::list(&data);
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let replayed = replay(&data, &cfg, "alarms", "jsonl");

    // Restart: the snapshot holds everything; the alarms are the replay's.
    let (server, early) = serve(&cfg, &data);
    assert!(early.iter().any(|l| l.contains("projections restored from a snapshot")), "{early:#?}");
    caught_up(&server);
    assert_eq!(as_values(&served_alarms(server.addr)), as_values(&replayed));
    let (status, _) = server.terminate();
    assert!(status.success());

    // Damage the snapshot: it is ignored with a warning, the log is folded instead.
    let (_, path) = &snaps[0];
    let mut bytes = std::fs::read(path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x10;
    std::fs::write(path, bytes).unwrap();
    let (server, early) = serve(&cfg, &data);
    assert!(
        early.iter().any(|l| l.contains("ignoring a snapshot") && l.contains("checksum")),
        "a warning names the damage: {early:#?}"
    );
    assert!(!early.iter().any(|l| l.contains("projections restored")), "{early:#?}");
    caught_up(&server);
    assert_eq!(as_values(&served_alarms(server.addr)), as_values(&replayed));
    let (status, _) = server.terminate();
    assert!(status.success());
}

fn golden(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../seatwatch-reports/tests/golden").join(case)
}

/// The golden events appended as the reports crate's golden test does (the first
/// `limit` of them).
fn golden_log(case: &str, data: &Path, limit: usize) {
    let key = CallerKey([7; 32]);
    let opts = IngestOptions::any_time("acme", CallerPolicy::Hmac, &key);
    let events = std::fs::read_to_string(golden(case).join("events.jsonl")).unwrap();
    let batch: Vec<Pending> = events
        .lines()
        .take(limit)
        .map(|l| {
            let event =
                validate_event(&serde_json::from_str::<seatwatch_model::Json<'_>>(l).unwrap(), 0, &opts).unwrap();
            Pending { tenant: "acme".into(), source: "acd-1".into(), received: event.ts, event }
        })
        .collect();
    let log = Log::open(data).unwrap();
    for chunk in batch.chunks(500) {
        log.append_blocking(chunk.to_vec()).unwrap();
    }
    log.close().unwrap();
}

#[test]
fn the_cli_prints_the_golden_reports_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    golden_log("berlin-month-end", &data, usize::MAX);
    let g = golden("berlin-month-end");
    let cfg = g.join("config.toml");
    for report in REPORTS {
        for (format, ext) in [("jsonl", "jsonl"), ("csv", "csv"), ("table", "txt")] {
            let expected = std::fs::read_to_string(g.join(format!("expected/{report}.{ext}"))).unwrap();
            assert!(replay(&data, &cfg, report, format) == expected, "{report} {format} differs from the golden file");
        }
    }
    let head = std::fs::read_to_string(g.join("expected/head.txt")).unwrap();
    let v = ok(run(&["verify", "--data", s(&data)]), "verify");
    let hash = head.trim().rsplit(' ').next().unwrap();
    assert!(v.contains(hash), "verify names the golden head: {v} / {head}");
}

#[test]
fn the_cli_prints_the_supervision_report_of_a_closed_week_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    golden_log("shanghai-week-close", &data, usize::MAX);
    let g = golden("shanghai-week-close");
    let cfg = g.join("config.toml");
    for (format, ext) in [("jsonl", "jsonl"), ("csv", "csv"), ("table", "txt")] {
        let expected = std::fs::read_to_string(g.join(format!("expected/supervision.{ext}"))).unwrap();
        assert!(replay(&data, &cfg, "supervision", format) == expected, "supervision {format} differs");
    }
    // Narrowed as the golden test narrows it: one agent, the Monday of the next week.
    let args = [
        "replay",
        "--data",
        s(&data),
        "--config",
        s(&cfg),
        "--report",
        "supervision",
        "--tenant",
        "acme",
        "--agent",
        "agent-002",
        "--from",
        "2026-03-09T00:00:00+08:00",
        "--to",
        "2026-03-10T00:00:00+08:00",
    ];
    let o = run(&args);
    let expected = std::fs::read_to_string(g.join("expected/filtered-supervision.jsonl")).unwrap();
    assert!(String::from_utf8(o.stdout.clone()).unwrap() == expected, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("supervision report: 1 rows"), "{}", text(&o));
}

#[test]
fn a_report_as_of_a_published_head_is_reproduced_from_the_longer_log() {
    let dir = tempfile::tempdir().unwrap();
    let (full, early) = (dir.path().join("full"), dir.path().join("early"));
    golden_log("shanghai-day", &full, usize::MAX);
    golden_log("shanghai-day", &early, 1200);
    let cfg = golden("shanghai-day").join("config.toml");
    // What was published at seq 1200: the head, and the reports.
    let published = ok(run(&["verify", "--data", s(&early)]), "verify");
    assert!(published.contains("last seq 1200"), "{published}");
    let head = published.trim().rsplit(' ').next().unwrap().to_owned();
    // export names every record's link: the one at 1200 is the published head.
    let export = ok(run(&["export", "--data", s(&full)]), "export");
    let line: serde_json::Value = serde_json::from_str(export.lines().nth(1199).unwrap()).unwrap();
    assert_eq!((line["seq"].as_u64(), line["link"].as_str()), (Some(1200), Some(head.as_str())));
    for report in REPORTS {
        let then = replay(&early, &cfg, report, "jsonl");
        let args = ["replay", "--data", s(&full), "--config", s(&cfg), "--report", report, "--upto-seq", "1200"];
        let o = run(&args);
        assert!(o.status.success(), "{}", text(&o));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(&format!("up to seq 1200, head {head}")), "{stderr}");
        assert!(String::from_utf8(o.stdout).unwrap() == then, "{report} as of seq 1200 differs");
        assert!(replay(&full, &cfg, report, "jsonl") != then || report == "intervals", "{report} grew since");
    }
    let o = run(&["replay", "--data", s(&full), "--report", "alarms", "--upto-seq", "999999"]);
    assert!(!o.status.success() && text(&o).contains("the log ends at seq"), "{}", text(&o));
}

/// A self-signed certificate for 127.0.0.1; returns the `[server]` lines and the PEM path.
fn make_cert(dir: &Path, name: &str) -> (String, PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (format!("[server]\ntls_cert = {:?}\ntls_key = {:?}\n", s(&cert_path), s(&key_path)), cert_path)
}

#[test]
fn a_backup_over_https_trusts_exactly_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (data, copy) = (dir.path().join("data"), dir.path().join("backup"));
    golden_log("shanghai-day", &data, usize::MAX);
    let (tls, cert) = make_cert(dir.path(), "server");
    let (_, stranger) = make_cert(dir.path(), "stranger");
    let cfg = write_config(dir.path(), &tls);
    let (server, _) = serve(&cfg, &data);
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    let base = ["backup", "--url", url.as_str(), "--token", ADMIN, "--out", s(&copy)];
    let o = run(&base);
    assert!(!o.status.success() && text(&o).contains("--ca-cert"), "{}", text(&o));
    let o = run(&[&base[..], &["--ca-cert", s(&stranger)]].concat());
    assert!(!o.status.success(), "a certificate it was not told to trust is refused: {}", text(&o));
    let out = ok(run(&[&base[..], &["--ca-cert", s(&cert)]].concat()), "backup over https");
    assert!(out.starts_with("backup: 2087 new records") && out.contains("the server's head"), "{out}");
    let (status, _) = server.terminate();
    assert!(status.success());
    assert_eq!(ok(run(&["verify", "--data", s(&data)]), "verify"), ok(run(&["verify", "--data", s(&copy)]), "verify"));
}
