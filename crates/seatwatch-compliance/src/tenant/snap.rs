//! [`TenantState`]'s snapshot encoding: byte for byte that of the state before its
//! bookkeeping was compacted (format version 1), when the agents, the calls, the call
//! legs and the deadline keys were maps and sets keyed by copies of the ids. A map
//! encodes as its length and its pairs in key order, so the compact stores write their
//! entries sorted by the old keys, in the old types below; decoding reads the old types
//! and builds the stores. Equality of two states is equality of their encodings.
//! (Format version 3 added the pending duplicate logins after `duplicates`, a map by
//! the login's seq, and the `Duplicate` deadline key.)

use super::{Agents, CallBook, CallInfo, ClockState, Deadline, TenantState, TimeMemo, Timers};
use crate::Alarm;
use crate::Rule;
use crate::alarm::AlarmBook;
use crate::book::Leg;
use crate::hmap::HMap;
use crate::local::Month;
use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};
use seatwatch_model::{AgentId, BINCODE_CONFIG, CallId, Date};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A deadline key as encoded: the agent by its id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Encode, Decode)]
enum DKey {
    Roster { month: Month },
    QaWeek { monday: Date },
    Absent { agent: AgentId, date: Date },
    NotReady { agent: AgentId },
    WrapUp { agent: AgentId },
    Callback { agent: AgentId, call: CallId, seq: u64 },
    Emergency { agent: AgentId, call: CallId, seq: u64 },
    Duplicate { seq: u64 },
}

/// A call's entry as encoded.
#[derive(Encode, Decode)]
struct CallInfoS {
    last: i64,
    emergency: Option<u64>,
    escalated: bool,
    survey: bool,
    armed: bool,
    pending: Vec<(i64, DKey)>,
}

/// A call leg as encoded (keyed by `(call, agent)`).
#[derive(Encode, Decode)]
struct LegS {
    last: i64,
    offered: Option<(i64, u64)>,
    ready_at_offer: bool,
    answered: Option<u64>,
    transferred: bool,
    ended: bool,
}

fn old_key(agents: &Agents<super::AgentSt, Deadline>, k: &super::DKey) -> DKey {
    let id = |a: &crate::book::AgentRef| agents.slot(a.ix).id.clone();
    match k {
        super::DKey::Roster { month } => DKey::Roster { month: *month },
        super::DKey::QaWeek { monday } => DKey::QaWeek { monday: *monday },
        super::DKey::Absent { agent, date } => DKey::Absent { agent: id(agent), date: *date },
        super::DKey::NotReady { agent } => DKey::NotReady { agent: id(agent) },
        super::DKey::WrapUp { agent } => DKey::WrapUp { agent: id(agent) },
        super::DKey::Callback { agent, call, seq } => {
            DKey::Callback { agent: id(agent), call: (**call).clone(), seq: *seq }
        }
        super::DKey::Emergency { agent, call, seq } => {
            DKey::Emergency { agent: id(agent), call: (**call).clone(), seq: *seq }
        }
        super::DKey::Duplicate { seq } => DKey::Duplicate { seq: *seq },
    }
}

fn unknown(what: &str, agent: &AgentId) -> DecodeError {
    DecodeError::OtherString(format!("compliance snapshot: {what} of agent {agent:?}, who is not in the snapshot"))
}

fn new_key(agents: &Agents<super::AgentSt, Deadline>, k: DKey) -> Result<super::DKey, DecodeError> {
    let aref =
        |a: &AgentId| agents.find(a).map(|ix| agents.slot(ix).aref.clone()).ok_or_else(|| unknown("a deadline", a));
    Ok(match k {
        DKey::Roster { month } => super::DKey::Roster { month },
        DKey::QaWeek { monday } => super::DKey::QaWeek { monday },
        DKey::Absent { agent, date } => super::DKey::Absent { agent: aref(&agent)?, date },
        DKey::NotReady { agent } => super::DKey::NotReady { agent: aref(&agent)? },
        DKey::WrapUp { agent } => super::DKey::WrapUp { agent: aref(&agent)? },
        DKey::Callback { agent, call, seq } => {
            super::DKey::Callback { agent: aref(&agent)?, call: Box::new(call), seq }
        }
        DKey::Emergency { agent, call, seq } => {
            super::DKey::Emergency { agent: aref(&agent)?, call: Box::new(call), seq }
        }
        DKey::Duplicate { seq } => super::DKey::Duplicate { seq },
    })
}

/// Encode `len` then the items, as a map or set of `len` entries encodes.
fn encode_seq<E: Encoder, T: Encode>(e: &mut E, items: &[T]) -> Result<(), EncodeError> {
    (items.len() as u64).encode(e)?;
    for x in items {
        x.encode(e)?;
    }
    Ok(())
}

impl Encode for TenantState {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        self.clock.encode(e)?;
        let agents: Vec<(&AgentId, &super::AgentSt)> =
            self.agents.sorted().into_iter().map(|s| (&s.id, &s.st)).collect();
        encode_seq(e, &agents)?;
        self.roster.encode(e)?;
        self.has_roster.encode(e)?;
        self.has_shift.encode(e)?;
        self.shift_months.encode(e)?;
        self.roster_active.encode(e)?;
        self.stations.encode(e)?;
        self.duplicates.encode(e)?;
        // A map by seq: the length, then the pairs in seq order.
        self.dup_pending.encode(e)?;
        self.attendance.encode(e)?;
        self.att_alarms.encode(e)?;

        let mut calls: Vec<(&str, &CallInfo<Deadline>)> =
            self.calls.slots().filter_map(|s| s.info().map(|i| (s.id(), i))).collect();
        calls.sort_unstable_by(|a, b| a.0.cmp(b.0));
        (calls.len() as u64).encode(e)?;
        for (id, i) in calls {
            id.encode(e)?;
            let pending: Vec<(i64, DKey)> = i.pending.iter().map(|(d, k)| (*d, old_key(&self.agents, k))).collect();
            CallInfoS {
                last: i.last,
                emergency: i.emergency,
                escalated: i.escalated,
                survey: i.survey,
                armed: i.armed,
                pending,
            }
            .encode(e)?;
        }

        let mut legs: Vec<(&str, &AgentId, &Leg)> = self
            .calls
            .slots()
            .flat_map(|s| s.legs().map(move |l| (s.id(), &self.agents.slot(l.agent).id, l)))
            .collect();
        legs.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        (legs.len() as u64).encode(e)?;
        for (call, agent, l) in legs {
            call.encode(e)?;
            agent.encode(e)?;
            let (last, offered, ready_at_offer, answered, transferred, ended) = l.parts();
            LegS { last, offered, ready_at_offer, answered, transferred, ended }.encode(e)?;
        }

        self.survey_active.encode(e)?;
        self.callback_active.encode(e)?;
        self.emergency_active.encode(e)?;
        self.weeks.encode(e)?;
        // The set's order is the old keys' order (agents compare by id).
        let mut pending: Vec<&Deadline> = self.deadlines.fixed.iter().collect();
        pending.extend(self.agents.slots().flat_map(|slot| slot.own.iter()));
        pending.sort_unstable();
        let deadlines: Vec<(i64, DKey)> = pending.into_iter().map(|(d, k)| (*d, old_key(&self.agents, k))).collect();
        encode_seq(e, &deadlines)?;
        self.alarms.encode(&self.name, e)?;
        self.raised.encode(e)?;
        self.active.encode(e)?;
        self.pruned_day.encode(e)?;
        self.memo.encode(e)
    }
}

impl<C> Decode<C> for TenantState {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        let clock = ClockState::decode(d)?;
        let agent_map = BTreeMap::<AgentId, super::AgentSt>::decode(d)?;
        let roster = Decode::decode(d)?;
        let has_roster = Decode::decode(d)?;
        let has_shift = Decode::decode(d)?;
        let shift_months = Decode::decode(d)?;
        let roster_active = Decode::decode(d)?;
        let stations = Decode::decode(d)?;
        let duplicates = HMap::decode(d)?;
        let dup_pending: Vec<(u64, super::PendingDup)> = Decode::decode(d)?;
        if dup_pending.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(DecodeError::OtherString("compliance snapshot: pending duplicate logins out of order".into()));
        }
        let attendance = Decode::decode(d)?;
        let att_alarms = Decode::decode(d)?;
        let call_map = BTreeMap::<CallId, CallInfoS>::decode(d)?;
        let leg_map = BTreeMap::<(CallId, AgentId), LegS>::decode(d)?;
        let survey_active = HMap::decode(d)?;
        let callback_active = HMap::decode(d)?;
        let emergency_active = HMap::decode(d)?;
        let weeks = Decode::decode(d)?;
        let deadline_set = BTreeSet::<(i64, DKey)>::decode(d)?;
        let alarm_map: BTreeMap<(i64, String), Alarm> = Decode::decode(d)?;
        let alarm_index: BTreeMap<String, i64> = Decode::decode(d)?;
        let raised: BTreeMap<Rule, u64> = Decode::decode(d)?;
        let active = Decode::decode(d)?;
        let pruned_day = Decode::decode(d)?;
        let memo = TimeMemo::decode(d)?;

        let mut agents = Agents::default();
        for (id, st) in agent_map {
            let ix = agents.intern(&id);
            agents.slot_mut(ix).st = st;
        }
        let mut deadlines = Timers::default();
        for (due, k) in deadline_set {
            let k = new_key(&agents, k)?;
            match k.agent() {
                Some(a) => agents.slot_mut(a.ix).own.push((due, k.clone())),
                None => {
                    deadlines.fixed.insert((due, k.clone()));
                }
            }
            deadlines.live += 1;
            deadlines.heap.push(Reverse((due, k)));
        }
        // The tenant's name is in every alarm; `Compliance::restore` sets it anyway.
        let name: Arc<str> = Arc::from(alarm_map.values().next().map_or("", |a| a.tenant.as_str()));
        let alarms = AlarmBook::from_decoded(alarm_map, &alarm_index, |a| match agents.find(&AgentId::from(a)) {
            Some(ix) => agents.slot(ix).aref.name().clone(),
            None => Arc::from(a),
        })
        .map_err(|m| DecodeError::OtherString(format!("compliance snapshot: {m}")))?;
        let mut calls = CallBook::default();
        for (id, i) in call_map {
            let pending =
                i.pending.into_iter().map(|(d, k)| Ok((d, new_key(&agents, k)?))).collect::<Result<_, _>>()?;
            let info = CallInfo {
                last: i.last,
                emergency: i.emergency,
                escalated: i.escalated,
                survey: i.survey,
                armed: i.armed,
                pending,
            };
            calls.insert_info(id.as_str(), info);
        }
        for ((call, agent), l) in leg_map {
            let ix = agents.find(&agent).ok_or_else(|| unknown("a call leg", &agent))?;
            let parts = (l.last, l.offered, l.ready_at_offer, l.answered, l.transferred, l.ended);
            calls.insert_leg(call.as_str(), Leg::from_parts(ix, parts));
        }
        Ok(TenantState {
            clock,
            agents,
            roster,
            has_roster,
            has_shift,
            shift_months,
            roster_active,
            stations,
            duplicates,
            dup_pending,
            attendance,
            att_alarms,
            calls,
            survey_active,
            callback_active,
            emergency_active,
            weeks,
            deadlines,
            alarms,
            name,
            raised,
            active,
            pruned_day,
            memo,
        })
    }
}
bincode::impl_borrow_decode!(TenantState);

impl PartialEq for TenantState {
    fn eq(&self, other: &Self) -> bool {
        bincode::encode_to_vec(self, BINCODE_CONFIG).ok() == bincode::encode_to_vec(other, BINCODE_CONFIG).ok()
    }
}
