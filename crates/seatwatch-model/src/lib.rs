//! Seatwatch's event model.
//!
//! This crate is the bottom of the dependency graph. It knows what a CTI event is
//! (CONTRACT.md §3), how a producer's JSON becomes a typed [`Event`] or a
//! [`Rejection`] with the contract's code, what the log stores for each accepted event
//! (the [`Envelope`]), and the contract every projector follows ([`Projector`]).
//!
//! It must not know about sockets, files, sled, tokio or the wall clock: everything
//! here is a pure function of its inputs, so live ingest and an auditor's replay years
//! later compute the same thing.

mod caller;
pub mod chunked;
mod duration;
mod event;
mod export;
mod idhash;
pub mod idmap;
pub mod json;
mod projector;
mod time;
mod validate;

pub use caller::{CallerKey, CallerPolicy, CallerRef};
pub use chunked::Chunked;
pub use compact_str::CompactString;
pub use duration::Dur;
pub use event::{AgentId, CallId, Envelope, Event, EventKind, QueueId, RecordKind, ShiftHours, Text};
pub use idhash::IdHash;
pub use idmap::IdMap;
pub use json::Json;
pub use projector::{Clock, Projector, fold};
pub use time::{Date, NANOS_PER_SEC, OptTs, TimeOfDay, Ts, rings_heard};
pub use validate::{
    Frame, FrameError, IngestOptions, MAX_AGENT_BYTES, MAX_EVENTS_PER_FRAME, MAX_ID_BYTES, RejectCode, Rejection,
    TYPES, parse_frame, validate_event,
};

/// The bincode configuration every Seatwatch encoding uses. Changing it changes the
/// on-disk format: the log's golden-file test will fail if you do.
pub const BINCODE_CONFIG: bincode::config::Configuration = bincode::config::standard();
