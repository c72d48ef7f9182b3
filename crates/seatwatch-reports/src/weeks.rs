//! The weekly QA book behind the supervision report (seed art. 28, 31): per agent and
//! local ISO week (Monday to Sunday in the tenant's time zone), the `monitored` and
//! `callback_sampled` events and whether the agent worked, counted exactly as the
//! compliance projection's `qa_coverage_low` rule counts them:
//!
//! * an event belongs to the week of the local date of its own `ts` (not the effective
//!   time), as the rule books it;
//! * every `monitored` / `callback_sampled` event counts once, so the same call monitored
//!   twice counts twice (a duplicate event id never reaches the log: ingest drops it);
//! * the agent *worked* in a week when it sent a `login`, `ready`, `not_ready`, `offered`,
//!   `answered`, `missed`, `ended` or `wrap_up` event dated in it: the events after which
//!   the rule checks the agent's week;
//! * a week closes when the tenant's watermark (the model's [`Clock`] with the tenant's
//!   `allowed_lateness`, as compliance keeps it) passes local midnight of the Monday after;
//!   the rule then checks it, and an event for a closed week arriving later is not counted
//!   (here it is kept apart as *late*).
//!
//! Pure: no clock, no I/O; the watermark is folded from the records like compliance's.

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use seatwatch_model::{AgentId, CallId, Clock, Date, Envelope, EventKind, NANOS_PER_SEC, Ts};
use std::collections::{BTreeMap, BTreeSet};

/// One agent's local ISO week.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct QaWeek {
    /// Any activity event (of those that mark a week worked) dated in the week, counted
    /// or not.
    pub activity: bool,
    /// An activity event arrived while the week was open: the rule checks this week.
    pub worked: bool,
    /// The first such event.
    pub worked_seq: Option<u64>,
    /// `monitored` events counted by the rule.
    pub monitored: u32,
    /// `callback_sampled` events counted by the rule.
    pub sampled: u32,
    /// The calls of the counted `monitored` events that name one, in log order.
    pub monitored_calls: Vec<CallId>,
    /// The calls of the counted `callback_sampled` events that name one, in log order.
    pub callback_calls: Vec<CallId>,
    /// Who did the counted QA (`by`).
    pub by: BTreeSet<String>,
    /// The seqs of the counted events, ascending.
    pub evidence: Vec<u64>,
    /// The seqs of QA events for the week that arrived after it closed (not counted).
    pub late: Vec<u64>,
}

/// Every agent's weeks of one tenant, keyed by agent and the week's Monday.
#[derive(Clone, Debug)]
pub(crate) struct WeekBook {
    /// The tenant's watermark, folded as the compliance projection folds it.
    clock: Clock,
    pub weeks: BTreeMap<(AgentId, Date), QaWeek>,
    /// The UTC second and local date of the last event time looked up.
    memo_day: Option<(i64, NaiveDate)>,
    /// A local date, its week's Monday and the week's end.
    memo_week: Option<(NaiveDate, NaiveDate, Option<i64>)>,
}

pub(crate) use seatwatch_compliance::{iso_week_label, week_monday};

/// The first instant of the week starting on `monday` and of the week after it.
pub(crate) fn week_bounds(tz: Tz, monday: NaiveDate) -> (Option<i64>, Option<i64>) {
    // Local midnights exactly as the compliance projection computes them.
    let midnight = seatwatch_compliance::local_midnight;
    (midnight(tz, monday), monday.checked_add_signed(Duration::days(7)).and_then(|n| midnight(tz, n)))
}

impl WeekBook {
    pub fn new(allowed_lateness_nanos: i64) -> Self {
        WeekBook { clock: Clock::new(allowed_lateness_nanos), weeks: BTreeMap::new(), memo_day: None, memo_week: None }
    }

    /// The tenant's watermark after the records folded so far.
    pub fn watermark(&self) -> Option<i64> {
        self.clock.watermark().map(|t| t.nanos)
    }

    /// The Monday and end of the week holding the instant `raw`.
    fn week_of(&mut self, tz: Tz, raw: i64) -> (NaiveDate, Option<i64>) {
        let sec = raw.div_euclid(NANOS_PER_SEC);
        let day = match self.memo_day {
            Some((s, d)) if s == sec => d,
            _ => {
                let d = Ts::from_nanos(raw).to_utc().with_timezone(&tz).date_naive();
                self.memo_day = Some((sec, d));
                d
            }
        };
        if let Some((d, monday, end)) = self.memo_week
            && d == day
        {
            return (monday, end);
        }
        let monday = week_monday(day);
        let end = week_bounds(tz, monday).1;
        self.memo_week = Some((day, monday, end));
        (monday, end)
    }

    /// Fold one record of the tenant (every record: heartbeats move the watermark).
    pub fn apply(&mut self, tz: Tz, env: &Envelope) {
        let wm = self.clock.observe(env).map(|t| t.nanos);
        let ev = &env.event;
        let Some(agent) = ev.agent.as_ref().filter(|_| ev.kind.has_agent()) else { return };
        let activity = seatwatch_compliance::marks_week_worked(&ev.kind);
        let qa = matches!(ev.kind, EventKind::Monitored { .. } | EventKind::CallbackSampled { .. });
        if !activity && !qa {
            return;
        }
        let (monday, end) = self.week_of(tz, ev.ts.nanos);
        // As the rule: a week whose end is out of range, or that the watermark has passed,
        // takes nothing more.
        let open = end.is_some_and(|end| wm.is_none_or(|w| w <= end));
        let w = self.weeks.entry((agent.clone(), Date::from_naive(monday))).or_default();
        match &ev.kind {
            EventKind::Monitored { call, by } | EventKind::CallbackSampled { call, by } => {
                if !open {
                    w.late.push(env.seq);
                    return;
                }
                if matches!(ev.kind, EventKind::Monitored { .. }) {
                    w.monitored = w.monitored.saturating_add(1);
                    w.monitored_calls.extend(call.iter().cloned());
                } else {
                    w.sampled = w.sampled.saturating_add(1);
                    w.callback_calls.extend(call.iter().cloned());
                }
                if !w.by.contains(by) {
                    w.by.insert(by.clone());
                }
                w.evidence.push(env.seq);
            }
            _ => {
                w.activity = true;
                if open && !w.worked {
                    w.worked = true;
                    w.worked_seq = Some(env.seq);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatwatch_model::Event;

    fn env(seq: u64, at: &str, agent: Option<&str>, kind: EventKind) -> Envelope {
        let ts = Ts::parse_rfc3339(at).unwrap();
        Envelope {
            seq,
            tenant: "acme".into(),
            source: "acd".into(),
            received: ts,
            event: Event { id: format!("e{seq}").into(), ts, agent: agent.map(AgentId::from), kind, extra: None },
        }
    }

    fn mon(call: Option<&str>, by: &str) -> EventKind {
        EventKind::Monitored { call: call.map(CallId::from), by: by.into() }
    }

    fn cb(call: Option<&str>, by: &str) -> EventKind {
        EventKind::CallbackSampled { call: call.map(CallId::from), by: by.into() }
    }

    #[test]
    fn labels_and_bounds_are_local_iso_weeks() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(); // a Sunday
        assert_eq!(week_monday(d), NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(iso_week_label(d), "2026-W10");
        // ISO years: 2027-01-01 is a Friday of 2026-W53.
        let ny = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        assert_eq!(iso_week_label(ny), "2026-W53");
        assert_eq!(week_monday(ny), NaiveDate::from_ymd_opt(2026, 12, 28).unwrap());
        let sh: Tz = chrono_tz::Asia::Shanghai;
        let (a, b) = week_bounds(sh, NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(Ts::from_nanos(a.unwrap()).to_rfc3339(), "2026-03-01T16:00:00Z");
        assert_eq!(Ts::from_nanos(b.unwrap()).to_rfc3339(), "2026-03-08T16:00:00Z");
        // Berlin's week holding the change to summer time is an hour short.
        let be: Tz = chrono_tz::Europe::Berlin;
        let (a, b) = week_bounds(be, NaiveDate::from_ymd_opt(2026, 3, 23).unwrap());
        assert_eq!((b.unwrap() - a.unwrap()) / NANOS_PER_SEC, 7 * 86_400 - 3_600);
        // Santiago skips local midnight on 2026-09-06: that day starts at 01:00 (-03).
        let cl: Tz = chrono_tz::America::Santiago;
        let m = seatwatch_compliance::local_midnight(cl, NaiveDate::from_ymd_opt(2026, 9, 6).unwrap()).unwrap();
        assert_eq!(Ts::from_nanos(m).to_rfc3339(), "2026-09-06T04:00:00Z");
    }

    #[test]
    fn counts_calls_qa_staff_and_evidence_per_local_week() {
        let tz: Tz = chrono_tz::Asia::Shanghai;
        let mut b = WeekBook::new(5 * NANOS_PER_SEC);
        let a = Some("a1");
        b.apply(tz, &env(1, "2026-03-02T08:00:00+08:00", a, EventKind::Login { station: "s1".into() }));
        b.apply(tz, &env(2, "2026-03-02T09:00:00+08:00", a, mon(Some("c1"), "qa-1")));
        b.apply(tz, &env(3, "2026-03-03T09:00:00+08:00", a, mon(Some("c1"), "qa-2"))); // same call again
        b.apply(tz, &env(4, "2026-03-04T09:00:00+08:00", a, cb(None, "qa-1")));
        // Sunday 23:59 local is still week 10; Monday 00:00 local (Sunday 16:00 UTC) is week 11.
        b.apply(tz, &env(5, "2026-03-08T23:59:00+08:00", a, cb(Some("c9"), "qa-3")));
        b.apply(tz, &env(6, "2026-03-09T00:00:00+08:00", a, mon(None, "qa-1")));
        b.apply(tz, &env(7, "2026-03-09T00:00:01+08:00", Some("a2"), EventKind::Logout));
        let w10 = &b.weeks[&(AgentId::from("a1"), Date::parse("2026-03-02").unwrap())];
        assert!(w10.worked && w10.activity);
        assert_eq!(w10.worked_seq, Some(1));
        assert_eq!((w10.monitored, w10.sampled), (2, 2), "the same call monitored twice counts twice");
        assert_eq!(w10.monitored_calls, vec![CallId::from("c1"), CallId::from("c1")]);
        assert_eq!(w10.callback_calls, vec![CallId::from("c9")]);
        assert_eq!(w10.by.iter().map(String::as_str).collect::<Vec<_>>(), ["qa-1", "qa-2", "qa-3"]);
        assert_eq!(w10.evidence, [2, 3, 4, 5]);
        let w11 = &b.weeks[&(AgentId::from("a1"), Date::parse("2026-03-09").unwrap())];
        assert!(!w11.worked && !w11.activity);
        assert_eq!((w11.monitored, w11.sampled, w11.evidence.clone()), (1, 0, vec![6]));
        assert_eq!(b.weeks.len(), 2, "a logout does not make a week worked (as the rule)");
    }

    #[test]
    fn events_for_a_closed_week_are_late_and_not_counted() {
        let tz: Tz = chrono_tz::Asia::Shanghai;
        let mut b = WeekBook::new(5 * NANOS_PER_SEC);
        let a = Some("a1");
        b.apply(tz, &env(1, "2026-03-06T08:00:00+08:00", a, EventKind::Ready));
        // Within the allowed lateness of the week's end: the watermark is 5 s behind.
        b.apply(tz, &env(2, "2026-03-09T00:00:04+08:00", Some("a2"), EventKind::Ready));
        b.apply(tz, &env(3, "2026-03-08T23:00:00+08:00", a, mon(Some("c1"), "qa")));
        // A heartbeat moves the watermark fully: the week closes strictly after its end.
        b.apply(tz, &env(4, "2026-03-09T00:00:00+08:00", None, EventKind::Heartbeat));
        b.apply(tz, &env(5, "2026-03-08T23:30:00+08:00", a, cb(Some("c2"), "qa")));
        b.apply(tz, &env(6, "2026-03-09T00:00:01+08:00", None, EventKind::Heartbeat));
        b.apply(tz, &env(7, "2026-03-08T23:40:00+08:00", a, cb(Some("c3"), "qa")));
        b.apply(tz, &env(8, "2026-03-08T23:50:00+08:00", Some("a3"), EventKind::Login { station: "s".into() }));
        let w = &b.weeks[&(AgentId::from("a1"), Date::parse("2026-03-02").unwrap())];
        assert_eq!((w.monitored, w.sampled), (1, 1));
        assert_eq!(w.evidence, [3, 5]);
        assert_eq!(w.late, [7]);
        assert_eq!(w.callback_calls, vec![CallId::from("c2")]);
        let late = &b.weeks[&(AgentId::from("a3"), Date::parse("2026-03-02").unwrap())];
        assert!(late.activity && !late.worked, "a login for a closed week is not a worked week");
        assert_eq!(b.watermark(), Ts::parse_rfc3339("2026-03-09T00:00:01+08:00").map(|t| t.nanos));
    }
}
