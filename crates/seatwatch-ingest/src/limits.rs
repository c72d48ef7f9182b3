//! Per-token event rate limits: a token bucket per token name, shared by all of that
//! token's connections.
//!
//! A bucket holds at most one second's worth of events (at least one) and refills
//! continuously. A frame's events take from it in frame order: the ones that fit are
//! stored, the rest are rejected with `internal` ("not stored, send it again"), so a
//! producer that backs off and resends loses nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// The buckets, by token name.
#[derive(Debug, Default)]
pub struct RateLimits {
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimits {
    /// How many of `want` events token `name`, limited to `rate` events per second, may
    /// store now; takes them from its bucket. A bucket starts full.
    pub fn take(&self, name: &str, rate: f64, want: usize) -> usize {
        self.take_at(name, rate, want, Instant::now())
    }

    fn take_at(&self, name: &str, rate: f64, want: usize, now: Instant) -> usize {
        if want == 0 {
            return 0;
        }
        let burst = rate.max(1.0);
        let mut g = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = g.entry(name.to_owned()).or_insert(Bucket { tokens: burst, last: now });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.last = now;
        let n = (b.tokens.floor() as usize).min(want);
        b.tokens -= n as f64;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_starts_full_refills_at_the_rate_and_caps_at_one_second() {
        let r = RateLimits::default();
        let t0 = Instant::now();
        assert_eq!(r.take_at("a", 10.0, 25, t0), 10);
        assert_eq!(r.take_at("a", 10.0, 25, t0), 0);
        assert_eq!(r.take_at("a", 10.0, 25, t0 + Duration::from_millis(500)), 5);
        // Another token has its own bucket.
        assert_eq!(r.take_at("b", 10.0, 3, t0), 3);
        // A long pause refills one second's worth, no more.
        assert_eq!(r.take_at("a", 10.0, 100, t0 + Duration::from_secs(60)), 10);
        // Below one event per second, one event still fits.
        assert_eq!(r.take_at("slow", 0.5, 5, t0), 1);
        assert_eq!(r.take_at("slow", 0.5, 5, t0 + Duration::from_secs(1)), 0);
        assert_eq!(r.take_at("slow", 0.5, 5, t0 + Duration::from_secs(2)), 1);
    }
}
