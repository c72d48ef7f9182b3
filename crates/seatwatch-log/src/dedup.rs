//! The in-memory duplicate index: which `(tenant, source, event id)` the log holds.
//!
//! Each key is the first 128 bits of `BLAKE3(tenant ‖ 0 ‖ source ‖ 0 ‖ id)`, kept in a
//! hash set. A false "duplicate" needs a 128-bit collision (never, in practice). The set
//! costs about 16 bytes per key plus the table's slack (up to ~2× right after growing),
//! i.e. roughly 20–40 bytes per stored event; it is rebuilt by scanning the log on open.

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

/// The set of dedup keys in the log.
#[derive(Debug, Default)]
pub struct DedupIndex {
    set: HashSet<u128, BuildHasherDefault<PassThrough>>,
}

impl DedupIndex {
    /// An empty index with room for `n` keys.
    pub fn with_capacity(n: usize) -> Self {
        DedupIndex { set: HashSet::with_capacity_and_hasher(n, Default::default()) }
    }

    /// Every key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = u128> + '_ {
        self.set.iter().copied()
    }

    /// Insert `key`; false when it was already there.
    pub fn insert(&mut self, key: u128) -> bool {
        self.set.insert(key)
    }

    /// Remove `key` (rollback of a failed commit).
    pub fn remove(&mut self, key: u128) {
        self.set.remove(&key);
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.set.len()
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
}
