//! A deterministic simulated call centre: a pure function from a [`SimConfig`] to a
//! time-ordered stream of CONTRACT.md §3 event objects.
//!
//! # How it works
//!
//! [`generate`] runs a discrete-event simulation. Pending actions (a login due, a call
//! arriving, a ring ending, a break ending, ...) sit in a priority queue ordered by
//! `(simulated time, insertion number)`; the iterator pops one action at a time, updates
//! the state of the agents, calls and queues, and yields the events the action produced.
//! Every event carries the time of the action that produced it, so the stream is sorted
//! by `at`, and ties keep the (deterministic) order in which they were produced. Memory
//! is proportional to the agents and calls in progress, not to the length of the stream:
//! a month of a thousand agents streams in constant memory.
//!
//! There is no I/O and no wall clock. All randomness comes from one seeded generator
//! (`rng.rs`, xoshiro256** with its own samplers, so the output does not change when a
//! dependency is upgraded): the same [`SimConfig`] gives a byte-identical stream.
//!
//! Times are milliseconds; `ts` is RFC 3339 with milliseconds and the tenant's UTC offset
//! for that instant (e.g. `2026-03-02T08:20:13.250+08:00`). Local times of day are
//! interpreted in [`SimConfig::timezone`].
//!
//! # The simulated day
//!
//! Below, *S* and *E* are [`SimConfig::shift_start`] (08:30) and [`SimConfig::shift_end`]
//! (17:35) and *L = E − S*. U(a, b) is uniform.
//!
//! | what | when / how long | distribution |
//! |---|---|---|
//! | `roster` for every agent, `leave_approved` for one agent (two from 40 agents on) covering 1–2 of the simulated dates | first day, [`SimConfig::start`] | — |
//! | `shift` (S–E) for every agent not on leave that date | 7 days ahead, rolling | — |
//! | `shift` for the first Monday–Friday of next month (next month's roster) | first simulated day of each month | — |
//! | `heartbeat` (no agent) | from `start` to `end` every [`SimConfig::heartbeat_every`] | fixed |
//! | `login` (unique station per agent) | S − U(5, 15) min | then `ready` after U(10, 90) s |
//! | `logout` | E + U(0.5, 10) min, or after the call/wrap-up in progress | |
//! | `queued` | Poisson per queue from S to E, mean [`SimConfig::calls_per_hour`] per queue, shaped by 1 − 0.35·cos(4πx) (x = fraction of the day: peaks mid-morning and mid-afternoon, a dip at lunch; the day's mean factor is exactly 1) | exponential inter-arrival (thinning) |
//! | emergency calls (`priority: "emergency"`) | 0.5 % of calls; they jump the queue | |
//! | `caller` | a fake mobile number `+861[358]x xxxx xxxx` | |
//! | `offered` | to the longest-idle ready agent that has not already missed the call | FIFO across queues |
//! | ring time | U(2, 12) s, i.e. at most 3 rings of the 5 s cadence | |
//! | `abandoned` | when the caller's patience runs out while waiting | exponential, mean 90 s (emergency 600 s), at least 5 s |
//! | talk time (`answered` → `ended`) | lognormal, mean 240 s, σ = 0.6, clamped to 15 s – 1 h | |
//! | `survey_offered` | U(3, 12) s before `ended` | |
//! | `transferred` (then `wrap_up`) | 3 % of answered calls, at the end of the talk; no survey | |
//! | wrap-up (`ended` → next state) | U(5, 90) s | |
//! | `callback_promised` | 4 % of ended calls, `due` U(30, 120) min later (only if due by E − 10 min); `callback_done` U(1, 20) min before due | |
//! | `escalated` | U(15, 120) s after an emergency call is answered | |
//! | breaks (`not_ready`, reason `break`) | at S + U(0.17, 0.27)·L and S + U(0.66, 0.77)·L, U(5, 12) min | |
//! | lunch (`busy_approved` by the team's supervisor, then `not_ready` reason `lunch`) | at S + U(0.33, 0.5)·L, U(25, 35) min; approval until its end + U(3, 10) min | |
//! | training (approved like lunch) | 10 % of agent-days at S + U(0.55, 0.6)·L, U(40, 60) min | |
//! | `monitored`, `callback_sampled` (by `qa-01`) | 3 of each per agent per ISO week, spread over the agent's simulated working days of the week (not on leave), at S + U(0.1, 0.95)·L | |
//!
//! A break that falls due while the agent is busy is taken when the call's wrap-up ends;
//! two not-ready periods never run back to back (the second is put off by 10–30 min), so
//! no not-ready period longer than 15 minutes happens without an approval covering it.
//!
//! # Violations
//!
//! [`SimConfig::violation_rate`] `v` (0 to 1) turns on rule violations, each with the
//! probability `v × weight` (capped at 1) per opportunity. With `v = 0` the stream breaks
//! none of the rules of seed-rules.md (except what no agent can prevent: abandoned calls
//! are not a rule, and an agent on approved leave is not absent).
//!
//! | rule provoked | opportunity | weight | what happens |
//! |---|---|---|---|
//! | `uncertified_login` | the roster | — | `round(agents × v × 0.5)` agents (at least one when `v > 0`) are on the roster with `certified: false` and log in anyway |
//! | `absent` | agent-day | 0.2 | no login at all |
//! | `duplicate_login` | agent-day | 0.2 | logs in at the next agent's station (two agent ids at one station) |
//! | `late_login` | agent-day | 0.8 | login at S + U(2, 50) min |
//! | `early_logout` | agent-day | 0.6 | logout at E − U(5, 50) min |
//! | `not_ready_overlong` | short break | 1.0 | lasts U(16, 30) min, without approval |
//! | `slow_answer` | offer | 0.4 | ring time U(15.5, 22) s (4–5 rings) |
//! | `missed_call` | offer | 0.1 | rings 25 s, `missed`; the agent is ready again and the call goes back to the head of its queue for another agent (or is abandoned) |
//! | `survey_not_offered` | call ended | 0.2 | no `survey_offered` |
//! | `wrap_up_overlong` | call ended | 0.2 | wrap-up U(125, 300) s |
//! | `callback_overdue` | promise | 1.0 | `callback_done` U(5, 60) min after `due` |
//! | `emergency_not_escalated` | emergency answered | 2.0 | `escalated` U(6, 20) min after the answer |
//! | `qa_coverage_low` | agent-week, each of the two kinds | 1.0 | 1 instead of 3 |
//! | `roster_not_published` | month | 1.0 | next month's `shift` events are never sent |
//!
//! # Identifiers
//!
//! Event ids are [`SimConfig::id_prefix`] followed by a running number (`sim-1`, `sim-2`,
//! ...); call ids `{prefix}call-N`. Agents are `agent-001` ... with stations `st-001` ...;
//! queues are `sales`, `support`, `billing`, `complaints`, `vip`, `tech`, `claims`,
//! `retention`, then `queue-9` ...; the supervisor of agents 1–15 is `sup-01`, of 16–30
//! `sup-02`, and so on. Sending the same stream twice with the same token therefore only
//! produces duplicates; give each run its own prefix to send it again as new events.

use crate::json::Obj;
use crate::rng::SimRng;
use chrono::{
    DateTime, Datelike, Days, FixedOffset, IsoWeek, LocalResult, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;
use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
/// The ring cadence of seed-rules.md (China: 1 s on, 4 s off).
const RING_CADENCE_MS: i64 = 5 * SEC;
/// Ring-no-answer timeout after which the ACD takes the call away (`missed`).
const RONA_MS: i64 = 25 * SEC;
/// The peak of the intraday profile 1 − 0.35·cos(4πx).
const PROFILE_MAX: f64 = 1.35;
const QA_PER_WEEK: u32 = 3;
const QA_PER_WEEK_LOW: u32 = 1;
const TEAM_SIZE: u32 = 15;
const QUEUE_NAMES: [&str; 8] = ["sales", "support", "billing", "complaints", "vip", "tech", "claims", "retention"];

/// What to simulate. [`SimConfig::default`] is a 50-agent, 4-queue centre in Shanghai on
/// Monday 2026-03-02, 08:00–18:00, with 5 % violations.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Everything random derives from it: the same config gives the same stream.
    pub seed: u64,
    /// Number of agents (1 to 1,000,000).
    pub agents: u32,
    /// Number of queues (1 to 1,000).
    pub queues: u32,
    /// Mean call arrivals per hour **per queue** between `shift_start` and `shift_end`.
    pub calls_per_hour: f64,
    /// The first local date simulated.
    pub day: NaiveDate,
    /// The tenant's time zone: local times below and the offsets in `ts` use it.
    pub timezone: Tz,
    /// Start of each day's simulated window (local): heartbeats start here, and on the
    /// first day the roster is published here. At least 15 min before `shift_start`.
    pub start: NaiveTime,
    /// End of each day's simulated window (local): heartbeats stop here. At least 10 min
    /// after `shift_end`. Calls still in progress may end a little after it.
    pub end: NaiveTime,
    /// The shift's start (seed-rules' 08:30, "late after"): agents log in before it, calls
    /// start arriving at it. Published as the `start` of the `shift` events.
    pub shift_start: NaiveTime,
    /// The shift's end (seed-rules' 17:35): agents log out after it, calls stop arriving at
    /// it. Published as the `end` of the `shift` events. At least 2 h after `shift_start`.
    pub shift_end: NaiveTime,
    /// Number of consecutive days (1 to 3660).
    pub days: u32,
    /// 0 to 1: how often rules are broken (see the module docs for each rule's weight).
    pub violation_rate: f64,
    /// Simulated time between heartbeats; zero for none. At least 1 ms otherwise.
    pub heartbeat_every: Duration,
    /// Prefix of every event and call id (at most 64 bytes).
    pub id_prefix: String,
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            agents: 50,
            queues: 4,
            calls_per_hour: 100.0,
            day: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or(NaiveDate::MIN),
            timezone: chrono_tz::Asia::Shanghai,
            start: hm(8, 0),
            end: hm(18, 0),
            shift_start: hm(8, 30),
            shift_end: hm(17, 35),
            days: 1,
            violation_rate: 0.05,
            heartbeat_every: Duration::from_secs(10),
            id_prefix: "sim-".to_owned(),
        }
    }
}

/// A [`SimConfig`] the simulator cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid simulation setting `{field}`: {message}")]
pub struct SimConfigError {
    /// The offending field of [`SimConfig`].
    pub field: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl SimConfig {
    /// Check every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        let bad = |field: &'static str, message: String| Err(SimConfigError { field, message });
        if !(1..=1_000_000).contains(&self.agents) {
            return bad("agents", format!("must be 1 to 1000000, got {}", self.agents));
        }
        if !(1..=1000).contains(&self.queues) {
            return bad("queues", format!("must be 1 to 1000, got {}", self.queues));
        }
        if !self.calls_per_hour.is_finite() || self.calls_per_hour < 0.0 || self.calls_per_hour > 1e9 {
            return bad("calls_per_hour", format!("must be a number from 0 to 1e9, got {}", self.calls_per_hour));
        }
        if !(1..=3660).contains(&self.days) {
            return bad("days", format!("must be 1 to 3660, got {}", self.days));
        }
        if self.day.checked_add_days(Days::new(u64::from(self.days) + 62)).is_none() {
            return bad("day", format!("{} plus {} days is out of the calendar's range", self.day, self.days));
        }
        if !self.violation_rate.is_finite() || !(0.0..=1.0).contains(&self.violation_rate) {
            return bad("violation_rate", format!("must be from 0 to 1, got {}", self.violation_rate));
        }
        if !self.heartbeat_every.is_zero() && self.heartbeat_every < Duration::from_millis(1) {
            return bad(
                "heartbeat_every",
                format!("must be zero (none) or at least 1 ms, got {:?}", self.heartbeat_every),
            );
        }
        if self.id_prefix.len() > 64 {
            return bad("id_prefix", format!("must be at most 64 bytes, got {}", self.id_prefix.len()));
        }
        let mins = |t: NaiveTime| i64::from(chrono::Timelike::num_seconds_from_midnight(&t)) / 60;
        let (start, ss, se, end) = (mins(self.start), mins(self.shift_start), mins(self.shift_end), mins(self.end));
        if start + 15 > ss {
            return bad(
                "start",
                format!("{} must be at least 15 min before shift_start {}", self.start, self.shift_start),
            );
        }
        if ss + 120 > se {
            return bad(
                "shift_end",
                format!("{} must be at least 2 h after shift_start {}", self.shift_end, self.shift_start),
            );
        }
        if se + 10 > end {
            return bad("end", format!("{} must be at least 10 min after shift_end {}", self.end, self.shift_end));
        }
        Ok(())
    }
}

/// One generated event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEvent {
    /// The event's `ts`.
    pub at: DateTime<FixedOffset>,
    /// The event's `agent`, if it has one: the client routes by it.
    pub agent: Option<String>,
    /// The event's `type`.
    pub kind: &'static str,
    /// One CONTRACT.md §3 event object, compact JSON.
    pub json: String,
}

/// The simulation as an iterator of [`SimEvent`]s, sorted by `at`.
pub fn generate(cfg: &SimConfig) -> Result<Generator, SimConfigError> {
    Generator::new(cfg)
}

/// The probability of each violation, from the violation rate (see the module docs).
#[derive(Clone, Copy, Debug)]
struct Knobs {
    absent: f64,
    borrowed_station: f64,
    late_login: f64,
    early_logout: f64,
    break_overlong: f64,
    slow_answer: f64,
    missed: f64,
    survey_skipped: f64,
    wrap_overlong: f64,
    callback_late: f64,
    escalation_late: f64,
    qa_low: f64,
    roster_unpublished: f64,
}

impl Knobs {
    fn new(v: f64) -> Self {
        let p = |w: f64| (v * w).clamp(0.0, 1.0);
        Knobs {
            absent: p(0.2),
            borrowed_station: p(0.2),
            late_login: p(0.8),
            early_logout: p(0.6),
            break_overlong: p(1.0),
            slow_answer: p(0.4),
            missed: p(0.1),
            survey_skipped: p(0.2),
            wrap_overlong: p(0.2),
            callback_late: p(1.0),
            escalation_late: p(2.0),
            qa_low: p(1.0),
            roster_unpublished: p(1.0),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BreakKind {
    Break,
    Lunch,
    Training,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QaKind {
    Monitored,
    Sampled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AgentState {
    Out,
    Ready,
    NotReady,
    Ringing(u64),
    Talking(u64),
    WrapUp,
}

#[derive(Debug)]
struct Agent {
    id: String,
    station: String,
    supervisor: String,
    state: AgentState,
    ready_since: i64,
    /// Breaks that fell due while busy, taken at the next idle moment.
    pending: VecDeque<BreakKind>,
    /// The planned logout time has passed: log out at the next idle moment.
    logout_due: bool,
    /// Bumped on every state change that must invalidate scheduled break ends.
    epoch: u64,
    /// Where the agent logs in today.
    login_station: String,
    last_call: Option<String>,
    /// (from, to) dates of approved leave.
    leave: Option<(NaiveDate, NaiveDate)>,
    week: Option<IsoWeek>,
    monitored_left: u32,
    sampled_left: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CallState {
    Waiting,
    Ringing,
    Talking,
}

#[derive(Debug)]
struct Call {
    id: String,
    queue: u32,
    emergency: bool,
    key: (u8, i64, u64),
    abandon_at: i64,
    offered_at: i64,
    state: CallState,
    missed_by: Vec<u32>,
}

#[derive(Debug)]
enum Action {
    DayStart(u32),
    Heartbeat,
    Arrival(u32),
    Login(u32),
    LoginReady(u32, u64),
    LogoutDue(u32),
    BreakDue(u32, BreakKind),
    BreakEnd(u32, u64),
    Answer(u32, u64),
    Miss(u32, u64),
    Survey(u32, u64),
    End(u32, u64),
    Transfer(u32, u64),
    WrapEnd(u32),
    Abandon(u64),
    Escalate(u32, String),
    CallbackDone(u32, String),
    Qa(u32, QaKind),
}

#[derive(Debug)]
struct Scheduled {
    at: i64,
    seq: u64,
    action: Action,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed, so `BinaryHeap` (a max-heap) pops the earliest `(at, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Milliseconds of the current day's landmarks (UTC epoch milliseconds).
#[derive(Clone, Copy, Debug, Default)]
struct DayCtx {
    window_end: i64,
    shift_start: i64,
    shift_end: i64,
}

/// The running simulation; see [`generate`].
#[derive(Debug)]
pub struct Generator {
    cfg: SimConfig,
    knobs: Knobs,
    rng: SimRng,
    heap: BinaryHeap<Scheduled>,
    seq: u64,
    now: i64,
    out: VecDeque<SimEvent>,
    next_event: u64,
    next_call: u64,
    agents: Vec<Agent>,
    queue_names: Vec<String>,
    calls: HashMap<u64, Call>,
    /// Calls waiting for an agent: (0 for emergency else 1, queued at, call number).
    waiting: BTreeSet<(u8, i64, u64)>,
    /// Ready agents, longest idle first: (ready since, agent).
    ready: BTreeSet<(i64, u32)>,
    day: DayCtx,
    /// Months (year × 12 + month0) whose *next* month's roster was dealt with.
    roster_months_done: BTreeSet<i32>,
}

impl Generator {
    /// Validate `cfg` and set up the first day.
    pub fn new(cfg: &SimConfig) -> Result<Self, SimConfigError> {
        cfg.validate()?;
        let queue_names = (0..cfg.queues)
            .map(|q| QUEUE_NAMES.get(q as usize).map_or_else(|| format!("queue-{}", q + 1), |n| (*n).to_owned()))
            .collect();
        let agents = (0..cfg.agents)
            .map(|i| Agent {
                id: format!("agent-{:03}", i + 1),
                station: format!("st-{:03}", i + 1),
                supervisor: format!("sup-{:02}", i / TEAM_SIZE + 1),
                state: AgentState::Out,
                ready_since: 0,
                pending: VecDeque::new(),
                logout_due: false,
                epoch: 0,
                login_station: format!("st-{:03}", i + 1),
                last_call: None,
                leave: None,
                week: None,
                monitored_left: 0,
                sampled_left: 0,
            })
            .collect();
        let mut g = Generator {
            cfg: cfg.clone(),
            knobs: Knobs::new(cfg.violation_rate),
            rng: SimRng::new(cfg.seed),
            heap: BinaryHeap::new(),
            seq: 0,
            now: 0,
            out: VecDeque::new(),
            next_event: 1,
            next_call: 1,
            agents,
            queue_names,
            calls: HashMap::new(),
            waiting: BTreeSet::new(),
            ready: BTreeSet::new(),
            day: DayCtx::default(),
            roster_months_done: BTreeSet::new(),
        };
        let first = g.local_ms(cfg.day, cfg.start);
        g.now = first;
        g.schedule(first, Action::DayStart(0));
        Ok(g)
    }

    /// The configuration being simulated.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    // ---- time ----------------------------------------------------------------------

    fn date(&self, index: u32) -> NaiveDate {
        self.cfg.day.checked_add_days(Days::new(u64::from(index))).unwrap_or(self.cfg.day)
    }

    /// A local date and time as UTC epoch milliseconds. A time in a DST gap is moved an
    /// hour later; an ambiguous one takes the earlier instant.
    fn local_ms(&self, date: NaiveDate, t: NaiveTime) -> i64 {
        let ndt = date.and_time(t);
        match self.cfg.timezone.from_local_datetime(&ndt) {
            LocalResult::Single(dt) | LocalResult::Ambiguous(dt, _) => dt.timestamp_millis(),
            LocalResult::None => {
                let later = ndt + chrono::Duration::hours(1);
                self.cfg
                    .timezone
                    .from_local_datetime(&later)
                    .earliest()
                    .map_or_else(|| Utc.from_utc_datetime(&ndt).timestamp_millis(), |dt| dt.timestamp_millis())
            }
        }
    }

    fn datetime(&self, ms: i64) -> DateTime<FixedOffset> {
        let utc = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
        utc.with_timezone(&self.cfg.timezone).fixed_offset()
    }

    fn rfc3339(&self, ms: i64) -> String {
        self.datetime(ms).to_rfc3339_opts(SecondsFormat::Millis, false)
    }

    // ---- scheduling and output -----------------------------------------------------

    fn schedule(&mut self, at: i64, action: Action) {
        let at = at.max(self.now);
        self.seq += 1;
        self.heap.push(Scheduled { at, seq: self.seq, action });
    }

    /// Uniform duration in milliseconds.
    fn u_ms(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.uniform(lo as f64, hi as f64).round() as i64
    }

    fn emit(&mut self, kind: &'static str, agent: Option<u32>, fields: impl FnOnce(Obj) -> Obj) {
        let id = format!("{}{}", self.cfg.id_prefix, self.next_event);
        self.next_event += 1;
        let at = self.datetime(self.now);
        let ts = at.to_rfc3339_opts(SecondsFormat::Millis, false);
        let mut obj = Obj::new(&id, kind, &ts);
        let agent = agent.and_then(|a| self.agents.get(a as usize)).map(|a| a.id.clone());
        if let Some(a) = &agent {
            obj = obj.str("agent", a);
        }
        let json = fields(obj).finish();
        self.out.push_back(SimEvent { at, agent, kind, json });
    }

    fn agent(&mut self, a: u32) -> &mut Agent {
        // Agent numbers come only from 0..agents, which `new` created.
        let last = self.agents.len().saturating_sub(1);
        let i = (a as usize).min(last);
        &mut self.agents[i]
    }

    fn supervisor(&self, a: u32) -> String {
        self.agents.get(a as usize).map_or_else(|| "sup-01".to_owned(), |x| x.supervisor.clone())
    }

    // ---- the actions ---------------------------------------------------------------

    fn handle(&mut self, action: Action) {
        match action {
            Action::DayStart(d) => self.day_start(d),
            Action::Heartbeat => {
                self.emit("heartbeat", None, |o| o);
                let every = i64::try_from(self.cfg.heartbeat_every.as_millis()).unwrap_or(i64::MAX);
                let next = self.now.saturating_add(every);
                if next <= self.day.window_end {
                    self.schedule(next, Action::Heartbeat);
                }
            }
            Action::Arrival(q) => self.arrival(q),
            Action::Login(a) => {
                if self.agent(a).state == AgentState::Out {
                    let station = self.agent(a).login_station.clone();
                    self.emit("login", Some(a), |o| o.str("station", &station));
                    let ag = self.agent(a);
                    ag.state = AgentState::NotReady;
                    ag.logout_due = false;
                    ag.epoch += 1;
                    let epoch = ag.epoch;
                    let at = self.now + self.u_ms(10 * SEC, 90 * SEC);
                    self.schedule(at, Action::LoginReady(a, epoch));
                }
            }
            Action::LoginReady(a, epoch) | Action::BreakEnd(a, epoch) => {
                let ag = self.agent(a);
                if ag.state == AgentState::NotReady && ag.epoch == epoch {
                    self.idle_after_not_ready(a);
                }
            }
            Action::LogoutDue(a) => {
                let ag = self.agent(a);
                ag.logout_due = true;
                let state = ag.state;
                match state {
                    AgentState::Ready | AgentState::NotReady => self.logout(a),
                    // Busy: logs out when the wrap-up ends; out: nothing to do.
                    _ => {}
                }
            }
            Action::BreakDue(a, kind) => {
                let state = self.agent(a).state;
                match state {
                    AgentState::Ready => self.start_break(a, kind),
                    AgentState::Out => {}
                    _ => self.agent(a).pending.push_back(kind),
                }
            }
            Action::Answer(a, c) => self.answer(a, c),
            Action::Miss(a, c) => self.miss(a, c),
            Action::Survey(a, c) => {
                if let Some(call) = self.calls.get(&c).map(|x| x.id.clone()) {
                    self.emit("survey_offered", Some(a), |o| o.str("call", &call));
                }
            }
            Action::End(a, c) => self.end_call(a, c),
            Action::Transfer(a, c) => {
                if let Some(call) = self.calls.remove(&c) {
                    let to = format!("ext-{}", 8001 + self.rng.below(3));
                    self.emit("transferred", Some(a), |o| o.str("call", &call.id).str("to", &to));
                    self.emit("wrap_up", Some(a), |o| o.str("call", &call.id));
                    let ag = self.agent(a);
                    ag.state = AgentState::WrapUp;
                    ag.last_call = Some(call.id);
                    let at = self.now + self.u_ms(5 * SEC, 60 * SEC);
                    self.schedule(at, Action::WrapEnd(a));
                }
            }
            Action::WrapEnd(a) => {
                if self.agent(a).state == AgentState::WrapUp {
                    self.idle(a);
                    self.dispatch();
                }
            }
            Action::Abandon(c) => {
                if self.calls.get(&c).is_some_and(|x| x.state == CallState::Waiting) {
                    self.abandon(c);
                }
            }
            Action::Escalate(a, call) => self.emit("escalated", Some(a), |o| o.str("call", &call)),
            Action::CallbackDone(a, call) => self.emit("callback_done", Some(a), |o| o.str("call", &call)),
            Action::Qa(a, kind) => {
                let by = "qa-01";
                let call = self.agent(a).last_call.clone();
                let ty = match kind {
                    QaKind::Monitored => {
                        let ag = self.agent(a);
                        ag.monitored_left = ag.monitored_left.saturating_sub(1);
                        "monitored"
                    }
                    QaKind::Sampled => {
                        let ag = self.agent(a);
                        ag.sampled_left = ag.sampled_left.saturating_sub(1);
                        "callback_sampled"
                    }
                };
                self.emit(ty, Some(a), |o| o.opt_str("call", call.as_deref()).str("by", by));
            }
        }
    }

    fn day_start(&mut self, d: u32) {
        let date = self.date(d);
        let c = self.cfg.clone();
        self.day = DayCtx {
            window_end: self.local_ms(date, c.end),
            shift_start: self.local_ms(date, c.shift_start),
            shift_end: self.local_ms(date, c.shift_end),
        };
        if d == 0 {
            self.publish_roster_and_leave();
        }
        // The rolling week-ahead roster.
        let horizon: Vec<u32> = if d == 0 { (0..c.days.min(7)).collect() } else { vec![d + 6] };
        for dd in horizon.into_iter().filter(|dd| *dd < c.days) {
            let shift_date = self.date(dd);
            self.publish_shifts(shift_date);
        }
        // Next month's roster, decided on the first simulated day of each month.
        let month_key = date.year() * 12 + date.month0() as i32;
        if self.roster_months_done.insert(month_key) {
            let unpublished = self.rng.chance(self.knobs.roster_unpublished);
            if !unpublished && let Some(first) = first_workday_of_next_month(date) {
                self.publish_shifts(first);
            }
        }
        if !c.heartbeat_every.is_zero() {
            self.schedule(self.now, Action::Heartbeat);
        }
        for q in 0..c.queues {
            let from = self.day.shift_start;
            self.schedule_next_arrival(q, from);
        }
        for a in 0..c.agents {
            self.plan_agent_day(a, date, d);
        }
        if d + 1 < c.days {
            let next = self.local_ms(self.date(d + 1), c.start);
            self.schedule(next, Action::DayStart(d + 1));
        }
    }

    fn publish_roster_and_leave(&mut self) {
        let n = self.cfg.agents;
        let uncertified = if self.cfg.violation_rate > 0.0 {
            ((f64::from(n) * self.cfg.violation_rate * 0.5).round() as u32).clamp(1, n)
        } else {
            0
        };
        let mut order: Vec<u32> = (0..n).collect();
        // Partial Fisher–Yates: the first `k` of `order` become a random sample.
        let mut pick = |rng: &mut SimRng, k: u32| -> Vec<u32> {
            for i in 0..k.min(n) as usize {
                let j = i + rng.below((order.len() - i) as u64) as usize;
                order.swap(i, j);
            }
            order[..k.min(n) as usize].to_vec()
        };
        let uncert: BTreeSet<u32> = pick(&mut self.rng, uncertified).into_iter().collect();
        for a in 0..n {
            let certified = !uncert.contains(&a);
            let name = format!("Agent {:03}", a + 1);
            self.emit("roster", Some(a), |o| o.bool("certified", certified).str("name", &name));
        }
        let on_leave = if n >= 40 {
            2
        } else if n >= 2 {
            1
        } else {
            0
        };
        let leavers = pick(&mut self.rng, on_leave);
        for a in leavers {
            let first = self.rng.below(u64::from(self.cfg.days)) as u32;
            let len = 1 + self.rng.below(2) as u32;
            let (from, to) = (self.date(first), self.date(first + len - 1));
            self.agent(a).leave = Some((from, to));
            let by = self.supervisor(a);
            let (f, t) = (from.to_string(), to.to_string());
            self.emit("leave_approved", Some(a), |o| o.str("from", &f).str("to", &t).str("by", &by));
        }
    }

    fn publish_shifts(&mut self, date: NaiveDate) {
        let (ds, start, end) = (
            date.to_string(),
            self.cfg.shift_start.format("%H:%M").to_string(),
            self.cfg.shift_end.format("%H:%M").to_string(),
        );
        for a in 0..self.cfg.agents {
            // No shift on a date of approved leave: a shift sent after the leave would
            // put the agent back on duty that day.
            if self.agents.get(a as usize).and_then(|x| x.leave).is_some_and(|(f, t)| f <= date && date <= t) {
                continue;
            }
            self.emit("shift", Some(a), |o| o.str("date", &ds).str("start", &start).str("end", &end));
        }
    }

    fn plan_agent_day(&mut self, a: u32, date: NaiveDate, d: u32) {
        let k = self.knobs;
        let (ss, se) = (self.day.shift_start, self.day.shift_end);
        let len = se - ss;
        {
            let ag = self.agent(a);
            ag.pending.clear();
            ag.logout_due = false;
        }
        if self.agent(a).leave.is_some_and(|(f, t)| f <= date && date <= t) {
            return;
        }
        if self.rng.chance(k.absent) {
            return;
        }
        let borrowed = self.rng.chance(k.borrowed_station) && self.cfg.agents > 1;
        let station = if borrowed {
            let next = (a + 1) % self.cfg.agents;
            self.agent(next).station.clone()
        } else {
            self.agent(a).station.clone()
        };
        self.agent(a).login_station = station;
        let login = if self.rng.chance(k.late_login) {
            ss + self.u_ms(2 * MIN, 50 * MIN)
        } else {
            ss - self.u_ms(5 * MIN, 15 * MIN)
        };
        self.schedule(login, Action::Login(a));
        let logout = if self.rng.chance(k.early_logout) {
            se - self.u_ms(5 * MIN, 50 * MIN)
        } else {
            se + self.u_ms(30 * SEC, 10 * MIN)
        };
        self.schedule(logout, Action::LogoutDue(a));
        let frac = |g: &mut Self, lo: f64, hi: f64| ss + (len as f64 * g.rng.uniform(lo, hi)).round() as i64;
        let t = frac(self, 0.17, 0.27);
        self.schedule(t, Action::BreakDue(a, BreakKind::Break));
        let t = frac(self, 0.33, 0.5);
        self.schedule(t, Action::BreakDue(a, BreakKind::Lunch));
        let t = frac(self, 0.66, 0.77);
        self.schedule(t, Action::BreakDue(a, BreakKind::Break));
        if self.rng.chance(0.1) {
            let t = frac(self, 0.55, 0.6);
            self.schedule(t, Action::BreakDue(a, BreakKind::Training));
        }
        // QA: the week's quota spread over the week's remaining simulated days.
        let week = date.iso_week();
        if self.agent(a).week != Some(week) {
            let m = if self.rng.chance(k.qa_low) { QA_PER_WEEK_LOW } else { QA_PER_WEEK };
            let s = if self.rng.chance(k.qa_low) { QA_PER_WEEK_LOW } else { QA_PER_WEEK };
            let ag = self.agent(a);
            ag.week = Some(week);
            ag.monitored_left = m;
            ag.sampled_left = s;
        }
        // Today and the week's later simulated days not on approved leave.
        let leave = self.agent(a).leave;
        let days_left = (d..self.cfg.days)
            .map(|x| self.date(x))
            .take_while(|x| x.iso_week() == week)
            .filter(|x| !leave.is_some_and(|(f, t)| f <= *x && *x <= t))
            .count()
            .max(1) as u32;
        let (m_left, s_left) = (self.agent(a).monitored_left, self.agent(a).sampled_left);
        for (kind, left) in [(QaKind::Monitored, m_left), (QaKind::Sampled, s_left)] {
            for _ in 0..left.div_ceil(days_left) {
                let t = frac(self, 0.1, 0.95);
                self.schedule(t, Action::Qa(a, kind));
            }
        }
    }

    fn logout(&mut self, a: u32) {
        let ag = self.agent(a);
        let since = ag.ready_since;
        if ag.state == AgentState::Ready {
            self.ready.remove(&(since, a));
        }
        self.emit("logout", Some(a), |o| o);
        let ag = self.agent(a);
        ag.state = AgentState::Out;
        ag.pending.clear();
        ag.epoch += 1;
    }

    fn go_ready(&mut self, a: u32) {
        self.emit("ready", Some(a), |o| o);
        let now = self.now;
        let ag = self.agent(a);
        ag.state = AgentState::Ready;
        ag.ready_since = now;
        self.ready.insert((now, a));
        self.dispatch();
    }

    /// The agent is free after a call (wrap-up over, or a missed ring).
    fn idle(&mut self, a: u32) {
        if self.agent(a).logout_due {
            self.logout(a);
        } else if let Some(kind) = self.agent(a).pending.pop_front() {
            self.start_break(a, kind);
        } else {
            self.go_ready(a);
        }
    }

    /// A not-ready period (or the moment after login) ends. Breaks that fell due meanwhile
    /// are put off, so that two not-ready periods never run back to back.
    fn idle_after_not_ready(&mut self, a: u32) {
        if self.agent(a).logout_due {
            self.logout(a);
            return;
        }
        let pending: Vec<BreakKind> = self.agent(a).pending.drain(..).collect();
        for kind in pending {
            let at = self.now + self.u_ms(10 * MIN, 30 * MIN);
            self.schedule(at, Action::BreakDue(a, kind));
        }
        self.go_ready(a);
    }

    fn start_break(&mut self, a: u32, kind: BreakKind) {
        let since = self.agent(a).ready_since;
        self.ready.remove(&(since, a));
        let (reason, len, approved) = match kind {
            BreakKind::Break => {
                if self.rng.chance(self.knobs.break_overlong) {
                    ("break", self.u_ms(16 * MIN, 30 * MIN), false)
                } else {
                    ("break", self.u_ms(5 * MIN, 12 * MIN), false)
                }
            }
            BreakKind::Lunch => ("lunch", self.u_ms(25 * MIN, 35 * MIN), true),
            BreakKind::Training => ("training", self.u_ms(40 * MIN, 60 * MIN), true),
        };
        if approved {
            let until = self.now + len + self.u_ms(3 * MIN, 10 * MIN);
            let until = self.rfc3339(until);
            let by = self.supervisor(a);
            self.emit("busy_approved", Some(a), |o| o.str("until", &until).str("by", &by));
        }
        self.emit("not_ready", Some(a), |o| o.str("reason", reason));
        let ag = self.agent(a);
        ag.state = AgentState::NotReady;
        ag.epoch += 1;
        let epoch = ag.epoch;
        self.schedule(self.now + len, Action::BreakEnd(a, epoch));
    }

    fn schedule_next_arrival(&mut self, q: u32, from: i64) {
        let rate = self.cfg.calls_per_hour;
        if rate <= 0.0 {
            return;
        }
        let (ss, se) = (self.day.shift_start, self.day.shift_end);
        let mean_gap_ms = 3_600_000.0 / (rate * PROFILE_MAX);
        let mut t = from as f64;
        loop {
            t += self.rng.exp(mean_gap_ms);
            if t >= se as f64 {
                return;
            }
            let x = (t - ss as f64) / (se - ss) as f64;
            let factor = 1.0 - 0.35 * (2.0 * std::f64::consts::TAU * x).cos();
            if self.rng.chance(factor / PROFILE_MAX) {
                self.schedule(t.round() as i64, Action::Arrival(q));
                return;
            }
        }
    }

    fn arrival(&mut self, q: u32) {
        let n = self.next_call;
        self.next_call += 1;
        let id = format!("{}call-{}", self.cfg.id_prefix, n);
        let emergency = self.rng.chance(0.005);
        let caller = format!(
            "+861{}{}{:08}",
            [3, 5, 8][self.rng.below(3) as usize],
            self.rng.below(10),
            self.rng.below(100_000_000)
        );
        let queue = self.queue_names.get(q as usize).cloned().unwrap_or_default();
        self.emit("queued", None, |o| {
            let o = o.str("call", &id).str("queue", &queue).str("caller", &caller);
            if emergency { o.str("priority", "emergency") } else { o }
        });
        let patience = if emergency { self.rng.exp(600_000.0) } else { self.rng.exp(90_000.0) };
        let abandon_at = self.now + (patience.round() as i64).max(5 * SEC);
        let key = (u8::from(!emergency), self.now, n);
        self.calls.insert(
            n,
            Call {
                id,
                queue: q,
                emergency,
                key,
                abandon_at,
                offered_at: 0,
                state: CallState::Waiting,
                missed_by: vec![],
            },
        );
        self.waiting.insert(key);
        self.schedule(abandon_at, Action::Abandon(n));
        let now = self.now;
        self.schedule_next_arrival(q, now);
        self.dispatch();
    }

    fn abandon(&mut self, c: u64) {
        if let Some(call) = self.calls.remove(&c) {
            self.waiting.remove(&call.key);
            let queue = self.queue_names.get(call.queue as usize).cloned().unwrap_or_default();
            self.emit("abandoned", None, |o| o.str("call", &call.id).str("queue", &queue));
        }
    }

    /// Offer waiting calls to ready agents: calls by (emergency first, then arrival), agents
    /// longest idle first, skipping agents who already missed the call.
    fn dispatch(&mut self) {
        loop {
            if self.ready.is_empty() || self.waiting.is_empty() {
                return;
            }
            let mut matched = None;
            'calls: for wk in &self.waiting {
                let missed_by: &[u32] = self.calls.get(&wk.2).map_or(&[], |c| &c.missed_by);
                for rk in &self.ready {
                    if !missed_by.contains(&rk.1) {
                        matched = Some((*wk, *rk));
                        break 'calls;
                    }
                }
            }
            let Some((wk, rk)) = matched else { return };
            self.waiting.remove(&wk);
            self.ready.remove(&rk);
            self.offer(rk.1, wk.2);
        }
    }

    fn offer(&mut self, a: u32, c: u64) {
        let now = self.now;
        let Some(call) = self.calls.get_mut(&c) else { return };
        call.state = CallState::Ringing;
        call.offered_at = now;
        let (id, emergency) = (call.id.clone(), call.emergency);
        let queue = self.queue_names.get(call.queue as usize).cloned().unwrap_or_default();
        self.emit("offered", Some(a), |o| {
            let o = o.str("call", &id).str("queue", &queue);
            if emergency { o.str("priority", "emergency") } else { o }
        });
        self.agent(a).state = AgentState::Ringing(c);
        let r = self.rng.unit();
        if r < self.knobs.missed {
            self.schedule(now + RONA_MS, Action::Miss(a, c));
        } else if r < self.knobs.missed + self.knobs.slow_answer {
            let at = now + self.u_ms(15_500, 22_000);
            self.schedule(at, Action::Answer(a, c));
        } else {
            let at = now + self.u_ms(2 * SEC, 12 * SEC);
            self.schedule(at, Action::Answer(a, c));
        }
    }

    fn answer(&mut self, a: u32, c: u64) {
        let now = self.now;
        let Some(call) = self.calls.get_mut(&c) else { return };
        call.state = CallState::Talking;
        let rings = ((now - call.offered_at).max(0) / RING_CADENCE_MS + 1) as u64;
        let (id, emergency) = (call.id.clone(), call.emergency);
        self.emit("answered", Some(a), |o| o.str("call", &id).num("rings", rings));
        self.agent(a).state = AgentState::Talking(c);
        let talk = (self.rng.lognormal_mean(240_000.0, 0.6).round() as i64).clamp(15 * SEC, 3600 * SEC);
        if self.rng.chance(0.03) {
            self.schedule(now + talk, Action::Transfer(a, c));
        } else {
            if !self.rng.chance(self.knobs.survey_skipped) {
                let before = self.u_ms(3 * SEC, 12 * SEC);
                self.schedule((now + talk - before).max(now + SEC), Action::Survey(a, c));
            }
            self.schedule(now + talk, Action::End(a, c));
        }
        if emergency {
            let after = if self.rng.chance(self.knobs.escalation_late) {
                self.u_ms(6 * MIN, 20 * MIN)
            } else {
                self.u_ms(15 * SEC, 120 * SEC)
            };
            self.schedule(now + after, Action::Escalate(a, id));
        }
    }

    fn miss(&mut self, a: u32, c: u64) {
        let now = self.now;
        let Some(call) = self.calls.get_mut(&c) else { return };
        call.missed_by.push(a);
        call.state = CallState::Waiting;
        let (id, key, abandon_at) = (call.id.clone(), call.key, call.abandon_at);
        self.emit("missed", Some(a), |o| o.str("call", &id));
        if now >= abandon_at {
            self.abandon(c);
        } else {
            self.waiting.insert(key);
        }
        self.idle(a);
        self.dispatch();
    }

    fn end_call(&mut self, a: u32, c: u64) {
        let Some(call) = self.calls.remove(&c) else { return };
        self.emit("ended", Some(a), |o| o.str("call", &call.id));
        let now = self.now;
        if self.rng.chance(0.04) {
            let due = now + self.u_ms(30 * MIN, 120 * MIN);
            if due <= self.day.shift_end - 10 * MIN {
                let due_s = self.rfc3339(due);
                self.emit("callback_promised", Some(a), |o| o.str("call", &call.id).str("due", &due_s));
                let done = if self.rng.chance(self.knobs.callback_late) {
                    due + self.u_ms(5 * MIN, 60 * MIN)
                } else {
                    due - self.u_ms(MIN, 20 * MIN)
                };
                self.schedule(done, Action::CallbackDone(a, call.id.clone()));
            }
        }
        let wrap = if self.rng.chance(self.knobs.wrap_overlong) {
            self.u_ms(125 * SEC, 300 * SEC)
        } else {
            self.u_ms(5 * SEC, 90 * SEC)
        };
        let ag = self.agent(a);
        ag.state = AgentState::WrapUp;
        ag.last_call = Some(call.id);
        self.schedule(now + wrap, Action::WrapEnd(a));
    }
}

fn first_workday_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    let (y, m) = if date.month() == 12 { (date.year() + 1, 1) } else { (date.year(), date.month() + 1) };
    let mut d = NaiveDate::from_ymd_opt(y, m, 1)?;
    while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
        d = d.succ_opt()?;
    }
    Some(d)
}

impl Iterator for Generator {
    type Item = SimEvent;

    fn next(&mut self) -> Option<SimEvent> {
        loop {
            if let Some(e) = self.out.pop_front() {
                return Some(e);
            }
            let Scheduled { at, action, .. } = self.heap.pop()?;
            self.now = at;
            self.handle(action);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use seatwatch_model::{CallerKey, CallerPolicy, IngestOptions, validate_event};
    use serde_json::Value;
    use std::collections::{BTreeMap, HashSet};

    fn cfg(seed: u64, violation_rate: f64) -> SimConfig {
        SimConfig { seed, violation_rate, ..SimConfig::default() }
    }

    fn events(c: &SimConfig) -> Vec<SimEvent> {
        generate(c).unwrap().collect()
    }

    /// Where an agent is, as far as the contract's state events go.
    #[derive(Clone, Debug, PartialEq)]
    enum St {
        Out,
        NotReady {
            since: DateTime<FixedOffset>,
        },
        Ready,
        Ringing {
            call: String,
            since: DateTime<FixedOffset>,
        },
        Talking {
            call: String,
            surveyed: bool,
            answered: DateTime<FixedOffset>,
        },
        /// Wrap-up after `ended`/`transferred`, or free after `missed`.
        After {
            call: String,
            since: DateTime<FixedOffset>,
            wrap: bool,
        },
    }

    /// Rule violations found in a stream (seed-rules.md), and state-machine errors.
    #[derive(Debug, Default)]
    struct Audit {
        errors: Vec<String>,
        late_login: u32,
        login_after_825: u32,
        early_logout: u32,
        absent: u32,
        uncertified: u32,
        duplicate_login: u32,
        not_ready_overlong: u32,
        slow_answer: u32,
        missed: u32,
        survey_missing: u32,
        wrap_overlong: u32,
        callback_overdue: u32,
        escalation_late: u32,
        qa_low: u32,
        roster_next_month: bool,
        calls_answered: u32,
        calls_abandoned: u32,
    }

    fn s(v: &Value, k: &str) -> String {
        v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned()
    }

    fn audit(c: &SimConfig, evs: &[SimEvent]) -> Audit {
        let mut out = Audit::default();
        let key = CallerKey([7; 32]);
        let opts = IngestOptions::any_time("t", CallerPolicy::Hmac, &key);
        let mut ids = HashSet::new();
        let mut state: BTreeMap<String, St> = BTreeMap::new();
        let mut approval_until: BTreeMap<String, DateTime<FixedOffset>> = BTreeMap::new();
        let mut logged_in_days: BTreeMap<(String, NaiveDate), u32> = BTreeMap::new();
        let mut leave: Vec<(String, NaiveDate, NaiveDate)> = vec![];
        let mut agents = BTreeSet::new();
        let mut qa: BTreeMap<(String, IsoWeek, &'static str), u32> = BTreeMap::new();
        let mut emergencies = BTreeSet::new();
        let mut answered_at: BTreeMap<String, DateTime<FixedOffset>> = BTreeMap::new();
        let mut escalated: BTreeMap<String, DateTime<FixedOffset>> = BTreeMap::new();
        let mut callbacks: BTreeMap<String, (DateTime<FixedOffset>, Option<DateTime<FixedOffset>>)> = BTreeMap::new();
        let mut call_end: BTreeMap<String, &'static str> = BTreeMap::new();
        let mut queued = BTreeSet::new();
        let mut at_station: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut station_of: BTreeMap<String, String> = BTreeMap::new();
        let (ss, se) = (c.shift_start, c.shift_end);
        let login_by = hm(8, 25);
        let last_date = c.day.checked_add_days(Days::new(u64::from(c.days) - 1)).unwrap();
        let mut prev: Option<DateTime<FixedOffset>> = None;
        for (i, e) in evs.iter().enumerate() {
            let mut err = |m: String| out.errors.push(format!("#{i} {}: {m}", e.json));
            if prev.is_some_and(|p| e.at < p) {
                err("out of order".into());
            }
            prev = Some(e.at);
            let v: Value = serde_json::from_str(&e.json).unwrap();
            if let Err(r) = validate_event(&seatwatch_model::Json::from_value(&v), 0, &opts) {
                err(format!("rejected by the model: {r}"));
            }
            if !ids.insert(s(&v, "id")) {
                err("duplicate id".into());
            }
            if s(&v, "type") != e.kind {
                err("kind differs from type".into());
            }
            if DateTime::parse_from_rfc3339(&s(&v, "ts")).ok() != Some(e.at)
                || e.at.offset().local_minus_utc() != 8 * 3600
            {
                err("ts differs from at or has the wrong offset".into());
            }
            let agent = v.get("agent").and_then(Value::as_str).map(str::to_owned);
            if agent != e.agent {
                err("agent differs".into());
            }
            let call = s(&v, "call");
            let now = e.at;
            let t = now.time();
            let Some(a) = agent else {
                match e.kind {
                    "queued" => {
                        if !queued.insert(call.clone()) {
                            err("queued twice".into());
                        }
                        if s(&v, "priority") == "emergency" {
                            emergencies.insert(call);
                        }
                    }
                    "abandoned" => {
                        out.calls_abandoned += 1;
                        if call_end.insert(call, "abandoned").is_some() {
                            err("call ended twice".into());
                        }
                    }
                    "heartbeat" => {}
                    k => err(format!("{k} without agent")),
                }
                continue;
            };
            agents.insert(a.clone());
            let st = state.entry(a.clone()).or_insert(St::Out).clone();
            let mut set = |x: St| {
                state.insert(a.clone(), x);
            };
            match (e.kind, &st) {
                ("roster", _) => {
                    if v["certified"] == Value::Bool(false) {
                        out.uncertified += 1;
                    }
                }
                ("shift", _) => {
                    let d = NaiveDate::parse_from_str(&s(&v, "date"), "%Y-%m-%d").unwrap();
                    if leave.iter().any(|(x, f, t)| *x == a && *f <= d && d <= *t) {
                        err("a shift after the leave would put the agent back on duty".into());
                    }
                    if (d.year(), d.month()) > (last_date.year(), last_date.month()) {
                        out.roster_next_month = true;
                    }
                }
                ("leave_approved", _) => {
                    let p = |k| NaiveDate::parse_from_str(&s(&v, k), "%Y-%m-%d").unwrap();
                    leave.push((a.clone(), p("from"), p("to")));
                }
                ("busy_approved", _) => {
                    approval_until.insert(a.clone(), DateTime::parse_from_rfc3339(&s(&v, "until")).unwrap());
                }
                ("monitored", _) => *qa.entry((a.clone(), now.date_naive().iso_week(), "monitored")).or_default() += 1,
                ("callback_sampled", _) => {
                    *qa.entry((a.clone(), now.date_naive().iso_week(), "sampled")).or_default() += 1;
                }
                ("callback_promised", _) => {
                    callbacks.insert(call, (DateTime::parse_from_rfc3339(&s(&v, "due")).unwrap(), None));
                }
                ("callback_done", _) => match callbacks.get_mut(&call) {
                    Some(x) => x.1 = Some(now),
                    None => err("callback_done without a promise".into()),
                },
                ("escalated", _) => {
                    escalated.insert(call, now);
                }
                ("login", St::Out) => {
                    let station = s(&v, "station");
                    let occupants = at_station.entry(station.clone()).or_default();
                    if !occupants.is_empty() {
                        out.duplicate_login += 1;
                    }
                    occupants.insert(a.clone());
                    station_of.insert(a.clone(), station);
                    let n = logged_in_days.entry((a.clone(), now.date_naive())).or_default();
                    *n += 1;
                    if *n == 1 && t > ss {
                        out.late_login += 1;
                    }
                    if *n == 1 && t > login_by {
                        out.login_after_825 += 1;
                    }
                    set(St::NotReady { since: now });
                }
                ("logout", St::Ready | St::NotReady { .. } | St::After { .. }) => {
                    if t < se {
                        out.early_logout += 1;
                    }
                    if let St::NotReady { since } = st {
                        check_not_ready(&mut out, &approval_until, &a, since, now);
                    }
                    if let St::After { since, wrap: true, .. } = st
                        && now - since > chrono::Duration::seconds(120)
                    {
                        out.wrap_overlong += 1;
                    }
                    if let Some(station) = station_of.remove(&a) {
                        at_station.entry(station).or_default().remove(&a);
                    }
                    set(St::Out);
                }
                ("ready", St::NotReady { .. } | St::After { .. }) | ("not_ready", St::Ready | St::After { .. }) => {
                    if let St::NotReady { since } = st {
                        check_not_ready(&mut out, &approval_until, &a, since, now);
                    }
                    if let St::After { since, wrap: true, .. } = st
                        && now - since > chrono::Duration::seconds(120)
                    {
                        out.wrap_overlong += 1;
                    }
                    set(if e.kind == "ready" { St::Ready } else { St::NotReady { since: now } });
                }
                ("offered", St::Ready) => {
                    if !queued.contains(&call) || call_end.contains_key(&call) {
                        err("offered a call that is not waiting".into());
                    }
                    set(St::Ringing { call, since: now });
                }
                ("answered", St::Ringing { call: c0, since }) if *c0 == call => {
                    let rings = v["rings"].as_u64().unwrap_or(0);
                    if rings >= 4 || now - *since >= chrono::Duration::seconds(15) {
                        out.slow_answer += 1;
                    }
                    if rings != ((now - *since).num_milliseconds() / 5000 + 1) as u64 {
                        err("rings do not match the ring time".into());
                    }
                    out.calls_answered += 1;
                    answered_at.insert(call.clone(), now);
                    set(St::Talking { call, surveyed: false, answered: now });
                }
                ("missed", St::Ringing { call: c0, .. }) if *c0 == call => {
                    out.missed += 1;
                    set(St::After { call, since: now, wrap: false });
                }
                ("survey_offered", St::Talking { call: c0, surveyed: false, answered }) if *c0 == call => {
                    set(St::Talking { call, surveyed: true, answered: *answered });
                }
                ("ended", St::Talking { call: c0, surveyed, .. }) if *c0 == call => {
                    if !surveyed {
                        out.survey_missing += 1;
                    }
                    if call_end.insert(call.clone(), "ended").is_some() {
                        err("call ended twice".into());
                    }
                    set(St::After { call, since: now, wrap: true });
                }
                ("transferred", St::Talking { call: c0, .. }) if *c0 == call => {
                    if call_end.insert(call.clone(), "transferred").is_some() {
                        err("call ended twice".into());
                    }
                    set(St::After { call, since: now, wrap: true });
                }
                ("wrap_up", St::After { call: c0, wrap: true, .. }) if *c0 == call => {}
                (k, st) => err(format!("{k} not allowed in state {st:?}")),
            }
        }
        for (a, st) in &state {
            if *st != St::Out {
                out.errors.push(format!("{a} ends the simulation in {st:?}"));
            }
        }
        for call in &queued {
            if !call_end.contains_key(call) {
                out.errors.push(format!("call {call} never ended"));
            }
        }
        for d in 0..c.days {
            let date = c.day.checked_add_days(Days::new(u64::from(d))).unwrap();
            for a in &agents {
                let on_leave = leave.iter().any(|(x, f, t)| x == a && *f <= date && date <= *t);
                if !on_leave && !logged_in_days.contains_key(&(a.clone(), date)) {
                    out.absent += 1;
                }
            }
        }
        let worked: BTreeSet<(String, IsoWeek)> =
            logged_in_days.keys().map(|(a, d)| (a.clone(), d.iso_week())).collect();
        for (a, week) in &worked {
            let m = qa.get(&(a.clone(), *week, "monitored")).copied().unwrap_or(0);
            let s = qa.get(&(a.clone(), *week, "sampled")).copied().unwrap_or(0);
            if m < 2 || s < 2 {
                out.qa_low += 1;
            }
        }
        for (due, done) in callbacks.values() {
            if done.is_none_or(|d| d > *due) {
                out.callback_overdue += 1;
            }
        }
        for call in &emergencies {
            if let Some(ans) = answered_at.get(call)
                && escalated.get(call).is_none_or(|e| *e - *ans > chrono::Duration::minutes(5))
            {
                out.escalation_late += 1;
            }
        }
        out
    }

    impl Audit {
        fn violations(&self) -> u32 {
            self.late_login
                + self.login_after_825
                + self.early_logout
                + self.absent
                + self.uncertified
                + self.duplicate_login
                + self.not_ready_overlong
                + self.slow_answer
                + self.missed
                + self.survey_missing
                + self.wrap_overlong
                + self.callback_overdue
                + self.escalation_late
                + self.qa_low
        }
    }

    fn check_not_ready(
        out: &mut Audit,
        approvals: &BTreeMap<String, DateTime<FixedOffset>>,
        a: &str,
        since: DateTime<FixedOffset>,
        until: DateTime<FixedOffset>,
    ) {
        if until - since > chrono::Duration::minutes(15) && approvals.get(a).is_none_or(|u| *u < until) {
            out.not_ready_overlong += 1;
        }
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let a = events(&cfg(7, 0.05));
        let b = events(&cfg(7, 0.05));
        assert!(a.len() > 10_000, "{} events", a.len());
        assert_eq!(a, b);
        let c = events(&cfg(8, 0.05));
        assert_ne!(a, c);
        // Only the prefix differs when only the prefix changes.
        let d = events(&SimConfig { id_prefix: "run2-".into(), ..cfg(7, 0.05) });
        assert_eq!(a.len(), d.len());
        assert_eq!(a[100].json.replace("sim-", "run2-"), d[100].json);
    }

    #[test]
    fn a_clean_day_is_consistent_and_breaks_no_rule() {
        let c = cfg(3, 0.0);
        let evs = events(&c);
        let a = audit(&c, &evs);
        assert!(a.errors.is_empty(), "{:#?}", &a.errors[..a.errors.len().min(20)]);
        assert!(a.calls_answered > 2000, "{a:?}");
        let zero = [
            ("late_login", a.late_login),
            ("login_after_825", a.login_after_825),
            ("early_logout", a.early_logout),
            ("absent", a.absent),
            ("uncertified", a.uncertified),
            ("duplicate_login", a.duplicate_login),
            ("not_ready_overlong", a.not_ready_overlong),
            ("slow_answer", a.slow_answer),
            ("missed", a.missed),
            ("survey_missing", a.survey_missing),
            ("wrap_overlong", a.wrap_overlong),
            ("callback_overdue", a.callback_overdue),
            ("escalation_late", a.escalation_late),
            ("qa_low", a.qa_low),
        ];
        for (what, n) in zero {
            assert_eq!(n, 0, "{what}: {a:?}");
        }
        assert!(a.roster_next_month, "next month's roster must be published");
        // Some realism: lunch approvals, breaks, transfers, emergencies, abandons all occur.
        for kind in ["busy_approved", "transferred", "callback_promised", "escalated", "leave_approved", "abandoned"] {
            assert!(evs.iter().any(|e| e.kind == kind), "no {kind}");
        }
        let reasons: BTreeSet<String> = evs
            .iter()
            .filter(|e| e.kind == "not_ready")
            .map(|e| serde_json::from_str::<Value>(&e.json).unwrap()["reason"].as_str().unwrap().to_owned())
            .collect();
        assert!(reasons.contains("break") && reasons.contains("lunch"), "{reasons:?}");
    }

    #[test]
    fn a_violating_day_breaks_every_kind_of_rule() {
        let c = cfg(3, 0.2);
        let a = audit(&c, &events(&c));
        assert!(a.errors.is_empty(), "{:#?}", &a.errors[..a.errors.len().min(20)]);
        let some = [
            ("late_login", a.late_login),
            ("early_logout", a.early_logout),
            ("absent", a.absent),
            ("uncertified", a.uncertified),
            ("duplicate_login", a.duplicate_login),
            ("not_ready_overlong", a.not_ready_overlong),
            ("slow_answer", a.slow_answer),
            ("missed", a.missed),
            ("survey_missing", a.survey_missing),
            ("wrap_overlong", a.wrap_overlong),
            ("callback_overdue", a.callback_overdue),
            ("escalation_late", a.escalation_late),
            ("qa_low", a.qa_low),
        ];
        for (what, n) in some {
            assert!(n > 0, "no {what}: {a:?}");
        }
        // ... but only some of the time.
        assert!(a.slow_answer < a.calls_answered / 10, "{a:?}");
        assert_eq!(a.uncertified, 5, "round(50 × 0.2 × 0.5)");
    }

    #[test]
    fn the_default_rate_gives_a_few_violations() {
        let c = SimConfig::default();
        let a = audit(&c, &events(&c));
        assert!(a.errors.is_empty(), "{:#?}", &a.errors[..a.errors.len().min(20)]);
        assert!(a.uncertified >= 1 && a.slow_answer > 0 && a.not_ready_overlong > 0, "{a:?}");
    }

    #[test]
    fn several_days_across_a_weekend_and_a_month_end() {
        // Friday 2026-03-27 to Wednesday 2026-04-01.
        let c = SimConfig {
            agents: 12,
            queues: 2,
            calls_per_hour: 40.0,
            day: NaiveDate::from_ymd_opt(2026, 3, 27).unwrap(),
            days: 6,
            violation_rate: 0.0,
            ..SimConfig::default()
        };
        let evs = events(&c);
        let a = audit(&c, &evs);
        assert!(a.errors.is_empty(), "{:#?}", &a.errors[..a.errors.len().min(20)]);
        assert_eq!((a.late_login, a.not_ready_overlong, a.survey_missing, a.qa_low), (0, 0, 0, 0), "{a:?}");
        // Every simulated date is on the roster for every agent, weekends included.
        let shifts: BTreeSet<(String, String)> = evs
            .iter()
            .filter(|e| e.kind == "shift")
            .map(|e| {
                let v: Value = serde_json::from_str(&e.json).unwrap();
                (s(&v, "agent"), s(&v, "date"))
            })
            .collect();
        let leave: Vec<(String, String, String)> = evs
            .iter()
            .filter(|e| e.kind == "leave_approved")
            .map(|e| {
                let v: Value = serde_json::from_str(&e.json).unwrap();
                (s(&v, "agent"), s(&v, "from"), s(&v, "to"))
            })
            .collect();
        assert_eq!(leave.len(), 1);
        for d in 0..6 {
            let date = c.day.checked_add_days(Days::new(d)).unwrap().to_string();
            for i in 1..=12 {
                let agent = format!("agent-{i:03}");
                let on_leave = leave.iter().any(|(a, f, t)| *a == agent && *f <= date && date <= *t);
                assert_eq!(shifts.contains(&(agent, date.clone())), !on_leave, "agent {i} on {date}");
            }
        }
        // April's roster is filed in March (before the 25th) and May's on April 1st.
        assert!(shifts.iter().any(|(_, d)| d == "2026-04-01"));
        assert!(shifts.iter().any(|(_, d)| d == "2026-05-01"));
        // Logins on all six days.
        let login_days: BTreeSet<NaiveDate> =
            evs.iter().filter(|e| e.kind == "login").map(|e| e.at.date_naive()).collect();
        assert_eq!(login_days.len(), 6);
    }

    #[test]
    fn streams_in_bounded_memory() {
        let c = SimConfig { agents: 200, queues: 8, days: 3, ..SimConfig::default() };
        let mut g = generate(&c).unwrap();
        let (mut n, mut max_heap, mut max_out, mut max_calls) = (0u64, 0, 0, 0);
        while g.next().is_some() {
            n += 1;
            max_heap = max_heap.max(g.heap.len());
            max_out = max_out.max(g.out.len());
            max_calls = max_calls.max(g.calls.len());
        }
        assert!(n > 100_000, "{n}");
        // Per agent: login/logout/breaks/QA/callbacks pending; per queue: one arrival.
        assert!(max_heap < 200 * 20, "heap grew to {max_heap}");
        // The first day start publishes the roster, a week of shifts and next month's roster at once.
        assert!(max_out <= 200 * (2 + 7) + 10, "output buffer grew to {max_out}");
        assert!(max_calls < 1000, "calls in progress grew to {max_calls}");
    }

    #[test]
    fn bad_settings_are_refused_with_the_field_named() {
        let bad = |f: fn(&mut SimConfig)| {
            let mut c = SimConfig::default();
            f(&mut c);
            generate(&c).map(|_| ()).unwrap_err()
        };
        assert_eq!(bad(|c| c.agents = 0).field, "agents");
        assert_eq!(bad(|c| c.queues = 0).field, "queues");
        assert_eq!(bad(|c| c.calls_per_hour = f64::NAN).field, "calls_per_hour");
        assert_eq!(bad(|c| c.violation_rate = 1.5).field, "violation_rate");
        assert_eq!(bad(|c| c.days = 0).field, "days");
        assert_eq!(bad(|c| c.start = hm(8, 20)).field, "start");
        assert_eq!(bad(|c| c.end = hm(17, 40)).field, "end");
        assert_eq!(bad(|c| c.shift_end = hm(9, 0)).field, "shift_end");
        assert_eq!(bad(|c| c.id_prefix = "x".repeat(65)).field, "id_prefix");
        assert_eq!(bad(|c| c.heartbeat_every = Duration::from_micros(10)).field, "heartbeat_every");
        let e = bad(|c| c.agents = 0);
        assert!(e.to_string().contains("`agents`") && e.to_string().contains("got 0"), "{e}");
    }

    #[test]
    fn no_heartbeats_and_no_calls_when_asked() {
        let c = SimConfig { heartbeat_every: Duration::ZERO, calls_per_hour: 0.0, agents: 3, ..SimConfig::default() };
        let evs = events(&c);
        assert!(!evs.iter().any(|e| e.kind == "heartbeat" || e.kind == "queued"));
        let a = audit(&c, &evs);
        assert!(a.errors.is_empty(), "{:#?}", a.errors);
    }

    #[test]
    fn heartbeats_cover_the_window() {
        let c = SimConfig {
            agents: 2,
            calls_per_hour: 5.0,
            heartbeat_every: Duration::from_secs(60),
            ..SimConfig::default()
        };
        let hb: Vec<_> = events(&c).into_iter().filter(|e| e.kind == "heartbeat").collect();
        assert_eq!(hb.len(), 601, "08:00 to 18:00 every minute");
        assert_eq!(hb[0].at.time(), hm(8, 0));
        assert_eq!(hb[600].at.time(), hm(18, 0));
        assert!(hb.iter().all(|e| e.agent.is_none()));
    }

    proptest! {
        #![proptest_config(seatwatch_testkit::proptest_config("sim-generator", 12))]
        #[test]
        fn any_config_gives_a_consistent_valid_stream(
            seed in any::<u64>(),
            agents in 1u32..15,
            queues in 1u32..4,
            calls_per_hour in 0.0f64..60.0,
            violation_rate in 0.0f64..=1.0,
            days in 1u32..3,
            day_offset in 0u64..400,
            clean in any::<bool>(),
        ) {
            let violation_rate = if clean { 0.0 } else { violation_rate };
            let c = SimConfig {
                seed, agents, queues, calls_per_hour, violation_rate, days,
                day: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().checked_add_days(Days::new(day_offset)).unwrap(),
                ..SimConfig::default()
            };
            let a = audit(&c, &events(&c));
            prop_assert!(a.errors.is_empty(), "{:#?}", &a.errors[..a.errors.len().min(10)]);
            if clean {
                prop_assert_eq!(a.violations(), 0, "{:?}", a);
            }
        }
    }
}
