//! Local-time arithmetic in a tenant's time zone, without panics around DST.

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike};
use chrono_tz::Tz;
use seatwatch_model::{Date, Ts};
use std::fmt;

/// The local date and wall-clock time of an instant.
pub(crate) fn local(tz: Tz, nanos: i64) -> NaiveDateTime {
    Ts::from_nanos(nanos).to_utc().with_timezone(&tz).naive_local()
}

/// The local date of an instant.
pub(crate) fn local_date(tz: Tz, nanos: i64) -> NaiveDate {
    local(tz, nanos).date()
}

/// The instant of local `date` + `secs` seconds after its midnight (`secs` may exceed a
/// day). Ambiguous times (DST fall-back) take the earlier instant; times in a DST gap
/// are read with the offset in force just before the gap. `None` out of range.
pub(crate) fn instant(tz: Tz, date: NaiveDate, secs: i64) -> Option<i64> {
    let ndt = date.and_time(NaiveTime::MIN).checked_add_signed(Duration::try_seconds(secs)?)?;
    let dt = match tz.from_local_datetime(&ndt) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.naive_utc(),
        LocalResult::None => {
            let before = ndt.checked_sub_signed(Duration::hours(3))?;
            let off = tz.offset_from_local_datetime(&before).earliest()?.fix();
            ndt.checked_sub_signed(Duration::seconds(i64::from(off.local_minus_utc())))?
        }
    };
    dt.and_utc().timestamp_nanos_opt()
}

/// Local midnight at the start of `date`.
pub fn midnight(tz: Tz, date: NaiveDate) -> Option<i64> {
    instant(tz, date, 0)
}

/// The Monday of `date`'s ISO week.
pub fn week_monday(date: NaiveDate) -> NaiveDate {
    date.checked_sub_signed(Duration::days(i64::from(date.weekday().num_days_from_monday()))).unwrap_or(date)
}

/// `2026-W10` for the ISO week holding `date`.
pub fn iso_week_label(date: NaiveDate) -> String {
    let w = date.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// A month as `(year, month)`.
pub(crate) type Month = (i32, u32);

/// The month after `m`.
pub(crate) fn next_month((y, m): Month) -> Month {
    if m >= 12 { (y + 1, 1) } else { (y, m + 1) }
}

/// `2026-04`.
pub(crate) fn month_label((y, m): Month) -> String {
    format!("{y:04}-{m:02}")
}

/// Local midnight starting the 25th of `m` (the end of the 24th).
pub(crate) fn end_of_24th(tz: Tz, (y, m): Month) -> Option<i64> {
    midnight(tz, NaiveDate::from_ymd_opt(y, m, 25)?)
}

/// `08:41` or `08:41:07` (local wall-clock time of an instant), written straight into
/// the message that shows it.
pub(crate) fn hm(tz: Tz, nanos: i64) -> impl fmt::Display {
    Hm(local(tz, nanos).time())
}

struct Hm(NaiveTime);

impl fmt::Display for Hm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        if t.second() == 0 {
            write!(f, "{:02}:{:02}", t.hour(), t.minute())
        } else {
            write!(f, "{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
        }
    }
}

/// `2026-03-02 08:41` (local).
pub(crate) fn date_hm(tz: Tz, nanos: i64) -> String {
    format!("{} {}", local_date(tz, nanos).format("%Y-%m-%d"), hm(tz, nanos))
}

/// A duration in nanoseconds for messages: `15 min`, `120 s`, `1 h 5 min`, `2.5 s`,
/// written straight into the message that shows it.
pub(crate) fn human(nanos: i64) -> impl fmt::Display {
    Human(nanos.max(0))
}

struct Human(i64);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n % 1_000_000_000 != 0 {
            let ms = n / 1_000_000;
            return if ms % 1000 == 0 {
                write!(f, "{} s", ms / 1000)
            } else {
                write!(f, "{}.{:03} s", ms / 1000, ms % 1000)
            };
        }
        let s = n / 1_000_000_000;
        if s % 60 != 0 {
            return if s < 600 {
                write!(f, "{s} s")
            } else if s < 3600 {
                write!(f, "{} min {} s", s / 60, s % 60)
            } else {
                write!(f, "{} h {} min {} s", s / 3600, (s / 60) % 60, s % 60)
            };
        }
        let m = s / 60;
        if m >= 60 && m % 60 == 0 {
            write!(f, "{} h", m / 60)
        } else if m > 60 {
            write!(f, "{} h {} min", m / 60, m % 60)
        } else {
            write!(f, "{m} min")
        }
    }
}

/// Model date from chrono.
pub(crate) fn to_date(d: NaiveDate) -> Date {
    Date::from_naive(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dst_gap_and_overlap_do_not_panic() {
        let tz: Tz = chrono_tz::Europe::Berlin;
        // 2026-03-29 02:30 does not exist in Berlin; 2026-10-25 02:30 exists twice.
        let gap = instant(tz, NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(), 2 * 3600 + 1800).unwrap();
        assert_eq!(Ts::from_nanos(gap).to_rfc3339(), "2026-03-29T01:30:00Z");
        let amb = instant(tz, NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(), 2 * 3600 + 1800).unwrap();
        assert_eq!(Ts::from_nanos(amb).to_rfc3339(), "2026-10-25T00:30:00Z");
        assert!(instant(tz, NaiveDate::MAX, 0).is_none());
    }

    #[test]
    fn human_durations() {
        let s = 1_000_000_000;
        assert_eq!(human(-s).to_string(), "0 min");
        assert_eq!(human(15 * 60 * s).to_string(), "15 min");
        assert_eq!(human(120 * s).to_string(), "2 min");
        assert_eq!(human(125 * s).to_string(), "125 s");
        assert_eq!(human(60 * 60 * s).to_string(), "1 h");
        assert_eq!(human(65 * 60 * s).to_string(), "1 h 5 min");
        assert_eq!(human(5 * s).to_string(), "5 s");
        assert_eq!(human(2500 * 1_000_000).to_string(), "2.500 s");
        assert_eq!(human(901 * s).to_string(), "15 min 1 s");
    }

    #[test]
    fn weeks_and_months() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(); // a Sunday
        assert_eq!(week_monday(d), NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(iso_week_label(d), "2026-W10");
        assert_eq!(next_month((2026, 12)), (2027, 1));
        assert_eq!(month_label((2026, 4)), "2026-04");
    }
}
