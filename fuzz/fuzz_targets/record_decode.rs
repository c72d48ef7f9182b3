//! The log's record and segment decoders: what a damaged disk or a backup source controls.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seatwatch_log::format::{self, SegmentReader};
use seatwatch_log::{Log, RawRecord};

fuzz_target!(|data: &[u8]| {
    let _ = Log::decode_raw(&RawRecord { seq: 1, bytes: data.to_vec() });
    let _ = format::decode_ids(data);
    if let Ok(mut r) = SegmentReader::new(data) {
        while let Ok(Some(rec)) = r.next_record() {
            let _ = format::decode_record(rec);
        }
    }
});
