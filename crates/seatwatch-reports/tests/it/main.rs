//! Integration tests of the reports: golden replays of simulated logs, and property
//! tests (live projections equal a replay of the same log).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod golden;
mod props;
mod support;
