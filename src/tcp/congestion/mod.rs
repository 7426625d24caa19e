//! Congestion control behind one trait: NewReno (RFC 5681, RFC 6582) and
//! CUBIC (RFC 9438).
//!
//! The controller owns `cwnd` and `ssthresh` and decides how they grow on
//! ACKs and shrink on loss. The loss-recovery machinery (duplicate ACK
//! counting, fast retransmit, the "recover" point of RFC 6582, inflation
//! during recovery) lives in the TCB, which drives the controller through
//! these events.

mod cubic;
mod newreno;

pub use cubic::Cubic;
pub use newreno::NewReno;

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
    /// The sender's MSS changed.
    fn set_mss(&mut self, mss: u32);
    /// Name as `TCP_CONGESTION` spells it.
    fn name(&self) -> &'static str;
}

/// A controller of the given kind for segments of `mss` bytes.
/// Slow start's growth for an ACK of `acked` bytes: cwnd += min(N, SMSS)
/// (RFC 5681 eq. 2, with RFC 3465's byte counting bounded to one SMSS).
/// Every algorithm here starts the same way.
pub fn slow_start(cwnd: u32, acked: u32, mss: u32) -> u32 {
    cwnd.saturating_add(acked.min(mss))
}

pub fn new_controller(algo: CongestionAlgo, mss: u32) -> Box<dyn CongestionControl> {
    match algo {
        CongestionAlgo::NewReno => Box::new(NewReno::new(mss)),
        CongestionAlgo::Cubic => Box::new(Cubic::new(mss)),
    }
}
