//! A WebSocket producer and load generator for `GET /v1/ingest` (CONTRACT.md §3).
//!
//! [`run`] opens [`ClientOptions::connections`] WebSockets (with `Authorization: Bearer`),
//! and sends a stream of [`SimEvent`]s over them:
//!
//! - **Per-agent order.** Each agent belongs to one connection, chosen by a fixed hash
//!   (FNV-1a) of its id; events without an agent (`queued`, `abandoned`, `heartbeat`) go
//!   to connection 0. Each connection sends its events in stream order, and the server
//!   answers each connection's frames in order, so every agent's events arrive in order.
//!   Different agents' events may arrive out of order by up to the pipeline's depth, as
//!   the contract allows.
//! - **Batching.** Up to [`ClientOptions::batch`] events (1 to 1000) form one frame: a JSON
//!   array, or the lone object when `batch` is 1. A frame is also cut at 512 KiB, well
//!   under the server's 1 MiB limit, and whenever pacing makes the sender wait.
//! - **Pipelining.** A connection keeps sending while fewer than
//!   [`ClientOptions::max_in_flight`] of its frames are unacknowledged (a semaphore
//!   the reader refills). A reader task matches the replies to the frames first in, first
//!   out, and records each frame's acknowledgement latency (from just before it was
//!   queued on the socket to its reply) in an HDR histogram, in microseconds. Frames
//!   are queued with `feed` and flushed when nothing more is ready to send, so several
//!   frames can share one write.
//! - **Pacing.** With [`ClientOptions::speed`] `s`, an event at simulated time `t` is sent
//!   at `t0 + (t − t_first) / s` real time; with [`ClientOptions::rate`] `r`, event `i` at
//!   `t0 + i / r`; with neither, as fast as the pipeline allows. [`ClientOptions::duration`]
//!   stops sending after that long.
//! - **Bounded skew.** Connections progress at their own pace, but the server judges
//!   elapsed-time rules by a watermark that any event (minus an allowed lateness) and any
//!   heartbeat (exactly) moves forward. So the dispatcher keeps the connections within
//!   [`ClientOptions::max_skew`] of simulated time of each other (2 s by default): before
//!   handing an event at time `t` to a connection it waits until every event of the other
//!   connections older than `t − max_skew` has been acknowledged (hence stored, hence
//!   earlier in the log), and for a heartbeat, every event older than `t`.
//! - **The end.** When the events run out (or the duration is over), every frame already
//!   handed to a connection is still sent, every reply is awaited, and each WebSocket is
//!   closed with a close handshake.
//!
//! Failures (connection refused, 401/403/404 on the upgrade, the server closing or
//! breaking the connection, a reply that is not the contract's JSON) end the run with a
//! [`ClientError`] naming the URL and what went wrong; nothing here panics. `internal`
//! rejections are counted, not resent.

use crate::generator::SimEvent;
use chrono::{DateTime, FixedOffset};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, TryAcquireError, mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header::AUTHORIZATION};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A frame is cut before it grows past this many bytes (the server's limit is 1 MiB).
pub const MAX_FRAME_BYTES: usize = 512 * 1024;
/// The most events one frame may hold (CONTRACT.md §3).
pub const MAX_BATCH: usize = 1000;
/// How many rejections the [`Report`] keeps verbatim.
pub const REJECTION_SAMPLES: usize = 10;

/// A callback that receives [`Progress`] snapshots.
pub type ProgressFn = Box<dyn Fn(&Progress) + Send + Sync>;

/// How to send.
pub struct ClientOptions {
    /// The ingest endpoint, e.g. `ws://127.0.0.1:7878/v1/ingest`.
    pub url: String,
    /// The producer's secret, sent as `Authorization: Bearer …`.
    pub token: String,
    /// Number of WebSocket connections (1 to 1024).
    pub connections: usize,
    /// Events per frame (1 to 1000).
    pub batch: usize,
    /// Frames sent but not yet acknowledged, per connection (at least 1).
    pub max_in_flight: usize,
    /// Time compression: simulated seconds per real second. Excludes `rate`.
    pub speed: Option<f64>,
    /// A fixed offered load in events per second. Excludes `speed`.
    pub rate: Option<f64>,
    /// Stop sending after this long (the frames already sent are still acknowledged).
    pub duration: Option<Duration>,
    /// Keep the connections within this much *simulated* time of each other: an event is
    /// handed to a connection only once every event of the other connections more than
    /// `max_skew` older than it has been acknowledged, and a `heartbeat` (which tells the
    /// server "nothing happened up to ts") only once every older event has been. The
    /// server then never sees events of different agents further out of order than this,
    /// nor a heartbeat overtaking an older event, so its elapsed-time alarms cannot fire
    /// falsely. Keep it below the server's allowed lateness (5 s by default). `None`
    /// switches this off, for raw throughput tests where false alarms do not matter.
    /// Only matters with more than one connection. The price: sent as fast as possible,
    /// a stream with few events per simulated second is nearly serialised across the
    /// connections (small frames, one round trip per few events); paced runs hardly
    /// notice it. For throughput with order, use one connection (its order is total).
    ///
    /// Measured against `seatwatch serve` (3 days, 100 agents, no violations, as fast as
    /// possible, 4 connections): with `None`, 91,000 events/s and 10,398 false alarms
    /// (mostly `wrap_up_overlong` and `not_ready_overlong`); with 2 s, 3,700 events/s and
    /// none; with one connection, about 100,000 events/s and none.
    pub max_skew: Option<Duration>,
    /// Called every `progress_every` while sending, and once at the end.
    pub progress: Option<ProgressFn>,
    /// How often `progress` is called.
    pub progress_every: Duration,
}

impl ClientOptions {
    /// Options for `url` and `token` with the defaults: 1 connection, 200 events per
    /// frame, 8 frames in flight, as fast as possible, a skew of at most 2 simulated
    /// seconds between connections, progress every second.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Self {
        ClientOptions {
            url: url.into(),
            token: token.into(),
            connections: 1,
            batch: 200,
            max_in_flight: 8,
            speed: None,
            rate: None,
            duration: None,
            max_skew: Some(Duration::from_secs(2)),
            progress: None,
            progress_every: Duration::from_secs(1),
        }
    }

    fn validate(&self) -> Result<(), ClientError> {
        let bad = |m: String| Err(ClientError::InvalidOptions(m));
        if !(1..=1024).contains(&self.connections) {
            return bad(format!("connections must be 1 to 1024, got {}", self.connections));
        }
        if !(1..=MAX_BATCH).contains(&self.batch) {
            return bad(format!("batch must be 1 to {MAX_BATCH} events per frame, got {}", self.batch));
        }
        if self.max_in_flight == 0 || self.max_in_flight > 1_000_000 {
            return bad(format!("max_in_flight must be 1 to 1000000, got {}", self.max_in_flight));
        }
        if self.speed.is_some() && self.rate.is_some() {
            return bad("give either speed or rate, not both".into());
        }
        if let Some(s) = self.speed
            && !(s.is_finite() && s > 0.0)
        {
            return bad(format!("speed must be a positive number, got {s}"));
        }
        if let Some(r) = self.rate
            && !(r.is_finite() && r > 0.0)
        {
            return bad(format!("rate must be a positive number of events per second, got {r}"));
        }
        if self.progress_every.is_zero() {
            return bad("progress_every must not be zero".into());
        }
        Ok(())
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .field("connections", &self.connections)
            .field("batch", &self.batch)
            .field("max_in_flight", &self.max_in_flight)
            .field("speed", &self.speed)
            .field("rate", &self.rate)
            .field("duration", &self.duration)
            .field("max_skew", &self.max_skew)
            .field("progress", &self.progress.as_ref().map(|_| "<callback>"))
            .field("progress_every", &self.progress_every)
            .finish()
    }
}

/// A snapshot of a run in progress.
#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    /// Events in frames written to the sockets.
    pub events_sent: u64,
    /// Frames written to the sockets.
    pub frames_sent: u64,
    /// Events the server answered for (accepted + duplicate + rejected).
    pub events_acked: u64,
    /// Events the server accepted.
    pub accepted: u64,
    /// Events the server counted as duplicates.
    pub duplicate: u64,
    /// Events the server rejected.
    pub rejected: u64,
    /// Real time since the connections were opened.
    #[serde(serialize_with = "ser_secs")]
    pub elapsed: Duration,
    /// The simulated time of the last event handed to a connection.
    pub sim_time: Option<DateTime<FixedOffset>>,
}

/// Acknowledgement latency percentiles, in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AckLatency {
    /// Frames measured.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Slowest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

/// One rejection as the server sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedEvent {
    /// Position in its frame; `None` for the whole frame.
    #[serde(default)]
    pub index: Option<u64>,
    /// The event's id, when the server could read it.
    #[serde(default)]
    pub id: Option<String>,
    /// The contract's code.
    pub code: String,
    /// The server's explanation.
    #[serde(default)]
    pub message: String,
}

/// What a run did.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The endpoint.
    pub url: String,
    /// Connections used.
    pub connections: usize,
    /// Events sent.
    pub events_sent: u64,
    /// Frames sent.
    pub frames_sent: u64,
    /// Events accepted (stored).
    pub accepted: u64,
    /// Events the server had already stored.
    pub duplicate: u64,
    /// Events rejected, by code (a rejected frame counts each of its events).
    pub rejected_by_code: BTreeMap<String, u64>,
    /// The first few rejections verbatim.
    pub rejected_samples: Vec<RejectedEvent>,
    /// Replies whose counts did not add up to their frame's events.
    pub mismatched_acks: u64,
    /// From the connections being opened to the last reply.
    #[serde(rename = "elapsed_secs", serialize_with = "ser_secs")]
    pub elapsed: Duration,
    /// `events_sent / elapsed`.
    pub events_per_sec: f64,
    /// Frame acknowledgement latency.
    pub ack_latency_us: AckLatency,
    /// The highest `last_seq` any reply carried.
    pub last_seq: Option<u64>,
    /// Whether [`ClientOptions::duration`] ended the run before the events ran out.
    pub stopped_early: bool,
    /// How often sending paused to keep the connections within
    /// [`ClientOptions::max_skew`] of each other.
    pub skew_waits: u64,
}

impl Report {
    /// All rejected events.
    pub fn rejected(&self) -> u64 {
        self.rejected_by_code.values().sum()
    }
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sent {} events in {} frames over {} connection(s) to {}",
            self.events_sent, self.frames_sent, self.connections, self.url
        )?;
        writeln!(
            f,
            "  accepted {}, duplicate {}, rejected {}{}",
            self.accepted,
            self.duplicate,
            self.rejected(),
            if self.stopped_early { " (stopped early: duration reached)" } else { "" }
        )?;
        for (code, n) in &self.rejected_by_code {
            writeln!(f, "    {code}: {n}")?;
        }
        for r in &self.rejected_samples {
            let idx = r.index.map_or_else(|| "frame".to_owned(), |i| format!("#{i}"));
            writeln!(f, "    e.g. {idx} {}: {} {}", r.id.as_deref().unwrap_or("-"), r.code, r.message)?;
        }
        if self.mismatched_acks > 0 {
            writeln!(f, "  WARNING: {} replies did not account for every event of their frame", self.mismatched_acks)?;
        }
        writeln!(
            f,
            "  elapsed {:.3} s, {:.0} events/s, {} skew waits",
            self.elapsed.as_secs_f64(),
            self.events_per_sec,
            self.skew_waits
        )?;
        let l = &self.ack_latency_us;
        let ms = |us: u64| us as f64 / 1000.0;
        writeln!(
            f,
            "  ack latency ms: p50 {:.2}, p90 {:.2}, p99 {:.2}, p99.9 {:.2}, max {:.2}, mean {:.2} ({} frames)",
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.p999),
            ms(l.max),
            l.mean / 1000.0,
            l.count
        )?;
        match self.last_seq {
            Some(s) => write!(f, "  last seq {s}"),
            None => write!(f, "  last seq -"),
        }
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A [`ClientOptions`] value is out of range.
    #[error("invalid client option: {0}")]
    InvalidOptions(String),
    /// The URL is not a usable WebSocket URL.
    #[error("invalid URL {url:?}: {message}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The TCP connection or the WebSocket handshake failed.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL.
        url: String,
        /// The underlying error.
        #[source]
        source: Box<tungstenite::Error>,
    },
    /// The server answered the upgrade with an HTTP error status.
    #[error("{url} refused the WebSocket upgrade with HTTP {status}{}{}", status_hint(*.status), body_suffix(.body))]
    Rejected {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The server closed the connection while frames were unacknowledged.
    #[error("{url}: the server closed the connection ({}) with {unacked} frame(s) unacknowledged", close_text(*.code, .reason))]
    Closed {
        /// The URL.
        url: String,
        /// The close code, if the server sent one (1009: a frame was too big).
        code: Option<u16>,
        /// The close reason.
        reason: String,
        /// Frames sent on that connection without a reply.
        unacked: usize,
    },
    /// The connection broke.
    #[error("{url}: connection failed: {source}")]
    Connection {
        /// The URL.
        url: String,
        /// The underlying error.
        #[source]
        source: Box<tungstenite::Error>,
    },
    /// A reply that is not the contract's acknowledgement.
    #[error("{url}: unexpected reply from the server: {message}")]
    BadReply {
        /// The URL.
        url: String,
        /// What was wrong with it.
        message: String,
    },
    /// A task of the client itself failed (a bug).
    #[error("internal client error: {0}")]
    Internal(String),
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 => " (Unauthorized: no or unknown token; check the token)",
        403 => " (Forbidden: the token's role may not send events; it needs the producer or admin role)",
        404 => " (Not Found: check the path, e.g. /v1/ingest)",
        _ => "",
    }
}

fn body_suffix(body: &str) -> String {
    if body.trim().is_empty() { String::new() } else { format!(": {}", body.trim()) }
}

fn close_text(code: Option<u16>, reason: &str) -> String {
    match (code, reason.is_empty()) {
        (None, _) => "without a close frame".to_owned(),
        (Some(1009), _) => format!("code 1009, message too big{}", body_suffix(reason)),
        (Some(c), true) => format!("code {c}"),
        (Some(c), false) => format!("code {c}: {reason}"),
    }
}

/// The server's reply to one frame.
#[derive(Debug, Deserialize)]
struct Ack {
    accepted: u64,
    duplicate: u64,
    rejected: Vec<RejectedEvent>,
    #[serde(default)]
    last_seq: Option<u64>,
}

#[derive(Default, Debug)]
struct Counters {
    events_sent: AtomicU64,
    frames_sent: AtomicU64,
    accepted: AtomicU64,
    duplicate: AtomicU64,
    rejected: AtomicU64,
}

/// What a connection task shares with the rest of the client.
#[derive(Debug, Clone)]
struct ConnEnds {
    counters: Arc<Counters>,
    /// The stream index of the last event acknowledged on this connection.
    acked: Arc<AtomicU64>,
    /// Bumped on every acknowledgement, so the dispatcher can wait for one.
    acks: Arc<watch::Sender<u64>>,
}

#[derive(Debug)]
struct ConnStats {
    rejected_by_code: BTreeMap<String, u64>,
    samples: Vec<RejectedEvent>,
    mismatched: u64,
    last_seq: Option<u64>,
    latency: Histogram<u64>,
}

impl ConnStats {
    fn new() -> Result<Self, ClientError> {
        // 1 µs to 1 h at 3 significant digits; slower replies count as 1 h.
        let latency = Histogram::new_with_bounds(1, 3_600_000_000, 3)
            .map_err(|e| ClientError::Internal(format!("histogram: {e}")))?;
        Ok(ConnStats { rejected_by_code: BTreeMap::new(), samples: vec![], mismatched: 0, last_seq: None, latency })
    }
}

/// A frame handed to a connection.
#[derive(Debug)]
struct Batch {
    frame: String,
    events: u64,
    /// The stream index (from 1) of the frame's last event.
    last_index: u64,
}

/// A frame on the wire awaiting its reply.
#[derive(Debug)]
struct InFlight {
    sent: Instant,
    events: u64,
    last_index: u64,
}

/// A frame being assembled by the dispatcher.
#[derive(Debug, Default)]
struct Assembling {
    buf: String,
    count: usize,
    first_ms: i64,
    last_index: u64,
}

impl Assembling {
    fn push(&mut self, json: &str, at_ms: i64, index: u64) {
        if self.count == 0 {
            self.first_ms = at_ms;
        }
        self.buf.push(if self.count == 0 { '[' } else { ',' });
        self.buf.push_str(json);
        self.count += 1;
        self.last_index = index;
    }

    /// The frame: the lone object when `lone` and it holds one event, else an array.
    fn take(&mut self, lone: bool) -> Option<Batch> {
        if self.count == 0 {
            return None;
        }
        let mut buf = std::mem::take(&mut self.buf);
        let events = self.count as u64;
        self.count = 0;
        if lone && events == 1 {
            buf.remove(0);
        } else {
            buf.push(']');
        }
        Some(Batch { frame: buf, events, last_index: self.last_index })
    }
}

/// The dispatcher's view of one connection.
#[derive(Debug)]
struct Lane {
    assembling: Assembling,
    /// Frames handed to the connection and not known to be acknowledged:
    /// (last stream index, simulated time of the first event in ms).
    handed: std::collections::VecDeque<(u64, i64)>,
    tx: mpsc::Sender<Batch>,
    /// The stream index of the last event acknowledged on this connection (`u64::MAX`
    /// once the connection has ended).
    acked: Arc<AtomicU64>,
}

impl Lane {
    /// The simulated time of the oldest event of this connection not yet acknowledged.
    fn oldest_unacked_ms(&mut self) -> Option<i64> {
        let acked = self.acked.load(Ordering::Acquire);
        while self.handed.front().is_some_and(|f| f.0 <= acked) {
            self.handed.pop_front();
        }
        match self.handed.front() {
            Some(f) => Some(f.1),
            None if self.assembling.count > 0 => Some(self.assembling.first_ms),
            None => None,
        }
    }

    /// Hand the frame being assembled to the connection. `false` if the connection ended.
    async fn hand_over(&mut self, lone: bool) -> bool {
        let first_ms = self.assembling.first_ms;
        match self.assembling.take(lone) {
            None => true,
            Some(b) => {
                self.handed.push_back((b.last_index, first_ms));
                self.tx.send(b).await.is_ok()
            }
        }
    }
}

/// The connection an agent's events travel on (FNV-1a, so it is stable across runs).
pub fn connection_for(agent: Option<&str>, connections: usize) -> usize {
    let Some(agent) = agent else { return 0 };
    if connections <= 1 {
        return 0;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in agent.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % connections as u64) as usize
}

async fn connect(url: &str, token: &str) -> Result<Ws, ClientError> {
    let mut req = url
        .into_client_request()
        .map_err(|e| ClientError::InvalidUrl { url: url.to_owned(), message: e.to_string() })?;
    let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        ClientError::InvalidOptions("the token contains characters that cannot go in an HTTP header".into())
    })?;
    match req.uri().scheme_str() {
        Some("ws") => {}
        Some("wss") => {
            return Err(ClientError::InvalidUrl {
                url: url.to_owned(),
                message: "wss:// (TLS) is not supported by this client; use ws:// (e.g. through a local TLS proxy)"
                    .into(),
            });
        }
        other => {
            return Err(ClientError::InvalidUrl {
                url: url.to_owned(),
                message: format!(
                    "the scheme must be ws://, not {}",
                    other.map_or_else(|| "missing".to_owned(), |s| format!("{s}://"))
                ),
            });
        }
    }
    req.headers_mut().insert(AUTHORIZATION, value);
    match tokio_tungstenite::connect_async_with_config(req, None, true).await {
        Ok((ws, _response)) => Ok(ws),
        Err(tungstenite::Error::Http(resp)) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).chars().take(300).collect::<String>())
                .unwrap_or_default();
            Err(ClientError::Rejected { url: url.to_owned(), status: resp.status().as_u16(), body })
        }
        Err(tungstenite::Error::Url(e)) => Err(ClientError::InvalidUrl { url: url.to_owned(), message: e.to_string() }),
        Err(e) => Err(ClientError::Connect { url: url.to_owned(), source: Box::new(e) }),
    }
}

/// Send `events` to the server as `opts` says, wait for every reply, and report.
pub async fn run(events: impl Iterator<Item = SimEvent> + Send, opts: ClientOptions) -> Result<Report, ClientError> {
    opts.validate()?;
    let n = opts.connections;
    let mut sockets = Vec::with_capacity(n);
    for _ in 0..n {
        sockets.push(connect(&opts.url, &opts.token).await?);
    }
    tracing::info!(url = %opts.url, connections = n, batch = opts.batch, max_in_flight = opts.max_in_flight, "connected");

    let counters = Arc::new(Counters::default());
    let (acks_tx, mut acks_rx) = watch::channel(0u64);
    let acks_tx = Arc::new(acks_tx);
    let mut lanes = Vec::with_capacity(n);
    let mut tasks = Vec::with_capacity(n);
    for ws in sockets {
        let (tx, rx) = mpsc::channel::<Batch>(opts.max_in_flight.clamp(2, 64));
        let acked = Arc::new(AtomicU64::new(0));
        let ends = ConnEnds { counters: counters.clone(), acked: acked.clone(), acks: acks_tx.clone() };
        tasks.push(tokio::spawn(connection(ws, rx, opts.max_in_flight, ends, opts.url.clone())));
        lanes.push(Lane { assembling: Assembling::default(), handed: Default::default(), tx, acked });
    }
    drop(acks_tx);

    let t0 = Instant::now();
    let deadline = opts.duration.and_then(|d| t0.checked_add(d));
    let lone = opts.batch == 1;
    let max_skew_ms = opts.max_skew.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut first_at: Option<DateTime<FixedOffset>> = None;
    let mut sim_time: Option<DateTime<FixedOffset>> = None;
    let mut stopped_early = false;
    let mut skew_waits: u64 = 0;
    let mut next_progress = t0 + opts.progress_every;
    let snapshot = |sim_time: Option<DateTime<FixedOffset>>| progress_snapshot(&counters, t0, sim_time);

    'events: for (index, ev) in (1u64..).zip(events) {
        let mut now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            stopped_early = true;
            break;
        }
        let due = if let Some(speed) = opts.speed {
            let first = *first_at.get_or_insert(ev.at);
            let us = (ev.at - first).num_microseconds().unwrap_or(i64::MAX).max(0);
            Some(offset(t0, us as f64 / 1e6 / speed))
        } else {
            opts.rate.map(|rate| offset(t0, (index - 1) as f64 / rate))
        };
        if let Some(due) = due
            && due > now
        {
            // Waiting: send what is assembled first, so it is not held back by the pacing.
            for lane in &mut lanes {
                if !lane.hand_over(lone).await {
                    break 'events;
                }
            }
            let until = deadline.map_or(due, |d| d.min(due));
            while Instant::now() < until {
                let step = if opts.progress.is_some() { until.min(next_progress) } else { until };
                tokio::time::sleep_until(step).await;
                if let Some(p) = &opts.progress
                    && Instant::now() >= next_progress
                {
                    p(&snapshot(sim_time));
                    next_progress = Instant::now() + opts.progress_every;
                }
            }
            now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                stopped_early = true;
                break;
            }
        }
        if let Some(p) = &opts.progress
            && now >= next_progress
        {
            p(&snapshot(sim_time));
            next_progress = now + opts.progress_every;
        }
        let k = connection_for(ev.agent.as_deref(), n);
        let at_ms = ev.at.timestamp_millis();
        // Bound the skew between connections (see `ClientOptions::max_skew`).
        if let Some(max_skew) = max_skew_ms
            && n > 1
        {
            let need = if ev.kind == "heartbeat" { at_ms } else { at_ms.saturating_sub(max_skew) };
            loop {
                acks_rx.borrow_and_update();
                let mut blocked = false;
                for (j, lane) in lanes.iter_mut().enumerate() {
                    if j != k && lane.oldest_unacked_ms().is_some_and(|o| o < need) {
                        blocked = true;
                        if !lane.hand_over(lone).await {
                            break 'events;
                        }
                    }
                }
                if !blocked {
                    break;
                }
                skew_waits += 1;
                let changed = match deadline {
                    Some(d) => match tokio::time::timeout_at(d, acks_rx.changed()).await {
                        Ok(r) => r,
                        Err(_) => {
                            stopped_early = true;
                            break 'events;
                        }
                    },
                    None => acks_rx.changed().await,
                };
                if changed.is_err() {
                    break 'events; // every connection ended: their tasks say why
                }
            }
        }
        let lane = &mut lanes[k];
        if lane.assembling.count > 0
            && lane.assembling.buf.len() + ev.json.len() + 2 > MAX_FRAME_BYTES
            && !lane.hand_over(lone).await
        {
            break;
        }
        lane.assembling.push(&ev.json, at_ms, index);
        sim_time = Some(ev.at);
        if lane.assembling.count >= opts.batch && !lane.hand_over(lone).await {
            break;
        }
    }
    for lane in &mut lanes {
        // A failed hand-over means that connection already ended; its task reports why.
        lane.hand_over(lone).await;
    }
    drop(lanes);

    let mut first_error = None;
    let mut merged: Option<ConnStats> = None;
    for task in tasks {
        match task.await {
            Ok(Ok(stats)) => match &mut merged {
                None => merged = Some(stats),
                Some(m) => merge(m, stats),
            },
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(ClientError::Internal(format!("a connection task failed: {e}")));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let elapsed = t0.elapsed();
    if let Some(p) = &opts.progress {
        p(&snapshot(sim_time));
    }
    let stats = match merged {
        Some(s) => s,
        None => ConnStats::new()?,
    };
    let h = &stats.latency;
    let events_sent = counters.events_sent.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64();
    Ok(Report {
        url: opts.url.clone(),
        connections: n,
        events_sent,
        frames_sent: counters.frames_sent.load(Ordering::Relaxed),
        accepted: counters.accepted.load(Ordering::Relaxed),
        duplicate: counters.duplicate.load(Ordering::Relaxed),
        rejected_by_code: stats.rejected_by_code.clone(),
        rejected_samples: stats.samples.clone(),
        mismatched_acks: stats.mismatched,
        elapsed,
        events_per_sec: if secs > 0.0 { events_sent as f64 / secs } else { 0.0 },
        ack_latency_us: AckLatency {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: if h.is_empty() { 0.0 } else { h.mean() },
        },
        last_seq: stats.last_seq,
        stopped_early,
        skew_waits,
    })
}

/// `t0 + secs`, saturating at about a year for absurd values.
fn offset(t0: Instant, secs: f64) -> Instant {
    let far = Duration::from_secs(365 * 86_400);
    let d = Duration::try_from_secs_f64(secs).unwrap_or(far).min(far);
    t0.checked_add(d).unwrap_or(t0)
}

fn progress_snapshot(c: &Counters, t0: Instant, sim_time: Option<DateTime<FixedOffset>>) -> Progress {
    let accepted = c.accepted.load(Ordering::Relaxed);
    let duplicate = c.duplicate.load(Ordering::Relaxed);
    let rejected = c.rejected.load(Ordering::Relaxed);
    Progress {
        events_sent: c.events_sent.load(Ordering::Relaxed),
        frames_sent: c.frames_sent.load(Ordering::Relaxed),
        events_acked: accepted + duplicate + rejected,
        accepted,
        duplicate,
        rejected,
        elapsed: t0.elapsed(),
        sim_time,
    }
}

fn merge(into: &mut ConnStats, from: ConnStats) {
    for (code, n) in from.rejected_by_code {
        *into.rejected_by_code.entry(code).or_default() += n;
    }
    for s in from.samples {
        if into.samples.len() < REJECTION_SAMPLES {
            into.samples.push(s);
        }
    }
    into.mismatched += from.mismatched;
    into.last_seq = into.last_seq.max(from.last_seq);
    if let Err(e) = into.latency.add(&from.latency) {
        tracing::warn!(error = %e, "could not merge a latency histogram");
    }
}

/// One connection: this task writes, a reader task matches replies.
async fn connection(
    ws: Ws,
    mut rx: mpsc::Receiver<Batch>,
    max_in_flight: usize,
    ends: ConnEnds,
    url: String,
) -> Result<ConnStats, ClientError> {
    let (mut sink, stream) = ws.split();
    let window = Arc::new(Semaphore::new(max_in_flight));
    let (pending_tx, pending_rx) = mpsc::unbounded_channel::<InFlight>();
    let counters = ends.counters.clone();
    let reader = tokio::spawn(read_replies(stream, pending_rx, window.clone(), ends, url.clone()));

    let mut write_error = None;
    let mut unflushed = false;
    loop {
        let batch = if unflushed {
            match rx.try_recv() {
                Ok(b) => b,
                Err(mpsc::error::TryRecvError::Empty) => {
                    if let Err(e) = sink.flush().await {
                        write_error = Some(e);
                        break;
                    }
                    unflushed = false;
                    match rx.recv().await {
                        Some(b) => b,
                        None => break,
                    }
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        } else {
            match rx.recv().await {
                Some(b) => b,
                None => break,
            }
        };
        let permit = match window.try_acquire() {
            Ok(p) => p,
            Err(TryAcquireError::NoPermits) => {
                // The window is full: what is queued must go out before replies can come.
                if unflushed {
                    if let Err(e) = sink.flush().await {
                        write_error = Some(e);
                        break;
                    }
                    unflushed = false;
                }
                match window.acquire().await {
                    Ok(p) => p,
                    Err(_) => break, // the reader ended: it reports why
                }
            }
            Err(TryAcquireError::Closed) => break,
        };
        permit.forget();
        let in_flight = InFlight { sent: Instant::now(), events: batch.events, last_index: batch.last_index };
        if pending_tx.send(in_flight).is_err() {
            break;
        }
        if let Err(e) = sink.feed(Message::Text(batch.frame.into())).await {
            write_error = Some(e);
            break;
        }
        unflushed = true;
        counters.frames_sent.fetch_add(1, Ordering::Relaxed);
        counters.events_sent.fetch_add(batch.events, Ordering::Relaxed);
    }
    if unflushed
        && write_error.is_none()
        && let Err(e) = sink.flush().await
    {
        write_error = Some(e);
    }
    drop(pending_tx);
    drop(rx);

    let joined = if write_error.is_some() {
        // The socket is broken; the reader sees that too, but do not wait forever.
        match tokio::time::timeout(Duration::from_secs(5), reader).await {
            Ok(j) => j,
            Err(_) => {
                let source = write_error.map(Box::new);
                return Err(match source {
                    Some(source) => ClientError::Connection { url, source },
                    None => ClientError::Internal("reader did not finish".into()),
                });
            }
        }
    } else {
        reader.await
    };
    let (stream, stats) = match joined {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return Err(e),
        Err(e) => return Err(ClientError::Internal(format!("reader task failed: {e}"))),
    };
    if let Some(e) = write_error {
        return Err(ClientError::Connection { url, source: Box::new(e) });
    }
    close(sink, stream, &url).await;
    Ok(stats)
}

/// The close handshake: send a close frame, then read until the server's close (at most 5 s).
async fn close(mut sink: SplitSink<Ws, Message>, mut stream: SplitStream<Ws>, url: &str) {
    if let Err(e) = sink.close().await {
        tracing::debug!(url, error = %e, "closing the WebSocket");
        return;
    }
    let drain = async {
        while let Some(m) = stream.next().await {
            if m.is_err() {
                break;
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(5), drain).await.is_err() {
        tracing::warn!(url, "the server did not complete the close handshake within 5 s");
    }
}

async fn read_replies(
    mut stream: SplitStream<Ws>,
    mut pending: mpsc::UnboundedReceiver<InFlight>,
    window: Arc<Semaphore>,
    ends: ConnEnds,
    url: String,
) -> Result<(SplitStream<Ws>, ConnStats), ClientError> {
    let result = read_loop(&mut stream, &mut pending, &window, &ends, &url).await;
    // On failure, wake a writer waiting for the window so it stops too, and release a
    // dispatcher waiting for this connection's acknowledgements.
    window.close();
    ends.acked.store(u64::MAX, Ordering::Release);
    ends.acks.send_modify(|n| *n += 1);
    result.map(|stats| (stream, stats))
}

async fn read_loop(
    stream: &mut SplitStream<Ws>,
    pending: &mut mpsc::UnboundedReceiver<InFlight>,
    window: &Semaphore,
    ends: &ConnEnds,
    url: &str,
) -> Result<ConnStats, ClientError> {
    let counters = &ends.counters;
    let mut stats = ConnStats::new()?;
    while let Some(frame) = pending.recv().await {
        let text = loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => break t,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Binary(_))) => {
                    return Err(ClientError::BadReply {
                        url: url.to_owned(),
                        message: "a binary frame where a JSON text acknowledgement was expected".into(),
                    });
                }
                Some(Ok(Message::Close(cf))) => {
                    return Err(ClientError::Closed {
                        url: url.to_owned(),
                        code: cf.as_ref().map(|c| u16::from(c.code)),
                        reason: cf.map(|c| c.reason.to_string()).unwrap_or_default(),
                        unacked: 1 + pending.len(),
                    });
                }
                Some(Err(e)) => return Err(ClientError::Connection { url: url.to_owned(), source: Box::new(e) }),
                None => {
                    return Err(ClientError::Closed {
                        url: url.to_owned(),
                        code: None,
                        reason: String::new(),
                        unacked: 1 + pending.len(),
                    });
                }
            }
        };
        let latency_us = u64::try_from(frame.sent.elapsed().as_micros()).unwrap_or(u64::MAX).max(1);
        stats.latency.saturating_record(latency_us);
        let ack: Ack = serde_json::from_str(text.as_str()).map_err(|e| ClientError::BadReply {
            url: url.to_owned(),
            message: format!("{e} in {:?}", text.as_str().chars().take(200).collect::<String>()),
        })?;
        let mut rejected_events = 0u64;
        for r in &ack.rejected {
            // A rejection of the whole frame (index null) rejects all of its events.
            let n = if r.index.is_none() && ack.accepted == 0 && ack.duplicate == 0 { frame.events } else { 1 };
            rejected_events += n;
            *stats.rejected_by_code.entry(r.code.clone()).or_default() += n;
            if stats.samples.len() < REJECTION_SAMPLES {
                stats.samples.push(r.clone());
            }
        }
        if ack.accepted + ack.duplicate + rejected_events != frame.events {
            stats.mismatched += 1;
            tracing::warn!(
                url,
                frame_events = frame.events,
                accepted = ack.accepted,
                duplicate = ack.duplicate,
                rejected = rejected_events,
                "a reply does not account for every event of its frame"
            );
        }
        counters.accepted.fetch_add(ack.accepted, Ordering::Relaxed);
        counters.duplicate.fetch_add(ack.duplicate, Ordering::Relaxed);
        counters.rejected.fetch_add(rejected_events, Ordering::Relaxed);
        stats.last_seq = stats.last_seq.max(ack.last_seq);
        ends.acked.store(frame.last_index, Ordering::Release);
        ends.acks.send_modify(|n| *n += 1);
        window.add_permits(1);
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_is_stable_and_spreads() {
        assert_eq!(connection_for(None, 8), 0);
        assert_eq!(connection_for(Some("agent-001"), 1), 0);
        let a = connection_for(Some("agent-001"), 8);
        assert_eq!(a, connection_for(Some("agent-001"), 8));
        let used: std::collections::BTreeSet<usize> =
            (1..=50).map(|i| connection_for(Some(&format!("agent-{i:03}")), 4)).collect();
        assert_eq!(used.len(), 4, "50 agents should use all 4 connections: {used:?}");
    }

    #[test]
    fn frames_are_arrays_or_lone_objects() {
        let mut a = Assembling::default();
        assert!(a.take(true).is_none());
        a.push(r#"{"id":"1"}"#, 5, 1);
        let b = a.take(true).unwrap();
        assert_eq!((b.frame.as_str(), b.events, b.last_index), (r#"{"id":"1"}"#, 1, 1));
        a.push(r#"{"id":"1"}"#, 5, 1);
        assert_eq!(a.take(false).unwrap().frame, r#"[{"id":"1"}]"#);
        a.push(r#"{"id":"1"}"#, 7, 3);
        a.push(r#"{"id":"2"}"#, 9, 4);
        assert_eq!(a.first_ms, 7);
        let b = a.take(false).unwrap();
        assert_eq!((b.frame.as_str(), b.events, b.last_index), (r#"[{"id":"1"},{"id":"2"}]"#, 2, 4));
        assert_eq!(a.count, 0);
    }

    #[test]
    fn options_are_checked() {
        let o = |f: fn(&mut ClientOptions)| {
            let mut o = ClientOptions::new("ws://127.0.0.1:1/v1/ingest", "t");
            f(&mut o);
            o.validate()
        };
        assert!(o(|_| {}).is_ok());
        assert!(o(|o| o.batch = 0).is_err());
        assert!(o(|o| o.batch = 1001).is_err());
        assert!(o(|o| o.connections = 0).is_err());
        assert!(o(|o| o.max_in_flight = 0).is_err());
        assert!(o(|o| o.speed = Some(f64::NAN)).is_err());
        assert!(o(|o| o.rate = Some(-1.0)).is_err());
        let e = o(|o| {
            o.speed = Some(1.0);
            o.rate = Some(1.0)
        })
        .unwrap_err();
        assert!(e.to_string().contains("either speed or rate"), "{e}");
        assert!(!format!("{:?}", ClientOptions::new("ws://x", "s3cret")).contains("s3cret"));
    }

    #[test]
    fn error_messages_name_url_and_status() {
        let e = ClientError::Rejected { url: "ws://h/v1/ingest".into(), status: 401, body: "no token".into() };
        let s = e.to_string();
        assert!(
            s.contains("ws://h/v1/ingest") && s.contains("401") && s.contains("Unauthorized") && s.contains("no token"),
            "{s}"
        );
        let e = ClientError::Closed { url: "ws://h".into(), code: Some(1009), reason: String::new(), unacked: 2 };
        assert!(e.to_string().contains("1009, message too big"), "{e}");
    }

    #[test]
    fn report_displays_a_summary_and_serializes() {
        let r = Report {
            url: "ws://h/v1/ingest".into(),
            connections: 2,
            events_sent: 10,
            frames_sent: 2,
            accepted: 8,
            duplicate: 1,
            rejected_by_code: BTreeMap::from([("missing_field".to_owned(), 1)]),
            rejected_samples: vec![RejectedEvent {
                index: Some(3),
                id: Some("e-4".into()),
                code: "missing_field".into(),
                message: "`login` needs `station`".into(),
            }],
            mismatched_acks: 0,
            elapsed: Duration::from_millis(1500),
            events_per_sec: 6.67,
            ack_latency_us: AckLatency {
                count: 2,
                p50: 1200,
                p90: 1500,
                p99: 1500,
                p999: 1500,
                max: 1500,
                mean: 1350.0,
            },
            last_seq: Some(42),
            stopped_early: false,
            skew_waits: 0,
        };
        let s = r.to_string();
        for part in [
            "sent 10 events in 2 frames",
            "accepted 8, duplicate 1, rejected 1",
            "missing_field: 1",
            "p50 1.20",
            "last seq 42",
        ] {
            assert!(s.contains(part), "{part:?} not in\n{s}");
        }
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["elapsed_secs"], 1.5);
        assert_eq!(j["rejected_by_code"]["missing_field"], 1);
        assert_eq!(j["ack_latency_us"]["p99"], 1500);
    }
}
