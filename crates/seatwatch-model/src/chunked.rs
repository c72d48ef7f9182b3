//! A vector in chunks of fixed capacity, for the folds' per-agent and per-call slabs.
//!
//! A `Vec` doubles when it grows: at 100,000 agents a `Vec` of ~300-byte agent records
//! has room for 131,072 (≈ 9 MiB never used), and while it grows the old and the new
//! buffer are both alive (≈ 1.5× its size at that moment, the process's peak memory).
//! [`Chunked`] grows by one chunk of [`CHUNK`] items at a time: what it holds never
//! moves, and it never has more than one chunk of spare capacity. The first chunk grows
//! as a `Vec` does, so a small tenant does not reserve a whole chunk.
//!
//! Its bincode encoding is a `Vec`'s (the length, then the items), so a projection can
//! switch a `Vec` field to a `Chunked` one without changing its snapshots.

use bincode::de::{BorrowDecoder, Decoder};
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};

/// Items per chunk (the first chunk starts smaller and grows to this).
pub const CHUNK: usize = 4096;

/// A vector in chunks of [`CHUNK`] items (see the module's documentation).
#[derive(Clone, Debug)]
pub struct Chunked<T> {
    chunks: Vec<Vec<T>>,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new() }
    }
}

impl<T> Chunked<T> {
    /// An empty vector (allocates nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        self.chunks.last().map_or(0, |c| (self.chunks.len() - 1) * CHUNK + c.len())
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The items in order.
    pub fn iter(&self) -> std::iter::Flatten<std::slice::Iter<'_, Vec<T>>> {
        self.chunks.iter().flatten()
    }

    /// The items in order, mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.chunks.iter_mut().flatten()
    }

    /// The item at `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK).and_then(|c| c.get(i % CHUNK))
    }

    /// The item at `i`, mutable, if there is one.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i / CHUNK).and_then(|c| c.get_mut(i % CHUNK))
    }

    /// Appends `x` (its index is the length before).
    pub fn push(&mut self, x: T) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(x),
            _ => {
                let mut c = if self.chunks.is_empty() { Vec::new() } else { Vec::with_capacity(CHUNK) };
                c.push(x);
                self.chunks.push(c);
            }
        }
    }
}

impl<T> std::ops::Index<usize> for Chunked<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<T> std::ops::IndexMut<usize> for Chunked<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<'a, T> IntoIterator for &'a Chunked<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<T>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: PartialEq> PartialEq for Chunked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for Chunked<T> {}

impl<T> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut c = Chunked::new();
        iter.into_iter().for_each(|x| c.push(x));
        c
    }
}

impl<T: Encode> Encode for Chunked<T> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        (self.len() as u64).encode(e)?;
        self.iter().try_for_each(|x| x.encode(e))
    }
}

/// Decodes what `Vec<T>`'s encoding wrote, each item with `item`, as `Vec`'s decoding
/// does: the length counts against the decoder's limit (a corrupt length fails instead
/// of allocating), and each item then accounts for its own bytes.
fn decode_items<D: Decoder, T>(
    d: &mut D,
    mut item: impl FnMut(&mut D) -> Result<T, DecodeError>,
) -> Result<Chunked<T>, DecodeError> {
    let v = u64::decode(d)?;
    let len = usize::try_from(v).map_err(|_| DecodeError::OutsideUsizeRange(v))?;
    d.claim_container_read::<T>(len)?;
    let mut c = Chunked::new();
    for _ in 0..len {
        d.unclaim_bytes_read(std::mem::size_of::<T>());
        c.push(item(d)?);
    }
    Ok(c)
}

impl<Context, T: Decode<Context>> Decode<Context> for Chunked<T> {
    fn decode<D: Decoder<Context = Context>>(d: &mut D) -> Result<Self, DecodeError> {
        decode_items(d, T::decode)
    }
}

impl<'de, Context, T: BorrowDecode<'de, Context>> BorrowDecode<'de, Context> for Chunked<T> {
    fn borrow_decode<D: BorrowDecoder<'de, Context = Context>>(d: &mut D) -> Result<Self, DecodeError> {
        decode_items(d, T::borrow_decode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_across_chunks() {
        let mut c: Chunked<usize> = Chunked::default();
        assert_eq!(c.len(), 0);
        assert!(c.is_empty() && c.get(0).is_none());
        for i in 0..CHUNK * 2 + 3 {
            c.push(i);
        }
        assert_eq!(c.len(), CHUNK * 2 + 3);
        assert_eq!(c.chunks.len(), 3);
        assert!((0..c.len()).all(|i| c[i] == i && c.get(i) == Some(&i)));
        assert!(c.get(c.len()).is_none() && c.get(CHUNK * 3).is_none());
        assert!(c.iter().copied().eq(0..c.len()));
        c.iter_mut().for_each(|x| *x += 1);
        assert_eq!(c[CHUNK * 2 + 2], CHUNK * 2 + 3);
        c[CHUNK] = 7;
        assert_eq!(c[CHUNK], 7);
        *c.get_mut(CHUNK + 1).unwrap_or(&mut 0) = 9;
        assert_eq!(c[CHUNK + 1], 9);
    }

    #[test]
    fn only_the_first_chunk_grows_and_later_ones_are_exact() {
        let c: Chunked<u8> = (0..CHUNK + 1).map(|i| i as u8).collect();
        assert_eq!(c.chunks[0].len(), CHUNK);
        assert_eq!(c.chunks[1].capacity(), CHUNK);
        let small: Chunked<u8> = (0..3u8).collect();
        assert!(small.chunks[0].capacity() < CHUNK, "a small vector reserves no whole chunk");
    }

    #[test]
    fn encodes_as_a_vec_does() {
        let cfg = bincode::config::standard();
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK * 2 + 5] {
            let v: Vec<(u32, String)> = (0..n).map(|i| (i as u32, format!("a{i}"))).collect();
            let c: Chunked<(u32, String)> = v.iter().cloned().collect();
            let bytes = bincode::encode_to_vec(&c, cfg).unwrap_or_default();
            assert_eq!(bytes, bincode::encode_to_vec(&v, cfg).unwrap_or_default(), "{n} items");
            let (back, used): (Chunked<(u32, String)>, usize) =
                bincode::decode_from_slice(&bytes, cfg).unwrap_or_else(|e| panic!("{n} items: {e}"));
            assert_eq!((back, used), (c.clone(), bytes.len()));
            let (borrowed, _): (Chunked<(u32, String)>, usize) =
                bincode::borrow_decode_from_slice(&bytes, cfg).unwrap_or_else(|e| panic!("{n} items: {e}"));
            assert_eq!(borrowed, c);
        }
    }

    #[test]
    fn a_length_past_the_input_or_the_limit_is_an_error() {
        // A corrupt length must fail, not allocate for it.
        let mut bytes = bincode::encode_to_vec(u64::MAX / 2, bincode::config::standard()).unwrap_or_default();
        bytes.push(0);
        assert!(bincode::decode_from_slice::<Chunked<u64>, _>(&bytes, bincode::config::standard()).is_err());
        let cfg = bincode::config::standard().with_limit::<1024>();
        let v: Vec<u64> = (0..1000).collect();
        let bytes = bincode::encode_to_vec(&v, bincode::config::standard()).unwrap_or_default();
        assert!(bincode::decode_from_slice::<Chunked<u64>, _>(&bytes, cfg).is_err());
    }
}
