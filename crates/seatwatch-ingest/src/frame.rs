//! The ingest codec: one text frame in, the events to append and the reply out.

use seatwatch_config::{Identity, TenantConfig};
use seatwatch_log::{AppendOutcome, LogError, Pending};
use seatwatch_model::{CallerKey, IngestOptions, RejectCode, Rejection, Ts, parse_frame, validate_event};
use serde::Serialize;

/// The most bytes of unknown extra fields kept per event (as compact JSON). With every
/// known field bounded too, an accepted event always fits in one log record; more is
/// rejected as `invalid_field` rather than failing the whole frame at the log.
pub const MAX_EXTRA_BYTES: usize = 4096;

/// A decoded frame: what to append, and what was already rejected.
#[derive(Debug, Default)]
pub struct FrameWork {
    /// Valid events, in frame order.
    pub pending: Vec<Pending>,
    /// For each entry of `pending`: its index in the frame and its id.
    pub positions: Vec<(usize, seatwatch_model::Text)>,
    /// Events (or the whole frame) rejected by validation.
    pub rejected: Vec<Rejection>,
}

/// The reply to one frame (CONTRACT.md §3).
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Reply {
    /// Events stored now.
    pub accepted: u64,
    /// Events this source had already sent (not stored twice).
    pub duplicate: u64,
    /// Events not stored, with why; sorted by index.
    pub rejected: Vec<Rejection>,
    /// The sequence number of the last event this frame stored; when it stored none,
    /// the log's last sequence number at the time of the reply.
    pub last_seq: u64,
}

/// Decode and validate a text frame sent by `who`.
pub fn decode(text: &str, who: &Identity, tenant: &TenantConfig, key: &CallerKey, now: Ts) -> FrameWork {
    let frame = match parse_frame(text) {
        Ok(f) => f,
        Err(r) => return FrameWork { rejected: vec![r], ..FrameWork::default() },
    };
    let opts = IngestOptions {
        tenant: &who.tenant,
        caller_policy: tenant.caller,
        caller_key: key,
        max_future: Some((now, tenant.future_limit().as_nanos())),
        max_past: Some((now, tenant.max_past.as_nanos())),
    };
    let mut work = FrameWork { pending: Vec::with_capacity(frame.items.len()), ..FrameWork::default() };
    for (i, item) in frame.items.iter().enumerate() {
        match validate_event(item, i, &opts) {
            Ok(event) if event.extra.as_ref().is_some_and(|x| x.len() > MAX_EXTRA_BYTES) => {
                work.rejected.push(Rejection {
                    index: Some(i),
                    id: Some(event.id.to_string()),
                    code: RejectCode::InvalidField,
                    message: format!(
                        "the event's unknown extra fields take more than {MAX_EXTRA_BYTES} bytes as JSON; \
                         send only the fields of the contract, or fewer extras"
                    ),
                });
            }
            Ok(event) => {
                work.positions.push((i, event.id.clone()));
                work.pending.push(Pending {
                    tenant: who.tenant.as_str().into(),
                    source: who.name.as_str().into(),
                    received: now,
                    event,
                });
            }
            Err(r) => work.rejected.push(r),
        }
    }
    work
}

/// A reply for a frame that is not text; `head_seq` is the log's last sequence number
/// (the frame stored nothing).
pub fn unsupported(what: &str, head_seq: u64) -> Reply {
    Reply {
        rejected: vec![Rejection::frame(
            RejectCode::UnsupportedFrame,
            format!("{what} frames are not accepted: send events as JSON in text frames"),
        )],
        last_seq: head_seq,
        ..Reply::default()
    }
}

/// Build the reply once the append finished (or failed).
pub fn finish(
    positions: Vec<(usize, seatwatch_model::Text)>,
    mut rejected: Vec<Rejection>,
    outcome: Result<Vec<AppendOutcome>, &LogError>,
    head_seq: u64,
) -> Reply {
    let mut reply = Reply::default();
    let mut last_stored = None;
    match outcome {
        Ok(outcomes) => {
            for o in outcomes {
                match o {
                    AppendOutcome::Appended(seq) => {
                        reply.accepted += 1;
                        last_stored = Some(last_stored.map_or(seq, |l: u64| l.max(seq)));
                    }
                    AppendOutcome::Duplicate => reply.duplicate += 1,
                }
            }
        }
        Err(e) => {
            let message = format!("not stored ({e}): send it again");
            rejected.extend(positions.into_iter().map(|(index, id)| Rejection {
                index: Some(index),
                id: Some(id.to_string()),
                code: RejectCode::Internal,
                message: message.clone(),
            }));
        }
    }
    rejected.sort_by_key(|r| r.index);
    reply.rejected = rejected;
    reply.last_seq = last_stored.unwrap_or(head_seq);
    reply
}

impl Reply {
    /// The reply as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"accepted":0,"duplicate":0,"rejected":[{"index":null,"id":null,"code":"internal","message":"reply encoding failed"}],"last_seq":0}"#.to_owned()
        })
    }
}
