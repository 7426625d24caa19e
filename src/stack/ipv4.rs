//! IPv4 input and output for the stack (RFC 791, RFC 1122 §3.2), and ICMP
//! (RFC 792, RFC 1122 §3.2.2).
//!
//! Input validates the header (version, header length, total length,
//! checksum, destination, source), reassembles fragments and dispatches by
//! protocol. Output is one path for every protocol: [`Stack::route`] picks
//! loopback, the on-link destination or the gateway and resolves it with ARP;
//! [`Stack::ip_header`] gives the header and its IP identifier;
//! [`Stack::emit_ip_frame`] writes the Ethernet and IPv4 headers. Datagrams
//! built whole (ICMP, stateless TCP) wait in the ARP queue while the next hop
//! resolves and are fragmented when larger than the MTU; a connection's
//! segments are written straight into the device's buffer
//! (`tcp_output.rs`).

use super::Stack;
use super::arp_cache::Lookup;
use super::reassembly::FragError;
use crate::time::Instant;
use crate::wire::Error;
use crate::wire::checksum::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use crate::wire::ethernet::{self, EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
use crate::wire::icmpv4::{self, Icmpv4Packet, Icmpv4Repr, msg_type, unreachable};
use crate::wire::ipv4::{self, DEFAULT_TTL, Ipv4Packet, Ipv4Repr};
use std::net::Ipv4Addr;

/// RFC 1812 §4.3.2.3: an ICMP error carries as much of the original
/// datagram as fits in a 576-byte datagram.
const ICMP_ERROR_MAX_ORIGINAL: usize = 576 - ipv4::HEADER_LEN - icmpv4::HEADER_LEN;

/// Why a datagram could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// No route: off-link and no gateway.
    NetworkUnreachable,
    /// The ARP queue for the next hop is full.
    QueueFull,
}

/// Where [`Stack::route`] sends a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NextHop {
    /// To this host: looped back, never on the link (`loopback.rs`).
    Local,
    /// On the link, to this MAC.
    Resolved(EthernetAddress),
    /// On the link through this next hop, whose MAC ARP is resolving.
    Pending(Ipv4Addr),
}

impl Stack {
    ///
    /// `csum_trusted`: the link vouched for the transport checksum (see
    /// `wire::virtio_net`), which is then not verified again.
    pub(super) fn handle_ipv4(&mut self, now: Instant, payload: &[u8], csum_trusted: bool) {
        let parsed = Ipv4Packet::new_checked(payload)
            .and_then(|packet| Ipv4Repr::parse(&packet).map(|repr| (packet, repr)));
        let (packet, repr) = match parsed {
            Ok(p) => p,
            Err(e) => {
                let c = &mut self.counters;
                *match e {
                    Error::Truncated => &mut c.drop_ip_truncated,
                    Error::Checksum => &mut c.drop_ip_checksum,
                    Error::Malformed | Error::Unsupported => &mut c.drop_ip_malformed,
                } += 1;
                return;
            }
        };
        if repr.dst_addr != self.config.ip {
            self.counters.drop_ip_not_for_us += 1;
            return;
        }
        let src = repr.src_addr;
        if src.is_broadcast()
            || src.is_multicast()
            || src.is_unspecified()
            || src == self.config.ip
            || src.is_loopback()
            || src == self.cidr.broadcast()
        {
            self.counters.drop_ip_bad_source += 1;
            return;
        }
        self.counters.ip_rx += 1;
        if repr.is_fragment() {
            self.counters.ip_frag_rx += 1;
            match self.reasm.insert(now, &repr, packet.payload()) {
                Ok(None) => {}
                Ok(Some((whole, data))) => {
                    self.counters.ip_reassembled += 1;
                    self.dispatch_ip(now, &whole, &data, false);
                }
                Err(FragError::Overlap | FragError::BadLength | FragError::NoMemory) => {
                    self.counters.drop_ip_frag += 1;
                }
            }
            return;
        }
        self.dispatch_ip(now, &repr, packet.payload(), csum_trusted);
    }

    /// Hands a whole datagram to its protocol.
    pub(super) fn dispatch_ip(
        &mut self,
        now: Instant,
        repr: &Ipv4Repr,
        payload: &[u8],
        csum_trusted: bool,
    ) {
        match repr.protocol {
            PROTO_ICMP => self.handle_icmp(now, repr, payload),
            PROTO_TCP => {
                let (src, dst) = (repr.src_addr.into(), repr.dst_addr.into());
                self.handle_tcp(now, src, dst, payload, csum_trusted);
            }
            other => {
                self.counters.drop_ip_unknown_protocol += 1;
                // We have no UDP: answer as a host with no UDP listener would
                // (port unreachable); other protocols are unreachable as such.
                let code = if other == PROTO_UDP {
                    unreachable::PORT
                } else {
                    unreachable::PROTOCOL
                };
                self.send_icmp_error(now, repr, payload, code);
            }
        }
    }

    fn handle_icmp(&mut self, now: Instant, ip: &Ipv4Repr, payload: &[u8]) {
        let repr = match Icmpv4Packet::new_checked(payload).and_then(|p| Icmpv4Repr::parse(&p)) {
            Ok(r) => r,
            Err(Error::Unsupported) => {
                self.counters.drop_icmp_unsupported += 1;
                return;
            }
            Err(_) => {
                self.counters.drop_icmp_malformed += 1;
                return;
            }
        };
        self.counters.icmp_rx += 1;
        match repr {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                let reply = Icmpv4Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                let mut msg = vec![0u8; reply.buffer_len()];
                reply.emit(&mut Icmpv4Packet::new_unchecked(&mut msg[..]));
                if self.send_ip(now, ip.src_addr, PROTO_ICMP, &msg).is_ok() {
                    self.counters.icmp_tx_echo_reply += 1;
                }
            }
            Icmpv4Repr::DstUnreachable { code, original, .. } => {
                self.handle_icmp_error(now, code, original);
            }
            Icmpv4Repr::TimeExceeded { .. } | Icmpv4Repr::EchoReply { .. } => {}
        }
    }

    /// An ICMP error about a datagram we sent: find the TCP connection it
    /// names (RFC 1122 §3.2.2.1, RFC 5927) and tell it.
    fn handle_icmp_error(&mut self, now: Instant, code: u8, original: &[u8]) {
        let orig = Ipv4Packet::new_unchecked(original);
        if orig.check_header_len().is_err() || orig.version() != 4 {
            return;
        }
        if orig.protocol() != PROTO_TCP || orig.src_addr() != self.config.ip {
            return;
        }
        let hl = orig.header_len();
        let Some(tcp) = original.get(hl..hl + 8) else {
            return;
        };
        let src_port = u16::from_be_bytes([tcp[0], tcp[1]]);
        let dst_port = u16::from_be_bytes([tcp[2], tcp[3]]);
        let seq = crate::wire::SeqNum(u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]));
        let tuple = crate::tcp::FourTuple::new(
            std::net::SocketAddrV4::new(self.config.ip, src_port),
            std::net::SocketAddrV4::new(orig.dst_addr(), dst_port),
        );
        let error = super::tcp_input::icmp4_error(code);
        self.tcp_icmp_error(now, tuple, seq, error);
    }

    /// Sends destination unreachable about `repr`/`payload`, rate limited,
    /// never about an ICMP error or a non-first fragment (RFC 1122 §3.2.2).
    pub(super) fn send_icmp_error(
        &mut self,
        now: Instant,
        repr: &Ipv4Repr,
        payload: &[u8],
        code: u8,
    ) {
        if repr.frag_offset != 0 {
            return;
        }
        if repr.protocol == PROTO_ICMP
            && payload
                .first()
                .is_some_and(|&t| t != msg_type::ECHO_REPLY && t != msg_type::ECHO_REQUEST)
        {
            return;
        }
        if !self.icmp_limiter.allow(now) {
            self.counters.icmp_rate_limited += 1;
            return;
        }
        let mut original = vec![0u8; ipv4::HEADER_LEN];
        Ipv4Repr {
            payload_len: payload.len(),
            ..*repr
        }
        .emit(&mut Ipv4Packet::new_unchecked(&mut original[..]));
        let room = ICMP_ERROR_MAX_ORIGINAL - ipv4::HEADER_LEN;
        original.extend_from_slice(&payload[..payload.len().min(room)]);
        let msg_repr = Icmpv4Repr::DstUnreachable {
            code,
            next_hop_mtu: 0,
            original: &original,
        };
        let mut msg = vec![0u8; msg_repr.buffer_len()];
        msg_repr.emit(&mut Icmpv4Packet::new_unchecked(&mut msg[..]));
        if self.send_ip(now, repr.src_addr, PROTO_ICMP, &msg).is_ok() {
            self.counters.icmp_tx_unreachable += 1;
        }
    }

    /// The next hop for `dst`: itself when on-link, else the gateway.
    pub fn next_hop(&self, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if self.cidr.contains(dst) {
            Some(dst)
        } else {
            self.config.gateway
        }
    }

    /// Routes a datagram to `dst` (RFC 1122 §3.3.1.1): this host is
    /// delivered by loopback; an on-link destination is its own next hop,
    /// any other goes to the gateway, resolved with ARP (a miss starts the
    /// resolution). Off-link with no gateway is
    /// [`SendError::NetworkUnreachable`].
    pub(super) fn route(&mut self, now: Instant, dst: Ipv4Addr) -> Result<NextHop, SendError> {
        if self.is_local_addr(dst) {
            return Ok(NextHop::Local);
        }
        let hop = self.next_hop(dst).ok_or(SendError::NetworkUnreachable)?;
        Ok(match self.arp.lookup(now, hop) {
            Lookup::Found(mac) => NextHop::Resolved(mac),
            Lookup::Pending => NextHop::Pending(hop),
        })
    }

    /// The IPv4 header of a datagram we originate, with the next IP
    /// identifier (RFC 791 §3.2 "Identification"): one counter serves every
    /// protocol (RFC 6864 §4 lets an atomic datagram's be any value).
    pub(super) fn ip_header(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: u8,
        payload_len: usize,
        dont_frag: bool,
        dscp_ecn: u8,
    ) -> Ipv4Repr {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            protocol,
            payload_len,
            ttl: DEFAULT_TTL,
            ident: self.ip_ident,
            dont_frag,
            more_frags: false,
            frag_offset: 0,
            dscp_ecn,
        }
    }

    /// Writes an Ethernet header from us to `mac` and `ip`'s header at the
    /// start of `frame`, and returns the room for the IP payload
    /// (`ip.payload_len` bytes). `frame` must hold the whole frame. Every
    /// IPv4 frame we send starts here.
    pub(super) fn emit_ip_frame<'f>(
        &self,
        frame: &'f mut [u8],
        mac: EthernetAddress,
        ip: &Ipv4Repr,
    ) -> &'f mut [u8] {
        let frame = &mut frame[..ethernet::HEADER_LEN + ip.buffer_len()];
        let mut eth = EthernetFrame::new_unchecked(frame);
        EthernetRepr {
            src_addr: self.config.mac,
            dst_addr: mac,
            ethertype: EtherType::Ipv4,
        }
        .emit(&mut eth);
        ip.emit(&mut Ipv4Packet::new_unchecked(eth.payload_mut()));
        &mut eth.into_inner()[ethernet::HEADER_LEN + ipv4::HEADER_LEN..]
    }

    /// Sends `payload` to `dst` as one datagram (fragmented on the link if
    /// larger than the MTU). When the next hop is not resolved yet, the
    /// datagram waits in the ARP queue.
    pub fn send_ip(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        protocol: u8,
        payload: &[u8],
    ) -> Result<(), SendError> {
        self.send_ip_from(now, self.source_for(dst), dst, protocol, payload)
    }

    /// [`Stack::send_ip`] from a given source address (one of ours: a
    /// connection's local address). A datagram to this host is looped back.
    pub(super) fn send_ip_from(
        &mut self,
        now: Instant,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: u8,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let hop = self.route(now, dst)?;
        let repr = self.ip_header(src, dst, protocol, payload.len(), false, 0);
        let mut datagram = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut datagram[..]));
        datagram[ipv4::HEADER_LEN..].copy_from_slice(payload);
        match hop {
            NextHop::Local => {
                self.counters.ip_tx += 1;
                self.loop_back(&datagram);
                Ok(())
            }
            NextHop::Resolved(mac) => {
                self.transmit_datagram(mac, &datagram);
                Ok(())
            }
            NextHop::Pending(hop) => {
                if self.arp.enqueue(hop, datagram) {
                    Ok(())
                } else {
                    self.counters.drop_arp_queue_full += 1;
                    Err(SendError::QueueFull)
                }
            }
        }
    }

    /// Frames a whole datagram (as built by `send_ip`) to `mac`, splitting
    /// it into fragments of at most the MTU (RFC 791 §3.2, "fragmentation").
    pub(super) fn transmit_datagram(&mut self, mac: EthernetAddress, datagram: &[u8]) {
        let Ok(packet) = Ipv4Packet::new_checked(datagram) else {
            return;
        };
        let Ok(repr) = Ipv4Repr::parse(&packet) else {
            return;
        };
        self.counters.ip_tx += 1;
        let mtu = self.config.mtu;
        if datagram.len() <= mtu {
            self.queue_ip_frame(mac, &repr, packet.payload());
            return;
        }
        if repr.dont_frag {
            return;
        }
        let payload = packet.payload();
        let chunk = (mtu - ipv4::HEADER_LEN) / 8 * 8;
        let mut offset = 0;
        while offset < payload.len() {
            let end = (offset + chunk).min(payload.len());
            let frag = Ipv4Repr {
                payload_len: end - offset,
                more_frags: end < payload.len(),
                frag_offset: offset as u16,
                ..repr
            };
            self.counters.ip_frag_tx += 1;
            self.queue_ip_frame(mac, &frag, &payload[offset..end]);
            offset = end;
        }
    }

    /// Queues one frame carrying `ip` and its `payload` to `mac`.
    fn queue_ip_frame(&mut self, mac: EthernetAddress, ip: &Ipv4Repr, payload: &[u8]) {
        let mut frame = vec![0u8; ethernet::HEADER_LEN + ip.buffer_len()];
        self.emit_ip_frame(&mut frame, mac, ip)
            .copy_from_slice(payload);
        self.queue_frame(frame);
    }
}
