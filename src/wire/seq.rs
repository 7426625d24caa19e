//! TCP sequence numbers: 32-bit values compared modulo 2^32.
//!
//! RFC 9293 §3.4: "It is essential to remember that the actual sequence
//! number space is finite, though very large ... all arithmetic dealing with
//! sequence numbers must be performed modulo 2**32." There is deliberately no
//! `Ord`: modular order is not transitive. Comparisons read as words, like the
//! kernel's `before()`/`after()`.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A TCP sequence number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// `self` comes strictly before `other` (kernel `before(self, other)`).
    #[inline]
    pub fn before(self, other: SeqNum) -> bool {
        (self.0.wrapping_sub(other.0) as i32) < 0
    }

    /// `self` comes strictly after `other`.
    #[inline]
    pub fn after(self, other: SeqNum) -> bool {
        other.before(self)
    }

    /// `self` is before or equal to `other`.
    #[inline]
    pub fn before_eq(self, other: SeqNum) -> bool {
        !self.after(other)
    }

    /// `self` is after or equal to `other`.
    #[inline]
    pub fn after_eq(self, other: SeqNum) -> bool {
        !self.before(other)
    }

    /// `start <= self < start + len` in sequence space (RFC 9293 §3.4's
    /// "RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND" shape).
    #[inline]
    pub fn in_window(self, start: SeqNum, len: u32) -> bool {
        self.0.wrapping_sub(start.0) < len
    }

    /// `low <= self <= high`, all modulo 2^32.
    #[inline]
    pub fn between(self, low: SeqNum, high: SeqNum) -> bool {
        low.before_eq(self) && self.before_eq(high)
    }

    /// Distance from `earlier` to `self` (`self - earlier` modulo 2^32).
    #[inline]
    pub fn since(self, earlier: SeqNum) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }

    /// The later of two sequence numbers.
    #[inline]
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self.after(other) { self } else { other }
    }

    /// The earlier of two sequence numbers.
    #[inline]
    pub fn min(self, other: SeqNum) -> SeqNum {
        if self.before(other) { self } else { other }
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }
}

impl Add<usize> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn add(self, n: usize) -> SeqNum {
        SeqNum(self.0.wrapping_add(n as u32))
    }
}

impl AddAssign<u32> for SeqNum {
    #[inline]
    fn add_assign(&mut self, n: u32) {
        self.0 = self.0.wrapping_add(n);
    }
}

impl AddAssign<usize> for SeqNum {
    #[inline]
    fn add_assign(&mut self, n: usize) {
        self.0 = self.0.wrapping_add(n as u32);
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn sub(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(n))
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_wrap_around() {
        let a = SeqNum(u32::MAX - 10);
        let b = a + 20u32;
        assert_eq!(b.0, 9);
        assert!(a.before(b) && b.after(a));
        assert!(!a.after(b) && a.before_eq(a) && a.after_eq(a));
        assert_eq!(b.since(a), 20);
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
    }

    #[test]
    fn window_membership() {
        let start = SeqNum(u32::MAX - 1);
        assert!(start.in_window(start, 1));
        assert!((start + 3u32).in_window(start, 4));
        assert!(!(start + 4u32).in_window(start, 4));
        assert!(!start.in_window(start, 0));
        assert!((start + 2u32).between(start, start + 2u32));
    }
}
