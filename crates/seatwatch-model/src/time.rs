//! Time types with a fixed, compact binary encoding.

use bincode::{Decode, Encode};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, Offset, SecondsFormat, TimeZone, Timelike, Utc};
use std::fmt;

/// An instant with the UTC offset the producer wrote it in.
///
/// Stored as nanoseconds since the Unix epoch (UTC) plus the offset in seconds, so two
/// `Ts` compare by instant (the offset only matters for display). Range: years 1678 to
/// 2261, which validation enforces.
#[derive(Clone, Copy, Debug, Encode, Decode, Default)]
pub struct Ts {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    pub nanos: i64,
    /// The producer's UTC offset in seconds east of Greenwich.
    pub offset_secs: i32,
}

impl PartialEq for Ts {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}
impl Eq for Ts {}
impl PartialOrd for Ts {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ts {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.nanos.cmp(&other.nanos)
    }
}
impl std::hash::Hash for Ts {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Ts {
    /// A UTC instant from nanoseconds since the epoch.
    pub const fn from_nanos(nanos: i64) -> Self {
        Ts { nanos, offset_secs: 0 }
    }

    /// A UTC instant from whole seconds since the epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Ts::from_nanos(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// From a chrono time; `None` outside the representable range.
    pub fn from_datetime<Tz: TimeZone>(dt: &DateTime<Tz>) -> Option<Self> {
        let offset_secs = dt.offset().fix().local_minus_utc();
        dt.timestamp_nanos_opt().map(|nanos| Ts { nanos, offset_secs })
    }

    /// Parse RFC 3339 (an offset is required, `Z` counts as one).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s).ok().and_then(|dt| Ts::from_datetime(&dt))
    }

    /// This instant in its original offset.
    pub fn to_datetime(self) -> DateTime<FixedOffset> {
        let offset = FixedOffset::east_opt(self.offset_secs).unwrap_or(Utc.fix());
        DateTime::<Utc>::from_timestamp_nanos(self.nanos).with_timezone(&offset)
    }

    /// This instant in UTC.
    pub fn to_utc(self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_nanos(self.nanos)
    }

    /// RFC 3339 in UTC (`Z`), with as many fractional digits as needed. This is the
    /// form every Seatwatch output uses, so reports are byte-stable.
    pub fn to_rfc3339(self) -> String {
        self.rfc3339().as_str().to_owned()
    }

    /// [`Ts::to_rfc3339`]'s text, written into a buffer on the stack digit by digit:
    /// every JSON output writes timestamps, and chrono's formatter (`fmt::write`, one
    /// `Display` per field, then a `String`) cost ~900 instructions each. chrono writes
    /// it only for a year outside 0000–9999 or a leap second (neither comes out of an
    /// `i64` of nanoseconds).
    fn rfc3339(self) -> Rfc3339 {
        let t = self.to_utc();
        let (year, nano) = (t.year(), t.nanosecond());
        if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
            return Rfc3339::Chrono(t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        }
        let mut buf = *b"0000-00-00T00:00:00.000000000Z";
        let mut put = |at: usize, digits: usize, mut v: u32| {
            for i in (0..digits).rev() {
                buf[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, year as u32);
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        put(17, 2, t.second());
        // chrono's `SecondsFormat::AutoSi`: none, or 3, 6 or 9 digits, the fewest exact.
        let (digits, value) = match nano {
            0 => (0, 0),
            n if n % 1_000_000 == 0 => (3, n / 1_000_000),
            n if n % 1_000 == 0 => (6, n / 1_000),
            n => (9, n),
        };
        if digits > 0 {
            put(20, digits, value);
        }
        let end = if digits > 0 { 20 + digits } else { 19 };
        buf[end] = b'Z';
        Rfc3339::Stack { buf, len: end + 1 }
    }

    /// Whole seconds since the epoch, rounded down.
    pub fn secs(self) -> i64 {
        self.nanos.div_euclid(NANOS_PER_SEC)
    }

    /// This instant plus `nanos` (saturating).
    pub fn plus_nanos(self, nanos: i64) -> Self {
        Ts { nanos: self.nanos.saturating_add(nanos), offset_secs: self.offset_secs }
    }

    /// This instant plus whole seconds (saturating).
    pub fn plus_secs(self, secs: i64) -> Self {
        self.plus_nanos(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// `self - earlier` in nanoseconds (saturating).
    pub fn nanos_since(self, earlier: Ts) -> i64 {
        self.nanos.saturating_sub(earlier.nanos)
    }
}

/// [`Ts::to_rfc3339`]'s text: `YYYY-MM-DDTHH:MM:SS[.fff[fff[fff]]]Z`.
enum Rfc3339 {
    /// Written digit by digit.
    Stack { buf: [u8; 30], len: usize },
    /// Written by chrono (see [`Ts::rfc3339`]).
    Chrono(String),
}

impl Rfc3339 {
    fn as_str(&self) -> &str {
        match self {
            // ASCII digits and separators only.
            Rfc3339::Stack { buf, len } => std::str::from_utf8(&buf[..*len]).unwrap_or_default(),
            Rfc3339::Chrono(s) => s,
        }
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc3339().as_str())
    }
}

impl serde::Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.rfc3339().as_str())
    }
}

/// A calendar date (proleptic Gregorian), stored as days since 0001-01-01 (CE day 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct Date(pub i32);

impl Date {
    /// From chrono.
    pub fn from_naive(d: NaiveDate) -> Self {
        Date(d.num_days_from_ce())
    }
    /// To chrono (dates out of chrono's range clamp to its limits).
    pub fn to_naive(self) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(self.0).unwrap_or(if self.0 < 0 { NaiveDate::MIN } else { NaiveDate::MAX })
    }
    /// Parse `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Self> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(Date::from_naive)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_naive().format("%Y-%m-%d"))
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A local wall-clock time of day, stored as seconds since midnight (0..86400).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct TimeOfDay(pub u32);

impl TimeOfDay {
    /// From hours and minutes; `None` if out of range.
    pub fn hm(h: u32, m: u32) -> Option<Self> {
        (h < 24 && m < 60).then_some(TimeOfDay(h * 3600 + m * 60))
    }
    /// From chrono.
    pub fn from_naive(t: NaiveTime) -> Self {
        TimeOfDay(t.num_seconds_from_midnight())
    }
    /// To chrono.
    pub fn to_naive(self) -> NaiveTime {
        NaiveTime::from_num_seconds_from_midnight_opt(self.0 % 86_400, 0).unwrap_or(NaiveTime::MIN)
    }
    /// Parse `HH:MM` or `HH:MM:SS`.
    pub fn parse(s: &str) -> Option<Self> {
        NaiveTime::parse_from_str(s, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
            .ok()
            .map(TimeOfDay::from_naive)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, (self.0 / 60) % 60, self.0 % 60);
        if s == 0 { write!(f, "{h:02}:{m:02}") } else { write!(f, "{h:02}:{m:02}:{s:02}") }
    }
}

impl serde::Serialize for TimeOfDay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An `Option<Ts>` in 16 bytes instead of 24: the flag sits in the padding after `Ts`'s
/// 12 bytes. For the projections' per-call records, of which a busy centre keeps hundreds
/// of thousands. It encodes, compares and prints exactly as the `Option<Ts>` it holds, so
/// a field can switch between the two without changing a snapshot.
#[derive(Clone, Copy, Default)]
pub struct OptTs {
    nanos: i64,
    offset_secs: i32,
    some: bool,
}

impl OptTs {
    /// No instant.
    pub const NONE: OptTs = OptTs { nanos: 0, offset_secs: 0, some: false };

    /// The instant `ts`.
    pub const fn some(ts: Ts) -> Self {
        OptTs { nanos: ts.nanos, offset_secs: ts.offset_secs, some: true }
    }

    /// The `Option<Ts>` it holds.
    pub const fn get(self) -> Option<Ts> {
        if self.some { Some(Ts { nanos: self.nanos, offset_secs: self.offset_secs }) } else { None }
    }

    /// Whether it holds no instant.
    pub const fn is_none(self) -> bool {
        !self.some
    }
}

impl From<Option<Ts>> for OptTs {
    fn from(t: Option<Ts>) -> Self {
        t.map_or(OptTs::NONE, OptTs::some)
    }
}

impl PartialEq for OptTs {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}
impl Eq for OptTs {}

impl fmt::Debug for OptTs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

impl Encode for OptTs {
    fn encode<E: bincode::enc::Encoder>(&self, e: &mut E) -> Result<(), bincode::error::EncodeError> {
        self.get().encode(e)
    }
}

impl<Context> Decode<Context> for OptTs {
    fn decode<D: bincode::de::Decoder<Context = Context>>(d: &mut D) -> Result<Self, bincode::error::DecodeError> {
        Option::<Ts>::decode(d).map(OptTs::from)
    }
}
bincode::impl_borrow_decode!(OptTs);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_round_trips_rfc3339_and_keeps_offset() {
        let t = Ts::parse_rfc3339("2026-03-02T08:31:00.5+08:00").unwrap();
        assert_eq!(t.offset_secs, 8 * 3600);
        assert_eq!(t.to_rfc3339(), "2026-03-02T00:31:00.500Z");
        assert_eq!(t.to_datetime().to_rfc3339(), "2026-03-02T08:31:00.500+08:00");
        assert!(Ts::parse_rfc3339("2026-03-02T08:31:00").is_none(), "offset is required");
    }

    #[test]
    fn ts_compares_by_instant_not_offset() {
        let a = Ts::parse_rfc3339("2026-03-02T08:00:00+08:00").unwrap();
        let b = Ts::parse_rfc3339("2026-03-02T00:00:00Z").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn opt_ts_is_an_option_ts_in_16_bytes() {
        assert_eq!(std::mem::size_of::<OptTs>(), 16);
        assert_eq!(std::mem::size_of::<Option<Ts>>(), 24, "what it saves");
        let cfg = crate::BINCODE_CONFIG;
        let a = Ts { nanos: 1_772_411_460_500_000_000, offset_secs: 8 * 3600 };
        let same_instant = Ts { nanos: a.nanos, offset_secs: 0 };
        for o in [None, Some(a), Some(Ts::from_nanos(i64::MIN)), Some(Ts::from_nanos(0))] {
            let c = OptTs::from(o);
            assert_eq!(c.get().map(|t| (t.nanos, t.offset_secs)), o.map(|t| (t.nanos, t.offset_secs)));
            assert_eq!(c.is_none(), o.is_none());
            assert_eq!(format!("{c:?}"), format!("{o:?}"));
            let bytes = bincode::encode_to_vec(c, cfg).unwrap_or_default();
            assert_eq!(bytes, bincode::encode_to_vec(o, cfg).unwrap_or_default(), "{o:?}");
            let (back, n): (OptTs, usize) = bincode::decode_from_slice(&bytes, cfg).unwrap_or((OptTs::NONE, 0));
            assert_eq!(
                (back.get().map(|t| (t.nanos, t.offset_secs)), n),
                (c.get().map(|t| (t.nanos, t.offset_secs)), bytes.len())
            );
            let (borrowed, _): (OptTs, usize) =
                bincode::borrow_decode_from_slice(&bytes, cfg).unwrap_or((OptTs::NONE, 0));
            assert_eq!(borrowed, c);
        }
        // Equality is `Option<Ts>`'s: by instant, not offset.
        assert_eq!(OptTs::some(a), OptTs::some(same_instant));
        assert_ne!(OptTs::some(a), OptTs::NONE);
        assert_eq!(OptTs::default(), OptTs::NONE);
    }

    #[test]
    fn dates_and_times_parse() {
        assert_eq!(Date::parse("2026-02-29"), None);
        assert_eq!(Date::parse("2028-02-29").unwrap().to_string(), "2028-02-29");
        assert_eq!(TimeOfDay::parse("08:30").unwrap(), TimeOfDay::hm(8, 30).unwrap());
        assert_eq!(TimeOfDay::parse("17:35:10").unwrap().to_string(), "17:35:10");
        assert_eq!(TimeOfDay::parse("25:00"), None);
    }
}

/// How many rings a caller has heard after `elapsed_nanos` of ringing, with one ring
/// every `cadence_nanos` (China: 1 s on, 4 s off, so 5 s): the seed's "ring time ÷ ring
/// cadence", rounded up, and at least one. Answered after exactly 15 s is 3 rings
/// (within the seed's three), after 15.001 s the 4th; after 0 s (or 5 s) the 1st. Every
/// projector counts rings with this one function.
pub fn rings_heard(elapsed_nanos: i64, cadence_nanos: i64) -> u32 {
    if cadence_nanos <= 0 {
        return 1;
    }
    let n = elapsed_nanos.max(0).unsigned_abs().div_ceil(cadence_nanos.unsigned_abs()).max(1);
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod ring_tests {
    use super::*;

    #[test]
    fn ring_boundaries() {
        let s = NANOS_PER_SEC;
        assert_eq!(rings_heard(0, 5 * s), 1);
        assert_eq!(rings_heard(5 * s, 5 * s), 1);
        assert_eq!(rings_heard(5 * s + 1, 5 * s), 2);
        assert_eq!(rings_heard(14 * s + 999_999_999, 5 * s), 3);
        assert_eq!(rings_heard(15 * s, 5 * s), 3, "15 s ÷ 5 s: within three rings");
        assert_eq!(rings_heard(15 * s + 1, 5 * s), 4);
        assert_eq!(rings_heard(-3, 5 * s), 1);
        assert_eq!(rings_heard(i64::MAX, 1), u32::MAX);
    }
}
