//! Two stacks over an in-memory Ethernet, with virtual time: ARP, the
//! handshake through the listener's queues, data both ways, RST for a
//! closed port, and what a full backlog does.

use super::fixture::*;
use crate::stack::*;
use crate::tcp::{CongestionAlgo, State};
use crate::time::Duration;
use std::collections::HashMap;
use std::net::SocketAddrV4;

#[test]
fn handshake_transfer_and_close_between_two_stacks() {
    let mut p = Pair::new();
    let l = listen(&mut p.b, 80, 16);
    let c = p.a.socket();
    assert_eq!(
        p.a.connect(p.now, c, SocketAddrV4::new(B, 80)),
        Err(SocketError::InProgress)
    );
    p.run_until(Duration::from_secs(5), |p| {
        p.b.readiness(l).unwrap().readable
    });
    assert_eq!(p.a.state(c).unwrap(), State::Established);
    assert!(p.a.readiness(c).unwrap().writable);
    let (s, peer) = p.b.accept(l).unwrap();
    assert_eq!(*peer.ip(), A);
    assert_eq!(p.b.accept(l), Err(SocketError::WouldBlock));
    assert_eq!(p.b.local_addr(s).unwrap(), SocketAddrV4::new(B, 80));
    assert_eq!(p.a.peer_addr(c).unwrap(), SocketAddrV4::new(B, 80));

    // 1 MiB from A to B and 300 KiB back, in pieces as an application would.
    let up: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let down: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    transfer(&mut p, c, s, &up, &down, Duration::from_secs(120));

    // A closes first: A ends in TIME-WAIT, B sees EOF and sits in CLOSE-WAIT
    // until it closes, then LAST-ACK, then the connection is gone.
    p.a.close(c);
    p.run_until(Duration::from_secs(1), |p| {
        p.b.readiness(s).unwrap().read_closed
    });
    assert_eq!(p.b.state(s).unwrap(), State::CloseWait);
    assert_eq!(p.b.recv(s, &mut [0u8; 16], false), Ok(0));
    p.b.close(s);
    p.exchange();
    let a_states: Vec<State> = p.a.socket_list().iter().map(|x| x.1).collect();
    assert!(a_states.contains(&State::TimeWait), "{a_states:?}");
    p.run_until(Duration::from_secs(200), |p| p.a.socket_list().is_empty());
    assert!(
        p.a.socket_list().is_empty(),
        "TIME-WAIT ended and was reaped"
    );
    assert_eq!(p.b.socket_list().len(), 1, "only B's listener is left");
    let flags = tcp_flags_seen(&p.a_to_b);
    assert_eq!(flags.first().map(String::as_str), Some("[S]"));
}

#[test]
fn syn_to_closed_port_is_refused_with_rst() {
    let mut p = Pair::new();
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 9));
    p.run_until(Duration::from_secs(5), |p| p.a.readiness(c).unwrap().error);
    assert_eq!(
        p.a.take_error(c).unwrap(),
        Some(SocketError::ConnectionRefused)
    );
    assert_eq!(p.a.state(c).unwrap(), State::Closed);
    assert_eq!(p.b.counters().tcp_tx_rst_no_socket, 1);
    assert_eq!(tcp_flags_seen(&p.b_to_a), vec!["[R.]".to_string()]);
}

#[test]
fn bind_conflicts_and_reuse() {
    let mut s = Stack::new(config(A), Instant::ZERO, 1);
    let l = listen(&mut s, 8080, 4);
    let x = s.socket();
    assert_eq!(
        s.bind(x, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8080)),
        Err(SocketError::AddrInUse)
    );
    s.set_options(x, |o| o.reuse_addr = true).unwrap();
    assert_eq!(
        s.bind(x, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8080)),
        Err(SocketError::AddrInUse),
        "SO_REUSEADDR does not share with a listener"
    );
    assert_eq!(
        s.bind(x, SocketAddrV4::new(Ipv4Addr::new(1, 2, 3, 4), 1)),
        Err(SocketError::AddrNotAvailable)
    );
    s.close(l);
    assert_eq!(
        s.bind(x, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8080)),
        Ok(())
    );
    assert_eq!(
        s.bind(x, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8081)),
        Err(SocketError::InvalidInput),
        "bound twice"
    );
    let e = s.socket();
    s.bind(e, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
        .unwrap();
    let port = s.local_addr(e).unwrap().port();
    assert!(table::EPHEMERAL_PORTS.contains(&port));
}

/// Backlog 1: the SYN queue and the accept queue each hold backlog + 1 = 2
/// connections. Three clients connect at once: the first two SYNs take the
/// SYN queue, the third finds it full and gets a SYN cookie, which goes out
/// at once and completes first; the first client's ACK then fills the
/// accept queue and the second's is dropped: it stays in SYN-RECEIVED on
/// the listener while believing itself connected. A fourth client's SYN,
/// while the accept queue is full, gets no answer and stays in SYN-SENT.
/// Once `accept` makes room, the SYN-ACK retransmission completes the
/// second and the SYN retransmission the fourth.
#[test]
fn full_accept_queue_drops_syns_until_accept_makes_room() {
    let mut p = Pair::new();
    let l = listen(&mut p.b, 80, 1);
    let mut clients: Vec<SocketHandle> = (0..3).map(|_| p.a.socket()).collect();
    for &c in &clients {
        let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
    }
    p.run_until(Duration::from_millis(100), |_| false);
    assert_eq!(p.b.listener_queues(l).unwrap(), (1, 2, 1));
    let states: Vec<State> = clients.iter().map(|&c| p.a.state(c).unwrap()).collect();
    assert_eq!(states, [State::Established; 3]);
    assert_eq!(p.b.counters().tcp_syncookies_sent, 1);
    assert_eq!(p.b.counters().tcp_syncookies_validated, 1);
    assert_eq!(p.b.counters().tcp_accept_queue_overflow, 1);
    assert_eq!(p.b.counters().tcp_tx_rst_no_socket, 0);

    let late = p.a.socket();
    let _ = p.a.connect(p.now, late, SocketAddrV4::new(B, 80));
    clients.push(late);
    p.run_until(Duration::from_millis(500), |_| false);
    assert_eq!(p.a.state(late).unwrap(), State::SynSent);
    assert_eq!(p.b.listener_queues(l).unwrap(), (1, 2, 1));
    assert!(p.b.counters().tcp_accept_queue_overflow >= 2);

    p.b.accept(l).unwrap();
    p.b.accept(l).unwrap();
    p.run_until(Duration::from_secs(30), |p| {
        p.b.listener_queues(l).unwrap() == (0, 2, 1)
    });
    assert_eq!(p.b.listener_queues(l).unwrap(), (0, 2, 1));
    assert!(
        clients
            .iter()
            .all(|&c| p.a.state(c).unwrap() == State::Established)
    );
    assert!(p.b.accept(l).is_ok());
}

/// A frame carrying a SYN from `src`:`port` to B's port 80, as a flood
/// would send with spoofed addresses.
fn spoofed_syn(b: &Stack, src: Ipv4Addr, port: u16) -> Vec<u8> {
    use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
    let tcp = TcpRepr {
        src_port: port,
        dst_port: 80,
        seq: crate::wire::SeqNum(u32::from(port).wrapping_mul(7919)),
        ack: crate::wire::SeqNum(0),
        flags: TcpFlags::SYN,
        window: 64240,
        urgent: 0,
        options: TcpOptions {
            mss: Some(1460),
            ..TcpOptions::default()
        },
        payload: &[],
    };
    frame_to(b, src, &tcp)
}

/// A frame carrying `tcp` from `src` (on the link, with its default MAC)
/// to stack `b`.
fn frame_to(b: &Stack, src: Ipv4Addr, tcp: &crate::wire::tcp::TcpRepr) -> Vec<u8> {
    use crate::wire::ipv4::{self, DEFAULT_TTL, Ipv4Packet, Ipv4Repr};
    use crate::wire::tcp::TcpPacket;
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: b.config.ip,
        protocol: crate::wire::checksum::PROTO_TCP,
        payload_len: tcp.buffer_len(),
        ttl: DEFAULT_TTL,
        ident: tcp.src_port,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
        dscp_ecn: 0,
    };
    let mut f = vec![0u8; ethernet::HEADER_LEN + ipv4::HEADER_LEN + tcp.buffer_len()];
    let mut e = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr {
        src_addr: StackConfig::default_mac(src),
        dst_addr: b.config.mac,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut e);
    let mut packet = Ipv4Packet::new_unchecked(e.payload_mut());
    ip.emit(&mut packet);
    tcp.emit(
        &mut TcpPacket::new_unchecked(packet.payload_mut()),
        src,
        b.config.ip,
    );
    f
}

/// A SYN flood from spoofed addresses fills a listener's SYN queue
/// (backlog 1: two half-open connections); every further SYN is answered with a cookie (or counted
/// where the SYN-ACK cannot wait for the unresolvable spoofed address) and
/// costs the listener nothing. Real clients still complete their handshakes
/// through cookies. The third one's ACK finds the accept queue full and is
/// dropped, so it believes itself connected while the listener knows
/// nothing of it; once `accept` makes room, its data returns the cookie and
/// the connection is made. Data flows both ways on a cookie connection,
/// which has timestamps, window scaling and SACK.
#[test]
fn syn_flood_is_answered_with_cookies_and_clients_still_connect() {
    let mut p = Pair::new();
    let l = listen(&mut p.b, 80, 1);
    let spoofed = Ipv4Addr::new(10, 0, 0, 99);
    for port in 1000..1200 {
        let frame = spoofed_syn(&p.b, spoofed, port);
        p.b.handle_frame(p.now, &frame);
    }
    p.exchange();
    assert_eq!(p.b.listener_queues(l).unwrap(), (2, 0, 1));
    let flood_cookies = p.b.counters().tcp_syncookies_sent;
    assert!(flood_cookies >= 1);
    assert_eq!(flood_cookies + p.b.counters().drop_arp_queue_full, 198);
    let before = p.b.socket_list().len();

    let clients: Vec<SocketHandle> = (0..3).map(|_| p.a.socket()).collect();
    // The first client alone, the other two at once: both SYNs find room
    // in the accept queue, but only the first ACK does.
    for group in [&clients[..1], &clients[1..]] {
        for &c in group {
            let r = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
            assert_eq!(r, Err(SocketError::InProgress));
        }
        p.run_until(Duration::from_secs(2), |p| {
            group
                .iter()
                .all(|&c| p.a.state(c).unwrap() == State::Established)
        });
    }
    let states: Vec<State> = clients.iter().map(|&c| p.a.state(c).unwrap()).collect();
    assert_eq!(states, [State::Established; 3]);
    assert_eq!(p.b.counters().tcp_syncookies_sent, flood_cookies + 3);
    assert_eq!(p.b.counters().tcp_syncookies_validated, 2);
    assert_eq!(p.b.counters().tcp_accept_queue_overflow, 1);
    assert_eq!(p.b.listener_queues(l).unwrap(), (2, 2, 1));
    assert_eq!(p.b.socket_list().len(), before + 2, "no state per cookie");

    let (s, peer) = p.b.accept(l).unwrap();
    assert_eq!(peer, p.a.local_addr(clients[0]).unwrap());
    assert_eq!(p.b.state(s).unwrap(), State::Established);
    let info = p.b.tcp_info(s).unwrap().unwrap();
    assert_eq!(info.options, 7, "the TSval carried window scale and SACK");
    assert_eq!(p.a.tcp_info(clients[0]).unwrap().unwrap().options, 7);
    assert_eq!(p.a.send(clients[2], b"hello"), Ok(5));
    p.run_until(Duration::from_secs(10), |p| {
        p.b.listener_queues(l).unwrap().1 == 2
    });
    assert_eq!(p.b.counters().tcp_syncookies_validated, 3);
    p.b.accept(l).unwrap();
    let (third, peer) = p.b.accept(l).unwrap();
    assert_eq!(peer, p.a.local_addr(clients[2]).unwrap());
    let mut small = [0u8; 16];
    assert_eq!(p.b.recv(third, &mut small, false), Ok(5));
    assert_eq!(&small[..5], b"hello");

    let c = clients[0];
    let up: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let down: Vec<u8> = (0..150_000u32).map(|i| (i % 241) as u8).collect();
    transfer(&mut p, c, s, &up, &down, Duration::from_secs(60));
}

/// Linux's tcp_max_tw_buckets: beyond the cap, a connection entering
/// TIME-WAIT is dropped at once (and counted), so churning connections
/// cannot grow memory for 2·MSL each.
#[test]
fn options_set_on_a_live_connection_take_effect() {
    let (mut p, c, s) = accepted_pair(80);
    assert_eq!(p.a.congestion_name(c), Ok(Some("cubic")));

    // TCP_CONGESTION switches the running connection's controller.
    p.a.set_options(c, |o| o.congestion = Some(CongestionAlgo::NewReno))
        .unwrap();
    assert_eq!(p.a.congestion_name(c), Ok(Some("reno")));

    // SO_KEEPALIVE with TCP_KEEPIDLE 5 s: an idle connection is probed
    // after 5 s (not the default two hours), and the peer's answer keeps
    // it up.
    p.a.set_options(c, |o| {
        o.keepalive = true;
        o.keep_idle = Some(5);
        o.keep_intvl = Some(1);
    })
    .unwrap();
    let before = p.a_to_b.len();
    p.run_until(Duration::from_secs(12), |_| false);
    let probes = p.a_to_b.len() - before;
    assert!(
        (2..=3).contains(&probes),
        "{probes} keepalive probes in 12 s"
    );
    assert_eq!(p.a.state(c), Ok(State::Established));

    // IP_TOS: the DSCP goes into the IP header of what A sends next (the
    // ECN bits stay TCP's).
    p.a.set_options(c, |o| o.tos = 0x2b).unwrap();
    let before = p.a_to_b.len();
    p.a.send(c, b"marked").unwrap();
    p.exchange();
    let tos: Vec<u8> = p.a_to_b[before..].iter().map(|f| f[15]).collect();
    assert_eq!(tos, [0x28]);

    // SO_SNDBUF on the live connection bounds what one send takes, and
    // reads back from the connection (where autotuning would grow it).
    let (rcv, _) = p.b.buffer_sizes(s).unwrap().unwrap();
    p.b.set_options(s, |o| o.snd_buf = Some(8192)).unwrap();
    assert_eq!(p.b.send(s, &[0u8; 100_000]), Ok(8192));
    assert_eq!(p.b.buffer_sizes(s), Ok(Some((rcv, 8192))));
    let l = p.b.socket();
    assert_eq!(p.b.buffer_sizes(l), Ok(None), "no connection yet");
}

/// The server closes first, so TIME-WAIT is on its side; the client then
/// connects again from the same port (as a busy client does when its
/// ephemeral ports wrap). The new SYN is past the old RCV.NXT and its
/// timestamp is newer, so the server ends the TIME-WAIT and answers with a
/// SYN-ACK at once (RFC 6191), instead of an ACK the client would have to
/// reset before retrying.
#[test]
fn syn_reopens_a_connection_in_time_wait() {
    let mut p = Pair::new();
    let l = listen(&mut p.b, 80, 16);
    let port = 40_000;
    let connect = |p: &mut Pair| {
        let c = p.a.socket();
        p.a.set_options(c, |o| o.reuse_addr = true).unwrap();
        p.a.bind(c, SocketAddrV4::new(A, port)).unwrap();
        let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
        p.run_until(Duration::from_secs(5), |p| {
            p.b.readiness(l).unwrap().readable
        });
        let (s, _) = p.b.accept(l).unwrap();
        (c, s)
    };
    let (c, s) = connect(&mut p);
    p.b.close(s);
    p.run_until(Duration::from_secs(1), |p| {
        p.a.readiness(c).unwrap().read_closed
    });
    p.a.close(c);
    p.run_until(Duration::from_secs(1), |p| p.a.socket_list().is_empty());
    let states: Vec<State> = p.b.socket_list().iter().map(|x| x.1).collect();
    assert_eq!(states, [State::Listen, State::TimeWait]);
    let (_, fin_seq) = tcp_segments_seen(&p.b_to_a)
        .into_iter()
        .rfind(|(f, _)| f.contains('F'))
        .unwrap();

    p.now += Duration::from_secs(1);
    let before = p.b_to_a.len();
    let (c2, s2) = connect(&mut p);
    assert_eq!(p.a.state(c2), Ok(State::Established));
    assert_eq!(p.b.state(s2), Ok(State::Established));
    assert_eq!(p.b.counters().tcp_time_wait_reopened, 1);
    // B's first answer to the new SYN is a SYN-ACK, whose ISS is past the
    // old incarnation's FIN; nobody sent a RST.
    let answer = tcp_segments_seen(&p.b_to_a[before..]);
    assert_eq!(answer[0].0, "[S.]", "{answer:?}");
    assert_eq!(answer[0].1, fin_seq.wrapping_add(1 + 65537));
    assert!(!tcp_flags_seen(&p.a_to_b).iter().any(|f| f.contains('R')));
}

/// One stack talks to itself, through 127.0.0.1, `0.0.0.0` and its own
/// address: handshakes, a megabyte each way and the close, with nothing
/// on the wire; a listener bound to 127.0.0.1 is not reachable through
/// the other address.
#[test]
fn a_stack_reaches_its_own_listeners_over_loopback() {
    let mut p = Pair::new();
    let any = listen(&mut p.a, 80, 16);
    let lo_only = p.a.socket();
    p.a.bind(lo_only, SocketAddrV4::new(Ipv4Addr::LOCALHOST, 81))
        .unwrap();
    p.a.listen(lo_only, 16).unwrap();
    let wire_before = p.a_to_b.len();

    for (to, local_ip) in [
        (Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST),
        (Ipv4Addr::UNSPECIFIED, Ipv4Addr::LOCALHOST),
        (A, A),
    ] {
        let c = p.a.socket();
        let r = p.a.connect(p.now, c, SocketAddrV4::new(to, 80));
        assert_eq!(r, Err(SocketError::InProgress));
        p.exchange();
        assert_eq!(p.a.state(c), Ok(State::Established), "to {to}");
        let (s, peer) = p.a.accept(any).unwrap();
        let local = p.a.local_addr(c).unwrap();
        assert_eq!(*local.ip(), local_ip);
        assert_eq!(peer, local);
        assert_eq!(*p.a.local_addr(s).unwrap().ip(), local_ip);

        let up: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
        let (mut sent, mut got) = (0, Vec::new());
        let mut buf = vec![0u8; 65536];
        p.run_until(Duration::from_secs(10), |p| {
            while sent < up.len() {
                match p.a.send(c, &up[sent..]) {
                    Ok(n) => sent += n,
                    Err(_) => break,
                }
            }
            while let Ok(n) = p.a.recv(s, &mut buf, false) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            got.len() == up.len()
        });
        assert!(got == up, "{} of {} bytes to {to}", got.len(), up.len());
        p.a.close(c);
        p.exchange();
        assert_eq!(p.a.recv(s, &mut buf, false), Ok(0));
        p.a.close(s);
        p.exchange();
    }
    let states: Vec<State> = p.a.socket_list().iter().map(|x| x.1).collect();
    assert_eq!(states.iter().filter(|&&s| s == State::TimeWait).count(), 3);

    // 127.0.0.1:81 listens on loopback only: through our address, RST.
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, SocketAddrV4::new(A, 81));
    p.exchange();
    assert_eq!(p.a.state(c), Ok(State::Closed));
    assert_eq!(
        p.a.recv(c, &mut [0u8; 4], false),
        Err(SocketError::ConnectionRefused)
    );
    let c = p.a.socket();
    let _ =
        p.a.connect(p.now, c, SocketAddrV4::new(Ipv4Addr::LOCALHOST, 81));
    p.exchange();
    assert_eq!(p.a.state(c), Ok(State::Established));
    assert!(p.a.accept(lo_only).is_ok());

    // As on Linux, port 81 may also be bound on our address, but not on
    // 0.0.0.0 (which overlaps both); then our address reaches it.
    let any81 = p.a.socket();
    assert_eq!(
        p.a.bind(any81, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 81)),
        Err(SocketError::AddrInUse)
    );
    let own = p.a.socket();
    p.a.bind(own, SocketAddrV4::new(A, 81)).unwrap();
    p.a.listen(own, 16).unwrap();
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, SocketAddrV4::new(A, 81));
    p.exchange();
    assert_eq!(p.a.state(c), Ok(State::Established));
    assert!(p.a.accept(own).is_ok());
    assert_eq!(p.a.accept(lo_only), Err(SocketError::WouldBlock));

    assert!(tcp_flags_seen(&p.a_to_b[wire_before..]).is_empty());
    assert!(p.a.counters().loopback_tx > 100);
}

/// TCP_DEFER_ACCEPT 5 s (3 SYN-ACK retransmissions, as Linux counts it):
/// the client's bare ACK does not complete the handshake; its first data
/// does, and `accept` returns a connection with that data readable. A
/// client that sends nothing is accepted once the deferral has run out.
#[test]
fn defer_accept_waits_for_the_first_data() {
    use crate::stack::socket::{defer_accept_retrans, defer_accept_secs};
    assert_eq!(defer_accept_retrans(5), 3);
    assert_eq!(defer_accept_secs(3), 7);
    assert_eq!(defer_accept_retrans(30), 5);
    assert_eq!(defer_accept_secs(5), 31);
    assert_eq!((defer_accept_retrans(0), defer_accept_retrans(-4)), (0, 0));

    let mut p = Pair::new();
    let l = p.b.socket();
    p.b.set_options(l, |o| o.defer_accept = defer_accept_retrans(5))
        .unwrap();
    p.b.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80))
        .unwrap();
    p.b.listen(l, 16).unwrap();

    let talker = p.a.socket();
    let _ = p.a.connect(p.now, talker, SocketAddrV4::new(B, 80));
    p.run_until(Duration::from_millis(500), |_| false);
    assert_eq!(p.a.state(talker), Ok(State::Established));
    assert!(!p.b.readiness(l).unwrap().readable, "accepted before data");
    assert_eq!(p.b.listener_queues(l).unwrap().0, 1);
    assert!(p.b.counters().tcp_defer_accept_drop >= 1);
    p.a.send(talker, b"GET /").unwrap();
    p.exchange();
    let (s, _) = p.b.accept(l).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(p.b.recv(s, &mut buf, false), Ok(5));

    let silent = p.a.socket();
    let start = p.now;
    let _ = p.a.connect(p.now, silent, SocketAddrV4::new(B, 80));
    p.run_until(Duration::from_secs(20), |p| {
        p.b.readiness(l).unwrap().readable
    });
    assert!(p.b.accept(l).is_ok());
    let waited = p.now - start;
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_secs(8),
        "accepted after {waited:?}"
    );
}

#[test]
fn time_wait_connections_are_capped() {
    let mut p = Pair::new();
    p.a.set_max_time_wait(2);
    let l = listen(&mut p.b, 80, 16);
    let mut accepted = Vec::new();
    for _ in 0..3 {
        let c = p.a.socket();
        let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
        p.run_until(Duration::from_secs(2), |p| {
            p.b.readiness(l).unwrap().readable
        });
        accepted.push(p.b.accept(l).unwrap().0);
        // A closes first: A goes to TIME-WAIT once B has closed too.
        p.a.close(c);
        p.exchange();
    }
    for s in accepted {
        p.b.close(s);
    }
    p.run_until(Duration::from_secs(5), |p| p.a.time_wait_count() >= 2);
    p.exchange();
    assert_eq!(p.a.time_wait_count(), 2);
    assert_eq!(p.a.counters().tcp_time_wait_overflow, 1);
    let states: Vec<State> = p.a.socket_list().iter().map(|x| x.1).collect();
    assert_eq!(states, vec![State::TimeWait, State::TimeWait]);
    // The two end after 2·MSL and the count follows.
    p.run_until(Duration::from_secs(200), |p| p.a.socket_list().is_empty());
    assert_eq!(p.a.time_wait_count(), 0);
}

#[test]
fn offload_sends_tso_segments_with_partial_checksums() {
    use crate::wire::virtio_net::{self, VnetHeader};
    let mut p = Pair::with_offload();
    let l = listen(&mut p.b, 80, 16);
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
    p.run_until(Duration::from_secs(5), |p| {
        p.b.readiness(l).unwrap().readable
    });
    let (s, _) = p.b.accept(l).unwrap();
    let up: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 70_000];
    p.run_until(Duration::from_secs(60), |p| {
        while sent < up.len() {
            match p.a.send(c, &up[sent..]) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        while let Ok(n) = p.b.recv(s, &mut buf, false) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == up.len()
    });
    assert!(got == up, "bytes differ ({} of {})", got.len(), up.len());
    assert_eq!(p.b.counters().drop_tcp_malformed, 0);
    let mut tso = 0;
    for f in &p.a_to_b {
        let h = VnetHeader::new_checked(&f[..]).unwrap();
        let eth = EthernetFrame::new_checked(&f[virtio_net::HEADER_LEN..]).unwrap();
        if eth.ethertype() != EtherType::Ipv4 {
            assert_eq!(h.flags(), 0);
            continue;
        }
        // Every TCP segment leaves its checksum to the device.
        assert_eq!(h.flags(), virtio_net::F_NEEDS_CSUM);
        assert_eq!((h.csum_start(), h.csum_offset()), (34, 16));
        if f.len() > virtio_net::HEADER_LEN + 1514 {
            // Cut at the MSS less the timestamp option; headers of
            // Ethernet, IP and TCP with timestamps.
            assert_eq!(h.gso_type(), virtio_net::GSO_TCPV4);
            assert_eq!(h.gso_size(), 1448);
            assert_eq!(h.hdr_len(), 14 + 20 + 32);
            tso += 1;
        } else {
            assert_eq!(h.gso_type(), virtio_net::GSO_NONE);
        }
    }
    assert!(tso > 0, "no TSO segment in {} frames", p.a_to_b.len());
    assert!(p.a_to_b.len() < 400, "{} frames for 1 MiB", p.a_to_b.len());
}

/// The SYN of a `connect` to an unresolved neighbour starts a resolution,
/// and its ARP request goes out in the very next `poll_transmit`, not at the
/// 1 s retry; the handshake then completes without time passing.
#[test]
fn first_segment_to_an_unresolved_neighbour_sends_arp_at_once() {
    let mut p = Pair::new();
    p.exchange(); // the gratuitous ARPs
    listen(&mut p.b, 80, 4);
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
    let mut buf = vec![0u8; 1514];
    let n = p.a.poll_transmit(p.now, &mut buf).expect("an ARP request");
    let arp = ArpPacket::new_checked(&buf[ethernet::HEADER_LEN..n]).unwrap();
    let arp = ArpRepr::parse(&arp).unwrap();
    assert_eq!(arp.operation, Operation::Request);
    assert_eq!(arp.target_protocol_addr, B);
    p.b.handle_frame(p.now, &buf[..n]);
    p.exchange();
    assert_eq!(p.a.state(c).unwrap(), State::Established);
    assert_eq!(p.now, Instant::ZERO);
}

/// A spoofed ACK from `src:port` to B:80 that returns a valid SYN cookie
/// made at `now` under B's key, as if it answered a cookie SYN-ACK.
fn forged_cookie_ack(b: &Stack, now: Instant, src: Ipv4Addr, port: u16) -> Vec<u8> {
    use crate::wire::SeqNum;
    use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
    let tuple = FourTuple::new(SocketAddrV4::new(B, 80), SocketAddrV4::new(src, port));
    let peer_isn = SeqNum(0x1000_0000);
    let cookie = crate::tcp::cookie::encode(b.isn_secret, now, &tuple, peer_isn, 3);
    let tcp = TcpRepr {
        src_port: port,
        dst_port: 80,
        seq: peer_isn + 1u32,
        ack: cookie + 1u32,
        flags: TcpFlags::ACK,
        window: 502,
        urgent: 0,
        options: TcpOptions::default(),
        payload: &[],
    };
    frame_to(b, src, &tcp)
}

/// An ACK for no connection is taken as a SYN cookie only while one may be
/// out: within a cookie's lifetime of the last SYN-queue overflow. Before
/// any overflow, and again once that lifetime has passed, even an ACK
/// returning a correct cookie is answered with a RST and makes nothing,
/// so a blind attacker cannot grind the 24-bit MAC against a listener
/// that never sent a cookie.
#[test]
fn cookies_are_checked_only_after_a_recent_syn_queue_overflow() {
    let mut p = Pair::new();
    p.exchange();
    let l = listen(&mut p.b, 80, 1);
    let spoofed = Ipv4Addr::new(10, 0, 0, 99);
    p.b.handle_frame(p.now, &forged_cookie_ack(&p.b, p.now, spoofed, 5000));
    assert_eq!(p.b.listener_queues(l).unwrap(), (0, 0, 1));
    assert_eq!(p.b.counters().tcp_syncookies_validated, 0);
    assert_eq!(p.b.counters().tcp_syncookies_failed, 0, "not even checked");
    assert_eq!(p.b.counters().tcp_tx_rst_no_socket, 1);

    // Three SYNs on backlog 1: the third overflows the SYN queue and gets
    // a cookie. From then on, cookies are checked.
    for port in 1000..1003 {
        p.b.handle_frame(p.now, &spoofed_syn(&p.b, spoofed, port));
    }
    assert_eq!(p.b.counters().tcp_syncookies_sent, 1);
    p.now += Duration::from_secs(100);
    p.b.handle_frame(p.now, &forged_cookie_ack(&p.b, p.now, spoofed, 5001));
    assert_eq!(p.b.counters().tcp_syncookies_validated, 1);
    assert_eq!(p.b.listener_queues(l).unwrap().1, 1);

    // A cookie's lifetime after the overflow, a fresh and correct cookie
    // is no longer looked at.
    p.now = Instant::ZERO + crate::tcp::cookie::LIFETIME;
    p.b.handle_frame(p.now, &forged_cookie_ack(&p.b, p.now, spoofed, 5002));
    assert_eq!(p.b.counters().tcp_syncookies_validated, 1);
    assert_eq!(p.b.listener_queues(l).unwrap().1, 1);
    assert_eq!(p.b.counters().tcp_tx_rst_no_socket, 2);
}

/// The SYNs and SYN-ACKs in `frames`: sequence number and TSval.
fn syn_timestamps(frames: &[Vec<u8>]) -> Vec<(u32, u32)> {
    use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr};
    use crate::wire::tcp::{TcpFlags, TcpPacket, TcpRepr};
    frames
        .iter()
        .filter_map(|f| {
            let e = EthernetFrame::new_checked(&f[..]).ok()?;
            let p = Ipv4Packet::new_checked(e.payload()).ok()?;
            let ip = Ipv4Repr::parse(&p).ok()?;
            let t = TcpPacket::new_checked(p.payload()).ok()?;
            let r = TcpRepr::parse(&t, ip.src_addr, ip.dst_addr).ok()?;
            r.flags.contains(TcpFlags::SYN).then_some(())?;
            Some((r.seq.0, r.options.timestamps?.0))
        })
        .collect()
}

/// RFC 7323 §5.4: a TSval is the clock plus a per-connection random
/// offset. Two connections made at the same instant have unrelated
/// offsets, and no offset is the ISS the same SYN carries (nor moves with
/// it), so TSval minus ISS does not give the host's clock away.
#[test]
fn tsval_offsets_are_per_connection_and_unrelated_to_the_iss() {
    let mut p = Pair::new();
    p.now = Instant::from_millis(123_456_789);
    listen(&mut p.b, 80, 8);
    let clients: Vec<SocketHandle> = (0..2).map(|_| p.a.socket()).collect();
    for &c in &clients {
        let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
    }
    p.exchange();
    for &c in &clients {
        assert_eq!(p.a.state(c).unwrap(), State::Established);
    }
    let clock = p.now.total_millis() as u32;
    for frames in [&p.a_to_b, &p.b_to_a] {
        let syns = syn_timestamps(frames);
        assert_eq!(syns.len(), 2);
        let offsets: Vec<u32> = syns.iter().map(|&(_, ts)| ts.wrapping_sub(clock)).collect();
        for (&(iss, _), &off) in syns.iter().zip(&offsets) {
            assert_ne!(off, iss, "TSval - clock is the ISS");
        }
        assert_ne!(offsets[0], offsets[1], "one clock for two connections");
        assert_ne!(
            offsets[0].wrapping_sub(offsets[1]),
            syns[0].0.wrapping_sub(syns[1].0),
            "the offsets move with the ISS"
        );
    }
}

/// RFC 5927 §4.1: an ICMP port unreachable for a connection in SYN-SENT
/// is believed only when the TCP header it quotes starts within
/// SND.UNA..=SND.NXT. Errors quoting any other sequence number (a blind
/// attacker knows the ports, not the ISS) are ignored and counted; the
/// one quoting our SYN refuses the connection.
#[test]
fn icmp_unreachable_must_quote_a_sequence_number_we_sent() {
    use crate::wire::icmpv4::{Icmpv4Packet, Icmpv4Repr, unreachable};
    let mut p = Pair::new();
    p.exchange();
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
    // Resolve B for A, then keep A's SYN from B.
    let mut buf = vec![0u8; 1514];
    let n = p.a.poll_transmit(p.now, &mut buf).unwrap();
    p.b.handle_frame(p.now, &buf[..n]);
    let n = p.b.poll_transmit(p.now, &mut buf).unwrap();
    p.a.handle_frame(p.now, &buf[..n]);
    let n = p.a.poll_transmit(p.now, &mut buf).unwrap();
    let syn = buf[..n].to_vec();
    let (flags, iss) = tcp_segments_seen(std::slice::from_ref(&syn))[0].clone();
    assert_eq!(flags, "[S]");

    let quote = |seq: u32| {
        let mut original = syn[ethernet::HEADER_LEN..ethernet::HEADER_LEN + 28].to_vec();
        original[24..28].copy_from_slice(&seq.to_be_bytes());
        let icmp = Icmpv4Repr::DstUnreachable {
            code: unreachable::PORT,
            next_hop_mtu: 0,
            original: &original,
        };
        let mut msg = vec![0u8; icmp.buffer_len()];
        icmp.emit(&mut Icmpv4Packet::new_unchecked(&mut msg[..]));
        msg
    };
    for bad in [iss.wrapping_sub(1), iss.wrapping_add(2), iss ^ 0x8000_0000] {
        p.b.send_ip(p.now, A, crate::wire::checksum::PROTO_ICMP, &quote(bad))
            .unwrap();
        p.exchange();
        assert_eq!(p.a.state(c).unwrap(), State::SynSent, "seq {bad:#x}");
    }
    assert_eq!(p.a.counters().icmp_tcp_out_of_window, 3);
    assert_eq!(p.a.counters().icmp_errors_to_tcp, 0);

    p.b.send_ip(p.now, A, crate::wire::checksum::PROTO_ICMP, &quote(iss))
        .unwrap();
    p.exchange();
    assert_eq!(p.a.counters().icmp_errors_to_tcp, 1);
    assert_eq!(p.a.state(c).unwrap(), State::Closed);
    assert_eq!(
        p.a.take_error(c).unwrap(),
        Some(SocketError::ConnectionRefused)
    );
}

/// `n` connections from A to B:80, established, with the port of each
/// client and the sequence number B expects next from it.
fn connections(p: &mut Pair, n: usize) -> Vec<(SocketHandle, u16, u32)> {
    use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr};
    use crate::wire::tcp::{TcpPacket, TcpRepr};
    listen(&mut p.b, 80, 4096);
    let clients: Vec<SocketHandle> = (0..n).map(|_| p.a.socket()).collect();
    for &c in &clients {
        let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
    }
    p.exchange();
    let mut next = HashMap::new();
    for f in &p.a_to_b {
        let Some(e) = EthernetFrame::new_checked(&f[..]).ok() else {
            continue;
        };
        let Some(ip) = Ipv4Packet::new_checked(e.payload()).ok() else {
            continue;
        };
        let Some(r) = Ipv4Repr::parse(&ip).ok().and_then(|i| {
            let t = TcpPacket::new_checked(ip.payload()).ok()?;
            TcpRepr::parse(&t, i.src_addr, i.dst_addr).ok()
        }) else {
            continue;
        };
        next.insert(r.src_port, (r.seq + r.segment_len()).0);
    }
    clients
        .iter()
        .map(|&c| {
            assert_eq!(p.a.state(c).unwrap(), State::Established);
            let port = p.a.local_addr(c).unwrap().port();
            (c, port, next[&port])
        })
        .collect()
}

/// A RST from A's `port` to B:80 at `seq`.
fn rst_to_b(p: &Pair, port: u16, seq: u32) -> Vec<u8> {
    use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
    let tcp = TcpRepr {
        src_port: port,
        dst_port: 80,
        seq: crate::wire::SeqNum(seq),
        ack: crate::wire::SeqNum(0),
        flags: TcpFlags::RST,
        window: 0,
        urgent: 0,
        options: TcpOptions::default(),
        payload: &[],
    };
    frame_to(&p.b, A, &tcp)
}

/// B's frames to A until it has nothing more to send.
fn b_output(p: &mut Pair) -> usize {
    let mut buf = vec![0u8; 1514];
    let mut n = 0;
    while p.b.poll_transmit(p.now, &mut buf).is_some() {
        n += 1;
    }
    n
}

/// RFC 5961 §7: 1000 in-window RSTs that are not an exact match, at one
/// instant, each handled and followed by a transmit poll, get one
/// challenge ACK; the connection lives on. 500 ms later it may send
/// another (Linux's tcp_invalid_ratelimit).
#[test]
fn challenge_acks_are_limited_per_connection() {
    let mut p = Pair::new();
    let conns = connections(&mut p, 1);
    let (_, port, rcv_nxt) = conns[0];
    let mut acks = 0;
    for _ in 0..1000 {
        let f = rst_to_b(&p, port, rcv_nxt.wrapping_add(1));
        p.b.handle_frame(p.now, &f);
        acks += b_output(&mut p);
    }
    assert_eq!(acks, 1);
    assert_eq!(p.b.counters().tcp_challenge_acks, 1);
    assert_eq!(p.b.counters().tcp_challenge_ack_limited_conn, 999);
    p.now += Duration::from_millis(499);
    p.b.handle_frame(p.now, &rst_to_b(&p, port, rcv_nxt.wrapping_add(1)));
    assert_eq!(b_output(&mut p), 0);
    p.now += Duration::from_millis(1);
    p.b.handle_frame(p.now, &rst_to_b(&p, port, rcv_nxt.wrapping_add(1)));
    assert_eq!(b_output(&mut p), 1);
    assert_eq!(p.b.counters().tcp_challenge_acks, 2);
    let states: Vec<State> = p.b.socket_list().iter().map(|x| x.1).collect();
    assert!(states.contains(&State::Established), "{states:?}");
}

/// RFC 5961 §7: across connections, the host sends about
/// `tcp_challenge_ack_limit` challenge ACKs a second, the budget drawn
/// between half and one and a half times the limit.
#[test]
fn challenge_acks_are_limited_per_host() {
    let mut p = Pair::new();
    p.b.set_challenge_ack_limit(10);
    let conns = connections(&mut p, 40);
    let mut acks = 0;
    for &(_, port, rcv_nxt) in &conns {
        p.b.handle_frame(p.now, &rst_to_b(&p, port, rcv_nxt.wrapping_add(1)));
        acks += b_output(&mut p);
    }
    assert!((5..=14).contains(&acks), "{acks}");
    let c = p.b.counters();
    assert_eq!(c.tcp_challenge_acks, acks as u64);
    assert_eq!(c.tcp_challenge_ack_limited_host, 40 - acks as u64);
    assert_eq!(c.tcp_challenge_ack_limited_conn, 0);
    // The next second brings a new budget.
    p.now += Duration::from_secs(1);
    let (_, port, rcv_nxt) = conns[0];
    p.b.handle_frame(p.now, &rst_to_b(&p, port, rcv_nxt.wrapping_add(1)));
    assert_eq!(b_output(&mut p), 1);
}

/// Pure ACKs outside the window get at most one ACK per 500 ms per
/// connection; segments with data are always answered (a retransmission
/// of data already received needs its duplicate ACK).
#[test]
fn acks_to_out_of_window_segments_are_limited_per_connection() {
    use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
    let mut p = Pair::new();
    let conns = connections(&mut p, 1);
    let (_, port, rcv_nxt) = conns[0];
    let seg = |seq: u32, payload: &'static [u8]| TcpRepr {
        src_port: port,
        dst_port: 80,
        seq: crate::wire::SeqNum(seq),
        ack: crate::wire::SeqNum(0),
        flags: TcpFlags::ACK,
        window: 1000,
        urgent: 0,
        options: TcpOptions::default(),
        payload,
    };
    let far = rcv_nxt.wrapping_add(1 << 30);
    let mut acks = 0;
    for _ in 0..100 {
        p.b.handle_frame(p.now, &frame_to(&p.b, A, &seg(far, b"")));
        acks += b_output(&mut p);
    }
    assert_eq!(acks, 1);
    assert_eq!(p.b.counters().tcp_oow_ack_limited, 99);
    let old = rcv_nxt.wrapping_sub(100);
    for _ in 0..3 {
        p.b.handle_frame(p.now, &frame_to(&p.b, A, &seg(old, b"stale")));
        assert_eq!(b_output(&mut p), 1);
    }
}

/// Closing with the server's greeting unread (RFC 2525 §2.17: RST) frees
/// the connection and its ephemeral port: a client that does it in a loop
/// must not run out of ports.
#[test]
fn closed_with_unread_data_is_reaped_and_frees_its_port() {
    let mut p = Pair::new();
    let l = listen(&mut p.b, 80, 16);
    let (c, s) = connect_accept(&mut p, l, 80);
    let port = p.a.local_addr(c).unwrap().port();
    p.b.send(s, b"220 hello\r\n").unwrap();
    p.exchange();
    assert_eq!(p.a.recv_queue_len(c).unwrap(), 11);
    p.a.close(c);
    p.exchange();
    assert_eq!(tcp_flags_seen(&p.a_to_b).last().unwrap(), "[R.]");
    assert!(p.a.socket_list().is_empty(), "{:?}", p.a.socket_list());
    assert!(!p.a.ports.contains_key(&port), "port {port} still held");
    assert_eq!(p.b.state(s).unwrap(), State::Closed);
}

/// A connection reset by the peer while data waited, then closed unread,
/// is freed with its port.
#[test]
fn reset_by_peer_then_closed_unread_is_reaped() {
    let mut p = Pair::new();
    let l = listen(&mut p.b, 80, 16);
    let (c, s) = connect_accept(&mut p, l, 80);
    let port = p.a.local_addr(c).unwrap().port();
    p.b.send(s, b"response").unwrap();
    p.exchange();
    p.b.set_options(s, |o| o.linger = Some(Duration::ZERO))
        .unwrap();
    p.b.close(s);
    p.exchange();
    assert_eq!(p.a.state(c).unwrap(), State::Closed);
    assert_eq!(p.a.recv_queue_len(c).unwrap(), 8);
    p.a.close(c);
    p.exchange();
    assert!(p.a.socket_list().is_empty(), "{:?}", p.a.socket_list());
    assert!(!p.a.ports.contains_key(&port), "port {port} still held");
}

/// A listener closed while it held an unaccepted connection with a
/// request waiting resets it, and nothing of it stays: the port can be
/// bound again without `SO_REUSEADDR`.
#[test]
fn closed_listener_frees_unaccepted_children_holding_data() {
    let mut p = Pair::new();
    let l = listen(&mut p.b, 80, 16);
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
    p.run_until(Duration::from_secs(5), |p| {
        p.b.readiness(l).unwrap().readable
    });
    p.a.send(c, b"GET / HTTP/1.0\r\n\r\n").unwrap();
    p.exchange();
    p.b.close(l);
    p.exchange();
    assert_eq!(p.a.state(c).unwrap(), State::Closed);
    assert_eq!(
        p.a.take_error(c).unwrap(),
        Some(SocketError::ConnectionReset)
    );
    assert!(p.b.socket_list().is_empty(), "{:?}", p.b.socket_list());
    assert!(!p.b.ports.contains_key(&80), "port 80 still held");
    let again = p.b.socket();
    assert_eq!(
        p.b.bind(again, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80)),
        Ok(())
    );
}

/// A listener closed while a connection is half open (its ACK held back by
/// TCP_DEFER_ACCEPT, the client established in its own view): the RST is
/// `<SEQ=SND.NXT><CTL=RST>` without ACK (RFC 9293 §3.10.5), at the sequence
/// number the client expects, and the client is reset.
#[test]
fn closed_listener_resets_half_open_children_without_ack() {
    use crate::stack::socket::defer_accept_retrans;
    let mut p = Pair::new();
    let l = p.b.socket();
    p.b.set_options(l, |o| o.defer_accept = defer_accept_retrans(5))
        .unwrap();
    p.b.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80))
        .unwrap();
    p.b.listen(l, 16).unwrap();
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
    p.run_until(Duration::from_millis(500), |_| false);
    assert_eq!(p.a.state(c), Ok(State::Established));
    assert_eq!(p.b.listener_queues(l).unwrap().0, 1, "half open");
    let before = p.b_to_a.len();
    p.b.close(l);
    p.exchange();
    let sent = tcp_segments_seen(&p.b_to_a[before..]);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "[R]");
    assert_eq!(p.a.state(c), Ok(State::Closed));
    assert_eq!(p.a.take_error(c), Ok(Some(SocketError::ConnectionReset)));
    assert!(p.b.socket_list().is_empty(), "{:?}", p.b.socket_list());
}

/// B's TCP segments in `frames`: (ACK number, SACK blocks).
fn acks_seen(frames: &[Vec<u8>]) -> Vec<(u32, Vec<(u32, u32)>)> {
    use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr};
    use crate::wire::tcp::{TcpPacket, TcpRepr};
    frames
        .iter()
        .filter_map(|f| {
            let e = EthernetFrame::new_checked(&f[..]).ok()?;
            let p = Ipv4Packet::new_checked(e.payload()).ok()?;
            let ip = Ipv4Repr::parse(&p).ok()?;
            let t = TcpPacket::new_checked(p.payload()).ok()?;
            let r = TcpRepr::parse(&t, ip.src_addr, ip.dst_addr).ok()?;
            let sacks = r.options.sack_blocks.iter().flatten();
            Some((r.ack.0, sacks.map(|&(l, h)| (l.0, h.0)).collect()))
        })
        .collect()
}

/// A's next flight of data segments, taken off the wire (not delivered),
/// with at least `n` of them.
fn a_flight(p: &mut Pair, c: SocketHandle, n: usize) -> Vec<Vec<u8>> {
    p.a.send(c, &vec![7u8; 64 * 1024]).unwrap();
    let mut buf = vec![0u8; 70_000];
    let mut frames = Vec::new();
    while let Some(len) = p.a.poll_transmit(p.now, &mut buf) {
        frames.push(buf[..len].to_vec());
    }
    assert!(frames.len() >= n, "A sent {} segments", frames.len());
    frames
}

/// RFC 5681 §4.2, RFC 9293 §3.8.6.3: data read from the device in one
/// batch (the runtime hands the stack every frame it read, then polls for
/// output) is acknowledged more than once per batch: at least every 8
/// full-sized segments (`BATCH_ACK_SEGMENTS`) within it, every second
/// at its end. Before, B sent one ACK for the whole batch: the TAP under a
/// fast kernel sender delivers most of a window at a time, so a single
/// lost ACK left the sender with nothing until its RTO (a 5 % random loss
/// took iperf3 into tapstack from about 120 to 15 MB/s).
#[test]
fn a_batch_of_data_is_acknowledged_every_second_segment() {
    let mut p = Pair::new();
    let l = listen(&mut p.b, 80, 16);
    let (c, _s) = connect_accept(&mut p, l, 80);
    let frames = a_flight(&mut p, c, 10);
    let start = tcp_segments_seen(&frames[..1])[0].1;
    for f in &frames {
        p.b.handle_frame(p.now, f);
    }
    let mut buf = vec![0u8; 70_000];
    let mut out = Vec::new();
    while let Some(len) = p.b.poll_transmit(p.now, &mut buf) {
        out.push(buf[..len].to_vec());
    }
    let acks = acks_seen(&out);
    assert!(
        acks.len() >= 2,
        "{} ACKs for {} segments",
        acks.len(),
        frames.len()
    );
    // Each ACK acknowledges more than the one before, at most 8 MSS
    // (1460) more, which segments of 1448 bytes (timestamps take 12)
    // reach in the 9th.
    let most = 8 * 1460 + 1448;
    assert!(acks.windows(2).all(|w| w[1].0 > w[0].0), "{acks:?}");
    assert!(acks[0].0 - start <= most, "{acks:?}");
    assert!(acks.windows(2).all(|w| w[1].0 - w[0].0 <= most), "{acks:?}");
    // acks_seen parsed them: the checksums are whole (the frames queued
    // ahead of the batch's end go out with an empty virtio-net header).
    assert_eq!(acks.len(), out.len());
}

/// RFC 5681 §4.2 and RFC 2018 §4: in a batch whose first segment was
/// lost, every later segment is out of order and gets its own duplicate
/// ACK at once, whose first SACK block covers that segment (the most
/// recent first). Before, the batch got one ACK: the sender saw one
/// duplicate ACK where there were nine, and no fast retransmit.
#[test]
fn out_of_order_segments_in_a_batch_each_get_a_duplicate_ack() {
    let mut p = Pair::new();
    let l = listen(&mut p.b, 80, 16);
    let (c, _s) = connect_accept(&mut p, l, 80);
    let frames = a_flight(&mut p, c, 10);
    for f in &frames[1..] {
        p.b.handle_frame(p.now, f);
    }
    let mut buf = vec![0u8; 70_000];
    let mut out = Vec::new();
    while let Some(len) = p.b.poll_transmit(p.now, &mut buf) {
        out.push(buf[..len].to_vec());
    }
    let acks = acks_seen(&out);
    assert_eq!(acks.len(), frames.len() - 1, "{acks:?}");
    let ack = acks[0].0;
    assert!(acks.iter().all(|a| a.0 == ack), "{acks:?}");
    // The SACK block grows by one segment with each ACK.
    let edges: Vec<u32> = acks.iter().map(|a| a.1[0].1).collect();
    assert!(edges.windows(2).all(|w| w[1] > w[0]), "{acks:?}");
    assert!(acks.iter().all(|a| a.1[0].0 == acks[0].1[0].0), "{acks:?}");
}

/// `shutdown(SHUT_RD)` of a listener disconnects it, as Linux's
/// `inet_shutdown` does (`tcp_disconnect`): the connection it held is
/// reset, `accept` gives `InvalidInput` (EINVAL), a new SYN is refused,
/// and the socket keeps its port.
#[test]
fn shutdown_of_a_listener_stops_it_listening() {
    let mut p = Pair::new();
    let l = listen(&mut p.b, 80, 16);
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
    p.run_until(Duration::from_secs(5), |p| {
        p.b.readiness(l).unwrap().readable
    });
    assert_eq!(p.b.shutdown(l, true, false), Ok(()));
    p.exchange();
    assert_eq!(
        p.a.take_error(c).unwrap(),
        Some(SocketError::ConnectionReset)
    );
    assert_eq!(p.b.accept(l).unwrap_err(), SocketError::InvalidInput);
    let c2 = p.a.socket();
    let _ = p.a.connect(p.now, c2, SocketAddrV4::new(B, 80));
    p.run_until(Duration::from_secs(5), |p| {
        p.a.state(c2).unwrap() == State::Closed
    });
    assert_eq!(
        p.a.take_error(c2).unwrap(),
        Some(SocketError::ConnectionRefused)
    );
    let other = p.b.socket();
    assert_eq!(
        p.b.bind(other, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80)),
        Err(SocketError::AddrInUse)
    );
}

/// A process that dies holding the stack's lock may leave a call half
/// done: the segment scratch taken (empty), a socket marked as queued for
/// transmission or dirty with no entry in the list, its timer registered
/// in the socket and not in the timer set. Before [`Stack::recover`] such a
/// connection sent empty segments forever (a transmit livelock, seen in the
/// chaos test) or never woke its waiters again; after it, the connection
/// delivers every byte, and its waiters are woken.
#[test]
fn recover_rebuilds_what_a_dead_holder_left_half_done() {
    let (mut p, c, s) = accepted_pair(80);
    let mut woken = Vec::new();
    p.b.take_wakeups(&mut woken);

    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let sent = p.b.send(s, &data).unwrap();
    // What the dead call left: every mark set, no list holds the socket.
    p.b.scratch = Vec::new();
    p.b.tx_queue.clear();
    p.b.dirty.clear();
    p.b.tcp_timers.clear();
    {
        let sock = p.b.slot_mut(s.index).unwrap();
        sock.dirty = true;
        sock.tx_queued = true;
    }
    p.exchange();
    assert!(!p.b.has_pending_transmit(), "the lost queue entry hides it");
    let mut got = vec![0u8; sent];
    assert_eq!(p.a.recv(c, &mut got, false), Err(SocketError::WouldBlock));

    p.b.recover();
    woken.clear();
    p.b.take_wakeups(&mut woken);
    assert!(woken.iter().any(|(h, _)| *h == s), "its waiters are woken");
    let mut received = Vec::new();
    p.run_until(Duration::from_secs(10), |p| {
        while let Ok(n) = p.a.recv(c, &mut got, false) {
            if n == 0 {
                break;
            }
            received.extend_from_slice(&got[..n]);
        }
        received.len() == sent
    });
    assert_eq!(received, data[..sent], "every byte, in order");
    assert_eq!(p.b.scratch.len(), table::SCRATCH_LEN);
}

/// The maps a dead holder may leave half changed (connections, listeners,
/// port holders, free slots) and a listener's queues are built again from
/// the sockets: without `recover` the connection's next segment meets no
/// connection (a RST), the port looks free, and a SYN-queue count raised
/// for a connection never made answers every SYN with a cookie.
#[test]
fn recover_rebuilds_the_maps_from_the_sockets() {
    let mut p = Pair::new();
    let l = listen(&mut p.b, 80, 2);
    let (c, s) = connect_accept(&mut p, l, 80);
    let pending = p.a.socket();
    let _ = p.a.connect(p.now, pending, SocketAddrV4::new(B, 80));
    p.exchange();
    assert_eq!(p.b.listener_queues(l).unwrap(), (0, 1, 2));
    let spare = p.b.socket();
    p.b.close(spare);
    // What a dead call may leave.
    p.b.conns.clear();
    p.b.listeners.clear();
    p.b.ports.clear();
    p.b.free_slots.clear();
    if let Some(socket::SocketKind::Listener(li)) = p.b.slot_mut(l.index).map(|s| &mut s.kind) {
        li.syn_queue = 3;
        li.accept_queue.clear();
    }

    p.b.recover();
    assert_eq!(p.b.listener_queues(l).unwrap(), (0, 1, 2), "the counts");
    let x = p.b.socket();
    assert_eq!(
        p.b.bind(x, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80)),
        Err(SocketError::AddrInUse),
        "port 80 is held"
    );
    assert_eq!(x.index, spare.index, "the free slot is found again");
    p.a.send(c, b"still there").unwrap();
    let mut got = [0u8; 32];
    p.run_until(Duration::from_secs(1), |p| {
        p.b.recv_queue_len(s).unwrap() > 0
    });
    let n = p.b.recv(s, &mut got, false).unwrap();
    assert_eq!(&got[..n], b"still there");
    assert_eq!(p.a.state(c).unwrap(), State::Established);
    let (queued, _) = p.b.accept(l).expect("the accept queue");
    assert_eq!(p.b.state(queued).unwrap(), State::Established);
    assert_eq!(p.b.accept(l).unwrap_err(), SocketError::WouldBlock);
    let more = p.a.socket();
    let _ = p.a.connect(p.now, more, SocketAddrV4::new(B, 80));
    p.exchange();
    assert_eq!(p.b.listener_queues(l).unwrap(), (0, 1, 2));
    assert_eq!(p.b.counters().tcp_syncookies_sent, 0, "no cookie");
}

/// What a process leaving waits for (`Runtime::leave`): the segments its
/// close queued, and no more. A closed connection is on the transmit queue
/// until its FIN is built; after that, and once the socket is gone, it has
/// nothing to send, whatever else the stack still has queued.
#[test]
fn a_closed_connection_is_transmit_queued_until_its_fin_is_built() {
    let (mut p, c, s) = accepted_pair(80);
    let (_, other) = {
        let l = listen(&mut p.b, 81, 16);
        connect_accept(&mut p, l, 81)
    };
    p.b.send(s, b"last words").unwrap();
    p.b.close(s);
    assert!(p.b.transmit_queued(s), "its data and FIN wait to be built");
    let mut buf = vec![0u8; 70_000];
    while let Some(n) = p.b.poll_transmit(p.now, &mut buf) {
        p.a.handle_frame(p.now, &buf[..n]);
    }
    assert!(!p.b.transmit_queued(s), "built and handed out");
    // Another connection with something to send is not its business.
    p.b.send(other, b"more").unwrap();
    assert!(p.b.has_pending_transmit());
    assert!(!p.b.transmit_queued(s));
    let mut got = [0u8; 32];
    let n = p.a.recv(c, &mut got, false).unwrap();
    assert_eq!(&got[..n], b"last words");
    p.a.close(c);
    p.run_until(Duration::from_secs(300), |p| p.b.state(s).is_err());
    assert!(p.b.state(s).is_err(), "TIME-WAIT ended, the socket is gone");
    assert!(
        !p.b.transmit_queued(s),
        "a socket that is gone sends nothing"
    );
}

/// A's request to B in quick-ACK mode: B holds its ACK for the answer
/// (nothing goes when B handles the frame). B's application going back to
/// its event loop's wait without answering (`release_held_acks`) sends it;
/// so does B's `recv` finding nothing more, and B's answer carries it.
#[test]
fn a_held_quick_ack_goes_when_the_application_waits_or_answers() {
    let (mut p, c, s) = accepted_pair(80);
    let request = |p: &mut Pair| {
        assert_eq!(p.a.send(c, b"ping"), Ok(4));
        let out = drain(&mut p.a);
        assert_eq!(out.len(), 1);
        p.b.handle_frame(p.now, &out[0]);
    };
    // B's frames to A; the ACK numbers they carry.
    let answer = |p: &mut Pair| {
        let out = drain(&mut p.b);
        for f in &out {
            p.a.handle_frame(p.now, f);
        }
        acks_seen(&out).iter().map(|a| a.0).collect::<Vec<_>>()
    };
    let mut buf = [0u8; 16];

    request(&mut p);
    assert_eq!(answer(&mut p), []);
    assert!(p.b.has_held_acks());
    p.b.release_held_acks();
    let first = answer(&mut p);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(!p.b.has_held_acks());
    assert_eq!(p.b.recv(s, &mut buf, false), Ok(4));

    request(&mut p);
    assert_eq!(p.b.recv(s, &mut buf, false), Ok(4));
    assert_eq!(answer(&mut p), []);
    assert_eq!(p.b.recv(s, &mut buf, false), Err(SocketError::WouldBlock));
    assert_eq!(answer(&mut p), [first[0] + 4]);

    request(&mut p);
    assert_eq!(p.b.recv(s, &mut buf, false), Ok(4));
    assert_eq!(p.b.send(s, b"pong"), Ok(4));
    assert_eq!(answer(&mut p), [first[0] + 8]);
}
