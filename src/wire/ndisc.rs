//! Neighbor Discovery options (RFC 4861 §4.6), carried at the end of the
//! NDP messages of [`super::icmpv6`].
//!
//! ```text
//! +---------------+---------------+-------------------------------+
//! |     Type      |    Length     |  data ... (Length × 8 bytes)  |
//! +---------------+---------------+-------------------------------+
//! ```
//! Source/Target Link-Layer Address (types 1, 2; RFC 4861 §4.6.1, on
//! Ethernet 8 bytes with the MAC at 2..8, RFC 2464 §6), Prefix Information
//! (type 3, 32 bytes, §4.6.2) and MTU (type 5, 8 bytes, §4.6.4) are
//! decoded; the others (the DAD nonce of RFC 7527, redirected header, ...)
//! are skipped, as §4.6 asks of options a node does not recognize.

use super::ethernet::EthernetAddress;
use super::{Error, Result};
use core::fmt;
use std::net::Ipv6Addr;

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const LENGTH: usize = 1;
    pub const LL_ADDR: Range<usize> = 2..8;
    pub const MTU: Range<usize> = 4..8;
    pub const PREFIX_LEN: usize = 2;
    pub const PREFIX_FLAGS: usize = 3;
    pub const VALID_LIFETIME: Range<usize> = 4..8;
    pub const PREFERRED_LIFETIME: Range<usize> = 8..12;
    pub const PREFIX: Range<usize> = 16..32;
}

/// The hop limit every NDP message is sent with, and must arrive with: a
/// node discards one with any other (RFC 4861 §6.1, §7.1), which proves it
/// came from the link. The IPv6 layer checks it; the ICMPv6 parser cannot.
pub const NDISC_HOP_LIMIT: u8 = 255;

/// Option types (IANA "IPv6 Neighbor Discovery Option Formats").
pub mod option_type {
    /// Source Link-Layer Address (RFC 4861 §4.6.1).
    pub const SOURCE_LL_ADDR: u8 = 1;
    /// Target Link-Layer Address (RFC 4861 §4.6.1).
    pub const TARGET_LL_ADDR: u8 = 2;
    /// Prefix Information (RFC 4861 §4.6.2).
    pub const PREFIX_INFO: u8 = 3;
    /// Redirected Header (RFC 4861 §4.6.3).
    pub const REDIRECTED_HEADER: u8 = 4;
    /// MTU (RFC 4861 §4.6.4).
    pub const MTU: u8 = 5;
    /// Nonce, for Duplicate Address Detection (RFC 7527 §4.3).
    pub const NONCE: u8 = 14;
}

/// Length of a link-layer address or MTU option on Ethernet.
pub const SHORT_OPTION_LEN: usize = 8;

/// Length of a Prefix Information option.
pub const PREFIX_INFO_LEN: usize = field::PREFIX.end;

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A view of one option at the start of a buffer.
#[derive(Debug, Clone)]
pub struct NdiscOption<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NdiscOption<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        NdiscOption { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let o = Self::new_unchecked(buffer);
        o.check_len()?;
        Ok(o)
    }

    /// The buffer holds the type and length, the length is not zero (RFC
    /// 4861 §4.6: a node silently discards a message with a zero-length
    /// option) and the whole option is there.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < 2 {
            return Err(Error::Truncated);
        }
        if b[field::LENGTH] == 0 {
            return Err(Error::Malformed);
        }
        if b.len() < self.option_len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Option type.
    pub fn option_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    /// Length of the whole option in bytes.
    pub fn option_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::LENGTH]) * 8
    }
    /// The option after its type and length bytes.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[2..self.option_len()]
    }
}

/// A Prefix Information option (RFC 4861 §4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixInfo {
    /// Number of leading bits of `prefix` that count, 0..=128.
    pub prefix_len: u8,
    /// L: the prefix is on-link.
    pub on_link: bool,
    /// A: usable for stateless address autoconfiguration (RFC 4862).
    pub autonomous: bool,
    /// Seconds the prefix stays valid (all ones: forever).
    pub valid_lifetime: u32,
    /// Seconds addresses from it stay preferred (all ones: forever).
    pub preferred_lifetime: u32,
    /// The prefix; bits after `prefix_len` are to be ignored.
    pub prefix: Ipv6Addr,
}

/// One decoded option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdiscOptionRepr<'a> {
    /// The sender's MAC.
    SourceLinkLayerAddr(EthernetAddress),
    /// The target's MAC.
    TargetLinkLayerAddr(EthernetAddress),
    /// An on-link or autoconfiguration prefix.
    PrefixInfo(PrefixInfo),
    /// The link MTU a router advertises.
    Mtu(u32),
    /// An option we do not decode, data as is.
    Unknown {
        /// Option type.
        option_type: u8,
        /// Everything after type and length.
        data: &'a [u8],
    },
}

impl<'a> NdiscOptionRepr<'a> {
    /// Decodes a checked option. A link-layer address option must be 8
    /// bytes (Ethernet), a Prefix Information option 32 and an MTU option 8;
    /// another size is `Malformed`.
    pub fn parse(o: &NdiscOption<&'a [u8]>) -> Result<NdiscOptionRepr<'a>> {
        o.check_len()?;
        let b: &'a [u8] = &o.buffer[..o.option_len()];
        let want = |n: usize| {
            if b.len() == n {
                Ok(())
            } else {
                Err(Error::Malformed)
            }
        };
        Ok(match o.option_type() {
            option_type::SOURCE_LL_ADDR => {
                want(SHORT_OPTION_LEN)?;
                NdiscOptionRepr::SourceLinkLayerAddr(EthernetAddress::from_bytes(
                    &b[field::LL_ADDR],
                ))
            }
            option_type::TARGET_LL_ADDR => {
                want(SHORT_OPTION_LEN)?;
                NdiscOptionRepr::TargetLinkLayerAddr(EthernetAddress::from_bytes(
                    &b[field::LL_ADDR],
                ))
            }
            option_type::MTU => {
                want(SHORT_OPTION_LEN)?;
                NdiscOptionRepr::Mtu(be32(&b[field::MTU]))
            }
            option_type::PREFIX_INFO => {
                want(PREFIX_INFO_LEN)?;
                let prefix_len = b[field::PREFIX_LEN];
                if prefix_len > 128 {
                    return Err(Error::Malformed);
                }
                let mut p = [0u8; 16];
                p.copy_from_slice(&b[field::PREFIX]);
                NdiscOptionRepr::PrefixInfo(PrefixInfo {
                    prefix_len,
                    on_link: b[field::PREFIX_FLAGS] & 0x80 != 0,
                    autonomous: b[field::PREFIX_FLAGS] & 0x40 != 0,
                    valid_lifetime: be32(&b[field::VALID_LIFETIME]),
                    preferred_lifetime: be32(&b[field::PREFERRED_LIFETIME]),
                    prefix: Ipv6Addr::from(p),
                })
            }
            t => NdiscOptionRepr::Unknown {
                option_type: t,
                data: &b[2..],
            },
        })
    }

    /// Length `emit` writes: the data padded to a multiple of 8.
    pub fn buffer_len(&self) -> usize {
        match self {
            NdiscOptionRepr::SourceLinkLayerAddr(_)
            | NdiscOptionRepr::TargetLinkLayerAddr(_)
            | NdiscOptionRepr::Mtu(_) => SHORT_OPTION_LEN,
            NdiscOptionRepr::PrefixInfo(_) => PREFIX_INFO_LEN,
            NdiscOptionRepr::Unknown { data, .. } => (data.len() + 2).div_ceil(8) * 8,
        }
    }

    /// Writes the option, zero padding and reserved fields included; the
    /// buffer must hold [`buffer_len`](Self::buffer_len) bytes (and an
    /// unknown option's data at most 2038).
    pub fn emit(&self, buf: &mut [u8]) {
        let len = self.buffer_len();
        let b = &mut buf[..len];
        b.fill(0);
        b[field::LENGTH] = (len / 8) as u8;
        match *self {
            NdiscOptionRepr::SourceLinkLayerAddr(a) => {
                b[field::TYPE] = option_type::SOURCE_LL_ADDR;
                b[field::LL_ADDR].copy_from_slice(&a.0);
            }
            NdiscOptionRepr::TargetLinkLayerAddr(a) => {
                b[field::TYPE] = option_type::TARGET_LL_ADDR;
                b[field::LL_ADDR].copy_from_slice(&a.0);
            }
            NdiscOptionRepr::Mtu(m) => {
                b[field::TYPE] = option_type::MTU;
                b[field::MTU].copy_from_slice(&m.to_be_bytes());
            }
            NdiscOptionRepr::PrefixInfo(p) => {
                b[field::TYPE] = option_type::PREFIX_INFO;
                b[field::PREFIX_LEN] = p.prefix_len;
                b[field::PREFIX_FLAGS] = (u8::from(p.on_link) << 7) | (u8::from(p.autonomous) << 6);
                b[field::VALID_LIFETIME].copy_from_slice(&p.valid_lifetime.to_be_bytes());
                b[field::PREFERRED_LIFETIME].copy_from_slice(&p.preferred_lifetime.to_be_bytes());
                b[field::PREFIX].copy_from_slice(&p.prefix.octets());
            }
            NdiscOptionRepr::Unknown { option_type, data } => {
                b[field::TYPE] = option_type;
                b[2..2 + data.len()].copy_from_slice(data);
            }
        }
    }
}

/// The options of one NDP message that a host uses: at most one of each
/// (RFC 4861 §4 allows several Prefix Information options in a Router
/// Advertisement; [`NdiscOptions::iter`] sees all of them, this keeps the
/// first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NdiscOptions {
    /// Source Link-Layer Address.
    pub source_lladdr: Option<EthernetAddress>,
    /// Target Link-Layer Address.
    pub target_lladdr: Option<EthernetAddress>,
    /// MTU.
    pub mtu: Option<u32>,
    /// The first Prefix Information.
    pub prefix_info: Option<PrefixInfo>,
}

impl NdiscOptions {
    /// Every option in `data`, in order; after the first error the
    /// iterator ends.
    pub fn iter(data: &[u8]) -> NdiscOptionIter<'_> {
        NdiscOptionIter {
            data,
            failed: false,
        }
    }

    /// Decodes the options area of a message; any malformed or truncated
    /// option fails the whole message (RFC 4861 §4.6, §6.1, §7.1).
    pub fn parse(data: &[u8]) -> Result<NdiscOptions> {
        let mut out = NdiscOptions::default();
        for o in Self::iter(data) {
            match o? {
                NdiscOptionRepr::SourceLinkLayerAddr(a) => {
                    out.source_lladdr.get_or_insert(a);
                }
                NdiscOptionRepr::TargetLinkLayerAddr(a) => {
                    out.target_lladdr.get_or_insert(a);
                }
                NdiscOptionRepr::Mtu(m) => {
                    out.mtu.get_or_insert(m);
                }
                NdiscOptionRepr::PrefixInfo(p) => {
                    out.prefix_info.get_or_insert(p);
                }
                NdiscOptionRepr::Unknown { .. } => {}
            }
        }
        Ok(out)
    }

    fn reprs(&self) -> impl Iterator<Item = NdiscOptionRepr<'static>> {
        [
            self.source_lladdr.map(NdiscOptionRepr::SourceLinkLayerAddr),
            self.target_lladdr.map(NdiscOptionRepr::TargetLinkLayerAddr),
            self.mtu.map(NdiscOptionRepr::Mtu),
            self.prefix_info.map(NdiscOptionRepr::PrefixInfo),
        ]
        .into_iter()
        .flatten()
    }

    /// Length `emit` writes.
    pub fn buffer_len(&self) -> usize {
        self.reprs().map(|r| r.buffer_len()).sum()
    }

    /// Writes the options present, in the order source address, target
    /// address, MTU, prefix; `buf` must hold
    /// [`buffer_len`](Self::buffer_len) bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        let mut at = 0;
        for r in self.reprs() {
            r.emit(&mut buf[at..]);
            at += r.buffer_len();
        }
    }
}

/// Iterates over the options of a message (see [`NdiscOptions::iter`]).
#[derive(Debug, Clone)]
pub struct NdiscOptionIter<'a> {
    data: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for NdiscOptionIter<'a> {
    type Item = Result<NdiscOptionRepr<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() || self.failed {
            return None;
        }
        let parsed = NdiscOption::new_checked(self.data).and_then(|o| {
            let len = o.option_len();
            NdiscOptionRepr::parse(&o).map(|r| (r, len))
        });
        match parsed {
            Ok((r, len)) => {
                self.data = &self.data[len..];
                Some(Ok(r))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl fmt::Display for NdiscOptionRepr<'_> {
    /// tcpdump's wording.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NdiscOptionRepr::SourceLinkLayerAddr(a) => write!(f, "source link-address {a}"),
            NdiscOptionRepr::TargetLinkLayerAddr(a) => {
                write!(f, "destination link-address {a}")
            }
            NdiscOptionRepr::Mtu(m) => write!(f, "mtu {m}"),
            NdiscOptionRepr::PrefixInfo(p) => write!(
                f,
                "prefix info {}/{}, Flags [{}{}], valid time {}s, pref. time {}s",
                p.prefix,
                p.prefix_len,
                if p.on_link { "onlink" } else { "" },
                match (p.on_link, p.autonomous) {
                    (true, true) => ", auto",
                    (false, true) => "auto",
                    _ => "",
                },
                p.valid_lifetime,
                p.preferred_lifetime
            ),
            NdiscOptionRepr::Unknown { option_type, data } => {
                write!(f, "option {option_type}, length {}", data.len() + 2)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> EthernetAddress {
        s.parse().unwrap()
    }

    // A prefix option as radvd sends it: fd00:198:18::/64, L and A, valid
    // 86400 s, preferred 14400 s.
    const PREFIX: [u8; 32] = [
        0x03, 0x04, 0x40, 0xc0, 0x00, 0x01, 0x51, 0x80, 0x00, 0x00, 0x38, 0x40, 0x00, 0x00, 0x00,
        0x00, 0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00,
    ];

    fn prefix() -> PrefixInfo {
        PrefixInfo {
            prefix_len: 64,
            on_link: true,
            autonomous: true,
            valid_lifetime: 86400,
            preferred_lifetime: 14400,
            prefix: "fd00:198:18::".parse().unwrap(),
        }
    }

    #[test]
    fn parse_golden_options() {
        // The kernel's DAD probe carries only a nonce (type 14): skipped.
        let dad = [0x0e, 0x01, 0x9c, 0x50, 0x0a, 0x59, 0x2e, 0x09];
        assert_eq!(NdiscOptions::parse(&dad).unwrap(), NdiscOptions::default());
        // Its neighbor solicitation's source link-layer address.
        let slla = [0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
        let o = NdiscOptions::parse(&slla).unwrap();
        assert_eq!(o.source_lladdr, Some(mac("02:00:00:00:00:0a")));
        let p = NdiscOptions::parse(&PREFIX).unwrap().prefix_info.unwrap();
        assert_eq!(p, prefix());
        assert_eq!(
            NdiscOptionRepr::PrefixInfo(p).to_string(),
            "prefix info fd00:198:18::/64, Flags [onlink, auto], valid time 86400s, \
             pref. time 14400s"
        );
    }

    #[test]
    fn emit_golden_and_round_trip() {
        let o = NdiscOptions {
            source_lladdr: Some(mac("02:00:00:00:00:0a")),
            target_lladdr: Some(mac("02:00:00:00:00:0b")),
            mtu: Some(1500),
            prefix_info: Some(prefix()),
        };
        let mut buf = vec![0xffu8; o.buffer_len()];
        assert_eq!(buf.len(), 8 + 8 + 8 + 32);
        o.emit(&mut buf);
        assert_eq!(&buf[..8], &[1, 1, 2, 0, 0, 0, 0, 0x0a]);
        assert_eq!(&buf[16..24], &[5, 1, 0, 0, 0, 0, 0x05, 0xdc]);
        assert_eq!(&buf[24..], &PREFIX);
        assert_eq!(NdiscOptions::parse(&buf).unwrap(), o);
        let all: Vec<_> = NdiscOptions::iter(&buf).map(|r| r.unwrap()).collect();
        assert_eq!(all.len(), 4);
        let u = NdiscOptionRepr::Unknown {
            option_type: 14,
            data: &[1, 2, 3, 4, 5, 6, 7],
        };
        assert_eq!(u.buffer_len(), 16);
        let mut b = [0u8; 16];
        u.emit(&mut b);
        let back = NdiscOptionRepr::parse(&NdiscOption::new_checked(&b[..]).unwrap()).unwrap();
        assert_eq!(
            back,
            NdiscOptionRepr::Unknown {
                option_type: 14,
                data: &[1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 0]
            }
        );
    }

    #[test]
    fn zero_length_bad_sizes_and_truncated() {
        assert_eq!(
            NdiscOptions::parse(&[1, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::Malformed)
        );
        assert_eq!(
            NdiscOptions::parse(&[1, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::Malformed)
        );
        assert_eq!(NdiscOptions::parse(&PREFIX[..31]), Err(Error::Truncated));
        assert_eq!(NdiscOptions::parse(&[1]), Err(Error::Truncated));
        let mut long = PREFIX;
        long[2] = 129;
        assert_eq!(NdiscOptions::parse(&long), Err(Error::Malformed));
        // The iterator stops after the first error.
        let mut it = NdiscOptions::iter(&[1, 0, 1, 1, 0, 0, 0, 0, 0, 0]);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = crate::rand::Rng::new(0x3c6e_f372_fe94_f82b);
        let mut buf = [0u8; 64];
        for _ in 0..20_000 {
            let len = rng.index(65);
            rng.fill(&mut buf);
            for i in (0..len).step_by(8) {
                buf[i] = rng.index(6) as u8;
                if i + 1 < len {
                    buf[i + 1] = rng.index(5) as u8;
                }
            }
            if let Ok(o) = NdiscOptions::parse(&buf[..len]) {
                let mut out = vec![0u8; o.buffer_len()];
                o.emit(&mut out);
                assert_eq!(NdiscOptions::parse(&out), Ok(o));
            }
            for r in NdiscOptions::iter(&buf[..len]).flatten() {
                let _ = r.to_string();
            }
        }
    }
}
