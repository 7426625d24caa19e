//! CUBIC (RFC 9438): the window grows as a cubic function of the time since
//! the last reduction, centred on the window where loss last happened.
//!
//! ```text
//! W_cubic(t) = C·(t − K)³ + W_max,   K = ∛(W_max·(1 − β)/C)
//! C = 0.4, β = 0.7 (RFC 9438 §4.1, §4.6), windows in segments, t in seconds
//! ```
//!
//! With the Reno-friendly estimate of §4.3 (`W_est`) so that CUBIC is never
//! slower than Reno on short-RTT paths.

use super::{CongestionControl, initial_window};
use crate::time::{Duration, Instant};

const C: f64 = 0.4;
const BETA: f64 = 0.7;

/// RFC 9438 CUBIC.
#[derive(Debug, Clone, Copy)]
pub struct Cubic {
    cwnd: u32,
    ssthresh: u32,
    mss: u32,
    /// W_max, segments.
    w_max: f64,
    /// K, seconds.
    k: f64,
    /// Start of the current congestion-avoidance epoch.
    epoch: Option<Instant>,
    /// The Reno-friendly window W_est, segments.
    w_est: f64,
    /// Fractional growth carried between ACKs, bytes.
    carry: f64,
}

impl Cubic {
    /// IW10 and an arbitrarily high ssthresh.
    pub fn new(mss: u32) -> Cubic {
        Cubic {
            cwnd: initial_window(mss),
            ssthresh: u32::MAX,
            mss,
            w_max: 0.0,
            k: 0.0,
            epoch: None,
            w_est: 0.0,
            carry: 0.0,
        }
    }

    fn segs(&self) -> f64 {
        f64::from(self.cwnd) / f64::from(self.mss)
    }
}

impl CongestionControl for Cubic {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd.max(self.mss);
    }

    fn on_ack(&mut self, now: Instant, acked: u32, srtt: Option<Duration>) {
        if self.cwnd < self.ssthresh {
            self.cwnd = super::slow_start(self.cwnd, acked, self.mss);
            return;
        }
        let mss = f64::from(self.mss);
        // RFC 9438 §4.2: the first ACK in congestion avoidance starts an
        // epoch.
        let epoch = *self.epoch.get_or_insert(now);
        if self.w_est == 0.0 {
            self.w_est = self.segs();
        }
        if self.w_max < self.segs() && self.k == 0.0 {
            self.w_max = self.segs();
        }
        let rtt = srtt.map_or(0.1, |d| d.as_secs_f64());
        let t = (now - epoch).as_secs_f64() + rtt;
        let target = C * (t - self.k).powi(3) + self.w_max;
        // §4.3: W_est += α·acked/cwnd with α = 3(1−β)/(1+β).
        let alpha = 3.0 * (1.0 - BETA) / (1.0 + BETA);
        self.w_est += alpha * f64::from(acked) / f64::from(self.cwnd);
        let cur = self.segs();
        let goal = target.max(self.w_est).clamp(cur, 1.5 * cur);
        // §4.4: cwnd += (target − cwnd)/cwnd per segment acked.
        self.carry += (goal - cur) / cur * f64::from(acked);
        if self.carry >= 1.0 {
            let add = self.carry.floor();
            self.carry -= add;
            self.cwnd = self
                .cwnd
                .saturating_add(add.min(f64::from(u32::MAX / 2)) as u32);
        }
        let _ = mss;
    }

    fn on_loss(&mut self, _now: Instant, flight: u32) {
        let cur = self.segs();
        // §4.7 fast convergence.
        self.w_max = if cur < self.w_max {
            cur * (1.0 + BETA) / 2.0
        } else {
            cur
        };
        // §4.6: ssthresh = cwnd·β (flight is not used: CUBIC follows cwnd).
        let _ = flight;
        let reduced = (f64::from(self.cwnd) * BETA) as u32;
        self.ssthresh = reduced.max(2 * self.mss);
        self.cwnd = self.ssthresh;
        self.k = (self.w_max * (1.0 - BETA) / C).cbrt();
        self.epoch = None;
        self.w_est = self.segs();
        self.carry = 0.0;
    }

    fn on_rto(&mut self, now: Instant, flight: u32, reduce: bool) {
        if reduce {
            self.on_loss(now, flight);
        } else {
            // ssthresh, W_max and K stay as the first timeout set them; the
            // epoch starts again when slow start ends.
            self.epoch = None;
            self.carry = 0.0;
        }
        self.cwnd = self.mss;
        self.w_est = 1.0;
    }

    fn on_send_after_idle(&mut self, now: Instant, idle: Duration, rto: Duration) {
        (self.cwnd, self.ssthresh) =
            super::restart_window(self.cwnd, self.ssthresh, self.mss, idle, rto);
        // RFC 9438 §4.2 and §5.8: t excludes the time the flow was
        // application-limited, so the epoch moves forward by the idle time
        // (Linux's CA_EVENT_TX_START), never past now. Without this, the
        // first ACK after a long pause would find t far past K and W_cubic
        // huge.
        if let Some(epoch) = self.epoch {
            self.epoch = Some((epoch + idle).min(now));
        }
    }

    fn set_mss(&mut self, mss: u32) {
        self.mss = mss.max(1);
        self.cwnd = initial_window(self.mss);
    }

    fn name(&self) -> &'static str {
        "cubic"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_by_beta_and_regrows_towards_w_max() {
        let mut c = Cubic::new(1000);
        c.set_cwnd(100_000);
        c.on_loss(Instant::ZERO, 100_000);
        assert_eq!(c.cwnd(), 70_000);
        let mut now = Instant::ZERO;
        for _ in 0..2000 {
            now += Duration::from_millis(10);
            c.on_ack(now, 1000, Some(Duration::from_millis(10)));
        }
        assert!(c.cwnd() > 95_000, "cwnd {}", c.cwnd());
        c.on_rto(now, 50_000, true);
        assert_eq!(c.cwnd(), 1000);
        let ssthresh = c.ssthresh();
        c.on_rto(now, 50_000, false);
        assert_eq!((c.cwnd(), c.ssthresh()), (1000, ssthresh));
    }

    /// RFC 9438 §5.8: the time since the epoch began does not count an
    /// idle period (the epoch moves forward by it, as Linux's
    /// CA_EVENT_TX_START), so growth after a pause continues the curve
    /// where it was instead of jumping to W_cubic(t + idle).
    #[test]
    fn idle_time_is_not_part_of_the_epoch() {
        let ms = Duration::from_millis;
        let rtt = Some(ms(10));
        let mut busy = Cubic::new(1000);
        busy.set_cwnd(100_000);
        busy.on_loss(Instant::ZERO, 100_000);
        let mut now = Instant::ZERO;
        for _ in 0..50 {
            now += ms(10);
            busy.on_ack(now, 1000, rtt);
        }
        let mut idle = busy;
        // The idle one pauses 100 ms (less than the RTO: no restart).
        let later = now + ms(100);
        idle.on_send_after_idle(later, ms(100), ms(200));
        assert_eq!(idle.cwnd(), busy.cwnd());
        for i in 1..=50 {
            busy.on_ack(now + ms(10 * i), 1000, rtt);
            idle.on_ack(later + ms(10 * i), 1000, rtt);
        }
        assert_eq!(idle.cwnd(), busy.cwnd());
    }
}
