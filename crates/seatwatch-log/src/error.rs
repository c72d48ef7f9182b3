//! Errors.

use std::path::PathBuf;

/// What can go wrong opening, writing or reading the log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Another process (or another `Log` in this one) holds the data directory.
    #[error(
        "the data directory {} is in use by another Seatwatch process (e.g. a running `seatwatch serve`); \
         a data directory is used by one process at a time. To copy a live server's log, use `seatwatch backup`",
        dir.display()
    )]
    Locked {
        /// The data directory.
        dir: PathBuf,
    },
    /// A file-system operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "cannot create".
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// sled reported an error.
    #[error("the log's database (sled) failed while {what}: {message}")]
    Sled {
        /// What was being done.
        what: &'static str,
        /// sled's error, as text.
        message: String,
    },
    /// sled cannot open the database at all (its recovery found damage it cannot get
    /// past), so not one record could be read or checked.
    #[error("{}", unopenable_text(data_dir, message, *snapshot))]
    Unopenable {
        /// The data directory.
        data_dir: PathBuf,
        /// sled's reason, in words.
        message: String,
        /// Whether `log/` holds sled's own snapshot (`snap.*`), which `seatwatch repair`
        /// sets aside: the damage may be there, in a cache sled can rebuild.
        snapshot: bool,
    },
    /// `seatwatch repair` cannot make the log usable (nothing was deleted).
    #[error(
        "the log in {} cannot be repaired: {reason}. Restore the data directory from a backup (docs/operations.md)",
        data_dir.display()
    )]
    Unrepairable {
        /// The data directory.
        data_dir: PathBuf,
        /// Why, and what was set aside.
        reason: String,
    },
    /// A `seatwatch repair` that rebuilt the log was interrupted after it moved the old
    /// database into the quarantine and before it put the new one in place.
    #[error(
        "a `seatwatch repair` of {} was interrupted while it put a rebuilt log in place (the old database is in \
         its quarantine directory): run `seatwatch repair --data {}` again to finish it",
        data_dir.display(),
        data_dir.display()
    )]
    RepairInterrupted {
        /// The data directory.
        data_dir: PathBuf,
    },
    /// A commit could not be made durable; nothing of the request was stored (send it again).
    #[error("the log could not make this batch durable, nothing of it was stored (send it again): {reason}")]
    Write {
        /// Why, e.g. the file system is full.
        reason: String,
    },
    /// A stored record does not decode, or breaks the log's invariants.
    #[error(
        "the log is corrupt at seq {seq}: {reason}. Run `seatwatch verify --data DIR` for a full check, then \
         `seatwatch repair --data DIR` to move every record from the first bad one on into a quarantine file \
         (nothing is deleted), or restore the data directory from a backup"
    )]
    Corrupt {
        /// The first sequence number affected.
        seq: u64,
        /// What is wrong, in words.
        reason: String,
    },
    /// The log was closed; nothing more can be appended or read through this handle.
    #[error("the log is closed")]
    Closed,
    /// `caller.key` exists but is not a 32-byte key.
    #[error(
        "the caller key file {} is {len} bytes, but must be exactly 32; restore it from a backup \
         (deleting it makes every stored caller hash unmatchable)",
        path.display()
    )]
    BadCallerKey {
        /// The key file.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
    },
    /// `caller.key` is gone but the log holds records hashed with it.
    #[error(
        "the caller key file {} is missing, but the log already holds records whose callers were hashed with it; \
         restore it from a backup (a new key would make every stored caller hash unmatchable)",
        path.display()
    )]
    MissingCallerKey {
        /// The key file.
        path: PathBuf,
    },
    /// `caller.key` holds another key than the one given to [`crate::Log::open_with_key`].
    #[error(
        "the caller key file {} holds another key than the one given; a data directory keeps the key \
         its log was made with (its callers were hashed with it)",
        path.display()
    )]
    CallerKeyMismatch {
        /// The key file.
        path: PathBuf,
    },
    /// The data directory was used (it has `caller.key`) but its database file is gone.
    #[error(
        "the log's database file {} is missing, but this data directory has been used before (it has a caller \
         key): starting would begin an empty log and hide the loss. Restore the directory from a backup (see \
         `seatwatch backup`); if it really never held events, delete its caller.key to start afresh",
        path.display()
    )]
    MissingDatabase {
        /// The missing file.
        path: PathBuf,
    },
    /// An event encodes to more than fits in one segment.
    #[error("event {index} of the batch encodes to {bytes} bytes, more than the log's record limit of {max} bytes")]
    TooLarge {
        /// Its position in the batch.
        index: usize,
        /// Bytes it needs.
        bytes: usize,
        /// The limit ([`crate::OpenOptions::max_segment_bytes`] less framing).
        max: usize,
    },
    /// An event could not be encoded.
    #[error("cannot encode an event: {reason}")]
    Encode {
        /// bincode's error.
        reason: String,
    },
    /// [`crate::Log::append_raw`] got a record that does not continue this log.
    #[error("raw record {seq} cannot be appended: {reason}")]
    RawRejected {
        /// The record's sequence number (or the position expected).
        seq: u64,
        /// Why.
        reason: String,
    },
    /// [`crate::OpenOptions`] holds a value out of range.
    #[error("invalid log options: {reason}")]
    InvalidOptions {
        /// Which and why.
        reason: String,
    },
}

fn unopenable_text(data_dir: &std::path::Path, message: &str, snapshot: bool) -> String {
    let log = data_dir.join("log");
    let snap = if snapshot {
        "sled's snapshot files (log/snap.*, a cache sled rebuilds from its database file, where such damage often \
         is) and, if that is not enough, "
    } else {
        ""
    };
    format!(
        "the log's database in {} cannot be opened: {message}; no record could be read. Run `seatwatch repair \
         --data {}`, which sets aside {snap}sled's configuration file (log/conf, written anew with the settings \
         Seatwatch always uses) and then checks the log, or restore the data directory from a backup",
        log.display(),
        data_dir.display()
    )
}

impl LogError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LogError::Io { what, path: path.into(), source }
    }

    pub(crate) fn sled(what: &'static str, e: &sled::Error) -> Self {
        LogError::Sled { what, message: sled_text(e) }
    }
}

/// sled's error in words (its own text of damage ends in an empty backtrace, "... backtrace ()").
pub(crate) fn sled_text(e: &sled::Error) -> String {
    match e {
        sled::Error::Corruption { at: Some(at), .. } => {
            format!("the database file is damaged: sled found corrupted data at {at:?}")
        }
        sled::Error::Corruption { at: None, .. } => {
            "the database file is damaged: sled found corrupted data it cannot read past".to_owned()
        }
        other => other.to_string(),
    }
}

/// Why [`crate::verify`] failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The log could not be opened at all, so nothing was checked.
    #[error("cannot open the log: {0}")]
    Open(#[source] LogError),
    /// There is no log in the directory.
    #[error("no Seatwatch log in {}: expected the directory {}", dir.display(), dir.join("log").display())]
    NoLog {
        /// The data directory.
        dir: PathBuf,
    },
    /// A record is bad: the first one found.
    #[error("bad record at seq {seq}: {reason} ({good} records before it are intact)")]
    BadRecord {
        /// The first bad sequence number (where the log stops being trustworthy).
        seq: u64,
        /// What is wrong, in words.
        reason: String,
        /// How many records before it verified.
        good: u64,
    },
}

impl VerifyError {
    /// The first bad sequence number, when the failure is a bad record.
    pub fn bad_seq(&self) -> Option<u64> {
        match self {
            VerifyError::BadRecord { seq, .. } => Some(*seq),
            _ => None,
        }
    }
}
