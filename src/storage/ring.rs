//! A byte ring buffer with a capacity limit, whose memory grows on demand.

/// Smallest allocation, once the buffer holds anything.
const MIN_STORAGE: usize = 4096;

/// A FIFO of bytes over a circular `Vec<u8>`.
///
/// Offsets in `peek`/`write_unallocated` are relative to the read end.
///
/// `capacity` is a limit (SO_SNDBUF/SO_RCVBUF); the memory behind it is
/// allocated as bytes arrive, doubling from [`MIN_STORAGE`], so a connection
/// that moves little costs little: 10,000 idle connections must not each
/// hold two 256 KiB buffers. [`release`](Self::release) gives it back.
#[derive(Debug, Clone)]
pub struct RingBuffer {
    storage: Vec<u8>,
    limit: usize,
    read_at: usize,
    len: usize,
}

impl RingBuffer {
    /// An empty buffer that may hold up to `capacity` bytes; no memory is
    /// allocated until the first write.
    pub fn new(capacity: usize) -> RingBuffer {
        RingBuffer {
            storage: Vec::new(),
            limit: capacity,
            read_at: 0,
            len: 0,
        }
    }

    /// The most it may hold.
    pub fn capacity(&self) -> usize {
        self.limit
    }

    /// Bytes of memory allocated now.
    pub fn allocated(&self) -> usize {
        self.storage.len()
    }

    /// Makes sure the first `end` bytes past the read end have memory,
    /// keeping what is stored (in order, out-of-order bytes included).
    fn reserve(&mut self, end: usize) {
        let phys = self.storage.len();
        if end <= phys {
            return;
        }
        let new = end
            .next_power_of_two()
            .max(MIN_STORAGE)
            .min(self.limit.max(end));
        let mut storage = vec![0; new];
        storage[..phys - self.read_at].copy_from_slice(&self.storage[self.read_at..]);
        storage[phys - self.read_at..phys].copy_from_slice(&self.storage[..self.read_at]);
        self.storage = storage;
        self.read_at = 0;
    }

    /// Frees the memory of an empty buffer. The caller must know that no
    /// out-of-order bytes wait past the end (they would be lost).
    pub fn release(&mut self) {
        if self.len == 0 {
            self.storage = Vec::new();
            self.read_at = 0;
        }
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

    /// Changes the limit to `capacity` (never below the bytes held); the
    /// memory follows as bytes arrive.
    pub fn resize(&mut self, capacity: usize) {
        self.limit = capacity.max(self.len);
    }

    fn read_into(&self, offset: usize, out: &mut [u8]) {
        let cap = self.storage.len();
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
        self.reserve(offset + data.len());
        let cap = self.storage.len();
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
        if !self.storage.is_empty() {
            self.read_at = (self.read_at + n) % self.storage.len();
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

    #[test]
    fn memory_grows_on_demand_keeping_order_and_out_of_order_bytes() {
        let mut r = RingBuffer::new(1 << 20);
        assert_eq!(r.allocated(), 0, "nothing allocated before the first write");
        assert_eq!(r.enqueue(&[1; 3000]), 3000);
        assert_eq!(r.allocated(), MIN_STORAGE);
        let mut out = vec![0u8; 2500];
        assert_eq!(r.dequeue(&mut out), 2500);
        // Wrap around the 4 KiB, then leave out-of-order bytes past the end.
        let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        assert_eq!(r.enqueue(&data), 3000);
        assert_eq!(r.write_unallocated(10_000, b"later"), 5);
        assert!(r.allocated() >= 3500 + 10_005 && r.allocated() <= 16384);
        let mut head = vec![0u8; 500];
        assert_eq!(r.dequeue(&mut head), 500);
        assert!(head.iter().all(|&b| b == 1));
        let mut body = vec![0u8; 3000];
        assert_eq!(r.dequeue(&mut body), 3000);
        assert_eq!(body, data);
        assert_eq!(r.write_unallocated(10_000, b"LATER"), 5);
        assert_eq!(r.commit(10_005), 10_005);
        let mut tail = vec![0u8; 10_005];
        assert_eq!(r.dequeue(&mut tail), 10_005);
        assert_eq!(&tail[10_000..], b"LATER");
        r.release();
        assert_eq!(r.allocated(), 0);
        assert_eq!(r.capacity(), 1 << 20);
    }

    #[test]
    fn never_allocates_past_the_limit() {
        let mut r = RingBuffer::new(5000);
        assert_eq!(r.enqueue(&[7; 9000]), 5000);
        assert_eq!(r.allocated(), 5000);
        assert!(r.is_full());
    }
}
