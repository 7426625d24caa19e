//! Proportional Rate Reduction (RFC 6937), the window during SACK fast
//! recovery, as Linux's `tcp_cwnd_reduction`.
//!
//! Recovery must bring the data in flight down from what it was when the
//! loss was found (RecoverFS) to ssthresh, while every ACK still clocks
//! something out. PRR sends, per byte the receiver reports delivered:
//!
//! ```text
//! pipe > ssthresh:   sndcnt = ⌈prr_delivered · ssthresh / RecoverFS⌉ − prr_out
//! pipe ≤ ssthresh:   sndcnt = min(ssthresh − pipe,
//!                                 max(prr_delivered − prr_out, DeliveredData) + MSS)
//! ```
//!
//! The first part spreads the reduction over the round trip instead of
//! holding everything back (RFC 6675 with cwnd = ssthresh sends nothing
//! until pipe falls below ssthresh, then refills it at once); the second
//! (the slow-start reduction bound) lets the pipe grow back towards
//! ssthresh after heavy losses at most one segment faster than the ACKs
//! arrive, never beyond ssthresh. As Linux, the first retransmission of an
//! episode goes whatever the numbers say, and cwnd ends at ssthresh.

/// One recovery episode's PRR state, bytes.
#[derive(Debug, Clone, Copy)]
pub struct Prr {
    /// RecoverFS: the flight when recovery began.
    recover_fs: u32,
    /// prr_delivered: bytes the receiver reported delivered since.
    delivered: u64,
    /// prr_out: bytes sent since.
    out: u64,
    /// What may go before the next ACK: sndcnt, less what has gone since.
    allowance: u32,
}

impl Prr {
    /// Recovery begins with `flight` bytes outstanding; until the next
    /// ACK, one segment of `mss` may go (the fast retransmission).
    pub fn start(flight: u32, mss: u32) -> Prr {
        Prr {
            recover_fs: flight.max(1),
            delivered: 0,
            out: 0,
            allowance: mss,
        }
    }

    /// An ACK in recovery reported `delivered` bytes (SND.UNA's advance
    /// plus newly SACKed bytes); `pipe` is what is in flight now, after
    /// the ACK's losses were marked. Returns sndcnt, which is also what
    /// may be sent until the next ACK. An ACK that delivers nothing
    /// changes nothing (Linux returns early too).
    pub fn on_ack(&mut self, delivered: u32, pipe: u32, ssthresh: u32, mss: u32) -> u32 {
        if delivered == 0 {
            return self.allowance;
        }
        self.delivered += u64::from(delivered);
        let ssthresh64 = u64::from(ssthresh);
        let sndcnt = if pipe > ssthresh {
            // RFC 6937 §3.1, the proportional part.
            (self.delivered * ssthresh64)
                .div_ceil(u64::from(self.recover_fs))
                .saturating_sub(self.out)
        } else {
            // PRR-SSRB.
            let limit = self
                .delivered
                .saturating_sub(self.out)
                .max(u64::from(delivered))
                + u64::from(mss);
            (ssthresh64 - u64::from(pipe)).min(limit)
        };
        // Linux: force the fast retransmission if nothing went yet.
        let sndcnt = if self.out == 0 {
            sndcnt.max(u64::from(mss))
        } else {
            sndcnt
        };
        self.allowance = u32::try_from(sndcnt).unwrap_or(u32::MAX);
        self.allowance
    }

    /// May a segment of `len` bytes go now? Whole segments only: one that
    /// does not fit waits for the next ACK, which raises the allowance.
    pub fn allows(&self, len: u32) -> bool {
        len <= self.allowance
    }

    /// What may still be sent before the next ACK.
    pub fn allowance(&self) -> u32 {
        self.allowance
    }

    /// `len` bytes went (a retransmission or new data).
    pub fn on_send(&mut self, len: u32) {
        self.out += u64::from(len);
        self.allowance = self.allowance.saturating_sub(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6937's first example, in segments of 1000 bytes: 20 in flight,
    /// one lost, ssthresh 10. Each ACK delivers one segment; PRR sends one
    /// for every two (ssthresh/RecoverFS = 1/2) while pipe > ssthresh.
    #[test]
    fn sends_in_proportion_then_holds_ssthresh() {
        let mss = 1000;
        let mut prr = Prr::start(20 * mss, mss);
        assert!(prr.allows(mss));
        prr.on_send(mss); // the fast retransmission
        let mut pipe = 19 * mss; // the lost one left the pipe, came back
        let mut sent = 1;
        for _ in 0..18 {
            pipe -= mss; // one delivered
            let n = prr.on_ack(mss, pipe, 10 * mss, mss);
            let segs = n / mss;
            for _ in 0..segs {
                prr.on_send(mss);
                pipe += mss;
                sent += 1;
            }
            assert!(pipe <= 19 * mss);
        }
        // Half of what was delivered went, and the pipe is at ssthresh.
        assert_eq!(sent, 10);
        assert_eq!(pipe, 10 * mss);
        // Heavy loss now: the pipe falls to 4 segments. What was delivered
        // and not yet matched may go, up to ssthresh and no further.
        assert_eq!(prr.on_ack(mss, 4 * mss, 10 * mss, mss), 6 * mss);
        // With nothing owed, an ACK of one segment lets two go (SSRB), not
        // a burst to ssthresh.
        let mut prr = Prr::start(10 * mss, mss);
        prr.on_send(mss);
        assert_eq!(prr.on_ack(mss, 2 * mss, 10 * mss, mss), 2 * mss);
        assert!(prr.allows(mss) && !prr.allows(2 * mss + 1));
    }
}
