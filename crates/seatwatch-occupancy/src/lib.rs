//! Seatwatch's occupancy projector.
//!
//! [`Occupancy`] folds the log (through [`seatwatch_model::Projector`]) into, per tenant:
//!
//! * live agent state: the agent-set status (logged out, ready, not ready + reason) and the
//!   system activity (ringing, talking, wrap-up) combined into one [`AgentState`], since
//!   when, the station, and today's counters ([`Occupancy::agents`]);
//! * live queue state: waiting calls, the oldest wait, agents by state
//!   ([`Occupancy::queues`]);
//! * calendar intervals (15 minutes by default, aligned to local midnight) per queue and
//!   in total ([`Occupancy::intervals`]), sliding windows of the last 15 and 60 minutes
//!   ([`Occupancy::windows`]) and cumulative counters ([`Occupancy::totals`]).
//!
//! It is pure: no I/O, no wall clock. Time is the tenant's [`seatwatch_model::Clock`],
//! advanced by event timestamps, heartbeats and ticks; figures that depend on elapsed time
//! (time in state, the open interval, windows) are computed up to that clock's `now()`
//! when queried. Every formula, the state precedence and every edge case are documented in
//! `docs/metrics-definitions.md`; the rules in short:
//!
//! * state precedence: `logged_out` > `ringing` / `talking` / `wrap_up` (the activity) >
//!   `not_ready` > `ready`;
//! * an agent's events are applied at the effective time `max(ts, agent's last effective
//!   ts)`, so an event older than the agent's last one is never dropped;
//! * counts land in the interval of their event's `ts`; agent time is split across
//!   interval boundaries; AHT is booked when after-call work ends.

mod book;
use seatwatch_model::idmap as ids;
#[cfg(test)]
mod lazy_tests;
mod localtime;
mod settings;
mod snapshot;
#[cfg(test)]
mod tests;

pub use book::{Figures, IntervalRow, Totals, WindowRow};
pub use settings::{ServiceLevelSettings, Settings, SettingsError, SlFormula, TenantSettings};
pub use snapshot::SnapshotError;

use bincode::{Decode, Encode};
use book::{Book, Share, Stats};
use ids::{IdMap, Key};
use localtime::DayCache;
use seatwatch_model::{
    AgentId, CallId, Chunked, Clock, Date, Envelope, EventKind, NANOS_PER_SEC, OptTs, Projector, QueueId, Text, Ts,
    rings_heard,
};
use settings::{MINUTE_NS, Resolved, Sl};
use snapshot::{Calls, ClockState, Derived};
use std::collections::{BTreeMap, VecDeque};

/// An agent's derived state (CONTRACT.md §4).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, Encode, Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Not logged in.
    LoggedOut,
    /// Logged in, available, no call.
    Ready,
    /// Logged in, 示忙, no call.
    NotReady,
    /// A call is ringing at the agent.
    Ringing,
    /// On a call.
    Talking,
    /// After-call work.
    WrapUp,
}

impl AgentState {
    /// Every state, in the order above.
    pub const ALL: [AgentState; 6] = [
        AgentState::LoggedOut,
        AgentState::Ready,
        AgentState::NotReady,
        AgentState::Ringing,
        AgentState::Talking,
        AgentState::WrapUp,
    ];

    /// The contract's string.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::Ready => "ready",
            AgentState::NotReady => "not_ready",
            AgentState::Ringing => "ringing",
            AgentState::Talking => "talking",
            AgentState::WrapUp => "wrap_up",
        }
    }

    /// Ringing, talking or wrap-up: the time occupancy counts as busy.
    pub fn is_busy(self) -> bool {
        matches!(self, AgentState::Ringing | AgentState::Talking | AgentState::WrapUp)
    }
}

impl std::fmt::Display for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An agent's counters for the tenant-local day of the tenant's clock.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AgentCounters {
    /// The local date the counters are for.
    pub date: Date,
    /// Calls answered.
    pub handled: u64,
    /// Ring-no-answers.
    pub missed: u64,
    /// Seconds ringing.
    pub ringing_seconds: f64,
    /// Seconds talking (there is no hold event in the contract: hold is part of talk).
    pub talk_seconds: f64,
    /// Seconds in wrap-up.
    pub wrap_up_seconds: f64,
    /// Seconds ready and idle.
    pub ready_seconds: f64,
    /// Seconds not ready.
    pub not_ready_seconds: f64,
    /// Seconds logged in: the sum of the five above.
    pub logged_in_seconds: f64,
}

/// One agent as `GET /v1/agents` shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AgentView {
    /// The agent id.
    pub agent: AgentId,
    /// The derived state.
    pub state: AgentState,
    /// When the agent entered `state` (or, for `not_ready`, its current reason).
    pub since: Ts,
    /// The station of the last login; `null` when logged out or never seen logging in.
    pub station: Option<String>,
    /// The not-ready reason, in state `not_ready` only.
    pub reason: Option<String>,
    /// The call the agent is ringing, talking or in wrap-up for, when known.
    pub call: Option<CallId>,
    /// `now − since` by the tenant's clock.
    pub seconds_in_state: f64,
    /// Today's counters (tenant-local day of the tenant's clock).
    pub today: AgentCounters,
    /// The queues the agent belongs to (it was offered or answered calls from them),
    /// sorted.
    pub queues: Vec<QueueId>,
}

/// One queue's live state.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct QueueView {
    /// The queue.
    pub queue: QueueId,
    /// Calls queued and not yet answered, abandoned or ended (ringing ones included).
    pub waiting: u64,
    /// When the longest-waiting call entered the queue.
    pub oldest_waiting_since: Option<Ts>,
    /// How long it has waited, by the tenant's clock.
    pub oldest_wait_seconds: Option<f64>,
    /// Member agents logged in (every state but `logged_out`).
    pub logged_in: u64,
    /// Member agents ready.
    pub ready: u64,
    /// Member agents not ready.
    pub not_ready: u64,
    /// Member agents ringing.
    pub ringing: u64,
    /// Member agents talking.
    pub talking: u64,
    /// Member agents ringing or talking.
    pub on_call: u64,
    /// Member agents in wrap-up.
    pub wrap_up: u64,
}

/// An agent state change, for `/v1/stream` `agent_state` pushes.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AgentStateChange {
    /// The tenant.
    pub tenant: String,
    /// The agent.
    pub agent: AgentId,
    /// The new state.
    pub state: AgentState,
    /// Since when.
    pub since: Ts,
    /// The station.
    pub station: Option<String>,
    /// The not-ready reason (state `not_ready` only).
    pub reason: Option<String>,
    /// The log sequence number of the record that caused the change.
    pub seq: u64,
}

/// One span of an agent's state timeline.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TimelineEntry {
    /// The agent.
    pub agent: AgentId,
    /// The state.
    pub state: AgentState,
    /// From (inclusive).
    pub from: Ts,
    /// To (exclusive); the tenant's clock for the current state.
    pub to: Ts,
    /// Whether this is the agent's current state (still open).
    pub open: bool,
}

/// At most this many changes wait for [`Occupancy::take_changes`]; older ones are dropped
/// (and counted in [`Occupancy::dropped_changes`]).
pub const MAX_PENDING_CHANGES: usize = 65_536;

/// At most this many queues are tracked per tenant; calls of further queues count in the
/// total (`"queue": null`) rows only.
pub const MAX_QUEUES: usize = 1024;

// ---------------------------------------------------------------------------------------
// Internal state

#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
enum Presence {
    LoggedOut,
    Ready,
    NotReady,
}

/// How an agent came to be known: by its own state events, or only by a roster entry (a
/// supervisor's wallboard lists the whole roster, absent agents included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
enum Listing {
    /// The agent has sent state events (listed from then on, whatever the roster says).
    Seen,
    /// Only a roster entry so far: listed as logged out since that entry.
    Rostered,
    /// A roster entry, then `"active": false`, and no state event: not listed.
    Retired,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
enum Act {
    Idle,
    Ringing,
    Talking,
    WrapUp,
}

/// Today's counters in nanoseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
struct Counters {
    date: Option<Date>,
    handled: u64,
    missed: u64,
    ringing_ns: i64,
    talk_ns: i64,
    wrap_ns: i64,
    ready_ns: i64,
    not_ready_ns: i64,
    logged_in_ns: i64,
}

impl Counters {
    /// Start a new day's counters when `date` is later than the current one; returns
    /// whether `date` is the counters' day.
    fn roll(&mut self, date: Date) -> bool {
        if self.date.is_none_or(|d| d < date) {
            *self = Counters { date: Some(date), ..Counters::default() };
        }
        self.date == Some(date)
    }

    fn add_time(&mut self, tz: chrono_tz::Tz, days: &mut DayCache, from: i64, to: i64, state: AgentState) {
        if state == AgentState::LoggedOut {
            return;
        }
        let mut a = from;
        while a < to {
            let d = days.get(tz, a);
            let b = d.end.min(to);
            if self.roll(d.date) {
                let dt = b - a;
                let slot = match state {
                    AgentState::Ready => &mut self.ready_ns,
                    AgentState::NotReady => &mut self.not_ready_ns,
                    AgentState::Ringing => &mut self.ringing_ns,
                    AgentState::Talking => &mut self.talk_ns,
                    AgentState::WrapUp | AgentState::LoggedOut => &mut self.wrap_ns,
                };
                *slot = slot.saturating_add(dt);
                self.logged_in_ns = self.logged_in_ns.saturating_add(dt);
            }
            a = b;
        }
    }

    fn view(&self) -> AgentCounters {
        let s = |ns: i64| ns as f64 / NANOS_PER_SEC as f64;
        AgentCounters {
            date: self.date.unwrap_or(Date(0)),
            handled: self.handled,
            missed: self.missed,
            ringing_seconds: s(self.ringing_ns),
            talk_seconds: s(self.talk_ns),
            wrap_up_seconds: s(self.wrap_ns),
            ready_seconds: s(self.ready_ns),
            not_ready_seconds: s(self.not_ready_ns),
            logged_in_seconds: s(self.logged_in_ns),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Encode, Decode)]
struct Agent {
    id: AgentId,
    presence: Presence,
    reason: Option<Text>,
    station: Option<Text>,
    act: Act,
    /// The call of `act` (empty when none is known).
    call: Key,
    call_queue: Option<u32>,
    /// When the agent answered the call of `act` (talking, wrap-up after a talk).
    answered_at: OptTs,
    since: Ts,
    /// The effective time of the agent's last event: its state holds from here.
    last: Ts,
    /// From when the book's intervals hold the agent's time in its current state (its
    /// `last`, or later when that was more than `retention` before the clock: the eager
    /// booking this replaced never booked time older than that).
    interval_from: i64,
    /// Bumped whenever `station` / `reason` change.
    station_ver: u32,
    reason_ver: u32,
    /// Queue indexes, sorted.
    members: Vec<u32>,
    today: Counters,
    listing: Listing,
}

impl Agent {
    fn new(id: &AgentId, ts: Ts) -> Self {
        Agent {
            id: id.clone(),
            presence: Presence::LoggedOut,
            reason: None,
            station: None,
            act: Act::Idle,
            call: Key::default(),
            call_queue: None,
            answered_at: OptTs::NONE,
            since: ts,
            last: ts,
            interval_from: ts.nanos,
            station_ver: 0,
            reason_ver: 0,
            members: Vec::new(),
            today: Counters::default(),
            listing: Listing::Seen,
        }
    }

    /// Whether the read views list the agent: once it has sent a state event (and, when
    /// asked for the roster too, while it is only on the roster).
    fn listed(&self, with_roster: bool) -> bool {
        self.listing == Listing::Seen || (with_roster && self.listing == Listing::Rostered)
    }

    /// The precedence: logged out > activity (ringing, talking, wrap-up) > not ready > ready.
    fn state(&self) -> AgentState {
        match (self.presence, self.act) {
            (Presence::LoggedOut, _) => AgentState::LoggedOut,
            (_, Act::Ringing) => AgentState::Ringing,
            (_, Act::Talking) => AgentState::Talking,
            (_, Act::WrapUp) => AgentState::WrapUp,
            (Presence::NotReady, Act::Idle) => AgentState::NotReady,
            (Presence::Ready, Act::Idle) => AgentState::Ready,
        }
    }

    /// What the agent's time adds to in the book.
    fn share(&self) -> Share<'_> {
        Share { state: self.state(), call_queue: self.call_queue, members: &self.members }
    }

    fn on_call(&self, act: Act, call: &CallId) -> bool {
        self.act == act && self.call.is(&call.0)
    }

    /// A queue the agent was not a member of is added to its members and to `joined`.
    fn set_call(
        &mut self,
        act: Act,
        call: Option<&CallId>,
        queue: Option<u32>,
        answered_at: Option<Ts>,
        joined: &mut Vec<u32>,
    ) {
        self.act = act;
        self.call = call.map_or_else(Key::default, |c| Key::new(&c.0));
        self.call_queue = queue;
        self.answered_at = answered_at.into();
        if let Some(q) = queue
            && let Err(i) = self.members.binary_search(&q)
        {
            self.members.insert(i, q);
            joined.push(q);
        }
    }

    fn clear_call(&mut self) {
        self.act = Act::Idle;
        self.call = Key::default();
        self.call_queue = None;
        self.answered_at = OptTs::NONE;
    }

    fn set_station(&mut self, station: Option<&str>) {
        if self.station.as_ref().map(Text::as_str) != station {
            self.station = station.map(Text::from);
            self.station_ver = self.station_ver.wrapping_add(1);
        }
    }

    fn set_reason(&mut self, reason: Option<&str>) {
        if self.reason.as_ref().map(Text::as_str) != reason {
            self.reason = reason.map(Text::from);
            self.reason_ver = self.reason_ver.wrapping_add(1);
        }
    }

    fn shown_reason(&self) -> Option<&str> {
        if self.state() == AgentState::NotReady { self.reason.as_ref().map(Text::as_str) } else { None }
    }
}

/// [`Call::offer_queue`] of a call offered with no queue known.
const NO_QUEUE: u32 = u32::MAX;

/// Where an answered call's service-level cohort was counted: its first offer and its
/// last `queued` event (time and queue), when seen.
struct Cohorts {
    offered: Option<(Ts, Option<u32>)>,
    queued: Option<(Ts, Option<u32>)>,
}

impl Cohorts {
    /// Where `formula`'s denominator counted the call answered at `ts` in queue `q`;
    /// `None` when it never counted it (an answer whose offer was not seen, under
    /// `offered`), so the numerator cannot outgrow the denominator.
    fn of(&self, formula: SlFormula, ts: Ts, q: Option<u32>) -> Option<(Ts, Option<u32>)> {
        match formula {
            SlFormula::Offered => self.offered,
            SlFormula::Queued => self.queued,
            SlFormula::AnsweredAbandoned | SlFormula::AnsweredLongAbandoned => Some((ts, q)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub(crate) struct Call {
    queue: Option<u32>,
    queued_at: OptTs,
    waiting: bool,
    first_offered_at: OptTs,
    /// The queue the first offer was counted in (the `offered` service level's cohort),
    /// [`NO_QUEUE`] for none: a plain `u32` keeps a call at 88 bytes.
    offer_queue: u32,
    offered_at: OptTs,
    answered: bool,
    transferred: bool,
    agent: Option<u32>,
    last: Ts,
}

impl Call {
    fn new(ts: Ts) -> Self {
        Call {
            queue: None,
            queued_at: OptTs::NONE,
            waiting: false,
            first_offered_at: OptTs::NONE,
            offer_queue: NO_QUEUE,
            offered_at: OptTs::NONE,
            answered: false,
            transferred: false,
            agent: None,
            last: ts,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
struct Span {
    agent: u32,
    state: AgentState,
    from: Ts,
    to: Ts,
}

#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub(crate) struct Tenant {
    name: String,
    clock: ClockState,
    agents: Chunked<Agent>,
    agent_index: Derived<IdMap<u32>>,
    queues: Vec<QueueId>,
    queue_index: Derived<IdMap<u32>>,
    queue_sl: Derived<Vec<Sl>>,
    calls: Calls,
    book: Book,
    timeline: Vec<Span>,
    next_prune: i64,
    days: Derived<DayCache>,
    /// The queues the agent of the event being folded joined during it (not in its share
    /// before the event). One vector for the tenant rather than one per agent: ~4 MiB at
    /// 100,000 agents (docs/performance.md).
    joined: Derived<Vec<u32>>,
}

/// Pending changes for [`Occupancy::take_changes`].
#[derive(Clone, Debug, Default)]
struct Changes {
    q: VecDeque<AgentStateChange>,
    track: bool,
    dropped: u64,
}

/// What one `apply` needs besides the tenant.
struct Cx<'a> {
    cfg: &'a Resolved,
    changes: &'a mut Changes,
    timeline: bool,
    seq: u64,
}

/// What an agent showed, and what its time added to, before an event.
#[derive(Clone, Copy, Debug)]
struct Before {
    state: AgentState,
    station_ver: u32,
    reason_ver: u32,
    call_queue: Option<u32>,
}

impl Tenant {
    fn new(name: &str, cfg: &Resolved) -> Self {
        Tenant {
            name: name.to_owned(),
            clock: ClockState(Clock::new(cfg.lateness_ns)),
            agents: Chunked::new(),
            agent_index: Derived::default(),
            queues: Vec::new(),
            queue_index: Derived::default(),
            queue_sl: Derived::default(),
            calls: Calls::default(),
            book: Book::default(),
            timeline: Vec::new(),
            next_prune: i64::MIN,
            days: Derived::default(),
            joined: Derived::default(),
        }
    }

    /// Rebuild the derived indexes (after decoding a snapshot).
    fn rebuild(&mut self, cfg: &Resolved) {
        self.agent_index.0 = self.agents.iter().enumerate().map(|(i, a)| (a.id.as_str(), i as u32)).collect();
        self.queue_index.0 = self.queues.iter().enumerate().map(|(i, q)| (q.as_str(), i as u32)).collect();
        self.queue_sl.0 = self.queues.iter().map(|q| cfg.sl_for(q.as_str())).collect();
        self.book.gauge.0.clear();
        for ag in &self.agents {
            self.book.gauge_add(&ag.share());
        }
    }

    fn now(&self) -> i64 {
        self.clock.0.now().map_or(i64::MIN, |t| t.nanos)
    }

    fn queue(&mut self, cfg: &Resolved, q: &QueueId) -> Option<u32> {
        if let Some(&i) = self.queue_index.0.get(q.as_str()) {
            return Some(i);
        }
        if self.queues.len() >= MAX_QUEUES {
            return None;
        }
        let i = self.queues.len() as u32;
        self.queues.push(q.clone());
        self.queue_index.0.insert(q.as_str(), i);
        self.queue_sl.0.push(cfg.sl_for(q.as_str()));
        Some(i)
    }

    fn agent(&mut self, id: &AgentId, ts: Ts) -> usize {
        if let Some(&i) = self.agent_index.0.get(id.as_str()) {
            return i as usize;
        }
        let i = self.agents.len();
        self.agents.push(Agent::new(id, ts));
        self.agent_index.0.insert(id.as_str(), i as u32);
        i
    }

    /// Run `f` on the call `id`, creating it when unknown.
    fn with_call<R>(&mut self, id: &CallId, ts: Ts, f: impl FnOnce(&mut Call) -> R) -> R {
        if let Some(c) = self.calls.0.get_mut(id.as_str()) {
            c.last = c.last.max(ts);
            return f(c);
        }
        f(self.calls.0.get_or_insert_with(id.as_str(), || Call::new(ts)))
    }

    fn count(&mut self, cfg: &Resolved, ts: Ts, q: Option<u32>, f: impl Fn(&mut Stats, bool)) {
        let now = self.now();
        self.book.count(cfg, &mut self.days.0, ts.nanos, now, q, f);
    }

    /// Book agent `a`'s time up to `eff` in its current state: today's counters, and the
    /// agent stops adding to the book at `eff` ([`Tenant::settle`] attaches its new state).
    fn advance(&mut self, cfg: &Resolved, a: usize, eff: Ts) {
        let now = self.now();
        let Tenant { agents, book, days, .. } = self;
        let ag = &mut agents[a];
        let st = ag.state();
        #[cfg(test)]
        if cfg.eager {
            if eff > ag.last && st != AgentState::LoggedOut {
                book.add_time(cfg, &mut days.0, ag.last.nanos, eff.nanos, now, st, ag.call_queue, &ag.members);
                ag.today.add_time(cfg.tz, &mut days.0, ag.last.nanos, eff.nanos, st);
            }
            ag.last = ag.last.max(eff);
            return;
        }
        if st != AgentState::LoggedOut {
            if eff > ag.last {
                ag.today.add_time(cfg.tz, &mut days.0, ag.last.nanos, eff.nanos, st);
            }
            // Time more than `retention` before the clock was never booked by the eager
            // booking: take it out of the intervals still kept.
            let expired = now.saturating_sub(cfg.retention_ns);
            if ag.interval_from < expired {
                book.add_intervals(cfg, &mut days.0, ag.interval_from, expired, &ag.share(), -1, false);
                ag.interval_from = expired;
            }
        }
        ag.last = ag.last.max(eff);
        self.joined.0.clear();
    }

    /// From `eff` on, agent `a` adds its new state to the book instead of what it added
    /// before the event.
    fn attach(&mut self, cfg: &Resolved, a: usize, eff: Ts, before: &Before) {
        #[cfg(test)]
        if cfg.eager {
            return;
        }
        let now = self.now();
        let Tenant { agents, book, days, joined, .. } = self;
        let ag = &mut agents[a];
        ag.interval_from = eff.nanos.max(now.saturating_sub(cfg.retention_ns));
        let old = Share { state: before.state, call_queue: before.call_queue, members: &ag.members };
        book.transition(cfg, &mut days.0, now, eff.nanos, &old, &joined.0, &ag.share());
    }

    /// Start handling agent `a` at `ts`: book its time up to the effective time and return
    /// that time and what the agent showed before.
    fn begin(&mut self, cfg: &Resolved, a: usize, ts: Ts) -> (Ts, Before) {
        let eff = ts.max(self.agents[a].last);
        self.advance(cfg, a, eff);
        let ag = &self.agents[a];
        let before = Before {
            state: ag.state(),
            station_ver: ag.station_ver,
            reason_ver: ag.reason_ver,
            call_queue: ag.call_queue,
        };
        (eff, before)
    }

    /// Finish handling agent `a`: attach its state to the book, and record a change when
    /// what it shows changed.
    fn settle(&mut self, cx: &mut Cx<'_>, a: usize, eff: Ts, before: Before) {
        self.attach(cx.cfg, a, eff, &before);
        let ag = &mut self.agents[a];
        let Before { state: old, station_ver, reason_ver, .. } = before;
        let new = ag.state();
        // A new state, or a new reason within not_ready, starts a new `since`; a new
        // station alone is pushed with the same `since`; a reason change outside not_ready
        // is invisible.
        let new_state = new != old || (new == AgentState::NotReady && ag.reason_ver != reason_ver);
        if !new_state && ag.station_ver == station_ver {
            return;
        }
        if new_state {
            if cx.timeline && eff > ag.since {
                self.timeline.push(Span { agent: a as u32, state: old, from: ag.since, to: eff });
            }
            ag.since = eff;
        }
        self.push_change(cx, a);
    }

    /// Queue agent `a`'s state as a change (when changes are tracked).
    fn push_change(&mut self, cx: &mut Cx<'_>, a: usize) {
        if !cx.changes.track {
            return;
        }
        let ag = &self.agents[a];
        if cx.changes.q.len() >= MAX_PENDING_CHANGES {
            cx.changes.q.pop_front();
            cx.changes.dropped += 1;
        }
        cx.changes.q.push_back(AgentStateChange {
            tenant: self.name.clone(),
            agent: ag.id.clone(),
            state: ag.state(),
            since: ag.since,
            station: ag.station.as_ref().map(Text::to_string),
            reason: ag.shown_reason().map(str::to_owned),
            seq: cx.seq,
        });
    }

    /// A `roster` entry: an agent the tenant has not seen yet is kept as logged out from the
    /// entry on (until its first state event, or until it leaves the roster without one),
    /// listed only by [`Occupancy::agents_with_roster`]; no change is pushed for it. An
    /// agent that has sent state events is not affected.
    fn roster(&mut self, id: &AgentId, ts: Ts, active: bool) {
        let known = self.agent_index.0.get(id.as_str()).map(|&i| i as usize);
        match (known, active) {
            (None, true) => {
                let a = self.agent(id, ts);
                self.agents[a].listing = Listing::Rostered;
            }
            (Some(a), true) if self.agents[a].listing == Listing::Retired => {
                self.agents[a] = Agent { listing: Listing::Rostered, ..Agent::new(id, ts) };
            }
            (Some(a), false) if self.agents[a].listing == Listing::Rostered => {
                self.agents[a].listing = Listing::Retired;
            }
            _ => {}
        }
    }

    /// End the agent's call involvement at `eff`: a talk or a wrap-up books the call's
    /// handle time (answer to `eff`) when the answer was seen; ringing just stops.
    fn finish_call(&mut self, cfg: &Resolved, a: usize, eff: Ts) {
        let ag = &self.agents[a];
        if matches!(ag.act, Act::Talking | Act::WrapUp)
            && let Some(answered) = ag.answered_at.get()
        {
            let handle = i128::from(eff.nanos_since(answered).max(0));
            let q = ag.call_queue;
            self.count(cfg, eff, q, |s, _| {
                s.handled += 1;
                s.handle_ns += handle;
            });
        }
        self.agents[a].clear_call();
    }

    fn end_wrap(&mut self, cfg: &Resolved, a: usize, eff: Ts) {
        if self.agents[a].act == Act::WrapUp {
            self.finish_call(cfg, a, eff);
        }
    }

    fn implicit_login(&mut self, a: usize) {
        let ag = &mut self.agents[a];
        if ag.presence == Presence::LoggedOut {
            ag.presence = Presence::Ready;
        }
    }

    fn apply(&mut self, cx: &mut Cx<'_>, env: &Envelope) {
        let cfg = cx.cfg;
        let ts = env.event.ts;
        match &env.event.kind {
            EventKind::Queued { call, queue, .. } => {
                let q = self.queue(cfg, queue);
                self.with_call(call, ts, |c| {
                    c.queue = q.or(c.queue);
                    c.queued_at = OptTs::some(ts);
                    c.waiting = true;
                });
                self.count(cfg, ts, q, |s, _| s.queued += 1);
                return;
            }
            EventKind::Abandoned { call, queue } => {
                let q = self.queue(cfg, queue);
                let removed = self.calls.0.remove(call.as_str());
                let wait = removed.as_ref().and_then(|c| c.queued_at.get()).map(|t| ts.nanos_since(t));
                let short = wait.is_some_and(|w| w < cfg.short_abandon_ns);
                self.count(cfg, ts, q, |s, _| {
                    s.abandoned += 1;
                    s.short_abandoned += u64::from(short);
                });
                // The caller hung up while ringing at an agent: the ringing stops.
                if let Some(a) = removed.and_then(|c| c.agent).map(|a| a as usize)
                    && self.agents.get(a).is_some_and(|ag| ag.on_call(Act::Ringing, call))
                {
                    let (eff, before) = self.begin(cfg, a, ts);
                    self.agents[a].clear_call();
                    self.settle(cx, a, eff, before);
                }
                return;
            }
            _ => {}
        }
        let Some(agent) = env.event.agent.as_ref() else { return };
        let kind = &env.event.kind;
        if let EventKind::Roster { active, .. } = kind {
            self.roster(agent, ts, *active);
            return;
        }
        if !matches!(
            kind,
            EventKind::Login { .. }
                | EventKind::Logout
                | EventKind::Ready
                | EventKind::NotReady { .. }
                | EventKind::Offered { .. }
                | EventKind::Answered { .. }
                | EventKind::Missed { .. }
                | EventKind::Ended { .. }
                | EventKind::WrapUp { .. }
                | EventKind::Transferred { .. }
        ) {
            return;
        }
        let a = self.agent(agent, ts);
        if self.agents[a].listing != Listing::Seen {
            // Known only from the roster: its history starts with this event, as for an
            // agent first seen here.
            self.agents[a] = Agent::new(agent, ts);
        }
        let (eff, before) = self.begin(cfg, a, ts);
        match kind {
            EventKind::Login { station } => {
                let ag = &mut self.agents[a];
                if ag.presence == Presence::LoggedOut {
                    ag.presence = Presence::Ready;
                    ag.set_reason(None);
                }
                // A second login keeps the state and moves the agent to the new station.
                ag.set_station(Some(station));
            }
            EventKind::Logout => {
                self.finish_call(cfg, a, eff);
                let ag = &mut self.agents[a];
                ag.presence = Presence::LoggedOut;
                ag.set_station(None);
                ag.set_reason(None);
            }
            EventKind::Ready => {
                self.implicit_login(a);
                self.end_wrap(cfg, a, eff);
                let ag = &mut self.agents[a];
                ag.presence = Presence::Ready;
                ag.set_reason(None);
            }
            EventKind::NotReady { reason } => {
                self.implicit_login(a);
                self.end_wrap(cfg, a, eff);
                let ag = &mut self.agents[a];
                ag.presence = Presence::NotReady;
                ag.set_reason(reason.as_deref());
            }
            EventKind::Offered { call, queue, .. } => {
                let eq = match queue {
                    Some(q) => self.queue(cfg, q),
                    None => None,
                };
                let (q, first) = self.with_call(call, ts, |c| {
                    if c.queue.is_none() {
                        c.queue = eq;
                    }
                    let first = c.first_offered_at.is_none();
                    if first {
                        c.first_offered_at = OptTs::some(ts);
                        c.offer_queue = eq.or(c.queue).unwrap_or(NO_QUEUE);
                    }
                    c.offered_at = OptTs::some(ts);
                    c.agent = Some(a as u32);
                    (eq.or(c.queue), first)
                });
                if first {
                    self.count(cfg, ts, q, |s, _| s.offered += 1);
                }
                self.implicit_login(a);
                match self.agents[a].act {
                    // One call at a time: a ring while talking does not change the agent.
                    Act::Talking => {}
                    Act::WrapUp => {
                        self.finish_call(cfg, a, eff);
                        self.agents[a].set_call(Act::Ringing, Some(call), q, None, &mut self.joined.0);
                    }
                    Act::Idle | Act::Ringing => {
                        self.agents[a].set_call(Act::Ringing, Some(call), q, None, &mut self.joined.0)
                    }
                }
            }
            EventKind::Answered { call, rings } => {
                let (max_rings, cadence) = (cfg.max_rings, cfg.cadence_ns);
                let (q, first, delay, ring_ns, cohorts) = self.with_call(call, ts, |c| {
                    let first = !c.answered;
                    c.answered = true;
                    c.waiting = false;
                    c.agent = Some(a as u32);
                    let delay = c.queued_at.get().or(c.first_offered_at.get()).map_or(0, |t| ts.nanos_since(t).max(0));
                    let ring_ns = c.offered_at.get().map_or(0, |t| ts.nanos_since(t));
                    let cohorts = Cohorts {
                        offered: c
                            .first_offered_at
                            .get()
                            .map(|t| (t, (c.offer_queue != NO_QUEUE).then_some(c.offer_queue))),
                        queued: c.queued_at.get().map(|t| (t, c.queue)),
                    };
                    (c.queue, first, delay, ring_ns, cohorts)
                });
                if first {
                    let rings = rings.unwrap_or_else(|| rings_heard(ring_ns, cadence));
                    let in_time = rings <= max_rings;
                    let within = |sl: Sl| sl.threshold_ns.map_or(in_time, |th| delay <= th);
                    let q_sl = q.and_then(|q| self.queue_sl.0.get(q as usize).copied());
                    let q_in = q_sl.is_some_and(within);
                    let total_in = within(cfg.default_sl);
                    self.count(cfg, ts, q, |s, total| {
                        s.answered += 1;
                        s.answer_delay_ns += i128::from(delay);
                        s.answered_in_time += u64::from(in_time);
                        s.answered_in_threshold += u64::from(if total { total_in } else { q_in });
                    });
                    // The service level's numerator goes where its denominator counted
                    // the call: for the total by the tenant's formula; for a queue's row
                    // by that queue's own formula, in every queue whose row counted the
                    // call (the queue of its first offer, of its last `queued`, the one
                    // that answered: a call that moved between queues with different
                    // formulas may be in two rows, or in none). One booking when the
                    // total's and a queue's name the same instant (the usual case: one
                    // formula for all), else one each.
                    let at_total = cohorts.of(cfg.default_sl.formula, ts, q).filter(|_| total_in).map(|c| c.0);
                    let mut at_queues: [Option<(Ts, u32)>; 3] = [None; 3];
                    let candidates = [cohorts.offered.and_then(|c| c.1), cohorts.queued.and_then(|c| c.1), q];
                    for (i, cand) in candidates.into_iter().enumerate() {
                        let Some(cand) = cand else { continue };
                        if candidates[..i].contains(&Some(cand)) {
                            continue;
                        }
                        let Some(sl) = self.queue_sl.0.get(cand as usize).copied() else { continue };
                        if let Some((at, Some(cq))) = cohorts.of(sl.formula, ts, q)
                            && cq == cand
                            && within(sl)
                        {
                            at_queues[i] = Some((at, cand));
                        }
                    }
                    let merged = at_total
                        .and_then(|t| at_queues.iter().position(|b| b.is_some_and(|(at, _)| at.nanos == t.nanos)));
                    if let Some(at) = at_total
                        && merged.is_none()
                    {
                        self.count(cfg, at, None, |s, total| s.sl_calls += u64::from(total));
                    }
                    for (i, booking) in at_queues.into_iter().enumerate() {
                        let Some((at, cq)) = booking else { continue };
                        if merged == Some(i) {
                            self.count(cfg, at, Some(cq), |s, _| s.sl_calls += 1);
                        } else {
                            self.count(cfg, at, Some(cq), |s, total| s.sl_calls += u64::from(!total));
                        }
                    }
                }
                self.implicit_login(a);
                let ag = &self.agents[a];
                if !ag.on_call(Act::Talking, call) {
                    if matches!(ag.act, Act::Talking | Act::WrapUp) {
                        self.finish_call(cfg, a, eff);
                    }
                    let ag = &mut self.agents[a];
                    ag.set_call(Act::Talking, Some(call), q, Some(eff), &mut self.joined.0);
                    let day = self.days.0.get(cfg.tz, eff.nanos).date;
                    if ag.today.roll(day) {
                        ag.today.handled += 1;
                    }
                }
            }
            EventKind::Missed { call } => {
                let q = match self.calls.0.get_mut(call.as_str()) {
                    Some(c) => {
                        c.agent = None;
                        c.offered_at = OptTs::NONE;
                        c.last = c.last.max(ts);
                        c.queue
                    }
                    None => None,
                };
                self.count(cfg, ts, q, |s, _| s.missed += 1);
                let day = self.days.0.get(cfg.tz, eff.nanos).date;
                let ag = &mut self.agents[a];
                if ag.today.roll(day) {
                    ag.today.missed += 1;
                }
                // The agent returns to its agent-set status (ready, normally).
                if ag.on_call(Act::Ringing, call) {
                    ag.clear_call();
                }
            }
            EventKind::Ended { call } => {
                // The call ends for good when its current agent (or, for a call that is
                // with no agent and was never transferred, anyone) says so; the
                // transferring agent's own `ended` leaves the transferred call open.
                let mine = |c: &Call| c.agent == Some(a as u32) || (c.agent.is_none() && !c.transferred);
                let (q, elsewhere) = match self.calls.0.remove_if(call.as_str(), mine) {
                    Some(Ok(c)) => (c.queue, false),
                    Some(Err(c)) => (c.queue, true),
                    None => (None, false),
                };
                let ag = &mut self.agents[a];
                if ag.presence != Presence::LoggedOut {
                    match ag.act {
                        Act::Talking if ag.call.is(&call.0) => ag.act = Act::WrapUp,
                        Act::Ringing if ag.call.is(&call.0) => ag.clear_call(),
                        // `ended` implies wrap-up even when the talk was not seen, unless
                        // the call went on elsewhere (the agent transferred it).
                        Act::Idle if !elsewhere => ag.set_call(Act::WrapUp, Some(call), q, None, &mut self.joined.0),
                        _ => {}
                    }
                }
            }
            EventKind::WrapUp { call } => {
                let q = call.as_ref().and_then(|c| self.calls.0.get(c.as_str())).and_then(|c| c.queue);
                let ag = &mut self.agents[a];
                if ag.presence != Presence::LoggedOut {
                    match ag.act {
                        Act::Talking => ag.act = Act::WrapUp,
                        Act::WrapUp => {}
                        Act::Idle | Act::Ringing => {
                            ag.set_call(Act::WrapUp, call.as_ref(), q, None, &mut self.joined.0)
                        }
                    }
                }
            }
            EventKind::Transferred { call, .. } => {
                let q = match self.calls.0.get_mut(call.as_str()) {
                    Some(c) => {
                        c.agent = None;
                        c.transferred = true;
                        c.last = c.last.max(ts);
                        c.queue
                    }
                    None => None,
                };
                self.count(cfg, ts, q, |s, _| s.transferred += 1);
                let ag = &mut self.agents[a];
                if ag.on_call(Act::Talking, call) {
                    // The transferring agent's talk stops; after-call work follows.
                    ag.act = Act::WrapUp;
                } else if ag.on_call(Act::Ringing, call) {
                    ag.clear_call();
                }
            }
            _ => {}
        }
        self.settle(cx, a, eff, before);
    }

    fn prune(&mut self, cfg: &Resolved, now: i64) {
        self.book.prune(cfg, &mut self.days.0, now);
        let cutoff = now.saturating_sub(cfg.call_timeout_ns);
        self.calls.0.retain(|c| c.last.nanos >= cutoff);
    }

    /// The book with every logged-in agent's open state accrued up to the clock: the
    /// intervals from the earliest open state's interval on, and the minute ring. Returns
    /// it and that first interval's start (`i64::MAX` when nothing is open). The eager
    /// booking's query, kept as the tests' reference.
    #[cfg(test)]
    fn pending(&self, cfg: &Resolved) -> (Book, i64) {
        let now = self.now();
        let mut days = self.days.0;
        let open = |a: &&Agent| a.state() != AgentState::LoggedOut && a.last.nanos < now;
        let lo = match self.agents.iter().filter(open).map(|a| a.last.nanos).min() {
            Some(t) => days.interval(cfg.tz, cfg.interval_ns, t).0,
            None => i64::MAX,
        };
        let mut b = self.book.overlay(lo);
        for ag in self.agents.iter().filter(open) {
            b.add_time(cfg, &mut days, ag.last.nanos, now, now, ag.state(), ag.call_queue, &ag.members);
        }
        (b, lo)
    }

    /// Logged-in agents whose time in the book's intervals starts more than `retention`
    /// before `now`: at query time that older part is left out, as the eager booking did.
    fn stale(&self, cfg: &Resolved, now: i64) -> Vec<&Agent> {
        let expired = now.saturating_sub(cfg.retention_ns);
        self.agents.iter().filter(|a| a.interval_from < expired && a.state() != AgentState::LoggedOut).collect()
    }

    /// Interval bucket `b` as a query shows it at `now`: plus the open segment's agent time
    /// when it holds the segment, minus the stale agents' time before `now − retention`.
    fn shown<'a>(
        &self,
        cfg: &Resolved,
        b: &'a book::Bucket,
        now: i64,
        pending: Option<&(i64, Vec<book::Row>)>,
        stale: &[&Agent],
    ) -> std::borrow::Cow<'a, book::Bucket> {
        let expired = now.saturating_sub(cfg.retention_ns);
        let open = pending.filter(|p| p.0 == b.start);
        let old = !stale.is_empty() && b.start < expired;
        if open.is_none() && !old {
            return std::borrow::Cow::Borrowed(b);
        }
        let mut c = b.clone();
        if let Some((_, rows)) = open {
            c.add_rows(book::nonzero(rows));
            c.merge_counts(&self.book.counts);
        }
        if old {
            for ag in stale {
                let (from, to) = (ag.interval_from.max(c.start), expired.min(c.end));
                if from < to {
                    c.add_share(&ag.share(), -(to - from));
                }
            }
        }
        std::borrow::Cow::Owned(c)
    }

    /// Queue indexes sorted by name.
    fn queue_order(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.queues.len() as u32).collect();
        order.sort_by(|a, b| self.queues[*a as usize].cmp(&self.queues[*b as usize]));
        order
    }

    fn sl(&self, cfg: &Resolved, q: Option<u32>) -> Sl {
        q.and_then(|q| self.queue_sl.0.get(q as usize).copied()).unwrap_or(cfg.default_sl)
    }

    /// Rows of one bucket: the total first, then queues by name (only `only` if given).
    fn rows<'a>(
        &'a self,
        cfg: &Resolved,
        b: &'a book::Bucket,
        order: &'a [u32],
        only: Option<Option<u32>>,
    ) -> impl Iterator<Item = (Option<QueueId>, Figures)> + 'a {
        let sl_total = cfg.default_sl;
        let total = (only.is_none()).then(|| (None, Figures::new(&b.total, sl_total)));
        let sls: Vec<(u32, Sl)> = order.iter().map(|&q| (q, self.sl(cfg, Some(q)))).collect();
        let queues = sls.into_iter().filter_map(move |(q, sl)| {
            if only.is_some_and(|o| o != Some(q)) {
                return None;
            }
            let i = b.queues.0.binary_search_by_key(&q, |e| e.0).ok()?;
            // An entry whose time a late event took back is as if it never was.
            let s = &b.queues.0[i].1;
            (!s.is_empty()).then(|| (Some(self.queues[q as usize].clone()), Figures::new(s, sl)))
        });
        total.into_iter().chain(queues)
    }
}

// ---------------------------------------------------------------------------------------
// The projector

/// The occupancy projector. See the crate documentation.
#[derive(Clone, Debug)]
pub struct Occupancy {
    default: TenantSettings,
    per_tenant: BTreeMap<String, TenantSettings>,
    position: u64,
    timeline: bool,
    index: BTreeMap<String, usize>,
    tenants: Vec<Tenant>,
    cfgs: Vec<Resolved>,
    changes: Changes,
    /// Book eagerly (the tests' reference).
    #[cfg(test)]
    eager: bool,
}

/// Equality of the folded state: the position, the timeline flag and every tenant's
/// state. Settings and changes waiting for [`Occupancy::take_changes`] are not compared.
impl PartialEq for Occupancy {
    fn eq(&self, other: &Self) -> bool {
        self.position == other.position && self.timeline == other.timeline && self.tenants == other.tenants
    }
}

impl Projector for Occupancy {
    fn apply(&mut self, env: &Envelope) {
        self.position = env.seq;
        let ti = self.tenant_index(&env.tenant);
        let (Some(t), Some(cfg)) = (self.tenants.get_mut(ti), self.cfgs.get(ti)) else { return };
        t.clock.0.observe(env);
        let now = t.now();
        #[cfg(test)]
        let lazy = !cfg.eager;
        #[cfg(not(test))]
        let lazy = true;
        if lazy {
            t.book.advance(cfg, &mut t.days.0, now);
        }
        if now >= t.next_prune {
            t.prune(cfg, now);
            t.next_prune = now.saturating_add(cfg.interval_ns);
        }
        let mut cx = Cx { cfg, changes: &mut self.changes, timeline: self.timeline, seq: env.seq };
        t.apply(&mut cx, env);
    }

    fn position(&self) -> u64 {
        self.position
    }
}

impl Occupancy {
    /// A projector that has seen nothing. `default` applies to every tenant not in
    /// `per_tenant`. Changes are tracked for [`Occupancy::take_changes`]; the timeline is
    /// off.
    pub fn new(default: TenantSettings, per_tenant: BTreeMap<String, TenantSettings>) -> Self {
        Occupancy {
            default,
            per_tenant,
            position: 0,
            timeline: false,
            index: BTreeMap::new(),
            tenants: Vec::new(),
            cfgs: Vec::new(),
            changes: Changes { track: true, ..Changes::default() },
            #[cfg(test)]
            eager: false,
        }
    }

    /// Keep (or not) every agent's state timeline for [`Occupancy::agent_timeline`]. It
    /// grows with the log, so it is off by default; turn it on before the first record.
    pub fn with_timeline(mut self, on: bool) -> Self {
        self.timeline = on;
        self
    }

    /// Track (or not) changes for [`Occupancy::take_changes`] (on by default; a replay
    /// that never drains them should turn this off).
    pub fn with_changes(mut self, on: bool) -> Self {
        self.changes.track = on;
        if !on {
            self.changes.q.clear();
        }
        self
    }

    fn tenant_index(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        #[allow(unused_mut)]
        let mut cfg = Resolved::new(self.per_tenant.get(name).unwrap_or(&self.default));
        #[cfg(test)]
        {
            cfg.eager = self.eager;
        }
        let i = self.tenants.len();
        self.tenants.push(Tenant::new(name, &cfg));
        self.cfgs.push(cfg);
        self.index.insert(name.to_owned(), i);
        i
    }

    fn tenant(&self, name: &str) -> Option<(&Tenant, &Resolved)> {
        let &i = self.index.get(name)?;
        Some((self.tenants.get(i)?, self.cfgs.get(i)?))
    }

    /// The tenants seen so far, sorted.
    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    /// The tenant's clock: the greatest timestamp seen.
    pub fn now(&self, tenant: &str) -> Option<Ts> {
        self.tenant(tenant)?.0.clock.0.now()
    }

    /// The tenant's watermark (see [`seatwatch_model::Clock`]).
    pub fn watermark(&self, tenant: &str) -> Option<Ts> {
        self.tenant(tenant)?.0.clock.0.watermark()
    }

    /// The start of the oldest interval the live state holds whole: the first interval
    /// boundary at or after `now − retention`. Intervals from it on are answered by
    /// [`Occupancy::intervals`] exactly as a replay keeping every interval gives them;
    /// older ones have left live state (the interval holding `now − retention` is still
    /// kept, but without the agent time before that instant that a lost `logout` or a
    /// late span would add). `None` before the tenant's first record. It may lie before
    /// the tenant's first event: nothing has left live state yet.
    pub fn retained_from(&self, tenant: &str) -> Option<Ts> {
        let (t, cfg) = self.tenant(tenant)?;
        let now = t.clock.0.now()?.nanos;
        let cutoff = now.saturating_sub(cfg.retention_ns);
        let mut days = t.days.0;
        let (start, end) = days.interval(cfg.tz, cfg.interval_ns, cutoff);
        Some(Ts::from_nanos(if start == cutoff { start } else { end }))
    }

    /// Every agent that has sent a state event, sorted by id (`GET /v1/agents`).
    pub fn agents(&self, tenant: &str) -> Vec<AgentView> {
        self.agent_views(tenant, false)
    }

    /// [`Occupancy::agents`] and the agents known only from the roster (a `roster` entry,
    /// no state event yet: `logged_out` since that entry), sorted by id
    /// (`GET /v1/agents?include=roster`: a wallboard of who is expected).
    pub fn agents_with_roster(&self, tenant: &str) -> Vec<AgentView> {
        self.agent_views(tenant, true)
    }

    fn agent_views(&self, tenant: &str, with_roster: bool) -> Vec<AgentView> {
        let Some((t, cfg)) = self.tenant(tenant) else { return Vec::new() };
        let now = t.now();
        let mut days = t.days.0;
        let today = days.get(cfg.tz, now).date;
        let mut out: Vec<AgentView> = t
            .agents
            .iter()
            .filter(|ag| ag.listed(with_roster))
            .map(|ag| {
                let state = ag.state();
                let mut counters = ag.today.clone();
                if ag.last.nanos < now {
                    counters.add_time(cfg.tz, &mut days, ag.last.nanos, now, state);
                }
                counters.roll(today);
                let mut queues: Vec<QueueId> = ag.members.iter().map(|&q| t.queues[q as usize].clone()).collect();
                queues.sort();
                AgentView {
                    agent: ag.id.clone(),
                    state,
                    since: ag.since,
                    station: ag.station.as_ref().map(Text::to_string),
                    reason: ag.shown_reason().map(str::to_owned),
                    call: (ag.act != Act::Idle && !ag.call.is_empty() && state != AgentState::LoggedOut)
                        .then(|| CallId::from(ag.call.as_str())),
                    seconds_in_state: now.saturating_sub(ag.since.nanos).max(0) as f64 / NANOS_PER_SEC as f64,
                    today: counters.view(),
                    queues,
                }
            })
            .collect();
        out.sort_by(|a, b| a.agent.cmp(&b.agent));
        out
    }

    /// How many of the tenant's agents are in each state (every state present, 0 when
    /// none): what [`Occupancy::agents`] would count, without building 10,000 views.
    pub fn agent_state_counts(&self, tenant: &str) -> BTreeMap<AgentState, u64> {
        let mut out: BTreeMap<AgentState, u64> = AgentState::ALL.iter().map(|s| (*s, 0)).collect();
        if let Some((t, _)) = self.tenant(tenant) {
            for ag in t.agents.iter().filter(|a| a.listed(false)) {
                *out.entry(ag.state()).or_insert(0) += 1;
            }
        }
        out
    }

    /// Every queue seen, sorted by name.
    pub fn queues(&self, tenant: &str) -> Vec<QueueView> {
        let Some((t, _)) = self.tenant(tenant) else { return Vec::new() };
        let now = t.now();
        let mut views: Vec<QueueView> = t
            .queues
            .iter()
            .map(|q| QueueView {
                queue: q.clone(),
                waiting: 0,
                oldest_waiting_since: None,
                oldest_wait_seconds: None,
                logged_in: 0,
                ready: 0,
                not_ready: 0,
                ringing: 0,
                talking: 0,
                on_call: 0,
                wrap_up: 0,
            })
            .collect();
        for c in t.calls.0.values() {
            if let (true, Some(q)) = (c.waiting, c.queue)
                && let Some(v) = views.get_mut(q as usize)
            {
                v.waiting += 1;
                if let Some(at) = c.queued_at.get()
                    && v.oldest_waiting_since.is_none_or(|o| at < o)
                {
                    v.oldest_waiting_since = Some(at);
                }
            }
        }
        for ag in &t.agents {
            let st = ag.state();
            if st == AgentState::LoggedOut {
                continue;
            }
            for &q in &ag.members {
                let Some(v) = views.get_mut(q as usize) else { continue };
                v.logged_in += 1;
                match st {
                    AgentState::Ready => v.ready += 1,
                    AgentState::NotReady => v.not_ready += 1,
                    AgentState::Ringing => v.ringing += 1,
                    AgentState::Talking => v.talking += 1,
                    AgentState::WrapUp => v.wrap_up += 1,
                    AgentState::LoggedOut => {}
                }
                v.on_call = v.ringing + v.talking;
            }
        }
        for v in &mut views {
            v.oldest_wait_seconds =
                v.oldest_waiting_since.map(|t| now.saturating_sub(t.nanos).max(0) as f64 / NANOS_PER_SEC as f64);
        }
        views.sort_by(|a, b| a.queue.cmp(&b.queue));
        views
    }

    /// Interval rows overlapping `[from, to)`: every interval kept (closed ones and the
    /// open one), with open agent states accrued up to the tenant's clock. Sorted by start;
    /// within an interval the total (`queue: None`) comes first, then queues by name.
    /// `queue: Some(q)` returns only that queue's rows (no total). Queues with nothing in
    /// an interval have no row for it.
    pub fn intervals(&self, tenant: &str, from: Option<Ts>, to: Option<Ts>, queue: Option<&str>) -> Vec<IntervalRow> {
        let Some((t, cfg)) = self.tenant(tenant) else { return Vec::new() };
        let only = match queue {
            Some(name) => match t.queue_index.0.get(name) {
                Some(&q) => Some(Some(q)),
                None => return Vec::new(),
            },
            None => None,
        };
        #[cfg(test)]
        if cfg.eager {
            let rows = self.intervals_eager(t, cfg, from, to, only);
            let (from, to) = (from.map_or(i64::MIN, |f| f.nanos), to.map_or(i64::MAX, |t| t.nanos));
            return Self::with_empty_intervals(t, cfg, rows, from, to, only);
        }
        let now = t.now();
        let watermark = t.clock.0.watermark().map_or(i64::MIN, |w| w.nanos);
        let order = t.queue_order();
        let (from, to) = (from.map_or(i64::MIN, |f| f.nanos), to.map_or(i64::MAX, |t| t.nanos));
        // The open segment's interval, with its agent time so far; it may not be kept yet.
        let mut days = t.days.0;
        let pending = t.book.pending(now).map(|rows| (days.interval(cfg.tz, cfg.interval_ns, t.book.cursor), rows));
        // Intervals are at most `interval` long: those overlapping [from, to) start after
        // `from − interval`.
        let lo = from.saturating_sub(cfg.interval_ns);
        let intervals = t.book.settled_intervals(lo.min(pending.as_ref().map_or(lo, |p| p.0.0))..);
        let fresh = pending.as_ref().filter(|p| !intervals.contains_key(&p.0.0)).map(|p| book::Bucket {
            start: p.0.0,
            end: p.0.1,
            ..book::Bucket::default()
        });
        let pending = pending.map(|((start, _), rows)| (start, rows));
        let stale = t.stale(cfg, now);
        let mut out = Vec::new();
        let mut list: Vec<&book::Bucket> =
            if lo < to { intervals.range(lo..to).map(|e| e.1).collect() } else { Vec::new() };
        if let Some(f) = &fresh {
            list.insert(list.partition_point(|b| b.start < f.start), f);
        }
        for b in list {
            if b.end <= from || b.start >= to {
                continue;
            }
            let b = t.shown(cfg, b, now, pending.as_ref(), &stale);
            if b.is_empty() {
                continue;
            }
            for (q, figures) in t.rows(cfg, &b, &order, only) {
                out.push(IntervalRow {
                    start: Ts::from_nanos(b.start),
                    end: Ts::from_nanos(b.end),
                    queue: q,
                    closed: b.end <= watermark,
                    figures,
                });
            }
        }
        Self::with_empty_intervals(t, cfg, out, from, to, only)
    }

    /// `rows` (sorted by start) with a total row of zeros for every interval that has
    /// none, from the first row's interval (the first in [from, to) with anything in
    /// it) to the tenant's current one, starting before `to`: the contract's "one per interval with `queue: null`", so that a quiet
    /// quarter-hour reads as nothing happening, not as missing data. Queue rows stay
    /// sparse (a queue with nothing in an interval has no row), and a `queue` filter
    /// gets no fillers.
    fn with_empty_intervals(
        t: &Tenant,
        cfg: &Resolved,
        rows: Vec<IntervalRow>,
        from: i64,
        to: i64,
        only: Option<Option<u32>>,
    ) -> Vec<IntervalRow> {
        let Some(first) = rows.first().map(|r| r.start.nanos) else { return rows };
        if only.is_some() {
            return rows;
        }
        let mut days = t.days.0;
        let watermark = t.clock.0.watermark().map_or(i64::MIN, |w| w.nanos);
        // Up to the tenant's current interval; no filler starts at or after `to`.
        let end = days.interval(cfg.tz, cfg.interval_ns, t.now().max(first)).1;
        let mut out = Vec::with_capacity(rows.len());
        let mut rows = rows.into_iter().peekable();
        let mut c = first;
        loop {
            if let Some(r) = rows.next_if(|r| r.start.nanos <= c) {
                c = c.max(r.end.nanos);
                out.push(r);
                continue;
            }
            let next = rows.peek().map(|r| r.start.nanos);
            let limit = next.unwrap_or(end);
            if c >= limit || c >= to {
                match next {
                    Some(n) if n > c => c = n,
                    _ => break,
                }
                continue;
            }
            // An interval boundary normally; a filler never reaches into the next row.
            let e = days.interval(cfg.tz, cfg.interval_ns, c).1.min(limit);
            if e <= c {
                break;
            }
            if e > from && c < to {
                out.push(IntervalRow {
                    start: Ts::from_nanos(c),
                    end: Ts::from_nanos(e),
                    queue: None,
                    closed: e <= watermark,
                    figures: Figures::new(&Stats::default(), cfg.default_sl),
                });
            }
            c = e;
        }
        out
    }

    /// Sliding windows of the last 15 and 60 minutes up to the tenant's clock: the total
    /// and each queue with something in the window, 15-minute rows first.
    pub fn windows(&self, tenant: &str) -> Vec<WindowRow> {
        let Some((t, cfg)) = self.tenant(tenant) else { return Vec::new() };
        #[cfg(test)]
        if cfg.eager {
            return self.windows_eager(t, cfg);
        }
        let now = t.now();
        // The open segment lies in the current minute, the last of both windows.
        let pending = t.book.pending(now);
        let order = t.queue_order();
        let last = now.div_euclid(MINUTE_NS);
        let mut out = Vec::new();
        for minutes in [15u32, 60] {
            let first = last - i64::from(minutes) + 1;
            let mut b = t.book.window(first, last);
            if let Some(rows) = &pending {
                b.add_rows(book::nonzero(rows));
                b.merge_counts(&t.book.counts);
            }
            for (q, figures) in t.rows(cfg, &b, &order, None) {
                out.push(WindowRow {
                    window_minutes: minutes,
                    start: Ts::from_nanos(first.saturating_mul(MINUTE_NS)),
                    end: Ts::from_nanos(now),
                    queue: q,
                    figures,
                });
            }
        }
        out
    }

    /// Cumulative counters since the start of the log, per queue and in total (`None`).
    pub fn totals(&self, tenant: &str) -> BTreeMap<Option<QueueId>, Totals> {
        let Some((t, _)) = self.tenant(tenant) else { return BTreeMap::new() };
        // With what the open segment counted so far.
        let mut totals = t.book.totals.clone();
        totals.merge_counts(&t.book.counts);
        let mut out = BTreeMap::new();
        out.insert(None, Totals::new(&totals.total));
        for (q, s) in &totals.queues.0 {
            out.insert(Some(t.queues[*q as usize].clone()), Totals::new(s));
        }
        out
    }

    /// Agent state changes since the last call, in order.
    pub fn take_changes(&mut self) -> Vec<AgentStateChange> {
        self.changes.q.drain(..).collect()
    }

    /// How many changes were dropped because more than [`MAX_PENDING_CHANGES`] waited.
    pub fn dropped_changes(&self) -> u64 {
        self.changes.dropped
    }

    /// The state timeline of the tenant's agents (or of `agent`), sorted by agent and
    /// start, each agent's current state last (open, up to the clock). `None` unless the
    /// projector was built [`Occupancy::with_timeline`]. Zero-length states are left out.
    pub fn agent_timeline(&self, tenant: &str, agent: Option<&str>) -> Option<Vec<TimelineEntry>> {
        if !self.timeline {
            return None;
        }
        let Some((t, _)) = self.tenant(tenant) else { return Some(Vec::new()) };
        let now = t.clock.0.now().unwrap_or_default();
        let wanted = |i: u32| agent.is_none_or(|a| t.agents[i as usize].id.as_str() == a);
        let mut out: Vec<(u32, TimelineEntry)> = t
            .timeline
            .iter()
            .filter(|s| wanted(s.agent))
            .map(|s| {
                let entry = TimelineEntry {
                    agent: t.agents[s.agent as usize].id.clone(),
                    state: s.state,
                    from: s.from,
                    to: s.to,
                    open: false,
                };
                (s.agent, entry)
            })
            .collect();
        for (i, ag) in t.agents.iter().enumerate() {
            if wanted(i as u32) && ag.listed(false) {
                let entry =
                    TimelineEntry { agent: ag.id.clone(), state: ag.state(), from: ag.since, to: now, open: true };
                out.push((i as u32, entry));
            }
        }
        out.sort_by(|a, b| a.1.agent.cmp(&b.1.agent).then(a.1.from.cmp(&b.1.from)).then(a.1.open.cmp(&b.1.open)));
        Some(out.into_iter().map(|e| e.1).collect())
    }
}

/// The eager booking's queries, kept as the reference the tests compare the lazy booking
/// with.
#[cfg(test)]
impl Occupancy {
    /// A projector that books agent time eagerly, span by span, as before the lazy
    /// booking (and answers queries as it did).
    pub(crate) fn eager(mut self) -> Self {
        self.eager = true;
        self
    }

    fn intervals_eager(
        &self,
        t: &Tenant,
        cfg: &Resolved,
        from: Option<Ts>,
        to: Option<Ts>,
        only: Option<Option<u32>>,
    ) -> Vec<IntervalRow> {
        let (pending, lo) = t.pending(cfg);
        let watermark = t.clock.0.watermark().map_or(i64::MIN, |w| w.nanos);
        let order = t.queue_order();
        let (from, to) = (from.map_or(i64::MIN, |f| f.nanos), to.map_or(i64::MAX, |t| t.nanos));
        let mut out = Vec::new();
        for b in t.book.intervals.range(..lo).map(|e| e.1).chain(pending.intervals.values()) {
            if b.end <= from || b.start >= to {
                continue;
            }
            for (q, figures) in t.rows(cfg, b, &order, only) {
                out.push(IntervalRow {
                    start: Ts::from_nanos(b.start),
                    end: Ts::from_nanos(b.end),
                    queue: q,
                    closed: b.end <= watermark,
                    figures,
                });
            }
        }
        out
    }

    fn windows_eager(&self, t: &Tenant, cfg: &Resolved) -> Vec<WindowRow> {
        let now = t.now();
        let (pending, _) = t.pending(cfg);
        let order = t.queue_order();
        let last = now.div_euclid(MINUTE_NS);
        let mut out = Vec::new();
        for minutes in [15u32, 60] {
            let first = last - i64::from(minutes) + 1;
            let b = pending.window(first, last);
            for (q, figures) in t.rows(cfg, &b, &order, None) {
                out.push(WindowRow {
                    window_minutes: minutes,
                    start: Ts::from_nanos(first.saturating_mul(MINUTE_NS)),
                    end: Ts::from_nanos(now),
                    queue: q,
                    figures,
                });
            }
        }
        out
    }
}
