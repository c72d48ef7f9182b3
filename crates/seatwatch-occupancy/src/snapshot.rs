//! Snapshots: the folded state as bytes, so a server can restart without replaying the
//! whole log.

use crate::ids::IdMap;
use crate::settings::Resolved;
use crate::{Call, Changes, Occupancy, Tenant, TenantSettings};
use bincode::de::{BorrowDecoder, Decoder};
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};
use seatwatch_model::{BINCODE_CONFIG, Clock, Envelope, Event, EventKind, Ts};
use std::collections::BTreeMap;

/// A field computed from the others (an index, a cache): not encoded, decoded as its
/// default and rebuilt, and equal to any other value (it never decides equality).
#[derive(Clone, Debug, Default)]
pub(crate) struct Derived<T>(pub T);

impl<T> PartialEq for Derived<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Eq for Derived<T> {}

impl<T> Encode for Derived<T> {
    fn encode<E: Encoder>(&self, _: &mut E) -> Result<(), EncodeError> {
        Ok(())
    }
}

impl<C, T: Default> Decode<C> for Derived<T> {
    fn decode<D: Decoder<Context = C>>(_: &mut D) -> Result<Self, DecodeError> {
        Ok(Derived(T::default()))
    }
}

impl<'de, C, T: Default> BorrowDecode<'de, C> for Derived<T> {
    fn borrow_decode<D: BorrowDecoder<'de, Context = C>>(_: &mut D) -> Result<Self, DecodeError> {
        Ok(Derived(T::default()))
    }
}

/// The open calls by id, encoded sorted by id so that snapshots are byte-stable.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Calls(pub IdMap<Call>);

impl Encode for Calls {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        let mut sorted: Vec<(&str, &Call)> = self.0.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        sorted.encode(e)
    }
}

impl<C> Decode<C> for Calls {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        let v: Vec<(String, Call)> = Decode::decode(d)?;
        Ok(Calls(v.into_iter().collect()))
    }
}
bincode::impl_borrow_decode!(Calls);

/// A tenant's [`Clock`], encoded as its lateness, `now` and watermark.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ClockState(pub Clock);

impl Encode for ClockState {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        (self.0.allowed_lateness, self.0.now(), self.0.watermark()).encode(e)
    }
}

fn probe(kind: EventKind, ts: Ts) -> Envelope {
    Envelope {
        seq: 0,
        tenant: Default::default(),
        source: Default::default(),
        received: ts,
        event: Event { id: Default::default(), ts, agent: None, kind, extra: None },
    }
}

impl<C> Decode<C> for ClockState {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        let (lateness, now, watermark): (i64, Option<Ts>, Option<Ts>) = Decode::decode(d)?;
        // Rebuild through the clock's own rules: a heartbeat at the watermark, then an
        // event at `now` (which cannot move the watermark: it is never below
        // `now − lateness`). Anything else is not a state a clock can be in.
        let mut clock = Clock::new(lateness);
        if let Some(w) = watermark {
            clock.observe(&probe(EventKind::Heartbeat, w));
        }
        if let Some(n) = now {
            clock.observe(&probe(EventKind::Ready, n));
        }
        if clock.now() != now || clock.watermark() != watermark || clock.allowed_lateness != lateness {
            return Err(DecodeError::Other("inconsistent clock in snapshot"));
        }
        Ok(ClockState(clock))
    }
}
bincode::impl_borrow_decode!(ClockState);

/// Why a snapshot could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes are not a snapshot of this version.
    #[error("not an occupancy snapshot (or one of another version)")]
    Format,
    /// The bytes do not decode.
    #[error("occupancy snapshot does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// The tenant's settings changed in a way the snapshot's state depends on.
    #[error(
        "tenant {tenant:?}: the snapshot was taken with {was}, the settings now say {now}; \
         replay the log instead of restoring"
    )]
    SettingsChanged {
        /// The tenant.
        tenant: String,
        /// What the snapshot was taken with.
        was: String,
        /// What the settings say now.
        now: String,
    },
}

/// The format's magic and version: version 2 books agent time lazily (the open segment,
/// its corrections, each agent's `interval_from`); version 3 adds the service level's
/// cohort numerator to the counters and each call's first-offer queue; version 4 lists
/// agents known only from the roster (each agent's `listing`). Snapshots of
/// other versions are refused (the server then folds the log).
const MAGIC: &[u8; 8] = b"SWOCC\x00\x00\x04";

/// What the state depends on: the time zone, the interval and the lateness.
fn fingerprint(cfg: &Resolved) -> String {
    format!("timezone {}, interval {} ns, allowed lateness {} ns", cfg.tz.name(), cfg.interval_ns, cfg.lateness_ns)
}

#[derive(Encode, Decode)]
struct Body {
    position: u64,
    timeline: bool,
    tenants: Vec<Tenant>,
    fingerprints: Vec<String>,
}

/// [`Body`] borrowed: encodes to the same bytes without copying the state.
#[derive(Encode)]
struct BodyRef<'a> {
    position: u64,
    timeline: bool,
    tenants: &'a Vec<Tenant>,
    fingerprints: Vec<String>,
}

impl Occupancy {
    /// The folded state as bytes (deterministic: equal states give equal bytes). Changes
    /// waiting for [`Occupancy::take_changes`] are not included.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.snapshot_into(&mut out);
        out
    }

    /// [`Occupancy::snapshot`] appended to `out` (no buffer of its own).
    pub fn snapshot_into(&self, out: &mut Vec<u8>) {
        let body = BodyRef {
            position: self.position,
            timeline: self.timeline,
            tenants: &self.tenants,
            fingerprints: self.cfgs.iter().map(fingerprint).collect(),
        };
        out.extend_from_slice(MAGIC);
        let start = out.len();
        // Encoding into a Vec cannot fail for these types; an error would leave only the
        // magic, which `restore` rejects.
        if bincode::encode_into_std_write(&body, out, BINCODE_CONFIG).is_err() {
            out.truncate(start);
        }
    }

    /// Restore a [`Occupancy::snapshot`] with the same settings it was taken with (the
    /// time zone, interval and lateness of every tenant in it must be unchanged; other
    /// settings apply from now on). Changes are tracked, as after [`Occupancy::new`].
    pub fn restore(
        bytes: &[u8],
        default: TenantSettings,
        per_tenant: BTreeMap<String, TenantSettings>,
    ) -> Result<Self, SnapshotError> {
        let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or(SnapshotError::Format)?;
        let (body, used): (Body, usize) = bincode::decode_from_slice(rest, BINCODE_CONFIG)?;
        if used != rest.len() || body.fingerprints.len() != body.tenants.len() {
            return Err(SnapshotError::Format);
        }
        let mut occ = Occupancy::new(default, per_tenant);
        occ.position = body.position;
        occ.timeline = body.timeline;
        for (mut t, was) in body.tenants.into_iter().zip(body.fingerprints) {
            let cfg = Resolved::new(occ.per_tenant.get(&t.name).unwrap_or(&occ.default));
            let now = fingerprint(&cfg);
            if now != was {
                return Err(SnapshotError::SettingsChanged { tenant: t.name, was, now });
            }
            if occ.index.contains_key(&t.name) {
                return Err(SnapshotError::Format);
            }
            t.rebuild(&cfg);
            occ.index.insert(t.name.clone(), occ.tenants.len());
            occ.tenants.push(t);
            occ.cfgs.push(cfg);
        }
        occ.changes = Changes { track: true, ..Changes::default() };
        Ok(occ)
    }
}
