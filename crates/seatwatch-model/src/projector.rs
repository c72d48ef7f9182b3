//! The contract every projection follows.

use crate::{Envelope, EventKind, Ts};

/// A deterministic fold of the log into some state (occupancy, alarms, metrics, ...).
///
/// The log is the truth and a projector is a pure function of it: the server feeds
/// records to projectors as they are committed, and `seatwatch replay` feeds the same
/// records from disk years later, through the same code, and both must end in the same
/// state. This trait is shaped like ripgrep's `Sink`: the caller drives, the
/// implementation only reacts.
///
/// # When each method is called
///
/// * [`Projector::apply`] is called exactly once for every record of the log that the
///   projector has not seen, in strictly increasing `seq` order, with no gaps, whether
///   the record is a producer's event, a heartbeat or a server tick. Records of every
///   tenant arrive interleaved; a projector keeps its state per tenant.
/// * [`Projector::apply_run`] may be called instead of `apply` with a run of such
///   records (consecutive, in `seq` order); it must leave exactly the state that
///   calling `apply` on each of them in order would. The default does just that; a
///   projector made of independent parts may fold each part over the whole run in
///   turn (the engine does, so each part's working set stays in the cache).
/// * [`Projector::position`] may be called at any time; it returns the `seq` of the last
///   record applied, `0` before the first.
///
/// # What `apply` may assume, and what it must not do
///
/// * The envelope passed validation ([`crate::validate_event`]) or is a server tick.
///   Nothing else is guaranteed about the *content*: an agent may never have logged in,
///   a call may be answered twice, a per-agent stream may go back in time. `apply` must
///   handle every such case deterministically and **cannot fail**: there is no error to
///   return, because a record already in the log cannot be refused.
/// * Time is what the log says it is. `apply` must never read the wall clock, a random
///   source, the environment or a file: time advances only through event timestamps,
///   heartbeats and ticks (see [`Clock`]). Before the effects of an event are applied,
///   every deadline the tenant's clock has passed is processed first, so a state that
///   should have fired at 10:15 fires even if the next event, at 10:16, ends it.
/// * `apply` must not depend on how records were batched: applying a log one record at
///   a time or in chunks of any size gives the same state.
/// * Iteration order of any container whose order can leak into results must be
///   deterministic (use `BTreeMap`, or sort before output).
pub trait Projector {
    /// Fold one record into the state. See the trait documentation for the contract.
    fn apply(&mut self, env: &Envelope);

    /// Fold a run of records, as `apply` on each in order would.
    fn apply_run(&mut self, records: &[Envelope]) {
        for env in records {
            self.apply(env);
        }
    }

    /// The `seq` of the last record applied (`0` before the first).
    fn position(&self) -> u64;
}

/// Apply `records` in order. The same function serves live ingest and replay.
pub fn fold<'a, P: Projector + ?Sized>(p: &mut P, records: impl IntoIterator<Item = &'a Envelope>) {
    for env in records {
        p.apply(env);
    }
}

/// A tenant's event-time clock with a watermark.
///
/// Producers only guarantee order per agent; different agents' events may arrive a few
/// seconds out of order. The clock therefore keeps two times:
///
/// * `now`: the greatest timestamp seen (events, heartbeats, ticks);
/// * `watermark`: the time up to which the tenant is known to be complete, so that
///   elapsed-time deadlines strictly before it fire (a limit is exceeded only once time
///   has gone past it: exactly 15 minutes of not-ready is within a 15-minute limit). A
///   heartbeat or server tick moves it
///   to its own `ts` (it says "nothing happened up to ts"); any other event moves it to
///   `ts - allowed_lateness`, because another agent's event from up to
///   `allowed_lateness` earlier may still be on its way. The watermark never goes back.
///
/// Deadlines of the agent an event belongs to that lie strictly before that event's own
/// `ts` fire too (per-agent order is guaranteed); the projector does that itself.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Clock {
    /// How far (in nanoseconds) another agent's event may lag behind.
    pub allowed_lateness: i64,
    now: Option<Ts>,
    watermark: Option<Ts>,
}

impl Clock {
    /// A clock that has seen nothing yet.
    pub fn new(allowed_lateness_nanos: i64) -> Self {
        Clock { allowed_lateness: allowed_lateness_nanos.max(0), now: None, watermark: None }
    }

    /// Observe a record of this tenant; returns the new watermark.
    pub fn observe(&mut self, env: &Envelope) -> Option<Ts> {
        let ts = env.event.ts;
        self.now = Some(self.now.map_or(ts, |n| n.max(ts)));
        let candidate = match env.event.kind {
            EventKind::Heartbeat | EventKind::Tick => ts,
            _ => ts.plus_nanos(-self.allowed_lateness),
        };
        self.watermark = Some(self.watermark.map_or(candidate, |w| w.max(candidate)));
        self.watermark
    }

    /// The greatest timestamp seen.
    pub fn now(&self) -> Option<Ts> {
        self.now
    }

    /// The time up to which the tenant is complete.
    pub fn watermark(&self) -> Option<Ts> {
        self.watermark
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgentId, Event};

    fn env(kind: EventKind, secs: i64) -> Envelope {
        Envelope {
            seq: 1,
            tenant: "t".into(),
            source: "s".into(),
            received: Ts::from_secs(secs),
            event: Event {
                id: "x".into(),
                ts: Ts::from_secs(secs),
                agent: Some(AgentId::from("a")),
                kind,
                extra: None,
            },
        }
    }

    #[test]
    fn heartbeats_move_the_watermark_fully_events_with_lateness() {
        let mut c = Clock::new(5_000_000_000);
        assert_eq!(c.observe(&env(EventKind::Ready, 100)), Some(Ts::from_secs(95)));
        assert_eq!(c.observe(&env(EventKind::Ready, 98)), Some(Ts::from_secs(95)), "never goes back");
        assert_eq!(c.observe(&env(EventKind::Heartbeat, 101)), Some(Ts::from_secs(101)));
        assert_eq!(c.now(), Some(Ts::from_secs(101)));
    }
}
