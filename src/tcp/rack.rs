//! RACK, time-based loss detection (RFC 8985 §6), over a compact record of
//! the segments sent and not yet acknowledged.
//!
//! A segment is lost when one sent after it has been delivered (SACKed or
//! ACKed) and more than RACK.rtt + RACK.reo_wnd has passed since it was
//! sent. Unlike counting duplicate ACKs, this works with a flight of two
//! segments, and it also finds a lost retransmission.
//!
//! The record is a ring of `(start, end, sent at, flags)`, in sequence
//! order, allocated once and bounded: when it is full, the newest record
//! grows to cover new data (and takes the newer send time, which only
//! makes detection later, never spurious). An ACK walks it without
//! allocating.

use super::sack::Scoreboard;
use crate::time::{Duration, Instant};
use crate::wire::SeqNum;
use std::collections::VecDeque;

/// Most segments recorded (12 KiB per connection at most).
const MAX_SEGS: usize = 512;

/// Floor of the reordering window once reordering has been seen: our
/// timers fire with the runtime's slack, like the kernel's jiffy, and a
/// window below it would call every reordered segment lost.
const REO_WND_FLOOR: Duration = Duration::from_millis(2);

/// Largest multiplier of the reordering window (RFC 8985 §6.2 step 4
/// bounds the window by SRTT anyway).
const REO_WND_MULT_MAX: u32 = 16;

const SACKED: u8 = 1;
const LOST: u8 = 2;
const REXMIT: u8 = 4;

/// One recorded segment `[start, end)`.
#[derive(Debug, Clone, Copy)]
struct Sent {
    start: SeqNum,
    end: SeqNum,
    /// When it was last (re)transmitted (RFC 8985's Segment.xmit_ts).
    at: Instant,
    flags: u8,
}

impl Sent {
    fn is(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// RACK's state (RFC 8985 §5.2) and the record of sent segments.
#[derive(Debug, Default)]
pub struct Rack {
    segs: VecDeque<Sent>,
    /// RACK.xmit_ts and RACK.end_seq: the most recently sent segment
    /// known delivered.
    xmit_ts: Option<Instant>,
    end_seq: SeqNum,
    /// RACK.rtt: the RTT of that segment.
    rtt: Duration,
    /// The minimum RTT seen (RFC 8985's min_RTT).
    min_rtt: Option<Duration>,
    /// RACK.fack: the highest end sequence delivered.
    fack: SeqNum,
    /// RACK.reordering_seen.
    reordering_seen: bool,
    /// RACK.reo_wnd_mult, raised by D-SACKs.
    reo_wnd_mult: u32,
}

impl Rack {
    /// Frees the record (TIME-WAIT, CLOSED: nothing more will be sent). It
    /// grows again as segments are sent, so an idle connection costs little.
    pub fn release(&mut self) {
        self.segs = VecDeque::new();
    }
}

/// `a` was sent before `b` (RFC 8985 §6.2, RACK_sent_after reversed):
/// earlier, or at the same time with a lower end.
fn sent_before(a_at: Instant, a_end: SeqNum, b_at: Instant, b_end: SeqNum) -> bool {
    a_at < b_at || (a_at == b_at && a_end.before(b_end))
}

impl Rack {
    /// `[start, end)` went out at `now`: new data is appended, anything
    /// below the highest recorded end is a retransmission.
    pub fn on_send(&mut self, now: Instant, start: SeqNum, end: SeqNum) {
        if !start.before(end) {
            return;
        }
        let mut from = start;
        if let Some(last) = self.segs.back() {
            let top = last.end;
            if start.before(top) {
                self.split_at(start);
                self.split_at(end);
                for s in self.segs.iter_mut() {
                    if s.end.after(start) && s.start.before(end) {
                        s.at = now;
                        s.flags = (s.flags | REXMIT) & !LOST;
                    }
                }
                from = top;
            } else {
                from = top.max_from(start);
            }
        }
        if !from.before(end) {
            return;
        }
        if self.segs.len() >= MAX_SEGS
            && let Some(last) = self.segs.back_mut()
        {
            last.end = end;
            last.at = now;
            return;
        }
        self.segs.push_back(Sent {
            start: from,
            end,
            at: now,
            flags: 0,
        });
    }

    /// Cuts the record holding `at` in two there, so that a
    /// retransmission of part of a segment (its SACK blocks took room from
    /// the data, or a hole starts inside it) marks only what went: the
    /// rest stays lost, to go next, and out of the pipe. When the record is
    /// full, it stays whole (the old, coarser bookkeeping).
    fn split_at(&mut self, at: SeqNum) {
        if self.segs.len() >= MAX_SEGS {
            return;
        }
        let Some(i) = self
            .segs
            .iter()
            .position(|s| s.start.before(at) && at.before(s.end))
        else {
            return;
        };
        let mut tail = self.segs[i];
        tail.start = at;
        self.segs[i].end = at;
        self.segs.insert(i + 1, tail);
    }

    /// A cumulative ACK up to `snd_una` and the SACK scoreboard: records
    /// what was delivered (RFC 8985 §6.2 steps 1–3) and drops what SND.UNA
    /// passed. A D-SACK (`dsack`) raises the reordering
    /// window (step 4).
    pub fn on_ack(&mut self, now: Instant, snd_una: SeqNum, sb: &Scoreboard, dsack: bool) {
        if dsack {
            self.reo_wnd_mult = (self.reo_wnd_mult + 1).min(REO_WND_MULT_MAX);
        }
        while let Some(&s) = self.segs.front() {
            if s.end.after(snd_una) {
                if s.start.before(snd_una)
                    && let Some(f) = self.segs.front_mut()
                {
                    f.start = snd_una;
                }
                break;
            }
            self.segs.pop_front();
            if !s.is(SACKED) {
                self.delivered(now, s);
            }
        }
        if sb.is_empty() {
            return;
        }
        // Both lists are sorted from SND.UNA: walk them together.
        let mut ranges = sb.ranges().peekable();
        for i in 0..self.segs.len() {
            let s = self.segs[i];
            if s.is(SACKED) {
                continue;
            }
            while ranges.peek().is_some_and(|&(_, r)| r.before_eq(s.start)) {
                ranges.next();
            }
            let Some(&(l, r)) = ranges.peek() else { break };
            if l.before_eq(s.start) && s.end.before_eq(r) {
                self.segs[i].flags |= SACKED;
                self.delivered(now, s);
            }
        }
    }

    /// RFC 8985 §6.2 steps 2 and 3 for one delivered segment.
    fn delivered(&mut self, now: Instant, s: Sent) {
        let rtt = now.saturating_duration_since(s.at);
        // Step 2: an ACK that may answer the original of a retransmission
        // (it came sooner than any round trip) gives no information.
        if s.is(REXMIT) && self.min_rtt.is_some_and(|m| rtt < m) {
            return;
        }
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        if !s.is(REXMIT) && s.end.before(self.fack) {
            self.reordering_seen = true;
        }
        if self.fack.before(s.end) || self.xmit_ts.is_none() {
            self.fack = s.end;
        }
        let newer = self
            .xmit_ts
            .is_none_or(|ts| sent_before(ts, self.end_seq, s.at, s.end));
        if newer {
            self.xmit_ts = Some(s.at);
            self.end_seq = s.end;
            self.rtt = rtt;
        }
    }

    /// RACK.reo_wnd (RFC 8985 §6.2 step 4), with `srtt` its bound.
    fn reo_wnd(&self, in_recovery: bool, srtt: Duration) -> Duration {
        if !self.reordering_seen && in_recovery {
            return Duration::ZERO;
        }
        let base = self.min_rtt.unwrap_or(Duration::ZERO) / 4;
        let wnd = base
            .saturating_mul(self.reo_wnd_mult.max(1))
            .min(srtt.max(base));
        if self.reordering_seen {
            wnd.max(REO_WND_FLOOR)
        } else {
            wnd
        }
    }

    /// RFC 8985 §6.2 step 5: marks lost every segment sent more than
    /// RACK.rtt + reo_wnd before the most recently delivered one. Returns
    /// whether any was newly marked, and when to look again (the reorder
    /// timer) for those not yet overdue.
    pub fn detect_loss(
        &mut self,
        now: Instant,
        in_recovery: bool,
        srtt: Duration,
    ) -> (bool, Option<Instant>) {
        let Some(xmit_ts) = self.xmit_ts else {
            return (false, None);
        };
        let wait = self.rtt + self.reo_wnd(in_recovery, srtt);
        let mut lost = false;
        let mut timeout: Option<Instant> = None;
        for s in self.segs.iter_mut() {
            if s.is(SACKED) || s.is(LOST) || !sent_before(s.at, s.end, xmit_ts, self.end_seq) {
                continue;
            }
            let deadline = s.at + wait;
            if deadline <= now {
                s.flags |= LOST;
                lost = true;
            } else {
                timeout = Some(timeout.map_or(deadline, |t| t.min(deadline)));
            }
        }
        (lost, timeout)
    }

    /// The first segment marked lost and not yet retransmitted.
    pub fn first_lost(&self) -> Option<(SeqNum, SeqNum)> {
        self.segs
            .iter()
            .find(|s| s.is(LOST) && !s.is(SACKED))
            .map(|s| (s.start, s.end))
    }

    /// RFC 6675's pipe, from the record: bytes neither SACKed nor lost.
    pub fn pipe(&self) -> u32 {
        self.segs
            .iter()
            .filter(|s| !s.is(SACKED) && !s.is(LOST))
            .map(|s| s.end.since(s.start))
            .sum()
    }

    /// The retransmission timer fired: everything outstanding goes again
    /// and SACK information is forgotten (RFC 2018 §8).
    pub fn on_rto(&mut self) {
        for s in self.segs.iter_mut() {
            s.flags &= REXMIT;
        }
    }

    /// Segments recorded (tests).
    #[cfg(test)]
    pub fn recorded(&self) -> usize {
        self.segs.len()
    }
}

trait MaxFrom {
    fn max_from(self, other: SeqNum) -> SeqNum;
}

impl MaxFrom for SeqNum {
    /// The later of two sequence numbers, modulo 2^32.
    fn max_from(self, other: SeqNum) -> SeqNum {
        if other.after(self) { other } else { self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNum {
        SeqNum(n.wrapping_add(u32::MAX - 3000))
    }

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn a_segment_sent_before_a_delivered_one_is_lost_after_rtt_plus_reo_wnd() {
        let mut r = Rack::default();
        for i in 0..4 {
            r.on_send(ms(i), s(i as u32 * 1000), s(i as u32 * 1000 + 1000));
        }
        assert_eq!(r.recorded(), 4);
        // Segment 0 arrives (RTT 10 ms), then 2 and 3 are SACKed.
        r.on_ack(ms(10), s(1000), &Scoreboard::default(), false);
        let mut sb = Scoreboard::default();
        sb.add(&[Some((s(2000), s(4000)))], s(1000), s(4000));
        r.on_ack(ms(13), s(1000), &sb, false);
        let srtt = Duration::from_millis(10);
        // Sent at 1 ms, RACK.rtt 10 ms, reo_wnd min_rtt/4 = 2.5 ms.
        let (lost, timeout) = r.detect_loss(ms(13), false, srtt);
        assert!(!lost);
        assert_eq!(timeout, Some(ms(1) + Duration::from_micros(12_500)));
        let (lost, _) = r.detect_loss(ms(14), false, srtt);
        assert!(lost);
        assert_eq!(r.first_lost(), Some((s(1000), s(2000))));
        assert_eq!(r.pipe(), 0);
        // Its retransmission clears the mark; lost again, it is found again.
        r.on_send(ms(14), s(1000), s(2000));
        assert_eq!(r.first_lost(), None);
        r.on_send(ms(15), s(4000), s(5000));
        sb.add(&[Some((s(4000), s(5000)))], s(1000), s(5000));
        r.on_ack(ms(25), s(1000), &sb, false);
        assert!(r.detect_loss(ms(40), true, srtt).0);
        assert_eq!(r.first_lost(), Some((s(1000), s(2000))));
    }

    /// A retransmission that carries less than the lost segment (SACK
    /// blocks took room from the data) leaves the rest marked lost and out
    /// of the pipe; the whole segment used to count as resent.
    #[test]
    fn a_partial_retransmission_leaves_the_rest_lost() {
        let mut r = Rack::default();
        for i in 0..3 {
            r.on_send(ms(i), s(i as u32 * 1000), s(i as u32 * 1000 + 1000));
        }
        let mut sb = Scoreboard::default();
        sb.add(&[Some((s(1000), s(3000)))], s(0), s(3000));
        r.on_ack(ms(10), s(0), &sb, false);
        assert!(r.detect_loss(ms(20), true, Duration::from_millis(10)).0);
        assert_eq!(r.first_lost(), Some((s(0), s(1000))));
        assert_eq!(r.pipe(), 0);
        r.on_send(ms(20), s(0), s(988));
        assert_eq!(r.first_lost(), Some((s(988), s(1000))));
        assert_eq!(r.pipe(), 988);
        r.on_send(ms(20), s(988), s(1000));
        assert_eq!((r.first_lost(), r.pipe()), (None, 1000));
    }

    #[test]
    fn the_record_is_bounded() {
        let mut r = Rack::default();
        for i in 0..(MAX_SEGS as u32 + 10) {
            r.on_send(ms(u64::from(i)), s(i * 100), s(i * 100 + 100));
        }
        assert_eq!(r.recorded(), MAX_SEGS);
        r.on_ack(
            ms(9999),
            s((MAX_SEGS as u32 + 10) * 100),
            &Scoreboard::default(),
            false,
        );
        assert_eq!(r.recorded(), 0);
    }
}
