//! Alarms, the queries over them and the changes pushed live.

use crate::Rule;
use bincode::enc::Encoder;
use bincode::error::EncodeError;
use bincode::{Decode, Encode};
use hashbrown::{HashTable, hash_table};
use seatwatch_model::{AgentId, CallId, IdHash, Ts};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One alarm, as `GET /v1/alarms` shows it.
///
/// JSON: `{"id","rule","agent","call","raised_at","cleared_at","message","evidence"}`,
/// with `agent`, `call` and `cleared_at` `null` when absent, and `"withdrawn": true` on a
/// withdrawn alarm (only listed when asked for: `state=withdrawn`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, Encode, Decode)]
pub struct Alarm {
    /// Unique within the tenant and the same on every replay, e.g. `late_login-42`.
    pub id: String,
    /// The rule.
    pub rule: Rule,
    /// The agent concerned (`null` for `roster_not_published`).
    pub agent: Option<AgentId>,
    /// The call concerned, for call rules.
    pub call: Option<CallId>,
    /// When the rule was broken (e.g. the 15-minute mark), not when it was noticed.
    pub raised_at: Ts,
    /// When the condition ended; `null` while active and for rules without an end.
    pub cleared_at: Option<Ts>,
    /// What happened, for a person, naming the limit and the seed article.
    pub message: String,
    /// The log sequence numbers of the events behind the alarm, ascending.
    pub evidence: Vec<u64>,
    /// Shown to be false after it was raised: an event stamped before `raised_at`
    /// arrived afterwards and ends the condition before the deadline (a producer behind
    /// the tenant's clock). `cleared_at` is then `raised_at`; the alarm is kept (its id
    /// stays taken, the stream told of it) but left out of the lists unless asked for.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
    /// The tenant (not serialized: the API is per tenant).
    #[serde(skip)]
    pub tenant: String,
}

impl Alarm {
    /// Whether the alarm is active (not cleared).
    pub fn is_active(&self) -> bool {
        self.cleared_at.is_none()
    }
}

/// A filter over a tenant's alarms (`GET /v1/alarms?state=&rule=&agent=&from=&to=`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlarmQuery {
    /// Only alarms not cleared (`state=active`).
    pub active_only: bool,
    /// Only this rule.
    pub rule: Option<Rule>,
    /// Only this agent.
    pub agent: Option<String>,
    /// Only alarms raised at or after this.
    pub from: Option<Ts>,
    /// Only alarms raised before this.
    pub to: Option<Ts>,
    /// The withdrawn alarms instead of the others (`state=withdrawn`).
    pub withdrawn: bool,
}

impl AlarmQuery {
    /// Whether `a` passes the filter.
    pub fn matches(&self, a: &Alarm) -> bool {
        self.matches_parts(a.rule, a.agent.as_ref().map(AgentId::as_str), a.raised_at.nanos, a.is_active(), a.withdrawn)
    }

    /// [`AlarmQuery::matches`] on the fields it looks at.
    pub(crate) fn matches_parts(
        &self,
        rule: Rule,
        agent: Option<&str>,
        raised_at: i64,
        active: bool,
        withdrawn: bool,
    ) -> bool {
        withdrawn == self.withdrawn
            && (!self.active_only || active)
            && self.rule.is_none_or(|r| r == rule)
            && self.agent.as_deref().is_none_or(|ag| agent == Some(ag))
            && self.from.is_none_or(|f| raised_at >= f.nanos)
            && self.to.is_none_or(|t| raised_at < t.nanos)
    }
}

/// One alarm as a tenant keeps it: an [`Alarm`] without what its [`AlarmBook`] key
/// and its tenant already say, every string at its exact length and the agent's id
/// shared with the agent's own slot.
///
/// Alarms are kept for `GET /v1/alarms?state=all` for as long as the process runs, so
/// their size is most of the compliance state's growth: at 100,000 agents an [`Alarm`]
/// kept whole, under two maps keyed by copies of its id, cost ~600 bytes of heap.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Stored {
    pub(crate) rule: Rule,
    pub(crate) agent: Option<Arc<str>>,
    pub(crate) call: Option<Box<str>>,
    pub(crate) cleared_at: Option<i64>,
    pub(crate) message: Box<str>,
    pub(crate) evidence: Box<[u64]>,
    pub(crate) withdrawn: bool,
}

/// A tenant's alarms, by `(raised_at, id)` (the API's order) and by id.
///
/// It encodes (in snapshots) exactly as the two maps it replaces, byte for byte: every
/// alarm as `BTreeMap<(i64, String), Alarm>` with the tenant in each alarm, then the
/// index as `BTreeMap<String, i64>` (see [`AlarmBook::encode`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct AlarmBook {
    by_time: BTreeMap<(i64, Arc<str>), Stored>,
    /// `(id, raised_at)`, hashed by the id (the id's allocation is the key's above).
    by_id: HashTable<(Arc<str>, i64)>,
}

/// [`Alarm`] borrowed from a [`Stored`]: encodes to the same bytes.
#[derive(Encode)]
struct AlarmRef<'a> {
    id: &'a str,
    rule: Rule,
    agent: Option<&'a str>,
    call: Option<&'a str>,
    raised_at: Ts,
    cleared_at: Option<Ts>,
    message: &'a str,
    evidence: &'a [u64],
    withdrawn: bool,
    tenant: &'a str,
}

fn id_hash(id: &str) -> u64 {
    IdHash::of(id.as_bytes())
}

impl AlarmBook {
    /// How many alarms.
    pub(crate) fn len(&self) -> usize {
        self.by_time.len()
    }

    /// Add alarm `id`, raised at `at`. An id already present is left alone (false).
    pub(crate) fn insert(&mut self, id: &str, at: i64, alarm: Stored) -> bool {
        let hash = id_hash(id);
        match self.by_id.entry(hash, |(k, _)| &**k == id, |(k, _)| id_hash(k)) {
            hash_table::Entry::Occupied(_) => false,
            hash_table::Entry::Vacant(v) => {
                let id: Arc<str> = Arc::from(id);
                v.insert((id.clone(), at));
                self.by_time.insert((at, id), alarm);
                true
            }
        }
    }

    /// Take alarm `id` out of the book (to raise a withdrawn alarm's id again).
    pub(crate) fn remove(&mut self, id: &str) -> Option<(i64, Stored)> {
        let (key, at) = self.by_id.find_entry(id_hash(id), |(k, _)| &**k == id).ok()?.remove().0;
        self.by_time.remove(&(at, key)).map(|s| (at, s))
    }

    /// Alarm `id` with its `raised_at`, to change it.
    pub(crate) fn get_mut(&mut self, id: &str) -> Option<(i64, &mut Stored)> {
        let (key, at) = self.by_id.find(id_hash(id), |(k, _)| &**k == id)?;
        let at = *at;
        self.by_time.get_mut(&(at, key.clone())).map(|s| (at, s))
    }

    /// Every alarm raised at or after `from`, by `(raised_at, id)`.
    pub(crate) fn from(&self, from: i64) -> impl Iterator<Item = (i64, &str, &Stored)> + '_ {
        self.by_time.range((from, Arc::<str>::from(""))..).map(|((at, id), s)| (*at, &**id, s))
    }

    /// The alarm as the API shows it.
    pub(crate) fn view(tenant: &str, at: i64, id: &str, s: &Stored) -> Alarm {
        Alarm {
            id: id.to_owned(),
            rule: s.rule,
            agent: s.agent.as_deref().map(AgentId::from),
            call: s.call.as_deref().map(CallId::from),
            raised_at: Ts::from_nanos(at),
            cleared_at: s.cleared_at.map(Ts::from_nanos),
            message: s.message.clone().into(),
            evidence: s.evidence.to_vec(),
            withdrawn: s.withdrawn,
            tenant: tenant.to_owned(),
        }
    }

    /// The alarms then the index, as `BTreeMap<(i64, String), Alarm>` and
    /// `BTreeMap<String, i64>` encode (each alarm names `tenant`).
    pub(crate) fn encode<E: Encoder>(&self, tenant: &str, e: &mut E) -> Result<(), EncodeError> {
        (self.by_time.len() as u64).encode(e)?;
        for ((at, id), s) in &self.by_time {
            at.encode(e)?;
            id.encode(e)?;
            AlarmRef {
                id,
                rule: s.rule,
                agent: s.agent.as_deref(),
                call: s.call.as_deref(),
                raised_at: Ts::from_nanos(*at),
                cleared_at: s.cleared_at.map(Ts::from_nanos),
                message: &s.message,
                evidence: &s.evidence,
                withdrawn: s.withdrawn,
                tenant,
            }
            .encode(e)?;
        }
        let mut index: Vec<(&str, i64)> = self.by_id.iter().map(|(id, at)| (&**id, *at)).collect();
        index.sort_unstable();
        (index.len() as u64).encode(e)?;
        for (id, at) in index {
            id.encode(e)?;
            at.encode(e)?;
        }
        Ok(())
    }

    /// The book of the decoded maps; `agent_name` gives the shared id of an agent.
    pub(crate) fn from_decoded(
        alarms: BTreeMap<(i64, String), Alarm>,
        index: &BTreeMap<String, i64>,
        mut agent_name: impl FnMut(&str) -> Arc<str>,
    ) -> Result<Self, String> {
        let mut book = AlarmBook::default();
        for ((at, id), a) in alarms {
            if index.get(&id) != Some(&at) || a.id != id || a.raised_at.nanos != at {
                return Err(format!("alarm {id:?} is not indexed under its raised_at"));
            }
            let stored = Stored {
                rule: a.rule,
                agent: a.agent.map(|x| agent_name(x.as_str())),
                call: a.call.map(|c| Box::from(c.0.as_str())),
                cleared_at: a.cleared_at.map(|t| t.nanos),
                message: a.message.into_boxed_str(),
                evidence: a.evidence.into_boxed_slice(),
                withdrawn: a.withdrawn,
            };
            book.insert(&id, at, stored);
        }
        if book.len() != index.len() {
            return Err(format!("{} alarms but {} in the index", book.len(), index.len()));
        }
        Ok(book)
    }
}

/// An alarm raised or cleared, for the live `/v1/stream` push. The tenant is
/// `alarm.tenant`.
#[derive(Clone, Debug, PartialEq)]
pub enum AlarmChange {
    /// A new alarm (`alarm_raised`).
    Raised(Alarm),
    /// An alarm that just cleared, as it now is (`alarm_cleared`).
    Cleared(Alarm),
}

impl AlarmChange {
    /// The alarm as of the change.
    pub fn alarm(&self) -> &Alarm {
        match self {
            AlarmChange::Raised(a) | AlarmChange::Cleared(a) => a,
        }
    }

    /// `alarm_raised` or `alarm_cleared`, the stream's `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            AlarmChange::Raised(_) => "alarm_raised",
            AlarmChange::Cleared(_) => "alarm_cleared",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_is_the_contracts() {
        let a = Alarm {
            id: "late_login-7".into(),
            rule: Rule::LateLogin,
            agent: Some(AgentId::from("a1")),
            call: None,
            raised_at: Ts::parse_rfc3339("2026-03-02T08:41:00+08:00").unwrap(),
            cleared_at: None,
            message: "m".into(),
            evidence: vec![7],
            withdrawn: false,
            tenant: "acme".into(),
        };
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"id":"late_login-7","rule":"late_login","agent":"a1","call":null,"raised_at":"2026-03-02T00:41:00Z","cleared_at":null,"message":"m","evidence":[7]}"#
        );
        let w = Alarm { withdrawn: true, cleared_at: Some(a.raised_at), ..a };
        assert!(serde_json::to_string(&w).unwrap().ends_with(r#""evidence":[7],"withdrawn":true}"#));
    }

    fn alarm(id: &str, at: i64, agent: Option<&str>, cleared: Option<i64>) -> Alarm {
        Alarm {
            id: id.into(),
            rule: Rule::NotReadyOverlong,
            agent: agent.map(AgentId::from),
            call: (at % 2 == 0).then(|| CallId::from("c-1")),
            raised_at: Ts::from_nanos(at),
            cleared_at: cleared.map(Ts::from_nanos),
            message: format!("message of {id}"),
            evidence: vec![1, 5, at.unsigned_abs()],
            withdrawn: at == 7,
            tenant: "acme".into(),
        }
    }

    #[test]
    fn the_book_encodes_as_the_two_maps_it_replaces_and_finds_by_id() {
        let alarms = [
            alarm("b", 10, Some("a1"), None),
            alarm("a", 10, None, Some(20)),
            alarm("z", -3, Some("a2"), Some(-3)),
            alarm("m", 7, Some("a1"), None),
        ];
        let map: BTreeMap<(i64, String), Alarm> =
            alarms.iter().map(|a| ((a.raised_at.nanos, a.id.clone()), a.clone())).collect();
        let index: BTreeMap<String, i64> = alarms.iter().map(|a| (a.id.clone(), a.raised_at.nanos)).collect();
        let cfg = seatwatch_model::BINCODE_CONFIG;
        let mut want = bincode::encode_to_vec(&map, cfg).unwrap();
        want.extend(bincode::encode_to_vec(&index, cfg).unwrap());

        let mut book = AlarmBook::from_decoded(map.clone(), &index, |a: &str| Arc::from(a)).unwrap();
        let mut got = Vec::new();
        let mut enc = bincode::enc::EncoderImpl::new(VecWriter(&mut got), cfg);
        book.encode("acme", &mut enc).unwrap();
        assert_eq!(got, want);

        // In (raised_at, id) order, each as it went in.
        let back: Vec<Alarm> = book.from(i64::MIN).map(|(at, id, s)| AlarmBook::view("acme", at, id, s)).collect();
        assert_eq!(back, map.values().cloned().collect::<Vec<_>>());
        assert_eq!(book.from(10).map(|(_, id, _)| id).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(book.get_mut("m").map(|(at, _)| at), Some(7));
        assert!(book.get_mut("nope").is_none());

        let mut book = book;
        let (at, s) = book.get_mut("b").unwrap();
        assert_eq!(at, 10);
        s.cleared_at = Some(11);
        assert_eq!(book.from(10).nth(1).unwrap().2.cleared_at, Some(11));
        // An id is kept once, whatever its time.
        let again = Stored {
            rule: Rule::Absent,
            agent: None,
            call: None,
            cleared_at: None,
            message: "".into(),
            evidence: Box::new([]),
            withdrawn: false,
        };
        assert!(!book.insert("b", 99, again.clone()));
        assert!(book.insert("n", 99, again.clone()));
        assert_eq!((book.len(), book.get_mut("n").map(|(at, _)| at)), (5, Some(99)));
        // Removed, an id is free again, at another time.
        assert_eq!(book.remove("n").map(|(at, _)| at), Some(99));
        assert!(book.remove("n").is_none());
        assert_eq!(book.len(), 4);
        assert!(book.insert("n", 3, again));
        assert_eq!(book.from(3).next().map(|(at, id, _)| (at, id)), Some((3, "n")));
    }

    #[test]
    fn a_book_whose_index_disagrees_is_refused() {
        let a = alarm("x", 5, None, None);
        let map = BTreeMap::from([((5, "x".to_owned()), a)]);
        assert!(
            AlarmBook::from_decoded(map.clone(), &BTreeMap::from([("x".to_owned(), 6)]), |a: &str| Arc::from(a))
                .is_err()
        );
        assert!(AlarmBook::from_decoded(map.clone(), &BTreeMap::new(), |a: &str| Arc::from(a)).is_err());
        let extra = BTreeMap::from([("x".to_owned(), 5), ("y".to_owned(), 5)]);
        assert!(AlarmBook::from_decoded(map, &extra, |a: &str| Arc::from(a)).is_err());
    }

    struct VecWriter<'a>(&'a mut Vec<u8>);
    impl bincode::enc::write::Writer for VecWriter<'_> {
        fn write(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
            self.0.extend_from_slice(bytes);
            Ok(())
        }
    }

    #[test]
    fn query_filters() {
        let t = |s: i64| Ts::from_secs(s);
        let a = Alarm {
            id: "x".into(),
            rule: Rule::Absent,
            agent: Some(AgentId::from("a1")),
            call: None,
            raised_at: t(100),
            cleared_at: Some(t(200)),
            message: String::new(),
            evidence: vec![],
            withdrawn: false,
            tenant: Default::default(),
        };
        assert!(AlarmQuery::default().matches(&a));
        assert!(!AlarmQuery { active_only: true, ..Default::default() }.matches(&a));
        assert!(!AlarmQuery { rule: Some(Rule::LateLogin), ..Default::default() }.matches(&a));
        assert!(AlarmQuery { agent: Some("a1".into()), ..Default::default() }.matches(&a));
        assert!(!AlarmQuery { agent: Some("a2".into()), ..Default::default() }.matches(&a));
        assert!(AlarmQuery { from: Some(t(100)), to: Some(t(101)), ..Default::default() }.matches(&a));
        assert!(!AlarmQuery { to: Some(t(100)), ..Default::default() }.matches(&a));
        // Withdrawn alarms only when asked for, and then only they.
        assert!(!AlarmQuery { withdrawn: true, ..Default::default() }.matches(&a));
        let w = Alarm { withdrawn: true, ..a };
        assert!(!AlarmQuery::default().matches(&w));
        assert!(AlarmQuery { withdrawn: true, ..Default::default() }.matches(&w));
    }
}
