//! Seatwatch's compliance projector: the call centre's own rules (`seed-rules.md`) as
//! live alarms, per tenant.
//!
//! [`Compliance`] is a [`Projector`]: a pure, deterministic fold of the log. It never
//! reads the wall clock; time advances only through event timestamps, heartbeats and
//! the server's ticks, through each tenant's [`seatwatch_model::Clock`] (a watermark
//! with an allowed lateness). Elapsed-time rules are deadlines that fire when the time
//! reached is strictly past them, with `raised_at` set to the deadline itself, so live
//! ingest and any later replay give the same alarms with the same ids and times.
//!
//! Every rule's exact meaning, parameters and edge cases are in `docs/compliance.md`.

mod alarm;
mod book;
mod hmap;
mod local;
mod rules;
mod schedule;
mod tenant;
mod vecmap;

pub use alarm::{Alarm, AlarmChange, AlarmQuery};
/// The local-time arithmetic the rules use (midnights, ISO weeks), for reports that must
/// cut days and weeks exactly as the rules do.
pub use local::{iso_week_label, midnight as local_midnight, week_monday};
pub use rules::{Rule, Rules, RulesError, TenantSettings, UnknownRule, Weekday};
pub use schedule::{ScheduledShift, scheduled_shift};
pub use tenant::marks_week_worked;

use seatwatch_model::{BINCODE_CONFIG, Envelope, Projector, Ts};
use std::collections::BTreeMap;
use tenant::{Cx, TenantState};

/// The compliance projection of the whole log: every tenant's alarms and the state
/// needed to raise and clear them.
///
/// `PartialEq` compares the state (position, settings, every tenant's state and
/// alarms), never the pending [`Compliance::take_changes`] outbox.
#[derive(Clone, Debug)]
pub struct Compliance {
    default: TenantSettings,
    per_tenant: BTreeMap<String, TenantSettings>,
    tenants: BTreeMap<String, TenantState>,
    position: u64,
    record_changes: bool,
    outbox: Vec<AlarmChange>,
}

impl PartialEq for Compliance {
    fn eq(&self, other: &Self) -> bool {
        self.position == other.position
            && self.default == other.default
            && self.per_tenant == other.per_tenant
            && self.tenants == other.tenants
    }
}

/// A snapshot that cannot be restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not a compliance snapshot, or of another format version.
    #[error("not a compliance snapshot of format version {SNAPSHOT_VERSION} (found {0:?}): rebuild from the log")]
    Version(Option<u8>),
    /// The bytes do not decode.
    #[error("compliance snapshot is corrupt: {0}")]
    Decode(#[from] bincode::error::DecodeError),
}

/// The snapshot format version written as the first byte of [`Compliance::snapshot`].
///
/// Raised when the encoding changes *and* when the rules' meaning changes (what an alarm
/// says, cites or when it fires): a server upgraded across such a change refuses the old
/// snapshot and folds the log again, so its live alarms stay those a replay gives.
/// 3: a no-show `absent` and `roster_not_published` cite the record that fired them;
/// `duplicate_login` with another agent is judged when the watermark passes the login
/// (pending checks and their `Duplicate` deadlines are in the state).
/// 4: a first login stamped less than `absent_after` late that arrives after its no-show
/// `absent` was raised clears that alarm; an alarm cleared by an event stamped before it
/// was raised is withdrawn (each alarm encodes `withdrawn`).
/// 5: an event stamped exactly at an alarm's `raised_at` withdraws it too; a late `shift`
/// judges the attendance alarms of its date again; a withdrawn alarm's id is raised again.
/// 6: a no-show stands against a login stamped after it; `shift` and `leave_approved`
/// judge withdrawal by their own stamp.
/// 7: a no-show deadline at the very moment the agent became known is checked; a `shift`
/// that makes a date a working day again checks its no-show only from its own stamp on
/// (each shift override encodes that stamp); a late `shift` judges the day's first login
/// again (each attendance mark encodes that login's time and seq).
pub const SNAPSHOT_VERSION: u8 = 7;

#[derive(bincode::Encode, bincode::Decode)]
struct SnapshotBody {
    position: u64,
    tenants: BTreeMap<String, TenantState>,
}

/// [`SnapshotBody`] borrowed: encodes to the same bytes without copying the state (a
/// copy doubled the projection's memory while a snapshot was written).
#[derive(bincode::Encode)]
struct SnapshotBodyRef<'a> {
    position: u64,
    tenants: &'a BTreeMap<String, TenantState>,
}

impl Compliance {
    /// A projector that has seen nothing. Tenants not in `per_tenant` use `default`.
    pub fn new(default: TenantSettings, per_tenant: BTreeMap<String, TenantSettings>) -> Self {
        Compliance {
            default,
            per_tenant,
            tenants: BTreeMap::new(),
            position: 0,
            record_changes: true,
            outbox: Vec::new(),
        }
    }

    /// Whether raised/cleared alarms are queued for [`Compliance::take_changes`] (on by
    /// default; a replay that never drains them should switch it off).
    pub fn set_change_log(&mut self, on: bool) {
        self.record_changes = on;
        if !on {
            self.outbox.clear();
        }
    }

    /// Whether raised/cleared alarms are queued for [`Compliance::take_changes`].
    pub fn change_log(&self) -> bool {
        self.record_changes
    }

    /// The settings in force for `tenant`.
    pub fn settings(&self, tenant: &str) -> &TenantSettings {
        self.per_tenant.get(tenant).unwrap_or(&self.default)
    }

    /// The tenant's alarms passing `q`, sorted by `(raised_at, id)`.
    pub fn alarms(&self, tenant: &str, q: &AlarmQuery) -> Vec<Alarm> {
        let Some(t) = self.tenants.get(tenant) else { return Vec::new() };
        let lower = q.from.map_or(i64::MIN, |f| f.nanos);
        t.alarms
            .from(lower)
            .take_while(|(at, _, _)| q.to.is_none_or(|to| *at < to.nanos))
            .filter(|(at, _, s)| q.matches_parts(s.rule, s.agent.as_deref(), *at, s.cleared_at.is_none(), s.withdrawn))
            .map(|(at, id, s)| alarm::AlarmBook::view(tenant, at, id, s))
            .collect()
    }

    /// Every alarm of every tenant: tenants in name order, each tenant's alarms by
    /// `(raised_at, id)`. Each is built on the way out (tenants keep them compact).
    pub fn all_alarms(&self) -> impl Iterator<Item = (&str, Alarm)> {
        self.tenants.iter().flat_map(|(name, t)| {
            t.alarms.from(i64::MIN).map(move |(at, id, s)| (name.as_str(), alarm::AlarmBook::view(name, at, id, s)))
        })
    }

    /// Alarms raised or cleared since the last call, in the order they happened.
    pub fn take_changes(&mut self) -> Vec<AlarmChange> {
        std::mem::take(&mut self.outbox)
    }

    /// Active (not cleared) alarms per rule; every rule is present, with 0 when none.
    pub fn active_counts(&self, tenant: &str) -> BTreeMap<Rule, u64> {
        let mut m: BTreeMap<Rule, u64> = Rule::ALL.iter().map(|r| (*r, 0)).collect();
        if let Some(t) = self.tenants.get(tenant) {
            m.extend(t.active.iter().map(|(r, n)| (*r, *n)));
        }
        m
    }

    /// Alarms raised so far per rule (a counter); every rule is present.
    pub fn raised_counts(&self, tenant: &str) -> BTreeMap<Rule, u64> {
        let mut m: BTreeMap<Rule, u64> = Rule::ALL.iter().map(|r| (*r, 0)).collect();
        if let Some(t) = self.tenants.get(tenant) {
            m.extend(t.raised.iter().map(|(r, n)| (*r, *n)));
        }
        m
    }

    /// The tenants that have sent at least one record, in name order.
    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        self.tenants.keys().map(String::as_str)
    }

    /// The earliest pending deadline of the tenant. It fires once the tenant's time is
    /// strictly past it: a server keeping wall-clock time writes a tick after it.
    pub fn next_deadline(&self, tenant: &str) -> Option<Ts> {
        self.tenants.get(tenant)?.deadlines.first().map(|(due, _)| Ts::from_nanos(*due))
    }

    /// The tenant's watermark: the time up to which its alarms are final.
    pub fn watermark(&self, tenant: &str) -> Option<Ts> {
        self.tenants.get(tenant)?.clock.0.watermark()
    }

    /// The whole state as bytes (format version byte + bincode). Settings are not part
    /// of it: restore with the same settings, or rebuild from the log.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.snapshot_into(&mut out);
        out
    }

    /// [`Compliance::snapshot`] appended to `out` (no buffer of its own).
    pub fn snapshot_into(&self, out: &mut Vec<u8>) {
        let body = SnapshotBodyRef { position: self.position, tenants: &self.tenants };
        out.push(SNAPSHOT_VERSION);
        let start = out.len();
        // Encoding into a Vec cannot fail for these types; an error would leave only the
        // version byte, which `restore` rejects.
        if bincode::encode_into_std_write(&body, out, BINCODE_CONFIG).is_err() {
            out.truncate(start);
        }
    }

    /// A projector in the state [`Compliance::snapshot`] saved.
    pub fn restore(
        bytes: &[u8],
        default: TenantSettings,
        per_tenant: BTreeMap<String, TenantSettings>,
    ) -> Result<Self, SnapshotError> {
        match bytes.first() {
            Some(&SNAPSHOT_VERSION) => {}
            other => return Err(SnapshotError::Version(other.copied())),
        }
        let (body, _): (SnapshotBody, usize) = bincode::decode_from_slice(&bytes[1..], BINCODE_CONFIG)?;
        let mut c = Compliance::new(default, per_tenant);
        c.position = body.position;
        c.tenants = body.tenants;
        for (name, t) in &mut c.tenants {
            t.name = std::sync::Arc::from(name.as_str());
        }
        Ok(c)
    }
}

impl Projector for Compliance {
    fn apply(&mut self, env: &Envelope) {
        if self.position != 0 && env.seq <= self.position {
            tracing::warn!(seq = env.seq, position = self.position, "compliance: record already applied, skipped");
            return;
        }
        self.position = env.seq;
        let Compliance { default, per_tenant, tenants, record_changes, outbox, .. } = self;
        let tenant = env.tenant.as_str();
        let s = per_tenant.get(tenant).unwrap_or(default);
        let t = match tenants.get_mut(tenant) {
            Some(t) => t,
            None => tenants.entry(tenant.to_owned()).or_insert_with(|| TenantState::new(s, tenant)),
        };
        let mut cx = Cx { s, tenant, out: outbox, record: *record_changes, seq: env.seq };
        t.apply(&mut cx, env);
    }

    fn position(&self) -> u64 {
        self.position
    }
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
