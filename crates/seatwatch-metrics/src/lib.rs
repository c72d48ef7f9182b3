//! Seatwatch's Prometheus projection.
//!
//! Two parts, both pure (no I/O, no clock, no tokio):
//!
//! * [`CallHistograms`], a [`seatwatch_model::Projector`] folded with the rest of the
//!   engine, record by record: the answer-delay and handle-time samples a histogram needs
//!   (the occupancy projector keeps only their sums);
//! * [`Publisher`], which at scrape time sets every call-centre series of the process's
//!   `metrics` recorder from the engine's current state: counters with
//!   [`metrics::Counter::absolute`] from the cumulative totals of the fold, gauges from
//!   the live state, histograms fed exactly the samples folded since the last scrape.
//!
//! So `/metrics` is a deterministic function of the log position: after a restart the
//! fold (replayed, or restored from a snapshot) gives the same counter values as before
//! the stop, and `rate()` / `increase()` see no reset. Publishing at scrape time rather
//! than per record keeps the hot fold free of recorder lookups (a labelled `counter!`
//! costs 160–250 ns, more than a whole fold step) and makes the cost proportional to the
//! number of series, once per scrape, whatever the event rate. `docs/metrics.md` lists
//! every metric with its labels and formula.
//!
//! Customer data never becomes a label: labels are `tenant`, `queue`, `state`, `rule`,
//! `window` and, only for tenants with `agent_metrics = true`, `agent` (at most
//! [`names::AGENT_SERIES_CAP`] agents per tenant).

mod histograms;
pub mod names;
mod publish;

pub use histograms::{CallHistograms, Hist, QueueHists, SnapshotError};
pub use names::describe;
pub use publish::{Publisher, Sources};
