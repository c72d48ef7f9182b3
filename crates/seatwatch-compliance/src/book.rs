//! Compact stores for the fold's per-agent and per-call bookkeeping.
//!
//! * [`Agents`]: the agents in a slab, each with a dense index that never changes (agents
//!   are never removed), its id once as a shared [`AgentRef`] (deadline keys and call legs
//!   refer to the agent by it instead of copying the id) and the agent's own pending
//!   deadlines, so that "every deadline of this agent before its event" is a look at a
//!   few entries rather than a scan of the tenant's deadlines.
//! * [`CallBook`]: one slot per call holding the call id once (inline when short), the
//!   call's flags and its legs (the first inline), instead of a map of calls and a map of
//!   legs each keyed by copies of the call id (and the leg map by the agent id too).
//!
//! Both are observably the maps they replace: the tenant's snapshot encodes them in the
//! old maps' exact format (see `TenantState`'s `Encode`), nothing iterates them in hash
//! order, and a call's flags and each leg keep their own presence exactly as the separate
//! map entries did (a call may have flags and no legs, or legs and no flags).

use chrono::NaiveDate;
use hashbrown::HashTable;
use seatwatch_model::idmap::Key;
use seatwatch_model::{AgentId, Chunked, IdHash};
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

// ----- agents -----------------------------------------------------------------------------

/// An agent of one tenant: its id, shared, and its index in [`Agents`]. Compared and
/// ordered by the id (two refs of one tenant have the same index exactly when they have
/// the same id), so keys holding it sort exactly as keys holding the `AgentId` did.
#[derive(Clone)]
pub(crate) struct AgentRef {
    name: Arc<str>,
    pub(crate) ix: u32,
}

impl AgentRef {
    /// The agent's id, shared (alarms of the agent hold it too).
    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
    }
}

impl PartialEq for AgentRef {
    fn eq(&self, other: &Self) -> bool {
        self.ix == other.ix || self.name == other.name
    }
}
impl Eq for AgentRef {}
impl PartialOrd for AgentRef {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for AgentRef {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.ix == other.ix { Ordering::Equal } else { self.name.as_ref().cmp(other.name.as_ref()) }
    }
}
impl fmt::Debug for AgentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.name, f)
    }
}

/// One agent's slot.
#[derive(Clone, Debug)]
pub(crate) struct AgentSlot<S, D> {
    /// The id, which the table compares: inline up to 24 bytes (`AgentId` is a
    /// `CompactString`), so a look-up does not reach a heap copy (that cache miss was
    /// `Agents::intern`'s `memcmp` at 100,000 agents before ids were inline,
    /// docs/performance.md).
    pub(crate) id: AgentId,
    pub(crate) aref: AgentRef,
    pub(crate) st: S,
    /// The agent's pending deadlines (a copy of its entries in the tenant's deadline set).
    pub(crate) own: Vec<D>,
    /// The Monday of the last QA week the agent was marked as having worked in (a cache
    /// of the week's stats, which keep `worked` until the week closes).
    pub(crate) worked_week: Option<NaiveDate>,
}

/// The agents of a tenant by id, with dense, stable indexes.
#[derive(Clone, Debug)]
pub(crate) struct Agents<S, D> {
    table: HashTable<u32>,
    slots: Chunked<AgentSlot<S, D>>,
}

impl<S, D> Default for Agents<S, D> {
    fn default() -> Self {
        Agents { table: HashTable::new(), slots: Chunked::default() }
    }
}

#[inline]
fn hash_str(s: &str) -> u64 {
    IdHash::of(s.as_bytes())
}

impl<S: Default, D> Agents<S, D> {
    /// The index of agent `a`, if it has a slot.
    #[inline]
    pub(crate) fn find(&self, a: &AgentId) -> Option<u32> {
        let slots = &self.slots;
        self.table.find(hash_str(a.as_str()), |&ix| slots[ix as usize].id == *a).copied()
    }

    /// The index of agent `a`, giving it a slot (default state) when it has none.
    #[inline]
    pub(crate) fn intern(&mut self, a: &AgentId) -> u32 {
        let hash = hash_str(a.as_str());
        let slots = &mut self.slots;
        if let Some(&ix) = self.table.find(hash, |&ix| slots[ix as usize].id == *a) {
            return ix;
        }
        let ix = u32::try_from(slots.len()).unwrap_or(u32::MAX);
        slots.push(AgentSlot {
            id: a.clone(),
            aref: AgentRef { name: Arc::from(a.as_str()), ix },
            st: S::default(),
            own: Vec::new(),
            worked_week: None,
        });
        self.table.insert_unique(hash, ix, |&x| hash_str(slots[x as usize].id.as_str()));
        ix
    }

    #[inline]
    pub(crate) fn slot(&self, ix: u32) -> &AgentSlot<S, D> {
        &self.slots[ix as usize]
    }

    #[inline]
    pub(crate) fn slot_mut(&mut self, ix: u32) -> &mut AgentSlot<S, D> {
        &mut self.slots[ix as usize]
    }

    /// The state of agent `a`, if it has a slot.
    #[inline]
    pub(crate) fn get(&self, a: &AgentId) -> Option<&S> {
        self.find(a).map(|ix| &self.slots[ix as usize].st)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, a: &AgentId) -> Option<&mut S> {
        self.find(a).map(|ix| &mut self.slots[ix as usize].st)
    }

    /// The state of agent `a`, created (default) when missing.
    #[inline]
    pub(crate) fn entry_or_default(&mut self, a: &AgentId) -> &mut S {
        let ix = self.intern(a);
        &mut self.slots[ix as usize].st
    }

    /// The slots in id order.
    pub(crate) fn sorted(&self) -> Vec<&AgentSlot<S, D>> {
        let mut v: Vec<&AgentSlot<S, D>> = self.slots.iter().collect();
        v.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        v
    }

    pub(crate) fn slots(&self) -> impl Iterator<Item = &AgentSlot<S, D>> {
        self.slots.iter()
    }

    pub(crate) fn slots_mut(&mut self) -> impl Iterator<Item = &mut AgentSlot<S, D>> {
        self.slots.iter_mut()
    }
}

// ----- calls ------------------------------------------------------------------------------

/// A leg's fields as the old `(call, agent)` map entry held them: last, offered (raw ts
/// and seq), ready_at_offer, answered (seq), transferred, ended.
pub(crate) type LegParts = (i64, Option<(i64, u64)>, bool, Option<u64>, bool, bool);

/// One agent's leg of a call (what the `(call, agent)` map entry held), packed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Leg {
    /// Effective time of the leg's last event.
    pub(crate) last: i64,
    offered_raw: i64,
    offered_seq: u64,
    answered_seq: u64,
    /// The agent's index in [`Agents`].
    pub(crate) agent: u32,
    flags: u8,
}

const L_OFFERED: u8 = 1;
const L_READY: u8 = 2;
const L_ANSWERED: u8 = 4;
const L_TRANSFERRED: u8 = 8;
const L_ENDED: u8 = 16;
/// Set in every leg that exists (a call slot's inline first leg may be empty).
const L_PRESENT: u8 = 32;

impl Leg {
    /// A present leg of `agent` with nothing recorded yet.
    fn new(agent: u32) -> Self {
        Leg { agent, flags: L_PRESENT, ..Leg::default() }
    }

    #[inline]
    fn flag(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    #[inline]
    fn set(&mut self, f: u8, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }

    /// Raw ts and seq of `offered`.
    pub(crate) fn offered(&self) -> Option<(i64, u64)> {
        self.flag(L_OFFERED).then_some((self.offered_raw, self.offered_seq))
    }
    pub(crate) fn set_offered(&mut self, o: Option<(i64, u64)>) {
        let (raw, seq) = o.unwrap_or((0, 0));
        self.offered_raw = raw;
        self.offered_seq = seq;
        self.set(L_OFFERED, o.is_some());
    }
    pub(crate) fn ready_at_offer(&self) -> bool {
        self.flag(L_READY)
    }
    pub(crate) fn set_ready_at_offer(&mut self, on: bool) {
        self.set(L_READY, on);
    }
    pub(crate) fn answered(&self) -> Option<u64> {
        self.flag(L_ANSWERED).then_some(self.answered_seq)
    }
    pub(crate) fn set_answered(&mut self, seq: u64) {
        self.answered_seq = seq;
        self.set(L_ANSWERED, true);
    }
    pub(crate) fn transferred(&self) -> bool {
        self.flag(L_TRANSFERRED)
    }
    pub(crate) fn set_transferred(&mut self) {
        self.set(L_TRANSFERRED, true);
    }
    pub(crate) fn ended(&self) -> bool {
        self.flag(L_ENDED)
    }
    pub(crate) fn set_ended(&mut self) {
        self.set(L_ENDED, true);
    }

    /// The fields as the old map entry held them.
    pub(crate) fn parts(&self) -> LegParts {
        (self.last, self.offered(), self.ready_at_offer(), self.answered(), self.transferred(), self.ended())
    }

    pub(crate) fn from_parts(agent: u32, (last, offered, ready, answered, transferred, ended): LegParts) -> Self {
        let mut l = Leg::new(agent);
        l.last = last;
        l.set_offered(offered);
        l.set_ready_at_offer(ready);
        if let Some(s) = answered {
            l.set_answered(s);
        }
        l.set(L_TRANSFERRED, transferred);
        l.set(L_ENDED, ended);
        l
    }
}

/// The call's own flags (what the call map entry held), when the call has an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CallInfo<D> {
    pub(crate) last: i64,
    /// Seq of the first event that flagged the call as an emergency.
    pub(crate) emergency: Option<u64>,
    pub(crate) escalated: bool,
    pub(crate) survey: bool,
    pub(crate) armed: bool,
    /// The call's pending call-back and escalation deadlines.
    pub(crate) pending: Pending<D>,
}

/// A call's pending deadlines: almost always none, so 8 bytes in every call slot rather
/// than a `Vec`'s 24.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::box_collection)]
pub(crate) struct Pending<D>(Option<Box<Vec<D>>>);

impl<D> Pending<D> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|v| v.is_empty())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &D> {
        self.0.iter().flat_map(|v| v.iter())
    }

    pub(crate) fn push(&mut self, d: D) {
        self.0.get_or_insert_with(Default::default).push(d);
    }

    pub(crate) fn retain(&mut self, f: impl FnMut(&D) -> bool) {
        if let Some(v) = self.0.as_deref_mut() {
            v.retain(f);
            if v.is_empty() {
                self.0 = None;
            }
        }
    }

    /// Remove and return the entries matching `f`, in order.
    pub(crate) fn take_if(&mut self, mut f: impl FnMut(&D) -> bool) -> Vec<D> {
        let Some(v) = self.0.as_deref_mut() else { return Vec::new() };
        let taken: Vec<D> = v.extract_if(.., |d| f(d)).collect();
        if v.is_empty() {
            self.0 = None;
        }
        taken
    }
}

impl<D> FromIterator<D> for Pending<D> {
    fn from_iter<I: IntoIterator<Item = D>>(it: I) -> Self {
        let v: Vec<D> = it.into_iter().collect();
        Pending((!v.is_empty()).then(|| Box::new(v)))
    }
}

/// One call: its id once, its flags (if it has an entry) and its legs.
#[derive(Clone, Debug)]
pub(crate) struct CallSlot<D> {
    /// Inline up to 22 bytes (24 bytes either way), as the model's id tables keep ids.
    id: Key,
    /// `None`: the call has no entry of its own (only legs).
    info: Option<CallInfo<D>>,
    /// Almost every call has one leg (`L_PRESENT` set when there is one); more go to
    /// `more`.
    first: Leg,
    // Boxed: 8 bytes in every call slot instead of 24; legs beyond the first are rare.
    #[allow(clippy::box_collection)]
    more: Option<Box<Vec<Leg>>>,
}

impl<D> Default for CallInfo<D> {
    fn default() -> Self {
        CallInfo { last: 0, emergency: None, escalated: false, survey: false, armed: false, pending: Pending(None) }
    }
}

impl<D> CallSlot<D> {
    fn new(call: &str) -> Self {
        CallSlot { id: Key::new(call), info: None, first: Leg::default(), more: None }
    }

    pub(crate) fn id(&self) -> &str {
        self.id.as_str()
    }

    pub(crate) fn info(&self) -> Option<&CallInfo<D>> {
        self.info.as_ref()
    }

    /// The call's entry, created (default) when missing.
    pub(crate) fn info_entry(&mut self) -> &mut CallInfo<D> {
        self.info.get_or_insert_with(CallInfo::default)
    }

    fn first(&self) -> Option<&Leg> {
        Some(&self.first).filter(|l| l.flag(L_PRESENT))
    }

    fn more(&self) -> &[Leg] {
        self.more.as_deref().map_or(&[], Vec::as_slice)
    }

    pub(crate) fn legs(&self) -> impl Iterator<Item = &Leg> {
        self.first().into_iter().chain(self.more().iter())
    }

    fn is_empty(&self) -> bool {
        self.info.is_none() && self.first().is_none() && self.more().is_empty()
    }

    pub(crate) fn leg_mut(&mut self, agent: u32) -> Option<&mut Leg> {
        if self.first.flag(L_PRESENT) && self.first.agent == agent {
            return Some(&mut self.first);
        }
        self.more.as_deref_mut().and_then(|m| m.iter_mut().find(|l| l.agent == agent))
    }

    pub(crate) fn leg(&self, agent: u32) -> Option<&Leg> {
        self.legs().find(|l| l.agent == agent)
    }

    pub(crate) fn leg_entry(&mut self, agent: u32) -> &mut Leg {
        if self.first.flag(L_PRESENT) {
            if self.first.agent == agent {
                return &mut self.first;
            }
        } else if !self.more().iter().any(|l| l.agent == agent) {
            self.first = Leg::new(agent);
            return &mut self.first;
        }
        let more = self.more.get_or_insert_with(Default::default);
        let pos = match more.iter().position(|l| l.agent == agent) {
            Some(p) => p,
            None => {
                more.push(Leg::new(agent));
                more.len() - 1
            }
        };
        &mut more[pos]
    }

    fn retain_legs(&mut self, keep: impl Fn(&Leg) -> bool) {
        if self.first.flag(L_PRESENT) && !keep(&self.first) {
            self.first = Leg::default();
        }
        if let Some(more) = self.more.as_deref_mut() {
            more.retain(|l| keep(l));
            if !self.first.flag(L_PRESENT) && !more.is_empty() {
                self.first = more.remove(0);
            }
            if more.is_empty() {
                self.more = None;
            }
        }
    }
}

/// Every call the tenant keeps bookkeeping for, by call id.
#[derive(Clone, Debug)]
pub(crate) struct CallBook<D> {
    table: HashTable<u32>,
    slots: Chunked<CallSlot<D>>,
    free: Vec<u32>,
}

impl<D> Default for CallBook<D> {
    fn default() -> Self {
        CallBook { table: HashTable::new(), slots: Chunked::default(), free: Vec::new() }
    }
}

impl<D> CallBook<D> {
    /// The slot of `call`, if it has one.
    #[inline]
    pub(crate) fn find(&self, call: &str) -> Option<u32> {
        let slots = &self.slots;
        self.table.find(hash_str(call), |&ix| slots[ix as usize].id.is(call)).copied()
    }

    fn slot_entry(&mut self, call: &str) -> &mut CallSlot<D> {
        let ix = self.entry(call);
        &mut self.slots[ix as usize]
    }

    /// The slot of `call`, made (empty) when it has none: give it an entry or a leg.
    pub(crate) fn entry(&mut self, call: &str) -> u32 {
        match self.find(call) {
            Some(ix) => ix,
            None => {
                let slot = CallSlot::new(call);
                let ix = match self.free.pop() {
                    Some(ix) => {
                        self.slots[ix as usize] = slot;
                        ix
                    }
                    None => {
                        self.slots.push(slot);
                        u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
                    }
                };
                let slots = &self.slots;
                // Rehashing reads the ids' bytes (no UTF-8 check: `as_str` of an inline id
                // validates).
                self.table.insert_unique(hash_str(call), ix, |&x| IdHash::of(slots[x as usize].id.bytes()));
                ix
            }
        }
    }

    /// A slot by index (from [`CallBook::find`] or [`CallBook::entry`]; valid until the
    /// next [`CallBook::retain`]).
    #[inline]
    pub(crate) fn slot(&self, ix: u32) -> &CallSlot<D> {
        &self.slots[ix as usize]
    }

    #[inline]
    pub(crate) fn slot_mut(&mut self, ix: u32) -> &mut CallSlot<D> {
        &mut self.slots[ix as usize]
    }

    /// The call's entry, if it has one.
    #[cfg(test)]
    pub(crate) fn info(&self, call: &str) -> Option<&CallInfo<D>> {
        self.find(call).and_then(|ix| self.slots[ix as usize].info.as_ref())
    }

    #[inline]
    pub(crate) fn info_mut(&mut self, call: &str) -> Option<&mut CallInfo<D>> {
        let ix = self.find(call)?;
        self.slots[ix as usize].info.as_mut()
    }

    /// The call's entry, created (default) when missing.
    #[inline]
    pub(crate) fn info_entry(&mut self, call: &str) -> &mut CallInfo<D> {
        self.slot_entry(call).info.get_or_insert_with(CallInfo::default)
    }

    /// The leg of `agent` in `call`, if it has one.
    #[cfg(test)]
    pub(crate) fn leg(&self, call: &str, agent: u32) -> Option<&Leg> {
        self.find(call).and_then(|ix| self.slots[ix as usize].leg(agent))
    }

    #[inline]
    pub(crate) fn leg_mut(&mut self, call: &str, agent: u32) -> Option<&mut Leg> {
        let ix = self.find(call)?;
        self.slots[ix as usize].leg_mut(agent)
    }

    /// The leg of `agent` in `call`, created (default) when missing.
    #[inline]
    pub(crate) fn leg_entry(&mut self, call: &str, agent: u32) -> &mut Leg {
        self.slot_entry(call).leg_entry(agent)
    }

    /// Insert a call's entry (restoring a snapshot).
    pub(crate) fn insert_info(&mut self, call: &str, info: CallInfo<D>) {
        self.slot_entry(call).info = Some(info);
    }

    /// Insert a leg (restoring a snapshot).
    pub(crate) fn insert_leg(&mut self, call: &str, leg: Leg) {
        let agent = leg.agent;
        *self.slot_entry(call).leg_entry(agent) = leg;
    }

    /// Drop legs failing `keep_leg` and call entries failing `keep_info`; a call with
    /// neither an entry nor legs left is dropped.
    pub(crate) fn retain(&mut self, keep_leg: impl Fn(&Leg) -> bool, keep_info: impl Fn(&CallInfo<D>) -> bool) {
        let CallBook { table, slots, free } = self;
        table.retain(|&mut ix| {
            let slot = &mut slots[ix as usize];
            slot.retain_legs(&keep_leg);
            if slot.info.as_ref().is_some_and(|i| !keep_info(i)) {
                slot.info = None;
            }
            if slot.is_empty() {
                *slot = CallSlot::new("");
                free.push(ix);
                false
            } else {
                true
            }
        });
    }

    /// The calls kept (in no particular order).
    pub(crate) fn slots(&self) -> impl Iterator<Item = &CallSlot<D>> {
        self.table.iter().map(|&ix| &self.slots[ix as usize])
    }

    /// The number of calls kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_id_and_a_leg_stay_small() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        assert!(std::mem::size_of::<Leg>() <= 40, "{}", std::mem::size_of::<Leg>());
    }

    #[test]
    fn legs_and_call_entries_live_apart() {
        let mut b: CallBook<u8> = CallBook::default();
        b.leg_entry("c1", 3).last = 10;
        b.leg_entry("c1", 5).last = 20;
        b.leg_entry("c1", 7).last = 30;
        assert!(b.info("c1").is_none(), "legs alone make no call entry");
        let c1 = b.find("c1").map(|ix| &b.slots[ix as usize]);
        assert_eq!(c1.map(|s| (s.first.agent, s.more().len())), Some((3, 2)), "the first leg is inline");
        b.info_entry("c2").last = 5;
        assert!(b.leg("c2", 3).is_none());
        assert_eq!(b.len(), 2);
        // The first leg goes; the others stay and are still found.
        b.retain(|l| l.last >= 15, |_| true);
        assert!(b.leg("c1", 3).is_none());
        assert_eq!(b.leg("c1", 5).map(|l| l.last), Some(20));
        assert_eq!(b.leg("c1", 7).map(|l| l.last), Some(30));
        b.leg_entry("c1", 3).last = 40;
        assert_eq!(b.slots().find(|s| s.id() == "c1").map(|s| s.legs().count()), Some(3));
        // A call whose entry and legs are gone is dropped and its slot reused.
        b.retain(|l| l.last >= 100, |i| i.last >= 100);
        assert_eq!(b.len(), 0);
        b.info_entry("c9").survey = true;
        assert_eq!(b.slots.len(), 2, "slots are reused");
        assert!(b.info("c9").is_some_and(|i| i.survey));
        assert!(b.info("c1").is_none() && b.leg("c1", 5).is_none());
    }

    #[test]
    fn pending_deadlines_of_a_call() {
        let mut p: Pending<(i64, u8)> = Pending(None);
        assert!(p.is_empty() && p.take_if(|_| true).is_empty());
        for d in [(5, 1), (3, 2), (9, 1)] {
            p.push(d);
        }
        assert_eq!(p.take_if(|(_, k)| *k == 1), vec![(5, 1), (9, 1)], "in order");
        assert_eq!(p.iter().copied().collect::<Vec<_>>(), vec![(3, 2)]);
        p.retain(|(d, _)| *d != 3);
        assert!(p.is_empty() && p.0.is_none(), "an emptied list frees its box");
        let q: Pending<(i64, u8)> = [(1, 1)].into_iter().collect();
        assert!(!q.is_empty());
        assert!(std::iter::empty::<(i64, u8)>().collect::<Pending<_>>().0.is_none());
        assert!(std::mem::size_of::<CallSlot<(i64, u8)>>() <= 112, "{}", std::mem::size_of::<CallSlot<(i64, u8)>>());
    }

    #[test]
    fn leg_parts_round_trip() {
        let parts = (7, Some((-3, 9)), true, Some(11), false, true);
        let l = Leg::from_parts(4, parts);
        assert_eq!(l.parts(), parts);
        assert_eq!(l.agent, 4);
        let mut m = l;
        m.set_offered(None);
        assert_eq!(m.offered(), None);
        assert_eq!(Leg::from_parts(0, (0, None, false, None, false, false)), Leg::new(0));
    }

    #[test]
    fn agents_keep_their_index() {
        let mut a: Agents<u32, ()> = Agents::default();
        let x = a.intern(&AgentId::from("b"));
        let y = a.intern(&AgentId::from("a"));
        assert_eq!(a.intern(&AgentId::from("b")), x);
        assert_ne!(x, y);
        *a.entry_or_default(&AgentId::from("a")) = 5;
        assert_eq!(a.get(&AgentId::from("a")), Some(&5));
        assert_eq!(a.find(&AgentId::from("c")), None);
        let names: Vec<&str> = a.sorted().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let (rx, ry) = (a.slot(x).aref.clone(), a.slot(y).aref.clone());
        assert!(ry < rx && rx == a.slot(x).aref && format!("{rx:?}") == "\"b\"");
    }
}
