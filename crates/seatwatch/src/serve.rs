//! `seatwatch serve`.

use crate::cli::{ServeArgs, StartCheck};
use anyhow::{Context, Result, bail};
use seatwatch_config::Config;
use seatwatch_ingest::{AppState, ServerOptions};
use seatwatch_log::{Log, OpenCheck, OpenOptions};
use std::path::Path;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Read and check a configuration file.
pub fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        None => Ok(Config::default()),
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("cannot read the config file {}", p.display()))?;
            Config::parse(&text).with_context(|| format!("the config file {} is not valid", p.display()))
        }
    }
}

pub fn run(a: ServeArgs) -> Result<ExitCode> {
    crate::init_tracing("info");
    let config = load_config(a.config.as_deref())?;
    if config.tokens.is_empty() && !a.no_auth {
        bail!(
            "no token is configured, so nobody could send or read anything.\n\
             Make one with `seatwatch token --name acd-1 --tenant acme --role producer`, put the printed \
             [[token]] lines in a config file and pass it with --config FILE \
             (or, for a local trial only, use --no-auth on a loopback address)"
        );
    }
    for ignored in config.ignored_settings() {
        tracing::warn!("{ignored}");
    }
    let untabled = config.tenants_without_table();
    if !untabled.is_empty() {
        // Allowed (such a tenant uses the defaults), but a typo in a token's tenant looks
        // exactly like this, and silently makes a separate tenant.
        tracing::warn!(
            tenants = %untabled.join(", "),
            "tokens name tenants that have no [tenant.NAME] table in the config file; they use the default \
             settings ([defaults], else the built-in ones). If a name is a typo, correct the token's tenant"
        );
    }
    if a.no_auth && !a.listen.ip().is_loopback() {
        bail!("--no-auth is allowed on loopback addresses only (127.0.0.1, ::1), not {}", a.listen);
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let check = match a.start_check {
        StartCheck::Background => OpenCheck::Checkpoint,
        StartCheck::Full => OpenCheck::Full,
    };
    runtime.block_on(serve(config, &a.data, a.listen, ServerOptions { no_auth: a.no_auth }, check))?;
    Ok(ExitCode::SUCCESS)
}

/// Open the data directory, serve until SIGINT/SIGTERM, shut down cleanly.
///
/// With [`OpenCheck::Checkpoint`] the records before the log's checkpoint are checked
/// while the server runs; if one is bad, the server shuts down cleanly (answering what
/// it received) and this returns the corruption error, like a failed start.
pub async fn serve(
    config: Config,
    data: &Path,
    listen: std::net::SocketAddr,
    opts: ServerOptions,
    check: OpenCheck,
) -> Result<()> {
    let log = {
        let dir = data.to_path_buf();
        tokio::task::spawn_blocking(move || Log::open_with(&dir, OpenOptions { check, ..OpenOptions::default() }))
            .await
            .context("opening the log failed")?
            .with_context(|| format!("cannot open the data directory {}", data.display()))?
    };
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let shutdown = CancellationToken::new();
    // The newest valid snapshot, if any: then only the log's tail is folded.
    let engine = {
        let (config, log) = (config.clone(), log.clone());
        tokio::task::spawn_blocking(move || seatwatch_ingest::snapshot::load(&config, &log))
            .await
            .context("loading a snapshot failed")?
    };
    let state = match engine {
        Some(engine) => AppState::with_engine(config, log, engine, opts, shutdown.clone()),
        None => AppState::new(config, log, opts, shutdown.clone()),
    };
    tokio::spawn(signals(shutdown.clone()));
    // The background check of the log (instant after a full check): a bad record stops
    // the server, which then exits as if it had refused to start.
    let check = {
        let verified = state.log.verified();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let r = tokio::select! {
                r = verified => r,
                () = shutdown.cancelled() => return Ok(()),
            };
            if let Err(e) = &r {
                tracing::error!(error = %e, "the log does not verify; shutting down");
                shutdown.cancel();
            }
            r
        })
    };
    tracing::info!(data = %data.display(), %listen, "seatwatch serving");
    seatwatch_ingest::run(listener, state).await.context("the server failed")?;
    match check.await {
        Ok(Err(e)) => Err(e).with_context(|| format!("the log in {} does not verify", data.display())),
        _ => Ok(()),
    }
}

/// Cancel `shutdown` on SIGINT or SIGTERM. The handlers are installed when this is
/// *called* (in a runtime), not when the returned future is first polled: a SIGTERM that
/// arrives right after start-up is then a graceful shutdown, never the default action's
/// abrupt exit.
pub fn signals(shutdown: CancellationToken) -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
                        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                    }
                }
                (term, int) => {
                    for e in [term.err(), int.err()].into_iter().flatten() {
                        tracing::warn!(error = %e, "cannot watch a signal; only Ctrl-C stops the server");
                    }
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            shutdown.cancel();
        }
    }
    #[cfg(not(unix))]
    async move {
        let _ = tokio::signal::ctrl_c().await;
        shutdown.cancel();
    }
}
