//! The in-memory duplicate index: which `(tenant, source, event id)` the log holds.
//!
//! Each key is the first 128 bits of `BLAKE3(tenant ‖ 0 ‖ source ‖ 0 ‖ id)`. A false
//! "duplicate" needs a 128-bit collision (never, in practice). The index is rebuilt on
//! open, from the `dedup.keys` checkpoint (`index.rs`) or by scanning the log.
//!
//! The contract keeps duplicates out forever, so the index only grows: it is laid out for
//! bytes per key. It is split into [`SHARDS`] shards by the key's top byte, and each shard
//! keeps
//!
//! * **sealed** keys in one sorted `Vec<u128>` of exactly their size (16 bytes per key),
//!   found through a directory of `u32` offsets, one per ~8 keys, by the bits after the top
//!   byte (half a byte per key; the keys are uniformly random, so a directory bucket holds
//!   a few keys and is searched by bisection, which also bounds a bucket that someone
//!   filled on purpose);
//! * **fresh** keys in a small hash set, merged into the sealed ones once it holds 1/16 as
//!   many (at least [`MIN_FRESH`]): each key is copied ~17 times over its life, ~270 bytes
//!   of `memcpy`, and the set adds ~1–2.5 bytes per key.
//!
//! About 18 bytes per key in all, where one hash set per shard took 16 bytes plus its
//! slack (~26 on average, up to ~37 right after growing). A merge happens inside a commit;
//! it copies one shard, 1/256 of the index (~0.6 MB at 10 M keys), where a hash table
//! growing inside a commit used to hold every acknowledgement for ~20 ms
//! (docs/performance.md, latency).

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

/// How many shards the index is split into (by the key's top byte).
pub const SHARDS: usize = 256;

/// A shard's fresh set is merged into its sealed keys once it holds this many keys, or
/// 1/[`FRESH_SHARE`] of the sealed ones if that is more.
pub const MIN_FRESH: usize = 256;

/// See [`MIN_FRESH`].
const FRESH_SHARE: usize = 16;

/// Sealed keys per directory entry, on average.
const PER_BUCKET: usize = 8;

type Fresh = HashSet<u128, BuildHasherDefault<PassThrough>>;

/// One shard's sorted keys and their directory.
#[derive(Debug, Default)]
struct Sealed {
    /// Ascending, no repeats, capacity = length.
    keys: Vec<u128>,
    /// `keys[dir[b]..dir[b + 1]]` are the keys whose directory bits are `b`; the length is
    /// a power of two plus one.
    dir: Vec<u32>,
    /// How many bits after the top byte pick the directory entry (log2 of `dir.len() - 1`).
    bits: u32,
}

impl Sealed {
    /// Sorted, repeat-free `keys` with their directory.
    fn new(keys: Vec<u128>) -> Self {
        let mut s = Sealed { keys, dir: Vec::new(), bits: 0 };
        s.index();
        s
    }

    /// Rebuild the directory for the keys (in its own buffer, grown in place when it can).
    fn index(&mut self) {
        debug_assert!(self.keys.windows(2).all(|w| w[0] < w[1]));
        let buckets = (self.keys.len() / PER_BUCKET).max(1).next_power_of_two();
        self.bits = buckets.trailing_zeros();
        self.dir.clear();
        self.dir.reserve_exact(buckets + 1);
        let mut at = 0usize;
        for b in 0..buckets {
            while self.keys.get(at).is_some_and(|&k| Self::bucket_of(k, self.bits) < b) {
                at += 1;
            }
            self.dir.push(u32::try_from(at).unwrap_or(u32::MAX));
        }
        self.dir.push(u32::try_from(self.keys.len()).unwrap_or(u32::MAX));
    }

    fn bucket_of(key: u128, bits: u32) -> usize {
        if bits == 0 { 0 } else { ((key << 8) >> (128 - bits)) as usize }
    }

    /// Where `key` is, or would be, among the sorted keys.
    fn search(&self, key: u128) -> Result<usize, usize> {
        let b = Self::bucket_of(key, self.bits);
        let lo = self.dir.get(b).map_or(0, |&o| o as usize);
        let hi = self.dir.get(b + 1).map_or(self.keys.len(), |&o| o as usize);
        match self.keys.get(lo..hi) {
            Some(bucket) => bucket.binary_search(&key).map(|i| lo + i).map_err(|i| lo + i),
            None => self.keys.binary_search(&key),
        }
    }

    fn contains(&self, key: u128) -> bool {
        self.search(key).is_ok()
    }

    /// Remove `key`; false when it was not there. Rare (a failed commit's rollback), so it
    /// rebuilds the directory.
    fn remove(&mut self, key: u128) -> bool {
        let Ok(i) = self.search(key) else { return false };
        self.keys.remove(i);
        self.index();
        true
    }

    /// Merge the sorted, repeat-free `more`, none of them here yet, into the keys: in
    /// place, from the back, after growing the buffer by exactly their number (the
    /// allocator grows it where it is when it can, so a merge seldom needs a second copy
    /// of the shard).
    fn merge(&mut self, more: &[u128]) {
        if more.is_empty() {
            return;
        }
        let old = self.keys.len();
        self.keys.reserve_exact(more.len());
        self.keys.resize(old + more.len(), 0);
        let (mut i, mut j) = (old, more.len());
        let keys = &mut self.keys[..];
        while j > 0 {
            let w = i + j - 1;
            if i > 0 && keys[i - 1] > more[j - 1] {
                keys[w] = keys[i - 1];
                i -= 1;
            } else {
                keys[w] = more[j - 1];
                j -= 1;
            }
        }
        self.index();
    }
}

/// One shard of the index.
#[derive(Debug, Default)]
struct Shard {
    sealed: Sealed,
    fresh: Fresh,
}

impl Shard {
    #[cfg(test)]
    fn contains(&self, key: u128) -> bool {
        self.fresh.contains(&key) || self.sealed.contains(key)
    }

    fn insert(&mut self, key: u128) -> bool {
        if self.sealed.contains(key) || !self.fresh.insert(key) {
            return false;
        }
        if self.fresh.len() >= MIN_FRESH.max(self.sealed.keys.len() / FRESH_SHARE) {
            let mut more: Vec<u128> = self.fresh.drain().collect();
            more.sort_unstable();
            self.sealed.merge(&more);
        }
        true
    }

    fn remove(&mut self, key: u128) -> bool {
        self.fresh.remove(&key) || self.sealed.remove(key)
    }
}

/// The set of dedup keys in the log.
#[derive(Debug)]
pub struct DedupIndex {
    shards: Vec<Shard>,
    len: usize,
}

impl Default for DedupIndex {
    fn default() -> Self {
        DedupIndex { shards: (0..SHARDS).map(|_| Shard::default()).collect(), len: 0 }
    }
}

/// The shard of `key`: its top byte.
fn shard_of(key: u128) -> usize {
    (key >> 120) as usize
}

impl DedupIndex {
    /// The index of `keys` (repeats count once), built at once: sorted per shard, no merges.
    pub fn from_keys(keys: &[u128]) -> Self {
        let mut per: Vec<Vec<u128>> = vec![Vec::new(); SHARDS];
        let mut counts = [0usize; SHARDS];
        for &k in keys {
            counts[shard_of(k)] += 1;
        }
        for (v, &n) in per.iter_mut().zip(&counts) {
            v.reserve_exact(n);
        }
        for &k in keys {
            if let Some(v) = per.get_mut(shard_of(k)) {
                v.push(k);
            }
        }
        let mut len = 0;
        let shards = per
            .into_iter()
            .map(|mut v| {
                v.sort_unstable();
                v.dedup();
                v.shrink_to_fit();
                len += v.len();
                Shard { sealed: Sealed::new(v), fresh: Fresh::default() }
            })
            .collect();
        DedupIndex { shards, len }
    }

    /// Insert every key of `keys` (repeats count once) and empty it: sorted first, so that
    /// each shard takes its new keys in one merge. The open-time scan's way in.
    pub fn insert_many(&mut self, keys: &mut Vec<u128>) {
        keys.sort_unstable();
        keys.dedup();
        let mut rest = &keys[..];
        while let Some(&first) = rest.first() {
            let s = shard_of(first);
            let n = rest.partition_point(|&k| shard_of(k) == s);
            let (run, more) = rest.split_at(n);
            rest = more;
            let Some(shard) = self.shards.get_mut(s) else { continue };
            let new: Vec<u128> =
                run.iter().copied().filter(|k| !shard.fresh.contains(k) && !shard.sealed.contains(*k)).collect();
            self.len += new.len();
            shard.sealed.merge(&new);
        }
        keys.clear();
    }

    /// Every key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = u128> + '_ {
        self.shards.iter().flat_map(|s| s.sealed.keys.iter().chain(s.fresh.iter()).copied())
    }

    /// Insert `key`; false when it was already there.
    pub fn insert(&mut self, key: u128) -> bool {
        let fresh = self.shards.get_mut(shard_of(key)).is_some_and(|s| s.insert(key));
        self.len += usize::from(fresh);
        fresh
    }

    /// Remove `key` (rollback of a failed commit).
    pub fn remove(&mut self, key: u128) {
        if self.shards.get_mut(shard_of(key)).is_some_and(|s| s.remove(key)) {
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
        self.shards.get(shard_of(key)).is_some_and(|s| s.contains(key))
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
        let mut d = DedupIndex::default();
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

    #[test]
    fn a_shard_merges_its_fresh_keys_into_the_sealed_ones_and_finds_every_key() {
        // 20,000 keys in one shard: 256 fresh keys sealed, then 1/16 of the sealed ones.
        let keys: Vec<u128> = (1..=20_000u128)
            .map(|i| (7 << 120) | (i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835) >> 8))
            .collect();
        let mut d = DedupIndex::default();
        for &k in &keys {
            assert!(d.insert(k));
        }
        let shard = &d.shards[7];
        assert!(shard.sealed.keys.len() > 18_000, "sealed {}", shard.sealed.keys.len());
        assert_eq!(shard.sealed.keys.len(), shard.sealed.keys.capacity());
        assert!(shard.sealed.keys.windows(2).all(|w| w[0] < w[1]));
        assert!(keys.iter().all(|&k| d.contains(k) && !d.insert(k)));
        assert!(!d.contains((7 << 120) | 1) && !d.contains(6 << 120) && !d.contains(u128::MAX));
        // The same keys built at once: the same set.
        let mut twice = keys.clone();
        twice.extend_from_slice(&keys[..100]);
        let b = DedupIndex::from_keys(&twice);
        assert_eq!(b.len(), keys.len());
        assert!(keys.iter().all(|&k| b.contains(k)));
        let (mut x, mut y): (Vec<u128>, Vec<u128>) = (d.iter().collect(), b.iter().collect());
        x.sort_unstable();
        y.sort_unstable();
        assert_eq!(x, y);
    }

    #[test]
    fn a_bucket_filled_on_purpose_is_still_searched_by_bisection() {
        // Keys that share the top byte and the directory bits: one bucket holds them all.
        let keys: Vec<u128> = (0..5_000u128).map(|i| (3 << 120) | i).collect();
        let d = DedupIndex::from_keys(&keys);
        let s = &d.shards[3].sealed;
        assert!(s.bits > 0);
        assert_eq!(s.dir[1] as usize, keys.len());
        assert!(keys.iter().all(|&k| d.contains(k)));
        assert!(!d.contains((3 << 120) | 5_000));
    }

    use proptest::prelude::*;

    /// An operation on the index, for the model test.
    #[derive(Debug, Clone)]
    enum Op {
        Insert(u128),
        InsertMany(Vec<u128>),
        Remove(u128),
        Rebuild,
    }

    /// Keys from a small space (so that inserts repeat and removes hit) in a few shards,
    /// with the top bits of the rest varied so that directories have several buckets.
    fn key() -> impl Strategy<Value = u128> {
        (0u128..4, 0u128..3_000)
            .prop_map(|(shard, i)| (shard << 120) | (i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835) >> 8))
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            20 => key().prop_map(Op::Insert),
            1 => proptest::collection::vec(key(), 0..600).prop_map(Op::InsertMany),
            3 => key().prop_map(Op::Remove),
            1 => Just(Op::Rebuild),
        ]
    }

    proptest! {
        #![proptest_config(seatwatch_testkit::proptest_config("log-dedup-index", 64))]

        /// The index answers as a plain set of the same keys, through merges, removals
        /// (a failed commit's rollback) and rebuilds from its own keys.
        #[test]
        fn the_index_is_a_set(ops in proptest::collection::vec(op(), 1..3_000)) {
            let mut d = DedupIndex::default();
            let mut model = std::collections::BTreeSet::new();
            for op in ops {
                match op {
                    Op::Insert(k) => prop_assert_eq!(d.insert(k), model.insert(k)),
                    Op::Remove(k) => {
                        d.remove(k);
                        model.remove(&k);
                    }
                    Op::InsertMany(mut keys) => {
                        model.extend(keys.iter().copied());
                        d.insert_many(&mut keys);
                        prop_assert!(keys.is_empty());
                    }
                    Op::Rebuild => d = DedupIndex::from_keys(&d.iter().collect::<Vec<_>>()),
                }
                prop_assert_eq!(d.len(), model.len());
            }
            let mut all: Vec<u128> = d.iter().collect();
            all.sort_unstable();
            prop_assert_eq!(all, model.iter().copied().collect::<Vec<_>>());
            for k in (0..4u128).map(|s| s << 120) {
                prop_assert_eq!(d.contains(k), model.contains(&k));
            }
            for s in &d.shards {
                prop_assert!(s.sealed.keys.windows(2).all(|w| w[0] < w[1]));
                prop_assert!(s.sealed.keys.iter().all(|k| !s.fresh.contains(k)));
            }
        }
    }
}
