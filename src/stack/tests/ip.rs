//! One stack fed frames by hand: ARP, IPv4 in and out (fragments,
//! routing), ICMP; frames in, frames out, counters.

use super::fixture::*;
use crate::stack::*;
use crate::wire::checksum::{self, PROTO_ICMP};
use crate::wire::icmpv4::{Icmpv4Packet, Icmpv4Repr};
use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr};

#[test]
fn announces_itself_with_gratuitous_arp() {
    let mut s = Stack::new(config(US), Instant::ZERO, 1);
    let frames = drain(&mut s);
    assert_eq!(frames.len(), 1);
    let e = EthernetFrame::new_checked(&frames[0][..]).unwrap();
    assert!(e.dst_addr().is_broadcast());
    let a = ArpRepr::parse(&ArpPacket::new_checked(e.payload()).unwrap()).unwrap();
    assert_eq!(a.operation, Operation::Request);
    assert_eq!(a.source_protocol_addr, US);
    assert_eq!(a.target_protocol_addr, US);
}

#[test]
fn answers_arp_request_and_learns_the_asker() {
    let mut s = stack();
    let out = learn_peer(&mut s);
    assert_eq!(out.len(), 1);
    let e = EthernetFrame::new_checked(&out[0][..]).unwrap();
    assert_eq!(e.dst_addr(), PEER_MAC);
    let a = ArpRepr::parse(&ArpPacket::new_checked(e.payload()).unwrap()).unwrap();
    assert_eq!(a.operation, Operation::Reply);
    assert_eq!(a.source_hardware_addr, StackConfig::default_mac(US));
    assert_eq!(a.source_protocol_addr, US);
    assert_eq!(a.target_protocol_addr, PEER);
    assert_eq!(
        s.arp_cache().entries().next().map(|(ip, n)| (ip, n.mac)),
        Some((PEER, PEER_MAC))
    );
}

#[test]
fn ignores_arp_for_other_hosts_without_learning() {
    let mut s = stack();
    let other = Ipv4Addr::new(198, 18, 0, 77);
    s.handle_frame(
        Instant::ZERO,
        &arp_frame(
            Operation::Request,
            PEER_MAC,
            PEER,
            EthernetAddress([0; 6]),
            other,
        ),
    );
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.arp_cache().entries().count(), 0);
    assert_eq!(s.counters().drop_arp_not_for_us, 1);
}

#[test]
fn ping_is_answered_byte_for_byte() {
    let mut s = stack();
    learn_peer(&mut s);
    let data: Vec<u8> = (0..56u8).collect();
    for f in ip_frames(PROTO_ICMP, &echo_request(0x77, 3, &data), 9, 1500) {
        s.handle_frame(Instant::ZERO, &f);
    }
    let out = drain(&mut s);
    assert_eq!(out.len(), 1);
    let (ip, payload) = reassemble_sent(&out);
    assert_eq!(
        (ip.src_addr, ip.dst_addr, ip.protocol),
        (US, PEER, PROTO_ICMP)
    );
    let r = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&payload[..]).unwrap()).unwrap();
    assert_eq!(
        r,
        Icmpv4Repr::EchoReply {
            ident: 0x77,
            seq_no: 3,
            data: &data
        }
    );
    assert_eq!(s.counters().icmp_tx_echo_reply, 1);
}

#[test]
fn large_ping_is_reassembled_and_the_reply_fragmented() {
    let mut s = stack();
    learn_peer(&mut s);
    let data: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8).collect();
    let frames = ip_frames(PROTO_ICMP, &echo_request(1, 1, &data), 77, 1500);
    assert_eq!(frames.len(), 3);
    // Out of order, as a network may deliver them.
    for i in [2, 0, 1] {
        s.handle_frame(Instant::ZERO, &frames[i]);
    }
    let out = drain(&mut s);
    assert_eq!(
        out.len(),
        3,
        "4008 bytes of ICMP need three 1500-byte fragments"
    );
    let (_, payload) = reassemble_sent(&out);
    let r = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&payload[..]).unwrap()).unwrap();
    assert_eq!(
        r,
        Icmpv4Repr::EchoReply {
            ident: 1,
            seq_no: 1,
            data: &data
        }
    );
    assert_eq!(s.counters().ip_reassembled, 1);
    assert_eq!(s.counters().ip_frag_tx, 3);
}

#[test]
fn reply_to_unknown_neighbour_waits_for_arp() {
    let mut s = stack();
    for f in ip_frames(PROTO_ICMP, &echo_request(5, 1, b"hello"), 3, 1500) {
        s.handle_frame(Instant::ZERO, &f);
    }
    let out = drain(&mut s);
    assert_eq!(out.len(), 1, "only an ARP request until the peer answers");
    let e = EthernetFrame::new_checked(&out[0][..]).unwrap();
    assert_eq!(e.ethertype(), EtherType::Arp);
    let reply = arp_frame(
        Operation::Reply,
        PEER_MAC,
        PEER,
        StackConfig::default_mac(US),
        US,
    );
    s.handle_frame(Instant::ZERO, &reply);
    let out = drain(&mut s);
    assert_eq!(out.len(), 1);
    let (_, payload) = reassemble_sent(&out);
    assert!(matches!(
        Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&payload[..]).unwrap()).unwrap(),
        Icmpv4Repr::EchoReply { ident: 5, .. }
    ));
}

#[test]
fn arp_resolution_retries_then_gives_up() {
    let mut s = stack();
    for f in ip_frames(PROTO_ICMP, &echo_request(5, 1, b"x"), 3, 1500) {
        s.handle_frame(Instant::ZERO, &f);
    }
    assert_eq!(drain(&mut s).len(), 1);
    let mut t = Instant::ZERO;
    let mut requests = 1;
    while let Some(next) = s.poll_timeout() {
        t = next;
        s.handle_timeout(t);
        requests += drain(&mut s).len();
        if t > Instant::from_millis(10_000) {
            break;
        }
    }
    assert_eq!(requests, arp_cache::MAX_REQUESTS as usize);
    assert_eq!(s.counters().arp_failed, 1);
    assert!(t <= Instant::from_millis(10_000));
}

#[test]
fn bad_frames_are_dropped_and_counted() {
    let mut s = stack();
    learn_peer(&mut s);
    let good = ip_frames(PROTO_ICMP, &echo_request(1, 1, b"abc"), 1, 1500).remove(0);
    let mut bad_ip_sum = good.clone();
    bad_ip_sum[14 + 8] ^= 1; // TTL changes, checksum no longer verifies
    let mut bad_icmp_sum = good.clone();
    let last = bad_icmp_sum.len() - 1;
    bad_icmp_sum[last] ^= 0xff;
    let mut wrong_dst = good.clone();
    wrong_dst[14 + 19] = 99;
    let c = checksum::checksum(&{
        let mut h = wrong_dst[14..34].to_vec();
        h[10] = 0;
        h[11] = 0;
        h
    });
    wrong_dst[14 + 10..14 + 12].copy_from_slice(&c.to_be_bytes());
    let truncated = good[..14 + 12].to_vec();
    let mut short_total = good.clone();
    short_total.truncate(14 + 22);
    for f in [
        &bad_ip_sum,
        &bad_icmp_sum,
        &wrong_dst,
        &truncated,
        &short_total,
        &good[..10].to_vec(),
    ] {
        s.handle_frame(Instant::ZERO, f);
    }
    assert!(drain(&mut s).is_empty());
    let c = s.counters();
    assert_eq!(c.drop_ip_checksum, 1);
    assert_eq!(c.drop_icmp_malformed, 1);
    assert_eq!(c.drop_ip_not_for_us, 1);
    assert_eq!(c.drop_ip_truncated, 2);
    assert_eq!(c.drop_eth_truncated, 1);
}

#[test]
fn unknown_protocol_gets_protocol_unreachable() {
    let mut s = stack();
    learn_peer(&mut s);
    for f in ip_frames(47, &[0u8; 24], 1, 1500) {
        s.handle_frame(Instant::ZERO, &f);
    }
    let out = drain(&mut s);
    assert_eq!(out.len(), 1);
    let (_, payload) = reassemble_sent(&out);
    let r = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&payload[..]).unwrap()).unwrap();
    match r {
        Icmpv4Repr::DstUnreachable { code, original, .. } => {
            assert_eq!(code, crate::wire::icmpv4::unreachable::PROTOCOL);
            assert_eq!(&original[12..16], &PEER.octets());
            assert_eq!(original.len(), 20 + 24);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn icmp_errors_are_rate_limited() {
    let mut s = stack();
    learn_peer(&mut s);
    for i in 0..200u16 {
        for f in ip_frames(47, &[0u8; 8], i, 1500) {
            s.handle_frame(Instant::ZERO, &f);
        }
    }
    assert_eq!(drain(&mut s).len(), 50);
    assert_eq!(s.counters().icmp_rate_limited, 150);
}

/// Two stacks joined by an in-memory Ethernet: ARP resolution and ping.
#[test]
fn two_stacks_ping_over_in_memory_ethernet() {
    let a_ip = Ipv4Addr::new(10, 0, 0, 1);
    let b_ip = Ipv4Addr::new(10, 0, 0, 2);
    let mut a = Stack::new(
        StackConfig {
            prefix_len: 24,
            ..config(a_ip)
        },
        Instant::ZERO,
        1,
    );
    let mut b = Stack::new(
        StackConfig {
            prefix_len: 24,
            ..config(b_ip)
        },
        Instant::ZERO,
        2,
    );
    let data = vec![0x5a; 3000];
    let req = echo_request(42, 7, &data);
    a.send_ip(Instant::ZERO, b_ip, PROTO_ICMP, &req).unwrap();
    let mut got_reply = None;
    let mut buf = vec![0u8; 1514];
    for _ in 0..20 {
        while let Some(n) = a.poll_transmit(Instant::ZERO, &mut buf) {
            b.handle_frame(Instant::ZERO, &buf[..n]);
        }
        while let Some(n) = b.poll_transmit(Instant::ZERO, &mut buf) {
            let f = EthernetFrame::new_checked(&buf[..n]).unwrap();
            if f.ethertype() == EtherType::Ipv4 {
                let p = Ipv4Packet::new_checked(f.payload()).unwrap();
                if Ipv4Repr::parse(&p).unwrap().is_fragment() {
                    got_reply = Some(());
                }
            }
            a.handle_frame(Instant::ZERO, &buf[..n]);
        }
    }
    assert!(
        got_reply.is_some(),
        "the 3000-byte reply crossed as fragments"
    );
    assert_eq!(b.counters().icmp_tx_echo_reply, 1);
    assert_eq!(a.counters().icmp_rx, 1, "a got its echo reply");
    assert_eq!(a.counters().ip_reassembled, 1);
}

#[test]
fn route_is_loopback_on_link_gateway_or_unreachable() {
    use crate::stack::ipv4::{NextHop, SendError};
    let t = Instant::ZERO;
    let far = Ipv4Addr::new(203, 0, 113, 7);
    let gw = Ipv4Addr::new(198, 18, 0, 254);
    let mut s = stack();
    // This host, by its address or 127/8, never reaches the link.
    assert_eq!(s.route(t, US), Ok(NextHop::Local));
    assert_eq!(s.route(t, Ipv4Addr::new(127, 0, 0, 9)), Ok(NextHop::Local));
    // On-link: the destination is its own next hop, resolved by ARP.
    assert_eq!(s.route(t, PEER), Ok(NextHop::Pending(PEER)));
    learn_peer(&mut s);
    assert_eq!(s.route(t, PEER), Ok(NextHop::Resolved(PEER_MAC)));
    // Off-link without a gateway: no route, and nothing is sent.
    assert_eq!(s.route(t, far), Err(SendError::NetworkUnreachable));
    let req = echo_request(1, 1, b"x");
    assert_eq!(
        s.send_ip(t, far, PROTO_ICMP, &req),
        Err(SendError::NetworkUnreachable)
    );
    assert!(drain(&mut s).is_empty());

    // With a gateway, off-link goes through it; on-link stays direct.
    let cfg = StackConfig {
        gateway: Some(gw),
        ..config(US)
    };
    let mut g = Stack::new(cfg, t, 1);
    drain(&mut g);
    assert_eq!(g.route(t, far), Ok(NextHop::Pending(gw)));
    assert_eq!(g.route(t, PEER), Ok(NextHop::Pending(PEER)));
    let asked: Vec<Ipv4Addr> = drain(&mut g)
        .iter()
        .map(|f| {
            let e = EthernetFrame::new_checked(&f[..]).unwrap();
            let a = ArpRepr::parse(&ArpPacket::new_checked(e.payload()).unwrap()).unwrap();
            a.target_protocol_addr
        })
        .collect();
    assert_eq!(asked, [gw, PEER]);
}

/// The runtime's 24 random bytes become the whole 128-bit key and the
/// seed, nothing expanded from fewer bits.
#[test]
fn entropy_takes_the_whole_key_from_the_random_bytes() {
    let bytes: [u8; 24] = core::array::from_fn(|i| i as u8 + 1);
    let e = Entropy::from_bytes(bytes);
    assert_eq!(e.key[..], bytes[..16]);
    assert_eq!(e.seed, u64::from_le_bytes(bytes[16..].try_into().unwrap()));
    assert_ne!(Entropy::from_seed(1).key, Entropy::from_seed(2).key);
}
