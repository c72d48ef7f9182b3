//! The accept loop: HTTP/1.1 (with WebSocket upgrades) over TCP, hardened against
//! clients that hold sockets without talking.
//!
//! * a socket cap (`[server] max_sockets`): connections beyond it are accepted and
//!   closed at once, so the process never runs out of file descriptors and a flood is
//!   shed cheaply;
//! * a request-head deadline (`[server] handshake_timeout`): a connection that has not
//!   delivered a whole request head within it — after opening, or after its previous
//!   request on a kept-alive connection — is closed (slowloris); the TLS handshake, when
//!   TLS is on, is bounded by the same deadline;
//! * accept errors (`EMFILE` and the like) are logged and retried after a short pause
//!   instead of ending the server.
//!
//! HTTP/2 is not offered: every client of Seatwatch speaks HTTP/1.1, and one protocol
//! is less to harden.

use crate::server::AppState;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

/// Counters of the accept loop, for tests (`/metrics` counts the same things in the
/// process's recorder: `seatwatch_sockets_*`).
#[derive(Debug, Default)]
pub struct SocketStats {
    /// TCP connections accepted.
    pub accepted: AtomicU64,
    /// Connections closed at once because `max_sockets` were open.
    pub shed: AtomicU64,
    /// Connections closed because no whole request head (or TLS handshake) arrived in time.
    pub timed_out: AtomicU64,
    /// Sockets open now.
    pub open: AtomicU64,
}

/// Something that turns an accepted TCP stream into the stream HTTP is spoken over
/// (identity for plain TCP, a TLS handshake for HTTPS).
pub trait Handshake: Clone + Send + Sync + 'static {
    /// The stream after the handshake.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Perform it.
    fn handshake(
        &self,
        tcp: tokio::net::TcpStream,
    ) -> impl std::future::Future<Output = std::io::Result<Self::Io>> + Send;
}

/// Plain TCP.
#[derive(Clone, Copy, Debug)]
pub struct PlainTcp;

impl Handshake for PlainTcp {
    type Io = tokio::net::TcpStream;
    async fn handshake(&self, tcp: tokio::net::TcpStream) -> std::io::Result<Self::Io> {
        Ok(tcp)
    }
}

/// Accept and serve until `state.shutdown` is cancelled; then stop accepting, let each
/// HTTP connection finish its request in progress, and return once all have closed
/// (upgraded WebSockets are tracked by `state.tracker`, not here).
pub async fn serve<H: Handshake>(listener: TcpListener, app: Router, state: Arc<AppState>, hs: H) {
    let cfg = &state.config.server;
    let sockets = Arc::new(Semaphore::new(cfg.max_sockets));
    let head_timeout = Duration::from_millis(cfg.handshake_timeout.0.max(1));
    let connections = TaskTracker::new();
    let mut shed_logged = 0u64;
    loop {
        let accepted = tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE/ENFILE/ENOBUFS and the like: the listener is fine; back off briefly.
                tracing::warn!(error = %e, "accepting a connection failed; retrying shortly");
                tokio::select! {
                    _ = state.shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                }
            }
        };
        state.sockets.accepted.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::socket_accepted();
        let Ok(permit) = sockets.clone().try_acquire_owned() else {
            crate::telemetry::socket_shed();
            let shed = state.sockets.shed.fetch_add(1, Ordering::Relaxed) + 1;
            if shed >= shed_logged * 2 {
                // Logged at 1, 2, 4, 8, … so a flood cannot flood the log too.
                shed_logged = shed;
                tracing::warn!(max_sockets = cfg.max_sockets, shed, "socket cap reached; closing new connections");
            }
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (app, state2, hs) = (app.clone(), state.clone(), hs.clone());
        connections.spawn(async move {
            state2.sockets.open.fetch_add(1, Ordering::Relaxed);
            serve_one(tcp, peer, app, &state2, hs, head_timeout).await;
            state2.sockets.open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    connections.close();
    connections.wait().await;
}

async fn serve_one<H: Handshake>(
    tcp: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    app: Router,
    state: &AppState,
    hs: H,
    head_timeout: Duration,
) {
    let io = match tokio::time::timeout(head_timeout, hs.handshake(tcp)).await {
        Ok(Ok(io)) => io,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "handshake failed");
            return;
        }
        Err(_) => {
            state.sockets.timed_out.fetch_add(1, Ordering::Relaxed);
            crate::telemetry::socket_timed_out();
            tracing::debug!(%peer, "handshake timed out");
            return;
        }
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(head_timeout).keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(app)).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = state.shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            state.sockets.timed_out.fetch_add(1, Ordering::Relaxed);
            crate::telemetry::socket_timed_out();
            tracing::debug!(%peer, "no whole request head in time; connection closed");
        } else {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// Why the TLS certificate or key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read the TLS {what} {}: {source}", path.display())]
    Read {
        /// "certificate" or "key".
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no usable PEM item.
    #[error("the TLS {what} file {} holds no {expected} in PEM form", path.display())]
    Empty {
        /// "certificate" or "key".
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// What was looked for.
        expected: &'static str,
    },
    /// rustls refused the pair.
    #[error("the TLS certificate and key cannot be used together: {0}")]
    Rustls(String),
}

/// HTTPS/WSS: a rustls handshake (TLS 1.2 and 1.3, ring's cipher suites, HTTP/1.1 via ALPN).
#[derive(Clone)]
pub struct Tls(tokio_rustls::TlsAcceptor);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

impl Tls {
    /// Load a PEM certificate chain and its private key.
    pub fn from_pem_files(cert: &std::path::Path, key: &std::path::Path) -> Result<Tls, TlsError> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let read = |what: &'static str, path: &std::path::Path| {
            std::fs::read(path).map_err(|source| TlsError::Read { what, path: path.to_path_buf(), source })
        };
        let cert_pem = read("certificate", cert)?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&cert_pem).filter_map(Result::ok).collect();
        if chain.is_empty() {
            return Err(TlsError::Empty { what: "certificate", path: cert.to_path_buf(), expected: "CERTIFICATE" });
        }
        let key_pem = read("key", key)?;
        let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::Empty {
            what: "key",
            path: key.to_path_buf(),
            expected: "PRIVATE KEY (PKCS#8, RSA or EC)",
        })?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rustls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))))
    }
}

impl Handshake for Tls {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    async fn handshake(&self, tcp: tokio::net::TcpStream) -> std::io::Result<Self::Io> {
        self.0.accept(tcp).await
    }
}
