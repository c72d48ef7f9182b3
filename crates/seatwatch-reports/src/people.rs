//! The per-agent fold behind the attendance report and the scorecard: sessions per local
//! day, state time and calls per local month, the schedule as it stands at the end of the
//! log. Agent states come from the occupancy projection's change stream, so state time
//! here is exactly the occupancy projection's.

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
    /// Time logged in (any state but logged out) within the day.
    pub logged_in_ns: i64,
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
        let today = Date::from_naive(local_date(s.timezone, t));
        let prev = Date(today.0 - 1);
        let (shift, leave) = self.schedule_inputs(prev);
        let Some(night) = seatwatch_compliance::scheduled_shift(s, prev, shift, leave) else { return today };
        let end = night.end.nanos;
        if t < end {
            return prev;
        }
        if logout && night.end.nanos > day_start(s.timezone, today.to_naive()).unwrap_or(i64::MAX) {
            let (shift, leave) = self.schedule_inputs(today);
            let opens = seatwatch_compliance::scheduled_shift(s, today, shift, leave)
                .map_or(i64::MAX, |d| d.start.nanos.saturating_sub(s.rules.window_before_start.as_nanos()));
            if t < end.saturating_add(NIGHT_LOGOUT_GRACE_NANOS) && t < opens {
                return prev;
            }
        }
        today
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
                let date = book.shift_day(&self.settings, eff.nanos, true);
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
                let s = self.months.entry((agent.clone(), month_of(tz, eff.nanos))).or_default();
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
        let prev = self.agents.entry(c.agent.clone()).or_default().state.replace((c.state, c.since));
        if let Some((state, since)) = prev
            && c.since > since
        {
            add_time(self.tz(), &mut self.days, &mut self.months, &c.agent, state, since.nanos, c.since.nanos);
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
                    add_time(self.tz(), &mut days, &mut months, agent, state, since.nanos, now.nanos);
                }
            }
        }
        (days, months)
    }
}

/// Book `[from, to)` in `state`, split at local midnights.
fn add_time(tz: Tz, days: &mut Days, months: &mut Months, agent: &AgentId, state: AgentState, from: i64, to: i64) {
    if state == AgentState::LoggedOut {
        return;
    }
    let mut a = from;
    while a < to {
        let b = next_day_start(tz, a).min(to);
        let dt = b - a;
        let date = local_date(tz, a);
        let day = days.entry((agent.clone(), Date::from_naive(date))).or_default();
        day.logged_in_ns = day.logged_in_ns.saturating_add(dt);
        let s = months.entry((agent.clone(), (date.year(), date.month()))).or_default();
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
        let tz: Tz = chrono_tz::Asia::Shanghai;
        let a = AgentId::from("a1");
        let (mut days, mut months) = (BTreeMap::new(), BTreeMap::new());
        let from = Ts::parse_rfc3339("2026-03-31T23:30:00+08:00").unwrap().nanos;
        let to = Ts::parse_rfc3339("2026-04-01T00:15:00+08:00").unwrap().nanos;
        add_time(tz, &mut days, &mut months, &a, AgentState::NotReady, from, to);
        add_time(tz, &mut days, &mut months, &a, AgentState::LoggedOut, to, to + 3_600 * NANOS_PER_SEC);
        let d31 = Date::parse("2026-03-31").unwrap();
        let d1 = Date::parse("2026-04-01").unwrap();
        assert_eq!(days[&(a.clone(), d31)].logged_in_ns, 1800 * NANOS_PER_SEC);
        assert_eq!(days[&(a.clone(), d1)].logged_in_ns, 900 * NANOS_PER_SEC);
        assert_eq!(months[&(a.clone(), (2026, 3))].not_ready_ns, 1800 * NANOS_PER_SEC);
        assert_eq!(months[&(a.clone(), (2026, 4))].logged_in_ns, 900 * NANOS_PER_SEC);
        assert_eq!(days.len(), 2);
    }
}
