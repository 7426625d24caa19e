//! A set of fd numbers that answers "is this fd in it?" with one relaxed
//! atomic load and no lock, so the question is cheap on every `read`,
//! `write` and `close` of the host program. The shim keeps three: its
//! stack sockets, its epoll instances, and the library's own fds.
//!
//! Fds at or above [`MAX_FD`] are never in a set.

use std::sync::atomic::{AtomicU64, Ordering};

/// One past the largest fd a set can hold (Linux's default hard limit for
/// `RLIMIT_NOFILE` is 2^20). A set is 128 KiB of zero pages until used.
pub const MAX_FD: usize = 1 << 20;

const WORDS: usize = MAX_FD / 64;

/// A set of fds: bit `fd` is set while `fd` is in it.
pub struct FdBits {
    words: [AtomicU64; WORDS],
}

impl std::fmt::Debug for FdBits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FdBits")
    }
}

fn slot(fd: i32) -> Option<(usize, u64)> {
    let fd = usize::try_from(fd).ok().filter(|&fd| fd < MAX_FD)?;
    Some((fd / 64, 1u64 << (fd % 64)))
}

impl FdBits {
    /// An empty set.
    pub const fn new() -> FdBits {
        FdBits {
            words: [const { AtomicU64::new(0) }; WORDS],
        }
    }

    /// Whether `fd` is in the set: one atomic load.
    #[inline]
    pub fn contains(&self, fd: i32) -> bool {
        match slot(fd) {
            Some((word, bit)) => self.words[word].load(Ordering::Acquire) & bit != 0,
            None => false,
        }
    }

    /// Adds `fd`; false when it is beyond [`MAX_FD`] (or negative).
    pub fn insert(&self, fd: i32) -> bool {
        match slot(fd) {
            Some((word, bit)) => {
                self.words[word].fetch_or(bit, Ordering::Release);
                true
            }
            None => false,
        }
    }

    /// Removes `fd`; whether it was in the set.
    pub fn remove(&self, fd: i32) -> bool {
        match slot(fd) {
            Some((word, bit)) => self.words[word].fetch_and(!bit, Ordering::AcqRel) & bit != 0,
            None => false,
        }
    }

    /// The fds in the set from `first` to `last` (inclusive), lowest first,
    /// as the set is now. Skips 64 empty fds per load.
    pub fn in_range(&self, first: u32, last: u32) -> Vec<i32> {
        let mut out = Vec::new();
        let first = first as usize;
        let last = (last as usize).min(MAX_FD - 1);
        if first > last {
            return out;
        }
        for word in first / 64..=last / 64 {
            let mut bits = self.words[word].load(Ordering::Acquire);
            while bits != 0 {
                let fd = word * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if (first..=last).contains(&fd) {
                    out.push(fd as i32);
                }
            }
        }
        out
    }
}

impl Default for FdBits {
    fn default() -> FdBits {
        FdBits::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_contains_remove() {
        let set = Box::new(FdBits::new());
        assert!(!set.contains(70));
        assert!(set.insert(70));
        assert!(set.insert(3));
        assert!(set.contains(70) && set.contains(3) && !set.contains(71));
        assert_eq!(set.in_range(0, u32::MAX), vec![3, 70]);
        assert_eq!(set.in_range(4, 70), vec![70]);
        assert_eq!(set.in_range(4, 69), Vec::<i32>::new());
        assert!(set.remove(70));
        assert!(!set.remove(70));
        assert!(!set.contains(70));
    }

    #[test]
    fn out_of_range_is_never_in() {
        let set = Box::new(FdBits::new());
        assert!(!set.insert(-1));
        assert!(!set.insert(MAX_FD as i32));
        assert!(!set.contains(-1) && !set.contains(i32::MAX));
        assert!(!set.remove(-5));
        assert_eq!(set.in_range(5, 4), Vec::<i32>::new());
    }
}
