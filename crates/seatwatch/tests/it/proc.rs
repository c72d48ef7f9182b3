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
pub const ADMIN: &str = "test-admin-secret";

pub fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let tok = |name: &str, role: &str, secret: &str| {
        format!(
            "[[token]]\nname = \"{name}\"\ntenant = \"acme\"\nrole = \"{role}\"\nsha256 = \"{}\"\n\n",
            seatwatch_config::hash_secret(secret)
        )
    };
    let text = format!(
        "{}{}{}[tenant.acme]\nclock = \"event\"\n\n{extra}",
        tok("acd-1", "producer", PRODUCER),
        tok("sup", "reader", READER),
        tok("root", "admin", ADMIN)
    );
    let p = dir.join("seatwatch.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// `seatwatch serve` spawned with its stderr lines coming through a channel.
pub struct Spawned {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl Spawned {
    /// `seatwatch serve --listen LISTEN --config CONFIG --data DATA`.
    pub fn serve(config: &Path, data: &Path, listen: &str) -> Spawned {
        let mut child = bin()
            .args(["serve", "--listen", listen, "--config"])
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
        Spawned { child, lines: rx }
    }

    /// Wait for a stderr line containing `what`, keeping the lines before it in `early`.
    /// Panics if the process ends or says nothing for two minutes.
    pub fn wait_for_keeping(&self, what: &str, early: &mut Vec<String>) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(std::time::Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("serve exited or hung before {what:?}:\n{}", early.join("\n")));
            if line.contains(what) {
                return line;
            }
            early.push(line);
        }
    }

    /// Wait for a stderr line containing `what`; returns it.
    pub fn wait_for(&self, what: &str) -> String {
        self.wait_for_keeping(what, &mut Vec::new())
    }

    /// Wait until it listens; its address, as it logs it.
    pub fn addr_keeping(&self, early: &mut Vec<String>) -> SocketAddr {
        let line = self.wait_for_keeping("listening", early);
        line.split("addr=").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().parse().unwrap()
    }

    /// Wait until it listens; its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr_keeping(&mut Vec::new())
    }

    /// Once it listens, as a [`Serve`].
    pub fn listening(self) -> Serve {
        let addr = self.addr();
        Serve { child: self.child, addr, stderr: self.lines }
    }
}

/// A running `seatwatch serve` on 127.0.0.1:0; its address read from its log.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: mpsc::Receiver<String>,
}

impl Serve {
    pub fn start(config: &Path, data: &Path) -> Serve {
        Spawned::serve(config, data, "127.0.0.1:0").listening()
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
