//! What a connection did, for logs and traces: state changes with their
//! cause, timer expiries, and congestion-control changes.
//!
//! The TCB never prints: when [`TcpConfig::trace`] is set it appends
//! [`TcpEvent`]s to a small buffer of its own, which the stack drains with
//! [`Tcb::take_events`] after each call into the TCB. When tracing is off
//! the buffer does not exist and each entry point pays one predictable
//! branch on `Option::is_none`.
//!
//! The entry points that change state ([`Tcb::handle_segment`],
//! [`Tcb::handle_timeout`], the user calls) are wrapped here: the wrapper
//! notes the state before and after, and names the cause from what the
//! call was (a segment's flags, the timer that fired, `close`).

use super::timer::Timer;
use super::{State, Tcb, TcpConfig, TcpError};
use crate::storage::Text;
use crate::time::Instant;
use crate::wire::tcp::{TcpFlags, TcpRepr};

/// The most events a TCB keeps between two drains; past it, events are
/// counted in [`EventLog::dropped`] and lost (the stack drains after every
/// call, so only a runaway loop could fill it).
const MAX_EVENTS: usize = 256;

/// One thing a connection did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpEvent {
    /// The state changed; `cause` is a short text ("rcvd FIN", "close").
    State {
        /// The state before.
        from: State,
        /// The state after.
        to: State,
        /// Why.
        cause: Text,
    },
    /// A timer fired (its name: "rto", "delack", "persist", "keepalive",
    /// "tlp", "reorder", "time_wait", "fin_wait_2").
    Timer(Text),
    /// Congestion control or the RTT estimate changed.
    Cc(CcSample),
}

/// The sender's congestion variables at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcSample {
    /// cwnd, bytes.
    pub cwnd: u32,
    /// ssthresh, bytes (`u32::MAX`: infinite).
    pub ssthresh: u32,
    /// Bytes in flight.
    pub flight: u32,
    /// The peer's window (SND.WND), bytes.
    pub rwnd: u32,
    /// Smoothed RTT, µs.
    pub srtt_us: u64,
    /// RTT variation, µs.
    pub rttvar_us: u64,
    /// Current RTO, µs.
    pub rto_us: u64,
    /// Payload of a full-sized segment.
    pub mss: u32,
    /// "open", "recovery" or "loss" (Linux's `TCP_CA_*` names).
    pub ca_state: Text,
}

/// A TCB's buffer of events (present only while tracing).
#[derive(Debug, Default)]
pub(super) struct EventLog {
    events: Vec<TcpEvent>,
    /// The last [`CcSample`] recorded, to record only changes.
    last_cc: Option<CcSample>,
    /// The last timer that fired in this `handle_timeout` call.
    last_timer: Option<Timer>,
    /// A wrapped call is running (a user call that calls another).
    busy: bool,
    /// Events lost to [`MAX_EVENTS`].
    pub dropped: u32,
}

impl EventLog {
    /// The log of a new TCB in `state`, when `config` traces: records how
    /// the connection came to be.
    pub(super) fn start(config: &TcpConfig, state: State) -> Option<Box<EventLog>> {
        if !config.trace {
            return None;
        }
        let mut log = Box::<EventLog>::default();
        match state {
            State::SynSent => log.push(TcpEvent::State {
                from: State::Closed,
                to: State::SynSent,
                cause: "connect".into(),
            }),
            State::SynReceived => log.push(TcpEvent::State {
                from: State::Listen,
                to: State::SynReceived,
                cause: "rcvd SYN".into(),
            }),
            _ => {}
        }
        Some(log)
    }

    fn push(&mut self, e: TcpEvent) {
        if self.events.len() < MAX_EVENTS {
            self.events.push(e);
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
    }
}

/// The trace name of a timer.
fn timer_name(t: Timer, state: State) -> &'static str {
    match t {
        Timer::Retransmit => "rto",
        Timer::Persist => "persist",
        Timer::DelayedAck => "delack",
        Timer::Keepalive => "keepalive",
        Timer::LossProbe => "tlp",
        Timer::Reorder => "reorder",
        Timer::Close if state == State::TimeWait => "time_wait",
        Timer::Close => "fin_wait_2",
    }
}

/// Why a segment moved the connection from `from` to `to`.
fn segment_cause(from: State, to: State, seg: &TcpRepr) -> &'static str {
    let f = seg.flags;
    if f.contains(TcpFlags::RST) {
        return "rcvd RST";
    }
    let fin = f.contains(TcpFlags::FIN);
    match (from, to) {
        (State::SynSent, State::Established) => "rcvd SYN-ACK",
        (State::SynSent, State::SynReceived) => "rcvd SYN",
        (State::SynReceived, State::Established | State::FinWait1) => "rcvd ACK of SYN",
        (State::SynReceived, State::CloseWait) => "rcvd ACK of SYN and FIN",
        (_, State::CloseWait) => "rcvd FIN",
        (State::FinWait1, State::FinWait2) => "rcvd ACK of FIN",
        (State::FinWait1, State::TimeWait) => "rcvd FIN and ACK of FIN",
        (State::FinWait1, State::Closing) => "rcvd FIN",
        (State::FinWait2, State::TimeWait) => "rcvd FIN",
        (State::Closing, State::TimeWait) => "rcvd ACK of FIN",
        (State::LastAck, State::Closed) => "rcvd ACK of FIN",
        (State::FinWait1 | State::FinWait2, State::Closed) => "orphan closed in FIN_WAIT_2",
        _ if fin => "rcvd FIN",
        _ => "rcvd segment",
    }
}

/// Why a timeout moved the connection to `to`.
fn timeout_cause(from: State, to: State, fired: Option<Timer>) -> &'static str {
    match (from, to, fired) {
        (State::TimeWait, State::Closed, _) => "2MSL timeout",
        (_, State::Closed, Some(Timer::Close)) => "FIN_WAIT_2 timeout",
        (_, State::Closed, Some(Timer::Keepalive)) => "keepalive timeout",
        (_, State::Closed, Some(Timer::Persist)) => "persist timeout",
        _ => "timeout",
    }
}

impl Tcb {
    /// Moves the events recorded since the last call to `out` (nothing,
    /// and no work, when tracing is off).
    #[inline]
    pub fn take_events(&mut self, out: &mut Vec<TcpEvent>) {
        if let Some(log) = self.events.as_mut() {
            out.append(&mut log.events);
        }
    }

    /// Whether this connection records events ([`TcpConfig::trace`]).
    pub fn is_traced(&self) -> bool {
        self.events.is_some()
    }

    /// The window `seg` offers, in bytes: scaled by the peer's shift when
    /// it came in (`incoming`), by ours when we sent it; never on a SYN
    /// (RFC 7323 §2.2).
    pub fn segment_window(&self, seg: &TcpRepr, incoming: bool) -> u32 {
        if seg.flags.contains(TcpFlags::SYN) {
            return u32::from(seg.window);
        }
        let shift = if incoming {
            self.snd_wscale
        } else {
            self.rcv_wscale
        };
        u32::from(seg.window) << shift
    }

    /// The congestion variables now.
    pub fn cc_sample(&self) -> CcSample {
        CcSample {
            cwnd: self.cc.cwnd(),
            ssthresh: self.cc.ssthresh(),
            flight: self.flight(),
            rwnd: self.snd_wnd,
            srtt_us: self.rtt.srtt,
            rttvar_us: self.rtt.rttvar,
            rto_us: self.rtt.rto().as_micros() as u64,
            mss: self.eff_mss(),
            ca_state: if self.retransmits > 0 || self.recovery.in_loss {
                "loss".into()
            } else if self.recovery.recover.is_some() {
                "recovery".into()
            } else {
                "open".into()
            },
        }
    }

    /// Records a state change, if there was one.
    fn note_state(&mut self, from: State, cause: &'static str) {
        let to = self.state;
        if let Some(log) = self.events.as_mut()
            && from != to
        {
            log.push(TcpEvent::State {
                from,
                to,
                cause: cause.into(),
            });
        }
    }

    /// Records the congestion variables when cwnd, ssthresh, the CA state
    /// or srtt changed since the last record (once a call at most).
    fn note_cc(&mut self) {
        if self.events.is_none() || !self.state.is_synchronized() {
            return;
        }
        let now = self.cc_sample();
        let Some(log) = self.events.as_mut() else {
            return;
        };
        let changed = log.last_cc.is_none_or(|l| {
            l.cwnd != now.cwnd
                || l.ssthresh != now.ssthresh
                || l.ca_state != now.ca_state
                || l.srtt_us != now.srtt_us
        });
        if changed {
            log.last_cc = Some(now);
            log.push(TcpEvent::Cc(now));
        }
    }

    /// Records that timer `t` fired (called from `handle_timeout`).
    #[inline]
    pub(super) fn note_timer(&mut self, t: Timer) {
        let state = self.state;
        if let Some(log) = self.events.as_mut() {
            log.last_timer = Some(t);
            log.push(TcpEvent::Timer(timer_name(t, state).into()));
        }
    }

    /// Runs a user call `f`, recording the state change it made with
    /// `cause` (a user call made inside another records under the outer
    /// one's cause).
    fn traced(&mut self, cause: &'static str, f: impl FnOnce(&mut Tcb)) {
        match self.events.as_mut() {
            Some(log) if !log.busy => log.busy = true,
            _ => return f(self),
        }
        let from = self.state;
        f(self);
        if let Some(log) = self.events.as_mut() {
            log.busy = false;
        }
        self.note_state(from, cause);
    }

    /// Processes one incoming segment (already demultiplexed to this TCB and
    /// checksum-verified). Never panics, whatever the segment holds.
    pub fn handle_segment(&mut self, now: Instant, seg: &TcpRepr) {
        if self.events.is_none() {
            return self.handle_segment_untraced(now, seg);
        }
        let from = self.state;
        self.handle_segment_untraced(now, seg);
        let cause = segment_cause(from, self.state, seg);
        self.note_state(from, cause);
        self.note_cc();
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.events.is_none() {
            return self.handle_timeout_untraced(now);
        }
        let from = self.state;
        self.handle_timeout_untraced(now);
        let fired = self.events.as_mut().and_then(|l| l.last_timer.take());
        let cause = timeout_cause(from, self.state, fired);
        self.note_state(from, cause);
        self.note_cc();
    }

    /// `shutdown(SHUT_WR)`: a FIN after the queued data (half-close,
    /// RFC 9293 §3.10.4).
    pub fn shutdown_write(&mut self) {
        self.traced("shutdown", Tcb::shutdown_write_untraced);
    }

    /// `close()`: FIN after queued data; with unread received data, RST
    /// instead (RFC 2525 §2.17, as Linux does).
    pub fn close(&mut self) {
        let cause = if !self.rx.is_empty() {
            "close with unread data"
        } else {
            "close"
        };
        self.traced(cause, Tcb::close_untraced);
    }

    /// Abort (RFC 9293 §3.10.5, `SO_LINGER` 0): see
    /// [`abort_untraced`](Self::abort_untraced).
    pub fn abort(&mut self) {
        self.traced("abort", Tcb::abort_untraced);
    }

    /// An ICMP error or ARP failure for this connection: see
    /// [`handle_unreachable_untraced`](Self::handle_unreachable_untraced).
    pub fn handle_unreachable(&mut self, now: Instant, error: TcpError) {
        let cause = match error {
            TcpError::NetworkUnreachable => "network unreachable",
            _ => "host unreachable",
        };
        self.traced(cause, |t| t.handle_unreachable_untraced(now, error));
    }
}
