//! The projection set the server and `seatwatch replay` both run.
//!
//! [`Engine`] is itself a [`Projector`]: it hands every record to the occupancy and
//! compliance projectors in log order and collects what changed, as JSON pushes for
//! `/v1/stream`. Live ingest and replay construct it from the same configuration and
//! feed it the same records, so they end in the same state (CONTRACT.md §5).
//!
//! This crate must not know about sockets, files, tokio or the wall clock.

mod snapshot;

pub use snapshot::{ENGINE_SNAPSHOT_VERSION, SnapshotError};

use seatwatch_compliance::{AlarmChange, Compliance};
use seatwatch_config::{ClockMode, Config};
/// The metrics projection (`seatwatch-metrics`), for the server's `/metrics`.
pub use seatwatch_metrics as metrics;
use seatwatch_metrics::CallHistograms;
use seatwatch_model::{Envelope, Projector, Ts};
use seatwatch_occupancy::Occupancy;
use serde::Serialize;
use std::collections::BTreeMap;

/// One message for `/v1/stream` subscribers of `tenant`.
#[derive(Clone, Debug, PartialEq)]
pub struct Push {
    /// Only this tenant's readers (and admins) receive it.
    pub tenant: String,
    /// The JSON text sent, with `"type"` one of `alarm_raised`, `alarm_cleared`, `agent_state`.
    pub json: String,
}

/// Every projection, folded together.
#[derive(Clone, Debug)]
pub struct Engine {
    /// Live agent and queue state, intervals.
    pub occupancy: Occupancy,
    /// Alarms.
    pub compliance: Compliance,
    /// Answer-delay and handle-time histograms for `/metrics` (seatwatch-metrics).
    pub histograms: CallHistograms,
    wall_tenants: BTreeMap<String, bool>,
    default_wall: bool,
    position: u64,
    records: u64,
}

impl Engine {
    /// An engine for `config`'s tenants, having seen nothing.
    pub fn new(config: &Config) -> Self {
        let occupancy = Occupancy::new(
            config.default_tenant.occupancy(),
            config.tenants.iter().map(|(k, t)| (k.clone(), t.occupancy())).collect(),
        );
        let compliance = Compliance::new(
            config.default_tenant.compliance(),
            config.tenants.iter().map(|(k, t)| (k.clone(), t.compliance())).collect(),
        );
        Engine {
            occupancy,
            compliance,
            histograms: CallHistograms::new(config),
            wall_tenants: config.tenants.iter().map(|(k, t)| (k.clone(), t.clock == ClockMode::Wall)).collect(),
            default_wall: config.default_tenant.clock == ClockMode::Wall,
            position: 0,
            records: 0,
        }
    }

    /// Whether changes are collected for [`Engine::take_pushes`] (on by default). A replay
    /// that never drains them switches this off; the folded state is the same either way.
    pub fn set_change_log(&mut self, on: bool) {
        self.compliance.set_change_log(on);
        let occupancy = std::mem::replace(
            &mut self.occupancy,
            Occupancy::new(Default::default(), BTreeMap::new()).with_changes(false),
        );
        self.occupancy = occupancy.with_changes(on);
    }

    /// Whether changes are collected for [`Engine::take_pushes`].
    pub fn change_log(&self) -> bool {
        self.compliance.change_log()
    }

    /// Whether `tenant` runs on the wall clock.
    pub fn is_wall(&self, tenant: &str) -> bool {
        self.wall_tenants.get(tenant).copied().unwrap_or(self.default_wall)
    }

    /// Records applied so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Tenants seen in the log.
    pub fn tenants(&self) -> Vec<String> {
        let mut t: Vec<String> = self.occupancy.tenants().map(str::to_owned).collect();
        t.extend(self.compliance.tenants().map(str::to_owned));
        t.sort();
        t.dedup();
        t
    }

    /// Whether a wall-clock tenant needs a tick at `now`: it has agents logged in, or a
    /// deadline pending (at or before `now`, or any later one: the tick is what makes
    /// it fire on time). Idle tenants get no ticks, so an idle log stays small.
    pub fn needs_tick(&self, tenant: &str, now: Ts) -> bool {
        if !self.is_wall(tenant) {
            return false;
        }
        let pending = self.compliance.next_deadline(tenant).is_some_and(|d| d <= now.plus_secs(1));
        let live = self
            .occupancy
            .agent_state_counts(tenant)
            .iter()
            .any(|(state, n)| *state != seatwatch_occupancy::AgentState::LoggedOut && *n > 0);
        pending || live
    }

    /// What changed since the last call, as pushes for `/v1/stream`, in order.
    pub fn take_pushes(&mut self) -> Vec<Push> {
        let mut out = Vec::new();
        for c in self.occupancy.take_changes() {
            // The change's fields after `type`, spelled out: `#[serde(flatten)]` writes the
            // same JSON through serde's map machinery, at about twice the cost.
            #[derive(Serialize)]
            struct AgentStatePush<'a> {
                r#type: &'static str,
                tenant: &'a str,
                agent: &'a seatwatch_model::AgentId,
                state: seatwatch_occupancy::AgentState,
                since: seatwatch_model::Ts,
                station: &'a Option<String>,
                reason: &'a Option<String>,
                seq: u64,
            }
            let push = AgentStatePush {
                r#type: "agent_state",
                tenant: &c.tenant,
                agent: &c.agent,
                state: c.state,
                since: c.since,
                station: &c.station,
                reason: &c.reason,
                seq: c.seq,
            };
            let json = to_json(&push, 160);
            out.push(Push { tenant: c.tenant, json });
        }
        for c in self.compliance.take_changes() {
            #[derive(Serialize)]
            struct AlarmPush<'a> {
                r#type: &'static str,
                // As `agent_state` pushes carry it: alarm ids are unique within a tenant.
                tenant: &'a str,
                #[serde(flatten)]
                alarm: &'a seatwatch_compliance::Alarm,
            }
            let (ty, alarm) = match &c {
                AlarmChange::Raised(a) => ("alarm_raised", a),
                AlarmChange::Cleared(a) => ("alarm_cleared", a),
            };
            let json = to_json(&AlarmPush { r#type: ty, tenant: &alarm.tenant, alarm }, 384);
            out.push(Push { tenant: alarm.tenant.clone(), json });
        }
        out
    }
}

/// `value` as JSON text, written into a buffer of `capacity` bytes to begin with (a push
/// is one short object: growing from serde_json's default 128 bytes cost a reallocation
/// or two per push).
fn to_json<T: Serialize>(value: &T, capacity: usize) -> String {
    let mut buf = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut buf, value) {
        // serde_json writes UTF-8 only.
        Ok(()) => String::from_utf8(buf).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

impl Engine {
    /// Fold `runs` in order, as `apply` on each of their records would, on two threads:
    /// compliance and the histograms on one scoped helper thread for the whole call,
    /// occupancy on this one through `occupancy_fold(run, occupancy)`, which must fold
    /// every record of `run` in order (and may do more per record: the reports' books).
    /// The projections share no state, so the result is the same; each side keeps its
    /// tables in its own core's cache, which a thread per run did not (a start-up
    /// catch-up measured no gain that way). For catching up (a replay), not for the
    /// live fold, whose other core serves ingest.
    pub fn apply_runs_parallel<I>(&mut self, runs: I, mut occupancy_fold: impl FnMut(&[Envelope], &mut Occupancy))
    where
        I: IntoIterator<Item = Vec<Envelope>>,
    {
        let Engine { occupancy, compliance, histograms, position, records, .. } = self;
        let (tx, rx) = std::sync::mpsc::sync_channel::<std::sync::Arc<Vec<Envelope>>>(4);
        std::thread::scope(|s| {
            s.spawn(move || {
                for run in rx {
                    compliance.apply_run(&run);
                    histograms.apply_run(&run);
                }
            });
            for run in runs {
                // What `apply` would fold: each record past the position so far.
                let mut pos = *position;
                let run: Vec<Envelope> = run
                    .into_iter()
                    .filter(|e| {
                        let new = e.seq > pos;
                        pos = pos.max(e.seq);
                        new
                    })
                    .collect();
                if run.is_empty() {
                    continue;
                }
                let run = std::sync::Arc::new(run);
                // A send fails only if the helper panicked (the scope raises that).
                if tx.send(run.clone()).is_err() {
                    break;
                }
                occupancy_fold(&run, occupancy);
                *position = pos;
                *records += run.len() as u64;
            }
            drop(tx);
        });
    }
}

impl Projector for Engine {
    fn apply(&mut self, env: &Envelope) {
        if env.seq <= self.position {
            return;
        }
        self.occupancy.apply(env);
        self.compliance.apply(env);
        self.histograms.apply(env);
        self.position = env.seq;
        self.records += 1;
    }

    /// Each projection folds the whole run in turn (occupancy, then compliance, then the
    /// histograms): they share no state, so the result is that of `apply` per record,
    /// and each one's tables stay in the cache across the run instead of the three
    /// evicting each other at every record. Their change logs are kept per projection
    /// already, so the pushes come out in the same order too.
    fn apply_run(&mut self, records: &[Envelope]) {
        // Records not in increasing `seq` order (never from the log): one by one, as
        // `apply` decides for each. Otherwise skip those at or below the position.
        if !records.windows(2).all(|w| w[0].seq < w[1].seq) {
            for env in records {
                self.apply(env);
            }
            return;
        }
        let start = records.partition_point(|e| e.seq <= self.position);
        let run = &records[start..];
        let Some(last) = run.last() else { return };
        for env in run {
            self.occupancy.apply(env);
        }
        for env in run {
            self.compliance.apply(env);
        }
        for env in run {
            self.histograms.apply(env);
        }
        self.position = last.seq;
        self.records += run.len() as u64;
    }

    fn position(&self) -> u64 {
        self.position
    }
}

#[cfg(test)]
mod change_log_tests {
    use super::*;
    use seatwatch_model::{AgentId, CallId, Event, EventKind, QueueId};

    fn records() -> Vec<Envelope> {
        let call = || CallId::from("c1");
        let kinds = [
            EventKind::Login { station: "s1".into() },
            EventKind::Ready,
            EventKind::Offered {
                call: call(),
                queue: Some(QueueId::from("q")),
                caller: None,
                emergency: false,
                priority: None,
            },
            EventKind::Answered { call: call(), rings: None },
            EventKind::Ended { call: call() },
            EventKind::NotReady { reason: Some("break".into()) },
            EventKind::Logout,
        ];
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| {
                // 2026-03-02 09:00 Shanghai, then 20 minutes apart (the not-ready runs over).
                let ts = Ts::from_secs(1_772_413_200 + 1200 * i as i64);
                Envelope {
                    seq: i as u64 + 1,
                    tenant: "acme".into(),
                    source: "acd".into(),
                    received: ts,
                    event: Event {
                        id: format!("e{i}").into(),
                        ts,
                        agent: Some(AgentId::from("a1")),
                        kind,
                        extra: None,
                    },
                }
            })
            .collect()
    }

    /// Runs on two threads fold what `apply` per record folds, records at or below the
    /// position (repeated, out of order, already folded) skipped the same way.
    #[test]
    fn runs_on_two_threads_fold_what_apply_folds() {
        let config = Config::default();
        let rs = records();
        // Two runs overlapping by one record, a record repeated, an empty run and one
        // entirely at or below the position.
        let runs = vec![
            rs[..3].to_vec(),
            vec![rs[2].clone(), rs[3].clone(), rs[3].clone(), rs[1].clone(), rs[4].clone()],
            Vec::new(),
            rs[..2].to_vec(),
            rs[5..].to_vec(),
        ];
        let mut one = Engine::new(&config);
        for env in runs.iter().flatten() {
            one.apply(env);
        }
        let mut two = Engine::new(&config);
        let mut seen = Vec::new();
        two.apply_runs_parallel(runs, |run, occupancy| {
            seen.extend(run.iter().map(|e| e.seq));
            occupancy.apply_run(run);
        });
        assert_eq!(seen, (1..=rs.len() as u64).collect::<Vec<_>>(), "each record once, in order");
        assert_eq!(two.occupancy, one.occupancy);
        assert_eq!(two.compliance, one.compliance);
        assert_eq!(two.histograms, one.histograms);
        assert_eq!((two.position(), two.records), (one.position(), one.records));
        assert_eq!(two.take_pushes(), one.take_pushes());
    }

    #[test]
    fn the_change_log_switch_changes_only_the_pushes() {
        let config = Config::default();
        let mut on = Engine::new(&config);
        let mut off = Engine::new(&config);
        off.set_change_log(false);
        for env in &records() {
            on.apply(env);
            off.apply(env);
        }
        assert_eq!(on.occupancy, off.occupancy);
        assert_eq!(on.compliance, off.compliance);
        assert_eq!(on.position(), off.position());
        let pushes = on.take_pushes();
        assert!(pushes.iter().any(|p| p.json.contains("agent_state")), "{pushes:?}");
        assert!(pushes.iter().any(|p| p.json.contains("alarm_raised")), "{pushes:?}");
        for p in &pushes {
            let v: serde_json::Value = serde_json::from_str(&p.json).unwrap();
            assert_eq!(v["tenant"], p.tenant.as_str(), "every push names its tenant: {v}");
        }
        assert!(off.take_pushes().is_empty());
        assert!(on.change_log() && !off.change_log());
        // Switching it back on collects again.
        off.set_change_log(true);
        assert!(off.change_log());
        let mut more = records();
        for (i, env) in more.iter_mut().enumerate() {
            env.seq += 7;
            env.event.ts = env.event.ts.plus_secs(86_400 + i as i64);
        }
        for env in &more {
            off.apply(env);
        }
        assert!(!off.take_pushes().is_empty());
    }

    #[test]
    fn an_agent_state_push_is_the_change_after_its_type_as_one_json_object() {
        let mut engine = Engine::new(&Config::default());
        let rs = records();
        engine.apply(&rs[0]);
        engine.apply(&rs[1]);
        let pushes = engine.take_pushes();
        let texts: Vec<&str> = pushes.iter().map(|p| p.json.as_str()).collect();
        // Field for field what `{"type": "agent_state"}` plus the flattened
        // `AgentStateChange` gave before (docs/protocol.md).
        let login = r#"{"type":"agent_state","tenant":"acme","agent":"a1","state":"ready","since":"2026-03-02T01:00:00Z","station":"s1","reason":null,"seq":1}"#;
        assert_eq!(texts.first().copied(), Some(login), "{texts:?}");
        assert!(pushes.iter().all(|p| p.tenant == "acme"));
        let states: Vec<&str> = texts.iter().copied().filter(|t| t.starts_with(r#"{"type":"agent_state""#)).collect();
        let flattened = changes_as_flattened(&rs);
        assert!(!flattened.is_empty());
        let mut all = Engine::new(&Config::default());
        for r in &rs {
            all.apply(r);
        }
        let all_states: Vec<String> = all
            .take_pushes()
            .into_iter()
            .map(|p| p.json)
            .filter(|t| t.starts_with(r#"{"type":"agent_state""#))
            .collect();
        assert_eq!(all_states, flattened);
        assert_eq!(states, flattened[..states.len()]);
    }

    /// The same records' agent-state pushes as `#[serde(flatten)]` writes them.
    fn changes_as_flattened(records: &[Envelope]) -> Vec<String> {
        #[derive(Serialize)]
        struct Flattened<'a> {
            r#type: &'static str,
            #[serde(flatten)]
            change: &'a seatwatch_occupancy::AgentStateChange,
        }
        let mut occupancy = Engine::new(&Config::default()).occupancy;
        for r in records {
            occupancy.apply(r);
        }
        occupancy
            .take_changes()
            .iter()
            .map(|c| serde_json::to_string(&Flattened { r#type: "agent_state", change: c }).unwrap())
            .collect()
    }
}
