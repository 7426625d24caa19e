//! Stack tests: frames in, frames out, counters.

use super::*;
use crate::time::Duration;
use crate::wire::arp::PACKET_LEN;
use crate::wire::checksum::{self, PROTO_ICMP};
use crate::wire::icmpv4::{Icmpv4Packet, Icmpv4Repr};
use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr};

const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const PEER_MAC: EthernetAddress = EthernetAddress([0x46, 0xc2, 0x22, 0xe8, 0x1d, 0x0d]);

fn config(ip: Ipv4Addr) -> StackConfig {
    StackConfig {
        mac: StackConfig::default_mac(ip),
        ip,
        prefix_len: 24,
        gateway: None,
        mtu: 1500,
        offload: false,
    }
}

fn stack() -> Stack {
    let mut s = Stack::new(config(US), Instant::ZERO, 1);
    drain(&mut s); // the gratuitous ARP
    s
}

fn drain(s: &mut Stack) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1514];
    while let Some(n) = s.poll_transmit(Instant::ZERO, &mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

fn eth(dst: EthernetAddress, src: EthernetAddress, ty: EtherType, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN + payload.len()];
    let mut e = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr {
        src_addr: src,
        dst_addr: dst,
        ethertype: ty,
    }
    .emit(&mut e);
    e.payload_mut().copy_from_slice(payload);
    f
}

fn arp_frame(
    op: Operation,
    sha: EthernetAddress,
    spa: Ipv4Addr,
    tha: EthernetAddress,
    tpa: Ipv4Addr,
) -> Vec<u8> {
    let repr = ArpRepr {
        operation: op,
        source_hardware_addr: sha,
        source_protocol_addr: spa,
        target_hardware_addr: tha,
        target_protocol_addr: tpa,
    };
    let mut p = [0u8; PACKET_LEN];
    repr.emit(&mut ArpPacket::new_unchecked(&mut p[..]));
    let dst = if op == Operation::Request {
        EthernetAddress::BROADCAST
    } else {
        tha
    };
    eth(dst, sha, EtherType::Arp, &p)
}

/// IP datagram(s) from PEER to US, fragmented at `mtu` when given.
fn ip_frames(protocol: u8, payload: &[u8], ident: u16, mtu: usize) -> Vec<Vec<u8>> {
    let chunk = (mtu - 20) / 8 * 8;
    let mut out = Vec::new();
    let mut off = 0;
    loop {
        let end = (off + chunk).min(payload.len());
        let r = Ipv4Repr {
            src_addr: PEER,
            dst_addr: US,
            protocol,
            payload_len: end - off,
            ttl: 64,
            ident,
            dont_frag: false,
            more_frags: end < payload.len(),
            frag_offset: off as u16,
            dscp_ecn: 0,
        };
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(&mut Ipv4Packet::new_unchecked(&mut b[..]));
        b[20..].copy_from_slice(&payload[off..end]);
        out.push(eth(
            StackConfig::default_mac(US),
            PEER_MAC,
            EtherType::Ipv4,
            &b,
        ));
        off = end;
        if off >= payload.len() {
            return out;
        }
    }
}

fn echo_request(ident: u16, seq_no: u16, data: &[u8]) -> Vec<u8> {
    let r = Icmpv4Repr::EchoRequest {
        ident,
        seq_no,
        data,
    };
    let mut b = vec![0u8; r.buffer_len()];
    r.emit(&mut Icmpv4Packet::new_unchecked(&mut b[..]));
    b
}

/// Learns the peer the way the kernel makes us: its request for our MAC.
fn learn_peer(s: &mut Stack) -> Vec<Vec<u8>> {
    let f = arp_frame(
        Operation::Request,
        PEER_MAC,
        PEER,
        EthernetAddress([0; 6]),
        US,
    );
    s.handle_frame(Instant::ZERO, &f);
    drain(s)
}

/// Reassembles IPv4 frames sent by the stack into (header, payload).
fn reassemble_sent(frames: &[Vec<u8>]) -> (Ipv4Repr, Vec<u8>) {
    let mut r = reassembly::Reassembler::new();
    for f in frames {
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(e.dst_addr(), PEER_MAC);
        assert!(f.len() <= 1514, "frame larger than the MTU");
        let p = Ipv4Packet::new_checked(e.payload()).unwrap();
        let repr = Ipv4Repr::parse(&p).unwrap();
        if !repr.is_fragment() {
            return (repr, p.payload().to_vec());
        }
        if let Some(done) = r.insert(Instant::ZERO, &repr, p.payload()).unwrap() {
            return done;
        }
    }
    panic!("incomplete datagram");
}

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

/// Every frame ends in exactly one place: handled or counted as dropped.
fn accounted(c: &Counters) -> u64 {
    c.drop_eth_truncated
        + c.drop_eth_not_for_us
        + c.drop_eth_unknown_type
        + c.arp_rx
        + c.drop_arp_malformed
        + c.drop_arp_not_for_us
        + c.drop_ip_truncated
        + c.drop_ip_malformed
        + c.drop_ip_checksum
        + c.drop_ip_not_for_us
        + c.drop_ip_bad_source
        + (c.ip_frag_rx - c.ip_reassembled)
        + c.icmp_rx
        + c.drop_icmp_malformed
        + c.drop_icmp_unsupported
        + c.drop_ip_unknown_protocol
        + c.tcp_rx
        + c.drop_tcp_malformed
}

/// A small deterministic generator (xorshift64*), enough for fuzzing.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One million random and mutated frames through the input path: no panic,
/// no unbounded growth, and the counters account for every frame.
#[test]
fn a_million_random_and_mutated_frames() {
    let mut s = stack();
    learn_peer(&mut s);
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    seeds.push(arp_frame(
        Operation::Request,
        PEER_MAC,
        PEER,
        EthernetAddress([0; 6]),
        US,
    ));
    seeds.extend(ip_frames(
        PROTO_ICMP,
        &echo_request(1, 1, &[7u8; 3000]),
        5,
        1500,
    ));
    seeds.extend(ip_frames(
        PROTO_ICMP,
        &echo_request(1, 2, b"small"),
        6,
        1500,
    ));
    seeds.extend(ip_frames(6, &[0x45u8; 40], 7, 1500));
    seeds.extend(ip_frames(17, &[0u8; 16], 8, 1500));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut buf = vec![0u8; 1514];
    let n = 1_000_000u64;
    let mut t = Instant::ZERO;
    for i in 0..n {
        let frame: Vec<u8> = if i % 4 == 0 {
            let len = rng.below(1515);
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            let mut f = seeds[rng.below(seeds.len())].clone();
            for _ in 0..1 + rng.below(4) {
                match rng.below(4) {
                    0 if !f.is_empty() => {
                        let at = rng.below(f.len());
                        f[at] = rng.next() as u8;
                    }
                    1 => f.truncate(rng.below(f.len() + 1)),
                    2 if f.len() > 14 => {
                        // Keep headers valid-looking: mutate only the IP/ARP body.
                        let at = 14 + rng.below(f.len() - 14);
                        f[at] ^= 1 << rng.below(8);
                    }
                    _ => f.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
                }
            }
            f
        };
        s.handle_frame(t, &frame);
        if i % 64 == 0 {
            t += Duration::from_millis(1);
            s.handle_timeout(t);
            while s.poll_transmit(t, &mut buf).is_some() {}
        }
    }
    let c = s.counters().clone();
    assert_eq!(c.rx_frames, n + 1);
    assert_eq!(
        accounted(&c),
        c.rx_frames,
        "every frame accounted for:\n{c}"
    );
    assert!(s.reasm.buffered_bytes() <= reassembly::MAX_BYTES);
    assert!(s.tx_frames.len() <= TX_QUEUE_LIMIT);
}

/// Recomputes the IPv4 header checksum and the TCP checksum of an
/// Ethernet/IPv4/TCP frame in place (when it still looks like one), so that
/// a mutated segment reaches TCP instead of dying at a checksum.
fn fix_checksums(frame: &mut [u8]) {
    use crate::wire::tcp::TcpPacket;
    if frame.len() < 14 + 20 || frame[14] >> 4 != 4 {
        return;
    }
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    if ihl < 20 || total < ihl || 14 + total > frame.len() {
        return;
    }
    frame[24] = 0;
    frame[25] = 0;
    let c = checksum::checksum(&frame[14..14 + ihl]);
    frame[24..26].copy_from_slice(&c.to_be_bytes());
    if frame[23] != 6 {
        return;
    }
    let src = Ipv4Addr::new(frame[26], frame[27], frame[28], frame[29]);
    let dst = Ipv4Addr::new(frame[30], frame[31], frame[32], frame[33]);
    let tcp = &mut frame[14 + ihl..14 + total];
    if tcp.len() >= 20 {
        TcpPacket::new_unchecked(tcp).fill_checksum(src, dst);
    }
}

/// Segments that pass every checksum but carry random headers, options
/// and flags, to a listener and the connections it opens: the TCP input
/// path (demultiplexing, the listener, every TCB state reached) must never
/// panic, and the listener's queues stay within their bounds.
#[test]
fn mutated_tcp_segments_with_valid_checksums() {
    use crate::wire::SeqNum;
    use crate::wire::tcp::{TcpFlags, TcpOptions, TcpPacket, TcpRepr};
    let mut s = stack();
    learn_peer(&mut s);
    let l = s.socket();
    s.bind(l, std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80))
        .unwrap();
    s.listen(l, 8).unwrap();
    let segment = |flags: TcpFlags, seq: u32, ack: u32, payload: &[u8], options: TcpOptions| {
        let repr = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            window: 65535,
            urgent: 0,
            options,
            payload,
        };
        let mut tcp = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut tcp[..]), PEER, US);
        ip_frames(6, &tcp, 1, 1500).remove(0)
    };
    let syn_opts = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some((1, 0)),
        ..TcpOptions::default()
    };
    let seeds = [
        segment(TcpFlags::SYN, 1000, 0, &[], syn_opts),
        segment(TcpFlags::ACK, 1001, 1, &[], TcpOptions::default()),
        segment(
            TcpFlags::ACK | TcpFlags::PSH,
            1001,
            1,
            b"GET / HTTP/1.0\r\n\r\n",
            TcpOptions::default(),
        ),
        segment(
            TcpFlags::FIN | TcpFlags::ACK,
            1001,
            1,
            &[],
            TcpOptions::default(),
        ),
        segment(TcpFlags::RST, 1001, 0, &[], TcpOptions::default()),
    ];
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut buf = vec![0u8; 1514];
    let mut t = Instant::ZERO;
    for i in 0..200_000u32 {
        let mut f = seeds[rng.below(seeds.len())].clone();
        // Mutate the TCP header and options (offset 34..), sometimes the
        // ports and sequence numbers, sometimes the data offset.
        for _ in 0..1 + rng.below(3) {
            let at = 34 + rng.below(f.len() - 34);
            f[at] = rng.next() as u8;
        }
        if rng.below(4) == 0 {
            // A different source port: a new connection attempt.
            f[34] = rng.next() as u8;
        }
        fix_checksums(&mut f);
        s.handle_frame(t, &f);
        if i % 32 == 0 {
            t += Duration::from_millis(7);
            s.handle_timeout(t);
            while s.poll_transmit(t, &mut buf).is_some() {}
            while s.accept(l).is_ok() {}
        }
        let (syn_q, acc_q, backlog) = s.listener_queues(l).unwrap();
        assert!(
            syn_q <= backlog + 1 && acc_q <= backlog + 1,
            "queues {syn_q}/{acc_q}"
        );
    }
    assert!(s.counters().tcp_rx > 100_000, "most segments reached TCP");
    assert!(
        s.counters().tcp_passive_opens > 0,
        "the listener opened connections"
    );
}

/// With offload on, every frame starts with a virtio-net header whose flags
/// may say the checksum is trusted: random headers in front of random and
/// mutated frames (so unverified garbage reaches TCP) must never panic, and
/// every frame is still accounted for.
#[test]
fn random_frames_behind_random_virtio_net_headers() {
    let mut s = Stack::new(
        StackConfig {
            offload: true,
            ..config(US)
        },
        Instant::ZERO,
        1,
    );
    let mut buf = vec![0u8; 70_000];
    while s.poll_transmit(Instant::ZERO, &mut buf).is_some() {}
    let l = s.socket();
    s.bind(l, std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80))
        .unwrap();
    s.listen(l, 8).unwrap();
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    seeds.push(arp_frame(
        Operation::Request,
        PEER_MAC,
        PEER,
        EthernetAddress([0; 6]),
        US,
    ));
    seeds.extend(ip_frames(
        PROTO_ICMP,
        &echo_request(1, 1, &[7u8; 3000]),
        5,
        1500,
    ));
    seeds.extend(ip_frames(6, &[0x50u8; 60], 7, 1500));
    let mut rng = Rng(0x0ff1_0ad5_eed0_0001);
    let n = 300_000u64;
    let mut t = Instant::ZERO;
    for i in 0..n {
        // One frame in eight is shorter than a header; the rest carry a
        // random 10-byte header in front of a mutated frame.
        let head = if rng.below(8) == 0 { rng.below(10) } else { 10 };
        let mut f: Vec<u8> = (0..head).map(|_| rng.next() as u8).collect();
        let mut body = seeds[rng.below(seeds.len())].clone();
        for _ in 0..rng.below(4) {
            if body.len() > 14 {
                let at = 14 + rng.below(body.len() - 14);
                body[at] = rng.next() as u8;
            }
        }
        if f.len() == 10 {
            f.extend_from_slice(&body);
        }
        s.handle_frame(t, &f);
        if i % 64 == 0 {
            t += Duration::from_millis(3);
            s.handle_timeout(t);
            while s.poll_transmit(t, &mut buf).is_some() {}
        }
    }
    let c = s.counters().clone();
    assert_eq!(c.rx_frames, n);
    assert_eq!(
        accounted(&c),
        c.rx_frames,
        "every frame accounted for:\n{c}"
    );
}

#[test]
fn route_is_loopback_on_link_gateway_or_unreachable() {
    use super::ipv4::{NextHop, SendError};
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
