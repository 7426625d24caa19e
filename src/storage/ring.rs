//! A byte ring buffer with a fixed capacity that can be grown.

/// A FIFO of bytes over a circular `Vec<u8>`.
///
/// Offsets in `peek`/`write_unallocated` are relative to the read end.
#[derive(Debug, Clone)]
pub struct RingBuffer {
    storage: Vec<u8>,
    read_at: usize,
    len: usize,
}

impl RingBuffer {
    /// An empty buffer of `capacity` bytes.
    pub fn new(capacity: usize) -> RingBuffer {
        RingBuffer {
            storage: vec![0; capacity],
            read_at: 0,
            len: 0,
        }
    }

    /// Total capacity.
    pub fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// No room left.
    pub fn is_full(&self) -> bool {
        self.len == self.capacity()
    }

    /// Room left.
    pub fn window(&self) -> usize {
        self.capacity() - self.len
    }

    /// Grows the capacity to `capacity` (never shrinks below the bytes held),
    /// keeping the contents and the unallocated bytes past them.
    pub fn resize(&mut self, capacity: usize) {
        let capacity = capacity.max(self.len);
        let keep = capacity.min(self.capacity());
        let mut storage = vec![0; capacity];
        self.read_into(0, &mut storage[..keep]);
        self.storage = storage;
        self.read_at = 0;
    }

    fn read_into(&self, offset: usize, out: &mut [u8]) {
        let cap = self.capacity();
        if cap == 0 || out.is_empty() {
            return;
        }
        let start = (self.read_at + offset) % cap;
        let first = out.len().min(cap - start);
        out[..first].copy_from_slice(&self.storage[start..start + first]);
        let rest = out.len() - first;
        out[first..].copy_from_slice(&self.storage[..rest]);
    }

    fn write_from(&mut self, offset: usize, data: &[u8]) {
        let cap = self.capacity();
        if cap == 0 || data.is_empty() {
            return;
        }
        let start = (self.read_at + offset) % cap;
        let first = data.len().min(cap - start);
        self.storage[start..start + first].copy_from_slice(&data[..first]);
        let rest = data.len() - first;
        self.storage[..rest].copy_from_slice(&data[first..]);
    }

    /// Appends as much of `data` as fits; returns how much.
    pub fn enqueue(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.window());
        self.write_from(self.len, &data[..n]);
        self.len += n;
        n
    }

    /// Removes up to `out.len()` bytes from the front into `out`.
    pub fn dequeue(&mut self, out: &mut [u8]) -> usize {
        let n = self.peek(0, out);
        self.discard(n)
    }

    /// Copies up to `out.len()` bytes starting `offset` bytes past the front,
    /// without removing them.
    pub fn peek(&self, offset: usize, out: &mut [u8]) -> usize {
        if offset >= self.len {
            return 0;
        }
        let n = out.len().min(self.len - offset);
        self.read_into(offset, &mut out[..n]);
        n
    }

    /// Drops up to `n` bytes from the front; returns how many.
    pub fn discard(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        if self.capacity() > 0 {
            self.read_at = (self.read_at + n) % self.capacity();
        }
        // read_at is not reset when the buffer empties: out-of-order bytes
        // may be waiting past the end (write_unallocated).
        self.len -= n;
        n
    }

    /// Writes `data` `offset` bytes past the end of the held bytes without
    /// making it readable (out-of-order data); clipped to the free space.
    /// Returns how many bytes were written.
    pub fn write_unallocated(&mut self, offset: usize, data: &[u8]) -> usize {
        let free = self.window();
        if offset >= free {
            return 0;
        }
        let n = data.len().min(free - offset);
        self.write_from(self.len + offset, &data[..n]);
        n
    }

    /// Makes `n` unallocated bytes past the end readable (after
    /// [`write_unallocated`](Self::write_unallocated)); clipped to the room.
    pub fn commit(&mut self, n: usize) -> usize {
        let n = n.min(self.window());
        self.len += n;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_wraps_around() {
        let mut r = RingBuffer::new(8);
        assert_eq!(r.enqueue(b"abcdef"), 6);
        let mut out = [0u8; 4];
        assert_eq!(r.dequeue(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert_eq!(r.enqueue(b"ghijklmn"), 6); // wraps, only 6 fit
        assert!(r.is_full());
        let mut all = [0u8; 16];
        assert_eq!(r.peek(0, &mut all), 8);
        assert_eq!(&all[..8], b"efghijkl");
        assert_eq!(r.peek(5, &mut all), 3);
        assert_eq!(&all[..3], b"jkl");
        assert_eq!(r.peek(8, &mut all), 0);
        assert_eq!(r.discard(3), 3);
        assert_eq!(r.dequeue(&mut all), 5);
        assert_eq!(&all[..5], b"hijkl");
        assert!(r.is_empty());
    }

    #[test]
    fn unallocated_writes_commit_in_order() {
        let mut r = RingBuffer::new(8);
        r.enqueue(b"xxxxxx");
        r.discard(6);
        r.enqueue(b"a");
        assert_eq!(r.write_unallocated(2, b"defghijk"), 5); // clipped to room
        assert_eq!(r.write_unallocated(0, b"bc"), 2);
        assert_eq!(r.commit(100), 7);
        let mut out = [0u8; 8];
        assert_eq!(r.dequeue(&mut out), 8);
        assert_eq!(&out, b"abcdefgh");
    }

    #[test]
    fn emptying_keeps_unallocated_bytes_in_place() {
        let mut r = RingBuffer::new(8);
        r.enqueue(b"ab");
        assert_eq!(r.write_unallocated(1, b"d"), 1);
        r.discard(2);
        r.write_unallocated(0, b"c");
        r.commit(2);
        let mut out = [0u8; 2];
        r.dequeue(&mut out);
        assert_eq!(&out, b"cd");
    }

    #[test]
    fn resize_keeps_contents() {
        let mut r = RingBuffer::new(4);
        r.enqueue(b"ab");
        r.discard(2);
        r.enqueue(b"cdef");
        r.resize(10);
        assert_eq!(r.window(), 6);
        r.enqueue(b"gh");
        let mut out = [0u8; 10];
        assert_eq!(r.dequeue(&mut out), 6);
        assert_eq!(&out[..6], b"cdefgh");
        let mut z = RingBuffer::new(0);
        assert_eq!(z.enqueue(b"a"), 0);
        assert_eq!(z.discard(1), 0);
    }
}
