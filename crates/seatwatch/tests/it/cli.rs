//! The command line: refusals, errors, verify, token.

use crate::proc::*;

#[test]
fn serve_without_tokens_refuses_and_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["serve", "--data", dir.path().join("d").to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("seatwatch token"), "{t}");
    let o = run(&["serve", "--no-auth", "--listen", "0.0.0.0:0", "--data", dir.path().join("d").to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("loopback"), "{}", text(&o));
}

#[test]
fn a_bad_config_file_is_named_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[tenant.acme]\nclock = \"sundial\"\n").unwrap();
    let o = run(&["serve", "--config", cfg.to_str().unwrap(), "--data", dir.path().join("d").to_str().unwrap()]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("bad.toml") && t.contains("sundial"), "{t}");
    let o = run(&["serve", "--config", dir.path().join("missing.toml").to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("missing.toml"), "{}", text(&o));
}

#[test]
fn bad_arguments_get_clap_errors_not_panics() {
    for args in [
        vec!["serve", "--listen", "not-an-address"],
        vec!["serve", "--start-check", "sometimes"],
        vec!["token", "--name", "x", "--tenant", "t", "--role", "king"],
        vec!["replay", "--data", "/tmp", "--report", "nonsense"],
        vec!["simulate", "--url", "ws://127.0.0.1:1/v1/ingest", "--token", "t", "--batch", "5000"],
        vec!["frobnicate"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(!text(&o).contains("panicked"), "{args:?}");
    }
    let o = run(&["token", "--name", "x", "--tenant", "bad tenant!", "--role", "reader"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("--tenant"), "{}", text(&o));
    let o = run(&["token", "--name", "server", "--tenant", "t", "--role", "producer"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("the server's own"), "{}", text(&o));
}

#[test]
fn token_prints_a_secret_once_and_config_lines_that_work() {
    let o = run(&["token", "--name", "acd-7", "--tenant", "acme", "--role", "producer"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let secret = out.lines().find_map(|l| l.strip_prefix("secret: ")).unwrap().to_owned();
    let toml: String =
        out.lines().filter(|l| !l.starts_with("secret:") && !l.starts_with('#')).collect::<Vec<_>>().join("\n");
    let cfg = seatwatch_config::Config::parse(&toml).unwrap();
    let id = cfg.token_table().authenticate(&secret).unwrap();
    assert_eq!((id.name.as_str(), id.tenant.as_str()), ("acd-7", "acme"));
    assert!(!toml.contains(&secret), "the secret itself is never in the config");
    let again = run(&["token", "--name", "acd-7", "--tenant", "acme", "--role", "producer"]);
    assert!(!String::from_utf8_lossy(&again.stdout).contains(&secret), "a new secret each time");
}

#[test]
fn verify_a_clean_log_and_a_second_opener_is_refused_with_the_directory_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = write_config(dir.path(), "");
    let serve = Serve::start(&cfg, &data);
    // While the server holds the directory, verify and a second server are refused.
    let o = run(&["verify", "--data", data.to_str().unwrap()]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains(data.to_str().unwrap()) && t.contains("backup"), "{t}");
    let o =
        run(&["serve", "--config", cfg.to_str().unwrap(), "--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert!(!o.status.success());
    assert!(text(&o).contains(data.to_str().unwrap()), "{}", text(&o));
    let (status, log) = serve.terminate();
    assert!(status.success(), "serve exits 0 on SIGTERM: {log}");
    let o = run(&["verify", "--data", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ok: 0 records, last seq 0, head "), "{}", text(&o));
}

/// The binary's jemalloc returns freed pages to the OS about a second after they are
/// freed (docs/adr/0004-allocator.md): built in through `.cargo/config.toml`, so a build
/// that lost it (the file gone, the variable renamed) fails here, not in the memory
/// figures. jemalloc prints its options at exit when asked to.
#[test]
fn the_allocator_returns_freed_memory_within_a_second() {
    let o = bin().arg("--version").env("_RJEM_MALLOC_CONF", "stats_print:true").output().expect("run seatwatch");
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    for opt in ["opt.background_thread: true", "opt.dirty_decay_ms: 1000", "opt.muzzy_decay_ms: 0"] {
        assert!(t.contains(opt), "jemalloc's options lack {opt:?}:\n{}", &t[..t.len().min(4000)]);
    }
}

#[test]
fn the_demo_on_a_busy_port_says_where_it_listens_instead() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().to_string();
    let o = bin().args(["demo", "--seconds", "1", "--agents", "5", "--listen", &port]).output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let err = String::from_utf8_lossy(&o.stderr);
    let note = err.lines().find(|l| l.starts_with("note: cannot listen on")).unwrap_or_else(|| panic!("{t}"));
    assert!(note.contains(&port) && note.contains("the demo listens on 127.0.0.1:"), "{note}");
    drop(busy);
}

#[test]
fn the_demo_piped_into_a_reader_that_stops_early_ends_quietly() {
    // `seatwatch demo | head -3`: the demo's stdout is closed after a few lines. It hung
    // (its server's follower kept the runtime alive after the print panicked); now it
    // stops its server and exits 0 without a panic.
    use std::io::{BufRead, BufReader, Read};
    let mut child = bin()
        .args(["demo", "--seconds", "1", "--agents", "5", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("Seatwatch demo:"), "{first}");
    // The reader is dropped here: the pipe is closed.
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut err = String::new();
        let _ = stderr.read_to_string(&mut err);
        let _ = tx.send((child.wait(), err));
    });
    let (status, err) = rx.recv_timeout(std::time::Duration::from_secs(120)).expect("the demo ended");
    assert!(status.unwrap().success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn simulate_refuses_bad_numbers_with_the_flag_named_not_a_panic() {
    let base = ["simulate", "--url", "ws://127.0.0.1:9/v1/ingest", "--token", "x"];
    for (flag, value) in [
        ("--duration", "-1"),
        ("--duration", "NaN"),
        ("--duration", "1e30"),
        ("--duration", "inf"),
        ("--duration", "0"),
        ("--max-skew", "-1"),
        ("--max-skew", "1e30"),
        ("--max-skew", "NaN"),
        ("--speed", "-1"),
        ("--speed", "inf"),
        ("--rate", "NaN"),
        ("--call-rate", "-1"),
        ("--violations", "NaN"),
    ] {
        let arg = format!("{flag}={value}");
        let mut args = base.to_vec();
        args.push(&arg);
        let o = run(&args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{arg}: {t}");
        assert!(!t.contains("panicked") && !t.contains("RUST_BACKTRACE"), "{arg}: {t}");
        assert!(t.contains(flag), "{arg}: the error names the flag: {t}");
    }
}

#[test]
fn verify_exits_2_when_it_cannot_check_and_keeps_1_for_a_bad_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = write_config(dir.path(), "");
    let serve = Serve::start(&cfg, &data);
    // In use by a running server: no verdict on the log, so not 1 ("the log is bad").
    let o = run(&["verify", "--data", data.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("in use") && t.contains("could not check") && !t.contains("FAILED"), "{t}");
    let (status, log) = serve.terminate();
    assert!(status.success(), "{log}");
    // No data directory, or one with no log: 2 as well.
    for missing in [dir.path().join("nothing-here"), dir.path().to_path_buf()] {
        let o = run(&["verify", "--data", missing.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("no Seatwatch log"), "{}", text(&o));
    }
    // A log whose database file is gone is bad: 1.
    std::fs::remove_file(data.join("log").join("db")).unwrap();
    let o = run(&["verify", "--data", data.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAILED"), "{}", text(&o));
}

#[test]
fn export_from_a_seq_past_the_end_names_the_last_seq() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    crate::tamper::build(&data); // 40 records
    let d = data.to_str().unwrap();
    let o = run(&["export", "--data", d, "--from-seq", "999999"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("last seq is 40") && t.contains("--from-seq 999999"), "{t}");
    assert!(!t.contains("seatwatch verify") && !t.contains("999998"), "not a corruption: {t}");
    assert!(o.stdout.is_empty());
    // Just past the end: nothing new, not an error; the summary names the log's head,
    // not a zero hash.
    let o = run(&["export", "--data", d, "--from-seq", "41"]);
    assert!(o.status.success() && o.stdout.is_empty(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(err.contains("last seq 40") && !err.contains(&"0".repeat(64)), "{err}");
    let o = run(&["export", "--data", d, "--from-seq", "40"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
    // A tenant the log does not hold is named as such (as `replay --tenant` does), but
    // an incremental export that finds nothing new of a tenant is not an error.
    let o = run(&["export", "--data", d, "--tenant", "nosuch"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("\"nosuch\" has no records") && t.contains("tenants in it: acme"), "{t}");
    let o = run(&["export", "--data", d, "--tenant", "nosuch", "--from-seq", "30"]);
    assert!(o.status.success() && o.stdout.is_empty(), "{}", text(&o));
}

#[test]
fn demo_checks_its_settings_before_it_starts_anything() {
    for (args, flag) in [
        (["--agents", "0"], "--agents"),
        (["--agents", "2000000"], "--agents"),
        (["--seconds", "0"], "--seconds"),
        (["--seconds", "100000"], "--seconds"),
    ] {
        let o = bin().arg("demo").args(args).args(["--listen", "127.0.0.1:0"]).output().unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(flag), "{args:?}: {t}");
        // Nothing was started: no banner, no URLs with tokens, no log warnings.
        assert!(o.stdout.is_empty(), "{args:?}: {t}");
        assert!(!t.contains("WARN") && !t.contains("access_token") && !t.contains("panicked"), "{args:?}: {t}");
    }
}

#[test]
fn simulate_exits_1_with_a_summary_when_events_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let serve = Serve::start(&cfg, &dir.path().join("data"));
    let url = format!("ws://{}/v1/ingest", serve.addr);
    let sim = |extra: &[&str]| {
        let mut args = vec!["simulate", "--url", &url, "--token", PRODUCER, "--agents", "2", "--queues", "1"];
        args.extend_from_slice(extra);
        run(&args)
    };
    // A day the server rejects every event of (invalid_field): not a success.
    let o = sim(&["--date", "9999-12-31"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("invalid_field") && t.contains("FAILED") && t.contains("rejected"), "{t}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("were rejected"), "the summary is on stderr: {t}");
    // A good day: 0; sent again, every event is a duplicate of a stored one: still 0.
    for _ in 0..2 {
        let o = sim(&["--date", "2026-03-02", "--json"]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (status, log) = serve.terminate();
    assert!(status.success(), "{log}");
}

#[test]
fn simulate_ahead_of_a_wall_clock_tenant_says_why_its_events_are_clock_skew() {
    // The docs tester's case: a simulated day runs ahead of a wall-clock tenant's clock.
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[[token]]\nname = \"wall-acd\"\ntenant = \"wally\"\nrole = \"producer\"\nsha256 = \"{}\"\n\n\
         [tenant.wally]\nclock = \"wall\"\n",
        seatwatch_config::hash_secret("wall-secret")
    );
    let cfg = write_config(dir.path(), &extra);
    let serve = Serve::start(&cfg, &dir.path().join("data"));
    let url = format!("ws://{}/v1/ingest", serve.addr);
    let later = (chrono::Utc::now() + chrono::Duration::days(2)).format("%Y-%m-%d").to_string();
    let o =
        run(&["simulate", "--url", &url, "--token", "wall-secret", "--agents", "2", "--queues", "1", "--date", &later]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("clock_skew") && t.contains("clock = \"event\"") && t.contains("--date"), "{t}");
    let (status, log) = serve.terminate();
    assert!(status.success(), "{log}");
}

#[test]
fn serve_warns_about_tokens_whose_tenant_has_no_table() {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[[token]]\nname = \"acd-typo\"\ntenant = \"acmee\"\nrole = \"producer\"\nsha256 = \"{}\"\n",
        seatwatch_config::hash_secret("typo-secret")
    );
    let cfg = write_config(dir.path(), &extra);
    let spawned = Spawned::serve(&cfg, &dir.path().join("data"), "127.0.0.1:0");
    let mut early = Vec::new();
    spawned.addr_keeping(&mut early);
    let warn = early.iter().find(|l| l.contains("WARN") && l.contains("[tenant.NAME]"));
    let warn = warn.unwrap_or_else(|| panic!("no warning before listening:\n{}", early.join("\n")));
    assert!(warn.contains("acmee") && warn.contains("default"), "{warn}");
    // acme has its table: not named.
    assert!(!warn.contains("acme,") && !warn.contains("=acme "), "{warn}");
    let serve = Serve { child: spawned.child, addr: "127.0.0.1:1".parse().unwrap(), stderr: spawned.lines };
    let (status, log) = serve.terminate();
    assert!(status.success(), "it starts all the same: {log}");
}
