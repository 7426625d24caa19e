//! IPv6, Neighbor Discovery and ICMPv6: frames built by hand into one
//! stack, and two stacks over an in-memory Ethernet.

use super::fixture::*;
use crate::stack::ndisc_cache::NeighborState;
use crate::stack::reassembly6::{self, Fragment, Reassembler6};
use crate::stack::*;
use crate::time::Duration;
use crate::wire::icmpv6::{Icmpv6Packet, Icmpv6Repr, NeighborFlags, msg_type};
use crate::wire::ipv6::{self, Ipv6Cidr, Ipv6Packet, Ipv6Repr, next_header as nh};
use crate::wire::ipv6ext::{self, Ipv6FragmentHeader, Ipv6FragmentRepr};
use std::net::Ipv6Addr;

const US6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, 2);
const PEER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, 1);

fn cidr(a: Ipv6Addr) -> Option<Ipv6Cidr> {
    Some(Ipv6Cidr {
        address: a,
        prefix_len: 64,
    })
}

fn stack6() -> Stack {
    let mut s = Stack::new(
        StackConfig {
            ip6: cidr(US6),
            ..config(US)
        },
        Instant::ZERO,
        1,
    );
    drain(&mut s);
    s
}

fn us_mac() -> EthernetAddress {
    StackConfig::default_mac(US)
}

/// An IPv6 packet from `src` to `dst` in a frame to `mac`.
fn ip6_frame(
    mac: EthernetAddress,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    hop_limit: u8,
    payload: &[u8],
) -> Vec<u8> {
    let r = Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: next,
        payload_len: payload.len(),
        hop_limit,
        traffic_class: 0,
        flow_label: 0,
    };
    let mut b = vec![0u8; r.buffer_len()];
    r.emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
    b[ipv6::HEADER_LEN..].copy_from_slice(payload);
    eth(mac, PEER_MAC, EtherType::Ipv6, &b)
}

fn icmp6(msg: &Icmpv6Repr<'_>, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let mut b = vec![0u8; msg.buffer_len()];
    msg.emit(&mut Icmpv6Packet::new_unchecked(&mut b[..]), src, dst);
    b
}

fn solicit(target: Ipv6Addr, hop_limit: u8) -> Vec<u8> {
    let dst = ipv6::solicited_node(target);
    let msg = Icmpv6Repr::NeighborSolicit {
        target_addr: target,
        source_lladdr: Some(PEER_MAC),
    };
    ip6_frame(
        ipv6::multicast_mac(dst),
        PEER6,
        dst,
        nh::ICMPV6,
        hop_limit,
        &icmp6(&msg, PEER6, dst),
    )
}

/// The IPv6 header and payload of each IPv6 frame.
fn ip6_packets(frames: &[Vec<u8>]) -> Vec<(EthernetAddress, Ipv6Repr, Vec<u8>)> {
    frames
        .iter()
        .filter_map(|f| {
            let e = EthernetFrame::new_checked(&f[..]).ok()?;
            if e.ethertype() != EtherType::Ipv6 {
                return None;
            }
            let p = Ipv6Packet::new_checked(e.payload()).ok()?;
            let r = Ipv6Repr::parse(&p).ok()?;
            Some((e.dst_addr(), r, p.payload().to_vec()))
        })
        .collect()
}

/// The ICMPv6 messages in `frames`, reassembled, with their IPv6 headers.
fn icmp6_seen(frames: &[Vec<u8>]) -> Vec<(EthernetAddress, Ipv6Repr, Vec<u8>)> {
    let mut r = Reassembler6::new();
    let mut out = Vec::new();
    for (mac, ip, payload) in ip6_packets(frames) {
        let ext = ipv6ext::walk(ip.next_header, &payload).unwrap();
        let (next, data) = match ext.fragment {
            None => (ext.next_header, payload[ext.offset..].to_vec()),
            Some(f) => {
                let frag = Fragment {
                    src: ip.src_addr,
                    dst: ip.dst_addr,
                    ident: f.ident,
                    offset: usize::from(f.frag_offset),
                    more: f.more_frags,
                    next_header: f.next_header,
                    data: &payload[ext.offset..],
                    packet: &payload,
                };
                match r.insert(Instant::ZERO, &frag).unwrap() {
                    Some(done) => done,
                    None => continue,
                }
            }
        };
        if next == nh::ICMPV6 {
            out.push((mac, ip, data));
        }
    }
    out
}

fn parse_icmp6<'a>(ip: &Ipv6Repr, data: &'a [u8]) -> Icmpv6Repr<'a> {
    Icmpv6Repr::parse(
        &Icmpv6Packet::new_checked(data).unwrap(),
        ip.src_addr,
        ip.dst_addr,
    )
    .unwrap()
}

/// RFC 4861 §7.2.3, §7.2.4: a solicitation for our address is answered
/// with a solicited, override advertisement (router flag clear) carrying
/// our MAC, sent to the asker's MAC, and the asker is learned STALE.
#[test]
fn neighbor_solicitation_for_our_address_is_advertised() {
    for target in [US6, ipv6::link_local_from_mac(us_mac())] {
        let mut s = stack6();
        s.handle_frame(Instant::ZERO, &solicit(target, 255));
        let out = icmp6_seen(&drain(&mut s));
        assert_eq!(out.len(), 1, "one advertisement");
        let (mac, ip, data) = &out[0];
        assert_eq!(*mac, PEER_MAC);
        assert_eq!(
            (ip.src_addr, ip.dst_addr, ip.hop_limit),
            (target, PEER6, 255)
        );
        assert_eq!(
            parse_icmp6(ip, data),
            Icmpv6Repr::NeighborAdvert {
                flags: NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE,
                target_addr: target,
                target_lladdr: Some(us_mac()),
            }
        );
        let n = s.neighbor_cache().get(PEER6).unwrap();
        assert_eq!((n.mac, n.state), (Some(PEER_MAC), NeighborState::Stale));
        assert_eq!(s.counters().nd_tx_adverts, 1);
    }
}

/// A solicitation for an address that is not ours is ignored: nothing
/// sent, nothing learned, counted.
#[test]
fn neighbor_solicitation_for_another_address_is_ignored() {
    let mut s = stack6();
    let other = Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, 99);
    // To its own group: not a group of ours.
    s.handle_frame(Instant::ZERO, &solicit(other, 255));
    assert_eq!(s.counters().drop_ip6_not_for_us, 1);
    // Unicast to us, or to all-nodes: reaches ND, which ignores it.
    let msg = Icmpv6Repr::NeighborSolicit {
        target_addr: other,
        source_lladdr: Some(PEER_MAC),
    };
    for (mac, dst) in [
        (us_mac(), US6),
        (ipv6::multicast_mac(ipv6::ALL_NODES), ipv6::ALL_NODES),
    ] {
        let f = ip6_frame(mac, PEER6, dst, nh::ICMPV6, 255, &icmp6(&msg, PEER6, dst));
        s.handle_frame(Instant::ZERO, &f);
    }
    assert!(drain(&mut s).is_empty());
    assert!(s.neighbor_cache().get(PEER6).is_none());
    assert_eq!(s.counters().drop_ndisc_not_for_us, 2);
    assert_eq!(s.counters().nd_tx_adverts, 0);
}

/// RFC 4861 §7.1.1: an NDP message whose hop limit is not 255 may come
/// from off the link, and is dropped.
#[test]
fn neighbor_discovery_with_hop_limit_below_255_is_dropped() {
    let mut s = stack6();
    s.handle_frame(Instant::ZERO, &solicit(US6, 254));
    assert!(drain(&mut s).is_empty());
    assert!(s.neighbor_cache().get(PEER6).is_none());
    assert_eq!(s.counters().drop_ndisc_bad_hop_limit, 1);
    // An advertisement likewise: it does not resolve a pending neighbour.
    let _ = s.route6(Instant::ZERO, PEER6);
    drain(&mut s);
    let na = Icmpv6Repr::NeighborAdvert {
        flags: NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE,
        target_addr: PEER6,
        target_lladdr: Some(PEER_MAC),
    };
    let f = ip6_frame(
        us_mac(),
        PEER6,
        US6,
        nh::ICMPV6,
        64,
        &icmp6(&na, PEER6, US6),
    );
    s.handle_frame(Instant::ZERO, &f);
    assert_eq!(s.counters().drop_ndisc_bad_hop_limit, 2);
    let n = s.neighbor_cache().get(PEER6).unwrap();
    assert_eq!(n.state, NeighborState::Incomplete);
}

/// A DAD probe for our address (RFC 4862 §5.4.3) is answered to
/// all-nodes, without the solicited flag (RFC 4861 §7.2.4).
#[test]
fn duplicate_address_probe_is_answered_to_all_nodes() {
    let mut s = stack6();
    let dst = ipv6::solicited_node(US6);
    let msg = Icmpv6Repr::NeighborSolicit {
        target_addr: US6,
        source_lladdr: None,
    };
    let f = ip6_frame(
        ipv6::multicast_mac(dst),
        Ipv6Addr::UNSPECIFIED,
        dst,
        nh::ICMPV6,
        255,
        &icmp6(&msg, Ipv6Addr::UNSPECIFIED, dst),
    );
    s.handle_frame(Instant::ZERO, &f);
    let out = icmp6_seen(&drain(&mut s));
    let (mac, ip, data) = &out[0];
    assert_eq!(*mac, ipv6::multicast_mac(ipv6::ALL_NODES));
    assert_eq!(ip.dst_addr, ipv6::ALL_NODES);
    assert!(matches!(
        parse_icmp6(ip, data),
        Icmpv6Repr::NeighborAdvert { flags, target_addr: US6, .. } if flags == NeighborFlags::OVERRIDE
    ));
}

/// Echo request from the kernel: resolved with one multicast
/// solicitation to the peer's solicited-node group, then answered byte
/// for byte (here after the peer's advertisement).
#[test]
fn echo_request_is_answered_after_resolving_the_peer() {
    let mut s = stack6();
    let data: Vec<u8> = (0..200u8).collect();
    let req = Icmpv6Repr::EchoRequest {
        ident: 7,
        seq_no: 3,
        data: &data,
    };
    // No source link-layer address known yet: the reply waits for ND.
    let f = ip6_frame(
        us_mac(),
        PEER6,
        US6,
        nh::ICMPV6,
        64,
        &icmp6(&req, PEER6, US6),
    );
    s.handle_frame(Instant::ZERO, &f);
    let out = icmp6_seen(&drain(&mut s));
    assert_eq!(out.len(), 1);
    let (mac, ip, msg) = &out[0];
    let group = ipv6::solicited_node(PEER6);
    assert_eq!(
        (*mac, ip.dst_addr, ip.hop_limit),
        (ipv6::multicast_mac(group), group, 255)
    );
    assert_eq!(
        parse_icmp6(ip, msg),
        Icmpv6Repr::NeighborSolicit {
            target_addr: PEER6,
            source_lladdr: Some(us_mac()),
        }
    );
    let na = Icmpv6Repr::NeighborAdvert {
        flags: NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE,
        target_addr: PEER6,
        target_lladdr: Some(PEER_MAC),
    };
    let f = ip6_frame(
        us_mac(),
        PEER6,
        US6,
        nh::ICMPV6,
        255,
        &icmp6(&na, PEER6, US6),
    );
    s.handle_frame(Instant::ZERO, &f);
    let out = icmp6_seen(&drain(&mut s));
    let (mac, ip, msg) = &out[0];
    assert_eq!((*mac, ip.src_addr, ip.dst_addr), (PEER_MAC, US6, PEER6));
    assert_eq!(
        parse_icmp6(ip, msg),
        Icmpv6Repr::EchoReply {
            ident: 7,
            seq_no: 3,
            data: &data
        }
    );
    let n = s.neighbor_cache().get(PEER6).unwrap();
    assert_eq!(n.state, NeighborState::Reachable);
}

/// Two stacks: A pings B's address with 4000 bytes. A resolves B with ND,
/// the request and the reply cross as fragments, and the reply's data is
/// the request's, byte for byte.
#[test]
fn two_stacks_resolve_and_ping_with_fragments() {
    let a6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    let b6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
    let mut p = Pair::new();
    p.a = Stack::new(
        StackConfig {
            ip6: cidr(a6),
            ..config(A)
        },
        Instant::ZERO,
        11,
    );
    p.b = Stack::new(
        StackConfig {
            ip6: cidr(b6),
            ..config(B)
        },
        Instant::ZERO,
        22,
    );
    let data: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8).collect();
    let req = Icmpv6Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: &data,
    };
    let msg = icmp6(&req, a6, b6);
    p.a.send_ipv6(Instant::ZERO, a6, b6, nh::ICMPV6, 64, &msg)
        .unwrap();
    p.exchange();
    assert_eq!(p.a.counters().nd_tx_solicits, 1);
    assert_eq!(p.b.counters().nd_tx_adverts, 1);
    assert!(
        p.a.counters().ip6_frag_tx >= 3,
        "the request went in fragments"
    );
    assert!(
        p.b.counters().ip6_frag_tx >= 3,
        "the reply went in fragments"
    );
    assert_eq!(p.b.counters().ip6_reassembled, 1);
    assert_eq!(p.a.counters().ip6_reassembled, 1);
    let b_mac = StackConfig::default_mac(B);
    let n = p.a.neighbor_cache().get(b6).unwrap();
    assert_eq!((n.mac, n.state), (Some(b_mac), NeighborState::Reachable));
    // B learned A from the solicitation's source address option.
    assert_eq!(
        p.b.neighbor_cache().get(a6).unwrap().mac,
        Some(StackConfig::default_mac(A))
    );
    let replies: Vec<_> = icmp6_seen(&p.b_to_a)
        .into_iter()
        .filter(|(_, _, d)| d[0] == msg_type::ECHO_REPLY)
        .collect();
    assert_eq!(replies.len(), 1);
    let (_, ip, d) = &replies[0];
    assert_eq!(
        parse_icmp6(ip, d),
        Icmpv6Repr::EchoReply {
            ident: 1,
            seq_no: 1,
            data: &data
        }
    );
    for f in p.a_to_b.iter().chain(&p.b_to_a) {
        assert!(f.len() <= 1514, "frame larger than the MTU");
    }
}

/// Link-local only: two stacks with no configured IPv6 address still
/// reach each other over fe80::/64.
#[test]
fn two_stacks_ping_over_link_local() {
    let mut p = Pair::new();
    let a6 = ipv6::link_local_from_mac(StackConfig::default_mac(A));
    let b6 = ipv6::link_local_from_mac(StackConfig::default_mac(B));
    assert_eq!(p.a.ipv6_addresses(), [a6]);
    let req = Icmpv6Repr::EchoRequest {
        ident: 2,
        seq_no: 9,
        data: b"hello",
    };
    p.a.send_ipv6(Instant::ZERO, a6, b6, nh::ICMPV6, 64, &icmp6(&req, a6, b6))
        .unwrap();
    p.exchange();
    assert_eq!(p.b.counters().icmp6_tx_echo_reply, 1);
    assert_eq!(
        p.a.counters().icmp6_rx,
        2,
        "the advertisement and the reply"
    );
}

/// Resolution that gets no answer: three multicast solicitations a
/// second apart, then failure; the waiting packets are dropped and the
/// queue was bounded meanwhile.
#[test]
fn unanswered_resolution_retries_then_fails() {
    let mut s = stack6();
    let req = Icmpv6Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: b"x",
    };
    let msg = icmp6(&req, US6, PEER6);
    let mut queued = 0;
    for _ in 0..100 {
        if s.send_ipv6(Instant::ZERO, US6, PEER6, nh::ICMPV6, 64, &msg)
            .is_ok()
        {
            queued += 1;
        }
    }
    assert_eq!(queued, crate::stack::ndisc_cache::QUEUE_PER_DESTINATION);
    assert_eq!(s.counters().drop_nd_queue_full, 100 - queued as u64);
    let mut solicits = icmp6_seen(&drain(&mut s)).len();
    let mut t = Instant::ZERO;
    while let Some(next) = s.poll_timeout() {
        if next > Instant::ZERO + Duration::from_secs(10) {
            break;
        }
        t = next;
        s.handle_timeout(t);
        solicits += icmp6_seen(&drain(&mut s)).len();
    }
    assert_eq!(solicits, 3);
    assert_eq!(s.counters().nd_failed, 1);
    assert!(s.neighbor_cache().get(PEER6).is_none());
    assert!(t >= Instant::ZERO + Duration::from_secs(3));
}

/// Learns the peer (STALE) from a solicitation, so replies go out at once.
fn learn_peer6(s: &mut Stack) {
    s.handle_frame(Instant::ZERO, &solicit(US6, 255));
    drain(s);
}

/// IPv6 fragments of `payload` (upper layer `next`) from PEER6 to US6,
/// with `chunk` bytes each.
fn fragments(next: u8, payload: &[u8], ident: u32, chunk: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < payload.len() {
        let end = (off + chunk).min(payload.len());
        let mut b = vec![0u8; 8 + end - off];
        Ipv6FragmentRepr {
            next_header: next,
            frag_offset: off as u16,
            more_frags: end < payload.len(),
            ident,
        }
        .emit(&mut Ipv6FragmentHeader::new_unchecked(&mut b[..8]));
        b[8..].copy_from_slice(&payload[off..end]);
        out.push(ip6_frame(us_mac(), PEER6, US6, nh::FRAGMENT, 64, &b));
        off = end;
    }
    out
}

/// RFC 8200 §4.5: fragments arriving out of order are reassembled, and
/// the 3000-byte echo is answered whole, byte for byte.
#[test]
fn fragments_are_reassembled_in_any_order() {
    let mut s = stack6();
    learn_peer6(&mut s);
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 253) as u8).collect();
    let req = Icmpv6Repr::EchoRequest {
        ident: 5,
        seq_no: 6,
        data: &data,
    };
    let mut frags = fragments(nh::ICMPV6, &icmp6(&req, PEER6, US6), 0x1234, 1232);
    frags.reverse();
    for f in &frags {
        s.handle_frame(Instant::ZERO, f);
    }
    assert_eq!(s.counters().ip6_reassembled, 1);
    let out = icmp6_seen(&drain(&mut s));
    let (_, ip, d) = &out[0];
    assert_eq!(
        parse_icmp6(ip, d),
        Icmpv6Repr::EchoReply {
            ident: 5,
            seq_no: 6,
            data: &data
        }
    );
}

/// Reassembly memory is bounded: first fragments of many packets never
/// hold more than the limit, and after 60 s they are all gone, each
/// answered with Time Exceeded (code 1) as RFC 8200 §4.5 asks.
#[test]
fn reassembly_is_bounded_and_times_out() {
    let mut s = stack6();
    learn_peer6(&mut s);
    let n = reassembly6::MAX_PACKETS + 20;
    for ident in 0..n as u32 {
        let frags = fragments(nh::ICMPV6, &[0x80u8; 2000], ident, 1000);
        s.handle_frame(Instant::ZERO, &frags[0]);
    }
    assert_eq!(s.ipv6_reassembler().len(), reassembly6::MAX_PACKETS);
    assert!(s.ipv6_reassembler().bytes() <= reassembly6::MAX_BYTES);
    assert_eq!(s.counters().drop_ip6_frag, 20);
    let t = Instant::ZERO + reassembly6::REASSEMBLY_TIMEOUT;
    // The peer asks for us again meanwhile, so its entry stays usable.
    s.handle_frame(t - Duration::from_secs(1), &solicit(US6, 255));
    let mut buf = vec![0u8; 1514];
    while s.poll_transmit(t, &mut buf).is_some() {}
    assert_eq!(s.poll_timeout().map(|d| d <= t), Some(true));
    s.handle_timeout(t);
    assert!(s.ipv6_reassembler().is_empty());
    assert_eq!(s.ipv6_reassembler().bytes(), 0);
    assert_eq!(
        s.counters().ip6_reasm_timeout,
        reassembly6::MAX_PACKETS as u64
    );
    let mut exceeded = 0;
    while let Some(len) = s.poll_transmit(t, &mut buf) {
        for (_, ip, d) in icmp6_seen(&[buf[..len].to_vec()]) {
            if let Icmpv6Repr::TimeExceeded { code: 1, .. } = parse_icmp6(&ip, &d) {
                exceeded += 1;
            }
        }
    }
    assert!(exceeded > 0, "Time Exceeded, code 1, sent (rate-limited)");
}

/// Overlapping fragments discard the whole packet (RFC 8200 §4.5).
#[test]
fn overlapping_fragments_discard_the_packet() {
    let mut s = stack6();
    learn_peer6(&mut s);
    let req = Icmpv6Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: &[1u8; 1600],
    };
    let msg = icmp6(&req, PEER6, US6);
    let frags = fragments(nh::ICMPV6, &msg, 9, 800);
    // A fragment at 400 overlaps the first one's 400..800 with other bytes.
    let mut odd = vec![0u8; 8 + 800];
    Ipv6FragmentRepr {
        next_header: nh::ICMPV6,
        frag_offset: 400,
        more_frags: true,
        ident: 9,
    }
    .emit(&mut Ipv6FragmentHeader::new_unchecked(&mut odd[..8]));
    s.handle_frame(Instant::ZERO, &frags[0]);
    s.handle_frame(
        Instant::ZERO,
        &ip6_frame(us_mac(), PEER6, US6, nh::FRAGMENT, 64, &odd),
    );
    for f in &frags[1..] {
        s.handle_frame(Instant::ZERO, f);
    }
    assert_eq!(s.counters().ip6_reassembled, 0);
    assert_eq!(s.counters().icmp6_tx_echo_reply, 0);
    assert!(s.counters().drop_ip6_frag >= 1);
}

/// An upper layer we do not know is a Parameter Problem, code 1, pointing
/// at the Next Header field (RFC 8200 §4, RFC 4443 §3.4); UDP (not served)
/// is a port unreachable.
#[test]
fn unknown_next_header_is_a_parameter_problem() {
    let mut s = stack6();
    learn_peer6(&mut s);
    let f = ip6_frame(us_mac(), PEER6, US6, 200, 64, &[0u8; 16]);
    s.handle_frame(Instant::ZERO, &f);
    let out = icmp6_seen(&drain(&mut s));
    let (_, ip, d) = &out[0];
    let whole = &EthernetFrame::new_checked(&f[..])
        .unwrap()
        .payload()
        .to_vec();
    assert_eq!(
        parse_icmp6(ip, d),
        Icmpv6Repr::ParamProblem {
            code: 1,
            pointer: 6,
            original: whole,
        }
    );
    let f = ip6_frame(us_mac(), PEER6, US6, nh::UDP, 64, &[0u8; 20]);
    s.handle_frame(Instant::ZERO, &f);
    let out = icmp6_seen(&drain(&mut s));
    assert!(matches!(
        parse_icmp6(&out[0].1, &out[0].2),
        Icmpv6Repr::DstUnreachable { code: 4, .. }
    ));
    assert_eq!(s.counters().drop_ip6_unknown_next_header, 1);
    assert_eq!(s.counters().drop_ip6_no_port, 1);
}

/// A Packet Too Big about a packet we sent records the path MTU (never
/// below 1280), and later packets to that destination are fragmented to
/// fit it (RFC 8201 §4).
#[test]
fn packet_too_big_records_the_path_mtu() {
    let mut s = stack6();
    learn_peer6(&mut s);
    assert_eq!(s.path_mtu6(Instant::ZERO, PEER6), 1500);
    let quoted = ip6_frame(PEER_MAC, US6, PEER6, nh::ICMPV6, 64, &[0u8; 1400]);
    let quoted = &quoted[ethernet::HEADER_LEN..];
    let ptb = Icmpv6Repr::PacketTooBig {
        mtu: 1300,
        original: crate::wire::icmpv6::error_quote(quoted),
    };
    let f = ip6_frame(
        us_mac(),
        PEER6,
        US6,
        nh::ICMPV6,
        64,
        &icmp6(&ptb, PEER6, US6),
    );
    s.handle_frame(Instant::ZERO, &f);
    assert_eq!(s.counters().icmp6_rx_packet_too_big, 1);
    assert_eq!(s.path_mtu6(Instant::ZERO, PEER6), 1300);
    // Lower than 1280 is taken as 1280.
    let ptb = Icmpv6Repr::PacketTooBig {
        mtu: 600,
        original: crate::wire::icmpv6::error_quote(quoted),
    };
    let f = ip6_frame(
        us_mac(),
        PEER6,
        US6,
        nh::ICMPV6,
        64,
        &icmp6(&ptb, PEER6, US6),
    );
    s.handle_frame(Instant::ZERO, &f);
    assert_eq!(s.path_mtu6(Instant::ZERO, PEER6), 1280);
    let req = Icmpv6Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: &[0u8; 1400],
    };
    s.send_ipv6(
        Instant::ZERO,
        US6,
        PEER6,
        nh::ICMPV6,
        64,
        &icmp6(&req, US6, PEER6),
    )
    .unwrap();
    let frames = drain(&mut s);
    assert_eq!(frames.len(), 2);
    assert!(
        frames
            .iter()
            .all(|f| f.len() - ethernet::HEADER_LEN <= 1280)
    );
    // It expires.
    let later = Instant::ZERO + crate::stack::ipv6::PMTU_EXPIRES;
    assert_eq!(s.path_mtu6(later, PEER6), 1500);
}

/// Packets to another address, or to a group we are not in, are not
/// ours; a group we are in (all-nodes) is.
#[test]
fn destination_filter() {
    let mut s = stack6();
    learn_peer6(&mut s);
    let req = Icmpv6Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: b"x",
    };
    let other = Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, 77);
    let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);
    for dst in [other, group] {
        let mac = if dst.is_multicast() {
            ipv6::multicast_mac(dst)
        } else {
            us_mac()
        };
        let f = ip6_frame(mac, PEER6, dst, nh::ICMPV6, 64, &icmp6(&req, PEER6, dst));
        s.handle_frame(Instant::ZERO, &f);
    }
    assert_eq!(s.counters().drop_ip6_not_for_us, 2);
    assert!(drain(&mut s).is_empty());
    let all = ipv6::ALL_NODES;
    let f = ip6_frame(
        ipv6::multicast_mac(all),
        PEER6,
        all,
        nh::ICMPV6,
        64,
        &icmp6(&req, PEER6, all),
    );
    s.handle_frame(Instant::ZERO, &f);
    let out = icmp6_seen(&drain(&mut s));
    assert_eq!(out[0].1.src_addr, US6, "answered from our unicast address");
}

/// Random and mutated IPv6 frames (solicitations, advertisements, echoes,
/// fragments, extension headers), their ICMPv6 checksums fixed up half
/// the time so they get past it: no panic, bounded reassembly and
/// neighbour state, every frame accounted for.
#[test]
fn random_and_mutated_ipv6_frames() {
    use crate::rand::Rng;
    let mut s = stack6();
    let mut seeds = vec![solicit(US6, 255), solicit(PEER6, 255)];
    let na = Icmpv6Repr::NeighborAdvert {
        flags: NeighborFlags::SOLICITED,
        target_addr: PEER6,
        target_lladdr: Some(PEER_MAC),
    };
    seeds.push(ip6_frame(
        us_mac(),
        PEER6,
        US6,
        nh::ICMPV6,
        255,
        &icmp6(&na, PEER6, US6),
    ));
    let req = Icmpv6Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: &[9u8; 2500],
    };
    seeds.extend(fragments(nh::ICMPV6, &icmp6(&req, PEER6, US6), 77, 1000));
    let small = Icmpv6Repr::EchoRequest {
        ident: 1,
        seq_no: 2,
        data: b"ping",
    };
    seeds.push(ip6_frame(
        us_mac(),
        PEER6,
        US6,
        nh::ICMPV6,
        64,
        &icmp6(&small, PEER6, US6),
    ));
    // Hop-by-Hop (PadN) then ICMPv6.
    let mut hbh = vec![nh::ICMPV6, 0, 1, 4, 0, 0, 0, 0];
    hbh.extend(icmp6(&small, PEER6, US6));
    seeds.push(ip6_frame(us_mac(), PEER6, US6, nh::HOP_BY_HOP, 64, &hbh));
    let mut rng = Rng::new(0x6b6b_1234);
    let mut buf = vec![0u8; 1514];
    let n = 200_000u64;
    let mut t = Instant::ZERO;
    for i in 0..n {
        let mut f = seeds[rng.index(seeds.len())].clone();
        for _ in 0..1 + rng.index(3) {
            match rng.index(3) {
                0 if f.len() > 14 => {
                    let at = 14 + rng.index(f.len() - 14);
                    f[at] = rng.next_u64() as u8;
                }
                1 => f.truncate(rng.index(f.len() + 1)),
                _ => f.extend((0..rng.index(16)).map(|_| rng.next_u64() as u8)),
            }
        }
        if rng.index(2) == 0 {
            fix_icmp6_checksum(&mut f);
        }
        s.handle_frame(t, &f);
        if i % 64 == 0 {
            t += Duration::from_millis(500);
            s.handle_timeout(t);
            while s.poll_transmit(t, &mut buf).is_some() {}
        }
    }
    let c = s.counters().clone();
    assert_eq!(c.rx_frames, n);
    assert_eq!(
        super::fuzz::accounted(&c),
        c.rx_frames,
        "every frame accounted for:\n{c}"
    );
    assert!(c.icmp6_rx > 1000 && c.ip6_reassembled > 0, "{c}");
    assert!(s.ipv6_reassembler().bytes() <= reassembly6::MAX_BYTES);
    assert!(s.neighbor_cache().entries().count() <= crate::stack::ndisc_cache::MAX_ENTRIES);
}

/// Recomputes the checksum of an ICMPv6 message right after the fixed
/// header, when the frame still looks like one.
fn fix_icmp6_checksum(f: &mut [u8]) {
    let Ok(p) = Ipv6Packet::new_checked(&f[ethernet::HEADER_LEN.min(f.len())..]) else {
        return;
    };
    if p.next_header() != nh::ICMPV6 || p.payload().len() < 8 {
        return;
    }
    let (src, dst, len) = (p.src_addr(), p.dst_addr(), p.payload().len());
    let start = ethernet::HEADER_LEN + ipv6::HEADER_LEN;
    let mut m = Icmpv6Packet::new_unchecked(&mut f[start..start + len]);
    m.fill_checksum(src, dst);
}

/// Extension headers (RFC 8200 §4): a Hop-by-Hop header with padding is
/// skipped and the echo inside answered; a Destination Options header
/// with an unknown option whose action bits are 10 is a Parameter
/// Problem, code 2, pointing at that option.
#[test]
fn extension_headers_are_walked_or_reported() {
    let mut s = stack6();
    learn_peer6(&mut s);
    let req = Icmpv6Repr::EchoRequest {
        ident: 3,
        seq_no: 4,
        data: b"through a hop-by-hop header",
    };
    let mut hbh = vec![nh::ICMPV6, 0, 1, 4, 0, 0, 0, 0];
    hbh.extend(icmp6(&req, PEER6, US6));
    s.handle_frame(
        Instant::ZERO,
        &ip6_frame(us_mac(), PEER6, US6, nh::HOP_BY_HOP, 64, &hbh),
    );
    let out = icmp6_seen(&drain(&mut s));
    assert!(matches!(
        parse_icmp6(&out[0].1, &out[0].2),
        Icmpv6Repr::EchoReply {
            ident: 3,
            seq_no: 4,
            ..
        }
    ));
    // Option type 0x80 (action 10: discard and report), 4 bytes of data.
    let mut dst_opts = vec![nh::ICMPV6, 0, 0x80, 4, 0, 0, 0, 0];
    dst_opts.extend(icmp6(&req, PEER6, US6));
    s.handle_frame(
        Instant::ZERO,
        &ip6_frame(us_mac(), PEER6, US6, nh::DST_OPTS, 64, &dst_opts),
    );
    let out = icmp6_seen(&drain(&mut s));
    assert!(matches!(
        parse_icmp6(&out[0].1, &out[0].2),
        Icmpv6Repr::ParamProblem {
            code: 2,
            pointer: 42,
            ..
        }
    ));
    assert_eq!(s.counters().drop_ip6_ext_header, 1);
}

/// ICMPv6 errors are rate limited as the IPv4 ones are (RFC 4443 §2.4
/// (f)): a burst of 50, then one a millisecond.
#[test]
fn icmpv6_errors_are_rate_limited() {
    let mut s = stack6();
    learn_peer6(&mut s);
    for _ in 0..80 {
        let f = ip6_frame(us_mac(), PEER6, US6, 200, 64, &[0u8; 8]);
        s.handle_frame(Instant::ZERO, &f);
    }
    assert_eq!(icmp6_seen(&drain(&mut s)).len(), 50);
    assert_eq!(s.counters().icmp6_rate_limited, 30);
    assert_eq!(s.counters().icmp6_tx_errors, 50);
}

/// TCP over IPv6 from the unspecified or a multicast source, or to a
/// group, opens nothing and is answered with nothing (RFC 9293 §3.9.1,
/// §3.10.7.2), even with a listener on the port.
#[test]
fn tcp_from_a_non_unicast_source_is_dropped() {
    use crate::wire::tcp::{TcpFlags, TcpOptions, TcpPacket, TcpRepr};
    let mut s = stack6();
    learn_peer6(&mut s);
    let l = s.socket();
    s.bind(
        l,
        std::net::SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 80, 0, 0),
    )
    .unwrap();
    s.listen(l, 8).unwrap();
    let syn = |src: Ipv6Addr, dst: Ipv6Addr| {
        let r = TcpRepr {
            src_port: 4000,
            dst_port: 80,
            seq: crate::wire::SeqNum(1),
            ack: crate::wire::SeqNum(0),
            flags: TcpFlags::SYN,
            window: 1000,
            urgent: 0,
            options: TcpOptions::default(),
            payload: &[],
        };
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(&mut TcpPacket::new_unchecked(&mut b[..]), src, dst);
        ip6_frame(us_mac(), src, dst, nh::TCP, 64, &b)
    };
    let group: Ipv6Addr = "ff02::1:ff00:2".parse().unwrap();
    for f in [
        syn(Ipv6Addr::UNSPECIFIED, US6),
        syn("ff02::5".parse().unwrap(), US6),
        syn(PEER6, group),
    ] {
        s.handle_frame(Instant::ZERO, &f);
        assert!(drain(&mut s).is_empty());
    }
    // A multicast source is malformed already (`Ipv6Repr::parse`).
    assert_eq!(s.counters().drop_ip6_bad_source, 1);
    assert_eq!(s.counters().drop_ip6_malformed, 1);
    assert_eq!(s.counters().drop_ip6_not_for_us, 1);
    assert_eq!(s.counters().tcp_rx, 0);
    assert_eq!(s.listener_queues(l).unwrap().0, 0);
    // From the peer's unicast address, the SYN is answered.
    s.handle_frame(Instant::ZERO, &syn(PEER6, US6));
    assert_eq!(s.counters().tcp_rx, 1);
    assert_eq!(drain(&mut s).len(), 1, "the SYN-ACK");
}
