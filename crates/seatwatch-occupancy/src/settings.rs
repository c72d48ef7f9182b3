//! Occupancy settings: interval length, abandon and ring thresholds, service-level formulas.

use chrono_tz::Tz;
use seatwatch_model::Dur;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which denominator a service level divides by. The numerator is always
/// `service_level_calls`: calls answered within the [`ServiceLevelSettings::threshold`]
/// (or, without a threshold, within `max_rings` rings), each counted in the interval and
/// queue where this denominator counted it, so a service level stays within [0, 1]. See
/// docs/metrics-definitions.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlFormula {
    /// `service_level_calls ÷ offered` (the numerator counted at each call's first offer).
    #[default]
    Offered,
    /// `service_level_calls ÷ (answered + abandoned)` (the numerator counted at the answer).
    AnsweredAbandoned,
    /// `service_level_calls ÷ (answered + abandoned − short_abandoned)`: short abandons
    /// (callers who hung up within `short_abandon`) are left out.
    AnsweredLongAbandoned,
    /// `service_level_calls ÷ queued` (the numerator counted at each call's last `queued`).
    Queued,
}

impl SlFormula {
    /// The snake_case name, as written in configuration and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SlFormula::Offered => "offered",
            SlFormula::AnsweredAbandoned => "answered_abandoned",
            SlFormula::AnsweredLongAbandoned => "answered_long_abandoned",
            SlFormula::Queued => "queued",
        }
    }
}

/// How a queue's (or the total's) service level is computed.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceLevelSettings {
    /// The denominator.
    pub formula: SlFormula,
    /// A call counts as answered in time when its answer delay (from entering the queue,
    /// or from its first offer when it never was queued) is at most this. `None` (the
    /// default) uses the seed's rule instead: answered within `max_rings` rings.
    pub threshold: Option<Dur>,
}

/// Occupancy settings of one tenant (the `[tenant.X.occupancy]` table, say).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Interval length; intervals start at local midnight and every `interval` after it
    /// (the day's last interval is cut at the next midnight). Default 15 minutes.
    pub interval: Dur,
    /// An abandon after less waiting than this is a short abandon. Default 5 s.
    pub short_abandon: Dur,
    /// "Answered in time" means answered within this many rings. Default 3.
    pub max_rings: u32,
    /// One ring every this long (China: 1 s on, 4 s off). Default 5 s.
    pub ring_cadence: Dur,
    /// Service level of the total (`"queue": null`) rows and of queues not listed below.
    pub service_level: ServiceLevelSettings,
    /// Per-queue service level.
    pub queues: BTreeMap<String, ServiceLevelSettings>,
    /// Closed intervals that ended more than this before the tenant's clock are dropped
    /// from live state (cumulative totals are kept). Default 35 days, so that last month's
    /// intervals can still be read live early in a month.
    pub retention: Dur,
    /// An open call with no event for this long is forgotten (no longer waiting).
    /// Default 24 hours.
    pub call_timeout: Dur,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            interval: Dur::mins(15),
            short_abandon: Dur::secs(5),
            max_rings: 3,
            ring_cadence: Dur::secs(5),
            service_level: ServiceLevelSettings::default(),
            queues: BTreeMap::new(),
            retention: Dur::mins(35 * 24 * 60),
            call_timeout: Dur::mins(24 * 60),
        }
    }
}

/// What is wrong with a [`Settings`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The interval is not between one minute and one day.
    #[error("interval {0} is out of range: it must be between 1m and 24h")]
    Interval(Dur),
    /// The interval is not a whole number of seconds.
    #[error("interval {0} must be a whole number of seconds")]
    IntervalFraction(Dur),
    /// The ring cadence is zero.
    #[error("ring_cadence must be greater than zero")]
    RingCadence,
    /// `max_rings` is zero.
    #[error("max_rings must be at least 1")]
    MaxRings,
    /// The retention is shorter than one interval.
    #[error("retention {retention} is shorter than the interval {interval}")]
    Retention {
        /// The retention.
        retention: Dur,
        /// The interval.
        interval: Dur,
    },
}

impl Settings {
    /// Check the values. [`crate::Occupancy::new`] does not fail: it clamps what this
    /// rejects (interval into 1m..=24h, cadence to at least 1 ms, retention to at least
    /// one interval), so configuration loaders should call this to report mistakes.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.interval < Dur::mins(1) || self.interval > Dur::mins(24 * 60) {
            return Err(SettingsError::Interval(self.interval));
        }
        if !self.interval.0.is_multiple_of(1000) {
            return Err(SettingsError::IntervalFraction(self.interval));
        }
        if self.ring_cadence.0 == 0 {
            return Err(SettingsError::RingCadence);
        }
        if self.max_rings == 0 {
            return Err(SettingsError::MaxRings);
        }
        if self.retention < self.interval {
            return Err(SettingsError::Retention { retention: self.retention, interval: self.interval });
        }
        Ok(())
    }
}

/// Everything the projector needs to know about one tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantSettings {
    /// The tenant's time zone: intervals and "today" are local to it. Default Asia/Shanghai.
    pub timezone: Tz,
    /// How far another agent's event may lag behind (the [`seatwatch_model::Clock`]'s
    /// allowed lateness). Default 5 s.
    pub allowed_lateness: Dur,
    /// Occupancy settings.
    pub settings: Settings,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            timezone: chrono_tz::Asia::Shanghai,
            allowed_lateness: Dur::secs(5),
            settings: Settings::default(),
        }
    }
}

/// A service level setting resolved to nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sl {
    pub formula: SlFormula,
    pub threshold_ns: Option<i64>,
}

impl From<&ServiceLevelSettings> for Sl {
    fn from(s: &ServiceLevelSettings) -> Self {
        Sl { formula: s.formula, threshold_ns: s.threshold.map(Dur::as_nanos) }
    }
}

/// [`TenantSettings`] clamped and converted to nanoseconds, for the hot path.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Resolved {
    pub tz: Tz,
    pub lateness_ns: i64,
    pub interval_ns: i64,
    pub short_abandon_ns: i64,
    pub max_rings: u32,
    pub cadence_ns: i64,
    pub default_sl: Sl,
    pub queue_sl: BTreeMap<String, Sl>,
    pub retention_ns: i64,
    pub call_timeout_ns: i64,
    /// Book agent time eagerly, as before the lazy booking (the tests' reference).
    #[cfg(test)]
    pub eager: bool,
}

pub(crate) const MINUTE_NS: i64 = 60 * seatwatch_model::NANOS_PER_SEC;
pub(crate) const DAY_NS: i64 = 24 * 60 * MINUTE_NS;

impl Resolved {
    pub fn new(t: &TenantSettings) -> Self {
        let s = &t.settings;
        // Whole seconds, between one minute and one day.
        let interval_ns = (s.interval.as_nanos() / seatwatch_model::NANOS_PER_SEC * seatwatch_model::NANOS_PER_SEC)
            .clamp(MINUTE_NS, DAY_NS);
        Resolved {
            tz: t.timezone,
            lateness_ns: t.allowed_lateness.as_nanos(),
            interval_ns,
            short_abandon_ns: s.short_abandon.as_nanos(),
            max_rings: s.max_rings,
            cadence_ns: s.ring_cadence.as_nanos().max(1_000_000),
            default_sl: Sl::from(&s.service_level),
            queue_sl: s.queues.iter().map(|(k, v)| (k.clone(), Sl::from(v))).collect(),
            retention_ns: s.retention.as_nanos().max(interval_ns),
            call_timeout_ns: s.call_timeout.as_nanos().max(MINUTE_NS),
            #[cfg(test)]
            eager: false,
        }
    }

    pub fn sl_for(&self, queue: &str) -> Sl {
        self.queue_sl.get(queue).copied().unwrap_or(self.default_sl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds() {
        let s = Settings::default();
        assert_eq!(s.interval, Dur::mins(15));
        assert_eq!(s.max_rings, 3);
        assert_eq!(s.ring_cadence, Dur::secs(5));
        assert_eq!(s.short_abandon, Dur::secs(5));
        assert!(s.validate().is_ok());
        assert_eq!(TenantSettings::default().timezone, chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn settings_read_from_toml_and_reject_unknown_fields() {
        let s: Settings = toml::from_str(
            "interval = \"30m\"\nmax_rings = 4\n[service_level]\nformula = \"answered_abandoned\"\n\
             [queues.vip]\nformula = \"answered_long_abandoned\"\nthreshold = \"20s\"\n",
        )
        .unwrap();
        assert_eq!(s.interval, Dur::mins(30));
        assert_eq!(s.max_rings, 4);
        assert_eq!(s.ring_cadence, Dur::secs(5), "unset fields keep their defaults");
        assert_eq!(s.service_level.formula, SlFormula::AnsweredAbandoned);
        assert_eq!(s.queues["vip"].threshold, Some(Dur::secs(20)));
        let err = toml::from_str::<Settings>("intervall = \"30m\"").unwrap_err().to_string();
        assert!(err.contains("intervall"), "{err}");
        let err = toml::from_str::<Settings>("[service_level]\nformula = \"bogus\"").unwrap_err().to_string();
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn validation_names_the_problem() {
        let mut s = Settings { interval: Dur::secs(30), ..Settings::default() };
        assert_eq!(s.validate(), Err(SettingsError::Interval(Dur::secs(30))));
        s.interval = Dur(90_500);
        assert_eq!(s.validate(), Err(SettingsError::IntervalFraction(Dur(90_500))));
        s.interval = Dur::mins(15);
        s.ring_cadence = Dur(0);
        assert_eq!(s.validate(), Err(SettingsError::RingCadence));
        s.ring_cadence = Dur::secs(5);
        s.max_rings = 0;
        assert_eq!(s.validate(), Err(SettingsError::MaxRings));
        s.max_rings = 3;
        s.retention = Dur::mins(5);
        assert!(matches!(s.validate(), Err(SettingsError::Retention { .. })));
    }

    #[test]
    fn resolving_clamps_what_validation_rejects() {
        let t = TenantSettings {
            settings: Settings { interval: Dur::secs(10), ring_cadence: Dur(0), ..Settings::default() },
            ..TenantSettings::default()
        };
        let r = Resolved::new(&t);
        assert_eq!(r.interval_ns, MINUTE_NS);
        assert!(r.cadence_ns > 0);
        let t = TenantSettings {
            settings: Settings { interval: Dur::mins(48 * 60), ..Settings::default() },
            ..TenantSettings::default()
        };
        assert_eq!(Resolved::new(&t).interval_ns, DAY_NS);
    }
}
