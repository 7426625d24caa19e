//! Throttling the ACKs that answer invalid segments (RFC 5961 §7).
//!
//! A connection answers some segments it will not accept with an ACK: a
//! segment outside the receive window or failing PAWS ("an acknowledgment
//! should be sent", RFC 9293 §3.10.7.4), and, under RFC 5961, a RST or SYN
//! in the window that is not an exact match (§3.2, §4.2) and an ACK outside
//! the acceptable range (§5.2), the *challenge ACKs*. Unthrottled, a flood
//! of such segments gets as many ACKs back (an amplifier, and an ACK loop
//! between two confused ends). As Linux does:
//!
//! - per connection, at most one such ACK per [`INVALID_RATELIMIT`]
//!   (500 ms, `tcp_invalid_ratelimit`, its `last_oow_ack_time`); segments
//!   carrying data are always answered, since an old retransmission needs
//!   its duplicate ACK (`tcp_oow_rate_limited`);
//! - for the whole host, at most about [`CHALLENGE_ACK_LIMIT`] challenge
//!   ACKs a second ([`HostChallengeLimit`], `tcp_challenge_ack_limit`),
//!   the budget drawn at random each second so that it cannot be used as
//!   a side channel to count another connection's challenge ACKs (the
//!   attack of CVE-2016-5696).
//!
//! The TCB stays sans-IO: the stack tells it before each segment whether
//! the host budget has room ([`super::Tcb::set_challenge_ack_allowed`]) and
//! afterwards reads what happened ([`super::Tcb::take_ack_events`]).

use super::Tcb;
use crate::rand::Rng;
use crate::time::{Duration, Instant};
use crate::wire::tcp::{TcpFlags, TcpRepr};

/// Least time between two ACKs to invalid segments on one connection
/// (Linux's `tcp_invalid_ratelimit`).
pub const INVALID_RATELIMIT: Duration = Duration::from_millis(500);

/// Challenge ACKs per second for the whole host, on average (Linux's
/// `tcp_challenge_ack_limit` before 6.0, which also randomizes it).
pub const CHALLENGE_ACK_LIMIT: u32 = 1000;

/// What the throttle did since the last [`Tcb::take_ack_events`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckEvents {
    /// Challenge ACKs sent (RFC 5961; Linux `TCPChallengeACK`).
    pub challenge_sent: u32,
    /// Challenge ACKs not sent: this connection sent one too recently
    /// (Linux `TCPACKSkippedChallenge`).
    pub challenge_limited_conn: u32,
    /// Challenge ACKs not sent: the host's budget for this second is spent.
    pub challenge_limited_host: u32,
    /// ACKs to out-of-window or PAWS-failing segments not sent: this
    /// connection sent one too recently (Linux `TCPACKSkippedSeq`,
    /// `TCPACKSkippedPAWS`).
    pub oow_limited: u32,
}

/// A connection's throttle state (a field of the TCB).
#[derive(Debug, Clone)]
pub(super) struct AckThrottle {
    last_oow_ack: Option<Instant>,
    host_allows: bool,
    events: AckEvents,
}

impl Default for AckThrottle {
    fn default() -> Self {
        AckThrottle {
            last_oow_ack: None,
            // A TCB driven without a stack has no host limit.
            host_allows: true,
            events: AckEvents::default(),
        }
    }
}

impl AckThrottle {
    /// Linux's `__tcp_oow_rate_limited`: true when an ACK to an invalid
    /// segment went out less than [`INVALID_RATELIMIT`] ago; otherwise
    /// records `now` as the time of this one.
    fn limited(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last_oow_ack
            && now >= last
            && now - last < INVALID_RATELIMIT
        {
            return true;
        }
        self.last_oow_ack = Some(now);
        false
    }
}

impl Tcb {
    /// Whether the host's challenge-ACK budget has room for one more; the
    /// stack sets it before each [`handle_segment`](Tcb::handle_segment).
    pub fn set_challenge_ack_allowed(&mut self, allowed: bool) {
        self.ack_throttle.host_allows = allowed;
    }

    /// What the ACK throttle did since the last call.
    pub fn take_ack_events(&mut self) -> AckEvents {
        core::mem::take(&mut self.ack_throttle.events)
    }

    /// Answers an unacceptable segment (outside the window, or failing
    /// PAWS) with an ACK, unless this connection answered one within
    /// [`INVALID_RATELIMIT`]; segments with data (and no SYN) are always
    /// answered (Linux's `tcp_oow_rate_limited`).
    pub(super) fn oow_ack(&mut self, now: Instant, seg: &TcpRepr) {
        let data = !seg.payload.is_empty() || seg.flags.contains(TcpFlags::FIN);
        if data && !seg.flags.contains(TcpFlags::SYN) {
            self.pending.ack = true;
        } else if self.ack_throttle.limited(now) {
            self.ack_throttle.events.oow_limited += 1;
        } else {
            self.pending.ack = true;
        }
    }

    /// Sends a challenge ACK (RFC 5961 §3.2, §4.2, §5.2) within both
    /// limits of RFC 5961 §7: this connection's, then the host's (Linux's
    /// `tcp_send_challenge_ack`).
    pub(super) fn challenge_ack(&mut self, now: Instant) {
        let t = &mut self.ack_throttle;
        if t.limited(now) {
            t.events.challenge_limited_conn += 1;
        } else if !t.host_allows {
            t.events.challenge_limited_host += 1;
        } else {
            // One segment earns at most one challenge ACK: the stack
            // takes one from its budget per segment that sent one.
            t.events.challenge_sent += 1;
            self.pending.ack = true;
        }
    }
}

/// The host-wide challenge-ACK budget: each second (of the stack's clock)
/// a fresh budget drawn uniformly from `limit/2 ..= limit + limit/2 - 1`,
/// `limit` on average, as Linux draws it.
#[derive(Debug, Clone)]
pub struct HostChallengeLimit {
    limit: u32,
    second: Option<u64>,
    left: u32,
    rng: Rng,
}

impl HostChallengeLimit {
    /// A budget of `limit` a second on average, drawn with `rng`.
    pub fn new(limit: u32, rng: Rng) -> HostChallengeLimit {
        HostChallengeLimit {
            limit,
            second: None,
            left: 0,
            rng,
        }
    }

    /// Changes the average budget (from the next second on).
    pub fn set_limit(&mut self, limit: u32) {
        self.limit = limit;
        self.second = None;
    }

    /// The budget has room at `now` (a new second draws a new budget).
    pub fn allows(&mut self, now: Instant) -> bool {
        let second = now.total_millis() / 1000;
        if self.second != Some(second) {
            self.second = Some(second);
            let half = u64::from(self.limit.div_ceil(2));
            let hi = u64::from(self.limit) + half;
            self.left = self.rng.range_inclusive(half, hi.saturating_sub(1)) as u32;
            if self.limit == 0 {
                self.left = 0;
            }
        }
        self.left > 0
    }

    /// One challenge ACK was sent.
    pub fn consume(&mut self) {
        self.left = self.left.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_budget_is_drawn_each_second_around_the_limit() {
        let mut h = HostChallengeLimit::new(1000, Rng::new(5));
        let mut budgets = Vec::new();
        for s in 0..20u64 {
            let t = Instant::from_millis(s * 1000 + 300);
            let mut n = 0;
            while h.allows(t) && n < 10_000 {
                h.consume();
                n += 1;
            }
            assert!((500..=1499).contains(&n), "{n}");
            budgets.push(n);
        }
        budgets.dedup();
        assert!(budgets.len() > 10, "drawn anew each second: {budgets:?}");
        h.set_limit(0);
        assert!(!h.allows(Instant::from_millis(99_000)));
    }
}
