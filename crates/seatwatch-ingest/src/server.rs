//! The listener: one router for ingest, reads, `/metrics` and health; graceful shutdown.

use crate::{api, connection, follower, snapshot, telemetry, ticker};
use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use seatwatch_config::{Config, TokenTable};
use seatwatch_engine::{Engine, Push};
use seatwatch_log::Log;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Options that come from the command line rather than the config file.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Accept every request as an admin of tenant `default` (loopback only; the binary
    /// checks the address).
    pub no_auth: bool,
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// Tokens by the SHA-256 of their secret.
    pub tokens: TokenTable,
    /// `--no-auth`.
    pub no_auth: bool,
    /// The log.
    pub log: Log,
    /// The projections, folded from the log by the follower.
    pub engine: Arc<RwLock<Engine>>,
    /// Pushes for `/v1/stream`, one channel per tenant.
    pub pushes: PushHub,
    /// Permits for WebSocket connections (the connection cap).
    pub connections: Arc<Semaphore>,
    /// Cancelled when the server should stop.
    pub shutdown: CancellationToken,
    /// Every connection and background task, so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// The Prometheus recorder's handle.
    pub metrics: PrometheusHandle,
    /// Set once the projections caught up with the log as it was at start.
    pub ready: AtomicBool,
    /// Notified after the follower folded new records (the ticker then looks at the
    /// deadlines again: a fold adds deadlines and fires those a tick carried past).
    pub folded: tokio::sync::Notify,
    /// Open WebSocket connections (for `/metrics`).
    pub open_connections: AtomicU64,
    /// Ingest frames read off sockets so far (tests use it to see backpressure work).
    pub frames_read: AtomicU64,
    /// The accept loop's counters (sockets open, shed, timed out).
    pub sockets: crate::listener::SocketStats,
    /// Per-token event rate limits.
    pub rates: crate::limits::RateLimits,
}

impl AppState {
    /// Build the shared state around an open log.
    pub fn new(config: Config, log: Log, opts: ServerOptions, shutdown: CancellationToken) -> Arc<Self> {
        let engine = Engine::new(&config);
        Self::with_engine(config, log, engine, opts, shutdown)
    }

    /// Build the shared state around an open log and an engine restored from a snapshot.
    pub fn with_engine(
        config: Config,
        log: Log,
        engine: Engine,
        opts: ServerOptions,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let pushes = PushHub::default();
        Arc::new(AppState {
            tokens: config.token_table(),
            connections: Arc::new(Semaphore::new(config.server.max_connections)),
            config: Arc::new(config),
            no_auth: opts.no_auth,
            log,
            engine: Arc::new(RwLock::new(engine)),
            pushes,
            shutdown,
            tracker: TaskTracker::new(),
            metrics: telemetry::handle(),
            ready: AtomicBool::new(false),
            folded: tokio::sync::Notify::new(),
            open_connections: AtomicU64::new(0),
            frames_read: AtomicU64::new(0),
            sockets: crate::listener::SocketStats::default(),
            rates: crate::limits::RateLimits::default(),
        })
    }

    /// Whether the projections have caught up.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// How many pushes a `/v1/stream` subscriber may fall behind before it is told it
/// `lagged`.
const PUSH_BUFFER: usize = 4096;

/// `/v1/stream`'s fan-out: one broadcast channel per tenant, so a subscriber keeps up or
/// lags with its own tenant's traffic only (a shared channel told an idle tenant's
/// subscriber how much another tenant had sent, as a `lagged` count).
#[derive(Debug, Default)]
pub struct PushHub {
    channels: std::sync::RwLock<std::collections::HashMap<String, broadcast::Sender<Arc<Push>>>>,
}

impl PushHub {
    /// Subscribe to `tenant`'s pushes.
    pub fn subscribe(&self, tenant: &str) -> broadcast::Receiver<Arc<Push>> {
        let mut channels = self.channels.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Channels nobody listens to any more are dropped (each holds PUSH_BUFFER slots).
        channels.retain(|name, c| name == tenant || c.receiver_count() > 0);
        channels.entry(tenant.to_owned()).or_insert_with(|| broadcast::channel(PUSH_BUFFER).0).subscribe()
    }

    /// Whether anyone listens to any tenant.
    pub fn listening(&self) -> bool {
        let channels = self.channels.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        channels.values().any(|c| c.receiver_count() > 0)
    }

    /// Send `push` to its tenant's subscribers, if any.
    pub fn send(&self, push: Push) {
        let channels = self.channels.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = channels.get(&push.tenant)
            && c.receiver_count() > 0
        {
            let _ = c.send(Arc::new(push));
        }
    }
}

/// The longest backlog folded before the server accepts its first request (well under a
/// second of folding).
const QUICK_FOLD_RECORDS: u64 = 20_000;

/// The router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/ingest", get(connection::ingest))
        .route("/v1/agents", get(api::agents))
        .route("/v1/queues", get(api::queues))
        .route("/v1/intervals", get(api::intervals))
        .route("/v1/windows", get(api::windows))
        .route("/v1/alarms", get(api::alarms))
        .route("/v1/stream", get(api::stream))
        .route("/v1/log", get(api::log))
        .route("/v1/head", get(api::head))
        .route("/metrics", get(api::metrics))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .fallback(api::not_found)
        .with_state(state)
}

/// Serve until `state.shutdown` is cancelled, then: stop accepting, let every open
/// connection answer the frames it already read, let the projections catch up, and
/// close the log (final flush). Returns once all of that is done.
pub async fn run(listener: TcpListener, state: Arc<AppState>) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let tls = match (&state.config.server.tls_cert, &state.config.server.tls_key) {
        (Some(cert), Some(key)) => {
            Some(crate::listener::Tls::from_pem_files(cert, key).map_err(|e| std::io::Error::other(e.to_string()))?)
        }
        _ => None,
    };
    // Every rate-limited token's counter exists from the start, at 0.
    for t in &state.config.tokens {
        if state.config.rate_limit(&t.name).is_some() {
            telemetry::rate_limited(&t.name, 0);
        }
    }
    tracing::info!(%addr, tls = tls.is_some(), "listening");
    // A short backlog (a new log, or one stopped cleanly with its snapshot) is folded
    // before the first request is accepted, so a client that connects as soon as the
    // port opens gets answers, not the read API's 503 "catching up". A long one is
    // folded while `/readyz` says 503.
    let backlog = state
        .log
        .head()
        .last_seq
        .saturating_sub(state.engine.read().map(|e| seatwatch_model::Projector::position(&*e)).unwrap_or(0));
    if backlog <= QUICK_FOLD_RECORDS {
        let st = state.clone();
        if let Ok(Ok(_)) = tokio::task::spawn_blocking(move || follower::catch_up(&st)).await {
            state.ready.store(true, Ordering::Release);
            tracing::info!(position = state.log.head().last_seq, "projections caught up");
        }
    }
    let stop_follower = CancellationToken::new();
    // Should this future be dropped half-way (its runtime shutting down under it), the
    // follower's blocking thread must still stop, or the runtime's drop waits for it.
    let _stop_follower_on_drop = stop_follower.clone().drop_guard();
    let follower = tokio::spawn(follower::run(state.clone(), stop_follower.clone()));
    let ticker = state.tracker.spawn(ticker::run(state.clone()));
    let snapshots = state.tracker.spawn(snapshot::run(state.clone()));
    let app = router(state.clone());
    match tls {
        Some(tls) => crate::listener::serve(listener, app, state.clone(), tls).await,
        None => crate::listener::serve(listener, app, state.clone(), crate::listener::PlainTcp).await,
    }
    let served: std::io::Result<()> = Ok(());
    tracing::info!("stopped accepting; answering what was received");
    state.tracker.close();
    state.tracker.wait().await;
    drop(ticker);
    drop(snapshots);
    // Every frame that was read has been answered; let the fold see the last records.
    stop_follower.cancel();
    if let Err(e) = follower.await {
        tracing::error!(error = %e, "projection follower failed");
    }
    // A snapshot of the final state, so that the next start folds nothing.
    if state.config.server.snapshot_interval.0 > 0 {
        let st = state.clone();
        match tokio::task::spawn_blocking(move || snapshot::take(&st)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not write the shutdown snapshot"),
            Err(e) => tracing::warn!(error = %e, "the shutdown snapshot task failed"),
        }
    }
    if let Err(e) = state.log.close() {
        tracing::error!(error = %e, "closing the log failed");
        return Err(std::io::Error::other(e.to_string()));
    }
    tracing::info!(last_seq = state.log.head().last_seq, "log flushed and closed");
    served
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(tenant: &str, n: usize) -> Push {
        Push { tenant: tenant.into(), json: format!("{{\"n\":{n}}}") }
    }

    #[test]
    fn a_tenant_subscriber_neither_sees_nor_lags_behind_another_tenants_pushes() {
        let hub = PushHub::default();
        assert!(!hub.listening());
        let mut globex = hub.subscribe("globex");
        assert!(hub.listening());
        // Another tenant's burst, larger than the buffer, while globex is idle.
        for n in 0..PUSH_BUFFER + 100 {
            hub.send(push("acme", n));
        }
        hub.send(push("globex", 1));
        let first = globex.try_recv().expect("globex's own push, not a `lagged` count of acme's");
        assert_eq!(*first, push("globex", 1));
        assert!(globex.try_recv().is_err(), "nothing of acme's");
        // Its own burst does lag it, with its own count.
        for n in 0..PUSH_BUFFER + 3 {
            hub.send(push("globex", n));
        }
        assert!(matches!(globex.try_recv(), Err(broadcast::error::TryRecvError::Lagged(3))));
        drop(globex);
        assert!(!hub.listening(), "a dropped subscriber stops the pushes being built");
        let _acme = hub.subscribe("acme");
        assert_eq!(hub.channels.read().unwrap().len(), 1, "globex's unused channel was dropped");
    }
}
