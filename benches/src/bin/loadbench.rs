//! The load benchmark's client: one pipelined driver, three transports.
//!
//! It sends the simulated call centre's events (the same generator `seatwatch simulate`
//! uses, the same per-agent routing to connections) to
//!
//! * `seatwatch`: `GET /v1/ingest` over WebSocket, one text frame per batch (a JSON array,
//!   or the lone object for batches of one), acknowledged by the server's reply after
//!   the events are fsynced;
//! * `nats`: NATS JetStream, one `PUB` per event to `events.acme` with a reply subject,
//!   acknowledged by JetStream's PubAck (stream `EVENTS`, file storage, created here);
//! * `redis`: Redis Streams, one `XADD events * e <json>` per event, pipelined per batch,
//!   acknowledged by the entry id (run the server with `appendfsync always`),
//!
//! with the same batching (a batch is acknowledged when every event of it is), the same
//! window of batches in flight per connection, the same pacing, and the same latency
//! measurement (hdrhistogram, µs, from the moment the batch is written; with `--rate`
//! also from the moment it was due, which counts the client's own queueing).
//!
//! `loadbench drive --target seatwatch|nats|redis --addr HOST:PORT [--token SECRET]
//!  [--connections N] [--batch B] [--in-flight F] [--rate EVENTS_PER_SEC] [--events E]
//!  [--duration SECS] [--agents A] [--seed S] [--id-prefix P]` prints one JSON report.
//!
//! `loadbench wait --addr HOST:PORT [--secs S]` waits until the port accepts connections.
//! `scripts/loadbench` starts the servers and runs the workloads.

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use seatwatch_benches::sim_config;
use seatwatch_sim::{SimEvent, connection_for, generate};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

type Res<T> = Result<T, String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Target {
    Seatwatch,
    Nats,
    Redis,
}

#[derive(Clone, Debug)]
struct Opts {
    target: Target,
    addr: String,
    token: String,
    connections: usize,
    batch: usize,
    in_flight: usize,
    rate: Option<f64>,
    events: usize,
    duration: Option<f64>,
    agents: u32,
    seed: u64,
    id_prefix: String,
}

fn parse(args: &[String]) -> Res<Opts> {
    let mut o = Opts {
        target: Target::Seatwatch,
        addr: "127.0.0.1:7878".into(),
        token: String::new(),
        connections: 4,
        batch: 100,
        in_flight: 8,
        rate: None,
        events: 1_000_000,
        duration: None,
        agents: 10_000,
        seed: 1,
        id_prefix: "lb-".into(),
    };
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let mut v = || it.next().cloned().ok_or_else(|| format!("{k} needs a value"));
        let num = |s: String| s.parse::<f64>().map_err(|e| format!("{k}: {e}"));
        match k.as_str() {
            "--target" => {
                o.target = match v()?.as_str() {
                    "seatwatch" => Target::Seatwatch,
                    "nats" => Target::Nats,
                    "redis" => Target::Redis,
                    other => return Err(format!("unknown target {other}")),
                }
            }
            "--addr" => o.addr = v()?,
            "--token" => o.token = v()?,
            "--connections" => o.connections = num(v()?)? as usize,
            "--batch" => o.batch = num(v()?)? as usize,
            "--in-flight" => o.in_flight = num(v()?)? as usize,
            "--rate" => o.rate = Some(num(v()?)?),
            "--events" => o.events = num(v()?)? as usize,
            "--duration" => o.duration = Some(num(v()?)?),
            "--agents" => o.agents = num(v()?)? as u32,
            "--seed" => o.seed = num(v()?)? as u64,
            "--id-prefix" => o.id_prefix = v()?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.connections == 0 || o.batch == 0 || o.in_flight == 0 {
        return Err("--connections, --batch and --in-flight must be at least 1".into());
    }
    Ok(o)
}

/// One batch: its events as JSON objects.
#[derive(Debug)]
struct Batch {
    events: Vec<String>,
}

#[derive(Debug, Serialize, Default, Clone)]
struct Lat {
    count: u64,
    p50: u64,
    p90: u64,
    p99: u64,
    p999: u64,
    max: u64,
    mean: f64,
}

fn lat(h: &Histogram<u64>) -> Lat {
    Lat {
        count: h.len(),
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
        mean: h.mean(),
    }
}

#[derive(Debug, Serialize)]
struct Report {
    target: Target,
    addr: String,
    connections: usize,
    batch: usize,
    in_flight: usize,
    rate: Option<f64>,
    agents: u32,
    events_sent: u64,
    events_acked: u64,
    batches: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed_secs: f64,
    events_per_sec: f64,
    ack_latency_us: Lat,
    /// With `--rate`: from the moment each batch was due (includes client-side queueing).
    ack_latency_from_due_us: Option<Lat>,
}

fn main() {
    if std::env::var_os("LOADBENCH_STALLS").is_some() {
        let _ = STALLS.set(Instant::now());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("drive") => match parse(&args[1..]).and_then(drive_blocking) {
            Ok(r) => {
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
                if r.errors > 0 { 1 } else { 0 }
            }
            Err(e) => {
                eprintln!("loadbench: {e}");
                2
            }
        },
        Some("wait") => {
            let addr = args.iter().skip_while(|a| *a != "--addr").nth(1).cloned().unwrap_or_default();
            let secs: f64 =
                args.iter().skip_while(|a| *a != "--secs").nth(1).and_then(|s| s.parse().ok()).unwrap_or(30.0);
            let until = std::time::Instant::now() + Duration::from_secs_f64(secs);
            loop {
                if std::net::TcpStream::connect(&addr).is_ok() {
                    break 0;
                }
                if std::time::Instant::now() > until {
                    eprintln!("loadbench: nothing listens on {addr} after {secs} s");
                    break 2;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        _ => {
            eprintln!(
                "usage: loadbench drive --target seatwatch|nats|redis --addr HOST:PORT [options] | wait --addr HOST:PORT"
            );
            2
        }
    };
    std::process::exit(code);
}

fn drive_blocking(o: Opts) -> Res<Report> {
    // The batches are built before the clock starts: every target gets the same bytes.
    let mut cfg = sim_config(o.agents, o.seed);
    cfg.id_prefix = o.id_prefix.clone();
    cfg.days = 30;
    let events = generate(&cfg).map_err(|e| e.to_string())?;
    let mut per_conn: Vec<Vec<SimEvent>> = (0..o.connections).map(|_| Vec::new()).collect();
    for ev in events.take(o.events) {
        per_conn[connection_for(ev.agent.as_deref(), o.connections)].push(ev);
    }
    let lanes: Vec<Vec<Batch>> = per_conn
        .into_iter()
        .map(|evs| evs.chunks(o.batch).map(|c| Batch { events: c.iter().map(|e| e.json.clone()).collect() }).collect())
        .collect();
    // One thread for the client: the other core is the server's.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(drive(o, lanes))
}

struct Shared {
    acked: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    async fn error(&self, e: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut f = self.first_error.lock().await;
        if f.is_none() {
            *f = Some(e);
        }
    }
}

async fn drive(o: Opts, lanes: Vec<Vec<Batch>>) -> Res<Report> {
    if o.target == Target::Nats {
        nats_setup(&o.addr).await?;
    }
    let mut conns = Vec::new();
    for _ in 0..o.connections {
        conns.push(Conn::open(&o).await?);
    }
    let shared =
        Arc::new(Shared { acked: AtomicU64::new(0), errors: AtomicU64::new(0), first_error: Mutex::new(None) });
    let t0 = Instant::now();
    let deadline = o.duration.map(|d| t0 + Duration::from_secs_f64(d));
    // Each connection offers its share of the rate in proportion to its lane's events, so
    // that every lane lasts as long and together they offer the whole rate until the
    // deadline. (An equal split let the lighter lanes run dry early: events without an
    // agent all go to the first connection, and the agents do not hash evenly. The
    // offered load then fell to ~18.3 k/s of 20 k/s.)
    let total: usize = lanes.iter().map(|l| l.iter().map(|b| b.events.len()).sum::<usize>()).sum();
    let mut tasks = Vec::new();
    for (i, (conn, batches)) in conns.into_iter().zip(lanes).enumerate() {
        let (o, shared) = (o.clone(), shared.clone());
        let lane: usize = batches.iter().map(|b| b.events.len()).sum();
        let conn_rate = o.rate.map(|r| r * lane as f64 / total.max(1) as f64).filter(|r| *r > 0.0);
        tasks.push(tokio::spawn(async move {
            // Spread the connections' schedules over one batch interval.
            let phase = conn_rate.map_or(0.0, |r| i as f64 * o.batch as f64 / r / o.connections as f64);
            run_conn(conn, batches, o.in_flight, conn_rate, phase, t0, deadline, shared).await
        }));
    }
    let mut h = hist()?;
    let mut hd = hist()?;
    let (mut sent, mut batches) = (0u64, 0u64);
    for t in tasks {
        let r = t.await.map_err(|e| e.to_string())?;
        let (s, b, lh, ld) = r?;
        sent += s;
        batches += b;
        h.add(&lh).map_err(|e| e.to_string())?;
        hd.add(&ld).map_err(|e| e.to_string())?;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let acked = shared.acked.load(Ordering::Relaxed);
    let first_error = shared.first_error.lock().await.clone();
    Ok(Report {
        target: o.target,
        addr: o.addr.clone(),
        connections: o.connections,
        batch: o.batch,
        in_flight: o.in_flight,
        rate: o.rate,
        agents: o.agents,
        events_sent: sent,
        events_acked: acked,
        batches,
        errors: shared.errors.load(Ordering::Relaxed),
        first_error,
        elapsed_secs: elapsed,
        events_per_sec: acked as f64 / elapsed,
        ack_latency_us: lat(&h),
        ack_latency_from_due_us: o.rate.map(|_| lat(&hd)),
    })
}

fn hist() -> Res<Histogram<u64>> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).map_err(|e| e.to_string())
}

/// Batches written and not yet acknowledged, oldest first: (id, events, written, due).
type Pending = Arc<std::sync::Mutex<VecDeque<(u64, usize, Instant, Instant)>>>;

#[allow(clippy::too_many_arguments)]
async fn run_conn(
    conn: Conn,
    batches: Vec<Batch>,
    in_flight: usize,
    rate: Option<f64>,
    phase: f64,
    t0: Instant,
    deadline: Option<Instant>,
    shared: Arc<Shared>,
) -> Res<(u64, u64, Histogram<u64>, Histogram<u64>)> {
    let window = Arc::new(Semaphore::new(in_flight));
    let pending: Pending = Arc::new(std::sync::Mutex::new(VecDeque::new()));
    let (mut tx, rx) = conn.split();
    let hists = Arc::new(std::sync::Mutex::new((hist()?, hist()?)));
    let reader = {
        let (window, pending, shared, hists) = (window.clone(), pending.clone(), shared.clone(), hists.clone());
        tokio::spawn(async move {
            if let Err(e) = read_acks(rx, window.clone(), pending, shared.clone(), hists).await {
                shared.error(e).await;
            }
            // Unblock the writer if the connection ended early.
            window.close();
        })
    };
    let (mut sent, mut n) = (0u64, 0u64);
    let mut due_at = t0 + Duration::from_secs_f64(phase);
    for (id, b) in (0u64..).zip(&batches) {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if rate.is_some() {
            tokio::time::sleep_until(due_at).await;
        }
        let due = if rate.is_some() { due_at } else { Instant::now() };
        match window.acquire().await {
            Ok(p) => p.forget(),
            Err(_) => break,
        }
        let written = Instant::now();
        if let Ok(mut q) = pending.lock() {
            q.push_back((id, b.events.len(), written, due));
        }
        if let Err(e) = tx.send(id, b).await {
            shared.error(e).await;
            break;
        }
        sent += b.events.len() as u64;
        n += 1;
        if let Some(r) = rate {
            due_at += Duration::from_secs_f64(b.events.len() as f64 / r);
        }
    }
    // Wait for the outstanding acknowledgements (at most 60 s).
    let all = u32::try_from(in_flight).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(60), window.acquire_many(all)).await;
    tx.close().await;
    reader.abort();
    let _ = reader.await;
    let (h, hd) = match hists.lock() {
        Ok(g) => (g.0.clone(), g.1.clone()),
        Err(_) => (hist()?, hist()?),
    };
    Ok((sent, n, h, hd))
}

// ---------------------------------------------------------------------------------------
// Transports

#[allow(clippy::large_enum_variant)]
enum Conn {
    Ws(tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>),
    Nats(TcpStream, usize),
    Redis(TcpStream),
}

static CONN_IDS: AtomicU64 = AtomicU64::new(0);

impl Conn {
    async fn open(o: &Opts) -> Res<Conn> {
        match o.target {
            Target::Seatwatch => {
                let mut req = format!("ws://{}/v1/ingest", o.addr).into_client_request().map_err(|e| e.to_string())?;
                let v = HeaderValue::from_str(&format!("Bearer {}", o.token)).map_err(|e| e.to_string())?;
                req.headers_mut().insert("authorization", v);
                let (ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true)
                    .await
                    .map_err(|e| format!("connect {}: {e}", o.addr))?;
                Ok(Conn::Ws(ws))
            }
            Target::Nats => {
                let id = CONN_IDS.fetch_add(1, Ordering::Relaxed) as usize;
                let mut s = nats_connect(&o.addr).await?;
                s.write_all(format!("SUB _INBOX.lb{id}.* {}\r\n", id + 1).as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Conn::Nats(s, id))
            }
            Target::Redis => {
                let s = TcpStream::connect(&o.addr).await.map_err(|e| format!("connect {}: {e}", o.addr))?;
                let _ = s.set_nodelay(true);
                Ok(Conn::Redis(s))
            }
        }
    }

    fn split(self) -> (Tx, Rx) {
        match self {
            Conn::Ws(ws) => {
                let (w, r) = ws.split();
                (Tx::Ws(w), Rx::Ws(r))
            }
            Conn::Nats(s, id) => {
                let (r, w) = s.into_split();
                (Tx::Nats(w, id, Vec::new()), Rx::Nats(BufReader::with_capacity(1 << 16, r)))
            }
            Conn::Redis(s) => {
                let (r, w) = s.into_split();
                (Tx::Redis(w, Vec::new()), Rx::Redis(BufReader::with_capacity(1 << 16, r)))
            }
        }
    }
}

type WsSink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    Message,
>;
type WsStream =
    futures_util::stream::SplitStream<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>>;

enum Tx {
    Ws(WsSink),
    Nats(tokio::net::tcp::OwnedWriteHalf, usize, Vec<u8>),
    Redis(tokio::net::tcp::OwnedWriteHalf, Vec<u8>),
}

impl Tx {
    async fn send(&mut self, id: u64, b: &Batch) -> Res<()> {
        match self {
            Tx::Ws(w) => {
                let frame = if b.events.len() == 1 {
                    b.events[0].clone()
                } else {
                    let mut s = String::with_capacity(b.events.iter().map(|e| e.len() + 1).sum::<usize>() + 2);
                    s.push('[');
                    for (i, e) in b.events.iter().enumerate() {
                        if i > 0 {
                            s.push(',');
                        }
                        s.push_str(e);
                    }
                    s.push(']');
                    s
                };
                w.send(Message::text(frame)).await.map_err(|e| e.to_string())
            }
            Tx::Nats(w, conn, buf) => {
                buf.clear();
                for e in &b.events {
                    buf.extend_from_slice(format!("PUB events.acme _INBOX.lb{conn}.{id} {}\r\n", e.len()).as_bytes());
                    buf.extend_from_slice(e.as_bytes());
                    buf.extend_from_slice(b"\r\n");
                }
                w.write_all(buf).await.map_err(|e| e.to_string())
            }
            Tx::Redis(w, buf) => {
                buf.clear();
                for e in &b.events {
                    buf.extend_from_slice(b"*5\r\n$4\r\nXADD\r\n$6\r\nevents\r\n$1\r\n*\r\n$1\r\ne\r\n");
                    buf.extend_from_slice(format!("${}\r\n", e.len()).as_bytes());
                    buf.extend_from_slice(e.as_bytes());
                    buf.extend_from_slice(b"\r\n");
                }
                w.write_all(buf).await.map_err(|e| e.to_string())
            }
        }
    }

    async fn close(&mut self) {
        match self {
            Tx::Ws(w) => {
                let _ = w.close().await;
            }
            Tx::Nats(w, ..) | Tx::Redis(w, _) => {
                let _ = w.shutdown().await;
            }
        }
    }
}

enum Rx {
    Ws(WsStream),
    Nats(BufReader<tokio::net::tcp::OwnedReadHalf>),
    Redis(BufReader<tokio::net::tcp::OwnedReadHalf>),
}

/// Set (to the start) when `LOADBENCH_STALLS` is in the environment: every batch
/// acknowledged more than 10 ms after it was written is printed to stderr.
static STALLS: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Latency from written and from due, µs.
type Hists = Arc<std::sync::Mutex<(Histogram<u64>, Histogram<u64>)>>;

/// Read acknowledgements until the connection ends, recording latencies in `hists`.
async fn read_acks(mut rx: Rx, window: Arc<Semaphore>, pending: Pending, shared: Arc<Shared>, hists: Hists) -> Res<()> {
    // Events acknowledged so far per batch id (NATS acks arrive per event).
    let mut partial: HashMap<u64, usize> = HashMap::new();
    let done = |id: u64| -> Option<usize> {
        let mut q = pending.lock().ok()?;
        let pos = q.iter().position(|e| e.0 == id)?;
        let (_, events, written, due) = q.remove(pos)?;
        let now = Instant::now();
        if let Some(start) = STALLS.get()
            && now - written > std::time::Duration::from_millis(10)
        {
            eprintln!(
                "stall: batch {id} written at {:.3} s acknowledged after {:.1} ms",
                (written - *start).as_secs_f64(),
                (now - written).as_secs_f64() * 1e3
            );
        }
        if let Ok(mut hs) = hists.lock() {
            let _ = hs.0.record((now - written).as_micros().max(1) as u64);
            let _ = hs.1.record((now - due).as_micros().max(1) as u64);
        }
        window.add_permits(1);
        Some(events)
    };
    let oldest = |pending: &Pending| pending.lock().ok().and_then(|q| q.front().map(|e| (e.0, e.1)));
    match &mut rx {
        Rx::Ws(r) => {
            while let Some(msg) = r.next().await {
                let text = match msg {
                    Ok(Message::Text(t)) => t,
                    Ok(Message::Close(c)) => {
                        shared.error(format!("server closed: {c:?}")).await;
                        break;
                    }
                    Ok(_) => continue,
                    Err(e) => {
                        shared.error(e.to_string()).await;
                        break;
                    }
                };
                let v: serde_json::Value = serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
                let accepted = v.get("accepted").and_then(serde_json::Value::as_u64).unwrap_or(0);
                let dup = v.get("duplicate").and_then(serde_json::Value::as_u64).unwrap_or(0);
                if v.get("rejected").and_then(|r| r.as_array()).is_some_and(|r| !r.is_empty()) {
                    shared.error(format!("rejected: {text}")).await;
                }
                let Some((id, _)) = oldest(&pending) else { continue };
                done(id);
                shared.acked.fetch_add(accepted + dup, Ordering::Relaxed);
            }
        }
        Rx::Nats(r) => {
            let mut line = String::new();
            let mut payload = Vec::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
                    break;
                }
                if line.starts_with("PING") || line.starts_with("+OK") || line.starts_with("PONG") {
                    continue;
                }
                if line.starts_with("-ERR") {
                    shared.error(line.trim().to_owned()).await;
                    continue;
                }
                // MSG <subject> <sid> [reply] <len>
                let parts: Vec<&str> = line.split_whitespace().collect();
                if parts.first() != Some(&"MSG") || parts.len() < 4 {
                    continue;
                }
                let len: usize = parts[parts.len() - 1].parse().map_err(|_| format!("bad MSG line {line:?}"))?;
                payload.resize(len + 2, 0);
                r.read_exact(&mut payload).await.map_err(|e| e.to_string())?;
                let body = String::from_utf8_lossy(&payload[..len]);
                if body.contains("\"error\"") {
                    shared.error(body.into_owned()).await;
                    continue;
                }
                let Some(id) = parts[1].rsplit('.').next().and_then(|s| s.parse::<u64>().ok()) else { continue };
                let need = pending.lock().ok().and_then(|q| q.iter().find(|e| e.0 == id).map(|e| e.1));
                let Some(need) = need else { continue };
                let got = partial.entry(id).or_insert(0);
                *got += 1;
                if *got >= need {
                    partial.remove(&id);
                    if let Some(n) = done(id) {
                        shared.acked.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
            }
        }
        Rx::Redis(r) => {
            let mut line = String::new();
            let mut got = 0usize;
            loop {
                line.clear();
                if r.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
                    break;
                }
                if let Some(rest) = line.strip_prefix('$') {
                    let len: i64 = rest.trim().parse().map_err(|_| format!("bad reply {line:?}"))?;
                    if len >= 0 {
                        let mut b = vec![0u8; len as usize + 2];
                        r.read_exact(&mut b).await.map_err(|e| e.to_string())?;
                    }
                } else if line.starts_with('-') {
                    shared.error(line.trim().to_owned()).await;
                }
                got += 1;
                let Some((id, need)) = oldest(&pending) else { continue };
                if got >= need {
                    got = 0;
                    if let Some(n) = done(id) {
                        shared.acked.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
            }
        }
    }
    Ok(())
}

async fn nats_connect(addr: &str) -> Res<TcpStream> {
    let s = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = s.set_nodelay(true);
    let mut r = BufReader::new(s);
    let mut info = String::new();
    r.read_line(&mut info).await.map_err(|e| e.to_string())?;
    if !info.starts_with("INFO") {
        return Err(format!("not a NATS server: {info:?}"));
    }
    let mut s = r.into_inner();
    s.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":false,\"protocol\":1,\"name\":\"loadbench\"}\r\nPING\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut r = BufReader::new(s);
    let mut pong = String::new();
    r.read_line(&mut pong).await.map_err(|e| e.to_string())?;
    if !pong.starts_with("PONG") {
        return Err(format!("NATS CONNECT failed: {pong:?}"));
    }
    Ok(r.into_inner())
}

/// Create (or recreate) the JetStream stream `EVENTS` on subjects `events.>`, file storage.
async fn nats_setup(addr: &str) -> Res<()> {
    let s = nats_connect(addr).await?;
    let mut r = BufReader::new(s);
    let cfg = r#"{"name":"EVENTS","subjects":["events.>"],"storage":"file","retention":"limits","discard":"old","num_replicas":1}"#;
    let req = format!(
        "SUB _INBOX.setup 1\r\nPUB $JS.API.STREAM.DELETE.EVENTS _INBOX.setup 0\r\n\r\nPUB $JS.API.STREAM.CREATE.EVENTS _INBOX.setup {}\r\n{cfg}\r\n",
        cfg.len()
    );
    r.get_mut().write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut replies = 0;
    let mut line = String::new();
    while replies < 2 {
        line.clear();
        if r.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
            return Err("NATS closed during stream setup".into());
        }
        if let Some(rest) = line.strip_prefix("MSG ") {
            let len: usize = rest.split_whitespace().last().and_then(|l| l.parse().ok()).unwrap_or(0);
            let mut b = vec![0u8; len + 2];
            r.read_exact(&mut b).await.map_err(|e| e.to_string())?;
            replies += 1;
            let body = String::from_utf8_lossy(&b[..len]).into_owned();
            // The first reply is the delete (which may fail: no such stream).
            if replies == 2 && body.contains("\"error\"") {
                return Err(format!("JetStream stream create failed: {body}"));
            }
        } else if line.starts_with("-ERR") {
            return Err(format!("NATS: {}", line.trim()));
        }
    }
    Ok(())
}
