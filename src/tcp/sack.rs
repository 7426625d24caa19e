//! The sender's SACK scoreboard (RFC 6675 §3): which bytes above SND.UNA
//! the peer reported holding, so that loss recovery retransmits only the
//! holes.

use crate::wire::SeqNum;

/// Most ranges remembered; beyond it the highest are forgotten (which only
/// makes recovery retransmit a little more).
const MAX_RANGES: usize = 32;

/// SACKed ranges `[left, right)`, disjoint and sorted from SND.UNA.
#[derive(Debug, Clone, Default)]
pub struct Scoreboard {
    ranges: Vec<(SeqNum, SeqNum)>,
}

impl Scoreboard {
    /// Records the peer's blocks that lie in `(snd_una, snd_max]`; returns
    /// true when one of them reports something new (RFC 6675's definition
    /// of a duplicate acknowledgment).
    pub fn add(
        &mut self,
        blocks: &[Option<(SeqNum, SeqNum)>],
        snd_una: SeqNum,
        snd_max: SeqNum,
    ) -> bool {
        let mut new = false;
        for &(l, r) in blocks.iter().flatten() {
            // RFC 2018 §3 blocks must be sane: ignore ones outside what we
            // sent (a D-SACK below SND.UNA, or garbage).
            if !l.before(r) || !l.after(snd_una) || r.after(snd_max) {
                continue;
            }
            if !self.covers(l, r) {
                new = true;
                self.ranges.push((l, r));
            }
        }
        if new {
            self.normalize(snd_una);
        }
        new
    }

    fn covers(&self, l: SeqNum, r: SeqNum) -> bool {
        self.ranges
            .iter()
            .any(|&(a, b)| a.before_eq(l) && r.before_eq(b))
    }

    fn normalize(&mut self, snd_una: SeqNum) {
        self.ranges.sort_by_key(|&(l, _)| l.since(snd_una));
        let mut merged: Vec<(SeqNum, SeqNum)> = Vec::with_capacity(self.ranges.len());
        for &(l, r) in &self.ranges {
            match merged.last_mut() {
                Some(last) if l.before_eq(last.1) => last.1 = last.1.max(r),
                _ => merged.push((l, r)),
            }
        }
        merged.truncate(MAX_RANGES);
        self.ranges = merged;
    }

    /// Forgets what SND.UNA has passed.
    pub fn prune(&mut self, snd_una: SeqNum) {
        self.ranges.retain_mut(|(l, r)| {
            if l.before(snd_una) {
                *l = snd_una;
            }
            l.before(*r)
        });
    }

    /// Forgets everything (after a timeout: the peer may renege, RFC 2018 §8).
    pub fn clear(&mut self) {
        self.ranges.clear();
    }

    /// Bytes SACKed.
    pub fn sacked_bytes(&self) -> u32 {
        self.ranges.iter().map(|&(l, r)| r.since(l)).sum()
    }

    /// The first hole at or after `from` and below the highest SACKed byte:
    /// data the peer is missing while it holds later data, so presumed lost
    /// (a simplification of RFC 6675's IsLost).
    pub fn next_hole(&self, from: SeqNum) -> Option<(SeqNum, SeqNum)> {
        let mut start = from;
        for &(l, r) in &self.ranges {
            if start.before(l) {
                return Some((start, l));
            }
            if start.before(r) {
                start = r;
            }
        }
        None
    }

    /// The SACKed ranges, in order from SND.UNA.
    pub fn ranges(&self) -> impl Iterator<Item = (SeqNum, SeqNum)> + '_ {
        self.ranges.iter().copied()
    }

    /// Whether `blocks` start with a D-SACK (RFC 2883 §4): a first block
    /// below the cumulative ACK, or inside the second block.
    pub fn is_dsack(blocks: &[Option<(SeqNum, SeqNum)>], ack: SeqNum) -> bool {
        match blocks {
            [Some((l, r)), rest @ ..] => {
                r.before_eq(ack)
                    || rest
                        .first()
                        .copied()
                        .flatten()
                        .is_some_and(|(l2, r2)| l2.before_eq(*l) && r.before_eq(r2))
            }
            _ => false,
        }
    }

    /// No range held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNum {
        SeqNum(n.wrapping_add(u32::MAX - 1000))
    }

    #[test]
    fn merges_and_finds_holes_across_the_wrap() {
        let mut b = Scoreboard::default();
        assert!(b.add(
            &[Some((s(3000), s(4000))), Some((s(5000), s(6000)))],
            s(1000),
            s(9000)
        ));
        assert!(!b.add(&[Some((s(3000), s(3500)))], s(1000), s(9000)));
        assert!(b.add(&[Some((s(4000), s(4500)))], s(1000), s(9000)));
        assert_eq!(b.sacked_bytes(), 2500);
        assert_eq!(b.next_hole(s(1000)), Some((s(1000), s(3000))));
        assert_eq!(b.next_hole(s(3200)), Some((s(4500), s(5000))));
        assert_eq!(b.next_hole(s(5500)), None);
        b.prune(s(3500));
        assert_eq!(b.sacked_bytes(), 2000);
    }

    #[test]
    fn ignores_blocks_outside_what_was_sent() {
        let mut b = Scoreboard::default();
        assert!(!b.add(
            &[
                Some((s(0), s(500))),
                Some((s(8000), s(9500))),
                Some((s(10), s(5)))
            ],
            s(1000),
            s(9000)
        ));
        assert!(b.is_empty());
    }
}
