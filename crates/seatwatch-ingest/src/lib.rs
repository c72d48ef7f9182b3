//! Seatwatch's server, shaped like tokio's mini-redis:
//!
//! * [`frame`]: the codec — a WebSocket text frame in, validated events and the reply
//!   out (pure, no I/O);
//! * [`connection`]: one ingest WebSocket — reads frames, submits their events to the
//!   log in order, answers each frame once its events are durable, applies
//!   backpressure;
//! * [`api`]: the HTTP read API, `/v1/stream`, `/metrics`, health;
//! * [`exposition`]: one tenant's view of the rendered `/metrics` text;
//! * [`server`]: `server::run(listener, state, shutdown)` — the router, the connection
//!   cap, graceful shutdown with a `CancellationToken` and a `TaskTracker`;
//! * [`follower`]: folds committed records into the projections and fans out pushes;
//! * [`ticker`]: writes tick records for wall-clock tenants;
//! * [`snapshot`]: periodic and shutdown snapshots of the projections, loaded at start.
//!
//! The server never computes a projection itself: it appends to the log and folds the
//! log, so what a supervisor sees live is what an auditor's replay computes.

pub mod api;
pub mod auth;
pub mod connection;
pub mod exposition;
pub mod follower;
pub mod frame;
pub mod limits;
pub mod listener;
pub mod server;
pub mod snapshot;
pub mod telemetry;
pub mod ticker;

pub use server::{AppState, ServerOptions, run};
