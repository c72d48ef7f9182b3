//! Envelope builders shared by the integration tests.

use seatwatch_model::{AgentId, CallId, Date, Envelope, Event, EventKind, ShiftHours, TimeOfDay, Ts};

/// Build a log: seqs from 1, timestamps in a fixed local offset.
pub struct Builder {
    pub tenant: String,
    pub offset: String,
    pub records: Vec<Envelope>,
}

pub fn ts(s: &str, offset: &str) -> Ts {
    let full = if s.ends_with('Z') || s[10..].contains('+') { s.to_owned() } else { format!("{s}{offset}") };
    Ts::parse_rfc3339(&full).unwrap_or_else(|| panic!("bad ts {full}"))
}

impl Builder {
    pub fn new(tenant: &str, offset: &str) -> Self {
        Builder { tenant: tenant.into(), offset: offset.into(), records: Vec::new() }
    }

    pub fn ev(&mut self, at: &str, agent: Option<&str>, kind: EventKind) -> u64 {
        let t = ts(at, &self.offset);
        self.push(t, agent, kind)
    }

    pub fn push(&mut self, t: Ts, agent: Option<&str>, kind: EventKind) -> u64 {
        let seq = self.records.len() as u64 + 1;
        self.records.push(Envelope {
            seq,
            tenant: self.tenant.clone().into(),
            source: "acd".into(),
            received: t,
            event: Event { id: format!("e{seq}").into(), ts: t, agent: agent.map(AgentId::from), kind, extra: None },
        });
        seq
    }

    pub fn login(&mut self, at: &str, a: &str, station: &str) -> u64 {
        self.ev(at, Some(a), EventKind::Login { station: station.into() })
    }
    pub fn logout(&mut self, at: &str, a: &str) -> u64 {
        self.ev(at, Some(a), EventKind::Logout)
    }
    pub fn ready(&mut self, at: &str, a: &str) -> u64 {
        self.ev(at, Some(a), EventKind::Ready)
    }
    pub fn not_ready(&mut self, at: &str, a: &str, reason: &str) -> u64 {
        self.ev(at, Some(a), EventKind::NotReady { reason: Some(reason.into()) })
    }
    pub fn heartbeat(&mut self, at: &str) -> u64 {
        self.ev(at, None, EventKind::Heartbeat)
    }
    pub fn offered(&mut self, at: &str, a: &str, call: &str) -> u64 {
        let kind = EventKind::Offered {
            call: CallId::from(call),
            queue: None,
            caller: None,
            emergency: false,
            priority: None,
        };
        self.ev(at, Some(a), kind)
    }
    pub fn answered(&mut self, at: &str, a: &str, call: &str) -> u64 {
        self.ev(at, Some(a), EventKind::Answered { call: CallId::from(call), rings: None })
    }
    pub fn ended(&mut self, at: &str, a: &str, call: &str) -> u64 {
        self.ev(at, Some(a), EventKind::Ended { call: CallId::from(call) })
    }
    pub fn survey(&mut self, at: &str, a: &str, call: &str) -> u64 {
        self.ev(at, Some(a), EventKind::SurveyOffered { call: CallId::from(call) })
    }
    pub fn roster(&mut self, at: &str, a: &str, certified: bool) -> u64 {
        self.ev(at, Some(a), EventKind::Roster { certified, name: None, active: true })
    }
    pub fn shift(&mut self, at: &str, a: &str, date: &str, hours: Option<(&str, &str)>) -> u64 {
        let hours = hours.map(|(s, e)| ShiftHours {
            start: TimeOfDay::parse(s).unwrap_or(TimeOfDay(0)),
            end: TimeOfDay::parse(e).unwrap_or(TimeOfDay(0)),
        });
        self.ev(at, Some(a), EventKind::Shift { date: Date::parse(date).unwrap_or(Date(0)), hours })
    }
}
