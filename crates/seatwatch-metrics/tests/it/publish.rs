//! Publishing: the rendered text carries the fold's values, counters continue across a
//! "restart" (a new recorder over the same fold), per-agent series obey the tenant
//! setting and the cap, and customer data never becomes a label.

use crate::{Fold, Scraper, sample};
use seatwatch_config::Config;
use seatwatch_metrics::names::{self, AGENT_SERIES_CAP, QUEUE_ALL, QUEUE_NONE};
use seatwatch_model::{
    AgentId, CallId, CallerKey, CallerPolicy, Envelope, Event, EventKind, IngestOptions, QueueId, Ts, validate_event,
};
use seatwatch_occupancy::AgentState;
use seatwatch_sim::generator::{SimConfig, generate};

const TENANT: &str = "acme";

/// A simulated working day as log records of `TENANT`, callers stored in clear (so a
/// leak into labels would show).
fn day(agents: u32) -> Vec<Envelope> {
    let sim = SimConfig { agents, queues: 3, calls_per_hour: 400.0, ..SimConfig::default() };
    let key = CallerKey([7; 32]);
    let opts = IngestOptions::any_time(TENANT, CallerPolicy::Plain, &key);
    generate(&sim)
        .unwrap()
        .enumerate()
        .map(|(i, e)| {
            let v: serde_json::Value = serde_json::from_str(&e.json).unwrap();
            let event = validate_event(&seatwatch_model::Json::from_value(&v), 0, &opts).unwrap();
            Envelope { seq: i as u64 + 1, tenant: TENANT.into(), source: "acd".into(), received: event.ts, event }
        })
        .collect()
}

fn config(extra: &str) -> Config {
    Config::parse(&format!("[tenant.{TENANT}]\nclock = \"event\"\n{extra}")).unwrap()
}

fn folded(records: &[Envelope], cfg: Config) -> Fold {
    let mut f = Fold::new(cfg);
    for r in records {
        f.apply(r);
    }
    f
}

/// The sample lines of counters and histograms (the series that must continue).
fn cumulative_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter(|l| {
            let name = l.split(['{', ' ']).next().unwrap_or("");
            name.ends_with("_total") || name.ends_with("_bucket") || name.ends_with("_count")
        })
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

#[test]
fn a_simulated_day_publishes_the_folds_values() {
    let records = day(30);
    let f = folded(&records, config(""));
    let text = Scraper::new().scrape(&f);

    // Every call-centre metric but the per-agent ones has HELP, TYPE and samples.
    for name in names::ALL.iter().filter(|n| !n.starts_with("seatwatch_agent_")) {
        assert!(text.contains(&format!("# HELP {name} ")), "no HELP for {name}");
        assert!(text.contains(&format!("# TYPE {name} ")), "no TYPE for {name}");
    }
    assert!(!text.contains("seatwatch_agent_"), "per-agent series are off by default");

    let totals = f.occupancy.totals(TENANT);
    let queues = f.occupancy.queues(TENANT);
    assert_eq!(queues.len(), 3);
    let mut sum_answered = 0.0;
    for q in &queues {
        let name = q.queue.as_str();
        let t = &totals[&Some(q.queue.clone())];
        let l = [("tenant", TENANT), ("queue", name)];
        assert_eq!(sample(&text, names::CALLS_OFFERED, &l), Some(t.offered as f64));
        assert_eq!(sample(&text, names::CALLS_ANSWERED, &l), Some(t.answered as f64));
        assert_eq!(sample(&text, names::CALLS_ABANDONED, &l), Some(t.abandoned as f64));
        assert_eq!(sample(&text, names::CALLS_HANDLED, &l), Some(t.handled as f64));
        assert_eq!(sample(&text, "seatwatch_answer_delay_seconds_count", &l), Some(t.answered as f64));
        // The sums are the fold's to well under a microsecond (f64 rounding only: the
        // nanoseconds each scrape adds are recorded exactly).
        let s = sample(&text, "seatwatch_answer_delay_seconds_sum", &l).unwrap();
        assert!((s - t.answer_delay_seconds).abs() < 1e-8, "{s} vs {t:?}");
        let s = sample(&text, "seatwatch_handle_time_seconds_sum", &l).unwrap();
        assert!((s - t.handle_seconds).abs() < 1e-8, "{s} vs {t:?}");
        // Buckets are cumulative and end at the count.
        let inf = sample(&text, "seatwatch_answer_delay_seconds_bucket", &[l[0], l[1], ("le", "+Inf")]).unwrap();
        let b15 = sample(&text, "seatwatch_answer_delay_seconds_bucket", &[l[0], l[1], ("le", "15")]).unwrap();
        assert_eq!(inf, t.answered as f64);
        assert!(b15 <= inf);
        sum_answered += t.answered as f64;
        assert_eq!(sample(&text, names::QUEUE_WAITING, &l), Some(q.waiting as f64));
        assert!(sample(&text, names::SERVICE_LEVEL, &[l[0], l[1], ("window", "60m")]).is_some());
    }
    assert!(sum_answered > 100.0, "the simulated day answers calls: {sum_answered}");
    let none = [("tenant", TENANT), ("queue", QUEUE_NONE)];
    assert_eq!(
        sample(&text, names::CALLS_ANSWERED, &none),
        Some(totals[&None].answered as f64 - sum_answered),
        "the calls of no queue are the total minus the queues"
    );
    for window in ["interval", "15m", "60m"] {
        let l = [("tenant", TENANT), ("queue", QUEUE_ALL), ("window", window)];
        assert!(sample(&text, names::OCCUPANCY, &l).is_some(), "occupancy of {window}");
    }

    // Agents by state add up to the agents seen.
    let agents = f.occupancy.agents(TENANT);
    let by_state: f64 = AgentState::ALL
        .iter()
        .map(|s| sample(&text, names::AGENTS, &[("tenant", TENANT), ("state", s.as_str())]).unwrap())
        .sum();
    assert_eq!(by_state, agents.len() as f64);

    // Alarms raised by rule, as the compliance projector counts them; the day has some.
    let raised = f.compliance.raised_counts(TENANT);
    for (rule, n) in &raised {
        assert_eq!(
            sample(&text, names::ALARMS_RAISED, &[("tenant", TENANT), ("rule", rule.as_str())]),
            Some(*n as f64)
        );
    }
    assert!(raised.values().sum::<u64>() > 0);

    // No caller number anywhere (the log holds them in clear).
    let callers: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.event.kind {
            EventKind::Queued { caller: Some(c), .. } => Some(c.to_text()),
            _ => None,
        })
        .collect();
    assert!(!callers.is_empty(), "the simulator sends callers");
    for c in callers {
        assert!(!text.contains(&c), "caller {c} leaked into /metrics");
    }
}

#[test]
fn counters_continue_across_scrapes_and_restarts() {
    let records = day(20);
    let half = records.len() / 2;
    let cfg = config("");
    let mut f = folded(&records[..half], cfg.clone());
    let mut scraper = Scraper::new();
    let first = scraper.scrape(&f);
    for r in &records[half..] {
        f.apply(r);
    }
    let second = scraper.scrape(&f);
    // Scraping again without new records changes nothing.
    assert!(cumulative_lines(&scraper.scrape(&f)) == cumulative_lines(&second), "a second scrape changed counters");
    // Counters only grew.
    let answered = |t: &str| sample(t, names::CALLS_ANSWERED, &[("tenant", TENANT), ("queue", "sales")]).unwrap();
    assert!(answered(&second) > answered(&first));

    // A restart: a new process (recorder, publisher) over the same log, folded from the
    // start, shows the same counters and histogram buckets.
    let restarted = folded(&records, cfg);
    let after = Scraper::new().scrape(&restarted);
    let (a, b) = (cumulative_lines(&after), cumulative_lines(&second));
    assert!(a.len() > 100);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "after a restart");
    }
    assert_eq!(a.len(), b.len());
    let sum =
        |t: &str| sample(t, "seatwatch_handle_time_seconds_sum", &[("tenant", TENANT), ("queue", "sales")]).unwrap();
    assert!((sum(&after) - sum(&second)).abs() < 1e-6);
}

fn login(seq: u64, tenant: &str, agent: &str) -> Envelope {
    let ts = Ts::parse_rfc3339("2026-03-02T08:20:00+08:00").unwrap();
    Envelope {
        seq,
        tenant: tenant.into(),
        source: "acd".into(),
        received: ts,
        event: Event {
            id: format!("e{seq}").into(),
            ts,
            agent: Some(AgentId(agent.into())),
            kind: EventKind::Login { station: format!("st-{agent}") },
            extra: None,
        },
    }
}

#[test]
fn per_agent_series_only_when_the_tenant_asks_and_at_most_the_cap() {
    let cfg = Config::parse("[tenant.big]\nagent_metrics = true\n\n[tenant.small]\n").unwrap();
    let mut f = Fold::new(cfg);
    let mut seq = 0;
    let mut next = || {
        seq += 1;
        seq
    };
    for i in 0..AGENT_SERIES_CAP + 3 {
        f.apply(&login(next(), "big", &format!("b{i:05}")));
    }
    for i in 0..3 {
        f.apply(&login(next(), "small", &format!("s{i}")));
    }
    let text = Scraper::new().scrape(&f);
    let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("seatwatch_agent_state{tenant=\"big\""), AGENT_SERIES_CAP * AgentState::ALL.len());
    assert_eq!(count("seatwatch_agent_state{tenant=\"small\""), 0);
    assert_eq!(sample(&text, names::AGENT_SERIES_OMITTED, &[("tenant", "big")]), Some(3.0));
    let l = [("tenant", "big"), ("agent", "b00000"), ("state", "ready")];
    assert_eq!(sample(&text, names::AGENT_STATE, &l), Some(1.0));
    let l = [("tenant", "big"), ("agent", "b00000"), ("state", "logged_out")];
    assert_eq!(sample(&text, names::AGENT_STATE, &l), Some(0.0));
    // The first agents by id are shown; the last ones are not.
    assert!(!text.contains(&format!("agent=\"b{:05}\"", AGENT_SERIES_CAP)));

    // An agent with a smaller id pushes the last one out of the capped set: its series
    // stay, zeroed.
    let mut scraper = Scraper::new();
    scraper.scrape(&f);
    f.apply(&login(next(), "big", "a00000"));
    let text = scraper.scrape(&f);
    let last = format!("b{:05}", AGENT_SERIES_CAP - 1);
    let l = [("tenant", "big"), ("agent", last.as_str()), ("state", "ready")];
    assert_eq!(sample(&text, names::AGENT_STATE, &l), Some(0.0), "the displaced agent is zeroed");
    let l = [("tenant", "big"), ("agent", "a00000"), ("state", "ready")];
    assert_eq!(sample(&text, names::AGENT_STATE, &l), Some(1.0));
    assert_eq!(sample(&text, names::AGENT_SERIES_OMITTED, &[("tenant", "big")]), Some(4.0));
}

#[test]
fn a_call_without_a_queue_counts_under_none_and_the_ratios_are_nan_without_data() {
    let ts = |s: &str| Ts::parse_rfc3339(&format!("2026-03-02T{s}+08:00")).unwrap();
    let ev = |seq: u64, at: &str, agent: Option<&str>, kind: EventKind| Envelope {
        seq,
        tenant: TENANT.into(),
        source: "acd".into(),
        received: ts(at),
        event: Event {
            id: format!("e{seq}").into(),
            ts: ts(at),
            agent: agent.map(|a| AgentId(a.into())),
            kind,
            extra: None,
        },
    };
    let call = CallId("c1".into());
    let mut f = Fold::new(config(""));
    f.apply(&ev(
        1,
        "09:00:00",
        None,
        EventKind::Queued {
            call: CallId("c0".into()),
            queue: QueueId::from("vip"),
            caller: None,
            emergency: false,
            priority: None,
        },
    ));
    f.apply(&ev(
        2,
        "09:00:01",
        Some("a1"),
        EventKind::Offered { call: call.clone(), queue: None, caller: None, emergency: false, priority: None },
    ));
    f.apply(&ev(3, "09:00:04", Some("a1"), EventKind::Answered { call, rings: None }));
    let text = Scraper::new().scrape(&f);
    let none = [("tenant", TENANT), ("queue", QUEUE_NONE)];
    assert_eq!(sample(&text, names::CALLS_ANSWERED, &none), Some(1.0));
    assert_eq!(sample(&text, "seatwatch_answer_delay_seconds_sum", &none), Some(3.0));
    assert_eq!(sample(&text, "seatwatch_answer_delay_seconds_bucket", &[none[0], none[1], ("le", "5")]), Some(1.0));
    let vip = [("tenant", TENANT), ("queue", "vip"), ("window", "15m")];
    assert!(sample(&text, names::ASA, &vip).unwrap().is_nan(), "nothing answered in vip: NaN");
    assert_eq!(sample(&text, names::QUEUE_WAITING, &[("tenant", TENANT), ("queue", "vip")]), Some(1.0));
    assert_eq!(
        sample(&text, names::QUEUE_OLDEST_WAIT, &[("tenant", TENANT), ("queue", "vip")]),
        Some(4.0),
        "the tenant clock (09:00:04) minus the queued ts"
    );
}
