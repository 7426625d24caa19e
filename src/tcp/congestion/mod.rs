//! Congestion control behind one trait: NewReno (RFC 5681, RFC 6582) and
//! CUBIC (RFC 9438).
//!
//! The TCB holds its controller as a [`Congestion`], an enum, not as a
//! `Box<dyn CongestionControl>`: a trait object's vtable pointer is an
//! address in one process's code, which a TCB kept in memory shared by
//! several processes must not carry. The enum is plain data, and `Copy`.
//!
//! The controller owns `cwnd` and `ssthresh` and decides how they grow on
//! ACKs and shrink on loss. The loss-recovery machinery (duplicate ACK
//! counting, fast retransmit, the "recover" point of RFC 6582, inflation
//! during recovery) lives in the TCB, which drives the controller through
//! these events.

mod cubic;
mod newreno;
mod prr;

pub use cubic::Cubic;
pub use newreno::NewReno;
pub use prr::Prr;

use super::CongestionAlgo;
use crate::time::{Duration, Instant};

/// The initial window, RFC 6928: `min(10·MSS, max(2·MSS, 14600))`.
pub fn initial_window(mss: u32) -> u32 {
    (10 * mss).min((2 * mss).max(14600))
}

/// A congestion controller.
pub trait CongestionControl: core::fmt::Debug + Send {
    /// The congestion window, bytes.
    fn cwnd(&self) -> u32;
    /// The slow-start threshold, bytes.
    fn ssthresh(&self) -> u32;
    /// Overrides cwnd (fast recovery inflation and deflation, RFC 6582).
    fn set_cwnd(&mut self, cwnd: u32);
    /// `acked` new bytes were acknowledged outside recovery (RFC 5681 §3.1).
    fn on_ack(&mut self, now: Instant, acked: u32, srtt: Option<Duration>);
    /// Loss detected by duplicate ACKs (RFC 5681 §3.2 step 2): sets ssthresh
    /// from `flight`, the bytes outstanding, and cwnd to ssthresh.
    fn on_loss(&mut self, now: Instant, flight: u32);
    /// The retransmission timer fired: cwnd to one segment (the loss
    /// window, RFC 5681 §3.1). `reduce` says whether ssthresh is set from
    /// `flight` (eq. 4): only on the first timeout of a loss episode. RFC
    /// 5681 §3.1 holds ssthresh constant when the segment had already been
    /// retransmitted by the timer; Linux's `tcp_enter_loss` reduces it only
    /// when it was not yet reduced in this window (see
    /// `Tcb::on_retransmit_timeout`).
    fn on_rto(&mut self, now: Instant, flight: u32, reduce: bool);
    /// New data goes out with nothing in flight after `idle` without
    /// sending (RFC 5681 §4.1, RFC 9438 §5.8): see [`restart_window`].
    fn on_send_after_idle(&mut self, now: Instant, idle: Duration, rto: Duration);
    /// The sender's MSS changed.
    fn set_mss(&mut self, mss: u32);
    /// Name as `TCP_CONGESTION` spells it.
    fn name(&self) -> &'static str;
}

/// Restart after idle (RFC 5681 §4.1), as Linux's `tcp_cwnd_restart`:
/// after more than one RTO without sending, cwnd is halved once per RTO
/// of idle time beyond the first, down to the restart window
/// RW = min(IW, cwnd); ssthresh keeps ¾ of the old cwnd if that is more
/// (`tcp_current_ssthresh`), so slow start climbs back quickly. RFC 5681
/// goes straight to RW; Linux's decay spares a connection idle for a
/// little over one RTO. Returns the new (cwnd, ssthresh), unchanged when
/// `idle` is at most `rto`.
pub fn restart_window(
    cwnd: u32,
    ssthresh: u32,
    mss: u32,
    idle: Duration,
    rto: Duration,
) -> (u32, u32) {
    if idle <= rto || rto.is_zero() {
        return (cwnd, ssthresh);
    }
    let ssthresh = ssthresh.max(cwnd / 2 + cwnd / 4);
    let restart = initial_window(mss).min(cwnd);
    let mut left = idle;
    let mut w = cwnd;
    // Linux: while ((delta -= rto) > 0 && cwnd > restart_cwnd) cwnd >>= 1;
    while left > rto && w > restart {
        left -= rto;
        w >>= 1;
    }
    (w.max(restart), ssthresh)
}

/// Slow start's growth for an ACK of `acked` bytes: cwnd += min(N, SMSS)
/// (RFC 5681 eq. 2, with RFC 3465's byte counting bounded to one SMSS).
/// Every algorithm here starts the same way.
pub fn slow_start(cwnd: u32, acked: u32, mss: u32) -> u32 {
    cwnd.saturating_add(acked.min(mss))
}

/// The controller a TCB runs: one of the algorithms, chosen by matching
/// rather than through a vtable (see the module's documentation).
#[derive(Debug, Clone, Copy)]
pub enum Congestion {
    /// RFC 5681 with RFC 6582.
    NewReno(NewReno),
    /// RFC 9438.
    Cubic(Cubic),
}

impl Congestion {
    /// A controller of the given kind for segments of `mss` bytes.
    pub fn new(algo: CongestionAlgo, mss: u32) -> Congestion {
        match algo {
            CongestionAlgo::NewReno => Congestion::NewReno(NewReno::new(mss)),
            CongestionAlgo::Cubic => Congestion::Cubic(Cubic::new(mss)),
        }
    }
}

/// Calls the same method on whichever algorithm `$cc` holds.
macro_rules! dispatch {
    ($cc:expr, $c:ident => $call:expr) => {
        match $cc {
            Congestion::NewReno($c) => $call,
            Congestion::Cubic($c) => $call,
        }
    };
}

/// The operations of [`CongestionControl`], each passed to the algorithm
/// the TCB runs (inherent, so callers need not import the trait).
impl Congestion {
    /// See [`CongestionControl::cwnd`].
    pub fn cwnd(&self) -> u32 {
        dispatch!(self, c => c.cwnd())
    }
    /// See [`CongestionControl::ssthresh`].
    pub fn ssthresh(&self) -> u32 {
        dispatch!(self, c => c.ssthresh())
    }
    /// See [`CongestionControl::set_cwnd`].
    pub fn set_cwnd(&mut self, cwnd: u32) {
        dispatch!(self, c => c.set_cwnd(cwnd));
    }
    /// See [`CongestionControl::on_ack`].
    pub fn on_ack(&mut self, now: Instant, acked: u32, srtt: Option<Duration>) {
        dispatch!(self, c => c.on_ack(now, acked, srtt));
    }
    /// See [`CongestionControl::on_loss`].
    pub fn on_loss(&mut self, now: Instant, flight: u32) {
        dispatch!(self, c => c.on_loss(now, flight));
    }
    /// See [`CongestionControl::on_rto`].
    pub fn on_rto(&mut self, now: Instant, flight: u32, reduce: bool) {
        dispatch!(self, c => c.on_rto(now, flight, reduce));
    }
    /// See [`CongestionControl::on_send_after_idle`].
    pub fn on_send_after_idle(&mut self, now: Instant, idle: Duration, rto: Duration) {
        dispatch!(self, c => c.on_send_after_idle(now, idle, rto));
    }
    /// See [`CongestionControl::set_mss`].
    pub fn set_mss(&mut self, mss: u32) {
        dispatch!(self, c => c.set_mss(mss));
    }
    /// See [`CongestionControl::name`].
    pub fn name(&self) -> &'static str {
        dispatch!(self, c => c.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The controller is plain data (no box, no vtable): `Copy` proves it
    /// holds no owned pointer, and each variant runs its own algorithm.
    #[test]
    fn the_controller_is_plain_data_and_dispatches_by_variant() {
        fn plain_data<T: Copy + Send + 'static>(_: &T) {}
        let reno = Congestion::new(CongestionAlgo::NewReno, 1000);
        let cubic = Congestion::new(CongestionAlgo::Cubic, 1000);
        plain_data(&reno);
        assert_eq!((reno.name(), cubic.name()), ("reno", "cubic"));
        let (mut r, mut c) = (reno, cubic);
        // A loss with the whole initial window (10 segments) in flight:
        // RFC 5681 halves it; RFC 9438 §4.6 multiplies by beta_cubic = 0.7.
        r.on_loss(Instant::ZERO, 10_000);
        c.on_loss(Instant::ZERO, 10_000);
        assert_eq!((r.ssthresh(), c.ssthresh()), (5_000, 7_000));
    }

    #[test]
    fn restart_window_halves_per_rto_down_to_the_restart_window() {
        let ms = Duration::from_millis;
        let rto = ms(200);
        // Idle no longer than the RTO: unchanged.
        assert_eq!(
            restart_window(40_000, 20_000, 1000, ms(200), rto),
            (40_000, 20_000)
        );
        // 1.5 RTO: one halving; ssthresh keeps 3/4 of the old cwnd.
        assert_eq!(
            restart_window(40_000, 20_000, 1000, ms(300), rto),
            (20_000, 30_000)
        );
        // 2.5 RTO: two.
        assert_eq!(
            restart_window(40_000, 20_000, 1000, ms(500), rto),
            (10_000, 30_000)
        );
        // Long idle: the restart window, min(IW, cwnd).
        assert_eq!(
            restart_window(40_000, 50_000, 1000, ms(30_000), rto),
            (10_000, 50_000)
        );
        assert_eq!(
            restart_window(4_000, 2_000, 1000, ms(30_000), rto),
            (4_000, 3_000)
        );
    }
}
