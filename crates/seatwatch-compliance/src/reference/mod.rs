//! The compliance projector as it was before its state was compacted and its deadlines
//! indexed (commit "compliance: frozen reference implementation"), kept frozen for the
//! differential tests below: the optimised [`crate::Compliance`] must raise, clear and
//! push exactly the same alarms, report the same deadlines and watermarks and write
//! byte-identical snapshots for every log, including late, out-of-order and repeated
//! events, reused call ids and logs spanning many days (the daily prune).
//!
//! Test code only: nothing outside `#[cfg(test)]` uses it.

mod hmap;
mod tenant;

use crate::{Alarm, AlarmChange, AlarmQuery, Rule, TenantSettings};
use seatwatch_model::{BINCODE_CONFIG, Envelope, Projector, Ts};
use std::collections::BTreeMap;
use tenant::{Cx, TenantState};

/// `Compliance` of the reference implementation (only what the tests compare).
#[derive(Clone, Debug)]
pub(crate) struct Reference {
    default: TenantSettings,
    per_tenant: BTreeMap<String, TenantSettings>,
    tenants: BTreeMap<String, TenantState>,
    position: u64,
    outbox: Vec<AlarmChange>,
}

#[derive(bincode::Encode, bincode::Decode)]
struct SnapshotBody {
    position: u64,
    tenants: BTreeMap<String, TenantState>,
}

impl Reference {
    pub(crate) fn new(default: TenantSettings, per_tenant: BTreeMap<String, TenantSettings>) -> Self {
        Reference { default, per_tenant, tenants: BTreeMap::new(), position: 0, outbox: Vec::new() }
    }

    pub(crate) fn alarms(&self, tenant: &str, q: &AlarmQuery) -> Vec<Alarm> {
        let Some(t) = self.tenants.get(tenant) else { return Vec::new() };
        let lower = q.from.map_or(i64::MIN, |f| f.nanos);
        t.alarms
            .range((lower, String::new())..)
            .map(|(_, a)| a)
            .take_while(|a| q.to.is_none_or(|to| a.raised_at < to))
            .filter(|a| q.matches(a))
            .cloned()
            .collect()
    }

    pub(crate) fn take_changes(&mut self) -> Vec<AlarmChange> {
        std::mem::take(&mut self.outbox)
    }

    pub(crate) fn active_counts(&self, tenant: &str) -> BTreeMap<Rule, u64> {
        let mut m: BTreeMap<Rule, u64> = Rule::ALL.iter().map(|r| (*r, 0)).collect();
        if let Some(t) = self.tenants.get(tenant) {
            m.extend(t.active.iter().map(|(r, n)| (*r, *n)));
        }
        m
    }

    pub(crate) fn raised_counts(&self, tenant: &str) -> BTreeMap<Rule, u64> {
        let mut m: BTreeMap<Rule, u64> = Rule::ALL.iter().map(|r| (*r, 0)).collect();
        if let Some(t) = self.tenants.get(tenant) {
            m.extend(t.raised.iter().map(|(r, n)| (*r, *n)));
        }
        m
    }

    pub(crate) fn next_deadline(&self, tenant: &str) -> Option<Ts> {
        self.tenants.get(tenant)?.deadlines.first().map(|(due, _)| Ts::from_nanos(*due))
    }

    pub(crate) fn watermark(&self, tenant: &str) -> Option<Ts> {
        self.tenants.get(tenant)?.clock.0.watermark()
    }

    pub(crate) fn snapshot(&self) -> Vec<u8> {
        let body = SnapshotBody { position: self.position, tenants: self.tenants.clone() };
        let mut out = vec![crate::SNAPSHOT_VERSION];
        if let Ok(bytes) = bincode::encode_to_vec(&body, BINCODE_CONFIG) {
            out.extend(bytes);
        }
        out
    }
}

impl Projector for Reference {
    fn apply(&mut self, env: &Envelope) {
        if self.position != 0 && env.seq <= self.position {
            return;
        }
        self.position = env.seq;
        let Reference { default, per_tenant, tenants, outbox, .. } = self;
        let s = per_tenant.get(env.tenant.as_str()).unwrap_or(default);
        if !tenants.contains_key(env.tenant.as_str()) {
            tenants.insert(env.tenant.to_string(), TenantState::new(s));
        }
        let Some(t) = tenants.get_mut(env.tenant.as_str()) else { return };
        let mut cx = Cx { s, tenant: &env.tenant, out: outbox, record: true, seq: env.seq };
        t.apply(&mut cx, env);
    }

    fn position(&self) -> u64 {
        self.position
    }
}

mod tests;
