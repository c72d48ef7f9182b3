//! Alarms, the queries over them and the changes pushed live.

use crate::Rule;
use bincode::{Decode, Encode};
use seatwatch_model::{AgentId, CallId, Ts};

/// One alarm, as `GET /v1/alarms` shows it.
///
/// JSON: `{"id","rule","agent","call","raised_at","cleared_at","message","evidence"}`,
/// with `agent`, `call` and `cleared_at` `null` when absent.
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
}

impl AlarmQuery {
    /// Whether `a` passes the filter.
    pub fn matches(&self, a: &Alarm) -> bool {
        (!self.active_only || a.is_active())
            && self.rule.is_none_or(|r| r == a.rule)
            && self.agent.as_deref().is_none_or(|ag| a.agent.as_ref().is_some_and(|x| x.as_str() == ag))
            && self.from.is_none_or(|f| a.raised_at >= f)
            && self.to.is_none_or(|t| a.raised_at < t)
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
            tenant: "acme".into(),
        };
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"id":"late_login-7","rule":"late_login","agent":"a1","call":null,"raised_at":"2026-03-02T00:41:00Z","cleared_at":null,"message":"m","evidence":[7]}"#
        );
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
            tenant: String::new(),
        };
        assert!(AlarmQuery::default().matches(&a));
        assert!(!AlarmQuery { active_only: true, ..Default::default() }.matches(&a));
        assert!(!AlarmQuery { rule: Some(Rule::LateLogin), ..Default::default() }.matches(&a));
        assert!(AlarmQuery { agent: Some("a1".into()), ..Default::default() }.matches(&a));
        assert!(!AlarmQuery { agent: Some("a2".into()), ..Default::default() }.matches(&a));
        assert!(AlarmQuery { from: Some(t(100)), to: Some(t(101)), ..Default::default() }.matches(&a));
        assert!(!AlarmQuery { to: Some(t(100)), ..Default::default() }.matches(&a));
    }
}
