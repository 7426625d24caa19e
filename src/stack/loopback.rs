//! Loopback: datagrams to the stack's own address or to 127.0.0.0/8, and
//! IPv6 packets to `::1` or to our IPv6 addresses (RFC 4291 §2.5.3: `::1`
//! never leaves the host either).
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
use crate::wire::ipv6::{self, Ipv6Packet, Ipv6Repr, next_header};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

    /// `ip` is this host, of either family: for IPv6, `::1` or one of our
    /// addresses (the configured one, the link-local one).
    pub fn is_local_ip(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(ip) => self.is_local_addr(ip),
            IpAddr::V6(ip) => ip.is_loopback() || self.ip6.is_ours(ip),
        }
    }

    /// The source address for a packet to `dst`, of either family: for
    /// IPv6, `::1` towards `::1`, the address itself towards one of ours,
    /// else as [`super::ipv6::Ipv6State::source_for`] chooses.
    pub(super) fn source_for_ip(&self, dst: IpAddr) -> IpAddr {
        match dst {
            IpAddr::V4(d) => self.source_for(d).into(),
            IpAddr::V6(d) if d.is_loopback() => Ipv6Addr::LOCALHOST.into(),
            IpAddr::V6(d) if self.ip6.is_ours(d) => d.into(),
            IpAddr::V6(d) => self.ip6.source_for(d).into(),
        }
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
            if datagram.first().is_some_and(|b| b >> 4 == 6) {
                self.loopback_ipv6(now, &datagram);
                continue;
            }
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

    /// An IPv6 packet to this host (`::1` or one of our addresses): only
    /// TCP is looped back (we send nothing else to ourselves), with no
    /// extension headers, its checksum trusted as above.
    fn loopback_ipv6(&mut self, now: Instant, packet: &[u8]) {
        let Ok(p) = Ipv6Packet::new_checked(packet) else {
            return;
        };
        let Ok(repr) = Ipv6Repr::parse(&p) else {
            return;
        };
        self.counters.ip6_rx += 1;
        if repr.next_header == next_header::TCP {
            let (src, dst) = (repr.src_addr.into(), repr.dst_addr.into());
            let end = ipv6::HEADER_LEN + repr.payload_len;
            self.handle_tcp(now, src, dst, &packet[ipv6::HEADER_LEN..end], true);
        }
    }

    /// Loopback datagrams are waiting (`poll_transmit` stopped before
    /// delivering them all).
    pub fn has_loopback(&self) -> bool {
        !self.loopback.is_empty()
    }
}
