//! Random and mutated frames through the input path: no panic, bounded
//! state, and every frame accounted for in the counters.

use super::fixture::*;
use crate::rand::Rng;
use crate::stack::*;
use crate::time::Duration;
use crate::wire::checksum::{self, PROTO_ICMP};

/// Every frame ends in exactly one place: handled or counted as dropped.
pub(super) fn accounted(c: &Counters) -> u64 {
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
        + c.drop_ip6_truncated
        + c.drop_ip6_malformed
        + c.drop_ip6_not_for_us
        + c.drop_ip6_bad_source
        + c.drop_ip6_ext_header
        + (c.ip6_frag_rx - c.ip6_reassembled)
        + c.drop_ip6_no_next_header
        + c.drop_ip6_unknown_next_header
        + c.drop_ip6_no_port
        + c.icmp6_rx
        + c.drop_icmp6_malformed
        + c.drop_icmp6_unsupported
        + c.drop_ndisc_bad_hop_limit
        + c.drop_ndisc_not_for_us
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
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut buf = vec![0u8; 1514];
    let n = 1_000_000u64;
    let mut t = Instant::ZERO;
    for i in 0..n {
        let frame: Vec<u8> = if i % 4 == 0 {
            let len = rng.index(1515);
            (0..len).map(|_| rng.next_u64() as u8).collect()
        } else {
            let mut f = seeds[rng.index(seeds.len())].clone();
            for _ in 0..1 + rng.index(4) {
                match rng.index(4) {
                    0 if !f.is_empty() => {
                        let at = rng.index(f.len());
                        f[at] = rng.next_u64() as u8;
                    }
                    1 => f.truncate(rng.index(f.len() + 1)),
                    2 if f.len() > 14 => {
                        // Keep headers valid-looking: mutate only the IP/ARP body.
                        let at = 14 + rng.index(f.len() - 14);
                        f[at] ^= 1 << rng.index(8);
                    }
                    _ => f.extend((0..rng.index(64)).map(|_| rng.next_u64() as u8)),
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
    let mut rng = Rng::new(0x5eed_1234_abcd_ef01);
    let mut buf = vec![0u8; 1514];
    let mut t = Instant::ZERO;
    for i in 0..200_000u32 {
        let mut f = seeds[rng.index(seeds.len())].clone();
        // Mutate the TCP header and options (offset 34..), sometimes the
        // ports and sequence numbers, sometimes the data offset.
        for _ in 0..1 + rng.index(3) {
            let at = 34 + rng.index(f.len() - 34);
            f[at] = rng.next_u64() as u8;
        }
        if rng.index(4) == 0 {
            // A different source port: a new connection attempt.
            f[34] = rng.next_u64() as u8;
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
    let mut rng = Rng::new(0x0ff1_0ad5_eed0_0001);
    let n = 300_000u64;
    let mut t = Instant::ZERO;
    for i in 0..n {
        // One frame in eight is shorter than a header; the rest carry a
        // random 10-byte header in front of a mutated frame.
        let head = if rng.index(8) == 0 { rng.index(10) } else { 10 };
        let mut f: Vec<u8> = (0..head).map(|_| rng.next_u64() as u8).collect();
        let mut body = seeds[rng.index(seeds.len())].clone();
        for _ in 0..rng.index(4) {
            if body.len() > 14 {
                let at = 14 + rng.index(body.len() - 14);
                body[at] = rng.next_u64() as u8;
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
