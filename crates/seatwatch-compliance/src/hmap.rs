//! Hash maps for the fold's per-event look-ups, observably the `BTreeMap`s they replace.
//!
//! A `BTreeMap` keyed by strings costs a dozen string comparisons per look-up at 10,000
//! agents, and `entry(key.clone())` allocates a key every time. [`HMap`] finds an entry
//! with one hash of the key and clones the key only when it inserts. Nothing of the
//! hash order can leak:
//!
//! * it encodes exactly as a `BTreeMap` (length, then the pairs in key order), so
//!   snapshots are byte-identical to those of the `BTreeMap` version;
//! * `PartialEq` and `Debug` are those of the map, independent of insertion order;
//! * the only iteration it offers is [`HMap::sorted`] / [`HMap::into_sorted`], in key
//!   order.

use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use seatwatch_model::{AgentId, CallId, IdHash};
use std::collections::BTreeMap;
use std::fmt;

/// A key of an [`HMap`]: ordered (for encoding and sorted iteration) and hashed.
pub(crate) trait Key: Clone + Ord {
    fn hash_key(&self) -> u64;
}

impl Key for AgentId {
    #[inline]
    fn hash_key(&self) -> u64 {
        IdHash::of(self.as_str().as_bytes())
    }
}

impl Key for CallId {
    #[inline]
    fn hash_key(&self) -> u64 {
        IdHash::of(self.as_str().as_bytes())
    }
}

/// An agent's day (the attendance book's key).
impl Key for (AgentId, seatwatch_model::Date) {
    #[inline]
    fn hash_key(&self) -> u64 {
        attendance_hash(&self.0, self.1)
    }
}

/// The hash of the key `(a, date)`, without building it.
#[inline]
pub(crate) fn attendance_hash(a: &AgentId, date: seatwatch_model::Date) -> u64 {
    IdHash::default().str(a.as_str()).bytes(&date.0.to_le_bytes()).finish()
}

/// A hash map with the observable behaviour of a `BTreeMap` (see the module docs).
#[derive(Clone)]
pub(crate) struct HMap<K, V> {
    table: HashTable<(K, V)>,
}

impl<K, V> Default for HMap<K, V> {
    fn default() -> Self {
        HMap { table: HashTable::new() }
    }
}

impl<K: Key, V> HMap<K, V> {
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    #[inline]
    pub(crate) fn get(&self, k: &K) -> Option<&V> {
        self.table.find(k.hash_key(), |(x, _)| x == k).map(|(_, v)| v)
    }

    /// Keep the entries `f` passes (in no particular order: `f` must not depend on it).
    pub(crate) fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        self.table.retain(|(k, v)| f(k, v));
    }

    /// `entry(k.clone()).or_default()` of a `BTreeMap`, cloning `k` only to insert it.
    #[inline]
    pub(crate) fn entry_or_default(&mut self, k: &K) -> &mut V
    where
        V: Default,
    {
        self.entry_or_insert_by(k.hash_key(), |x| x == k, || (k.clone(), V::default()))
    }

    /// The entry with `hash` matching `eq`, inserting `make()` when there is none.
    #[inline]
    pub(crate) fn entry_or_insert_by(
        &mut self,
        hash: u64,
        eq: impl Fn(&K) -> bool,
        make: impl FnOnce() -> (K, V),
    ) -> &mut V {
        match self.table.entry(hash, |(x, _)| eq(x), |(x, _)| x.hash_key()) {
            Entry::Occupied(e) => &mut e.into_mut().1,
            Entry::Vacant(e) => &mut e.insert(make()).into_mut().1,
        }
    }

    pub(crate) fn insert(&mut self, k: K, v: V) -> Option<V> {
        let hash = k.hash_key();
        match self.table.entry(hash, |(x, _)| *x == k, |(x, _)| x.hash_key()) {
            Entry::Occupied(mut e) => Some(std::mem::replace(&mut e.get_mut().1, v)),
            Entry::Vacant(e) => {
                e.insert((k, v));
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        match self.table.find_entry(k.hash_key(), |(x, _)| x == k) {
            Ok(e) => Some(e.remove().0.1),
            Err(_) => None,
        }
    }

    /// The entries in key order (as a `BTreeMap` iterates).
    pub(crate) fn sorted(&self) -> Vec<(&K, &V)> {
        let mut v: Vec<(&K, &V)> = self.table.iter().map(|(k, v)| (k, v)).collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// The entries in key order, by value.
    pub(crate) fn into_sorted(self) -> Vec<(K, V)> {
        let mut v: Vec<(K, V)> = self.table.into_iter().collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

impl<K: Key, V: PartialEq> PartialEq for HMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.table.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<K: Key + fmt::Debug, V: fmt::Debug> fmt::Debug for HMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.sorted()).finish()
    }
}

impl<K: Key + Encode, V: Encode> Encode for HMap<K, V> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        // Exactly `BTreeMap::encode`: the length as u64, then the pairs in key order.
        (self.len() as u64).encode(e)?;
        for (k, v) in self.sorted() {
            k.encode(e)?;
            v.encode(e)?;
        }
        Ok(())
    }
}

impl<C, K: Key + Decode<C>, V: Decode<C>> Decode<C> for HMap<K, V> {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        let m = BTreeMap::<K, V>::decode(d)?;
        let mut out = HMap { table: HashTable::with_capacity(m.len()) };
        for (k, v) in m {
            out.insert(k, v);
        }
        Ok(out)
    }
}

impl<'de, C, K: Key + Decode<C>, V: Decode<C>> bincode::BorrowDecode<'de, C> for HMap<K, V> {
    fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        Self::decode(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatwatch_model::BINCODE_CONFIG;

    fn ids(n: usize) -> Vec<AgentId> {
        // Out of order on purpose, with shared prefixes.
        (0..n).map(|i| AgentId::from(format!("agent-{:05}", (i * 7919) % n))).collect()
    }

    #[test]
    fn encodes_and_compares_like_a_btreemap() {
        let mut h: HMap<AgentId, u32> = HMap::default();
        let mut b: BTreeMap<AgentId, u32> = BTreeMap::new();
        for (i, a) in ids(500).into_iter().enumerate() {
            *h.entry_or_default(&a) += i as u32;
            *b.entry(a).or_default() += i as u32;
        }
        h.remove(&AgentId::from("agent-00042"));
        b.remove(&AgentId::from("agent-00042"));
        assert_eq!(bincode::encode_to_vec(&h, BINCODE_CONFIG).ok(), bincode::encode_to_vec(&b, BINCODE_CONFIG).ok());
        assert_eq!(format!("{h:?}"), format!("{b:?}"));
        let bytes = bincode::encode_to_vec(&b, BINCODE_CONFIG).unwrap();
        let (back, _): (HMap<AgentId, u32>, usize) = bincode::decode_from_slice(&bytes, BINCODE_CONFIG).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.sorted(), b.iter().collect::<Vec<_>>());
        // Equality ignores insertion order but not content.
        let mut other: HMap<AgentId, u32> = HMap::default();
        for (k, v) in b.iter().rev() {
            other.insert(k.clone(), *v);
        }
        assert_eq!(other, h);
        other.insert(AgentId::from("agent-00001"), 12345);
        assert_ne!(other, h);
    }
}
