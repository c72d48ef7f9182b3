//! From a producer's WebSocket text frame to typed events or the contract's rejections.

use crate::json::{Json, Object};
use crate::{
    AgentId, CallId, CallerKey, CallerPolicy, CallerRef, Date, Event, EventKind, QueueId, ShiftHours, Text, TimeOfDay,
    Ts,
};
use serde_json::{Map, Value};
use std::fmt;

/// The most events one frame may hold (CONTRACT.md §3).
pub const MAX_EVENTS_PER_FRAME: usize = 1000;
/// The longest producer `id`, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// The longest `agent`, in bytes.
pub const MAX_AGENT_BYTES: usize = 64;
/// The longest other text field (station, call, queue, reason, ...), in bytes.
pub const MAX_TEXT_BYTES: usize = 256;

/// The contract's rejection codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectCode {
    /// The frame or an element of it is not JSON, or not a JSON object.
    MalformedJson,
    /// `type` names no event type of the contract.
    UnknownType,
    /// A field the type needs is absent (or `null`).
    MissingField,
    /// A field is present but of the wrong type, format, length or range.
    InvalidField,
    /// `ts` lies further in the future than the tenant's clock allows.
    ClockSkew,
    /// An array frame with more than [`MAX_EVENTS_PER_FRAME`] events.
    TooManyEvents,
    /// A binary (or otherwise non-text) frame.
    UnsupportedFrame,
    /// Not stored because of a server-side fault: send it again.
    Internal,
}

impl RejectCode {
    /// Every code, in the contract's order.
    pub const ALL: [RejectCode; 8] = [
        RejectCode::MalformedJson,
        RejectCode::UnknownType,
        RejectCode::MissingField,
        RejectCode::InvalidField,
        RejectCode::ClockSkew,
        RejectCode::TooManyEvents,
        RejectCode::UnsupportedFrame,
        RejectCode::Internal,
    ];

    /// The wire name, e.g. `missing_field`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::MalformedJson => "malformed_json",
            RejectCode::UnknownType => "unknown_type",
            RejectCode::MissingField => "missing_field",
            RejectCode::InvalidField => "invalid_field",
            RejectCode::ClockSkew => "clock_skew",
            RejectCode::TooManyEvents => "too_many_events",
            RejectCode::UnsupportedFrame => "unsupported_frame",
            RejectCode::Internal => "internal",
        }
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for RejectCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One rejected event (or, with `index: None`, a rejected frame).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rejection {
    /// Position in the frame; `None` when the frame as a whole is bad.
    pub index: Option<usize>,
    /// The event's `id` when it had a usable one.
    pub id: Option<String>,
    /// The contract's code.
    pub code: RejectCode,
    /// What is wrong and how to fix it, for a person.
    pub message: String,
}

impl Rejection {
    /// A rejection of the frame as a whole.
    pub fn frame(code: RejectCode, message: impl Into<String>) -> Self {
        Rejection { index: None, id: None, code, message: message.into() }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// A frame-level failure (the whole frame is rejected, `index: null`).
pub type FrameError = Rejection;

/// A parsed frame: the JSON values it holds, in order, borrowing from its text.
#[derive(Debug)]
pub struct Frame<'a> {
    /// Each element as parsed; validate them with [`validate_event`].
    pub items: Vec<Json<'a>>,
}

/// Split a text frame into its elements. A lone object becomes one element.
pub fn parse_frame(text: &str) -> Result<Frame<'_>, FrameError> {
    let v: Json<'_> = serde_json::from_str(text)
        .map_err(|e| Rejection::frame(RejectCode::MalformedJson, format!("the frame is not valid JSON: {e}")))?;
    match v {
        Json::Object(_) => Ok(Frame { items: vec![v] }),
        Json::Array(items) if items.len() > MAX_EVENTS_PER_FRAME => Err(Rejection::frame(
            RejectCode::TooManyEvents,
            format!(
                "the frame holds {} events; at most {MAX_EVENTS_PER_FRAME} are allowed per frame: split it",
                items.len()
            ),
        )),
        Json::Array(items) => Ok(Frame { items }),
        other => Err(Rejection::frame(
            RejectCode::MalformedJson,
            format!("a frame holds one event object or an array of them, not {}", other.kind()),
        )),
    }
}

/// What validation needs to know about the tenant and the moment.
#[derive(Debug, Clone, Copy)]
pub struct IngestOptions<'a> {
    /// The tenant the token belongs to (mixed into caller hashes).
    pub tenant: &'a str,
    /// How to store `caller`.
    pub caller_policy: CallerPolicy,
    /// The data directory's caller key.
    pub caller_key: &'a CallerKey,
    /// The server's clock now and how far ahead of it (in nanoseconds) a `ts` may lie
    /// before it is rejected with `clock_skew`.
    pub max_future: Option<(Ts, i64)>,
    /// The server's clock now and how far before it (in nanoseconds) a `ts` may lie
    /// before it is rejected with `clock_skew`.
    pub max_past: Option<(Ts, i64)>,
}

impl<'a> IngestOptions<'a> {
    /// Options that accept any `ts` (no `clock_skew`): for replaying logs, tools and tests.
    pub fn any_time(tenant: &'a str, caller_policy: CallerPolicy, caller_key: &'a CallerKey) -> Self {
        IngestOptions { tenant, caller_policy, caller_key, max_future: None, max_past: None }
    }
}

/// A span of nanoseconds for a `clock_skew` message: whole seconds below a day, else
/// whole days.
fn span(nanos: i64) -> String {
    let secs = nanos / 1_000_000_000;
    if secs < 86_400 { format!("{secs} s") } else { format!("{} days", secs / 86_400) }
}

/// The producer-facing event types, for messages.
const KNOWN_TYPES: &str = "login, logout, ready, not_ready (busy), queued, abandoned, offered, answered, missed, ended, wrap_up, survey_offered, transferred, heartbeat, roster, shift, leave_approved, busy_approved, monitored, callback_sampled, callback_promised, callback_done, escalated";

/// Every `type` a producer may send (`busy` is accepted as an alias of `not_ready`).
pub const TYPES: [&str; 23] = [
    "login",
    "logout",
    "ready",
    "not_ready",
    "queued",
    "abandoned",
    "offered",
    "answered",
    "missed",
    "ended",
    "wrap_up",
    "survey_offered",
    "transferred",
    "heartbeat",
    "roster",
    "shift",
    "leave_approved",
    "busy_approved",
    "monitored",
    "callback_sampled",
    "callback_promised",
    "callback_done",
    "escalated",
];

struct Ctx<'a> {
    obj: &'a Object<'a>,
    ty: &'a str,
    index: usize,
    id: Option<&'a str>,
}

impl<'a> Ctx<'a> {
    fn reject(&self, code: RejectCode, message: String) -> Rejection {
        Rejection { index: Some(self.index), id: self.id.map(str::to_owned), code, message }
    }

    fn get(&self, field: &str) -> Option<&'a Json<'a>> {
        self.obj.get(field).filter(|v| !matches!(v, Json::Null))
    }

    fn missing(&self, field: &str, what: &str) -> Rejection {
        self.reject(RejectCode::MissingField, format!("`{}` needs `{field}` ({what})", self.ty))
    }

    /// The field's text, borrowed from the parsed frame: the caller copies it where it
    /// keeps it (ids inline, without a heap block when short).
    fn opt_text(&self, field: &str, max: usize) -> Result<Option<&'a str>, Rejection> {
        match self.get(field) {
            None => Ok(None),
            Some(Json::String(s)) if s.is_empty() => {
                Err(self.reject(RejectCode::InvalidField, format!("`{field}` must not be empty")))
            }
            Some(Json::String(s)) if s.len() > max => Err(self.reject(
                RejectCode::InvalidField,
                format!("`{field}` is {} bytes long; at most {max} are allowed", s.len()),
            )),
            Some(Json::String(s)) => Ok(Some(s.as_ref())),
            Some(v) => {
                Err(self.reject(RejectCode::InvalidField, format!("`{field}` must be a string, not {}", v.kind())))
            }
        }
    }

    /// An optional free-text label (`reason`, `name`): empty text is no label, as a
    /// softphone with no reason selected may send it.
    fn opt_label(&self, field: &str) -> Result<Option<&'a str>, Rejection> {
        match self.get(field) {
            Some(Json::String(s)) if s.is_empty() => Ok(None),
            _ => self.opt_text(field, MAX_TEXT_BYTES),
        }
    }

    fn text(&self, field: &str, max: usize, what: &str) -> Result<&'a str, Rejection> {
        self.opt_text(field, max)?.ok_or_else(|| self.missing(field, what))
    }

    fn opt_ts(&self, field: &str) -> Result<Option<Ts>, Rejection> {
        match self.opt_text(field, 64)? {
            None => Ok(None),
            Some(s) => Ts::parse_rfc3339(s).map(Some).ok_or_else(|| {
                // A well-formed time outside what nanoseconds in an i64 hold is out of
                // range, not malformed: say which.
                let msg = if chrono::DateTime::parse_from_rfc3339(s).is_ok() {
                    format!(
                        "`{field}` is outside the range Seatwatch stores (1677-09-21 to 2262-04-11 UTC: nanoseconds in 64 bits); got {s:?}"
                    )
                } else {
                    format!(
                        "`{field}` must be an RFC 3339 time with an offset, e.g. 2026-03-02T08:25:00+08:00; got {s:?}"
                    )
                };
                self.reject(RejectCode::InvalidField, msg)
            }),
        }
    }

    fn ts(&self, field: &str) -> Result<Ts, Rejection> {
        self.opt_ts(field)?.ok_or_else(|| self.missing(field, "an RFC 3339 time with an offset"))
    }

    fn date(&self, field: &str) -> Result<Date, Rejection> {
        let s = self.text(field, 32, "a date, YYYY-MM-DD")?;
        Date::parse(s).ok_or_else(|| {
            self.reject(RejectCode::InvalidField, format!("`{field}` must be a date YYYY-MM-DD, got {s:?}"))
        })
    }

    fn time_of_day(&self, field: &str) -> Result<TimeOfDay, Rejection> {
        let s = self.text(field, 32, "a local time, HH:MM")?;
        TimeOfDay::parse(s).ok_or_else(|| {
            self.reject(
                RejectCode::InvalidField,
                format!("`{field}` must be a local time HH:MM (or HH:MM:SS), got {s:?}"),
            )
        })
    }

    fn opt_bool(&self, field: &str) -> Result<Option<bool>, Rejection> {
        match self.get(field) {
            None => Ok(None),
            Some(Json::Bool(b)) => Ok(Some(*b)),
            Some(v) => {
                Err(self.reject(RejectCode::InvalidField, format!("`{field}` must be true or false, not {}", v.kind())))
            }
        }
    }

    fn call(&self) -> Result<CallId, Rejection> {
        self.text("call", MAX_TEXT_BYTES, "the ACD's call id").map(CallId::from)
    }

    fn opt_call(&self) -> Result<Option<CallId>, Rejection> {
        Ok(self.opt_text("call", MAX_TEXT_BYTES)?.map(CallId::from))
    }

    fn by(&self) -> Result<String, Rejection> {
        self.text("by", MAX_TEXT_BYTES, "who approved or did it").map(str::to_owned)
    }
}

/// Validate one element of a frame into an [`Event`].
///
/// `index` is the element's position in its frame (used in the rejection).
pub fn validate_event(value: &Json<'_>, index: usize, opts: &IngestOptions<'_>) -> Result<Event, Rejection> {
    let Json::Object(obj) = value else {
        return Err(Rejection {
            index: Some(index),
            id: None,
            code: RejectCode::MalformedJson,
            message: format!("each event must be a JSON object, not {}", value.kind()),
        });
    };
    let mut cx = Ctx { obj, ty: "event", index, id: None };

    let id = match cx.get("id") {
        None => {
            return Err(cx.reject(
                RejectCode::MissingField,
                "every event needs `id` (a string unique per source, at most 128 bytes)".into(),
            ));
        }
        Some(Json::String(s)) if s.is_empty() => {
            return Err(cx.reject(RejectCode::InvalidField, "`id` must not be empty".into()));
        }
        Some(Json::String(s)) if s.len() > MAX_ID_BYTES => {
            return Err(cx.reject(
                RejectCode::InvalidField,
                format!("`id` is {} bytes long; at most {MAX_ID_BYTES} are allowed", s.len()),
            ));
        }
        Some(Json::String(s)) => s.as_ref(),
        Some(v) => {
            return Err(cx.reject(RejectCode::InvalidField, format!("`id` must be a string, not {}", v.kind())));
        }
    };
    cx.id = Some(id);

    let ty = match cx.get("type") {
        None => {
            return Err(cx.reject(RejectCode::MissingField, format!("every event needs `type`, one of: {KNOWN_TYPES}")));
        }
        Some(Json::String(s)) => s.as_ref(),
        Some(v) => {
            return Err(cx.reject(RejectCode::InvalidField, format!("`type` must be a string, not {}", v.kind())));
        }
    };
    let canonical: &'static str = match ty {
        "busy" => "not_ready",
        t if TYPES.contains(&t) => TYPES.iter().find(|k| **k == t).copied().unwrap_or("event"),
        t => {
            let shown: String = t.chars().take(64).collect();
            return Err(
                cx.reject(RejectCode::UnknownType, format!("unknown event type {shown:?}; known types: {KNOWN_TYPES}"))
            );
        }
    };
    cx.ty = canonical;

    let ts = cx.ts("ts")?;
    if let Some((now, max_ahead)) = opts.max_future {
        let ahead = ts.nanos_since(now);
        if ahead > max_ahead {
            return Err(cx.reject(
                RejectCode::ClockSkew,
                format!(
                    "`ts` {} is {} ahead of the server's clock ({}), more than the {} allowed (`max_future`): check the producer's clock (NTP)",
                    ts.to_datetime().to_rfc3339(),
                    span(ahead),
                    now.to_rfc3339(),
                    span(max_ahead)
                ),
            ));
        }
    }
    if let Some((now, max_behind)) = opts.max_past {
        let behind = now.nanos_since(ts);
        if behind > max_behind {
            return Err(cx.reject(
                RejectCode::ClockSkew,
                format!(
                    "`ts` {} is {} before the server's clock ({}), more than the {} allowed (`max_past`): check the producer's clock (a reset device clock reads 1970)",
                    ts.to_datetime().to_rfc3339(),
                    span(behind),
                    now.to_rfc3339(),
                    span(max_behind)
                ),
            ));
        }
    }

    let needs_agent = !matches!(canonical, "heartbeat" | "queued" | "abandoned");
    let agent = if needs_agent {
        Some(AgentId::from(cx.text("agent", MAX_AGENT_BYTES, "the agent's id, at most 64 bytes")?))
    } else {
        None
    };

    let protect =
        |raw: Option<&str>| raw.and_then(|n| CallerRef::protect(opts.caller_policy, opts.caller_key, opts.tenant, n));
    let priority = |cx: &Ctx<'_>| -> Result<(bool, Option<String>), Rejection> {
        let p = cx.opt_text("priority", 32)?;
        // ACDs spell it `EMERGENCY` or `Emergency` too: the one value the rules act on is
        // matched without regard to ASCII case or surrounding blanks (a miss would silently
        // switch art. 24 off for that ACD); the value is kept as sent.
        let emergency = p.is_some_and(|p| p.trim().eq_ignore_ascii_case("emergency"));
        Ok((emergency, p.map(str::to_owned)))
    };

    let (kind, known): (EventKind, &[&str]) = match canonical {
        "login" => (
            EventKind::Login {
                station: cx.text("station", MAX_TEXT_BYTES, "the station or extension logged in at")?.to_owned(),
            },
            &["station"],
        ),
        "logout" => (EventKind::Logout, &[]),
        "ready" => (EventKind::Ready, &[]),
        "not_ready" => (EventKind::NotReady { reason: cx.opt_label("reason")?.map(str::to_owned) }, &["reason"]),
        "queued" => {
            let call = cx.call()?;
            let queue = QueueId::from(cx.text("queue", MAX_TEXT_BYTES, "the queue the caller waits in")?);
            let caller = protect(cx.opt_text("caller", MAX_TEXT_BYTES)?);
            let (emergency, priority) = priority(&cx)?;
            (EventKind::Queued { call, queue, caller, emergency, priority }, &["call", "queue", "caller", "priority"])
        }
        "abandoned" => {
            let call = cx.call()?;
            let queue = QueueId::from(cx.text("queue", MAX_TEXT_BYTES, "the queue the caller left")?);
            (EventKind::Abandoned { call, queue }, &["call", "queue"])
        }
        "offered" => {
            let call = cx.call()?;
            let queue = cx.opt_text("queue", MAX_TEXT_BYTES)?.map(QueueId::from);
            let caller = protect(cx.opt_text("caller", MAX_TEXT_BYTES)?);
            let (emergency, priority) = priority(&cx)?;
            (EventKind::Offered { call, queue, caller, emergency, priority }, &["call", "queue", "caller", "priority"])
        }
        "answered" => {
            let call = cx.call()?;
            let rings = match cx.get("rings") {
                None => None,
                Some(Json::Number(n)) => match n.as_u64() {
                    Some(r) if r <= 10_000 => Some(r as u32),
                    _ => {
                        return Err(cx.reject(
                            RejectCode::InvalidField,
                            format!("`rings` must be a whole number from 0 to 10000, got {n}"),
                        ));
                    }
                },
                Some(v) => {
                    return Err(
                        cx.reject(RejectCode::InvalidField, format!("`rings` must be a number, not {}", v.kind()))
                    );
                }
            };
            (EventKind::Answered { call, rings }, &["call", "rings"])
        }
        "missed" => (EventKind::Missed { call: cx.call()? }, &["call"]),
        "ended" => (EventKind::Ended { call: cx.call()? }, &["call"]),
        "wrap_up" => (EventKind::WrapUp { call: cx.opt_call()? }, &["call"]),
        "survey_offered" => (EventKind::SurveyOffered { call: cx.call()? }, &["call"]),
        "transferred" => {
            let call = cx.call()?;
            let to = cx.text("to", MAX_TEXT_BYTES, "where the call went: an agent, queue or number")?.to_owned();
            (EventKind::Transferred { call, to }, &["call", "to"])
        }
        "heartbeat" => (EventKind::Heartbeat, &[]),
        "roster" => {
            let certified = cx.opt_bool("certified")?.ok_or_else(|| {
                cx.missing("certified", "true once the agent passed assessment and the supervisor confirmed it")
            })?;
            let name = cx.opt_label("name")?.map(str::to_owned);
            let active = cx.opt_bool("active")?.unwrap_or(true);
            (EventKind::Roster { certified, name, active }, &["certified", "name", "active"])
        }
        "shift" => {
            let date = cx.date("date")?;
            let hours = if cx.opt_bool("off")?.unwrap_or(false) {
                None
            } else {
                let start = cx.time_of_day("start")?;
                let end = cx.time_of_day("end")?;
                if start == end {
                    return Err(cx.reject(RejectCode::InvalidField, format!("`start` and `end` are both {start}: a shift must have a length (use \"off\": true for a day off)")));
                }
                Some(ShiftHours { start, end })
            };
            (EventKind::Shift { date, hours }, &["date", "start", "end", "off"])
        }
        "leave_approved" => {
            let from = cx.date("from")?;
            let to = cx.date("to")?;
            if to < from {
                return Err(cx.reject(RejectCode::InvalidField, format!("`to` ({to}) is before `from` ({from})")));
            }
            (EventKind::LeaveApproved { from, to, by: cx.by()? }, &["from", "to", "by"])
        }
        "busy_approved" => (EventKind::BusyApproved { until: cx.ts("until")?, by: cx.by()? }, &["until", "by"]),
        "monitored" => (EventKind::Monitored { call: cx.opt_call()?, by: cx.by()? }, &["call", "by"]),
        "callback_sampled" => (EventKind::CallbackSampled { call: cx.opt_call()?, by: cx.by()? }, &["call", "by"]),
        "callback_promised" => (EventKind::CallbackPromised { call: cx.call()?, due: cx.ts("due")? }, &["call", "due"]),
        "callback_done" => (EventKind::CallbackDone { call: cx.call()? }, &["call"]),
        "escalated" => (EventKind::Escalated { call: cx.call()? }, &["call"]),
        other => {
            return Err(
                cx.reject(RejectCode::UnknownType, format!("unknown event type {other:?}; known types: {KNOWN_TYPES}"))
            );
        }
    };

    let is_known = |k: &str| matches!(k, "id" | "type" | "ts") || (needs_agent && k == "agent") || known.contains(&k);
    let extra = if obj.iter().all(|(k, _)| is_known(k)) {
        None
    } else {
        // Sorted by key (the last of a repeated key wins), compact. A `caller` on a type
        // that does not use it is customer data all the same: stored as the tenant's
        // policy says (hashed by default, dropped with `drop`), never verbatim.
        let rest: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| !is_known(k))
            .filter_map(|(k, v)| {
                let v = v.to_value();
                if k != "caller" {
                    return Some((k.to_owned(), v));
                }
                let raw = match &v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let stored = CallerRef::protect(opts.caller_policy, opts.caller_key, opts.tenant, &raw)?;
                Some((k.to_owned(), Value::String(stored.to_text())))
            })
            .collect();
        (!rest.is_empty()).then(|| Value::Object(rest).to_string())
    };

    Ok(Event { id: Text::from(id), ts, agent, kind, extra })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(key: &CallerKey) -> IngestOptions<'_> {
        IngestOptions::any_time("acme", CallerPolicy::Hmac, key)
    }

    fn check(v: Value) -> Result<Event, Rejection> {
        let key = CallerKey([7; 32]);
        validate_event(&Json::from_value(&v), 0, &opts(&key))
    }

    #[test]
    fn login_needs_station_with_the_contracts_message() {
        let r = check(json!({"id":"e-4","type":"login","ts":"2026-03-02T08:20:00+08:00","agent":"a1"})).unwrap_err();
        assert_eq!(r.code, RejectCode::MissingField);
        assert_eq!(r.id.as_deref(), Some("e-4"));
        assert!(r.message.contains("`login` needs `station`"), "{}", r.message);
    }

    #[test]
    fn a_well_formed_time_out_of_range_is_said_to_be_out_of_range() {
        let r = check(json!({"id":"1","type":"ready","ts":"9999-12-31T23:59:59Z","agent":"a1"})).unwrap_err();
        assert_eq!(r.code, RejectCode::InvalidField);
        assert!(r.message.contains("outside the range Seatwatch stores (1677-09-21 to 2262-04-11"), "{}", r.message);
        let r = check(json!({"id":"1","type":"ready","ts":"2026-13-01T00:00:00Z","agent":"a1"})).unwrap_err();
        assert!(r.message.contains("must be an RFC 3339 time with an offset"), "{}", r.message);
        assert!(check(json!({"id":"1","type":"ready","ts":"2262-04-11T23:47:16Z","agent":"a1"})).is_ok());
    }

    #[test]
    fn emergency_priority_is_matched_in_any_case_and_kept_as_sent() {
        for (sent, emergency) in
            [("emergency", true), ("EMERGENCY", true), ("Emergency", true), (" emergency ", true), ("vip", false)]
        {
            let e = check(json!({"id":"1","type":"offered","ts":"2026-03-02T08:20:00+08:00","agent":"a1","call":"c1","priority":sent}))
                .unwrap();
            let EventKind::Offered { emergency: got, priority, .. } = e.kind else { panic!("{e:?}") };
            assert_eq!((got, priority.as_deref()), (emergency, Some(sent)), "{sent:?}");
        }
    }

    #[test]
    fn busy_is_an_alias_of_not_ready() {
        let e = check(json!({"id":"1","type":"busy","ts":"2026-03-02T08:20:00+08:00","agent":"a1","reason":"lunch"}))
            .unwrap();
        assert_eq!(e.kind, EventKind::NotReady { reason: Some("lunch".into()) });
        // No reason selected: an empty reason is none, not a bad event.
        let e = check(json!({"id":"2","type":"not_ready","ts":"2026-03-02T08:20:00+08:00","agent":"a1","reason":""}))
            .unwrap();
        assert_eq!(e.kind, EventKind::NotReady { reason: None });
    }

    #[test]
    fn unknown_fields_are_kept_sorted_and_compact() {
        let e = check(
            json!({"id":"1","type":"ready","ts":"2026-03-02T08:20:00+08:00","agent":"a1","zeta":1,"alpha":{"x":[1,2]}}),
        )
        .unwrap();
        assert_eq!(e.extra.as_deref(), Some(r#"{"alpha":{"x":[1,2]},"zeta":1}"#));
    }

    #[test]
    fn a_caller_on_any_other_type_is_stored_as_the_policy_says() {
        let key = CallerKey([7; 32]);
        let number = "+8613800138000";
        for (ty, extra) in [
            ("answered", json!({"call":"c1"})),
            ("abandoned", json!({"call":"c1","queue":"q"})),
            ("ended", json!({"call":"c1"})),
            ("callback_promised", json!({"call":"c1","due":"2026-03-02T10:00:00+08:00"})),
        ] {
            let mut v =
                json!({"id":"1","type":ty,"ts":"2026-03-02T08:20:00+08:00","agent":"a1","caller":number,"note":"x"});
            if ty == "abandoned" {
                v.as_object_mut().unwrap().remove("agent");
            }
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            let hashed = validate_event(&Json::from_value(&v), 0, &opts(&key)).unwrap();
            let stored = hashed.extra.unwrap_or_default();
            assert!(!stored.contains("13800138000") && stored.contains("\"caller\":\"hmac-sha256:"), "{ty}: {stored}");
            assert!(stored.contains("\"note\":\"x\""), "{ty}: {stored}");
            let dropped = IngestOptions::any_time("acme", CallerPolicy::Drop, &key);
            let stored = validate_event(&Json::from_value(&v), 0, &dropped).unwrap().extra.unwrap_or_default();
            assert_eq!(stored, r#"{"note":"x"}"#, "{ty}");
            let plain = IngestOptions::any_time("acme", CallerPolicy::Plain, &key);
            let stored = validate_event(&Json::from_value(&v), 0, &plain).unwrap().extra.unwrap_or_default();
            assert!(stored.contains(number), "{ty}: {stored}");
        }
        // A number given as a JSON number is hashed too; a caller alone under `drop`
        // leaves no extra fields at all.
        let v = json!({"id":"1","type":"ended","ts":"2026-03-02T08:20:00+08:00","agent":"a1","call":"c1","caller":8613800138000u64});
        let stored = validate_event(&Json::from_value(&v), 0, &opts(&key)).unwrap().extra.unwrap_or_default();
        assert!(!stored.contains("13800138000") && stored.contains("hmac-sha256:"), "{stored}");
        let dropped = IngestOptions::any_time("acme", CallerPolicy::Drop, &key);
        assert_eq!(validate_event(&Json::from_value(&v), 0, &dropped).unwrap().extra, None);
    }

    #[test]
    fn caller_never_stored_in_clear_by_default() {
        let e = check(json!({"id":"1","type":"queued","ts":"2026-03-02T08:20:00+08:00","call":"c1","queue":"sales","caller":"+8613800138000"})).unwrap();
        let EventKind::Queued { caller: Some(CallerRef::Hmac(_)), .. } = e.kind else { panic!("{e:?}") };
        assert!(!format!("{e:?}").contains("13800138000"));
    }

    #[test]
    fn validating_a_frame_of_ordinary_events_allocates_per_frame_not_per_field() {
        // Two events of every string field an ordinary call event has. Parsed into
        // `serde_json::Value` this took ~30 allocations (a `String` per key and per
        // value, a B-tree per object); now: the frame's vector and one field vector per
        // event.
        let text = r#"[{"id":"e-1042","type":"offered","ts":"2026-03-02T09:15:02.125+08:00","agent":"a017","call":"c-99812","queue":"billing","caller":"+8613800138000"},
                       {"id":"e-1043","type":"answered","ts":"2026-03-02T09:15:09+08:00","agent":"a017","call":"c-99812","rings":2}]"#;
        let key = CallerKey([7; 32]);
        let o = opts(&key);
        let mut events = Vec::with_capacity(2);
        let info = allocation_counter::measure(|| {
            let frame = parse_frame(text).unwrap();
            for (i, item) in frame.items.iter().enumerate() {
                events.push(validate_event(item, i, &o).unwrap());
            }
        });
        assert_eq!(events.len(), 2);
        assert!(matches!(&events[1].kind, EventKind::Answered { call, rings: Some(2) } if call == "c-99812"));
        assert!(info.count_total <= 3, "{info:?}");
    }

    #[test]
    fn tick_is_not_a_producer_type() {
        let r = check(json!({"id":"1","type":"tick","ts":"2026-03-02T08:20:00+08:00"})).unwrap_err();
        assert_eq!(r.code, RejectCode::UnknownType);
    }

    #[test]
    fn frame_limits() {
        assert_eq!(parse_frame("[1,").unwrap_err().code, RejectCode::MalformedJson);
        assert_eq!(parse_frame("42").unwrap_err().code, RejectCode::MalformedJson);
        let big = format!("[{}]", vec!["{}"; 1001].join(","));
        let r = parse_frame(&big).unwrap_err();
        assert_eq!((r.code, r.index), (RejectCode::TooManyEvents, None));
        assert_eq!(parse_frame(&format!("[{}]", vec!["{}"; 1000].join(","))).unwrap().items.len(), 1000);
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse_frame(&deep).unwrap_err().code, RejectCode::MalformedJson);
    }

    #[test]
    fn clock_skew_only_beyond_the_limit() {
        let key = CallerKey([7; 32]);
        let now = Ts::parse_rfc3339("2026-03-02T08:00:00Z").unwrap();
        let o = IngestOptions { max_future: Some((now, 300 * 1_000_000_000)), ..opts(&key) };
        let ok = json!({"id":"1","type":"heartbeat","ts":"2026-03-02T08:05:00Z"});
        let bad = json!({"id":"1","type":"heartbeat","ts":"2026-03-02T08:05:01Z"});
        assert!(validate_event(&Json::from_value(&ok), 0, &o).is_ok());
        assert_eq!(validate_event(&Json::from_value(&bad), 0, &o).unwrap_err().code, RejectCode::ClockSkew);
    }

    #[test]
    fn a_stamp_too_far_in_the_past_is_clock_skew() {
        let key = CallerKey([7; 32]);
        let now = Ts::parse_rfc3339("2026-03-02T08:00:00Z").unwrap();
        let day = 86_400 * 1_000_000_000;
        let o = IngestOptions { max_past: Some((now, 3650 * day)), ..opts(&key) };
        let ok = json!({"id":"1","type":"heartbeat","ts":"2016-03-04T08:00:00Z"});
        let epoch = json!({"id":"1","type":"login","agent":"a","station":"s","ts":"1970-01-01T00:00:00Z"});
        assert!(validate_event(&Json::from_value(&ok), 0, &o).is_ok());
        let r = validate_event(&Json::from_value(&epoch), 0, &o).unwrap_err();
        assert_eq!(r.code, RejectCode::ClockSkew);
        assert!(r.message.contains("20514 days before") && r.message.contains("`max_past`"), "{}", r.message);
        let far = json!({"id":"1","type":"heartbeat","ts":"2036-03-02T08:00:00Z"});
        let o = IngestOptions { max_future: Some((now, 1830 * day)), ..opts(&key) };
        let r = validate_event(&Json::from_value(&far), 0, &o).unwrap_err();
        assert!(r.message.contains("3653 days ahead") && r.message.contains("1830 days allowed"), "{}", r.message);
    }
}
