//! The out-of-order assembler: which byte ranges past `rcv.nxt` have arrived.
//!
//! Ranges are offsets relative to the reassembly point (`rcv.nxt`); the
//! TCB turns them into sequence numbers. The number of separate ranges is
//! bounded, which bounds the bookkeeping against a peer that sends
//! confetti. When a new range would exceed the bound, the highest ranges
//! above it are dropped to make room, as Linux's `tcp_prune_ofo_queue`
//! does (the data nearest the reassembly point is the most useful, and the
//! peer still holds what is dropped); a range that would itself be the
//! highest is refused (the peer retransmits it later). So data at the
//! reassembly point is always taken. Each range remembers when it was last extended, so that
//! SACK blocks come out most recent first (RFC 2018 §4: "the first SACK
//! block ... MUST specify the contiguous block of data containing the segment
//! which triggered this ACK").

/// One received range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u32,
    end: u32,
    stamp: u64,
}

/// Out-of-order ranges, sorted and disjoint (not even touching).
#[derive(Debug, Clone)]
pub struct Assembler {
    ranges: Vec<Range>,
    max_ranges: usize,
    clock: u64,
}

impl Assembler {
    /// An empty assembler holding at most `max_ranges` ranges (holes).
    pub fn new(max_ranges: usize) -> Assembler {
        Assembler {
            ranges: Vec::new(),
            max_ranges: max_ranges.max(1),
            clock: 0,
        }
    }

    /// No range held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of ranges held.
    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    /// Records `[start, end)` as received. With the bound of ranges
    /// reached, a new range that lies below the highest one takes its place
    /// (the highest is forgotten: it is no longer reported, nor SACKed);
    /// one above all others is refused: returns false, changing nothing.
    pub fn add(&mut self, start: u32, end: u32) -> bool {
        if end <= start {
            return true;
        }
        self.clock += 1;
        // First range that ends at or after `start` (touching merges).
        let first = self.ranges.partition_point(|r| r.end < start);
        // Ranges from `first` that begin at or before `end` merge with it.
        let mut last = first;
        while last < self.ranges.len() && self.ranges[last].start <= end {
            last += 1;
        }
        if first == last {
            if self.ranges.len() >= self.max_ranges {
                if first == self.ranges.len() {
                    return false;
                }
                // Prune from the top (tcp_prune_ofo_queue): the highest
                // range lies above the new one, since `first` is in range.
                self.ranges.pop();
            }
            self.ranges.insert(
                first,
                Range {
                    start,
                    end,
                    stamp: self.clock,
                },
            );
        } else {
            let merged = Range {
                start: start.min(self.ranges[first].start),
                end: end.max(self.ranges[last - 1].end),
                stamp: self.clock,
            };
            self.ranges.splice(first..last, [merged]);
        }
        true
    }

    /// Takes the range starting at offset 0, if any, and shifts everything
    /// else down by its length; returns the length (bytes now in order).
    pub fn remove_front(&mut self) -> u32 {
        match self.ranges.first() {
            Some(r) if r.start == 0 => {
                let n = r.end;
                self.ranges.remove(0);
                self.shift(n);
                n
            }
            _ => 0,
        }
    }

    /// Moves the reassembly point `n` bytes forward, dropping what falls
    /// behind it.
    pub fn shift(&mut self, n: u32) {
        self.ranges.retain_mut(|r| {
            r.start = r.start.saturating_sub(n);
            r.end = r.end.saturating_sub(n);
            r.end > 0
        });
    }

    /// The ranges, most recently extended first (for SACK blocks).
    pub fn recent_first(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let mut v: Vec<&Range> = self.ranges.iter().collect();
        v.sort_by_key(|r| core::cmp::Reverse(r.stamp));
        v.into_iter().map(|r| (r.start, r.end))
    }

    /// The ranges in order of offset.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.ranges.iter().map(|r| (r.start, r.end))
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.ranges.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(a: &Assembler) -> Vec<(u32, u32)> {
        a.iter().collect()
    }

    #[test]
    fn merges_overlapping_and_touching() {
        let mut a = Assembler::new(4);
        assert!(a.add(10, 20));
        assert!(a.add(30, 40));
        assert!(a.add(20, 25)); // touches the first
        assert_eq!(ranges(&a), [(10, 25), (30, 40)]);
        assert!(a.add(5, 35)); // swallows both
        assert_eq!(ranges(&a), [(5, 40)]);
        assert!(a.add(12, 13)); // inside
        assert_eq!(ranges(&a), [(5, 40)]);
        assert_eq!(a.remove_front(), 0);
        assert!(a.add(0, 5));
        assert_eq!(a.remove_front(), 40);
        assert!(a.is_empty());
    }

    #[test]
    fn bound_on_holes_refuses_new_ranges_but_allows_merges() {
        let mut a = Assembler::new(2);
        assert!(a.add(10, 20));
        assert!(a.add(30, 40));
        assert!(!a.add(50, 60));
        assert_eq!(a.range_count(), 2);
        assert!(a.add(40, 45)); // extends, no new hole
        assert_eq!(ranges(&a), [(10, 20), (30, 45)]);
    }

    #[test]
    fn when_full_a_lower_range_prunes_the_highest() {
        let mut a = Assembler::new(2);
        assert!(a.add(10, 20));
        assert!(a.add(30, 40));
        // In order (offset 0), not touching the first range: taken, and the
        // highest range goes.
        assert!(a.add(0, 5));
        assert_eq!(ranges(&a), [(0, 5), (10, 20)]);
        assert_eq!(a.remove_front(), 5);
        assert_eq!(ranges(&a), [(5, 15)]);
        assert!(a.add(20, 22));
        // Out of order but below the highest: the highest is pruned.
        assert!(a.add(17, 18));
        assert_eq!(ranges(&a), [(5, 15), (17, 18)]);
        let r: Vec<_> = a.recent_first().collect();
        assert_eq!(r, [(17, 18), (5, 15)], "the pruned range is not reported");
    }

    #[test]
    fn recent_first_for_sack() {
        let mut a = Assembler::new(8);
        a.add(10, 20);
        a.add(30, 40);
        a.add(50, 60);
        a.add(20, 22); // extends the first
        let r: Vec<_> = a.recent_first().collect();
        assert_eq!(r, [(10, 22), (50, 60), (30, 40)]);
    }

    #[test]
    fn shift_drops_what_falls_behind() {
        let mut a = Assembler::new(8);
        a.add(10, 20);
        a.add(30, 40);
        a.shift(15);
        assert_eq!(ranges(&a), [(0, 5), (15, 25)]);
        a.shift(6);
        assert_eq!(ranges(&a), [(9, 19)]);
    }
}
