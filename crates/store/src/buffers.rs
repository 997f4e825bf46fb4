//! Reused byte buffers for files on their way to storage.
//!
//! A buffer of a megabyte or more is freshly mapped memory each time, and the kernel
//! faults in and zeroes every page of it first. A [`Pool`] keeps the buffers of finished
//! writes, up to a total size, for the next ones. [`AlignedBuf`] is such a buffer that
//! starts on a [`BLOCK`] boundary: an upload is read into one, sealed in place, and the
//! local blob store writes it to disk past the page cache (`O_DIRECT`) straight from
//! there, with no copy on the way; it goes back to the pool when the last reference to it
//! is dropped.

use std::sync::Mutex;

/// The alignment (and length granularity) `O_DIRECT` asks for; a page covers every common
/// logical block size.
pub const BLOCK: usize = 4096;

/// The buffers of files on their way to storage: up to 64 MiB, a buffer for each of some
/// sixty concurrent uploads of a megabyte.
static FILES: Pool = Pool::new(64 << 20);

/// Buffers kept for reuse, at most `max_bytes` of capacity in all.
pub struct Pool {
    kept: Mutex<(Vec<Vec<u8>>, usize)>,
    max_bytes: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("max_bytes", &self.max_bytes).finish_non_exhaustive()
    }
}

impl Pool {
    pub const fn new(max_bytes: usize) -> Self {
        Self { kept: Mutex::new((Vec::new(), 0)), max_bytes }
    }

    /// An empty buffer with room for at least `capacity` bytes.
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        let kept = self.kept.lock().ok().and_then(|mut kept| {
            let bytes = kept.0.pop()?;
            kept.1 -= bytes.capacity();
            Some(bytes)
        });
        let mut bytes = kept.unwrap_or_default();
        bytes.clear();
        bytes.reserve(capacity);
        bytes
    }

    /// Keeps `bytes` for a later [`Pool::take`] if there is room; else frees it.
    pub fn give(&self, bytes: Vec<u8>) {
        let size = bytes.capacity();
        if size == 0 {
            return;
        }
        if let Ok(mut kept) = self.kept.lock()
            && kept.1 + size <= self.max_bytes
        {
            kept.1 += size;
            kept.0.push(bytes);
        }
    }
}

/// Bytes that start on a [`BLOCK`] boundary, in a buffer taken from (and given back to)
/// the files' pool.
pub struct AlignedBuf {
    bytes: Vec<u8>,
    /// Where the aligned bytes start in `bytes`.
    start: usize,
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedBuf").field("len", &self.len()).finish_non_exhaustive()
    }
}

impl AlignedBuf {
    /// An empty buffer with room for `capacity` bytes, and for the padding of its last
    /// block, without moving.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::in_bytes(FILES.take(capacity.div_ceil(BLOCK) * BLOCK + BLOCK))
    }

    fn in_bytes(mut bytes: Vec<u8>) -> Self {
        // The capacity is reserved: the allocation does not move while it is filled.
        let start = bytes.as_ptr().align_offset(BLOCK).min(bytes.capacity());
        bytes.resize(start, 0);
        Self { bytes, start }
    }

    pub fn len(&self) -> usize {
        self.bytes.len() - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Room for `more` bytes (and the padding of the last block) without moving; when
    /// there is none, the bytes move once to a buffer twice the size.
    fn reserve(&mut self, more: usize) {
        let needed = (self.len() + more).div_ceil(BLOCK) * BLOCK;
        if self.start + needed <= self.bytes.capacity() {
            return;
        }
        let mut grown = Self::with_capacity(needed.max(2 * self.len()));
        grown.bytes.extend_from_slice(self.as_slice());
        std::mem::swap(self, &mut grown);
    }

    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.bytes.extend_from_slice(bytes);
    }

    /// Grows to `len` bytes, the new ones zero.
    pub fn resize(&mut self, len: usize) {
        self.reserve(len.saturating_sub(self.len()));
        self.bytes.resize(self.start + len, 0);
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..]
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<AlignedBuf> for bytes::Bytes {
    fn from(buf: AlignedBuf) -> Self {
        Self::from_owner(buf)
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        FILES.give(std::mem::take(&mut self.bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers_stay_aligned_as_they_grow() {
        let mut buf = AlignedBuf::with_capacity(10);
        assert!(buf.is_empty());
        for round in 0..3 {
            let piece: Vec<u8> = (0..5000).map(|i| (i + round) as u8).collect();
            buf.extend_from_slice(&piece);
            assert_eq!(buf.as_slice().as_ptr().align_offset(BLOCK), 0, "aligned after growing");
            assert_eq!(&buf.as_slice()[round * 5000..], &piece[..]);
        }
        assert_eq!(buf.len(), 15_000);
        buf.resize(15_003);
        assert_eq!(&buf.as_slice()[15_000..], &[0, 0, 0]);
        buf.as_mut_slice()[0] = 42;
        assert_eq!(buf.as_ref()[0], 42);
        // Room for the padding of the last block without moving.
        assert!(buf.start + buf.len().div_ceil(BLOCK) * BLOCK <= buf.bytes.capacity());
    }

    #[test]
    fn buffers_come_back_empty_and_the_pool_stays_within_its_size() {
        let pool = Pool::new(3000);
        let mut a = pool.take(1000);
        a.extend_from_slice(b"secret");
        let (a_ptr, a_cap) = (a.as_ptr(), a.capacity());
        pool.give(a);
        let b = pool.take(10);
        assert!(b.is_empty(), "no bytes of the earlier file");
        assert_eq!((b.as_ptr(), b.capacity()), (a_ptr, a_cap), "the same allocation");
        pool.give(b);
        pool.give(Vec::with_capacity(1500));
        pool.give(Vec::with_capacity(1500)); // over 3000 in all: freed
        let kept = pool.kept.lock().unwrap();
        assert_eq!(kept.0.len(), 2);
        assert!(kept.1 <= 3000);
    }
}
