//! Tenant-local days and intervals.

use crate::settings::DAY_NS;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use seatwatch_model::Date;

/// One local calendar day as instants: `[start, end)` in nanoseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Day {
    pub start: i64,
    pub end: i64,
    pub date: Date,
}

/// The local day containing `nanos`.
pub(crate) fn day_of(tz: Tz, nanos: i64) -> Day {
    let date = DateTime::<Utc>::from_timestamp_nanos(nanos).with_timezone(&tz).date_naive();
    let start = local_midnight(tz, date).filter(|s| *s <= nanos);
    let end = date.succ_opt().and_then(|d| local_midnight(tz, d)).filter(|e| *e > nanos);
    match (start, end) {
        (Some(start), Some(end)) => Day { start, end, date: Date::from_naive(date) },
        // Outside chrono's range or a zone we cannot resolve: fall back to UTC days.
        _ => {
            let start = nanos.div_euclid(DAY_NS).saturating_mul(DAY_NS);
            let date = DateTime::<Utc>::from_timestamp_nanos(start).date_naive();
            Day { start, end: start.saturating_add(DAY_NS), date: Date::from_naive(date) }
        }
    }
}

/// The first instant of `date` in `tz`: local midnight, or when midnight falls in a DST
/// gap, the first local minute after it that exists.
fn local_midnight(tz: Tz, date: NaiveDate) -> Option<i64> {
    let mut local = date.and_time(NaiveTime::MIN);
    for _ in 0..=240 {
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.timestamp_nanos_opt();
        }
        local += chrono::Duration::minutes(1);
    }
    None
}

/// Remembers the last day looked up, so that consecutive look-ups within one day cost two
/// comparisons.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DayCache(Option<Day>);

impl DayCache {
    pub fn get(&mut self, tz: Tz, nanos: i64) -> Day {
        if let Some(d) = self.0
            && d.start <= nanos
            && nanos < d.end
        {
            return d;
        }
        let d = day_of(tz, nanos);
        self.0 = Some(d);
        d
    }

    /// The interval `[start, end)` containing `nanos`: intervals start at local midnight
    /// and every `interval_ns` after it, the last one of the day cut at the next midnight.
    pub fn interval(&mut self, tz: Tz, interval_ns: i64, nanos: i64) -> (i64, i64) {
        let d = self.get(tz, nanos);
        let k = (nanos - d.start) / interval_ns;
        let start = d.start + k * interval_ns;
        (start, start.saturating_add(interval_ns).min(d.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatwatch_model::Ts;

    fn ns(s: &str) -> i64 {
        Ts::parse_rfc3339(s).unwrap().nanos
    }

    #[test]
    fn shanghai_days_start_at_local_midnight() {
        let d = day_of(chrono_tz::Asia::Shanghai, ns("2026-03-02T23:59:59+08:00"));
        assert_eq!(d.start, ns("2026-03-02T00:00:00+08:00"));
        assert_eq!(d.end, ns("2026-03-03T00:00:00+08:00"));
        assert_eq!(d.date.to_string(), "2026-03-02");
    }

    #[test]
    fn intervals_align_to_local_time_and_end_at_midnight() {
        let mut c = DayCache::default();
        let tz = chrono_tz::Asia::Kolkata; // +05:30: local quarter hours are not UTC's
        let (s, e) = c.interval(tz, 15 * 60 * 1_000_000_000, ns("2026-03-02T10:07:00+05:30"));
        assert_eq!((s, e), (ns("2026-03-02T10:00:00+05:30"), ns("2026-03-02T10:15:00+05:30")));
        // 7-minute intervals: 1440 = 205 × 7 + 5, so the day's last interval is 5 minutes.
        let (s, e) = c.interval(tz, 7 * 60 * 1_000_000_000, ns("2026-03-02T23:58:00+05:30"));
        assert_eq!((s, e), (ns("2026-03-02T23:55:00+05:30"), ns("2026-03-03T00:00:00+05:30")));
    }

    #[test]
    fn dst_days_have_their_real_length() {
        let tz = chrono_tz::Europe::Berlin;
        let d = day_of(tz, ns("2026-03-29T12:00:00+02:00"));
        assert_eq!(d.end - d.start, 23 * 3600 * 1_000_000_000);
        // Santiago skips midnight itself on its spring-forward day: the day starts at 01:00.
        let tz = chrono_tz::America::Santiago;
        let d = day_of(tz, ns("2026-09-06T12:00:00-03:00"));
        assert_eq!(d.start, ns("2026-09-06T01:00:00-03:00"));
    }
}
