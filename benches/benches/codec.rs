//! Codec benches: producer JSON to a validated event, the event's bincode, and the stored
//! log record (encode with its chain link, full decode, and the duplicate-index prefix
//! decode that `Log::open` runs for every record).
//!
//! Baselines in the same run: `serde_json::from_str::<Value>` alone (what validation
//! parsed into until session 7) and the parse into the borrowed [`seatwatch_model::Json`]
//! that validation reads now, so the validation overhead can be read as a ratio.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use seatwatch_log::format;
use seatwatch_model::{BINCODE_CONFIG, CallerKey, CallerPolicy, Envelope, IngestOptions, parse_frame, validate_event};
use std::hint::black_box;

const EVENT: &str = r#"{"id":"e-1042","type":"offered","ts":"2026-03-02T09:15:02.125+08:00","agent":"a017","call":"c-99812","queue":"billing","caller":"+8613800138000"}"#;

fn codec(c: &mut Criterion) {
    let key = CallerKey([9; 32]);
    let opts = IngestOptions::any_time("acme", CallerPolicy::Hmac, &key);
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline_json_parse_value", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(EVENT)))
    });
    g.bench_function("json_parse_borrowed", |b| {
        b.iter(|| serde_json::from_str::<seatwatch_model::Json<'_>>(black_box(EVENT)).is_ok())
    });
    g.bench_function("json_to_event", |b| {
        b.iter(|| {
            let f = parse_frame(black_box(EVENT)).ok();
            f.and_then(|f| validate_event(&f.items[0], 0, &opts).ok())
        })
    });
    let ev = parse_frame(EVENT).ok().and_then(|f| validate_event(&f.items[0], 0, &opts).ok());
    let bytes = ev.as_ref().map(|e| bincode::encode_to_vec(e, BINCODE_CONFIG).unwrap_or_default()).unwrap_or_default();
    g.bench_function("event_encode", |b| b.iter(|| bincode::encode_to_vec(black_box(&ev), BINCODE_CONFIG)));
    g.bench_function("event_decode", |b| {
        b.iter(|| bincode::decode_from_slice::<seatwatch_model::Event, _>(black_box(&bytes), BINCODE_CONFIG))
    });
    // The stored record: envelope -> `[version][kind][payload][link]` (bincode + BLAKE3
    // chain link), and back, as the log writes and reads every event.
    if let Some(event) = ev.clone() {
        let env = Envelope { seq: 1_000_042, tenant: "acme".into(), source: "acd-1".into(), received: event.ts, event };
        let prev = [7u8; 32];
        g.bench_function("record_encode", |b| b.iter(|| format::encode_record(black_box(&prev), black_box(&env))));
        if let Ok((record, _)) = format::encode_record(&prev, &env) {
            g.bench_function("record_decode", |b| b.iter(|| format::decode_record(black_box(&record))));
            g.bench_function("record_decode_ids", |b| b.iter(|| format::decode_ids(black_box(&record)).is_ok()));
        }
    }
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
