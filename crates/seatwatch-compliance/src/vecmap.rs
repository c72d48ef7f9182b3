//! A small ordered map in a sorted `Vec`, observably a `BTreeMap`.
//!
//! An agent's stations (one, usually) and its shift overrides (about a week) were
//! `BTreeMap`s, each allocating a whole B-tree node (11 slots) per agent. [`VecMap`] keeps
//! the same entries sorted in a vector: the same iteration order, the same `PartialEq`
//! and `Debug`, and the same bincode encoding (the length, then the pairs in key order),
//! so snapshots do not change. `VecMap<K, ()>` encodes exactly as a `BTreeSet<K>`.

use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};
use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;

/// Up to this many entries a map grows by one entry at a time (then as a `Vec` does).
const EXACT_UP_TO: usize = 16;

/// A map with few entries, sorted by key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct VecMap<K, V>(Vec<(K, V)>);

/// A set with few entries, sorted.
pub(crate) type VecSet<K> = VecMap<K, ()>;

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap(Vec::new())
    }
}

impl<K: Ord, V> VecMap<K, V> {
    fn search<Q: Ord + ?Sized>(&self, k: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(x, _)| x.borrow().cmp(k))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn get<Q: Ord + ?Sized>(&self, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.search(k).ok().map(|i| &self.0[i].1)
    }

    /// Insert or replace; the old value if there was one.
    pub(crate) fn insert(&mut self, k: K, v: V) -> Option<V> {
        match self.search(&k) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, v)),
            Err(i) => {
                // These maps hold a few entries for good (an agent's station, a
                // station's agent, a week of shifts): while small they grow by exactly
                // one, not to a `Vec`'s first four and then by doubling. At 100,000
                // agents that is ~13 MiB (docs/performance.md).
                if self.0.len() == self.0.capacity() && self.0.len() < EXACT_UP_TO {
                    self.0.reserve_exact(1);
                }
                self.0.insert(i, (k, v));
                None
            }
        }
    }

    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, k: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.search(k).ok().map(|i| self.0.remove(i).1)
    }

    pub(crate) fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        self.0.retain_mut(|(k, v)| f(k, v));
    }

    /// The entries in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The keys in order, by value.
    pub(crate) fn into_keys(self) -> impl Iterator<Item = K> {
        self.0.into_iter().map(|(k, _)| k)
    }
}

impl<K: Ord> VecMap<K, ()> {
    /// The keys in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.iter().map(|(k, _)| k)
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(k, v)| (k, v))).finish()
    }
}

impl<K: Encode, V: Encode> Encode for VecMap<K, V> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        // Exactly `BTreeMap::encode` (and `BTreeSet::encode` when `V` is `()`).
        (self.0.len() as u64).encode(e)?;
        for (k, v) in &self.0 {
            k.encode(e)?;
            v.encode(e)?;
        }
        Ok(())
    }
}

impl<C, K: Ord + Decode<C>, V: Decode<C>> Decode<C> for VecMap<K, V> {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        Ok(VecMap(BTreeMap::<K, V>::decode(d)?.into_iter().collect()))
    }
}

impl<'de, C, K: Ord + Decode<C>, V: Decode<C>> bincode::BorrowDecode<'de, C> for VecMap<K, V> {
    fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        Self::decode(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatwatch_model::BINCODE_CONFIG;
    use std::collections::BTreeSet;

    #[test]
    fn behaves_encodes_and_prints_like_a_btreemap() {
        let mut v: VecMap<String, u64> = VecMap::default();
        let mut b: BTreeMap<String, u64> = BTreeMap::new();
        for (i, k) in ["s3", "s1", "s2", "s1", "s10", "s0"].into_iter().enumerate() {
            assert_eq!(v.insert(k.to_owned(), i as u64), b.insert(k.to_owned(), i as u64));
        }
        assert_eq!(v.remove("s2"), b.remove("s2"));
        assert_eq!(v.remove("nope"), b.remove("nope"));
        assert_eq!(v.get("s1"), b.get("s1"));
        v.retain(|_, x| *x != 0);
        b.retain(|_, x| *x != 0);
        assert_eq!(v.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
        assert_eq!(format!("{v:?}"), format!("{b:?}"));
        let bytes = bincode::encode_to_vec(&b, BINCODE_CONFIG).unwrap();
        assert_eq!(bincode::encode_to_vec(&v, BINCODE_CONFIG).unwrap(), bytes);
        let (back, _): (VecMap<String, u64>, usize) = bincode::decode_from_slice(&bytes, BINCODE_CONFIG).unwrap();
        assert_eq!(back, v);
        assert_eq!(v.is_empty(), b.is_empty());
        assert_eq!(v.into_keys().collect::<Vec<_>>(), b.into_keys().collect::<Vec<_>>());
    }

    #[test]
    fn a_small_map_grows_by_one_entry_and_a_large_one_as_a_vec() {
        let mut v: VecMap<u32, u64> = VecMap::default();
        assert_eq!(v.0.capacity(), 0);
        v.insert(7, 1);
        assert_eq!(v.0.capacity(), 1);
        v.insert(7, 2);
        assert_eq!(v.0.capacity(), 1, "replacing does not grow");
        for k in 0..7 {
            v.insert(k, 0);
        }
        assert_eq!(v.0.capacity(), 8, "a week of shifts and one more, exactly");
        assert_eq!(v.iter().map(|(k, _)| *k).collect::<Vec<_>>(), (0..8).collect::<Vec<_>>());
        assert_eq!(v.get(&7), Some(&2));
        for k in 8..17 {
            v.insert(k, 0);
        }
        assert_eq!(v.0.capacity(), 32, "past 16 entries, by doubling");
    }

    #[test]
    fn a_set_encodes_like_a_btreeset() {
        let mut v: VecSet<String> = VecSet::default();
        let mut b: BTreeSet<String> = BTreeSet::new();
        for k in ["b", "a", "c", "a"] {
            v.insert(k.to_owned(), ());
            b.insert(k.to_owned());
        }
        v.remove("c");
        b.remove("c");
        assert_eq!(v.keys().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
        let bytes = bincode::encode_to_vec(&b, BINCODE_CONFIG).unwrap();
        assert_eq!(bincode::encode_to_vec(&v, BINCODE_CONFIG).unwrap(), bytes);
        let (back, _): (VecSet<String>, usize) = bincode::decode_from_slice(&bytes, BINCODE_CONFIG).unwrap();
        assert_eq!(back, v);
    }
}
