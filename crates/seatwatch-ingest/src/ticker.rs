//! Tick records: how the wall clock enters the log for `clock = "wall"` tenants.
//!
//! Elapsed-time rules must fire on time even when nothing happens, and replay must give
//! the same result. So the server never lets the wall clock into a projection directly:
//! once per `tick_interval` (at most once a second, aligned to whole seconds) it appends
//! a tick record (`type` tick, `source` "server", `ts` = the server's clock) for every
//! wall-clock tenant that has an agent logged in or a compliance deadline pending. The
//! projections treat a tick like a heartbeat. Idle tenants get no ticks, so an idle
//! centre's log does not grow.
//!
//! A tick promises that nothing stamped before its `ts` is still coming. With the
//! tenant's `tick_lateness` (default 0) the server promises that only for `now −
//! tick_lateness`: an agent's event delayed on its way by up to that long then still
//! counts before the deadline it beat, and alarms fire that much later (within
//! `tick_lateness` + 1 s of their deadline).

use crate::server::AppState;
use crate::telemetry;
use seatwatch_log::Pending;
use seatwatch_model::{Event, EventKind, Ts};
use std::sync::Arc;
use std::time::Duration;

/// Run until shutdown.
pub async fn run(state: Arc<AppState>) {
    let every = Duration::from_millis(state.config.server.tick_interval.0.max(1000));
    loop {
        // Align to whole seconds of the wall clock.
        let now_ms = chrono::Utc::now().timestamp_subsec_millis();
        let wait = every.saturating_sub(Duration::from_millis(u64::from(now_ms) % 1000));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {},
            _ = state.shutdown.cancelled() => return,
        }
        if !state.is_ready() {
            continue;
        }
        let Some(now) = Ts::from_datetime(&chrono::Utc::now()) else { continue };
        let promised = |tenant: &str| Ts {
            nanos: now.nanos.saturating_sub(state.config.tenant(tenant).tick_lateness.as_nanos()),
            ..now
        };
        let tenants: Vec<(String, Ts)> = match state.engine.read() {
            Ok(e) => e
                .tenants()
                .into_iter()
                .map(|t| {
                    let ts = promised(&t);
                    (t, ts)
                })
                .filter(|(t, ts)| e.needs_tick(t, *ts))
                .collect(),
            Err(_) => return,
        };
        if tenants.is_empty() {
            continue;
        }
        let batch: Vec<Pending> = tenants
            .into_iter()
            .map(|(tenant, ts)| Pending {
                tenant: tenant.into(),
                source: "server".into(),
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
