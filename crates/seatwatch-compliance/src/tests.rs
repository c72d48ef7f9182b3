//! Unit tests of every rule: boundaries, suppressions, clearing, time zones.

use super::*;
use seatwatch_model::{AgentId, CallId, Date, Dur, Event, EventKind, ShiftHours, TimeOfDay};

/// A tenant's log under construction, folded as it grows.
struct Log {
    seq: u64,
    c: Compliance,
    offset: &'static str,
}

fn ts(s: &str, offset: &str) -> Ts {
    let full = if s.ends_with('Z') || s[10..].contains('+') { s.to_owned() } else { format!("{s}{offset}") };
    Ts::parse_rfc3339(&full).unwrap_or_else(|| panic!("bad ts {full}"))
}

impl Log {
    fn new() -> Self {
        Log::with(TenantSettings::default(), "+08:00")
    }

    fn with(s: TenantSettings, offset: &'static str) -> Self {
        Log { seq: 0, c: Compliance::new(s, BTreeMap::new()), offset }
    }

    fn rules(f: impl FnOnce(&mut Rules)) -> Self {
        let mut s = TenantSettings::default();
        f(&mut s.rules);
        Log::with(s, "+08:00")
    }

    /// Append an event at local time `at` ("2026-03-02T08:41:00"); returns its seq.
    fn ev(&mut self, at: &str, agent: Option<&str>, kind: EventKind) -> u64 {
        self.seq += 1;
        let t = ts(at, self.offset);
        let env = Envelope {
            seq: self.seq,
            tenant: "acme".into(),
            source: "test".into(),
            received: t,
            event: Event {
                id: format!("e{}", self.seq).into(),
                ts: t,
                agent: agent.map(AgentId::from),
                kind,
                extra: None,
            },
        };
        self.c.apply(&env);
        self.seq
    }

    fn login(&mut self, at: &str, a: &str, station: &str) -> u64 {
        self.ev(at, Some(a), EventKind::Login { station: station.into() })
    }
    fn logout(&mut self, at: &str, a: &str) -> u64 {
        self.ev(at, Some(a), EventKind::Logout)
    }
    fn ready(&mut self, at: &str, a: &str) -> u64 {
        self.ev(at, Some(a), EventKind::Ready)
    }
    fn not_ready(&mut self, at: &str, a: &str) -> u64 {
        self.ev(at, Some(a), EventKind::NotReady { reason: None })
    }
    fn hb(&mut self, at: &str) -> u64 {
        self.ev(at, None, EventKind::Heartbeat)
    }
    fn offered(&mut self, at: &str, a: &str, call: &str, emergency: bool) -> u64 {
        let kind = EventKind::Offered {
            call: CallId::from(call),
            queue: None,
            caller: None,
            emergency,
            priority: emergency.then(|| "emergency".to_owned()),
        };
        self.ev(at, Some(a), kind)
    }
    fn answered(&mut self, at: &str, a: &str, call: &str, rings: Option<u32>) -> u64 {
        self.ev(at, Some(a), EventKind::Answered { call: CallId::from(call), rings })
    }
    fn ended(&mut self, at: &str, a: &str, call: &str) -> u64 {
        self.ev(at, Some(a), EventKind::Ended { call: CallId::from(call) })
    }
    fn survey(&mut self, at: &str, a: &str, call: &str) -> u64 {
        self.ev(at, Some(a), EventKind::SurveyOffered { call: CallId::from(call) })
    }
    fn roster(&mut self, at: &str, a: &str, certified: bool, active: bool) -> u64 {
        self.ev(at, Some(a), EventKind::Roster { certified, name: None, active })
    }
    fn shift(&mut self, at: &str, a: &str, date: &str, hours: Option<(&str, &str)>) -> u64 {
        let hours = hours.map(|(s, e)| ShiftHours {
            start: TimeOfDay::parse(s).unwrap_or(TimeOfDay(0)),
            end: TimeOfDay::parse(e).unwrap_or(TimeOfDay(0)),
        });
        let date = Date::parse(date).unwrap_or(Date(0));
        self.ev(at, Some(a), EventKind::Shift { date, hours })
    }
    fn leave(&mut self, at: &str, a: &str, from: &str, to: &str) -> u64 {
        let (from, to) = (Date::parse(from).unwrap_or(Date(0)), Date::parse(to).unwrap_or(Date(0)));
        self.ev(at, Some(a), EventKind::LeaveApproved { from, to, by: "sup".into() })
    }

    fn all(&self) -> Vec<Alarm> {
        self.c.alarms("acme", &AlarmQuery::default())
    }

    /// `(rule, agent, raised_at local, cleared_at local)` of every alarm.
    fn summary(&self) -> Vec<(Rule, String, String, Option<String>)> {
        let local =
            |t: Ts| t.to_utc().with_timezone(&self.c.settings("acme").timezone).format("%m-%d %H:%M:%S").to_string();
        self.all()
            .into_iter()
            .map(|a| {
                (
                    a.rule,
                    a.agent.map(|x| x.0.into_string()).unwrap_or_default(),
                    local(a.raised_at),
                    a.cleared_at.map(local),
                )
            })
            .collect()
    }

    /// The summary of one rule's alarms only.
    fn only(&self, rule: Rule) -> Vec<(Rule, String, String, Option<String>)> {
        self.summary().into_iter().filter(|x| x.0 == rule).collect()
    }

    /// The alarms of one rule, whole.
    fn only_alarms(&self, rule: Rule) -> Vec<Alarm> {
        self.all().into_iter().filter(|a| a.rule == rule).collect()
    }

    fn rules_raised(&self) -> Vec<Rule> {
        self.all().into_iter().map(|a| a.rule).collect()
    }
}

fn s(v: &str) -> String {
    v.to_owned()
}

// 2026-03-02 is a Monday.
const MON: &str = "2026-03-02";

fn at(time: &str) -> String {
    format!("{MON}T{time}")
}

// ----- late_login / absent / early_logout ------------------------------------------------

#[test]
fn late_login_boundaries() {
    let mut l = Log::new();
    l.login(&at("08:30:00"), "on_time", "s1");
    l.login(&at("08:30:01"), "late", "s2");
    l.login(&at("09:30:00"), "very_late", "s3");
    assert_eq!(
        l.summary(),
        vec![
            (Rule::LateLogin, s("late"), s("03-02 08:30:01"), None),
            (Rule::LateLogin, s("very_late"), s("03-02 09:30:00"), None),
        ]
    );
    let a = &l.all()[0];
    assert_eq!(a.id, "late_login-2");
    assert_eq!(a.evidence, vec![2]);
    assert!(a.message.contains("first login at 08:30:01 local") && a.message.contains("after 08:30"), "{}", a.message);
    assert!(a.message.contains("seed art. 8"), "{}", a.message);
}

#[test]
fn only_the_first_login_of_the_day_counts() {
    let mut l = Log::new();
    l.login(&at("08:20:00"), "a1", "s1");
    l.logout(&at("17:40:00"), "a1");
    l.login(&at("17:50:00"), "a1", "s1");
    l.logout(&at("18:30:00"), "a1");
    l.login(&at("08:00:00").replace("03-02", "03-03"), "a1", "s1");
    assert!(l.all().is_empty(), "{:?}", l.summary());
}

#[test]
fn login_more_than_an_hour_late_is_absent_not_late() {
    let mut l = Log::new();
    l.login(&at("08:00:00"), "other", "s0"); // keeps time moving, known agents
    l.login(&at("09:30:01"), "a1", "s1");
    let sum = l.summary();
    assert_eq!(sum, vec![(Rule::Absent, s("a1"), s("03-02 09:30:00"), None)]);
    assert_eq!(l.all()[0].id, format!("absent-a1-{MON}"));
}

#[test]
fn no_show_fires_via_watermark_strictly_after_the_hour() {
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    // a1 worked on Friday: a known agent.
    let known = l.login("2026-02-27T08:00:00", "a1", "s1");
    l.logout("2026-02-27T17:40:00", "a1");
    l.hb(&at("09:30:00"));
    assert!(l.all().is_empty(), "exactly at start + 60 min: nothing yet");
    assert_eq!(l.c.next_deadline("acme"), Some(ts(&at("09:30:00"), "+08:00")));
    let past = l.hb(&at("09:30:01"));
    assert_eq!(l.summary(), vec![(Rule::Absent, s("a1"), s("03-02 09:30:00"), None)]);
    assert_eq!(
        l.all()[0].evidence,
        vec![known, past],
        "the first login that made a1 expected, the heartbeat that showed the hour had passed"
    );
    // The login that follows does not add late_login.
    l.login(&at("09:45:00"), "a1", "s1");
    assert_eq!(l.all().len(), 1);
    assert!(l.all()[0].message.contains("no login by 09:30"), "{}", l.all()[0].message);
}

#[test]
fn a_login_stamped_before_the_absence_deadline_arriving_after_it_withdraws_the_no_show() {
    // The live tester's wall-clock case: the tick passed 09:30 before the producer's
    // login, stamped 09:29:50, arrived. Late, not absent: the no-show is withdrawn.
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    for a in ["late", "on_time"] {
        l.login("2026-02-27T08:00:00", a, a);
        l.logout("2026-02-27T17:40:00", a);
    }
    l.hb(&at("09:30:01"));
    assert_eq!(l.only(Rule::Absent).len(), 2);
    l.c.take_changes();
    let login = l.login(&at("09:29:50"), "late", "late");
    l.login(&at("08:20:00"), "on_time", "on_time");
    assert_eq!(l.summary(), vec![(Rule::LateLogin, s("late"), s("03-02 09:29:50"), None)]);
    let withdrawn = l.c.alarms("acme", &AlarmQuery { withdrawn: true, ..Default::default() });
    let ids: Vec<&str> = withdrawn.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, [format!("absent-late-{MON}"), format!("absent-on_time-{MON}")]);
    let w = &withdrawn[0];
    assert_eq!((w.withdrawn, w.cleared_at), (true, Some(w.raised_at)));
    assert!(w.evidence.contains(&login), "the login that disproved it is evidence: {w:?}");
    // The stream is told: each withdrawal is a clear that says so.
    let cleared: Vec<(String, bool)> =
        l.c.take_changes()
            .into_iter()
            .filter_map(|c| match c {
                AlarmChange::Cleared(a) => Some((a.id, a.withdrawn)),
                AlarmChange::Raised(_) => None,
            })
            .collect();
    assert_eq!(cleared, [(format!("absent-late-{MON}"), true), (format!("absent-on_time-{MON}"), true)]);
    assert_eq!(l.c.active_counts("acme")[&Rule::Absent], 0);
}

#[test]
fn an_event_stamped_before_a_deadline_arriving_after_it_withdraws_the_alarm_and_a_later_one_clears_it() {
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow, Rule::LateLogin]);
    l.login(&at("08:00:00"), "a1", "s1");
    l.login(&at("08:00:00"), "a2", "s2");
    l.not_ready(&at("10:00:00"), "a1");
    l.not_ready(&at("10:00:00"), "a2");
    l.hb(&at("10:15:01"));
    assert_eq!(l.only(Rule::NotReadyOverlong).len(), 2);
    l.ready(&at("10:14:59"), "a1"); // late news: a1 was back in time
    l.ready(&at("10:16:00"), "a2"); // a2 was not
    assert_eq!(
        l.summary(),
        vec![(Rule::NotReadyOverlong, s("a2"), s("03-02 10:15:00"), Some(s("03-02 10:16:00")))],
        "only the true alarm is listed"
    );
    let w = l.c.alarms("acme", &AlarmQuery { withdrawn: true, ..Default::default() });
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].agent.as_ref().map(|a| a.as_str()), w[0].withdrawn), (Some("a1"), true));
}

#[test]
fn an_event_stamped_exactly_at_the_deadline_arriving_after_it_withdraws_the_alarm() {
    // The ordering tester's case: ACDs that stamp whole seconds tie with deadlines. An
    // event exactly at a deadline is in time (15 minutes of not-ready are allowed, 120 s
    // of wrap-up are fine, a login exactly an hour late is late, not absent), so the
    // alarm a heartbeat raised before it arrived was false: withdrawn, not "cleared".
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow, Rule::SurveyNotOffered]);
    l.login("2026-02-27T08:00:00", "n", "sn");
    l.logout("2026-02-27T17:40:00", "n");
    l.login(&at("08:00:00"), "a1", "s1");
    l.login(&at("08:00:00"), "a2", "s2");
    l.not_ready(&at("10:00:00"), "a1");
    l.offered(&at("10:30:00"), "a2", "c1", false);
    l.answered(&at("10:30:05"), "a2", "c1", None);
    l.ended(&at("10:40:00"), "a2", "c1");
    l.hb(&at("10:42:00.001"));
    assert_eq!(l.rules_raised(), vec![Rule::Absent, Rule::NotReadyOverlong, Rule::WrapUpOverlong]);
    l.ready(&at("10:15:00"), "a1");
    l.ready(&at("10:42:00"), "a2");
    l.login(&at("09:30:00"), "n", "sn");
    assert_eq!(l.summary(), vec![(Rule::LateLogin, s("n"), s("03-02 09:30:00"), None)], "only the true alarm");
    let w = l.c.alarms("acme", &AlarmQuery { withdrawn: true, ..Default::default() });
    let rules: Vec<Rule> = w.iter().map(|a| a.rule).collect();
    assert_eq!(rules, [Rule::Absent, Rule::NotReadyOverlong, Rule::WrapUpOverlong]);
    assert!(w.iter().all(|a| a.cleared_at == Some(a.raised_at)), "{w:?}");
    // One millisecond later is not in time: raised and cleared, and listed.
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    l.login(&at("08:00:00"), "a1", "s1");
    l.not_ready(&at("10:00:00"), "a1");
    l.hb(&at("10:15:01"));
    l.ready(&at("10:15:00.001"), "a1");
    assert_eq!(l.summary(), vec![(Rule::NotReadyOverlong, s("a1"), s("03-02 10:15:00"), Some(s("03-02 10:15:00")))]);
    assert!(!l.all()[0].withdrawn);
    // An alarm raised at an event's own time is not withdrawn by another event at that
    // same moment: a logout and a login in one millisecond was an early logout, cleared.
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    l.login(&at("08:00:00"), "a1", "s1");
    l.logout(&at("17:34:59.999"), "a1");
    l.login(&at("17:34:59.999"), "a1", "s1");
    assert_eq!(l.summary(), vec![(Rule::EarlyLogout, s("a1"), s("03-02 17:34:59"), Some(s("03-02 17:34:59")))]);
    assert!(!l.all()[0].withdrawn);
}

#[test]
fn a_late_shift_stamped_before_the_no_show_judges_the_day_again() {
    // The ordering tester's case: the default schedule's no-show was raised at 09:30,
    // then WFM's shift for that day arrived, stamped 08:00: start 10:00. Under the new
    // schedule nobody was absent at 09:30: withdrawn; the day is judged by the new start.
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    for a in ["late", "gone", "off", "kept", "came"] {
        l.login("2026-02-27T08:00:00", a, a);
        l.logout("2026-02-27T17:40:00", a);
    }
    l.login(&at("09:00:00"), "came", "came"); // late under 08:30, absent raised never
    l.hb(&at("09:30:01"));
    assert_eq!(l.only(Rule::Absent).len(), 4);
    for a in ["late", "gone", "came"] {
        l.shift(&at("08:00:00"), a, MON, Some(("10:00", "19:00")));
    }
    l.shift(&at("08:00:00"), "off", MON, None);
    // Stamped after the no-show: the day's schedule changed too late to matter.
    l.shift(&at("09:31:00"), "kept", MON, Some(("10:00", "19:00")));
    l.login(&at("10:05:00"), "late", "late"); // 5 minutes after the new start
    l.hb(&at("11:00:00.001")); // "gone" still has not come: absent under the new start
    let absent = l.only(Rule::Absent);
    assert_eq!(
        absent,
        vec![
            (Rule::Absent, s("kept"), s("03-02 09:30:00"), None),
            (Rule::Absent, s("gone"), s("03-02 11:00:00"), None),
        ]
    );
    let gone = l.all().into_iter().find(|a| a.agent.as_ref().is_some_and(|x| x.as_str() == "gone"));
    let gone = gone.unwrap_or_else(|| panic!("no alarm for gone"));
    assert_eq!(gone.id, format!("absent-gone-{MON}"), "the withdrawn no-show's id, raised again");
    assert!(gone.message.contains("shift start 10:00"), "{}", gone.message);
    // "came" logged in at 09:00, late under 08:30, before the shift (stamped 08:00) that
    // put the start at 10:00 arrived: not late after all.
    assert_eq!(l.only(Rule::LateLogin), vec![(Rule::LateLogin, s("late"), s("03-02 10:05:00"), None)]);
    let w: Vec<String> =
        l.c.alarms("acme", &AlarmQuery { withdrawn: true, ..Default::default() }).into_iter().map(|a| a.id).collect();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w.contains(&format!("absent-late-{MON}")) && w.contains(&format!("absent-off-{MON}")), "{w:?}");
    assert!(w.iter().any(|id| id.starts_with("late_login-")), "{w:?}");
    assert_eq!(l.c.active_counts("acme")[&Rule::Absent], 2);
}

#[test]
fn an_agent_put_on_the_roster_exactly_at_the_no_show_deadline_is_checked_that_day() {
    // Absence is "more than an hour late": at 09:30:00.000 it is not yet certain, so an
    // agent who becomes known at that instant is checked that day, like one known a
    // millisecond earlier; one known a millisecond later is not (its deadline passed
    // before the tenant expected the agent).
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    l.roster(&at("09:29:59.999"), "before", true, true);
    l.roster(&at("09:30:00"), "exact", true, true);
    l.roster(&at("09:30:00.001"), "after", true, true);
    l.hb(&at("09:31:00"));
    let mut absent: Vec<(String, String)> = l.only(Rule::Absent).into_iter().map(|x| (x.1, x.2)).collect();
    absent.sort();
    assert_eq!(absent, vec![(s("before"), s("03-02 09:30:00")), (s("exact"), s("03-02 09:30:00"))]);
    l.hb("2026-03-03T09:31:00");
    assert!(l.all().iter().any(|a| a.id == "absent-after-2026-03-03"), "checked from the next day on");
}

#[test]
fn a_shift_that_makes_a_day_a_working_day_checks_its_no_show_only_from_its_own_stamp() {
    // The schedules tester's F5: a deadline that passed before the schedule existed is
    // not checked. Monday was approved leave (or a day off); WFM reinstates it with the
    // default hours (08:30, no-show deadline 09:30).
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    for a in ["late", "early", "off", "moved"] {
        l.login("2026-02-27T08:00:00", a, a);
        l.logout("2026-02-27T17:40:00", a);
    }
    l.leave("2026-02-27T12:00:00", "late", MON, MON);
    l.leave("2026-02-27T12:00:00", "early", MON, MON);
    l.shift("2026-02-27T12:00:00", "off", MON, None);
    // Reinstated at 09:00, before it: checked as any working day.
    l.shift(&at("09:00:00"), "early", MON, Some(("08:30", "17:35")));
    // A working day whose hours only move keeps its check (the agent was expected).
    l.shift(&at("09:00:00"), "moved", MON, Some(("08:00", "17:00")));
    // Reinstated at 10:00, after the deadline: not checked that day.
    l.shift(&at("10:00:00"), "late", MON, Some(("08:30", "17:35")));
    l.shift(&at("10:00:00"), "off", MON, Some(("08:30", "17:35")));
    // A second shift for the reinstated day keeps the first one's "from".
    l.shift(&at("10:30:00"), "late", MON, Some(("08:00", "17:00")));
    l.hb(&at("10:45:00"));
    let mut absent: Vec<(String, String)> = l.only(Rule::Absent).into_iter().map(|x| (x.1, x.2)).collect();
    absent.sort();
    assert_eq!(absent, vec![(s("early"), s("03-02 09:30:00")), (s("moved"), s("03-02 09:00:00"))]);
    // The next working day is checked as usual.
    l.hb("2026-03-03T09:30:01");
    for a in ["late", "off"] {
        assert!(l.all().iter().any(|x| x.id == format!("absent-{a}-2026-03-03")), "{a}");
    }
}

#[test]
fn a_login_before_a_late_shift_that_moves_the_start_earlier_is_judged_by_it() {
    // The schedules tester's F6: the day's first login is kept, so a `shift` stamped
    // before it (in force when the agent came) but folded after it judges it again.
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    for a in ["early", "after", "way", "noshow"] {
        l.login("2026-02-27T08:00:00", a, a);
        l.logout("2026-02-27T17:40:00", a);
    }
    l.login(&at("08:20:00"), "early", "early");
    l.login(&at("08:20:00"), "after", "after");
    l.login(&at("08:20:00"), "way", "way");
    // Stamped 08:00, before the 08:20 login: 20 minutes late by the new start.
    l.shift(&at("08:00:00"), "early", MON, Some(("08:00", "17:00")));
    // Stamped after the login: it was judged by the schedule in force then.
    l.shift(&at("08:25:00"), "after", MON, Some(("08:00", "17:00")));
    // 80 minutes late by a 07:00 start: absence, at start + 60 min.
    l.shift(&at("06:00:00"), "way", MON, Some(("07:00", "17:00")));
    // The no-show of 09:30 stands against the login at 09:45; then a shift stamped 09:00
    // moving the start to 09:00 withdraws it, and the login is 45 minutes late.
    l.hb(&at("09:30:01"));
    assert!(l.only(Rule::Absent).contains(&(Rule::Absent, s("noshow"), s("03-02 09:30:00"), None)));
    l.login(&at("09:45:00"), "noshow", "noshow");
    assert!(l.only(Rule::LateLogin).iter().all(|x| x.1 != "noshow"));
    l.shift(&at("09:00:00"), "noshow", MON, Some(("09:00", "18:00")));
    l.hb(&at("12:00:00"));
    let mut late: Vec<(String, String)> = l.only(Rule::LateLogin).into_iter().map(|x| (x.1, x.2)).collect();
    late.sort();
    assert_eq!(late, vec![(s("early"), s("03-02 08:20:00")), (s("noshow"), s("03-02 09:45:00"))]);
    let early = l
        .all()
        .into_iter()
        .find(|x| x.rule == Rule::LateLogin && x.agent.as_ref().is_some_and(|a| a.as_str() == "early"));
    let early = early.unwrap_or_else(|| panic!("no late_login for early"));
    assert!(early.message.contains("after 08:00 (20 min late"), "{}", early.message);
    assert_eq!(early.evidence.len(), 2, "the login and the shift: {:?}", early.evidence);
    assert_eq!(l.only(Rule::Absent), vec![(Rule::Absent, s("way"), s("03-02 08:00:00"), None)]);
    let w: Vec<String> =
        l.c.alarms("acme", &AlarmQuery { withdrawn: true, ..Default::default() }).into_iter().map(|a| a.id).collect();
    assert_eq!(w, vec![format!("absent-noshow-{MON}")]);
}

#[test]
fn a_no_show_stands_against_a_later_login_whatever_a_later_shift_says() {
    // The schedule tester's cases. The no-show of 09:30 was raised by the default
    // schedule; then a shift moving the start to 10:00 arrives.
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    for a in ["after", "before"] {
        l.login("2026-02-27T08:00:00", a, a);
        l.logout("2026-02-27T17:40:00", a);
    }
    l.hb(&at("09:30:01"));
    assert_eq!(l.only(Rule::Absent).len(), 2);
    // Stamped 09:45, after the no-show: the absence happened; the login at 10:10 neither
    // clears it nor adds a late_login ("the login that follows does not add one").
    l.shift(&at("09:45:00"), "after", MON, Some(("10:00", "19:00")));
    l.login(&at("10:10:00"), "after", "after");
    // Logged in at 09:45 (after the no-show), then a shift stamped 09:00 arrives: by it
    // the no-show was false (its deadline 11:00 had not passed), whichever came first.
    l.login(&at("09:45:00"), "before", "before");
    l.shift(&at("09:00:00"), "before", MON, Some(("10:00", "19:00")));
    assert_eq!(l.summary(), vec![(Rule::Absent, s("after"), s("03-02 09:30:00"), None)]);
    let w = l.c.alarms("acme", &AlarmQuery { withdrawn: true, ..Default::default() });
    assert_eq!(w.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), [format!("absent-before-{MON}")]);
}

#[test]
fn a_leave_approved_before_an_attendance_alarm_but_arriving_after_it_withdraws_it() {
    // The schedule tester's case: the supervisor's leave (another producer) was stamped
    // 08:00, the agent's late login at 09:00 arrived first. The leave is judged by its own
    // stamp, not by the agent's later effective time: the alarm was false, withdrawn.
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    l.login(&at("09:00:00"), "a1", "s1");
    l.login(&at("09:00:00"), "a2", "s2");
    assert_eq!(l.only(Rule::LateLogin).len(), 2);
    l.leave(&at("08:00:00"), "a1", MON, MON);
    l.leave(&at("09:10:00"), "a2", MON, MON); // approved after the fact: cleared
    assert_eq!(l.summary(), vec![(Rule::LateLogin, s("a2"), s("03-02 09:00:00"), Some(s("03-02 09:10:00")))]);
    let w = l.c.alarms("acme", &AlarmQuery { withdrawn: true, ..Default::default() });
    assert_eq!((w.len(), w[0].cleared_at), (1, Some(w[0].raised_at)), "{w:?}");
}

#[test]
fn a_late_login_that_disproves_a_no_show_reports_the_withdrawal_before_the_late_login() {
    // A stream subscriber must never see the agent absent and late at once.
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    l.login("2026-02-27T08:00:00", "a1", "s1");
    l.logout("2026-02-27T17:40:00", "a1");
    l.hb(&at("09:30:01"));
    l.c.take_changes();
    l.login(&at("09:10:00"), "a1", "s1");
    let order: Vec<(bool, Rule)> =
        l.c.take_changes()
            .into_iter()
            .map(|c| match c {
                AlarmChange::Raised(a) => (true, a.rule),
                AlarmChange::Cleared(a) => (false, a.rule),
            })
            .collect();
    assert_eq!(order, [(false, Rule::Absent), (true, Rule::LateLogin)]);
}

#[test]
fn unknown_agents_are_not_absent_and_weekends_are_free() {
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    l.login("2026-02-27T08:00:00", "a1", "s1"); // Friday
    l.logout("2026-02-27T17:40:00", "a1");
    l.hb("2026-03-01T23:00:00"); // through the weekend
    assert!(l.all().is_empty(), "{:?}", l.summary());
    l.hb(&at("12:00:00"));
    assert_eq!(l.rules_raised(), vec![Rule::Absent], "only a1 is known");
}

#[test]
fn roster_decides_who_is_expected() {
    let mut l = Log::new();
    let listed = l.roster("2026-02-27T18:00:00", "r1", true, true);
    l.roster("2026-02-27T18:00:00", "r2", true, false); // left the roster
    l.login("2026-02-27T18:00:00", "walkin", "s9"); // not on the roster: not expected
    l.logout("2026-02-27T19:00:00", "walkin");
    let past = l.hb(&at("09:31:00"));
    let sum = l.only(Rule::Absent);
    assert!(sum.contains(&(Rule::Absent, s("r1"), s("03-02 09:30:00"), None)), "{sum:?}");
    let r1 = l.all().into_iter().find(|a| a.agent.as_deref() == Some("r1")).unwrap();
    assert_eq!(r1.evidence, vec![listed, past], "the roster entry that made r1 expected, the heartbeat past 09:30");
    assert!(!sum.iter().any(|x| x.0 == Rule::Absent && (x.1 == "r2" || x.1 == "walkin")), "{sum:?}");
}

#[test]
fn early_logout_boundaries_and_clearing() {
    let mut l = Log::new();
    for a in ["a", "b", "c", "d"] {
        l.login(&at("08:20:00"), a, a);
    }
    l.logout(&at("17:35:00"), "a");
    l.logout(&at("17:34:59"), "b");
    l.logout(&at("16:35:00"), "c"); // exactly 60 min early: still early_logout
    l.logout(&at("16:34:59"), "d"); // more than 60 min early: absent
    l.login(&at("17:00:00"), "c", "c");
    l.login(&at("17:35:00"), "d", "d"); // too late to clear
    assert_eq!(
        l.summary(),
        vec![
            (Rule::Absent, s("d"), s("03-02 16:34:59"), None),
            (Rule::EarlyLogout, s("c"), s("03-02 16:35:00"), Some(s("03-02 17:00:00"))),
            (Rule::EarlyLogout, s("b"), s("03-02 17:34:59"), None),
        ]
    );
    let c = &l.all()[1];
    assert_eq!(c.evidence.len(), 2, "logout and the re-login");
}

#[test]
fn early_absent_clears_on_relogin_before_the_end() {
    let mut l = Log::new();
    l.login(&at("08:20:00"), "a", "s");
    l.logout(&at("12:00:00"), "a");
    l.login(&at("13:00:00"), "a", "s");
    l.logout(&at("17:40:00"), "a");
    assert_eq!(l.summary(), vec![(Rule::Absent, s("a"), s("03-02 12:00:00"), Some(s("03-02 13:00:00")))]);
}

#[test]
fn leave_suppresses_attendance_and_clears_after_the_fact() {
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    l.login("2026-02-27T08:00:00", "a", "s");
    l.logout("2026-02-27T17:40:00", "a");
    l.leave("2026-02-27T18:00:00", "a", MON, "2026-03-03");
    l.hb("2026-03-03T12:00:00");
    assert!(l.all().is_empty(), "{:?}", l.summary());
    // Wednesday: late, then leave for Wednesday is entered afterwards.
    l.login("2026-03-04T08:45:00", "a", "s");
    assert_eq!(l.rules_raised(), vec![Rule::LateLogin]);
    l.leave("2026-03-04T09:00:00", "a", "2026-03-04", "2026-03-04");
    assert_eq!(l.summary()[0].3, Some(s("03-04 09:00:00")));
    // A leave-day logout is not early either.
    l.leave("2026-03-04T09:00:00", "b", "2026-03-04", "2026-03-04");
    l.login("2026-03-04T09:10:00", "b", "s2");
    l.logout("2026-03-04T11:00:00", "b");
    assert_eq!(l.all().len(), 1, "{:?}", l.summary());
}

#[test]
fn shift_overrides_off_days_and_later_events_win() {
    let mut l = Log::new();
    l.shift("2026-02-27T12:00:00", "a", MON, Some(("10:00", "19:00")));
    l.shift("2026-02-27T12:00:00", "b", MON, None);
    l.shift("2026-02-27T12:00:00", "c", MON, None);
    l.shift("2026-02-27T12:01:00", "c", MON, Some(("09:00", "18:00"))); // later wins
    l.login(&at("09:50:00"), "a", "s1");
    l.login(&at("11:00:00"), "b", "s2");
    l.login(&at("09:05:00"), "c", "s3");
    l.logout(&at("18:30:00"), "a"); // before 19:00
    l.logout(&at("12:00:00"), "b"); // off: fine
    l.logout(&at("18:00:00"), "c");
    assert_eq!(
        l.summary(),
        vec![
            (Rule::LateLogin, s("c"), s("03-02 09:05:00"), None),
            (Rule::EarlyLogout, s("a"), s("03-02 18:30:00"), None),
        ]
    );
    let late = &l.all()[0];
    assert!(late.message.contains("after 09:00"), "{}", late.message);
    assert_eq!(late.evidence, vec![4, 7], "the shift event and the login");
}

#[test]
fn overnight_shift_ends_next_day() {
    let mut l = Log::new();
    l.shift("2026-02-27T12:00:00", "n", MON, Some(("22:00", "06:00")));
    l.shift("2026-02-27T12:00:00", "n", "2026-03-03", None);
    l.login(&at("22:10:00"), "n", "s1");
    l.logout("2026-03-03T05:50:00", "n");
    l.login("2026-03-03T05:55:00", "n", "s1");
    l.logout("2026-03-03T06:00:00", "n");
    assert_eq!(
        l.summary(),
        vec![
            (Rule::LateLogin, s("n"), s("03-02 22:10:00"), None),
            (Rule::EarlyLogout, s("n"), s("03-03 05:50:00"), Some(s("03-03 05:55:00"))),
        ]
    );
    // The message names the day the logout happened, and the shift's.
    let early = &l.all()[1].message;
    assert!(
        early.starts_with("logged out at 05:50 local on 2026-03-03 (the shift of 2026-03-02), 10 min before"),
        "{early}"
    );
}

#[test]
fn a_night_shifts_logout_next_morning_is_not_leaving_that_days_shift() {
    // The contract tester's case: Monday 22:00–06:00, Tuesday on the default schedule
    // (08:30–17:35, window from 04:30). The logout at Tue 06:10 is after the night shift's
    // end and inside Tuesday's window, but the agent came for Monday night: not an early
    // leave of Tuesday (it was "absent, 11 h 25 min before the shift end 17:35").
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    l.shift("2026-02-27T12:00:00", "n", MON, Some(("22:00", "06:00")));
    l.login(&at("21:55:00"), "n", "s1");
    l.logout("2026-03-03T06:10:00", "n");
    assert!(l.all().is_empty(), "{:?}", l.summary());
    // Tuesday is still a working day the agent did not come to.
    l.hb("2026-03-03T09:30:01");
    assert_eq!(l.summary(), vec![(Rule::Absent, s("n"), s("03-03 09:30:00"), None)]);
    assert_eq!(l.all()[0].id, "absent-n-2026-03-03");
    // Who comes for a shift and leaves before it starts has left it: absence by leaving
    // early (and no no-show: the agent came).
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    l.login(&at("07:00:00"), "e", "s1");
    l.logout(&at("08:00:00"), "e");
    l.hb(&at("09:30:01"));
    let all = l.all();
    assert_eq!(all.len(), 1, "{:?}", l.summary());
    assert_eq!((all[0].rule, all[0].id.starts_with("absent-") && !all[0].id.contains("2026")), (Rule::Absent, true));
    // A logout inside a night shift before its end is early for it, as before.
    let mut l = Log::rules(|r| r.disabled = vec![Rule::QaCoverageLow]);
    l.shift("2026-02-27T12:00:00", "n", MON, Some(("22:00", "06:00")));
    l.login(&at("21:55:00"), "n", "s1");
    l.logout("2026-03-03T05:30:00", "n");
    assert_eq!(l.summary(), vec![(Rule::EarlyLogout, s("n"), s("03-03 05:30:00"), None)]);
}

#[test]
fn overnight_no_show() {
    let mut l = Log::new();
    l.roster("2026-02-27T12:00:00", "n", true, true);
    l.shift("2026-02-27T12:00:00", "n", MON, Some(("22:00", "06:00")));
    l.hb(&at("23:00:00"));
    assert!(l.all().is_empty());
    l.hb(&at("23:00:01"));
    assert_eq!(l.summary(), vec![(Rule::Absent, s("n"), s("03-02 23:00:00"), None)]);
}

#[test]
fn berlin_tenant_uses_local_time_across_dst() {
    let berlin = TenantSettings { timezone: chrono_tz::Europe::Berlin, ..TenantSettings::default() };
    let mut l = Log::with(berlin, "+02:00");
    // 2026-03-30 is the Monday after the spring-forward night (CEST, +02:00).
    l.login("2026-03-30T08:30:00", "a", "s1");
    l.login("2026-03-30T08:31:00", "b", "s2");
    l.logout("2026-03-30T17:34:00", "a");
    assert_eq!(
        l.summary(),
        vec![
            (Rule::LateLogin, s("b"), s("03-30 08:31:00"), None),
            (Rule::EarlyLogout, s("a"), s("03-30 17:34:00"), None),
        ]
    );
    // A shift inside the DST gap (Sunday 2026-03-29 02:30 does not exist) does not panic.
    l.shift("2026-03-30T18:00:00", "c", "2026-10-25", Some(("02:30", "10:00")));
    l.hb("2026-11-01T00:00:00+01:00");
}

// ----- duplicate_login / uncertified_login -----------------------------------------------

#[test]
fn duplicate_login_both_ways_and_clear() {
    let mut l = Log::new();
    l.login(&at("08:00:00"), "a", "s1");
    l.login(&at("08:01:00"), "a", "s1"); // same station again: fine
    l.login(&at("08:02:00"), "a", "s2"); // two stations
    assert_eq!(l.rules_raised(), vec![Rule::DuplicateLogin], "a's own stations: at once");
    l.login(&at("08:03:00"), "b", "s1"); // two agents at s1
    assert_eq!(l.rules_raised(), vec![Rule::DuplicateLogin], "another agent: once the watermark passes the login");
    l.hb(&at("08:03:01"));
    assert_eq!(l.rules_raised(), vec![Rule::DuplicateLogin, Rule::DuplicateLogin]);
    let second = &l.all()[1];
    assert_eq!(second.agent.as_ref().map(|a| a.as_str()), Some("b"));
    assert!(second.message.contains("a already logged in at s1"), "{}", second.message);
    assert_eq!(second.evidence, vec![2, 4], "b's login and a's login at s1");
    l.logout(&at("08:10:00"), "a");
    let dups = l.only(Rule::DuplicateLogin);
    assert_eq!(dups.len(), 2);
    assert!(dups.iter().all(|a| a.3 == Some(s("03-02 08:10:00"))), "{dups:?}");
}

/// The black-box tester's handover: a1 leaves s1 at 17:40:00 and a2 logs in there at
/// 17:40:02, but a1's logout arrives after a2's login (2 s apart, within the lateness).
#[test]
fn reordered_station_handover_is_no_duplicate() {
    let mut l = Log::new();
    l.login(&at("08:20:00"), "a1", "s1");
    l.login(&at("17:40:02"), "a2", "s1");
    l.logout(&at("17:40:00"), "a1");
    l.hb(&at("17:40:03"));
    l.ready(&at("17:50:00"), "a2");
    assert!(l.only(Rule::DuplicateLogin).is_empty(), "{:?}", l.summary());
    // Nothing on the stream either (not raised and cleared).
    let changes = l.c.take_changes();
    assert!(!changes.iter().any(|c| format!("{c:?}").contains("duplicate_login")), "{changes:?}");
    assert!(l.c.next_deadline("acme") > Some(ts(&at("17:40:02"), "+08:00")), "the check is done");
    // A logout exactly at the login's time: the session had ended, no overlap.
    l.login(&at("18:00:00"), "a3", "s1");
    l.logout(&at("17:59:58"), "a2");
    l.logout(&at("18:00:00"), "a3");
    l.login(&at("18:10:00"), "a4", "s2");
    l.login(&at("18:20:00"), "a5", "s2");
    l.logout(&at("18:20:00"), "a4");
    l.hb(&at("18:30:00"));
    assert!(l.only(Rule::DuplicateLogin).is_empty(), "{:?}", l.summary());
}

/// A real overlap is raised at the login's time once the watermark passes it.
#[test]
fn real_station_overlap_is_raised_at_the_login() {
    let mut l = Log::new();
    let first = l.login(&at("08:20:00"), "a1", "s1");
    let second = l.login(&at("09:00:00"), "a2", "s1");
    l.ready(&at("09:00:05"), "a1"); // watermark 09:00:00: not past the login
    assert!(l.only(Rule::DuplicateLogin).is_empty());
    assert_eq!(l.c.next_deadline("acme"), Some(ts(&at("09:00:00"), "+08:00")));
    l.ready(&at("09:00:06"), "a1"); // watermark 09:00:01
    assert_eq!(l.only(Rule::DuplicateLogin), vec![(Rule::DuplicateLogin, s("a2"), s("03-02 09:00:00"), None)]);
    let a = &l.all()[0];
    assert_eq!(a.id, format!("duplicate_login-{second}"));
    assert_eq!(a.evidence, vec![first, second]);
    assert_eq!(
        a.message,
        "a2 logged in at station s1 while a1 already logged in at s1: one agent ID per person and station (seed art. 11)"
    );
    let out = l.logout(&at("09:30:00"), "a1");
    assert_eq!(
        l.only(Rule::DuplicateLogin),
        vec![(Rule::DuplicateLogin, s("a2"), s("03-02 09:00:00"), Some(s("03-02 09:30:00")))]
    );
    assert_eq!(l.all()[0].evidence, vec![first, second, out]);
}

/// The other agent's logout arrives late but is stamped after the login: a real overlap,
/// raised at the login and cleared by that logout when the watermark passes the login.
#[test]
fn late_logout_stamped_after_the_login_raises_and_clears() {
    let mut l = Log::new();
    let first = l.login(&at("08:20:00"), "a1", "s1");
    let second = l.login(&at("17:40:02"), "a2", "s1");
    let out = l.logout(&at("17:40:04"), "a1");
    l.ready(&at("17:40:03"), "a2");
    assert!(l.only(Rule::DuplicateLogin).is_empty(), "not judged yet");
    l.hb(&at("17:40:05"));
    assert_eq!(
        l.only(Rule::DuplicateLogin),
        vec![(Rule::DuplicateLogin, s("a2"), s("03-02 17:40:02"), Some(s("03-02 17:40:04")))]
    );
    let a = &l.all()[0];
    assert_eq!(a.id, format!("duplicate_login-{second}"));
    assert_eq!(a.evidence, vec![first, second, out]);
    let changes = l.c.take_changes();
    let dup: Vec<String> = changes.iter().map(|c| format!("{c:?}")).filter(|c| c.contains("duplicate_login")).collect();
    assert_eq!(dup.len(), 2, "raised, then cleared: {dup:?}");
    // Its own logout ends it the same way: a2 logs in at s2 while a3 is there and leaves
    // before the watermark passes the login.
    l.login(&at("18:00:00"), "a3", "s2");
    l.login(&at("18:10:00"), "a2", "s2");
    l.logout(&at("18:10:01"), "a2");
    l.hb(&at("18:10:02"));
    let dups = l.only(Rule::DuplicateLogin);
    assert_eq!(dups[1], (Rule::DuplicateLogin, s("a2"), s("03-02 18:10:00"), Some(s("03-02 18:10:01"))));
    // a3's later logout changes nothing.
    l.logout(&at("18:20:00"), "a3");
    assert_eq!(l.only(Rule::DuplicateLogin), dups);
}

/// Of several agents at the station, only those still there at the login (in event
/// time) are named; the agent's own other station always counts.
#[test]
fn a_duplicate_names_only_the_sessions_that_overlapped() {
    let mut l = Log::new();
    let a1 = l.login(&at("08:00:00"), "a1", "s1");
    let a3 = l.login(&at("08:01:00"), "a3", "s1");
    let x = l.login(&at("08:02:00"), "a2", "s9");
    let a2 = l.login(&at("09:00:02"), "a2", "s1");
    assert_eq!(l.rules_raised(), vec![Rule::DuplicateLogin], "a3 at s9 and s1's two agents: {:?}", l.summary());
    l.logout(&at("09:00:00"), "a1"); // left before a2 came
    l.hb(&at("09:00:03"));
    let all = l.all();
    let last = all.last().map(|a| (a.message.clone(), a.evidence.clone()));
    assert_eq!(
        last,
        Some((
            s(
                "a2 logged in at station s1 while a3 already logged in at s1 and a2 still logged in at s9: one agent ID per person and station (seed art. 11)"
            ),
            vec![a3, x, a2]
        )),
        "not a1 ({a1})"
    );
}

#[test]
fn uncertified_login_needs_a_roster() {
    let mut l = Log::new();
    l.login(&at("08:00:00"), "x", "s1");
    assert!(l.all().is_empty(), "no roster: off");
    l.roster(&at("08:01:00"), "ok", true, true);
    l.roster(&at("08:01:00"), "trainee", false, true);
    l.roster(&at("08:01:00"), "gone", true, false);
    l.login(&at("08:05:00"), "ok", "s2");
    l.login(&at("08:05:00"), "trainee", "s3");
    l.login(&at("08:05:00"), "gone", "s4");
    l.login(&at("08:05:00"), "stranger", "s5");
    let sum = l.summary();
    let who: Vec<&str> = sum.iter().map(|x| x.1.as_str()).collect();
    assert_eq!(who, vec!["trainee", "gone", "stranger"], "by (raised_at, id)");
    assert!(sum.iter().all(|x| x.0 == Rule::UncertifiedLogin));
    l.roster(&at("09:00:00"), "trainee", true, true);
    l.logout(&at("10:00:00"), "stranger");
    let sum = l.summary();
    assert_eq!(sum[0].3, Some(s("03-02 09:00:00")), "certified now");
    assert_eq!(sum[1].3, None, "gone still logged in");
    assert_eq!(sum[2].3, Some(s("03-02 10:00:00")), "logged out");
}

// ----- not_ready_overlong -----------------------------------------------------------------

#[test]
fn not_ready_boundaries_via_heartbeat() {
    let mut l = Log::new();
    l.not_ready(&at("10:00:00"), "a");
    l.hb(&at("10:15:00"));
    assert!(l.all().is_empty(), "exactly 15 min: nothing");
    l.hb(&at("10:15:01"));
    assert_eq!(l.summary(), vec![(Rule::NotReadyOverlong, s("a"), s("03-02 10:15:00"), None)]);
    l.ready(&at("10:20:00"), "a");
    assert_eq!(l.summary()[0].3, Some(s("03-02 10:20:00")));
    let a = &l.all()[0];
    assert_eq!(a.id, "not_ready_overlong-1");
    assert_eq!(a.evidence, vec![1, 4]);
    assert!(a.message.contains("limit 15 min, seed art. 16"), "{}", a.message);
}

#[test]
fn ready_exactly_at_the_mark_is_fine_one_second_later_is_not() {
    let mut l = Log::new();
    l.not_ready(&at("10:00:00"), "a");
    l.ready(&at("10:15:00"), "a");
    l.not_ready(&at("11:00:00"), "b");
    l.ready(&at("11:15:01"), "b");
    assert_eq!(l.summary(), vec![(Rule::NotReadyOverlong, s("b"), s("03-02 11:15:00"), Some(s("03-02 11:15:01")))]);
}

#[test]
fn out_of_order_agents_within_lateness_do_not_fire() {
    let mut l = Log::new();
    l.not_ready(&at("10:00:00"), "a");
    l.ready(&at("10:15:03"), "b");
    l.ready(&at("10:14:58"), "a");
    l.hb(&at("11:00:00"));
    assert!(l.all().is_empty(), "{:?}", l.summary());
    // ... but a heartbeat past the deadline fires at once.
    l.not_ready(&at("12:00:00"), "a");
    l.hb(&at("12:15:00.001"));
    assert_eq!(l.rules_raised(), vec![Rule::NotReadyOverlong]);
}

#[test]
fn other_agents_events_fire_once_past_lateness() {
    let mut l = Log::new();
    l.not_ready(&at("10:00:00"), "a");
    l.ready(&at("10:15:05"), "b"); // watermark 10:15:00: not past
    assert!(l.all().is_empty());
    l.ready(&at("10:15:06"), "b"); // watermark 10:15:01
    assert_eq!(l.summary(), vec![(Rule::NotReadyOverlong, s("a"), s("03-02 10:15:00"), None)]);
}

#[test]
fn reason_change_does_not_restart_and_busy_alias() {
    let mut l = Log::new();
    l.not_ready(&at("10:00:00"), "a");
    l.ev(&at("10:10:00"), Some("a"), EventKind::NotReady { reason: Some("lunch".into()) });
    l.hb(&at("10:15:01"));
    assert_eq!(l.summary(), vec![(Rule::NotReadyOverlong, s("a"), s("03-02 10:15:00"), None)]);
}

#[test]
fn approval_covers_and_expiring_approval_raises_at_expiry() {
    let mut l = Log::new();
    let until = |t: &str| EventKind::BusyApproved { until: ts(&at(t), "+08:00"), by: "sup1".into() };
    l.ev(&at("09:59:00"), Some("a"), until("10:30:00"));
    l.not_ready(&at("10:00:00"), "a");
    l.hb(&at("10:20:00"));
    assert!(l.all().is_empty(), "approved");
    l.hb(&at("10:30:00"));
    assert!(l.all().is_empty(), "exactly at the expiry");
    l.hb(&at("10:30:01"));
    assert_eq!(l.summary(), vec![(Rule::NotReadyOverlong, s("a"), s("03-02 10:30:00"), None)]);
    assert!(l.all()[0].message.contains("approval (by sup1) expired at 10:30"), "{}", l.all()[0].message);
    // An approval ending before the mark does not help; one ending at the mark neither.
    l.ev(&at("10:59:00"), Some("b"), until("11:10:00"));
    l.not_ready(&at("11:00:00"), "b");
    l.ev(&at("10:59:00"), Some("c"), until("11:15:00"));
    l.not_ready(&at("11:00:00"), "c");
    l.hb(&at("11:15:01"));
    let sum = l.summary();
    assert_eq!(
        sum[1..],
        [
            (Rule::NotReadyOverlong, s("b"), s("03-02 11:15:00"), None),
            (Rule::NotReadyOverlong, s("c"), s("03-02 11:15:00"), None)
        ]
    );
}

#[test]
fn leaving_not_ready_by_a_call_or_logout() {
    let mut l = Log::new();
    l.not_ready(&at("10:00:00"), "a");
    l.offered(&at("10:14:00"), "a", "c1", false);
    l.not_ready(&at("10:00:00"), "b");
    l.logout(&at("10:16:00"), "b");
    l.hb(&at("11:00:00"));
    assert_eq!(
        l.only(Rule::NotReadyOverlong),
        vec![(Rule::NotReadyOverlong, s("b"), s("03-02 10:15:00"), Some(s("03-02 10:16:00")))]
    );
}

// ----- calls ------------------------------------------------------------------------------

#[test]
fn slow_answer_by_ring_time_and_by_reported_rings() {
    let mut l = Log::new();
    l.offered(&at("10:00:00"), "a", "c1", false);
    l.answered(&at("10:00:15"), "a", "c1", None); // 15 s ÷ 5 s: the 3rd ring
    l.offered(&at("10:10:00"), "a", "c2", false);
    l.answered(&at("10:10:15.001"), "a", "c2", None); // the 4th ring
    l.offered(&at("10:20:00"), "a", "c3", false);
    l.answered(&at("10:20:30"), "a", "c3", Some(3)); // the ACD says 3
    l.offered(&at("10:30:00"), "a", "c4", false);
    l.answered(&at("10:30:01"), "a", "c4", Some(4));
    let all = l.all();
    assert_eq!(all.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), vec!["slow_answer-4", "slow_answer-8"]);
    assert_eq!(all[0].call.as_ref().map(|c| c.as_str()), Some("c2"));
    assert_eq!(all[0].evidence, vec![3, 4]);
    assert!(all[0].message.contains("ring 4") && all[0].message.contains("within 3 rings"), "{}", all[0].message);
    assert!(all.iter().all(|a| a.cleared_at.is_none()));
}

#[test]
fn missed_call_only_when_ready() {
    let mut l = Log::new();
    l.ready(&at("10:00:00"), "a");
    l.offered(&at("10:01:00"), "a", "c1", false);
    l.ev(&at("10:01:20"), Some("a"), EventKind::Missed { call: CallId::from("c1") });
    l.not_ready(&at("10:02:00"), "b");
    l.offered(&at("10:03:00"), "b", "c2", false);
    l.ev(&at("10:03:20"), Some("b"), EventKind::Missed { call: CallId::from("c2") });
    l.ev(&at("10:04:00"), Some("c"), EventKind::Missed { call: CallId::from("c9") }); // never offered
    assert_eq!(l.summary(), vec![(Rule::MissedCall, s("a"), s("03-02 10:01:20"), None)]);
    assert_eq!(l.all()[0].evidence, vec![2, 3]);
}

#[test]
fn wrap_up_boundaries_and_clear() {
    let mut l = Log::new();
    l.answered(&at("10:00:00"), "a", "c1", Some(1));
    l.survey(&at("10:04:00"), "a", "c1");
    l.ended(&at("10:05:00"), "a", "c1");
    l.ev(&at("10:05:01"), Some("a"), EventKind::WrapUp { call: Some(CallId::from("c1")) }); // no restart
    l.ready(&at("10:07:00"), "a"); // exactly 120 s
    l.answered(&at("10:10:00"), "b", "c2", Some(1));
    l.survey(&at("10:14:00"), "b", "c2");
    l.ended(&at("10:15:00"), "b", "c2");
    l.hb(&at("10:17:00"));
    assert!(l.all().is_empty());
    l.hb(&at("10:17:01"));
    l.not_ready(&at("10:18:00"), "b");
    assert_eq!(l.summary(), vec![(Rule::WrapUpOverlong, s("b"), s("03-02 10:17:00"), Some(s("03-02 10:18:00")))]);
    assert_eq!(l.all()[0].call.as_ref().map(CallId::as_str), Some("c2"), "the alarm names the call that ended");
    // An explicit `wrap_up` names its call too; one without a call names none.
    l.ev(&at("11:00:00"), Some("a"), EventKind::WrapUp { call: Some(CallId::from("c9")) });
    l.ev(&at("11:00:00"), Some("d"), EventKind::WrapUp { call: None });
    l.hb(&at("11:02:01"));
    let calls: Vec<(String, Option<String>)> = l
        .only_alarms(Rule::WrapUpOverlong)
        .into_iter()
        .map(|a| (a.agent.map(|x| x.0.into_string()).unwrap_or_default(), a.call.map(|c| c.as_str().to_owned())))
        .collect();
    assert_eq!(calls, vec![(s("b"), Some(s("c2"))), (s("a"), Some(s("c9"))), (s("d"), None)]);
}

#[test]
fn survey_not_offered_and_late_survey_clears() {
    let mut l = Log::new();
    l.offered(&at("10:00:00"), "a", "c1", false);
    l.answered(&at("10:00:05"), "a", "c1", None);
    l.ended(&at("10:03:00"), "a", "c1");
    assert_eq!(l.summary(), vec![(Rule::SurveyNotOffered, s("a"), s("03-02 10:03:00"), None)]);
    l.survey(&at("10:03:10"), "a", "c1");
    assert_eq!(l.summary()[0].3, Some(s("03-02 10:03:10")));
    // Transferred away: not checked for the transferring agent; unanswered: not checked.
    l.answered(&at("11:00:00"), "b", "c2", Some(1));
    l.ev(&at("11:01:00"), Some("b"), EventKind::Transferred { call: CallId::from("c2"), to: "d".into() });
    l.ended(&at("11:01:01"), "b", "c2");
    l.offered(&at("11:05:00"), "b", "c3", false);
    l.ended(&at("11:05:10"), "b", "c3");
    assert_eq!(l.only(Rule::SurveyNotOffered).len(), 1, "{:?}", l.summary());
}

#[test]
fn callback_overdue_strict_and_cleared_by_done() {
    let mut l = Log::new();
    let promise =
        |due: &str, call: &str| EventKind::CallbackPromised { call: CallId::from(call), due: ts(&at(due), "+08:00") };
    l.ev(&at("10:00:00"), Some("a"), promise("14:00:00", "c1"));
    l.ev(&at("10:00:00"), Some("a"), promise("14:00:00", "c2"));
    l.ev(&at("13:59:00"), Some("a"), EventKind::CallbackDone { call: CallId::from("c1") });
    l.hb(&at("14:00:00"));
    assert!(l.all().is_empty());
    l.hb(&at("14:00:01"));
    assert_eq!(l.summary(), vec![(Rule::CallbackOverdue, s("a"), s("03-02 14:00:00"), None)]);
    l.ev(&at("14:30:00"), Some("a"), EventKind::CallbackDone { call: CallId::from("c2") });
    assert_eq!(l.summary()[0].3, Some(s("03-02 14:30:00")));
    assert_eq!(l.all()[0].call.as_ref().map(|c| c.as_str()), Some("c2"));
}

#[test]
fn a_callback_promised_for_a_time_already_past_is_overdue_from_the_promise() {
    // Promised at 12:00 for 11:00 the same day (or a week before, a typo): overdue from
    // the promise itself, not raised at a time before anyone had promised anything.
    let mut l = Log::new();
    let promise =
        |due: &str, call: &str| EventKind::CallbackPromised { call: CallId::from(call), due: ts(due, "+08:00") };
    let p = l.ev(&at("12:00:00"), Some("a"), promise("2026-02-23T11:00:00", "c1"));
    assert_eq!(l.summary(), vec![(Rule::CallbackOverdue, s("a"), s("03-02 12:00:00"), None)]);
    let alarm = &l.all()[0];
    assert_eq!((alarm.id.as_str(), alarm.evidence.clone()), (format!("callback_overdue-{p}").as_str(), vec![p]));
    assert!(
        alarm
            .message
            .contains("promised for 2026-02-23 11:00, already past when the promise was recorded at 2026-03-02 12:00"),
        "{}",
        alarm.message
    );
    // Done later: cleared, as any overdue call-back.
    l.ev(&at("12:30:00"), Some("a"), EventKind::CallbackDone { call: CallId::from("c1") });
    assert_eq!(l.summary()[0].3, Some(s("03-02 12:30:00")));
    // A due exactly at the promise is not past: it waits for time to go beyond it.
    let mut l = Log::new();
    l.ev(&at("12:00:00"), Some("a"), promise(&at("12:00:00"), "c2"));
    assert!(l.all().is_empty());
    l.hb(&at("12:00:01"));
    assert_eq!(l.summary(), vec![(Rule::CallbackOverdue, s("a"), s("03-02 12:00:00"), None)]);
}

#[test]
fn emergency_must_be_escalated_within_five_minutes() {
    let mut l = Log::new();
    l.ev(
        &at("09:59:00"),
        None,
        EventKind::Queued {
            call: CallId::from("e1"),
            queue: "q".into(),
            caller: None,
            emergency: true,
            priority: Some("emergency".into()),
        },
    );
    l.offered(&at("10:00:00"), "a", "e1", false);
    l.answered(&at("10:00:05"), "a", "e1", None);
    l.ev(&at("10:05:05"), Some("a"), EventKind::Escalated { call: CallId::from("e1") }); // exactly 5 min
    l.offered(&at("11:00:00"), "b", "e2", true);
    l.answered(&at("11:00:05"), "b", "e2", None);
    l.offered(&at("11:00:00"), "c", "n1", false);
    l.answered(&at("11:00:05"), "c", "n1", None); // not an emergency
    l.hb(&at("11:05:06"));
    assert_eq!(l.summary(), vec![(Rule::EmergencyNotEscalated, s("b"), s("03-02 11:05:05"), None)]);
    l.ev(&at("11:06:00"), Some("b"), EventKind::Escalated { call: CallId::from("e2") });
    assert_eq!(l.summary()[0].3, Some(s("03-02 11:06:00")));
    assert_eq!(l.all()[0].evidence, vec![5, 6, 10], "offered (emergency), answered, escalated");
}

// ----- weekly and monthly -----------------------------------------------------------------

#[test]
fn qa_coverage_checked_when_the_week_closes() {
    let mut l = Log::new();
    let mon = |a: &str| EventKind::Monitored { call: None, by: a.into() };
    let cb = |a: &str| EventKind::CallbackSampled { call: None, by: a.into() };
    l.login(&at("08:00:00"), "good", "s1");
    l.login(&at("08:00:00"), "poor", "s2");
    for d in ["2026-03-03T10:00:00", "2026-03-08T23:59:59"] {
        l.ev(d, Some("good"), mon("qa"));
        l.ev(d, Some("good"), cb("qa"));
    }
    l.ev("2026-03-04T10:00:00", Some("poor"), mon("qa"));
    l.ev("2026-03-04T10:00:00", Some("idle"), mon("qa")); // never worked: not checked
    l.hb("2026-03-09T00:00:00");
    assert!(l.all().is_empty(), "the week closes strictly after Monday 00:00");
    l.hb("2026-03-09T00:00:01");
    assert_eq!(l.summary(), vec![(Rule::QaCoverageLow, s("poor"), s("03-09 00:00:00"), None)]);
    let a = &l.all()[0];
    assert_eq!(a.id, "qa_coverage_low-poor-2026-W10");
    assert!(a.message.contains("1 monitored call and 0 sampled call-backs"), "{}", a.message);
    // A monitored event for the closed week arriving late is not counted twice or raised.
    l.ev("2026-03-08T12:00:00", Some("poor"), mon("qa"));
    l.hb("2026-03-16T00:00:01");
    assert_eq!(l.all().len(), 1);
}

#[test]
fn qa_week_is_local_berlin() {
    let berlin = TenantSettings { timezone: chrono_tz::Europe::Berlin, ..TenantSettings::default() };
    let mut l = Log::with(berlin, "+01:00");
    l.login("2026-03-02T08:00:00", "a", "s1");
    l.hb("2026-03-08T23:30:00Z"); // 2026-03-09 00:30 Berlin
    assert_eq!(l.summary(), vec![(Rule::QaCoverageLow, s("a"), s("03-09 00:00:00"), None)]);
    assert_eq!(l.all()[0].raised_at.to_rfc3339(), "2026-03-08T23:00:00Z");
}

#[test]
fn roster_not_published_by_the_25th_and_cleared() {
    let mut l = Log::new();
    l.hb("2026-03-26T00:00:00");
    assert!(l.all().is_empty(), "never sent a shift: off");
    l.shift("2026-04-01T09:00:00", "a", "2026-04-10", Some(("08:30", "17:35")));
    l.shift("2026-04-20T09:00:00", "a", "2026-05-04", Some(("08:30", "17:35")));
    l.hb("2026-04-25T00:00:00");
    assert!(l.all().is_empty(), "May was published; exactly midnight");
    let past = l.hb("2026-05-25T00:00:01");
    assert_eq!(l.summary(), vec![(Rule::RosterNotPublished, s(""), s("05-25 00:00:00"), None)]);
    let a = &l.all()[0];
    assert_eq!((a.id.as_str(), a.agent.clone()), ("roster_not_published-2026-06", None));
    assert_eq!(a.evidence, vec![past], "the heartbeat that showed the 24th had ended");
    l.shift("2026-05-26T09:00:00", "a", "2026-06-01", Some(("08:30", "17:35")));
    assert_eq!(l.summary()[0].3, Some(s("05-26 09:00:00")));
}

#[test]
fn a_roster_stamped_just_after_the_deadline_is_late_even_when_folded_before_it_fires() {
    // The next month's first shift stamped 5 s after the end of the 24th arrives before
    // anything moves the watermark past the deadline (allowed lateness 5 s): at the
    // deadline no such shift had arrived, so the alarm is raised, and cleared by it
    // (session 12's black-box run found no alarm at all).
    let mut l = Log::new();
    l.shift("2026-03-10T09:00:00", "a", "2026-03-11", Some(("09:00", "18:00")));
    let late = l.shift("2026-03-25T00:00:05", "a", "2026-04-01", Some(("09:00", "18:00")));
    l.hb("2026-03-25T12:00:00");
    assert_eq!(l.summary(), vec![(Rule::RosterNotPublished, s(""), s("03-25 00:00:00"), Some(s("03-25 00:00:05")))]);
    assert_eq!(
        l.all()[0].evidence,
        vec![late, late + 1],
        "the late shift that cleared it, the heartbeat that fired it"
    );
    // Stamped at the deadline itself: in time.
    let mut l = Log::new();
    l.shift("2026-03-10T09:00:00", "a", "2026-03-11", Some(("09:00", "18:00")));
    l.shift("2026-03-25T00:00:00", "a", "2026-04-01", Some(("09:00", "18:00")));
    l.hb("2026-03-25T12:00:00");
    assert!(l.all().is_empty(), "{:?}", l.summary());
}

#[test]
fn roster_check_crosses_the_year() {
    let mut l = Log::new();
    l.shift("2026-12-01T09:00:00", "a", "2026-12-10", Some(("08:30", "17:35")));
    l.hb("2026-12-25T00:00:01");
    assert_eq!(l.all()[0].id, "roster_not_published-2027-01");
}

// ----- machinery ---------------------------------------------------------------------------

#[test]
fn disabled_rules_raise_nothing() {
    let mut l = Log::rules(|r| r.disabled = vec![Rule::LateLogin]);
    l.login(&at("08:45:00"), "a", "s1");
    assert!(l.all().is_empty());
    let mut l = Log::rules(|r| r.not_ready_max = Dur::mins(5));
    l.not_ready(&at("10:00:00"), "a");
    l.hb(&at("10:05:01"));
    assert_eq!(l.rules_raised(), vec![Rule::NotReadyOverlong]);
}

#[test]
fn older_event_of_an_agent_applies_at_its_last_time() {
    let mut l = Log::new();
    l.not_ready(&at("10:00:00"), "a");
    l.hb(&at("10:20:00"));
    l.ready(&at("10:10:00"), "a"); // stamped before the deadline: the alarm was false
    assert!(l.summary().is_empty(), "{:?}", l.summary());
    let w = l.c.alarms("acme", &AlarmQuery { withdrawn: true, ..Default::default() });
    assert_eq!((w.len(), w[0].rule, w[0].cleared_at), (1, Rule::NotReadyOverlong, Some(w[0].raised_at)));
}

#[test]
fn counts_changes_and_queries() {
    let mut l = Log::new();
    l.not_ready(&at("10:00:00"), "a");
    l.login(&at("10:30:00"), "b", "s1"); // late? after 09:30: absent for b
    l.ready(&at("10:40:00"), "a");
    assert_eq!(l.c.raised_counts("acme")[&Rule::NotReadyOverlong], 1);
    assert_eq!(l.c.active_counts("acme")[&Rule::NotReadyOverlong], 0);
    assert_eq!(l.c.active_counts("acme")[&Rule::Absent], 1);
    assert_eq!(l.c.active_counts("nobody").len(), Rule::ALL.len());
    let changes = l.c.take_changes();
    let kinds: Vec<&str> = changes.iter().map(|c| c.type_name()).collect();
    assert_eq!(kinds, vec!["alarm_raised", "alarm_raised", "alarm_cleared"]);
    assert!(l.c.take_changes().is_empty());
    assert_eq!(changes[0].alarm().tenant, "acme");
    let q = AlarmQuery { active_only: true, ..Default::default() };
    assert_eq!(l.c.alarms("acme", &q).len(), 1);
    let q = AlarmQuery { agent: Some("a".into()), ..Default::default() };
    assert_eq!(l.c.alarms("acme", &q).len(), 1);
    let q = AlarmQuery {
        from: Some(ts(&at("10:00:00"), "+08:00")),
        to: Some(ts(&at("10:00:00"), "+08:00")),
        ..Default::default()
    };
    assert!(l.c.alarms("acme", &q).is_empty());
    assert_eq!(l.c.tenants().collect::<Vec<_>>(), vec!["acme"]);
    assert_eq!(l.c.all_alarms().count(), 2);
}

#[test]
fn snapshot_restores_the_same_state() {
    let mut l = Log::new();
    l.roster(&at("07:00:00"), "a", true, true);
    l.shift(&at("07:00:00"), "a", "2026-03-03", Some(("22:00", "06:00")));
    l.login(&at("08:45:00"), "a", "s1");
    l.not_ready(&at("10:00:00"), "a");
    let snap = l.c.snapshot();
    let mut r = Compliance::restore(&snap, TenantSettings::default(), BTreeMap::new()).unwrap();
    assert_eq!(r, l.c);
    l.hb(&at("10:15:01"));
    let env = Envelope {
        seq: l.seq,
        tenant: "acme".into(),
        source: "test".into(),
        received: ts(&at("10:15:01"), "+08:00"),
        event: Event {
            id: "x".into(),
            ts: ts(&at("10:15:01"), "+08:00"),
            agent: None,
            kind: EventKind::Heartbeat,
            extra: None,
        },
    };
    r.apply(&env);
    assert_eq!(r, l.c);
    assert!(matches!(
        Compliance::restore(&[], TenantSettings::default(), BTreeMap::new()),
        Err(SnapshotError::Version(None))
    ));
    assert!(matches!(
        Compliance::restore(&[crate::SNAPSHOT_VERSION, 255, 255], TenantSettings::default(), BTreeMap::new()),
        Err(SnapshotError::Decode(_))
    ));
    // A snapshot of the version before (its months of shifts were a set) is refused.
    assert!(matches!(
        Compliance::restore(&[1, 0, 0], TenantSettings::default(), BTreeMap::new()),
        Err(SnapshotError::Version(Some(1)))
    ));
}

#[test]
fn replayed_records_are_skipped() {
    let mut l = Log::new();
    l.login(&at("08:45:00"), "a", "s1");
    let before = l.c.clone();
    l.seq -= 1;
    l.login(&at("08:46:00"), "b", "s2"); // seq 1 again
    assert_eq!(l.c, before);
}

#[test]
fn login_makes_ready_like_the_occupancy_projection() {
    let mut l = Log::new();
    l.login(&at("08:00:00"), "a", "s1");
    l.offered(&at("09:00:00"), "a", "c1", false);
    l.ev(&at("09:00:30"), Some("a"), EventKind::Missed { call: CallId::from("c1") });
    assert_eq!(l.only(Rule::MissedCall).len(), 1);
}

#[test]
fn not_ready_pressed_while_talking_does_not_start_the_clock() {
    let mut l = Log::new();
    l.login(&at("08:00:00"), "a", "s1");
    l.offered(&at("09:00:00"), "a", "c1", false);
    l.answered(&at("09:00:03"), "a", "c1", None);
    l.not_ready(&at("09:01:00"), "a");
    l.survey(&at("09:29:00"), "a", "c1");
    l.ended(&at("09:30:00"), "a", "c1");
    l.ready(&at("09:31:00"), "a");
    assert!(l.all().is_empty(), "{:?}", l.summary());
}

#[test]
fn a_missed_ring_returns_to_not_ready_and_starts_a_new_period() {
    let mut l = Log::new();
    l.not_ready(&at("10:00:00"), "a");
    l.offered(&at("10:10:00"), "a", "c1", false); // ends the first period
    let missed = l.ev(&at("10:10:20"), Some("a"), EventKind::Missed { call: CallId::from("c1") });
    l.hb(&at("10:25:20"));
    assert!(l.all().is_empty(), "not ready at ring time: no missed_call, and 15 min not yet passed");
    l.hb(&at("10:25:21"));
    assert_eq!(l.summary(), vec![(Rule::NotReadyOverlong, s("a"), s("03-02 10:25:20"), None)]);
    assert_eq!(l.all()[0].id, format!("not_ready_overlong-{missed}"));
}

#[test]
fn a_missed_ring_at_an_agent_never_logged_in_returns_it_to_ready() {
    // As the occupancy projection shows it: the ring logged the agent in, ready. Before,
    // compliance sent it into a not-ready period no one set and raised not_ready_overlong
    // while /v1/agents showed it ready (session 12's black-box run).
    let mut l = Log::new();
    l.offered(&at("10:00:00"), "x1", "c1", false);
    l.ev(&at("10:00:20"), Some("x1"), EventKind::Missed { call: CallId::from("c1") });
    l.hb(&at("11:00:00"));
    assert!(l.all().is_empty(), "{:?}", l.summary());
    // Logged out first: the same.
    l.ev(&at("11:00:00"), Some("x2"), EventKind::Login { station: "s2".into() });
    l.ev(&at("11:05:00"), Some("x2"), EventKind::Logout);
    l.offered(&at("11:10:00"), "x2", "c2", false);
    l.ev(&at("11:10:20"), Some("x2"), EventKind::Missed { call: CallId::from("c2") });
    l.hb(&at("12:00:00"));
    assert!(
        l.all().iter().all(|a| a.rule != Rule::NotReadyOverlong && a.rule != Rule::MissedCall),
        "{:?}",
        l.summary()
    );
}

#[test]
fn transfer_starts_wrap_up_for_the_transferring_agent() {
    let mut l = Log::new();
    l.answered(&at("10:00:00"), "a", "c1", Some(1));
    l.ev(&at("10:01:00"), Some("a"), EventKind::Transferred { call: CallId::from("c1"), to: "b".into() });
    l.hb(&at("10:03:01"));
    assert_eq!(l.summary(), vec![(Rule::WrapUpOverlong, s("a"), s("03-02 10:03:00"), None)]);
}

/// Why a call's bookkeeping is kept for two days after its last event rather than
/// dropped when it ends: a later event with the same call id and agent (a late
/// duplicate, or an ACD reusing the id) still finds the leg, and the leg decides. Within
/// the two days a ring of the answered call is not a missed call and a second `ended` is
/// not a second survey check; after them the id is a new call.
#[test]
fn an_ended_call_is_remembered_for_two_days_after_its_last_event() {
    let mut l = Log::new();
    l.ready(&at("10:00:00"), "a");
    l.offered(&at("10:01:00"), "a", "c1", false);
    l.answered(&at("10:01:03"), "a", "c1", None);
    l.ended(&at("10:05:00"), "a", "c1");
    assert_eq!(l.only(Rule::SurveyNotOffered).len(), 1);
    l.ready(&at("10:06:00"), "a");
    l.ended(&at("10:07:00"), "a", "c1");
    l.offered(&at("11:00:00"), "a", "c1", false);
    l.ev(&at("11:00:20"), Some("a"), EventKind::Missed { call: CallId::from("c1") });
    assert_eq!(l.only(Rule::SurveyNotOffered).len(), 1, "a second `ended` of the same leg is ignored");
    assert!(l.only(Rule::MissedCall).is_empty(), "the leg was answered: {:?}", l.summary());
    // Thursday: more than two days after the leg's last event, it is gone.
    l.hb("2026-03-05T12:00:00");
    l.offered("2026-03-05T12:00:00", "a", "c1", false);
    l.ev("2026-03-05T12:00:20", Some("a"), EventKind::Missed { call: CallId::from("c1") });
    assert_eq!(l.only(Rule::MissedCall), vec![(Rule::MissedCall, s("a"), s("03-05 12:00:20"), None)]);
}
