//! The ingest codec: one text frame in, validated events and rejections out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatwatch_config::{Config, Identity, Role};
use seatwatch_model::{CallerKey, Ts};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let config = Config::default();
    let who = Identity { name: "acd-1".into(), tenant: "acme".into(), role: Role::Producer };
    let now = Ts::parse_rfc3339("2026-03-02T08:30:00+08:00").unwrap_or_default();
    let work = seatwatch_ingest::frame::decode(text, &who, config.tenant("acme"), &CallerKey([7; 32]), now);
    assert_eq!(work.pending.len(), work.positions.len());
    for p in &work.pending {
        assert!(!p.event.id.is_empty() && p.event.id.len() <= 128);
        assert_eq!(p.tenant, "acme");
    }
});
