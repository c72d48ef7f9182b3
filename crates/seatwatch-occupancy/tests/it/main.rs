//! Integration tests of the occupancy projector through its public API.

mod golden;
mod props;

use seatwatch_model::{AgentId, CallId, Envelope, Event, EventKind, Projector, QueueId, Ts};
use seatwatch_occupancy::{Occupancy, TenantSettings};
use std::collections::BTreeMap;

/// 2026-03-02 (a Monday) at `hms` in Shanghai.
pub fn at(hms: &str) -> Ts {
    Ts::parse_rfc3339(&format!("2026-03-02T{hms}+08:00")).expect("test time")
}

/// A log being written and folded as it goes.
#[derive(Debug)]
pub struct Log {
    pub tenant: String,
    pub occ: Occupancy,
    pub records: Vec<Envelope>,
}

impl Log {
    pub fn new(tenant: &str) -> Self {
        Log {
            tenant: tenant.into(),
            occ: Occupancy::new(TenantSettings::default(), BTreeMap::new()),
            records: Vec::new(),
        }
    }

    pub fn push(&mut self, hms: &str, agent: Option<&str>, kind: EventKind) {
        let seq = self.records.len() as u64 + 1;
        let env = Envelope {
            seq,
            tenant: self.tenant.clone().into(),
            source: "acd".into(),
            received: at(hms),
            event: Event {
                id: format!("e{seq}").into(),
                ts: at(hms),
                agent: agent.map(AgentId::from),
                kind,
                extra: None,
            },
        };
        self.occ.apply(&env);
        self.records.push(env);
    }

    pub fn login(&mut self, hms: &str, a: &str, station: &str) {
        self.push(hms, Some(a), EventKind::Login { station: station.into() });
    }
    pub fn logout(&mut self, hms: &str, a: &str) {
        self.push(hms, Some(a), EventKind::Logout);
    }
    pub fn ready(&mut self, hms: &str, a: &str) {
        self.push(hms, Some(a), EventKind::Ready);
    }
    pub fn not_ready(&mut self, hms: &str, a: &str, reason: Option<&str>) {
        self.push(hms, Some(a), EventKind::NotReady { reason: reason.map(str::to_owned) });
    }
    pub fn queued(&mut self, hms: &str, c: &str, q: &str) {
        let kind = EventKind::Queued {
            call: CallId::from(c),
            queue: QueueId::from(q),
            caller: None,
            emergency: false,
            priority: None,
        };
        self.push(hms, None, kind);
    }
    pub fn abandoned(&mut self, hms: &str, c: &str, q: &str) {
        self.push(hms, None, EventKind::Abandoned { call: CallId::from(c), queue: QueueId::from(q) });
    }
    pub fn offered(&mut self, hms: &str, a: &str, c: &str, q: Option<&str>) {
        let kind = EventKind::Offered {
            call: CallId::from(c),
            queue: q.map(QueueId::from),
            caller: None,
            emergency: false,
            priority: None,
        };
        self.push(hms, Some(a), kind);
    }
    pub fn answered(&mut self, hms: &str, a: &str, c: &str) {
        self.push(hms, Some(a), EventKind::Answered { call: CallId::from(c), rings: None });
    }
    pub fn missed(&mut self, hms: &str, a: &str, c: &str) {
        self.push(hms, Some(a), EventKind::Missed { call: CallId::from(c) });
    }
    pub fn ended(&mut self, hms: &str, a: &str, c: &str) {
        self.push(hms, Some(a), EventKind::Ended { call: CallId::from(c) });
    }
    pub fn transferred(&mut self, hms: &str, a: &str, c: &str) {
        self.push(hms, Some(a), EventKind::Transferred { call: CallId::from(c), to: "2001".into() });
    }
    pub fn heartbeat(&mut self, hms: &str) {
        self.push(hms, None, EventKind::Heartbeat);
    }
}
