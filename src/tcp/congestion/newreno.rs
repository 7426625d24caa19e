//! Reno/NewReno window arithmetic (RFC 5681 §3.1).

use super::{CongestionControl, initial_window};
use crate::time::{Duration, Instant};

/// RFC 5681 slow start and congestion avoidance.
#[derive(Debug, Clone, Copy)]
pub struct NewReno {
    cwnd: u32,
    ssthresh: u32,
    mss: u32,
    /// Bytes acked since cwnd last grew in congestion avoidance.
    acked_in_ca: u32,
}

impl NewReno {
    /// IW10 (RFC 6928) and an arbitrarily high ssthresh (RFC 5681 §3.1).
    pub fn new(mss: u32) -> NewReno {
        NewReno {
            cwnd: initial_window(mss),
            ssthresh: u32::MAX,
            mss,
            acked_in_ca: 0,
        }
    }
}

impl CongestionControl for NewReno {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd.max(self.mss);
    }

    fn on_ack(&mut self, _now: Instant, acked: u32, _srtt: Option<Duration>) {
        if self.cwnd < self.ssthresh {
            self.cwnd = super::slow_start(self.cwnd, acked, self.mss);
        } else {
            // Congestion avoidance: about one SMSS per RTT (RFC 5681 eq. 3,
            // counted in bytes as RFC 3465 §2.1 suggests).
            self.acked_in_ca = self.acked_in_ca.saturating_add(acked);
            if self.acked_in_ca >= self.cwnd {
                self.acked_in_ca -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(self.mss);
            }
        }
    }

    fn on_loss(&mut self, _now: Instant, flight: u32) {
        // RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2·SMSS).
        self.ssthresh = (flight / 2).max(2 * self.mss);
        self.cwnd = self.ssthresh;
        self.acked_in_ca = 0;
    }

    fn on_rto(&mut self, now: Instant, flight: u32, reduce: bool) {
        if reduce {
            self.on_loss(now, flight);
        }
        self.cwnd = self.mss;
        self.acked_in_ca = 0;
    }

    fn on_send_after_idle(&mut self, _now: Instant, idle: Duration, rto: Duration) {
        let (cwnd, ssthresh) = super::restart_window(self.cwnd, self.ssthresh, self.mss, idle, rto);
        if cwnd != self.cwnd {
            self.acked_in_ca = 0;
        }
        (self.cwnd, self.ssthresh) = (cwnd, ssthresh);
    }

    fn set_mss(&mut self, mss: u32) {
        self.mss = mss.max(1);
        self.cwnd = initial_window(self.mss);
    }

    fn name(&self) -> &'static str {
        "reno"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_then_avoidance_then_loss() {
        let mut c = NewReno::new(1000);
        assert_eq!(c.cwnd(), 10_000);
        c.on_ack(Instant::ZERO, 5000, None);
        assert_eq!(c.cwnd(), 11_000); // at most one MSS per ACK
        c.on_loss(Instant::ZERO, 11_000);
        assert_eq!((c.cwnd(), c.ssthresh()), (5500, 5500));
        for _ in 0..5 {
            c.on_ack(Instant::ZERO, 1100, None);
        }
        assert_eq!(c.cwnd(), 6500);
        c.on_rto(Instant::ZERO, 1000, true);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, 2000));
    }
}
