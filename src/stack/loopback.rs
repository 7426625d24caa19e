//! Loopback: datagrams to the stack's own address or to 127.0.0.0/8.
//!
//! A host talks to itself without the link (RFC 1122 §3.2.1.3: 127/8 must
//! never appear on a network). Here, as on Linux, a program under the stack
//! can connect to its own listeners through `127.0.0.1` (or any 127/8
//! address, or `0.0.0.0`, which `connect` takes for `127.0.0.1`) or through
//! the stack's own address. Such datagrams never reach the device: each is
//! queued whole here and fed back into IPv4 input on the next
//! [`Stack::poll_transmit`], with its checksums trusted as Linux's `lo` does
//! (the bytes never left memory). There is no ARP and no fragmentation:
//! TCP's segments already fit, and a loopback segment keeps the MSS the
//! link's MTU gives, as both ends read it from the same configuration.
//! Connections over 127/8 use `127.0.0.1` as their source, like Linux's
//! `local 127.0.0.0/8 dev lo src 127.0.0.1` route.

use super::Stack;
use crate::time::Instant;
use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr};
use std::net::Ipv4Addr;

/// Loopback datagrams waiting to be delivered, at most (a runaway sender
/// loses the excess, counted, as a full device queue would).
const LOOPBACK_LIMIT: usize = 4096;

/// Rounds of loopback delivery one [`Stack::poll_transmit`] call makes at
/// most (each delivers what the previous one queued).
pub(super) const LOOPBACK_ROUNDS: usize = 64;

impl Stack {
    /// `ip` is this host: our address or the loopback network.
    pub fn is_local_addr(&self, ip: Ipv4Addr) -> bool {
        ip == self.config.ip || ip.is_loopback()
    }

    /// The source address for a datagram to `dst`: `127.0.0.1` towards the
    /// loopback network, our address otherwise.
    pub(super) fn source_for(&self, dst: Ipv4Addr) -> Ipv4Addr {
        if dst.is_loopback() {
            Ipv4Addr::LOCALHOST
        } else {
            self.config.ip
        }
    }

    /// Queues a whole IPv4 datagram addressed to this host.
    pub(super) fn loop_back(&mut self, datagram: &[u8]) {
        if self.loopback.len() >= LOOPBACK_LIMIT {
            self.counters.drop_loopback_full += 1;
            return;
        }
        self.counters.loopback_tx += 1;
        self.loopback.push_back(datagram.to_vec());
    }

    /// Delivers the loopback datagrams queued so far (those their delivery
    /// queues wait for the next round).
    pub(super) fn run_loopback(&mut self, now: Instant) {
        for _ in 0..self.loopback.len() {
            let Some(datagram) = self.loopback.pop_front() else {
                break;
            };
            let Ok(packet) = Ipv4Packet::new_checked(&datagram[..]) else {
                continue;
            };
            let Ok(repr) = Ipv4Repr::parse(&packet) else {
                continue;
            };
            self.counters.ip_rx += 1;
            self.dispatch_ip(now, &repr, packet.payload(), true);
        }
    }

    /// Loopback datagrams are waiting (`poll_transmit` stopped before
    /// delivering them all).
    pub fn has_loopback(&self) -> bool {
        !self.loopback.is_empty()
    }
}
