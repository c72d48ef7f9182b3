//! Seatwatch's audit reports, rebuilt from the log alone (`seatwatch replay`).
//!
//! A [`Replay`] is a [`Projector`](seatwatch_model::Projector): feed it every record of a
//! log in order (the caller reads the log; this crate does no I/O and never reads the
//! clock), then ask it for a [`Report`] and render that as JSON lines, CSV or a table:
//!
//! | report | one row per | from |
//! |---|---|---|
//! | [`ReportKind::Alarms`] | alarm (the objects `GET /v1/alarms` returns, plus `tenant`) | the compliance projection |
//! | [`ReportKind::Intervals`] | interval and queue, plus the total (`queue: null`) | the occupancy projection |
//! | [`ReportKind::Attendance`] | agent and local day: first login, last logout, late / early / absent, leave, logged-in time | the schedule, the sessions and the attendance alarms |
//! | [`ReportKind::Agents`] | span of an agent's state timeline | the occupancy projection |
//! | [`ReportKind::Scorecard`] | agent and local month (seed art. 29) | calls, state time, attendance, alarms by rule, QA coverage |
//! | [`ReportKind::Supervision`] | agent and local ISO week (seed art. 28, 31) | the `monitored` / `callback_sampled` events counted as the `qa_coverage_low` rule counts them, the rule's minimums, whether the week met them |
//!
//! The projections are the very ones the server runs ([`seatwatch_engine::Engine`]), built
//! from the same configuration, so a report agrees with what supervisors saw live. Output
//! is deterministic: the same log and configuration give byte-identical text (ordered
//! maps everywhere, floats printed by one formatter, times in UTC RFC 3339).
//!
//! Exact definitions of every column are in `docs/operations.md`.

mod people;
mod render;
mod replay;
mod rows;
mod weeks;

pub use render::Format;
pub use replay::Replay;
pub use rows::{AgentSpanRow, AlarmRow, AttendanceRow, IntervalReportRow, ScorecardRow, SupervisionRow};

use seatwatch_model::Ts;
use std::fmt;
use std::str::FromStr;

/// Which report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReportKind {
    /// Every alarm, with its evidence.
    Alarms,
    /// Interval statistics per queue and in total.
    Intervals,
    /// Attendance per agent per local day.
    Attendance,
    /// Each agent's state timeline.
    Agents,
    /// The monthly agent scorecard.
    Scorecard,
    /// Supervision evidence: QA per agent per local ISO week.
    Supervision,
}

impl ReportKind {
    /// Every report, in the order of the contract.
    pub const ALL: [ReportKind; 6] = [
        ReportKind::Alarms,
        ReportKind::Intervals,
        ReportKind::Attendance,
        ReportKind::Agents,
        ReportKind::Scorecard,
        ReportKind::Supervision,
    ];

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Alarms => "alarms",
            ReportKind::Intervals => "intervals",
            ReportKind::Attendance => "attendance",
            ReportKind::Agents => "agents",
            ReportKind::Scorecard => "scorecard",
            ReportKind::Supervision => "supervision",
        }
    }
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReportKind {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, ReportError> {
        ReportKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| ReportError::UnknownReport(s.chars().take(64).collect()))
    }
}

/// Which rows a report keeps. Every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only rows at or after this instant (for rows that span time: rows that end after it).
    pub from: Option<Ts>,
    /// Only rows before this instant (for rows that span time: rows that start before it).
    pub to: Option<Ts>,
    /// Only this tenant.
    pub tenant: Option<String>,
    /// Only this agent.
    pub agent: Option<String>,
}

impl Filter {
    /// Whether the span `[start, end)` overlaps the filter's time range.
    pub(crate) fn overlaps(&self, start: Ts, end: Ts) -> bool {
        self.from.is_none_or(|f| end > f) && self.to.is_none_or(|t| start < t)
    }

    /// Whether `agent` passes the agent filter.
    pub(crate) fn agent_ok(&self, agent: &str) -> bool {
        self.agent.as_deref().is_none_or(|a| a == agent)
    }
}

/// Why a report cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Not a report name.
    #[error("unknown report {0:?}; reports: alarms, intervals, attendance, agents, scorecard, supervision")]
    UnknownReport(String),
    /// Not a format name.
    #[error("unknown format {0:?}; formats: jsonl, csv, table")]
    UnknownFormat(String),
    /// `--tenant` names a tenant with no record in the log.
    #[error("tenant {tenant:?} has no records in this log; tenants in it: {known}")]
    UnknownTenant {
        /// The tenant asked for.
        tenant: String,
        /// The tenants the log holds, comma-separated (`none` for an empty log).
        known: String,
    },
    /// `--agent` with a report that is not per agent.
    #[error("the {0} report is per queue, not per agent: drop the agent filter")]
    NotPerAgent(ReportKind),
    /// `from` is not before `to`.
    #[error("the time range is empty: `from` ({from}) must be before `to` ({to})")]
    EmptyRange {
        /// The start.
        from: Ts,
        /// The end.
        to: Ts,
    },
    /// The replay was built without what this report needs.
    #[error("this replay was not built for the {0} report (build it with Replay::new(config, &[{0}]) or Replay::all)")]
    NotCollected(ReportKind),
}

/// A report's rows, ready to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Which report.
    pub kind: ReportKind,
    /// Each row as one compact JSON object (the JSON lines form), in report order.
    pub rows: Vec<String>,
}

impl Report {
    /// The report as text in `format`; every line ends with `\n`.
    pub fn render(&self, format: Format) -> String {
        render::render(self, format)
    }
}
