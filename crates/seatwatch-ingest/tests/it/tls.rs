//! Optional TLS: with `[server] tls_cert` and `tls_key` the listener speaks only HTTPS
//! and WSS. Tested with a certificate the test makes (rcgen) and a client that trusts
//! exactly it.

use crate::harness::*;
use futures_util::{SinkExt, StreamExt};
use rustls_pki_types::{CertificateDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A self-signed certificate for 127.0.0.1 and localhost; its files and its DER.
fn make_cert(dir: &Path) -> (String, CertificateDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let extra = format!(
        "[server]\ntls_cert = {:?}\ntls_key = {:?}\nhandshake_timeout = \"1s\"\n",
        cert_path.to_str().unwrap(),
        key_path.to_str().unwrap()
    );
    (extra, cert.der().clone())
}

fn connector(trusted: CertificateDer<'static>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_stream(
    srv: &Server,
    trusted: CertificateDer<'static>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(srv.addr).await?;
    connector(trusted).connect(ServerName::try_from("127.0.0.1").unwrap().to_owned(), tcp).await
}

#[tokio::test]
async fn https_and_wss_with_a_test_made_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (extra, der) = make_cert(dir.path());
    let srv = Server::start(&dir.path().join("data"), config(&extra)).await;

    // WSS ingest: events are stored and acknowledged as over plain WebSockets.
    let stream = tls_stream(&srv, der.clone()).await.unwrap();
    let mut req = format!("wss://127.0.0.1:{}/v1/ingest", srv.addr.port()).into_client_request().unwrap();
    req.headers_mut().insert("Authorization", format!("Bearer {ACME_ACD}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(req, stream).await.unwrap();
    let e = ev("tls-1", "login", "2026-03-02T08:20:00+08:00", Some("a1"), r#","station":"S1""#);
    ws.send(Message::text(e)).await.unwrap();
    let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("no reply") };
    let r: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
    assert_eq!(r["accepted"], 1, "{r}");
    srv.caught_up().await;

    // HTTPS read with the same authentication rules.
    let mut s = tls_stream(&srv, der.clone()).await.unwrap();
    let req = format!(
        "GET /v1/agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ACME_READER}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"a1\""), "{text}");
    let mut s = tls_stream(&srv, der.clone()).await.unwrap();
    s.write_all(b"GET /v1/agents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 401"));

    // Plain HTTP on the TLS port gets no HTTP answer; the server goes on.
    let mut plain = TcpStream::connect(srv.addr).await.unwrap();
    plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(15), plain.read_to_end(&mut buf)).await.unwrap();
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"), "plain HTTP served on the TLS port");
    // A client that opens TCP and never starts the handshake is cut off after the timeout.
    let mut silent = TcpStream::connect(srv.addr).await.unwrap();
    let mut b = [0u8; 16];
    let n = tokio::time::timeout(std::time::Duration::from_secs(15), silent.read(&mut b)).await.unwrap();
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    // A client that trusts another certificate refuses the server's.
    let (_, other) = make_cert(&dir.path().join("x").tap_mkdir());
    assert!(tls_stream(&srv, other).await.is_err());
    // And the WSS producer is still connected and served.
    ws.send(Message::text(ev("tls-2", "heartbeat", "2026-03-02T08:21:00+08:00", None, ""))).await.unwrap();
    let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("no reply") };
    assert!(t.as_str().contains("\"accepted\":1"), "{t}");
    drop(ws);
    srv.stop().await;
}

#[test]
fn a_bad_certificate_or_key_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    let e = seatwatch_ingest::listener::Tls::from_pem_files(&missing, &missing).unwrap_err().to_string();
    assert!(e.contains("nope.pem") && e.contains("certificate"), "{e}");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a pem").unwrap();
    let e = seatwatch_ingest::listener::Tls::from_pem_files(&junk, &junk).unwrap_err().to_string();
    assert!(e.contains("junk.pem") && e.contains("CERTIFICATE"), "{e}");
    let (extra, _) = make_cert(dir.path());
    let _ = extra;
    let e =
        seatwatch_ingest::listener::Tls::from_pem_files(&dir.path().join("cert.pem"), &junk).unwrap_err().to_string();
    assert!(e.contains("key") && e.contains("junk.pem"), "{e}");
    // Only one of the two in the config is refused with both names.
    let e = seatwatch_config::Config::parse("[server]\ntls_cert = \"a.pem\"\n").unwrap_err().to_string();
    assert!(e.contains("tls_cert") && e.contains("tls_key"), "{e}");
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}
