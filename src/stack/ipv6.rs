//! IPv6 input and output for the stack (RFC 8200), with Neighbor Discovery
//! (RFC 4861, `ndisc_cache.rs`) and ICMPv6 (RFC 4443, `icmpv6.rs`).
//!
//! Our addresses: the link-local address from the MAC (modified EUI-64,
//! RFC 4862 §5.3), always, and the one configured ([`StackConfig::ip6`]).
//! Input accepts packets to those, to the all-nodes group and to their
//! solicited-node groups (RFC 4861 §7.2.1); walks the extension headers
//! (`wire::ipv6ext`) and answers what they reject with a Parameter Problem
//! where RFC 8200 §4 says so; reassembles fragments (§4.5,
//! `reassembly6.rs`); and hands ICMPv6 and TCP on (the TCP engine is one
//! for both families: its 4-tuple holds either); UDP is answered as a
//! closed port is (Destination Unreachable, port).
//!
//! Output is one path: [`Stack::route6`] resolves the next hop (a
//! multicast group maps to its MAC, RFC 2464 §7; an on-link destination,
//! the configured prefix or fe80::/10, through the neighbour cache);
//! [`Stack::emit_ipv6_frame`] writes the Ethernet and IPv6 headers, so a
//! TCP segment with IPv6 addresses can later be framed straight into the
//! device's buffer as IPv4 ones are; [`Stack::send_ipv6`] sends a packet
//! built whole, fragmenting it at the path MTU (RFC 8200 §5).
//!
//! Not done, by choice: routers (Router Advertisements are parsed and
//! ignored; off-link destinations are unreachable, as with no
//! `TAPSTACK_GW`); Duplicate Address Detection before using our addresses
//! (RFC 4862 §5.4 allows DupAddrDetectTransmits = 0, as Linux's
//! `accept_dad=0`): the addresses are configured by hand on a link whose
//! only other host is the kernel, so they are used at once, and a DAD probe
//! from another host for one of them is answered, defending it (RFC 4861
//! §7.2.4); MLD reports for the groups we listen to (a TAP has no snooping
//! switch behind it); loopback of IPv6 packets to ourselves.

use super::icmp::RateLimiter;
use super::ipv4::SendError;
use super::ndisc_cache::{Lookup6, NeighborCache};
use super::reassembly6::{Frag6Error, Fragment, Reassembler6};
use super::{Stack, StackConfig};
use crate::time::{Duration, Instant};
use crate::wire::Error;
use crate::wire::ethernet::{self, EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
use crate::wire::icmpv6::{Icmpv6Packet, Icmpv6Repr, NeighborFlags, msg_type, unreachable};
use crate::wire::ipv6::{
    self, ALL_NODES, DEFAULT_HOP_LIMIT, Ipv6Cidr, Ipv6Packet, Ipv6Repr, next_header as nh,
};
use crate::wire::ipv6ext::{self, FRAGMENT_HEADER_LEN, Ipv6FragmentHeader, Ipv6FragmentRepr};
use crate::wire::ndisc::NDISC_HOP_LIMIT;
use std::collections::BTreeMap;
use std::net::Ipv6Addr;

/// RFC 8201 §4: a Path MTU estimate is never below the IPv6 minimum.
const MIN_PMTU: usize = ipv6::MIN_MTU;
/// RFC 8201 §4: try a larger Path MTU again after this (10 minutes is its
/// suggestion, and Linux's `mtu_expires`).
pub const PMTU_EXPIRES: Duration = Duration::from_secs(600);
/// Path MTU entries kept at most; the oldest goes beyond that.
const MAX_PMTU_ENTRIES: usize = 1024;

/// Where [`Stack::route6`] sends a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextHop6 {
    /// On the link, to this MAC.
    Resolved(EthernetAddress),
    /// On the link; Neighbor Discovery is resolving this address.
    Pending(Ipv6Addr),
}

/// The IPv6 half of the host.
#[derive(Debug)]
pub(super) struct Ipv6State {
    /// fe80:: + modified EUI-64 of the MAC.
    pub(super) link_local: Ipv6Addr,
    /// The configured address and its on-link prefix.
    pub(super) cidr: Option<Ipv6Cidr>,
    pub(super) nd: NeighborCache,
    pub(super) reasm: Reassembler6,
    /// ICMPv6 errors (RFC 4443 §2.4 (f)), like the IPv4 limiter.
    pub(super) limiter: RateLimiter,
    /// Path MTU by destination, from Packet Too Big, with its expiry.
    pub(super) pmtu: BTreeMap<Ipv6Addr, (usize, Instant)>,
    /// The next Fragment header identification: a counter from a random
    /// start (RFC 7739 §5 prefers one per destination, or random; with the
    /// kernel as the only peer on the link, one counter is as good).
    pub(super) frag_ident: u32,
}

impl Ipv6State {
    pub(super) fn new(config: &StackConfig, now: Instant, frag_ident: u32) -> Ipv6State {
        Ipv6State {
            link_local: ipv6::link_local_from_mac(config.mac),
            cidr: config.ip6,
            nd: NeighborCache::new(),
            reasm: Reassembler6::new(),
            limiter: RateLimiter::new(now, 1000, 50),
            pmtu: BTreeMap::new(),
            frag_ident,
        }
    }

    /// `a` is one of our unicast addresses.
    pub(super) fn is_ours(&self, a: Ipv6Addr) -> bool {
        a == self.link_local || self.cidr.is_some_and(|c| c.address == a)
    }

    /// We listen to `a`: ours, all-nodes, or our solicited-node groups
    /// (RFC 4861 §7.2.1).
    fn accepts(&self, a: Ipv6Addr) -> bool {
        self.is_ours(a)
            || a == ALL_NODES
            || (ipv6::is_solicited_node(a)
                && (a == ipv6::solicited_node(self.link_local)
                    || self
                        .cidr
                        .is_some_and(|c| a == ipv6::solicited_node(c.address))))
    }

    /// The source for a packet to `dst` (RFC 6724 rule 2, scope): the
    /// link-local address for link-local and multicast-link destinations
    /// or when nothing else is configured, the configured one otherwise.
    pub(super) fn source_for(&self, dst: Ipv6Addr) -> Ipv6Addr {
        match self.cidr {
            Some(c) if !ipv6::is_link_local(dst) && !is_link_scope_multicast(dst) => c.address,
            _ => self.link_local,
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.nd.poll_timeout(), self.reasm.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }
}

fn is_link_scope_multicast(a: Ipv6Addr) -> bool {
    a.is_multicast() && a.octets()[1] & 0x0f == 2
}

/// What the input path knows of the frame that carried a packet.
#[derive(Debug, Clone, Copy)]
pub(super) struct LinkInfo {
    /// The frame's source MAC.
    pub src_mac: EthernetAddress,
    /// The frame went to a group (RFC 4443 §2.4 (e.3): no errors for it).
    pub multicast: bool,
    /// The link vouched for the upper-layer checksum (a virtio-net
    /// header's `DATA_VALID` or `NEEDS_CSUM`, or loopback).
    pub csum_trusted: bool,
}

impl Stack {
    /// Our IPv6 addresses: the link-local one, then the configured one.
    pub fn ipv6_addresses(&self) -> Vec<Ipv6Addr> {
        let mut v = vec![self.ip6.link_local];
        v.extend(self.ip6.cidr.map(|c| c.address));
        v
    }

    /// The IPv6 reassembly buffers, for introspection.
    pub fn ipv6_reassembler(&self) -> &Reassembler6 {
        &self.ip6.reasm
    }

    /// The IPv6 neighbour cache, for introspection.
    pub fn neighbor_cache(&self) -> &NeighborCache {
        &self.ip6.nd
    }

    /// The Path MTU to `dst` (RFC 8201): what a Packet Too Big said, while
    /// it has not expired, else the link MTU.
    pub fn path_mtu6(&self, now: Instant, dst: Ipv6Addr) -> usize {
        match self.ip6.pmtu.get(&dst) {
            Some(&(mtu, expires)) if now < expires => mtu.min(self.config.mtu),
            _ => self.config.mtu,
        }
    }

    /// Records a Path MTU for `dst` from a Packet Too Big (RFC 8201 §4):
    /// never below 1280, and only ever lowered until it expires.
    pub(super) fn record_pmtu(&mut self, now: Instant, dst: Ipv6Addr, mtu: u32) {
        let mtu = (mtu as usize).max(MIN_PMTU);
        if mtu >= self.path_mtu6(now, dst) {
            return;
        }
        let t = &mut self.ip6.pmtu;
        if t.len() >= MAX_PMTU_ENTRIES
            && !t.contains_key(&dst)
            && let Some(oldest) = t.iter().min_by_key(|(_, v)| v.1).map(|(k, _)| *k)
        {
            t.remove(&oldest);
        }
        t.insert(dst, (mtu, now + PMTU_EXPIRES));
    }

    /// One IPv6 packet from the link (RFC 8200).
    pub(super) fn handle_ipv6(&mut self, now: Instant, payload: &[u8], link: LinkInfo) {
        let parsed =
            Ipv6Packet::new_checked(payload).and_then(|p| Ipv6Repr::parse(&p).map(|r| (p, r)));
        let (packet, repr) = match parsed {
            Ok(p) => p,
            Err(Error::Truncated) => {
                self.counters.drop_ip6_truncated += 1;
                return;
            }
            Err(_) => {
                self.counters.drop_ip6_malformed += 1;
                return;
            }
        };
        // Ethernet may pad: the packet ends where its payload length says.
        let whole = &payload[..ipv6::HEADER_LEN + repr.payload_len];
        if !self.ip6.accepts(repr.dst_addr) {
            self.counters.drop_ip6_not_for_us += 1;
            return;
        }
        let src = repr.src_addr;
        if src.is_loopback() || self.ip6.is_ours(src) || ipv6::from_v4_mapped(src).is_some() {
            self.counters.drop_ip6_bad_source += 1;
            return;
        }
        self.counters.ip6_rx += 1;
        self.input_ipv6(now, &repr, packet.payload(), whole, link, false);
    }

    /// Walks the extension headers and dispatches (RFC 8200 §4). `whole`
    /// is the packet from its IPv6 header, for error quotes; `reassembled`:
    /// it came out of reassembly (or an atomic fragment), and may not hold
    /// a Fragment header again.
    fn input_ipv6(
        &mut self,
        now: Instant,
        repr: &Ipv6Repr,
        payload: &[u8],
        whole: &[u8],
        link: LinkInfo,
        reassembled: bool,
    ) {
        let ext = match ipv6ext::walk(repr.next_header, payload) {
            Ok(e) => e,
            Err(e) => {
                self.counters.drop_ip6_ext_header += 1;
                if let Some((code, pointer)) = e.param_problem(repr.dst_addr.is_multicast()) {
                    // RFC 4443 §2.4 (e.2, e.3): an unrecognized option of
                    // type 10 is reported even to a multicast destination.
                    let always = code == 2;
                    self.send_icmpv6_error(
                        now,
                        repr,
                        whole,
                        link,
                        always,
                        Icmpv6Repr::ParamProblem {
                            code,
                            pointer,
                            original: &[],
                        },
                    );
                }
                return;
            }
        };
        if let Some(frag) = ext.fragment {
            if reassembled {
                self.counters.drop_ip6_ext_header += 1;
                return;
            }
            let data = &payload[ext.offset..];
            if frag.is_atomic() {
                // RFC 6946 §4: processed as a whole packet.
                self.deliver_fragmentable(now, repr, frag.next_header, data.to_vec(), link);
                return;
            }
            self.counters.ip6_frag_rx += 1;
            let f = Fragment {
                src: repr.src_addr,
                dst: repr.dst_addr,
                ident: frag.ident,
                offset: usize::from(frag.frag_offset),
                more: frag.more_frags,
                next_header: frag.next_header,
                data,
                packet: whole,
            };
            match self.ip6.reasm.insert(now, &f) {
                Ok(None) => {}
                Ok(Some((next, data))) => {
                    self.counters.ip6_reassembled += 1;
                    self.deliver_fragmentable(now, repr, next, data, link);
                }
                Err(Frag6Error::Overlap | Frag6Error::BadLength | Frag6Error::NoMemory) => {
                    self.counters.drop_ip6_frag += 1;
                }
            }
            return;
        }
        let upper = &payload[ext.offset..];
        match ext.next_header {
            nh::ICMPV6 => self.handle_icmpv6(now, repr, upper, link),
            nh::NO_NEXT_HEADER => self.counters.drop_ip6_no_next_header += 1,
            nh::TCP => {
                if repr.dst_addr.is_multicast() {
                    // RFC 9293 §3.9.1: TCP is unicast only.
                    self.counters.drop_ip6_not_for_us += 1;
                    return;
                }
                if repr.src_addr.is_unspecified() {
                    // RFC 9293 §3.10.7.2: no connection (nor a RST) to a
                    // source that is not a unicast address.
                    self.counters.drop_ip6_bad_source += 1;
                    return;
                }
                let trusted = link.csum_trusted && !reassembled;
                let (src, dst) = (repr.src_addr.into(), repr.dst_addr.into());
                self.handle_tcp(now, src, dst, upper, trusted);
            }
            nh::UDP => {
                // No UDP: as a closed port.
                self.counters.drop_ip6_no_port += 1;
                self.send_icmpv6_error(
                    now,
                    repr,
                    whole,
                    link,
                    false,
                    Icmpv6Repr::DstUnreachable {
                        code: unreachable::PORT,
                        original: &[],
                    },
                );
            }
            _ => {
                // RFC 8200 §4: an unrecognized Next Header is a Parameter
                // Problem, code 1, pointing to it.
                self.counters.drop_ip6_unknown_next_header += 1;
                self.send_icmpv6_error(
                    now,
                    repr,
                    whole,
                    link,
                    false,
                    Icmpv6Repr::ParamProblem {
                        code: 1,
                        pointer: ext.pointer as u32,
                        original: &[],
                    },
                );
            }
        }
    }

    /// A reassembled fragmentable part: rebuilt as one packet with no
    /// Fragment header and walked again (RFC 8200 §4.5).
    fn deliver_fragmentable(
        &mut self,
        now: Instant,
        first: &Ipv6Repr,
        next_header: u8,
        data: Vec<u8>,
        link: LinkInfo,
    ) {
        let repr = Ipv6Repr {
            next_header,
            payload_len: data.len(),
            ..*first
        };
        let mut whole = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut whole[..]));
        whole[ipv6::HEADER_LEN..].copy_from_slice(&data);
        let link = LinkInfo {
            csum_trusted: false,
            ..link
        };
        self.input_ipv6(now, &repr, &data, &whole, link, true);
    }

    /// Sends an ICMPv6 error about `whole` (RFC 4443 §2.4): never about an
    /// error message, a packet from the unspecified or a multicast source,
    /// or (unless `always`) one sent to a group; rate limited (§2.4 (f)).
    /// `msg`'s `original` is replaced by the quote.
    pub(super) fn send_icmpv6_error(
        &mut self,
        now: Instant,
        ip: &Ipv6Repr,
        whole: &[u8],
        link: LinkInfo,
        always: bool,
        msg: Icmpv6Repr<'_>,
    ) {
        if ip.src_addr.is_unspecified() || ip.src_addr.is_multicast() {
            return;
        }
        if !always && (ip.dst_addr.is_multicast() || link.multicast) {
            return;
        }
        if is_icmpv6_error(ip, whole) {
            return;
        }
        if !self.ip6.limiter.allow(now) {
            self.counters.icmp6_rate_limited += 1;
            return;
        }
        let original = crate::wire::icmpv6::error_quote(whole);
        let msg = match msg {
            Icmpv6Repr::DstUnreachable { code, .. } => {
                Icmpv6Repr::DstUnreachable { code, original }
            }
            Icmpv6Repr::ParamProblem { code, pointer, .. } => Icmpv6Repr::ParamProblem {
                code,
                pointer,
                original,
            },
            Icmpv6Repr::TimeExceeded { code, .. } => Icmpv6Repr::TimeExceeded { code, original },
            Icmpv6Repr::PacketTooBig { mtu, .. } => Icmpv6Repr::PacketTooBig { mtu, original },
            _ => return,
        };
        // The source: the address the packet was sent to when it is ours
        // (RFC 4443 §2.2).
        let src = if self.ip6.is_ours(ip.dst_addr) {
            ip.dst_addr
        } else {
            self.ip6.source_for(ip.src_addr)
        };
        if self
            .send_icmpv6(now, src, ip.src_addr, DEFAULT_HOP_LIMIT, &msg)
            .is_ok()
        {
            self.counters.icmp6_tx_errors += 1;
        }
    }

    /// `dst` is on the link (our prefix, or link-local) and not ours: a
    /// destination [`Stack::route6`] can resolve.
    pub(super) fn on_link6(&self, dst: Ipv6Addr) -> bool {
        let on_link = ipv6::is_link_local(dst) || self.ip6.cidr.is_some_and(|c| c.contains(dst));
        on_link && !dst.is_unspecified() && !dst.is_multicast() && !self.ip6.is_ours(dst)
    }

    /// The next hop for `dst`: a group maps to its MAC (RFC 2464 §7); an
    /// on-link destination (our prefix, or link-local) resolves with
    /// Neighbor Discovery (a miss starts it). Anything else has no route:
    /// routers are not used.
    pub fn route6(&mut self, now: Instant, dst: Ipv6Addr) -> Result<NextHop6, SendError> {
        if dst.is_multicast() {
            return Ok(NextHop6::Resolved(ipv6::multicast_mac(dst)));
        }
        let on_link = ipv6::is_link_local(dst) || self.ip6.cidr.is_some_and(|c| c.contains(dst));
        if !on_link || dst.is_unspecified() || self.ip6.is_ours(dst) {
            return Err(SendError::NetworkUnreachable);
        }
        let hop = match self.ip6.nd.lookup(now, dst) {
            Lookup6::Found(mac) => NextHop6::Resolved(mac),
            Lookup6::Pending => NextHop6::Pending(dst),
        };
        self.flush_solicits();
        Ok(hop)
    }

    /// Writes an Ethernet header from us to `mac` and `ip`'s header at the
    /// start of `frame`, and returns the room for the payload
    /// (`ip.payload_len` bytes). Every IPv6 frame we send starts here.
    pub(super) fn emit_ipv6_frame<'f>(
        &self,
        frame: &'f mut [u8],
        mac: EthernetAddress,
        ip: &Ipv6Repr,
    ) -> &'f mut [u8] {
        let frame = &mut frame[..ethernet::HEADER_LEN + ip.buffer_len()];
        let mut eth = EthernetFrame::new_unchecked(frame);
        EthernetRepr {
            src_addr: self.config.mac,
            dst_addr: mac,
            ethertype: EtherType::Ipv6,
        }
        .emit(&mut eth);
        ip.emit(&mut Ipv6Packet::new_unchecked(eth.payload_mut()));
        &mut eth.into_inner()[ethernet::HEADER_LEN + ipv6::HEADER_LEN..]
    }

    /// Sends `payload` (an upper-layer message: `next_header` names it) from
    /// `src` (one of ours) to `dst` as one packet, fragmented at the path
    /// MTU when larger. While the next hop resolves, the packet waits in
    /// the neighbour cache's bounded queue.
    pub fn send_ipv6(
        &mut self,
        now: Instant,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        next_header: u8,
        hop_limit: u8,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let hop = self.route6(now, dst)?;
        let repr = Ipv6Repr {
            src_addr: src,
            dst_addr: dst,
            next_header,
            payload_len: payload.len(),
            hop_limit,
            traffic_class: 0,
            flow_label: 0,
        };
        let mut packet = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut packet[..]));
        packet[ipv6::HEADER_LEN..].copy_from_slice(payload);
        match hop {
            NextHop6::Resolved(mac) => {
                self.transmit_ipv6(now, mac, &packet);
                Ok(())
            }
            NextHop6::Pending(hop) => {
                if self.ip6.nd.enqueue(hop, packet) {
                    Ok(())
                } else {
                    self.counters.drop_nd_queue_full += 1;
                    Err(SendError::QueueFull)
                }
            }
        }
    }

    /// Sends a TCP segment that belongs to no connection (a RST, a SYN
    /// cookie's SYN-ACK) from `src` to `dst`: looped back when `dst` is
    /// this host, else through [`Stack::send_ipv6`]. True when it went out
    /// or waits for Neighbor Discovery.
    pub(super) fn send_ip6_from(
        &mut self,
        now: Instant,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        next_header: u8,
        payload: &[u8],
    ) -> bool {
        if dst.is_loopback() || self.ip6.is_ours(dst) {
            let repr = Ipv6Repr {
                src_addr: src,
                dst_addr: dst,
                next_header,
                payload_len: payload.len(),
                hop_limit: DEFAULT_HOP_LIMIT,
                traffic_class: 0,
                flow_label: 0,
            };
            let mut packet = vec![0u8; repr.buffer_len()];
            repr.emit(&mut Ipv6Packet::new_unchecked(&mut packet[..]));
            packet[ipv6::HEADER_LEN..].copy_from_slice(payload);
            self.counters.ip6_tx += 1;
            self.loop_back(&packet);
            return true;
        }
        self.send_ipv6(now, src, dst, next_header, DEFAULT_HOP_LIMIT, payload)
            .is_ok()
    }

    /// Builds and sends an ICMPv6 message.
    pub(super) fn send_icmpv6(
        &mut self,
        now: Instant,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: u8,
        msg: &Icmpv6Repr<'_>,
    ) -> Result<(), SendError> {
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut Icmpv6Packet::new_unchecked(&mut buf[..]), src, dst);
        self.send_ipv6(now, src, dst, nh::ICMPV6, hop_limit, &buf)
    }

    /// Frames a whole packet to `mac`; larger than the path MTU, it goes
    /// as fragments (RFC 8200 §4.5, §5): the fixed header is the
    /// unfragmentable part (we send no extension headers), each fragment
    /// carrying a multiple of 8 bytes but the last.
    pub(super) fn transmit_ipv6(&mut self, now: Instant, mac: EthernetAddress, packet: &[u8]) {
        let Ok(p) = Ipv6Packet::new_checked(packet) else {
            return;
        };
        let Ok(repr) = Ipv6Repr::parse(&p) else {
            return;
        };
        self.counters.ip6_tx += 1;
        let mtu = self.path_mtu6(now, repr.dst_addr);
        if packet.len() <= mtu {
            let mut frame = vec![0u8; ethernet::HEADER_LEN + packet.len()];
            frame[..ethernet::HEADER_LEN].copy_from_slice(&eth_header(self.config.mac, mac));
            frame[ethernet::HEADER_LEN..].copy_from_slice(packet);
            self.queue_frame(frame);
            return;
        }
        let data = p.payload();
        let chunk = (mtu.saturating_sub(ipv6::HEADER_LEN + FRAGMENT_HEADER_LEN) / 8 * 8).max(8);
        self.ip6.frag_ident = self.ip6.frag_ident.wrapping_add(1);
        let ident = self.ip6.frag_ident;
        let mut offset = 0;
        while offset < data.len() {
            let end = (offset + chunk).min(data.len());
            let frag_ip = Ipv6Repr {
                next_header: nh::FRAGMENT,
                payload_len: FRAGMENT_HEADER_LEN + end - offset,
                ..repr
            };
            let mut frame = vec![0u8; ethernet::HEADER_LEN + frag_ip.buffer_len()];
            let room = self.emit_ipv6_frame(&mut frame, mac, &frag_ip);
            Ipv6FragmentRepr {
                next_header: repr.next_header,
                frag_offset: offset as u16,
                more_frags: end < data.len(),
                ident,
            }
            .emit(&mut Ipv6FragmentHeader::new_unchecked(
                &mut room[..FRAGMENT_HEADER_LEN],
            ));
            room[FRAGMENT_HEADER_LEN..].copy_from_slice(&data[offset..end]);
            self.counters.ip6_frag_tx += 1;
            self.queue_frame(frame);
            offset = end;
        }
    }

    /// Turns the neighbour cache's wishes into Neighbor Solicitations (RFC
    /// 4861 §7.2.2): multicast to the target's solicited-node group, or
    /// unicast when probing, with our link-layer address, hop limit 255.
    pub(super) fn flush_solicits(&mut self) {
        while let Some(s) = self.ip6.nd.poll_solicit() {
            let dst = match s.unicast_to {
                Some(_) => s.target,
                None => ipv6::solicited_node(s.target),
            };
            let mac = s.unicast_to.unwrap_or(ipv6::multicast_mac(dst));
            let src = self.ip6.source_for(s.target);
            let msg = Icmpv6Repr::NeighborSolicit {
                target_addr: s.target,
                source_lladdr: Some(self.config.mac),
            };
            self.counters.nd_tx_solicits += 1;
            self.queue_icmpv6_frame(mac, src, dst, NDISC_HOP_LIMIT, &msg);
        }
    }

    /// Frames an ICMPv6 message straight to `mac`, with no resolution (for
    /// Neighbor Discovery itself).
    pub(super) fn queue_icmpv6_frame(
        &mut self,
        mac: EthernetAddress,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: u8,
        msg: &Icmpv6Repr<'_>,
    ) {
        let ip = Ipv6Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: nh::ICMPV6,
            payload_len: msg.buffer_len(),
            hop_limit,
            traffic_class: 0,
            flow_label: 0,
        };
        let mut frame = vec![0u8; ethernet::HEADER_LEN + ip.buffer_len()];
        let room = self.emit_ipv6_frame(&mut frame, mac, &ip);
        msg.emit(&mut Icmpv6Packet::new_unchecked(room), src, dst);
        self.counters.ip6_tx += 1;
        self.queue_frame(frame);
    }

    /// Sends packets a resolution released.
    pub(super) fn release_ipv6(
        &mut self,
        now: Instant,
        mac: Option<EthernetAddress>,
        packets: Vec<Vec<u8>>,
    ) {
        if let Some(mac) = mac {
            for p in packets {
                self.transmit_ipv6(now, mac, &p);
            }
        }
    }

    /// IPv6 timers: neighbour states and retries (failures are counted),
    /// and reassembly timeouts, answered with Time Exceeded, code 1, when
    /// the first fragment had arrived (RFC 8200 §4.5).
    pub(super) fn ipv6_timeout(&mut self, now: Instant) {
        self.ip6.nd.handle_timeout(now);
        for ip in self.ip6.nd.take_failed() {
            self.counters.nd_failed += 1;
            self.arp_resolved(now, ip.into(), true);
        }
        self.flush_solicits();
        self.ip6.reasm.handle_timeout(now);
        let (count, firsts) = self.ip6.reasm.take_timed_out();
        self.counters.ip6_reasm_timeout += count;
        for (_, first) in firsts {
            if let Ok(repr) = header_repr(&first) {
                self.time_exceeded(now, &repr, &first);
            }
        }
    }

    fn time_exceeded(&mut self, now: Instant, repr: &Ipv6Repr, first: &[u8]) {
        let link = LinkInfo {
            src_mac: EthernetAddress([0; 6]),
            multicast: false,
            csum_trusted: false,
        };
        self.send_icmpv6_error(
            now,
            repr,
            first,
            link,
            false,
            Icmpv6Repr::TimeExceeded {
                code: crate::wire::icmpv6::time_exceeded::REASSEMBLY,
                original: &[],
            },
        );
    }

    /// When the IPv6 timers next need running.
    pub(super) fn ipv6_poll_timeout(&self) -> Option<Instant> {
        self.ip6.poll_timeout()
    }
}

/// The fixed header of a packet whose payload was cut (an error quote).
fn header_repr(b: &[u8]) -> Result<Ipv6Repr, Error> {
    let p = Ipv6Packet::new_unchecked(b);
    p.check_header_len()?;
    if p.version() != 6 {
        return Err(Error::Malformed);
    }
    Ok(Ipv6Repr {
        src_addr: p.src_addr(),
        dst_addr: p.dst_addr(),
        next_header: p.next_header(),
        payload_len: usize::from(p.payload_len()),
        hop_limit: p.hop_limit(),
        traffic_class: p.traffic_class(),
        flow_label: p.flow_label(),
    })
}

/// An Ethernet header for an IPv6 frame.
fn eth_header(src: EthernetAddress, dst: EthernetAddress) -> [u8; ethernet::HEADER_LEN] {
    let mut h = [0u8; ethernet::HEADER_LEN];
    EthernetRepr {
        src_addr: src,
        dst_addr: dst,
        ethertype: EtherType::Ipv6,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut h[..]));
    h
}

/// `whole` carries an ICMPv6 error message (RFC 4443 §2.4 (e.1)): walk to
/// its upper layer to see.
fn is_icmpv6_error(ip: &Ipv6Repr, whole: &[u8]) -> bool {
    let payload = whole.get(ipv6::HEADER_LEN..).unwrap_or(&[]);
    match ipv6ext::walk(ip.next_header, payload) {
        Ok(e) if e.next_header == nh::ICMPV6 => {
            // A non-first fragment's data is not a header.
            if e.fragment.is_some_and(|f| f.frag_offset != 0) {
                return false;
            }
            payload
                .get(e.offset)
                .is_some_and(|&t| t < msg_type::ECHO_REQUEST)
        }
        _ => false,
    }
}

/// The Neighbor Advertisement flags we send in answer to a solicitation:
/// Solicited when it had a source to answer, Override always (our address
/// is not anycast), never Router (RFC 4861 §7.2.4).
pub(super) fn na_flags(solicited: bool) -> NeighborFlags {
    if solicited {
        NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE
    } else {
        NeighborFlags::OVERRIDE
    }
}
