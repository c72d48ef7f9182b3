//! `seatwatch backup`: copy a running server's log, verbatim, into a data directory of
//! its own, and extend that copy incrementally on later runs.
//!
//! It asks `GET /v1/log?from_seq=N` (admin token) for every record after the copy's
//! head, where the server answers a stream of `[seq u64 BE][len u32 BE][record bytes]`,
//! and appends the records as they are ([`Log::append_raw`] checks that each continues
//! the copy's hash chain). The copy therefore has the same records, the same head hash,
//! and verifies and replays exactly like the original.
//!
//! A new copy (no log in `--out` yet) is made with [`Log::open_with_key`] when a caller
//! key is given (or was copied in), and only after the server has answered the first
//! request: a run that fails before copying anything removes what it made.

use crate::cli::BackupArgs;
use crate::report::progress;
use anyhow::{Context, Result, bail};
use seatwatch_log::{Log, LogError, OpenOptions, RawRecord};
use seatwatch_model::CallerKey;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The content type of `GET /v1/log`.
const LOG_CONTENT_TYPE: &str = "application/vnd.seatwatch.log-v1";
/// Records per durable append.
const BATCH_RECORDS: usize = 4096;
/// Bytes per durable append.
const BATCH_BYTES: usize = 4 << 20;
/// The largest record the stream may announce (a record fits in one log segment).
const MAX_RECORD_BYTES: u32 = 1 << 20;

/// Where the server is: `http[s]://HOST[:PORT][/PREFIX]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    tls: bool,
    host: String,
    port: u16,
    prefix: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else {
            bail!("--url {url:?} must start with http:// or https://, e.g. http://127.0.0.1:7878");
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let port_of = |p: &str| p.parse::<u16>().with_context(|| format!("--url {url:?}: bad port {p:?}"));
        let (host, port) = if authority.starts_with('[') {
            let end = authority.find(']').with_context(|| format!("--url {url:?}: unclosed IPv6 address"))?;
            let (h, rest) = authority.split_at(end + 1);
            match rest.strip_prefix(':') {
                Some(p) => (h.to_owned(), port_of(p)?),
                None if rest.is_empty() => (h.to_owned(), if tls { 443 } else { 80 }),
                None => bail!("--url {url:?}: unexpected {rest:?} after the address"),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), port_of(p)?),
                None => (authority.to_owned(), if tls { 443 } else { 80 }),
            }
        };
        if host.is_empty() {
            bail!("--url {url:?} has no host");
        }
        let mut prefix = path.trim_end_matches('/').to_owned();
        for tail in ["/v1/log", "/v1"] {
            if let Some(p) = prefix.strip_suffix(tail) {
                prefix = p.to_owned();
                break;
            }
        }
        Ok(Target { tls, host, port, prefix })
    }

    fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// A response: status, headers (names lowercased), and the body as a reader.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Box<dyn BufRead>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn text(mut self) -> String {
        let mut s = String::new();
        let _ = self.body.by_ref().take(64 * 1024).read_to_string(&mut s);
        s
    }
}

/// What the client trusts for `https://` URLs.
pub type Trust = Option<Arc<rustls::ClientConfig>>;

/// A TLS client configuration trusting exactly the certificates in the PEM file `ca`
/// (the server's own self-signed certificate, or the CA that issued it).
pub fn trust(ca: &Path) -> Result<Arc<rustls::ClientConfig>> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let pem = std::fs::read(ca).with_context(|| format!("cannot read the CA certificate {}", ca.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.with_context(|| format!("{} is not a PEM certificate file", ca.display()))?;
        roots.add(cert).with_context(|| format!("{} holds a certificate rustls cannot use", ca.display()))?;
    }
    if roots.is_empty() {
        bail!("{} holds no PEM certificate", ca.display());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// `GET path` with a bearer token, HTTP/1.1, `Connection: close`.
fn get(target: &Target, trust: &Trust, path: &str, token: &str) -> Result<Response> {
    let authority = target.authority();
    let addr = authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {authority}"))?
        .next()
        .with_context(|| format!("{authority} resolves to no address"))?;
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .with_context(|| format!("cannot connect to {authority}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(120))).context("cannot set a read timeout")?;
    let mut stream: Box<dyn Stream> = if target.tls {
        let Some(config) = trust.clone() else {
            bail!("--url is https: pass the server's certificate (or its CA) as a PEM file with --ca-cert FILE");
        };
        let name = rustls_pki_types::ServerName::try_from(target.host.trim_start_matches('[').trim_end_matches(']'))
            .with_context(|| format!("{:?} is not a valid TLS server name", target.host))?
            .to_owned();
        let conn = rustls::ClientConnection::new(config, name).context("cannot start TLS")?;
        Box::new(rustls::StreamOwned::new(conn, tcp))
    } else {
        Box::new(tcp)
    };
    let req = format!(
        "GET {}{path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\nAccept: {LOG_CONTENT_TYPE}, application/json\r\nUser-Agent: seatwatch-backup/{}\r\nConnection: close\r\n\r\n",
        target.prefix,
        env!("CARGO_PKG_VERSION")
    );
    stream
        .write_all(req.as_bytes())
        .and_then(|()| stream.flush())
        .with_context(|| format!("cannot send the request to {authority}"))?;
    let mut r = BufReader::with_capacity(256 * 1024, stream);
    let mut line = String::new();
    r.read_line(&mut line).with_context(|| format!("no response from {authority}"))?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|_| line.starts_with("HTTP/1."))
        .with_context(|| format!("{authority} did not answer HTTP: {:?}", line.trim_end()))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).context("the response headers were cut short")?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if headers.len() > 100 {
            bail!("{authority} sent more than 100 response headers");
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let length = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse::<u64>().ok());
    let body: Box<dyn BufRead> = if chunked {
        Box::new(BufReader::with_capacity(256 * 1024, Chunked::new(r)))
    } else if let Some(n) = length {
        Box::new(r.take(n))
    } else {
        Box::new(r)
    };
    Ok(Response { status, headers, body })
}

/// A `Transfer-Encoding: chunked` body.
struct Chunked<R> {
    inner: R,
    left: u64,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    fn new(inner: R) -> Self {
        Chunked { inner, left: 0, done: false }
    }

    fn bad(msg: &str) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad chunked encoding: {msg}"))
    }

    fn next_chunk(&mut self) -> std::io::Result<()> {
        let mut line = String::new();
        if self.inner.by_ref().take(1024).read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the response ended inside a chunk"));
        }
        let size = line.trim_end().split(';').next().unwrap_or("").trim();
        self.left = u64::from_str_radix(size, 16).map_err(|_| Self::bad(&format!("chunk size {size:?}")))?;
        if self.left == 0 {
            self.done = true;
            // Trailers, up to the empty line.
            loop {
                line.clear();
                if self.inner.by_ref().take(8192).read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                    break;
                }
            }
        }
        Ok(())
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            self.next_chunk()?;
            if self.done {
                return Ok(0);
            }
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the response ended inside a chunk"));
        }
        self.left -= n as u64;
        if self.left == 0 {
            let mut crlf = [0u8; 2];
            self.inner.read_exact(&mut crlf)?;
            if &crlf != b"\r\n" {
                return Err(Self::bad("a chunk does not end with CRLF"));
            }
        }
        Ok(n)
    }
}

/// Read exactly `buf.len()` bytes; `Ok(false)` on a clean end before the first byte.
fn read_full(r: &mut dyn BufRead, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..])? {
            0 if got == 0 => return Ok(false),
            0 => {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the stream ended inside a record"));
            }
            n => got += n,
        }
    }
    Ok(true)
}

/// Read a caller key file: exactly 32 bytes.
fn read_key(key_file: &Path) -> Result<CallerKey> {
    let key = std::fs::read(key_file).with_context(|| format!("cannot read the caller key {}", key_file.display()))?;
    let key: [u8; 32] = key.try_into().map_err(|k: Vec<u8>| {
        anyhow::anyhow!("{} is {} bytes; a caller key is exactly 32", key_file.display(), k.len())
    })?;
    Ok(CallerKey(key))
}

/// `GET /v1/log?from_seq=start`, answered 200 with the log's content type.
fn fetch(target: &Target, trust: &Trust, start: u64, token: &str) -> Result<Response> {
    let resp = get(target, trust, &format!("/v1/log?from_seq={start}"), token)?;
    match resp.status {
        200 => {}
        401 => bail!("the server refused the token (401): pass an admin token's secret with --token"),
        403 => bail!("the token is not an admin token (403): only admin tokens may read the raw log"),
        s => bail!("GET /v1/log answered {s}: {}", resp.text().trim()),
    }
    if resp.header("content-type").is_none_or(|t| !t.starts_with(LOG_CONTENT_TYPE)) {
        bail!("GET /v1/log did not answer {LOG_CONTENT_TYPE} (content type {:?})", resp.header("content-type"));
    }
    Ok(resp)
}

/// The entries of `dir`: `Ok(None)` when it does not exist; an error when it cannot be
/// listed (then a failed run cleans nothing up: it cannot tell what it made).
fn entries(dir: &Path) -> std::io::Result<Option<Vec<std::ffi::OsString>>> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.map(|e| e.file_name())).collect::<std::io::Result<Vec<_>>>().map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Append `batch` to the copy; `start` is the first seq this run copies (the copy held
/// the records before it), which tells a foreign copy from a bad stream.
fn append(log: &Log, out: &Path, start: u64, batch: Vec<RawRecord>) -> Result<()> {
    log.append_raw(batch).map_err(|e| match e {
        LogError::RawRejected { seq, reason } if seq == start && start > 1 => anyhow::anyhow!(
            "record {seq} from the server does not continue the copy in {}: {reason}. \
             Is this directory a backup of another server's log? Back up into a new directory.",
            out.display()
        ),
        LogError::RawRejected { seq, reason } => anyhow::anyhow!(
            "record {seq} from the server is not sound: {reason}. The server's log or the connection altered it; \
             nothing from record {seq} on was copied into {} (run `seatwatch verify` on the server's data \
             directory)",
            out.display()
        ),
        other => anyhow::Error::new(other).context(format!("cannot append to the copy in {}", out.display())),
    })
}

pub fn run(a: BackupArgs) -> Result<ExitCode> {
    crate::init_tracing("warn");
    let target = Target::parse(&a.url)?;
    let trust = match &a.ca_cert {
        Some(ca) => Some(trust(ca)?),
        None => None,
    };
    // A new backup: no log in --out yet. Its caller key is --caller-key, else one copied
    // into the directory before the first run, else a new one.
    let new = !seatwatch_log::holds_log(&a.out);
    let copied_in = a.out.join(seatwatch_log::KEY_FILE);
    let key = match &a.caller_key {
        Some(file) => Some(read_key(file)?),
        None if new && copied_in.exists() => Some(read_key(&copied_in)?),
        None => None,
    };
    // For a new backup the server and the token are checked before anything is made, so
    // that a refused token or a server that is not there leaves no directory behind.
    let before = entries(&a.out);
    let first = if new { Some(fetch(&target, &trust, 1, &a.token)?) } else { None };
    // Said once the server answered (a run refused before it makes nothing).
    if new && key.is_none() {
        eprintln!(
            "backup: note: no --caller-key: the copy gets a caller key of its own, so a server restored from it \
             hashes callers differently from this one (the log's stored hashes stay as they are). To restore \
             with the same hashing, pass the server's DATA/caller.key with --caller-key (docs/operations.md)"
        );
    }
    let mut appended = false;
    let result = copy(&a, &target, &trust, key.as_ref(), first, &mut appended);
    // Another backup holding the directory made it, not this run: leave it alone.
    let locked_out = result
        .as_ref()
        .err()
        .is_some_and(|e| e.chain().any(|c| matches!(c.downcast_ref::<LogError>(), Some(LogError::Locked { .. }))));
    if result.is_err() && new && !appended && !locked_out {
        // Nothing was copied: take away what this run made.
        match before {
            Err(_) => {}
            Ok(None) => {
                let _ = std::fs::remove_dir_all(&a.out);
            }
            Ok(Some(before)) => {
                for name in entries(&a.out).ok().flatten().unwrap_or_default() {
                    if !before.contains(&name) {
                        let p = a.out.join(&name);
                        let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
                    }
                }
            }
        }
    }
    result
}

/// Open (or make) the copy and append every record after its head; `first` is the
/// answer for `from_seq=1` already asked for a new copy.
fn copy(
    a: &BackupArgs,
    target: &Target,
    trust: &Trust,
    key: Option<&CallerKey>,
    first: Option<Response>,
    appended: &mut bool,
) -> Result<ExitCode> {
    let opened = match key {
        Some(k) => Log::open_with_key(&a.out, k, OpenOptions::default()),
        None => Log::open(&a.out),
    };
    let log = opened.map_err(|e| match e {
        LogError::CallerKeyMismatch { path } => anyhow::anyhow!(
            "{} already holds another caller key; a backup keeps the key it was made with \
             (copy the server's caller.key into a new, empty --out directory instead)",
            path.display()
        ),
        e => anyhow::Error::new(e).context(format!("cannot open the backup directory {}", a.out.display())),
    })?;
    let start = log.head().last_seq + 1;
    let resp = match first {
        Some(r) if start == 1 => r,
        _ => fetch(target, trust, start, &a.token)?,
    };
    let announced = resp
        .header("x-seatwatch-last-seq")
        .and_then(|v| v.parse::<u64>().ok())
        .context("GET /v1/log did not say its last seq (x-seatwatch-last-seq)")?;
    if announced < start - 1 {
        bail!(
            "the server's log ends at seq {announced}, before this copy's last seq {}: the copy is not of this \
             server's log, or the server has lost records since it was made (restored from an older backup, or \
             repaired); nothing was copied. Keep this copy, and back the server up into a new --out directory",
            start - 1
        );
    }
    let bar = progress(announced.saturating_sub(start - 1), "copying");
    let mut body = resp.body;
    let (mut batch, mut batch_bytes, mut expect) = (Vec::new(), 0usize, start);
    let mut header = [0u8; 12];
    loop {
        let more = read_full(&mut body, &mut header).context("cannot read the log stream")?;
        if !more {
            break;
        }
        let seq = u64::from_be_bytes(header[..8].try_into().unwrap_or_default());
        let len = u32::from_be_bytes(header[8..].try_into().unwrap_or_default());
        if seq != expect {
            bail!("the server sent record {seq} where record {expect} belongs");
        }
        if len > MAX_RECORD_BYTES {
            bail!("the server announced a record of {len} bytes at seq {seq}, more than any record can be");
        }
        let mut bytes = vec![0u8; len as usize];
        if !read_full(&mut body, &mut bytes).context("cannot read the log stream")? && len > 0 {
            bail!("the stream ended inside record {seq}");
        }
        batch_bytes += bytes.len();
        batch.push(RawRecord { seq, bytes });
        expect += 1;
        if batch.len() >= BATCH_RECORDS || batch_bytes >= BATCH_BYTES {
            append(&log, &a.out, start, std::mem::take(&mut batch))?;
            *appended = true;
            batch_bytes = 0;
            bar.set_position(expect - start);
        }
    }
    let last_batch = !batch.is_empty();
    append(&log, &a.out, start, batch)?;
    *appended |= last_batch;
    bar.finish_and_clear();
    let head = log.head();
    if head.last_seq < announced {
        bail!(
            "the stream ended at seq {} before the announced last seq {announced}; what was copied is durable: \
             run the backup again to continue from seq {}",
            head.last_seq,
            head.last_seq + 1
        );
    }
    let copied = head.last_seq + 1 - start;
    println!("backup: {copied} new records, last seq {}, head {}", head.last_seq, head.hash_hex());
    // Compare with the server's own head when it has not moved on since.
    if let Ok(r) = get(target, trust, "/v1/head", &a.token)
        && r.status == 200
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&r.text())
        && v["last_seq"].as_u64() == Some(head.last_seq)
    {
        if v["head"].as_str() != Some(head.hash_hex().as_str()) {
            bail!(
                "the copy's head {} differs from the server's head {} at seq {}",
                head.hash_hex(),
                v["head"],
                head.last_seq
            );
        }
        println!("the server's head at seq {} is the same", head.last_seq);
    }
    log.close().context("cannot close the backup")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("http://127.0.0.1:7878").unwrap();
        assert_eq!((t.tls, t.host.as_str(), t.port, t.prefix.as_str()), (false, "127.0.0.1", 7878, ""));
        let t = Target::parse("http://example.invalid/seatwatch/v1/log").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.prefix.as_str()), ("example.invalid", 80, "/seatwatch"));
        let t = Target::parse("http://[::1]:9000/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("[::1]", 9000));
        assert_eq!(Target::parse("http://[::1]").unwrap().port, 80);
        let t = Target::parse("https://seatwatch.example.invalid").unwrap();
        assert_eq!((t.tls, t.port), (true, 443));
        assert!(Target::parse("ws://x").is_err());
        assert!(Target::parse("http://:80").is_err());
        assert!(Target::parse("http://h:99999").is_err());
    }

    #[test]
    fn chunked_bodies_decode() {
        let raw = b"4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n".to_vec();
        let mut s = String::new();
        Chunked::new(&raw[..]).read_to_string(&mut s).unwrap();
        assert_eq!(s, "Wikipedia in \r\n\r\nchunks.");
        let cut = b"4\r\nWi".to_vec();
        assert!(Chunked::new(&cut[..]).read_to_string(&mut String::new()).is_err());
        let bad = b"zz\r\n".to_vec();
        assert!(Chunked::new(&bad[..]).read_to_string(&mut String::new()).is_err());
    }
}
