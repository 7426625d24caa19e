//! What the stack tests share: addresses, a stack of our own fed frames
//! by hand (`stack`, `drain`, frame builders), and two stacks joined by an
//! in-memory Ethernet with virtual time ([`Pair`]).

use crate::stack::*;
use crate::time::Duration;
use crate::wire::arp::PACKET_LEN;
use crate::wire::icmpv4::{Icmpv4Packet, Icmpv4Repr};
use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr};
use std::net::SocketAddrV4;

/// The stack under test, alone on a link with the kernel at `PEER`.
pub const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const PEER_MAC: EthernetAddress = EthernetAddress([0x46, 0xc2, 0x22, 0xe8, 0x1d, 0x0d]);

/// A host at `ip` on a /24, no gateway, MTU 1500, no offload.
pub fn config(ip: Ipv4Addr) -> StackConfig {
    StackConfig {
        mac: StackConfig::default_mac(ip),
        ip,
        prefix_len: 24,
        gateway: None,
        ip6: None,
        mtu: 1500,
        offload: false,
    }
}

pub fn stack() -> Stack {
    let mut s = Stack::new(config(US), Instant::ZERO, 1);
    drain(&mut s); // the gratuitous ARP
    s
}

pub fn drain(s: &mut Stack) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1514];
    while let Some(n) = s.poll_transmit(Instant::ZERO, &mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

pub fn eth(dst: EthernetAddress, src: EthernetAddress, ty: EtherType, payload: &[u8]) -> Vec<u8> {
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

pub fn arp_frame(
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
pub fn ip_frames(protocol: u8, payload: &[u8], ident: u16, mtu: usize) -> Vec<Vec<u8>> {
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

pub fn echo_request(ident: u16, seq_no: u16, data: &[u8]) -> Vec<u8> {
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
pub fn learn_peer(s: &mut Stack) -> Vec<Vec<u8>> {
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
pub fn reassemble_sent(frames: &[Vec<u8>]) -> (Ipv4Repr, Vec<u8>) {
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

/// Two stacks on one link.
pub const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

pub struct Pair {
    pub a: Stack,
    pub b: Stack,
    pub now: Instant,
    /// Frames A→B and B→A seen on the wire.
    pub a_to_b: Vec<Vec<u8>>,
    pub b_to_a: Vec<Vec<u8>>,
}

impl Pair {
    /// Two stacks whose link carries virtio-net headers and 64 KiB TCP
    /// segments, passed whole (as a GRO'd segment would arrive).
    pub fn with_offload() -> Pair {
        Pair {
            a: Stack::new(
                StackConfig {
                    offload: true,
                    ..config(A)
                },
                Instant::ZERO,
                11,
            ),
            b: Stack::new(
                StackConfig {
                    offload: true,
                    ..config(B)
                },
                Instant::ZERO,
                22,
            ),
            ..Pair::new()
        }
    }

    pub fn new() -> Pair {
        Pair {
            a: Stack::new(config(A), Instant::ZERO, 11),
            b: Stack::new(config(B), Instant::ZERO, 22),
            now: Instant::ZERO,
            a_to_b: Vec::new(),
            b_to_a: Vec::new(),
        }
    }

    /// Moves frames until both are quiet, without advancing time.
    pub fn exchange(&mut self) {
        let mut buf = vec![0u8; 70_000];
        for _ in 0..100_000 {
            let mut moved = false;
            while let Some(n) = self.a.poll_transmit(self.now, &mut buf) {
                self.a_to_b.push(buf[..n].to_vec());
                self.b.handle_frame(self.now, &buf[..n]);
                moved = true;
            }
            while let Some(n) = self.b.poll_transmit(self.now, &mut buf) {
                self.b_to_a.push(buf[..n].to_vec());
                self.a.handle_frame(self.now, &buf[..n]);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("livelock: frames never stop");
    }

    /// Exchanges, then advances time to the next timer, `steps` times or
    /// until `done`.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Pair) -> bool) {
        let end = self.now + limit;
        loop {
            self.exchange();
            if done(self) {
                return;
            }
            if self.a.has_pending_transmit() || self.b.has_pending_transmit() {
                continue;
            }
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                }
                _ => return,
            }
        }
    }
}

/// Sends `up` from A's `c` and `down` from B's `s` at once, in pieces as
/// an application would, and checks that each side reads exactly the
/// other's bytes within `limit` of virtual time.
pub fn transfer(
    p: &mut Pair,
    c: SocketHandle,
    s: SocketHandle,
    up: &[u8],
    down: &[u8],
    limit: Duration,
) {
    let (mut sent_up, mut sent_down) = (0, 0);
    let (mut got_up, mut got_down) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 70_000];
    p.run_until(limit, |p| {
        while sent_up < up.len() {
            match p.a.send(c, &up[sent_up..]) {
                Ok(n) => sent_up += n,
                Err(SocketError::WouldBlock) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        while sent_down < down.len() {
            match p.b.send(s, &down[sent_down..]) {
                Ok(n) => sent_down += n,
                Err(SocketError::WouldBlock) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        while let Ok(n) = p.b.recv(s, &mut buf, false) {
            if n == 0 {
                break;
            }
            got_up.extend_from_slice(&buf[..n]);
        }
        while let Ok(n) = p.a.recv(c, &mut buf, false) {
            if n == 0 {
                break;
            }
            got_down.extend_from_slice(&buf[..n]);
        }
        got_up.len() == up.len() && got_down.len() == down.len()
    });
    assert!(
        got_up == up,
        "A→B bytes differ ({} of {})",
        got_up.len(),
        up.len()
    );
    assert!(got_down == down, "B→A bytes differ");
}

/// Connects A to B's listener `l` on `port` and accepts; returns (client,
/// server) handles.
pub fn connect_accept(p: &mut Pair, l: SocketHandle, port: u16) -> (SocketHandle, SocketHandle) {
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, port));
    p.run_until(Duration::from_secs(5), |p| {
        p.b.readiness(l).unwrap().readable
    });
    let (s, _) = p.b.accept(l).unwrap();
    (c, s)
}

/// Two stacks where B listens on `port` (backlog 16, the listener left
/// open) and has accepted a connection from A: A's socket and B's.
pub fn accepted_pair(port: u16) -> (Pair, SocketHandle, SocketHandle) {
    let mut p = Pair::new();
    let l = listen(&mut p.b, port, 16);
    let (c, s) = connect_accept(&mut p, l, port);
    (p, c, s)
}

pub fn listen(s: &mut Stack, port: u16, backlog: i32) -> SocketHandle {
    let l = s.socket();
    s.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
        .unwrap();
    s.listen(l, backlog).unwrap();
    l
}

pub fn tcp_flags_seen(frames: &[Vec<u8>]) -> Vec<String> {
    tcp_segments_seen(frames).into_iter().map(|x| x.0).collect()
}

/// The flags and sequence number of each TCP segment in `frames`.
pub fn tcp_segments_seen(frames: &[Vec<u8>]) -> Vec<(String, u32)> {
    use crate::wire::ipv4::{Ipv4Packet, Ipv4Repr};
    use crate::wire::tcp::{TcpPacket, TcpRepr};
    frames
        .iter()
        .filter_map(|f| {
            let e = EthernetFrame::new_checked(&f[..]).ok()?;
            let p = Ipv4Packet::new_checked(e.payload()).ok()?;
            let ip = Ipv4Repr::parse(&p).ok()?;
            if ip.protocol != 6 {
                return None;
            }
            let t = TcpPacket::new_checked(p.payload()).ok()?;
            let r = TcpRepr::parse(&t, ip.src_addr, ip.dst_addr).ok()?;
            Some((r.flags.to_string(), r.seq.0))
        })
        .collect()
}
