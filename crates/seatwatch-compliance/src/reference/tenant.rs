//! A frozen copy of `tenant.rs` as it was before the compaction (see `super`).
//!
//! One tenant's compliance state and every rule's logic. See `docs/compliance.md`.

use super::hmap::{HMap, leg_hash};
use crate::local::{
    Month, date_hm, end_of_24th, hm, human, iso_week_label, local_date, midnight, month_label, next_month, to_date,
    week_monday,
};
use crate::tenant::{Judged, late_message, no_show_checked_from, raised_at_deadline, rejudge};
use crate::{Alarm, AlarmChange, Rule, TenantSettings};
use bincode::{Decode, Encode};
use chrono::{Datelike, Duration, NaiveDate};
use seatwatch_model::{AgentId, CallId, Clock, Date, Envelope, Event, EventKind, ShiftHours, Ts, rings_heard};
use std::collections::{BTreeMap, BTreeSet};

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
    /// The same for the watermark.
    wm: Option<(i64, NaiveDate)>,
    /// A local date, the Monday of its ISO week and local midnight seven days after it.
    week: Option<(NaiveDate, NaiveDate, Option<i64>)>,
}

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
    extended: Option<(String, u64)>,
    alarm: Option<String>,
    /// A wrap-up's call (from `ended` or `wrap_up`), named by its alarm.
    call: Option<String>,
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
    stations: BTreeMap<String, u64>,
    not_ready: Option<Timer>,
    wrap: Option<Timer>,
    approval: Option<Approval>,
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
    shifts: BTreeMap<Date, (Option<ShiftHours>, u64, i64)>,
    /// Approved leave: from, to, seq.
    leaves: Vec<(Date, Date, u64)>,
    /// early_logout / absent alarms that a login before `end` clears: (id, end).
    relogin_clear: Vec<(String, i64)>,
    uncertified: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Encode, Decode)]
struct Att {
    attended: bool,
    absent_raised: bool,
    /// The shift's first login: its time and seq (a late `shift` judges it again).
    first: Option<(i64, u64)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Encode, Decode)]
struct CallInfo {
    last: i64,
    /// Seq of the first event that flagged the call as an emergency.
    emergency: Option<u64>,
    escalated: bool,
    survey: bool,
    armed: bool,
    pending: Vec<(i64, DKey)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Encode, Decode)]
struct Leg {
    last: i64,
    /// Raw ts and seq of `offered`.
    offered: Option<(i64, u64)>,
    ready_at_offer: bool,
    answered: Option<u64>,
    transferred: bool,
    ended: bool,
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
/// the login's time (that agent's logout, stamped before the login, may still come).
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
/// at the same instant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Encode, Decode)]
pub(crate) enum DKey {
    Roster { month: Month },
    QaWeek { monday: Date },
    Absent { agent: AgentId, date: Date },
    NotReady { agent: AgentId },
    WrapUp { agent: AgentId },
    Callback { agent: AgentId, call: CallId, seq: u64 },
    Emergency { agent: AgentId, call: CallId, seq: u64 },
    Duplicate { seq: u64 },
}

impl DKey {
    fn agent(&self) -> Option<&AgentId> {
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

/// A shift instance: its local date and its start and end instants.
#[derive(Clone, Copy, Debug)]
struct ShiftInst {
    date: NaiveDate,
    start: i64,
    end: i64,
    seq: Option<u64>,
}

/// What the tenant's fold needs besides its state.
pub(crate) struct Cx<'a> {
    pub(crate) s: &'a TenantSettings,
    pub(crate) tenant: &'a str,
    pub(crate) out: &'a mut Vec<AlarmChange>,
    pub(crate) record: bool,
    pub(crate) seq: u64,
}

/// One tenant's state.
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub(crate) struct TenantState {
    pub(crate) clock: ClockState,
    agents: HMap<AgentId, AgentSt>,
    /// certified, active, and the seq of the roster event that said so.
    roster: BTreeMap<AgentId, (bool, bool, u64)>,
    has_roster: bool,
    has_shift: bool,
    /// Months some `shift` event was dated in: the earliest such event's time and seq
    /// (whether it had arrived by a roster deadline is a matter of its time, not of
    /// when it was folded).
    shift_months: BTreeMap<Month, (i64, u64)>,
    roster_active: BTreeMap<Month, String>,
    stations: BTreeMap<String, BTreeSet<AgentId>>,
    /// Active duplicate_login alarms and the agents whose logout ends them.
    /// Active duplicate_login alarms by the agents whose logout ends them. An id lingers
    /// under the other agent after it cleared until that agent's logout drains the list
    /// (clearing is idempotent).
    duplicates: HMap<AgentId, Vec<String>>,
    /// Logins that found another agent at their station, by seq, until the watermark
    /// passes them.
    dup_pending: BTreeMap<u64, PendingDup>,
    attendance: BTreeMap<(AgentId, Date), Att>,
    att_alarms: BTreeMap<(AgentId, Date), Vec<String>>,
    calls: HMap<CallId, CallInfo>,
    legs: HMap<(CallId, AgentId), Leg>,
    survey_active: HMap<CallId, Vec<String>>,
    callback_active: HMap<CallId, Vec<String>>,
    emergency_active: HMap<CallId, Vec<String>>,
    weeks: BTreeMap<Date, HMap<AgentId, WeekSt>>,
    pub(crate) deadlines: BTreeSet<(i64, DKey)>,
    /// Every alarm, by (raised_at, id).
    pub(crate) alarms: BTreeMap<(i64, String), Alarm>,
    pub(crate) alarm_index: BTreeMap<String, i64>,
    pub(crate) raised: BTreeMap<Rule, u64>,
    pub(crate) active: BTreeMap<Rule, u64>,
    pruned_day: Option<Date>,
    memo: TimeMemo,
}

impl TenantState {
    pub(crate) fn new(s: &TenantSettings) -> Self {
        TenantState {
            clock: ClockState(Clock::new(s.allowed_lateness.as_nanos())),
            agents: HMap::default(),
            roster: BTreeMap::new(),
            has_roster: false,
            has_shift: false,
            shift_months: BTreeMap::new(),
            roster_active: BTreeMap::new(),
            stations: BTreeMap::new(),
            duplicates: HMap::default(),
            dup_pending: BTreeMap::new(),
            attendance: BTreeMap::new(),
            att_alarms: BTreeMap::new(),
            calls: HMap::default(),
            legs: HMap::default(),
            survey_active: HMap::default(),
            callback_active: HMap::default(),
            emergency_active: HMap::default(),
            weeks: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            alarms: BTreeMap::new(),
            alarm_index: BTreeMap::new(),
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
        // An id is raised once; a withdrawn alarm gives its id to the alarm that is.
        if let Some(&at) = self.alarm_index.get(&id) {
            if !self.alarms.get(&(at, id.clone())).is_some_and(|old| old.withdrawn) {
                return None;
            }
            self.alarm_index.remove(&id);
            self.alarms.remove(&(at, id.clone()));
        }
        evidence.sort_unstable();
        evidence.dedup();
        evidence.retain(|s| *s != 0);
        let alarm = Alarm {
            id: id.clone(),
            rule,
            agent: agent.cloned(),
            call: call.cloned(),
            raised_at: Ts::from_nanos(at),
            cleared_at: None,
            message,
            evidence,
            withdrawn: false,
            tenant: cx.tenant.to_owned(),
        };
        tracing::debug!(tenant = cx.tenant, id = %alarm.id, "compliance alarm raised");
        if cx.record {
            cx.out.push(AlarmChange::Raised(alarm.clone()));
        }
        self.alarm_index.insert(id.clone(), at);
        self.alarms.insert((at, id.clone()), alarm);
        *self.raised.entry(rule).or_insert(0) += 1;
        *self.active.entry(rule).or_insert(0) += 1;
        Some(id)
    }

    /// Clear an alarm if it is still active; `cleared_at` is never before `raised_at`;
    /// withdrawn when cleared by an event stamped before its `raised_at` (or at it, when
    /// that was a deadline: `crate::tenant::raised_at_deadline`).
    fn clear(&mut self, cx: &mut Cx<'_>, id: &str, at: i64, seq: u64) {
        self.end_alarm(cx, id, at, seq, at);
    }

    /// `clear` at `at`, judging withdrawal by `stamp` (the event's own time; `i64::MIN`:
    /// withdraw in any case); a withdrawn alarm's `cleared_at` is its `raised_at`.
    fn end_alarm(&mut self, cx: &mut Cx<'_>, id: &str, at: i64, seq: u64, stamp: i64) {
        let Some(&raised) = self.alarm_index.get(id) else { return };
        let Some(alarm) = self.alarms.get_mut(&(raised, id.to_owned())) else { return };
        if alarm.cleared_at.is_some() {
            return;
        }
        alarm.withdrawn = stamp < raised || (stamp == raised && raised_at_deadline(alarm.rule, id));
        alarm.cleared_at = Some(Ts::from_nanos(if alarm.withdrawn { raised } else { at.max(raised) }));
        if seq != 0 && !alarm.evidence.contains(&seq) {
            alarm.evidence.push(seq);
            alarm.evidence.sort_unstable();
        }
        if let Some(n) = self.active.get_mut(&alarm.rule) {
            *n = n.saturating_sub(1);
        }
        tracing::debug!(tenant = cx.tenant, id, "compliance alarm cleared");
        if cx.record {
            cx.out.push(AlarmChange::Cleared(alarm.clone()));
        }
    }

    fn clear_all(&mut self, cx: &mut Cx<'_>, ids: Vec<String>, at: i64, seq: u64) {
        for id in ids {
            self.clear(cx, &id, at, seq);
        }
    }

    // ----- time -----------------------------------------------------------------------

    fn add_deadline(&mut self, due: i64, key: DKey) {
        self.deadlines.insert((due, key));
    }

    /// Fire, in (due, key) order, every deadline strictly before the watermark and every
    /// deadline of `own` agent strictly before its event's time.
    fn settle(&mut self, cx: &mut Cx<'_>, wm: Option<i64>, own: Option<(&AgentId, i64)>) {
        let bound = wm.unwrap_or(i64::MIN).max(own.map_or(i64::MIN, |(_, t)| t));
        loop {
            let mut found = None;
            for (due, key) in &self.deadlines {
                if *due >= bound {
                    break;
                }
                let by_wm = wm.is_some_and(|w| *due < w);
                let by_own = own.is_some_and(|(a, t)| *due < t && key.agent() == Some(a));
                if by_wm || by_own {
                    found = Some((*due, key.clone()));
                    break;
                }
            }
            let Some(entry) = found else { break };
            self.deadlines.remove(&entry);
            self.fire(cx, entry.0, entry.1);
        }
    }

    fn fire(&mut self, cx: &mut Cx<'_>, due: i64, key: DKey) {
        match key {
            DKey::NotReady { agent } => self.fire_not_ready(cx, &agent, due),
            DKey::WrapUp { agent } => self.fire_wrap(cx, &agent, due),
            DKey::Absent { agent, date } => self.fire_absent(cx, &agent, date, due),
            DKey::Callback { agent, call, seq } => {
                if let Some(info) = self.calls.get_mut(&call) {
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
                let emergency_seq = self.calls.get_mut(&call).and_then(|info| {
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
                if let Some(p) = self.dup_pending.remove(&seq) {
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
        let eff = match agent {
            Some(a) => self.agents.get(a).map_or(ts, |st| st.last.max(ts)),
            None => ts,
        };
        self.settle(cx, wm, agent.map(|a| (a, eff)));
        if let Some(w) = wm {
            self.prune(cx, w);
        }
        match agent {
            Some(a) => {
                self.agents.entry_or_default(a).last = eff;
                self.agent_event(cx, env, a, eff, wm);
            }
            None => self.other_event(env),
        }
        self.settle(cx, wm, agent.map(|a| (a, eff)));
    }

    fn other_event(&mut self, env: &Envelope) {
        if let EventKind::Queued { call, emergency, .. } = &env.event.kind {
            let info = self.calls.entry_or_default(call);
            info.last = info.last.max(env.event.ts.nanos);
            if *emergency && info.emergency.is_none() {
                info.emergency = Some(env.seq);
            }
        }
    }

    fn agent_event(&mut self, cx: &mut Cx<'_>, env: &Envelope, a: &AgentId, t: i64, wm: Option<i64>) {
        let seq = env.seq;
        let raw = env.event.ts.nanos;
        match &env.event.kind {
            EventKind::Login { station } => {
                self.mark_worked(cx, a, raw, seq, wm);
                self.login(cx, a, station, t, seq);
            }
            EventKind::Logout => self.logout(cx, a, t, seq),
            EventKind::Ready => {
                self.mark_worked(cx, a, raw, seq, wm);
                let st = self.agents.entry_or_default(a);
                st.status_ready = true;
                if !matches!(st.state, AState::Ringing | AState::Talking) {
                    st.state = AState::Ready;
                }
                self.end_not_ready(cx, a, t, seq);
                self.end_wrap(cx, a, t, seq);
            }
            EventKind::NotReady { .. } => {
                self.mark_worked(cx, a, raw, seq, wm);
                let st = self.agents.entry_or_default(a);
                st.status_ready = false;
                if !matches!(st.state, AState::Ringing | AState::Talking) {
                    self.end_wrap(cx, a, t, seq);
                    self.enter_not_ready(cx, a, t, seq);
                }
            }
            EventKind::Offered { call, emergency, .. } => {
                self.mark_worked(cx, a, raw, seq, wm);
                self.end_not_ready(cx, a, t, seq);
                self.end_wrap(cx, a, t, seq);
                let st = self.agents.entry_or_default(a);
                let ready = st.status_ready && !matches!(st.state, AState::Talking | AState::LoggedOut);
                if matches!(st.state, AState::Unknown | AState::LoggedOut) {
                    // A ring logs the agent in, ready (as occupancy shows it).
                    st.status_ready = true;
                }
                if st.state != AState::Talking {
                    st.state = AState::Ringing;
                }
                let info = self.calls.entry_or_default(call);
                info.last = info.last.max(t);
                if *emergency && info.emergency.is_none() {
                    info.emergency = Some(seq);
                }
                let leg = leg_entry(&mut self.legs, call, a);
                leg.last = t;
                if leg.answered.is_none() {
                    leg.offered = Some((raw, seq));
                    leg.ready_at_offer = ready;
                }
            }
            EventKind::Answered { call, rings } => {
                self.mark_worked(cx, a, raw, seq, wm);
                self.end_not_ready(cx, a, t, seq);
                self.end_wrap(cx, a, t, seq);
                self.set_state(a, AState::Talking);
                self.answered(cx, a, call, *rings, raw, t, seq);
            }
            EventKind::Missed { call } => {
                self.mark_worked(cx, a, raw, seq, wm);
                let leg = leg_get_mut(&mut self.legs, call, a);
                let rang_ready =
                    leg.as_ref().and_then(|l| l.offered.filter(|_| l.ready_at_offer && l.answered.is_none()));
                if let Some(l) = leg {
                    l.last = t;
                    l.offered = None;
                }
                if self.agents.get(a).is_some_and(|st| st.state == AState::Ringing) {
                    self.return_to_status(cx, a, t, seq);
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
                self.mark_worked(cx, a, raw, seq, wm);
                let st = self.agents.entry_or_default(a);
                let logged_out = st.state == AState::LoggedOut;
                let ringing_this =
                    st.state == AState::Ringing && leg_get(&self.legs, call, a).is_some_and(|l| l.answered.is_none());
                self.ended(cx, a, call, t, seq);
                if ringing_this {
                    self.return_to_status(cx, a, t, seq);
                } else if !logged_out {
                    self.end_not_ready(cx, a, t, seq);
                    self.start_wrap(cx, a, Some(call), t, seq);
                }
            }
            EventKind::WrapUp { call } => {
                self.mark_worked(cx, a, raw, seq, wm);
                self.end_not_ready(cx, a, t, seq);
                self.start_wrap(cx, a, call.as_ref(), t, seq);
            }
            EventKind::Transferred { call, .. } => {
                let leg = leg_entry(&mut self.legs, call, a);
                leg.transferred = true;
                leg.last = t;
                if self.agents.get(a).is_some_and(|st| st.state == AState::Talking) {
                    self.start_wrap(cx, a, Some(call), t, seq);
                }
            }
            EventKind::SurveyOffered { call } => {
                let info = self.calls.entry_or_default(call);
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
                    st.approval = Some(Approval { until: until.nanos, by: by.clone(), seq });
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
                let info = self.calls.entry_or_default(call);
                info.last = info.last.max(t);
                let old: Vec<(i64, DKey)> =
                    info.pending.extract_if(.., |(_, k)| matches!(k, DKey::Callback { .. })).collect();
                let past = due.nanos < t;
                if !past {
                    info.pending.push((due.nanos, DKey::Callback { agent: a.clone(), call: call.clone(), seq }));
                }
                for o in old {
                    self.deadlines.remove(&o);
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
                    self.add_deadline(due.nanos, DKey::Callback { agent: a.clone(), call: call.clone(), seq });
                }
            }
            EventKind::CallbackDone { call } => {
                if let Some(info) = self.calls.get_mut(call) {
                    let old: Vec<(i64, DKey)> =
                        info.pending.extract_if(.., |(_, k)| matches!(k, DKey::Callback { .. })).collect();
                    for o in old {
                        self.deadlines.remove(&o);
                    }
                }
                let ids = self.callback_active.remove(call).unwrap_or_default();
                self.clear_all(cx, ids, t, seq);
            }
            EventKind::Escalated { call } => {
                let info = self.calls.entry_or_default(call);
                info.escalated = true;
                info.last = info.last.max(t);
                let old: Vec<(i64, DKey)> =
                    info.pending.extract_if(.., |(_, k)| matches!(k, DKey::Emergency { .. })).collect();
                for o in old {
                    self.deadlines.remove(&o);
                }
                let ids = self.emergency_active.remove(call).unwrap_or_default();
                self.clear_all(cx, ids, t, seq);
            }
            EventKind::Queued { .. } | EventKind::Abandoned { .. } | EventKind::Heartbeat | EventKind::Tick => {}
        }
    }

    fn set_state(&mut self, a: &AgentId, s: AState) {
        self.agents.entry_or_default(a).state = s;
    }

    // ----- schedules --------------------------------------------------------------------

    /// The agent's shift on local `date`, or `None` when not scheduled (no workday, `off`,
    /// or approved leave; of a shift and a leave for the same date the later one wins).
    fn schedule(&self, s: &TenantSettings, a: &AgentId, date: NaiveDate) -> Option<ShiftInst> {
        let d = to_date(date);
        let st = self.agents.get(a);
        let shift = st.and_then(|st| st.shifts.get(&d)).map(|&(hours, seq, _)| (hours, seq));
        let leave_seq = st.and_then(|st| st.leaves.iter().filter(|(f, t, _)| *f <= d && d <= *t).map(|l| l.2).max());
        let si = crate::schedule::scheduled_shift(s, d, shift, leave_seq)?;
        Some(ShiftInst { date, start: si.start.nanos, end: si.end.nanos, seq: si.shift_seq })
    }

    /// The scheduled shift whose attendance window (`window_before_start` before its start
    /// up to its end) holds `t`; the earliest-dated one when windows overlap.
    fn window_for(&self, s: &TenantSettings, a: &AgentId, t: i64) -> Option<ShiftInst> {
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
                    self.deadlines.remove(&(due, DKey::Absent { agent: a.clone(), date }));
                }
            }
            _ => {}
        }
    }

    /// (Re)compute the agent's pending no-show deadline from its cursor.
    fn plan_absent(&mut self, cx: &mut Cx<'_>, a: &AgentId) {
        let Some(st) = self.agents.get_mut(a) else { return };
        if let Some((due, date)) = st.absent_pending.take() {
            self.deadlines.remove(&(due, DKey::Absent { agent: a.clone(), date }));
        }
        let Some((from, not_before)) = st.absent_from else { return };
        let after = cx.s.rules.absent_after.as_nanos();
        let mut day = from.to_naive();
        for _ in 0..PLAN_HORIZON_DAYS {
            if let Some(si) = self.schedule(cx.s, a, day) {
                let due = si.start.saturating_add(after);
                let date = to_date(day);
                let from = self.agents.get(a).and_then(|st| st.shifts.get(&date)).map_or(i64::MIN, |s| s.2);
                if due >= not_before && due >= from {
                    if let Some(st) = self.agents.get_mut(a) {
                        st.absent_pending = Some((due, date));
                    }
                    self.add_deadline(due, DKey::Absent { agent: a.clone(), date });
                    return;
                }
            }
            match day.succ_opt() {
                Some(n) => day = n,
                None => return,
            }
        }
    }

    fn fire_absent(&mut self, cx: &mut Cx<'_>, a: &AgentId, date: Date, due: i64) {
        let Some(st) = self.agents.get_mut(a) else { return };
        st.absent_pending = None;
        let logged_in = !st.stations.is_empty();
        if let Some((_, nb)) = st.absent_from {
            st.absent_from = Some((to_date(date.to_naive().succ_opt().unwrap_or(date.to_naive())), nb));
        }
        if let Some(si) = self.schedule(cx.s, a, date.to_naive()) {
            let att = self.attendance.entry((a.clone(), date)).or_default();
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
        if t - si.start > after {
            if absent_raised {
                return;
            }
            if let Some(att) = self.attendance.get_mut(&(a.clone(), date)) {
                att.absent_raised = true;
            }
            let msg = late_message(cx.s, date, t, si.start, si.seq);
            let ev = [seq].into_iter().chain(si.seq).collect();
            let id = format!("absent-{a}-{date}");
            if let Some(id) = self.raise(cx, Rule::Absent, id, Some(a), None, si.start.saturating_add(after), msg, ev) {
                self.att_alarms.entry((a.clone(), date)).or_default().push(id);
            }
        } else {
            let msg = late_message(cx.s, date, t, si.start, si.seq);
            let ev = [seq].into_iter().chain(si.seq).collect();
            if let Some(id) = self.raise(cx, Rule::LateLogin, format!("late_login-{seq}"), Some(a), None, t, msg, ev) {
                self.att_alarms.entry((a.clone(), date)).or_default().push(id);
            }
        }
    }

    fn login(&mut self, cx: &mut Cx<'_>, a: &AgentId, station: &str, t: i64, seq: u64) {
        let st = self.agents.entry_or_default(a);
        if st.first_login == 0 {
            st.first_login = seq;
        }
        let logged_in = !st.stations.is_empty();
        self.update_known(cx, a, t);

        // late_login / absent (first login of the shift)
        if let Some(si) = self.window_for(cx.s, a, t) {
            let date = to_date(si.date);
            let att = self.attendance.entry((a.clone(), date)).or_default();
            if !att.attended {
                att.attended = true;
                att.first = Some((t, seq));
                let absent_raised = att.absent_raised;
                let after = cx.s.rules.absent_after.as_nanos();
                // The shift's no-show stands against a login stamped after it was raised,
                // whatever the schedule says now (a `shift` stamped after the no-show does
                // not reopen the day): that login adds no `late_login` and clears nothing.
                let stands = absent_raised
                    && self.alarm_index.get(&format!("absent-{a}-{date}")).is_some_and(|&raised| t > raised);
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

        // duplicate_login
        let st = self.agents.entry_or_default(a);
        let own_other: Vec<(String, u64)> =
            st.stations.iter().filter(|(s, _)| s.as_str() != station).map(|(s, q)| (s.clone(), *q)).collect();
        let others: Vec<DupParty> = self
            .stations
            .get(station)
            .map(|set| {
                set.iter()
                    .filter(|x| *x != a)
                    .map(|o| {
                        let q = self.agents.get(o).and_then(|st| st.stations.get(station)).copied();
                        (o.clone(), q.unwrap_or(0), None)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !others.is_empty() {
            let p = PendingDup { at: t, agent: a.clone(), station: station.to_owned(), others, own_other, out: None };
            self.dup_pending.insert(seq, p);
            self.add_deadline(t, DKey::Duplicate { seq });
        } else if !own_other.is_empty() {
            let p = PendingDup { at: t, agent: a.clone(), station: station.to_owned(), others, own_other, out: None };
            self.raise_duplicate(cx, seq, p);
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
                    st.uncertified = Some(id);
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
        self.stations.entry(station.to_owned()).or_default().insert(a.clone());
    }

    fn raise_duplicate(&mut self, cx: &mut Cx<'_>, seq: u64, p: PendingDup) {
        let at = p.at;
        let a = p.agent;
        let station = p.station;
        let own_other = p.own_other;
        let others: Vec<DupParty> = p
            .others
            .into_iter()
            .filter(|(_, _, o)| match o {
                Some((t, _)) => *t > at,
                None => true,
            })
            .collect();
        if others.is_empty() && own_other.is_empty() {
            return;
        }
        let mut parts = Vec::new();
        let mut ev = vec![seq];
        if !others.is_empty() {
            let names: Vec<&str> = others.iter().map(|o| o.0.as_str()).collect();
            parts.push(format!("{} already logged in at {station}", names.join(", ")));
            for o in &others {
                ev.push(o.1);
            }
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
        if let Some(id) = self.raise(cx, Rule::DuplicateLogin, id, Some(&a), None, at, msg, ev) {
            let mut first: Option<(i64, u64)> = p.out;
            for o in &others {
                if let Some((t, s)) = o.2
                    && first.is_none_or(|(_, f)| s < f)
                {
                    first = Some((t, s));
                }
            }
            if let Some((t, s)) = first {
                self.clear(cx, &id, t, s);
            } else {
                let mut who = vec![a.clone()];
                who.extend(others.into_iter().map(|o| o.0));
                for w in who {
                    self.duplicates.entry_or_default(&w).push(id.clone());
                }
            }
        }
    }

    fn logout(&mut self, cx: &mut Cx<'_>, a: &AgentId, t: i64, seq: u64) {
        let tz = cx.s.timezone;
        let was_out = self.agents.get(a).is_some_and(|st| st.state == AState::LoggedOut);
        // A logout before a shift's start counts for that shift only when the session
        // began in its window (the agent came for it).
        let window = self.window_for(cx.s, a, t).filter(|si| {
            t >= si.start || self.attendance.get(&(a.clone(), to_date(si.date))).is_some_and(|x| x.first.is_some())
        });
        if !was_out && let Some(si) = window {
            let date = to_date(si.date);
            self.attendance.entry((a.clone(), date)).or_default().attended = true;
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
        for p in self.dup_pending.values_mut() {
            if p.agent == *a && p.out.is_none() {
                p.out = Some((t, seq));
            }
            for o in &mut p.others {
                if o.0 == *a && o.2.is_none() {
                    o.2 = Some((t, seq));
                }
            }
        }
        if let Some(id) = self.agents.get_mut(a).and_then(|st| st.uncertified.take()) {
            self.clear(cx, &id, t, seq);
        }
        self.end_not_ready(cx, a, t, seq);
        self.end_wrap(cx, a, t, seq);
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
            let all: Vec<AgentId> = self.agents.sorted().into_iter().map(|(k, _)| k.clone()).collect();
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

    /// A `shift` stamped at or before an attendance alarm of its date was raised: the
    /// alarm judged again under the new schedule (`crate::tenant::rejudge`).
    fn rejudge_attendance(&mut self, cx: &mut Cx<'_>, a: &AgentId, date: Date, stamp: i64, t: i64, seq: u64) {
        let ids = self.att_alarms.get(&(a.clone(), date)).cloned().unwrap_or_default();
        let shift = self.schedule(cx.s, a, date.to_naive());
        let si = shift.map(|si| (si.start, si.end));
        let no_show = format!("absent-{a}-{date}");
        for id in ids {
            let Some(&raised) = self.alarm_index.get(&id) else { continue };
            let Some(alarm) = self.alarms.get(&(raised, id.clone())) else { continue };
            if alarm.cleared_at.is_some() || stamp > raised {
                continue;
            }
            let kind = match (id == no_show, alarm.rule) {
                (true, _) => Judged::NoShow,
                (false, Rule::LateLogin) => Judged::Login,
                (false, _) => Judged::Logout,
            };
            if !rejudge(kind, si, cx.s.rules.absent_after.as_nanos(), raised) {
                continue;
            }
            self.end_alarm(cx, &id, t, seq, i64::MIN);
            if let Some(ids) = self.att_alarms.get_mut(&(a.clone(), date)) {
                ids.retain(|x| *x != id);
            }
            if kind == Judged::NoShow {
                self.attendance.entry((a.clone(), date)).or_default().absent_raised = false;
                if let Some(st) = self.agents.get_mut(a)
                    && let Some((from, nb)) = st.absent_from
                    && from > date
                {
                    st.absent_from = Some((date, nb));
                }
            }
        }
        // The day's first login, stamped at or after the shift but folded before it: late
        // by the new start when it came after it, inside the new window, unless the
        // day's no-show stands.
        let Some(si) = shift else { return };
        let Some(&Att { first: Some((lt, lseq)), absent_raised, .. }) = self.attendance.get(&(a.clone(), date)) else {
            return;
        };
        let pre = cx.s.rules.window_before_start.as_nanos();
        if stamp > lt || lt <= si.start || lt < si.start.saturating_sub(pre) || lt >= si.end {
            return;
        }
        let no_show = format!("absent-{a}-{date}");
        let stands = self
            .alarm_index
            .get(&no_show)
            .and_then(|&at| self.alarms.get(&(at, no_show.clone())))
            .is_some_and(|x| !x.withdrawn);
        if !stands {
            self.raise_late(cx, a, date, &si, lt, lseq, absent_raised);
        }
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
    fn enter_not_ready(&mut self, cx: &mut Cx<'_>, a: &AgentId, t: i64, seq: u64) {
        let due = t.saturating_add(cx.s.rules.not_ready_max.as_nanos());
        let st = self.agents.entry_or_default(a);
        st.state = AState::NotReady;
        if st.not_ready.is_none() {
            st.not_ready = Some(Timer { since: t, seq, due, extended: None, alarm: None, call: None });
            self.add_deadline(due, DKey::NotReady { agent: a.clone() });
        }
    }

    /// A ring stopped without an answer: back to the agent's status (a not-ready status
    /// starts a new not-ready period).
    fn return_to_status(&mut self, cx: &mut Cx<'_>, a: &AgentId, t: i64, seq: u64) {
        if self.agents.get(a).is_some_and(|st| st.status_ready) {
            self.set_state(a, AState::Ready);
        } else {
            self.enter_not_ready(cx, a, t, seq);
        }
    }

    fn end_not_ready(&mut self, cx: &mut Cx<'_>, a: &AgentId, t: i64, seq: u64) {
        let Some(timer) = self.agents.get_mut(a).and_then(|st| st.not_ready.take()) else { return };
        self.deadlines.remove(&(timer.due, DKey::NotReady { agent: a.clone() }));
        if let Some(id) = timer.alarm {
            self.clear(cx, &id, t, seq);
        }
    }

    fn fire_not_ready(&mut self, cx: &mut Cx<'_>, a: &AgentId, due: i64) {
        let tz = cx.s.timezone;
        let max = cx.s.rules.not_ready_max.as_nanos();
        let Some(st) = self.agents.get_mut(a) else { return };
        let approval = st.approval.clone();
        let Some(timer) = st.not_ready.as_mut() else { return };
        if let Some(ap) = approval.as_ref().filter(|ap| ap.until > due) {
            timer.due = ap.until;
            timer.extended = Some((ap.by.clone(), ap.seq));
            self.add_deadline(ap.until, DKey::NotReady { agent: a.clone() });
            return;
        }
        let (since, start_seq, extended) = (timer.since, timer.seq, timer.extended.clone());
        let (msg, ev) = match extended {
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
        let id = self.raise(cx, Rule::NotReadyOverlong, id, Some(a), None, due, msg, ev);
        if let Some(timer) = self.agents.get_mut(a).and_then(|st| st.not_ready.as_mut()) {
            timer.alarm = id;
        }
    }

    fn start_wrap(&mut self, cx: &mut Cx<'_>, a: &AgentId, call: Option<&CallId>, t: i64, seq: u64) {
        let due = t.saturating_add(cx.s.rules.wrap_up_max.as_nanos());
        let st = self.agents.entry_or_default(a);
        st.state = AState::WrapUp;
        if st.wrap.is_none() {
            let call = call.map(|c| c.as_str().to_owned());
            st.wrap = Some(Timer { since: t, seq, due, extended: None, alarm: None, call });
            self.add_deadline(due, DKey::WrapUp { agent: a.clone() });
        }
    }

    fn end_wrap(&mut self, cx: &mut Cx<'_>, a: &AgentId, t: i64, seq: u64) {
        let Some(timer) = self.agents.get_mut(a).and_then(|st| st.wrap.take()) else { return };
        self.deadlines.remove(&(timer.due, DKey::WrapUp { agent: a.clone() }));
        if let Some(id) = timer.alarm {
            self.clear(cx, &id, t, seq);
        }
    }

    fn fire_wrap(&mut self, cx: &mut Cx<'_>, a: &AgentId, due: i64) {
        let max = cx.s.rules.wrap_up_max.as_nanos();
        let Some(timer) = self.agents.get(a).and_then(|st| st.wrap.as_ref()) else { return };
        let (since, start_seq, call) = (timer.since, timer.seq, timer.call.as_deref().map(CallId::from));
        let msg = format!(
            "in wrap-up (after-call work) since {} for more than {}, keeping calls waiting (limit {}, seed art. 22)",
            hm(cx.s.timezone, since),
            human(max),
            human(max)
        );
        let id = format!("wrap_up_overlong-{start_seq}");
        let id = self.raise(cx, Rule::WrapUpOverlong, id, Some(a), call.as_ref(), due, msg, vec![start_seq]);
        if let Some(timer) = self.agents.get_mut(a).and_then(|st| st.wrap.as_mut()) {
            timer.alarm = id;
        }
    }

    // ----- calls ------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn answered(
        &mut self,
        cx: &mut Cx<'_>,
        a: &AgentId,
        call: &CallId,
        rings: Option<u32>,
        raw: i64,
        t: i64,
        seq: u64,
    ) {
        let leg = leg_entry(&mut self.legs, call, a);
        leg.last = t;
        if leg.answered.is_some() {
            return;
        }
        leg.answered = Some(seq);
        let offered = leg.offered;
        let cadence = cx.s.rules.ring_cadence.as_nanos();
        let counted = match (rings, offered) {
            (Some(r), _) => Some((r, "as reported by the ACD".to_owned())),
            (None, Some((o, _))) => Some((
                rings_heard(raw.saturating_sub(o), cadence),
                format!("after {} of ringing at one ring every {}", human(raw.saturating_sub(o)), human(cadence)),
            )),
            (None, None) => None,
        };
        if let Some((n, how)) = counted
            && n > cx.s.rules.max_rings
        {
            let msg = format!(
                "call {call} answered at ring {n} ({how}); calls must be answered within {} rings (seed job duties 2.2)",
                cx.s.rules.max_rings
            );
            let ev = vec![offered.map_or(0, |o| o.1), seq];
            self.raise(cx, Rule::SlowAnswer, format!("slow_answer-{seq}"), Some(a), Some(call), t, msg, ev);
        }
        let info = self.calls.entry_or_default(call);
        info.last = info.last.max(t);
        if info.emergency.is_some() && !info.escalated && !info.armed {
            info.armed = true;
            let due = t.saturating_add(cx.s.rules.escalate_within.as_nanos());
            let key = DKey::Emergency { agent: a.clone(), call: call.clone(), seq };
            info.pending.push((due, key.clone()));
            self.add_deadline(due, key);
        }
    }

    fn ended(&mut self, cx: &mut Cx<'_>, a: &AgentId, call: &CallId, t: i64, seq: u64) {
        let survey = self.calls.get(call).is_some_and(|i| i.survey);
        let Some(leg) = leg_get_mut(&mut self.legs, call, a) else { return };
        leg.last = t;
        if leg.ended {
            return;
        }
        leg.ended = true;
        let Some(answered_seq) = leg.answered else { return };
        if leg.transferred || survey {
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

    fn mark_worked(&mut self, cx: &mut Cx<'_>, a: &AgentId, raw: i64, seq: u64, wm: Option<i64>) {
        if let Some(w) = self.week_entry(cx, a, raw, wm)
            && !w.worked
        {
            w.worked = true;
            w.evidence.push(seq);
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
        let today = to_date(TimeMemo::local_date(&mut self.memo.wm, cx.s.timezone, wm));
        if self.pruned_day.is_some_and(|d| d >= today) {
            return;
        }
        self.pruned_day = Some(today);
        let cutoff = wm.saturating_sub(CALL_RETENTION_NANOS);
        self.legs.retain(|_, l| l.last >= cutoff);
        self.calls.retain(|_, c| c.last >= cutoff || !c.pending.is_empty());
        let old = Date(today.0.saturating_sub(SCHEDULE_RETENTION_DAYS as i32));
        self.attendance.retain(|(_, d), _| *d >= old);
        for st in self.agents.values_mut() {
            st.shifts.retain(|d, _| *d >= old);
            st.leaves.retain(|(_, to, _)| *to >= old);
        }
    }
}

/// `legs.entry((call, agent)).or_default()`, cloning the ids only to insert.
fn leg_entry<'m>(legs: &'m mut HMap<(CallId, AgentId), Leg>, call: &CallId, a: &AgentId) -> &'m mut Leg {
    legs.entry_or_insert_by(
        leg_hash(call, a),
        |k| k.0 == *call && k.1 == *a,
        || ((call.clone(), a.clone()), Leg::default()),
    )
}

fn leg_get_mut<'m>(legs: &'m mut HMap<(CallId, AgentId), Leg>, call: &CallId, a: &AgentId) -> Option<&'m mut Leg> {
    legs.get_mut_by(leg_hash(call, a), |k| k.0 == *call && k.1 == *a)
}

fn leg_get<'m>(legs: &'m HMap<(CallId, AgentId), Leg>, call: &CallId, a: &AgentId) -> Option<&'m Leg> {
    legs.get_by(leg_hash(call, a), |k| k.0 == *call && k.1 == *a)
}
