//! Every call-centre metric's name, HELP text (which states its formula) and buckets.
//! `docs/metrics.md` lists the same, with the engine's own metrics.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Answer-delay histogram bounds, seconds: the ring boundaries of the seed's 5 s cadence
/// (the n-th ring starts at (n − 1) × 5 s, so `le="15"` is "before the 4th ring"), then
/// longer waits.
pub const ANSWER_DELAY_BUCKETS: &[f64] =
    &[5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0];

/// Handle-time histogram bounds, seconds.
pub const HANDLE_TIME_BUCKETS: &[f64] =
    &[30.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 420.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0];

/// The `queue` label of counters and histograms for calls that came with no queue (or of
/// a queue beyond the occupancy projector's cap of 1,024 per tenant). Summing a counter
/// over `queue` gives the tenant's total.
pub const QUEUE_NONE: &str = "_none";

/// The `queue` label of ratio gauges for the tenant as a whole (every call, every agent).
pub const QUEUE_ALL: &str = "_all";

/// Per-agent series are published for at most this many agents per tenant (the first by
/// agent id); see [`AGENT_SERIES_OMITTED`].
pub const AGENT_SERIES_CAP: usize = 1000;

macro_rules! names {
    ($($(#[$m:meta])* $id:ident = $name:literal;)*) => {
        $($(#[$m])* pub const $id: &str = $name;)*
    };
}

names! {
    /// Gauge `{tenant, state}`.
    AGENTS = "seatwatch_agents";
    /// Gauge `{tenant, queue, state}`.
    QUEUE_AGENTS = "seatwatch_queue_agents";
    /// Gauge `{tenant, queue}`.
    QUEUE_WAITING = "seatwatch_queue_waiting_calls";
    /// Gauge `{tenant, queue}`.
    QUEUE_OLDEST_WAIT = "seatwatch_queue_oldest_wait_seconds";
    /// Counter `{tenant, queue}`.
    CALLS_QUEUED = "seatwatch_calls_queued_total";
    /// Counter `{tenant, queue}`.
    CALLS_OFFERED = "seatwatch_calls_offered_total";
    /// Counter `{tenant, queue}`.
    CALLS_ANSWERED = "seatwatch_calls_answered_total";
    /// Counter `{tenant, queue}`.
    CALLS_ANSWERED_IN_TIME = "seatwatch_calls_answered_in_time_total";
    /// Counter `{tenant, queue}`.
    CALLS_ANSWERED_IN_THRESHOLD = "seatwatch_calls_answered_in_threshold_total";
    /// Counter `{tenant, queue}`.
    CALLS_ABANDONED = "seatwatch_calls_abandoned_total";
    /// Counter `{tenant, queue}`.
    CALLS_SHORT_ABANDONED = "seatwatch_calls_short_abandoned_total";
    /// Counter `{tenant, queue}`.
    CALLS_MISSED = "seatwatch_calls_missed_total";
    /// Counter `{tenant, queue}`.
    CALLS_TRANSFERRED = "seatwatch_calls_transferred_total";
    /// Counter `{tenant, queue}`.
    CALLS_HANDLED = "seatwatch_calls_handled_total";
    /// Histogram `{tenant, queue}`.
    ANSWER_DELAY = "seatwatch_answer_delay_seconds";
    /// Histogram `{tenant, queue}`.
    HANDLE_TIME = "seatwatch_handle_time_seconds";
    /// Gauge `{tenant, queue, window}`.
    SERVICE_LEVEL = "seatwatch_service_level_ratio";
    /// Gauge `{tenant, queue, window}`.
    ASA = "seatwatch_asa_seconds";
    /// Gauge `{tenant, queue, window}`.
    AHT = "seatwatch_aht_seconds";
    /// Gauge `{tenant, queue, window}`.
    OCCUPANCY = "seatwatch_occupancy_ratio";
    /// Gauge `{tenant, rule}`.
    ALARMS_ACTIVE = "seatwatch_alarms_active";
    /// Counter `{tenant, rule}`.
    ALARMS_RAISED = "seatwatch_alarms_raised_total";
    /// Gauge `{tenant}`.
    TENANT_CLOCK = "seatwatch_tenant_clock_seconds";
    /// Gauge `{tenant}`.
    TENANT_WATERMARK = "seatwatch_tenant_watermark_seconds";
    /// Gauge `{tenant, agent, state}` (only with `agent_metrics = true`).
    AGENT_STATE = "seatwatch_agent_state";
    /// Gauge `{tenant, agent}` (only with `agent_metrics = true`).
    AGENT_STATE_SECONDS = "seatwatch_agent_state_seconds";
    /// Gauge `{tenant, agent}` (only with `agent_metrics = true`).
    AGENT_HANDLED_TODAY = "seatwatch_agent_handled_calls_today";
    /// Gauge `{tenant, agent}` (only with `agent_metrics = true`).
    AGENT_MISSED_TODAY = "seatwatch_agent_missed_calls_today";
    /// Gauge `{tenant}` (only with `agent_metrics = true`).
    AGENT_SERIES_OMITTED = "seatwatch_agent_series_omitted_agents";
}

/// Register the HELP text (and unit) of every call-centre metric with the current
/// recorder. Call once after installing it.
pub fn describe() {
    describe_gauge!(
        AGENTS,
        "Agents of the tenant in each state (logged_out, ready, not_ready, ringing, talking, wrap_up): count of agents whose derived state is `state`, by the tenant's clock."
    );
    describe_gauge!(
        QUEUE_AGENTS,
        "Member agents of the queue in each state: count of logged-in agents that were offered or answered a call of `queue` and whose state is `state`."
    );
    describe_gauge!(
        QUEUE_WAITING,
        "Calls waiting in the queue: queued and not yet answered, abandoned or ended (ringing ones included)."
    );
    describe_gauge!(
        QUEUE_OLDEST_WAIT,
        Unit::Seconds,
        "Wait of the longest-waiting call: tenant clock - its queued ts; 0 when no call waits."
    );
    describe_counter!(CALLS_QUEUED, "Calls entering the queue: count of `queued` events (cumulative over the log).");
    describe_counter!(CALLS_OFFERED, "Calls offered to an agent: count of each call's first `offered` (cumulative).");
    describe_counter!(CALLS_ANSWERED, "Calls answered: count of each call's first `answered` (cumulative).");
    describe_counter!(
        CALLS_ANSWERED_IN_TIME,
        "Calls answered within the ring limit: first answers with rings <= max_rings (default 3; rings from the ACD or ring time / cadence)."
    );
    describe_counter!(
        CALLS_ANSWERED_IN_THRESHOLD,
        "Calls answered within the service-level threshold (the queue's threshold on answer delay; without one = answered in time). Service level numerator."
    );
    describe_counter!(CALLS_ABANDONED, "Callers who hung up while waiting: count of `abandoned` events (cumulative).");
    describe_counter!(
        CALLS_SHORT_ABANDONED,
        "Abandons after waiting less than short_abandon (default 5 s) since the last `queued` (cumulative)."
    );
    describe_counter!(CALLS_MISSED, "Ring-no-answers: count of `missed` events (cumulative).");
    describe_counter!(CALLS_TRANSFERRED, "Transfers away from an agent: count of `transferred` events (cumulative).");
    describe_counter!(
        CALLS_HANDLED,
        "Calls whose after-call work ended (talk + wrap-up complete; the AHT denominator, cumulative)."
    );
    describe_histogram!(
        ANSWER_DELAY,
        Unit::Seconds,
        "Answer delay at each call's first answer: answered ts - last queued ts (or first offered ts; 0 when neither was seen). Buckets on 5 s ring boundaries."
    );
    describe_histogram!(
        HANDLE_TIME,
        Unit::Seconds,
        "Handle time when after-call work ends: wrap-up end - answer (talk + wrap-up)."
    );
    describe_gauge!(
        SERVICE_LEVEL,
        "Service level over `window` (interval: the current calendar interval; 15m, 60m: sliding): calls answered within the threshold, counted where the denominator counted them (the first offer for the offered formula), / the queue's formula denominator (default offered); within [0, 1]; NaN when the denominator is 0."
    );
    describe_gauge!(
        ASA,
        Unit::Seconds,
        "Average speed of answer over `window`: sum of answer delay / answered; NaN when none was answered."
    );
    describe_gauge!(
        AHT,
        Unit::Seconds,
        "Average handle time over `window`: sum of handle time / handled; NaN when none was handled."
    );
    describe_gauge!(
        OCCUPANCY,
        "Occupancy over `window`: busy / (busy + ready) agent time, busy = ringing + talking + wrap-up; NaN when both are 0."
    );
    describe_gauge!(ALARMS_ACTIVE, "Compliance alarms raised and not cleared, by rule (see docs/compliance.md).");
    describe_counter!(ALARMS_RAISED, "Compliance alarms raised, by rule: count of alarms ever raised (cumulative).");
    describe_gauge!(
        TENANT_CLOCK,
        Unit::Seconds,
        "The tenant's clock as Unix time: the greatest timestamp of its events, heartbeats and ticks."
    );
    describe_gauge!(
        TENANT_WATERMARK,
        Unit::Seconds,
        "The tenant's watermark as Unix time: the time up to which its alarms are final (clock - allowed lateness, or the last heartbeat/tick)."
    );
    describe_gauge!(
        AGENT_STATE,
        "1 when the agent's derived state is `state`, else 0 (per-agent series: only for tenants with agent_metrics = true, at most 1000 agents)."
    );
    describe_gauge!(
        AGENT_STATE_SECONDS,
        Unit::Seconds,
        "Time the agent has been in its current state: tenant clock - since (per-agent series)."
    );
    describe_gauge!(
        AGENT_HANDLED_TODAY,
        "Calls the agent answered today (tenant-local day of the tenant's clock; per-agent series)."
    );
    describe_gauge!(
        AGENT_MISSED_TODAY,
        "Ring-no-answers of the agent today (tenant-local day of the tenant's clock; per-agent series)."
    );
    describe_gauge!(
        AGENT_SERIES_OMITTED,
        "Agents of the tenant left out of the per-agent series because of the cap of 1000: agents - 1000, at least 0."
    );
}

/// Every call-centre metric name (for tests and docs checks).
pub const ALL: &[&str] = &[
    AGENTS,
    QUEUE_AGENTS,
    QUEUE_WAITING,
    QUEUE_OLDEST_WAIT,
    CALLS_QUEUED,
    CALLS_OFFERED,
    CALLS_ANSWERED,
    CALLS_ANSWERED_IN_TIME,
    CALLS_ANSWERED_IN_THRESHOLD,
    CALLS_ABANDONED,
    CALLS_SHORT_ABANDONED,
    CALLS_MISSED,
    CALLS_TRANSFERRED,
    CALLS_HANDLED,
    ANSWER_DELAY,
    HANDLE_TIME,
    SERVICE_LEVEL,
    ASA,
    AHT,
    OCCUPANCY,
    ALARMS_ACTIVE,
    ALARMS_RAISED,
    TENANT_CLOCK,
    TENANT_WATERMARK,
    AGENT_STATE,
    AGENT_STATE_SECONDS,
    AGENT_HANDLED_TODAY,
    AGENT_MISSED_TODAY,
    AGENT_SERIES_OMITTED,
];
