//! Running `seatwatch` as a child process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seatwatch"));
    c.env("RUST_LOG", "info").env("NO_COLOR", "1");
    c
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run seatwatch")
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A config file with one producer, one reader and one admin token for tenant `acme`.
pub const PRODUCER: &str = "test-producer-secret";
pub const READER: &str = "test-reader-secret";

pub fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let tok = |name: &str, role: &str, secret: &str| {
        format!(
            "[[token]]\nname = \"{name}\"\ntenant = \"acme\"\nrole = \"{role}\"\nsha256 = \"{}\"\n\n",
            seatwatch_config::hash_secret(secret)
        )
    };
    let text = format!(
        "{}{}[tenant.acme]\nclock = \"event\"\n\n{extra}",
        tok("acd-1", "producer", PRODUCER),
        tok("sup", "reader", READER)
    );
    let p = dir.join("seatwatch.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// A running `seatwatch serve` on 127.0.0.1:0; its address read from its log.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: mpsc::Receiver<String>,
}

impl Serve {
    pub fn start(config: &Path, data: &Path) -> Serve {
        let mut child = bin()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--data")
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let addr = loop {
            let line = rx.recv().expect("serve exited before listening");
            if let Some(rest) = line.split("addr=").nth(1)
                && line.contains("listening")
            {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        };
        Serve { child, addr, stderr: rx }
    }

    /// SIGTERM, then wait; returns the exit status and the rest of stderr.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        let rest: Vec<String> = self.stderr.iter().collect();
        (status, rest.join("\n"))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
