//! Durations as people write them in configuration: `"15m"`, `"120s"`, `"1h30m"`, `"500ms"`.

use std::fmt;

/// A non-negative duration in whole milliseconds, read from config as `"15m"`,
/// `"120s"`, `"1h30m"`, `"500ms"` or `"2d"`. A bare number is refused: `not_ready_max =
/// 15` could mean 15 minutes as well as 15 seconds, and a wrong guess floods a wallboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub u64);

impl Dur {
    /// From whole seconds.
    pub const fn secs(s: u64) -> Self {
        Dur(s * 1000)
    }
    /// From whole minutes.
    pub const fn mins(m: u64) -> Self {
        Dur(m * 60_000)
    }
    /// In nanoseconds (saturating at `i64::MAX`).
    pub fn as_nanos(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX).saturating_mul(1_000_000)
    }
    /// In whole seconds, rounded down.
    pub fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// Parse `"15m"`, `"1h30m"`, `"90s"`, `"250ms"` or `"2d"`; every number needs a unit.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("empty duration; write e.g. \"15m\", \"120s\" or \"1h30m\"".into());
        }
        if let Ok(n) = t.parse::<u64>() {
            return Err(Self::unitless(n));
        }
        let mut total: u64 = 0;
        let mut rest = t;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits == 0 {
                return Err(format!("bad duration {s:?}: expected a number before {rest:?}; write e.g. \"15m\""));
            }
            let n: u64 = rest[..digits].parse().map_err(|_| format!("duration {s:?} is too large"))?;
            rest = &rest[digits..];
            let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
            let unit = rest[..unit_len].trim();
            rest = &rest[unit_len..];
            let ms = match unit {
                "ms" => 1,
                "s" | "sec" | "secs" => 1000,
                "m" | "min" | "mins" => 60_000,
                "h" | "hr" | "hours" => 3_600_000,
                "d" | "days" => 86_400_000,
                "" => return Err(format!("bad duration {s:?}: a unit (ms, s, m, h, d) is needed after {n}")),
                u => return Err(format!("bad duration {s:?}: unknown unit {u:?} (use ms, s, m, h or d)")),
            };
            total = n
                .checked_mul(ms)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("duration {s:?} is too large"))?;
        }
        Ok(Dur(total))
    }
}

impl Dur {
    fn unitless(n: u64) -> String {
        format!("a duration needs a unit: write \"{n}s\" for seconds or \"{n}m\" for minutes (also ms, h, d)")
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        if !ms.is_multiple_of(1000) {
            return write!(f, "{ms}ms");
        }
        let s = ms / 1000;
        let (h, m, sec) = (s / 3600, (s / 60) % 60, s % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if sec > 0 {
            write!(f, "{sec}s")?;
        }
        Ok(())
    }
}

impl<'de> serde::Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"15m\", \"120s\" or \"1h30m\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dur, E> {
                Dur::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dur, E> {
                Err(E::custom(Dur::unitless(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dur, E> {
                u64::try_from(v).map_err(|_| E::custom("a duration cannot be negative")).and_then(|v| self.visit_u64(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl serde::Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_people_write() {
        assert_eq!(Dur::parse("15m"), Ok(Dur::mins(15)));
        assert_eq!(Dur::parse("120s"), Ok(Dur::secs(120)));
        assert_eq!(Dur::parse("1h30m"), Ok(Dur::mins(90)));
        assert_eq!(Dur::parse("250ms"), Ok(Dur(250)));
        assert!(Dur::parse("42").unwrap_err().contains(r#"write "42s" for seconds or "42m" for minutes"#));
        assert!(Dur::parse("15x").unwrap_err().contains("unknown unit"));
        assert!(Dur::parse("m").is_err());
        assert!(Dur::parse("").is_err());
        assert!(Dur::parse("99999999999999999999d").is_err());
        assert_eq!(Dur::mins(90).to_string(), "1h30m");
    }
}
