//! A hand-written morning of events, with every figure of the report computed by hand.
//!
//! Default settings: 15-minute intervals, Asia/Shanghai, 3 rings × 5 s, short abandon
//! 5 s, service level `offered` (answered in time ÷ offered) with the ring rule.
//!
//! Ring counts: rings = ring time ÷ 5 s + 1 (rounded down), in time when ≤ 3.

use crate::{Log, at};
use seatwatch_model::{Projector, QueueId};
use seatwatch_occupancy::{AgentState, IntervalRow, Occupancy, TenantSettings};
use std::collections::BTreeMap;

/// The log. Agents: alice (A), bob (B), carol (C); queues sales and support.
fn morning() -> Log {
    let mut l = Log::new("acme");
    l.login("09:00:00", "alice", "st-01"); //           A ready
    l.login("09:00:00", "bob", "st-02"); //             B ready
    l.login("09:02:00", "carol", "st-03"); //           C ready (for 0 s)
    l.not_ready("09:02:00", "carol", Some("meeting")); // C not ready
    l.queued("09:03:00", "s1", "sales");
    l.offered("09:03:04", "alice", "s1", Some("sales")); // A joins sales
    l.answered("09:03:10", "alice", "s1"); //           ring 6 s → 2 rings, in time; delay 10 s
    l.queued("09:05:00", "p1", "support");
    l.offered("09:05:02", "bob", "p1", Some("support")); // B joins support
    l.missed("09:05:22", "bob", "p1"); //               B back to ready
    l.offered("09:05:25", "bob", "p1", Some("support")); // re-offer: not counted again
    l.answered("09:05:30", "bob", "p1"); //             ring 5 s (latest offer) → 2 rings, in time; delay 30 s
    l.ended("09:08:10", "alice", "s1"); //              A talk 300 s, wrap-up
    l.ready("09:09:10", "alice"); //                    A wrap 60 s → handle 360 s booked at 09:09:10
    l.queued("09:10:00", "s2", "sales");
    l.abandoned("09:10:03", "s2", "sales"); //          waited 3 s: short abandon
    l.queued("09:12:00", "s3", "sales");
    l.abandoned("09:12:30", "s3", "sales"); //          waited 30 s
    l.queued("09:14:00", "s4", "sales");
    l.offered("09:14:00", "alice", "s4", Some("sales"));
    l.answered("09:14:20", "alice", "s4"); //           ring 20 s → 5 rings, late; delay 20 s
    l.transferred("09:16:30", "bob", "p1"); //          B talk 09:05:30–09:16:30 = 660 s, wrap-up
    l.ready("09:17:00", "bob"); //                      B wrap 30 s → handle 690 s booked at 09:17:00
    l.ready("09:18:00", "carol"); //                    C not ready 09:02–09:18
    l.ended("09:20:00", "alice", "s4"); //              A talk 09:14:20–09:20:00 = 340 s
    l.not_ready("09:21:00", "alice", Some("break")); // A wrap 60 s → handle 400 s booked at 09:21:00
    l.queued("09:22:00", "p2", "support");
    l.offered("09:22:01", "carol", "p2", Some("support")); // C joins support
    l.answered("09:22:03", "carol", "p2"); //           ring 2 s → 1 ring, in time; delay 3 s
    l.queued("09:25:00", "s5", "sales");
    l.ready("09:31:00", "alice");
    l.offered("09:31:00", "alice", "s5", Some("sales"));
    l.answered("09:31:04", "alice", "s5"); //           ring 4 s → 1 ring, in time; delay 364 s
    l.logout("09:32:00", "bob");
    l.ended("09:35:03", "carol", "p2"); //              C talk 09:22:03–09:35:03 = 780 s
    l.ready("09:36:03", "carol"); //                    C wrap 60 s → handle 840 s booked at 09:36:03
    l.heartbeat("09:40:00"); //                         clock and watermark 09:40:00; s5 still open
    l
}

/// The expected figures of one row.
#[derive(Debug, PartialEq)]
struct Row {
    start: &'static str,
    queue: Option<&'static str>,
    closed: bool,
    /// queued, offered, answered, answered_in_time, abandoned, short_abandoned, missed,
    /// transferred, handled
    counts: [u64; 9],
    service_level: Option<f64>,
    asa: Option<f64>,
    aht: Option<f64>,
    /// ready, not ready, ringing, talk, wrap-up, staffed (seconds)
    time: [f64; 6],
    occupancy: Option<f64>,
    utilization: Option<f64>,
}

fn actual(r: &IntervalRow) -> Row {
    let f = &r.figures;
    assert_eq!(f.answered_in_threshold, f.answered_in_time, "no threshold: the ring rule");
    assert_eq!(f.service_level_formula, "offered");
    Row {
        // Output is UTC; the expectations are written in Shanghai time.
        start: Box::leak(
            r.start.to_utc().with_timezone(&chrono_tz::Asia::Shanghai).format("%H:%M:%S").to_string().into_boxed_str(),
        ),
        queue: r.queue.as_ref().map(|q| &*Box::leak(Box::<str>::from(q.as_str()))),
        closed: r.closed,
        counts: [
            f.queued,
            f.offered,
            f.answered,
            f.answered_in_time,
            f.abandoned,
            f.short_abandoned,
            f.missed,
            f.transferred,
            f.handled,
        ],
        service_level: f.service_level,
        asa: f.asa_seconds,
        aht: f.aht_seconds,
        time: [
            f.ready_seconds,
            f.not_ready_seconds,
            f.ringing_seconds,
            f.talk_seconds,
            f.wrap_up_seconds,
            f.staffed_seconds,
        ],
        occupancy: f.occupancy,
        utilization: f.utilization,
    }
}

#[test]
fn a_hand_computed_morning_matches_exactly() {
    let l = morning();
    let occ = &l.occ;
    let rows: Vec<Row> = occ.intervals("acme", None, None, None).iter().map(actual).collect();
    let expected = [
        // ---- 09:00–09:15 ------------------------------------------------------------
        // Time. A: ready 09:00:00–09:03:04 184 s (before joining sales: total only), ring 6,
        //   talk 300, wrap 60, ready 09:09:10–09:14:00 290, ring 20, talk 09:14:20–09:15 40.
        // B: ready 302 (before joining support), ring 20, ready 3, ring 5, talk 570.
        // C: not ready 09:02–09:15 780 (member of no queue yet).
        // Total: ready 184+290+302+3 = 779, not ready 780, ring 6+20+20+5 = 51,
        //   talk 300+40+570 = 910, wrap 60, staffed 900+900+780 = 2580; busy 1021.
        // Counts: queued s1 s2 s3 s4 p1 = 5; offered s1 s4 p1 = 3; answered s1 s4 p1 = 3,
        //   in time s1 p1 = 2; abandoned s2 s3 = 2 (short: s2); missed p1 = 1; handled: s1
        //   (booked 09:09:10) = 1, 360 s. SL 2/3; ASA (10+20+30)/3 = 20; AHT 360.
        Row {
            start: "09:00:00",
            queue: None,
            closed: true,
            counts: [5, 3, 3, 2, 2, 1, 1, 0, 1],
            service_level: Some(2.0 / 3.0),
            asa: Some(20.0),
            aht: Some(360.0),
            time: [779.0, 780.0, 51.0, 910.0, 60.0, 2580.0],
            occupancy: Some(1021.0 / 1800.0),
            utilization: Some(1021.0 / 2580.0),
        },
        // sales: A from 09:03:04: ready 290, ring 26, talk 340, wrap 60, staffed 716,
        //   busy 426. queued 4, offered 2, answered 2 (in time 1), abandoned 2 (short 1),
        //   handled 1 (360 s). SL 1/2; ASA (10+20)/2 = 15.
        Row {
            start: "09:00:00",
            queue: Some("sales"),
            closed: true,
            counts: [4, 2, 2, 1, 2, 1, 0, 0, 1],
            service_level: Some(0.5),
            asa: Some(15.0),
            aht: Some(360.0),
            time: [290.0, 0.0, 26.0, 340.0, 60.0, 716.0],
            occupancy: Some(426.0 / 716.0),
            utilization: Some(426.0 / 716.0),
        },
        // support: B from 09:05:02: ready 3, ring 25, talk 570, staffed 598, busy 595.
        //   queued 1, offered 1, answered 1 (in time), missed 1; nothing handled yet.
        Row {
            start: "09:00:00",
            queue: Some("support"),
            closed: true,
            counts: [1, 1, 1, 1, 0, 0, 1, 0, 0],
            service_level: Some(1.0),
            asa: Some(30.0),
            aht: None,
            time: [3.0, 0.0, 25.0, 570.0, 0.0, 598.0],
            occupancy: Some(595.0 / 598.0),
            utilization: Some(595.0 / 598.0),
        },
        // ---- 09:15–09:30 ------------------------------------------------------------
        // A: talk 300, wrap 60, not ready 540. B: talk 90, wrap 30, ready 780.
        // C: not ready 180, ready 241 (09:18:00–09:22:01), ring 2, talk 477.
        // Total: ready 1021, not ready 720, ring 2, talk 867, wrap 90, staffed 2700,
        //   busy 959. queued s5 p2 = 2; offered p2; answered p2 (in time, 3 s);
        //   transferred p1; handled p1 690 (09:17:00) and s4 400 (09:21:00): AHT 545.
        Row {
            start: "09:15:00",
            queue: None,
            closed: true,
            counts: [2, 1, 1, 1, 0, 0, 0, 1, 2],
            service_level: Some(1.0),
            asa: Some(3.0),
            aht: Some(545.0),
            time: [1021.0, 720.0, 2.0, 867.0, 90.0, 2700.0],
            occupancy: Some(959.0 / 1980.0),
            utilization: Some(959.0 / 2700.0),
        },
        // sales: A only: talk 300, wrap 60, not ready 540; busy 360, ready 0.
        //   queued s5; handled s4 400. Nothing offered: SL null; nothing answered: ASA null.
        Row {
            start: "09:15:00",
            queue: Some("sales"),
            closed: true,
            counts: [1, 0, 0, 0, 0, 0, 0, 0, 1],
            service_level: None,
            asa: None,
            aht: Some(400.0),
            time: [0.0, 540.0, 0.0, 300.0, 60.0, 900.0],
            occupancy: Some(1.0),
            utilization: Some(0.4),
        },
        // support: B (talk 90, wrap 30, ready 780, staffed 900) + C from 09:22:01 (ring 2,
        //   talk 477, staffed 479): ready 780, busy 599, staffed 1379.
        //   queued p2, offered p2, answered p2, transferred p1, handled p1 690.
        Row {
            start: "09:15:00",
            queue: Some("support"),
            closed: true,
            counts: [1, 1, 1, 1, 0, 0, 0, 1, 1],
            service_level: Some(1.0),
            asa: Some(3.0),
            aht: Some(690.0),
            time: [780.0, 0.0, 2.0, 567.0, 30.0, 1379.0],
            occupancy: Some(599.0 / 1379.0),
            utilization: Some(599.0 / 1379.0),
        },
        // ---- 09:30–09:45, open, accrued up to the clock (09:40:00) ------------------------
        // A: not ready 60, ring 4, talk 536 (still talking). B: ready 120, logged out
        //   09:32. C: talk 303, wrap 60, ready 237.
        // Total: ready 357, not ready 60, ring 4, talk 839, wrap 60, staffed 1320,
        //   busy 903. offered s5, answered s5 (1 ring, delay 364 s); handled p2 840.
        Row {
            start: "09:30:00",
            queue: None,
            closed: false,
            counts: [0, 1, 1, 1, 0, 0, 0, 0, 1],
            service_level: Some(1.0),
            asa: Some(364.0),
            aht: Some(840.0),
            time: [357.0, 60.0, 4.0, 839.0, 60.0, 1320.0],
            occupancy: Some(903.0 / 1260.0),
            utilization: Some(903.0 / 1320.0),
        },
        // sales: A: busy 540, not ready 60, staffed 600.
        Row {
            start: "09:30:00",
            queue: Some("sales"),
            closed: false,
            counts: [0, 1, 1, 1, 0, 0, 0, 0, 0],
            service_level: Some(1.0),
            asa: Some(364.0),
            aht: None,
            time: [0.0, 60.0, 4.0, 536.0, 0.0, 600.0],
            occupancy: Some(1.0),
            utilization: Some(0.9),
        },
        // support: B ready 120 + C (talk 303, wrap 60, ready 237): ready 357, busy 363,
        //   staffed 720. handled p2 840; nothing offered.
        Row {
            start: "09:30:00",
            queue: Some("support"),
            closed: false,
            counts: [0, 0, 0, 0, 0, 0, 0, 0, 1],
            service_level: None,
            asa: None,
            aht: Some(840.0),
            time: [357.0, 0.0, 0.0, 303.0, 60.0, 720.0],
            occupancy: Some(363.0 / 720.0),
            utilization: Some(363.0 / 720.0),
        },
    ];
    assert_eq!(rows.len(), expected.len(), "{rows:#?}");
    for (got, want) in rows.iter().zip(&expected) {
        assert_eq!(got, want);
    }
}

#[test]
fn the_hand_computed_agents_queues_and_totals_match() {
    let l = morning();
    let occ = &l.occ;
    let agents = occ.agents("acme");
    let names: Vec<&str> = agents.iter().map(|a| a.agent.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    let (a, b, c) = (&agents[0], &agents[1], &agents[2]);

    // alice: talking s5 since 09:31:04 (536 s by 09:40). Today: answered s1 s4 s5;
    // ring 6+20+4 = 30; talk 300+340+536 = 1176; wrap 60+60 = 120; ready 184+290 = 474;
    // not ready 540+60 = 600; logged in 09:00–09:40 = 2400.
    assert_eq!(
        (a.state, a.since, a.station.as_deref(), a.reason.as_deref()),
        (AgentState::Talking, at("09:31:04"), Some("st-01"), None)
    );
    assert_eq!(a.call.as_ref().map(|c| c.as_str()), Some("s5"));
    assert_eq!(a.seconds_in_state, 536.0);
    assert_eq!(a.queues, [QueueId::from("sales")]);
    let t = &a.today;
    assert_eq!(t.date.to_string(), "2026-03-02");
    assert_eq!((t.handled, t.missed), (3, 0));
    assert_eq!(
        [
            t.ringing_seconds,
            t.talk_seconds,
            t.wrap_up_seconds,
            t.ready_seconds,
            t.not_ready_seconds,
            t.logged_in_seconds
        ],
        [30.0, 1176.0, 120.0, 474.0, 600.0, 2400.0]
    );

    // bob: logged out since 09:32 (480 s). Today: answered p1, missed p1; ring 20+5 = 25;
    // talk 570+90 = 660; wrap 30; ready 302+3+780+120 = 1205; logged in 09:00–09:32 = 1920.
    assert_eq!((b.state, b.since, b.station.as_deref()), (AgentState::LoggedOut, at("09:32:00"), None));
    assert_eq!(b.seconds_in_state, 480.0);
    let t = &b.today;
    assert_eq!((t.handled, t.missed), (1, 1));
    assert_eq!(
        [
            t.ringing_seconds,
            t.talk_seconds,
            t.wrap_up_seconds,
            t.ready_seconds,
            t.not_ready_seconds,
            t.logged_in_seconds
        ],
        [25.0, 660.0, 30.0, 1205.0, 0.0, 1920.0]
    );

    // carol: ready since 09:36:03 (237 s). Today: answered p2; ring 2; talk 477+303 = 780;
    // wrap 60; ready 241+237 = 478; not ready 780+180 = 960; logged in 09:02–09:40 = 2280.
    assert_eq!((c.state, c.since, c.station.as_deref()), (AgentState::Ready, at("09:36:03"), Some("st-03")));
    assert_eq!(c.seconds_in_state, 237.0);
    let t = &c.today;
    assert_eq!((t.handled, t.missed), (1, 0));
    assert_eq!(
        [
            t.ringing_seconds,
            t.talk_seconds,
            t.wrap_up_seconds,
            t.ready_seconds,
            t.not_ready_seconds,
            t.logged_in_seconds
        ],
        [2.0, 780.0, 60.0, 478.0, 960.0, 2280.0]
    );

    // Queues at 09:40: nothing waiting (s5 is answered). sales: alice talking. support:
    // bob (logged out) and carol (ready).
    let qs = occ.queues("acme");
    assert_eq!(qs.len(), 2);
    assert_eq!(
        (qs[0].queue.as_str(), qs[0].waiting, qs[0].logged_in, qs[0].talking, qs[0].on_call),
        ("sales", 0, 1, 1, 1)
    );
    assert_eq!((qs[1].queue.as_str(), qs[1].waiting, qs[1].logged_in, qs[1].ready), ("support", 0, 1, 1));

    // Cumulative totals: the three intervals' counts added up.
    let totals = occ.totals("acme");
    let t = &totals[&None];
    assert_eq!(
        [
            t.queued,
            t.offered,
            t.answered,
            t.answered_in_time,
            t.abandoned,
            t.short_abandoned,
            t.missed,
            t.transferred,
            t.handled
        ],
        [7, 5, 5, 4, 2, 1, 1, 1, 4]
    );
    // delays 10+20+30+3+364 = 427; handle times 360+690+400+840 = 2290
    assert_eq!((t.answer_delay_seconds, t.handle_seconds), (427.0, 2290.0));
    let s = &totals[&Some(QueueId::from("sales"))];
    assert_eq!([s.queued, s.offered, s.answered, s.answered_in_time, s.handled], [5, 3, 3, 2, 2]);
    assert_eq!((s.answer_delay_seconds, s.handle_seconds), (394.0, 760.0));
    let p = &totals[&Some(QueueId::from("support"))];
    assert_eq!([p.queued, p.offered, p.answered, p.missed, p.transferred, p.handled], [2, 2, 2, 1, 1, 2]);
    assert_eq!((p.answer_delay_seconds, p.handle_seconds), (33.0, 1530.0));

    // The 15-minute window at 09:40:00 covers 09:26:00–09:40:00: answered s5, handled p2;
    // staffed: alice 840 + bob 09:26–09:32 360 + carol 840 = 2040.
    let w = occ.windows("acme");
    let w15 = w.iter().find(|r| r.window_minutes == 15 && r.queue.is_none()).unwrap();
    assert_eq!((w15.start, w15.end), (at("09:26:00"), at("09:40:00")));
    assert_eq!((w15.figures.answered, w15.figures.handled, w15.figures.staffed_seconds), (1, 1, 2040.0));
    assert_eq!(occ.position(), 37, "37 records");
}

#[test]
fn the_morning_replays_identically_and_restores_from_a_snapshot() {
    let a = morning();
    let b = morning();
    assert_eq!(a.occ, b.occ);
    let restored = Occupancy::restore(&a.occ.snapshot(), TenantSettings::default(), BTreeMap::new()).unwrap();
    assert_eq!(restored, a.occ);
    assert_eq!(restored.intervals("acme", None, None, None), a.occ.intervals("acme", None, None, None));
}
