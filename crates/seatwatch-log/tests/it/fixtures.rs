//! Events and envelopes for the tests: every kind, extra fields, hashed callers.

use seatwatch_log::Pending;
use seatwatch_model::{
    AgentId, CallId, CallerKey, CallerPolicy, CallerRef, Date, Envelope, Event, EventKind, QueueId, ShiftHours,
    TimeOfDay, Ts,
};

/// 2026-03-02T09:00:00+08:00.
pub const T0: i64 = 1_772_413_200;

pub fn ts(secs: i64) -> Ts {
    Ts { nanos: (T0 + secs) * 1_000_000_000 + 125_000_000, offset_secs: 8 * 3600 }
}

/// One event of every kind (the same order as `EventKind`'s variants).
pub fn every_kind() -> Vec<EventKind> {
    let key = CallerKey([7; 32]);
    let caller = CallerRef::protect(CallerPolicy::Hmac, &key, "acme", "+8613800138000");
    let plain = CallerRef::protect(CallerPolicy::Plain, &key, "acme", "+8613800138001");
    let c = || CallId::from("c-1");
    let q = || QueueId::from("billing");
    let d = |s: &str| Date::parse(s).unwrap_or(Date(0));
    vec![
        EventKind::Login { station: "st-12".into() },
        EventKind::Logout,
        EventKind::Ready,
        EventKind::NotReady { reason: Some("lunch".into()) },
        EventKind::Queued {
            call: c(),
            queue: q(),
            caller: caller.clone(),
            emergency: true,
            priority: Some("emergency".into()),
        },
        EventKind::Abandoned { call: c(), queue: q() },
        EventKind::Offered { call: c(), queue: Some(q()), caller: plain, emergency: false, priority: None },
        EventKind::Answered { call: c(), rings: Some(2) },
        EventKind::Missed { call: c() },
        EventKind::Ended { call: c() },
        EventKind::WrapUp { call: Some(c()) },
        EventKind::SurveyOffered { call: c() },
        EventKind::Transferred { call: c(), to: "a-2".into() },
        EventKind::Heartbeat,
        EventKind::Roster { certified: true, name: Some("王芳".into()), active: true },
        EventKind::Shift {
            date: d("2026-03-03"),
            hours: Some(ShiftHours { start: TimeOfDay(8 * 3600 + 1800), end: TimeOfDay(17 * 3600 + 2100) }),
        },
        EventKind::LeaveApproved { from: d("2026-03-04"), to: d("2026-03-06"), by: "sup-1".into() },
        EventKind::BusyApproved { until: ts(3600), by: "sup-1".into() },
        EventKind::Monitored { call: Some(c()), by: "qa-1".into() },
        EventKind::CallbackSampled { call: None, by: "qa-1".into() },
        EventKind::CallbackPromised { call: c(), due: ts(7200) },
        EventKind::CallbackDone { call: c() },
        EventKind::Escalated { call: c() },
        EventKind::Tick,
    ]
}

/// A pending event of `kind` with id `id` (ticks get an empty id and source `server`).
pub fn pending_kind(i: i64, id: &str, kind: EventKind) -> Pending {
    let tick = matches!(kind, EventKind::Tick);
    let agent = kind.has_agent().then(|| AgentId::from("a017"));
    Pending {
        tenant: "acme".into(),
        source: if tick { "server".into() } else { "acd-1".into() },
        received: ts(i + 1),
        event: Event {
            id: if tick { String::new().into() } else { id.into() },
            ts: ts(i),
            agent,
            kind,
            extra: (i % 3 == 0).then(|| format!(r#"{{"skill":"vip","n":{i}}}"#)),
        },
    }
}

/// A heartbeat with the given id.
pub fn hb(id: &str) -> Pending {
    pending_kind(0, id, EventKind::Heartbeat)
}

/// The golden envelopes: every kind, seq 1.., extras on some, a hashed caller.
pub fn golden_envelopes() -> Vec<Envelope> {
    every_kind()
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            let p = pending_kind(i as i64, &format!("e-{i}"), k);
            Envelope { seq: i as u64 + 1, tenant: p.tenant, source: p.source, received: p.received, event: p.event }
        })
        .collect()
}

/// The envelope a pending event becomes at `seq`.
pub fn envelope(seq: u64, p: &Pending) -> Envelope {
    Envelope { seq, tenant: p.tenant.clone(), source: p.source.clone(), received: p.received, event: p.event.clone() }
}
