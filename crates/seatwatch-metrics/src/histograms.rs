//! The per-call samples Prometheus histograms need: answer delay and handle time.
//!
//! The occupancy projector keeps only sums of these (for ASA and AHT); a histogram needs
//! every sample's bucket. [`CallHistograms`] is a small projector that follows exactly the
//! occupancy rules of `docs/metrics-definitions.md` for the two figures — which call is
//! answered for the first time, when after-call work ends, effective times, transfers,
//! forgotten calls — and counts each sample into fixed buckets per tenant and queue. A
//! property test (`crates/seatwatch-metrics/tests/it/props.rs`) checks on random logs
//! that its counts and sums equal the occupancy projector's `answered`, `handled`,
//! Σ answer delay and Σ handle time, queue by queue.

use crate::names::{ANSWER_DELAY_BUCKETS, HANDLE_TIME_BUCKETS};
use bincode::{Decode, Encode};
use seatwatch_config::Config;
use seatwatch_model::{BINCODE_CONFIG, Envelope, EventKind, NANOS_PER_SEC, Projector};
use std::collections::BTreeMap;

/// The fold's id maps: occupancy's ([`seatwatch_model::IdMap`]: ids kept inline, hashed
/// with `IdHash`). A `HashMap<String, _>` reached every agent's id on the heap (the
/// cache miss of its key compare was most of the histograms' ~1 µs per record at
/// 100,000 agents), and under FxHash numbered ids crowded into few buckets
/// (docs/performance.md). Nothing iterates them in hash order (the snapshot sorts), so
/// the table cannot show.
type IdMap<V> = seatwatch_model::IdMap<V>;

/// The occupancy projector's queue cap: calls of queues beyond it count in no queue.
const MAX_QUEUES: usize = seatwatch_occupancy::MAX_QUEUES;
const MINUTE_NS: i64 = 60 * NANOS_PER_SEC;
const DAY_NS: i64 = 24 * 60 * MINUTE_NS;

/// Fixed-bucket histogram of nanosecond samples: a count and a sum per bucket (bucket
/// `i` holds samples in `(bound[i-1], bound[i]]`; the last one holds everything above the
/// last bound). Sums per bucket let the publisher hand the exporter samples whose bucket
/// and total are both exact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Hist {
    /// Samples per bucket; one more than there are bounds (the `+Inf` bucket).
    pub counts: Vec<u64>,
    /// Sum of the samples per bucket, in nanoseconds.
    pub sums_ns: Vec<i128>,
}

impl Hist {
    fn new(bounds: usize) -> Self {
        Hist { counts: vec![0; bounds + 1], sums_ns: vec![0; bounds + 1] }
    }

    fn observe(&mut self, bounds_ns: &[i64], value_ns: i64) {
        let i = bounds_ns.partition_point(|&b| b < value_ns);
        if let (Some(c), Some(s)) = (self.counts.get_mut(i), self.sums_ns.get_mut(i)) {
            *c += 1;
            *s += i128::from(value_ns);
        }
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Sum of the samples, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sums_ns.iter().sum::<i128>() as f64 / NANOS_PER_SEC as f64
    }

    /// Add `other` bucket by bucket.
    pub fn merge(&mut self, other: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        for (a, b) in self.sums_ns.iter_mut().zip(&other.sums_ns) {
            *a += b;
        }
    }
}

/// The two histograms of one queue (or of the calls with no queue).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct QueueHists {
    /// Answer delay: `answered ts − last queued ts` (or the first offer), at a call's
    /// first answer.
    pub answer_delay: Hist,
    /// Handle time: wrap-up end − answer (talk + wrap-up), when after-call work ends.
    pub handle_time: Hist,
}

impl QueueHists {
    fn new() -> Self {
        QueueHists {
            answer_delay: Hist::new(ANSWER_DELAY_BUCKETS.len()),
            handle_time: Hist::new(HANDLE_TIME_BUCKETS.len()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
enum Act {
    Idle,
    Ringing,
    Talking,
    WrapUp,
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
struct Agent {
    logged_in: bool,
    act: Act,
    call: String,
    call_queue: Option<u32>,
    answered_at: Option<i64>,
    last: i64,
}

impl Agent {
    fn on_call(&self, act: Act, call: &str) -> bool {
        self.act == act && self.call == call
    }

    fn set_call(&mut self, act: Act, call: Option<&str>, queue: Option<u32>, answered_at: Option<i64>) {
        self.act = act;
        self.call.clear();
        if let Some(c) = call {
            self.call.push_str(c);
        }
        self.call_queue = queue;
        self.answered_at = answered_at;
    }

    fn clear_call(&mut self) {
        self.set_call(Act::Idle, None, None, None);
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
struct Call {
    queue: Option<u32>,
    queued_at: Option<i64>,
    first_offered_at: Option<i64>,
    answered: bool,
    transferred: bool,
    agent: Option<u32>,
    last: i64,
}

/// One tenant's state.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Tenant {
    now: Option<i64>,
    next_prune: i64,
    queues: Vec<String>,
    queue_index: IdMap<u32>,
    agents: Vec<Agent>,
    agent_index: IdMap<u32>,
    calls: IdMap<Call>,
    /// Histograms per queue index.
    hists: Vec<QueueHists>,
    /// Calls with no queue (or of a queue beyond the cap).
    unqueued: QueueHists,
}

/// What the fold needs of a tenant's occupancy settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Timing {
    interval_ns: i64,
    call_timeout_ns: i64,
}

impl Timing {
    fn of(s: &seatwatch_occupancy::Settings) -> Self {
        // The occupancy projector's clamping (see its `Resolved`).
        let interval_ns = (s.interval.as_nanos() / NANOS_PER_SEC * NANOS_PER_SEC).clamp(MINUTE_NS, DAY_NS);
        Timing { interval_ns, call_timeout_ns: s.call_timeout.as_nanos().max(MINUTE_NS) }
    }
}

impl Tenant {
    fn new() -> Self {
        Tenant {
            now: None,
            next_prune: i64::MIN,
            queues: Vec::new(),
            queue_index: IdMap::default(),
            agents: Vec::new(),
            agent_index: IdMap::default(),
            calls: IdMap::default(),
            hists: Vec::new(),
            unqueued: QueueHists::new(),
        }
    }

    fn queue(&mut self, name: &str) -> Option<u32> {
        if let Some(&i) = self.queue_index.get(name) {
            return Some(i);
        }
        if self.queues.len() >= MAX_QUEUES {
            return None;
        }
        let i = self.queues.len() as u32;
        self.queues.push(name.to_owned());
        self.queue_index.insert(name, i);
        self.hists.push(QueueHists::new());
        Some(i)
    }

    fn hists_mut(&mut self, q: Option<u32>) -> &mut QueueHists {
        match q.and_then(|q| self.hists.get_mut(q as usize)) {
            Some(h) => h,
            None => &mut self.unqueued,
        }
    }

    fn agent(&mut self, id: &str, ts: i64) -> usize {
        if let Some(&i) = self.agent_index.get(id) {
            return i as usize;
        }
        let i = self.agents.len();
        self.agents.push(Agent {
            logged_in: false,
            act: Act::Idle,
            call: String::new(),
            call_queue: None,
            answered_at: None,
            last: ts,
        });
        self.agent_index.insert(id, i as u32);
        i
    }

    fn with_call<R>(&mut self, id: &str, ts: i64, f: impl FnOnce(&mut Call) -> R) -> R {
        if let Some(c) = self.calls.get_mut(id) {
            c.last = c.last.max(ts);
            return f(c);
        }
        let c = self.calls.get_or_insert_with(id, || Call {
            queue: None,
            queued_at: None,
            first_offered_at: None,
            answered: false,
            transferred: false,
            agent: None,
            last: ts,
        });
        f(c)
    }

    /// End agent `a`'s call involvement at `eff`: a talk or wrap-up whose answer was seen
    /// gives a handle-time sample.
    fn finish_call(&mut self, a: usize, eff: i64) {
        let ag = &self.agents[a];
        if matches!(ag.act, Act::Talking | Act::WrapUp)
            && let Some(answered) = ag.answered_at
        {
            let handle = eff.saturating_sub(answered).max(0);
            let q = ag.call_queue;
            self.hists_mut(q).handle_time.observe(HANDLE_TIME_BUCKETS_NS, handle);
        }
        self.agents[a].clear_call();
    }

    fn end_wrap(&mut self, a: usize, eff: i64) {
        if self.agents[a].act == Act::WrapUp {
            self.finish_call(a, eff);
        }
    }

    fn implicit_login(&mut self, a: usize) {
        self.agents[a].logged_in = true;
    }

    fn apply(&mut self, env: &Envelope) {
        let ts = env.event.ts.nanos;
        match &env.event.kind {
            EventKind::Queued { call, queue, .. } => {
                let q = self.queue(queue.as_str());
                self.with_call(call.as_str(), ts, |c| {
                    c.queue = q.or(c.queue);
                    c.queued_at = Some(ts);
                });
                return;
            }
            EventKind::Abandoned { call, queue } => {
                self.queue(queue.as_str());
                let removed = self.calls.remove(call.as_str());
                if let Some(a) = removed.and_then(|c| c.agent).map(|a| a as usize)
                    && self.agents.get(a).is_some_and(|ag| ag.on_call(Act::Ringing, call.as_str()))
                {
                    let ag = &mut self.agents[a];
                    ag.last = ag.last.max(ts);
                    ag.clear_call();
                }
                return;
            }
            _ => {}
        }
        let Some(agent) = env.event.agent.as_ref() else { return };
        let kind = &env.event.kind;
        if !matches!(
            kind,
            EventKind::Login { .. }
                | EventKind::Logout
                | EventKind::Ready
                | EventKind::NotReady { .. }
                | EventKind::Offered { .. }
                | EventKind::Answered { .. }
                | EventKind::Missed { .. }
                | EventKind::Ended { .. }
                | EventKind::WrapUp { .. }
                | EventKind::Transferred { .. }
        ) {
            return;
        }
        let a = self.agent(agent.as_str(), ts);
        let eff = ts.max(self.agents[a].last);
        self.agents[a].last = eff;
        match kind {
            EventKind::Login { .. } => self.agents[a].logged_in = true,
            EventKind::Logout => {
                self.finish_call(a, eff);
                self.agents[a].logged_in = false;
            }
            EventKind::Ready | EventKind::NotReady { .. } => {
                self.implicit_login(a);
                self.end_wrap(a, eff);
            }
            EventKind::Offered { call, queue, .. } => {
                let eq = match queue {
                    Some(q) => self.queue(q.as_str()),
                    None => None,
                };
                let q = self.with_call(call.as_str(), ts, |c| {
                    if c.queue.is_none() {
                        c.queue = eq;
                    }
                    if c.first_offered_at.is_none() {
                        c.first_offered_at = Some(ts);
                    }
                    c.agent = Some(a as u32);
                    eq.or(c.queue)
                });
                self.implicit_login(a);
                match self.agents[a].act {
                    Act::Talking => {}
                    Act::WrapUp => {
                        self.finish_call(a, eff);
                        self.agents[a].set_call(Act::Ringing, Some(call.as_str()), q, None);
                    }
                    Act::Idle | Act::Ringing => self.agents[a].set_call(Act::Ringing, Some(call.as_str()), q, None),
                }
            }
            EventKind::Answered { call, .. } => {
                let (q, first, delay) = self.with_call(call.as_str(), ts, |c| {
                    let first = !c.answered;
                    c.answered = true;
                    c.agent = Some(a as u32);
                    let delay = c.queued_at.or(c.first_offered_at).map_or(0, |t| ts.saturating_sub(t).max(0));
                    (c.queue, first, delay)
                });
                if first {
                    self.hists_mut(q).answer_delay.observe(ANSWER_DELAY_BUCKETS_NS, delay);
                }
                self.implicit_login(a);
                if !self.agents[a].on_call(Act::Talking, call.as_str()) {
                    if matches!(self.agents[a].act, Act::Talking | Act::WrapUp) {
                        self.finish_call(a, eff);
                    }
                    self.agents[a].set_call(Act::Talking, Some(call.as_str()), q, Some(eff));
                }
            }
            EventKind::Missed { call } => {
                if let Some(c) = self.calls.get_mut(call.as_str()) {
                    c.agent = None;
                    c.last = c.last.max(ts);
                }
                let ag = &mut self.agents[a];
                if ag.on_call(Act::Ringing, call.as_str()) {
                    ag.clear_call();
                }
            }
            EventKind::Ended { call } => {
                let mine = |c: &Call| c.agent == Some(a as u32) || (c.agent.is_none() && !c.transferred);
                let (q, elsewhere) = match self.calls.get(call.as_str()) {
                    Some(c) if mine(c) => (self.calls.remove(call.as_str()).and_then(|c| c.queue), false),
                    Some(c) => (c.queue, true),
                    None => (None, false),
                };
                let ag = &mut self.agents[a];
                if ag.logged_in {
                    match ag.act {
                        Act::Talking if ag.call == call.as_str() => ag.act = Act::WrapUp,
                        Act::Ringing if ag.call == call.as_str() => ag.clear_call(),
                        Act::Idle if !elsewhere => ag.set_call(Act::WrapUp, Some(call.as_str()), q, None),
                        _ => {}
                    }
                }
            }
            EventKind::WrapUp { call } => {
                let q = call.as_ref().and_then(|c| self.calls.get(c.as_str())).and_then(|c| c.queue);
                let ag = &mut self.agents[a];
                if ag.logged_in {
                    match ag.act {
                        Act::Talking => ag.act = Act::WrapUp,
                        Act::WrapUp => {}
                        Act::Idle | Act::Ringing => {
                            ag.set_call(Act::WrapUp, call.as_ref().map(|c| c.as_str()), q, None)
                        }
                    }
                }
            }
            EventKind::Transferred { call, .. } => {
                if let Some(c) = self.calls.get_mut(call.as_str()) {
                    c.agent = None;
                    c.transferred = true;
                    c.last = c.last.max(ts);
                }
                let ag = &mut self.agents[a];
                if ag.on_call(Act::Talking, call.as_str()) {
                    ag.act = Act::WrapUp;
                } else if ag.on_call(Act::Ringing, call.as_str()) {
                    ag.clear_call();
                }
            }
            _ => {}
        }
    }
}

static ANSWER_DELAY_BUCKETS_NS: &[i64] = &bounds_ns::<{ ANSWER_DELAY_BUCKETS.len() }>(ANSWER_DELAY_BUCKETS);
static HANDLE_TIME_BUCKETS_NS: &[i64] = &bounds_ns::<{ HANDLE_TIME_BUCKETS.len() }>(HANDLE_TIME_BUCKETS);

/// Whole-second bounds to nanoseconds, at compile time.
const fn bounds_ns<const N: usize>(secs: &[f64]) -> [i64; N] {
    let mut out = [0i64; N];
    let mut i = 0;
    while i < N {
        out[i] = secs[i] as i64 * NANOS_PER_SEC;
        i += 1;
    }
    out
}

/// The answer-delay and handle-time histograms of every tenant and queue, folded from the
/// log. Pure: no I/O, no clock. See the module documentation.
#[derive(Clone, Debug)]
pub struct CallHistograms {
    default: Timing,
    per_tenant: BTreeMap<String, Timing>,
    position: u64,
    tenants: BTreeMap<String, Tenant>,
}

/// Equality of the folded state (settings are not compared).
impl PartialEq for CallHistograms {
    fn eq(&self, other: &Self) -> bool {
        self.position == other.position && self.tenants == other.tenants
    }
}

/// A snapshot that [`CallHistograms::restore`] cannot use.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The first byte is not this version's format byte.
    #[error("metrics histogram snapshot: format version {0:?} is not {SNAPSHOT_VERSION}")]
    Version(Option<u8>),
    /// A tenant's histograms do not have this version's buckets.
    #[error("metrics histogram snapshot: tenant {0:?} has histograms of another shape")]
    Shape(String),
    /// The body does not decode.
    #[error("metrics histogram snapshot: cannot decode: {0}")]
    Decode(#[from] bincode::error::DecodeError),
}

const SNAPSHOT_VERSION: u8 = 1;

#[derive(Encode, Decode)]
struct SnapshotBody {
    position: u64,
    tenants: Vec<(String, TenantSnap)>,
}

/// A tenant as stored: the maps as vectors in a fixed order, so equal states give equal
/// bytes; the indexes are rebuilt on restore.
#[derive(Encode, Decode)]
struct TenantSnap {
    now: Option<i64>,
    next_prune: i64,
    queues: Vec<String>,
    agents: Vec<(String, Agent)>,
    calls: Vec<(String, Call)>,
    hists: Vec<QueueHists>,
    unqueued: QueueHists,
}

impl From<&Tenant> for TenantSnap {
    fn from(t: &Tenant) -> Self {
        let mut ids: Vec<(&str, u32)> = t.agent_index.iter().map(|(k, &v)| (k, v)).collect();
        ids.sort_by_key(|e| e.1);
        let mut calls: Vec<(String, Call)> = t.calls.iter().map(|(k, c)| (k.to_owned(), c.clone())).collect();
        calls.sort_by(|a, b| a.0.cmp(&b.0));
        TenantSnap {
            now: t.now,
            next_prune: t.next_prune,
            queues: t.queues.clone(),
            agents: ids
                .into_iter()
                .filter_map(|(id, i)| Some((id.to_owned(), t.agents.get(i as usize)?.clone())))
                .collect(),
            calls,
            hists: t.hists.clone(),
            unqueued: t.unqueued.clone(),
        }
    }
}

impl From<TenantSnap> for Tenant {
    fn from(s: TenantSnap) -> Self {
        let queue_index = s.queues.iter().enumerate().map(|(i, q)| (q.clone(), i as u32)).collect();
        let agent_index = s.agents.iter().enumerate().map(|(i, a)| (a.0.clone(), i as u32)).collect();
        Tenant {
            now: s.now,
            next_prune: s.next_prune,
            queues: s.queues,
            queue_index,
            agents: s.agents.into_iter().map(|a| a.1).collect(),
            agent_index,
            calls: s.calls.into_iter().collect(),
            hists: s.hists,
            unqueued: s.unqueued,
        }
    }
}

impl CallHistograms {
    /// Histograms for `config`'s tenants (the occupancy settings decide when open calls
    /// are forgotten, as in the occupancy projector), having seen nothing.
    pub fn new(config: &Config) -> Self {
        CallHistograms {
            default: Timing::of(&config.default_tenant.occupancy),
            per_tenant: config.tenants.iter().map(|(k, t)| (k.clone(), Timing::of(&t.occupancy))).collect(),
            position: 0,
            tenants: BTreeMap::new(),
        }
    }

    /// The histograms of `tenant`: one entry per queue by name, and `None` for calls with
    /// no queue. Empty for a tenant never seen.
    pub fn queues(&self, tenant: &str) -> BTreeMap<Option<&str>, &QueueHists> {
        let Some(t) = self.tenants.get(tenant) else { return BTreeMap::new() };
        let mut out: BTreeMap<Option<&str>, &QueueHists> =
            t.queues.iter().map(String::as_str).zip(&t.hists).map(|(q, h)| (Some(q), h)).collect();
        out.insert(None, &t.unqueued);
        out
    }

    /// The tenants seen, in name order.
    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        self.tenants.keys().map(String::as_str)
    }

    /// The whole state as bytes (a format byte + bincode). Settings are not part of it.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.snapshot_into(&mut out);
        out
    }

    /// [`CallHistograms::snapshot`] appended to `out` (no buffer of its own).
    pub fn snapshot_into(&self, out: &mut Vec<u8>) {
        let body = SnapshotBody {
            position: self.position,
            tenants: self.tenants.iter().map(|(k, t)| (k.clone(), TenantSnap::from(t))).collect(),
        };
        out.push(SNAPSHOT_VERSION);
        let start = out.len();
        if bincode::encode_into_std_write(&body, out, BINCODE_CONFIG).is_err() {
            out.truncate(start);
        }
    }

    /// The state [`CallHistograms::snapshot`] saved, with `config`'s settings.
    pub fn restore(bytes: &[u8], config: &Config) -> Result<Self, SnapshotError> {
        match bytes.first() {
            Some(&SNAPSHOT_VERSION) => {}
            other => return Err(SnapshotError::Version(other.copied())),
        }
        let (body, _): (SnapshotBody, usize) = bincode::decode_from_slice(&bytes[1..], BINCODE_CONFIG)?;
        let mut h = CallHistograms::new(config);
        h.position = body.position;
        let bounds_ok = |q: &QueueHists| {
            q.answer_delay.counts.len() == ANSWER_DELAY_BUCKETS.len() + 1
                && q.answer_delay.sums_ns.len() == ANSWER_DELAY_BUCKETS.len() + 1
                && q.handle_time.counts.len() == HANDLE_TIME_BUCKETS.len() + 1
                && q.handle_time.sums_ns.len() == HANDLE_TIME_BUCKETS.len() + 1
        };
        for (name, t) in &body.tenants {
            if !t.hists.iter().chain([&t.unqueued]).all(bounds_ok) || t.hists.len() != t.queues.len() {
                return Err(SnapshotError::Shape(name.clone()));
            }
        }
        h.tenants = body.tenants.into_iter().map(|(k, t)| (k, Tenant::from(t))).collect();
        Ok(h)
    }
}

impl Projector for CallHistograms {
    fn apply(&mut self, env: &Envelope) {
        self.position = env.seq;
        let timing = *self.per_tenant.get(env.tenant.as_str()).unwrap_or(&self.default);
        let t = match self.tenants.get_mut(env.tenant.as_str()) {
            Some(t) => t,
            None => self.tenants.entry(env.tenant.to_string()).or_insert_with(Tenant::new),
        };
        let ts = env.event.ts.nanos;
        let now = t.now.map_or(ts, |n| n.max(ts));
        t.now = Some(now);
        if now >= t.next_prune {
            let cutoff = now.saturating_sub(timing.call_timeout_ns);
            t.calls.retain(|c| c.last >= cutoff);
            t.next_prune = now.saturating_add(timing.interval_ns);
        }
        t.apply(env);
    }

    fn position(&self) -> u64 {
        self.position
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatwatch_model::{AgentId, CallId, Event, QueueId, Ts};

    fn env(seq: u64, secs: i64, agent: Option<&str>, kind: EventKind) -> Envelope {
        let ts = Ts::from_nanos(1_767_225_600 * NANOS_PER_SEC + secs * NANOS_PER_SEC);
        Envelope {
            seq,
            tenant: "acme".into(),
            source: "acd".into(),
            received: ts,
            event: Event { id: format!("e{seq}").into(), ts, agent: agent.map(AgentId::from), kind, extra: None },
        }
    }

    fn call(c: &str) -> CallId {
        CallId(c.into())
    }

    #[test]
    fn a_call_gives_one_answer_delay_and_one_handle_time_sample() {
        let mut h = CallHistograms::new(&Config::default());
        let q = QueueId::from("sales");
        let log = [
            env(1, 0, Some("a1"), EventKind::Login { station: "s1".into() }),
            env(
                2,
                10,
                None,
                EventKind::Queued {
                    call: call("c1"),
                    queue: q.clone(),
                    caller: None,
                    emergency: false,
                    priority: None,
                },
            ),
            env(
                3,
                12,
                Some("a1"),
                EventKind::Offered {
                    call: call("c1"),
                    queue: Some(q.clone()),
                    caller: None,
                    emergency: false,
                    priority: None,
                },
            ),
            env(4, 22, Some("a1"), EventKind::Answered { call: call("c1"), rings: None }),
            // A second answer of the same call is not a new sample.
            env(5, 23, Some("a1"), EventKind::Answered { call: call("c1"), rings: None }),
            env(6, 100, Some("a1"), EventKind::Ended { call: call("c1") }),
            env(7, 130, Some("a1"), EventKind::Ready),
        ];
        seatwatch_model::fold(&mut h, &log);
        let qs = h.queues("acme");
        let sales = qs[&Some("sales")];
        assert_eq!(sales.answer_delay.count(), 1);
        assert_eq!(sales.answer_delay.sum_seconds(), 12.0);
        // 12 s lands in the (10, 15] bucket: index 2.
        assert_eq!(sales.answer_delay.counts[2], 1);
        assert_eq!(sales.handle_time.count(), 1);
        assert_eq!(sales.handle_time.sum_seconds(), 108.0);
        assert_eq!(qs[&None].answer_delay.count(), 0);
    }

    #[test]
    fn bucket_bounds_are_inclusive_and_overflow_goes_to_inf() {
        let mut hist = Hist::new(2);
        let bounds = [5 * NANOS_PER_SEC, 10 * NANOS_PER_SEC];
        for v in [0, 5 * NANOS_PER_SEC, 5 * NANOS_PER_SEC + 1, 10 * NANOS_PER_SEC, 11 * NANOS_PER_SEC] {
            hist.observe(&bounds, v);
        }
        assert_eq!(hist.counts, vec![2, 2, 1]);
        assert_eq!(hist.count(), 5);
    }

    #[test]
    fn snapshot_round_trips_and_rejects_other_versions() {
        let mut h = CallHistograms::new(&Config::default());
        let log = [
            env(1, 0, Some("a1"), EventKind::Answered { call: call("c1"), rings: None }),
            env(2, 50, Some("a1"), EventKind::Logout),
        ];
        seatwatch_model::fold(&mut h, &log);
        let bytes = h.snapshot();
        let back = CallHistograms::restore(&bytes, &Config::default()).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.snapshot(), bytes, "equal states give equal bytes");
        assert_eq!(back.position(), 2);
        assert!(matches!(CallHistograms::restore(&[9], &Config::default()), Err(SnapshotError::Version(Some(9)))));
        assert!(matches!(CallHistograms::restore(&[], &Config::default()), Err(SnapshotError::Version(None))));
        assert!(matches!(CallHistograms::restore(&[1, 200], &Config::default()), Err(SnapshotError::Decode(_))));
    }
}
