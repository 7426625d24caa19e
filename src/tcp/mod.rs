//! The TCP control block, a sans-IO state machine (RFC 9293).
//!
//! A [`Tcb`] never reads a clock, touches a file descriptor or prints. The
//! stack feeds it segments ([`Tcb::handle_segment`]) and timeouts
//! ([`Tcb::handle_timeout`]); the application commands it ([`Tcb::send`],
//! [`Tcb::recv`], [`Tcb::close`], ...); and the stack drains what it wants to
//! send with [`Tcb::poll_transmit`] and asks when to come back with
//! [`Tcb::poll_timeout`].
//!
//! Files, one concept each:
//! - `state.rs`: the eleven states;
//! - `tcb.rs`: the control block and its variables; `user.rs`: the
//!   application's side (RFC 9293 §3.10's user calls);
//! - `input.rs`: segment arrival, RFC 9293 §3.10.7, in the RFC's order;
//! - `output.rs`: what to send next (data, FIN, ACKs, probes) and timers;
//! - `rtt.rs`: RFC 6298; `congestion/`: NewReno and CUBIC; `sack.rs`: the
//!   sender's SACK scoreboard for RFC 6675 recovery;
//! - `cookie.rs`: SYN cookies (RFC 4987 §3.6) and the TCB rebuilt from
//!   one; `challenge.rs`: RFC 5961's challenge ACKs and their throttle;
//! - `timer.rs`, `isn.rs` (RFC 6528), `config.rs`, `options.rs` (socket
//!   options), `info.rs` (`TCP_INFO`), `event.rs` (what a connection
//!   did, for logs and traces).

mod autotune;
pub mod challenge;
mod config;
pub mod congestion;
pub mod cookie;
mod event;
mod info;
mod input;
pub mod isn;
mod options;
mod output;
pub mod rack;
pub mod rtt;
pub mod sack;
mod state;
mod tcb;
pub mod timer;
mod user;

#[cfg(test)]
mod tests;

pub use config::{CongestionAlgo, TcpConfig};
pub use event::{CcSample, TcpEvent};
pub use info::TcpInfo;
pub use state::State;
pub use tcb::Tcb;

use crate::wire::SeqNum;
use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
use core::fmt;
use std::net::{IpAddr, SocketAddr};

/// A connection's identity: local and remote address and port, both IPv4
/// or both IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FourTuple {
    /// Our side.
    pub local: SocketAddr,
    /// The peer's side.
    pub remote: SocketAddr,
}

impl FourTuple {
    /// The tuple of `local` and `remote`.
    pub fn new(local: impl Into<SocketAddr>, remote: impl Into<SocketAddr>) -> FourTuple {
        FourTuple {
            local: local.into(),
            remote: remote.into(),
        }
    }

    /// An IPv6 connection.
    pub fn is_ipv6(&self) -> bool {
        self.remote.is_ipv6()
    }

    /// `prefix`, then the local address and port, then the remote ones, as
    /// bytes: the input of the keyed hashes (ISN, TSval offset, SYN
    /// cookie). IPv4 addresses take 4 bytes, IPv6 ones 16.
    pub(crate) fn hash_input(&self, prefix: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(prefix.len() + 36);
        v.extend_from_slice(prefix);
        for a in [self.local, self.remote] {
            match a.ip() {
                IpAddr::V4(ip) => v.extend_from_slice(&ip.octets()),
                IpAddr::V6(ip) => v.extend_from_slice(&ip.octets()),
            }
            v.extend_from_slice(&a.port().to_be_bytes());
        }
        v
    }
}

impl fmt::Display for FourTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} > {}", self.local, self.remote)
    }
}

/// What can go wrong on a connection, as the socket layer maps it to errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpError {
    /// `EAGAIN`: nothing to read or no room to write now.
    WouldBlock,
    /// `ENOTCONN`.
    NotConnected,
    /// `EISCONN`.
    AlreadyConnected,
    /// `ECONNREFUSED`: RST in answer to our SYN.
    ConnectionRefused,
    /// `ECONNRESET`: RST on an established connection.
    ConnectionReset,
    /// `ECONNABORTED`.
    ConnectionAborted,
    /// `ETIMEDOUT`: retransmissions or keepalives exhausted.
    TimedOut,
    /// `EPIPE`: writing after shutdown.
    BrokenPipe,
    /// `EHOSTUNREACH`.
    HostUnreachable,
    /// `ENETUNREACH`.
    NetworkUnreachable,
    /// `EINVAL`: the call makes no sense in this state.
    InvalidState,
}

impl fmt::Display for TcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for TcpError {}

/// Readiness for `poll`/`epoll`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// `EPOLLIN`: data, EOF or an error to read.
    pub readable: bool,
    /// `EPOLLOUT`: room in the send buffer.
    pub writable: bool,
    /// `EPOLLRDHUP`: the peer sent FIN.
    pub read_closed: bool,
    /// `EPOLLHUP`: both directions are shut, or the connection is gone.
    pub hup: bool,
    /// `EPOLLERR`: an error is pending (`SO_ERROR`).
    pub error: bool,
}

/// RFC 9293 §3.10.7.1: the RST answering `seg` when no connection exists.
/// None for an incoming RST (never answer a RST).
///
/// "If the incoming segment has an ACK field, the reset takes its sequence
/// number from the ACK field of the segment, otherwise the reset has
/// sequence number zero and the ACK field is set to the sum of the sequence
/// number and segment length of the incoming segment."
pub fn rst_for(seg: &TcpRepr) -> Option<TcpRepr<'static>> {
    if seg.flags.contains(TcpFlags::RST) {
        return None;
    }
    let (seq, ack, flags) = if seg.flags.contains(TcpFlags::ACK) {
        (seg.ack, SeqNum(0), TcpFlags::RST)
    } else {
        (
            SeqNum(0),
            seg.seq + seg.segment_len(),
            TcpFlags::RST | TcpFlags::ACK,
        )
    };
    Some(TcpRepr {
        src_port: seg.dst_port,
        dst_port: seg.src_port,
        seq,
        ack,
        flags,
        window: 0,
        urgent: 0,
        options: TcpOptions::default(),
        payload: &[],
    })
}
