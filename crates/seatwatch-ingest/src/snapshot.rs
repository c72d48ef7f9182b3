//! Snapshots of the projections, so that a restart folds only the log's tail.
//!
//! The log is the truth; a snapshot is only a shortcut to a state the log implies. The
//! server writes one every `[server] snapshot_interval` (default 5 minutes) when the
//! projections moved, and one on shutdown after the final catch-up. At start it loads
//! the newest snapshot that passes every check below and folds the records after it; a
//! snapshot that fails any check is ignored with a warning (and the next older one
//! tried), never trusted: the log is then folded from the start.
//!
//! # File format (version 1), `DATA/snapshots/snapshot-<position, 20 digits>.swsnap`
//!
//! All integers little-endian.
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `SWSNAP\r\n` |
//! | 4 | format version (1) |
//! | 8 | position: the seq of the last record folded into the state |
//! | 32 | the log's chain link (head hash) at that seq |
//! | 32 | fingerprint: BLAKE3 of the Seatwatch version and every tenant setting the projections depend on |
//! | 8 | length of the engine state |
//! | n | the engine state ([`Engine::snapshot`]: its own versioned format) |
//! | 32 | BLAKE3 of everything before |
//!
//! Checks on load: magic, version, length and checksum; the fingerprint equals the
//! running configuration's; the position is not past the log's head; the log's link at
//! that position is the one recorded (so a snapshot of another log, or of a log that was
//! since replaced by a different one, is refused); and the engine state restores.
//!
//! Files are written atomically (a temporary file, `fsync`, rename, `fsync` of the
//! directory); the newest [`KEEP`] are kept, older ones deleted.

use crate::server::AppState;
use seatwatch_config::Config;
use seatwatch_engine::Engine;
use seatwatch_log::{Log, LogError, format};
use seatwatch_model::Projector;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The directory inside the data directory.
pub const SNAPSHOT_DIR: &str = "snapshots";
/// The file format version written.
pub const FORMAT_VERSION: u32 = 1;
/// How many snapshots are kept.
pub const KEEP: usize = 3;

const MAGIC: &[u8; 8] = b"SWSNAP\r\n";
const EXT: &str = "swsnap";
const HEADER_LEN: usize = 8 + 4 + 8 + 32 + 32 + 8;

/// What can go wrong with a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading or writing a file failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a snapshot of this format (corrupt, cut short, another version).
    #[error("not a usable snapshot: {0}")]
    Format(String),
    /// The snapshot is sound but does not fit this log or configuration.
    #[error("does not match: {0}")]
    Mismatch(String),
    /// The engine state does not restore.
    #[error("the projection state does not restore: {0}")]
    Engine(#[from] seatwatch_engine::SnapshotError),
    /// The log could not be read.
    #[error("cannot read the log: {0}")]
    Log(#[from] LogError),
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SnapshotError + 'a {
    move |source| SnapshotError::Io { what, path: path.to_path_buf(), source }
}

/// A decoded snapshot file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The seq of the last record folded into the state.
    pub position: u64,
    /// The log's chain link at `position`.
    pub head: [u8; 32],
    /// [`config_fingerprint`] of the configuration it was taken with.
    pub fingerprint: [u8; 32],
    /// [`Engine::snapshot`] bytes.
    pub engine: Vec<u8>,
}

/// The header of a snapshot file, up to and including the engine part's length.
fn header(out: &mut Vec<u8>, position: u64, head: &[u8; 32], fingerprint: &[u8; 32], engine_len: u64) {
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&position.to_le_bytes());
    out.extend_from_slice(head);
    out.extend_from_slice(fingerprint);
    out.extend_from_slice(&engine_len.to_le_bytes());
}

/// Close a snapshot file's bytes: the checksum of everything before.
fn seal(out: &mut Vec<u8>) {
    let sum = blake3::hash(out);
    out.extend_from_slice(sum.as_bytes());
}

impl Snapshot {
    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.engine.len() + 32);
        header(&mut out, self.position, &self.head, &self.fingerprint, self.engine.len() as u64);
        out.extend_from_slice(&self.engine);
        seal(&mut out);
        out
    }

    /// The bytes [`Snapshot::encode`] gives for `engine`'s [`Engine::snapshot`], encoded
    /// straight into the file's buffer: the projections are never copied, and the
    /// buffer is sized from `hint` (the last snapshot's size) so it does not grow by
    /// doubling.
    pub fn encode_engine(engine: &Engine, head: &[u8; 32], fingerprint: &[u8; 32], hint: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(hint.saturating_add(hint / 16).max(HEADER_LEN + 4096));
        header(&mut out, engine.position(), head, fingerprint, 0);
        engine.snapshot_into(&mut out);
        let len = (out.len() - HEADER_LEN) as u64;
        if let Some(slot) = out.get_mut(HEADER_LEN - 8..HEADER_LEN) {
            slot.copy_from_slice(&len.to_le_bytes());
        }
        seal(&mut out);
        out
    }

    /// Parse a file's bytes, checking magic, version, lengths and checksum.
    pub fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        let bad = |m: String| SnapshotError::Format(m);
        if bytes.len() < HEADER_LEN + 32 {
            return Err(bad(format!("{} bytes is shorter than any snapshot", bytes.len())));
        }
        if &bytes[..8] != MAGIC {
            return Err(bad("wrong magic bytes (not a Seatwatch snapshot)".into()));
        }
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap_or_default());
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or_default());
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(bad(format!("format version {version}; this build reads version {FORMAT_VERSION}")));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(body).as_bytes() != sum {
            return Err(bad("the checksum does not match (the file is damaged)".into()));
        }
        let position = u64_at(12);
        let mut head = [0u8; 32];
        head.copy_from_slice(&bytes[20..52]);
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(&bytes[52..84]);
        let len = u64_at(84);
        if u64::try_from(body.len() - HEADER_LEN).ok() != Some(len) {
            return Err(bad(format!(
                "the engine state should be {len} bytes, the file holds {}",
                body.len() - HEADER_LEN
            )));
        }
        Ok(Snapshot { position, head, fingerprint, engine: body[HEADER_LEN..].to_vec() })
    }
}

/// BLAKE3 of this build's version and every tenant setting the projections depend on
/// (time zone, clock, lateness, rules, occupancy settings; the defaults and each
/// `[tenant.X]`). Tokens and server limits do not matter.
pub fn config_fingerprint(config: &Config) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"seatwatch snapshot fingerprint 1\n");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    let mut put = |name: &str, t: &seatwatch_config::TenantConfig| {
        let text = format!(
            "\n[{name}] {:?} {:?} {:?} {:?} {:?}",
            t.timezone, t.clock, t.allowed_lateness, t.rules, t.occupancy
        );
        h.update(text.as_bytes());
    };
    put("*", &config.default_tenant);
    for (name, t) in &config.tenants {
        put(name, t);
    }
    *h.finalize().as_bytes()
}

/// The log's chain link at `seq` (the genesis link for 0).
pub fn link_at(log: &Log, seq: u64) -> Result<[u8; 32], SnapshotError> {
    if seq == 0 {
        return Ok(format::GENESIS);
    }
    match log.read_raw_from(seq).next() {
        Some(Ok(raw)) if raw.seq == seq => format::stored_link(&raw.bytes)
            .ok_or_else(|| SnapshotError::Format(format!("record {seq} is too short to hold a link"))),
        Some(Ok(raw)) => Err(SnapshotError::Mismatch(format!("the log returned record {} for {seq}", raw.seq))),
        Some(Err(e)) => Err(e.into()),
        None => Err(SnapshotError::Mismatch(format!("the log has no record {seq}"))),
    }
}

fn file_name(position: u64) -> String {
    format!("snapshot-{position:020}.{EXT}")
}

/// The snapshot files in `dir`, newest (highest position) first.
pub fn list(data_dir: &Path) -> Vec<(u64, PathBuf)> {
    let dir = data_dir.join(SNAPSHOT_DIR);
    let Ok(rd) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut out: Vec<(u64, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let pos = name.strip_prefix("snapshot-")?.strip_suffix(&format!(".{EXT}"))?.parse::<u64>().ok()?;
            Some((pos, e.path()))
        })
        .collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.0));
    out
}

fn sync_dir(dir: &Path) -> Result<(), SnapshotError> {
    #[cfg(unix)]
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io("cannot sync the directory", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Write `snap` atomically into `DATA/snapshots/` and delete all but the newest [`KEEP`]
/// (and any temporary file a crash left behind).
pub fn write(data_dir: &Path, snap: &Snapshot) -> Result<PathBuf, SnapshotError> {
    write_bytes(data_dir, snap.position, &snap.encode())
}

/// [`write`] of a snapshot's encoded bytes, taken at `position`.
fn write_bytes(data_dir: &Path, position: u64, bytes: &[u8]) -> Result<PathBuf, SnapshotError> {
    let dir = data_dir.join(SNAPSHOT_DIR);
    std::fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
    let path = dir.join(file_name(position));
    let tmp = dir.join(format!(".{}.tmp", file_name(position)));
    {
        let mut f = std::fs::File::create(&tmp).map_err(io("cannot create", &tmp))?;
        f.write_all(bytes).map_err(io("cannot write", &tmp))?;
        f.sync_all().map_err(io("cannot sync", &tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(io("cannot rename into place", &path))?;
    sync_dir(&dir)?;
    for (_, old) in list(data_dir).into_iter().skip(KEEP) {
        if let Err(e) = std::fs::remove_file(&old) {
            tracing::warn!(path = %old.display(), error = %e, "cannot delete an old snapshot");
        }
    }
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") && e.path() != tmp {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(path)
}

/// Snapshot the server's projections now, unless the newest snapshot already has their
/// position (or nothing was folded yet). Blocking: call it off the async threads.
pub fn take(state: &AppState) -> Result<Option<PathBuf>, SnapshotError> {
    let data_dir = state.log.dir().to_path_buf();
    let fingerprint = config_fingerprint(&state.config);
    let (position, bytes) = {
        let Ok(e) = state.engine.read() else {
            return Err(SnapshotError::Format("the projection state is unavailable (a fold panicked)".into()));
        };
        let position = e.position();
        if position == 0 || list(&data_dir).first().is_some_and(|(p, _)| *p == position) {
            return Ok(None);
        }
        let head = link_at(&state.log, position)?;
        let hint = LAST_SNAPSHOT_BYTES.load(Ordering::Relaxed);
        (position, Snapshot::encode_engine(&e, &head, &fingerprint, hint))
    };
    LAST_SNAPSHOT_BYTES.store(bytes.len(), Ordering::Relaxed);
    let started = std::time::Instant::now();
    let path = write_bytes(&data_dir, position, &bytes)?;
    tracing::info!(
        position,
        bytes = bytes.len(),
        ms = started.elapsed().as_millis() as u64,
        path = %path.display(),
        "snapshot written"
    );
    Ok(Some(path))
}

/// The size of the last snapshot written: the next one's buffer is sized from it.
static LAST_SNAPSHOT_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Check one snapshot file against the log and the configuration, and restore it.
pub fn restore_file(path: &Path, config: &Config, log: &Log) -> Result<Engine, SnapshotError> {
    let bytes = std::fs::read(path).map_err(io("cannot read", path))?;
    let snap = Snapshot::decode(&bytes)?;
    if file_name(snap.position) != path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default() {
        return Err(SnapshotError::Mismatch(format!("the file name does not match its position {}", snap.position)));
    }
    if snap.fingerprint != config_fingerprint(config) {
        return Err(SnapshotError::Mismatch(
            "it was taken with another configuration or another Seatwatch version".into(),
        ));
    }
    let last = log.head().last_seq;
    if snap.position > last {
        return Err(SnapshotError::Mismatch(format!(
            "it reflects the log up to seq {}, but the log ends at seq {last}",
            snap.position
        )));
    }
    let link = link_at(log, snap.position)?;
    if link != snap.head {
        return Err(SnapshotError::Mismatch(format!(
            "the log's head hash at seq {} is {}, the snapshot was taken at {}",
            snap.position,
            hex(&link),
            hex(&snap.head)
        )));
    }
    let engine = Engine::restore(config, &snap.engine)?;
    if engine.position() != snap.position {
        return Err(SnapshotError::Mismatch(format!(
            "the state is at seq {}, the header says {}",
            engine.position(),
            snap.position
        )));
    }
    Ok(engine)
}

fn hex(b: &[u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The projections restored from the newest valid snapshot in `DATA/snapshots/`, or
/// `None` (fold the whole log) when there is none. Every snapshot skipped is logged
/// with the reason.
pub fn load(config: &Config, log: &Log) -> Option<Engine> {
    for (position, path) in list(log.dir()) {
        let started = std::time::Instant::now();
        match restore_file(&path, config, log) {
            Ok(engine) => {
                tracing::info!(
                    position,
                    tail = log.head().last_seq - position,
                    ms = started.elapsed().as_millis() as u64,
                    path = %path.display(),
                    "projections restored from a snapshot; folding the records after it"
                );
                return Some(engine);
            }
            Err(e) => tracing::warn!(
                path = %path.display(),
                error = %e,
                "ignoring a snapshot; the log is the truth and will be folded instead"
            ),
        }
    }
    None
}

/// Write a snapshot every `[server] snapshot_interval` while the projections move, until
/// shutdown. An interval of zero turns snapshots off.
pub async fn run(state: std::sync::Arc<AppState>) {
    let every = std::time::Duration::from_millis(state.config.server.snapshot_interval.0);
    if every.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {},
            _ = state.shutdown.cancelled() => return,
        }
        if !state.is_ready() {
            continue;
        }
        let st = state.clone();
        match tokio::task::spawn_blocking(move || take(&st)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not write a snapshot"),
            Err(e) => tracing::warn!(error = %e, "the snapshot task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> Snapshot {
        Snapshot { position: 42, head: [7; 32], fingerprint: [9; 32], engine: b"engine state".to_vec() }
    }

    #[test]
    fn round_trip_and_every_damage_is_refused() {
        let s = snap();
        let bytes = s.encode();
        assert_eq!(Snapshot::decode(&bytes).unwrap(), s);
        for i in [0, 9, 13, 30, 60, 90, bytes.len() - 1] {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(matches!(Snapshot::decode(&b), Err(SnapshotError::Format(_))), "byte {i} flipped");
        }
        assert!(matches!(Snapshot::decode(&bytes[..bytes.len() - 1]), Err(SnapshotError::Format(_))));
        assert!(matches!(Snapshot::decode(b"SWSNAP\r\n"), Err(SnapshotError::Format(_))));
        let mut v2 = bytes.clone();
        v2[8] = 2;
        let e = Snapshot::decode(&v2).unwrap_err().to_string();
        assert!(e.contains("format version 2"), "{e}");
    }

    #[test]
    fn writes_are_atomic_and_old_ones_pruned() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(SNAPSHOT_DIR)).unwrap();
        std::fs::write(dir.path().join(SNAPSHOT_DIR).join(".snapshot-00000000000000000001.swsnap.tmp"), b"x").unwrap();
        for p in [5, 1, 9, 7, 3] {
            write(dir.path(), &Snapshot { position: p, ..snap() }).unwrap();
        }
        let kept: Vec<u64> = list(dir.path()).into_iter().map(|(p, _)| p).collect();
        assert_eq!(kept, vec![9, 7, 5]);
        let names: Vec<String> = std::fs::read_dir(dir.path().join(SNAPSHOT_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "no temporary file left: {names:?}");
    }

    #[test]
    fn the_fingerprint_follows_projection_settings_only() {
        let base = Config::parse("[tenant.a]\nclock = \"event\"\n").unwrap();
        let same = Config::parse(
            "[[token]]\nname = \"x\"\ntenant = \"a\"\nrole = \"reader\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n\n[server]\nmax_connections = 5\n\n[tenant.a]\nclock = \"event\"\n",
        )
        .unwrap();
        let other =
            Config::parse("[tenant.a]\nclock = \"event\"\n\n[tenant.a.rules]\nnot_ready_max = \"20m\"\n").unwrap();
        let tz = Config::parse("[tenant.a]\nclock = \"event\"\ntimezone = \"UTC\"\n").unwrap();
        assert_eq!(config_fingerprint(&base), config_fingerprint(&same));
        assert_ne!(config_fingerprint(&base), config_fingerprint(&other));
        assert_ne!(config_fingerprint(&base), config_fingerprint(&tz));
    }

    fn pending(i: u64, kind: seatwatch_model::EventKind, agent: Option<&str>) -> seatwatch_log::Pending {
        let ts = seatwatch_model::Ts::from_secs(1_772_411_400 + i as i64 * 60);
        seatwatch_log::Pending {
            tenant: "acme".into(),
            source: "acd".into(),
            received: ts,
            event: seatwatch_model::Event {
                id: format!("e{i}").into(),
                ts,
                agent: agent.map(seatwatch_model::AgentId::from),
                kind,
                extra: None,
            },
        }
    }

    /// A log of `n` events: agents logging in, going not ready, ready, out.
    fn make_log(dir: &Path, n: u64, salt: &str) -> Log {
        use seatwatch_model::EventKind as K;
        let log = Log::open(dir).unwrap();
        let batch = (1..=n)
            .map(|i| {
                let agent = format!("a{}", i % 3);
                let kind = match i % 5 {
                    0 => K::Login { station: format!("s{}{salt}", i % 3) },
                    1 => K::NotReady { reason: None },
                    2 => K::Ready,
                    3 => K::Heartbeat,
                    _ => K::Logout,
                };
                let agent = kind.has_agent().then_some(agent);
                pending(i, kind, agent.as_deref())
            })
            .collect();
        log.append_blocking(batch).unwrap();
        log
    }

    fn fold(config: &Config, log: &Log, upto: u64) -> Engine {
        let mut e = Engine::new(config);
        for env in log.read_from(1) {
            let env = env.unwrap();
            if env.seq > upto {
                break;
            }
            e.apply(&env);
        }
        e
    }

    fn snapshot_of(config: &Config, log: &Log, upto: u64) -> Snapshot {
        Snapshot {
            position: upto,
            head: link_at(log, upto).unwrap(),
            fingerprint: config_fingerprint(config),
            engine: fold(config, log, upto).snapshot(),
        }
    }

    #[test]
    fn encoding_the_engine_in_place_gives_the_same_file_whatever_the_hint() {
        let config = Config::parse("[tenant.acme]\nclock = \"event\"\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = make_log(dir.path(), 40, "");
        let want = snapshot_of(&config, &log, 40);
        let e = fold(&config, &log, 40);
        for hint in [0, 17, want.encode().len(), 10 * want.encode().len()] {
            let got = Snapshot::encode_engine(&e, &want.head, &want.fingerprint, hint);
            assert_eq!(got, want.encode(), "hint {hint}");
            assert_eq!(Snapshot::decode(&got).unwrap(), want);
        }
    }

    #[test]
    fn a_sound_snapshot_restores_and_the_tail_folds_to_the_whole_state() {
        let config = Config::parse("[tenant.acme]\nclock = \"event\"\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = make_log(dir.path(), 40, "");
        let path = write(dir.path(), &snapshot_of(&config, &log, 25)).unwrap();
        let mut e = restore_file(&path, &config, &log).unwrap();
        assert_eq!(e.position(), 25);
        for env in log.read_from(26) {
            e.apply(&env.unwrap());
        }
        assert_eq!(e.snapshot(), fold(&config, &log, 40).snapshot());
        assert_eq!(load(&config, &log).map(|e| e.position()), Some(25));
    }

    #[test]
    fn snapshots_that_do_not_fit_are_ignored_and_an_older_sound_one_is_used() {
        let config = Config::parse("[tenant.acme]\nclock = \"event\"\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = make_log(dir.path(), 40, "");
        let good = write(dir.path(), &snapshot_of(&config, &log, 10)).unwrap();

        // Another configuration.
        let other = Config::parse("[tenant.acme]\nclock = \"event\"\ntimezone = \"UTC\"\n").unwrap();
        let e = restore_file(&good, &other, &log).unwrap_err();
        assert!(matches!(e, SnapshotError::Mismatch(_)), "{e}");

        // A snapshot of another log with as many records: its head hash differs.
        let other_dir = tempfile::tempdir().unwrap();
        let other_log = make_log(other_dir.path(), 40, "x");
        let foreign = write(dir.path(), &snapshot_of(&config, &other_log, 20)).unwrap();
        let e = restore_file(&foreign, &config, &log).unwrap_err();
        assert!(e.to_string().contains("head hash at seq 20"), "{e}");

        // A snapshot past the end of the log.
        let long_dir = tempfile::tempdir().unwrap();
        let long_log = make_log(long_dir.path(), 60, "");
        let ahead = write(dir.path(), &snapshot_of(&config, &long_log, 50)).unwrap();
        let e = restore_file(&ahead, &config, &log).unwrap_err();
        assert!(e.to_string().contains("the log ends at seq 40"), "{e}");

        // The newest two are unusable; the newest is damaged on top of that.
        let mut bytes = std::fs::read(&ahead).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 1;
        std::fs::write(&ahead, bytes).unwrap();
        assert!(matches!(restore_file(&ahead, &config, &log), Err(SnapshotError::Format(_))));
        assert_eq!(load(&config, &log).map(|e| e.position()), Some(10), "the older sound snapshot");
        assert!(load(&other, &log).is_none(), "none fits another configuration");
    }
}
