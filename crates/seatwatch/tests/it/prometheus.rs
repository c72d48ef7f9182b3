//! `/metrics` against a real Prometheus (Debian's `prometheus` package; `scripts/test`
//! installs it): a real `seatwatch serve` fed by `seatwatch simulate`, scraped every
//! second by a Prometheus on a free loopback port with its data in a temporary
//! directory. Every PromQL expression of docs/grafana/seatwatch-dashboard.json and
//! docs/prometheus/alerts.yml is evaluated through Prometheus's HTTP API and must return
//! data; `promtool check metrics` must accept `/metrics` without a lint warning;
//! `promtool check rules` and `promtool test rules` must pass; and across a restart of
//! the server the call-centre counters continue (same values right after the restart,
//! and Prometheus's `resets()` sees none) while a process counter does reset.

use crate::proc::*;
use futures_util::{SinkExt, StreamExt};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

/// A tool from Debian's `prometheus` package.
fn tool(name: &str) -> Command {
    let found =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file())).unwrap_or(false);
    assert!(found, "`{name}` is not installed: install Debian's `prometheus` package (scripts/test does)");
    Command::new(name)
}

/// A minimal HTTP/1.0 GET (so the body is neither chunked nor kept alive), with the
/// admin token (`/metrics` needs a token by default; an admin's sees every series).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN}\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, body.to_owned())
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Poll `ok` every 100 ms until it returns `Some`, at most `secs` seconds.
fn poll<T>(what: &str, secs: u64, mut ok: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = ok() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {secs} s waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A Prometheus child process, killed on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Prometheus {
    fn start(dir: &Path, target: SocketAddr) -> Prometheus {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let rules = docs().join("prometheus/alerts.yml");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: seatwatch\n    authorization:\n      type: Bearer\n      credentials: {ADMIN}\n    static_configs:\n      - targets: [\"{target}\"]\n",
                rules.display()
            ),
        )
        .unwrap();
        let child = tool("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .unwrap();
        Prometheus { child, addr }
    }

    fn api(&self, path: &str) -> Option<serde_json::Value> {
        let mut s = TcpStream::connect(self.addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr).ok()?;
        let mut raw = String::new();
        s.read_to_string(&mut raw).ok()?;
        serde_json::from_str(raw.split_once("\r\n\r\n")?.1).ok()
    }

    /// An instant query's result vector (panics when Prometheus refuses the query).
    fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let r = self.api(&format!("/api/v1/query?query={}", encode(promql))).expect("Prometheus answers");
        assert_eq!(r["status"], "success", "query {promql:?} failed: {r}");
        match &r["data"]["result"] {
            serde_json::Value::Array(v) => v.clone(),
            other => vec![other.clone()],
        }
    }

    fn scalar(&self, promql: &str) -> Option<f64> {
        let r = self.query(promql);
        r.first()?["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Feed the server a simulated working day, as fast as it takes it.
fn simulate(addr: SocketAddr) {
    let out = bin()
        .args(["simulate", "--url", &format!("ws://{addr}/v1/ingest"), "--token", PRODUCER])
        .args(["--agents", "30", "--queues", "3", "--call-rate", "120", "--batch", "200", "--date", "2026-03-02"])
        .output()
        .unwrap();
    assert!(out.status.success(), "simulate failed: {}", text(&out));
}

/// One malformed event, so the rejected series exist.
fn send_rejected(addr: SocketAddr) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use tokio_tungstenite::tungstenite::Message;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://{addr}/v1/ingest").into_client_request().unwrap();
        req.headers_mut().insert("Authorization", format!("Bearer {PRODUCER}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        ws.send(Message::text(r#"{"id":"bad-1","type":"login","ts":"2026-03-02T18:30:00+08:00","agent":"x"}"#))
            .await
            .unwrap();
        let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("no reply") };
        assert!(t.as_str().contains("missing_field"), "{t}");
        let _ = ws.close(None).await;
    });
}

/// The sample lines of the call-centre counters and histograms (what must continue
/// across a restart), sorted.
fn call_centre_counters(metrics: &str) -> Vec<String> {
    let mut v: Vec<String> = metrics
        .lines()
        .filter(|l| {
            (l.starts_with("seatwatch_calls_")
                || l.starts_with("seatwatch_alarms_raised_total")
                || l.starts_with("seatwatch_answer_delay_seconds_bucket")
                || l.starts_with("seatwatch_answer_delay_seconds_count")
                || l.starts_with("seatwatch_handle_time_seconds_bucket")
                || l.starts_with("seatwatch_handle_time_seconds_count"))
                && !l.starts_with('#')
        })
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// Split `expr` at its last comparison operator outside brackets and quotes: alert
/// expressions are `signal OP threshold`, and it is the signal that must have data.
fn signal(expr: &str) -> &str {
    let b = expr.as_bytes();
    let (mut depth, mut quote, mut cut) = (0i32, None::<u8>, None);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b'(' | b'{' | b'[' => depth += 1,
                b')' | b'}' | b']' => depth -= 1,
                b'>' | b'<' if depth == 0 => {
                    cut = Some(i);
                    if b.get(i + 1) == Some(&b'=') {
                        i += 1;
                    }
                }
                b'=' | b'!' if depth == 0 && b.get(i + 1) == Some(&b'=') => {
                    cut = Some(i);
                    i += 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    cut.map_or(expr, |c| expr[..c].trim_end())
}

/// Every `expr:` of the alert rules file (one line each).
fn alert_exprs() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(docs().join("prometheus/alerts.yml")).unwrap();
    let mut out = Vec::new();
    let mut name = String::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some(n) = l.strip_prefix("- alert:") {
            name = n.trim().to_owned();
        } else if let Some(e) = l.strip_prefix("expr:") {
            out.push((name.clone(), e.trim().to_owned()));
        }
    }
    out
}

/// Every target expression of the dashboard, with Grafana's variables filled in.
fn dashboard_exprs(tenant: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(docs().join("grafana/seatwatch-dashboard.json")).unwrap();
    let d: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    let mut stack: Vec<&serde_json::Value> = d["panels"].as_array().unwrap().iter().collect();
    while let Some(p) = stack.pop() {
        if let Some(inner) = p["panels"].as_array() {
            stack.extend(inner);
        }
        for t in p["targets"].as_array().into_iter().flatten() {
            let e = t["expr"].as_str().unwrap();
            let e = e.replace("$tenant", tenant).replace("$queue", ".*").replace("$__rate_interval", "1m");
            assert!(!e.contains('$'), "unknown variable in {e}");
            out.push((p["title"].as_str().unwrap_or("").to_owned(), e));
        }
    }
    out
}

#[test]
fn promtool_checks_and_unit_tests_the_alert_rules() {
    let dir = docs().join("prometheus");
    let check = tool("promtool").arg("check").arg("rules").arg(dir.join("alerts.yml")).output().unwrap();
    assert!(check.status.success(), "promtool check rules: {}", text(&check));
    let n = alert_exprs().len();
    assert!(text(&check).contains(&format!("SUCCESS: {n} rules found")), "{}", text(&check));
    let test = tool("promtool").arg("test").arg("rules").arg("alerts.test.yml").current_dir(&dir).output().unwrap();
    assert!(test.status.success(), "promtool test rules: {}", text(&test));
}

#[test]
fn a_real_prometheus_scrapes_seatwatch_and_every_dashboard_and_alert_expression_has_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = write_config(dir.path(), "agent_metrics = true\n");
    let serve = Serve::start(&cfg, &data);
    let addr = serve.addr;
    let prom = Prometheus::start(dir.path(), addr);

    // The first successful scrape.
    poll("the seatwatch target to be up", 60, || {
        let t = prom.api("/api/v1/targets")?;
        let targets = t["data"]["activeTargets"].as_array()?;
        targets.iter().any(|t| t["health"] == "up").then_some(())
    });

    simulate(addr);
    send_rejected(addr);
    // The projections have folded everything, and Prometheus has scraped that state.
    let last_seq = poll("the projections to catch up", 60, || {
        let (_, m) = get(addr, "/metrics");
        let v = |name: &str| {
            m.lines()
                .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))?
                .rsplit(' ')
                .next()?
                .parse::<f64>()
                .ok()
        };
        let (seq, lag) = (v("seatwatch_log_last_seq")?, v("seatwatch_projection_lag_records")?);
        (seq > 1000.0 && lag == 0.0).then_some(seq)
    });
    poll("Prometheus to scrape the final state", 60, || {
        let seen = prom.scalar("max(seatwatch_projection_position)")?;
        let samples = prom.scalar("min(count_over_time(seatwatch_projection_position[1m]))")?;
        (seen == last_seq && samples >= 3.0).then_some(())
    });

    // /metrics passes promtool's checks with no lint warning.
    let (status, metrics) = get(addr, "/metrics");
    assert_eq!(status, 200);
    let mut check = tool("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check.stdin.take().unwrap().write_all(metrics.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(out.status.success() && text(&out).trim().is_empty(), "promtool check metrics: {}", text(&out));

    // Every series is documented.
    let documented = std::fs::read_to_string(docs().join("metrics.md")).unwrap();
    for name in metrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()) {
        assert!(documented.contains(&format!("`{name}`")), "{name} is not in docs/metrics.md");
    }

    // Every expression returns data. Rates over histogram buckets need two scrapes of
    // each bucket series inside their window: re-evaluate (bounded) until they have them.
    let exprs = dashboard_exprs("acme");
    assert!(exprs.len() >= 30, "{} dashboard expressions", exprs.len());
    let alerts = alert_exprs();
    assert!(alerts.len() >= 10);
    let without_data = || {
        let mut empty = Vec::new();
        for (title, e) in &exprs {
            if prom.query(e).is_empty() {
                empty.push(format!("dashboard panel {title:?}: {e}"));
            }
        }
        for (name, e) in &alerts {
            prom.query(e); // the whole rule parses and evaluates
            if prom.query(signal(e)).is_empty() {
                empty.push(format!("alert {name}: {}", signal(e)));
            }
        }
        empty
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut empty = without_data();
    while !empty.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        empty = without_data();
    }
    assert!(empty.is_empty(), "expressions without data:\n{}", empty.join("\n"));
    // The rules were loaded and evaluated by this Prometheus.
    let rules = prom.api("/api/v1/rules").unwrap();
    let loaded: usize =
        rules["data"]["groups"].as_array().unwrap().iter().map(|g| g["rules"].as_array().unwrap().len()).sum();
    assert_eq!(loaded, alerts.len());

    // Restart on the same address and data directory.
    let before = call_centre_counters(&metrics);
    assert!(before.len() > 50, "{before:?}");
    let commits_before = prom.scalar("max(seatwatch_log_commits_total)").unwrap();
    assert!(commits_before > 0.0);
    let (status, _) = serve.terminate();
    assert!(status.success());
    let serve = serve_at(&cfg, &data, addr);
    poll("the restarted server to be ready", 60, || (get(addr, "/readyz").0 == 200).then_some(()));
    let after = call_centre_counters(&get(addr, "/metrics").1);
    assert!(after == before, "counters changed across the restart:\n{}", diff(&before, &after));

    // Prometheus saw the process restart (a process counter reset to 0) but no reset of
    // a call-centre counter.
    poll("Prometheus to scrape the restarted server", 60, || {
        (prom.scalar("max(resets(seatwatch_log_commits_total[5m]))")? >= 1.0).then_some(())
    });
    let mut resets = BTreeMap::new();
    for name in [
        "seatwatch_calls_queued_total",
        "seatwatch_calls_offered_total",
        "seatwatch_calls_answered_total",
        "seatwatch_calls_answered_in_time_total",
        "seatwatch_calls_abandoned_total",
        "seatwatch_calls_missed_total",
        "seatwatch_calls_transferred_total",
        "seatwatch_calls_handled_total",
        "seatwatch_alarms_raised_total",
        "seatwatch_answer_delay_seconds_count",
        "seatwatch_handle_time_seconds_count",
    ] {
        resets.insert(name, prom.scalar(&format!("max(resets({name}[5m]))")).expect(name));
    }
    assert!(resets.values().all(|&r| r == 0.0), "false resets: {resets:?}");
    drop(serve);
}

/// `seatwatch serve` on a given address (the restart keeps Prometheus's target).
fn serve_at(config: &Path, data: &Path, listen: SocketAddr) -> Serve {
    Spawned::serve(config, data, &listen.to_string()).listening()
}

fn diff(a: &[String], b: &[String]) -> String {
    let only_a: Vec<&String> = a.iter().filter(|l| !b.contains(l)).collect();
    let only_b: Vec<&String> = b.iter().filter(|l| !a.contains(l)).collect();
    format!("before only: {only_a:?}\nafter only: {only_b:?}")
}
