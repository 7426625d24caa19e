//! ICMPv6 input (RFC 4443) and Neighbor Discovery messages (RFC 4861).
//!
//! - Echo Request: answered with the same identifier, sequence number and
//!   data, byte for byte, whatever size the IP layer carried (§4.2); one
//!   sent to a group is answered from our unicast address (§4.2).
//! - Neighbor Solicitation for one of our addresses: answered with a
//!   Neighbor Advertisement (Solicited and Override set, Router clear),
//!   after learning the asker's link-layer address as STALE (RFC 4861
//!   §7.2.3, §7.2.4); a DAD probe (unspecified source) is answered to
//!   all-nodes without Solicited. A solicitation for another address is
//!   ignored.
//! - Neighbor Advertisement: updates the neighbour cache (§7.2.5).
//! - Every Neighbor Discovery message with a hop limit other than 255 is
//!   dropped (§6.1, §7.1: it may come from off the link).
//! - Packet Too Big: the Path MTU to the quoted destination is recorded
//!   (RFC 8201 §4), for [`Stack::path_mtu6`], and the TCP connections to
//!   it lower their send MSS (§5.4).
//! - Destination Unreachable quoting one of our TCP segments: the
//!   connection is told (RFC 4443 §3.1, with RFC 5927's sequence check).
//! - Router Solicitation and Advertisement, and the other errors: counted,
//!   nothing more (no routers).

use super::Stack;
use super::ipv6::{LinkInfo, na_flags};
use crate::time::Instant;
use crate::wire::Error;
use crate::wire::icmpv6::{Icmpv6Packet, Icmpv6Repr};
use crate::wire::ipv6::{self, ALL_NODES, DEFAULT_HOP_LIMIT, Ipv6Packet, Ipv6Repr};
use crate::wire::ndisc::NDISC_HOP_LIMIT;

impl Stack {
    /// One ICMPv6 message, `msg`, carried by `ip`.
    pub(super) fn handle_icmpv6(
        &mut self,
        now: Instant,
        ip: &Ipv6Repr,
        msg: &[u8],
        link: LinkInfo,
    ) {
        let repr = match Icmpv6Packet::new_checked(msg)
            .and_then(|p| Icmpv6Repr::parse(&p, ip.src_addr, ip.dst_addr))
        {
            Ok(r) => r,
            Err(Error::Unsupported) => {
                self.counters.drop_icmp6_unsupported += 1;
                return;
            }
            Err(_) => {
                self.counters.drop_icmp6_malformed += 1;
                return;
            }
        };
        if repr.is_ndisc() && ip.hop_limit != NDISC_HOP_LIMIT {
            self.counters.drop_ndisc_bad_hop_limit += 1;
            return;
        }
        if let Icmpv6Repr::NeighborSolicit { target_addr, .. } = repr
            && !self.ip6.is_ours(target_addr)
        {
            self.counters.drop_ndisc_not_for_us += 1;
            return;
        }
        self.counters.icmp6_rx += 1;
        match repr {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                if ip.src_addr.is_unspecified() {
                    return;
                }
                let src = if self.ip6.is_ours(ip.dst_addr) {
                    ip.dst_addr
                } else {
                    self.ip6.source_for(ip.src_addr)
                };
                let reply = Icmpv6Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                if self
                    .send_icmpv6(now, src, ip.src_addr, DEFAULT_HOP_LIMIT, &reply)
                    .is_ok()
                {
                    self.counters.icmp6_tx_echo_reply += 1;
                }
            }
            Icmpv6Repr::NeighborSolicit {
                target_addr,
                source_lladdr,
            } => self.answer_solicit(now, ip, target_addr, source_lladdr, link),
            Icmpv6Repr::NeighborAdvert {
                flags,
                target_addr,
                target_lladdr,
            } => {
                if self.ip6.is_ours(target_addr) {
                    // Someone else claims our address; we keep it (no DAD,
                    // see `ipv6.rs`), and count it.
                    self.counters.nd_rx_duplicate += 1;
                    return;
                }
                use crate::wire::icmpv6::NeighborFlags as F;
                let released = self.ip6.nd.advertised(
                    now,
                    target_addr,
                    target_lladdr,
                    flags.contains(F::SOLICITED),
                    flags.contains(F::OVERRIDE),
                );
                let mac = self.ip6.nd.get(target_addr).and_then(|n| n.mac);
                self.release_ipv6(now, mac, released);
                if mac.is_some() {
                    self.arp_resolved(now, target_addr.into(), false);
                }
            }
            Icmpv6Repr::PacketTooBig { mtu, original } => {
                self.counters.icmp6_rx_packet_too_big += 1;
                let p = Ipv6Packet::new_unchecked(original);
                if p.check_header_len().is_ok() && self.ip6.is_ours(p.src_addr()) {
                    self.record_pmtu(now, p.dst_addr(), mtu);
                    self.tcp_path_mtu6(now, p.dst_addr());
                }
            }
            Icmpv6Repr::DstUnreachable { code, original } => {
                self.handle_icmpv6_error(now, code, original);
            }
            Icmpv6Repr::EchoReply { .. }
            | Icmpv6Repr::TimeExceeded { .. }
            | Icmpv6Repr::ParamProblem { .. }
            | Icmpv6Repr::RouterSolicit { .. }
            | Icmpv6Repr::RouterAdvert { .. } => {}
        }
    }

    /// RFC 4861 §7.2.3, §7.2.4: learn the asker, then advertise the target.
    fn answer_solicit(
        &mut self,
        now: Instant,
        ip: &Ipv6Repr,
        target: std::net::Ipv6Addr,
        source_lladdr: Option<crate::wire::ethernet::EthernetAddress>,
        link: LinkInfo,
    ) {
        let advert = Icmpv6Repr::NeighborAdvert {
            flags: na_flags(!ip.src_addr.is_unspecified()),
            target_addr: target,
            target_lladdr: Some(self.config.mac),
        };
        self.counters.nd_tx_adverts += 1;
        if ip.src_addr.is_unspecified() {
            // A DAD probe: the answer goes to all-nodes (§7.2.4).
            self.queue_icmpv6_frame(
                ipv6::multicast_mac(ALL_NODES),
                target,
                ALL_NODES,
                NDISC_HOP_LIMIT,
                &advert,
            );
            return;
        }
        // The asker's MAC: its option, else (a unicast solicitation may
        // leave it out, §7.2.4) the frame's source rather than a
        // resolution of our own.
        let mac = match source_lladdr {
            Some(mac) => {
                let released = self.ip6.nd.learn_from_solicit(now, ip.src_addr, mac);
                self.release_ipv6(now, Some(mac), released);
                self.arp_resolved(now, ip.src_addr.into(), false);
                mac
            }
            None => link.src_mac,
        };
        if !mac.is_unicast() {
            return;
        }
        self.queue_icmpv6_frame(mac, target, ip.src_addr, NDISC_HOP_LIMIT, &advert);
    }

    /// A Destination Unreachable about a segment we sent (RFC 4443 §3.1,
    /// §2.4 (d)): the TCP connection the quoted header names is told, with
    /// the sequence check of RFC 5927 §4.1 ([`Stack::tcp_icmp_error`]).
    /// Only a quote whose Next Header is TCP is followed: we send no
    /// extension headers.
    fn handle_icmpv6_error(&mut self, now: Instant, code: u8, original: &[u8]) {
        let p = Ipv6Packet::new_unchecked(original);
        if p.check_header_len().is_err()
            || p.next_header() != crate::wire::ipv6::next_header::TCP
            || !self.ip6.is_ours(p.src_addr())
        {
            return;
        }
        let hl = crate::wire::ipv6::HEADER_LEN;
        let Some(tcp) = original.get(hl..hl + 8) else {
            return;
        };
        let src_port = u16::from_be_bytes([tcp[0], tcp[1]]);
        let dst_port = u16::from_be_bytes([tcp[2], tcp[3]]);
        let seq = crate::wire::SeqNum(u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]));
        let tuple = crate::tcp::FourTuple::new(
            std::net::SocketAddrV6::new(p.src_addr(), src_port, 0, 0),
            std::net::SocketAddrV6::new(p.dst_addr(), dst_port, 0, 0),
        );
        let error = super::tcp_input::icmp6_error(code);
        self.tcp_icmp_error(now, tuple, seq, error);
    }
}
