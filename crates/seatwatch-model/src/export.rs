//! Events back to the contract's JSON, for `seatwatch export` and round-trip tests.

use crate::{Envelope, Event, EventKind};
use serde_json::{Map, Value, json};

impl Event {
    /// The event as a producer would have sent it (the contract's field names), with the
    /// unknown extra fields merged back in. `caller` appears in its stored form (a keyed
    /// hash unless the tenant stores numbers in clear). Ticks come out as `"type": "tick"`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(Value::Object(extra)) = self.extra.as_deref().and_then(|s| serde_json::from_str(s).ok()) {
            m.extend(extra);
        }
        m.insert("id".into(), json!(self.id));
        m.insert("type".into(), json!(self.kind.type_name()));
        m.insert("ts".into(), json!(self.ts.to_datetime().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
        if let Some(a) = &self.agent {
            m.insert("agent".into(), json!(a.as_str()));
        }
        let mut put = |k: &str, v: Value| {
            m.insert(k.into(), v);
        };
        match &self.kind {
            EventKind::Login { station } => put("station", json!(station)),
            EventKind::NotReady { reason: Some(r) } => put("reason", json!(r)),
            EventKind::Queued { call, queue, caller, priority, .. } => {
                put("call", json!(call.as_str()));
                put("queue", json!(queue.as_str()));
                if let Some(c) = caller {
                    put("caller", json!(c.to_text()));
                }
                if let Some(p) = priority {
                    put("priority", json!(p));
                }
            }
            EventKind::Abandoned { call, queue } => {
                put("call", json!(call.as_str()));
                put("queue", json!(queue.as_str()));
            }
            EventKind::Offered { call, queue, caller, priority, .. } => {
                put("call", json!(call.as_str()));
                if let Some(q) = queue {
                    put("queue", json!(q.as_str()));
                }
                if let Some(c) = caller {
                    put("caller", json!(c.to_text()));
                }
                if let Some(p) = priority {
                    put("priority", json!(p));
                }
            }
            EventKind::Answered { call, rings } => {
                put("call", json!(call.as_str()));
                if let Some(r) = rings {
                    put("rings", json!(r));
                }
            }
            EventKind::Missed { call }
            | EventKind::Ended { call }
            | EventKind::SurveyOffered { call }
            | EventKind::CallbackDone { call }
            | EventKind::Escalated { call } => put("call", json!(call.as_str())),
            EventKind::WrapUp { call: Some(call) } => put("call", json!(call.as_str())),
            EventKind::Transferred { call, to } => {
                put("call", json!(call.as_str()));
                put("to", json!(to));
            }
            EventKind::Roster { certified, name, active } => {
                put("certified", json!(certified));
                if let Some(n) = name {
                    put("name", json!(n));
                }
                put("active", json!(active));
            }
            EventKind::Shift { date, hours } => {
                put("date", json!(date.to_string()));
                match hours {
                    None => put("off", json!(true)),
                    Some(h) => {
                        put("start", json!(h.start.to_string()));
                        put("end", json!(h.end.to_string()));
                    }
                }
            }
            EventKind::LeaveApproved { from, to, by } => {
                put("from", json!(from.to_string()));
                put("to", json!(to.to_string()));
                put("by", json!(by));
            }
            EventKind::BusyApproved { until, by } => {
                put("until", json!(until.to_datetime().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
                put("by", json!(by));
            }
            EventKind::Monitored { call, by } | EventKind::CallbackSampled { call, by } => {
                if let Some(c) = call {
                    put("call", json!(c.as_str()));
                }
                put("by", json!(by));
            }
            EventKind::CallbackPromised { call, due } => {
                put("call", json!(call.as_str()));
                put("due", json!(due.to_datetime().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
            }
            EventKind::Logout
            | EventKind::Ready
            | EventKind::NotReady { reason: None }
            | EventKind::WrapUp { call: None }
            | EventKind::Heartbeat
            | EventKind::Tick => {}
        }
        Value::Object(m)
    }
}

impl Envelope {
    /// One line of `seatwatch export`: the log position and provenance, then the event.
    pub fn to_export_json(&self) -> Value {
        json!({
            "seq": self.seq,
            "tenant": self.tenant,
            "source": self.source,
            "received": self.received.to_rfc3339(),
            "event": self.event.to_json(),
        })
    }

    /// [`Envelope::to_export_json`] with the record's chain `link` (hex): the head hash
    /// of the log as it was at this seq. What `seatwatch export` and `GET /v1/log` print.
    pub fn to_export_json_linked(&self, link: &[u8; 32]) -> Value {
        let mut json = self.to_export_json();
        if let Some(obj) = json.as_object_mut() {
            obj.insert("link".into(), Value::String(hex::encode(link)));
        }
        json
    }
}
