//! ICMP policy: what we answer, and how often we may send errors.

use crate::time::{Duration, Instant};

/// A token bucket limiting the ICMP errors we send (RFC 1812 §4.3.2.8;
/// Linux's `icmp_msgs_per_sec` = 1000 with `icmp_msgs_burst` = 50).
#[derive(Debug, Clone)]
pub struct RateLimiter {
    tokens: u32,
    burst: u32,
    per_token: Duration,
    last_refill: Instant,
}

impl RateLimiter {
    /// `per_second` messages per second on average, up to `burst` at once.
    pub fn new(now: Instant, per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            tokens: burst,
            burst,
            per_token: Duration::from_micros(1_000_000 / u64::from(per_second.max(1))),
            last_refill: now,
        }
    }

    /// Takes a token if there is one.
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last_refill);
        let new = (elapsed.as_micros() / self.per_token.as_micros().max(1)) as u64;
        if new > 0 {
            self.tokens = (u64::from(self.tokens) + new).min(u64::from(self.burst)) as u32;
            self.last_refill = if self.tokens == self.burst {
                now
            } else {
                self.last_refill + self.per_token * new as u32
            };
        }
        if self.tokens > 0 {
            self.tokens -= 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::from_millis(1000);
        let mut r = RateLimiter::new(t0, 1000, 50);
        assert_eq!((0..100).filter(|_| r.allow(t0)).count(), 50);
        assert!(!r.allow(t0));
        assert!(r.allow(t0 + Duration::from_millis(1)));
        assert!(!r.allow(t0 + Duration::from_millis(1)));
        let later = t0 + Duration::from_secs(10);
        assert_eq!((0..100).filter(|_| r.allow(later)).count(), 50);
    }
}
