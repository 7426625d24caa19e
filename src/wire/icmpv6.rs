//! ICMPv6 (RFC 4443) and the Neighbor Discovery messages it carries (RFC
//! 4861 §4).
//!
//! ```text
//! +--------+--------+-----------------+
//! |  type  |  code  |    checksum     |   checksum over the IPv6
//! +--------+--------+-----------------+   pseudo-header too (RFC 4443 §2.3)
//! | 4 bytes: echo id/seq, MTU, pointer, NDP flags, RA fields ...
//! +-----------------------------------+
//! | body: echo data, the invoking packet, NDP target and options ...
//! ```
//! Without Neighbor Discovery a host has no neighbours at all on IPv6: it
//! is IPv6's ARP, and more.

use super::checksum::{self, PROTO_ICMPV6};
use super::ethernet::EthernetAddress;
use super::ipv6::{self, MIN_MTU};
use super::ndisc::{NdiscOptions, PrefixInfo};
use super::{Error, Result};
use core::fmt;
use core::ops::BitOr;
use std::net::Ipv6Addr;

mod field {
    use core::ops::{Range, RangeFrom};
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    /// MTU (Packet Too Big), pointer (Parameter Problem).
    pub const REST: Range<usize> = 4..8;
    pub const DATA: RangeFrom<usize> = 8..;
    // Neighbor Solicitation / Advertisement (RFC 4861 §4.3, §4.4).
    pub const NEIGH_FLAGS: usize = 4;
    pub const TARGET: Range<usize> = 8..24;
    pub const NEIGH_OPTIONS: usize = 24;
    // Router Solicitation (RFC 4861 §4.1).
    pub const RS_OPTIONS: usize = 8;
    // Router Advertisement (RFC 4861 §4.2).
    pub const CUR_HOP_LIMIT: usize = 4;
    pub const RA_FLAGS: usize = 5;
    pub const ROUTER_LIFETIME: Range<usize> = 6..8;
    pub const REACHABLE_TIME: Range<usize> = 8..12;
    pub const RETRANS_TIMER: Range<usize> = 12..16;
    pub const RA_OPTIONS: usize = 16;
}

/// Length of the ICMPv6 header (type, code, checksum and 4 more bytes,
/// which every message we know has).
pub const HEADER_LEN: usize = field::DATA.start;

/// The most of an invoking packet an error message quotes: what fits in
/// the minimum MTU after the IPv6 and ICMPv6 headers (RFC 4443 §2.4 (c)).
pub const MAX_ERROR_QUOTE: usize = MIN_MTU - ipv6::HEADER_LEN - HEADER_LEN;

/// ICMPv6 message types (RFC 4443 §2.1, RFC 4861 §4).
pub mod msg_type {
    /// Destination Unreachable (RFC 4443 §3.1).
    pub const DST_UNREACHABLE: u8 = 1;
    /// Packet Too Big (RFC 4443 §3.2).
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time Exceeded (RFC 4443 §3.3).
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter Problem (RFC 4443 §3.4).
    pub const PARAM_PROBLEM: u8 = 4;
    /// Echo Request (RFC 4443 §4.1).
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo Reply (RFC 4443 §4.2).
    pub const ECHO_REPLY: u8 = 129;
    /// Router Solicitation (RFC 4861 §4.1).
    pub const ROUTER_SOLICIT: u8 = 133;
    /// Router Advertisement (RFC 4861 §4.2).
    pub const ROUTER_ADVERT: u8 = 134;
    /// Neighbor Solicitation (RFC 4861 §4.3).
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    /// Neighbor Advertisement (RFC 4861 §4.4).
    pub const NEIGHBOR_ADVERT: u8 = 136;
    /// Redirect (RFC 4861 §4.5).
    pub const REDIRECT: u8 = 137;
}

/// Destination Unreachable codes (RFC 4443 §3.1).
pub mod unreachable {
    /// No route to destination.
    pub const NO_ROUTE: u8 = 0;
    /// Communication administratively prohibited.
    pub const ADMIN_PROHIBITED: u8 = 1;
    /// Beyond the scope of the source address.
    pub const BEYOND_SCOPE: u8 = 2;
    /// Address unreachable (neighbor discovery failed).
    pub const ADDRESS: u8 = 3;
    /// Port unreachable.
    pub const PORT: u8 = 4;
    /// Source address failed ingress/egress policy.
    pub const SRC_POLICY: u8 = 5;
    /// Reject route to destination.
    pub const REJECT_ROUTE: u8 = 6;
}

/// Time Exceeded codes (RFC 4443 §3.3).
pub mod time_exceeded {
    /// Hop limit exceeded in transit.
    pub const HOP_LIMIT: u8 = 0;
    /// Fragment reassembly time exceeded.
    pub const REASSEMBLY: u8 = 1;
}

/// Parameter Problem codes (RFC 4443 §3.4).
pub mod param_problem {
    /// Erroneous header field encountered.
    pub const ERRONEOUS_FIELD: u8 = 0;
    /// Unrecognized Next Header type encountered.
    pub const UNRECOGNIZED_NEXT_HEADER: u8 = 1;
    /// Unrecognized IPv6 option encountered.
    pub const UNRECOGNIZED_OPTION: u8 = 2;
}

/// Router Advertisement flags (RFC 4861 §4.2).
pub mod ra_flags {
    /// M: addresses are available from DHCPv6.
    pub const MANAGED: u8 = 0x80;
    /// O: other configuration is available from DHCPv6.
    pub const OTHER: u8 = 0x40;
}

/// The flags of a Neighbor Advertisement (RFC 4861 §4.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NeighborFlags(pub u8);

impl NeighborFlags {
    /// R: the sender is a router.
    pub const ROUTER: NeighborFlags = NeighborFlags(0x80);
    /// S: sent in response to a Neighbor Solicitation.
    pub const SOLICITED: NeighborFlags = NeighborFlags(0x40);
    /// O: override an existing cache entry.
    pub const OVERRIDE: NeighborFlags = NeighborFlags(0x20);
    /// No flag.
    pub const NONE: NeighborFlags = NeighborFlags(0);

    /// Every bit of `other` is set in `self`.
    pub const fn contains(self, other: NeighborFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for NeighborFlags {
    type Output = NeighborFlags;
    fn bitor(self, rhs: NeighborFlags) -> NeighborFlags {
        NeighborFlags(self.0 | rhs.0)
    }
}

impl fmt::Display for NeighborFlags {
    /// tcpdump's `Flags [router, solicited, override]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Flags [")?;
        let mut sep = "";
        for (flag, name) in [
            (NeighborFlags::ROUTER, "router"),
            (NeighborFlags::SOLICITED, "solicited"),
            (NeighborFlags::OVERRIDE, "override"),
        ] {
            if self.contains(flag) {
                write!(f, "{sep}{name}")?;
                sep = ", ";
            }
        }
        if self.0 & 0xe0 == 0 {
            f.write_str("none")?;
        }
        f.write_str("]")
    }
}

impl fmt::Debug for NeighborFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A view of an ICMPv6 message: the whole upper-layer payload of the IPv6
/// packet, since the checksum covers all of it.
#[derive(Debug, Clone)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The buffer holds the 8-byte header. (Longer fixed parts, the NDP
    /// target for one, are checked by `Icmpv6Repr::parse`.)
    pub fn check_len(&self) -> Result<()> {
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

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }
    /// An error message (types 0 to 127, RFC 4443 §2.1).
    pub fn is_error(&self) -> bool {
        self.msg_type() < 128
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }
    /// Echo identifier.
    pub fn echo_ident(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::ECHO_IDENT])
    }
    /// Echo sequence number.
    pub fn echo_seq_no(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::ECHO_SEQNO])
    }
    /// The MTU of a Packet Too Big.
    pub fn mtu(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::REST])
    }
    /// The pointer of a Parameter Problem.
    pub fn pointer(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::REST])
    }
    /// Everything after the 8-byte header.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA]
    }
    /// The checksum over the pseudo-header and the whole message verifies
    /// (RFC 4443 §2.3).
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let b = self.buffer.as_ref();
        let ph = checksum::pseudo_header_v6(src, dst, PROTO_ICMPV6, b.len() as u32);
        checksum::combine(&[ph, checksum::sum(b)]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// Sets type and code.
    pub fn set_type_code(&mut self, t: u8, c: u8) {
        let b = self.buffer.as_mut();
        b[field::TYPE] = t;
        b[field::CODE] = c;
    }
    /// Sets the four bytes after the checksum.
    pub fn set_rest(&mut self, rest: [u8; 4]) {
        self.buffer.as_mut()[field::REST].copy_from_slice(&rest);
    }
    /// The data, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA]
    }
    /// Computes and writes the checksum over the pseudo-header and the
    /// whole buffer.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        let b = self.buffer.as_mut();
        b[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let ph = checksum::pseudo_header_v6(src, dst, PROTO_ICMPV6, b.len() as u32);
        let c = !checksum::combine(&[ph, checksum::sum(b)]);
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
}

/// A decoded ICMPv6 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
    /// Echo Request (`ping -6`).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data to return byte for byte.
        data: &'a [u8],
    },
    /// Echo Reply.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// The request's data.
        data: &'a [u8],
    },
    /// Destination Unreachable, with as much of the invoking packet as fits
    /// (RFC 4443 §3.1).
    DstUnreachable {
        /// Why (see [`unreachable`](mod@unreachable)).
        code: u8,
        /// The invoking packet, from its IPv6 header on.
        original: &'a [u8],
    },
    /// Packet Too Big: the next hop's MTU (RFC 4443 §3.2, for path MTU
    /// discovery, RFC 8201).
    PacketTooBig {
        /// The MTU of the next-hop link.
        mtu: u32,
        /// The invoking packet.
        original: &'a [u8],
    },
    /// Time Exceeded (RFC 4443 §3.3).
    TimeExceeded {
        /// See [`time_exceeded`].
        code: u8,
        /// The invoking packet.
        original: &'a [u8],
    },
    /// Parameter Problem (RFC 4443 §3.4).
    ParamProblem {
        /// See [`param_problem`].
        code: u8,
        /// Offset in the invoking packet of the faulty byte.
        pointer: u32,
        /// The invoking packet.
        original: &'a [u8],
    },
    /// Router Solicitation (RFC 4861 §4.1).
    RouterSolicit {
        /// The sender's MAC (never with an unspecified source).
        source_lladdr: Option<EthernetAddress>,
    },
    /// Router Advertisement (RFC 4861 §4.2). A host may ignore it (our
    /// routes are configured); it is decoded so that it can be.
    RouterAdvert {
        /// Hop limit to use, 0 for unspecified.
        cur_hop_limit: u8,
        /// M and O (see [`ra_flags`]), and the bits after them as sent.
        flags: u8,
        /// Seconds the router stays a default router; 0: not one.
        router_lifetime: u16,
        /// Milliseconds, 0 for unspecified.
        reachable_time: u32,
        /// Milliseconds, 0 for unspecified.
        retrans_time: u32,
        /// The router's MAC.
        source_lladdr: Option<EthernetAddress>,
        /// The link MTU.
        mtu: Option<u32>,
        /// The first prefix advertised.
        prefix_info: Option<PrefixInfo>,
    },
    /// Neighbor Solicitation (RFC 4861 §4.3): who has `target_addr`? With
    /// an unspecified source, a Duplicate Address Detection probe (RFC 4862
    /// §5.4.2).
    NeighborSolicit {
        /// The address asked about.
        target_addr: Ipv6Addr,
        /// The asker's MAC.
        source_lladdr: Option<EthernetAddress>,
    },
    /// Neighbor Advertisement (RFC 4861 §4.4): `target_addr` is at
    /// `target_lladdr`.
    NeighborAdvert {
        /// R, S and O.
        flags: NeighborFlags,
        /// The address advertised.
        target_addr: Ipv6Addr,
        /// Its MAC.
        target_lladdr: Option<EthernetAddress>,
    },
}

impl<'a> Icmpv6Repr<'a> {
    /// Verifies the checksum for `src > dst` and decodes the messages we
    /// handle, with RFC 4861's validity checks that need no more than the
    /// addresses (§6.1.1, §6.1.2, §7.1.1, §7.1.2): code 0, the fixed part
    /// present, options well formed, a non-multicast target, no source
    /// link-layer address with an unspecified source, a DAD probe sent to
    /// a solicited-node group, S clear in an advertisement to a multicast
    /// group, a Router Advertisement from a link-local source. The hop limit
    /// of 255 is the caller's to check ([`Icmpv6Repr::is_ndisc`]).
    ///
    /// Unknown types are `Unsupported`; RFC 4443 §2.4 (a), (b) says to
    /// drop an unknown informational message and to hand an unknown error
    /// to the upper layer.
    pub fn parse(p: &Icmpv6Packet<&'a [u8]>, src: Ipv6Addr, dst: Ipv6Addr) -> Result<Self> {
        p.check_len()?;
        if !p.verify_checksum(src, dst) {
            return Err(Error::Checksum);
        }
        let b: &'a [u8] = p.buffer;
        let data = &b[field::DATA];
        let code = p.msg_code();
        let ndisc_min = |min: usize| {
            if code != 0 {
                Err(Error::Malformed)
            } else if b.len() < min {
                Err(Error::Truncated)
            } else {
                Ok(())
            }
        };
        let target = || {
            let mut t = [0u8; 16];
            t.copy_from_slice(&b[field::TARGET]);
            let t = Ipv6Addr::from(t);
            if t.is_multicast() {
                Err(Error::Malformed)
            } else {
                Ok(t)
            }
        };
        match p.msg_type() {
            msg_type::ECHO_REQUEST if code == 0 => Ok(Icmpv6Repr::EchoRequest {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            }),
            msg_type::ECHO_REPLY if code == 0 => Ok(Icmpv6Repr::EchoReply {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            }),
            msg_type::DST_UNREACHABLE => Ok(Icmpv6Repr::DstUnreachable {
                code,
                original: data,
            }),
            msg_type::PACKET_TOO_BIG => Ok(Icmpv6Repr::PacketTooBig {
                mtu: p.mtu(),
                original: data,
            }),
            msg_type::TIME_EXCEEDED => Ok(Icmpv6Repr::TimeExceeded {
                code,
                original: data,
            }),
            msg_type::PARAM_PROBLEM => Ok(Icmpv6Repr::ParamProblem {
                code,
                pointer: p.pointer(),
                original: data,
            }),
            msg_type::ROUTER_SOLICIT => {
                ndisc_min(field::RS_OPTIONS)?;
                let o = NdiscOptions::parse(&b[field::RS_OPTIONS..])?;
                if src.is_unspecified() && o.source_lladdr.is_some() {
                    return Err(Error::Malformed);
                }
                Ok(Icmpv6Repr::RouterSolicit {
                    source_lladdr: o.source_lladdr,
                })
            }
            msg_type::ROUTER_ADVERT => {
                ndisc_min(field::RA_OPTIONS)?;
                if !ipv6::is_link_local(src) {
                    return Err(Error::Malformed);
                }
                let o = NdiscOptions::parse(&b[field::RA_OPTIONS..])?;
                Ok(Icmpv6Repr::RouterAdvert {
                    cur_hop_limit: b[field::CUR_HOP_LIMIT],
                    flags: b[field::RA_FLAGS],
                    router_lifetime: be16(&b[field::ROUTER_LIFETIME]),
                    reachable_time: be32(&b[field::REACHABLE_TIME]),
                    retrans_time: be32(&b[field::RETRANS_TIMER]),
                    source_lladdr: o.source_lladdr,
                    mtu: o.mtu,
                    prefix_info: o.prefix_info,
                })
            }
            msg_type::NEIGHBOR_SOLICIT => {
                ndisc_min(field::NEIGH_OPTIONS)?;
                let target_addr = target()?;
                let o = NdiscOptions::parse(&b[field::NEIGH_OPTIONS..])?;
                if src.is_unspecified()
                    && (!ipv6::is_solicited_node(dst) || o.source_lladdr.is_some())
                {
                    return Err(Error::Malformed);
                }
                Ok(Icmpv6Repr::NeighborSolicit {
                    target_addr,
                    source_lladdr: o.source_lladdr,
                })
            }
            msg_type::NEIGHBOR_ADVERT => {
                ndisc_min(field::NEIGH_OPTIONS)?;
                let target_addr = target()?;
                let flags = NeighborFlags(b[field::NEIGH_FLAGS] & 0xe0);
                if dst.is_multicast() && flags.contains(NeighborFlags::SOLICITED) {
                    return Err(Error::Malformed);
                }
                let o = NdiscOptions::parse(&b[field::NEIGH_OPTIONS..])?;
                Ok(Icmpv6Repr::NeighborAdvert {
                    flags,
                    target_addr,
                    target_lladdr: o.target_lladdr,
                })
            }
            _ => Err(Error::Unsupported),
        }
    }

    /// A Neighbor Discovery message: valid only if it arrived with hop
    /// limit 255 ([`super::ndisc::NDISC_HOP_LIMIT`]) and must be sent so.
    pub fn is_ndisc(&self) -> bool {
        matches!(
            self,
            Icmpv6Repr::RouterSolicit { .. }
                | Icmpv6Repr::RouterAdvert { .. }
                | Icmpv6Repr::NeighborSolicit { .. }
                | Icmpv6Repr::NeighborAdvert { .. }
        )
    }

    /// The options an NDP message carries (empty for the others).
    fn options(&self) -> NdiscOptions {
        match *self {
            Icmpv6Repr::RouterSolicit { source_lladdr }
            | Icmpv6Repr::NeighborSolicit { source_lladdr, .. } => NdiscOptions {
                source_lladdr,
                ..NdiscOptions::default()
            },
            Icmpv6Repr::NeighborAdvert { target_lladdr, .. } => NdiscOptions {
                target_lladdr,
                ..NdiscOptions::default()
            },
            Icmpv6Repr::RouterAdvert {
                source_lladdr,
                mtu,
                prefix_info,
                ..
            } => NdiscOptions {
                source_lladdr,
                mtu,
                prefix_info,
                ..NdiscOptions::default()
            },
            _ => NdiscOptions::default(),
        }
    }

    /// Length of the message `emit` writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => {
                HEADER_LEN + data.len()
            }
            Icmpv6Repr::DstUnreachable { original, .. }
            | Icmpv6Repr::PacketTooBig { original, .. }
            | Icmpv6Repr::TimeExceeded { original, .. }
            | Icmpv6Repr::ParamProblem { original, .. } => HEADER_LEN + original.len(),
            Icmpv6Repr::RouterSolicit { .. } => field::RS_OPTIONS + self.options().buffer_len(),
            Icmpv6Repr::RouterAdvert { .. } => field::RA_OPTIONS + self.options().buffer_len(),
            Icmpv6Repr::NeighborSolicit { .. } | Icmpv6Repr::NeighborAdvert { .. } => {
                field::NEIGH_OPTIONS + self.options().buffer_len()
            }
        }
    }

    /// Writes the message and its checksum for `src > dst`; the buffer must
    /// be exactly [`buffer_len`](Self::buffer_len) long. An error's
    /// `original` should already be cut to [`MAX_ERROR_QUOTE`]
    /// ([`error_quote`]).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        p: &mut Icmpv6Packet<T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) {
        let opts = self.options();
        let (t, c, rest): (u8, u8, [u8; 4]) = match *self {
            Icmpv6Repr::EchoRequest { ident, seq_no, .. } => {
                (msg_type::ECHO_REQUEST, 0, echo_rest(ident, seq_no))
            }
            Icmpv6Repr::EchoReply { ident, seq_no, .. } => {
                (msg_type::ECHO_REPLY, 0, echo_rest(ident, seq_no))
            }
            Icmpv6Repr::DstUnreachable { code, .. } => (msg_type::DST_UNREACHABLE, code, [0; 4]),
            Icmpv6Repr::PacketTooBig { mtu, .. } => {
                (msg_type::PACKET_TOO_BIG, 0, mtu.to_be_bytes())
            }
            Icmpv6Repr::TimeExceeded { code, .. } => (msg_type::TIME_EXCEEDED, code, [0; 4]),
            Icmpv6Repr::ParamProblem { code, pointer, .. } => {
                (msg_type::PARAM_PROBLEM, code, pointer.to_be_bytes())
            }
            Icmpv6Repr::RouterSolicit { .. } => (msg_type::ROUTER_SOLICIT, 0, [0; 4]),
            Icmpv6Repr::RouterAdvert {
                cur_hop_limit,
                flags,
                router_lifetime,
                ..
            } => {
                let l = router_lifetime.to_be_bytes();
                (
                    msg_type::ROUTER_ADVERT,
                    0,
                    [cur_hop_limit, flags, l[0], l[1]],
                )
            }
            Icmpv6Repr::NeighborSolicit { .. } => (msg_type::NEIGHBOR_SOLICIT, 0, [0; 4]),
            Icmpv6Repr::NeighborAdvert { flags, .. } => {
                (msg_type::NEIGHBOR_ADVERT, 0, [flags.0 & 0xe0, 0, 0, 0])
            }
        };
        p.set_type_code(t, c);
        p.set_rest(rest);
        let b = p.buffer.as_mut();
        match *self {
            Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => {
                b[field::DATA][..data.len()].copy_from_slice(data);
            }
            Icmpv6Repr::DstUnreachable { original, .. }
            | Icmpv6Repr::PacketTooBig { original, .. }
            | Icmpv6Repr::TimeExceeded { original, .. }
            | Icmpv6Repr::ParamProblem { original, .. } => {
                b[field::DATA][..original.len()].copy_from_slice(original);
            }
            Icmpv6Repr::RouterSolicit { .. } => opts.emit(&mut b[field::RS_OPTIONS..]),
            Icmpv6Repr::RouterAdvert {
                reachable_time,
                retrans_time,
                ..
            } => {
                b[field::REACHABLE_TIME].copy_from_slice(&reachable_time.to_be_bytes());
                b[field::RETRANS_TIMER].copy_from_slice(&retrans_time.to_be_bytes());
                opts.emit(&mut b[field::RA_OPTIONS..]);
            }
            Icmpv6Repr::NeighborSolicit { target_addr, .. }
            | Icmpv6Repr::NeighborAdvert { target_addr, .. } => {
                b[field::TARGET].copy_from_slice(&target_addr.octets());
                opts.emit(&mut b[field::NEIGH_OPTIONS..]);
            }
        }
        p.fill_checksum(src, dst);
    }
}

/// The part of an invoking packet an error message quotes: all of it, up to
/// [`MAX_ERROR_QUOTE`] bytes (RFC 4443 §2.4 (c)).
pub fn error_quote(packet: &[u8]) -> &[u8] {
    &packet[..packet.len().min(MAX_ERROR_QUOTE)]
}

fn echo_rest(ident: u16, seq_no: u16) -> [u8; 4] {
    let i = ident.to_be_bytes();
    let s = seq_no.to_be_bytes();
    [i[0], i[1], s[0], s[1]]
}

impl fmt::Display for Icmpv6Repr<'_> {
    /// tcpdump's wording (`ICMP6, echo request, id 1, seq 2, length 16`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.buffer_len();
        match self {
            Icmpv6Repr::EchoRequest { ident, seq_no, .. } => write!(
                f,
                "ICMP6, echo request, id {ident}, seq {seq_no}, length {len}"
            ),
            Icmpv6Repr::EchoReply { ident, seq_no, .. } => write!(
                f,
                "ICMP6, echo reply, id {ident}, seq {seq_no}, length {len}"
            ),
            Icmpv6Repr::DstUnreachable { code, .. } => {
                write!(
                    f,
                    "ICMP6, destination unreachable, code {code}, length {len}"
                )
            }
            Icmpv6Repr::PacketTooBig { mtu, .. } => {
                write!(f, "ICMP6, packet too big, mtu {mtu}, length {len}")
            }
            Icmpv6Repr::TimeExceeded { code, .. } => {
                write!(f, "ICMP6, time exceeded, code {code}, length {len}")
            }
            Icmpv6Repr::ParamProblem { code, pointer, .. } => write!(
                f,
                "ICMP6, parameter problem, code {code}, pointer {pointer}, length {len}"
            ),
            Icmpv6Repr::RouterSolicit { .. } => {
                write!(f, "ICMP6, router solicitation, length {len}")
            }
            Icmpv6Repr::RouterAdvert {
                cur_hop_limit,
                router_lifetime,
                ..
            } => write!(
                f,
                "ICMP6, router advertisement, length {len}, hop limit {cur_hop_limit}, \
                 router lifetime {router_lifetime}s"
            ),
            Icmpv6Repr::NeighborSolicit { target_addr, .. } => write!(
                f,
                "ICMP6, neighbor solicitation, length {len}, who has {target_addr}"
            ),
            Icmpv6Repr::NeighborAdvert {
                flags, target_addr, ..
            } => write!(
                f,
                "ICMP6, neighbor advertisement, length {len}, tgt is {target_addr}, {flags}"
            ),
        }?;
        if let Some(a) = self.options().source_lladdr {
            write!(f, ", source link-address {a}")?;
        }
        if let Some(a) = self.options().target_lladdr {
            write!(f, ", destination link-address {a}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn mac(s: &str) -> EthernetAddress {
        s.parse().unwrap()
    }

    // Captured from the kernel on a veth pair between two namespaces
    // (tcpdump -w), ICMPv6 part only; tcpdump said "icmp6 sum ok" to each.
    //
    // fd00:198:18::1 > ff02::1:ff00:2: neighbor solicitation, who has
    // fd00:198:18::2, source link-address 02:00:00:00:00:0a.
    const NS: [u8; 32] = [
        0x87, 0x00, 0x7a, 0x2e, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00,
        0x00, 0x0a,
    ];
    // fd00:198:18::2 > fd00:198:18::1: neighbor advertisement, tgt is
    // fd00:198:18::2, Flags [solicited, override], destination
    // link-address 02:00:00:00:00:0b.
    const NA: [u8; 32] = [
        0x88, 0x00, 0x17, 0x81, 0x60, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00,
        0x00, 0x0b,
    ];
    // :: > ff02::1:ff00:a: the DAD probe for fe80::ff:fe00:a, with a nonce
    // option (RFC 7527) and no source link-layer address.
    const DAD: [u8; 32] = [
        0x87, 0x00, 0x9a, 0x57, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x0a, 0x0e, 0x01, 0x9c, 0x50, 0x0a, 0x59,
        0x2e, 0x09,
    ];
    // fe80::ff:fe00:a > ff02::2: router solicitation, source link-address
    // 02:00:00:00:00:0a.
    const RS: [u8; 16] = [
        0x85, 0x00, 0x7b, 0x1a, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x0a,
    ];
    // fd00:198:18::1 > fd00:198:18::2: echo request, id 30177, seq 1.
    const ECHO: [u8; 16] = [
        0x80, 0x00, 0x00, 0x5e, 0x75, 0xe1, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
        0x07,
    ];

    const H1: &str = "fd00:198:18::1";
    const H2: &str = "fd00:198:18::2";

    fn parse<'a>(b: &'a [u8], src: &str, dst: &str) -> Result<Icmpv6Repr<'a>> {
        Icmpv6Repr::parse(&Icmpv6Packet::new_checked(b)?, addr(src), addr(dst))
    }

    fn emit(r: &Icmpv6Repr<'_>, src: &str, dst: &str) -> Vec<u8> {
        let mut buf = vec![0xa5u8; r.buffer_len()];
        r.emit(
            &mut Icmpv6Packet::new_unchecked(&mut buf[..]),
            addr(src),
            addr(dst),
        );
        buf
    }

    fn ns() -> Icmpv6Repr<'static> {
        Icmpv6Repr::NeighborSolicit {
            target_addr: addr(H2),
            source_lladdr: Some(mac("02:00:00:00:00:0a")),
        }
    }

    fn na() -> Icmpv6Repr<'static> {
        Icmpv6Repr::NeighborAdvert {
            flags: NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE,
            target_addr: addr(H2),
            target_lladdr: Some(mac("02:00:00:00:00:0b")),
        }
    }

    fn rs() -> Icmpv6Repr<'static> {
        Icmpv6Repr::RouterSolicit {
            source_lladdr: Some(mac("02:00:00:00:00:0a")),
        }
    }

    #[test]
    fn parse_golden_ndisc() {
        let r = parse(&NS, H1, "ff02::1:ff00:2").unwrap();
        assert_eq!(r, ns());
        assert!(r.is_ndisc());
        assert_eq!(
            r.to_string(),
            "ICMP6, neighbor solicitation, length 32, who has fd00:198:18::2, \
             source link-address 02:00:00:00:00:0a"
        );
        let r = parse(&NA, H2, H1).unwrap();
        assert_eq!(r, na());
        assert_eq!(
            r.to_string(),
            "ICMP6, neighbor advertisement, length 32, tgt is fd00:198:18::2, \
             Flags [solicited, override], destination link-address 02:00:00:00:00:0b"
        );
        let r = parse(&DAD, "::", "ff02::1:ff00:a").unwrap();
        assert_eq!(
            r,
            Icmpv6Repr::NeighborSolicit {
                target_addr: addr("fe80::ff:fe00:a"),
                source_lladdr: None
            }
        );
        let r = parse(&RS, "fe80::ff:fe00:a", "ff02::2").unwrap();
        assert_eq!(r, rs());
        assert_eq!(
            r.to_string(),
            "ICMP6, router solicitation, length 16, source link-address 02:00:00:00:00:0a"
        );
    }

    #[test]
    fn emit_golden_ndisc() {
        assert_eq!(emit(&ns(), H1, "ff02::1:ff00:2"), NS);
        assert_eq!(emit(&na(), H2, H1), NA);
        assert_eq!(emit(&rs(), "fe80::ff:fe00:a", "ff02::2"), RS);
    }

    #[test]
    fn echo_golden_and_round_trip() {
        let req = Icmpv6Repr::EchoRequest {
            ident: 30177,
            seq_no: 1,
            data: &[0, 1, 2, 3, 4, 5, 6, 7],
        };
        assert_eq!(parse(&ECHO, H1, H2).unwrap(), req);
        assert!(!req.is_ndisc());
        assert_eq!(emit(&req, H1, H2), ECHO);
        assert_eq!(
            req.to_string(),
            "ICMP6, echo request, id 30177, seq 1, length 16"
        );
        let reply = Icmpv6Repr::EchoReply {
            ident: 30177,
            seq_no: 1,
            data: &[0, 1, 2, 3, 4, 5, 6, 7],
        };
        let b = emit(&reply, H2, H1);
        assert_eq!(parse(&b, H2, H1).unwrap(), reply);
        // The checksum covers the pseudo-header: other addresses fail.
        assert_eq!(parse(&b, H1, H1), Err(Error::Checksum));
    }

    #[test]
    fn errors_round_trip() {
        let original: Vec<u8> = (0..1400u32).map(|i| i as u8).collect();
        let quote = error_quote(&original);
        assert_eq!(quote.len(), MAX_ERROR_QUOTE);
        assert_eq!(quote.len() + 48, MIN_MTU);
        assert_eq!(error_quote(&original[..60]).len(), 60);
        for r in [
            Icmpv6Repr::DstUnreachable {
                code: unreachable::PORT,
                original: quote,
            },
            Icmpv6Repr::PacketTooBig {
                mtu: 1280,
                original: quote,
            },
            Icmpv6Repr::TimeExceeded {
                code: time_exceeded::REASSEMBLY,
                original: &original[..48],
            },
            Icmpv6Repr::ParamProblem {
                code: param_problem::UNRECOGNIZED_NEXT_HEADER,
                pointer: 40,
                original: &original[..48],
            },
        ] {
            let b = emit(&r, H2, H1);
            assert_eq!(b.len(), r.buffer_len());
            let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
            assert!(p.is_error());
            assert_eq!(parse(&b, H2, H1).unwrap(), r);
        }
        let b = emit(
            &Icmpv6Repr::PacketTooBig {
                mtu: 1400,
                original: &[],
            },
            H2,
            H1,
        );
        assert_eq!(&b[..2], &[2, 0]);
        assert_eq!(&b[4..8], &[0, 0, 0x05, 0x78]);
        let r = Icmpv6Repr::ParamProblem {
            code: 1,
            pointer: 6,
            original: &[],
        };
        assert_eq!(
            r.to_string(),
            "ICMP6, parameter problem, code 1, pointer 6, length 8"
        );
    }

    // The kernel's answer to a UDP datagram "hi" sent to port 9 of ::1 in a
    // namespace of its own: the whole IPv6 packet, quoting the datagram.
    const PORT_UNREACHABLE: [u8; 98] = [
        0x60, 0x0a, 0x17, 0xb1, 0x00, 0x3a, 0x3a, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x04, 0xf4, 0x0c, 0x00,
        0x00, 0x00, 0x00, 0x60, 0x0a, 0x43, 0xc0, 0x00, 0x0a, 0x11, 0x40, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xec, 0xc8,
        0x00, 0x09, 0x00, 0x0a, 0x00, 0x1d, 0x68, 0x69,
    ];

    #[test]
    fn kernel_port_unreachable_golden() {
        use crate::wire::ipv6::{Ipv6Packet, Ipv6Repr};
        let ip = Ipv6Packet::new_checked(&PORT_UNREACHABLE[..]).unwrap();
        let ip_repr = Ipv6Repr::parse(&ip).unwrap();
        let (src, dst) = (ip_repr.src_addr, ip_repr.dst_addr);
        let p = Icmpv6Packet::new_checked(ip.payload()).unwrap();
        let r = Icmpv6Repr::parse(&p, src, dst).unwrap();
        let Icmpv6Repr::DstUnreachable { code, original } = r else {
            panic!("{r}");
        };
        assert_eq!(code, unreachable::PORT);
        // The quote is the invoking packet: UDP to port 9.
        let quoted = Ipv6Packet::new_checked(original).unwrap();
        assert_eq!(quoted.next_header(), crate::wire::ipv6::next_header::UDP);
        assert_eq!(&quoted.payload()[2..4], &[0, 9]);
        assert_eq!(
            r.to_string(),
            "ICMP6, destination unreachable, code 4, length 58"
        );
        // Built again from the Repr, it is the kernel's message byte for byte.
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut Icmpv6Packet::new_unchecked(&mut buf[..]), src, dst);
        assert_eq!(buf[..], PORT_UNREACHABLE[40..]);
    }

    #[test]
    fn router_advert_round_trip() {
        let ra = Icmpv6Repr::RouterAdvert {
            cur_hop_limit: 64,
            flags: ra_flags::OTHER,
            router_lifetime: 1800,
            reachable_time: 30000,
            retrans_time: 1000,
            source_lladdr: Some(mac("02:00:00:00:00:01")),
            mtu: Some(1500),
            prefix_info: Some(PrefixInfo {
                prefix_len: 64,
                on_link: true,
                autonomous: true,
                valid_lifetime: 86400,
                preferred_lifetime: 14400,
                prefix: addr("fd00:198:18::"),
            }),
        };
        let b = emit(&ra, "fe80::1", "ff02::1");
        assert_eq!(b.len(), 16 + 8 + 8 + 32);
        assert_eq!(
            &b[4..16],
            &[64, 0x40, 0x07, 0x08, 0, 0, 0x75, 0x30, 0, 0, 0x03, 0xe8]
        );
        assert_eq!(parse(&b, "fe80::1", "ff02::1").unwrap(), ra);
        assert!(ra.to_string().starts_with(
            "ICMP6, router advertisement, length 64, hop limit 64, router lifetime 1800s"
        ));
        // RFC 4861 §6.1.2: only from a link-local source.
        let b = emit(&ra, H1, "ff02::1");
        assert_eq!(parse(&b, H1, "ff02::1"), Err(Error::Malformed));
    }

    #[test]
    fn ndisc_validity_checks() {
        // Code not 0 (RFC 4861 §7.1.1).
        let mut b = NS;
        b[1] = 1;
        Icmpv6Packet::new_unchecked(&mut b[..]).fill_checksum(addr(H1), addr("ff02::1:ff00:2"));
        assert_eq!(parse(&b, H1, "ff02::1:ff00:2"), Err(Error::Malformed));
        // A multicast target.
        let r = Icmpv6Repr::NeighborSolicit {
            target_addr: addr("ff02::1"),
            source_lladdr: None,
        };
        assert_eq!(parse(&emit(&r, H1, H2), H1, H2), Err(Error::Malformed));
        // A DAD probe must not carry a source address, and goes to the
        // solicited-node group.
        assert_eq!(
            parse(&emit(&ns(), "::", "ff02::1:ff00:2"), "::", "ff02::1:ff00:2"),
            Err(Error::Malformed)
        );
        let dad = Icmpv6Repr::NeighborSolicit {
            target_addr: addr(H2),
            source_lladdr: None,
        };
        assert_eq!(
            parse(&emit(&dad, "::", H2), "::", H2),
            Err(Error::Malformed)
        );
        // S set in an advertisement to a group (RFC 4861 §7.1.2).
        assert_eq!(
            parse(&emit(&na(), H2, "ff02::1"), H2, "ff02::1"),
            Err(Error::Malformed)
        );
        let unsolicited = Icmpv6Repr::NeighborAdvert {
            flags: NeighborFlags::OVERRIDE,
            target_addr: addr(H2),
            target_lladdr: None,
        };
        let b = emit(&unsolicited, H2, "ff02::1");
        assert_eq!(parse(&b, H2, "ff02::1").unwrap(), unsolicited);
        // A router solicitation from :: without a source address is fine.
        let rs_dad = Icmpv6Repr::RouterSolicit {
            source_lladdr: None,
        };
        assert_eq!(
            parse(&emit(&rs_dad, "::", "ff02::2"), "::", "ff02::2"),
            Ok(rs_dad)
        );
        assert_eq!(
            parse(&emit(&rs(), "::", "ff02::2"), "::", "ff02::2"),
            Err(Error::Malformed)
        );
        // A zero-length option.
        let mut z = NS;
        z[25] = 0;
        Icmpv6Packet::new_unchecked(&mut z[..]).fill_checksum(addr(H1), addr("ff02::1:ff00:2"));
        assert_eq!(parse(&z, H1, "ff02::1:ff00:2"), Err(Error::Malformed));
    }

    #[test]
    fn truncated_checksum_and_unsupported() {
        assert_eq!(
            Icmpv6Packet::new_checked(&ECHO[..7]).unwrap_err(),
            Error::Truncated
        );
        // A solicitation cut before the end of its target.
        let mut short = NS[..20].to_vec();
        Icmpv6Packet::new_unchecked(&mut short[..]).fill_checksum(addr(H1), addr("ff02::1:ff00:2"));
        assert_eq!(parse(&short, H1, "ff02::1:ff00:2"), Err(Error::Truncated));
        let mut bad = NA;
        bad[31] ^= 1;
        assert_eq!(parse(&bad, H2, H1), Err(Error::Checksum));
        // A redirect, and an echo request with a non-zero code.
        for (t, c) in [
            (msg_type::REDIRECT, 0),
            (msg_type::ECHO_REQUEST, 1),
            (200, 0),
        ] {
            let mut m = vec![t, c, 0, 0, 0, 0, 0, 0];
            m.extend_from_slice(&[0; 32]);
            Icmpv6Packet::new_unchecked(&mut m[..]).fill_checksum(addr(H1), addr(H2));
            assert_eq!(parse(&m, H1, H2), Err(Error::Unsupported));
        }
    }

    #[test]
    fn neighbor_flags_display() {
        assert_eq!(NeighborFlags::NONE.to_string(), "Flags [none]");
        assert_eq!(
            (NeighborFlags::ROUTER | NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE)
                .to_string(),
            "Flags [router, solicited, override]"
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = crate::rand::Rng::new(0xa54f_f53a_5f1d_36f1);
        let types = [1u8, 2, 3, 4, 128, 129, 133, 134, 135, 136, 137, 99];
        let srcs = [addr("fe80::1"), addr("::"), addr(H1)];
        let dsts = [addr("ff02::1:ff00:2"), addr(H2), addr("ff02::1")];
        let mut buf = [0u8; 80];
        let mut decoded = [0usize; 256];
        for _ in 0..30_000 {
            let len = rng.index(81);
            rng.fill(&mut buf);
            if len > 0 {
                buf[0] = types[rng.index(types.len())];
            }
            if len > 1 && rng.chance(0.8) {
                buf[1] = 0;
            }
            // Plausible option headers after the fixed parts.
            for i in (8..len).step_by(8) {
                if rng.chance(0.5) {
                    buf[i] = rng.index(6) as u8;
                    if i + 1 < len {
                        buf[i + 1] = rng.index(5) as u8;
                    }
                }
            }
            let (src, dst) = (srcs[rng.index(3)], dsts[rng.index(3)]);
            if len >= HEADER_LEN {
                Icmpv6Packet::new_unchecked(&mut buf[..len]).fill_checksum(src, dst);
            }
            let Ok(p) = Icmpv6Packet::new_checked(&buf[..len]) else {
                continue;
            };
            let _ = (p.mtu(), p.data(), p.echo_seq_no());
            if let Ok(r) = Icmpv6Repr::parse(&p, src, dst) {
                decoded[usize::from(p.msg_type())] += 1;
                let _ = r.to_string();
                let mut out = vec![0u8; r.buffer_len()];
                r.emit(&mut Icmpv6Packet::new_unchecked(&mut out[..]), src, dst);
                let back =
                    Icmpv6Repr::parse(&Icmpv6Packet::new_checked(&out[..]).unwrap(), src, dst);
                assert_eq!(back, Ok(r));
            }
        }
        // Every known type was decoded some of the time.
        for t in &types[..types.len() - 2] {
            assert!(decoded[usize::from(*t)] > 0, "type {t} never decoded");
        }
    }
}
