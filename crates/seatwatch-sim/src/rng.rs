//! The simulator's own pseudo-random number generator and the few distributions it uses.
//!
//! The generator promises "same seed → byte-identical output". `rand`'s `StdRng` and
//! `rand_distr`'s samplers may change their streams between versions, which would silently
//! change every simulated day after a dependency upgrade (and break anybody's golden files).
//! So the simulator carries its own: xoshiro256** seeded through SplitMix64, and inverse
//! transform / Box–Muller samplers written here. They are small, well known and fixed.

/// xoshiro256** (Blackman & Vigna), seeded from one `u64` through SplitMix64.
#[derive(Clone, Debug)]
pub(crate) struct SimRng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SimRng {
    /// A generator whose whole stream is determined by `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        let mut st = seed;
        let s = [splitmix64(&mut st), splitmix64(&mut st), splitmix64(&mut st), splitmix64(&mut st)];
        SimRng { s }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`, 53 bits of precision.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)` (or `lo` when the range is empty).
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        if hi <= lo { lo } else { lo + (hi - lo) * self.unit() }
    }

    /// Uniform integer in `0..n` (0 when `n` is 0). Lemire's multiply-shift; the bias is
    /// below 2⁻³² for every `n` the simulator uses, which is irrelevant here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p` (clamped to `[0, 1]`).
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        // Always draw, so the stream position does not depend on `p`.
        let u = self.unit();
        u < p
    }

    /// Exponential with the given mean (inverse transform).
    pub(crate) fn exp(&mut self, mean: f64) -> f64 {
        // 1 - u lies in (0, 1], so the logarithm is finite.
        -(1.0 - self.unit()).ln() * mean
    }

    /// Standard normal (Box–Muller, one of the pair).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // (0, 1]
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Lognormal with the given *mean* (not median) and shape `sigma`.
    pub(crate) fn lognormal_mean(&mut self, mean: f64, sigma: f64) -> f64 {
        let mu = mean.ln() - sigma * sigma / 2.0;
        (mu + sigma * self.normal()).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_a_fixed_first_value() {
        let mut a = SimRng::new(42);
        let mut b = SimRng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        // Pinned (computed independently from the published algorithm), so an accidental
        // change of the generator shows up here first.
        assert_eq!(SimRng::new(0).next_u64(), 0x99ec_5f36_cb75_f2b4);
        assert_ne!(SimRng::new(0).next_u64(), SimRng::new(1).next_u64());
    }

    #[test]
    fn distributions_have_the_documented_means() {
        let mut r = SimRng::new(7);
        let n = 200_000;
        let mean = |f: &mut dyn FnMut() -> f64| (0..n).map(|_| f()).sum::<f64>() / f64::from(n);
        let m = mean(&mut || r.unit());
        assert!((m - 0.5).abs() < 0.01, "unit mean {m}");
        let m = mean(&mut || r.exp(30.0));
        assert!((m - 30.0).abs() < 0.5, "exp mean {m}");
        let m = mean(&mut || r.lognormal_mean(240.0, 0.6));
        assert!((m - 240.0).abs() < 5.0, "lognormal mean {m}");
        let m = mean(&mut || r.normal());
        assert!(m.abs() < 0.02, "normal mean {m}");
        let m = mean(&mut || r.below(10) as f64);
        assert!((m - 4.5).abs() < 0.05, "below mean {m}");
        assert!((0..1000).all(|_| r.below(3) < 3));
        assert_eq!(r.below(0), 0);
        assert_eq!(r.uniform(5.0, 5.0), 5.0);
    }
}
