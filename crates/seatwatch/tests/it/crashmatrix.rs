//! The crash matrix: the real server under a simulated call centre's load is SIGKILLed
//! at random points, round after round, on one data directory — mid-load with frames in
//! flight (group commits in progress), just after a snapshot was written (snapshots
//! every second, so kills also land inside snapshot writes), during the graceful
//! shutdown, and during start-up. After every kill: `verify` passes and every
//! acknowledged event is in the log exactly once. After every restart: the projections
//! the server serves equal a fresh `replay` of the log up to the same seq.
//!
//! Bounded for CI: `SEATWATCH_CRASH_ROUNDS` rounds (default 20); the seed is printed and
//! `SEATWATCH_CRASH_SEED` repeats a run. docs/reliability.md has the soak command.

use crate::proc::*;
use futures_util::{SinkExt, StreamExt};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const FRAME: usize = 10;
const IN_FLIGHT: usize = 8;

struct Proc(Spawned);

impl std::ops::Deref for Proc {
    type Target = Spawned;
    fn deref(&self) -> &Spawned {
        &self.0
    }
}

impl Proc {
    fn start(cfg: &Path, data: &Path) -> Proc {
        Proc(Spawned::serve(cfg, data, "127.0.0.1:0"))
    }

    fn kill(mut self) {
        self.0.child.kill().unwrap();
        self.0.child.wait().unwrap();
    }
}

fn get(addr: SocketAddr, path: &str) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {READER}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    c.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {text}");
    body.to_owned()
}

/// The served alarms as `replay --report alarms` lines (tenant first), as JSON values.
fn served_alarms(addr: SocketAddr) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(&get(addr, "/v1/alarms?state=all")).unwrap();
    v["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let mut m = serde_json::Map::new();
            m.insert("tenant".into(), "acme".into());
            m.extend(a.as_object().unwrap().clone());
            serde_json::Value::Object(m)
        })
        .collect()
}

fn events() -> Vec<String> {
    let cfg = seatwatch_sim::generator::SimConfig {
        agents: 12,
        queues: 2,
        calls_per_hour: 40.0,
        violation_rate: 0.2,
        heartbeat_every: Duration::from_secs(60),
        id_prefix: "cm-".into(),
        ..Default::default()
    };
    seatwatch_sim::generator::generate(&cfg).unwrap().map(|e| e.json).collect()
}

#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// After this many acknowledged frames, with frames in flight.
    MidLoad(usize),
    /// When the next snapshot has been written, then after this many more acks.
    AfterSnapshot(usize),
    /// After SIGTERM, once the server says it stopped accepting.
    Shutdown(usize),
    /// As soon as the log is open, before listening.
    Startup,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_matrix_sigkill_at_random_points_loses_nothing_and_replays_equal() {
    let rounds: usize = std::env::var("SEATWATCH_CRASH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let seed: u64 = std::env::var("SEATWATCH_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("crash matrix: {rounds} rounds, SEATWATCH_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = write_config(dir.path(), "[server]\nsnapshot_interval = \"1s\"\n");
    let all = events();
    let frames: Vec<Vec<String>> = all.chunks(FRAME).map(<[String]>::to_vec).collect();
    let id_of =
        |json: &str| serde_json::from_str::<serde_json::Value>(json).unwrap()["id"].as_str().unwrap().to_owned();
    // Frames [0, acked_frames) are acknowledged: the producer resends from there.
    let mut acked_frames = 0usize;
    let mut checkpoints: Vec<(u64, Vec<serde_json::Value>)> = Vec::new();
    let mut tally: BTreeMap<&'static str, usize> = BTreeMap::new();

    for round in 0..rounds {
        if acked_frames >= frames.len() {
            acked_frames = 0; // the day is done: start over, all duplicates now
        }
        let kill = match rng.random_range(0..10) {
            0..=4 => KillAt::MidLoad(rng.random_range(0..40)),
            5..=6 => KillAt::AfterSnapshot(rng.random_range(0..5)),
            7..=8 => KillAt::Shutdown(rng.random_range(0..20)),
            _ => KillAt::Startup,
        };
        eprintln!("round {round}: kill {kill:?}, resending from frame {acked_frames}");
        let p = Proc::start(&cfg, &data);
        if let KillAt::Startup = kill {
            p.wait_for("log opened");
            p.kill();
            *tally.entry("startup").or_default() += 1;
        } else {
            let addr = p.addr();
            // After the restart, what the server serves equals a replay up to its head.
            p.wait_for("projections caught up");
            let head: serde_json::Value = serde_json::from_str(&get(addr, "/v1/head")).unwrap();
            checkpoints.push((head["last_seq"].as_u64().unwrap(), served_alarms(addr)));

            let mut req = format!("ws://{addr}/v1/ingest").into_client_request().unwrap();
            req.headers_mut().insert("Authorization", format!("Bearer {PRODUCER}").parse().unwrap());
            let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
            let (target, snapshot_first) = match kill {
                KillAt::MidLoad(n) | KillAt::Shutdown(n) => (n, false),
                KillAt::AfterSnapshot(n) => (n, true),
                KillAt::Startup => unreachable!(),
            };
            let mut next = acked_frames;
            let mut in_flight: VecDeque<usize> = VecDeque::new();
            let mut acks_this_round = 0usize;
            let mut saw_snapshot = !snapshot_first;
            loop {
                while in_flight.len() < IN_FLIGHT && next < frames.len() {
                    ws.send(Message::text(format!("[{}]", frames[next].join(",")))).await.unwrap();
                    in_flight.push_back(next);
                    next += 1;
                }
                if in_flight.is_empty() {
                    break; // the whole day is in
                }
                let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("connection lost before the kill") };
                let r: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                let f = in_flight.pop_front().unwrap();
                let (acc, dup) = (r["accepted"].as_u64().unwrap(), r["duplicate"].as_u64().unwrap());
                assert_eq!(acc + dup, frames[f].len() as u64, "frame {f}: {r}");
                assert_eq!(f, acked_frames, "replies in frame order");
                acked_frames += 1;
                acks_this_round += 1;
                if !saw_snapshot {
                    saw_snapshot =
                        std::iter::from_fn(|| p.lines.try_recv().ok()).any(|l| l.contains("snapshot written"));
                }
                if saw_snapshot && acks_this_round >= target {
                    break;
                }
            }
            match kill {
                KillAt::Shutdown(_) => {
                    Command::new("kill").args(["-TERM", &p.child.id().to_string()]).status().unwrap();
                    p.wait_for("stopped accepting");
                    p.kill();
                    *tally.entry("shutdown").or_default() += 1;
                }
                KillAt::AfterSnapshot(_) => {
                    p.kill();
                    *tally.entry("after_snapshot").or_default() += 1;
                }
                _ => {
                    p.kill();
                    *tally.entry("mid_load").or_default() += 1;
                }
            }
            drop(ws);
        }

        // After the kill: the log verifies, and every acknowledged event is there once.
        let o = run(&["verify", "--data", data.to_str().unwrap()]);
        assert!(o.status.success(), "round {round} (seed {seed}): {}", text(&o));
        let log = seatwatch_log::Log::open(&data).unwrap();
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        for env in log.read_from(1) {
            *seen.entry(env.unwrap().event.id.to_string()).or_default() += 1;
        }
        log.close().unwrap();
        assert!(seen.values().all(|n| *n == 1), "round {round} (seed {seed}): an event stored twice");
        for f in &frames[..acked_frames] {
            for e in f {
                let id = id_of(e);
                assert_eq!(seen.get(&id), Some(&1), "round {round} (seed {seed}): acknowledged {id} lost");
            }
        }
    }

    // Finally a clean run to the end of the day and a graceful stop.
    let serve = Serve::start(&cfg, &data);
    let (status, _) = serve.terminate();
    assert!(status.success());
    for (seq, served) in &checkpoints {
        let args = ["replay", "--data", data.to_str().unwrap(), "--config", cfg.to_str().unwrap()];
        let o = bin().args(args).args(["--report", "alarms", "--upto-seq", &seq.to_string()]).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let replayed: Vec<serde_json::Value> =
            String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(&replayed, served, "seed {seed}: served alarms after a restart at seq {seq} differ from the replay");
    }
    eprintln!("crash matrix done: {tally:?}, {} restarts compared with replays", checkpoints.len());
}
