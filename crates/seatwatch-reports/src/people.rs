//! The per-agent fold behind the attendance report and the scorecard: sessions per local
//! day, state time and calls per local month, the schedule as it stands at the end of the
//! log. Agent states come from the occupancy projection's change stream, so state time
//! here is exactly the occupancy projection's.
//!
//! A session (login to logout) is booked to the day of the shift it belongs to, by the
//! rule that books its login and logout ([`AgentBook::shift_day`]): its logged-in time at
//! any instant goes to the day its logout would be booked to if it logged out then, and
//! never to a day before its login's. So a night shift's row holds the whole night, and a
//! day's row agrees with its first login and last logout; a month is the months of its
//! days.

use crate::weeks::WeekBook;
use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use seatwatch_compliance::TenantSettings;
use seatwatch_config::Config;
use seatwatch_model::{AgentId, CallId, Date, Envelope, EventKind, NANOS_PER_SEC, ShiftHours, Ts, rings_heard};
use seatwatch_occupancy::{AgentState, AgentStateChange};
use std::collections::BTreeMap;

/// A local month, `(year, month)`.
pub(crate) type Month = (i32, u32);

/// Each agent's local days.
pub(crate) type Days = BTreeMap<(AgentId, Date), Day>;
/// Each agent's local months.
pub(crate) type Months = BTreeMap<(AgentId, Month), Score>;

/// How long an offered or answered call leg is remembered without news.
const LEG_RETENTION_NANOS: i64 = 2 * 86_400 * NANOS_PER_SEC;

/// One agent's local day.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Day {
    /// The first login of the day: effective time and seq.
    pub first_login: Option<(Ts, u64)>,
    /// The last logout of the day.
    pub last_logout: Option<(Ts, u64)>,
    /// Logins that day.
    pub logins: u32,
    /// Time logged in (any state but logged out) booked to the day: the time of the
    /// sessions booked to it (see the module documentation).
    pub logged_in_ns: i64,
    /// Time logged in within the local calendar day, whichever day its session is booked
    /// to (the supervision report's weeks are calendar weeks).
    pub calendar_ns: i64,
}

/// One agent's local month.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Score {
    /// Calls answered (the first `answered` of each call at the agent).
    pub handled: u64,
    /// Answers whose ring count is known (reported by the ACD, or offered then answered).
    pub rated: u64,
    /// Of those, answered within the tenant's `max_rings`.
    pub within_rings: u64,
    pub ringing_ns: i64,
    pub talk_ns: i64,
    pub wrap_ns: i64,
    pub ready_ns: i64,
    pub not_ready_ns: i64,
    pub logged_in_ns: i64,
    /// `monitored` events about the agent.
    pub monitored: u64,
    /// `callback_sampled` events about the agent.
    pub sampled: u64,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct AgentBook {
    /// Effective time of the agent's last event (events never go back per agent).
    last: Option<Ts>,
    /// The state shown and since when, from the occupancy change stream.
    state: Option<(AgentState, Ts)>,
    /// Shift overrides by local date: hours (`None` = off) and seq.
    pub shifts: BTreeMap<Date, (Option<ShiftHours>, u64)>,
    /// Approved leave: from, to, seq.
    pub leaves: Vec<(Date, Date, u64)>,
    /// The day the current session (since the agent last left `logged_out`) is booked to:
    /// its login's day; `None` while logged out.
    session: Option<Date>,
}

/// How long after a night shift's end a logout still belongs to it (unless the next
/// day's shift window has begun): the agent who stays to finish a call.
const NIGHT_LOGOUT_GRACE_NANOS: i64 = 4 * 3_600 * NANOS_PER_SEC;

impl AgentBook {
    /// The local date a login or logout at `t` is booked to: the day before when `t`
    /// falls within that day's shift ending after midnight (a night shift; a logout up
    /// to [`NIGHT_LOGOUT_GRACE_NANOS`] after its end, before today's shift window
    /// opens), else `t`'s own local date. So a night shift's logout is on its shift's
    /// row, as the compliance rules judge it.
    pub fn shift_day(&self, s: &TenantSettings, t: i64, logout: bool) -> Date {
        self.shift_day_until(s, t, logout).0
    }

    /// [`Self::shift_day`], and the instant up to which (exclusive, after `t`) it gives
    /// the same day: the next local midnight, or earlier where `t` passes the previous
    /// day's shift end, the end of its logout grace, or the opening of today's shift
    /// window.
    fn shift_day_until(&self, s: &TenantSettings, t: i64, logout: bool) -> (Date, i64) {
        let today = Date::from_naive(local_date(s.timezone, t));
        let midnight = next_day_start(s.timezone, t);
        let prev = Date(today.0 - 1);
        let (shift, leave) = self.schedule_inputs(prev);
        let Some(night) = seatwatch_compliance::scheduled_shift(s, prev, shift, leave) else {
            return (today, midnight);
        };
        let end = night.end.nanos;
        if t < end {
            return (prev, midnight.min(end));
        }
        if logout && night.end.nanos > day_start(s.timezone, today.to_naive()).unwrap_or(i64::MAX) {
            let (shift, leave) = self.schedule_inputs(today);
            let opens = seatwatch_compliance::scheduled_shift(s, today, shift, leave)
                .map_or(i64::MAX, |d| d.start.nanos.saturating_sub(s.rules.window_before_start.as_nanos()));
            let grace = end.saturating_add(NIGHT_LOGOUT_GRACE_NANOS);
            if t < grace && t < opens {
                return (prev, midnight.min(grace).min(opens));
            }
        }
        (today, midnight)
    }

    /// The day a logout at `t` is booked to: [`Self::shift_day`], but not before the day
    /// of the session it ends.
    pub fn logout_day(&self, s: &TenantSettings, t: i64) -> Date {
        self.booked_until(s, t).0
    }

    /// The day the current session's logged-in time at `t` is booked to (where a logout at
    /// `t` would be booked: [`Self::logout_day`]), and the instant up to which (exclusive,
    /// after `t`) that day holds.
    fn booked_until(&self, s: &TenantSettings, t: i64) -> (Date, i64) {
        let (day, until) = self.shift_day_until(s, t, true);
        (self.session.map_or(day, |d| d.max(day)), until)
    }

    /// The day an event of the agent at `t` that belongs to its session (an answered
    /// call) is booked to: the session's time at `t`, or, logged out, the day a login at
    /// `t` would be booked to (the session the event starts).
    fn session_day(&self, s: &TenantSettings, t: i64) -> Date {
        match self.session {
            Some(_) => self.logout_day(s, t),
            None => self.shift_day(s, t, false),
        }
    }

    /// The `shift` event for `date` and the latest leave covering it, as the compliance
    /// schedule takes them.
    pub fn schedule_inputs(&self, date: Date) -> (Option<(Option<ShiftHours>, u64)>, Option<u64>) {
        let shift = self.shifts.get(&date).copied();
        let leave = self.leaves.iter().filter(|(f, t, _)| *f <= date && date <= *t).map(|l| l.2).max();
        (shift, leave)
    }
}

/// One tenant's books.
#[derive(Clone, Debug)]
pub(crate) struct TenantBook {
    pub settings: TenantSettings,
    pub agents: BTreeMap<AgentId, AgentBook>,
    pub days: Days,
    pub months: Months,
    /// Which (agent, day) each login and logout was booked to, by seq.
    pub row_of_seq: BTreeMap<u64, (AgentId, Date)>,
    /// Open legs: when the call was last offered to the agent (raw ts), whether it was
    /// answered, and the last time anything happened on it.
    legs: BTreeMap<(CallId, AgentId), Leg>,
    next_prune: i64,
    /// The earliest timestamp of the tenant's records.
    pub first: Option<Ts>,
    /// The weekly QA book (the supervision report), when collected.
    pub weeks: Option<WeekBook>,
}

#[derive(Clone, Debug, Default)]
struct Leg {
    offered: Option<i64>,
    answered: bool,
    last: i64,
}

/// The local date of an instant.
pub(crate) fn local_date(tz: Tz, nanos: i64) -> NaiveDate {
    Ts::from_nanos(nanos).to_utc().with_timezone(&tz).date_naive()
}

/// The first instant of local `date` (the earliest, around DST changes; the first valid
/// local time after a gap at midnight). `None` out of range.
pub(crate) fn day_start(tz: Tz, date: NaiveDate) -> Option<i64> {
    let mut t = date.and_time(NaiveTime::MIN);
    for _ in 0..48 {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(dt) | LocalResult::Ambiguous(dt, _) => return dt.timestamp_nanos_opt(),
            LocalResult::None => t = t.checked_add_signed(Duration::minutes(30))?,
        }
    }
    None
}

/// The start of the local day after the one holding `nanos` (always after `nanos`).
fn next_day_start(tz: Tz, nanos: i64) -> i64 {
    let fallback = nanos.saturating_add(86_400 * NANOS_PER_SEC);
    local_date(tz, nanos).succ_opt().and_then(|d| day_start(tz, d)).filter(|n| *n > nanos).unwrap_or(fallback)
}

/// `2026-03` for a month.
pub(crate) fn month_label((y, m): Month) -> String {
    format!("{y:04}-{m:02}")
}

/// The local month holding `nanos`.
pub(crate) fn month_of(tz: Tz, nanos: i64) -> Month {
    let d = local_date(tz, nanos);
    (d.year(), d.month())
}

/// The first instant of a local month and of the month after it.
pub(crate) fn month_bounds(tz: Tz, (y, m): Month) -> Option<(i64, i64)> {
    let first = NaiveDate::from_ymd_opt(y, m, 1)?;
    let next = if m >= 12 { NaiveDate::from_ymd_opt(y + 1, 1, 1)? } else { NaiveDate::from_ymd_opt(y, m + 1, 1)? };
    Some((day_start(tz, first)?, day_start(tz, next)?))
}

impl TenantBook {
    fn new(settings: TenantSettings, weeks: bool) -> Self {
        let weeks = weeks.then(|| WeekBook::new(settings.allowed_lateness.as_nanos()));
        TenantBook {
            weeks,
            settings,
            agents: BTreeMap::new(),
            days: BTreeMap::new(),
            months: BTreeMap::new(),
            row_of_seq: BTreeMap::new(),
            legs: BTreeMap::new(),
            next_prune: i64::MIN,
            first: None,
        }
    }

    fn tz(&self) -> Tz {
        self.settings.timezone
    }

    fn apply(&mut self, env: &Envelope) {
        let ts = env.event.ts;
        self.first = Some(self.first.map_or(ts, |f| f.min(ts)));
        if let Some(w) = self.weeks.as_mut() {
            w.apply(self.settings.timezone, env);
        }
        if ts.nanos >= self.next_prune {
            let cutoff = ts.nanos.saturating_sub(LEG_RETENTION_NANOS);
            self.legs.retain(|_, l| l.last >= cutoff);
            self.next_prune = ts.nanos.saturating_add(86_400 * NANOS_PER_SEC);
        }
        let Some(agent) = env.event.agent.as_ref().filter(|_| env.event.kind.has_agent()) else { return };
        let tz = self.tz();
        let book = self.agents.entry(agent.clone()).or_default();
        let eff = book.last.map_or(ts, |l| l.max(ts));
        book.last = Some(eff);
        let raw = ts.nanos;
        match &env.event.kind {
            EventKind::Login { .. } => {
                let date = book.shift_day(&self.settings, eff.nanos, false);
                let day = self.days.entry((agent.clone(), date)).or_default();
                day.logins = day.logins.saturating_add(1);
                if day.first_login.is_none() {
                    day.first_login = Some((eff, env.seq));
                }
                self.row_of_seq.insert(env.seq, (agent.clone(), date));
            }
            EventKind::Logout => {
                let date = book.logout_day(&self.settings, eff.nanos);
                self.days.entry((agent.clone(), date)).or_default().last_logout = Some((eff, env.seq));
                self.row_of_seq.insert(env.seq, (agent.clone(), date));
            }
            EventKind::Shift { date, hours } => {
                book.shifts.insert(*date, (*hours, env.seq));
            }
            EventKind::LeaveApproved { from, to, .. } => book.leaves.push((*from, *to, env.seq)),
            EventKind::Offered { call, .. } => {
                let leg = self.legs.entry((call.clone(), agent.clone())).or_default();
                leg.last = leg.last.max(raw);
                if !leg.answered {
                    leg.offered = Some(raw);
                }
            }
            EventKind::Missed { call } | EventKind::Ended { call } => {
                if let Some(leg) = self.legs.get_mut(&(call.clone(), agent.clone())) {
                    leg.offered = None;
                    leg.last = leg.last.max(raw);
                }
            }
            EventKind::Answered { call, rings } => {
                let leg = self.legs.entry((call.clone(), agent.clone())).or_default();
                leg.last = leg.last.max(raw);
                if leg.answered {
                    return;
                }
                leg.answered = true;
                let heard = match (rings, leg.offered.take()) {
                    (Some(r), _) => Some(*r),
                    (None, Some(o)) => {
                        Some(rings_heard(raw.saturating_sub(o), self.settings.rules.ring_cadence.as_nanos()))
                    }
                    (None, None) => None,
                };
                let max = self.settings.rules.max_rings;
                // Booked with the session's time, so that the month's handle time and calls agree.
                let day = book.session_day(&self.settings, eff.nanos).to_naive();
                let s = self.months.entry((agent.clone(), (day.year(), day.month()))).or_default();
                s.handled += 1;
                if let Some(n) = heard {
                    s.rated += 1;
                    if n <= max {
                        s.within_rings += 1;
                    }
                }
            }
            EventKind::Monitored { .. } => {
                self.months.entry((agent.clone(), month_of(tz, raw))).or_default().monitored += 1;
            }
            EventKind::CallbackSampled { .. } => {
                self.months.entry((agent.clone(), month_of(tz, raw))).or_default().sampled += 1;
            }
            _ => {}
        }
    }

    /// An agent's state changed (as the occupancy projection pushes it).
    fn change(&mut self, c: &AgentStateChange) {
        let book = self.agents.entry(c.agent.clone()).or_default();
        let prev = book.state.replace((c.state, c.since));
        if let Some((state, since)) = prev
            && c.since > since
        {
            add_time(
                &self.settings,
                book,
                &mut self.days,
                &mut self.months,
                &c.agent,
                state,
                since.nanos,
                c.since.nanos,
            );
        }
        let was_in = prev.is_some_and(|(st, _)| st != AgentState::LoggedOut);
        if c.state == AgentState::LoggedOut {
            book.session = None;
        } else if !was_in {
            // A session starts: on its login's day (a login that logged the agent in), else
            // (an implicit login) on the day a login now would be booked to.
            let login = self.row_of_seq.get(&c.seq).filter(|(a, _)| *a == c.agent).map(|(_, d)| *d);
            book.session = Some(login.unwrap_or_else(|| book.shift_day(&self.settings, c.since.nanos, false)));
        }
    }

    /// The days and months with every open state booked up to `now` (the tenant's clock).
    pub fn finalized(&self, now: Option<Ts>) -> (Days, Months) {
        let (mut days, mut months) = (self.days.clone(), self.months.clone());
        if let Some(now) = now {
            for (agent, book) in &self.agents {
                if let Some((state, since)) = book.state
                    && now > since
                {
                    add_time(&self.settings, book, &mut days, &mut months, agent, state, since.nanos, now.nanos);
                }
            }
        }
        (days, months)
    }
}

/// Book `book`'s agent's `[from, to)` in `state` (of its current session): each instant
/// to the day [`AgentBook::logout_day`] gives it and that day's month, and to its
/// calendar day's `calendar_ns`.
#[allow(clippy::too_many_arguments)]
fn add_time(
    s: &TenantSettings,
    book: &AgentBook,
    days: &mut Days,
    months: &mut Months,
    agent: &AgentId,
    state: AgentState,
    from: i64,
    to: i64,
) {
    if state == AgentState::LoggedOut {
        return;
    }
    let mut a = from;
    while a < to {
        let (date, until) = book.booked_until(s, a);
        let b = until.min(to);
        let dt = b - a;
        let calendar = days.entry((agent.clone(), Date::from_naive(local_date(s.timezone, a)))).or_default();
        calendar.calendar_ns = calendar.calendar_ns.saturating_add(dt);
        let day = days.entry((agent.clone(), date)).or_default();
        day.logged_in_ns = day.logged_in_ns.saturating_add(dt);
        let d = date.to_naive();
        let s = months.entry((agent.clone(), (d.year(), d.month()))).or_default();
        let slot = match state {
            AgentState::Ringing => &mut s.ringing_ns,
            AgentState::Talking => &mut s.talk_ns,
            AgentState::WrapUp => &mut s.wrap_ns,
            AgentState::Ready => &mut s.ready_ns,
            AgentState::NotReady | AgentState::LoggedOut => &mut s.not_ready_ns,
        };
        *slot = slot.saturating_add(dt);
        s.logged_in_ns = s.logged_in_ns.saturating_add(dt);
        a = b;
    }
}

/// Every tenant's books.
#[derive(Clone, Debug)]
pub(crate) struct People {
    default: TenantSettings,
    per_tenant: BTreeMap<String, TenantSettings>,
    tenants: BTreeMap<String, TenantBook>,
    /// Whether the tenants' books keep the weekly QA book.
    weeks: bool,
}

impl People {
    /// The books of `config`'s tenants; `weeks`: with the weekly QA book.
    pub fn new(config: &Config, weeks: bool) -> Self {
        People {
            weeks,
            default: config.default_tenant.compliance(),
            per_tenant: config.tenants.iter().map(|(k, t)| (k.clone(), t.compliance())).collect(),
            tenants: BTreeMap::new(),
        }
    }

    fn ensure(&mut self, tenant: &str) {
        if !self.tenants.contains_key(tenant) {
            let s = self.per_tenant.get(tenant).unwrap_or(&self.default).clone();
            self.tenants.insert(tenant.to_owned(), TenantBook::new(s, self.weeks));
        }
    }

    pub fn apply(&mut self, env: &Envelope) {
        self.ensure(&env.tenant);
        if let Some(b) = self.tenants.get_mut(env.tenant.as_str()) {
            b.apply(env);
        }
    }

    pub fn change(&mut self, c: &AgentStateChange) {
        self.ensure(&c.tenant);
        if let Some(b) = self.tenants.get_mut(c.tenant.as_str()) {
            b.change(c);
        }
    }

    pub fn tenant(&self, tenant: &str) -> Option<&TenantBook> {
        self.tenants.get(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_split_at_local_midnight_even_around_dst() {
        let tz: Tz = chrono_tz::Asia::Shanghai;
        let t = Ts::parse_rfc3339("2026-03-02T23:00:00+08:00").unwrap();
        let n = next_day_start(tz, t.nanos);
        assert_eq!(Ts::from_nanos(n).to_rfc3339(), "2026-03-02T16:00:00Z");
        // Santiago skips from 24:00 to 01:00 on 2026-09-06: the day starts at 01:00.
        let cl: Tz = chrono_tz::America::Santiago;
        let d = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let s = day_start(cl, d).unwrap();
        assert_eq!(local_date(cl, s), d);
        assert!(local_date(cl, s - 1) < d);
        let (a, b) = month_bounds(tz, (2026, 12)).unwrap();
        assert_eq!(Ts::from_nanos(a).to_rfc3339(), "2026-11-30T16:00:00Z");
        assert_eq!(Ts::from_nanos(b).to_rfc3339(), "2026-12-31T16:00:00Z");
        assert_eq!(month_label((2026, 3)), "2026-03");
    }

    #[test]
    fn time_is_booked_per_day_and_month_and_logged_out_time_is_not() {
        // Shanghai, the default schedule (a day shift, Monday to Friday): a session past
        // midnight goes on the next day, where its logout would be booked.
        let s = TenantSettings::default();
        let book = AgentBook { session: Some(Date::parse("2026-03-31").unwrap()), ..AgentBook::default() };
        let a = AgentId::from("a1");
        let (mut days, mut months) = (BTreeMap::new(), BTreeMap::new());
        let from = Ts::parse_rfc3339("2026-03-31T23:30:00+08:00").unwrap().nanos;
        let to = Ts::parse_rfc3339("2026-04-01T00:15:00+08:00").unwrap().nanos;
        add_time(&s, &book, &mut days, &mut months, &a, AgentState::NotReady, from, to);
        add_time(&s, &book, &mut days, &mut months, &a, AgentState::LoggedOut, to, to + 3_600 * NANOS_PER_SEC);
        let d31 = Date::parse("2026-03-31").unwrap();
        let d1 = Date::parse("2026-04-01").unwrap();
        assert_eq!(days[&(a.clone(), d31)].logged_in_ns, 1800 * NANOS_PER_SEC);
        assert_eq!(days[&(a.clone(), d1)].logged_in_ns, 900 * NANOS_PER_SEC);
        assert_eq!(months[&(a.clone(), (2026, 3))].not_ready_ns, 1800 * NANOS_PER_SEC);
        assert_eq!(months[&(a.clone(), (2026, 4))].logged_in_ns, 900 * NANOS_PER_SEC);
        assert_eq!(days.len(), 2);
    }

    // ----- sessions are booked to their shift's day -------------------------------------

    use crate::rows::{AttendanceRow, ScorecardRow};
    use crate::{Filter, Replay, ReportKind};
    use seatwatch_model::{Event, Projector, TimeOfDay};

    /// Replays `events` (`(ts, kind)` of agent `a1`) for tenant `acme` in `tz`.
    fn replay(tz: &str, events: &[(&str, EventKind)]) -> Replay {
        let config = Config::parse(&format!("[tenant.acme]\nclock = \"event\"\ntimezone = \"{tz}\"\n")).unwrap();
        let mut r = Replay::new(&config, &[ReportKind::Attendance, ReportKind::Scorecard, ReportKind::Supervision]);
        for (i, (at, kind)) in events.iter().enumerate() {
            let ts = Ts::parse_rfc3339(at).unwrap();
            let seq = i as u64 + 1;
            let event =
                Event { id: format!("e{seq}").into(), ts, agent: Some("a1".into()), kind: kind.clone(), extra: None };
            r.apply(&Envelope { seq, tenant: "acme".into(), source: "acd".into(), received: ts, event });
        }
        r
    }

    fn shift(date: &str, hours: Option<(&str, &str)>) -> EventKind {
        let hours =
            hours.map(|(s, e)| ShiftHours { start: TimeOfDay::parse(s).unwrap(), end: TimeOfDay::parse(e).unwrap() });
        EventKind::Shift { date: Date::parse(date).unwrap(), hours }
    }

    fn login() -> EventKind {
        EventKind::Login { station: "s1".into() }
    }

    fn rows(r: &Replay) -> BTreeMap<String, AttendanceRow> {
        let rows = r.attendance("acme", &Filter::default()).unwrap();
        rows.into_iter().map(|row| (row.date.to_string(), row)).collect()
    }

    fn cards(r: &Replay) -> BTreeMap<String, ScorecardRow> {
        r.scorecard("acme", &Filter::default()).unwrap().into_iter().map(|c| (c.month.clone(), c)).collect()
    }

    fn ts(s: &str) -> Option<Ts> {
        Some(Ts::parse_rfc3339(s).unwrap())
    }

    #[test]
    fn a_no_show_is_on_its_own_days_row_and_month_without_a_roster() {
        // The calendar tester's case: no roster, so the agent is known from its first login
        // (Friday 30 January), which the no-show of Monday 2 February cites as evidence.
        let r = replay(
            "Asia/Shanghai",
            &[
                ("2026-01-30T08:00:00+08:00", login()),
                ("2026-01-30T17:40:00+08:00", EventKind::Logout),
                ("2026-02-02T09:30:01+08:00", EventKind::Heartbeat),
            ],
        );
        let rows = rows(&r);
        assert!(!rows["2026-01-30"].absent, "the day present: {rows:#?}");
        let mon = &rows["2026-02-02"];
        assert!(mon.absent && mon.first_login.is_none(), "{mon:?}");
        assert_eq!(mon.alarms, ["absent-a1-2026-02-02"]);
        let cards = cards(&r);
        assert_eq!((cards["2026-01"].days_absent, cards["2026-01"].days_present), (0, 1));
        assert_eq!(cards["2026-02"].days_absent, 1);
    }

    #[test]
    fn a_night_shifts_early_logout_after_midnight_counts_in_the_shifts_month() {
        // The calendar tester's case: the night of 31 October, out at 05:30 on 1 November.
        let r = replay(
            "Asia/Shanghai",
            &[
                ("2026-10-20T09:00:00+08:00", shift("2026-10-31", Some(("22:00", "06:00")))),
                ("2026-10-31T21:50:00+08:00", login()),
                ("2026-11-01T05:30:00+08:00", EventKind::Logout),
                ("2026-11-01T06:30:00+08:00", EventKind::Heartbeat),
            ],
        );
        assert!(rows(&r)["2026-10-31"].early);
        let cards = cards(&r);
        let oct = &cards["2026-10"];
        assert_eq!((oct.days_early, oct.alarms[&seatwatch_compliance::Rule::EarlyLogout]), (1, 1), "{oct:?}");
        assert!(
            cards.get("2026-11").is_none_or(|nov| nov.alarms[&seatwatch_compliance::Rule::EarlyLogout] == 0),
            "{cards:#?}"
        );
    }

    #[test]
    fn a_night_shifts_whole_session_is_on_its_shifts_row() {
        // The black-box tester's night: shift Tuesday 22:00 to Wednesday 06:00, Wednesday
        // off; in at 21:50, out at 06:05. Calendar days would give 7,800 s and 21,900 s.
        let r = replay(
            "Asia/Shanghai",
            &[
                ("2026-11-20T09:00:00+08:00", shift("2026-11-24", Some(("22:00", "06:00")))),
                ("2026-11-20T09:00:01+08:00", shift("2026-11-25", None)),
                ("2026-11-24T21:50:00+08:00", login()),
                ("2026-11-25T06:05:00+08:00", EventKind::Logout),
            ],
        );
        let rows = rows(&r);
        let tue = &rows["2026-11-24"];
        assert_eq!(
            (tue.first_login, tue.last_logout),
            (ts("2026-11-24T21:50:00+08:00"), ts("2026-11-25T06:05:00+08:00"))
        );
        assert_eq!(tue.logged_in_seconds, 29_700.0, "{tue:?}");
        assert!(tue.scheduled && !tue.late && !tue.early && !tue.absent, "{tue:?}");
        assert!(!rows.contains_key("2026-11-25"), "the day off has nothing: {rows:#?}");
        let nov = &cards(&r)["2026-11"];
        assert_eq!((nov.logged_in_seconds, nov.ready_seconds, nov.days_present), (29_700.0, 29_700.0, 1));
        // The supervision report's weeks stay calendar weeks (the same week here).
        let weeks = r.supervision("acme", &Filter::default()).unwrap();
        assert_eq!(weeks.iter().map(|w| w.logged_in_seconds).sum::<f64>(), 29_700.0);
    }

    #[test]
    fn a_night_shift_across_the_dst_change_and_the_month_end_is_its_days_and_months() {
        // New York falls back at 02:00 on Sunday 2026-11-01: the night of Saturday
        // 2026-10-31, 22:00 to 06:00, is 9 h long. In at 21:50 EDT, a call at 01:30 EST,
        // out at 06:05 EST: 9 h 15 min, all of it October's, with the call.
        let call = || CallId::from("c1");
        let r = replay(
            "America/New_York",
            &[
                ("2026-10-20T09:00:00-04:00", shift("2026-10-31", Some(("22:00", "06:00")))),
                ("2026-10-31T21:50:00-04:00", login()),
                (
                    "2026-11-01T01:30:00-05:00",
                    EventKind::Offered { call: call(), queue: None, caller: None, emergency: false, priority: None },
                ),
                ("2026-11-01T01:30:06-05:00", EventKind::Answered { call: call(), rings: None }),
                ("2026-11-01T01:40:06-05:00", EventKind::Ended { call: call() }),
                ("2026-11-01T01:41:06-05:00", EventKind::Ready),
                ("2026-11-01T06:05:00-05:00", EventKind::Logout),
            ],
        );
        let rows = rows(&r);
        let sat = &rows["2026-10-31"];
        assert_eq!(sat.shift_end, ts("2026-11-01T06:00:00-05:00"));
        assert_eq!(
            (sat.first_login, sat.last_logout),
            (ts("2026-10-31T21:50:00-04:00"), ts("2026-11-01T06:05:00-05:00"))
        );
        assert_eq!(sat.logged_in_seconds, 33_300.0, "{sat:?}");
        assert!(!rows.contains_key("2026-11-01"), "{rows:#?}");
        let cards = cards(&r);
        let oct = &cards["2026-10"];
        assert_eq!((oct.logged_in_seconds, oct.talk_seconds, oct.wrap_up_seconds), (33_300.0, 600.0, 60.0));
        assert_eq!((oct.handled, oct.aht_seconds, oct.days_present), (1, Some(660.0), 1));
        // November has only the alarm raised in it (the call's survey_not_offered).
        let nov = &cards["2026-11"];
        assert_eq!((nov.logged_in_seconds, nov.handled, nov.days_present, nov.alarms_total), (0.0, 0, 0, 1));
    }

    #[test]
    fn time_after_a_night_shifts_grace_and_a_later_session_go_to_the_next_day() {
        // Shift Tuesday 22:00 to 06:00, Wednesday off. The night session runs to 11:00,
        // past the 4 h grace (10:00): the hour after it is Wednesday's, with the logout.
        // Overtime on Wednesday 12:00 to 13:00 is Wednesday's, though within no shift.
        let r = replay(
            "Asia/Shanghai",
            &[
                ("2026-11-20T09:00:00+08:00", shift("2026-11-24", Some(("22:00", "06:00")))),
                ("2026-11-20T09:00:01+08:00", shift("2026-11-25", None)),
                ("2026-11-24T22:00:00+08:00", login()),
                ("2026-11-25T11:00:00+08:00", EventKind::Logout),
                ("2026-11-25T12:00:00+08:00", login()),
                ("2026-11-25T13:00:00+08:00", EventKind::Logout),
            ],
        );
        let rows = rows(&r);
        let (tue, wed) = (&rows["2026-11-24"], &rows["2026-11-25"]);
        assert_eq!((tue.last_logout, tue.logged_in_seconds), (None, 12.0 * 3600.0), "{tue:?}");
        assert_eq!((wed.first_login, wed.logins), (ts("2026-11-25T12:00:00+08:00"), 1));
        assert_eq!((wed.last_logout, wed.logged_in_seconds), (ts("2026-11-25T13:00:00+08:00"), 7_200.0), "{wed:?}");
    }

    #[test]
    fn a_session_that_starts_after_a_night_shift_keeps_its_logout_within_the_grace() {
        // Shift Tuesday 22:00 to 06:00, in 22:00, out 06:00; overtime on Wednesday (off)
        // 07:00 to 08:00: its logout, within the night's grace, is the overtime's.
        let r = replay(
            "Asia/Shanghai",
            &[
                ("2026-11-20T09:00:00+08:00", shift("2026-11-24", Some(("22:00", "06:00")))),
                ("2026-11-20T09:00:01+08:00", shift("2026-11-25", None)),
                ("2026-11-24T22:00:00+08:00", login()),
                ("2026-11-25T06:00:00+08:00", EventKind::Logout),
                ("2026-11-25T07:00:00+08:00", login()),
                ("2026-11-25T08:00:00+08:00", EventKind::Logout),
            ],
        );
        let rows = rows(&r);
        let (tue, wed) = (&rows["2026-11-24"], &rows["2026-11-25"]);
        assert_eq!((tue.last_logout, tue.logged_in_seconds), (ts("2026-11-25T06:00:00+08:00"), 8.0 * 3600.0));
        assert_eq!(
            (wed.first_login, wed.last_logout),
            (ts("2026-11-25T07:00:00+08:00"), ts("2026-11-25T08:00:00+08:00"))
        );
        assert_eq!(wed.logged_in_seconds, 3_600.0);
    }

    #[test]
    fn a_day_shift_or_overtime_past_midnight_is_split_where_its_logout_is_booked() {
        // The default schedule (08:30 to 17:35, Monday to Friday): a day shift's logout
        // after midnight is the next day's (`shift_day` gives no grace to a shift ending
        // before midnight), and so is the time after midnight; Saturday overtime likewise.
        let r = replay(
            "Asia/Shanghai",
            &[
                ("2026-11-24T08:25:00+08:00", login()),
                ("2026-11-25T00:30:00+08:00", EventKind::Logout),
                ("2026-11-28T23:00:00+08:00", login()),
                ("2026-11-29T01:00:00+08:00", EventKind::Logout),
            ],
        );
        let rows = rows(&r);
        let (tue, wed) = (&rows["2026-11-24"], &rows["2026-11-25"]);
        assert_eq!((tue.first_login, tue.last_logout), (ts("2026-11-24T08:25:00+08:00"), None));
        assert_eq!(tue.logged_in_seconds, 56_100.0);
        assert_eq!((wed.first_login, wed.last_logout), (None, ts("2026-11-25T00:30:00+08:00")));
        assert_eq!(wed.logged_in_seconds, 1_800.0);
        let (sat, sun) = (&rows["2026-11-28"], &rows["2026-11-29"]);
        assert!(!sat.scheduled && !sun.scheduled);
        assert_eq!((sat.first_login, sat.logged_in_seconds), (ts("2026-11-28T23:00:00+08:00"), 3_600.0));
        assert_eq!((sun.last_logout, sun.logged_in_seconds), (ts("2026-11-29T01:00:00+08:00"), 3_600.0));
    }
}
