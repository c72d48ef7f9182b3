//! Publishing the projections' current values through the `metrics` facade, at scrape
//! time.

use crate::histograms::{CallHistograms, Hist};
use crate::names::*;
use seatwatch_compliance::Compliance;
use seatwatch_config::Config;
use seatwatch_model::{NANOS_PER_SEC, Ts};
use seatwatch_occupancy::{AgentState, Figures, Occupancy, Totals};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What [`Publisher::publish`] reads: the engine's projections and the configuration.
#[derive(Clone, Copy, Debug)]
pub struct Sources<'a> {
    /// Agents, queues, intervals, windows, cumulative totals.
    pub occupancy: &'a Occupancy,
    /// Alarms.
    pub compliance: &'a Compliance,
    /// Answer-delay and handle-time histograms.
    pub histograms: &'a CallHistograms,
    /// Per-tenant `agent_metrics`.
    pub config: &'a Config,
}

/// Sets the recorder's series to the projections' values. Keeps what it already gave the
/// recorder's histograms (which can only be fed samples, not set), so each call hands
/// over exactly the samples folded since the previous one. One publisher per recorder.
#[derive(Debug, Default)]
pub struct Publisher {
    /// Histogram state already recorded, by (metric, tenant, queue label).
    published: HashMap<(&'static str, String, String), Hist>,
    /// The per-agent series' handles, per tenant and agent (registered once: a labelled
    /// lookup per series and scrape would cost more than everything else per agent).
    agents: HashMap<String, HashMap<String, AgentGauges>>,
}

/// The per-agent series of one agent.
#[derive(Debug)]
struct AgentGauges {
    state: [metrics::Gauge; AgentState::ALL.len()],
    seconds: metrics::Gauge,
    handled: metrics::Gauge,
    missed: metrics::Gauge,
    /// Whether the agent was in the capped set at the last call.
    shown: bool,
}

impl AgentGauges {
    fn new(tenant: &str, agent: &str) -> Self {
        let l = |k: &'static str, v: &str| metrics::Label::new(k, v.to_owned());
        let state = AgentState::ALL.map(|s| {
            metrics::gauge!(AGENT_STATE, vec![l("tenant", tenant), l("agent", agent), l("state", s.as_str())])
        });
        AgentGauges {
            state,
            seconds: metrics::gauge!(AGENT_STATE_SECONDS, vec![l("tenant", tenant), l("agent", agent)]),
            handled: metrics::gauge!(AGENT_HANDLED_TODAY, vec![l("tenant", tenant), l("agent", agent)]),
            missed: metrics::gauge!(AGENT_MISSED_TODAY, vec![l("tenant", tenant), l("agent", agent)]),
            shown: false,
        }
    }
}

fn secs(ts: Ts) -> f64 {
    ts.nanos as f64 / NANOS_PER_SEC as f64
}

fn opt(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

type Field<T, V> = fn(&T) -> V;

/// The counters of one queue, or of the calls with no queue.
const COUNTERS: &[(&str, Field<Totals, u64>)] = &[
    (CALLS_QUEUED, |t| t.queued),
    (CALLS_OFFERED, |t| t.offered),
    (CALLS_ANSWERED, |t| t.answered),
    (CALLS_ANSWERED_IN_TIME, |t| t.answered_in_time),
    (CALLS_ANSWERED_IN_THRESHOLD, |t| t.answered_in_threshold),
    (CALLS_ABANDONED, |t| t.abandoned),
    (CALLS_SHORT_ABANDONED, |t| t.short_abandoned),
    (CALLS_MISSED, |t| t.missed),
    (CALLS_TRANSFERRED, |t| t.transferred),
    (CALLS_HANDLED, |t| t.handled),
];

/// The ratio gauges of one window row.
const RATIOS: &[(&str, Field<Figures, Option<f64>>)] = &[
    (SERVICE_LEVEL, |f| f.service_level),
    (ASA, |f| f.asa_seconds),
    (AHT, |f| f.aht_seconds),
    (OCCUPANCY, |f| f.occupancy),
];

impl Publisher {
    /// A publisher that has given the recorder nothing yet.
    pub fn new() -> Self {
        Publisher::default()
    }

    /// Set every call-centre series of every tenant to the current values of `src`, in
    /// the recorder current on this thread (the global one, or a
    /// [`metrics::with_local_recorder`] one).
    pub fn publish(&mut self, src: &Sources<'_>) {
        let mut tenants: BTreeSet<&str> = src.occupancy.tenants().collect();
        tenants.extend(src.compliance.tenants());
        tenants.extend(src.histograms.tenants());
        for tenant in tenants {
            self.tenant(src, tenant);
        }
    }

    fn tenant(&mut self, src: &Sources<'_>, tenant: &str) {
        let occ = src.occupancy;
        let t = || tenant.to_owned();

        if let Some(now) = occ.now(tenant) {
            metrics::gauge!(TENANT_CLOCK, "tenant" => t()).set(secs(now));
        }
        if let Some(w) = occ.watermark(tenant).or_else(|| src.compliance.watermark(tenant)) {
            metrics::gauge!(TENANT_WATERMARK, "tenant" => t()).set(secs(w));
        }

        // Agents by state (counted without building every agent's view), and per agent
        // when the tenant asks for it.
        for (state, n) in occ.agent_state_counts(tenant) {
            metrics::gauge!(AGENTS, "tenant" => t(), "state" => state.as_str()).set(n as f64);
        }
        if src.config.tenant(tenant).agent_metrics {
            let agents = occ.agents(tenant);
            let gauges = self.agents.entry(tenant.to_owned()).or_default();
            for g in gauges.values_mut() {
                g.shown = false;
            }
            for a in agents.iter().take(AGENT_SERIES_CAP) {
                let g = match gauges.get_mut(a.agent.as_str()) {
                    Some(g) => g,
                    None => gauges
                        .entry(a.agent.as_str().to_owned())
                        .or_insert_with(|| AgentGauges::new(tenant, a.agent.as_str())),
                };
                for (gauge, state) in g.state.iter().zip(AgentState::ALL) {
                    gauge.set(if a.state == state { 1.0 } else { 0.0 });
                }
                g.seconds.set(a.seconds_in_state);
                g.handled.set(a.today.handled as f64);
                g.missed.set(a.today.missed as f64);
                g.shown = true;
            }
            // An agent that left the capped set (one with a smaller id arrived) keeps its
            // series, zeroed: the recorder cannot drop a series.
            for g in gauges.values().filter(|g| !g.shown) {
                for gauge in g.state.iter().chain([&g.seconds, &g.handled, &g.missed]) {
                    gauge.set(0.0);
                }
            }
            metrics::gauge!(AGENT_SERIES_OMITTED, "tenant" => t())
                .set(agents.len().saturating_sub(AGENT_SERIES_CAP) as f64);
        }

        // Queues: member agents, waiting calls.
        let queues = occ.queues(tenant);
        for q in &queues {
            let name = || q.queue.as_str().to_owned();
            for (state, n) in [
                (AgentState::Ready, q.ready),
                (AgentState::NotReady, q.not_ready),
                (AgentState::Ringing, q.ringing),
                (AgentState::Talking, q.talking),
                (AgentState::WrapUp, q.wrap_up),
            ] {
                metrics::gauge!(QUEUE_AGENTS, "tenant" => t(), "queue" => name(), "state" => state.as_str())
                    .set(n as f64);
            }
            metrics::gauge!(QUEUE_WAITING, "tenant" => t(), "queue" => name()).set(q.waiting as f64);
            metrics::gauge!(QUEUE_OLDEST_WAIT, "tenant" => t(), "queue" => name())
                .set(q.oldest_wait_seconds.unwrap_or(0.0));
        }

        // Cumulative counters: every queue, and the calls of no queue (total − Σ queues).
        let totals = occ.totals(tenant);
        let zero = Totals {
            queued: 0,
            offered: 0,
            answered: 0,
            answered_in_time: 0,
            answered_in_threshold: 0,
            abandoned: 0,
            short_abandoned: 0,
            missed: 0,
            transferred: 0,
            handled: 0,
            answer_delay_seconds: 0.0,
            handle_seconds: 0.0,
        };
        let total = totals.get(&None).unwrap_or(&zero);
        for (metric, field) in COUNTERS {
            let mut queued_sum = 0u64;
            for q in &queues {
                let v = totals.get(&Some(q.queue.clone())).map_or(0, field);
                queued_sum += v;
                metrics::counter!(*metric, "tenant" => t(), "queue" => q.queue.as_str().to_owned()).absolute(v);
            }
            metrics::counter!(*metric, "tenant" => t(), "queue" => QUEUE_NONE)
                .absolute(field(total).saturating_sub(queued_sum));
        }

        // Histograms: hand over the samples folded since the last call.
        for (queue, h) in src.histograms.queues(tenant) {
            let label = queue.unwrap_or(QUEUE_NONE);
            self.histogram(ANSWER_DELAY, tenant, label, &h.answer_delay);
            self.histogram(HANDLE_TIME, tenant, label, &h.handle_time);
        }

        // Ratio gauges: the current interval and the sliding windows, per queue and for
        // the whole tenant; NaN where a queue has nothing in the window.
        let mut rows: BTreeMap<(&'static str, Option<String>), Figures> = BTreeMap::new();
        for w in occ.windows(tenant) {
            let window = if w.window_minutes == 15 { "15m" } else { "60m" };
            rows.insert((window, w.queue.map(|q| q.0.into_string())), w.figures);
        }
        if let Some(now) = occ.now(tenant) {
            for r in occ.intervals(tenant, Some(now), Some(now.plus_nanos(1)), None) {
                rows.insert(("interval", r.queue.map(|q| q.0.into_string())), r.figures);
            }
        }
        let labels: Vec<Option<String>> =
            std::iter::once(None).chain(queues.iter().map(|q| Some(q.queue.as_str().to_owned()))).collect();
        for window in ["interval", "15m", "60m"] {
            for q in &labels {
                let f = rows.get(&(window, q.clone()));
                let qn = || q.clone().unwrap_or_else(|| QUEUE_ALL.to_owned());
                for (metric, field) in RATIOS {
                    metrics::gauge!(*metric, "tenant" => t(), "queue" => qn(), "window" => window)
                        .set(opt(f.and_then(field)));
                }
            }
        }

        // Alarms.
        for (rule, n) in src.compliance.active_counts(tenant) {
            metrics::gauge!(ALARMS_ACTIVE, "tenant" => t(), "rule" => rule.as_str()).set(n as f64);
        }
        for (rule, n) in src.compliance.raised_counts(tenant) {
            metrics::counter!(ALARMS_RAISED, "tenant" => t(), "rule" => rule.as_str()).absolute(n);
        }
    }

    /// Record into the recorder's histogram the samples of `cur` it has not seen: per
    /// bucket, as many samples as were added, each at their mean, so both the bucket
    /// counts and the sum match the fold.
    fn histogram(&mut self, metric: &'static str, tenant: &str, queue: &str, cur: &Hist) {
        let key = (metric, tenant.to_owned(), queue.to_owned());
        let prev = self.published.entry(key).or_default();
        let handle = metrics::histogram!(metric, "tenant" => tenant.to_owned(), "queue" => queue.to_owned());
        for (i, (&n, &sum)) in cur.counts.iter().zip(&cur.sums_ns).enumerate() {
            let (pn, psum) = (prev.counts.get(i).copied().unwrap_or(0), prev.sums_ns.get(i).copied().unwrap_or(0));
            if n <= pn {
                continue;
            }
            // `d` samples summing to `added` ns: `d - r` at the floor of their mean and `r`
            // one nanosecond above it, so the recorder's sum gains exactly `added` (up to
            // its f64 rounding). Both values lie within the bucket: the samples are whole
            // nanoseconds, so the mean's ceiling is at most the largest of them.
            let (d, added) = (i128::from(n - pn), sum - psum);
            let (mean_ns, r) = (added.div_euclid(d), added.rem_euclid(d));
            let at = |ns: i128| ns as f64 / NANOS_PER_SEC as f64;
            let count = |k: i128| usize::try_from(k).unwrap_or(usize::MAX);
            if d > r {
                handle.record_many(at(mean_ns), count(d - r));
            }
            if r > 0 {
                handle.record_many(at(mean_ns + 1), count(r));
            }
        }
        *prev = cur.clone();
    }
}
