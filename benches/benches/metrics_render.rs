//! `/metrics` rendering at 10,000 agents in 50 queues: what one scrape costs the server.
//!
//! The state: one tenant, 10,000 agents each with a handled call in one of 50 queues,
//! then a quarter talking, a quarter ringing, a quarter not ready, a quarter ready, and
//! 100 calls waiting — folded by the same [`Engine`] the server runs. Each iteration is
//! what `GET /metrics` does: publish the call-centre series from the projections into a
//! Prometheus recorder (set up like the server's), then render the text.
//!
//! * `publish_and_render`: the default (per-agent series off);
//! * `publish_and_render_agent_series`: `agent_metrics = true` (1,000 agents get series:
//!   the cap);
//! * `baseline_render_only`: rendering the same recorder without publishing, and
//!   `baseline_projection_reads`: only the projection reads publishing makes (agents by
//!   state, queues, totals, windows, the current interval) — the same-run baselines that
//!   split the cost.

use criterion::{Criterion, criterion_group, criterion_main};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use seatwatch_config::Config;
use seatwatch_engine::Engine;
use seatwatch_engine::metrics::{Publisher, Sources, names};
use seatwatch_model::{AgentId, CallId, Envelope, Event, EventKind, Projector, QueueId, Ts};
use std::hint::black_box;

const AGENTS: usize = 10_000;
const QUEUES: usize = 50;

fn engine(config: &Config) -> Engine {
    let mut engine = Engine::new(config);
    let start = Ts::parse_rfc3339("2026-03-02T08:00:00+08:00").unwrap_or_default();
    let mut seq = 0u64;
    let mut apply = |engine: &mut Engine, secs: i64, agent: Option<usize>, kind: EventKind| {
        seq += 1;
        let ts = start.plus_secs(secs);
        engine.apply(&Envelope {
            seq,
            tenant: "acme".into(),
            source: "acd".into(),
            received: ts,
            event: Event {
                id: format!("e{seq}").into(),
                ts,
                agent: agent.map(|a| AgentId::from(format!("agent-{a:05}"))),
                kind,
                extra: None,
            },
        });
    };
    let queue = |i: usize| QueueId::from(format!("queue-{:02}", i % QUEUES));
    let call = |i: usize, n: usize| CallId::from(format!("call-{i}-{n}"));
    let queued =
        |c: CallId, q: QueueId| EventKind::Queued { call: c, queue: q, caller: None, emergency: false, priority: None };
    let offered = |c: CallId, q: QueueId| EventKind::Offered {
        call: c,
        queue: Some(q),
        caller: None,
        emergency: false,
        priority: None,
    };
    for i in 0..AGENTS {
        apply(&mut engine, 0, Some(i), EventKind::Login { station: format!("st-{i}") });
    }
    for i in 0..AGENTS {
        let t = 60 + (i % 600) as i64;
        apply(&mut engine, t, None, queued(call(i, 0), queue(i)));
        apply(&mut engine, t + 2, Some(i), offered(call(i, 0), queue(i)));
        apply(&mut engine, t + 9, Some(i), EventKind::Answered { call: call(i, 0), rings: None });
        apply(&mut engine, t + 200, Some(i), EventKind::Ended { call: call(i, 0) });
        apply(&mut engine, t + 260, Some(i), EventKind::Ready);
    }
    for i in 0..AGENTS {
        let t = 1000 + (i % 600) as i64;
        match i % 4 {
            0 => {
                apply(&mut engine, t, None, queued(call(i, 1), queue(i)));
                apply(&mut engine, t + 3, Some(i), offered(call(i, 1), queue(i)));
                apply(&mut engine, t + 8, Some(i), EventKind::Answered { call: call(i, 1), rings: None });
            }
            1 => {
                apply(&mut engine, t, None, queued(call(i, 1), queue(i)));
                apply(&mut engine, t + 3, Some(i), offered(call(i, 1), queue(i)));
            }
            2 => apply(&mut engine, t, Some(i), EventKind::NotReady { reason: Some("lunch".into()) }),
            _ => {}
        }
    }
    for w in 0..100 {
        apply(&mut engine, 1700, None, queued(CallId::from(format!("waiting-{w}")), queue(w)));
    }
    engine
}

fn recorder() -> PrometheusRecorder {
    let mut b = PrometheusBuilder::new();
    for (name, buckets) in
        [(names::ANSWER_DELAY, names::ANSWER_DELAY_BUCKETS), (names::HANDLE_TIME, names::HANDLE_TIME_BUCKETS)]
    {
        b = b.set_buckets_for_metric(Matcher::Full(name.into()), buckets).unwrap_or_else(|_| PrometheusBuilder::new());
    }
    let r = b.build_recorder();
    metrics::with_local_recorder(&r, names::describe);
    r
}

fn scrape(recorder: &PrometheusRecorder, publisher: &mut Publisher, engine: &Engine, config: &Config) -> String {
    let src = Sources {
        occupancy: &engine.occupancy,
        compliance: &engine.compliance,
        histograms: &engine.histograms,
        config,
    };
    metrics::with_local_recorder(recorder, || publisher.publish(&src));
    recorder.handle().render()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics_render");
    g.sample_size(20);
    for (id, toml) in [
        ("publish_and_render", "[tenant.acme]\nclock = \"event\"\n"),
        ("publish_and_render_agent_series", "[tenant.acme]\nclock = \"event\"\nagent_metrics = true\n"),
    ] {
        let config = Config::parse(toml).unwrap_or_default();
        let engine = engine(&config);
        let recorder = recorder();
        let mut publisher = Publisher::new();
        let text = scrape(&recorder, &mut publisher, &engine, &config);
        let series = text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count();
        // METRICS_RENDER_DUMP=DIR writes each case's first scrape, to compare versions.
        if let Some(dir) = std::env::var_os("METRICS_RENDER_DUMP") {
            let _ = std::fs::write(std::path::Path::new(&dir).join(format!("{id}.txt")), &text);
        }
        eprintln!("metrics_render/{id}: {AGENTS} agents, {QUEUES} queues: {series} series, {} bytes", text.len());
        g.bench_function(id, |b| b.iter(|| black_box(scrape(&recorder, &mut publisher, &engine, &config))));
        if id == "publish_and_render" {
            g.bench_function("baseline_render_only", |b| b.iter(|| black_box(recorder.handle().render())));
            g.bench_function("baseline_projection_reads", |b| {
                b.iter(|| {
                    let o = &engine.occupancy;
                    let now = o.now("acme");
                    black_box((
                        o.agent_state_counts("acme"),
                        o.queues("acme"),
                        o.totals("acme"),
                        o.windows("acme"),
                        now.map(|n| o.intervals("acme", Some(n), Some(n.plus_nanos(1)), None)),
                    ))
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
