//! `seatwatch backup` into new directories: the caller key given with --caller-key (or
//! copied in beforehand) is the copy's, and a run that fails before copying anything
//! leaves nothing behind.

use crate::proc::*;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn backup(url: &str, token: &str, out: &Path, key: Option<&Path>) -> std::process::Output {
    let mut args = vec!["backup", "--url", url, "--token", token, "--out", s(out)];
    if let Some(k) = key {
        args.extend(["--caller-key", s(k)]);
    }
    run(&args)
}

/// The simulated centre's day (two agents, one queue) sent to `server`.
fn simulate_a_day(server: &Serve) {
    let url = format!("ws://{}/v1/ingest", server.addr);
    let args =
        ["simulate", "--url", &url, "--token", PRODUCER, "--agents", "2", "--queues", "1", "--date", "2026-03-02"];
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_backup_with_caller_key_into_a_new_or_empty_directory_has_that_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = write_config(dir.path(), "");
    let server = Serve::start(&cfg, &data);
    simulate_a_day(&server);
    let url = format!("http://{}", server.addr);
    let server_key = data.join("caller.key");
    let key = std::fs::read(&server_key).unwrap();

    // A directory that does not exist yet, then again (a cron job passes the same flags).
    let new = dir.path().join("new");
    let o = backup(&url, ADMIN, &new, Some(&server_key));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).starts_with("backup: ") && !text(&o).starts_with("backup: 0 new"), "{}", text(&o));
    assert_eq!(std::fs::read(new.join("caller.key")).unwrap(), key);
    let o = backup(&url, ADMIN, &new, Some(&server_key));
    assert!(o.status.success() && text(&o).starts_with("backup: 0 new records"), "{}", text(&o));

    // An empty directory.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = backup(&url, ADMIN, &empty, Some(&server_key));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(empty.join("caller.key")).unwrap(), key);

    // The key copied into the directory before its first run, no --caller-key.
    let copied = dir.path().join("copied");
    std::fs::create_dir(&copied).unwrap();
    std::fs::copy(&server_key, copied.join("caller.key")).unwrap();
    let o = backup(&url, ADMIN, &copied, None);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(copied.join("caller.key")).unwrap(), key);

    // Another key for an existing backup is refused, and the backup keeps its own.
    let other = dir.path().join("other.key");
    std::fs::write(&other, [1u8; 32]).unwrap();
    let o = backup(&url, ADMIN, &new, Some(&other));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("already holds another caller key"), "{}", text(&o));
    assert_eq!(std::fs::read(new.join("caller.key")).unwrap(), key);

    // Every copy verifies with the server's head.
    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    let v = run(&["verify", "--data", s(&data)]);
    assert!(v.status.success(), "{}", text(&v));
    for copy in [&new, &empty, &copied] {
        let c = run(&["verify", "--data", s(copy)]);
        assert_eq!(c.stdout, v.stdout, "{}", text(&c));
    }
}

#[test]
fn a_failed_backup_leaves_no_half_made_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = write_config(dir.path(), "");
    let server = Serve::start(&cfg, &data);
    let url = format!("http://{}", server.addr);
    let server_key = data.join("caller.key");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (new, empty) = (dir.path().join("new"), dir.path().join("empty"));
    std::fs::create_dir(&empty).unwrap();
    for (url, token, why) in [(&url, "wrong-secret", "401"), (&url, READER, "403"), (&closed, ADMIN, "cannot connect")]
    {
        for key in [None, Some(server_key.as_path())] {
            let o = backup(url, token, &new, key);
            assert_eq!(o.status.code(), Some(2), "{}", text(&o));
            assert!(text(&o).contains(why), "{why}: {}", text(&o));
            assert!(!new.exists(), "{why}: a failed backup made {}", new.display());
            assert!(!text(&o).contains("backup: note:"), "{why}: a refused run has nothing to note: {}", text(&o));
            let o = backup(url, token, &empty, key);
            assert_eq!(o.status.code(), Some(2), "{}", text(&o));
            assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "{why}: the empty directory stays empty");
        }
    }
    // Then a good run, with the key: it works, and the key is the server's.
    for out in [&new, &empty] {
        let o = backup(&url, ADMIN, out, Some(&server_key));
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(std::fs::read(out.join("caller.key")).unwrap(), std::fs::read(&server_key).unwrap());
    }
    // Without the key, a new copy is told once that it has a key of its own.
    let fresh = dir.path().join("fresh");
    let o = backup(&url, ADMIN, &fresh, None);
    assert!(o.status.success() && text(&o).contains("backup: note: no --caller-key"), "{}", text(&o));
    let o = backup(&url, ADMIN, &fresh, None);
    assert!(o.status.success() && !text(&o).contains("backup: note:"), "said once: {}", text(&o));
    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
}

#[test]
fn extending_a_copy_from_a_server_whose_log_is_shorter_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let (data, copy) = (dir.path().join("data"), dir.path().join("copy"));
    let server = Serve::start(&cfg, &data);
    simulate_a_day(&server);
    let key = data.join("caller.key");
    let o = backup(&format!("http://{}", server.addr), ADMIN, &copy, Some(&key));
    assert!(o.status.success(), "{}", text(&o));
    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    let before = run(&["verify", "--data", s(&copy)]);

    // Another server, with a log of its own (empty): the copy is not of it.
    let other = Serve::start(&cfg, &dir.path().join("other"));
    let o = backup(&format!("http://{}", other.addr), ADMIN, &copy, None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("the server's log ends at seq 0, before this copy's last seq"), "{}", text(&o));
    let (status, log) = other.terminate();
    assert!(status.success(), "{log}");
    assert_eq!(run(&["verify", "--data", s(&copy)]).stdout, before.stdout, "the copy is untouched");
}

/// `GET path` with the admin token over plain HTTP/1.1: the raw response's head and body.
fn raw_get(addr: std::net::SocketAddr, path: &str) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    let at = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (String::from_utf8_lossy(&all[..at]).into_owned(), all[at + 4..].to_vec())
}

#[test]
fn a_record_altered_on_the_way_is_named_as_such_and_nothing_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let data = dir.path().join("data");
    let server = Serve::start(&cfg, &data);
    simulate_a_day(&server);
    let (head, body) = raw_get(server.addr, "/v1/log?from_seq=1&format=raw");
    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // The body may be chunked: keep the server's framing, alter one byte of record 3's
    // payload (found by its seq header).
    let last_seq = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("x-seatwatch-last-seq: ").map(str::to_owned))
        .unwrap();
    let mut body = body;
    let mut marker = 3u64.to_be_bytes().to_vec();
    marker.extend_from_slice(&[0, 0]);
    let at = body.windows(marker.len()).position(|w| w == marker.as_slice()).expect("record 3 in the stream");
    body[at + 12 + 20] ^= 0x01;
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let fake = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = fake.local_addr().unwrap();
    let serve_once = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut c, _) = fake.accept().unwrap();
        let mut req = [0u8; 4096];
        let _ = c.read(&mut req).unwrap();
        let framing =
            if chunked { "Transfer-Encoding: chunked".to_owned() } else { format!("Content-Length: {}", body.len()) };
        write!(
            c,
            "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.seatwatch.log-v1\r\nx-seatwatch-last-seq: {last_seq}\r\n{framing}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        c.write_all(&body).unwrap();
    });
    let out = dir.path().join("copy");
    let o = backup(&format!("http://{addr}"), ADMIN, &out, None);
    serve_once.join().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("record 3 from the server is not sound"), "{}", text(&o));
    assert!(!text(&o).contains("another server's log"), "{}", text(&o));
    assert!(!out.exists(), "nothing was copied, nothing is left");
}
