//! Integration tests of the server through real WebSocket and HTTP clients.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod day;
mod diskfull;
mod fuzz;
mod harness;
mod hostile;
mod ingest;
mod reads;
mod retention;
mod security;
mod tls;
mod wall;
