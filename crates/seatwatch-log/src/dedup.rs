//! The in-memory duplicate index: which `(tenant, source, event id)` the log holds.
//!
//! Each key is the first 128 bits of `BLAKE3(tenant ‖ 0 ‖ source ‖ 0 ‖ id)`, kept in a
//! hash set. A false "duplicate" needs a 128-bit collision (never, in practice). The set
//! costs about 16 bytes per key plus the table's slack (up to ~2× right after growing),
//! i.e. roughly 20–40 bytes per stored event; it is rebuilt by scanning the log on open.
//!
//! The set is split into [`SHARDS`] tables by the key's top byte. A hash table grows by
//! moving every key into a table twice its size, and the log's writer does that inside a
//! commit: one table of 230,000 keys held every acknowledgement for ~20 ms while it grew
//! (docs/performance.md, latency). A shard grows alone, with 1/256 of the keys.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// The dedup key of an event, or `None` for an event that is never deduplicated
/// (empty id: server ticks).
pub fn dedup_key(tenant: &str, source: &str, id: &str) -> Option<u128> {
    if id.is_empty() {
        return None;
    }
    let mut h = blake3::Hasher::new();
    h.update(tenant.as_bytes());
    h.update(&[0]);
    h.update(source.as_bytes());
    h.update(&[0]);
    h.update(id.as_bytes());
    let out = h.finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(&out.as_bytes()[..16]);
    Some(u128::from_le_bytes(k))
}

/// The keys are already uniformly random: hashing them again would only cost time.
#[derive(Default, Debug)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 ^= v as u64;
    }
}

/// How many tables the index is split into (by the key's top byte).
pub const SHARDS: usize = 256;

type Shard = HashSet<u128, BuildHasherDefault<PassThrough>>;

/// The set of dedup keys in the log.
#[derive(Debug)]
pub struct DedupIndex {
    shards: Vec<Shard>,
    len: usize,
}

impl Default for DedupIndex {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

/// The shard of `key`: its top byte (the table hashes its low 64 bits).
fn shard_of(key: u128) -> usize {
    (key >> 120) as usize
}

impl DedupIndex {
    /// An empty index with room for `n` keys.
    pub fn with_capacity(n: usize) -> Self {
        let each = n.div_ceil(SHARDS);
        DedupIndex {
            shards: (0..SHARDS).map(|_| Shard::with_capacity_and_hasher(each, Default::default())).collect(),
            len: 0,
        }
    }

    /// Every key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = u128> + '_ {
        self.shards.iter().flat_map(|s| s.iter().copied())
    }

    /// Insert `key`; false when it was already there.
    pub fn insert(&mut self, key: u128) -> bool {
        let fresh = self.shards.get_mut(shard_of(key)).is_some_and(|s| s.insert(key));
        self.len += usize::from(fresh);
        fresh
    }

    /// Remove `key` (rollback of a failed commit).
    pub fn remove(&mut self, key: u128) {
        if self.shards.get_mut(shard_of(key)).is_some_and(|s| s.remove(&key)) {
            self.len -= 1;
        }
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether `key` is in the index.
    #[cfg(test)]
    pub fn contains(&self, key: u128) -> bool {
        self.shards.get(shard_of(key)).is_some_and(|s| s.contains(&key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_fields_and_skip_empty_ids() {
        assert_eq!(dedup_key("a", "b", ""), None);
        let k = dedup_key("a", "b", "c").unwrap();
        assert_eq!(Some(k), dedup_key("a", "b", "c"));
        assert_ne!(Some(k), dedup_key("a", "bc", ""));
        assert_ne!(Some(k), dedup_key("ab", "", "c"));
        assert_ne!(Some(k), dedup_key("b", "a", "c"));
        let mut d = DedupIndex::default();
        assert!(d.insert(k));
        assert!(!d.insert(k));
        d.remove(k);
        assert_eq!(d.len(), 0);
        assert!(d.insert(k));
    }

    #[test]
    fn every_shard_keeps_its_keys_and_the_count_is_exact() {
        let mut d = DedupIndex::with_capacity(10_000);
        // Keys in every shard, including the first and the last.
        let keys: Vec<u128> = (0..5_000u128).map(|i| ((i % 256) << 120) | (i * 0x9E37_79B9_7F4A_7C15)).collect();
        for &k in &keys {
            assert!(d.insert(k));
        }
        assert!(keys.iter().all(|&k| !d.insert(k) && d.contains(k)));
        assert_eq!(d.len(), keys.len());
        let mut all: Vec<u128> = d.iter().collect();
        all.sort_unstable();
        let mut want = keys.clone();
        want.sort_unstable();
        assert_eq!(all, want);
        for &k in keys.iter().step_by(2) {
            d.remove(k);
            d.remove(k);
        }
        assert_eq!(d.len(), keys.len() / 2);
        assert!(!d.contains(keys[0]) && d.contains(keys[1]));
        assert!(!d.contains(u128::MAX));
    }
}
