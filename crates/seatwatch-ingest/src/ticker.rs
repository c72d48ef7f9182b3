//! Tick records: how the wall clock enters the log for `clock = "wall"` tenants.
//!
//! Elapsed-time rules must fire on time even when nothing happens, and replay must give
//! the same result. So the server never lets the wall clock into a projection directly:
//! once per `tick_interval` (at most once a second, aligned to whole seconds), and once
//! more when a tenant's next compliance deadline comes due, it appends a tick record
//! (`type` tick, `source` "server", `ts` = the server's clock minus the tenant's
//! `tick_lateness`) for every wall-clock tenant that has an agent logged in or a
//! compliance deadline pending. The projections treat a tick like a heartbeat. Idle tenants get no ticks, so an idle
//! centre's log does not grow.
//!
//! A tick promises that nothing stamped before its `ts` is still coming. With the
//! tenant's `tick_lateness` (default 500 ms) the server promises that only for `now −
//! tick_lateness`: an agent's event delayed on its way by up to that long still counts
//! before the deadline it beat, and an alarm fires `tick_lateness` after its deadline
//! (the wake-up at the deadline, [`next_deadline_wait`]), plus the time to write and fold
//! the tick.

use crate::server::AppState;
use crate::telemetry;
use seatwatch_log::Pending;
use seatwatch_model::{Event, EventKind, Ts};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The shortest time between two looks at the deadlines after folds: a deadline a fold
/// added is noticed this much later at most (its tick is due `tick_lateness` after it).
const LOOK_GAP: Duration = Duration::from_millis(20);

/// How soon to try again when a fold holds the projections at a tick's time.
const LOCK_RETRY: Duration = Duration::from_millis(1);

/// Run until shutdown.
pub async fn run(state: Arc<AppState>) {
    let every = Duration::from_millis(state.config.server.tick_interval.0.max(1000));
    // Whole seconds of the wall clock (and every `tick_interval`): every tenant that needs
    // a tick gets one.
    let aligned = || {
        let now_ms = chrono::Utc::now().timestamp_subsec_millis();
        Instant::now() + every.saturating_sub(Duration::from_millis(u64::from(now_ms) % 1000))
    };
    let mut next_periodic = aligned();
    // The newest tick written per tenant: a deadline it carried past needs no wake-up.
    let mut covered: HashMap<String, i64> = HashMap::new();
    loop {
        // Registered before the deadlines are read, so a fold in between is not missed.
        let folded = state.folded.notified();
        tokio::pin!(folded);
        folded.as_mut().enable();
        let looked = Instant::now();
        let wake =
            next_deadline_wait(&state, &covered).map_or(next_periodic, |w| next_periodic.min(Instant::now() + w));
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {},
            // New records folded: deadlines added, or fired by the last tick; look again,
            // at most every LOOK_GAP (a busy server folds thousands of times a second, and
            // each look takes the projections' lock).
            _ = &mut folded => {
                tokio::select! {
                    _ = tokio::time::sleep_until(looked + LOOK_GAP) => {},
                    _ = state.shutdown.cancelled() => return,
                }
                continue;
            }
            _ = state.shutdown.cancelled() => return,
        }
        let periodic = Instant::now() >= next_periodic;
        if !state.is_ready() {
            if periodic {
                next_periodic = aligned();
            }
            continue;
        }
        let Some(now) = Ts::from_datetime(&chrono::Utc::now()) else { continue };
        let promised = |tenant: &str| Ts {
            nanos: now.nanos.saturating_sub(state.config.tenant(tenant).tick_lateness.as_nanos()),
            ..now
        };
        // Never wait for the lock on an async thread (the follower holds it while it
        // folds, up to milliseconds): a fold in progress is looked at again shortly.
        let read: Option<Vec<(String, Ts)>> = match state.engine.try_read() {
            Ok(e) => Some(
                e.tenants()
                    .into_iter()
                    .map(|t| {
                        let ts = promised(&t);
                        (t, ts)
                    })
                    .filter(|(t, ts)| e.needs_tick(t, *ts))
                    // Between whole seconds, only the tenants whose next deadline this tick
                    // carries past, and that no tick written already has.
                    .filter(|(t, ts)| {
                        periodic
                            || e.compliance.next_deadline(t).is_some_and(|d| {
                                d.nanos < ts.nanos && covered.get(t.as_str()).is_none_or(|c| *c <= d.nanos)
                            })
                    })
                    .collect(),
            ),
            Err(std::sync::TryLockError::WouldBlock) => None,
            Err(std::sync::TryLockError::Poisoned(_)) => return,
        };
        let Some(tenants) = read else {
            tokio::time::sleep(LOCK_RETRY).await;
            continue;
        };
        if periodic {
            next_periodic = aligned();
        }
        if tenants.is_empty() {
            continue;
        }
        // Marked before the append: a failing log must not make the wake-up spin.
        for (tenant, ts) in &tenants {
            covered.insert(tenant.clone(), ts.nanos);
        }
        let batch: Vec<Pending> = tenants
            .into_iter()
            .map(|(tenant, ts)| Pending {
                tenant: tenant.into(),
                source: seatwatch_config::SERVER_SOURCE.into(),
                received: now,
                event: Event { id: Default::default(), ts, agent: None, kind: EventKind::Tick, extra: None },
            })
            .collect();
        let n = batch.len();
        match state.log.append(batch).await {
            Ok(_) => (0..n).for_each(|_| telemetry::tick()),
            Err(e) => tracing::warn!(error = %e, "could not write tick records"),
        }
    }
}

/// How long until the earliest pending deadline of a wall-clock tenant can fire: its due
/// time plus the tenant's `tick_lateness`, and a millisecond (deadlines fire strictly
/// after their time). None when no tenant has a deadline that no written tick has
/// already carried past (the fold fires those), or while the server is not ready.
///
/// Without it an alarm waited for the next whole-second tick, up to a second (or a
/// `tick_interval`) after its deadline; with it, `tick_lateness` after it.
fn next_deadline_wait(state: &AppState, covered: &HashMap<String, i64>) -> Option<Duration> {
    if !state.is_ready() {
        return None;
    }
    let now = Ts::from_datetime(&chrono::Utc::now())?.nanos;
    // Locked by a fold in progress: its end notifies the ticker, which looks again.
    let e = state.engine.try_read().ok()?;
    e.tenants()
        .iter()
        .filter(|t| e.is_wall(t))
        .filter_map(|t| {
            let due = e.compliance.next_deadline(t)?.nanos;
            if covered.get(t.as_str()).is_some_and(|c| *c > due) {
                return None;
            }
            let at = due.saturating_add(state.config.tenant(t).tick_lateness.as_nanos()).saturating_add(1_000_000);
            Some(Duration::from_nanos(u64::try_from(at.saturating_sub(now)).unwrap_or(0)))
        })
        .min()
}
