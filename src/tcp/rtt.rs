//! Round-trip time estimation and the retransmission timeout, RFC 6298.
//!
//! The textbook first estimator smooths with `rtt = 0.9·old + 0.1·new` (RFC
//! 793's SRTT with α = 0.9). RFC 6298 keeps that idea with α = 1/8 and adds the variance, so
//! that the RTO follows a jittery path instead of firing spuriously:
//!
//! ```text
//! first sample R:  SRTT = R, RTTVAR = R/2
//! later samples:   RTTVAR = 3/4·RTTVAR + 1/4·|SRTT − R|
//!                  SRTT   = 7/8·SRTT   + 1/8·R
//! RTO = SRTT + max(G, 4·RTTVAR, rto_min), at most rto_max
//! ```
//!
//! RFC 6298 §2.4 rounds the whole RTO up to 1 s and allows a lower floor;
//! applied to the whole RTO, a floor fails where it matters: with a
//! timestamp sample on every ACK (RFC 7323 §4) RTTVAR decays to nothing
//! on a steady path, so a 180 ms path got an RTO of 200 ms, and one ACK
//! delayed by 40 ms (the peer's delayed-ACK timer) fired a spurious
//! retransmission. The floor here bounds the variance term instead, as
//! Linux does: `tcp_rtt_estimator` keeps `rttvar_us` (its 4·RTTVAR) at
//! least `tcp_rto_min` — it starts at max(2·R, rto_min), and each RTT it
//! decays only towards `mdev_max_us`, which restarts at rto_min — and
//! `__tcp_set_rto` sets RTO = SRTT + rttvar_us. So RTO ≥ SRTT + 200 ms.
//! What Linux has and this does not: its variance term is the largest
//! 4·mdev of the last RTT, decaying by a quarter per RTT, and a falling
//! RTT moves mdev with a gain of 1/32 instead of 1/4; those only matter
//! when 4·RTTVAR is above rto_min (jitter over 50 ms), where this follows
//! RFC 6298's RTTVAR.

use crate::time::Duration;

/// SRTT, RTTVAR and RTO, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct RttEstimator {
    /// Smoothed RTT (RFC 6298 §2), µs; 0 before the first sample.
    pub srtt: u64,
    /// RTT variation (RFC 6298 §2), µs.
    pub rttvar: u64,
    /// The current RTO without backoff, µs.
    rto_base: u64,
    /// Number of consecutive backoffs (RFC 6298 §5.5).
    pub backoff: u32,
    has_sample: bool,
    min: u64,
    max: u64,
}

/// Clock granularity G (RFC 6298 §2): our timers are exact, 1 ms is a safe
/// stand-in for the runtime's timer slack.
const GRANULARITY_US: u64 = 1000;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl RttEstimator {
    /// Before any sample: RTO = `initial` (RFC 6298 §2.1).
    pub fn new(initial: Duration, min: Duration, max: Duration) -> RttEstimator {
        RttEstimator {
            srtt: 0,
            rttvar: 0,
            rto_base: micros(initial),
            backoff: 0,
            has_sample: false,
            min: micros(min),
            max: micros(max),
        }
    }

    /// Takes one RTT measurement (RFC 6298 §2.2, §2.3) and clears the backoff.
    pub fn sample(&mut self, rtt: Duration) {
        let r = micros(rtt);
        if self.has_sample {
            let delta = self.srtt.abs_diff(r);
            self.rttvar = (3 * self.rttvar + delta) / 4;
            self.srtt = (7 * self.srtt + r) / 8;
        } else {
            self.srtt = r;
            self.rttvar = r / 2;
            self.has_sample = true;
        }
        let var = (4 * self.rttvar).max(GRANULARITY_US).max(self.min);
        self.rto_base = self.srtt.saturating_add(var).min(self.max);
        self.backoff = 0;
    }

    /// A measurement has been taken.
    pub fn has_sample(&self) -> bool {
        self.has_sample
    }

    /// The RTO, backoff included (RFC 6298 §5.5), at most `rto_max`.
    pub fn rto(&self) -> Duration {
        let shifted = self
            .rto_base
            .checked_shl(self.backoff.min(32))
            .unwrap_or(u64::MAX);
        Duration::from_micros(shifted.min(self.max))
    }

    /// The timer expired: double the RTO (RFC 6298 §5.5).
    pub fn back_off(&mut self) {
        self.backoff = self.backoff.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est() -> RttEstimator {
        RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(120),
        )
    }

    #[test]
    fn first_sample_then_smoothing() {
        let mut e = est();
        assert_eq!(e.rto(), Duration::from_secs(1));
        e.sample(Duration::from_millis(100));
        assert_eq!(e.srtt, 100_000);
        assert_eq!(e.rttvar, 50_000);
        assert_eq!(e.rto(), Duration::from_millis(300));
        e.sample(Duration::from_millis(200));
        assert_eq!(e.rttvar, (3 * 50_000 + 100_000) / 4);
        assert_eq!(e.srtt, (7 * 100_000 + 200_000) / 8);
    }

    /// The floor bounds the variance term, not the RTO (Linux's
    /// `rttvar_us` ≥ `tcp_rto_min`): a steady 180 ms path whose RTTVAR has
    /// decayed to nothing keeps an RTO of SRTT + 200 ms, which a 40 ms
    /// delayed ACK does not reach. It was max(SRTT + G, 200 ms) = 200 ms.
    #[test]
    fn rto_floor_is_on_the_variance_term() {
        let mut e = est();
        for _ in 0..100 {
            e.sample(Duration::from_millis(180));
        }
        assert_eq!((e.srtt, e.rttvar), (180_000, 0));
        assert_eq!(e.rto(), Duration::from_millis(380));
        assert!(e.rto() > Duration::from_millis(180 + 40));
        // With jitter above the floor, RFC 6298's term rules.
        e.sample(Duration::from_millis(580));
        assert_eq!(e.rttvar, 100_000);
        assert_eq!(e.rto(), Duration::from_micros(230_000 + 400_000));
    }

    #[test]
    fn rto_is_bounded_and_backs_off() {
        let mut e = est();
        e.sample(Duration::from_millis(1));
        assert_eq!(e.rto(), Duration::from_millis(201));
        e.back_off();
        e.back_off();
        assert_eq!(e.rto(), Duration::from_millis(804));
        for _ in 0..40 {
            e.back_off();
        }
        assert_eq!(e.rto(), Duration::from_secs(120));
        e.sample(Duration::from_millis(1));
        assert_eq!(e.backoff, 0);
    }
}
