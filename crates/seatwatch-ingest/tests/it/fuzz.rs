//! Property-based fuzzing of what a hostile producer controls, run with the normal tests
//! (the cargo-fuzz targets in `fuzz/` drive the same entry points longer; see
//! docs/reliability.md):
//!
//! * the frame decoder and event validator (`frame::decode`) on arbitrary text, on
//!   JSON built from the contract's field names with values of every type, and on valid
//!   frames mutated character by character: never a panic; every verdict well-formed;
//!   every accepted event within the limits and storable;
//! * the WebSocket layer itself: arbitrary bytes after a successful upgrade, over TCP,
//!   to a running server: that connection ends, the server stays up and serves others.

use crate::harness::*;
use proptest::prelude::*;
use seatwatch_config::{Identity, Role};
use seatwatch_ingest::frame::{self, MAX_EXTRA_BYTES};
use seatwatch_model::{CallerKey, Ts};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CODES: [&str; 8] = [
    "malformed_json",
    "unknown_type",
    "missing_field",
    "invalid_field",
    "clock_skew",
    "too_many_events",
    "unsupported_frame",
    "internal",
];

fn who() -> Identity {
    Identity { name: "acd-1".into(), tenant: "acme".into(), role: Role::Producer }
}

/// Decode `text` and check everything a reply promises.
fn check_decode(text: &str) -> Result<(), TestCaseError> {
    let cfg = config("");
    let tenant = cfg.tenant("globex"); // wall clock: clock_skew checked too
    let now = Ts::parse_rfc3339("2026-03-02T08:30:00+08:00").unwrap();
    let work = frame::decode(text, &who(), tenant, &CallerKey([7; 32]), now);
    prop_assert_eq!(work.pending.len(), work.positions.len());
    for r in &work.rejected {
        let v = serde_json::to_value(r).unwrap();
        prop_assert!(CODES.contains(&v["code"].as_str().unwrap_or("")), "{v}");
        prop_assert!(!r.message.is_empty());
        prop_assert!(r.message.len() < 4096, "a rejection message echoes input: {} bytes", r.message.len());
    }
    for p in &work.pending {
        prop_assert!(!p.event.id.is_empty() && p.event.id.len() <= 128);
        prop_assert!(p.event.agent.as_ref().is_none_or(|a| a.0.len() <= 64));
        prop_assert!(p.event.extra.as_ref().is_none_or(|x| x.len() <= MAX_EXTRA_BYTES));
        prop_assert_eq!(&p.tenant, "acme", "the tenant comes from the token");
        // Every accepted event encodes into one record and decodes back unchanged.
        let env = seatwatch_model::Envelope {
            seq: 1,
            tenant: p.tenant.clone(),
            source: p.source.clone(),
            received: p.received,
            event: p.event.clone(),
        };
        let (bytes, _) = seatwatch_log::format::encode_record(&seatwatch_log::format::GENESIS, &env).unwrap();
        prop_assert!(bytes.len() < seatwatch_log::DEFAULT_MAX_SEGMENT_BYTES);
        let (back, _) = seatwatch_log::format::decode_record(&bytes).unwrap();
        prop_assert_eq!(back, env);
    }
    Ok(())
}

const FIELDS: [&str; 24] = [
    "id",
    "type",
    "ts",
    "agent",
    "station",
    "reason",
    "call",
    "queue",
    "caller",
    "priority",
    "rings",
    "to",
    "certified",
    "name",
    "active",
    "date",
    "start",
    "end",
    "off",
    "from",
    "by",
    "until",
    "due",
    "tenant",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z0-9_.+:-]{0,20}".prop_map(Value::String),
        prop::sample::select(seatwatch_model::TYPES.to_vec()).prop_map(Value::from),
        prop::sample::select(vec![
            "2026-03-02T08:20:00+08:00",
            "2026-03-02T08:20:00Z",
            "2026-02-30T08:20:00+08:00",
            "9999-12-31T23:59:59+14:00",
            "2026-03-02",
            "08:30",
            "+8613800138000",
            "emergency",
        ])
        .prop_map(Value::from),
        ".{0,300}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An object built from the contract's field names, with values of any type.
fn event_like() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(FIELDS.to_vec()), value(), 0..10)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

/// A valid event of a random type.
fn valid_event() -> impl Strategy<Value = Value> {
    (0u32..1000, prop::sample::select(vec!["login", "ready", "queued", "offered", "answered", "heartbeat"])).prop_map(
        |(n, ty)| {
            let mut v = json!({"id": format!("e-{n}"), "type": ty, "ts": "2026-03-02T08:20:00+08:00"});
            let o = v.as_object_mut().unwrap();
            match ty {
                "heartbeat" => {}
                "queued" => {
                    o.insert("call".into(), json!(format!("c{n}")));
                    o.insert("queue".into(), json!("sales"));
                    o.insert("caller".into(), json!("+8613800138000"));
                }
                _ => {
                    o.insert("agent".into(), json!(format!("a{}", n % 7)));
                    o.insert("station".into(), json!("S1"));
                    o.insert("call".into(), json!(format!("c{n}")));
                }
            }
            v
        },
    )
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize),
    Insert(usize, char),
    Replace(usize, char),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), any::<char>()).prop_map(|(i, c)| Edit::Insert(i, c)),
        (any::<usize>(), prop::sample::select(vec!['"', '{', '}', '[', ']', ',', ':', '\\', '0', 'e', '-', '\u{0}']))
            .prop_map(|(i, c)| Edit::Replace(i, c)),
    ];
    prop::collection::vec(edit, 1..8)
}

fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let n = chars.len().max(1);
        match *e {
            Edit::Delete(i) if !chars.is_empty() => {
                chars.remove(i % chars.len());
            }
            Edit::Delete(_) => {}
            Edit::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
            Edit::Replace(i, c) if !chars.is_empty() => chars[i % n] = c,
            Edit::Replace(..) => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(seatwatch_testkit::proptest_config("ingest-fuzz", 256))]

    #[test]
    fn decode_survives_arbitrary_text(text in ".{0,400}") {
        check_decode(&text)?;
    }

    #[test]
    fn decode_survives_contract_shaped_json(items in prop::collection::vec(event_like(), 0..5), lone in any::<bool>()) {
        let text = if lone && !items.is_empty() { items[0].to_string() } else { Value::Array(items).to_string() };
        check_decode(&text)?;
    }

    #[test]
    fn decode_survives_mutated_valid_frames(events in prop::collection::vec(valid_event(), 1..6), edits in edits()) {
        let text = Value::Array(events).to_string();
        check_decode(&text)?;
        check_decode(&mutate(&text, &edits))?;
    }
}

/// Arbitrary bytes after the upgrade: the connection ends (or answers), never the server.
#[test]
fn the_websocket_layer_survives_arbitrary_bytes() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let srv = rt.block_on(Server::start(dir.path(), config("[server]\nidle_timeout = \"2s\"\n")));
    let mut runner = proptest::test_runner::TestRunner::new(seatwatch_testkit::proptest_config("ingest-fuzz-ws", 24));
    let bytes = prop::collection::vec(any::<u8>(), 0..600);
    // Half the cases start with a plausible frame header, so the fuzz reaches past it.
    let strategy = (any::<bool>(), any::<u8>(), bytes);
    let counter = std::sync::atomic::AtomicU32::new(0);
    runner
        .run(&strategy, |(header, op, bytes)| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            rt.block_on(async {
                let mut s = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
                let req = format!(
                    "GET /v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ACME_ACD}\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                );
                s.write_all(req.as_bytes()).await.unwrap();
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut b = [0u8; 1];
                    assert_eq!(s.read(&mut b).await.unwrap(), 1);
                    head.push(b[0]);
                }
                assert!(head.starts_with(b"HTTP/1.1 101"));
                let mut payload = Vec::new();
                if header {
                    payload.push(0x80 | (op & 0x0f));
                    payload.push(0x80 | (bytes.len().min(125) as u8));
                }
                payload.extend_from_slice(&bytes);
                let _ = s.write_all(&payload).await;
                // The server answers, closes, or waits for more; either way it stays up.
                let mut buf = [0u8; 1024];
                let _ = tokio::time::timeout(std::time::Duration::from_millis(300), s.read(&mut buf)).await;
                drop(s);
                let mut ws = srv.connect(Some(ACME_ACD2)).await.unwrap();
                let r = roundtrip(&mut ws, &ev(&format!("fz-{n}"), "heartbeat", "2026-03-02T08:20:00+08:00", None, ""))
                    .await;
                assert_eq!(r["accepted"].as_u64().unwrap() + r["duplicate"].as_u64().unwrap(), 1, "{r}");
            });
            Ok(())
        })
        .unwrap();
    rt.block_on(srv.stop());
}
