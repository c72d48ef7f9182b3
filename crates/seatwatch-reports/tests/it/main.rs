//! Integration tests of the reports: golden replays of simulated logs, property tests
//! (live projections equal a replay of the same log), the supervision report on a
//! hand-made log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attendance;
mod golden;
mod props;
mod supervision;
mod support;
