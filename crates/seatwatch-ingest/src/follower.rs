//! Folds committed records into the projections, in log order, and fans out pushes.

use crate::server::AppState;
use seatwatch_model::Projector;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio_util::sync::CancellationToken;

/// Records applied per write-lock hold, so readers are never blocked for long.
const CHUNK: usize = 4096;

/// Apply every record after the engine's position up to the log's head; returns how
/// many were applied.
pub fn catch_up(state: &AppState) -> Result<u64, seatwatch_log::LogError> {
    let mut applied = 0;
    loop {
        let head = state.log.head().last_seq;
        let pos = state.engine.read().map(|e| e.position()).unwrap_or(head);
        if pos >= head {
            return Ok(applied);
        }
        let records: Vec<_> = state.log.read_from(pos + 1).take(CHUNK).collect::<Result<_, _>>()?;
        if records.is_empty() {
            return Ok(applied);
        }
        let pushes = {
            let Ok(mut engine) = state.engine.write() else { return Ok(applied) };
            // Pushes are JSON built for every agent-state change and alarm: build them
            // only while someone listens on /v1/stream. The folded state is the same
            // either way (the change log only feeds `take_pushes`); a subscriber sees
            // the pushes of the records folded from the next chunk after it subscribed.
            let listening = state.pushes.listening();
            if engine.change_log() != listening {
                engine.set_change_log(listening);
            }
            engine.apply_run(&records);
            engine.take_pushes()
        };
        applied += records.len() as u64;
        for p in pushes {
            state.pushes.send(p);
        }
        // Per chunk, not per catch-up: under a steady stream of commits one catch-up
        // can run on, and reads waiting for their own commit to be folded (and the
        // ticker) should not wait for it to end.
        state.folded.notify_waiters();
    }
}

/// Run until `stop` is cancelled: wait for commits, fold them. After `stop`, fold what
/// is left and return.
///
/// The fold runs on one blocking thread for the server's life, which waits for the next
/// commit itself: a commit costs one wake-up, not a task handed to the blocking pool and
/// back.
pub async fn run(state: Arc<AppState>, stop: CancellationToken) {
    let handle = tokio::runtime::Handle::current();
    if let Err(e) = tokio::task::spawn_blocking(move || follow(&state, &stop, &handle)).await {
        tracing::error!(error = %e, "projection task failed");
    }
}

fn follow(state: &AppState, stop: &CancellationToken, handle: &tokio::runtime::Handle) {
    let mut commits = state.log.subscribe();
    loop {
        let mut retry = false;
        match catch_up(state) {
            Ok(n) if n > 0 => tracing::trace!(applied = n, "projections advanced"),
            Ok(_) => {}
            Err(e) => {
                // E.g. the log is being reopened after a failed write (a full disk): try
                // again shortly, not only at the next commit, which may never come.
                tracing::error!(error = %e, "cannot read the log; projections stall until it can be read");
                retry = true;
            }
        }
        // Ready only once a fold reached the log's end: a read error during the start-up
        // fold keeps the read API's 503, not a partial 200.
        if !state.is_ready() && !retry {
            state.ready.store(true, Ordering::Release);
            tracing::info!(position = state.log.head().last_seq, "projections caught up");
        }
        if stop.is_cancelled() {
            return;
        }
        handle.block_on(async {
            tokio::select! {
                r = commits.changed() => if r.is_err() { stop.cancelled().await },
                _ = stop.cancelled() => {},
                _ = tokio::time::sleep(std::time::Duration::from_millis(200)), if retry => {},
            }
        });
    }
}
