//! Integration tests of the event model: JSON → model → stored record → model round
//! trips, and every validation code produced from a producer's input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use seatwatch_model::*;
use serde_json::{Value, json};

fn key() -> CallerKey {
    CallerKey([3; 32])
}

fn opts(key: &CallerKey, policy: CallerPolicy) -> IngestOptions<'_> {
    IngestOptions::any_time("acme", policy, key)
}

prop_compose! {
    fn arb_ts()(secs in 1_600_000_000i64..1_900_000_000, nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000], off_q in -48i32..=56) -> String {
        let dt = chrono::DateTime::from_timestamp(secs, nanos).unwrap()
            .with_timezone(&chrono::FixedOffset::east_opt(off_q * 900).unwrap());
        dt.to_rfc3339()
    }
}

fn arb_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_:+. -]{1,24}".prop_filter("non-empty", |s| !s.is_empty())
}

fn arb_event() -> impl Strategy<Value = Value> {
    let kinds = prop_oneof![
        arb_text().prop_map(|s| json!({"type":"login","station":s})),
        Just(json!({"type":"logout"})),
        Just(json!({"type":"ready"})),
        proptest::option::of(arb_text()).prop_map(|r| match r { Some(r) => json!({"type":"not_ready","reason":r}), None => json!({"type":"busy"}) }),
        (arb_text(), arb_text(), proptest::option::of(arb_text()), any::<bool>()).prop_map(|(c, q, caller, e)| {
            let mut v = json!({"type":"queued","call":c,"queue":q});
            if let Some(n) = caller { v["caller"] = json!(n); }
            if e { v["priority"] = json!("emergency"); }
            v
        }),
        (arb_text(), arb_text()).prop_map(|(c, q)| json!({"type":"abandoned","call":c,"queue":q})),
        (arb_text(), proptest::option::of(arb_text())).prop_map(|(c, q)| { let mut v = json!({"type":"offered","call":c}); if let Some(q) = q { v["queue"] = json!(q); } v }),
        (arb_text(), proptest::option::of(0u32..50)).prop_map(|(c, r)| { let mut v = json!({"type":"answered","call":c}); if let Some(r) = r { v["rings"] = json!(r); } v }),
        arb_text().prop_map(|c| json!({"type":"missed","call":c})),
        arb_text().prop_map(|c| json!({"type":"ended","call":c})),
        proptest::option::of(arb_text()).prop_map(|c| match c { Some(c) => json!({"type":"wrap_up","call":c}), None => json!({"type":"wrap_up"}) }),
        arb_text().prop_map(|c| json!({"type":"survey_offered","call":c})),
        (arb_text(), arb_text()).prop_map(|(c, t)| json!({"type":"transferred","call":c,"to":t})),
        Just(json!({"type":"heartbeat"})),
        (any::<bool>(), any::<bool>()).prop_map(|(c, a)| json!({"type":"roster","certified":c,"active":a,"name":"Li Lei"})),
        (0u32..24, 0u32..60, 0u32..24, 0u32..60).prop_filter("length", |(a, b, c, d)| (a, b) != (c, d)).prop_map(|(a, b, c, d)| json!({"type":"shift","date":"2026-03-02","start":format!("{a:02}:{b:02}"),"end":format!("{c:02}:{d:02}")})),
        Just(json!({"type":"shift","date":"2026-03-03","off":true})),
        Just(json!({"type":"leave_approved","from":"2026-03-02","to":"2026-03-04","by":"sup-1"})),
        arb_ts().prop_map(|u| json!({"type":"busy_approved","until":u,"by":"sup-1"})),
        proptest::option::of(arb_text()).prop_map(|c| { let mut v = json!({"type":"monitored","by":"qa-1"}); if let Some(c) = c { v["call"] = json!(c); } v }),
        proptest::option::of(arb_text()).prop_map(|c| { let mut v = json!({"type":"callback_sampled","by":"qa-1"}); if let Some(c) = c { v["call"] = json!(c); } v }),
        (arb_text(), arb_ts()).prop_map(|(c, d)| json!({"type":"callback_promised","call":c,"due":d})),
        arb_text().prop_map(|c| json!({"type":"callback_done","call":c})),
        arb_text().prop_map(|c| json!({"type":"escalated","call":c})),
    ];
    (kinds, "[a-z0-9-]{1,40}", arb_ts(), "[a-z0-9]{1,20}", proptest::option::of((("x_[a-z]{1,8}"), any::<i32>())))
        .prop_map(|(mut v, id, ts, agent, extra)| {
            v["id"] = json!(id);
            v["ts"] = json!(ts);
            let ty = v["type"].as_str().unwrap_or_default().to_owned();
            if !matches!(ty.as_str(), "heartbeat" | "queued" | "abandoned") {
                v["agent"] = json!(agent);
            }
            if let Some((k, n)) = extra {
                v[k] = json!(n);
            }
            v
        })
}

/// Any JSON value: strings of any Unicode (quotes, backslashes and control characters
/// included, so the text holds escapes), keys likewise, nested arrays and objects.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e12f64..1e12).prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        "[\"\\\n\t\u{0}-\u{1f}a-z\u{e9}\u{4e2d}\u{1f600}]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[\"\\a-z\u{e9}]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(seatwatch_testkit::proptest_config("model-roundtrip", 512))]

    /// JSON → model → stored record (bincode) → model is the identity, and the model's
    /// JSON validates back to the same event.
    #[test]
    fn json_model_record_round_trip(v in arb_event()) {
        let k = key();
        let o = opts(&k, CallerPolicy::Plain);
        let event = validate_event(&Json::from_value(&v), 0, &o).map_err(|r| TestCaseError::fail(format!("{r} for {v}")))?;
        let env = Envelope { seq: 42, tenant: "acme".into(), source: "acd-1".into(), received: event.ts, event: event.clone() };
        let bytes = bincode::encode_to_vec(&env, BINCODE_CONFIG).unwrap();
        let (back, used): (Envelope, usize) = bincode::decode_from_slice(&bytes, BINCODE_CONFIG).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(&back, &env);
        let again = validate_event(&Json::from_value(&event.to_json()), 0, &o).map_err(|r| TestCaseError::fail(r.to_string()))?;
        prop_assert_eq!(again, event);
    }

    /// The frame's text parsed into the borrowed `Json` tree is the tree `serde_json`
    /// parses into a `Value`: strings with escapes, any Unicode, nesting, numbers.
    #[test]
    fn borrowed_json_is_the_same_tree_as_serde_json_value(v in arb_json(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
        let j: Json<'_> = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e} for {text}")))?;
        // Against serde_json's own parse of the text (a float need not survive its
        // text form exactly without serde_json's `float_roundtrip`).
        let want: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(j.to_value(), want);
    }

    /// An event validates to the same result whether read from its frame's text (the
    /// server's path) or from a `Value` built in memory.
    #[test]
    fn an_event_validates_the_same_from_text_or_value(v in arb_event()) {
        let k = key();
        let o = opts(&k, CallerPolicy::Hmac);
        let text = v.to_string();
        let frame = parse_frame(&text).map_err(|r| TestCaseError::fail(r.to_string()))?;
        prop_assert_eq!(frame.items.len(), 1);
        prop_assert_eq!(validate_event(&frame.items[0], 0, &o), validate_event(&Json::from_value(&v), 0, &o));
    }

    /// Validation never panics, whatever the JSON.
    #[test]
    fn validation_never_panics(s in ".{0,200}") {
        let k = key();
        if let Ok(f) = parse_frame(&s) {
            for (i, item) in f.items.iter().enumerate() {
                let _ = validate_event(item, i, &opts(&k, CallerPolicy::Hmac));
            }
        }
    }
}

/// Every rejection code validation can produce, from a producer's input. (`internal` is
/// the server's: the ingest tests produce it.)
#[test]
fn every_validation_code_is_produced() {
    let k = key();
    let o = opts(&k, CallerPolicy::Hmac);
    let one = |text: &str| -> RejectCode {
        match parse_frame(text) {
            Err(r) => r.code,
            Ok(f) => validate_event(&f.items[0], 0, &o).expect_err(text).code,
        }
    };
    assert_eq!(one("{nope"), RejectCode::MalformedJson);
    assert_eq!(one(r#"["a string"]"#), RejectCode::MalformedJson);
    assert_eq!(
        one(r#"{"id":"1","type":"dance","ts":"2026-03-02T08:00:00+08:00","agent":"a"}"#),
        RejectCode::UnknownType
    );
    assert_eq!(
        one(r#"{"id":"1","type":"login","ts":"2026-03-02T08:00:00+08:00","agent":"a"}"#),
        RejectCode::MissingField
    );
    assert_eq!(one(r#"{"type":"ready","ts":"2026-03-02T08:00:00+08:00","agent":"a"}"#), RejectCode::MissingField);
    assert_eq!(one(r#"{"id":"1","type":"ready","ts":"2026-03-02 08:00","agent":"a"}"#), RejectCode::InvalidField);
    assert_eq!(
        one(r#"{"id":"1","type":"ready","ts":"2026-03-02T08:00:00+08:00","agent":7}"#),
        RejectCode::InvalidField
    );
    let long_id =
        format!(r#"{{"id":"{}","type":"ready","ts":"2026-03-02T08:00:00+08:00","agent":"a"}}"#, "x".repeat(129));
    assert_eq!(one(&long_id), RejectCode::InvalidField);
    let long_agent =
        format!(r#"{{"id":"1","type":"ready","ts":"2026-03-02T08:00:00+08:00","agent":"{}"}}"#, "a".repeat(65));
    assert_eq!(one(&long_agent), RejectCode::InvalidField);
    assert_eq!(one(&format!("[{}]", vec!["{}"; 1001].join(","))), RejectCode::TooManyEvents);
    let now = Ts::parse_rfc3339("2026-03-02T00:00:00Z").unwrap();
    let skew = IngestOptions { max_future: Some((now, 300_000_000_000)), ..o };
    let v = json!({"id":"1","type":"ready","ts":"2026-03-02T09:00:00+08:00","agent":"a"});
    assert_eq!(validate_event(&Json::from_value(&v), 0, &skew).unwrap_err().code, RejectCode::ClockSkew);
    // `unsupported_frame` is a property of the WebSocket frame (binary), not of its
    // text; the code exists here and the ingest tests produce it.
    assert_eq!(RejectCode::UnsupportedFrame.as_str(), "unsupported_frame");
}

#[test]
fn export_keeps_extras_and_never_shows_a_number() {
    let k = key();
    let v = json!({"id":"9","type":"offered","ts":"2026-03-02T08:00:00+08:00","agent":"a","call":"c","caller":"+8613800138000","x_crm":"ticket-7"});
    let e = validate_event(&Json::from_value(&v), 0, &opts(&k, CallerPolicy::Hmac)).unwrap();
    let out = e.to_json().to_string();
    assert!(out.contains("ticket-7"));
    assert!(out.contains("hmac-sha256:"));
    assert!(!out.contains("13800138000"));
}

/// Nanoseconds whose fractional part is whole seconds, milliseconds, microseconds or
/// anything, across `i64`'s whole range (years 1677 to 2262).
fn arb_nanos() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        any::<i64>().prop_map(|n| n - n % 1_000_000_000),
        any::<i64>().prop_map(|n| n - n % 1_000_000),
        any::<i64>().prop_map(|n| n - n % 1_000),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        Just(-1),
    ]
}

proptest! {
    #![proptest_config(seatwatch_testkit::proptest_config("model-rfc3339", 4096))]

    /// The hand-written timestamp text is chrono's, to the byte, for every instant:
    /// JSON output, reports and alarm views all write it.
    #[test]
    fn timestamps_are_written_as_chrono_writes_them(nanos in arb_nanos(), offset in -86_399i32..86_400) {
        let chrono = chrono::DateTime::<chrono::Utc>::from_timestamp_nanos(nanos)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let ts = Ts { nanos, offset_secs: offset };
        prop_assert_eq!(ts.to_rfc3339(), chrono.clone());
        prop_assert_eq!(ts.to_string(), chrono.clone());
        prop_assert_eq!(serde_json::to_string(&ts).unwrap(), format!("\"{chrono}\""));
    }
}
