//! The engine's own metrics (ingest, log, projection), through the `metrics` facade.
//!
//! One Prometheus recorder per process, installed on first use; `/metrics` renders it.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Ack latency buckets, in seconds.
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The process's Prometheus handle (installing the recorder the first time).
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics shows only this handle's series");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "seatwatch_ingest_events_total",
        "Events received over /v1/ingest, by result: accepted, duplicate, or the rejection code."
    );
    metrics::describe_counter!("seatwatch_ingest_frames_total", "WebSocket frames received over /v1/ingest.");
    metrics::describe_histogram!(
        "seatwatch_ingest_ack_latency_seconds",
        metrics::Unit::Seconds,
        "Time from reading a frame to sending its reply (includes the durable append)."
    );
    metrics::describe_counter!("seatwatch_ticks_total", "Tick records written for wall-clock tenants.");
}

/// Count a received frame.
pub fn frame() {
    metrics::counter!("seatwatch_ingest_frames_total").increment(1);
}

/// Count `n` events with `result`.
pub fn events(result: &'static str, n: u64) {
    if n > 0 {
        metrics::counter!("seatwatch_ingest_events_total", "result" => result).increment(n);
    }
}

/// Count one event with `result`.
pub fn event_result(result: &'static str) {
    events(result, 1);
}

/// Record a frame's ack latency.
pub fn ack_latency(d: Duration) {
    metrics::histogram!("seatwatch_ingest_ack_latency_seconds").record(d.as_secs_f64());
}

/// Count a tick.
pub fn tick() {
    metrics::counter!("seatwatch_ticks_total").increment(1);
}
