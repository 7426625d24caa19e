//! TCP over IPv6 between two stacks, with the engine IPv4 uses: the
//! handshake after Neighbor Discovery, data both ways, close, RST for a
//! closed port, SYN cookies, ICMPv6 errors, offload, loopback over `::1`,
//! and which listener (IPv4-only, dual-stack `::`, `IPV6_V6ONLY`) serves
//! which family.

use super::fixture::*;
use crate::stack::*;
use crate::tcp::State;
use crate::time::Duration;
use crate::wire::icmpv6::{Icmpv6Packet, Icmpv6Repr};
use crate::wire::ipv6::{self, Ipv6Cidr, Ipv6Packet, Ipv6Repr, next_header as nh};
use crate::wire::tcp::{TcpPacket, TcpRepr};
use crate::wire::virtio_net::{self, VnetHeader};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

const A6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

/// Two stacks with IPv4 (A, B) and IPv6 (A6, B6) addresses.
fn pair6(offload: bool) -> Pair {
    let cfg = |ip, ip6| StackConfig {
        ip6: Some(Ipv6Cidr {
            address: ip6,
            prefix_len: 64,
        }),
        offload,
        ..config(ip)
    };
    Pair {
        a: Stack::new(cfg(A, A6), Instant::ZERO, 11),
        b: Stack::new(cfg(B, B6), Instant::ZERO, 22),
        ..Pair::new()
    }
}

fn v6(ip: Ipv6Addr, port: u16) -> SocketAddr {
    SocketAddrV6::new(ip, port, 0, 0).into()
}

fn listen6(s: &mut Stack, ip: Ipv6Addr, port: u16, backlog: i32, v6only: bool) -> SocketHandle {
    let l = s.socket();
    s.set_v6only(l, v6only).unwrap();
    s.bind(l, v6(ip, port)).unwrap();
    s.listen(l, backlog).unwrap();
    l
}

/// The TCP segments over IPv6 in `frames` (after a virtio-net header when
/// `vnet`), with their checksums verified unless `vnet` (then partial):
/// flags, sequence number, MSS option.
fn tcp6_seen(frames: &[Vec<u8>], vnet: bool) -> Vec<(String, u32, Option<u16>)> {
    let skip = if vnet { virtio_net::HEADER_LEN } else { 0 };
    frames
        .iter()
        .filter_map(|f| {
            let e = EthernetFrame::new_checked(&f[skip..]).ok()?;
            if e.ethertype() != EtherType::Ipv6 {
                return None;
            }
            let p = Ipv6Packet::new_checked(e.payload()).ok()?;
            let ip = Ipv6Repr::parse(&p).ok()?;
            if ip.next_header != nh::TCP {
                return None;
            }
            let t = TcpPacket::new_checked(p.payload()).ok()?;
            let r = TcpRepr::parse_with(&t, ip.src_addr, ip.dst_addr, !vnet)
                .expect("a valid TCP/IPv6 segment");
            Some((r.flags.to_string(), r.seq.0, r.options.mss))
        })
        .collect()
}

fn tcp4_count(frames: &[Vec<u8>]) -> usize {
    tcp_segments_seen(frames).len()
}

#[test]
fn handshake_transfer_and_close_over_ipv6() {
    let mut p = pair6(false);
    let l = listen6(&mut p.b, Ipv6Addr::UNSPECIFIED, 80, 16, true);
    let c = p.a.socket();
    assert_eq!(
        p.a.connect(p.now, c, v6(B6, 80)),
        Err(SocketError::InProgress)
    );
    p.run_until(Duration::from_secs(5), |p| {
        p.b.readiness(l).unwrap().readable
    });
    assert_eq!(p.a.state(c).unwrap(), State::Established);
    let (s, peer) = p.b.accept_any(l).unwrap();
    let a_local = p.a.local_sockaddr(c).unwrap();
    assert_eq!(peer, a_local);
    assert_eq!(a_local.ip(), A6, "the source for B6 is A6");
    assert_eq!(p.b.local_sockaddr(s).unwrap(), v6(B6, 80));
    assert_eq!(p.a.peer_sockaddr(c).unwrap(), v6(B6, 80));
    assert_eq!(
        p.b.accept(l),
        Err(SocketError::WouldBlock),
        "nothing more queued"
    );

    let up: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let down: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    transfer(&mut p, c, s, &up, &down, Duration::from_secs(120));

    p.a.close(c);
    p.run_until(Duration::from_secs(1), |p| {
        p.b.readiness(s).unwrap().read_closed
    });
    assert_eq!(p.b.state(s).unwrap(), State::CloseWait);
    assert_eq!(p.b.recv(s, &mut [0u8; 16], false), Ok(0));
    p.b.close(s);
    p.run_until(Duration::from_secs(200), |p| p.a.socket_list().is_empty());
    assert!(p.a.socket_list().is_empty(), "TIME-WAIT ended");
    assert_eq!(p.b.socket_list().len(), 1, "only B's listener is left");

    // Every segment went over IPv6 with a valid IPv6 checksum, none over
    // IPv4; the SYN offered 1500 - 40 - 20.
    let a_segs = tcp6_seen(&p.a_to_b, false);
    let b_segs = tcp6_seen(&p.b_to_a, false);
    assert_eq!((a_segs[0].0.as_str(), a_segs[0].2), ("[S]", Some(1440)));
    assert_eq!((b_segs[0].0.as_str(), b_segs[0].2), ("[S.]", Some(1440)));
    assert!(a_segs.iter().any(|s| s.0.contains('F')));
    assert_eq!(tcp4_count(&p.a_to_b) + tcp4_count(&p.b_to_a), 0);
    for f in p.a_to_b.iter().chain(&p.b_to_a) {
        assert!(f.len() <= 1514, "frame larger than the MTU");
    }
}

#[test]
fn syn_to_closed_ipv6_port_is_refused_with_rst() {
    let mut p = pair6(false);
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, v6(B6, 9));
    p.run_until(Duration::from_secs(5), |p| p.a.readiness(c).unwrap().error);
    assert_eq!(
        p.a.take_error(c).unwrap(),
        Some(SocketError::ConnectionRefused)
    );
    assert_eq!(p.b.counters().tcp_tx_rst_no_socket, 1);
    assert_eq!(p.b.counters().drop_ip6_no_port, 0, "no ICMPv6 for TCP");
    let seen: Vec<String> = tcp6_seen(&p.b_to_a, false)
        .into_iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(seen, ["[R.]"]);
}

/// With offload, large segments go to the device as TSO over IPv6
/// (`GSO_TCPV6`) with partial checksums, and the bytes still arrive.
#[test]
fn offload_sends_tcpv6_tso_segments() {
    let mut p = pair6(true);
    let l = listen6(&mut p.b, Ipv6Addr::UNSPECIFIED, 80, 16, false);
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, v6(B6, 80));
    p.run_until(Duration::from_secs(5), |p| {
        p.b.readiness(l).unwrap().readable
    });
    let (s, _) = p.b.accept_any(l).unwrap();
    let up: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 239) as u8).collect();
    let down: Vec<u8> = (0..100_000u32).map(|i| (i % 233) as u8).collect();
    transfer(&mut p, c, s, &up, &down, Duration::from_secs(60));
    let gso: Vec<(u8, u16)> = p
        .a_to_b
        .iter()
        .filter_map(|f| {
            let h = VnetHeader::new_checked(&f[..]).ok()?;
            (h.gso_type() != virtio_net::GSO_NONE).then(|| (h.gso_type(), h.gso_size()))
        })
        .collect();
    assert!(!gso.is_empty(), "some segments were TSO");
    assert!(
        gso.iter()
            .all(|&(t, size)| t == virtio_net::GSO_TCPV6 && size <= 1440),
        "{gso:?}"
    );
    assert!(!tcp6_seen(&p.a_to_b, true).is_empty());
}

/// Backlog 1 (two half-open connections at most): of three SYNs at once
/// the third is answered with a SYN cookie hashed over the IPv6 4-tuple,
/// and its ACK makes the connection.
#[test]
fn syn_cookies_over_ipv6() {
    let mut p = pair6(false);
    let l = listen6(&mut p.b, Ipv6Addr::UNSPECIFIED, 80, 1, true);
    let clients: Vec<SocketHandle> = (0..3).map(|_| p.a.socket()).collect();
    for &c in &clients {
        assert_eq!(
            p.a.connect(p.now, c, v6(B6, 80)),
            Err(SocketError::InProgress)
        );
    }
    p.run_until(Duration::from_secs(2), |p| {
        clients
            .iter()
            .all(|&c| p.a.state(c).unwrap() == State::Established)
    });
    assert_eq!(p.b.counters().tcp_syncookies_sent, 1);
    assert_eq!(p.b.counters().tcp_syncookies_validated, 1);
    assert_eq!(p.b.counters().tcp_syncookies_failed, 0);
    let (s, peer) = p.b.accept_any(l).unwrap();
    assert_eq!(peer, p.a.local_sockaddr(clients[2]).unwrap());
    assert_eq!(p.b.state(s).unwrap(), State::Established);
    let up: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let down: Vec<u8> = (0..40_000u32).map(|i| (i % 241) as u8).collect();
    transfer(&mut p, clients[2], s, &up, &down, Duration::from_secs(60));
}

/// ICMPv6 Destination Unreachable about our SYN (RFC 4443 §3.1): it ends
/// the opening connection only when the quoted sequence number is one we
/// sent (RFC 5927 §4.1); address unreachable is `EHOSTUNREACH`.
#[test]
fn icmpv6_unreachable_must_quote_a_sequence_number_we_sent() {
    let mut p = pair6(false);
    p.exchange(); // the gratuitous ARPs
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, v6(B6, 80));
    // A's solicitation, B's advertisement, then A's SYN, kept from B.
    let mut buf = vec![0u8; 1514];
    let n = p.a.poll_transmit(p.now, &mut buf).unwrap();
    p.b.handle_frame(p.now, &buf[..n]);
    let n = p.b.poll_transmit(p.now, &mut buf).unwrap();
    p.a.handle_frame(p.now, &buf[..n]);
    let n = p.a.poll_transmit(p.now, &mut buf).unwrap();
    let syn = buf[..n].to_vec();
    let (flags, iss, _) = tcp6_seen(std::slice::from_ref(&syn), false)[0].clone();
    assert_eq!(flags, "[S]");

    let quote = |seq: u32| {
        let mut original = syn[ethernet::HEADER_LEN..].to_vec();
        original[ipv6::HEADER_LEN + 4..ipv6::HEADER_LEN + 8].copy_from_slice(&seq.to_be_bytes());
        let icmp = Icmpv6Repr::DstUnreachable {
            code: crate::wire::icmpv6::unreachable::ADDRESS,
            original: &original,
        };
        let mut msg = vec![0u8; icmp.buffer_len()];
        icmp.emit(&mut Icmpv6Packet::new_unchecked(&mut msg[..]), B6, A6);
        msg
    };
    for bad in [iss.wrapping_sub(1), iss.wrapping_add(2), iss ^ 0x8000_0000] {
        p.b.send_ipv6(p.now, B6, A6, nh::ICMPV6, 64, &quote(bad))
            .unwrap();
        p.exchange();
        assert_eq!(p.a.state(c).unwrap(), State::SynSent, "seq {bad:#x}");
    }
    assert_eq!(p.a.counters().icmp_tcp_out_of_window, 3);
    assert_eq!(p.a.counters().icmp_errors_to_tcp, 0);

    p.b.send_ipv6(p.now, B6, A6, nh::ICMPV6, 64, &quote(iss))
        .unwrap();
    p.exchange();
    assert_eq!(p.a.counters().icmp_errors_to_tcp, 1);
    assert_eq!(p.a.state(c).unwrap(), State::Closed);
    assert_eq!(
        p.a.take_error(c).unwrap(),
        Some(SocketError::HostUnreachable)
    );
}

/// Which listener serves which family, and which bindings conflict, as on
/// Linux: `0.0.0.0` (AF_INET) serves IPv4 only; `::` serves both unless
/// `IPV6_V6ONLY`; a dual-stack `::` conflicts with `0.0.0.0` on its port,
/// an IPv6-only one does not.
#[test]
fn listeners_serve_their_families() {
    let mut p = pair6(false);
    // Port 80: IPv4-only and IPv6-only listeners side by side.
    let l4 = listen(&mut p.b, 80, 16);
    let l6 = listen6(&mut p.b, Ipv6Addr::UNSPECIFIED, 80, 16, true);
    // Port 81: a dual-stack `::` and `0.0.0.0` conflict, either way round.
    let _dual = listen6(&mut p.b, Ipv6Addr::UNSPECIFIED, 81, 16, false);
    let x = p.b.socket();
    assert_eq!(
        p.b.bind(x, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 81)),
        Err(SocketError::AddrInUse)
    );
    assert_eq!(
        p.b.bind(x, v6(B6, 81)),
        Err(SocketError::AddrInUse),
        "`::` covers B6"
    );
    let _only4 = listen(&mut p.b, 82, 16);
    let y = p.b.socket();
    assert_eq!(
        p.b.bind(y, v6(Ipv6Addr::UNSPECIFIED, 82)),
        Err(SocketError::AddrInUse)
    );
    let z = p.b.socket();
    assert_eq!(
        p.b.bind(z, v6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 9), 83)),
        Err(SocketError::AddrNotAvailable),
        "not our address"
    );

    let c4 = p.a.socket();
    let c6 = p.a.socket();
    let c6_dual = p.a.socket();
    let c4_dual = p.a.socket();
    let _ = p.a.connect(p.now, c4, SocketAddrV4::new(B, 80));
    let _ = p.a.connect(p.now, c6, v6(B6, 80));
    let _ = p.a.connect(p.now, c6_dual, v6(B6, 81));
    let _ = p.a.connect(p.now, c4_dual, SocketAddrV4::new(B, 81));
    p.run_until(Duration::from_secs(5), |p| {
        [c4, c6, c6_dual, c4_dual]
            .iter()
            .all(|&c| p.a.state(c).unwrap() == State::Established)
    });
    let (_, peer4) = p.b.accept_any(l4).unwrap();
    assert_eq!(peer4, p.a.local_sockaddr(c4).unwrap());
    assert!(peer4.is_ipv4());
    let (_, peer6) = p.b.accept_any(l6).unwrap();
    assert_eq!(peer6, p.a.local_sockaddr(c6).unwrap());
    assert!(peer6.is_ipv6());
    assert_eq!(
        p.b.accept_any(l4).map(|x| x.1),
        Err(SocketError::WouldBlock)
    );
    assert_eq!(
        p.b.accept_any(l6).map(|x| x.1),
        Err(SocketError::WouldBlock)
    );

    // An IPv6 SYN to a port with only an IPv4 listener is refused.
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, v6(B6, 82));
    p.run_until(Duration::from_secs(5), |p| p.a.readiness(c).unwrap().error);
    assert_eq!(
        p.a.take_error(c).unwrap(),
        Some(SocketError::ConnectionRefused)
    );
}

/// A stack reaches its own listeners over `::1` and over its own IPv6
/// address, without the link; the peer is reported as the address used.
#[test]
fn a_stack_reaches_its_own_listeners_over_ipv6_loopback() {
    let mut p = pair6(false);
    let l = listen6(&mut p.a, Ipv6Addr::UNSPECIFIED, 8080, 16, false);
    for dst in [Ipv6Addr::LOCALHOST, A6] {
        let c = p.a.socket();
        assert_eq!(
            p.a.connect(p.now, c, v6(dst, 8080)),
            Err(SocketError::InProgress)
        );
        p.run_until(Duration::from_secs(5), |p| {
            p.a.readiness(l).unwrap().readable
        });
        let (s, peer) = p.a.accept_any(l).unwrap();
        assert_eq!(peer.ip(), dst);
        assert_eq!(peer, p.a.local_sockaddr(c).unwrap());
        assert_eq!(p.a.local_sockaddr(s).unwrap(), v6(dst, 8080));
        assert_eq!(p.a.send(c, b"ping over six"), Ok(13));
        p.exchange();
        let mut got = [0u8; 32];
        assert_eq!(p.a.recv(s, &mut got, false), Ok(13));
        assert_eq!(&got[..13], b"ping over six");
    }
    assert!(
        p.a_to_b
            .iter()
            .all(|f| tcp6_seen(std::slice::from_ref(f), false).is_empty())
    );
    // `::1` cannot leave the host.
    let c = p.a.socket();
    p.a.bind(c, v6(Ipv6Addr::LOCALHOST, 0)).unwrap();
    assert_eq!(
        p.a.connect(p.now, c, v6(B6, 80)),
        Err(SocketError::NetworkUnreachable)
    );
}

/// A Packet Too Big about one of our segments (RFC 8201 §4, §5.4): the
/// connection's later segments fit the smaller path MTU, and a new
/// connection to that peer offers an MSS that fits it.
#[test]
fn packet_too_big_lowers_the_send_mss() {
    let mut p = pair6(false);
    let l = listen6(&mut p.b, Ipv6Addr::UNSPECIFIED, 80, 16, false);
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, v6(B6, 80));
    p.run_until(Duration::from_secs(5), |p| {
        p.b.readiness(l).unwrap().readable
    });
    let (s, _) = p.b.accept_any(l).unwrap();
    let first = p.a_to_b.last().unwrap().clone();
    let quote = &first[ethernet::HEADER_LEN..];
    let ptb = Icmpv6Repr::PacketTooBig {
        mtu: 1300,
        original: quote,
    };
    let mut msg = vec![0u8; ptb.buffer_len()];
    ptb.emit(&mut Icmpv6Packet::new_unchecked(&mut msg[..]), B6, A6);
    p.b.send_ipv6(p.now, B6, A6, nh::ICMPV6, 64, &msg).unwrap();
    p.exchange();
    assert_eq!(p.a.path_mtu6(p.now, B6), 1300);
    let mark = p.a_to_b.len();
    let up: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    transfer(&mut p, c, s, &up, b"", Duration::from_secs(60));
    let after = &p.a_to_b[mark..];
    assert!(after.len() > 10);
    assert!(
        after.iter().all(|f| f.len() <= ethernet::HEADER_LEN + 1300),
        "a segment larger than the path MTU"
    );
    let c2 = p.a.socket();
    let _ = p.a.connect(p.now, c2, v6(B6, 80));
    p.exchange();
    let syn = tcp6_seen(&p.a_to_b, false)
        .into_iter()
        .rfind(|s| s.0 == "[S]")
        .unwrap();
    assert_eq!(syn.2, Some(1300 - 60));
}
