//! The lazy booking of agent time against the eager booking it replaced (kept under
//! `cfg(test)` as the reference): every read model must be identical at every point of
//! random logs, with late events, gaps longer than the retention, odd interval lengths,
//! short retentions and zones with DST and half-hour offsets, and after a snapshot is
//! restored mid-log.

use super::*;
use proptest::prelude::*;
use seatwatch_model::{Dur, Event};

const T: &str = "acme";
const AGENTS: [&str; 4] = ["a0", "a1", "a2", "a3"];
const QUEUES: [&str; 3] = ["sales", "support", "vip"];

#[derive(Clone, Debug)]
struct Step {
    advance: i64,
    late: i64,
    agent: usize,
    call: usize,
    queue: usize,
    kind: u8,
    query: bool,
}

fn step() -> impl Strategy<Value = Step> {
    // Mostly seconds apart; now and then a gap of hours or days (longer than short
    // retentions and the minute ring).
    let advance = prop_oneof![
        12 => 0i64..200,
        2 => 200i64..4_000,
        1 => 4_000i64..400_000,
    ];
    let late = prop_oneof![
        8 => Just(0i64),
        3 => 1i64..120,
        1 => 120i64..20_000,
    ];
    (advance, late, 0..AGENTS.len(), 0usize..8, 0..QUEUES.len(), 0u8..17, prop::bool::weighted(0.3)).prop_map(
        |(advance, late, agent, call, queue, kind, query)| Step { advance, late, agent, call, queue, kind, query },
    )
}

#[derive(Clone, Debug)]
struct Setup {
    zone: chrono_tz::Tz,
    start: &'static str,
    interval_s: u64,
    retention_s: u64,
}

fn setup() -> impl Strategy<Value = Setup> {
    let zones = prop_oneof![
        Just((chrono_tz::Asia::Shanghai, "2026-03-02T08:00:00+08:00")),
        // The spring-forward night and the autumn one.
        Just((chrono_tz::Europe::Berlin, "2026-03-28T22:30:00+01:00")),
        Just((chrono_tz::Europe::Berlin, "2026-10-24T23:10:00+02:00")),
        Just((chrono_tz::Asia::Kolkata, "2026-03-02T23:20:00+05:30")),
        Just((chrono_tz::Australia::Lord_Howe, "2026-04-04T23:40:00+11:00")),
    ];
    let interval = prop_oneof![Just(60u64), Just(90), Just(420), Just(900), Just(3600)];
    (zones, interval, 1u64..6, prop::bool::weighted(0.3)).prop_map(|((zone, start), interval_s, k, long)| Setup {
        zone,
        start,
        interval_s,
        retention_s: if long { 6 * 3600 } else { interval_s * k + 17 * (k - 1) },
    })
}

fn settings(s: &Setup) -> TenantSettings {
    TenantSettings {
        timezone: s.zone,
        allowed_lateness: Dur::secs(5),
        settings: Settings {
            interval: Dur::secs(s.interval_s),
            retention: Dur::secs(s.retention_s),
            ..Settings::default()
        },
    }
}

fn records(s: &Setup, steps: &[Step]) -> Vec<(Envelope, bool)> {
    let mut t = Ts::parse_rfc3339(s.start).expect("start");
    steps
        .iter()
        .enumerate()
        .map(|(i, st)| {
            t = t.plus_secs(st.advance);
            let ts = t.plus_secs(-st.late);
            let call = CallId::from(format!("c{}", st.call));
            let queue = QueueId::from(QUEUES[st.queue]);
            let kind = match st.kind {
                0 => EventKind::Login { station: format!("st-{}", st.call % 3) },
                1 => EventKind::Logout,
                2 => EventKind::Ready,
                3 => EventKind::NotReady { reason: (st.call % 2 == 0).then(|| "lunch".to_owned()) },
                4 => EventKind::Queued { call, queue, caller: None, emergency: false, priority: None },
                5 => EventKind::Abandoned { call, queue },
                6 | 7 => EventKind::Offered {
                    call,
                    queue: (st.call % 3 != 0).then_some(queue),
                    caller: None,
                    emergency: false,
                    priority: None,
                },
                8 | 9 => EventKind::Answered { call, rings: None },
                10 => EventKind::Missed { call },
                11 | 12 => EventKind::Ended { call },
                13 => EventKind::WrapUp { call: (st.call % 2 == 0).then_some(call) },
                14 => EventKind::Transferred { call, to: "2001".into() },
                _ => EventKind::Heartbeat,
            };
            let agent = kind.has_agent().then(|| AgentId::from(AGENTS[st.agent]));
            let seq = i as u64 + 1;
            let env = Envelope {
                seq,
                tenant: T.into(),
                source: "acd".into(),
                received: ts,
                event: Event { id: format!("e{seq}").into(), ts, agent, kind, extra: None },
            };
            (env, st.query)
        })
        .collect()
}

/// Every read model, compared between the two.
fn same(lazy: &Occupancy, eager: &Occupancy, at: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(lazy.intervals(T, None, None, None), eager.intervals(T, None, None, None), "intervals at {}", at);
    prop_assert_eq!(lazy.windows(T), eager.windows(T), "windows at {}", at);
    prop_assert_eq!(lazy.agents(T), eager.agents(T), "agents at {}", at);
    prop_assert_eq!(lazy.queues(T), eager.queues(T), "queues at {}", at);
    prop_assert_eq!(lazy.totals(T), eager.totals(T), "totals at {}", at);
    if let Some(now) = lazy.now(T) {
        // The current interval only (as /metrics asks), a range, and one queue.
        let cur = (Some(now), Some(now.plus_nanos(1)));
        prop_assert_eq!(lazy.intervals(T, cur.0, cur.1, None), eager.intervals(T, cur.0, cur.1, None));
        let range = (Some(now.plus_secs(-5_000)), Some(now.plus_secs(-600)));
        prop_assert_eq!(lazy.intervals(T, range.0, range.1, None), eager.intervals(T, range.0, range.1, None));
        prop_assert_eq!(
            lazy.intervals(T, None, None, Some("support")),
            eager.intervals(T, None, None, Some("support"))
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(seatwatch_testkit::proptest_config("occupancy-lazy-booking", 64))]

    #[test]
    fn lazy_booking_shows_exactly_what_eager_booking_showed(
        s in setup(),
        steps in prop::collection::vec(step(), 1..160),
        cut in 0usize..160,
    ) {
        fold_both(&s, &steps, cut)?;
    }
}

/// Fold `steps` lazily and eagerly, comparing every read model where a step asks and at
/// the end; the lazy one is restored from its snapshot before step `cut`.
fn fold_both(s: &Setup, steps: &[Step], cut: usize) -> Result<(), TestCaseError> {
    let records = records(s, steps);
    let mut lazy = Occupancy::new(settings(s), BTreeMap::new());
    let mut eager = Occupancy::new(settings(s), BTreeMap::new()).eager();
    let cut = cut.min(records.len());
    for (i, (env, query)) in records.iter().enumerate() {
        if i == cut {
            // Changes are not in a snapshot: compare those so far first.
            prop_assert_eq!(lazy.take_changes(), eager.take_changes());
            // Restore the lazy one from its snapshot and go on with the copy.
            let restored = Occupancy::restore(&lazy.snapshot(), settings(s), BTreeMap::new())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&restored, &lazy);
            prop_assert_eq!(restored.snapshot(), lazy.snapshot());
            lazy = restored;
        }
        lazy.apply(env);
        eager.apply(env);
        if *query {
            same(&lazy, &eager, i)?;
        }
    }
    same(&lazy, &eager, records.len())?;
    prop_assert_eq!(lazy.take_changes(), eager.take_changes());
    Ok(())
}

/// A producer resends a morning two days late (a heartbeat has moved the clock on, as a
/// server's ticks do under `clock = "wall"`): every late span reaches back ~190
/// intervals, the whole intervals booked as ramps (`book::IntervalRamps`). Every read
/// model is the eager booking's, before and after a snapshot restored mid-backlog.
#[test]
fn a_backlog_two_days_late_shows_what_eager_booking_showed() {
    let s = Setup {
        zone: chrono_tz::Europe::Berlin,
        start: "2026-03-27T08:00:00+01:00",
        interval_s: 900,
        retention_s: 7 * 86_400,
    };
    let mut steps = vec![Step { advance: 0, late: 0, agent: 0, call: 0, queue: 0, kind: 0, query: false }];
    // The clock moves on two days (across the spring-forward night).
    steps.push(Step { advance: 2 * 86_400, late: 0, agent: 0, call: 0, queue: 0, kind: 16, query: true });
    // The backlog: each event 40 s after the one before, all two days behind the clock.
    for i in 0..600usize {
        let kind = [0u8, 2, 6, 8, 11, 13, 2, 3, 4, 7, 9, 12, 14, 5, 10, 1][i % 16];
        steps.push(Step {
            advance: 40,
            late: 2 * 86_400 - 3_600,
            agent: i % AGENTS.len(),
            call: i % 8,
            queue: i % QUEUES.len(),
            kind,
            query: i % 25 == 0,
        });
    }
    if let Err(e) = fold_both(&s, &steps, 300) {
        panic!("{e}");
    }
}

/// An agent left logged in for longer than the retention: the eager booking never booked
/// its time older than `now − retention`, in the interval still kept nor in one expired
/// but not pruned yet.
#[test]
fn an_agent_silent_for_longer_than_the_retention_shows_as_before() {
    let s = Setup {
        zone: chrono_tz::Asia::Shanghai,
        start: "2026-03-02T08:00:00+08:00",
        interval_s: 900,
        retention_s: 3600,
    };
    let mut steps = vec![Step { advance: 0, late: 0, agent: 0, call: 0, queue: 0, kind: 0, query: true }];
    for advance in [600, 3000, 1200, 60, 900, 30, 4000, 1] {
        steps.push(Step { advance, late: 0, agent: 1, call: 1, queue: 0, kind: 16, query: true });
    }
    steps.push(Step { advance: 10, late: 0, agent: 0, call: 0, queue: 0, kind: 3, query: true });
    steps.push(Step { advance: 10, late: 7000, agent: 0, call: 0, queue: 0, kind: 2, query: true });
    let records = records(&s, &steps);
    let mut lazy = Occupancy::new(settings(&s), BTreeMap::new());
    let mut eager = Occupancy::new(settings(&s), BTreeMap::new()).eager();
    for (i, (env, _)) in records.iter().enumerate() {
        lazy.apply(env);
        eager.apply(env);
        assert_eq!(lazy.intervals(T, None, None, None), eager.intervals(T, None, None, None), "at {i}");
        assert_eq!(lazy.windows(T), eager.windows(T), "at {i}");
    }
    assert!(!lazy.intervals(T, None, None, None).is_empty());
}

/// Snapshots of the eager booking (format 1) do not hold the open segment: they are
/// refused, and a server folds the log instead.
#[test]
fn format_1_snapshots_are_refused() {
    let s = Setup {
        zone: chrono_tz::Asia::Shanghai,
        start: "2026-03-02T08:00:00+08:00",
        interval_s: 900,
        retention_s: 3600,
    };
    let steps = [Step { advance: 0, late: 0, agent: 0, call: 0, queue: 0, kind: 0, query: false }];
    let mut occ = Occupancy::new(settings(&s), BTreeMap::new());
    for (env, _) in records(&s, &steps) {
        occ.apply(&env);
    }
    let mut bytes = occ.snapshot();
    assert!(Occupancy::restore(&bytes, settings(&s), BTreeMap::new()).is_ok());
    bytes[7] = 1;
    let err = Occupancy::restore(&bytes, settings(&s), BTreeMap::new()).unwrap_err();
    assert!(matches!(err, SnapshotError::Format), "{err}");
}
