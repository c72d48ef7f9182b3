//! Id-keyed hash tables for the folds' per-event look-ups (agent, call and queue ids):
//! occupancy's tables and the metrics histograms' use them; compliance's call book keeps
//! its call ids as [`Key`]s.
//!
//! A `HashMap<String, _>` keeps each key on the heap: every look-up that finds its entry
//! compares the id against that heap copy, a cache miss per look-up at 10,000 agents.
//! [`IdMap`] keeps ids of up to [`INLINE`] bytes (every id the simulator makes, and most
//! real ones) inside the table itself, so a look-up touches the table and the id being
//! looked up only. Nothing of the hash order can leak: equality and `Debug` are those of
//! the map, and a projection that encodes one sorts it first (occupancy's
//! `snapshot::Calls`).

use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use std::fmt;

/// Ids up to this many bytes are kept inline.
pub const INLINE: usize = 22;

/// An id: inline when short, else on the heap.
#[derive(Clone, PartialEq, Eq)]
pub enum Key {
    /// An id of up to [`INLINE`] bytes: its length and its bytes.
    Inline(u8, [u8; INLINE]),
    /// A longer id.
    Heap(Box<str>),
}

impl Default for Key {
    fn default() -> Self {
        Key::Inline(0, [0; INLINE])
    }
}

impl Key {
    /// The key of id `s`.
    pub fn new(s: &str) -> Key {
        match u8::try_from(s.len()) {
            Ok(n) if s.len() <= INLINE => {
                let mut b = [0u8; INLINE];
                b[..s.len()].copy_from_slice(s.as_bytes());
                Key::Inline(n, b)
            }
            _ => Key::Heap(s.into()),
        }
    }

    /// The id's bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        match self {
            Key::Inline(n, b) => &b[..usize::from(*n)],
            Key::Heap(s) => s.as_bytes(),
        }
    }

    /// The id. (The bytes were a whole `str`, so they are UTF-8.)
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.bytes()).unwrap_or_default()
    }

    /// Whether this is the id `s`.
    #[inline]
    pub fn is(&self, s: &str) -> bool {
        self.bytes() == s.as_bytes()
    }

    /// Whether the id is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Encoded as the string it holds.
impl Encode for Key {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        self.as_str().encode(e)
    }
}

impl<C> Decode<C> for Key {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        let s: String = Decode::decode(d)?;
        Ok(Key::new(&s))
    }
}
bincode::impl_borrow_decode!(Key);

/// The hash of an id ([`crate::IdHash`]).
#[inline]
fn hash(bytes: &[u8]) -> u64 {
    crate::IdHash::of(bytes)
}

/// A hash map from ids to `V`.
#[derive(Clone)]
pub struct IdMap<V> {
    table: HashTable<(Key, V)>,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap { table: HashTable::new() }
    }
}

impl<V> IdMap<V> {
    /// The value of `k`.
    #[inline]
    pub fn get(&self, k: &str) -> Option<&V> {
        self.table.find(hash(k.as_bytes()), |e| e.0.is(k)).map(|e| &e.1)
    }

    /// The value of `k`, to change it.
    #[inline]
    pub fn get_mut(&mut self, k: &str) -> Option<&mut V> {
        self.table.find_mut(hash(k.as_bytes()), |e| e.0.is(k)).map(|e| &mut e.1)
    }

    /// The value of `k`, inserting `f()` when there is none.
    pub fn get_or_insert_with(&mut self, k: &str, f: impl FnOnce() -> V) -> &mut V {
        match self.table.entry(hash(k.as_bytes()), |e| e.0.is(k), |e| hash(e.0.bytes())) {
            Entry::Occupied(o) => &mut o.into_mut().1,
            Entry::Vacant(v) => &mut v.insert((Key::new(k), f())).into_mut().1,
        }
    }

    /// Set `k` to `v`.
    pub fn insert(&mut self, k: &str, v: V) {
        match self.table.entry(hash(k.as_bytes()), |e| e.0.is(k), |e| hash(e.0.bytes())) {
            Entry::Occupied(mut o) => o.get_mut().1 = v,
            Entry::Vacant(e) => {
                e.insert((Key::new(k), v));
            }
        }
    }

    /// Remove `k`, giving back its value.
    pub fn remove(&mut self, k: &str) -> Option<V> {
        match self.table.find_entry(hash(k.as_bytes()), |e| e.0.is(k)) {
            Ok(o) => Some(o.remove().0.1),
            Err(_) => None,
        }
    }

    /// Remove `k` if its value passes `f`, in one look-up: `None` when there is no `k`,
    /// `Some(Ok(value))` when it was removed, `Some(Err(&value))` when it stays.
    pub fn remove_if(&mut self, k: &str, f: impl FnOnce(&V) -> bool) -> Option<Result<V, &V>> {
        match self.table.find_entry(hash(k.as_bytes()), |e| e.0.is(k)) {
            Ok(o) if f(&o.get().1) => Some(Ok(o.remove().0.1)),
            Ok(o) => Some(Err(&o.into_mut().1)),
            Err(_) => None,
        }
    }

    /// Keep the entries whose value passes `f`.
    pub fn retain(&mut self, mut f: impl FnMut(&V) -> bool) {
        self.table.retain(|e| f(&e.1));
    }

    /// The entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.table.iter().map(|e| (e.0.as_str(), &e.1))
    }

    /// The values, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.table.iter().map(|e| &e.1)
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

impl<K: AsRef<str>, V> FromIterator<(K, V)> for IdMap<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = IdMap::default();
        for (k, v) in iter {
            m.insert(k.as_ref(), v);
        }
        m
    }
}

impl<V: PartialEq> PartialEq for IdMap<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<V: Eq> Eq for IdMap<V> {}

impl<V: fmt::Debug> fmt::Debug for IdMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sorted: Vec<(&str, &V)> = self.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        f.debug_map().entries(sorted).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_ids_behave_alike() {
        let long = "x".repeat(INLINE + 1);
        let exact = "y".repeat(INLINE);
        let mut m: IdMap<u32> = IdMap::default();
        for (i, k) in ["a", "", exact.as_str(), long.as_str(), "agent-00001"].iter().enumerate() {
            m.insert(k, i as u32);
        }
        assert!(matches!(Key::new(&exact), Key::Inline(..)));
        assert!(matches!(Key::new(&long), Key::Heap(..)));
        assert_eq!(m.len(), 5);
        assert_eq!(m.get(&long), Some(&3));
        assert_eq!(m.get(&exact), Some(&2));
        assert_eq!(m.get(""), Some(&1));
        assert_eq!(m.get("agent-00002"), None);
        m.insert("a", 9);
        assert_eq!((m.get("a"), m.len()), (Some(&9), 5));
        assert_eq!(m.remove(&long), Some(3));
        assert_eq!(m.get(&long), None);
        *m.get_or_insert_with("new", || 7) += 1;
        assert_eq!(m.get("new"), Some(&8));
        assert_eq!(m.remove_if("new", |v| *v != 8), Some(Err(&8)));
        assert_eq!(m.remove_if("absent", |_| true), None);
        m.retain(|v| *v != 8);
        assert_eq!(m.get("new"), None);
        let copy: IdMap<u32> = m.iter().map(|(k, v)| (k.to_owned(), *v)).collect();
        assert_eq!(copy, m);
        assert_eq!(format!("{m:?}"), format!("{copy:?}"));
        let k = Key::new("call-7");
        let bytes = bincode::encode_to_vec(&k, crate::BINCODE_CONFIG).unwrap();
        assert_eq!(bytes, bincode::encode_to_vec("call-7", crate::BINCODE_CONFIG).unwrap());
        let (back, _): (Key, usize) = bincode::decode_from_slice(&bytes, crate::BINCODE_CONFIG).unwrap();
        assert_eq!(back, k);
    }

    /// Compliance keeps its call ids as keys too (one per call it books).
    #[test]
    fn a_key_round_trips_any_id_in_24_bytes() {
        for s in ["", "c1", "sim-call-1234567890123", "sim-call-12345678901234", &"x".repeat(128), "é-call-ü"] {
            let k = Key::new(s);
            assert_eq!(k.as_str(), s);
            assert_eq!(k.bytes(), s.as_bytes());
            assert!(k.is(s));
            assert_eq!(matches!(k, Key::Inline(..)), s.len() <= INLINE, "{s}");
        }
        assert_eq!(std::mem::size_of::<Key>(), 24);
    }
}
