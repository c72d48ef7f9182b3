//! The rows of each report and how they are built from a [`Replay`].

use crate::people::{Day, Month, Months, Score, local_date, month_bounds, month_label, month_of};
use crate::weeks::{QaWeek, iso_week_label, week_bounds, week_monday};
use crate::{Filter, Replay, Report, ReportError, ReportKind};
use seatwatch_compliance::{Alarm, AlarmQuery, Rule, scheduled_shift};
use seatwatch_model::{AgentId, CallId, Date, NANOS_PER_SEC, Ts};
use seatwatch_occupancy::{AgentState, IntervalRow, TimelineEntry};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One row of the alarms report: the alarm exactly as `GET /v1/alarms` shows it, with
/// its tenant first.
#[derive(Clone, Debug, Serialize)]
pub struct AlarmRow<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// The alarm.
    #[serde(flatten)]
    pub alarm: &'a Alarm,
}

/// One row of the intervals report: the row `GET /v1/intervals` shows, with its tenant
/// first.
#[derive(Clone, Debug, Serialize)]
pub struct IntervalReportRow<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// The interval.
    #[serde(flatten)]
    pub row: &'a IntervalRow,
}

/// One row of the agents report: a span of an agent's state timeline.
#[derive(Clone, Debug, Serialize)]
pub struct AgentSpanRow<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// The span.
    #[serde(flatten)]
    pub span: &'a TimelineEntry,
    /// `to − from` in seconds.
    pub seconds: f64,
}

/// One row of the attendance report: an agent's local day.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AttendanceRow {
    /// The tenant.
    pub tenant: String,
    /// The agent.
    pub agent: AgentId,
    /// The local date (the tenant's time zone).
    pub date: Date,
    /// Whether a shift was scheduled that day (the default schedule or a `shift` event,
    /// and no approved leave).
    pub scheduled: bool,
    /// The scheduled shift's start (a first login after it is late).
    pub shift_start: Option<Ts>,
    /// The scheduled shift's end (a logout before it is leaving early).
    pub shift_end: Option<Ts>,
    /// Whether approved leave covers the day (a later `shift` event for the date wins).
    pub leave: bool,
    /// The day's first login.
    pub first_login: Option<Ts>,
    /// The day's last logout.
    pub last_logout: Option<Ts>,
    /// Logins that day.
    pub logins: u32,
    /// Time logged in (any state but `logged_out`) of the sessions booked to the day (a
    /// night shift's row holds the whole night), in seconds.
    pub logged_in_seconds: f64,
    /// A `late_login` alarm of the day is active (not cleared by later leave).
    pub late: bool,
    /// An `early_logout` alarm of the day is active (not cleared by logging back in or
    /// by later leave).
    pub early: bool,
    /// An `absent` alarm of the day is active.
    pub absent: bool,
    /// Ids of every attendance alarm (`late_login`, `early_logout`, `absent`) of the day,
    /// cleared ones included.
    pub alarms: Vec<String>,
    /// The log sequence numbers behind the row: the first login, the last logout and the
    /// evidence of its alarms.
    pub evidence: Vec<u64>,
}

/// One row of the scorecard: an agent's local month (seed art. 29).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ScorecardRow {
    /// The tenant.
    pub tenant: String,
    /// The agent.
    pub agent: AgentId,
    /// The local month, `YYYY-MM`.
    pub month: String,
    /// Calls answered (the first `answered` of each call at the agent), booked with the
    /// session's time (to the month of the attendance day it is booked to).
    pub handled: u64,
    /// Answers whose ring count is known (sent by the ACD, or measured from `offered`).
    pub rings_known: u64,
    /// Of those, answered within `max_rings` (three by default).
    pub answered_within_rings: u64,
    /// `answered_within_rings ÷ rings_known`; `null` when no ring count is known.
    pub answered_within_rings_share: Option<f64>,
    /// Average handle time: (talk + wrap-up seconds) ÷ handled; `null` without calls.
    pub aht_seconds: Option<f64>,
    /// Seconds talking.
    pub talk_seconds: f64,
    /// Seconds in wrap-up.
    pub wrap_up_seconds: f64,
    /// Seconds ready and idle.
    pub ready_seconds: f64,
    /// Seconds not ready (示忙).
    pub not_ready_seconds: f64,
    /// Seconds logged in.
    pub logged_in_seconds: f64,
    /// Days with a login.
    pub days_present: u32,
    /// Days with an active `late_login` alarm.
    pub days_late: u32,
    /// Days with an active `early_logout` alarm.
    pub days_early: u32,
    /// Days with an active `absent` alarm.
    pub days_absent: u32,
    /// Scheduled days covered by approved leave.
    pub days_on_leave: u32,
    /// Alarms about the agent raised in the month.
    pub alarms_total: u64,
    /// The same by rule (every rule, 0 when none).
    pub alarms: BTreeMap<Rule, u64>,
    /// Calls of the agent monitored by QA (`monitored` events).
    pub monitored: u64,
    /// Customers of the agent called back for sampling (`callback_sampled` events).
    pub callback_sampled: u64,
}

/// One row of the supervision report: an agent's local ISO week (seed art. 28, 31), with
/// the QA evidence counted as the `qa_coverage_low` rule counts it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SupervisionRow {
    /// The tenant.
    pub tenant: String,
    /// The agent.
    pub agent: AgentId,
    /// The ISO week, `YYYY-Www` (the ISO week-numbering year).
    pub week: String,
    /// The week's Monday, local.
    pub week_start: Date,
    /// The week has closed: the tenant's watermark passed local midnight of the Monday
    /// after, and the `qa_coverage_low` rule has checked it.
    pub closed: bool,
    /// The agent worked in the week as the rule sees it: a `login`, `ready`,
    /// `not_ready`, `offered`, `answered`, `missed`, `ended` or `wrap_up` event dated in
    /// it arrived while it was open. Only worked weeks can raise `qa_coverage_low`.
    pub worked: bool,
    /// Time logged in (any state but `logged_out`) within the week, in seconds.
    pub logged_in_seconds: f64,
    /// `monitored` events counted (each event once: a call monitored twice counts twice).
    pub monitored: u32,
    /// `callback_sampled` events counted.
    pub callback_sampled: u32,
    /// The tenant's `min_monitored`.
    pub min_monitored: u32,
    /// The tenant's `min_callbacks`.
    pub min_callbacks: u32,
    /// `monitored ≥ min_monitored` and `callback_sampled ≥ min_callbacks`; `null` while
    /// the week is open.
    pub met: Option<bool>,
    /// The id of the week's `qa_coverage_low` alarm, when one was raised.
    pub alarm: Option<String>,
    /// The calls monitored (of the counted events that name a call), in log order.
    pub monitored_calls: Vec<CallId>,
    /// The calls whose customers were called back (likewise).
    pub callback_calls: Vec<CallId>,
    /// Who did the QA (the events' `by`), sorted, each once.
    pub qa_by: Vec<String>,
    /// The seqs of the counted `monitored` and `callback_sampled` events, ascending.
    pub evidence: Vec<u64>,
    /// The seqs of such events for this week that arrived after it closed: in the log,
    /// but not counted (the rule had already checked the week).
    pub late_evidence: Vec<u64>,
}

fn line<T: Serialize>(row: &T) -> String {
    // Serializing these plain structs to a string cannot fail.
    serde_json::to_string(row).unwrap_or_default()
}

fn secs(ns: i64) -> f64 {
    ns as f64 / NANOS_PER_SEC as f64
}

const ATTENDANCE_RULES: [Rule; 3] = [Rule::LateLogin, Rule::EarlyLogout, Rule::Absent];

/// The local date an attendance alarm is about: the date in a no-show alarm's id
/// (`absent-AGENT-YYYY-MM-DD`: its evidence may cite the login that first made the agent
/// known, days earlier), else the day its login or logout was booked to, else the local
/// date it was raised.
fn alarm_day(replay_tz: chrono_tz::Tz, a: &Alarm, agent: &AgentId, rows: &BTreeMap<u64, (AgentId, Date)>) -> Date {
    if let Some(d) = a.id.len().checked_sub(10).and_then(|i| a.id.get(i..)).and_then(Date::parse) {
        return d;
    }
    if let Some(d) = a.evidence.iter().find_map(|s| rows.get(s).filter(|(x, _)| x == agent).map(|(_, d)| *d)) {
        return d;
    }
    Date::from_naive(local_date(replay_tz, a.raised_at.nanos))
}

impl Replay {
    /// The tenants the report covers, in name order.
    fn tenants(&self, filter: &Filter) -> Result<Vec<String>, ReportError> {
        let all = self.engine.tenants();
        match &filter.tenant {
            None => Ok(all),
            Some(t) if all.contains(t) => Ok(vec![t.clone()]),
            Some(t) => Err(ReportError::UnknownTenant {
                tenant: t.clone(),
                known: if all.is_empty() { "none".into() } else { all.join(", ") },
            }),
        }
    }

    /// Make a report of the records folded so far.
    pub fn report(&self, kind: ReportKind, filter: &Filter) -> Result<Report, ReportError> {
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from >= to
        {
            return Err(ReportError::EmptyRange { from, to });
        }
        let tenants = self.tenants(filter)?;
        let mut rows = Vec::new();
        match kind {
            ReportKind::Alarms => {
                for t in &tenants {
                    let q = AlarmQuery {
                        agent: filter.agent.clone(),
                        from: filter.from,
                        to: filter.to,
                        ..AlarmQuery::default()
                    };
                    for alarm in self.engine.compliance.alarms(t, &q) {
                        rows.push(line(&AlarmRow { tenant: t, alarm: &alarm }));
                    }
                }
            }
            ReportKind::Intervals => {
                if filter.agent.is_some() {
                    return Err(ReportError::NotPerAgent(kind));
                }
                for t in &tenants {
                    for row in self.engine.occupancy.intervals(t, filter.from, filter.to, None) {
                        rows.push(line(&IntervalReportRow { tenant: t, row: &row }));
                    }
                }
            }
            ReportKind::Agents => {
                if !self.timeline {
                    return Err(ReportError::NotCollected(kind));
                }
                for t in &tenants {
                    let spans = self.engine.occupancy.agent_timeline(t, filter.agent.as_deref()).unwrap_or_default();
                    for span in spans.iter().filter(|s| filter.overlaps(s.from, s.to)) {
                        let seconds = secs(span.to.nanos_since(span.from).max(0));
                        rows.push(line(&AgentSpanRow { tenant: t, span, seconds }));
                    }
                }
            }
            ReportKind::Attendance => {
                for t in &tenants {
                    rows.extend(self.attendance(t, filter)?.iter().map(line));
                }
            }
            ReportKind::Scorecard => {
                for t in &tenants {
                    rows.extend(self.scorecard(t, filter)?.iter().map(line));
                }
            }
            ReportKind::Supervision => {
                for t in &tenants {
                    rows.extend(self.supervision(t, filter)?.iter().map(line));
                }
            }
        }
        Ok(Report { kind, rows })
    }

    /// Every attendance row of `tenant`, before filtering, with the month books.
    fn attendance_all(&self, tenant: &str, kind: ReportKind) -> Result<(Vec<AttendanceRow>, Months), ReportError> {
        let people = self.people.as_ref().ok_or(ReportError::NotCollected(kind))?;
        let Some(book) = people.tenant(tenant) else { return Ok((Vec::new(), Months::new())) };
        let s = &book.settings;
        let tz = s.timezone;
        let now = self.engine.occupancy.now(tenant);
        let (days, months) = book.finalized(now);

        #[derive(Default)]
        struct Acc {
            day: Day,
            alarms: Vec<(String, i64)>,
            evidence: BTreeSet<u64>,
            late: bool,
            early: bool,
            absent: bool,
        }
        let mut acc: BTreeMap<(AgentId, Date), Acc> = BTreeMap::new();
        for (k, d) in days {
            if d.first_login.is_some() || d.last_logout.is_some() || d.logged_in_ns > 0 {
                acc.entry(k).or_default().day = d;
            }
        }
        let all = AlarmQuery::default();
        for a in self.engine.compliance.alarms(tenant, &all) {
            let Some(agent) = a.agent.as_ref().filter(|_| ATTENDANCE_RULES.contains(&a.rule)) else { continue };
            let date = alarm_day(tz, &a, agent, &book.row_of_seq);
            let e = acc.entry((agent.clone(), date)).or_default();
            let active = a.cleared_at.is_none();
            match a.rule {
                Rule::LateLogin => e.late |= active,
                Rule::EarlyLogout => e.early |= active,
                _ => e.absent |= active,
            }
            e.alarms.push((a.id.clone(), a.raised_at.nanos));
            e.evidence.extend(a.evidence.iter().copied());
        }
        // Scheduled days on leave, within the span of the tenant's records.
        if let (Some(first), Some(now)) = (book.first, now) {
            let (lo, hi) = (Date::from_naive(local_date(tz, first.nanos)), Date::from_naive(local_date(tz, now.nanos)));
            for (agent, ab) in &book.agents {
                for &(from, to, _) in &ab.leaves {
                    let (mut d, end) = (Date(from.0.max(lo.0)), Date(to.0.min(hi.0)));
                    while d <= end {
                        let (shift, leave) = ab.schedule_inputs(d);
                        let on_leave = leave.is_some_and(|ls| shift.is_none_or(|(_, ss)| ss < ls));
                        if on_leave && scheduled_shift(s, d, shift, None).is_some() {
                            acc.entry((agent.clone(), d)).or_default();
                        }
                        d = Date(d.0 + 1);
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(acc.len());
        for ((agent, date), mut e) in acc {
            let (shift, leave) = book.agents.get(&agent).map(|ab| ab.schedule_inputs(date)).unwrap_or((None, None));
            let on_leave = leave.is_some_and(|ls| shift.is_none_or(|(_, ss)| ss < ls));
            let sched = scheduled_shift(s, date, shift, leave);
            e.evidence.extend(e.day.first_login.map(|f| f.1));
            e.evidence.extend(e.day.last_logout.map(|f| f.1));
            e.alarms.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
            out.push(AttendanceRow {
                tenant: tenant.to_owned(),
                agent,
                date,
                scheduled: sched.is_some(),
                shift_start: sched.map(|x| x.start),
                shift_end: sched.map(|x| x.end),
                leave: on_leave,
                first_login: e.day.first_login.map(|f| f.0),
                last_logout: e.day.last_logout.map(|f| f.0),
                logins: e.day.logins,
                logged_in_seconds: secs(e.day.logged_in_ns),
                late: e.late,
                early: e.early,
                absent: e.absent,
                alarms: e.alarms.into_iter().map(|a| a.0).collect(),
                evidence: e.evidence.into_iter().filter(|s| *s != 0).collect(),
            });
        }
        Ok((out, months))
    }

    /// The attendance rows of `tenant` passing `filter` (a row passes when its local day
    /// overlaps the time range).
    pub(crate) fn attendance(&self, tenant: &str, filter: &Filter) -> Result<Vec<AttendanceRow>, ReportError> {
        let (rows, _) = self.attendance_all(tenant, ReportKind::Attendance)?;
        let tz = self.people.as_ref().and_then(|p| p.tenant(tenant)).map(|b| b.settings.timezone);
        Ok(rows
            .into_iter()
            .filter(|r| filter.agent_ok(r.agent.as_str()))
            .filter(|r| {
                let Some(tz) = tz else { return true };
                let d = r.date.to_naive();
                match (crate::people::day_start(tz, d), d.succ_opt().and_then(|n| crate::people::day_start(tz, n))) {
                    (Some(a), Some(b)) => filter.overlaps(Ts::from_nanos(a), Ts::from_nanos(b)),
                    _ => true,
                }
            })
            .collect())
    }

    /// The scorecard rows of `tenant` passing `filter` (a row passes when its local month
    /// overlaps the time range).
    pub(crate) fn scorecard(&self, tenant: &str, filter: &Filter) -> Result<Vec<ScorecardRow>, ReportError> {
        let (att, months) = self.attendance_all(tenant, ReportKind::Scorecard)?;
        let Some(book) = self.people.as_ref().and_then(|p| p.tenant(tenant)) else { return Ok(Vec::new()) };
        let tz = book.settings.timezone;
        let mut keys: BTreeSet<(AgentId, Month)> = months.keys().cloned().collect();
        let mut att_by: BTreeMap<(AgentId, Month), Vec<&AttendanceRow>> = BTreeMap::new();
        for r in &att {
            let d = r.date.to_naive();
            let k = (r.agent.clone(), (chrono::Datelike::year(&d), chrono::Datelike::month(&d)));
            keys.insert(k.clone());
            att_by.entry(k).or_default().push(r);
        }
        // An attendance alarm counts in the month of the day its attendance row is (a
        // night shift's early logout after midnight on the 1st is the last month's, like
        // the day it marks early); any other alarm in the month it was raised.
        let row_month: BTreeMap<&str, Month> = att
            .iter()
            .flat_map(|r| {
                let d = r.date.to_naive();
                r.alarms.iter().map(move |id| (id.as_str(), (chrono::Datelike::year(&d), chrono::Datelike::month(&d))))
            })
            .collect();
        let mut alarms: BTreeMap<(AgentId, Month), BTreeMap<Rule, u64>> = BTreeMap::new();
        for a in self.engine.compliance.alarms(tenant, &AlarmQuery::default()) {
            let Some(agent) = a.agent.clone() else { continue };
            let month = row_month.get(a.id.as_str()).copied().unwrap_or_else(|| month_of(tz, a.raised_at.nanos));
            let k = (agent, month);
            keys.insert(k.clone());
            *alarms.entry(k).or_default().entry(a.rule).or_insert(0) += 1;
        }
        let empty = Score::default();
        let mut out = Vec::new();
        for k in keys {
            if !filter.agent_ok(k.0.as_str()) {
                continue;
            }
            if let Some((a, b)) = month_bounds(tz, k.1)
                && !filter.overlaps(Ts::from_nanos(a), Ts::from_nanos(b))
            {
                continue;
            }
            let sc = months.get(&k).unwrap_or(&empty);
            let days = att_by.get(&k).map(Vec::as_slice).unwrap_or_default();
            let count = |f: &dyn Fn(&AttendanceRow) -> bool| days.iter().filter(|r| f(r)).count() as u32;
            let mut by_rule: BTreeMap<Rule, u64> = Rule::ALL.iter().map(|r| (*r, 0)).collect();
            if let Some(m) = alarms.get(&k) {
                by_rule.extend(m.iter().map(|(r, n)| (*r, *n)));
            }
            let handle_ns = sc.talk_ns.saturating_add(sc.wrap_ns);
            out.push(ScorecardRow {
                tenant: tenant.to_owned(),
                agent: k.0.clone(),
                month: month_label(k.1),
                handled: sc.handled,
                rings_known: sc.rated,
                answered_within_rings: sc.within_rings,
                answered_within_rings_share: (sc.rated > 0).then(|| sc.within_rings as f64 / sc.rated as f64),
                aht_seconds: (sc.handled > 0).then(|| secs(handle_ns) / sc.handled as f64),
                talk_seconds: secs(sc.talk_ns),
                wrap_up_seconds: secs(sc.wrap_ns),
                ready_seconds: secs(sc.ready_ns),
                not_ready_seconds: secs(sc.not_ready_ns),
                logged_in_seconds: secs(sc.logged_in_ns),
                days_present: count(&|r| r.first_login.is_some()),
                days_late: count(&|r| r.late),
                days_early: count(&|r| r.early),
                days_absent: count(&|r| r.absent),
                days_on_leave: count(&|r| r.leave),
                alarms_total: by_rule.values().sum(),
                alarms: by_rule,
                monitored: sc.monitored,
                callback_sampled: sc.sampled,
            });
        }
        Ok(out)
    }
}

impl Replay {
    /// The supervision rows of `tenant` passing `filter` (a row passes when its local
    /// week overlaps the time range).
    ///
    /// An agent's week has a row when, in that local ISO week, the agent sent an activity
    /// event (`login`, `ready`, `not_ready`, `offered`, `answered`, `missed`, `ended`,
    /// `wrap_up`, whether or not it arrived in time to count), was logged in for any
    /// time, or has a `monitored` or `callback_sampled` event (counted or late).
    pub(crate) fn supervision(&self, tenant: &str, filter: &Filter) -> Result<Vec<SupervisionRow>, ReportError> {
        let kind = ReportKind::Supervision;
        let people = self.people.as_ref().ok_or(ReportError::NotCollected(kind))?;
        let Some(book) = people.tenant(tenant) else { return Ok(Vec::new()) };
        let weeks = book.weeks.as_ref().ok_or(ReportError::NotCollected(kind))?;
        let s = &book.settings;
        let tz = s.timezone;
        let (min_m, min_c) = (s.rules.min_monitored, s.rules.min_callbacks);
        let wm = weeks.watermark();
        let (days, _) = book.finalized(self.engine.occupancy.now(tenant));
        let mut logged: BTreeMap<(AgentId, Date), i64> = BTreeMap::new();
        for ((agent, date), d) in days {
            // Calendar days: a week's time is the time within it, as the rule's weeks are.
            if d.calendar_ns > 0 {
                let monday = Date::from_naive(week_monday(date.to_naive()));
                let ns = logged.entry((agent, monday)).or_default();
                *ns = ns.saturating_add(d.calendar_ns);
            }
        }
        let mut keys: BTreeSet<(AgentId, Date)> = logged.keys().cloned().collect();
        keys.extend(
            weeks
                .weeks
                .iter()
                .filter(|(_, w)| w.activity || !w.evidence.is_empty() || !w.late.is_empty())
                .map(|(k, _)| k.clone()),
        );
        let q = AlarmQuery { rule: Some(Rule::QaCoverageLow), ..AlarmQuery::default() };
        let alarms: BTreeSet<String> = self.engine.compliance.alarms(tenant, &q).into_iter().map(|a| a.id).collect();
        let empty = QaWeek::default();
        let mut out = Vec::new();
        for (agent, monday) in keys {
            if !filter.agent_ok(agent.as_str()) {
                continue;
            }
            let (start, end) = week_bounds(tz, monday.to_naive());
            if let (Some(a), Some(b)) = (start, end)
                && !filter.overlaps(Ts::from_nanos(a), Ts::from_nanos(b))
            {
                continue;
            }
            let label = iso_week_label(monday.to_naive());
            let closed = end.is_some_and(|e| wm.is_some_and(|w| w > e));
            let key = (agent, monday);
            let w = weeks.weeks.get(&key).unwrap_or(&empty);
            let logged_ns = logged.get(&key).copied().unwrap_or(0);
            let (agent, monday) = key;
            let alarm_id = format!("qa_coverage_low-{agent}-{label}");
            out.push(SupervisionRow {
                tenant: tenant.to_owned(),
                week: label,
                week_start: monday,
                closed,
                worked: w.worked,
                logged_in_seconds: secs(logged_ns),
                monitored: w.monitored,
                callback_sampled: w.sampled,
                min_monitored: min_m,
                min_callbacks: min_c,
                met: closed.then_some(w.monitored >= min_m && w.sampled >= min_c),
                alarm: alarms.contains(&alarm_id).then_some(alarm_id),
                monitored_calls: w.monitored_calls.clone(),
                callback_calls: w.callback_calls.clone(),
                qa_by: w.by.iter().cloned().collect(),
                evidence: w.evidence.clone(),
                late_evidence: w.late.clone(),
                agent,
            });
        }
        Ok(out)
    }
}

/// A row of each report with every field present, for the column headers of an empty
/// report.
pub(crate) fn sample_row(kind: ReportKind) -> String {
    let ts = Ts::from_nanos(0);
    match kind {
        ReportKind::Alarms => {
            let alarm = Alarm {
                id: String::new(),
                rule: Rule::LateLogin,
                agent: None,
                call: None,
                raised_at: ts,
                cleared_at: None,
                message: String::new(),
                evidence: Vec::new(),
                withdrawn: false,
                tenant: Default::default(),
            };
            line(&AlarmRow { tenant: "", alarm: &alarm })
        }
        ReportKind::Intervals => {
            // An empty engine has no rows; build one through the projector itself.
            let mut occ = seatwatch_occupancy::Occupancy::new(Default::default(), BTreeMap::new());
            let env = seatwatch_model::Envelope {
                seq: 1,
                tenant: "t".into(),
                source: Default::default(),
                received: ts,
                event: seatwatch_model::Event {
                    id: String::new().into(),
                    ts,
                    agent: None,
                    kind: seatwatch_model::EventKind::Queued {
                        call: "c".into(),
                        queue: "q".into(),
                        caller: None,
                        emergency: false,
                        priority: None,
                    },
                    extra: None,
                },
            };
            seatwatch_model::Projector::apply(&mut occ, &env);
            let row = occ.intervals("t", None, None, None).into_iter().next();
            match row {
                Some(r) => line(&IntervalReportRow { tenant: "", row: &r }),
                None => "{}".into(),
            }
        }
        ReportKind::Agents => {
            let span = TimelineEntry {
                agent: AgentId::default(),
                state: AgentState::LoggedOut,
                from: ts,
                to: ts,
                open: false,
            };
            line(&AgentSpanRow { tenant: "", span: &span, seconds: 0.0 })
        }
        ReportKind::Attendance => line(&AttendanceRow {
            tenant: Default::default(),
            agent: AgentId::default(),
            date: Date(1),
            scheduled: false,
            shift_start: None,
            shift_end: None,
            leave: false,
            first_login: None,
            last_logout: None,
            logins: 0,
            logged_in_seconds: 0.0,
            late: false,
            early: false,
            absent: false,
            alarms: Vec::new(),
            evidence: Vec::new(),
        }),
        ReportKind::Scorecard => line(&ScorecardRow {
            tenant: Default::default(),
            agent: AgentId::default(),
            month: String::new(),
            handled: 0,
            rings_known: 0,
            answered_within_rings: 0,
            answered_within_rings_share: None,
            aht_seconds: None,
            talk_seconds: 0.0,
            wrap_up_seconds: 0.0,
            ready_seconds: 0.0,
            not_ready_seconds: 0.0,
            logged_in_seconds: 0.0,
            days_present: 0,
            days_late: 0,
            days_early: 0,
            days_absent: 0,
            days_on_leave: 0,
            alarms_total: 0,
            alarms: Rule::ALL.iter().map(|r| (*r, 0)).collect(),
            monitored: 0,
            callback_sampled: 0,
        }),
        ReportKind::Supervision => line(&SupervisionRow {
            tenant: Default::default(),
            agent: AgentId::default(),
            week: String::new(),
            week_start: Date(1),
            closed: false,
            worked: false,
            logged_in_seconds: 0.0,
            monitored: 0,
            callback_sampled: 0,
            min_monitored: 0,
            min_callbacks: 0,
            met: None,
            alarm: None,
            monitored_calls: Vec::new(),
            callback_calls: Vec::new(),
            qa_by: Vec::new(),
            evidence: Vec::new(),
            late_evidence: Vec::new(),
        }),
    }
}
