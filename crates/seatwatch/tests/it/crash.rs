//! SIGKILL under load: every acknowledged event survives, exactly once.

use crate::proc::*;
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn frame(i: usize) -> (String, Vec<String>) {
    let ids: Vec<String> = (0..20).map(|j| format!("k-{i}-{j}")).collect();
    let events: Vec<String> = ids
        .iter()
        .map(|id| format!(r#"{{"id":"{id}","type":"heartbeat","ts":"2026-03-02T08:00:00+08:00"}}"#))
        .collect();
    (format!("[{}]", events.join(",")), ids)
}

async fn connect(
    addr: std::net::SocketAddr,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = format!("ws://{addr}/v1/ingest").into_client_request().unwrap();
    req.headers_mut().insert("Authorization", format!("Bearer {PRODUCER}").parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = write_config(dir.path(), "");
    // A random kill point, reported so a failure can be reproduced.
    let kill_after = 20
        + (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as usize % 200);
    eprintln!("killing after {kill_after} acknowledged frames");

    let mut serve = Serve::start(&cfg, &data);
    let mut ws = connect(serve.addr).await;
    let mut in_flight: VecDeque<usize> = VecDeque::new();
    let mut acked: BTreeSet<String> = BTreeSet::new();
    let mut next = 0usize;
    let mut replies = 0usize;
    while replies < kill_after {
        while in_flight.len() < 8 {
            ws.send(Message::text(frame(next).0)).await.unwrap();
            in_flight.push_back(next);
            next += 1;
        }
        let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("connection lost before the kill") };
        let r: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        let i = in_flight.pop_front().unwrap();
        assert_eq!(r["accepted"], 20, "{r}");
        acked.extend(frame(i).1);
        replies += 1;
    }
    // Kill while frames are in flight: mid-commit for some of them.
    serve.child.kill().unwrap();
    serve.child.wait().unwrap();
    drop(serve);

    // Reopen the data directory: every acknowledged event is there exactly once.
    {
        let log = seatwatch_log::Log::open(&data).expect("reopen after SIGKILL");
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        for env in log.read_from(1) {
            *seen.entry(env.unwrap().event.id.to_string()).or_default() += 1;
        }
        for id in &acked {
            assert_eq!(seen.get(id), Some(&1), "acknowledged event {id} lost or doubled");
        }
        assert!(seen.values().all(|n| *n == 1), "an event stored twice");
        log.close().unwrap();
    }
    let o = run(&["verify", "--data", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    // Restarted, the server treats every acknowledged frame as a duplicate, and the
    // frames that were in flight at the kill are either duplicates or accepted now.
    let serve = Serve::start(&cfg, &data);
    let mut ws = connect(serve.addr).await;
    for i in 0..next {
        ws.send(Message::text(frame(i).0)).await.unwrap();
        let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("no reply") };
        let r: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        let (acc, dup) = (r["accepted"].as_u64().unwrap(), r["duplicate"].as_u64().unwrap());
        assert_eq!(acc + dup, 20, "{r}");
        if i < next - in_flight.len() {
            assert_eq!(dup, 20, "frame {i} was acknowledged before the kill: {r}");
        }
    }
    drop(ws);
    let (status, _) = serve.terminate();
    assert!(status.success());
}
