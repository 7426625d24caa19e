//! IPv6 (RFC 8200): the fixed header, addresses (RFC 4291) and prefixes.
//! Extension headers are walked in [`super::ipv6ext`].
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Traffic Class |           Flow Label                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   Source Address (128 bits)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                Destination Address (128 bits)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! Addresses are std's [`Ipv6Addr`]; the free functions below add what a
//! host on an Ethernet link needs: link-local addresses from a MAC, the
//! solicited-node group of an address and the MAC a multicast group maps to.

use super::ethernet::EthernetAddress;
use super::{Error, Result};
use core::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

mod field {
    use core::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;
}

/// Length of the fixed header (RFC 8200 §3).
pub const HEADER_LEN: usize = field::DST_ADDR.end;

/// Offset of the Next Header field in the fixed header: the pointer of an
/// ICMPv6 Parameter Problem about it (RFC 4443 §3.4).
pub const NEXT_HEADER_POINTER: usize = field::NEXT_HEADER;

/// Offset of the Payload Length field in the fixed header.
pub const PAYLOAD_LEN_POINTER: usize = field::PAYLOAD_LEN.start;

/// The hop limit we send with (Linux's `hop_limit` default).
pub const DEFAULT_HOP_LIMIT: u8 = 64;

/// Every IPv6 link carries packets of this size unfragmented (RFC 8200
/// §5); an ICMPv6 error never exceeds it (RFC 4443 §2.4 (c)).
pub const MIN_MTU: usize = 1280;

/// Next Header values (IANA "Assigned Internet Protocol Numbers"; the
/// extension headers are RFC 8200 §4's, plus the ones RFC 7045 lists).
pub mod next_header {
    /// Hop-by-Hop Options (RFC 8200 §4.3).
    pub const HOP_BY_HOP: u8 = 0;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// Routing (RFC 8200 §4.4).
    pub const ROUTING: u8 = 43;
    /// Fragment (RFC 8200 §4.5).
    pub const FRAGMENT: u8 = 44;
    /// Encapsulating Security Payload (RFC 4303).
    pub const ESP: u8 = 50;
    /// Authentication Header (RFC 4302).
    pub const AH: u8 = 51;
    /// ICMPv6 (RFC 4443).
    pub const ICMPV6: u8 = 58;
    /// No Next Header (RFC 8200 §4.7).
    pub const NO_NEXT_HEADER: u8 = 59;
    /// Destination Options (RFC 8200 §4.6).
    pub const DST_OPTS: u8 = 60;
    /// Mobility (RFC 6275).
    pub const MOBILITY: u8 = 135;
    /// Host Identity Protocol (RFC 7401).
    pub const HIP: u8 = 139;
    /// Shim6 (RFC 5533).
    pub const SHIM6: u8 = 140;
    /// Experimentation and testing (RFC 3692, RFC 4727).
    pub const EXPERIMENT_1: u8 = 253;
    /// Experimentation and testing (RFC 3692, RFC 4727).
    pub const EXPERIMENT_2: u8 = 254;
}

/// ff02::1, the link-local all-nodes group (RFC 4291 §2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// ff02::2, the link-local all-routers group (RFC 4291 §2.7.1).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// A link-local unicast address, fe80::/10 (RFC 4291 §2.5.6).
pub fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// A solicited-node multicast address, ff02::1:ff00:0/104 (RFC 4291
/// §2.7.1).
pub fn is_solicited_node(a: Ipv6Addr) -> bool {
    let o = a.octets();
    o[..13] == [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff]
}

/// The solicited-node multicast group of `a`: ff02::1:ff plus the low 24
/// bits of `a` (RFC 4291 §2.7.1). Neighbor Solicitations for `a` go there
/// (RFC 4861 §7.2.2).
pub fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    let mut s = [0u8; 16];
    s[0] = 0xff;
    s[1] = 0x02;
    s[11] = 0x01;
    s[12] = 0xff;
    s[13..].copy_from_slice(&o[13..]);
    Ipv6Addr::from(s)
}

/// The Ethernet group address an IPv6 multicast address maps to: 33:33
/// followed by its low 32 bits (RFC 2464 §7). For a unicast address the
/// result means nothing; callers map only multicast destinations.
pub fn multicast_mac(a: Ipv6Addr) -> EthernetAddress {
    let o = a.octets();
    EthernetAddress([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// The modified EUI-64 interface identifier of a MAC: 0xfffe inserted in
/// the middle and the universal/local bit inverted (RFC 4291 Appendix A,
/// RFC 2464 §4).
pub fn interface_id(mac: EthernetAddress) -> [u8; 8] {
    let m = mac.0;
    [m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]
}

/// The link-local address fe80::/64 plus the modified EUI-64 interface
/// identifier of `mac` (RFC 4862 §5.3, RFC 2464 §5).
pub fn link_local_from_mac(mac: EthernetAddress) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8..].copy_from_slice(&interface_id(mac));
    Ipv6Addr::from(o)
}

/// The IPv4-mapped address `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2), as an
/// `AF_INET6` socket sees an IPv4 peer.
pub fn v4_mapped(a: Ipv4Addr) -> Ipv6Addr {
    a.to_ipv6_mapped()
}

/// The IPv4 address inside an IPv4-mapped address (RFC 4291 §2.5.5.2);
/// `None` for any other address (the deprecated IPv4-compatible `::a.b.c.d`
/// included).
pub fn from_v4_mapped(a: Ipv6Addr) -> Option<Ipv4Addr> {
    a.to_ipv4_mapped()
}

/// An IPv6 prefix (`fd00:198:18::2/64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Cidr {
    /// An address within the prefix (the host's own, usually).
    pub address: Ipv6Addr,
    /// Prefix length, 0..=128.
    pub prefix_len: u8,
}

impl Ipv6Cidr {
    /// The netmask as a number.
    pub fn mask(&self) -> u128 {
        if self.prefix_len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.prefix_len.min(128)))
        }
    }

    /// `addr` is within the prefix.
    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        (u128::from(addr) ^ u128::from(self.address)) & self.mask() == 0
    }

    /// The prefix itself, host bits cleared.
    pub fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.address) & self.mask())
    }
}

impl core::str::FromStr for Ipv6Cidr {
    type Err = ();
    /// Parses `address/prefix_len`, the length at most 128.
    fn from_str(s: &str) -> core::result::Result<Self, ()> {
        let (a, l) = s.split_once('/').ok_or(())?;
        let address: Ipv6Addr = a.parse().map_err(|_| ())?;
        let prefix_len: u8 = l.parse().map_err(|_| ())?;
        if prefix_len > 128 {
            return Err(());
        }
        Ok(Ipv6Cidr {
            address,
            prefix_len,
        })
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn addr_at(b: &[u8]) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[..16]);
    Ipv6Addr::from(o)
}

/// A view of an IPv6 packet.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The buffer holds the fixed header and the payload length says (it
    /// may be longer: Ethernet pads short frames). Jumbograms (payload
    /// length 0 and a Jumbo Payload option, RFC 2675) are not supported:
    /// their payload reads as empty.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if len < HEADER_LEN + usize::from(self.payload_len()) {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Only the fixed header is checked to be present; the payload length
    /// may exceed the buffer. This is what an ICMPv6 error quotes (RFC 4443
    /// §2.4 (c)): as much of the packet as fits in the minimum MTU.
    pub fn check_header_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn word0(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::VER_TC_FLOW];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The version field (must be 6).
    pub fn version(&self) -> u8 {
        (self.word0() >> 28) as u8
    }
    /// Traffic class: DSCP and ECN (RFC 8200 §7).
    pub fn traffic_class(&self) -> u8 {
        (self.word0() >> 20) as u8
    }
    /// Flow label, 20 bits (RFC 8200 §6, RFC 6437).
    pub fn flow_label(&self) -> u32 {
        self.word0() & 0x000f_ffff
    }
    /// Length of what follows the fixed header, extension headers included.
    pub fn payload_len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::PAYLOAD_LEN])
    }
    /// What the payload starts with: an extension header or the upper
    /// layer.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        addr_at(&self.buffer.as_ref()[field::SRC_ADDR])
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr_at(&self.buffer.as_ref()[field::DST_ADDR])
    }
    /// The payload: from the end of the fixed header to the payload length
    /// (cut at the end of the buffer after only
    /// [`check_header_len`](Self::check_header_len)).
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = (HEADER_LEN + usize::from(self.payload_len())).min(b.len());
        &b[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets version 6, the traffic class and the flow label (20 bits).
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let w = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&w.to_be_bytes());
    }
    /// Sets the payload length.
    pub fn set_payload_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::PAYLOAD_LEN].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the next header.
    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = v;
    }
    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }
    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }
    /// The payload, mutable (up to the payload length, cut at the end of
    /// the buffer).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        let b = self.buffer.as_mut();
        let end = end.min(b.len());
        &mut b[HEADER_LEN..end]
    }
}

/// A decoded IPv6 fixed header. `next_header` is what the fixed header
/// names; extension headers are the business of
/// [`super::ipv6ext::walk`]. `emit` writes the fixed header only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// The first extension header or the upper-layer protocol.
    pub next_header: u8,
    /// Length of the payload, extension headers included.
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class (DSCP and ECN).
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Validates the length and the version and decodes the header. A
    /// multicast source is malformed (RFC 4291 §2.7: "Multicast addresses
    /// must not be used as source addresses").
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv6Packet<T>) -> Result<Ipv6Repr> {
        p.check_len()?;
        if p.version() != 6 || p.src_addr().is_multicast() {
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

    /// Header length `emit` writes.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the fixed header; the payload is the caller's. The payload
    /// length must fit in 16 bits (no jumbograms).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Ipv6Packet<T>) {
        p.set_version_tc_flow(self.traffic_class, self.flow_label);
        p.set_payload_len(self.payload_len as u16);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
    }
}

impl fmt::Display for Ipv6Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IP6 {} > {}: next-header {} hlim {} len {}",
            self.src_addr, self.dst_addr, self.next_header, self.hop_limit, self.payload_len
        )?;
        if self.flow_label != 0 {
            write!(f, " flowlabel 0x{:05x}", self.flow_label)?;
        }
        if self.traffic_class != 0 {
            write!(f, " class 0x{:02x}", self.traffic_class)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The kernel's echo request fd00:198:18::1 > fd00:198:18::2, flow
    // label 0x4f75c, hop limit 64, 16 bytes of ICMPv6 (tcpdump -w on a
    // veth pair in a namespace).
    const ECHO: [u8; 56] = [
        0x60, 0x04, 0xf7, 0x5c, 0x00, 0x10, 0x3a, 0x40, 0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x01, 0x98, 0x00, 0x18,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x80, 0x00, 0x00, 0x5e, 0x75,
        0xe1, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    ];

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn repr() -> Ipv6Repr {
        Ipv6Repr {
            src_addr: addr("fd00:198:18::1"),
            dst_addr: addr("fd00:198:18::2"),
            next_header: next_header::ICMPV6,
            payload_len: 16,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0x4f75c,
        }
    }

    #[test]
    fn parse_golden() {
        let p = Ipv6Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(Ipv6Repr::parse(&p).unwrap(), repr());
        assert_eq!(p.payload(), &ECHO[40..]);
        assert_eq!(
            repr().to_string(),
            "IP6 fd00:198:18::1 > fd00:198:18::2: next-header 58 hlim 64 len 16 \
             flowlabel 0x4f75c"
        );
    }

    #[test]
    fn emit_golden_and_round_trip() {
        let mut buf = [0u8; 56];
        buf[40..].copy_from_slice(&ECHO[40..]);
        repr().emit(&mut Ipv6Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, ECHO);
        let r = Ipv6Repr {
            traffic_class: 0xb8,
            flow_label: 0xfffff,
            ..repr()
        };
        r.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..]));
        let back = Ipv6Repr::parse(&Ipv6Packet::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(back, r);
        assert!(back.to_string().ends_with("flowlabel 0xfffff class 0xb8"));
    }

    #[test]
    fn ethernet_padding_is_ignored() {
        let mut padded = ECHO.to_vec();
        padded.extend_from_slice(&[0; 8]);
        let p = Ipv6Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(p.payload().len(), 16);
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(
            Ipv6Packet::new_checked(&ECHO[..39]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Ipv6Packet::new_checked(&ECHO[..55]).unwrap_err(),
            Error::Truncated
        );
        // A quote in an ICMPv6 error: header present, payload cut.
        let p = Ipv6Packet::new_unchecked(&ECHO[..44]);
        assert!(p.check_header_len().is_ok());
        assert_eq!(p.payload(), &ECHO[40..44]);
        let mut ver = ECHO;
        ver[0] = 0x40;
        let p = Ipv6Packet::new_checked(&ver[..]).unwrap();
        assert_eq!(Ipv6Repr::parse(&p).unwrap_err(), Error::Malformed);
        let mut mcast_src = ECHO;
        mcast_src[8] = 0xff;
        let p = Ipv6Packet::new_checked(&mcast_src[..]).unwrap();
        assert_eq!(Ipv6Repr::parse(&p).unwrap_err(), Error::Malformed);
    }

    #[test]
    fn addresses_of_a_mac() {
        // The kernel gave MAC 02:00:00:00:00:0a the link-local
        // fe80::ff:fe00:a and joined ff02::1:ff00:a, sent to 33:33:ff:00:00:0a.
        let mac: EthernetAddress = "02:00:00:00:00:0a".parse().unwrap();
        let ll = link_local_from_mac(mac);
        assert_eq!(ll, addr("fe80::ff:fe00:a"));
        assert!(is_link_local(ll));
        assert!(!is_link_local(addr("fd00:198:18::1")));
        assert!(is_link_local(addr("febf::1")));
        assert!(!is_link_local(addr("fec0::1")));
        let sn = solicited_node(ll);
        assert_eq!(sn, addr("ff02::1:ff00:a"));
        assert!(is_solicited_node(sn) && !is_solicited_node(ALL_NODES));
        assert_eq!(
            solicited_node(addr("fd00:198:18::1234:5678")),
            addr("ff02::1:ff34:5678")
        );
        assert_eq!(multicast_mac(sn).to_string(), "33:33:ff:00:00:0a");
        assert_eq!(multicast_mac(ALL_NODES).to_string(), "33:33:00:00:00:01");
        // A universal MAC gets the bit set (RFC 4291 Appendix A).
        let universal: EthernetAddress = "34:56:78:9a:bc:de".parse().unwrap();
        assert_eq!(
            interface_id(universal),
            [0x36, 0x56, 0x78, 0xff, 0xfe, 0x9a, 0xbc, 0xde]
        );
    }

    #[test]
    fn v4_mapped_round_trip() {
        let v4 = Ipv4Addr::new(198, 18, 0, 2);
        let m = v4_mapped(v4);
        assert_eq!(m, addr("::ffff:198.18.0.2"));
        assert_eq!(from_v4_mapped(m), Some(v4));
        assert_eq!(from_v4_mapped(addr("::198.18.0.2")), None);
        assert_eq!(from_v4_mapped(addr("fd00::1")), None);
    }

    #[test]
    fn cidr() {
        let c: Ipv6Cidr = "fd00:198:18::2/64".parse().unwrap();
        assert_eq!(c.address, addr("fd00:198:18::2"));
        assert_eq!(c.prefix_len, 64);
        assert_eq!(c.to_string(), "fd00:198:18::2/64");
        assert_eq!(c.network(), addr("fd00:198:18::"));
        assert!(c.contains(addr("fd00:198:18::ffff:1")));
        assert!(!c.contains(addr("fd00:198:19::1")));
        let all: Ipv6Cidr = "::/0".parse().unwrap();
        assert!(all.contains(addr("2001:db8::1")));
        let host: Ipv6Cidr = "::1/128".parse().unwrap();
        assert!(host.contains(Ipv6Addr::LOCALHOST) && !host.contains(addr("::2")));
        for bad in [
            "fd00::1",
            "fd00::1/129",
            "fd00::1/",
            "198.18.0.1/24",
            "x/64",
        ] {
            assert!(bad.parse::<Ipv6Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = crate::rand::Rng::new(0x6a09_e667_f3bc_c908);
        let mut buf = [0u8; 64];
        for _ in 0..20_000 {
            let len = rng.index(65);
            rng.fill(&mut buf);
            if rng.chance(0.5) {
                // Mostly version 6 and payload lengths that fit.
                buf[0] = 0x60 | (buf[0] & 0x0f);
                buf[4] = 0;
                buf[5] = rng.index(30) as u8;
            }
            let p = Ipv6Packet::new_unchecked(&buf[..len]);
            if p.check_header_len().is_ok() {
                let _ = (p.payload(), p.flow_label(), p.src_addr());
            }
            if let Ok(p) = Ipv6Packet::new_checked(&buf[..len])
                && let Ok(r) = Ipv6Repr::parse(&p)
            {
                let _ = r.to_string();
                assert!(r.buffer_len() <= len);
            }
        }
    }
}
