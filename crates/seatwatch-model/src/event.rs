//! The typed event and the stored envelope.

use crate::{CallerRef, Date, TimeOfDay, Ts};
use bincode::{Decode, Encode};
use compact_str::CompactString;
use std::fmt;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        ///
        /// Kept in a [`CompactString`]: an id of up to 24 bytes lives inline, so copying or
        /// decoding one does not allocate. Encoded exactly as a `String` (length, bytes).
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub CompactString);

        impl $name {
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }
        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.0.as_str(), f)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(CompactString::from(s))
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(CompactString::from(s))
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl Encode for $name {
            fn encode<E: bincode::enc::Encoder>(&self, e: &mut E) -> Result<(), bincode::error::EncodeError> {
                self.0.as_str().encode(e)
            }
        }
        impl<Ctx> Decode<Ctx> for $name {
            fn decode<D: bincode::de::Decoder<Context = Ctx>>(d: &mut D) -> Result<Self, bincode::error::DecodeError> {
                decode_compact(d).map($name)
            }
        }
        impl<'de, Ctx> bincode::BorrowDecode<'de, Ctx> for $name {
            fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = Ctx>>(
                d: &mut D,
            ) -> Result<Self, bincode::error::DecodeError> {
                decode_compact(d).map($name)
            }
        }
    };
}

/// Decode a string encoded as bincode encodes a `String`, without allocating when it
/// fits inline (up to 24 bytes).
fn decode_compact<D: bincode::de::Decoder>(d: &mut D) -> Result<CompactString, bincode::error::DecodeError> {
    use bincode::de::read::Reader;
    use bincode::error::DecodeError;
    let n = u64::decode(d)?;
    let len = usize::try_from(n).map_err(|_| DecodeError::OutsideUsizeRange(n))?;
    d.claim_container_read::<u8>(len)?;
    let mut inline = [0u8; 24];
    if let Some(buf) = inline.get_mut(..len) {
        d.reader().read(buf)?;
        let s = std::str::from_utf8(buf).map_err(|inner| DecodeError::Utf8 { inner })?;
        Ok(CompactString::from(s))
    } else {
        let mut buf = vec![0u8; len];
        d.reader().read(&mut buf)?;
        String::from_utf8(buf).map(CompactString::from).map_err(|e| DecodeError::Utf8 { inner: e.utf8_error() })
    }
}

id_type!(
    /// An agent id as the ACD knows it (≤ 64 bytes).
    AgentId
);
id_type!(
    /// A call id as the ACD knows it.
    CallId
);
id_type!(
    /// A queue (skill group, hunt group) name.
    QueueId
);
id_type!(
    /// A short text a projection keeps (a station, a not-ready reason): inline up to 24
    /// bytes, so keeping a new one costs no allocation; encoded exactly as a `String`.
    Text
);

/// A shift's working hours on its date, local to the tenant's time zone. When `end` is
/// not after `start` the shift ends on the next day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct ShiftHours {
    /// Plays the role of 08:30 in the default schedule: a first login after it is late.
    pub start: TimeOfDay,
    /// Plays the role of 17:35: a logout before it is leaving early.
    pub end: TimeOfDay,
}

/// What happened. One variant per event `type` of CONTRACT.md §3, plus
/// [`EventKind::Tick`], which only the server writes.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum EventKind {
    /// `login`: the agent logs in at a station.
    Login { station: String },
    /// `logout`.
    Logout,
    /// `ready`: available for calls.
    Ready,
    /// `not_ready` (alias `busy`): 示忙.
    NotReady { reason: Option<String> },
    /// `queued`: a caller enters a queue.
    Queued { call: CallId, queue: QueueId, caller: Option<CallerRef>, emergency: bool, priority: Option<String> },
    /// `abandoned`: the caller hung up while waiting.
    Abandoned { call: CallId, queue: QueueId },
    /// `offered`: a call starts ringing at the agent.
    Offered {
        call: CallId,
        queue: Option<QueueId>,
        caller: Option<CallerRef>,
        emergency: bool,
        priority: Option<String>,
    },
    /// `answered`, with the ACD's ring count when it sends one.
    Answered { call: CallId, rings: Option<u32> },
    /// `missed`: rang, not answered, taken away.
    Missed { call: CallId },
    /// `ended`: the call hung up; wrap-up starts.
    Ended { call: CallId },
    /// `wrap_up`: after-call work, explicitly.
    WrapUp { call: Option<CallId> },
    /// `survey_offered`: the customer was invited to rate the call.
    SurveyOffered { call: CallId },
    /// `transferred`: the call left this agent for `to`.
    Transferred { call: CallId, to: String },
    /// `heartbeat`: nothing happened up to `ts`.
    Heartbeat,
    /// `roster`: the agent is on the roster (or leaves it when `active` is false).
    Roster { certified: bool, name: Option<String>, active: bool },
    /// `shift`: overrides the default schedule for `date`; `hours: None` is `"off": true`.
    Shift { date: Date, hours: Option<ShiftHours> },
    /// `leave_approved` for the dates `from..=to`.
    LeaveApproved { from: Date, to: Date, by: String },
    /// `busy_approved`: not-ready allowed beyond the limit until `until`.
    BusyApproved { until: Ts, by: String },
    /// `monitored`: a call of the agent was monitored.
    Monitored { call: Option<CallId>, by: String },
    /// `callback_sampled`: a customer of the agent was called back for sampling.
    CallbackSampled { call: Option<CallId>, by: String },
    /// `callback_promised`: a call-back is due by `due`.
    CallbackPromised { call: CallId, due: Ts },
    /// `callback_done`.
    CallbackDone { call: CallId },
    /// `escalated`: an emergency was reported to a superior.
    Escalated { call: CallId },
    /// A server tick: the server's wall clock read `ts` (only for `clock = "wall"` tenants).
    Tick,
}

impl EventKind {
    /// The contract's `type` string (`not_ready` for the `busy` alias; `tick` for ticks).
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::Login { .. } => "login",
            EventKind::Logout => "logout",
            EventKind::Ready => "ready",
            EventKind::NotReady { .. } => "not_ready",
            EventKind::Queued { .. } => "queued",
            EventKind::Abandoned { .. } => "abandoned",
            EventKind::Offered { .. } => "offered",
            EventKind::Answered { .. } => "answered",
            EventKind::Missed { .. } => "missed",
            EventKind::Ended { .. } => "ended",
            EventKind::WrapUp { .. } => "wrap_up",
            EventKind::SurveyOffered { .. } => "survey_offered",
            EventKind::Transferred { .. } => "transferred",
            EventKind::Heartbeat => "heartbeat",
            EventKind::Roster { .. } => "roster",
            EventKind::Shift { .. } => "shift",
            EventKind::LeaveApproved { .. } => "leave_approved",
            EventKind::BusyApproved { .. } => "busy_approved",
            EventKind::Monitored { .. } => "monitored",
            EventKind::CallbackSampled { .. } => "callback_sampled",
            EventKind::CallbackPromised { .. } => "callback_promised",
            EventKind::CallbackDone { .. } => "callback_done",
            EventKind::Escalated { .. } => "escalated",
            EventKind::Tick => "tick",
        }
    }

    /// Whether this type carries an `agent`.
    pub fn has_agent(&self) -> bool {
        !matches!(self, EventKind::Heartbeat | EventKind::Queued { .. } | EventKind::Abandoned { .. } | EventKind::Tick)
    }

    /// The call id the event is about, if any.
    pub fn call(&self) -> Option<&CallId> {
        match self {
            EventKind::Queued { call, .. }
            | EventKind::Abandoned { call, .. }
            | EventKind::Offered { call, .. }
            | EventKind::Answered { call, .. }
            | EventKind::Missed { call }
            | EventKind::Ended { call }
            | EventKind::SurveyOffered { call }
            | EventKind::Transferred { call, .. }
            | EventKind::CallbackPromised { call, .. }
            | EventKind::CallbackDone { call }
            | EventKind::Escalated { call } => Some(call),
            EventKind::WrapUp { call }
            | EventKind::Monitored { call, .. }
            | EventKind::CallbackSampled { call, .. } => call.as_ref(),
            _ => None,
        }
    }

    /// Whether the event asserts time only (heartbeat, tick): "nothing happened up to ts".
    pub fn is_time_only(&self) -> bool {
        matches!(self, EventKind::Heartbeat | EventKind::Tick)
    }
}

/// A validated event as the producer sent it, before the log gives it a sequence number.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Event {
    /// The producer's id, unique per source (≤ 128 bytes). Empty for server ticks.
    pub id: Text,
    /// When it happened at the ACD.
    pub ts: Ts,
    /// The agent, for every type but `heartbeat`, `queued`, `abandoned` (and ticks).
    pub agent: Option<AgentId>,
    /// What happened.
    pub kind: EventKind,
    /// Unknown extra fields of the producer's object, as compact JSON with sorted keys;
    /// `None` when there were none. Kept for auditors, ignored by projections.
    pub extra: Option<String>,
}

/// Which kind of record the log holds. The log writes this as the record-type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// An event a producer sent.
    Event = 1,
    /// A tick the server wrote for a wall-clock tenant.
    Tick = 2,
}

/// What the log stores for one accepted event: the event plus where it came from and
/// where it sits in the log. Projectors fold over these.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Envelope {
    /// Global, gapless position in the log, from 1.
    pub seq: u64,
    /// The tenant, taken from the producer's token (never from the event).
    pub tenant: Text,
    /// The token name the event was sent with (`server` for ticks).
    pub source: Text,
    /// When the server received it (its wall clock at ingest).
    pub received: Ts,
    /// The event.
    pub event: Event,
}

impl Envelope {
    /// The record kind the log files this envelope under.
    pub fn record_kind(&self) -> RecordKind {
        if matches!(self.event.kind, EventKind::Tick) { RecordKind::Tick } else { RecordKind::Event }
    }
    /// Shorthand for `self.event.ts`.
    pub fn ts(&self) -> Ts {
        self.event.ts
    }
    /// Shorthand for `self.event.agent`.
    pub fn agent(&self) -> Option<&AgentId> {
        self.event.agent.as_ref()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::BINCODE_CONFIG;

    #[test]
    fn ids_encode_as_strings_and_decode_inline_or_not() {
        for len in [0usize, 1, 12, 23, 24, 25, 64, 300] {
            let s: String = (0..len).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            let id = AgentId::from(s.as_str());
            let bytes = bincode::encode_to_vec(&id, BINCODE_CONFIG).unwrap();
            assert_eq!(bytes, bincode::encode_to_vec(&s, BINCODE_CONFIG).unwrap(), "len {len}");
            let (back, used): (AgentId, usize) = bincode::decode_from_slice(&bytes, BINCODE_CONFIG).unwrap();
            assert_eq!((back.as_str(), used), (s.as_str(), bytes.len()));
            assert_eq!(back.0.is_heap_allocated(), len > 24, "len {len}");
            let (borrowed, _): (CallId, usize) = bincode::borrow_decode_from_slice(&bytes, BINCODE_CONFIG).unwrap();
            assert_eq!(borrowed.as_str(), s);
            let text = Some(Text::from(s.as_str()));
            let bytes = bincode::encode_to_vec(&text, BINCODE_CONFIG).unwrap();
            assert_eq!(bytes, bincode::encode_to_vec(Some(&s), BINCODE_CONFIG).unwrap(), "len {len}");
            let (back, _): (Option<Text>, usize) = bincode::decode_from_slice(&bytes, BINCODE_CONFIG).unwrap();
            assert_eq!(back, text);
        }
    }

    #[test]
    fn decoding_an_envelope_of_short_strings_does_not_allocate() {
        let ts = Ts::from_nanos(1_772_000_000_000_000_000);
        let env = Envelope {
            seq: 42,
            tenant: "acme".into(),
            source: "acd-primary".into(),
            received: ts,
            event: Event {
                id: "evt-000000001234".into(),
                ts,
                agent: Some("agent-00042".into()),
                kind: EventKind::Answered { call: "call-2026-000123".into(), rings: Some(2) },
                extra: None,
            },
        };
        let bytes = bincode::encode_to_vec(&env, BINCODE_CONFIG).unwrap();
        let mut back = None;
        let info = allocation_counter::measure(|| {
            back = Some(bincode::decode_from_slice::<Envelope, _>(&bytes, BINCODE_CONFIG).unwrap().0);
        });
        assert_eq!(back.as_ref(), Some(&env));
        assert_eq!(info.count_total, 0, "{info:?}");
    }

    #[test]
    fn an_id_that_is_not_utf8_or_runs_past_the_end_is_refused() {
        for bad in [vec![2u8, 0xff, 0xfe], vec![40u8; 31], vec![5u8, b'a']] {
            let r: Result<(QueueId, usize), _> = bincode::decode_from_slice(&bad, BINCODE_CONFIG);
            assert!(r.is_err(), "{bad:?} decoded");
        }
        let mut long = vec![30u8];
        long.extend_from_slice(&[0xc3; 30]);
        let r: Result<(QueueId, usize), _> = bincode::decode_from_slice(&long, BINCODE_CONFIG);
        assert!(matches!(r, Err(bincode::error::DecodeError::Utf8 { .. })), "{r:?}");
    }
}
