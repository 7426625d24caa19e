//! Buffer autotuning: the receive buffer ("dynamic right-sizing", as
//! Linux's `tcp_rcv_space_adjust`) and the send buffer (as Linux's
//! `tcp_sndbuf_expand`).
//!
//! ## Receiving
//!
//! A receive buffer must hold what the sender may have in flight while the
//! application is not reading: a window too small for the path, or for an
//! application that is descheduled now and then, ends in a zero window and
//! a sender that waits for the update (or, when the update is lost, for
//! its persist timer). A fixed large buffer would cost every connection
//! the memory of the busiest. So the buffer starts at `SO_RCVBUF`'s
//! default and grows with what the application actually reads: once per
//! round trip, the bytes it read in that round trip are compared with the
//! last measure, and when they grew the buffer becomes twice them plus
//! sixteen segments (room for the sender's window to double, as in slow
//! start), up to [`TcpConfig::rcv_buf_max`]. It never shrinks. A program
//! that sets `SO_RCVBUF` keeps its size (Linux locks it the same way).
//!
//! The round trip is the smoothed RTT, and at least a millisecond: our
//! timestamp clock's tick, which is also what Linux's receiver measures
//! with (its millisecond timestamps), so on a LAN a buffer grows to hold a
//! millisecond or two of the transfer, not one 50 µs round trip.
//!
//! ## Sending
//!
//! The send buffer holds what the application handed over and the peer
//! has not acknowledged: all of the flight, and what is to go next. When
//! it is smaller than what congestion control would let fly, the sender
//! waits for the application between two ACKs, and a descheduled
//! application leaves the path idle. So an ACK of new data, when the
//! application found the buffer full since the last one (it wanted to
//! send more: Linux's `SOCK_NOSPACE`), grows the buffer to twice cwnd
//! (four times in slow start, whose cwnd doubles each round trip): a
//! flight and as much again queued behind it, so that the ACK clock finds
//! data while the application is away. Not during recovery (cwnd is being
//! cut), up to [`TcpConfig::snd_buf_max`]. An application that never
//! fills its buffer never grows it, and where the network limits, cwnd
//! and so the buffer stop growing. It never shrinks; `SO_SNDBUF` fixes
//! it.

use super::Tcb;
use crate::time::{Duration, Instant};

/// The shortest interval between two measures.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Segments of room beyond twice a round trip's reading (Linux adds 16
/// advertised MSS too).
const EXTRA_SEGMENTS: u64 = 16;

/// What the measure keeps between two round trips.
#[derive(Debug, Clone, Copy)]
pub(super) struct RcvSpace {
    /// Bytes the application has read from the connection.
    pub copied: u64,
    /// `copied` at the start of this measure.
    pub mark: u64,
    /// Bytes read in the best round trip so far (Linux's
    /// `rcvq_space.space`): the buffer grows only when a round trip beats
    /// it.
    pub space: u64,
    /// When this measure started.
    pub at: Instant,
}

impl RcvSpace {
    /// The first measure: the initial window of ten segments (RFC 6928) as
    /// the round trip to beat.
    pub fn new(now: Instant, mss: u32) -> RcvSpace {
        RcvSpace {
            copied: 0,
            mark: 0,
            space: 10 * u64::from(mss),
            at: now,
        }
    }
}

impl Tcb {
    /// The application read `n` bytes, at about `now` (the last segment's
    /// arrival: a read follows the data it takes): measures, and grows
    /// the receive buffer when this round trip's reading beat the best.
    pub(super) fn rcv_space_adjust(&mut self, n: usize, now: Instant) {
        let r = &mut self.rcv_space;
        r.copied += n as u64;
        if !self.config.rcv_buf_auto {
            return;
        }
        let rtt = Duration::from_micros(self.rtt.srtt).max(MIN_INTERVAL);
        if now.saturating_duration_since(r.at) < rtt {
            return;
        }
        let copied = r.copied - r.mark;
        r.mark = r.copied;
        r.at = now;
        if copied <= r.space {
            return;
        }
        r.space = copied;
        let want = 2 * copied + EXTRA_SEGMENTS * u64::from(self.rcv_mss);
        let want = usize::try_from(want)
            .unwrap_or(usize::MAX)
            .min(self.config.rcv_buf_max);
        if want > self.config.rcv_buf {
            self.config.rcv_buf = want;
            self.fit_recv_buffer();
        }
    }

    /// After an ACK that acknowledged data: when the application found
    /// the send buffer full since the last one, grows the buffer to what
    /// cwnd needs (see the module documentation).
    pub(super) fn snd_buf_expand(&mut self) {
        if !self.config.snd_buf_auto || !std::mem::take(&mut self.snd_buf_full) {
            return;
        }
        if self.recovery.recover.is_some() {
            // cwnd is being cut, not grown.
            return;
        }
        let cwnd = u64::from(self.cc.cwnd());
        let slow_start = self.cc.cwnd() < self.cc.ssthresh();
        let want = cwnd * if slow_start { 4 } else { 2 };
        let want = usize::try_from(want)
            .unwrap_or(usize::MAX)
            .min(self.config.snd_buf_max);
        if want > self.config.snd_buf {
            self.config.snd_buf = want;
            self.tx.resize(want);
        }
    }
}
