//! Counters and agent time, kept per interval, per minute (for sliding windows) and
//! cumulatively, each for the total and per queue.
//!
//! Counts (queued, offered, …) are booked when their event is folded. Agent time is booked
//! lazily: the book keeps, per key (the total and each queue) and per time field, how many
//! logged-in agents add to it right now (the *gauge*), and books `gauge × elapsed` into
//! the minute and the interval once per *segment* — the span between two consecutive
//! minute or interval boundaries — when the tenant's clock leaves it. An agent whose
//! state changes within the open segment only adjusts a per-key correction (`acc`); one
//! whose change takes effect before the open segment (a late event) is booked directly
//! into the buckets it reaches. Sums are integer nanoseconds, so the result is exactly
//! what booking every agent's time span by span gives (see `docs/performance.md`).

use crate::AgentState;
use crate::localtime::DayCache;
use crate::settings::{MINUTE_NS, Resolved, Sl, SlFormula};
use crate::snapshot::Derived;
use bincode::{Decode, Encode};
use seatwatch_model::{NANOS_PER_SEC, QueueId, Ts};
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts and time sums of one bucket (interval, minute, or since the start) for one
/// queue or the total. Times are integer nanoseconds, so sums do not depend on order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub(crate) struct Stats {
    pub queued: u64,
    pub offered: u64,
    pub answered: u64,
    pub answered_in_time: u64,
    pub answered_in_threshold: u64,
    /// The service level's numerator: calls answered within the threshold, booked where
    /// the formula's denominator booked them (see [`crate::Tenant`]'s `sl_cohort`).
    pub sl_calls: u64,
    pub abandoned: u64,
    pub short_abandoned: u64,
    pub missed: u64,
    pub transferred: u64,
    pub handled: u64,
    pub answer_delay_ns: i128,
    pub handle_ns: i128,
    pub ringing_ns: i64,
    pub talk_ns: i64,
    pub wrap_ns: i64,
    pub ready_ns: i64,
    pub not_ready_ns: i64,
    pub staffed_ns: i64,
}

/// Agent-time fields: ready, not ready, ringing, talking, wrap-up, staffed.
pub(crate) const FIELDS: usize = 6;
const STAFFED: usize = 5;

/// One value per agent-time field.
pub(crate) type Row = [i64; FIELDS];

/// The field an agent's time in `state` adds to (besides staffed); `None` when logged out.
fn field_of(state: AgentState) -> Option<usize> {
    match state {
        AgentState::LoggedOut => None,
        AgentState::Ready => Some(0),
        AgentState::NotReady => Some(1),
        AgentState::Ringing => Some(2),
        AgentState::Talking => Some(3),
        AgentState::WrapUp => Some(4),
    }
}

/// What one agent's time adds to: its state, the queue of its call, the queues it belongs
/// to (sorted).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Share<'a> {
    pub state: AgentState,
    pub call_queue: Option<u32>,
    pub members: &'a [u32],
}

impl Share<'_> {
    /// Call `f(key, field)` for every key (0: the total, `q + 1`: queue `q`) and field the
    /// agent's time adds to: busy time goes to the total and to the queue of the call;
    /// ready, not-ready and staffed time to the total and every queue the agent belongs
    /// to.
    #[inline]
    fn each(&self, mut f: impl FnMut(usize, usize)) {
        let Some(field) = field_of(self.state) else { return };
        f(0, field);
        f(0, STAFFED);
        let busy = self.state.is_busy();
        if busy && let Some(q) = self.call_queue {
            f(q as usize + 1, field);
        }
        for &m in self.members {
            f(m as usize + 1, STAFFED);
            if !busy {
                f(m as usize + 1, field);
            }
        }
    }

    /// How many keys the share reaches at most.
    fn keys(&self) -> usize {
        let top = self.members.last().copied().max(self.call_queue).map_or(0, |q| q as usize + 1);
        top + 1
    }
}

impl Stats {
    #[cfg(test)]
    fn add_state(&mut self, state: AgentState, dt: i64) {
        let slot = match state {
            AgentState::LoggedOut => return,
            AgentState::Ready => &mut self.ready_ns,
            AgentState::NotReady => &mut self.not_ready_ns,
            AgentState::Ringing => &mut self.ringing_ns,
            AgentState::Talking => &mut self.talk_ns,
            AgentState::WrapUp => &mut self.wrap_ns,
        };
        *slot = slot.saturating_add(dt);
    }

    fn field_mut(&mut self, field: usize) -> &mut i64 {
        match field {
            0 => &mut self.ready_ns,
            1 => &mut self.not_ready_ns,
            2 => &mut self.ringing_ns,
            3 => &mut self.talk_ns,
            4 => &mut self.wrap_ns,
            _ => &mut self.staffed_ns,
        }
    }

    fn add_row(&mut self, r: &Row) {
        for (f, v) in r.iter().enumerate() {
            if *v != 0 {
                let slot = self.field_mut(f);
                *slot = slot.saturating_add(*v);
            }
        }
    }

    fn busy_ns(&self) -> i64 {
        self.ringing_ns.saturating_add(self.talk_ns).saturating_add(self.wrap_ns)
    }

    fn merge(&mut self, o: &Stats) {
        self.queued += o.queued;
        self.offered += o.offered;
        self.answered += o.answered;
        self.answered_in_time += o.answered_in_time;
        self.answered_in_threshold += o.answered_in_threshold;
        self.sl_calls += o.sl_calls;
        self.abandoned += o.abandoned;
        self.short_abandoned += o.short_abandoned;
        self.missed += o.missed;
        self.transferred += o.transferred;
        self.handled += o.handled;
        self.answer_delay_ns += o.answer_delay_ns;
        self.handle_ns += o.handle_ns;
        self.ringing_ns = self.ringing_ns.saturating_add(o.ringing_ns);
        self.talk_ns = self.talk_ns.saturating_add(o.talk_ns);
        self.wrap_ns = self.wrap_ns.saturating_add(o.wrap_ns);
        self.ready_ns = self.ready_ns.saturating_add(o.ready_ns);
        self.not_ready_ns = self.not_ready_ns.saturating_add(o.not_ready_ns);
        self.staffed_ns = self.staffed_ns.saturating_add(o.staffed_ns);
    }

    /// Whether nothing was counted or booked.
    pub fn is_empty(&self) -> bool {
        *self == Stats::default()
    }
}

/// Per-queue stats of one bucket, sparse and sorted by queue index.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub(crate) struct QStats(pub Vec<(u32, Stats)>);

impl QStats {
    pub fn get_mut(&mut self, q: u32) -> &mut Stats {
        let i = match self.0.binary_search_by_key(&q, |e| e.0) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (q, Stats::default()));
                i
            }
        };
        &mut self.0[i].1
    }
}

/// Stats of one span of time for the total and each queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub(crate) struct Bucket {
    pub start: i64,
    pub end: i64,
    pub total: Stats,
    pub queues: QStats,
}

impl Bucket {
    fn count(&mut self, q: Option<u32>, f: &impl Fn(&mut Stats, bool)) {
        f(&mut self.total, true);
        if let Some(q) = q {
            f(self.queues.get_mut(q), false);
        }
    }

    /// The stats of key `k` (0: the total, `q + 1`: queue `q`).
    fn key_mut(&mut self, k: usize) -> &mut Stats {
        match k.checked_sub(1) {
            None => &mut self.total,
            Some(q) => self.queues.get_mut(q as u32),
        }
    }

    /// Add per-key rows (the total first, then queues in index order).
    pub fn add_rows<'a>(&mut self, rows: impl Iterator<Item = (usize, &'a Row)>) {
        for (k, r) in rows {
            self.key_mut(k).add_row(r);
        }
    }

    /// Book `dt` (signed) of one agent's time: what [`Share::each`] names, each slot
    /// getting its additions in the same order. The agent's member queues and the
    /// bucket's queues are both sorted, so one walk finds them all (a late event books
    /// this into every minute it spans; a binary search per key and field made that the
    /// fold's hottest spot, docs/performance.md).
    pub fn add_share(&mut self, share: &Share<'_>, dt: i64) {
        if dt == 0 {
            return;
        }
        let Some(field) = field_of(share.state) else { return };
        let bump = |s: &mut Stats, f: usize| {
            let slot = s.field_mut(f);
            *slot = slot.saturating_add(dt);
        };
        bump(&mut self.total, field);
        bump(&mut self.total, STAFFED);
        let busy = share.state.is_busy();
        if busy && let Some(q) = share.call_queue {
            bump(self.queues.get_mut(q), field);
        }
        let v = &mut self.queues.0;
        let (mut i, mut prev) = (0, None);
        for &m in share.members {
            if prev.is_some_and(|p| m <= p) {
                // Not ascending (members are kept sorted, so never): search from the start.
                i = 0;
            }
            prev = Some(m);
            while v.get(i).is_some_and(|e| e.0 < m) {
                i += 1;
            }
            if v.get(i).is_none_or(|e| e.0 != m) {
                v.insert(i, (m, Stats::default()));
            }
            if let Some(e) = v.get_mut(i) {
                bump(&mut e.1, STAFFED);
                if !busy {
                    bump(&mut e.1, field);
                }
            }
            i += 1;
        }
    }

    /// Add per-key counts (the total first, then queues in index order).
    pub fn merge_counts(&mut self, counts: &[Stats]) {
        for (k, c) in counts.iter().enumerate() {
            if !c.is_empty() {
                self.key_mut(k).merge(c);
            }
        }
    }

    /// Whether nothing was counted or booked in it (for the total or any queue).
    pub fn is_empty(&self) -> bool {
        self.total.is_empty() && self.queues.0.iter().all(|e| e.1.is_empty())
    }

    /// Book `dt` of agent time in `state`: busy time goes to the total and to the queue of
    /// the call; ready, not-ready and staffed time to the total and every queue the agent
    /// belongs to. (The eager booking the lazy one replaced; kept as the tests' reference.)
    #[cfg(test)]
    pub(crate) fn add_time(&mut self, state: AgentState, dt: i64, call_queue: Option<u32>, members: &[u32]) {
        if state == AgentState::LoggedOut || dt <= 0 {
            return;
        }
        self.total.add_state(state, dt);
        self.total.staffed_ns = self.total.staffed_ns.saturating_add(dt);
        let busy = matches!(state, AgentState::Ringing | AgentState::Talking | AgentState::WrapUp);
        if busy && let Some(q) = call_queue {
            self.queues.get_mut(q).add_state(state, dt);
        }
        let qs = &mut self.queues.0;
        let mut from = 0;
        for &m in members {
            let i = match qs.get(from..).map(|rest| rest.binary_search_by_key(&m, |e| e.0)) {
                Some(Ok(k)) => from + k,
                Some(Err(k)) => {
                    qs.insert(from + k, (m, Stats::default()));
                    from + k
                }
                None => break,
            };
            if let Some((_, s)) = qs.get_mut(i) {
                s.staffed_ns = s.staffed_ns.saturating_add(dt);
                if !busy {
                    s.add_state(state, dt);
                }
            }
            from = i + 1;
        }
    }
}

/// Minutes kept for the sliding windows (the longest window is 60 minutes).
pub(crate) const RING_MINUTES: i64 = 64;

/// Late agent time that the minute ring has not booked yet: the full minutes of late
/// spans, as *ramps* (see [`Book::attach`]).
///
/// A late event books its span `[eff, cursor)` into every minute it reaches; the load
/// benchmark's connections run minutes of event time apart, so that was ~50 % of the
/// fold there (docs/performance.md). A span's first and last minutes are still booked
/// at once; its full minutes in between all get the same amounts, so the span only
/// notes, at its first full minute, "from here on, per minute: +these amounts, one more
/// span covering these keys" and the opposite at the minute it ends. [`Book::settle`]
/// walks the ring once, oldest minute first, and books the running sums: exactly what
/// booking minute by minute gives, including which queues have an entry in a minute (a
/// key is booked into a minute while at least one span covers it, as before).
#[derive(Clone, Debug, Default)]
pub(crate) struct LateRamps {
    /// Per ring slot (`minute mod RING_MINUTES`), per key: how many (key, field) spans
    /// start (+) or end (−) there, and the change of the amounts per minute. Summed in
    /// place, so a slot never holds more than one row per key.
    slots: Vec<Vec<(i32, Row)>>,
    /// Whether any slot holds something.
    pending: bool,
}

impl LateRamps {
    /// Full minutes `first..end` (minute numbers) get `sign × one minute` of `share`.
    fn ramp(&mut self, first: i64, end: i64, share: &Share<'_>, sign: i64) {
        if self.slots.is_empty() {
            self.slots = vec![Vec::new(); RING_MINUTES as usize];
        }
        let keys = share.keys();
        let slot = |m: i64| m.rem_euclid(RING_MINUTES) as usize;
        let (a, b) = (slot(first), slot(end));
        for s in [a, b] {
            if self.slots[s].len() < keys {
                self.slots[s].resize(keys, (0, [0; FIELDS]));
            }
        }
        let v = sign * MINUTE_NS;
        share.each(|k, f| {
            let start = &mut self.slots[a][k];
            start.0 += 1;
            start.1[f] += v;
            let end = &mut self.slots[b][k];
            end.0 -= 1;
            end.1[f] -= v;
        });
        self.pending = true;
    }

    /// Book the ramps into the ring's minutes up to `last` (the open segment's minute,
    /// the newest the ring holds while ramps are pending).
    fn settle(&mut self, minutes: &mut [Bucket], last: i64) {
        if !self.pending {
            return;
        }
        // Per key: (key, field) spans covering it, amounts per field.
        let mut running: Vec<(i32, Row)> = Vec::new();
        let now = last.saturating_mul(MINUTE_NS);
        for m in (last - RING_MINUTES + 1)..=last {
            let slot = &mut self.slots[m.rem_euclid(RING_MINUTES) as usize];
            if running.len() < slot.len() {
                running.resize(slot.len(), (0, [0; FIELDS]));
            }
            for (r, d) in running.iter_mut().zip(slot.iter_mut()) {
                r.0 += d.0;
                for (x, y) in r.1.iter_mut().zip(d.1) {
                    *x += y;
                }
                *d = (0, [0; FIELDS]);
            }
            if running.iter().any(|(cover, _)| *cover > 0)
                && let Some(b) = minute_slot(minutes, m, now)
            {
                for (k, (cover, row)) in running.iter().enumerate() {
                    if *cover > 0 {
                        b.key_mut(k).add_row(row);
                    }
                }
            }
        }
        self.pending = false;
    }
}

/// Late agent time that the intervals have not booked yet ([`Book::add_intervals`]).
///
/// A late event books its span `[eff, cursor)` into every interval it reaches, twice (the
/// agent's old share out, its new one in). A producer resending a backlog after an outage
/// sends events days late under `clock = "wall"`: up to `retention` (35 days by default,
/// 3,360 intervals of 15 minutes) per span; booked interval by interval that cost ~120 µs
/// per event at 7 days (docs/performance.md, "Late backlogs"). So a span only notes what it books, at most four marks: its first and last
/// (partial) intervals as amounts, and its whole intervals in between as a *ramp* ("from
/// this interval on, per interval: these agents × the interval's length", and the
/// opposite where it ends). [`IntervalRamps::settle`] walks the intervals once and books
/// the sums: exactly what booking span by span gave, including which intervals and which
/// queues of an interval have an entry (a bucket is made when a span that may create it
/// covers it; a key gets an entry when a span books into it).
///
/// Booking later is exact because the amounts only add up and because the booking never
/// crosses a prune: [`Book::advance`] settles when the open segment moves on and
/// [`Book::prune`] settles first. A span may create every interval it reaches (it starts
/// at `now − retention` at the earliest), and a span that may not create (taking an
/// agent's time out) only reaches intervals its own earlier booking made.
#[derive(Clone, Debug, Default)]
pub(crate) struct IntervalRamps {
    /// By interval start.
    marks: BTreeMap<i64, IvMark>,
    /// The tenant's zone and interval length (the same for every span), to walk the
    /// intervals without the settings.
    zone: Option<(chrono_tz::Tz, i64)>,
}

/// What changes at one interval.
#[derive(Clone, Debug, Default)]
struct IvMark {
    /// Change of the spans that may create intervals, covering whole intervals from here.
    ramp_creates: i32,
    /// Bookings into this interval alone that may create it.
    once_creates: i32,
    /// Per key (0: the total, `q + 1`: queue `q`).
    keys: Vec<IvKey>,
}

#[derive(Clone, Copy, Debug, Default)]
struct IvKey {
    /// Change of the (key, field) spans covering whole intervals from here on.
    cover: i32,
    /// Change of the agents (signed) per field from here on: a whole interval gets this
    /// × its length.
    rate: Row,
    /// (key, field) bookings into this interval alone, and their amounts.
    once_cover: i32,
    once: Row,
}

impl IntervalRamps {
    fn mark(&mut self, start: i64, keys: usize) -> &mut IvMark {
        let m = self.marks.entry(start).or_default();
        if m.keys.len() < keys {
            m.keys.resize(keys, IvKey::default());
        }
        m
    }

    /// `amount` (signed) of `share` into the interval starting at `start` alone.
    fn once(&mut self, start: i64, share: &Share<'_>, amount: i64, create: bool) {
        let m = self.mark(start, share.keys());
        m.once_creates += i32::from(create);
        let keys = &mut m.keys;
        share.each(|k, f| {
            let e = &mut keys[k];
            e.once_cover += 1;
            e.once[f] = e.once[f].saturating_add(amount);
        });
    }

    /// `sign × share` over the whole intervals starting at `first` and up to (not
    /// including) the one starting at `end`.
    fn ramp(&mut self, first: i64, end: i64, share: &Share<'_>, sign: i64, create: bool) {
        for (at, d) in [(first, 1), (end, -1)] {
            let m = self.mark(at, share.keys());
            m.ramp_creates += d * i32::from(create);
            let keys = &mut m.keys;
            share.each(|k, f| {
                let e = &mut keys[k];
                e.cover += d;
                e.rate[f] += i64::from(d) * sign;
            });
        }
    }

    /// Whether anything is waiting to be booked.
    fn pending(&self) -> bool {
        !self.marks.is_empty()
    }

    /// Book everything noted into `intervals` (only those starting in `range`; the
    /// others are left as they are) and forget it.
    fn settle(&mut self, intervals: &mut BTreeMap<i64, Bucket>, days: &mut DayCache, range: std::ops::Range<i64>) {
        let marks = std::mem::take(&mut self.marks);
        let Some((tz, interval_ns)) = self.zone else { return };
        let mut marks = marks.into_iter().peekable();
        let Some(&(mut a, _)) = marks.peek() else { return };
        // Running sums of the ramps: creating spans, and per key the (key, field) spans
        // and the agents per field.
        let mut creates = 0i32;
        let mut running: Vec<(i32, Row)> = Vec::new();
        loop {
            let (start, end) = days.interval(tz, interval_ns, a);
            let mark = marks.next_if(|(s, _)| *s == a).map(|(_, m)| m);
            let mut once_creates = 0;
            if let Some(m) = &mark {
                creates += m.ramp_creates;
                once_creates = m.once_creates;
                if running.len() < m.keys.len() {
                    running.resize(m.keys.len(), (0, [0; FIELDS]));
                }
                for (r, e) in running.iter_mut().zip(&m.keys) {
                    r.0 += e.cover;
                    for (x, y) in r.1.iter_mut().zip(e.rate) {
                        *x += y;
                    }
                }
            }
            if range.contains(&start) {
                let len = end - start;
                let once = mark.as_ref().map_or(&[][..], |m| &m.keys[..]);
                let covered =
                    |k: usize| running.get(k).is_some_and(|r| r.0 > 0) || once.get(k).is_some_and(|e| e.once_cover > 0);
                let keys = running.len().max(once.len());
                let bucket = if creates > 0 || once_creates > 0 {
                    Some(intervals.entry(start).or_insert_with(|| Bucket { start, end, ..Bucket::default() }))
                } else if (0..keys).any(covered) {
                    intervals.get_mut(&start)
                } else {
                    None
                };
                if let Some(b) = bucket {
                    for k in (0..keys).filter(|&k| covered(k)) {
                        let mut row = running.get(k).map_or([0; FIELDS], |r| r.1.map(|n| n.saturating_mul(len)));
                        if let Some(e) = once.get(k) {
                            for (x, y) in row.iter_mut().zip(e.once) {
                                *x = x.saturating_add(y);
                            }
                        }
                        b.key_mut(k).add_row(&row);
                    }
                }
            }
            // The marks left all lie after `a`.
            let Some(&(next, _)) = marks.peek() else { break };
            a = if end <= a || end >= next {
                next
            } else if creates > 0 {
                // Spans that make every interval they reach: each one in turn.
                end
            } else if running.iter().any(|r| r.0 != 0) {
                // Spans that only book into intervals kept (an agent's time older than
                // the retention taken out, which may reach back years): the next kept one.
                intervals.range(end..next).next().map_or(next, |(k, _)| *k)
            } else {
                next
            };
        }
    }
}

/// The ring's bucket of `minute`, reset when it held an older minute; `None` for a minute
/// the ring no longer keeps at `now`.
fn minute_slot(minutes: &mut [Bucket], minute: i64, now: i64) -> Option<&mut Bucket> {
    if minute <= minute_of(now) - RING_MINUTES {
        return None;
    }
    let slot = &mut minutes[minute.rem_euclid(RING_MINUTES) as usize];
    let start = minute.saturating_mul(MINUTE_NS);
    if slot.start < start {
        // Reset in place, keeping the per-queue vector's capacity.
        slot.start = start;
        slot.end = start.saturating_add(MINUTE_NS);
        slot.total = Stats::default();
        slot.queues.0.clear();
    } else if slot.start > start {
        return None;
    }
    Some(slot)
}

/// Everything a tenant counts.
///
/// Encoded and compared with its late ramps settled ([`Book::settled_minutes`]): a
/// snapshot holds the same bytes whether or not ramps were pending when it was taken.
#[derive(Clone, Debug, Decode)]
pub(crate) struct Book {
    /// Calendar intervals by start.
    pub intervals: BTreeMap<i64, Bucket>,
    /// One bucket per UTC minute, slot `minute mod RING_MINUTES`; `start` is the minute's
    /// first instant, `i64::MIN` for a slot never used.
    pub minutes: Vec<Bucket>,
    /// Since the start of the log; `start`/`end` unused.
    pub totals: Bucket,
    /// The start of the open segment (`i64::MIN` before the first record): the time of
    /// the agents the gauge counts is booked up to here.
    pub cursor: i64,
    /// The end of the open segment: the next minute or interval boundary after `cursor`.
    pub segment_end: i64,
    /// Per key, the open segment's corrections: an agent that starts adding to a key at
    /// `t` subtracts `t − cursor`, one that stops adds it.
    pub acc: Vec<Row>,
    /// Per key, what was counted at an instant of the open segment (the usual case: an
    /// event at the clock): booked into the totals, the interval and the minute when the
    /// segment closes.
    pub counts: Vec<Stats>,
    /// Per key, how many agents add to each field now (rebuilt from the agents).
    pub gauge: Derived<Vec<Row>>,
    /// Late spans' full minutes not yet booked into `minutes` (never encoded: see
    /// [`Book`]).
    pub late: Derived<LateRamps>,
    /// Late spans not yet booked into `intervals` (never encoded: see [`Book`]).
    pub late_intervals: Derived<IntervalRamps>,
}

impl Book {
    /// The minute ring with the late ramps booked.
    fn settled_minutes(&self) -> std::borrow::Cow<'_, [Bucket]> {
        if !self.late.0.pending {
            return std::borrow::Cow::Borrowed(&self.minutes);
        }
        let mut minutes = self.minutes.clone();
        self.late.0.clone().settle(&mut minutes, minute_of(self.cursor));
        std::borrow::Cow::Owned(minutes)
    }

    /// Book the late ramps into the minute ring (before the open segment moves on).
    fn settle(&mut self) {
        let last = minute_of(self.cursor);
        self.late.0.settle(&mut self.minutes, last);
    }

    /// The intervals starting in `range`, with late spans booked: the intervals
    /// themselves when none are waiting, else a copy of those in `range`.
    pub fn settled_intervals(
        &self,
        range: impl std::ops::RangeBounds<i64>,
    ) -> std::borrow::Cow<'_, BTreeMap<i64, Bucket>> {
        if !self.late_intervals.0.pending() {
            return std::borrow::Cow::Borrowed(&self.intervals);
        }
        let lo = match range.start_bound() {
            std::ops::Bound::Included(&x) => x,
            std::ops::Bound::Excluded(&x) => x.saturating_add(1),
            std::ops::Bound::Unbounded => i64::MIN,
        };
        let hi = match range.end_bound() {
            std::ops::Bound::Included(&x) => x.saturating_add(1),
            std::ops::Bound::Excluded(&x) => x,
            std::ops::Bound::Unbounded => i64::MAX,
        };
        let mut copy: BTreeMap<i64, Bucket> = if lo < hi {
            self.intervals.range(lo..hi).map(|(k, v)| (*k, v.clone())).collect()
        } else {
            BTreeMap::new()
        };
        self.late_intervals.0.clone().settle(&mut copy, &mut DayCache::default(), lo..hi);
        std::borrow::Cow::Owned(copy)
    }

    /// Book the late spans into the intervals.
    fn settle_intervals(&mut self, days: &mut DayCache) {
        if self.late_intervals.0.pending() {
            self.late_intervals.0.settle(&mut self.intervals, days, i64::MIN..i64::MAX);
        }
    }
}

impl PartialEq for Book {
    fn eq(&self, o: &Self) -> bool {
        self.settled_intervals(..) == o.settled_intervals(..)
            && self.settled_minutes() == o.settled_minutes()
            && self.totals == o.totals
            && self.cursor == o.cursor
            && self.segment_end == o.segment_end
            && self.acc == o.acc
            && self.counts == o.counts
    }
}

impl Eq for Book {}

impl Encode for Book {
    fn encode<E: bincode::enc::Encoder>(&self, e: &mut E) -> Result<(), bincode::error::EncodeError> {
        // The fields in declaration order, as the derive wrote them (`gauge` and `late`
        // encode as nothing); the ring as a sequence, as a `Vec` encodes.
        self.settled_intervals(..).encode(e)?;
        let minutes = self.settled_minutes();
        (minutes.len() as u64).encode(e)?;
        for b in minutes.iter() {
            b.encode(e)?;
        }
        self.totals.encode(e)?;
        self.cursor.encode(e)?;
        self.segment_end.encode(e)?;
        self.acc.encode(e)?;
        self.counts.encode(e)?;
        self.gauge.encode(e)?;
        self.late.encode(e)?;
        self.late_intervals.encode(e)
    }
}

impl Default for Book {
    fn default() -> Self {
        let empty = Bucket { start: i64::MIN, end: i64::MIN, ..Bucket::default() };
        Book {
            intervals: BTreeMap::new(),
            minutes: vec![empty; RING_MINUTES as usize],
            totals: Bucket::default(),
            cursor: i64::MIN,
            segment_end: i64::MIN,
            acc: Vec::new(),
            counts: Vec::new(),
            gauge: Derived::default(),
            late: Derived::default(),
            late_intervals: Derived::default(),
        }
    }
}

fn minute_of(nanos: i64) -> i64 {
    nanos.div_euclid(MINUTE_NS)
}

/// The first instant of the oldest minute the ring keeps at `now`.
fn ring_start(now: i64) -> i64 {
    (minute_of(now) - RING_MINUTES + 1).saturating_mul(MINUTE_NS)
}

/// The rows with something in them, with their keys.
pub(crate) fn nonzero(rows: &[Row]) -> impl Iterator<Item = (usize, &Row)> {
    rows.iter().enumerate().filter(|(_, r)| r.iter().any(|v| *v != 0))
}

impl Book {
    fn interval_mut(&mut self, cfg: &Resolved, days: &mut DayCache, nanos: i64, now: i64) -> Option<&mut Bucket> {
        let (start, end) = days.interval(cfg.tz, cfg.interval_ns, nanos);
        if end <= now.saturating_sub(cfg.retention_ns) {
            return None;
        }
        Some(self.intervals.entry(start).or_insert_with(|| Bucket { start, end, ..Bucket::default() }))
    }

    fn minute_mut(&mut self, minute: i64, now: i64) -> Option<&mut Bucket> {
        minute_slot(&mut self.minutes, minute, now)
    }

    /// Count something that happened at `nanos` for queue `q` (and the total). `f` gets
    /// `true` for the total's stats.
    pub fn count(
        &mut self,
        cfg: &Resolved,
        days: &mut DayCache,
        nanos: i64,
        now: i64,
        q: Option<u32>,
        f: impl Fn(&mut Stats, bool),
    ) {
        if self.cursor <= nanos && nanos < self.segment_end {
            let keys = q.map_or(1, |q| q as usize + 2);
            if self.counts.len() < keys {
                self.counts.resize(keys, Stats::default());
            }
            f(&mut self.counts[0], true);
            if let Some(q) = q {
                f(&mut self.counts[q as usize + 1], false);
            }
            return;
        }
        self.totals.count(q, &f);
        if let Some(b) = self.interval_mut(cfg, days, nanos, now) {
            b.count(q, &f);
        }
        if let Some(b) = self.minute_mut(minute_of(nanos), now) {
            b.count(q, &f);
        }
    }

    /// The segment holding `t`: `(start, end)`, cut at minute and interval boundaries.
    fn segment(cfg: &Resolved, days: &mut DayCache, t: i64) -> (i64, i64) {
        let (istart, iend) = days.interval(cfg.tz, cfg.interval_ns, t);
        let m = minute_of(t);
        let (mstart, mend) = (m.saturating_mul(MINUTE_NS), (m + 1).saturating_mul(MINUTE_NS));
        (istart.max(mstart), iend.min(mend))
    }

    /// Move the open segment to the one holding `now` (the tenant's clock, which never goes
    /// back), booking the agent time of the segments left behind: `gauge × length`, plus
    /// the corrections of the first. Intervals that ended `retention` before `now` and
    /// minutes the ring no longer keeps are skipped (the prune that follows would drop
    /// them).
    pub fn advance(&mut self, cfg: &Resolved, days: &mut DayCache, now: i64) {
        if now < self.segment_end {
            return;
        }
        if self.cursor == i64::MIN {
            (self.cursor, self.segment_end) = Book::segment(cfg, days, now);
            return;
        }
        // Before the ring turns: ramps are kept relative to the open segment's minute.
        self.settle();
        self.settle_intervals(days);
        let (c, e) = (self.cursor, self.segment_end);
        let expired = now.saturating_sub(cfg.retention_ns);
        // The first segment: gauge × length + corrections.
        let mut rows = std::mem::take(&mut self.acc);
        let gauge = std::mem::take(&mut self.gauge.0);
        if rows.len() < gauge.len() {
            rows.resize(gauge.len(), [0; FIELDS]);
        }
        for (r, g) in rows.iter_mut().zip(gauge.iter()) {
            for (v, n) in r.iter_mut().zip(g) {
                *v = v.saturating_add(n.saturating_mul(e - c));
            }
        }
        let mut counts = std::mem::take(&mut self.counts);
        let counted = counts.iter().any(|s| !s.is_empty());
        if counted {
            self.totals.merge_counts(&counts);
        }
        if counted || rows.iter().any(|r| r.iter().any(|v| *v != 0)) {
            if let Some(b) = self.interval_mut(cfg, days, c, now) {
                b.add_rows(nonzero(&rows));
                b.merge_counts(&counts);
            }
            if let Some(b) = self.minute_mut(minute_of(c), now) {
                b.add_rows(nonzero(&rows));
                b.merge_counts(&counts);
            }
        }
        rows.fill([0; FIELDS]);
        self.acc = rows;
        counts.fill(Stats::default());
        self.counts = counts;
        let (s, end) = Book::segment(cfg, days, now);
        // The segments between: the gauge did not change during them.
        if e < s && gauge.iter().any(|g| g.iter().any(|n| *n != 0)) {
            let scaled = |len: i64| -> Vec<Row> { gauge.iter().map(|g| g.map(|n| n.saturating_mul(len))).collect() };
            let mut a = e.max(days.interval(cfg.tz, cfg.interval_ns, expired.max(e)).0);
            while a < s {
                let (_, iend) = days.interval(cfg.tz, cfg.interval_ns, a);
                let b = iend.min(s);
                let rows = scaled(b - a);
                if let Some(bucket) = self.interval_mut(cfg, days, a, now) {
                    bucket.add_rows(nonzero(&rows));
                }
                a = b;
            }
            let mut a = e.max(ring_start(now));
            while a < s {
                let m = minute_of(a);
                let b = (m + 1).saturating_mul(MINUTE_NS).min(s);
                let rows = scaled(b - a);
                if let Some(bucket) = self.minute_mut(m, now) {
                    bucket.add_rows(nonzero(&rows));
                }
                a = b;
            }
        }
        self.gauge.0 = gauge;
        (self.cursor, self.segment_end) = (s, end);
    }

    fn grow(&mut self, keys: usize) {
        if self.acc.len() < keys {
            self.acc.resize(keys, [0; FIELDS]);
        }
        if self.gauge.0.len() < keys {
            self.gauge.0.resize(keys, [0; FIELDS]);
        }
    }

    /// An agent starts (`sign` 1) or stops (`sign` −1) adding `share` at `eff` (`now` is
    /// the tenant's clock). Within the open segment only the gauge and the corrections
    /// change; before it (a late event) the span up to the segment is booked directly:
    /// minutes the ring keeps, and intervals from `now − retention` on.
    pub fn attach(&mut self, cfg: &Resolved, days: &mut DayCache, now: i64, eff: i64, share: &Share<'_>, sign: i64) {
        if share.state == AgentState::LoggedOut || self.cursor == i64::MIN {
            return;
        }
        self.grow(share.keys());
        let c = self.cursor;
        let (gauge, acc) = (&mut self.gauge.0, &mut self.acc);
        let late = eff < c;
        let w = if late { 0 } else { sign * (eff - c) };
        share.each(|k, f| {
            gauge[k][f] += sign;
            acc[k][f] -= w;
        });
        if late {
            let from = eff.max(now.saturating_sub(cfg.retention_ns));
            self.add_intervals(cfg, days, from, c, share, sign, sign > 0);
            self.late_minutes(now, eff, share, sign);
        }
    }

    /// Book `sign × share` over `[eff, cursor)` into the minute ring (as far as it reaches
    /// back at `now`): the first and the last (partial) minutes at once, the full ones in
    /// between as a ramp ([`LateRamps`]).
    fn late_minutes(&mut self, now: i64, eff: i64, share: &Share<'_>, sign: i64) {
        let c = self.cursor;
        let a = eff.max(ring_start(now));
        if a >= c {
            return;
        }
        let (first, last) = (minute_of(a), minute_of(c));
        let first_end = (first + 1).saturating_mul(MINUTE_NS).min(c);
        if let Some(bucket) = self.minute_mut(first, now) {
            bucket.add_share(share, sign * (first_end - a));
        }
        if first + 1 < last {
            self.late.0.ramp(first + 1, last, share, sign);
        }
        let last_start = last.saturating_mul(MINUTE_NS);
        if first < last
            && last_start < c
            && let Some(bucket) = self.minute_mut(last, now)
        {
            bucket.add_share(share, sign * (c - last_start));
        }
    }

    /// [`Book::late_minutes`] minute by minute, as before the ramps: the tests' reference.
    #[cfg(test)]
    fn late_minutes_one_by_one(&mut self, now: i64, eff: i64, share: &Share<'_>, sign: i64) {
        let c = self.cursor;
        let mut a = eff.max(ring_start(now));
        while a < c {
            let m = minute_of(a);
            let b = (m + 1).saturating_mul(MINUTE_NS).min(c);
            if let Some(bucket) = self.minute_mut(m, now) {
                bucket.add_share(share, sign * (b - a));
            }
            a = b;
        }
    }

    /// One agent's event at `eff`: from then on it adds `new` instead of `old`, whose
    /// members are `new`'s but for `joined` (the queues it joined during the event). The
    /// same as `attach(old, −1)` then `attach(new, 1)`, touching only what changes.
    #[allow(clippy::too_many_arguments)]
    pub fn transition(
        &mut self,
        cfg: &Resolved,
        days: &mut DayCache,
        now: i64,
        eff: i64,
        old: &Share<'_>,
        joined: &[u32],
        new: &Share<'_>,
    ) {
        if self.cursor == i64::MIN {
            return;
        }
        if eff < self.cursor {
            // A late event: book both spans up to the open segment.
            let members: Vec<u32> = old.members.iter().copied().filter(|m| !joined.contains(m)).collect();
            self.attach(cfg, days, now, eff, &Share { members: &members, ..*old }, -1);
            self.attach(cfg, days, now, eff, new, 1);
            return;
        }
        let (fo, fnew) = (field_of(old.state), field_of(new.state));
        let busy = (old.state.is_busy(), new.state.is_busy());
        let cq = (old.call_queue.filter(|_| busy.0), new.call_queue.filter(|_| busy.1));
        if fo == fnew && cq.0 == cq.1 && joined.is_empty() {
            return;
        }
        self.grow(new.keys());
        let w = eff - self.cursor;
        let (gauge, acc) = (&mut self.gauge.0, &mut self.acc);
        let mut add = |k: usize, f: usize, d: i64| {
            gauge[k][f] += d;
            acc[k][f] -= d * w;
        };
        if let Some(f) = fo {
            add(0, f, -1);
            add(0, STAFFED, -1);
            if let Some(q) = cq.0 {
                add(q as usize + 1, f, -1);
            }
        }
        if let Some(f) = fnew {
            add(0, f, 1);
            add(0, STAFFED, 1);
            if let Some(q) = cq.1 {
                add(q as usize + 1, f, 1);
            }
        }
        // Member queues: staffed time while logged in, and idle (ready, not ready) time.
        let staffed = i64::from(fnew.is_some()) - i64::from(fo.is_some());
        let idle = (fo.filter(|_| !busy.0), fnew.filter(|_| !busy.1));
        if staffed != 0 || idle.0 != idle.1 {
            for &m in new.members {
                if joined.contains(&m) {
                    continue;
                }
                let k = m as usize + 1;
                if staffed != 0 {
                    add(k, STAFFED, staffed);
                }
                if idle.0 != idle.1 {
                    if let Some(f) = idle.0 {
                        add(k, f, -1);
                    }
                    if let Some(f) = idle.1 {
                        add(k, f, 1);
                    }
                }
            }
        }
        if fnew.is_some() {
            for &j in joined {
                add(j as usize + 1, STAFFED, 1);
                if let Some(f) = idle.1 {
                    add(j as usize + 1, f, 1);
                }
            }
        }
    }

    /// Book `sign × [from, to)` of one agent's time into the intervals, creating them when
    /// `create` (else only into intervals kept): noted in [`IntervalRamps`], booked when
    /// the open segment moves on, at a prune, or for a read.
    #[allow(clippy::too_many_arguments)]
    pub fn add_intervals(
        &mut self,
        cfg: &Resolved,
        days: &mut DayCache,
        from: i64,
        to: i64,
        share: &Share<'_>,
        sign: i64,
        create: bool,
    ) {
        if from >= to {
            return;
        }
        let ramps = &mut self.late_intervals.0;
        ramps.zone = Some((cfg.tz, cfg.interval_ns));
        let mut a = from;
        let (start, end) = days.interval(cfg.tz, cfg.interval_ns, a);
        if a > start || end > to {
            let b = end.min(to);
            ramps.once(start, share, sign * (b - a), create);
            a = b;
        }
        if a >= to {
            return;
        }
        // `a` starts an interval: whole intervals up to the one holding `to`.
        let (last, _) = days.interval(cfg.tz, cfg.interval_ns, to);
        if a < last {
            ramps.ramp(a, last, share, sign, create);
        }
        if last < to {
            ramps.once(last, share, sign * (to - last), create);
        }
    }

    /// The open segment's agent time up to `now`, per key (`None` before the first
    /// record).
    pub fn pending(&self, now: i64) -> Option<Vec<Row>> {
        if self.cursor == i64::MIN {
            return None;
        }
        let len = now.saturating_sub(self.cursor).max(0);
        let keys = self.acc.len().max(self.gauge.0.len());
        let zero = [0; FIELDS];
        Some(
            (0..keys)
                .map(|k| {
                    let mut r = *self.acc.get(k).unwrap_or(&zero);
                    for (v, n) in r.iter_mut().zip(self.gauge.0.get(k).unwrap_or(&zero)) {
                        *v = v.saturating_add(n.saturating_mul(len));
                    }
                    r
                })
                .collect(),
        )
    }

    /// Add one agent's share to the gauge (rebuilding it after a snapshot).
    pub fn gauge_add(&mut self, share: &Share<'_>) {
        if share.state == AgentState::LoggedOut {
            return;
        }
        self.grow(share.keys());
        let gauge = &mut self.gauge.0;
        share.each(|k, f| gauge[k][f] += 1);
    }

    /// Book agent time `[from, to)` in `state`, split at interval and minute boundaries:
    /// the eager booking the lazy one replaced, kept as the tests' reference.
    #[cfg(test)]
    #[allow(clippy::too_many_arguments)]
    pub fn add_time(
        &mut self,
        cfg: &Resolved,
        days: &mut DayCache,
        from: i64,
        to: i64,
        now: i64,
        state: AgentState,
        call_queue: Option<u32>,
        members: &[u32],
    ) {
        if state == AgentState::LoggedOut || to <= from {
            return;
        }
        let mut a = from.max(now.saturating_sub(cfg.retention_ns));
        while a < to {
            let (_, end) = days.interval(cfg.tz, cfg.interval_ns, a);
            let b = end.min(to);
            if let Some(bucket) = self.interval_mut(cfg, days, a, now) {
                bucket.add_time(state, b - a, call_queue, members);
            }
            a = b;
        }
        let mut a = from.max((minute_of(now) - RING_MINUTES + 1).saturating_mul(MINUTE_NS));
        while a < to {
            let m = minute_of(a);
            let b = (m + 1).saturating_mul(MINUTE_NS).min(to);
            if let Some(bucket) = self.minute_mut(m, now) {
                bucket.add_time(state, b - a, call_queue, members);
            }
            a = b;
        }
    }

    /// Drop intervals that ended `retention` before `now` (late spans booked first: a
    /// span noted before the prune books as it would have then).
    pub fn prune(&mut self, cfg: &Resolved, days: &mut DayCache, now: i64) {
        self.settle_intervals(days);
        let cutoff = now.saturating_sub(cfg.retention_ns);
        while let Some(e) = self.intervals.first_entry() {
            if e.get().end <= cutoff {
                e.remove();
            } else {
                break;
            }
        }
    }

    /// The sum of the minute buckets `first..=last` (minute numbers).
    pub fn window(&self, first: i64, last: i64) -> Bucket {
        let mut out = Bucket::default();
        for b in self.settled_minutes().iter() {
            if b.start == i64::MIN {
                continue;
            }
            let m = minute_of(b.start);
            if m < first || m > last {
                continue;
            }
            out.total.merge(&b.total);
            for (q, s) in &b.queues.0 {
                out.queues.get_mut(*q).merge(s);
            }
        }
        out
    }

    /// A copy holding the intervals that start at or after `from` and the minute ring:
    /// what query-time accrual of open agent states may touch (the eager reference).
    #[cfg(test)]
    pub fn overlay(&self, from: i64) -> Book {
        Book {
            intervals: self.settled_intervals(from..).range(from..).map(|(k, v)| (*k, v.clone())).collect(),
            minutes: self.settled_minutes().into_owned(),
            ..Book::default()
        }
    }
}

fn secs(ns: i64) -> f64 {
    ns as f64 / NANOS_PER_SEC as f64
}

fn secs_wide(ns: i128) -> f64 {
    ns as f64 / NANOS_PER_SEC as f64
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

fn service_level(s: &Stats, formula: SlFormula) -> Option<f64> {
    let den = match formula {
        SlFormula::Offered => s.offered,
        SlFormula::AnsweredAbandoned => s.answered + s.abandoned,
        SlFormula::AnsweredLongAbandoned => (s.answered + s.abandoned).saturating_sub(s.short_abandoned),
        SlFormula::Queued => s.queued,
    };
    ratio(s.sl_calls as f64, den as f64)
}

/// The figures of one queue (or the total) over one interval or window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figures {
    /// `queued` events (callers entering the queue).
    pub queued: u64,
    /// Calls offered to an agent (each call counted at its first offer).
    pub offered: u64,
    /// Calls answered (each call counted at its first answer).
    pub answered: u64,
    /// Answered within `max_rings` rings.
    pub answered_in_time: u64,
    /// Answered within the service-level threshold (= `answered_in_time` without one).
    pub answered_in_threshold: u64,
    /// Callers who hung up while waiting.
    pub abandoned: u64,
    /// Abandons after less than `short_abandon` of waiting.
    pub short_abandoned: u64,
    /// Ring-no-answers.
    pub missed: u64,
    /// Transfers away from an agent.
    pub transferred: u64,
    /// Calls whose after-call work ended (the AHT denominator).
    pub handled: u64,
    /// The service level's numerator: calls answered within the threshold, counted in
    /// the interval (and queue) where the formula's denominator counted them — for
    /// `offered` the call's first offer, for `queued` its last `queued` event, else its
    /// answer — so that `service_level` never exceeds 1.
    pub service_level_calls: u64,
    /// Service level by the queue's formula: `service_level_calls` ÷ the formula's
    /// denominator; `null` with a zero denominator.
    pub service_level: Option<f64>,
    /// The formula `service_level` used.
    pub service_level_formula: &'static str,
    /// Average speed of answer: answer delay ÷ answered.
    pub asa_seconds: Option<f64>,
    /// Average handle time: (talk + wrap-up) ÷ handled.
    pub aht_seconds: Option<f64>,
    /// Busy ÷ (busy + ready), busy = ringing + talking + wrap-up.
    pub occupancy: Option<f64>,
    /// Busy ÷ staffed (logged-in) time.
    pub utilization: Option<f64>,
    /// Agent seconds ringing.
    pub ringing_seconds: f64,
    /// Agent seconds talking.
    pub talk_seconds: f64,
    /// Agent seconds in wrap-up.
    pub wrap_up_seconds: f64,
    /// Agent seconds ready and idle.
    pub ready_seconds: f64,
    /// Agent seconds not ready.
    pub not_ready_seconds: f64,
    /// Agent seconds logged in.
    pub staffed_seconds: f64,
}

impl Figures {
    pub(crate) fn new(s: &Stats, sl: Sl) -> Self {
        let busy = s.busy_ns();
        Figures {
            queued: s.queued,
            offered: s.offered,
            answered: s.answered,
            answered_in_time: s.answered_in_time,
            answered_in_threshold: s.answered_in_threshold,
            abandoned: s.abandoned,
            short_abandoned: s.short_abandoned,
            missed: s.missed,
            transferred: s.transferred,
            handled: s.handled,
            service_level_calls: s.sl_calls,
            service_level: service_level(s, sl.formula),
            service_level_formula: sl.formula.as_str(),
            asa_seconds: ratio(secs_wide(s.answer_delay_ns), s.answered as f64),
            aht_seconds: ratio(secs_wide(s.handle_ns), s.handled as f64),
            occupancy: ratio(secs(busy), secs(busy.saturating_add(s.ready_ns))),
            utilization: ratio(secs(busy), secs(s.staffed_ns)),
            ringing_seconds: secs(s.ringing_ns),
            talk_seconds: secs(s.talk_ns),
            wrap_up_seconds: secs(s.wrap_ns),
            ready_seconds: secs(s.ready_ns),
            not_ready_seconds: secs(s.not_ready_ns),
            staffed_seconds: secs(s.staffed_ns),
        }
    }
}

/// One row of `/v1/intervals`: one interval and one queue, or the total (`queue: null`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IntervalRow {
    /// The interval's first instant.
    pub start: Ts,
    /// The instant after its last.
    pub end: Ts,
    /// The queue, `null` for the total over all calls (including calls of no queue).
    pub queue: Option<QueueId>,
    /// Whether the tenant's watermark has passed `end` (the figures are final unless an
    /// event arrives later than the allowed lateness).
    pub closed: bool,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// One sliding-window row: the last `window_minutes` minutes up to the tenant's clock.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowRow {
    /// 15 or 60.
    pub window_minutes: u32,
    /// The first instant covered: the start of the minute `window_minutes − 1` minutes
    /// before the one holding `end`.
    pub start: Ts,
    /// The tenant's clock.
    pub end: Ts,
    /// The queue, `null` for the total.
    pub queue: Option<QueueId>,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// Cumulative counters of one queue (or the total) since the start of the log; never
/// reset, for Prometheus counters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Totals {
    /// `queued` events.
    pub queued: u64,
    /// Calls offered (first offer of each call).
    pub offered: u64,
    /// Calls answered (first answer of each call).
    pub answered: u64,
    /// Answered within `max_rings` rings.
    pub answered_in_time: u64,
    /// Answered within the service-level threshold.
    pub answered_in_threshold: u64,
    /// Callers who hung up while waiting.
    pub abandoned: u64,
    /// Abandons after less than `short_abandon`.
    pub short_abandoned: u64,
    /// Ring-no-answers.
    pub missed: u64,
    /// Transfers away from an agent.
    pub transferred: u64,
    /// Calls whose after-call work ended.
    pub handled: u64,
    /// Sum of answer delays (ASA numerator), seconds.
    pub answer_delay_seconds: f64,
    /// Sum of handle times (AHT numerator), seconds.
    pub handle_seconds: f64,
}

impl Totals {
    pub(crate) fn new(s: &Stats) -> Self {
        Totals {
            queued: s.queued,
            offered: s.offered,
            answered: s.answered,
            answered_in_time: s.answered_in_time,
            answered_in_threshold: s.answered_in_threshold,
            abandoned: s.abandoned,
            short_abandoned: s.short_abandoned,
            missed: s.missed,
            transferred: s.transferred,
            handled: s.handled,
            answer_delay_seconds: secs_wide(s.answer_delay_ns),
            handle_seconds: secs_wide(s.handle_ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn state(i: u8) -> AgentState {
        AgentState::ALL[usize::from(i) % AgentState::ALL.len()]
    }

    proptest! {
        #![proptest_config(seatwatch_testkit::proptest_config("occupancy-add-share", 256))]

        /// The walk of `add_share` books exactly what `Share::each` names, slot by
        /// slot, as one `key_mut` per key and field did; members need not even be sorted.
        #[test]
        fn add_share_books_what_each_names(
            existing in proptest::collection::btree_set(0u32..40, 0..12),
            members in proptest::collection::vec(0u32..40, 0..12),
            sort in any::<bool>(),
            st in 0u8..6,
            call_queue in proptest::option::of(0u32..40),
            dt in prop_oneof![Just(0i64), -1_000_000i64..1_000_000, Just(i64::MAX), Just(i64::MIN)],
        ) {
            let mut members = members;
            if sort {
                members.sort_unstable();
                members.dedup();
            }
            let mut bucket = Bucket::default();
            for q in existing {
                bucket.queues.get_mut(q).staffed_ns = i64::from(q) * 7;
            }
            bucket.total.ready_ns = i64::MAX - 5;
            let share = Share { state: state(st), call_queue, members: &members };
            let mut want = bucket.clone();
            if dt != 0 {
                share.each(|k, f| {
                    let slot = want.key_mut(k).field_mut(f);
                    *slot = slot.saturating_add(dt);
                });
            }
            bucket.add_share(&share, dt);
            prop_assert_eq!(bucket, want);
        }
    }

    #[derive(Clone, Debug)]
    struct Span {
        back: i64,
        st: u8,
        call_queue: Option<u32>,
        members: Vec<u32>,
        sign: i64,
    }

    fn span() -> impl Strategy<Value = Span> {
        let back = prop_oneof![
            2 => 0i64..3 * MINUTE_NS,
            3 => 0i64..70 * MINUTE_NS,
            1 => (0i64..70).prop_map(|m| m * MINUTE_NS),
        ];
        (back, 0u8..6, proptest::option::of(0u32..6), proptest::collection::btree_set(0u32..6, 0..4), any::<bool>())
            .prop_map(|(back, st, call_queue, members, plus)| Span {
                back,
                st,
                call_queue,
                members: members.into_iter().collect(),
                sign: if plus { 1 } else { -1 },
            })
    }

    proptest! {
        #![proptest_config(seatwatch_testkit::proptest_config("occupancy-late-ramps", 512))]

        /// Late spans booked as ramps and settled give the minute ring exactly what
        /// booking them minute by minute gave: the same sums and the same queue entries
        /// in every minute (an entry exists where a span reached it, even if the sums
        /// there cancel out), whatever the cursor's place in its minute, and whether the
        /// ring is read settled (a snapshot, a query) or settled in place.
        #[test]
        fn late_ramps_book_what_minute_by_minute_booking_did(
            cursor_in_minute in prop_oneof![Just(0i64), 0i64..MINUTE_NS],
            now_after in 0i64..MINUTE_NS,
            earlier in proptest::collection::vec((0i64..80, 0u32..6), 0..20),
            spans in proptest::collection::vec(span(), 1..12),
            rounds in 1usize..3,
        ) {
            let base = 29_000_000i64;
            let mut want = Book::default();
            // Minutes already used, some older than the ring (their slots are reused).
            for (m, q) in earlier {
                let minute = base - m;
                let now = base.saturating_mul(MINUTE_NS);
                if let Some(b) = want.minute_mut(minute, now) {
                    b.queues.get_mut(q).offered += 1;
                }
            }
            let mut got = want.clone();
            for round in 0..rounds {
                let cursor = (base + round as i64 * 3).saturating_mul(MINUTE_NS) + cursor_in_minute;
                let now = (cursor + now_after).min((cursor / MINUTE_NS + 1) * MINUTE_NS - 1);
                want.cursor = cursor;
                if round > 0 {
                    got.settle();
                }
                got.cursor = cursor;
                for s in &spans {
                    let share = Share { state: state(s.st), call_queue: s.call_queue, members: &s.members };
                    if share.state == AgentState::LoggedOut {
                        continue;
                    }
                    want.late_minutes_one_by_one(now, cursor - s.back, &share, s.sign);
                    got.late_minutes(now, cursor - s.back, &share, s.sign);
                }
                prop_assert_eq!(&*got.settled_minutes(), &want.minutes[..]);
            }
            got.settle();
            prop_assert!(!got.late.0.pending);
            prop_assert_eq!(&got.minutes, &want.minutes);
        }
    }

    #[test]
    fn ratios_with_zero_denominators_are_none() {
        let f = Figures::new(&Stats::default(), Sl { formula: SlFormula::Offered, threshold_ns: None });
        assert_eq!(
            (f.service_level, f.asa_seconds, f.aht_seconds, f.occupancy, f.utilization),
            (None, None, None, None, None)
        );
    }

    #[test]
    fn each_service_level_formula_uses_its_denominator() {
        let s = Stats {
            queued: 10,
            offered: 8,
            answered: 6,
            answered_in_threshold: 5,
            sl_calls: 3,
            abandoned: 4,
            short_abandoned: 1,
            ..Stats::default()
        };
        let sl = |formula| service_level(&s, formula);
        assert_eq!(sl(SlFormula::Offered), Some(3.0 / 8.0));
        assert_eq!(sl(SlFormula::AnsweredAbandoned), Some(3.0 / 10.0));
        assert_eq!(sl(SlFormula::AnsweredLongAbandoned), Some(3.0 / 9.0));
        assert_eq!(sl(SlFormula::Queued), Some(3.0 / 10.0));
    }

    #[test]
    fn busy_time_goes_to_the_calls_queue_idle_time_to_every_member_queue() {
        let mut b = Bucket::default();
        b.add_time(AgentState::Talking, 10, Some(1), &[1, 2]);
        b.add_time(AgentState::Ready, 5, None, &[1, 2]);
        assert_eq!(b.total.talk_ns, 10);
        assert_eq!(b.total.staffed_ns, 15);
        let q1 = b.queues.0.iter().find(|e| e.0 == 1).unwrap().1;
        let q2 = b.queues.0.iter().find(|e| e.0 == 2).unwrap().1;
        assert_eq!((q1.talk_ns, q1.ready_ns, q1.staffed_ns), (10, 5, 15));
        assert_eq!((q2.talk_ns, q2.ready_ns, q2.staffed_ns), (0, 5, 15));
    }
}
