//! The load client against a small in-test WebSocket server that acknowledges frames the
//! way CONTRACT.md §3 says (one reply per frame, in order, counting array elements).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, FixedOffset};
use futures_util::{SinkExt, StreamExt};
use seatwatch_sim::{ClientError, ClientOptions, Progress, SimConfig, SimEvent, generate, run};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const TOKEN: &str = "s3cret";

/// How the test server answers.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Reply to every frame at once.
    Ack,
    /// Hold replies until `window` frames are outstanding on the connection (or all
    /// `expected` frames of the connection have arrived), then answer the oldest.
    Window { window: usize, expected: usize },
    /// Close with 1009 on the first frame, without replying.
    CloseOnFirst,
    /// Reply with something that is not an acknowledgement.
    Garbage,
    /// A slow disk: every reply takes this long.
    SlowAck(Duration),
}

#[derive(Debug)]
struct Arrival {
    conn: usize,
    event: Value,
}

#[derive(Debug, Default)]
struct Log {
    seen: HashSet<String>,
    seq: u64,
    /// Stored events in log order.
    arrivals: Vec<Arrival>,
    frames: u64,
    max_outstanding: usize,
}

struct Server {
    url: String,
    log: Arc<Mutex<Log>>,
    closed: mpsc::UnboundedReceiver<usize>,
}

impl Server {
    async fn start(behaviour: Behaviour) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/v1/ingest", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Log::default()));
        let (closed_tx, closed) = mpsc::unbounded_channel();
        let shared = log.clone();
        tokio::spawn(async move {
            let mut conn = 0;
            while let Ok((tcp, _)) = listener.accept().await {
                let (log, closed_tx) = (shared.clone(), closed_tx.clone());
                tokio::spawn(serve(tcp, conn, behaviour, log, closed_tx));
                conn += 1;
            }
        });
        Server { url, log, closed }
    }

    /// Wait until `n` connections were closed by the client with a close frame.
    async fn closed_cleanly(&mut self, n: usize) {
        for _ in 0..n {
            let got = tokio::time::timeout(Duration::from_secs(10), self.closed.recv()).await;
            assert!(matches!(got, Ok(Some(_))), "a connection was not closed with a close frame");
        }
    }
}

fn refuse(status: u16, body: &str) -> ErrorResponse {
    http::Response::builder().status(status).body(Some(body.to_owned())).unwrap()
}

async fn serve(
    tcp: tokio::net::TcpStream,
    conn: usize,
    behaviour: Behaviour,
    log: Arc<Mutex<Log>>,
    closed: mpsc::UnboundedSender<usize>,
) {
    // The signature is tungstenite's handshake callback.
    #[allow(clippy::result_large_err)]
    let auth = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        match req.headers().get("authorization").and_then(|v| v.to_str().ok()) {
            Some(v) if v == format!("Bearer {TOKEN}") => Ok(resp),
            Some("Bearer reader-token") => Err(refuse(403, "role reader may not send events")),
            _ => Err(refuse(401, "unknown token")),
        }
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, auth).await else { return };
    let mut held: VecDeque<String> = VecDeque::new();
    let mut received = 0;
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(Message::Text(t)) => {
                received += 1;
                match behaviour {
                    Behaviour::Ack => {
                        let reply = ingest(&log, conn, t.as_str());
                        ws.send(Message::Text(reply.into())).await.unwrap();
                    }
                    Behaviour::Window { window, expected } => {
                        held.push_back(ingest(&log, conn, t.as_str()));
                        {
                            let mut l = log.lock().unwrap();
                            l.max_outstanding = l.max_outstanding.max(held.len());
                        }
                        while held.len() >= window || (received == expected && !held.is_empty()) {
                            let reply = held.pop_front().unwrap();
                            ws.send(Message::Text(reply.into())).await.unwrap();
                        }
                    }
                    Behaviour::CloseOnFirst => {
                        let frame = CloseFrame { code: CloseCode::Size, reason: "frame too big".into() };
                        let _ = ws.close(Some(frame)).await;
                    }
                    Behaviour::Garbage => ws.send(Message::Text("nope".into())).await.unwrap(),
                    Behaviour::SlowAck(d) => {
                        let reply = ingest(&log, conn, t.as_str());
                        tokio::time::sleep(d).await;
                        ws.send(Message::Text(reply.into())).await.unwrap();
                    }
                }
            }
            Ok(Message::Close(_)) => {
                let _ = closed.send(conn);
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

/// Store a frame's events like the contract says and build the reply.
fn ingest(log: &Mutex<Log>, conn: usize, text: &str) -> String {
    let v: Value = serde_json::from_str(text).unwrap();
    let items = match v {
        Value::Array(items) => items,
        one => vec![one],
    };
    let mut l = log.lock().unwrap();
    l.frames += 1;
    let (mut accepted, mut duplicate, mut rejected) = (0, 0, vec![]);
    for (index, item) in items.into_iter().enumerate() {
        let id = item["id"].as_str().unwrap().to_owned();
        if item["type"] == "bogus" {
            rejected.push(
                json!({"index": index, "id": id, "code": "unknown_type", "message": "unknown event type \"bogus\""}),
            );
        } else if !l.seen.insert(id) {
            duplicate += 1;
        } else {
            accepted += 1;
            l.seq += 1;
            l.arrivals.push(Arrival { conn, event: item });
        }
    }
    json!({"accepted": accepted, "duplicate": duplicate, "rejected": rejected, "last_seq": l.seq}).to_string()
}

fn small_day() -> SimConfig {
    SimConfig { agents: 12, queues: 2, calls_per_hour: 30.0, violation_rate: 0.1, ..SimConfig::default() }
}

fn opts(url: &str) -> ClientOptions {
    ClientOptions::new(url, TOKEN)
}

fn at(ev: &Value) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(ev["ts"].as_str().unwrap()).unwrap()
}

/// Synthetic events `step` apart, agent `a{i % agents}`.
fn ticks(n: usize, step_ms: i64, agents: usize) -> Vec<SimEvent> {
    let t0 = DateTime::parse_from_rfc3339("2026-03-02T08:00:00+08:00").unwrap();
    (0..n)
        .map(|i| {
            let at = t0 + chrono::Duration::milliseconds(step_ms * i as i64);
            let agent = format!("a{}", i % agents);
            let json =
                json!({"id": format!("t-{i}"), "type": "ready", "ts": at.to_rfc3339(), "agent": agent}).to_string();
            SimEvent { at, agent: Some(agent), kind: "ready", json }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_day_arrives_complete_and_in_per_agent_order() {
    let mut server = Server::start(Behaviour::Ack).await;
    let events: Vec<SimEvent> = generate(&small_day()).unwrap().collect();
    let n = events.len() as u64;
    let report = run(
        events.clone().into_iter(),
        ClientOptions { connections: 3, batch: 7, max_in_flight: 3, max_skew: None, ..opts(&server.url) },
    )
    .await
    .unwrap();
    server.closed_cleanly(3).await;

    assert_eq!((report.events_sent, report.accepted, report.duplicate, report.rejected()), (n, n, 0, 0), "{report}");
    let log = server.log.lock().unwrap();
    assert_eq!(report.frames_sent, log.frames);
    assert_eq!(report.ack_latency_us.count, log.frames);
    assert_eq!(report.last_seq, Some(n));
    assert_eq!(report.mismatched_acks, 0);
    assert!(report.ack_latency_us.p50 > 0 && report.ack_latency_us.max >= report.ack_latency_us.p99);
    assert!(report.events_per_sec > 0.0);

    // Every event arrived once; each agent's on one connection, in generation order.
    assert_eq!(log.arrivals.len() as u64, n);
    let mut per_agent_sent: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &events {
        if let Some(a) = &e.agent {
            let v: Value = serde_json::from_str(&e.json).unwrap();
            per_agent_sent.entry(a.clone()).or_default().push(v["id"].as_str().unwrap().to_owned());
        }
    }
    let mut per_agent_got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut conn_of: BTreeMap<String, HashSet<usize>> = BTreeMap::new();
    for a in &log.arrivals {
        match a.event["agent"].as_str() {
            Some(agent) => {
                per_agent_got.entry(agent.to_owned()).or_default().push(a.event["id"].as_str().unwrap().to_owned());
                conn_of.entry(agent.to_owned()).or_default().insert(a.conn);
            }
            // The client connects one by one, so the server numbers its connections alike.
            None => assert_eq!(a.conn, 0, "agentless events travel on connection 0"),
        }
    }
    assert_eq!(per_agent_got, per_agent_sent);
    assert!(conn_of.values().all(|c| c.len() == 1), "{conn_of:?}");
    let used: HashSet<usize> = conn_of.values().flatten().copied().collect();
    assert!(used.len() >= 2, "12 agents should spread over the connections: {used:?}");
}

#[tokio::test]
async fn pipelining_fills_but_never_exceeds_the_window() {
    let events = ticks(95, 1000, 5);
    let (batch, window) = (10, 3);
    let expected = 95usize.div_ceil(batch);
    let mut server = Server::start(Behaviour::Window { window, expected }).await;
    let report =
        run(events.into_iter(), ClientOptions { connections: 1, batch, max_in_flight: window, ..opts(&server.url) })
            .await
            .unwrap();
    server.closed_cleanly(1).await;
    assert_eq!((report.events_sent, report.frames_sent, report.accepted), (95, expected as u64, 95), "{report}");
    // The server held its replies until the client had `window` frames in flight: the
    // client reached the window (it pipelines) and never went past it.
    assert_eq!(server.log.lock().unwrap().max_outstanding, window);
}

#[tokio::test]
async fn lone_objects_when_the_batch_is_one() {
    let mut server = Server::start(Behaviour::Ack).await;
    let report = run(ticks(5, 10, 2).into_iter(), ClientOptions { connections: 1, batch: 1, ..opts(&server.url) })
        .await
        .unwrap();
    server.closed_cleanly(1).await;
    assert_eq!((report.events_sent, report.frames_sent, report.accepted), (5, 5, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_stay_within_the_skew_and_heartbeats_never_overtake() {
    let mut server = Server::start(Behaviour::Ack).await;
    let cfg = SimConfig { agents: 20, queues: 2, calls_per_hour: 60.0, ..SimConfig::default() };
    let events: Vec<SimEvent> = generate(&cfg).unwrap().collect();
    let skew = chrono::Duration::seconds(2);
    let report = run(
        events.into_iter(),
        ClientOptions {
            connections: 4,
            batch: 20,
            max_in_flight: 4,
            max_skew: Some(Duration::from_secs(2)),
            ..opts(&server.url)
        },
    )
    .await
    .unwrap();
    server.closed_cleanly(4).await;
    let log = server.log.lock().unwrap();
    assert_eq!(report.accepted, log.arrivals.len() as u64);
    // In log order, nothing is stored after an event more than `skew` newer than itself,
    // nor after a heartbeat newer than itself.
    let (mut newest, mut newest_heartbeat) = (None::<DateTime<FixedOffset>>, None::<DateTime<FixedOffset>>);
    for (i, a) in log.arrivals.iter().enumerate() {
        let t = at(&a.event);
        if let Some(n) = newest {
            assert!(t >= n - skew, "#{i} {} stored after an event at {n}", a.event);
        }
        if let Some(h) = newest_heartbeat {
            assert!(t >= h, "#{i} {} stored after a heartbeat at {h}", a.event);
        }
        if a.event["type"] == "heartbeat" {
            newest_heartbeat = newest_heartbeat.max(Some(t));
        } else {
            newest = newest.max(Some(t));
        }
    }
}

#[tokio::test]
async fn duplicates_and_rejections_are_counted_by_code() {
    let mut server = Server::start(Behaviour::Ack).await;
    let mut events = ticks(20, 100, 3);
    for i in [3, 11] {
        events[i].json = events[i].json.replace("\"ready\"", "\"bogus\"");
    }
    let o = || ClientOptions { connections: 2, batch: 6, ..opts(&server.url) };
    let first = run(events.clone().into_iter(), o()).await.unwrap();
    assert_eq!((first.accepted, first.duplicate), (18, 0), "{first}");
    assert_eq!(first.rejected_by_code, BTreeMap::from([("unknown_type".to_owned(), 2)]));
    assert_eq!(first.rejected_samples.len(), 2);
    assert!(first.rejected_samples.iter().all(|r| r.message.contains("bogus") && r.id.is_some()));
    assert!(first.to_string().contains("unknown_type: 2"), "{first}");
    let again = run(events.into_iter(), o()).await.unwrap();
    assert_eq!((again.accepted, again.duplicate, again.rejected()), (0, 18, 2), "{again}");
    assert_eq!(again.last_seq, Some(18));
    server.closed_cleanly(4).await;
}

#[tokio::test]
async fn speed_paces_by_simulated_time() {
    let server = Server::start(Behaviour::Ack).await;
    // 20 events 100 ms apart: 1.9 simulated seconds, at 10× about 190 ms.
    let report =
        run(ticks(20, 100, 2).into_iter(), ClientOptions { connections: 1, speed: Some(10.0), ..opts(&server.url) })
            .await
            .unwrap();
    assert_eq!(report.accepted, 20);
    assert!(report.elapsed >= Duration::from_millis(190), "{:?}", report.elapsed);
    assert!(report.elapsed < Duration::from_secs(10), "{:?}", report.elapsed);
    // Pacing sends each event when it is due instead of waiting for a full batch.
    assert!(report.frames_sent > 2, "{report}");
}

#[tokio::test]
async fn rate_paces_by_count() {
    let server = Server::start(Behaviour::Ack).await;
    // Event i is due at i / 400 s: the 40th at 97.5 ms.
    let report =
        run(ticks(40, 1, 2).into_iter(), ClientOptions { connections: 2, rate: Some(400.0), ..opts(&server.url) })
            .await
            .unwrap();
    assert_eq!(report.accepted, 40);
    assert!(report.elapsed >= Duration::from_micros(97_500), "{:?}", report.elapsed);
}

#[tokio::test]
async fn duration_stops_sending_and_still_waits_for_replies() {
    let mut server = Server::start(Behaviour::Ack).await;
    // One event per simulated second in real time: a thousand seconds unless stopped.
    let report = run(
        ticks(1000, 1000, 2).into_iter(),
        ClientOptions {
            connections: 1,
            speed: Some(1.0),
            duration: Some(Duration::from_millis(300)),
            ..opts(&server.url)
        },
    )
    .await
    .unwrap();
    server.closed_cleanly(1).await;
    assert!(report.stopped_early);
    assert!((1..=2).contains(&report.events_sent), "{report}");
    assert_eq!(report.accepted, report.events_sent);
    assert!(report.elapsed < Duration::from_secs(5), "{:?}", report.elapsed);
    assert!(report.to_string().contains("stopped early"));
}

#[tokio::test]
async fn progress_is_reported_and_ends_complete() {
    let server = Server::start(Behaviour::Ack).await;
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let sink = seen.clone();
    let report = run(
        ticks(30, 10, 3).into_iter(),
        ClientOptions {
            progress: Some(Box::new(move |p: &Progress| sink.lock().unwrap().push(p.clone()))),
            progress_every: Duration::from_millis(20),
            speed: Some(2.0), // 290 simulated ms → about 145 ms
            ..opts(&server.url)
        },
    )
    .await
    .unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 2, "{} progress calls", seen.len());
    let last = seen.last().unwrap();
    assert_eq!((last.events_sent, last.events_acked, last.accepted), (30, 30, 30));
    assert!(last.sim_time.is_some());
    assert!(seen.windows(2).all(|w| w[0].events_sent <= w[1].events_sent));
    assert_eq!(report.accepted, 30);
}

#[tokio::test]
async fn unauthorized_and_forbidden_upgrades_are_clear_errors() {
    let server = Server::start(Behaviour::Ack).await;
    let err = run(ticks(3, 1, 1).into_iter(), ClientOptions::new(&server.url, "wrong")).await.unwrap_err();
    assert!(matches!(err, ClientError::Rejected { status: 401, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&server.url) && msg.contains("HTTP 401") && msg.contains("unknown token"), "{msg}");

    let err = run(ticks(3, 1, 1).into_iter(), ClientOptions::new(&server.url, "reader-token")).await.unwrap_err();
    assert!(matches!(err, ClientError::Rejected { status: 403, .. }), "{err:?}");
    assert!(err.to_string().contains("producer or admin"), "{err}");
}

#[tokio::test]
async fn connection_refused_names_the_url() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/v1/ingest", listener.local_addr().unwrap());
    drop(listener);
    let err = run(ticks(3, 1, 1).into_iter(), opts(&url)).await.unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");

    let err = run(ticks(3, 1, 1).into_iter(), opts("http://127.0.0.1:1/v1/ingest")).await.unwrap_err();
    assert!(matches!(err, ClientError::InvalidUrl { .. }), "{err:?}");
}

#[tokio::test]
async fn the_server_closing_is_reported_with_its_code() {
    let server = Server::start(Behaviour::CloseOnFirst).await;
    let err = run(ticks(50, 1, 3).into_iter(), ClientOptions { connections: 1, batch: 5, ..opts(&server.url) })
        .await
        .unwrap_err();
    match &err {
        ClientError::Closed { code: Some(1009), unacked, .. } => assert!(*unacked >= 1),
        other => panic!("expected Closed with 1009, got {other:?}"),
    }
    assert!(err.to_string().contains("message too big"), "{err}");
}

#[tokio::test]
async fn a_reply_that_is_not_an_ack_is_an_error() {
    let server = Server::start(Behaviour::Garbage).await;
    let err = run(ticks(5, 1, 1).into_iter(), ClientOptions { connections: 1, ..opts(&server.url) }).await.unwrap_err();
    assert!(matches!(err, ClientError::BadReply { .. }), "{err:?}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test]
async fn invalid_options_fail_before_connecting() {
    let err = run(ticks(1, 1, 1).into_iter(), ClientOptions { batch: 0, ..opts("ws://127.0.0.1:1/v1/ingest") })
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidOptions(_)), "{err:?}");
}

/// Smoke: a few days of a bigger centre, as fast as the server acknowledges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_load_as_fast_as_possible() {
    let mut server = Server::start(Behaviour::Ack).await;
    let cfg = SimConfig { agents: 100, queues: 4, calls_per_hour: 150.0, days: 2, ..SimConfig::default() };
    let n = generate(&cfg).unwrap().count() as u64;
    assert!(n > 50_000, "{n}");
    let report = run(
        generate(&cfg).unwrap(),
        ClientOptions { connections: 4, batch: 500, max_in_flight: 8, max_skew: None, ..opts(&server.url) },
    )
    .await
    .unwrap();
    server.closed_cleanly(4).await;
    assert_eq!((report.events_sent, report.accepted), (n, n), "{report}");
    assert!(report.frames_sent >= n / 500 && report.frames_sent <= n / 500 + 4, "{report}");
    println!("{report}");
}

#[tokio::test]
async fn ack_latency_is_measured_in_microseconds() {
    let server = Server::start(Behaviour::SlowAck(Duration::from_millis(25))).await;
    let report = run(
        ticks(12, 10, 2).into_iter(),
        ClientOptions { connections: 1, batch: 3, max_in_flight: 1, ..opts(&server.url) },
    )
    .await
    .unwrap();
    let l = &report.ack_latency_us;
    assert_eq!(l.count, 4);
    assert!(l.p50 >= 25_000 && l.max >= l.p50 && l.mean >= 25_000.0, "{l:?}");
    // One frame at a time, each answered after 25 ms.
    assert!(report.elapsed >= Duration::from_millis(100), "{:?}", report.elapsed);
}

#[test]
fn the_generator_and_the_run_future_can_move_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let g = generate(&SimConfig::default()).unwrap();
    assert_send(&g);
    let fut = run(g, opts("ws://127.0.0.1:1/v1/ingest"));
    assert_send(&fut);
}

mod against_the_compliance_engine {
    //! The generator's promise, checked by the real rules: no violations asked for, no
    //! alarm; violations asked for, every kind of alarm.

    use seatwatch_compliance::{Compliance, Rule, TenantSettings};
    use seatwatch_model::{CallerKey, CallerPolicy, Envelope, IngestOptions, Projector, validate_event};
    use seatwatch_sim::{SimConfig, generate};
    use std::collections::BTreeMap;

    fn alarms(cfg: &SimConfig) -> BTreeMap<&'static str, u64> {
        let key = CallerKey([1; 32]);
        let opts = IngestOptions::any_time("acme", CallerPolicy::Hmac, &key);
        let mut c = Compliance::new(TenantSettings::default(), BTreeMap::new());
        c.set_change_log(false);
        for (seq, e) in (1u64..).zip(generate(cfg).unwrap()) {
            let v: serde_json::Value = serde_json::from_str(&e.json).unwrap();
            let event = validate_event(&seatwatch_model::Json::from_value(&v), 0, &opts).unwrap();
            let received = event.ts;
            c.apply(&Envelope { seq, tenant: "acme".into(), source: "sim".into(), received, event });
        }
        c.raised_counts("acme").into_iter().filter(|(_, n)| *n > 0).map(|(r, n)| (Rule::as_str(r), n)).collect()
    }

    /// Sunday 2026-03-22 to Wednesday the 25th: a week closes (QA coverage is judged) and
    /// the 24th ends (next month's roster is checked).
    fn days(violation_rate: f64) -> SimConfig {
        SimConfig {
            agents: 16,
            queues: 2,
            calls_per_hour: 40.0,
            days: 4,
            day: chrono::NaiveDate::from_ymd_opt(2026, 3, 22).unwrap(),
            violation_rate,
            ..SimConfig::default()
        }
    }

    #[test]
    fn a_clean_simulation_raises_no_alarm() {
        assert_eq!(alarms(&days(0.0)), BTreeMap::new());
    }

    #[test]
    fn violations_raise_every_rule_the_generator_provokes() {
        let raised = alarms(&days(0.3));
        for rule in [
            "late_login",
            "early_logout",
            "absent",
            "duplicate_login",
            "uncertified_login",
            "not_ready_overlong",
            "slow_answer",
            "missed_call",
            "wrap_up_overlong",
            "survey_not_offered",
            "callback_overdue",
            "emergency_not_escalated",
            "qa_coverage_low",
        ] {
            assert!(raised.contains_key(rule), "no {rule} in {raised:?}");
        }
        // Next month's roster is skipped with probability `violation_rate` per month.
        assert_eq!(alarms(&days(1.0)).get("roster_not_published"), Some(&1));
    }
}
