//! Logs for the tests: producer events appended through the real log, read back, folded.

use seatwatch_config::Config;
use seatwatch_log::{Log, Pending};
use seatwatch_model::{CallerKey, CallerPolicy, IngestOptions, Projector, validate_event};
use seatwatch_reports::{Replay, ReportKind};
use std::path::Path;

/// Append `events` (producer JSON objects, one per line) to a new log in `dir` as tenant
/// `tenant` sent them with the token `acd-1`; `received` is each event's own `ts`, so the
/// log's bytes do not depend on when the test runs.
pub fn build_log(dir: &Path, tenant: &str, lines: &str) -> Log {
    let key = CallerKey([7; 32]);
    let opts = IngestOptions::any_time(tenant, CallerPolicy::Hmac, &key);
    let log = Log::open(dir).unwrap();
    let mut batch = Vec::new();
    for (i, line) in lines.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let event = validate_event(&seatwatch_model::Json::from_value(&v), 0, &opts)
            .unwrap_or_else(|r| panic!("line {}: {r}", i + 1));
        batch.push(Pending { tenant: tenant.into(), source: "acd-1".into(), received: event.ts, event });
        if batch.len() == 500 {
            log.append_blocking(std::mem::take(&mut batch)).unwrap();
        }
    }
    log.append_blocking(batch).unwrap();
    log
}

/// Fold the whole log into a replay collecting `kinds`.
pub fn replay(log: &Log, config: &Config, kinds: &[ReportKind]) -> Replay {
    let mut r = Replay::new(config, kinds);
    for env in log.read_from(1) {
        r.apply(&env.unwrap());
    }
    r
}
