//! The eleven states of a TCP connection (RFC 9293 §3.3.2).

use core::fmt;

/// A connection's state, RFC 9293 §3.3.2 (Figure 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a SYN (the stack's listeners; a [`Tcb`](super::Tcb) is
    /// never in it).
    Listen,
    /// Our SYN is out, waiting for the peer's.
    SynSent,
    /// SYN received and SYN-ACK sent, waiting for its ACK.
    SynReceived,
    /// Data flows both ways.
    Established,
    /// We sent FIN, not yet acknowledged.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's.
    FinWait2,
    /// The peer sent FIN; waiting for the application to close.
    CloseWait,
    /// Both sent FIN, ours not yet acknowledged (simultaneous close).
    Closing,
    /// The peer closed first, our FIN is out.
    LastAck,
    /// Both FINs acknowledged; waiting 2×MSL for stray segments.
    TimeWait,
}

impl State {
    /// The value of Linux's `TCP_*` state constants (`include/net/tcp_states.h`),
    /// as `tcp_info.tcpi_state` reports it.
    pub fn linux_code(self) -> u8 {
        match self {
            State::Established => 1,
            State::SynSent => 2,
            State::SynReceived => 3,
            State::FinWait1 => 4,
            State::FinWait2 => 5,
            State::TimeWait => 6,
            State::Closed => 7,
            State::CloseWait => 8,
            State::LastAck => 9,
            State::Listen => 10,
            State::Closing => 11,
        }
    }

    /// RFC 9293's "synchronized states": ESTABLISHED and after.
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }

    /// We may still receive data in this state (RFC 9293 §3.10.7.4, seventh).
    pub fn can_receive(self) -> bool {
        matches!(self, State::Established | State::FinWait1 | State::FinWait2)
    }
}

impl fmt::Display for State {
    /// Names as `ss` prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECV",
            State::Established => "ESTAB",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        })
    }
}
