//! Golden replays: logs made by the simulator with fixed seeds, checked in as the JSON
//! the producers sent, replayed through the real log; every report in every format must
//! match the checked-in text byte for byte. `SEATWATCH_BLESS=1` rewrites the expected
//! reports instead of comparing (and the events, from the simulator, when they are
//! missing or `SEATWATCH_BLESS_EVENTS=1` is set too).

use crate::support::{build_log, replay};
use chrono::{NaiveDate, NaiveTime};
use seatwatch_config::Config;
use seatwatch_model::{Projector, Ts};
use seatwatch_reports::{Filter, Format, Replay, ReportKind};
use seatwatch_sim::SimConfig;
use std::path::{Path, PathBuf};
use std::time::Duration;

struct Case {
    name: &'static str,
    sim: SimConfig,
    config: &'static str,
    /// A narrower query, rendered as JSON lines.
    filter: Filter,
}

// Every field of the second simulation is set today; the update stays so that a field
// added to SimConfig later keeps its default here.
#[allow(clippy::needless_update)]
fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "shanghai-day",
            sim: SimConfig {
                seed: 11,
                agents: 12,
                queues: 2,
                calls_per_hour: 12.0,
                day: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
                days: 1,
                violation_rate: 0.3,
                heartbeat_every: Duration::from_secs(60),
                id_prefix: "sh-".into(),
                ..SimConfig::default()
            },
            config: "[tenant.acme]\ntimezone = \"Asia/Shanghai\"\nclock = \"event\"\n",
            filter: Filter {
                from: Ts::parse_rfc3339("2026-03-02T08:00:00+08:00"),
                to: Ts::parse_rfc3339("2026-03-02T12:00:00+08:00"),
                tenant: Some("acme".into()),
                agent: Some("agent-003".into()),
            },
        },
        Case {
            name: "berlin-month-end",
            sim: SimConfig {
                seed: 23,
                agents: 6,
                queues: 3,
                calls_per_hour: 5.0,
                day: NaiveDate::from_ymd_opt(2026, 3, 30).unwrap(),
                days: 3,
                timezone: chrono_tz::Europe::Berlin,
                start: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
                shift_start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
                shift_end: NaiveTime::from_hms_opt(16, 30, 0).unwrap(),
                end: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
                violation_rate: 0.2,
                heartbeat_every: Duration::from_secs(120),
                id_prefix: "be-".into(),
                ..SimConfig::default()
            },
            config: "[tenant.acme]\ntimezone = \"Europe/Berlin\"\nclock = \"event\"\n\n[tenant.acme.rules]\nlate_after = \"08:00\"\nlogin_by = \"07:55\"\nleave_after = \"16:30\"\nnot_ready_max = \"12m\"\n",
            filter: Filter {
                from: Ts::parse_rfc3339("2026-03-31T00:00:00+02:00"),
                to: Ts::parse_rfc3339("2026-04-02T00:00:00+02:00"),
                tenant: None,
                agent: Some("agent-002".into()),
            },
        },
        // Friday to Monday: the ISO week 2026-W10 closes on the way (the supervision
        // report's `met`, the `qa_coverage_low` alarms), weekend days included.
        Case {
            name: "shanghai-week-close",
            sim: SimConfig {
                seed: 31,
                agents: 5,
                queues: 2,
                calls_per_hour: 4.0,
                day: NaiveDate::from_ymd_opt(2026, 3, 6).unwrap(),
                days: 4,
                violation_rate: 0.3,
                heartbeat_every: Duration::from_secs(300),
                id_prefix: "wk-".into(),
                ..SimConfig::default()
            },
            config: "[tenant.acme]\ntimezone = \"Asia/Shanghai\"\nclock = \"event\"\n\n[tenant.acme.rules]\nmin_monitored = 3\n",
            filter: Filter {
                from: Ts::parse_rfc3339("2026-03-09T00:00:00+08:00"),
                to: Ts::parse_rfc3339("2026-03-10T00:00:00+08:00"),
                tenant: Some("acme".into()),
                agent: Some("agent-002".into()),
            },
        },
    ]
}

fn bless() -> bool {
    std::env::var("SEATWATCH_BLESS").is_ok_and(|v| v == "1")
}

fn golden_dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(case)
}

fn ext(f: Format) -> &'static str {
    match f {
        Format::Jsonl => "jsonl",
        Format::Csv => "csv",
        Format::Table => "txt",
    }
}

/// Compare `actual` with the file (or write it when blessing); a mismatch is recorded
/// with the first line that differs.
fn check(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if bless() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with SEATWATCH_BLESS=1 to create it)", path.display()));
    if expected != actual {
        let (n, (e, a)) = expected
            .lines()
            .chain(std::iter::repeat("<end>"))
            .zip(actual.lines().chain(std::iter::repeat("<end>")))
            .enumerate()
            .find(|(_, (e, a))| e != a)
            .unwrap_or((0, ("?", "?")));
        failures.push(format!("{}: line {} differs:\n  expected: {e}\n  actual:   {a}", path.display(), n + 1));
    }
}

fn run(case: &Case) {
    let dir = golden_dir(case.name);
    let events_path = dir.join("events.jsonl");
    let config_path = dir.join("config.toml");
    // The events are a fixture: blessing rewrites them only when they are missing or
    // SEATWATCH_BLESS_EVENTS=1 asks for the simulator's current output.
    let new_events = std::env::var("SEATWATCH_BLESS_EVENTS").is_ok_and(|v| v == "1") || !events_path.exists();
    if bless() && new_events {
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = String::new();
        for ev in seatwatch_sim::generate(&case.sim).unwrap() {
            text.push_str(&ev.json);
            text.push('\n');
        }
        std::fs::write(&events_path, text).unwrap();
        std::fs::write(&config_path, case.config).unwrap();
    }
    let events = std::fs::read_to_string(&events_path).unwrap();
    let config = Config::parse(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let log = build_log(tmp.path(), "acme", &events);
    let r = replay(&log, &config, &ReportKind::ALL);
    let mut failures = Vec::new();
    let head = log.head();
    check(
        &dir.join("expected/head.txt"),
        &format!("records {}, head {}\n", head.last_seq, head.hash_hex()),
        &mut failures,
    );
    for kind in ReportKind::ALL {
        let report = r.report(kind, &Filter::default()).unwrap();
        assert!(!report.rows.is_empty(), "{}: the {kind} report is empty", case.name);
        for format in Format::ALL {
            check(&dir.join(format!("expected/{kind}.{}", ext(format))), &report.render(format), &mut failures);
        }
        let mut filter = case.filter.clone();
        if kind == ReportKind::Intervals {
            filter.agent = None;
        }
        let narrow = r.report(kind, &filter).unwrap();
        assert!(narrow.rows.len() < report.rows.len(), "{}: the filter narrows the {kind} report", case.name);
        check(&dir.join(format!("expected/filtered-{kind}.jsonl")), &narrow.render(Format::Jsonl), &mut failures);
    }
    // As `seatwatch replay` folds: a replay for one report, in runs on two threads,
    // gives the same report.
    let records: Vec<_> = log.read_from(1).map(Result::unwrap).collect();
    for kind in ReportKind::ALL {
        let mut runs = Replay::new(&config, &[kind]);
        runs.apply_runs(records.chunks(97).map(<[_]>::to_vec));
        assert_eq!(runs.position(), head.last_seq);
        let report = runs.report(kind, &Filter::default()).unwrap();
        check(&dir.join(format!("expected/{kind}.jsonl")), &report.render(Format::Jsonl), &mut failures);
    }
    log.close().unwrap();
    assert!(failures.is_empty(), "{} golden file(s) differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn shanghai_day_replays_to_its_golden_reports() {
    run(&cases()[0]);
}

#[test]
fn berlin_month_end_replays_to_its_golden_reports() {
    run(&cases()[1]);
}

#[test]
fn shanghai_week_close_replays_to_its_golden_reports() {
    run(&cases()[2]);
}
