//! Seatwatch's simulated call centre.
//!
//! Two halves:
//!
//! - [`generator`]: a pure, deterministic discrete-event simulation of a call centre's
//!   day(s) that yields CONTRACT.md §3 event objects in time order, with a knob for how
//!   often the rules of seed-rules.md are broken. No I/O, no wall clock: the same
//!   [`SimConfig`] always gives the same bytes.
//! - [`client`]: an async WebSocket producer and load generator that sends any stream of
//!   [`SimEvent`]s to a `GET /v1/ingest` endpoint over several pipelined connections,
//!   keeping each agent's events in order, paced by simulated time, a fixed rate or as
//!   fast as the server acknowledges, and reports throughput and acknowledgement latency.
//!
//! `seatwatch demo` and `seatwatch simulate` are thin shells around these two.

pub mod client;
pub mod generator;
mod json;
mod rng;

pub use client::{
    AckLatency, ClientError, ClientOptions, Progress, ProgressFn, RejectedEvent, Report, connection_for, run,
};
pub use generator::{Generator, SimConfig, SimConfigError, SimEvent, generate};
