//! The Internet checksum (RFC 1071): the 16-bit one's complement of the one's
//! complement sum of the data, used by IPv4, ICMP, ICMPv6 and TCP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol numbers (IANA) used in pseudo-headers.
pub const PROTO_ICMP: u8 = 1;
/// TCP's protocol number.
pub const PROTO_TCP: u8 = 6;
/// UDP's protocol number.
pub const PROTO_UDP: u8 = 17;
/// ICMPv6's next header number (RFC 4443 §1).
pub const PROTO_ICMPV6: u8 = 58;

/// The one's complement sum of `data` (not yet complemented), folded to 16
/// bits. An odd trailing byte is padded with zero, as RFC 1071 §4.1 does.
pub fn sum(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        // Four 16-bit big-endian words at a time; carries accumulate in u64.
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]))
            + u64::from(u16::from_be_bytes([c[2], c[3]]))
            + u64::from(u16::from_be_bytes([c[4], c[5]]))
            + u64::from(u16::from_be_bytes([c[6], c[7]]));
    }
    let rest = chunks.remainder();
    let mut words = rest.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(u16::from_be_bytes([*last, 0]));
    }
    fold(acc)
}

/// Folds a wide one's complement accumulator into 16 bits.
pub fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// One's complement addition of partial sums.
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// The partial sum of the IPv4 pseudo-header (RFC 9293 §3.1: source,
/// destination, zero, protocol, TCP length).
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u32) -> u16 {
    let s = src.octets();
    let d = dst.octets();
    let acc = u64::from(u16::from_be_bytes([s[0], s[1]]))
        + u64::from(u16::from_be_bytes([s[2], s[3]]))
        + u64::from(u16::from_be_bytes([d[0], d[1]]))
        + u64::from(u16::from_be_bytes([d[2], d[3]]))
        + u64::from(protocol)
        + (u64::from(length) >> 16)
        + (u64::from(length) & 0xffff);
    fold(acc)
}

/// The partial sum of the pseudo-header for a segment from `src` to `dst`:
/// IPv4's (RFC 9293 §3.1) when both are IPv4, IPv6's (RFC 8200 §8.1)
/// otherwise (an IPv4 address then counts as its v4-mapped form, which no
/// segment on the wire carries).
pub fn pseudo_header_ip(src: IpAddr, dst: IpAddr, protocol: u8, length: u32) -> u16 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => pseudo_header(s, d, protocol, length),
        (s, d) => pseudo_header_v6(v6_of(s), v6_of(d), protocol, length),
    }
}

fn v6_of(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// The partial sum of the IPv6 pseudo-header (RFC 8200 §8.1: source,
/// destination, 32-bit upper-layer packet length, three zero bytes, next
/// header). `next_header` is the upper-layer protocol (6 for TCP, 58 for
/// ICMPv6), not whatever extension header the IPv6 header names, and
/// `length` counts the upper-layer header and data only, without the IPv6
/// header or any extension header. Unlike IPv4's, the ICMPv6 checksum
/// covers this pseudo-header too (RFC 4443 §2.3).
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, length: u32) -> u16 {
    let mut acc: u64 = 0;
    for a in [src, dst] {
        for w in a.segments() {
            acc += u64::from(w);
        }
    }
    acc += (u64::from(length) >> 16) + (u64::from(length) & 0xffff);
    acc += u64::from(next_header);
    fold(acc)
}

/// The checksum field value for `data`: the complement of its sum.
pub fn checksum(data: &[u8]) -> u16 {
    !sum(data)
}

/// True when `data`, checksum field included, sums to all ones.
pub fn verify(data: &[u8]) -> bool {
    sum(data) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn known_ipv4_header_verifies() {
        // A real header captured from the kernel (checksum 0xb861).
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert!(verify(&hdr));
        let mut zeroed = hdr;
        zeroed[10] = 0;
        zeroed[11] = 0;
        assert_eq!(checksum(&zeroed), 0xb861);
    }

    #[test]
    fn ipv6_pseudo_header_verifies_a_kernel_packet() {
        // A neighbor advertisement fd00:198:18::2 > fd00:198:18::1, captured
        // from the kernel on a veth pair (tcpdump: "icmp6 sum ok"): the
        // 32-byte ICMPv6 message with its checksum 0x1781.
        let src: Ipv6Addr = "fd00:198:18::2".parse().unwrap();
        let dst: Ipv6Addr = "fd00:198:18::1".parse().unwrap();
        let mut icmp = [
            0x88, 0x00, 0x17, 0x81, 0x60, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x01, 0x98, 0x00, 0x18,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x01, 0x02, 0x00,
            0x00, 0x00, 0x00, 0x0b,
        ];
        let ph = pseudo_header_v6(src, dst, PROTO_ICMPV6, 32);
        assert_eq!(combine(&[ph, sum(&icmp)]), 0xffff);
        // Another address, protocol or length: no longer verifies.
        assert_ne!(
            combine(&[pseudo_header_v6(src, src, PROTO_ICMPV6, 32), sum(&icmp)]),
            0xffff
        );
        assert_ne!(
            combine(&[pseudo_header_v6(src, dst, PROTO_TCP, 32), sum(&icmp)]),
            0xffff
        );
        assert_ne!(
            combine(&[
                pseudo_header_v6(src, dst, PROTO_ICMPV6, 0x1_0020),
                sum(&icmp)
            ]),
            0xffff
        );
        // Recomputed from scratch, it is the kernel's value.
        icmp[2] = 0;
        icmp[3] = 0;
        assert_eq!(!combine(&[ph, sum(&icmp)]), 0x1781);
    }

    #[test]
    fn ipv6_pseudo_header_is_linux_partial_tcp_checksum() {
        // A SYN ::1.60400 > ::1.8080 captured on lo: with checksum offload
        // the kernel leaves in the field the folded pseudo-header sum for a
        // 40-byte segment, 0x0030 (1 + 1 + 6 + 40).
        let lo = Ipv6Addr::LOCALHOST;
        assert_eq!(pseudo_header_v6(lo, lo, PROTO_TCP, 40), 0x0030);
    }

    #[test]
    fn long_input_matches_wordwise_sum() {
        let data: Vec<u8> = (0..1001u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut acc = 0u64;
        for w in data.chunks(2) {
            acc += u64::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
        }
        assert_eq!(sum(&data), fold(acc));
    }
}
