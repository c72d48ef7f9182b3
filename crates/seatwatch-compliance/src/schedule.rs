//! The schedule rule of seed-rules.md as a pure function, so that reports (the
//! attendance report of `seatwatch replay`) show exactly the shifts the rules check.

use crate::TenantSettings;
use crate::local::instant;
use chrono::Datelike;
use seatwatch_model::{Date, ShiftHours, Ts};

/// An agent's scheduled shift on one local date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduledShift {
    /// The local date the shift belongs to.
    pub date: Date,
    /// Its start: a first login after it is late.
    pub start: Ts,
    /// Its end: a logout before it is leaving early. After `start`; a shift whose end
    /// time is not after its start time ends the next day.
    pub end: Ts,
    /// The seq of the `shift` event that set it; `None` for the default schedule.
    pub shift_seq: Option<u64>,
}

/// The agent's shift on local `date`, or `None` when not scheduled.
///
/// `shift` is the `shift` event for that date, if any (its hours, `None` for
/// `"off": true`, and its seq); `leave_seq` is the seq of the latest approved leave
/// covering the date. Of a shift and a leave for the same date the later one wins; with
/// neither, the default shift applies on the tenant's workdays.
pub fn scheduled_shift(
    s: &TenantSettings,
    date: Date,
    shift: Option<(Option<ShiftHours>, u64)>,
    leave_seq: Option<u64>,
) -> Option<ScheduledShift> {
    if let Some(ls) = leave_seq
        && shift.is_none_or(|(_, ss)| ss < ls)
    {
        return None;
    }
    let day = date.to_naive();
    let (start, end, seq) = match shift {
        Some((None, _)) => return None,
        Some((Some(h), seq)) => (h.start, h.end, Some(seq)),
        None if s.rules.is_workday(day.weekday()) => (s.rules.late_after, s.rules.leave_after, None),
        None => return None,
    };
    let start_i = instant(s.timezone, day, i64::from(start.0))?;
    let end_secs = if end <= start { i64::from(end.0) + 86_400 } else { i64::from(end.0) };
    let end_i = instant(s.timezone, day, end_secs)?;
    Some(ScheduledShift { date, start: Ts::from_nanos(start_i), end: Ts::from_nanos(end_i), shift_seq: seq })
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatwatch_model::TimeOfDay;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn default_shift_on_workdays_overrides_and_leave_by_seq() {
        let s = TenantSettings::default();
        let mon = scheduled_shift(&s, d("2026-03-02"), None, None).unwrap();
        assert_eq!(mon.start.to_rfc3339(), "2026-03-02T00:30:00Z");
        assert_eq!(mon.end.to_rfc3339(), "2026-03-02T09:35:00Z");
        assert_eq!(mon.shift_seq, None);
        assert_eq!(scheduled_shift(&s, d("2026-03-07"), None, None), None, "Saturday");
        let night = ShiftHours { start: TimeOfDay::hm(22, 0).unwrap(), end: TimeOfDay::hm(6, 0).unwrap() };
        let sat = scheduled_shift(&s, d("2026-03-07"), Some((Some(night), 9)), None).unwrap();
        assert_eq!(sat.end.to_rfc3339(), "2026-03-07T22:00:00Z", "ends the next day");
        assert_eq!(sat.shift_seq, Some(9));
        assert_eq!(scheduled_shift(&s, d("2026-03-02"), Some((None, 3)), None), None, "off");
        assert_eq!(scheduled_shift(&s, d("2026-03-02"), None, Some(4)), None, "leave");
        assert!(scheduled_shift(&s, d("2026-03-02"), Some((Some(night), 5)), Some(4)).is_some(), "later shift wins");
        assert_eq!(scheduled_shift(&s, d("2026-03-02"), Some((Some(night), 3)), Some(4)), None, "later leave wins");
    }
}
