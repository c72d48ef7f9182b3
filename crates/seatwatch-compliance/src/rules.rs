//! The rule ids and their parameters (config table `[tenant.X.rules]`).

use bincode::{Decode, Encode};
use seatwatch_model::{Dur, TimeOfDay};
use std::fmt;
use std::str::FromStr;

/// One compliance rule of `seed-rules.md`; its [`Rule::as_str`] is the alarm's `rule` id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum Rule {
    /// `late_login` (Regulations art. 8).
    LateLogin,
    /// `early_logout` (art. 8).
    EarlyLogout,
    /// `absent` (art. 9, 7).
    Absent,
    /// `duplicate_login` (art. 11).
    DuplicateLogin,
    /// `uncertified_login` (art. 13).
    UncertifiedLogin,
    /// `not_ready_overlong` (art. 16).
    NotReadyOverlong,
    /// `slow_answer` (job duties 2.2).
    SlowAnswer,
    /// `missed_call` (job duties 2.2).
    MissedCall,
    /// `wrap_up_overlong` (art. 22).
    WrapUpOverlong,
    /// `survey_not_offered` (art. 23).
    SurveyNotOffered,
    /// `callback_overdue` (art. 20, job duties 2.5).
    CallbackOverdue,
    /// `emergency_not_escalated` (art. 24).
    EmergencyNotEscalated,
    /// `qa_coverage_low` (art. 31).
    QaCoverageLow,
    /// `roster_not_published` (art. 15).
    RosterNotPublished,
}

impl Rule {
    /// Every rule, in the order of `seed-rules.md`.
    pub const ALL: [Rule; 14] = [
        Rule::LateLogin,
        Rule::EarlyLogout,
        Rule::Absent,
        Rule::DuplicateLogin,
        Rule::UncertifiedLogin,
        Rule::NotReadyOverlong,
        Rule::SlowAnswer,
        Rule::MissedCall,
        Rule::WrapUpOverlong,
        Rule::SurveyNotOffered,
        Rule::CallbackOverdue,
        Rule::EmergencyNotEscalated,
        Rule::QaCoverageLow,
        Rule::RosterNotPublished,
    ];

    /// The seed's rule id, e.g. `late_login`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::LateLogin => "late_login",
            Rule::EarlyLogout => "early_logout",
            Rule::Absent => "absent",
            Rule::DuplicateLogin => "duplicate_login",
            Rule::UncertifiedLogin => "uncertified_login",
            Rule::NotReadyOverlong => "not_ready_overlong",
            Rule::SlowAnswer => "slow_answer",
            Rule::MissedCall => "missed_call",
            Rule::WrapUpOverlong => "wrap_up_overlong",
            Rule::SurveyNotOffered => "survey_not_offered",
            Rule::CallbackOverdue => "callback_overdue",
            Rule::EmergencyNotEscalated => "emergency_not_escalated",
            Rule::QaCoverageLow => "qa_coverage_low",
            Rule::RosterNotPublished => "roster_not_published",
        }
    }

    /// Whether the rule's alarms can clear (the others keep `cleared_at: null`, except
    /// that approved leave entered afterwards clears attendance alarms of its dates).
    pub fn clears(self) -> bool {
        !matches!(self, Rule::SlowAnswer | Rule::MissedCall | Rule::QaCoverageLow)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is no rule id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown rule {0:?}; known rules: late_login, early_logout, absent, duplicate_login, uncertified_login, not_ready_overlong, slow_answer, missed_call, wrap_up_overlong, survey_not_offered, callback_overdue, emergency_not_escalated, qa_coverage_low, roster_not_published"
)]
pub struct UnknownRule(pub String);

impl FromStr for Rule {
    type Err = UnknownRule;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rule::ALL.iter().copied().find(|r| r.as_str() == s).ok_or_else(|| UnknownRule(s.chars().take(64).collect()))
    }
}

impl serde::Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A day of the week, written `"mon"` … `"sun"` (or in full) in configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Weekday(pub chrono::Weekday);

impl Weekday {
    /// Monday to Friday, the seed's workdays.
    pub fn mon_to_fri() -> Vec<Weekday> {
        use chrono::Weekday::*;
        [Mon, Tue, Wed, Thu, Fri].into_iter().map(Weekday).collect()
    }
}

impl FromStr for Weekday {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        use chrono::Weekday::*;
        let d = match s.trim().to_ascii_lowercase().as_str() {
            "mon" | "monday" => Mon,
            "tue" | "tuesday" => Tue,
            "wed" | "wednesday" => Wed,
            "thu" | "thursday" => Thu,
            "fri" | "friday" => Fri,
            "sat" | "saturday" => Sat,
            "sun" | "sunday" => Sun,
            _ => return Err(format!("unknown weekday {s:?}: use mon, tue, wed, thu, fri, sat or sun")),
        };
        Ok(Weekday(d))
    }
}

impl serde::Serialize for Weekday {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let name = match self.0 {
            chrono::Weekday::Mon => "mon",
            chrono::Weekday::Tue => "tue",
            chrono::Weekday::Wed => "wed",
            chrono::Weekday::Thu => "thu",
            chrono::Weekday::Fri => "fri",
            chrono::Weekday::Sat => "sat",
            chrono::Weekday::Sun => "sun",
        };
        s.serialize_str(name)
    }
}

impl<'de> serde::Deserialize<'de> for Weekday {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// serde for [`TimeOfDay`] as `"HH:MM"` (or `"HH:MM:SS"`), used by [`Rules`].
mod tod {
    use seatwatch_model::TimeOfDay;

    pub fn serialize<S: serde::Serializer>(t: &TimeOfDay, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(t, s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<TimeOfDay, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        TimeOfDay::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("bad local time {s:?}: write HH:MM (24-hour), e.g. \"08:30\""))
        })
    }
}

/// The parameters of the rules, per tenant (config table `[tenant.X.rules]`). Every key
/// is optional; the defaults are those of `seed-rules.md`. See `docs/compliance.md`.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// The seed's "log in by" time (08:25). Informational: it appears in messages; a
    /// login is late only after `late_after`.
    #[serde(with = "tod")]
    pub login_by: TimeOfDay,
    /// The default shift's start (08:30): a first login after it is late.
    #[serde(with = "tod")]
    pub late_after: TimeOfDay,
    /// The default shift's end (17:35): a logout before it is leaving early.
    #[serde(with = "tod")]
    pub leave_after: TimeOfDay,
    /// Late or early by more than this is absence (60 min).
    pub absent_after: Dur,
    /// The days the default shift applies (Mon–Fri).
    pub workdays: Vec<Weekday>,
    /// How long before a shift's start logins and logouts count towards that shift
    /// (4 h): the start of the shift's "attendance window".
    pub window_before_start: Dur,
    /// Longest allowed not-ready (示忙) without approval (15 min).
    pub not_ready_max: Dur,
    /// Most rings allowed before answering (3).
    pub max_rings: u32,
    /// Time from one ring to the next (5 s: 1 s on, 4 s off).
    pub ring_cadence: Dur,
    /// Longest allowed wrap-up (120 s).
    pub wrap_up_max: Dur,
    /// An answered emergency call must be escalated within this (5 min).
    pub escalate_within: Dur,
    /// Fewest monitored calls per agent per ISO week (2).
    pub min_monitored: u32,
    /// Fewest sampled call-backs per agent per ISO week (2).
    pub min_callbacks: u32,
    /// The rules that run (default: all).
    pub enabled: Vec<Rule>,
    /// Rules switched off (default: none); wins over `enabled`.
    pub disabled: Vec<Rule>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            login_by: TimeOfDay(8 * 3600 + 25 * 60),
            late_after: TimeOfDay(8 * 3600 + 30 * 60),
            leave_after: TimeOfDay(17 * 3600 + 35 * 60),
            absent_after: Dur::mins(60),
            workdays: Weekday::mon_to_fri(),
            window_before_start: Dur::mins(240),
            not_ready_max: Dur::mins(15),
            max_rings: 3,
            ring_cadence: Dur::secs(5),
            wrap_up_max: Dur::secs(120),
            escalate_within: Dur::mins(5),
            min_monitored: 2,
            min_callbacks: 2,
            enabled: Rule::ALL.to_vec(),
            disabled: Vec::new(),
        }
    }
}

/// A parameter combination the rules cannot work with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// `ring_cadence` is zero.
    #[error("rules: `ring_cadence` must be longer than 0 (the seed's is \"5s\")")]
    ZeroRingCadence,
    /// `window_before_start` is a day or more.
    #[error("rules: `window_before_start` must be shorter than 20h, got {0}")]
    WindowTooLong(Dur),
    /// `late_after` equals `leave_after`.
    #[error("rules: `late_after` and `leave_after` are both {0}: the default shift needs a length")]
    EmptyShift(TimeOfDay),
    /// `login_by` is after `late_after`.
    #[error(
        "rules: `login_by` ({login_by}) is after `late_after` ({late_after}): agents log in by `login_by` and are late after `late_after` (the seed's 08:25 and 08:30)"
    )]
    LoginByAfterLate {
        /// The configured `login_by`.
        login_by: TimeOfDay,
        /// The configured `late_after`.
        late_after: TimeOfDay,
    },
    /// A limit that would make every occurrence a violation.
    #[error(
        "rules: `{0}` must be longer than 0 (a zero limit makes every occurrence an alarm); to switch the rule off, list it in `disabled`"
    )]
    ZeroLimit(&'static str),
    /// `max_rings` is zero.
    #[error("rules: `max_rings` must be at least 1 (every answer comes at the first ring or later; the seed's is 3)")]
    ZeroRings,
}

impl Rules {
    /// Check the parameters; the server calls this when it loads the configuration.
    pub fn validate(&self) -> Result<(), RulesError> {
        if self.ring_cadence.0 == 0 {
            return Err(RulesError::ZeroRingCadence);
        }
        if self.window_before_start >= Dur::mins(20 * 60) {
            return Err(RulesError::WindowTooLong(self.window_before_start));
        }
        if self.late_after == self.leave_after {
            return Err(RulesError::EmptyShift(self.late_after));
        }
        if self.login_by > self.late_after {
            return Err(RulesError::LoginByAfterLate { login_by: self.login_by, late_after: self.late_after });
        }
        for (name, limit) in [
            ("not_ready_max", self.not_ready_max),
            ("wrap_up_max", self.wrap_up_max),
            ("escalate_within", self.escalate_within),
        ] {
            if limit.0 == 0 {
                return Err(RulesError::ZeroLimit(name));
            }
        }
        if self.max_rings == 0 {
            return Err(RulesError::ZeroRings);
        }
        Ok(())
    }

    /// Whether `rule` runs.
    pub fn is_enabled(&self, rule: Rule) -> bool {
        self.enabled.contains(&rule) && !self.disabled.contains(&rule)
    }

    /// Whether the default shift applies on `day`.
    pub fn is_workday(&self, day: chrono::Weekday) -> bool {
        self.workdays.iter().any(|w| w.0 == day)
    }
}

/// What the compliance projector needs to know about a tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantSettings {
    /// The tenant's time zone (config `timezone`, default `Asia/Shanghai`).
    pub timezone: chrono_tz::Tz,
    /// How far other agents' events may lag behind (default 5 s); see the model's `Clock`.
    pub allowed_lateness: Dur,
    /// The rules' parameters.
    pub rules: Rules,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings { timezone: chrono_tz::Asia::Shanghai, allowed_lateness: Dur::secs(5), rules: Rules::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_round_trip() {
        for r in Rule::ALL {
            assert_eq!(r.as_str().parse::<Rule>(), Ok(r));
        }
        let e = "late".parse::<Rule>().unwrap_err();
        assert!(e.to_string().contains("unknown rule \"late\""), "{e}");
    }

    #[test]
    fn rules_deserialize_from_toml_with_defaults() {
        let r: Rules = toml::from_str(
            "not_ready_max = \"20m\"\nlate_after = \"09:00\"\nworkdays = [\"mon\", \"Saturday\"]\ndisabled = [\"qa_coverage_low\"]",
        )
        .unwrap();
        assert_eq!(r.not_ready_max, Dur::mins(20));
        assert_eq!(r.late_after, TimeOfDay::hm(9, 0).unwrap());
        assert_eq!(r.leave_after, TimeOfDay::hm(17, 35).unwrap());
        assert!(r.is_workday(chrono::Weekday::Sat) && !r.is_workday(chrono::Weekday::Tue));
        assert!(!r.is_enabled(Rule::QaCoverageLow) && r.is_enabled(Rule::LateLogin));
        assert!(r.validate().is_ok());
    }

    #[test]
    fn bad_rules_config_has_clear_errors() {
        let e = toml::from_str::<Rules>("late_after = \"8.30\"").unwrap_err().to_string();
        assert!(e.contains("bad local time \"8.30\""), "{e}");
        let e = toml::from_str::<Rules>("not_ready_mx = \"15m\"").unwrap_err().to_string();
        assert!(e.contains("unknown field"), "{e}");
        let e = toml::from_str::<Rules>("enabled = [\"late\"]").unwrap_err().to_string();
        assert!(e.contains("unknown rule"), "{e}");
        let e = toml::from_str::<Rules>("workdays = [\"moon\"]").unwrap_err().to_string();
        assert!(e.contains("unknown weekday"), "{e}");
        let r = Rules { ring_cadence: Dur(0), ..Rules::default() };
        assert_eq!(r.validate(), Err(RulesError::ZeroRingCadence));
    }

    #[test]
    fn defaults_are_the_seeds() {
        let s = TenantSettings::default();
        assert_eq!(s.timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(s.allowed_lateness, Dur::secs(5));
        let r = s.rules;
        assert_eq!((r.login_by.to_string(), r.late_after.to_string()), ("08:25".into(), "08:30".into()));
        assert_eq!(r.leave_after.to_string(), "17:35");
        assert_eq!((r.absent_after, r.not_ready_max, r.wrap_up_max), (Dur::mins(60), Dur::mins(15), Dur::secs(120)));
        assert_eq!((r.max_rings, r.ring_cadence, r.escalate_within), (3, Dur::secs(5), Dur::mins(5)));
        assert_eq!((r.min_monitored, r.min_callbacks), (2, 2));
    }
}
