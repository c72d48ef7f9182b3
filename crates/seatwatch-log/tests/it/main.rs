//! Integration tests of seatwatch-log (one binary; see each module).

// Helpers outside `#[test]` functions panic on failure too: that is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod backup;
mod crash;
mod fixtures;
mod fuzz;
mod golden;
mod index;
mod props;
mod repair;
mod sleddamage;
mod tamper;
