//! Unit tests: each edge case of docs/metrics-definitions.md, interval splitting, the
//! service-level variants, the clock, snapshots.

use super::*;
use seatwatch_model::{Dur, Event, fold};

const T: &str = "acme";

/// 2026-03-02 (a Monday) at `hms` in Shanghai.
fn at(hms: &str) -> Ts {
    Ts::parse_rfc3339(&format!("2026-03-02T{hms}+08:00")).expect("test time")
}

fn call(c: &str) -> CallId {
    CallId::from(c)
}

fn q(name: &str) -> QueueId {
    QueueId::from(name)
}

struct Sim {
    occ: Occupancy,
    seq: u64,
}

impl Sim {
    fn new() -> Self {
        Sim::with(TenantSettings::default())
    }

    fn with(settings: TenantSettings) -> Self {
        Sim { occ: Occupancy::new(settings, BTreeMap::new()).with_timeline(true), seq: 0 }
    }

    fn env(&mut self, hms: &str, agent: Option<&str>, kind: EventKind) -> Envelope {
        self.seq += 1;
        Envelope {
            seq: self.seq,
            tenant: T.into(),
            source: "acd".into(),
            received: at(hms),
            event: Event {
                id: format!("e{}", self.seq).into(),
                ts: at(hms),
                agent: agent.map(AgentId::from),
                kind,
                extra: None,
            },
        }
    }

    fn ev(&mut self, hms: &str, agent: &str, kind: EventKind) -> &mut Self {
        let env = self.env(hms, Some(agent), kind);
        self.occ.apply(&env);
        self
    }

    fn sys(&mut self, hms: &str, kind: EventKind) -> &mut Self {
        let env = self.env(hms, None, kind);
        self.occ.apply(&env);
        self
    }

    fn login(&mut self, hms: &str, a: &str, station: &str) -> &mut Self {
        self.ev(hms, a, EventKind::Login { station: station.into() })
    }
    fn ready(&mut self, hms: &str, a: &str) -> &mut Self {
        self.ev(hms, a, EventKind::Ready)
    }
    fn not_ready(&mut self, hms: &str, a: &str, reason: Option<&str>) -> &mut Self {
        self.ev(hms, a, EventKind::NotReady { reason: reason.map(str::to_owned) })
    }
    fn logout(&mut self, hms: &str, a: &str) -> &mut Self {
        self.ev(hms, a, EventKind::Logout)
    }
    fn queued(&mut self, hms: &str, c: &str, queue: &str) -> &mut Self {
        self.sys(
            hms,
            EventKind::Queued { call: call(c), queue: q(queue), caller: None, emergency: false, priority: None },
        )
    }
    fn abandoned(&mut self, hms: &str, c: &str, queue: &str) -> &mut Self {
        self.sys(hms, EventKind::Abandoned { call: call(c), queue: q(queue) })
    }
    fn offered(&mut self, hms: &str, a: &str, c: &str, queue: Option<&str>) -> &mut Self {
        self.ev(
            hms,
            a,
            EventKind::Offered { call: call(c), queue: queue.map(q), caller: None, emergency: false, priority: None },
        )
    }
    fn answered(&mut self, hms: &str, a: &str, c: &str) -> &mut Self {
        self.ev(hms, a, EventKind::Answered { call: call(c), rings: None })
    }
    fn missed(&mut self, hms: &str, a: &str, c: &str) -> &mut Self {
        self.ev(hms, a, EventKind::Missed { call: call(c) })
    }
    fn ended(&mut self, hms: &str, a: &str, c: &str) -> &mut Self {
        self.ev(hms, a, EventKind::Ended { call: call(c) })
    }
    fn transferred(&mut self, hms: &str, a: &str, c: &str) -> &mut Self {
        self.ev(hms, a, EventKind::Transferred { call: call(c), to: "2001".into() })
    }
    fn heartbeat(&mut self, hms: &str) -> &mut Self {
        self.sys(hms, EventKind::Heartbeat)
    }

    fn agent(&self, a: &str) -> AgentView {
        self.occ.agents(T).into_iter().find(|v| v.agent.as_str() == a).expect("agent seen")
    }

    fn row(&self, start: &str, queue: Option<&str>) -> IntervalRow {
        self.occ
            .intervals(T, None, None, None)
            .into_iter()
            .find(|r| r.start == at(start) && r.queue.as_ref().map(QueueId::as_str) == queue)
            .unwrap_or_else(|| panic!("no row {start} {queue:?}"))
    }

    fn total(&self, queue: Option<&str>) -> Totals {
        self.occ.totals(T).remove(&queue.map(q)).expect("totals")
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

// --- state and precedence ------------------------------------------------------------

#[test]
fn login_makes_the_agent_ready_at_its_station() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st-1");
    let v = s.agent("a1");
    assert_eq!(
        (v.state, v.since, v.station.as_deref(), v.reason.as_deref()),
        (AgentState::Ready, at("08:00:00"), Some("st-1"), None)
    );
    let json = serde_json::to_value(&v).unwrap();
    for key in ["agent", "state", "since", "station", "reason"] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    assert_eq!(json["state"], "ready");
    assert_eq!(json["since"], "2026-03-02T00:00:00Z");
}

#[test]
fn activity_takes_precedence_over_not_ready_and_the_reason_shows_only_in_not_ready() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st").not_ready("08:01:00", "a1", Some("lunch"));
    assert_eq!(s.agent("a1").reason.as_deref(), Some("lunch"));
    s.offered("08:02:00", "a1", "c1", Some("sales"));
    let v = s.agent("a1");
    assert_eq!((v.state, v.reason), (AgentState::Ringing, None));
    s.answered("08:02:03", "a1", "c1").ended("08:03:00", "a1", "c1");
    assert_eq!(s.agent("a1").state, AgentState::WrapUp);
    // The next agent state event ends wrap-up.
    s.not_ready("08:04:00", "a1", Some("lunch"));
    let v = s.agent("a1");
    assert_eq!((v.state, v.since, v.reason.as_deref()), (AgentState::NotReady, at("08:04:00"), Some("lunch")));
}

#[test]
fn a_new_reason_within_not_ready_starts_a_new_since() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st").not_ready("08:01:00", "a1", Some("lunch"));
    s.occ.take_changes();
    s.not_ready("08:02:00", "a1", Some("lunch"));
    assert!(s.occ.take_changes().is_empty(), "the same state again is no change");
    s.not_ready("08:03:00", "a1", Some("training"));
    let v = s.agent("a1");
    assert_eq!((v.since, v.reason.as_deref()), (at("08:03:00"), Some("training")));
    let ch = s.occ.take_changes();
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].reason.as_deref(), Some("training"));
}

#[test]
fn state_changes_are_reported_in_order_with_their_seq() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st").offered("08:01:00", "a1", "c1", None).answered("08:01:02", "a1", "c1");
    let ch = s.occ.take_changes();
    let states: Vec<_> = ch.iter().map(|c| (c.state, c.seq)).collect();
    assert_eq!(states, [(AgentState::Ready, 1), (AgentState::Ringing, 2), (AgentState::Talking, 3)]);
    assert_eq!(ch[0].station.as_deref(), Some("st"));
    assert_eq!(ch[0].tenant, T);
    assert!(s.occ.take_changes().is_empty(), "drained");
}

// --- the edge cases -------------------------------------------------------------------

#[test]
fn events_of_an_agent_never_seen_logging_in_imply_a_login() {
    let mut s = Sim::new();
    s.ready("08:00:00", "ghost");
    let v = s.agent("ghost");
    assert_eq!((v.state, v.station), (AgentState::Ready, None));
    s.answered("08:00:10", "phantom", "c9");
    let v = s.agent("phantom");
    assert_eq!((v.state, v.since), (AgentState::Talking, at("08:00:10")));
    assert_eq!(s.total(None).answered, 1);
    // `ended` alone does not log an agent in.
    s.ended("08:00:20", "stranger", "c8");
    assert_eq!(s.agent("stranger").state, AgentState::LoggedOut);
}

#[test]
fn rostered_agents_are_listed_with_the_roster_until_they_act_and_leave_with_it() {
    let roster = |active| EventKind::Roster { certified: true, name: None, active };
    let mut s = Sim::new();
    s.ev("07:00:00", "absentee", roster(true)).ev("07:00:00", "comer", roster(true));
    s.ev("07:00:00", "leaver", roster(true)).ev("07:30:00", "leaver", roster(false));
    let names = |v: Vec<AgentView>| v.into_iter().map(|v| v.agent.to_string()).collect::<Vec<_>>();
    // By default the agents that have sent state events: none yet, nothing pushed.
    assert!(s.occ.agents(T).is_empty());
    assert!(s.occ.take_changes().is_empty());
    assert_eq!(s.occ.agent_state_counts(T)[&AgentState::LoggedOut], 0);
    // With the roster: on it, listed; off it without a state event, not.
    assert_eq!(names(s.occ.agents_with_roster(T)), ["absentee", "comer"]);
    let v = s.occ.agents_with_roster(T).remove(0);
    assert_eq!((v.state, v.since, v.station), (AgentState::LoggedOut, at("07:00:00"), None));
    // The first state event starts the agent's history at its own time, as for an agent
    // first seen then, even when it is older than the roster entry.
    s.login("06:55:00", "comer", "st-1");
    let v = s.agent("comer");
    assert_eq!((v.state, v.since), (AgentState::Ready, at("06:55:00")));
    let mut plain = Sim::new();
    plain.login("06:55:00", "comer", "st-1");
    s.sys("09:00:00", EventKind::Heartbeat);
    plain.sys("09:00:00", EventKind::Heartbeat);
    assert_eq!(s.occ.intervals(T, None, None, None), plain.occ.intervals(T, None, None, None));
    assert_eq!(s.occ.agents(T), plain.occ.agents(T));
    // Leaving the roster does not hide an agent that has acted.
    s.ev("09:00:00", "comer", roster(false));
    assert_eq!(names(s.occ.agents(T)), ["comer"]);
    // A retired entry comes back with a new roster entry.
    s.ev("09:10:00", "leaver", roster(true));
    assert_eq!(names(s.occ.agents_with_roster(T)), ["absentee", "comer", "leaver"]);
    // And the listing survives a snapshot.
    let back = Occupancy::restore(&s.occ.snapshot(), TenantSettings::default(), BTreeMap::new()).unwrap();
    assert_eq!(back.agents_with_roster(T), s.occ.agents_with_roster(T));
}

#[test]
fn a_second_login_keeps_the_state_and_moves_the_station() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st-1").not_ready("08:01:00", "a1", Some("brief"));
    s.occ.take_changes();
    s.login("08:05:00", "a1", "st-2");
    let v = s.agent("a1");
    assert_eq!((v.state, v.since, v.station.as_deref()), (AgentState::NotReady, at("08:01:00"), Some("st-2")));
    let ch = s.occ.take_changes();
    assert_eq!(ch.len(), 1, "the new station is pushed");
    assert_eq!((ch[0].since, ch[0].station.as_deref()), (at("08:01:00"), Some("st-2")));
    s.login("08:06:00", "a1", "st-2");
    assert!(s.occ.take_changes().is_empty(), "same station again: nothing changes");
}

#[test]
fn an_event_older_than_the_agents_last_applies_at_the_effective_time() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st").not_ready("08:10:00", "a1", None);
    // Older than the agent's last event: applied at 08:10:00, never dropped.
    s.ready("08:05:00", "a1");
    let v = s.agent("a1");
    assert_eq!((v.state, v.since), (AgentState::Ready, at("08:10:00")));
    s.heartbeat("08:12:00");
    let v = s.agent("a1");
    assert!(close(v.today.ready_seconds, 600.0 + 120.0), "{:?}", v.today);
    assert!(close(v.today.not_ready_seconds, 0.0), "zero-length not-ready");
    assert!(close(v.today.logged_in_seconds, 720.0));
}

#[test]
fn calls_still_open_at_the_end_of_the_log_count_up_to_the_clock() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st")
        .queued("08:01:00", "c1", "sales")
        .offered("08:01:10", "a1", "c1", Some("sales"))
        .answered("08:01:12", "a1", "c1")
        .queued("08:02:00", "c2", "sales")
        .heartbeat("08:03:00");
    let v = s.agent("a1");
    assert_eq!(v.state, AgentState::Talking);
    assert_eq!(v.call.as_ref().map(CallId::as_str), Some("c1"));
    assert!(close(v.seconds_in_state, 108.0));
    let qv = &s.occ.queues(T)[0];
    assert_eq!((qv.waiting, qv.oldest_waiting_since), (1, Some(at("08:02:00"))));
    assert_eq!(qv.oldest_wait_seconds, Some(60.0));
    assert_eq!((qv.logged_in, qv.talking, qv.on_call), (1, 1, 1));
    let r = s.row("08:00:00", Some("sales"));
    assert_eq!((r.figures.answered, r.figures.handled, r.figures.aht_seconds), (1, 0, None));
    assert!(close(r.figures.talk_seconds, 108.0), "open talk counted up to the clock");
    assert!(!r.closed);
}

#[test]
fn a_transfer_stops_the_transferring_agents_talk() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st")
        .queued("08:00:50", "c1", "sales")
        .offered("08:01:00", "a1", "c1", Some("sales"))
        .answered("08:01:05", "a1", "c1")
        .transferred("08:03:05", "a1", "c1");
    assert_eq!(s.agent("a1").state, AgentState::WrapUp);
    s.ready("08:03:35", "a1").heartbeat("08:05:00");
    let r = s.row("08:00:00", Some("sales"));
    assert_eq!(r.figures.transferred, 1);
    assert!(close(r.figures.talk_seconds, 120.0), "talk stops at the transfer");
    assert!(close(r.figures.wrap_up_seconds, 30.0));
    assert_eq!(r.figures.handled, 1);
    assert_eq!(r.figures.aht_seconds, Some(150.0));
    // The transferring agent's own `ended` does not end the transferred call: the agent
    // who takes it over is not counted as a second offer or answer.
    s.ended("08:03:40", "a1", "c1");
    assert_eq!(s.agent("a1").state, AgentState::Ready, "no wrap-up for a call that went on elsewhere");
    s.offered("08:04:00", "a2", "c1", Some("sales")).answered("08:04:02", "a2", "c1");
    let t = s.total(Some("sales"));
    assert_eq!((t.offered, t.answered), (1, 1));
    s.ended("08:06:00", "a2", "c1");
    assert_eq!(s.agent("a1").state, AgentState::Ready);
    assert_eq!(s.agent("a2").state, AgentState::WrapUp);
}

#[test]
fn ended_implies_wrap_up_until_the_next_state_event() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st")
        .offered("08:01:00", "a1", "c1", Some("sales"))
        .answered("08:01:05", "a1", "c1")
        .ended("08:04:05", "a1", "c1");
    let v = s.agent("a1");
    assert_eq!((v.state, v.since), (AgentState::WrapUp, at("08:04:05")));
    s.heartbeat("08:05:00");
    assert_eq!(s.row("08:00:00", None).figures.handled, 0, "AHT waits for the end of wrap-up");
    s.ready("08:05:05", "a1");
    let r = s.row("08:00:00", None);
    assert_eq!(r.figures.handled, 1);
    assert_eq!(r.figures.aht_seconds, Some(240.0)); // 180 s talk + 60 s wrap-up
    // `ended` while idle (talk not seen) still means wrap-up, without an AHT sample.
    s.ended("08:06:00", "a1", "c7");
    assert_eq!(s.agent("a1").state, AgentState::WrapUp);
    s.ready("08:06:30", "a1");
    assert_eq!(s.row("08:00:00", None).figures.handled, 1);
}

#[test]
fn missed_returns_the_agent_to_ready() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st")
        .queued("08:01:00", "c1", "sales")
        .offered("08:01:05", "a1", "c1", Some("sales"))
        .missed("08:01:25", "a1", "c1");
    let v = s.agent("a1");
    assert_eq!((v.state, v.since, v.today.missed), (AgentState::Ready, at("08:01:25"), 1));
    assert_eq!(s.row("08:00:00", Some("sales")).figures.missed, 1);
    // The call is still waiting in its queue and can be offered again: not offered twice.
    assert_eq!(s.occ.queues(T)[0].waiting, 1);
    s.offered("08:01:30", "a1", "c1", Some("sales")).answered("08:01:32", "a1", "c1");
    let r = s.row("08:00:00", Some("sales"));
    assert_eq!((r.figures.offered, r.figures.answered, r.figures.answered_in_time), (1, 1, 1));
    assert_eq!(r.figures.asa_seconds, Some(32.0), "ASA runs from entering the queue");
}

#[test]
fn a_logout_in_the_middle_of_a_call_ends_the_agents_part() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st")
        .offered("08:01:00", "a1", "c1", Some("sales"))
        .answered("08:01:05", "a1", "c1")
        .logout("08:02:05", "a1");
    let v = s.agent("a1");
    assert_eq!((v.state, v.station, v.call), (AgentState::LoggedOut, None, None));
    let r = s.row("08:00:00", Some("sales"));
    assert_eq!((r.figures.handled, r.figures.aht_seconds), (1, Some(60.0)), "talk only, no wrap-up");
    // The call's end after the logout neither logs the agent in nor starts wrap-up.
    s.ended("08:03:00", "a1", "c1").heartbeat("08:04:00");
    let v = s.agent("a1");
    assert_eq!(v.state, AgentState::LoggedOut);
    assert!(close(v.today.logged_in_seconds, 125.0));
}

#[test]
fn abandons_short_and_long_and_while_ringing() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st")
        .queued("08:01:00", "c1", "sales")
        .abandoned("08:01:04", "c1", "sales")
        .queued("08:02:00", "c2", "sales")
        .abandoned("08:02:05", "c2", "sales")
        .queued("08:03:00", "c3", "sales")
        .offered("08:03:10", "a1", "c3", Some("sales"))
        .abandoned("08:03:20", "c3", "sales");
    let r = s.row("08:00:00", Some("sales"));
    assert_eq!((r.figures.queued, r.figures.abandoned, r.figures.short_abandoned), (3, 3, 1));
    let v = s.agent("a1");
    assert_eq!((v.state, v.since), (AgentState::Ready, at("08:03:20")), "the ringing stopped");
    assert_eq!(s.occ.queues(T)[0].waiting, 0);
}

#[test]
fn ring_count_comes_from_the_event_or_from_ring_time() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st");
    let mut t = 0;
    let mut answer = |s: &mut Sim, ring_ms: i64, rings: Option<u32>| {
        t += 1;
        let c = format!("c{t}");
        let start = at("08:00:00").plus_secs(60 * t);
        s.seq += 1;
        let mk = |seq: u64, ts: Ts, kind: EventKind| Envelope {
            seq,
            tenant: T.into(),
            source: "acd".into(),
            received: ts,
            event: Event { id: format!("e{seq}").into(), ts, agent: Some(AgentId::from("a1")), kind, extra: None },
        };
        let offered =
            EventKind::Offered { call: call(&c), queue: None, caller: None, emergency: false, priority: None };
        s.occ.apply(&mk(s.seq, start, offered));
        s.seq += 1;
        s.occ.apply(&mk(s.seq, start.plus_nanos(ring_ms * 1_000_000), EventKind::Answered { call: call(&c), rings }));
        s.seq += 1;
        s.occ.apply(&mk(s.seq, start.plus_secs(30), EventKind::Ended { call: call(&c) }));
        s.seq += 1;
        s.occ.apply(&mk(s.seq, start.plus_secs(40), EventKind::Ready));
    };
    answer(&mut s, 15_000, None); // 15 s ÷ 5 s = 3 rings: in time
    answer(&mut s, 15_001, None); // 4th ring: late
    answer(&mut s, 2_000, Some(5)); // the ACD says 5 rings: late
    answer(&mut s, 20_000, Some(3)); // the ACD says 3 rings: in time
    let t = s.total(None);
    assert_eq!((t.answered, t.answered_in_time, t.answered_in_threshold), (4, 2, 2));
}

#[test]
fn each_service_level_variant() {
    let mut settings = TenantSettings::default();
    let sl = |formula, threshold| ServiceLevelSettings { formula, threshold };
    settings.settings.service_level = sl(SlFormula::Offered, None);
    settings.settings.queues.insert("aa".into(), sl(SlFormula::AnsweredAbandoned, None));
    settings.settings.queues.insert("al".into(), sl(SlFormula::AnsweredLongAbandoned, None));
    settings.settings.queues.insert("qu".into(), sl(SlFormula::Queued, Some(Dur::secs(20))));
    let mut s = Sim::with(settings);
    s.login("08:00:00", "a1", "st");
    // In each queue: one call answered fast (in time, and within 20 s), one answered after
    // 30 s of queueing and 25 s of ringing (late on both counts), one long abandon, one
    // short abandon, one call still waiting.
    for qn in ["aa", "al", "qu"] {
        let c = |n: u32| format!("{qn}{n}");
        s.queued("08:01:00", &c(1), qn).offered("08:01:01", "a1", &c(1), Some(qn));
        s.answered("08:01:03", "a1", &c(1)).ended("08:01:30", "a1", &c(1)).ready("08:01:40", "a1");
        s.queued("08:02:00", &c(2), qn).offered("08:02:05", "a1", &c(2), Some(qn));
        s.answered("08:02:30", "a1", &c(2)).ended("08:02:50", "a1", &c(2)).ready("08:02:55", "a1");
        s.queued("08:03:00", &c(3), qn).abandoned("08:03:40", &c(3), qn);
        s.queued("08:04:00", &c(4), qn).abandoned("08:04:02", &c(4), qn);
        s.queued("08:05:00", &c(5), qn);
    }
    let f = |qn: &str| s.row("08:00:00", Some(qn)).figures;
    // aa: 1 in time ÷ (2 answered + 2 abandoned)
    assert_eq!((f("aa").service_level, f("aa").service_level_formula), (Some(0.25), "answered_abandoned"));
    // al: 1 ÷ (2 + 2 − 1 short)
    assert_eq!(f("al").service_level, Some(1.0 / 3.0));
    // qu: threshold 20 s from queueing: c1 waited 3 s (in), c2 30 s (out); 1 ÷ 5 queued
    assert_eq!((f("qu").answered_in_threshold, f("qu").service_level), (1, Some(0.2)));
    // Total, formula `offered` with the ring rule: 3 in time ÷ 6 offered.
    let total = s.row("08:00:00", None).figures;
    assert_eq!((total.offered, total.answered_in_time, total.service_level), (6, 3, Some(0.5)));
}

#[test]
fn a_call_answered_after_an_interval_boundary_counts_its_service_level_where_it_was_offered() {
    // Calls queued and offered just before 08:15 and answered just after it: the counts
    // land by their own events, the service level's numerator where its denominator
    // counted the call, so neither interval shows a service level above 1 (it showed
    // 0 and 3 before, issue 8's black-box run).
    let mut settings = TenantSettings::default();
    let sl = |formula| ServiceLevelSettings { formula, threshold: None };
    settings.settings.service_level = sl(SlFormula::Offered);
    settings.settings.queues.insert("qu".into(), sl(SlFormula::Queued));
    settings.settings.queues.insert("aa".into(), sl(SlFormula::AnsweredAbandoned));
    let mut s = Sim::with(settings);
    for (i, qn) in ["qu", "aa", "of"].iter().enumerate() {
        let (a, b, c) = (format!("{qn}-a"), format!("{qn}-b"), format!("{qn}-c"));
        s.login("08:10:00", &a, &format!("s{i}a")).login("08:10:00", &b, &format!("s{i}b"));
        s.login("08:10:00", &c, &format!("s{i}c"));
        let (m1, m2, m3) = (format!("{qn}1"), format!("{qn}2"), format!("{qn}3"));
        s.queued("08:14:56", &m1, qn).offered("08:14:57", &a, &m1, Some(qn)).answered("08:15:01", &a, &m1);
        s.queued("08:14:57", &m2, qn).offered("08:14:58", &b, &m2, Some(qn)).answered("08:15:02", &b, &m2);
        s.queued("08:16:00", &m3, qn).offered("08:16:01", &c, &m3, Some(qn)).answered("08:16:03", &c, &m3);
    }
    s.sys("08:31:00", EventKind::Heartbeat);
    let (early, late) = (s.row("08:00:00", None).figures, s.row("08:15:00", None).figures);
    // Total, `offered`: 2 offered and 2 in time before 08:15, 1 and 1 after.
    assert_eq!((early.offered, early.answered, early.service_level_calls, early.service_level), (6, 0, 6, Some(1.0)));
    assert_eq!((late.offered, late.answered, late.service_level_calls, late.service_level), (3, 9, 3, Some(1.0)));
    let fig = |hms: &str, qn: &str| s.row(hms, Some(qn)).figures;
    for (hms, want) in [("08:00:00", (2, 2, Some(1.0))), ("08:15:00", (1, 1, Some(1.0)))] {
        let (f, g) = (fig(hms, "qu"), fig(hms, "of"));
        assert_eq!((f.queued, f.service_level_calls, f.service_level), want, "queued at {hms}");
        assert_eq!((g.offered, g.service_level_calls, g.service_level), want, "offered at {hms}");
    }
    // `answered_abandoned` counts both by the answer: nothing before 08:15, 3 of 3 after.
    let (f, g) = (fig("08:00:00", "aa"), fig("08:15:00", "aa"));
    assert_eq!((f.service_level_calls, f.service_level), (0, None));
    assert_eq!((g.answered, g.service_level_calls, g.service_level), (3, 3, Some(1.0)));
}

#[test]
fn a_call_that_moves_between_queues_with_other_formulas_counts_where_each_queue_counted_it() {
    // The property test's case: offered in "of" (formula `offered`), missed, queued again
    // in "aa" (`answered_abandoned`) and answered there. "of" counted it at its offer and
    // "aa" at its answer: each queue's numerator follows its own formula, so neither
    // shows a service level above 1 ("aa"'s formula once booked the call into "of").
    let mut settings = TenantSettings::default();
    let sl = |formula| ServiceLevelSettings { formula, threshold: None };
    settings.settings.queues.insert("of".into(), sl(SlFormula::Offered));
    settings.settings.queues.insert("aa".into(), sl(SlFormula::AnsweredAbandoned));
    settings.settings.queues.insert("al".into(), sl(SlFormula::AnsweredLongAbandoned));
    let mut s = Sim::with(settings);
    s.login("08:00:00", "a1", "s1").login("08:00:00", "a2", "s2");
    // Into "of", then "aa".
    s.offered("08:01:00", "a1", "c1", Some("of")).ev("08:01:04", "a1", EventKind::Missed { call: call("c1") });
    s.queued("08:20:00", "c1", "aa").offered("08:20:01", "a2", "c1", Some("aa")).answered("08:20:03", "a2", "c1");
    // Into "al", then "of" (whose `offered` counts only first offers).
    s.offered("08:02:00", "a1", "c2", Some("al")).ev("08:02:04", "a1", EventKind::Missed { call: call("c2") });
    s.queued("08:21:00", "c2", "of").offered("08:21:01", "a1", "c2", Some("of")).answered("08:21:03", "a1", "c2");
    s.sys("08:31:00", EventKind::Heartbeat);
    for (hms, qn) in
        [("08:00:00", "of"), ("08:15:00", "of"), ("08:00:00", "al"), ("08:15:00", "al"), ("08:15:00", "aa")]
    {
        let f = s.row(hms, Some(qn)).figures;
        assert!(f.service_level.is_none_or(|v| v <= 1.0), "{qn} at {hms}: {f:?}");
    }
    let of = s.row("08:00:00", Some("of")).figures;
    assert_eq!((of.offered, of.service_level_calls), (1, 1), "c1 counted at its first offer, in time");
    let aa = s.row("08:15:00", Some("aa")).figures;
    assert_eq!((aa.answered, aa.service_level_calls, aa.service_level), (1, 1, Some(1.0)));
}

#[test]
fn a_service_level_threshold_counts_answer_delay_not_rings() {
    let mut settings = TenantSettings::default();
    settings.settings.service_level =
        ServiceLevelSettings { formula: SlFormula::Offered, threshold: Some(Dur::secs(20)) };
    let mut s = Sim::with(settings);
    s.login("08:00:00", "a1", "st")
        .queued("08:01:00", "c1", "sales")
        .offered("08:01:15", "a1", "c1", Some("sales"))
        .answered("08:01:19", "a1", "c1");
    let f = s.row("08:00:00", None).figures;
    // 19 s from queueing (≤ 20 s) and a single ring (4 s): both in.
    assert_eq!((f.answered_in_time, f.answered_in_threshold), (1, 1));
    s.ended("08:02:00", "a1", "c1").ready("08:02:10", "a1");
    s.queued("08:03:00", "c2", "sales").offered("08:03:20", "a1", "c2", Some("sales")).answered("08:03:22", "a1", "c2");
    // 22 s from queueing: out of the threshold though answered at the first ring.
    let f = s.row("08:00:00", None).figures;
    assert_eq!((f.answered_in_time, f.answered_in_threshold), (2, 1));
    assert_eq!(f.service_level, Some(0.5));
}

// --- time -----------------------------------------------------------------------------

#[test]
fn a_state_spanning_interval_boundaries_is_split() {
    let mut s = Sim::new();
    s.login("08:10:00", "a1", "st").not_ready("08:10:00", "a1", None).ready("08:40:00", "a1").heartbeat("08:45:00");
    let nr = |start: &str| s.row(start, None).figures.not_ready_seconds;
    assert_eq!((nr("08:00:00"), nr("08:15:00"), nr("08:30:00")), (300.0, 900.0, 600.0));
    let r = s.row("08:30:00", None);
    assert_eq!((r.figures.ready_seconds, r.figures.staffed_seconds), (300.0, 900.0));
    assert_eq!(r.end, at("08:45:00"));
    // The watermark (heartbeat at 08:45) has passed the first three intervals' ends.
    assert!(s.row("08:15:00", None).closed);
}

#[test]
fn intervals_follow_the_configured_length_and_query_range() {
    let mut settings = TenantSettings::default();
    settings.settings.interval = Dur::mins(30);
    let mut s = Sim::with(settings);
    s.login("08:10:00", "a1", "st").heartbeat("09:20:00");
    let rows = s.occ.intervals(T, Some(at("08:30:00")), Some(at("09:00:00")), None);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].start, rows[0].end), (at("08:30:00"), at("09:00:00")));
    assert_eq!(rows[0].figures.ready_seconds, 1800.0);
    let all = s.occ.intervals(T, None, None, None);
    assert_eq!(all.iter().map(|r| r.start).collect::<Vec<_>>(), [at("08:00:00"), at("08:30:00"), at("09:00:00")]);
}

#[test]
fn a_quiet_interval_has_a_total_row_of_zeros_up_to_the_current_one() {
    // The black-box run: login 10:00, logout 10:05, heartbeat 10:50. The contract wants
    // a total row per interval: 10:15 and 10:30 (closed, nothing in them) and the open
    // 10:45 read as zeros, not as missing.
    let mut s = Sim::new();
    s.login("10:00:00", "a1", "st").logout("10:05:00", "a1").heartbeat("10:50:00");
    let all = s.occ.intervals(T, None, None, None);
    let starts: Vec<Ts> = all.iter().map(|r| r.start).collect();
    assert_eq!(starts, [at("10:00:00"), at("10:15:00"), at("10:30:00"), at("10:45:00")]);
    assert!(all.iter().all(|r| r.queue.is_none()));
    assert_eq!(all[0].figures.staffed_seconds, 300.0);
    for r in &all[1..] {
        assert_eq!((r.figures.staffed_seconds, r.figures.offered, r.figures.service_level), (0.0, 0, None));
    }
    assert_eq!(all.iter().map(|r| r.closed).collect::<Vec<_>>(), [true, true, true, false]);
    // Within a range (from the first interval in it with anything), and not for one
    // queue (queue rows stay sparse).
    let part = s.occ.intervals(T, Some(at("10:00:00")), Some(at("10:40:00")), None);
    assert_eq!(part.iter().map(|r| r.start).collect::<Vec<_>>(), [at("10:00:00"), at("10:15:00"), at("10:30:00")]);
    assert_eq!(part[2].end, at("10:45:00"), "whole intervals, as the rows with data are");
    assert!(s.occ.intervals(T, None, None, Some("sales")).is_empty());
}

#[test]
fn time_in_state_follows_the_tenants_clock_not_the_wall_clock() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st");
    assert_eq!(s.agent("a1").seconds_in_state, 0.0);
    s.sys("08:00:30", EventKind::Tick);
    assert_eq!(s.agent("a1").seconds_in_state, 30.0);
    assert_eq!(s.occ.now(T), Some(at("08:00:30")));
    // Another tenant's time does not move this one's clock.
    let env = Envelope { tenant: "other".into(), ..s.env("09:00:00", None, EventKind::Heartbeat) };
    s.occ.apply(&env);
    assert_eq!(s.occ.now(T), Some(at("08:00:30")));
    assert_eq!(s.occ.tenants().collect::<Vec<_>>(), ["acme", "other"]);
    assert!(s.occ.agents("other").is_empty());
}

#[test]
fn today_is_the_tenant_local_day() {
    let mut s = Sim::new();
    s.login("23:50:00", "a1", "st");
    let env = s.env("00:00:00", None, EventKind::Heartbeat);
    let next_day = Envelope { event: Event { ts: at("23:50:00").plus_secs(20 * 60), ..env.event }, ..env };
    s.occ.apply(&next_day);
    let v = s.agent("a1");
    assert_eq!(v.today.date.to_string(), "2026-03-03");
    assert!(close(v.today.ready_seconds, 600.0), "only the new day's ten minutes: {:?}", v.today);
    // The two local days are separate intervals: 23:45 ends at midnight.
    let rows = s.occ.intervals(T, None, None, None);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].end, at("23:50:00").plus_secs(10 * 60));
    assert_eq!((rows[0].figures.ready_seconds, rows[1].figures.ready_seconds), (600.0, 600.0));
}

#[test]
fn sliding_windows_cover_the_last_15_and_60_minutes() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st")
        .queued("08:10:00", "c1", "sales")
        .offered("08:10:00", "a1", "c1", Some("sales"))
        .answered("08:10:05", "a1", "c1")
        .ended("08:12:05", "a1", "c1")
        .ready("08:13:05", "a1")
        .heartbeat("09:00:30");
    let w = s.occ.windows(T);
    let get = |m: u32, queue: Option<&str>| {
        w.iter().find(|r| r.window_minutes == m && r.queue.as_ref().map(QueueId::as_str) == queue).cloned()
    };
    // 15 minutes: 08:46:00 to 09:00:30: only ready time, the call is older.
    let w15 = get(15, None).unwrap();
    assert_eq!((w15.start, w15.end), (at("08:46:00"), at("09:00:30")));
    assert_eq!((w15.figures.answered, w15.figures.ready_seconds), (0, 870.0));
    assert!(get(15, Some("sales")).is_some_and(|r| r.figures.answered == 0));
    // 60 minutes: 08:01:00 to 09:00:30 holds the call.
    let w60 = get(60, Some("sales")).unwrap();
    assert_eq!((w60.figures.answered, w60.figures.handled, w60.figures.talk_seconds), (1, 1, 120.0));
    assert_eq!(w60.figures.aht_seconds, Some(180.0));
    let w60 = get(60, None).unwrap();
    assert_eq!(w60.figures.staffed_seconds, 3570.0);
}

#[test]
fn old_intervals_are_dropped_after_the_retention_but_totals_stay() {
    let mut settings = TenantSettings::default();
    settings.settings.retention = Dur::mins(60);
    let mut s = Sim::with(settings);
    s.queued("08:00:00", "c1", "sales").abandoned("08:00:30", "c1", "sales").heartbeat("10:00:00");
    s.heartbeat("10:30:00");
    let rows = s.occ.intervals(T, None, None, None);
    assert!(rows.iter().all(|r| r.start >= at("09:15:00")), "{rows:?}");
    assert_eq!(s.total(Some("sales")).abandoned, 1);
}

#[test]
fn the_default_retention_is_35_days() {
    assert_eq!(TenantSettings::default().settings.retention, Dur::mins(35 * 24 * 60));
}

#[test]
fn retained_from_is_the_first_interval_boundary_after_now_minus_the_retention() {
    let mut settings = TenantSettings::default();
    settings.settings.retention = Dur::mins(60);
    let mut s = Sim::with(settings);
    assert_eq!(s.occ.retained_from(T), None, "no record yet");
    s.heartbeat("08:00:00");
    // 07:00 is a boundary; the day's first intervals are not kept (nothing was there).
    assert_eq!(s.occ.retained_from(T), Some(at("07:00:00")));
    s.heartbeat("10:30:00");
    assert_eq!(s.occ.retained_from(T), Some(at("09:30:00")));
    // 09:37 falls inside 09:30–09:45: that interval is kept, but not whole.
    s.heartbeat("10:37:00");
    assert_eq!(s.occ.retained_from(T), Some(at("09:45:00")));
    assert_eq!(s.occ.retained_from("other"), None);
}

/// From `retained_from` on, the live intervals are those of a projector that keeps every
/// interval (what `seatwatch replay` runs), even with an agent whose `logout` was lost
/// and a late span reaching back past `now − retention`; the interval holding
/// `now − retention` is not (which is why `retained_from` is the next boundary).
#[test]
fn intervals_from_retained_from_on_are_those_a_replay_gives() {
    let mut short = TenantSettings::default();
    short.settings.retention = Dur::mins(60);
    let mut long = TenantSettings::default();
    long.settings.retention = Dur::mins(100 * 24 * 60);
    let run = |settings: TenantSettings| {
        let mut s = Sim::with(settings);
        s.login("08:00:00", "a1", "st1").login("09:00:00", "a2", "st2");
        s.queued("08:10:00", "c1", "sales").abandoned("08:10:30", "c1", "sales");
        s.queued("09:50:00", "c2", "sales").offered("09:50:05", "a2", "c2", Some("sales"));
        s.answered("09:50:10", "a2", "c2").ended("09:55:00", "a2", "c2").ready("09:56:00", "a2");
        s.heartbeat("10:37:00");
        // Late: a2 was not ready from 09:20 on (its span reaches back before 09:37).
        s.not_ready("09:20:00", "a2", None);
        s.heartbeat("10:40:00");
        s
    };
    let (short, long) = (run(short), run(long));
    let from = short.occ.retained_from(T).expect("a clock");
    assert_eq!(from, at("09:45:00"));
    let live = short.occ.intervals(T, Some(from), None, None);
    let replay = long.occ.intervals(T, Some(from), None, None);
    assert!(!live.is_empty());
    assert_eq!(live, replay);
    // Before it, the live state has dropped or cut what the replay keeps.
    let before = |s: &Sim| s.occ.intervals(T, Some(at("09:30:00")), Some(from), None);
    assert_ne!(before(&short), before(&long));
    assert!(short.occ.intervals(T, None, Some(at("09:30:00")), None).is_empty());
    assert!(!long.occ.intervals(T, None, Some(at("09:30:00")), None).is_empty());
}

#[test]
fn stale_calls_are_forgotten_after_the_call_timeout() {
    let mut settings = TenantSettings::default();
    settings.settings.call_timeout = Dur::mins(60);
    let mut s = Sim::with(settings);
    s.queued("08:00:00", "c1", "sales").heartbeat("08:30:00");
    assert_eq!(s.occ.queues(T)[0].waiting, 1);
    s.heartbeat("09:30:00").heartbeat("09:46:00");
    assert_eq!(s.occ.queues(T)[0].waiting, 0);
}

// --- queues ---------------------------------------------------------------------------

#[test]
fn agents_belong_to_the_queues_they_were_offered_calls_from() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st1").login("08:00:00", "a2", "st2");
    s.offered("08:01:00", "a1", "c1", Some("sales")).answered("08:01:02", "a1", "c1");
    s.offered("08:01:00", "a2", "c2", Some("support")).missed("08:01:20", "a2", "c2");
    s.not_ready("08:02:00", "a2", None);
    let qs = s.occ.queues(T);
    assert_eq!(qs.iter().map(|v| v.queue.as_str()).collect::<Vec<_>>(), ["sales", "support"]);
    assert_eq!((qs[0].logged_in, qs[0].talking, qs[0].ready), (1, 1, 0));
    assert_eq!((qs[1].logged_in, qs[1].not_ready), (1, 1));
    assert_eq!(s.agent("a1").queues, [q("sales")]);
    // Membership outlives a logout.
    s.logout("08:03:00", "a2").login("08:04:00", "a2", "st2");
    assert_eq!(s.occ.queues(T)[1].ready, 1);
}

#[test]
fn occupancy_and_utilization_per_queue() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st")
        .offered("08:00:00", "a1", "c1", Some("sales"))
        .answered("08:00:00", "a1", "c1")
        .ended("08:05:00", "a1", "c1")
        .ready("08:06:00", "a1")
        .not_ready("08:10:00", "a1", None)
        .heartbeat("08:15:00");
    let f = s.row("08:00:00", Some("sales")).figures;
    // busy 360 s (300 talk + 60 wrap), ready 240 s, not ready 300 s, staffed 900 s.
    assert_eq!(f.occupancy, Some(360.0 / 600.0));
    assert_eq!(f.utilization, Some(360.0 / 900.0));
}

// --- snapshots and equality ---------------------------------------------------------------

fn scripted() -> Sim {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "st")
        .queued("08:00:30", "c1", "sales")
        .offered("08:00:40", "a1", "c1", Some("sales"))
        .answered("08:00:45", "a1", "c1")
        .queued("08:01:00", "c2", "support");
    s
}

#[test]
fn snapshots_restore_to_an_equal_state_that_folds_on_identically() {
    let mut live = scripted();
    let bytes = live.occ.snapshot();
    assert_eq!(bytes, live.occ.clone().snapshot(), "deterministic");
    let mut restored = Occupancy::restore(&bytes, TenantSettings::default(), BTreeMap::new()).unwrap();
    assert_eq!(restored, live.occ);
    assert_eq!(restored.position(), live.occ.position());
    let more: Vec<Envelope> = vec![
        live.env("08:02:00", Some("a1"), EventKind::Ended { call: call("c1") }),
        live.env("08:02:30", Some("a1"), EventKind::Ready),
        live.env("08:03:00", None, EventKind::Heartbeat),
    ];
    fold(&mut live.occ, &more);
    fold(&mut restored, &more);
    assert_eq!(restored, live.occ);
    assert_eq!(restored.intervals(T, None, None, None), live.occ.intervals(T, None, None, None));
    assert_eq!(restored.agents(T), live.occ.agents(T));
    assert_eq!(restored.queues(T), live.occ.queues(T));
    assert_eq!(restored.snapshot(), live.occ.snapshot());
}

#[test]
fn restoring_with_other_settings_or_bad_bytes_is_a_clear_error() {
    let s = scripted();
    let bytes = s.occ.snapshot();
    let other = TenantSettings { timezone: chrono_tz::Europe::Berlin, ..TenantSettings::default() };
    let err = Occupancy::restore(&bytes, other, BTreeMap::new()).unwrap_err();
    assert!(matches!(err, SnapshotError::SettingsChanged { .. }));
    assert!(err.to_string().contains("Asia/Shanghai"), "{err}");
    assert!(matches!(
        Occupancy::restore(b"nonsense", TenantSettings::default(), BTreeMap::new()),
        Err(SnapshotError::Format)
    ));
    let truncated = &bytes[..bytes.len() - 3];
    assert!(Occupancy::restore(truncated, TenantSettings::default(), BTreeMap::new()).is_err());
}

#[test]
fn pending_changes_do_not_count_for_equality_and_are_bounded() {
    let a = scripted();
    let mut b = scripted();
    b.occ.take_changes();
    assert_eq!(a.occ, b.occ);
    let mut quiet = Occupancy::new(TenantSettings::default(), BTreeMap::new()).with_changes(false);
    let mut s = scripted();
    let env = s.env("08:05:00", Some("a1"), EventKind::Ready);
    quiet.apply(&env);
    assert!(quiet.take_changes().is_empty());
    assert_eq!(quiet.dropped_changes(), 0);
}

#[test]
fn the_timeline_lists_every_state_and_the_open_one() {
    let mut s = scripted();
    s.heartbeat("08:01:30");
    let tl = s.occ.agent_timeline(T, Some("a1")).unwrap();
    let got: Vec<_> = tl.iter().map(|e| (e.state, e.from, e.to, e.open)).collect();
    assert_eq!(
        got,
        [
            (AgentState::Ready, at("08:00:00"), at("08:00:40"), false),
            (AgentState::Ringing, at("08:00:40"), at("08:00:45"), false),
            (AgentState::Talking, at("08:00:45"), at("08:01:30"), true),
        ]
    );
    let off = Occupancy::new(TenantSettings::default(), BTreeMap::new());
    assert!(off.agent_timeline(T, None).is_none());
}

#[test]
fn timestamps_at_the_ends_of_the_range_do_not_panic() {
    let mut s = Sim::new();
    for nanos in [i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MIN + 1] {
        for kind in [
            EventKind::Login { station: "st".into() },
            EventKind::Offered { call: call("c"), queue: Some(q("x")), caller: None, emergency: false, priority: None },
            EventKind::Answered { call: call("c"), rings: None },
            EventKind::Ended { call: call("c") },
            EventKind::Ready,
        ] {
            let mut env = s.env("08:00:00", Some("a1"), kind);
            env.event.ts = Ts::from_nanos(nanos);
            s.occ.apply(&env);
            let _ = (s.occ.agents(T), s.occ.intervals(T, None, None, None), s.occ.windows(T), s.occ.queues(T));
        }
    }
    assert_eq!(s.occ.now(T), Some(Ts::from_nanos(i64::MAX - 1)));
}

#[test]
fn interval_rows_serialize_with_the_contracts_fields() {
    let s = scripted();
    let rows = s.occ.intervals(T, None, None, None);
    let json = serde_json::to_value(&rows[0]).unwrap();
    for key in [
        "start",
        "end",
        "queue",
        "queued",
        "offered",
        "answered",
        "answered_in_time",
        "abandoned",
        "missed",
        "service_level",
        "asa_seconds",
        "aht_seconds",
        "occupancy",
    ] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    assert_eq!(json["queue"], serde_json::Value::Null, "the total comes first");
    assert_eq!(json["start"], "2026-03-02T00:00:00Z");
    assert_eq!(json["aht_seconds"], serde_json::Value::Null, "zero denominator: null");
    assert_eq!(serde_json::to_value(&rows[1]).unwrap()["queue"], "sales");
}

#[test]
fn agent_state_counts_match_the_views() {
    let mut s = Sim::new();
    s.login("08:00:00", "a1", "s1")
        .login("08:00:05", "a2", "s2")
        .login("08:00:10", "a3", "s3")
        .not_ready("08:01:00", "a2", Some("break"))
        .queued("08:02:00", "c1", "sales")
        .offered("08:02:01", "a1", "c1", Some("sales"))
        .answered("08:02:05", "a1", "c1")
        .logout("08:03:00", "a3");
    let counts = s.occ.agent_state_counts(T);
    let mut from_views: BTreeMap<AgentState, u64> = AgentState::ALL.iter().map(|st| (*st, 0)).collect();
    for v in s.occ.agents(T) {
        *from_views.entry(v.state).or_insert(0) += 1;
    }
    assert_eq!(counts, from_views);
    assert_eq!(counts[&AgentState::Talking], 1);
    assert_eq!(counts[&AgentState::NotReady], 1);
    assert_eq!(counts[&AgentState::LoggedOut], 1);
    assert_eq!(counts[&AgentState::Ready], 0);
    let none = s.occ.agent_state_counts("other");
    assert_eq!(none.len(), AgentState::ALL.len());
    assert!(none.values().all(|n| *n == 0));
}

#[test]
fn a_call_and_an_agent_stay_small() {
    // A record per call in progress and per agent: with `Option<Ts>` fields (24 bytes
    // each) a call was 112 bytes and an agent 280 (docs/performance.md, "Memory at
    // 100,000 agents").
    assert!(std::mem::size_of::<Call>() <= 88, "{}", std::mem::size_of::<Call>());
    assert!(std::mem::size_of::<Agent>() <= 272, "{}", std::mem::size_of::<Agent>());
}
