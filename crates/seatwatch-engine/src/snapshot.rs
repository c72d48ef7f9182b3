//! The whole projection set as bytes, so that a server can restart from a snapshot and
//! fold only the log's tail.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! magic "SWENGIN" + format version byte (1)
//! position u64, records u64
//! occupancy length u64, occupancy snapshot bytes (its own versioned format)
//! compliance length u64, compliance snapshot bytes (its own versioned format)
//! histograms length u64, metrics histogram snapshot bytes (its own versioned format)
//! ```
//!
//! The container a server writes to disk (log position, head hash, checksum, config
//! fingerprint) lives in the ingest crate; this is only the state.

use crate::Engine;
use seatwatch_compliance::Compliance;
use seatwatch_config::Config;
use seatwatch_metrics::CallHistograms;
use seatwatch_model::Projector;
use seatwatch_occupancy::Occupancy;

const MAGIC: &[u8; 7] = b"SWENGIN";
/// The format version of [`Engine::snapshot`].
pub const ENGINE_SNAPSHOT_VERSION: u8 = 1;

/// Why an engine snapshot cannot be restored. Whatever the reason, the caller falls
/// back to folding the log: a snapshot is never trusted over the log.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not an engine snapshot, another format version, or cut short.
    #[error("not an engine snapshot of format version {ENGINE_SNAPSHOT_VERSION}: {0}")]
    Format(String),
    /// The occupancy part does not restore.
    #[error("occupancy: {0}")]
    Occupancy(#[from] seatwatch_occupancy::SnapshotError),
    /// The compliance part does not restore.
    #[error("compliance: {0}")]
    Compliance(#[from] seatwatch_compliance::SnapshotError),
    /// The metrics histogram part does not restore.
    #[error("{0}")]
    Histograms(#[from] seatwatch_metrics::SnapshotError),
}

fn take<'a>(rest: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], SnapshotError> {
    if rest.len() < n {
        return Err(SnapshotError::Format(format!("cut short in {what}")));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn take_u64(rest: &mut &[u8], what: &str) -> Result<u64, SnapshotError> {
    let b = take(rest, 8, what)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_le_bytes(a))
}

/// Append a part as its `u64` length (little-endian) and the bytes `encode` appends.
fn part(out: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 8]);
    encode(out);
    let len = (out.len() - at - 8) as u64;
    if let Some(slot) = out.get_mut(at..at + 8) {
        slot.copy_from_slice(&len.to_le_bytes());
    }
}

fn take_part<'a>(rest: &mut &'a [u8], what: &str) -> Result<&'a [u8], SnapshotError> {
    let n = take_u64(rest, what)?;
    let n = usize::try_from(n).map_err(|_| SnapshotError::Format(format!("{what} length {n} is too large")))?;
    take(rest, n, what)
}

impl Engine {
    /// The folded state of every projection as bytes (deterministic: equal states give
    /// equal bytes). Pending pushes are not included.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.snapshot_into(&mut out);
        out
    }

    /// [`Engine::snapshot`] appended to `out`. Each projection encodes straight into
    /// `out` (its length is filled in after it): a snapshot costs one buffer, not one
    /// per projection plus their concatenation (docs/performance.md, memory).
    pub fn snapshot_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.push(ENGINE_SNAPSHOT_VERSION);
        out.extend_from_slice(&self.position.to_le_bytes());
        out.extend_from_slice(&self.records.to_le_bytes());
        part(out, |o| self.occupancy.snapshot_into(o));
        part(out, |o| self.compliance.snapshot_into(o));
        part(out, |o| self.histograms.snapshot_into(o));
    }

    /// An engine for `config` in the state an [`Engine::snapshot`] saved. The tenants'
    /// settings the state depends on must be those the snapshot was taken with (the
    /// occupancy part checks time zone, interval and lateness; a server also checks a
    /// fingerprint of the whole configuration before calling this).
    pub fn restore(config: &Config, bytes: &[u8]) -> Result<Engine, SnapshotError> {
        let mut rest = bytes;
        let magic = take(&mut rest, MAGIC.len() + 1, "the header")?;
        if &magic[..MAGIC.len()] != MAGIC {
            return Err(SnapshotError::Format("wrong magic bytes".into()));
        }
        if magic[MAGIC.len()] != ENGINE_SNAPSHOT_VERSION {
            return Err(SnapshotError::Format(format!("found version {}", magic[MAGIC.len()])));
        }
        let position = take_u64(&mut rest, "the position")?;
        let records = take_u64(&mut rest, "the record count")?;
        let occ = take_part(&mut rest, "the occupancy part")?;
        let comp = take_part(&mut rest, "the compliance part")?;
        let hist = take_part(&mut rest, "the histogram part")?;
        if !rest.is_empty() {
            return Err(SnapshotError::Format(format!("{} bytes after the end", rest.len())));
        }
        let mut engine = Engine::new(config);
        let occupancy = Occupancy::restore(
            occ,
            config.default_tenant.occupancy(),
            config.tenants.iter().map(|(k, t)| (k.clone(), t.occupancy())).collect(),
        )?;
        let compliance = Compliance::restore(
            comp,
            config.default_tenant.compliance(),
            config.tenants.iter().map(|(k, t)| (k.clone(), t.compliance())).collect(),
        )?;
        let histograms = CallHistograms::restore(hist, config)?;
        if occupancy.position() != position || compliance.position() != position || histograms.position() != position {
            return Err(SnapshotError::Format(format!(
                "the parts disagree on the log position: engine {position}, occupancy {}, compliance {}, histograms {}",
                occupancy.position(),
                compliance.position(),
                histograms.position()
            )));
        }
        engine.occupancy = occupancy;
        engine.compliance = compliance;
        engine.histograms = histograms;
        engine.position = position;
        engine.records = records;
        Ok(engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use seatwatch_compliance::AlarmQuery;
    use seatwatch_model::{AgentId, CallId, Date, Envelope, Event, EventKind, QueueId, ShiftHours, TimeOfDay, Ts};

    /// 2026-03-20T00:00:00+08:00, a Friday: generated logs cross a weekend, the 25th and
    /// the ISO week boundary.
    const BASE: i64 = 1_773_936_000;

    fn config() -> Config {
        Config::parse(
            "[tenant.acme]\nclock = \"event\"\n\n[tenant.globex]\ntimezone = \"Europe/Berlin\"\nallowed_lateness = \"2s\"\n\n[tenant.globex.occupancy]\ninterval = \"30m\"\n",
        )
        .unwrap()
    }

    #[derive(Clone, Debug)]
    struct Step {
        dt: i64,
        tenant: usize,
        agent: usize,
        kind: u8,
        a: u8,
        b: u8,
        flag: bool,
    }

    fn step() -> impl Strategy<Value = Step> {
        (
            prop_oneof![4 => 0i64..120, 3 => 0i64..1200, 1 => 0i64..30_000],
            0usize..2,
            0usize..4,
            0u8..26,
            any::<u8>(),
            any::<u8>(),
            any::<bool>(),
        )
            .prop_map(|(dt, tenant, agent, kind, a, b, flag)| Step { dt, tenant, agent, kind, a, b, flag })
    }

    fn kind_of(s: &Step, now: i64) -> EventKind {
        let call = CallId::from(format!("c{}", s.a % 6));
        let queue = QueueId::from(format!("q{}", s.b % 2));
        let date = |off: u8| Date::from_naive(Ts::from_secs(now).to_utc().date_naive()).0 + i32::from(off % 40) - 5;
        let tod = |v: u8| TimeOfDay(u32::from(v % 24) * 3600 + u32::from(v % 4) * 900);
        match s.kind {
            0 | 1 => EventKind::Login { station: format!("s{}", s.a % 3) },
            2 => EventKind::Logout,
            3 | 4 => EventKind::Ready,
            5 | 6 => EventKind::NotReady { reason: s.flag.then(|| "break".to_owned()) },
            7 => EventKind::Offered { call, queue: Some(queue), caller: None, emergency: s.flag, priority: None },
            8 => EventKind::Answered { call, rings: s.flag.then_some(u32::from(s.b % 7)) },
            9 => EventKind::Missed { call },
            10 => EventKind::Ended { call },
            11 => EventKind::WrapUp { call: None },
            12 => EventKind::SurveyOffered { call },
            13 => EventKind::Transferred { call, to: "x".into() },
            14 => EventKind::Heartbeat,
            15 => EventKind::Roster { certified: s.flag, name: None, active: !s.b.is_multiple_of(5) },
            16 => {
                let (st, en) = (tod(s.a), tod(s.b));
                let hours = (!s.flag && st != en).then_some(ShiftHours { start: st, end: en });
                EventKind::Shift { date: Date(date(s.a)), hours }
            }
            17 => EventKind::LeaveApproved {
                from: Date(date(s.a)),
                to: Date(date(s.a) + i32::from(s.b % 3)),
                by: "s".into(),
            },
            18 => EventKind::BusyApproved { until: Ts::from_secs(now + i64::from(s.b) * 30), by: "s".into() },
            19 => EventKind::Monitored { call: None, by: "qa".into() },
            20 => EventKind::CallbackSampled { call: None, by: "qa".into() },
            21 => EventKind::CallbackPromised { call, due: Ts::from_secs(now + i64::from(s.b) * 60 - 600) },
            22 => EventKind::CallbackDone { call },
            23 => EventKind::Escalated { call },
            24 => EventKind::Queued { call, queue, caller: None, emergency: s.flag, priority: None },
            _ => EventKind::Tick,
        }
    }

    fn build(steps: &[Step]) -> Vec<Envelope> {
        let mut now = BASE + 8 * 3600;
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                now += s.dt;
                let kind = kind_of(s, now);
                let agent = kind.has_agent().then(|| AgentId::from(format!("a{}", s.agent)));
                let seq = i as u64 + 1;
                Envelope {
                    seq,
                    tenant: ["acme", "globex"][s.tenant].into(),
                    source: "acd".into(),
                    received: Ts::from_secs(now),
                    event: Event { id: format!("e{seq}").into(), ts: Ts::from_secs(now), agent, kind, extra: None },
                }
            })
            .collect()
    }

    fn fold(engine: &mut Engine, records: &[Envelope]) {
        for r in records {
            engine.apply(r);
        }
    }

    /// Everything a reader can see, as JSON text.
    fn views(e: &Engine) -> String {
        let mut out = String::new();
        for t in e.tenants() {
            let all = AlarmQuery::default();
            out += &serde_json::json!({
                "tenant": t,
                "agents": e.occupancy.agents(&t),
                "queues": e.occupancy.queues(&t),
                "intervals": e.occupancy.intervals(&t, None, None, None),
                "windows": e.occupancy.windows(&t),
                "alarms": e.compliance.alarms(&t, &all),
                "next_deadline": e.compliance.next_deadline(&t),
            })
            .to_string();
        }
        out
    }

    /// `got` holds the same state as `want`: position, every projection, every view,
    /// the snapshot bytes.
    fn same_state(got: &Engine, want: &Engine) -> Result<(), TestCaseError> {
        prop_assert_eq!(got.position(), want.position());
        prop_assert_eq!(got.records(), want.records());
        prop_assert!(got.occupancy == want.occupancy, "occupancy differs");
        prop_assert!(got.compliance == want.compliance, "compliance differs");
        prop_assert!(got.histograms == want.histograms, "histograms differ");
        prop_assert_eq!(views(got), views(want));
        prop_assert_eq!(got.snapshot(), want.snapshot());
        Ok(())
    }

    proptest! {
        #![proptest_config(seatwatch_testkit::proptest_config("engine-snapshot", 32))]

        #[test]
        fn restore_of_a_prefix_snapshot_then_the_tail_equals_the_whole_fold(
            steps in prop::collection::vec(step(), 1..160),
            split in any::<prop::sample::Index>(),
        ) {
            let config = config();
            let log = build(&steps);
            let cut = split.index(log.len() + 1);
            let mut whole = Engine::new(&config);
            fold(&mut whole, &log);

            let mut prefix = Engine::new(&config);
            fold(&mut prefix, &log[..cut]);
            let bytes = prefix.snapshot();
            let mut restored = Engine::restore(&config, &bytes).unwrap();
            prop_assert_eq!(restored.snapshot(), bytes, "a restored engine snapshots to the same bytes");
            fold(&mut restored, &log[cut..]);

            same_state(&restored, &whole)?;
        }

        /// Folding in runs (`apply_run`, each projection over the whole run in turn)
        /// leaves the state and the pushes that `apply` record by record does, for any
        /// run lengths, with runs that overlap what was folded already and with the
        /// change log on or off.
        #[test]
        fn folding_in_runs_equals_folding_record_by_record(
            steps in prop::collection::vec(step(), 1..160),
            runs in prop::collection::vec(1usize..40, 1..20),
            back in 0usize..4,
            change_log in any::<bool>(),
        ) {
            let config = config();
            let log = build(&steps);
            let mut one = Engine::new(&config);
            one.set_change_log(change_log);
            fold(&mut one, &log);
            let one_pushes = one.take_pushes();

            let mut ran = Engine::new(&config);
            ran.set_change_log(change_log);
            let (mut at, mut i) = (0usize, 0usize);
            while at < log.len() {
                let n = runs[i % runs.len()];
                i += 1;
                // Start a little before the position: `apply_run` skips what it has.
                let from = at.saturating_sub(back);
                let to = (at + n).min(log.len());
                ran.apply_run(&log[from..to]);
                at = to;
            }
            same_state(&ran, &one)?;
            let ran_pushes = ran.take_pushes();
            prop_assert_eq!(ran_pushes.len(), one_pushes.len());
            for (a, b) in ran_pushes.iter().zip(&one_pushes) {
                prop_assert_eq!((&a.tenant, &a.json), (&b.tenant, &b.json));
            }
        }
    }

    /// A run out of `seq` order folds as `apply` record by record would: records at or
    /// below the position are skipped wherever they stand.
    #[test]
    fn a_run_out_of_order_folds_as_record_by_record() {
        let config = config();
        let steps: Vec<Step> = (0..30)
            .map(|i| Step { dt: 20, tenant: i % 2, agent: i % 3, kind: (i % 25) as u8, a: i as u8, b: 2, flag: false })
            .collect();
        let log = build(&steps);
        // After seq 10: seq 15, then 5 (folded already) and 12 (now behind 15).
        let shuffled = [log[14].clone(), log[4].clone(), log[11].clone(), log[20].clone()];
        let mut one = Engine::new(&config);
        fold(&mut one, &log[..10]);
        let mut ran = one.clone();
        fold(&mut one, &shuffled);
        ran.apply_run(&shuffled);
        assert_eq!(ran.position(), one.position());
        assert_eq!(ran.records(), one.records());
        assert_eq!(ran.snapshot(), one.snapshot());
    }

    #[test]
    fn damaged_snapshots_are_refused_not_trusted() {
        let config = config();
        let log = build(
            &(0..40)
                .map(|i| Step {
                    dt: 30,
                    tenant: i % 2,
                    agent: i % 3,
                    kind: (i % 25) as u8,
                    a: i as u8,
                    b: 3,
                    flag: i % 3 == 0,
                })
                .collect::<Vec<_>>(),
        );
        let mut e = Engine::new(&config);
        fold(&mut e, &log);
        let bytes = e.snapshot();
        assert!(Engine::restore(&config, &bytes).is_ok());
        assert!(matches!(Engine::restore(&config, &bytes[..bytes.len() - 1]), Err(SnapshotError::Format(_))));
        assert!(matches!(Engine::restore(&config, b"nonsense"), Err(SnapshotError::Format(_))));
        let mut v2 = bytes.clone();
        v2[7] = 2;
        let e2 = Engine::restore(&config, &v2).unwrap_err();
        assert!(e2.to_string().contains("found version 2"), "{e2}");
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(Engine::restore(&config, &longer), Err(SnapshotError::Format(_))));
        // Another interval length for a tenant in the snapshot: the occupancy part refuses.
        let other =
            Config::parse("[tenant.acme]\nclock = \"event\"\n\n[tenant.acme.occupancy]\ninterval = \"5m\"\n").unwrap();
        assert!(matches!(Engine::restore(&other, &bytes), Err(SnapshotError::Occupancy(_))));
    }
}
