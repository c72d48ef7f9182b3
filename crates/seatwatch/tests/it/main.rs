//! End-to-end tests of the `seatwatch` binary: real processes, real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backup;
mod cli;
mod corrupt;
mod crash;
mod crashmatrix;
mod proc;
mod prometheus;
mod replay;
mod secrets;
mod tamper;
