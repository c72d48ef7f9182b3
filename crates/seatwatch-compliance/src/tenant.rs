//! One tenant's compliance state and every rule's logic. See `docs/compliance.md`.

use crate::alarm::{AlarmBook, Stored};
use crate::book::{AgentRef, Agents, CallBook, CallInfo};
use crate::hmap::HMap;
use crate::local::{
    Month, date_hm, end_of_24th, hm, human, iso_week_label, local_date, midnight, month_label, next_month, to_date,
    week_monday,
};
use crate::vecmap::{VecMap, VecSet};
use crate::{AlarmChange, Rule, ScheduledShift, TenantSettings};
use bincode::{Decode, Encode};
use chrono::{Datelike, Duration, NaiveDate};
use seatwatch_model::{AgentId, CallId, Clock, Date, Envelope, Event, EventKind, ShiftHours, Ts, rings_heard};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::Arc;

mod snap;

/// How long call bookkeeping (legs, call flags) and schedule entries are kept behind the
/// watermark before they are pruned.
const CALL_RETENTION_NANOS: i64 = 2 * 86_400 * 1_000_000_000;
const SCHEDULE_RETENTION_DAYS: i64 = 8;
/// How many days ahead the no-show check looks for the agent's next scheduled shift.
const PLAN_HORIZON_DAYS: i64 = 400;

/// The model's [`Clock`] with a binary encoding (for snapshots).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClockState(pub(crate) Clock);

fn synthetic(kind: EventKind, nanos: i64) -> Envelope {
    let ts = Ts::from_nanos(nanos);
    Envelope {
        seq: 0,
        tenant: Default::default(),
        source: Default::default(),
        received: ts,
        event: Event { id: Default::default(), ts, agent: None, kind, extra: None },
    }
}

impl Encode for ClockState {
    fn encode<E: bincode::enc::Encoder>(&self, e: &mut E) -> Result<(), bincode::error::EncodeError> {
        self.0.allowed_lateness.encode(e)?;
        self.0.now().map(|t| t.nanos).encode(e)?;
        self.0.watermark().map(|t| t.nanos).encode(e)
    }
}

impl<C> Decode<C> for ClockState {
    fn decode<D: bincode::de::Decoder<Context = C>>(d: &mut D) -> Result<Self, bincode::error::DecodeError> {
        let lateness = i64::decode(d)?;
        let now = Option::<i64>::decode(d)?;
        let wm = Option::<i64>::decode(d)?;
        let mut c = Clock::new(lateness);
        // Replaying a tick at the watermark and an event at `now` rebuilds exactly the
        // same clock: the watermark is never below `now - lateness`.
        if let Some(w) = wm {
            c.observe(&synthetic(EventKind::Tick, w));
        }
        if let Some(n) = now {
            c.observe(&synthetic(EventKind::Ready, n));
        }
        Ok(ClockState(c))
    }
}
bincode::impl_borrow_decode!(ClockState);

/// Memoised local-time look-ups, each keyed by everything its result depends on, so that
/// a hit returns exactly what the look-up would. Not state: never encoded, always equal.
#[derive(Clone, Debug, Default)]
pub(crate) struct TimeMemo {
    /// The UTC second and local date of the last event time looked up. A zone's offset
    /// changes only at whole seconds (chrono-tz looks spans up by the UTC second), so the
    /// second determines the local date.
    raw: Option<(i64, NaiveDate)>,
    /// The same for the watermark, with the date as the model's (the daily prune's
    /// check, once per record).
    wm: Option<(i64, Date)>,
    /// A local date, the Monday of its ISO week and local midnight seven days after it.
    week: Option<(NaiveDate, NaiveDate, Option<i64>)>,
    /// The last `scheduled_shift`s computed, by everything their instants depend on
    /// besides the tenant's settings (fixed for the tenant): the date and the override's
    /// hours (`None`: the default schedule). An override's seq only passes through to
    /// `shift_seq`, and an `off` day or a leave that wins is decided before the look-up,
    /// so agents with the same hours share entries whatever their events' seqs (the
    /// no-show check of one agent looks at a few dates, then the next agent's at the
    /// same dates; with per-agent overrides a key holding the seq never hit).
    sched: [Option<(SchedKey, Option<ScheduledShift>)>; SCHED_MEMO],
    /// The slot of `sched` to replace next.
    sched_next: usize,
}

const SCHED_MEMO: usize = 8;

type SchedKey = (Date, Option<ShiftHours>);

impl TimeMemo {
    /// `local_date(tz, nanos)`, remembered per UTC second in `slot`.
    #[inline]
    fn local_date(slot: &mut Option<(i64, NaiveDate)>, tz: chrono_tz::Tz, nanos: i64) -> NaiveDate {
        let sec = nanos.div_euclid(1_000_000_000);
        if let Some((s, d)) = *slot
            && s == sec
        {
            return d;
        }
        let d = local_date(tz, nanos);
        *slot = Some((sec, d));
        d
    }

    /// The Monday of `day`'s week and the end of that week (local midnight the Monday
    /// after; `None` out of range).
    #[inline]
    fn week(&mut self, tz: chrono_tz::Tz, day: NaiveDate) -> (NaiveDate, Option<i64>) {
        if let Some((d, monday, end)) = self.week
            && d == day
        {
            return (monday, end);
        }
        let monday = week_monday(day);
        let end = monday.checked_add_signed(Duration::days(7)).and_then(|next| midnight(tz, next));
        self.week = Some((day, monday, end));
        (monday, end)
    }
}

impl PartialEq for TimeMemo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Encode for TimeMemo {
    fn encode<E: bincode::enc::Encoder>(&self, _: &mut E) -> Result<(), bincode::error::EncodeError> {
        Ok(())
    }
}

impl<C> Decode<C> for TimeMemo {
    fn decode<D: bincode::de::Decoder<Context = C>>(_: &mut D) -> Result<Self, bincode::error::DecodeError> {
        Ok(TimeMemo::default())
    }
}
bincode::impl_borrow_decode!(TimeMemo);

/// What the agent is doing, as far as the rules care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Encode, Decode)]
enum AState {
    #[default]
    Unknown,
    LoggedOut,
    Ready,
    NotReady,
    Ringing,
    Talking,
    WrapUp,
}

/// A running not-ready or wrap-up period.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
struct Timer {
    since: i64,
    seq: u64,
    due: i64,
    /// Set once the supervisor's approval moved the deadline: (by, approval seq).
    /// (Boxed, as the rare parts of an agent's state are: at 100,000 agents the slots
    /// were ~60 MiB, docs/performance.md.)
    extended: Option<Box<(String, u64)>>,
    alarm: Option<Box<str>>,
    /// A wrap-up's call (from `ended` or `wrap_up`), named by its alarm (inline up to 24
    /// bytes: no allocation per wrap-up).
    call: Option<CallId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Encode, Decode)]
struct Approval {
    until: i64,
    by: String,
    seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Encode, Decode)]
struct AgentSt {
    /// Effective time of the agent's last event.
    last: i64,
    state: AState,
    /// Stations the agent is logged in at, with the login's seq.
    stations: VecMap<String, u64>,
    not_ready: Option<Timer>,
    wrap: Option<Timer>,
    approval: Option<Box<Approval>>,
    /// The seq of the agent's first login (0: never logged in).
    first_login: u64,
    /// The status (ready or not ready) the agent returns to after a call rings.
    status_ready: bool,
    /// The no-show check's cursor: the first local date not yet checked, and the time
    /// the agent became known (shifts whose check falls before it are not checked).
    absent_from: Option<(Date, i64)>,
    /// The pending no-show deadline: (due, date).
    absent_pending: Option<(i64, Date)>,
    /// Shift overrides by local date: hours (`None` = off), the event's seq, and the
    /// earliest no-show deadline checked for that date: the `shift`'s own stamp when it
    /// made the date a working day again (leave, a day off, a weekend), else `i64::MIN`.
    shifts: VecMap<Date, (Option<ShiftHours>, u64, i64)>,
    /// Approved leave: from, to, seq.
    leaves: Vec<(Date, Date, u64)>,
    /// early_logout / absent alarms that a login before `end` clears: (id, end).
    relogin_clear: Vec<(String, i64)>,
    uncertified: Option<Box<str>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Encode, Decode)]
struct Att {
    attended: bool,
    absent_raised: bool,
    /// The shift's first login: its time and seq (a late `shift` judges it again).
    first: Option<(i64, u64)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Encode, Decode)]
struct WeekSt {
    worked: bool,
    monitored: u32,
    sampled: u32,
    evidence: Vec<u64>,
}

/// Another agent at a login's station: its id, the seq of its login there, and its first
/// logout since the login arrived (effective time, seq).
type DupParty = (AgentId, u64, Option<(i64, u64)>);

/// A login that found another agent at its station, judged once the watermark passes
/// the login's time: that agent's logout, stamped before the login, may still be on its
/// way (producers order events only per agent). See `duplicate_login` in
/// docs/compliance.md. Kept by the login's seq until its deadline fires (a few seconds).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
struct PendingDup {
    /// The login's effective time: the alarm's `raised_at`.
    at: i64,
    agent: AgentId,
    station: String,
    /// The other agents at the station: the id, the seq of its login there, and its
    /// first logout since this login arrived (effective time, seq).
    others: Vec<DupParty>,
    /// The agent's own other stations, with their logins' seqs.
    own_other: Vec<(String, u64)>,
    /// The agent's first logout since the login (effective time, seq).
    out: Option<(i64, u64)>,
}

/// What a pending deadline is for. The derived order breaks ties between deadlines due
/// at the same instant; [`AgentRef`] orders by the agent id, so this is exactly the order
/// of the snapshot's [`snap::DKey`] (which holds the ids).
///
/// Every pending deadline is kept twice (in the tenant's heap and in its agent's `own`
/// list), and most are an agent's no-show check or wrap-up limit: the rare call-back and
/// escalation deadlines box their call id, so a deadline is 56 bytes instead of 72 (at
/// 100,000 agents ~7 MiB, docs/performance.md). A box orders as what it holds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DKey {
    Roster {
        month: Month,
    },
    QaWeek {
        monday: Date,
    },
    Absent {
        agent: AgentRef,
        date: Date,
    },
    NotReady {
        agent: AgentRef,
    },
    WrapUp {
        agent: AgentRef,
    },
    Callback {
        agent: AgentRef,
        call: Box<CallId>,
        seq: u64,
    },
    Emergency {
        agent: AgentRef,
        call: Box<CallId>,
        seq: u64,
    },
    /// A login's duplicate_login check (tenant-wide: the other party is another agent).
    Duplicate {
        seq: u64,
    },
}

impl DKey {
    fn agent(&self) -> Option<&AgentRef> {
        match self {
            DKey::Roster { .. } | DKey::QaWeek { .. } | DKey::Duplicate { .. } => None,
            DKey::Absent { agent, .. }
            | DKey::NotReady { agent }
            | DKey::WrapUp { agent }
            | DKey::Callback { agent, .. }
            | DKey::Emergency { agent, .. } => Some(agent),
        }
    }
}

type Deadline = (i64, DKey);

/// The tenant's pending deadlines in (due, key) order: a heap whose top is always
/// pending. The pending ones are the agents' `own` lists and `fixed`; removing one only
/// takes it from there, and the heap drops it when it reaches the top (or when removed
/// entries outnumber the pending ones, by a rebuild).
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Deadline>>,
    /// The pending deadlines of no agent (the roster check, QA weeks, duplicate logins).
    fixed: BTreeSet<Deadline>,
    /// How many deadlines are pending.
    live: usize,
}

impl Timers {
    /// The first pending deadline.
    pub(crate) fn first(&self) -> Option<&Deadline> {
        self.heap.peek().map(|Reverse(e)| e)
    }
}

/// A shift instance: its local date and its start and end instants.
#[derive(Clone, Copy, Debug)]
struct ShiftInst {
    date: NaiveDate,
    start: i64,
    end: i64,
    seq: Option<u64>,
}

/// Whether alarm `id` of `rule` was raised by time passing a deadline (its `raised_at`
/// is the deadline) rather than at the time of the event that broke the rule. An event
/// stamped exactly at a deadline was in time, so it withdraws such an alarm; an event
/// stamped at the same moment as the one that raised an alarm (a logout and a login in
/// the same millisecond) only clears it.
pub(crate) fn raised_at_deadline(rule: Rule, id: &str) -> bool {
    match rule {
        Rule::NotReadyOverlong
        | Rule::WrapUpOverlong
        | Rule::CallbackOverdue
        | Rule::EmergencyNotEscalated
        | Rule::QaCoverageLow
        | Rule::RosterNotPublished => true,
        // A no-show (`absent-AGENT-DATE`), not an absence by leaving early (`absent-SEQ`).
        Rule::Absent => id.strip_prefix("absent-").is_some_and(|r| !r.bytes().all(|b| b.is_ascii_digit())),
        _ => false,
    }
}

/// From when a `shift` for a date checks its no-show (its override's third field): a
/// deadline that passed before the schedule existed is not checked. A shift with hours
/// that makes the date a working day again (`scheduled`: whether it was one before)
/// checks from its own `stamp`; one that moves the hours of a working day keeps the
/// previous override's limit (`prev`), if any; an `off` has none.
pub(crate) fn no_show_checked_from(has_hours: bool, scheduled: bool, prev: Option<i64>, stamp: i64) -> i64 {
    match (has_hours, scheduled) {
        (true, false) => stamp,
        (true, true) => prev.unwrap_or(i64::MIN),
        (false, _) => i64::MIN,
    }
}

/// Which attendance alarm a late `shift` judges again ([`rejudge`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Judged {
    /// The day's no-show (no login), raised at the old start + `absent_after`.
    NoShow,
    /// `late_login`, raised at the login.
    Login,
    /// `early_logout`, or absence by leaving early, raised at the logout.
    Logout,
}

/// Whether an attendance alarm raised at `raised` under the old schedule was false under
/// the new one (`si`: its start and end; `None`: the day is off): a no-show whose new
/// deadline had not passed, a login no later than the new start, a logout no earlier
/// than the new end. Alarms the new schedule still supports stay as they are, worded as
/// raised.
pub(crate) fn rejudge(kind: Judged, si: Option<(i64, i64)>, absent_after: i64, raised: i64) -> bool {
    let Some((start, end)) = si else { return true };
    match kind {
        Judged::NoShow => start.saturating_add(absent_after) > raised,
        Judged::Login => raised <= start,
        Judged::Logout => raised >= end,
    }
}

/// What the tenant's fold needs besides its state.
/// Whether an agent's event of this kind shows the agent worked that ISO week (what
/// `qa_coverage_low` needs to judge the week): a login, a state change or a call event.
/// The supervision report counts weeks by the same test.
pub fn marks_week_worked(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Login { .. }
            | EventKind::Ready
            | EventKind::NotReady { .. }
            | EventKind::Offered { .. }
            | EventKind::Answered { .. }
            | EventKind::Missed { .. }
            | EventKind::Ended { .. }
            | EventKind::WrapUp { .. }
    )
}

pub(crate) struct Cx<'a> {
    pub(crate) s: &'a TenantSettings,
    pub(crate) tenant: &'a str,
    pub(crate) out: &'a mut Vec<AlarmChange>,
    pub(crate) record: bool,
    /// The seq of the record being folded: for an alarm that fires on elapsed time, the
    /// record that showed its deadline had passed.
    pub(crate) seq: u64,
}

/// One tenant's state. Its snapshot encoding (`snap.rs`) is that of the maps these
/// structures replace, byte for byte; equality is equality of that encoding.
#[derive(Clone, Debug)]
pub(crate) struct TenantState {
    pub(crate) clock: ClockState,
    agents: Agents<AgentSt, Deadline>,
    /// certified, active, and the seq of the roster event that said so.
    roster: BTreeMap<AgentId, (bool, bool, u64)>,
    has_roster: bool,
    has_shift: bool,
    /// Months some `shift` event was dated in: the earliest such event's time and seq
    /// (whether it had arrived by a roster deadline is a matter of its time, not of
    /// when it was folded).
    shift_months: BTreeMap<Month, (i64, u64)>,
    roster_active: BTreeMap<Month, String>,
    stations: BTreeMap<String, VecSet<AgentId>>,
    /// Active duplicate_login alarms and the agents whose logout ends them.
    /// Active duplicate_login alarms by the agents whose logout ends them. An id lingers
    /// under the other agent after it cleared until that agent's logout drains the list
    /// (clearing is idempotent).
    duplicates: HMap<AgentId, Vec<String>>,
    /// Logins that found another agent at their station, by seq (ascending), until the
    /// watermark passes them (`DKey::Duplicate`).
    dup_pending: Vec<(u64, PendingDup)>,
    /// By agent and shift date (a hash map: a `BTreeMap` cost each no-show check a
    /// dozen id comparisons; it encodes as one).
    attendance: HMap<(AgentId, Date), Att>,
    att_alarms: BTreeMap<(AgentId, Date), Vec<String>>,
    /// Calls and call legs (`calls` and `legs` in the snapshot).
    calls: CallBook<Deadline>,
    survey_active: HMap<CallId, Vec<String>>,
    callback_active: HMap<CallId, Vec<String>>,
    emergency_active: HMap<CallId, Vec<String>>,
    weeks: BTreeMap<Date, HMap<AgentId, WeekSt>>,
    /// Every pending deadline.
    pub(crate) deadlines: Timers,
    /// Every alarm, by (raised_at, id) and by id.
    pub(crate) alarms: AlarmBook,
    /// The tenant's name (in every alarm's encoding; not encoded on its own).
    pub(crate) name: Arc<str>,
    pub(crate) raised: BTreeMap<Rule, u64>,
    pub(crate) active: BTreeMap<Rule, u64>,
    pruned_day: Option<Date>,
    memo: TimeMemo,
}

impl TenantState {
    pub(crate) fn new(s: &TenantSettings, name: &str) -> Self {
        TenantState {
            clock: ClockState(Clock::new(s.allowed_lateness.as_nanos())),
            agents: Agents::default(),
            roster: BTreeMap::new(),
            has_roster: false,
            has_shift: false,
            shift_months: BTreeMap::new(),
            roster_active: BTreeMap::new(),
            stations: BTreeMap::new(),
            duplicates: HMap::default(),
            dup_pending: Vec::new(),
            attendance: HMap::default(),
            att_alarms: BTreeMap::new(),
            calls: CallBook::default(),
            survey_active: HMap::default(),
            callback_active: HMap::default(),
            emergency_active: HMap::default(),
            weeks: BTreeMap::new(),
            deadlines: Timers::default(),
            alarms: AlarmBook::default(),
            name: Arc::from(name),
            raised: BTreeMap::new(),
            active: BTreeMap::new(),
            pruned_day: None,
            memo: TimeMemo::default(),
        }
    }

    // ----- alarms -------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn raise(
        &mut self,
        cx: &mut Cx<'_>,
        rule: Rule,
        id: String,
        agent: Option<&AgentId>,
        call: Option<&CallId>,
        at: i64,
        message: String,
        mut evidence: Vec<u64>,
    ) -> Option<String> {
        if !cx.s.rules.is_enabled(rule) {
            return None;
        }
        // An id is raised once; a withdrawn alarm was never in force and gives its id to
        // the alarm that is (a no-show withdrawn by a late `shift`, due again later).
        match self.alarms.get_mut(&id) {
            Some((_, old)) if old.withdrawn => {
                self.alarms.remove(&id);
            }
            Some(_) => return None,
            None => {}
        }
        evidence.sort_unstable();
        evidence.dedup();
        evidence.retain(|s| *s != 0);
        // The agent's id is shared with its slot (every alarm's agent has one).
        let agent = agent.map(|a| match self.agents.find(a) {
            Some(ix) => self.agents.slot(ix).aref.name().clone(),
            None => Arc::from(a.as_str()),
        });
        let stored = Stored {
            rule,
            agent,
            call: call.map(|c| c.as_str().into()),
            cleared_at: None,
            message: message.into_boxed_str(),
            evidence: evidence.into_boxed_slice(),
            withdrawn: false,
        };
        tracing::debug!(tenant = cx.tenant, id = %id, "compliance alarm raised");
        if cx.record {
            cx.out.push(AlarmChange::Raised(AlarmBook::view(cx.tenant, at, &id, &stored)));
        }
        self.alarms.insert(&id, at, stored);
        *self.raised.entry(rule).or_insert(0) += 1;
        *self.active.entry(rule).or_insert(0) += 1;
        Some(id)
    }

    /// Clear an alarm if it is still active; `cleared_at` is never before `raised_at`.
    /// Cleared by an event stamped before the moment it was raised, or exactly at it when
    /// that moment was a deadline (an event exactly at a deadline is in time:
    /// [`raised_at_deadline`]), the alarm was false when raised: it is withdrawn (see
    /// [`crate::Alarm::withdrawn`]).
    fn clear(&mut self, cx: &mut Cx<'_>, id: &str, at: i64, seq: u64) {
        self.end_alarm(cx, id, at, seq, at);
    }

    /// [`Self::clear`] at `at`, judging withdrawal by `stamp`, the event's own time (for
    /// a supervisor's `leave_approved` or `shift`, which another producer sends, the
    /// agent's effective time `at` may be later; `i64::MIN`: withdraw in any case). A
    /// withdrawn alarm's `cleared_at` is its `raised_at`.
    fn end_alarm(&mut self, cx: &mut Cx<'_>, id: &str, at: i64, seq: u64, stamp: i64) {
        let Some((raised, alarm)) = self.alarms.get_mut(id) else { return };
        if alarm.cleared_at.is_some() {
            return;
        }
        alarm.withdrawn = stamp < raised || (stamp == raised && raised_at_deadline(alarm.rule, id));
        alarm.cleared_at = Some(if alarm.withdrawn { raised } else { at.max(raised) });
        if seq != 0 && !alarm.evidence.contains(&seq) {
            let mut evidence = std::mem::take(&mut alarm.evidence).into_vec();
            evidence.push(seq);
            evidence.sort_unstable();
            alarm.evidence = evidence.into_boxed_slice();
        }
        if let Some(n) = self.active.get_mut(&alarm.rule) {
            *n = n.saturating_sub(1);
        }
        tracing::debug!(tenant = cx.tenant, id, "compliance alarm cleared");
        if cx.record {
            cx.out.push(AlarmChange::Cleared(AlarmBook::view(cx.tenant, raised, id, alarm)));
        }
    }

    fn clear_all(&mut self, cx: &mut Cx<'_>, ids: Vec<String>, at: i64, seq: u64) {
        for id in ids {
            self.clear(cx, &id, at, seq);
        }
    }

    // ----- time -----------------------------------------------------------------------

    /// Add a deadline (nothing if it is pending already).
    fn add_deadline(&mut self, due: i64, key: DKey) {
        let entry = (due, key);
        let added = match entry.1.agent().map(|a| a.ix) {
            Some(ix) => {
                let own = &mut self.agents.slot_mut(ix).own;
                if own.contains(&entry) {
                    false
                } else {
                    // An agent has a few deadlines at a time: grow one by one.
                    own.reserve_exact(1);
                    own.push(entry.clone());
                    true
                }
            }
            None => self.deadlines.fixed.insert(entry.clone()),
        };
        if added {
            self.deadlines.live += 1;
            self.deadlines.heap.push(Reverse(entry));
        }
    }

    fn is_pending(agents: &Agents<AgentSt, Deadline>, fixed: &BTreeSet<Deadline>, entry: &Deadline) -> bool {
        match entry.1.agent() {
            Some(a) => agents.slot(a.ix).own.contains(entry),
            None => fixed.contains(entry),
        }
    }

    /// Remove a pending deadline (if it is pending).
    fn remove_deadline(&mut self, entry: &Deadline) {
        let removed = match entry.1.agent() {
            Some(a) => {
                let own = &mut self.agents.slot_mut(a.ix).own;
                match own.iter().position(|e| e == entry) {
                    Some(pos) => {
                        own.swap_remove(pos);
                        true
                    }
                    None => false,
                }
            }
            None => self.deadlines.fixed.remove(entry),
        };
        if !removed {
            return;
        }
        let Timers { heap, fixed, live } = &mut self.deadlines;
        *live -= 1;
        if heap.len() > 2 * *live + 64 {
            // Rebuild from the pending deadlines (no removed ones, no duplicates).
            let mut all: Vec<Reverse<Deadline>> = fixed.iter().cloned().map(Reverse).collect();
            all.extend(self.agents.slots().flat_map(|slot| slot.own.iter().cloned().map(Reverse)));
            *heap = BinaryHeap::from(all);
        }
        while let Some(Reverse(top)) = heap.peek() {
            if Self::is_pending(&self.agents, fixed, top) {
                break;
            }
            heap.pop();
        }
    }

    /// The agent's shared id (giving it a slot if it has none).
    fn aref(&mut self, a: &AgentId) -> AgentRef {
        let ix = self.agents.intern(a);
        self.agents.slot(ix).aref.clone()
    }

    /// Fire, in (due, key) order, every deadline strictly before the watermark and every
    /// deadline of `own` agent strictly before its event's time.
    ///
    /// The first such deadline in (due, key) order is the tenant's first deadline when it
    /// is before the watermark (nothing can come before it); otherwise none is before the
    /// watermark, and it is the agent's own first deadline if that is before the event's
    /// time. Firing may add or remove deadlines, so the choice is made again after each.
    ///
    /// Twice per record, and almost always nothing is due: that is checked here, inline,
    /// and the loop runs only when something is.
    #[inline]
    fn settle(&mut self, cx: &mut Cx<'_>, wm: Option<i64>, own: Option<(u32, i64)>) {
        let global_due = self.deadlines.first().is_some_and(|(due, _)| wm.is_some_and(|w| *due < w));
        let own_due = own.is_some_and(|(ix, t)| self.agents.slot(ix).own.iter().any(|(due, _)| *due < t));
        if global_due || own_due {
            self.settle_due(cx, wm, own);
        }
    }

    /// [`TenantState::settle`] when something is due.
    #[inline(never)]
    fn settle_due(&mut self, cx: &mut Cx<'_>, wm: Option<i64>, own: Option<(u32, i64)>) {
        loop {
            let global = self.deadlines.first().filter(|(due, _)| wm.is_some_and(|w| *due < w));
            let entry = match global {
                Some(e) => e.clone(),
                None => {
                    let Some((ix, t)) = own else { break };
                    let list = &self.agents.slot(ix).own;
                    // Usually none is due: a scan of the due times, not of the keys' order.
                    if !list.iter().any(|(due, _)| *due < t) {
                        break;
                    }
                    let Some(e) = list.iter().min() else { break };
                    e.clone()
                }
            };
            self.remove_deadline(&entry);
            self.fire(cx, entry.0, entry.1);
        }
    }

    fn fire(&mut self, cx: &mut Cx<'_>, due: i64, key: DKey) {
        match key {
            DKey::NotReady { agent } => self.fire_not_ready(cx, agent.ix, due),
            DKey::WrapUp { agent } => self.fire_wrap(cx, agent.ix, due),
            DKey::Absent { agent, date } => {
                let id = self.agents.slot(agent.ix).id.clone();
                self.fire_absent(cx, agent.ix, &id, date, due);
            }
            DKey::Callback { agent, call, seq } => {
                let agent = self.agents.slot(agent.ix).id.clone();
                if let Some(info) = self.calls.info_mut(call.as_str()) {
                    info.pending.retain(|(_, k)| !matches!(k, DKey::Callback { seq: s, .. } if *s == seq));
                }
                let msg = format!(
                    "call-back for call {call} promised for {} was not done by then (seed art. 20, job duties 2.5)",
                    date_hm(cx.s.timezone, due)
                );
                let id = format!("callback_overdue-{seq}");
                if let Some(id) =
                    self.raise(cx, Rule::CallbackOverdue, id, Some(&agent), Some(&call), due, msg, vec![seq])
                {
                    self.callback_active.entry_or_default(&call).push(id);
                }
            }
            DKey::Emergency { agent, call, seq } => {
                let agent = self.agents.slot(agent.ix).id.clone();
                let emergency_seq = self.calls.info_mut(call.as_str()).and_then(|info| {
                    info.pending.retain(|(_, k)| !matches!(k, DKey::Emergency { seq: s, .. } if *s == seq));
                    info.emergency
                });
                let within = cx.s.rules.escalate_within.as_nanos();
                let msg = format!(
                    "emergency call {call} answered at {} was not reported to a superior within {} (seed art. 24)",
                    hm(cx.s.timezone, due.saturating_sub(within)),
                    human(within)
                );
                let id = format!("emergency_not_escalated-{seq}");
                let ev = vec![emergency_seq.unwrap_or(0), seq];
                if let Some(id) =
                    self.raise(cx, Rule::EmergencyNotEscalated, id, Some(&agent), Some(&call), due, msg, ev)
                {
                    self.emergency_active.entry_or_default(&call).push(id);
                }
            }
            DKey::QaWeek { monday } => self.fire_week(cx, monday, due),
            DKey::Roster { month } => self.fire_roster(cx, month, due),
            DKey::Duplicate { seq } => {
                if let Some(pos) = self.dup_pending.iter().position(|(s, _)| *s == seq) {
                    let (_, p) = self.dup_pending.remove(pos);
                    self.raise_duplicate(cx, seq, p);
                }
            }
        }
    }

    // ----- the fold ---------------------------------------------------------------------

    pub(crate) fn apply(&mut self, cx: &mut Cx<'_>, env: &Envelope) {
        let wm = self.clock.0.observe(env).map(|t| t.nanos);
        let ev = &env.event;
        let ts = ev.ts.nanos;
        let agent = if ev.kind.has_agent() { ev.agent.as_ref() } else { None };
        // The agent's slot is made before the deadlines settle (the old map got its entry
        // only after); a default agent state reads exactly as a missing one, and the event
        // gives it its entry anyway.
        let own = agent.map(|a| {
            let ix = self.agents.intern(a);
            (ix, self.agents.slot(ix).st.last.max(ts))
        });
        self.settle(cx, wm, own);
        if let Some(w) = wm {
            self.prune(cx, w);
        }
        match (agent, own) {
            (Some(a), Some((ix, eff))) => {
                self.agents.slot_mut(ix).st.last = eff;
                self.agent_event(cx, env, a, ix, eff, wm);
            }
            _ => self.other_event(env),
        }
        self.settle(cx, wm, own);
    }

    fn other_event(&mut self, env: &Envelope) {
        if let EventKind::Queued { call, emergency, .. } = &env.event.kind {
            let info = self.calls.info_entry(call.as_str());
            info.last = info.last.max(env.event.ts.nanos);
            if *emergency && info.emergency.is_none() {
                info.emergency = Some(env.seq);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn agent_event(&mut self, cx: &mut Cx<'_>, env: &Envelope, a: &AgentId, ix: u32, t: i64, wm: Option<i64>) {
        let seq = env.seq;
        let raw = env.event.ts.nanos;
        if marks_week_worked(&env.event.kind) {
            self.mark_worked(cx, a, ix, raw, seq, wm);
        }
        match &env.event.kind {
            EventKind::Login { station } => self.login(cx, a, ix, station, t, seq),
            EventKind::Logout => self.logout(cx, a, ix, t, seq),
            EventKind::Ready => {
                let st = &mut self.agents.slot_mut(ix).st;
                st.status_ready = true;
                if !matches!(st.state, AState::Ringing | AState::Talking) {
                    st.state = AState::Ready;
                }
                self.end_not_ready(cx, ix, t, seq);
                self.end_wrap(cx, ix, t, seq);
            }
            EventKind::NotReady { .. } => {
                let st = &mut self.agents.slot_mut(ix).st;
                st.status_ready = false;
                if !matches!(st.state, AState::Ringing | AState::Talking) {
                    self.end_wrap(cx, ix, t, seq);
                    self.enter_not_ready(cx, ix, t, seq);
                }
            }
            EventKind::Offered { call, emergency, .. } => {
                self.end_not_ready(cx, ix, t, seq);
                self.end_wrap(cx, ix, t, seq);
                let st = &mut self.agents.slot_mut(ix).st;
                let ready = st.status_ready && !matches!(st.state, AState::Talking | AState::LoggedOut);
                if matches!(st.state, AState::Unknown | AState::LoggedOut) {
                    // As in the occupancy projection: a call ringing at an agent not logged
                    // in logs it in, ready — so a ring-no-answer returns it to ready, not
                    // to a not-ready period no one set (which raised not_ready_overlong
                    // while /v1/agents showed the agent ready). It was not ready when
                    // the call rang, so no missed_call.
                    st.status_ready = true;
                }
                if st.state != AState::Talking {
                    st.state = AState::Ringing;
                }
                let c = self.calls.entry(call.as_str());
                let slot = self.calls.slot_mut(c);
                let info = slot.info_entry();
                info.last = info.last.max(t);
                if *emergency && info.emergency.is_none() {
                    info.emergency = Some(seq);
                }
                let leg = slot.leg_entry(ix);
                leg.last = t;
                if leg.answered().is_none() {
                    leg.set_offered(Some((raw, seq)));
                    leg.set_ready_at_offer(ready);
                }
            }
            EventKind::Answered { call, rings } => {
                self.end_not_ready(cx, ix, t, seq);
                self.end_wrap(cx, ix, t, seq);
                self.agents.slot_mut(ix).st.state = AState::Talking;
                self.answered(cx, a, ix, call, *rings, raw, t, seq);
            }
            EventKind::Missed { call } => {
                let leg = self.calls.leg_mut(call.as_str(), ix);
                let rang_ready =
                    leg.as_ref().and_then(|l| l.offered().filter(|_| l.ready_at_offer() && l.answered().is_none()));
                if let Some(l) = leg {
                    l.last = t;
                    l.set_offered(None);
                }
                if self.agents.slot(ix).st.state == AState::Ringing {
                    self.return_to_status(cx, ix, t, seq);
                }
                if let Some((offered_raw, offered_seq)) = rang_ready {
                    let msg = format!(
                        "call {call} rang at {a} from {} and was not answered although {a} was available (ring-no-answer, seed job duties 2.2)",
                        hm(cx.s.timezone, offered_raw)
                    );
                    let id = format!("missed_call-{seq}");
                    self.raise(cx, Rule::MissedCall, id, Some(a), Some(call), t, msg, vec![offered_seq, seq]);
                }
            }
            EventKind::Ended { call } => {
                let st = &self.agents.slot(ix).st;
                let logged_out = st.state == AState::LoggedOut;
                let c = self.calls.find(call.as_str());
                let ringing_this = st.state == AState::Ringing
                    && c.and_then(|c| self.calls.slot(c).leg(ix)).is_some_and(|l| l.answered().is_none());
                if let Some(c) = c {
                    self.ended(cx, a, ix, call, c, t, seq);
                }
                if ringing_this {
                    self.return_to_status(cx, ix, t, seq);
                } else if !logged_out {
                    self.end_not_ready(cx, ix, t, seq);
                    self.start_wrap(cx, ix, Some(call), t, seq);
                }
            }
            EventKind::WrapUp { call } => {
                self.end_not_ready(cx, ix, t, seq);
                self.start_wrap(cx, ix, call.as_ref(), t, seq);
            }
            EventKind::Transferred { call, .. } => {
                let leg = self.calls.leg_entry(call.as_str(), ix);
                leg.set_transferred();
                leg.last = t;
                if self.agents.slot(ix).st.state == AState::Talking {
                    self.start_wrap(cx, ix, Some(call), t, seq);
                }
            }
            EventKind::SurveyOffered { call } => {
                let info = self.calls.info_entry(call.as_str());
                info.survey = true;
                info.last = info.last.max(t);
                let ids = self.survey_active.remove(call).unwrap_or_default();
                self.clear_all(cx, ids, t, seq);
            }
            EventKind::Roster { certified, active, .. } => self.roster(cx, a, *certified, *active, t, seq),
            EventKind::Shift { date, hours } => self.shift(cx, a, *date, *hours, raw, t, seq),
            EventKind::LeaveApproved { from, to, .. } => {
                self.agents.entry_or_default(a).leaves.push((*from, *to, seq));
                let keys: Vec<(AgentId, Date)> =
                    self.att_alarms.range((a.clone(), *from)..=(a.clone(), *to)).map(|(k, _)| k.clone()).collect();
                for k in keys {
                    // Withdrawn when the leave was approved (stamped) before the alarm.
                    for id in self.att_alarms.remove(&k).unwrap_or_default() {
                        self.end_alarm(cx, &id, t, seq, raw);
                    }
                }
                self.plan_absent(cx, a);
            }
            EventKind::BusyApproved { until, by } => {
                let st = self.agents.entry_or_default(a);
                if st.approval.as_ref().is_none_or(|ap| until.nanos > ap.until) {
                    st.approval = Some(Box::new(Approval { until: until.nanos, by: by.clone(), seq }));
                }
            }
            EventKind::Monitored { .. } | EventKind::CallbackSampled { .. } => {
                let monitored = matches!(env.event.kind, EventKind::Monitored { .. });
                if let Some(w) = self.week_entry(cx, a, raw, wm) {
                    if monitored {
                        w.monitored = w.monitored.saturating_add(1);
                    } else {
                        w.sampled = w.sampled.saturating_add(1);
                    }
                    w.evidence.push(seq);
                }
            }
            EventKind::CallbackPromised { call, due } => {
                let agent = self.agents.slot(ix).aref.clone();
                let key = DKey::Callback { agent, call: Box::new(call.clone()), seq };
                let info = self.calls.info_entry(call.as_str());
                info.last = info.last.max(t);
                let old: Vec<Deadline> = info.pending.take_if(|(_, k)| matches!(k, DKey::Callback { .. }));
                // Promised for a time already past: overdue from the promise, not from a
                // due time (maybe days) before anyone had promised anything.
                let past = due.nanos < t;
                if !past {
                    info.pending.push((due.nanos, key.clone()));
                }
                for o in old {
                    self.remove_deadline(&o);
                }
                if past {
                    let tz = cx.s.timezone;
                    let msg = format!(
                        "call-back for call {call} was promised for {}, already past when the promise was recorded at {} (seed art. 20, job duties 2.5)",
                        date_hm(tz, due.nanos),
                        date_hm(tz, t)
                    );
                    let id = format!("callback_overdue-{seq}");
                    if let Some(id) = self.raise(cx, Rule::CallbackOverdue, id, Some(a), Some(call), t, msg, vec![seq])
                    {
                        self.callback_active.entry_or_default(call).push(id);
                    }
                } else {
                    self.add_deadline(due.nanos, key);
                }
            }
            EventKind::CallbackDone { call } => {
                if let Some(info) = self.calls.info_mut(call.as_str()) {
                    let old: Vec<Deadline> = info.pending.take_if(|(_, k)| matches!(k, DKey::Callback { .. }));
                    for o in old {
                        self.remove_deadline(&o);
                    }
                }
                let ids = self.callback_active.remove(call).unwrap_or_default();
                self.clear_all(cx, ids, t, seq);
            }
            EventKind::Escalated { call } => {
                let info = self.calls.info_entry(call.as_str());
                info.escalated = true;
                info.last = info.last.max(t);
                let old: Vec<Deadline> = info.pending.take_if(|(_, k)| matches!(k, DKey::Emergency { .. }));
                for o in old {
                    self.remove_deadline(&o);
                }
                let ids = self.emergency_active.remove(call).unwrap_or_default();
                self.clear_all(cx, ids, t, seq);
            }
            EventKind::Queued { .. } | EventKind::Abandoned { .. } | EventKind::Heartbeat | EventKind::Tick => {}
        }
    }

    // ----- schedules --------------------------------------------------------------------

    /// The agent's shift on local `date`, or `None` when not scheduled (no workday, `off`,
    /// or approved leave; of a shift and a leave for the same date the later one wins).
    fn schedule(&mut self, s: &TenantSettings, a: &AgentId, date: NaiveDate) -> Option<ShiftInst> {
        let ix = self.agents.find(a);
        self.schedule_of(s, ix, date)
    }

    /// [`TenantState::schedule`] of the agent in slot `ix` (`None`: an agent with no
    /// slot, on the default schedule), for callers that have looked the agent up.
    fn schedule_of(&mut self, s: &TenantSettings, ix: Option<u32>, date: NaiveDate) -> Option<ShiftInst> {
        let d = to_date(date);
        let st = ix.map(|ix| &self.agents.slot(ix).st);
        let shift = st.and_then(|st| st.shifts.get(&d)).map(|&(hours, seq, _)| (hours, seq));
        let leave_seq = st.and_then(|st| st.leaves.iter().filter(|(f, t, _)| *f <= d && d <= *t).map(|l| l.2).max());
        // What `scheduled_shift` decides without the time zone: a later leave or an
        // `off` override is no shift; else the override's hours (and its seq, which the
        // result only carries) or the default schedule's.
        if leave_seq.is_some_and(|ls| shift.is_none_or(|(_, ss)| ss < ls)) {
            return None;
        }
        let (hours, seq) = match shift {
            Some((None, _)) => return None,
            Some((Some(h), seq)) => (Some(h), Some(seq)),
            None => (None, None),
        };
        let key = (d, hours);
        let memo = &mut self.memo;
        let si = match memo.sched.iter().flatten().find(|(k, _)| *k == key) {
            Some((_, si)) => *si,
            None => {
                let si = crate::schedule::scheduled_shift(s, d, shift, leave_seq);
                memo.sched[memo.sched_next] = Some((key, si));
                memo.sched_next = (memo.sched_next + 1) % SCHED_MEMO;
                si
            }
        }?;
        Some(ShiftInst { date, start: si.start.nanos, end: si.end.nanos, seq })
    }

    /// The scheduled shift whose attendance window (`window_before_start` before its start
    /// up to its end) holds `t`; the earliest-dated one when windows overlap.
    fn window_for(&mut self, s: &TenantSettings, a: &AgentId, t: i64) -> Option<ShiftInst> {
        let pre = s.rules.window_before_start.as_nanos();
        let day = local_date(s.timezone, t);
        [day.pred_opt(), Some(day), day.succ_opt()]
            .into_iter()
            .flatten()
            .find_map(|d| self.schedule(s, a, d).filter(|si| si.start.saturating_sub(pre) <= t && t < si.end))
    }

    fn is_known(&self, a: &AgentId) -> bool {
        if self.has_roster {
            self.roster.get(a).is_some_and(|(_, active, _)| *active)
        } else {
            self.agents.get(a).is_some_and(|st| st.first_login != 0)
        }
    }

    /// The record that makes `a` expected at work: its roster entry when the tenant keeps
    /// a roster, else its first login (the no-show alarm's evidence).
    fn known_seq(&self, a: &AgentId) -> Option<u64> {
        if self.has_roster {
            self.roster.get(a).filter(|(_, active, _)| *active).map(|(_, _, seq)| *seq)
        } else {
            self.agents.get(a).map(|st| st.first_login).filter(|seq| *seq != 0)
        }
    }

    /// Start or stop the no-show check of `a` after its known-ness may have changed.
    fn update_known(&mut self, cx: &mut Cx<'_>, a: &AgentId, t: i64) {
        let known = self.is_known(a);
        let st = self.agents.entry_or_default(a);
        match (known, st.absent_from.is_some()) {
            (true, false) => {
                let day = local_date(cx.s.timezone, t);
                st.absent_from = Some((to_date(day.pred_opt().unwrap_or(day)), t));
                self.plan_absent(cx, a);
            }
            (false, true) => {
                st.absent_from = None;
                if let Some((due, date)) = st.absent_pending.take() {
                    let agent = self.aref(a);
                    self.remove_deadline(&(due, DKey::Absent { agent, date }));
                }
            }
            _ => {}
        }
    }

    /// (Re)compute the agent's pending no-show deadline from its cursor.
    fn plan_absent(&mut self, cx: &mut Cx<'_>, a: &AgentId) {
        let Some(ix) = self.agents.find(a) else { return };
        let slot = self.agents.slot_mut(ix);
        let agent = slot.aref.clone();
        let absent_from = slot.st.absent_from;
        if let Some((due, date)) = slot.st.absent_pending.take() {
            self.remove_deadline(&(due, DKey::Absent { agent: agent.clone(), date }));
        }
        let Some((from, not_before)) = absent_from else { return };
        let after = cx.s.rules.absent_after.as_nanos();
        let mut day = from.to_naive();
        for _ in 0..PLAN_HORIZON_DAYS {
            if let Some(si) = self.schedule_of(cx.s, Some(ix), day) {
                let due = si.start.saturating_add(after);
                let date = to_date(day);
                let from = self.agents.slot(ix).st.shifts.get(&date).map_or(i64::MIN, |s| s.2);
                if due >= not_before && due >= from {
                    self.agents.slot_mut(ix).st.absent_pending = Some((due, date));
                    self.add_deadline(due, DKey::Absent { agent, date });
                    return;
                }
            }
            match day.succ_opt() {
                Some(n) => day = n,
                None => return,
            }
        }
    }

    /// `a`: the id of the agent in slot `ix`.
    fn fire_absent(&mut self, cx: &mut Cx<'_>, ix: u32, a: &AgentId, date: Date, due: i64) {
        let st = &mut self.agents.slot_mut(ix).st;
        st.absent_pending = None;
        let logged_in = !st.stations.is_empty();
        if let Some((_, nb)) = st.absent_from {
            st.absent_from = Some((to_date(date.to_naive().succ_opt().unwrap_or(date.to_naive())), nb));
        }
        if let Some(si) = self.schedule_of(cx.s, Some(ix), date.to_naive()) {
            let att = self.attendance_mut(a, date);
            if logged_in {
                att.attended = true;
            } else if !att.attended && !att.absent_raised {
                att.absent_raised = true;
                let tz = cx.s.timezone;
                let msg = format!(
                    "no login by {} on {date}: more than {} after the shift start {} counts as absence (seed art. 9, art. 7)",
                    hm(tz, due),
                    human(cx.s.rules.absent_after.as_nanos()),
                    hm(tz, si.start)
                );
                let id = format!("absent-{a}-{date}");
                if let Some(id) = self.raise(
                    cx,
                    Rule::Absent,
                    id,
                    Some(a),
                    None,
                    due,
                    msg,
                    si.seq.into_iter().chain(self.known_seq(a)).chain([cx.seq]).collect(),
                ) {
                    self.att_alarms.entry((a.clone(), date)).or_default().push(id);
                }
            }
        }
        self.plan_absent(cx, a);
    }

    // ----- attendance, sessions ---------------------------------------------------------

    /// `a`'s attendance on the shift of `date`, created (default) when missing (the
    /// `BTreeMap`'s `entry((a.clone(), date)).or_default()`, cloning the id only to
    /// insert it).
    fn attendance_mut(&mut self, a: &AgentId, date: Date) -> &mut Att {
        let hash = crate::hmap::attendance_hash(a, date);
        self.attendance.entry_or_insert_by(hash, |(x, d)| *d == date && x == a, || ((a.clone(), date), Att::default()))
    }

    /// The first login of `date`'s shift `si` came at `t` (record `seq`), after the start:
    /// `late_login`, or `absent` when more than `absent_after` late (unless the day's
    /// absence was already raised).
    #[allow(clippy::too_many_arguments)]
    fn raise_late(
        &mut self,
        cx: &mut Cx<'_>,
        a: &AgentId,
        date: Date,
        si: &ShiftInst,
        t: i64,
        seq: u64,
        absent_raised: bool,
    ) {
        let after = cx.s.rules.absent_after.as_nanos();
        let absent = t - si.start > after;
        if absent && absent_raised {
            return;
        }
        let msg = late_message(cx.s, date, t, si.start, si.seq);
        let mut ev = vec![seq];
        ev.extend(si.seq);
        let (rule, id, at) = if absent {
            self.attendance_mut(a, date).absent_raised = true;
            (Rule::Absent, format!("absent-{a}-{date}"), si.start.saturating_add(after))
        } else {
            (Rule::LateLogin, format!("late_login-{seq}"), t)
        };
        if let Some(id) = self.raise(cx, rule, id, Some(a), None, at, msg, ev) {
            self.att_alarms.entry((a.clone(), date)).or_default().push(id);
        }
    }

    fn login(&mut self, cx: &mut Cx<'_>, a: &AgentId, _ix: u32, station: &str, t: i64, seq: u64) {
        let st = self.agents.entry_or_default(a);
        if st.first_login == 0 {
            st.first_login = seq;
        }
        let logged_in = !st.stations.is_empty();
        self.update_known(cx, a, t);

        // late_login / absent (first login of the shift)
        if let Some(si) = self.window_for(cx.s, a, t) {
            let date = to_date(si.date);
            let att = self.attendance_mut(a, date);
            if !att.attended {
                att.attended = true;
                att.first = Some((t, seq));
                let absent_raised = att.absent_raised;
                let after = cx.s.rules.absent_after.as_nanos();
                // The shift's no-show stands against a login stamped after it was raised,
                // whatever the schedule says now (a `shift` stamped after the no-show does
                // not reopen the day): that login adds no `late_login` and clears nothing.
                let stands = absent_raised
                    && self.alarms.get_mut(&format!("absent-{a}-{date}")).is_some_and(|(raised, _)| t > raised);
                // The login came less than `absent_after` late (or on time) but after its
                // no-show was raised (a wall-clock tick passed the deadline before the
                // producer's late event arrived): not absent. Withdrawn at once, before the
                // `late_login` it is instead (a stream shows the withdrawal first).
                if absent_raised && !stands && !logged_in && t.saturating_sub(si.start) <= after {
                    self.clear(cx, &format!("absent-{a}-{date}"), t, seq);
                }
                if !logged_in && !stands && t > si.start {
                    self.raise_late(cx, a, date, &si, t, seq, absent_raised);
                }
            }
        }

        // a re-login clears early_logout / early absent whose shift has not ended
        let pending = self.agents.get_mut(a).map(|st| std::mem::take(&mut st.relogin_clear)).unwrap_or_default();
        for (id, end) in pending {
            if t < end {
                self.clear(cx, &id, t, seq);
            }
        }

        // duplicate_login: another agent at the station is judged once the watermark
        // passes the login (its logout may still come); the agent's own other stations
        // alone at once (its own events are in order).
        let st = self.agents.entry_or_default(a);
        let own_other: Vec<(String, u64)> =
            st.stations.iter().filter(|(s, _)| s.as_str() != station).map(|(s, q)| (s.clone(), *q)).collect();
        let others: Vec<DupParty> = self
            .stations
            .get(station)
            .map(|set| {
                set.keys()
                    .filter(|x| *x != a)
                    .map(|o| {
                        let q = self.agents.get(o).and_then(|st| st.stations.get(station)).copied();
                        (o.clone(), q.unwrap_or(0), None)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !others.is_empty() || !own_other.is_empty() {
            let p = PendingDup { at: t, agent: a.clone(), station: station.to_owned(), others, own_other, out: None };
            if p.others.is_empty() {
                self.raise_duplicate(cx, seq, p);
            } else {
                self.dup_pending.push((seq, p));
                self.add_deadline(t, DKey::Duplicate { seq });
            }
        }

        // uncertified_login
        if self.has_roster && self.agents.get(a).is_some_and(|st| st.uncertified.is_none()) {
            let entry = self.roster.get(a).copied();
            let why = match entry {
                None => Some("is not on the roster"),
                Some((_, false, _)) => Some("has left the roster"),
                Some((false, true, _)) => Some("is on the roster but not certified"),
                Some((true, true, _)) => None,
            };
            if let Some(why) = why {
                let msg = format!(
                    "{a} logged in at station {station} but {why}: only assessed agents confirmed by the supervisor may take calls (seed art. 13)"
                );
                let id = format!("uncertified_login-{seq}");
                if let Some(id) = self.raise(cx, Rule::UncertifiedLogin, id, Some(a), None, t, msg, vec![seq])
                    && let Some(st) = self.agents.get_mut(a)
                {
                    st.uncertified = Some(id.into_boxed_str());
                }
            }
        }

        let st = self.agents.entry_or_default(a);
        st.stations.insert(station.to_owned(), seq);
        if matches!(st.state, AState::Unknown | AState::LoggedOut) {
            // As in the occupancy projection: a login makes a logged-out agent ready.
            st.state = AState::Ready;
            st.status_ready = true;
        }
        self.stations.entry(station.to_owned()).or_default().insert(a.clone(), ());
    }

    /// Judge a login that found the agent at another station or another agent at its
    /// station (`seq`: the login's). Another agent whose session had ended at or before
    /// the login, in event time, was not there. If one of those involved has logged out
    /// since, the alarm is raised and cleared by the first such logout, as it would have
    /// been had it been raised at the login.
    fn raise_duplicate(&mut self, cx: &mut Cx<'_>, seq: u64, p: PendingDup) {
        let PendingDup { at, agent: a, station, mut others, own_other, out } = p;
        others.retain(|(_, _, o)| o.is_none_or(|(t, _)| t > at));
        if others.is_empty() && own_other.is_empty() {
            return;
        }
        let mut parts = Vec::new();
        let mut ev = vec![seq];
        if !others.is_empty() {
            let names: Vec<&str> = others.iter().map(|o| o.0.as_str()).collect();
            parts.push(format!("{} already logged in at {station}", names.join(", ")));
            ev.extend(others.iter().map(|o| o.1));
        }
        if !own_other.is_empty() {
            let names: Vec<&str> = own_other.iter().map(|(s, _)| s.as_str()).collect();
            parts.push(format!("{a} still logged in at {}", names.join(", ")));
            ev.extend(own_other.iter().map(|(_, q)| *q));
        }
        let msg = format!(
            "{a} logged in at station {station} while {}: one agent ID per person and station (seed art. 11)",
            parts.join(" and ")
        );
        let id = format!("duplicate_login-{seq}");
        let Some(id) = self.raise(cx, Rule::DuplicateLogin, id, Some(&a), None, at, msg, ev) else { return };
        match out.into_iter().chain(others.iter().filter_map(|o| o.2)).min_by_key(|(_, s)| *s) {
            Some((t, s)) => self.clear(cx, &id, t, s),
            None => {
                self.duplicates.entry_or_default(&a).push(id.clone());
                for (o, _, _) in &others {
                    self.duplicates.entry_or_default(o).push(id.clone());
                }
            }
        }
    }

    fn logout(&mut self, cx: &mut Cx<'_>, a: &AgentId, ix: u32, t: i64, seq: u64) {
        let tz = cx.s.timezone;
        let was_out = self.agents.get(a).is_some_and(|st| st.state == AState::LoggedOut);
        // A logout before a shift's start counts for that shift only when the session
        // began in its window (the agent came for it): a night shift's logout the next
        // morning, inside that day's window, is not leaving the day shift early.
        let window = self.window_for(cx.s, a, t).filter(|si| {
            t >= si.start || self.attendance.get(&(a.clone(), to_date(si.date))).is_some_and(|x| x.first.is_some())
        });
        if !was_out && let Some(si) = window {
            let date = to_date(si.date);
            self.attendance_mut(a, date).attended = true;
            if t < si.end {
                let early = si.end - t;
                let after = cx.s.rules.absent_after.as_nanos();
                let mut ev = vec![seq];
                ev.extend(si.seq);
                // A night shift's logout is on the next local day: say which.
                let out_day = local_date(tz, t);
                let on = if out_day == si.date {
                    date.to_string()
                } else {
                    format!("{} (the shift of {date})", to_date(out_day))
                };
                let raised = if early > after {
                    let msg = format!(
                        "logged out at {} local on {on}, {} before the shift end {}: more than {} early counts as absence (seed art. 9)",
                        hm(tz, t),
                        human(early),
                        hm(tz, si.end),
                        human(after)
                    );
                    self.raise(cx, Rule::Absent, format!("absent-{seq}"), Some(a), None, t, msg, ev)
                } else {
                    let msg = format!(
                        "logged out at {} local on {on}, {} before {} (seed art. 8)",
                        hm(tz, t),
                        human(early),
                        hm(tz, si.end)
                    );
                    self.raise(cx, Rule::EarlyLogout, format!("early_logout-{seq}"), Some(a), None, t, msg, ev)
                };
                if let Some(id) = raised {
                    self.att_alarms.entry((a.clone(), date)).or_default().push(id.clone());
                    self.agents.entry_or_default(a).relogin_clear.push((id, si.end));
                }
            }
        }

        let ended = self.duplicates.remove(a).unwrap_or_default();
        self.clear_all(cx, ended, t, seq);
        for (_, p) in &mut self.dup_pending {
            if p.agent == *a {
                p.out.get_or_insert((t, seq));
            }
            for o in p.others.iter_mut().filter(|o| o.0 == *a) {
                o.2.get_or_insert((t, seq));
            }
        }
        if let Some(id) = self.agents.get_mut(a).and_then(|st| st.uncertified.take()) {
            self.clear(cx, &id, t, seq);
        }
        self.end_not_ready(cx, ix, t, seq);
        self.end_wrap(cx, ix, t, seq);
        let st = self.agents.entry_or_default(a);
        st.state = AState::LoggedOut;
        for station in std::mem::take(&mut st.stations).into_keys() {
            if let Some(set) = self.stations.get_mut(&station) {
                set.remove(a);
                if set.is_empty() {
                    self.stations.remove(&station);
                }
            }
        }
    }

    fn roster(&mut self, cx: &mut Cx<'_>, a: &AgentId, certified: bool, active: bool, t: i64, seq: u64) {
        let first = !self.has_roster;
        self.has_roster = true;
        self.roster.insert(a.clone(), (certified, active, seq));
        if first {
            let all: Vec<AgentId> = self.agents.sorted().into_iter().map(|slot| slot.id.clone()).collect();
            for x in all {
                self.update_known(cx, &x, t);
            }
        }
        self.update_known(cx, a, t);
        if certified
            && active
            && let Some(id) = self.agents.get_mut(a).and_then(|st| st.uncertified.take())
        {
            self.clear(cx, &id, t, seq);
        }
    }

    /// `stamp`: the event's own time (`t`: the agent's effective time).
    #[allow(clippy::too_many_arguments)]
    fn shift(
        &mut self,
        cx: &mut Cx<'_>,
        a: &AgentId,
        date: Date,
        hours: Option<ShiftHours>,
        stamp: i64,
        t: i64,
        seq: u64,
    ) {
        let scheduled = self.schedule(cx.s, a, date.to_naive()).is_some();
        let prev = self.agents.get(a).and_then(|st| st.shifts.get(&date)).map(|s| s.2);
        let checked_from = no_show_checked_from(hours.is_some(), scheduled, prev, stamp);
        self.agents.entry_or_default(a).shifts.insert(date, (hours, seq, checked_from));
        let nd = date.to_naive();
        let month = (nd.year(), nd.month());
        let first = self.shift_months.entry(month).or_insert((t, seq));
        if t < first.0 {
            *first = (t, seq);
        }
        if !self.has_shift {
            self.has_shift = true;
            let day = local_date(cx.s.timezone, t);
            let mut m = (day.year(), day.month());
            if end_of_24th(cx.s.timezone, m).is_none_or(|due| due <= t) {
                m = next_month(m);
            }
            if let Some(due) = end_of_24th(cx.s.timezone, m) {
                self.add_deadline(due, DKey::Roster { month: m });
            }
        }
        if let Some(id) = self.roster_active.remove(&month) {
            self.clear(cx, &id, t, seq);
        }
        self.rejudge_attendance(cx, a, date, stamp, t, seq);
        self.plan_absent(cx, a);
    }

    /// A `shift` for `date` stamped at or before an attendance alarm of that date was
    /// raised, arriving after it (a wall-clock tick, another producer's later event, or
    /// the agent's own login or logout passed the old schedule first): the alarm is judged
    /// again under the new schedule, and withdrawn when the new schedule says it was false
    /// (see [`rejudge`]). Then the day's first login, when the shift is stamped at or
    /// before it (the shift was in force when the agent came), is judged late by the new
    /// start ([`TenantState::rejudge_login`]).
    fn rejudge_attendance(&mut self, cx: &mut Cx<'_>, a: &AgentId, date: Date, stamp: i64, t: i64, seq: u64) {
        let ids = self.att_alarms.get(&(a.clone(), date)).cloned().unwrap_or_default();
        let Some(ix) = self.agents.find(a) else { return };
        let shift = self.schedule_of(cx.s, Some(ix), date.to_naive());
        let si = shift.map(|si| (si.start, si.end));
        let no_show = format!("absent-{a}-{date}");
        for id in ids {
            let Some((raised, alarm)) = self.alarms.get_mut(&id) else { continue };
            if alarm.cleared_at.is_some() || stamp > raised {
                continue;
            }
            let kind = if id == no_show {
                Judged::NoShow
            } else if alarm.rule == Rule::LateLogin {
                Judged::Login
            } else {
                Judged::Logout
            };
            if !rejudge(kind, si, cx.s.rules.absent_after.as_nanos(), raised) {
                continue;
            }
            self.end_alarm(cx, &id, t, seq, i64::MIN);
            if let Some(ids) = self.att_alarms.get_mut(&(a.clone(), date)) {
                ids.retain(|x| *x != id);
            }
            if kind == Judged::NoShow {
                // Planned again: the agent may still be absent under the new start.
                self.attendance_mut(a, date).absent_raised = false;
                let st = &mut self.agents.slot_mut(ix).st;
                if let Some((from, nb)) = st.absent_from
                    && from > date
                {
                    st.absent_from = Some((date, nb));
                }
            }
        }
        if let Some(shift) = shift {
            self.rejudge_login(cx, a, date, &shift, stamp);
        }
    }

    /// The first login of `date`'s shift `si`, stamped at or after the `shift` (`stamp`)
    /// that set `si` but folded before it: late (or absent) by the new start when it came
    /// after it and inside the new attendance window, unless the day's no-show stands.
    fn rejudge_login(&mut self, cx: &mut Cx<'_>, a: &AgentId, date: Date, si: &ShiftInst, stamp: i64) {
        let Some(att) = self.attendance.get(&(a.clone(), date)) else { return };
        let (Some((lt, lseq)), absent_raised) = (att.first, att.absent_raised) else { return };
        let pre = cx.s.rules.window_before_start.as_nanos();
        if stamp > lt || lt <= si.start || lt < si.start.saturating_sub(pre) || lt >= si.end {
            return;
        }
        if self.alarms.get_mut(&format!("absent-{a}-{date}")).is_some_and(|(_, x)| !x.withdrawn) {
            return;
        }
        self.raise_late(cx, a, date, si, lt, lseq, absent_raised);
    }

    fn fire_roster(&mut self, cx: &mut Cx<'_>, month: Month, due: i64) {
        let next = next_month(month);
        let arrived = self.shift_months.get(&next).copied();
        if arrived.is_none_or(|(t, _)| t > due) {
            let msg = format!(
                "no shift dated in {} had arrived by the end of {}-24: next month's duty roster is due before the 25th (seed art. 15)",
                month_label(next),
                month_label(month)
            );
            let id = format!("roster_not_published-{}", month_label(next));
            if let Some(id) = self.raise(cx, Rule::RosterNotPublished, id, None, None, due, msg, vec![cx.seq]) {
                match arrived {
                    // A shift stamped after the deadline was folded before it fired
                    // (within the allowed lateness): the roster was late, and came.
                    Some((t, seq)) => self.clear(cx, &id, t, seq),
                    None => {
                        self.roster_active.insert(next, id);
                    }
                }
            }
        }
        if let Some(d) = end_of_24th(cx.s.timezone, next) {
            self.add_deadline(d, DKey::Roster { month: next });
        }
    }

    // ----- not ready, wrap-up -----------------------------------------------------------

    /// Start a not-ready period unless one is running (a reason change does not restart it).
    fn enter_not_ready(&mut self, cx: &mut Cx<'_>, ix: u32, t: i64, seq: u64) {
        let due = t.saturating_add(cx.s.rules.not_ready_max.as_nanos());
        let slot = self.agents.slot_mut(ix);
        slot.st.state = AState::NotReady;
        if slot.st.not_ready.is_none() {
            slot.st.not_ready = Some(Timer { since: t, seq, due, extended: None, alarm: None, call: None });
            let agent = slot.aref.clone();
            self.add_deadline(due, DKey::NotReady { agent });
        }
    }

    /// A ring stopped without an answer: back to the agent's status (a not-ready status
    /// starts a new not-ready period).
    fn return_to_status(&mut self, cx: &mut Cx<'_>, ix: u32, t: i64, seq: u64) {
        if self.agents.slot(ix).st.status_ready {
            self.agents.slot_mut(ix).st.state = AState::Ready;
        } else {
            self.enter_not_ready(cx, ix, t, seq);
        }
    }

    fn end_not_ready(&mut self, cx: &mut Cx<'_>, ix: u32, t: i64, seq: u64) {
        let slot = self.agents.slot_mut(ix);
        let Some(timer) = slot.st.not_ready.take() else { return };
        let agent = slot.aref.clone();
        self.remove_deadline(&(timer.due, DKey::NotReady { agent }));
        if let Some(id) = timer.alarm {
            self.clear(cx, &id, t, seq);
        }
    }

    fn fire_not_ready(&mut self, cx: &mut Cx<'_>, ix: u32, due: i64) {
        let tz = cx.s.timezone;
        let max = cx.s.rules.not_ready_max.as_nanos();
        let slot = self.agents.slot_mut(ix);
        let agent = slot.aref.clone();
        let st = &mut slot.st;
        let approval = st.approval.clone();
        let Some(timer) = st.not_ready.as_mut() else { return };
        if let Some(ap) = approval.as_ref().filter(|ap| ap.until > due) {
            timer.due = ap.until;
            timer.extended = Some(Box::new((ap.by.clone(), ap.seq)));
            self.add_deadline(ap.until, DKey::NotReady { agent });
            return;
        }
        let (since, start_seq, extended) = (timer.since, timer.seq, timer.extended.clone());
        let (msg, ev) = match extended.map(|b| *b) {
            Some((by, ap_seq)) => (
                format!(
                    "not ready since {} for {}: the supervisor's approval (by {by}) expired at {} (limit {} without approval, seed art. 16)",
                    hm(tz, since),
                    human(due - since),
                    hm(tz, due),
                    human(max)
                ),
                vec![start_seq, ap_seq],
            ),
            None => (
                format!(
                    "not ready since {} for {} without the supervisor's approval (limit {}, seed art. 16)",
                    hm(tz, since),
                    human(due - since),
                    human(max)
                ),
                vec![start_seq],
            ),
        };
        let id = format!("not_ready_overlong-{start_seq}");
        let a = self.agents.slot(ix).id.clone();
        let id = self.raise(cx, Rule::NotReadyOverlong, id, Some(&a), None, due, msg, ev);
        if let Some(timer) = self.agents.slot_mut(ix).st.not_ready.as_mut() {
            timer.alarm = id.map(String::into_boxed_str);
        }
    }

    fn start_wrap(&mut self, cx: &mut Cx<'_>, ix: u32, call: Option<&CallId>, t: i64, seq: u64) {
        let due = t.saturating_add(cx.s.rules.wrap_up_max.as_nanos());
        let slot = self.agents.slot_mut(ix);
        slot.st.state = AState::WrapUp;
        if slot.st.wrap.is_none() {
            slot.st.wrap = Some(Timer { since: t, seq, due, extended: None, alarm: None, call: call.cloned() });
            let agent = slot.aref.clone();
            self.add_deadline(due, DKey::WrapUp { agent });
        }
    }

    fn end_wrap(&mut self, cx: &mut Cx<'_>, ix: u32, t: i64, seq: u64) {
        let slot = self.agents.slot_mut(ix);
        let Some(timer) = slot.st.wrap.take() else { return };
        let agent = slot.aref.clone();
        self.remove_deadline(&(timer.due, DKey::WrapUp { agent }));
        if let Some(id) = timer.alarm {
            self.clear(cx, &id, t, seq);
        }
    }

    fn fire_wrap(&mut self, cx: &mut Cx<'_>, ix: u32, due: i64) {
        let max = cx.s.rules.wrap_up_max.as_nanos();
        let Some(timer) = self.agents.slot(ix).st.wrap.as_ref() else { return };
        let (since, start_seq, call) = (timer.since, timer.seq, timer.call.clone());
        let msg = format!(
            "in wrap-up (after-call work) since {} for more than {}, keeping calls waiting (limit {}, seed art. 22)",
            hm(cx.s.timezone, since),
            human(max),
            human(max)
        );
        let id = format!("wrap_up_overlong-{start_seq}");
        let a = self.agents.slot(ix).id.clone();
        let id = self.raise(cx, Rule::WrapUpOverlong, id, Some(&a), call.as_ref(), due, msg, vec![start_seq]);
        if let Some(timer) = self.agents.slot_mut(ix).st.wrap.as_mut() {
            timer.alarm = id.map(String::into_boxed_str);
        }
    }

    // ----- calls ------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn answered(
        &mut self,
        cx: &mut Cx<'_>,
        a: &AgentId,
        ix: u32,
        call: &CallId,
        rings: Option<u32>,
        raw: i64,
        t: i64,
        seq: u64,
    ) {
        let c = self.calls.entry(call.as_str());
        let leg = self.calls.slot_mut(c).leg_entry(ix);
        leg.last = t;
        if leg.answered().is_some() {
            return;
        }
        leg.set_answered(seq);
        let offered = leg.offered();
        let cadence = cx.s.rules.ring_cadence.as_nanos();
        // The count, and the ringing time it was derived from (`None`: the ACD's own count).
        // The alarm's explanation is only written when there is an alarm.
        let counted = match (rings, offered) {
            (Some(r), _) => Some((r, None)),
            (None, Some((o, _))) => Some((rings_heard(raw.saturating_sub(o), cadence), Some(raw.saturating_sub(o)))),
            (None, None) => None,
        };
        if let Some((n, rang)) = counted
            && n > cx.s.rules.max_rings
        {
            let how = match rang {
                None => "as reported by the ACD".to_owned(),
                Some(d) => format!("after {} of ringing at one ring every {}", human(d), human(cadence)),
            };
            let msg = format!(
                "call {call} answered at ring {n} ({how}); calls must be answered within {} rings (seed job duties 2.2)",
                cx.s.rules.max_rings
            );
            let ev = vec![offered.map_or(0, |o| o.1), seq];
            self.raise(cx, Rule::SlowAnswer, format!("slow_answer-{seq}"), Some(a), Some(call), t, msg, ev);
        }
        let agent = self.agents.slot(ix).aref.clone();
        let info = self.calls.slot_mut(c).info_entry();
        info.last = info.last.max(t);
        if info.emergency.is_some() && !info.escalated && !info.armed {
            info.armed = true;
            let due = t.saturating_add(cx.s.rules.escalate_within.as_nanos());
            let key = DKey::Emergency { agent, call: Box::new(call.clone()), seq };
            info.pending.push((due, key.clone()));
            self.add_deadline(due, key);
        }
    }

    /// `c`: the call's slot.
    #[allow(clippy::too_many_arguments)]
    fn ended(&mut self, cx: &mut Cx<'_>, a: &AgentId, ix: u32, call: &CallId, c: u32, t: i64, seq: u64) {
        let slot = self.calls.slot_mut(c);
        let survey = slot.info().is_some_and(|i| i.survey);
        let Some(leg) = slot.leg_mut(ix) else { return };
        leg.last = t;
        if leg.ended() {
            return;
        }
        leg.set_ended();
        let Some(answered_seq) = leg.answered() else { return };
        if leg.transferred() || survey {
            return;
        }
        let msg = format!(
            "call {call} ended at {} without inviting the customer to rate the service (seed art. 23)",
            hm(cx.s.timezone, t)
        );
        let id = format!("survey_not_offered-{seq}");
        if let Some(id) =
            self.raise(cx, Rule::SurveyNotOffered, id, Some(a), Some(call), t, msg, vec![answered_seq, seq])
        {
            self.survey_active.entry_or_default(call).push(id);
        }
    }

    // ----- QA weeks ---------------------------------------------------------------------

    /// The agent's stats for the ISO week holding `raw`, registering the week's close;
    /// `None` when that week has already closed (the watermark passed its end).
    fn week_entry(&mut self, cx: &mut Cx<'_>, a: &AgentId, raw: i64, wm: Option<i64>) -> Option<&mut WeekSt> {
        let tz = cx.s.timezone;
        let day = TimeMemo::local_date(&mut self.memo.raw, tz, raw);
        let (monday, end) = self.memo.week(tz, day);
        let end = end?;
        if wm.is_some_and(|w| w > end) {
            return None;
        }
        let key = to_date(monday);
        if !self.weeks.contains_key(&key) {
            self.add_deadline(end, DKey::QaWeek { monday: key });
        }
        Some(self.weeks.entry(key).or_default().entry_or_default(a))
    }

    #[allow(clippy::too_many_arguments)]
    fn mark_worked(&mut self, cx: &mut Cx<'_>, a: &AgentId, ix: u32, raw: i64, seq: u64, wm: Option<i64>) {
        // Already marked in this (open) week: its stats say `worked` until it closes.
        let tz = cx.s.timezone;
        let day = TimeMemo::local_date(&mut self.memo.raw, tz, raw);
        let (monday, end) = self.memo.week(tz, day);
        if end.is_some_and(|end| wm.is_none_or(|w| w <= end)) && self.agents.slot(ix).worked_week == Some(monday) {
            return;
        }
        if let Some(w) = self.week_entry(cx, a, raw, wm) {
            if !w.worked {
                w.worked = true;
                w.evidence.push(seq);
            }
            self.agents.slot_mut(ix).worked_week = Some(monday);
        }
    }

    fn fire_week(&mut self, cx: &mut Cx<'_>, monday: Date, due: i64) {
        let Some(stats) = self.weeks.remove(&monday) else { return };
        let label = iso_week_label(monday.to_naive());
        let (min_m, min_c) = (cx.s.rules.min_monitored, cx.s.rules.min_callbacks);
        for (agent, st) in stats.into_sorted() {
            if st.worked && (st.monitored < min_m || st.sampled < min_c) {
                let msg = format!(
                    "week {label}: {} monitored call{} and {} sampled call-back{} for {agent}; at least {min_m} and {min_c} per week are required (seed art. 31)",
                    st.monitored,
                    if st.monitored == 1 { "" } else { "s" },
                    st.sampled,
                    if st.sampled == 1 { "" } else { "s" }
                );
                let id = format!("qa_coverage_low-{agent}-{label}");
                self.raise(cx, Rule::QaCoverageLow, id, Some(&agent), None, due, msg, st.evidence);
            }
        }
    }

    // ----- housekeeping -----------------------------------------------------------------

    /// Once per local day of the watermark, drop bookkeeping that can no longer matter.
    fn prune(&mut self, cx: &mut Cx<'_>, wm: i64) {
        let sec = wm.div_euclid(1_000_000_000);
        let today = match self.memo.wm {
            Some((s, d)) if s == sec => d,
            _ => {
                let d = to_date(local_date(cx.s.timezone, wm));
                self.memo.wm = Some((sec, d));
                d
            }
        };
        if self.pruned_day.is_some_and(|d| d >= today) {
            return;
        }
        self.pruned_day = Some(today);
        let cutoff = wm.saturating_sub(CALL_RETENTION_NANOS);
        self.calls.retain(|l| l.last >= cutoff, |c| c.last >= cutoff || !c.pending.is_empty());
        let old = Date(today.0.saturating_sub(SCHEDULE_RETENTION_DAYS as i32));
        self.attendance.retain(|(_, d), _| *d >= old);
        for slot in self.agents.slots_mut() {
            slot.st.shifts.retain(|d, _| *d >= old);
            slot.st.leaves.retain(|(_, to, _)| *to >= old);
        }
    }
}

/// How far before a shift's start its "log in by" lies: the default schedule's gap
/// between `login_by` and `late_after` (5 min), applied to shift overrides too.
fn default_lead(s: &TenantSettings) -> i64 {
    i64::from(s.rules.late_after.0.saturating_sub(s.rules.login_by.0)) * 1_000_000_000
}

/// The message of a first login at `t` on `date`, after the shift start `start`
/// (`shift_seq`: the `shift` that set it, `None` on the default schedule): absence when
/// more than `absent_after` late, else `late_login`. Shared by both implementations.
pub(crate) fn late_message(s: &TenantSettings, date: Date, t: i64, start: i64, shift_seq: Option<u64>) -> String {
    let (tz, after, late) = (s.timezone, s.rules.absent_after.as_nanos(), t - start);
    if late > after {
        return format!(
            "first login at {} on {date}, {} after the shift start {}: more than {} late counts as absence (seed art. 9)",
            hm(tz, t),
            human(late),
            hm(tz, start),
            human(after)
        );
    }
    let by = match shift_seq {
        Some(_) => hm(tz, start.saturating_sub(default_lead(s))).to_string(),
        None => s.rules.login_by.to_string(),
    };
    format!(
        "first login at {} local on {date}, after {} ({} late; log in by {by}, seed art. 8)",
        hm(tz, t),
        hm(tz, start),
        human(late)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_stays_small() {
        // Kept twice per pending deadline, ~200,000 of them at 100,000 agents: a call id
        // inline in the key made each 72 bytes.
        assert!(std::mem::size_of::<Deadline>() <= 56, "{}", std::mem::size_of::<Deadline>());
    }
}
