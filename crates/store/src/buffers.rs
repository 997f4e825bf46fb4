//! Reused byte buffers for files on their way to storage.
//!
//! A buffer of a megabyte or more is freshly mapped memory each time, and the kernel
//! faults in and zeroes every page of it first. A [`Pool`] keeps the buffers of finished
//! writes, up to a total size, for the next ones (the local blob store's `O_DIRECT`
//! writes).

use std::sync::Mutex;

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

#[cfg(test)]
mod tests {
    use super::*;

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
