//! Shared bench fixtures: the simulated call centre's events as stored envelopes, and the
//! bare `Vec` fold every fold bench quotes as its same-run baseline.
//!
//! The events come from `seatwatch-sim`'s deterministic generator (the same one the load
//! benchmark sends over WebSocket), validated by the same code the server runs
//! ([`seatwatch_model::validate_event`]), so the benches fold exactly what a server would
//! have in its log.

use chrono::NaiveTime;
use seatwatch_model::{
    AgentId, CallerKey, CallerPolicy, Envelope, EventKind, IngestOptions, Projector, parse_frame, validate_event,
};
use seatwatch_sim::{SimConfig, generate};
use std::collections::HashMap;

/// The tenant every fixture event belongs to.
pub const TENANT: &str = "acme";

/// Whether the bench binary runs in criterion's smoke-test mode (`cargo bench -- --test`):
/// benches then use small inputs so that CI stays fast.
pub fn smoke_test() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// A working day of `agents` agents, sized like a busy centre: 50 queues (fewer for small
/// centres) and about 8 calls per agent-hour, 5 % violations, heartbeats every 10 s.
pub fn sim_config(agents: u32, seed: u64) -> SimConfig {
    let queues = (agents / 20).clamp(1, 50);
    SimConfig {
        seed,
        agents,
        queues,
        calls_per_hour: 8.0 * f64::from(agents) / f64::from(queues),
        violation_rate: 0.05,
        ..SimConfig::default()
    }
}

/// The simulated events as stored envelopes (seq from 1, tenant [`TENANT`], source
/// `acd`, received = ts), split at local time `split`: the records before it (the roster,
/// the shifts, the logins and the first calls: folded once, untimed) and up to `window`
/// records from it on (the measured mix).
pub fn envelopes(cfg: &SimConfig, split: NaiveTime, window: usize) -> (Vec<Envelope>, Vec<Envelope>) {
    let key = CallerKey([7; 32]);
    let opts = IngestOptions::any_time(TENANT, CallerPolicy::Hmac, &key);
    let mut prefix = Vec::new();
    let mut measured = Vec::with_capacity(window.min(1 << 24));
    let Ok(events) = generate(cfg) else { return (prefix, measured) };
    let mut seq = 0u64;
    for ev in events {
        if measured.len() >= window {
            break;
        }
        let Some(event) =
            parse_frame(&ev.json).ok().and_then(|f| f.items.first().and_then(|v| validate_event(v, 0, &opts).ok()))
        else {
            continue;
        };
        seq += 1;
        let env = Envelope {
            seq,
            tenant: TENANT.to_owned().into(),
            source: "acd".to_owned().into(),
            received: event.ts,
            event,
        };
        if measured.is_empty() && ev.at.time() < split {
            prefix.push(env);
        } else {
            measured.push(env);
        }
    }
    (prefix, measured)
}

/// Fold `records` into `p`.
pub fn fold_all<P: Projector>(p: &mut P, records: &[Envelope]) {
    for env in records {
        p.apply(env);
    }
}

/// One event reduced to what the bare baseline folds: agent index, state code, time.
#[derive(Clone, Copy, Debug)]
pub struct Compact {
    /// Index of the agent in the baseline's `Vec` (`u32::MAX`: no agent).
    pub agent: u32,
    /// 0 logged out, 1 ready, 2 not ready, 3 ringing, 4 talking, 5 wrap-up, 6 unchanged.
    pub state: u8,
    /// Event time (ns).
    pub ts: i64,
}

/// The events as [`Compact`] records, agents numbered in order of appearance; returns them
/// and the number of agents.
pub fn compact(records: &[Envelope]) -> (Vec<Compact>, usize) {
    let mut index: HashMap<&AgentId, u32> = HashMap::new();
    let out = records
        .iter()
        .map(|env| {
            let agent = match env.event.agent.as_ref().filter(|_| env.event.kind.has_agent()) {
                Some(a) => {
                    let n = index.len() as u32;
                    *index.entry(a).or_insert(n)
                }
                None => u32::MAX,
            };
            Compact { agent, state: state_code(&env.event.kind), ts: env.event.ts.nanos }
        })
        .collect();
    (out, index.len())
}

fn state_code(k: &EventKind) -> u8 {
    match k {
        EventKind::Logout => 0,
        EventKind::Login { .. } | EventKind::Ready | EventKind::Missed { .. } => 1,
        EventKind::NotReady { .. } => 2,
        EventKind::Offered { .. } => 3,
        EventKind::Answered { .. } => 4,
        EventKind::Ended { .. } | EventKind::WrapUp { .. } | EventKind::Transferred { .. } => 5,
        _ => 6,
    }
}

/// One agent of the bare baseline: its state, since when, and time per state.
#[derive(Clone, Copy, Debug, Default)]
pub struct BareAgent {
    /// State code (see [`Compact::state`]).
    pub state: u8,
    /// When it entered `state` (ns).
    pub since: i64,
    /// Nanoseconds spent in each state.
    pub time: [i64; 6],
    /// Events seen.
    pub events: u64,
}

/// The bare fold: agent states in a `Vec` indexed by pre-resolved agent numbers, time per
/// state booked on each change. No strings, no maps, no calls, no rules: the floor a real
/// projection is compared with. Returns a checksum so that the work cannot be optimised
/// away.
pub fn bare_vec_fold(events: &[Compact], agents: &mut [BareAgent]) -> i64 {
    let mut sum = 0i64;
    for e in events {
        let Some(a) = agents.get_mut(e.agent as usize) else { continue };
        a.events += 1;
        if e.state != 6 && e.state != a.state {
            let dt = (e.ts - a.since).max(0);
            if let Some(t) = a.time.get_mut(a.state as usize) {
                *t += dt;
            }
            a.state = e.state;
            a.since = e.ts;
            sum = sum.wrapping_add(dt);
        }
    }
    sum
}

/// The same fold over the envelopes themselves, resolving each agent id through a std
/// `HashMap` (SipHash): what any string-keyed projection pays at least once per event.
pub fn hashmap_fold(records: &[Envelope], index: &mut HashMap<String, u32>, agents: &mut Vec<BareAgent>) -> i64 {
    let mut sum = 0i64;
    for env in records {
        let Some(id) = env.event.agent.as_ref().filter(|_| env.event.kind.has_agent()) else { continue };
        let i = match index.get(id.as_str()) {
            Some(&i) => i as usize,
            None => {
                index.insert(id.as_str().to_owned(), agents.len() as u32);
                agents.push(BareAgent::default());
                agents.len() - 1
            }
        };
        let Some(a) = agents.get_mut(i) else { continue };
        a.events += 1;
        let state = state_code(&env.event.kind);
        let ts = env.event.ts.nanos;
        if state != 6 && state != a.state {
            let dt = (ts - a.since).max(0);
            if let Some(t) = a.time.get_mut(a.state as usize) {
                *t += dt;
            }
            a.state = state;
            a.since = ts;
            sum = sum.wrapping_add(dt);
        }
    }
    sum
}

/// The time span the records cover, for reporting (simulated seconds).
pub fn span_secs(records: &[Envelope]) -> f64 {
    match (records.first(), records.last()) {
        (Some(a), Some(b)) => b.event.ts.nanos_since(a.event.ts) as f64 / 1e9,
        _ => 0.0,
    }
}

/// Occupancy and compliance folded together, without the engine's metrics histograms:
/// the "hot fold with occupancy + compliance".
#[derive(Clone, Debug)]
pub struct Pair {
    /// The occupancy projection.
    pub occupancy: seatwatch_occupancy::Occupancy,
    /// The compliance projection.
    pub compliance: seatwatch_compliance::Compliance,
}

impl Pair {
    /// Both projections for `config`'s default tenant, change logs off (as replay runs).
    pub fn new(config: &seatwatch_config::Config) -> Self {
        let occupancy = seatwatch_occupancy::Occupancy::new(config.default_tenant.occupancy(), Default::default())
            .with_changes(false);
        let mut compliance =
            seatwatch_compliance::Compliance::new(config.default_tenant.compliance(), Default::default());
        compliance.set_change_log(false);
        Pair { occupancy, compliance }
    }
}

impl Projector for Pair {
    fn apply(&mut self, env: &Envelope) {
        self.occupancy.apply(env);
        self.compliance.apply(env);
    }
    fn position(&self) -> u64 {
        self.occupancy.position()
    }
}
