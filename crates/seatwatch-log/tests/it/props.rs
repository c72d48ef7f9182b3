//! Property tests: whatever is appended reads back exactly, in order, gapless, chained.

use crate::fixtures::{every_kind, pending_kind};
use proptest::prelude::*;
use seatwatch_log::format;
use seatwatch_log::{AppendOutcome, Log, OpenOptions, Pending, RawRecord, verify};
use seatwatch_model::{Envelope, EventKind, Ts};
use std::collections::HashSet;

fn arb_pending() -> impl Strategy<Value = Pending> {
    let kinds = every_kind();
    (
        0..kinds.len(),
        // Few ids, tenants and sources, so duplicates are common.
        prop_oneof![Just(String::new()), "[a-d]{1,2}", "[a-z0-9\\-]{0,40}"],
        prop::sample::select(vec!["acme", "globex"]),
        prop::sample::select(vec!["acd-1", "acd-2"]),
        any::<i64>().prop_map(|n| n % 4_000_000_000_000_000_000),
        prop::option::of("[ -~]{0,60}"),
    )
        .prop_map(move |(k, id, tenant, source, nanos, extra)| {
            let mut p = pending_kind(0, &id, kinds[k].clone());
            // pending_kind empties ids of ticks only; keep the generated id otherwise.
            if !matches!(p.event.kind, EventKind::Tick) {
                p.event.id = id.into();
            }
            p.tenant = tenant.into();
            p.source = source.into();
            p.event.ts = Ts { nanos, offset_secs: (nanos % 50_000) as i32 };
            p.event.extra = extra;
            p
        })
}

proptest! {
    #![proptest_config(seatwatch_testkit::proptest_config("log-append-read", 24))]

    #[test]
    fn appended_batches_read_back_exactly(
        batches in prop::collection::vec(prop::collection::vec(arb_pending(), 0..40), 1..8),
        segment in 400usize..4000,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open_with(dir.path(), OpenOptions { sync_data: false, max_segment_bytes: segment, ..OpenOptions::default() }).unwrap();
        let mut seen: HashSet<(String, String, String)> = HashSet::new();
        let mut expected: Vec<Envelope> = Vec::new();
        for batch in batches {
            let outs = log.append_blocking(batch.clone()).unwrap();
            prop_assert_eq!(outs.len(), batch.len());
            for (p, o) in batch.into_iter().zip(outs) {
                let dup = !p.event.id.is_empty()
                    && !seen.insert((p.tenant.to_string(), p.source.to_string(), p.event.id.to_string()));
                if dup {
                    prop_assert_eq!(o, AppendOutcome::Duplicate);
                } else {
                    let seq = expected.len() as u64 + 1;
                    prop_assert_eq!(o, AppendOutcome::Appended(seq));
                    expected.push(Envelope { seq, tenant: p.tenant, source: p.source, received: p.received, event: p.event });
                }
            }
        }
        let got: Vec<Envelope> = log.read_from(1).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(log.head().last_seq, expected.len() as u64);
        log.close().unwrap();
        let r = verify(dir.path(), &mut |_| {}).unwrap();
        prop_assert_eq!(r.last_seq, expected.len() as u64);
        // Reopened, it holds the same and knows the same ids.
        let log = Log::open(dir.path()).unwrap();
        let again: Vec<Envelope> = log.read_from(1).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&again, &expected);
        if let Some(e) = expected.iter().find(|e| !e.event.id.is_empty()) {
            let p = Pending { tenant: e.tenant.to_string().into(), source: e.source.to_string().into(), received: e.received, event: e.event.clone() };
            prop_assert_eq!(log.append_blocking(vec![p]).unwrap(), vec![AppendOutcome::Duplicate]);
        }
    }
}

proptest! {
    #![proptest_config(seatwatch_testkit::proptest_config("log-record-roundtrip", 256))]

    #[test]
    fn records_round_trip(p in arb_pending(), seq in 1u64..u64::MAX, prev in any::<[u8; 32]>()) {
        let env = Envelope { seq, tenant: p.tenant, source: p.source, received: p.received, event: p.event };
        let (bytes, link) = format::encode_record(&prev, &env).unwrap();
        prop_assert_eq!(bytes[0], format::FORMAT_VERSION);
        prop_assert_eq!(bytes[1], env.record_kind() as u8);
        prop_assert_eq!(&bytes[bytes.len() - 32..], &link[..]);
        prop_assert_eq!(format::chain_link(&prev, &bytes[..bytes.len() - 32]), link);
        let back = Log::decode_raw(&RawRecord { seq, bytes: bytes.clone() }).unwrap();
        prop_assert_eq!(&back, &env);
        // Claiming another seq for the same bytes is refused.
        let claimed = RawRecord { seq: seq - 1, bytes };
        prop_assert!(Log::decode_raw(&claimed).is_err());
    }

    #[test]
    fn any_bytes_decode_to_an_error_or_an_envelope_never_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Log::decode_raw(&RawRecord { seq: 1, bytes: bytes.clone() });
        let _ = format::SegmentReader::new(&bytes).map(|mut r| while let Ok(Some(_)) = r.next_record() {});
    }
}
