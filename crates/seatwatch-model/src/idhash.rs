//! The hash the projections' id tables use.
//!
//! Fast and deterministic: 8 bytes at a time, each mixed in with a folded multiply (the
//! 128-bit product's halves xored, as foldhash and wyhash do). The projectors used
//! FxHash (rustc's) until numbered ids ("agent-000001" …) turned out to share few low
//! bits under it: its multiply only carries bits upward, so 100,000 such ids fell into
//! 3,503 of 131,072 buckets, and 2.7 % of them had equal hashes (docs/performance.md).
//! Nothing a projection shows may depend on it: tables are encoded and iterated in key
//! order.

/// A running id hash; [`IdHash::bytes`] can be chained for composite keys.
#[derive(Clone, Copy, Debug)]
pub struct IdHash(u64);

impl Default for IdHash {
    fn default() -> Self {
        IdHash(0x243f_6a88_85a3_08d3)
    }
}

impl IdHash {
    #[inline]
    fn add(&mut self, w: u64) {
        let m = u128::from(self.0 ^ w) * 0x9e37_79b9_7f4a_7c15;
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }

    /// Mix in a string.
    #[inline]
    pub fn str(self, s: &str) -> Self {
        self.bytes(s.as_bytes())
    }

    /// Mix in bytes: the same as [`IdHash::str`] of the string they are.
    #[inline]
    pub fn bytes(mut self, bytes: &[u8]) -> Self {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        // The length separates "ab" + "c" from "a" + "bc" in composite keys.
        self.add(tail_word(rest) ^ ((rest.len() as u64) << 59));
        self
    }

    /// The hash.
    #[inline]
    pub fn finish(self) -> u64 {
        self.0
    }

    /// The hash of one id.
    #[inline]
    pub fn of(bytes: &[u8]) -> u64 {
        IdHash::default().bytes(bytes).finish()
    }
}

/// The last 0–7 bytes of an id as a little-endian word, zero-padded: the same value as
/// copying them into a zeroed `[u8; 8]`, without the variable-length copy (a call to
/// `memcpy` per hash, ~3 % of the fold's instructions). Bytes two loads both cover are
/// the same byte at the same place, so or-ing the loads is exact.
#[inline]
fn tail_word(rest: &[u8]) -> u64 {
    let r = rest.len();
    let byte = |i: usize| u64::from(rest[i]) << (8 * i);
    let u32_at = |i: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&rest[i..i + 4]);
        u64::from(u32::from_le_bytes(w)) << (8 * i)
    };
    match r {
        0 => 0,
        1..=3 => byte(0) | byte(r / 2) | byte(r - 1),
        4..=7 => u32_at(0) | u32_at(r - 4),
        _ => {
            // Not reached (a remainder of `chunks_exact(8)`); the plain copy.
            let mut w = [0u8; 8];
            let n = r.min(8);
            w[..n].copy_from_slice(&rest[..n]);
            u64::from_le_bytes(w)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn numbered_ids_spread_over_the_buckets() {
        let hs: Vec<u64> = (1..=100_000).map(|i| IdHash::of(format!("agent-{i:06}").as_bytes())).collect();
        let full: HashSet<u64> = hs.iter().copied().collect();
        assert_eq!(full.len(), hs.len(), "equal hashes");
        let low: HashSet<u64> = hs.iter().map(|h| h & ((1 << 17) - 1)).collect();
        assert!(low.len() > 60_000, "{} of 131,072 buckets used", low.len());
        let tags: HashSet<u64> = hs.iter().map(|h| h >> 57).collect();
        assert_eq!(tags.len(), 128);
    }

    #[test]
    fn the_tail_word_is_the_zero_padded_copy() {
        let bytes: Vec<u8> = (1..=8).map(|i| i * 31).collect();
        for r in 0..8 {
            let mut w = [0u8; 8];
            w[..r].copy_from_slice(&bytes[..r]);
            assert_eq!(tail_word(&bytes[..r]), u64::from_le_bytes(w), "{r}");
        }
    }

    #[test]
    fn composite_keys_keep_their_parts_apart() {
        let two = |a: &str, b: &str| IdHash::default().str(a).str(b).finish();
        assert_ne!(two("ab", "c"), two("a", "bc"));
        assert_ne!(two("", "abcdefgh"), two("abcdefgh", ""));
        assert_eq!(IdHash::default().str("abc").finish(), IdHash::of(b"abc"));
    }
}
