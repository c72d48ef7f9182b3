//! The process's Prometheus metrics, through the `metrics` facade.
//!
//! One Prometheus recorder per process, installed on first use; `/metrics` renders it
//! (no second listener). Two kinds of series live in it:
//!
//! * the engine's own (ingest, log, projection, connections, ticks), counted here as
//!   things happen — process counters that start at zero with the process;
//! * the call centre's (agents, queues, calls, service level, alarms), which are a
//!   function of the log: [`publish`] sets them from the folded projections at each
//!   scrape (see the `seatwatch-metrics` crate), so they continue across restarts.
//!
//! `docs/metrics.md` lists every series.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use seatwatch_engine::metrics::{Publisher, Sources, names};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static PUBLISHER: OnceLock<Mutex<Publisher>> = OnceLock::new();

/// Ack and log flush latency buckets, in seconds.
pub const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Events received, by `result` (`accepted`, `duplicate`, `rejected`) and, for
/// rejections, `code`.
pub const INGEST_EVENTS: &str = "seatwatch_ingest_events_total";
/// Frames received.
pub const INGEST_FRAMES: &str = "seatwatch_ingest_frames_total";
/// Frame read → reply sent.
pub const ACK_LATENCY: &str = "seatwatch_ingest_ack_latency_seconds";
/// Append submitted → durable.
pub const FLUSH_LATENCY: &str = "seatwatch_log_flush_latency_seconds";
/// Tick records written.
pub const TICKS: &str = "seatwatch_ticks_total";
/// The log's last sequence number.
pub const LOG_LAST_SEQ: &str = "seatwatch_log_last_seq";
/// The data directory's size.
pub const LOG_SIZE: &str = "seatwatch_log_size_bytes";
/// Group commits (flush + fsync).
pub const LOG_COMMITS: &str = "seatwatch_log_commits_total";
/// Append requests answered by the log writer.
pub const LOG_REQUESTS: &str = "seatwatch_log_append_requests_total";
/// Records committed but not yet folded into the projections.
pub const PROJECTION_LAG: &str = "seatwatch_projection_lag_records";
/// Records folded into the projections.
pub const PROJECTION_POSITION: &str = "seatwatch_projection_position";
/// Open ingest WebSocket connections.
pub const CONNECTIONS: &str = "seatwatch_ingest_connections";
/// 1 when the projections caught up with the log at start (as `/readyz`).
pub const READY: &str = "seatwatch_ready";
/// Always 1, with the version as a label.
pub const BUILD_INFO: &str = "seatwatch_build_info";
/// TCP connections accepted by the listener.
pub const SOCKETS_ACCEPTED: &str = "seatwatch_sockets_accepted_total";
/// Connections closed at once because `max_sockets` were open (a flood shed).
pub const SOCKETS_SHED: &str = "seatwatch_sockets_shed_total";
/// Connections closed because no whole request head (or TLS handshake) arrived within
/// `handshake_timeout` (slowloris).
pub const SOCKETS_TIMED_OUT: &str = "seatwatch_sockets_timed_out_total";
/// HTTP sockets open now (requests, handshakes, idle keep-alive; not upgraded WebSockets).
pub const SOCKETS_OPEN: &str = "seatwatch_sockets_open";
/// WebSocket upgrades refused with 503 because `max_connections` were open, by
/// `endpoint` (`ingest`, `stream`).
pub const CONNECTIONS_REFUSED: &str = "seatwatch_connections_refused_total";
/// Events rejected (`internal`, "send it again") because their token was over its
/// `rate_limit`, by `token` (the token's name).
pub const RATE_LIMITED: &str = "seatwatch_ingest_rate_limited_events_total";

/// Every engine metric name (for tests and docs checks).
pub const ENGINE_METRICS: &[&str] = &[
    INGEST_EVENTS,
    INGEST_FRAMES,
    ACK_LATENCY,
    FLUSH_LATENCY,
    TICKS,
    LOG_LAST_SEQ,
    LOG_SIZE,
    LOG_COMMITS,
    LOG_REQUESTS,
    PROJECTION_LAG,
    PROJECTION_POSITION,
    CONNECTIONS,
    READY,
    BUILD_INFO,
    SOCKETS_ACCEPTED,
    SOCKETS_SHED,
    SOCKETS_TIMED_OUT,
    SOCKETS_OPEN,
    CONNECTIONS_REFUSED,
    RATE_LIMITED,
];

/// The process's Prometheus handle (installing the recorder the first time).
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let histograms: [(&str, &[f64]); 4] = [
                (ACK_LATENCY, LATENCY_BUCKETS),
                (FLUSH_LATENCY, LATENCY_BUCKETS),
                (names::ANSWER_DELAY, names::ANSWER_DELAY_BUCKETS),
                (names::HANDLE_TIME, names::HANDLE_TIME_BUCKETS),
            ];
            let mut builder = PrometheusBuilder::new();
            for (name, buckets) in histograms {
                builder = match builder.set_buckets_for_metric(Matcher::Full(name.into()), buckets) {
                    Ok(b) => b,
                    // Only an empty bucket list is refused; ours are constants.
                    Err(e) => {
                        tracing::error!(error = %e, metric = name, "histogram buckets refused");
                        PrometheusBuilder::new()
                    }
                };
            }
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics shows only this handle's series");
            }
            describe();
            metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            // Every known series from the start, at 0, so that rate() and the alert rules
            // see a zero rather than nothing.
            for result in ["accepted", "duplicate"] {
                metrics::counter!(INGEST_EVENTS, "result" => result).increment(0);
            }
            for code in seatwatch_model::RejectCode::ALL {
                metrics::counter!(INGEST_EVENTS, "result" => "rejected", "code" => code.as_str()).increment(0);
            }
            metrics::counter!(INGEST_FRAMES).increment(0);
            metrics::counter!(TICKS).increment(0);
            for name in [SOCKETS_ACCEPTED, SOCKETS_SHED, SOCKETS_TIMED_OUT] {
                metrics::counter!(name).increment(0);
            }
            for endpoint in ["ingest", "stream"] {
                metrics::counter!(CONNECTIONS_REFUSED, "endpoint" => endpoint).increment(0);
            }
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        INGEST_EVENTS,
        "Events received over /v1/ingest since the process started: count by result (accepted, duplicate, rejected) and, for rejected ones, the reject code."
    );
    describe_counter!(
        INGEST_FRAMES,
        "WebSocket text and binary frames read from /v1/ingest since the process started."
    );
    describe_histogram!(
        ACK_LATENCY,
        Unit::Seconds,
        "Per frame: reply sent - frame read (validation, durable append and waiting for earlier frames' replies)."
    );
    describe_histogram!(
        FLUSH_LATENCY,
        Unit::Seconds,
        "Per append request: durable - submitted (queueing for the group commit, write, flush and fsync)."
    );
    describe_counter!(TICKS, "Tick records written for wall-clock tenants since the process started.");
    describe_gauge!(LOG_LAST_SEQ, "Sequence number of the last durable record of the log (0 when empty).");
    describe_gauge!(LOG_SIZE, Unit::Bytes, "Size of the data directory on disk, bytes.");
    describe_counter!(
        LOG_COMMITS,
        "Group commits of the log writer (each one flush + fsync) since the process started."
    );
    describe_counter!(LOG_REQUESTS, "Append requests answered by the log writer since the process started.");
    describe_gauge!(PROJECTION_LAG, "Records behind the log head: log last seq - the projections' position.");
    describe_gauge!(PROJECTION_POSITION, "Sequence number of the last record folded into the projections.");
    describe_gauge!(CONNECTIONS, "Open ingest WebSocket connections.");
    describe_gauge!(READY, "1 once the projections caught up with the log found at start (as /readyz), else 0.");
    describe_gauge!(BUILD_INFO, "Always 1; the `version` label is the running seatwatch version.");
    describe_counter!(SOCKETS_ACCEPTED, "TCP connections accepted by the listener since the process started.");
    describe_counter!(
        SOCKETS_SHED,
        "Connections closed at once on accept because max_sockets HTTP sockets were open (a flood shed)."
    );
    describe_counter!(
        SOCKETS_TIMED_OUT,
        "Connections closed because no whole request head (or TLS handshake) arrived within handshake_timeout of opening or of the previous request (slowloris)."
    );
    describe_gauge!(
        SOCKETS_OPEN,
        "HTTP sockets open now (requests, handshakes, idle keep-alive); upgraded WebSockets are not counted."
    );
    describe_counter!(
        CONNECTIONS_REFUSED,
        "WebSocket upgrades refused with 503 because max_connections WebSockets were open, by endpoint (ingest, stream)."
    );
    describe_counter!(
        RATE_LIMITED,
        "Events rejected with internal (not stored, send it again) because their token was over its rate_limit, by token name; also counted in seatwatch_ingest_events_total."
    );
    seatwatch_engine::metrics::describe();
}

/// Set the call-centre series from the projections (at scrape time). Serialised: the
/// publisher remembers what it gave the recorder's histograms.
pub fn publish(sources: &Sources<'_>) {
    let publisher = PUBLISHER.get_or_init(|| Mutex::new(Publisher::new()));
    let mut p = publisher.lock().unwrap_or_else(|e| e.into_inner());
    p.publish(sources);
}

/// Count a received frame.
pub fn frame() {
    metrics::counter!(INGEST_FRAMES).increment(1);
}

/// Count `n` events with `result` (`accepted` or `duplicate`).
pub fn events(result: &'static str, n: u64) {
    if n > 0 {
        metrics::counter!(INGEST_EVENTS, "result" => result).increment(n);
    }
}

/// Count one rejected event with its reject code.
pub fn rejected(code: &'static str) {
    metrics::counter!(INGEST_EVENTS, "result" => "rejected", "code" => code).increment(1);
}

/// Record a frame's ack latency.
pub fn ack_latency(d: Duration) {
    metrics::histogram!(ACK_LATENCY).record(d.as_secs_f64());
}

/// Record an append request's time to durability.
pub fn flush_latency(d: Duration) {
    metrics::histogram!(FLUSH_LATENCY).record(d.as_secs_f64());
}

/// Count a tick.
pub fn tick() {
    metrics::counter!(TICKS).increment(1);
}

/// Count an accepted TCP connection.
pub fn socket_accepted() {
    metrics::counter!(SOCKETS_ACCEPTED).increment(1);
}

/// Count a connection shed at the socket cap.
pub fn socket_shed() {
    metrics::counter!(SOCKETS_SHED).increment(1);
}

/// Count a connection closed at the handshake timeout.
pub fn socket_timed_out() {
    metrics::counter!(SOCKETS_TIMED_OUT).increment(1);
}

/// Count a WebSocket upgrade refused at the connection cap (`endpoint`: `ingest` or
/// `stream`).
pub fn connection_refused(endpoint: &'static str) {
    metrics::counter!(CONNECTIONS_REFUSED, "endpoint" => endpoint).increment(1);
}

/// Count `n` events of token `token` rejected by its rate limit (`n` = 0 makes the
/// series exist).
pub fn rate_limited(token: &str, n: u64) {
    metrics::counter!(RATE_LIMITED, "token" => token.to_owned()).increment(n);
}
