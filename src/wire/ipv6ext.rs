//! IPv6 extension headers (RFC 8200 §4): a bounded walker that finds the
//! upper-layer header, and the Fragment header (RFC 8200 §4.5).
//!
//! ```text
//! Hop-by-Hop, Destination Options, Routing (RFC 8200 §4.3, §4.6, §4.4):
//! +---------------+---------------+-------------------------------+
//! |  Next Header  |  Hdr Ext Len  |  options / routing type, ...  |
//! +---------------+---------------+-------------------------------+
//! Fragment (RFC 8200 §4.5), always 8 bytes:
//! +---------------+---------------+-------------------------+-+-+-+
//! |  Next Header  |   Reserved    |    Fragment Offset      |Res|M|
//! +---------------+---------------+-------------------------+-+-+-+
//! |                         Identification                        |
//! +---------------+---------------+---------------+---------------+
//! ```
//! Hdr Ext Len counts 8-octet units beyond the first 8 octets.

use super::ipv6::next_header as nh;
use super::ipv6::{HEADER_LEN as IPV6_HEADER_LEN, NEXT_HEADER_POINTER, PAYLOAD_LEN_POINTER};
use super::{Error, Result};
use core::fmt;

mod field {
    use core::ops::Range;
    pub const NEXT_HEADER: usize = 0;
    pub const HDR_EXT_LEN: usize = 1;
    pub const ROUTING_TYPE: usize = 2;
    pub const SEGMENTS_LEFT: usize = 3;
    pub const FRAG_OFF_M: Range<usize> = 2..4;
    pub const FRAG_IDENT: Range<usize> = 4..8;
}

/// Length of a Fragment header.
pub const FRAGMENT_HEADER_LEN: usize = field::FRAG_IDENT.end;

/// The walker gives up after this many extension headers. RFC 8200 §4.1
/// recommends at most one of each (two Destination Options); a longer
/// chain is an attack on the receiver's time, not a packet to deliver.
pub const MAX_EXTENSION_HEADERS: usize = 8;

/// Option types a host knows in Hop-by-Hop and Destination Options headers
/// (IANA "Destination Options and Hop-by-Hop Options").
pub mod option {
    /// One byte of padding (RFC 8200 §4.2).
    pub const PAD1: u8 = 0;
    /// N bytes of padding (RFC 8200 §4.2).
    pub const PADN: u8 = 1;
    /// Router Alert (RFC 2711), in MLD reports; meaningful to routers only.
    pub const ROUTER_ALERT: u8 = 5;
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// A view of a Fragment header.
#[derive(Debug, Clone)]
pub struct Ipv6FragmentHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6FragmentHeader<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6FragmentHeader { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// The buffer holds the 8-byte header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < FRAGMENT_HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The protocol of the fragmentable part.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }
    /// Offset of this fragment's data in the fragmentable part, in bytes
    /// (the field counts 8-octet units).
    pub fn frag_offset(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::FRAG_OFF_M]) & 0xfff8
    }
    /// The M flag: more fragments follow.
    pub fn more_frags(&self) -> bool {
        be16(&self.buffer.as_ref()[field::FRAG_OFF_M]) & 0x0001 != 0
    }
    /// Identification, shared by the fragments of one packet.
    pub fn ident(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::FRAG_IDENT];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6FragmentHeader<T> {
    /// Sets the next header and clears the reserved byte.
    pub fn set_next_header(&mut self, v: u8) {
        let b = self.buffer.as_mut();
        b[field::NEXT_HEADER] = v;
        b[field::HDR_EXT_LEN] = 0;
    }
    /// Sets the offset (in bytes, a multiple of 8) and the M flag; the two
    /// reserved bits are cleared.
    pub fn set_frag(&mut self, offset: u16, more_frags: bool) {
        let v = (offset & 0xfff8) | u16::from(more_frags);
        self.buffer.as_mut()[field::FRAG_OFF_M].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the identification.
    pub fn set_ident(&mut self, v: u32) {
        self.buffer.as_mut()[field::FRAG_IDENT].copy_from_slice(&v.to_be_bytes());
    }
}

/// A decoded Fragment header (RFC 8200 §4.5). The reserved fields are
/// ignored on reception and sent as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6FragmentRepr {
    /// The protocol of the fragmentable part (what the reassembled payload
    /// starts with).
    pub next_header: u8,
    /// Offset of this fragment's data in the fragmentable part, in bytes:
    /// a multiple of 8, at most 65528.
    pub frag_offset: u16,
    /// M: more fragments follow.
    pub more_frags: bool,
    /// Identification (RFC 7739 wants it unpredictable).
    pub ident: u32,
}

impl Ipv6FragmentRepr {
    /// Decodes a Fragment header.
    pub fn parse<T: AsRef<[u8]>>(h: &Ipv6FragmentHeader<T>) -> Result<Ipv6FragmentRepr> {
        h.check_len()?;
        Ok(Ipv6FragmentRepr {
            next_header: h.next_header(),
            frag_offset: h.frag_offset(),
            more_frags: h.more_frags(),
            ident: h.ident(),
        })
    }

    /// An atomic fragment: offset 0 and no more fragments, a whole packet
    /// in a Fragment header, to be processed without reassembly (RFC 6946
    /// §4).
    pub fn is_atomic(&self) -> bool {
        self.frag_offset == 0 && !self.more_frags
    }

    /// Length `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        FRAGMENT_HEADER_LEN
    }

    /// Writes the header; the buffer must hold [`FRAGMENT_HEADER_LEN`]
    /// bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, h: &mut Ipv6FragmentHeader<T>) {
        h.set_next_header(self.next_header);
        h.set_frag(self.frag_offset, self.more_frags);
        h.set_ident(self.ident);
    }
}

impl fmt::Display for Ipv6FragmentRepr {
    /// tcpdump's `frag (ident:offset|...)`, without the length, which the
    /// header does not carry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frag (0x{:08x}:{}{})",
            self.ident,
            self.frag_offset,
            if self.more_frags { "+" } else { "" }
        )
    }
}

/// Where the extension headers of a packet end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeaders {
    /// The Next Header value the walk ended on: the upper-layer protocol
    /// (TCP, ICMPv6, No Next Header, or a protocol the caller may not
    /// know) or, when `fragment` is set, the fragment header's.
    pub next_header: u8,
    /// Where what `next_header` names starts, as an offset into the
    /// payload given to [`walk`]: the length of the extension headers.
    pub offset: usize,
    /// Where the Next Header field holding `next_header` is, counted from
    /// the start of the IPv6 header: the pointer of the Parameter Problem,
    /// code 1, a host sends for a protocol it does not know (RFC 8200 §4,
    /// RFC 4443 §3.4).
    pub pointer: usize,
    /// The walk stopped at a Fragment header: the caller reassembles (RFC
    /// 8200 §4.5). The unfragmentable part is
    /// `payload[..offset - FRAGMENT_HEADER_LEN]` and this fragment's data is
    /// `payload[offset..]`; after reassembly, walk the reassembled
    /// fragmentable part again from `next_header`.
    pub fragment: Option<Ipv6FragmentRepr>,
}

/// Why a packet's extension headers stop it. Every error means: discard
/// the packet; [`param_problem`](Self::param_problem) says whether to tell
/// the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtHeaderError {
    /// A header runs past the payload, or an option past its header.
    Truncated,
    /// More than [`MAX_EXTENSION_HEADERS`] headers.
    TooMany,
    /// An extension header we cannot skip (ESP, AH, Mobility, HIP, Shim6,
    /// the experimental 253 and 254), or a Hop-by-Hop header anywhere but
    /// first (RFC 8200 §4.1). Parameter Problem code 1 at `pointer`.
    UnknownHeader {
        /// The Next Header value.
        next_header: u8,
        /// Offset of the Next Header field naming it, from the start of the
        /// IPv6 header.
        pointer: usize,
    },
    /// A Routing header with segments left: a host is never an
    /// intermediate node of one, and routing type 0 is gone (RFC 5095), so
    /// every type is unrecognized. Parameter Problem code 0 pointing to the
    /// routing type (RFC 8200 §4.4).
    UnsupportedRouting {
        /// Routing type.
        routing_type: u8,
        /// Segments left (non-zero).
        segments_left: u8,
        /// Offset of the Routing Type field, from the start of the IPv6
        /// header.
        pointer: usize,
    },
    /// An option whose type we do not know and whose two high-order bits
    /// are not 00 (RFC 8200 §4.2).
    UnrecognizedOption {
        /// The option type; `option_type >> 6` is the action.
        option_type: u8,
        /// Offset of the option type, from the start of the IPv6 header.
        pointer: usize,
    },
    /// A fragment that is not the last and whose length is not a multiple
    /// of 8 (pointer: the Payload Length field), or one that would end
    /// beyond 65535 bytes (pointer: its Fragment Offset field). Parameter
    /// Problem code 0 (RFC 8200 §4.5).
    BadFragment {
        /// Offset of the faulty field, from the start of the IPv6 header.
        pointer: usize,
    },
}

impl ExtHeaderError {
    /// The ICMPv6 Parameter Problem (code, pointer) to send for this error
    /// (RFC 4443 §3.4), if any. For an unrecognized option the action bits
    /// decide (RFC 8200 §4.2): 01 discards silently, 10 always reports and
    /// 11 reports only when the destination was not multicast. The caller
    /// still applies RFC 4443 §2.4 (e) (no error about a multicast
    /// destination otherwise, nor to a multicast or unspecified source).
    pub fn param_problem(&self, dst_is_multicast: bool) -> Option<(u8, u32)> {
        match *self {
            ExtHeaderError::Truncated | ExtHeaderError::TooMany => None,
            ExtHeaderError::UnknownHeader { pointer, .. } => Some((1, pointer as u32)),
            ExtHeaderError::UnsupportedRouting { pointer, .. }
            | ExtHeaderError::BadFragment { pointer } => Some((0, pointer as u32)),
            ExtHeaderError::UnrecognizedOption {
                option_type,
                pointer,
            } => match option_type >> 6 {
                2 => Some((2, pointer as u32)),
                3 if !dst_is_multicast => Some((2, pointer as u32)),
                _ => None,
            },
        }
    }
}

impl fmt::Display for ExtHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtHeaderError::Truncated => f.write_str("truncated extension header"),
            ExtHeaderError::TooMany => f.write_str("too many extension headers"),
            ExtHeaderError::UnknownHeader { next_header, .. } => {
                write!(f, "unknown next header {next_header}")
            }
            ExtHeaderError::UnsupportedRouting {
                routing_type,
                segments_left,
                ..
            } => write!(
                f,
                "routing type {routing_type} with {segments_left} segments left"
            ),
            ExtHeaderError::UnrecognizedOption { option_type, .. } => {
                write!(f, "unrecognized option 0x{option_type:02x}")
            }
            ExtHeaderError::BadFragment { pointer } => {
                write!(f, "bad fragment (field at {pointer})")
            }
        }
    }
}

/// Checks the TLV options of a Hop-by-Hop or Destination Options header
/// (RFC 8200 §4.2). `opts` is the header after its first two bytes;
/// `base` is the pointer of `opts[0]`.
fn check_options(opts: &[u8], base: usize) -> core::result::Result<(), ExtHeaderError> {
    let mut i = 0;
    while i < opts.len() {
        let t = opts[i];
        if t == option::PAD1 {
            i += 1;
            continue;
        }
        let Some(&len) = opts.get(i + 1) else {
            return Err(ExtHeaderError::Truncated);
        };
        let end = i + 2 + usize::from(len);
        if end > opts.len() {
            return Err(ExtHeaderError::Truncated);
        }
        if t != option::PADN && t != option::ROUTER_ALERT && t >> 6 != 0 {
            return Err(ExtHeaderError::UnrecognizedOption {
                option_type: t,
                pointer: base + i,
            });
        }
        i = end;
    }
    Ok(())
}

/// Walks the extension headers of an IPv6 packet whose fixed header names
/// `first` and whose payload is `payload` (the bytes after the 40-byte
/// header, up to the payload length), as a destination host does (RFC 8200
/// §4): Hop-by-Hop (first only) and Destination Options are checked and
/// skipped, a Routing header with no segments left is skipped, and the
/// walk stops at the upper-layer header or at a Fragment header. At most
/// [`MAX_EXTENSION_HEADERS`] headers are walked; nothing here panics,
/// whatever the bytes.
pub fn walk(first: u8, payload: &[u8]) -> core::result::Result<ExtHeaders, ExtHeaderError> {
    let mut next_header = first;
    let mut pointer = NEXT_HEADER_POINTER;
    let mut offset = 0usize;
    for count in 0..=MAX_EXTENSION_HEADERS {
        let here = IPV6_HEADER_LEN + offset;
        match next_header {
            nh::HOP_BY_HOP | nh::DST_OPTS | nh::ROUTING | nh::FRAGMENT
                if count == MAX_EXTENSION_HEADERS =>
            {
                return Err(ExtHeaderError::TooMany);
            }
            nh::HOP_BY_HOP if offset != 0 => {
                return Err(ExtHeaderError::UnknownHeader {
                    next_header,
                    pointer,
                });
            }
            nh::HOP_BY_HOP | nh::DST_OPTS | nh::ROUTING => {
                let h = payload.get(offset..).unwrap_or(&[]);
                if h.len() < 8 {
                    return Err(ExtHeaderError::Truncated);
                }
                let len = 8 + 8 * usize::from(h[field::HDR_EXT_LEN]);
                if h.len() < len {
                    return Err(ExtHeaderError::Truncated);
                }
                if next_header == nh::ROUTING {
                    // RFC 8200 §4.4: with no segments left, ignore the
                    // header and go on to the next one.
                    let segments_left = h[field::SEGMENTS_LEFT];
                    if segments_left != 0 {
                        return Err(ExtHeaderError::UnsupportedRouting {
                            routing_type: h[field::ROUTING_TYPE],
                            segments_left,
                            pointer: here + field::ROUTING_TYPE,
                        });
                    }
                } else {
                    check_options(&h[2..len], here + 2)?;
                }
                next_header = h[field::NEXT_HEADER];
                pointer = here + field::NEXT_HEADER;
                offset += len;
            }
            nh::FRAGMENT => {
                let h = payload.get(offset..).unwrap_or(&[]);
                let frag = Ipv6FragmentHeader::new_checked(h)
                    .and_then(|h| Ipv6FragmentRepr::parse(&h))
                    .map_err(|_| ExtHeaderError::Truncated)?;
                let data_len = h.len() - FRAGMENT_HEADER_LEN;
                if frag.more_frags && !data_len.is_multiple_of(8) {
                    return Err(ExtHeaderError::BadFragment {
                        pointer: PAYLOAD_LEN_POINTER,
                    });
                }
                if usize::from(frag.frag_offset) + data_len > 65535 {
                    return Err(ExtHeaderError::BadFragment {
                        pointer: here + field::FRAG_OFF_M.start,
                    });
                }
                return Ok(ExtHeaders {
                    next_header: frag.next_header,
                    offset: offset + FRAGMENT_HEADER_LEN,
                    pointer: here + field::NEXT_HEADER,
                    fragment: Some(frag),
                });
            }
            nh::ESP
            | nh::AH
            | nh::MOBILITY
            | nh::HIP
            | nh::SHIM6
            | nh::EXPERIMENT_1
            | nh::EXPERIMENT_2 => {
                return Err(ExtHeaderError::UnknownHeader {
                    next_header,
                    pointer,
                });
            }
            _ => {
                return Ok(ExtHeaders {
                    next_header,
                    offset,
                    pointer,
                    fragment: None,
                });
            }
        }
    }
    Err(ExtHeaderError::TooMany)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv6::Ipv6Packet;

    // The kernel's MLDv2 report :: > ff02::16: a Hop-by-Hop header (next
    // header 58, Router Alert 0, PadN) before 28 bytes of ICMPv6.
    const MLD: [u8; 76] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x3a, 0x00, 0x05, 0x02, 0x00,
        0x00, 0x01, 0x00, 0x8f, 0x00, 0x6f, 0x7f, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00,
        0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00,
        0x0b,
    ];

    // The kernel's first fragment of a 1608-byte echo request: its Fragment
    // header (next header 58, offset 0, M, ident 0x375165d0).
    const FRAG_FIRST: [u8; 8] = [0x3a, 0x00, 0x00, 0x01, 0x37, 0x51, 0x65, 0xd0];
    // ... and the second one's: offset 1448, no M.
    const FRAG_LAST: [u8; 8] = [0x3a, 0x00, 0x05, 0xa8, 0x37, 0x51, 0x65, 0xd0];

    fn mld_payload() -> &'static [u8] {
        &MLD[40..]
    }

    #[test]
    fn hop_by_hop_golden_is_skipped() {
        let p = Ipv6Packet::new_checked(&MLD[..]).unwrap();
        assert_eq!(p.next_header(), nh::HOP_BY_HOP);
        let w = walk(p.next_header(), p.payload()).unwrap();
        assert_eq!(
            w,
            ExtHeaders {
                next_header: nh::ICMPV6,
                offset: 8,
                pointer: 40,
                fragment: None,
            }
        );
        assert_eq!(p.payload()[w.offset], 143); // MLDv2 report
    }

    #[test]
    fn no_extension_headers() {
        let w = walk(nh::TCP, &[0; 20]).unwrap();
        assert_eq!((w.next_header, w.offset, w.pointer), (nh::TCP, 0, 6));
        // An empty payload is fine for the walker; the upper layer decides.
        assert_eq!(walk(nh::NO_NEXT_HEADER, &[]).unwrap().offset, 0);
    }

    #[test]
    fn fragment_header_golden() {
        let r = Ipv6FragmentRepr::parse(&Ipv6FragmentHeader::new_checked(&FRAG_FIRST[..]).unwrap())
            .unwrap();
        let first = Ipv6FragmentRepr {
            next_header: nh::ICMPV6,
            frag_offset: 0,
            more_frags: true,
            ident: 0x3751_65d0,
        };
        assert_eq!(r, first);
        assert!(!r.is_atomic());
        assert_eq!(r.to_string(), "frag (0x375165d0:0+)");
        let last = Ipv6FragmentRepr {
            frag_offset: 1448,
            more_frags: false,
            ..first
        };
        let mut buf = [0xffu8; 8];
        last.emit(&mut Ipv6FragmentHeader::new_unchecked(&mut buf[..]));
        assert_eq!(buf, FRAG_LAST);
        let back =
            Ipv6FragmentRepr::parse(&Ipv6FragmentHeader::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(back, last);
        assert_eq!(
            Ipv6FragmentHeader::new_checked(&FRAG_FIRST[..7]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn walk_stops_at_a_fragment() {
        // Destination Options (PadN 4) then the first fragment, 16 bytes.
        let mut payload = vec![nh::FRAGMENT, 0, 1, 4, 0, 0, 0, 0];
        payload.extend_from_slice(&FRAG_FIRST);
        payload.extend_from_slice(&[0xab; 16]);
        let w = walk(nh::DST_OPTS, &payload).unwrap();
        assert_eq!(w.next_header, nh::ICMPV6);
        assert_eq!(w.offset, 16);
        assert_eq!(w.pointer, 48);
        assert_eq!(w.fragment.unwrap().ident, 0x3751_65d0);
        // A non-last fragment of 15 bytes is wrong: pointer to the payload
        // length.
        let e = walk(nh::DST_OPTS, &payload[..31]).unwrap_err();
        assert_eq!(e, ExtHeaderError::BadFragment { pointer: 4 });
        assert_eq!(e.param_problem(false), Some((0, 4)));
        // A last fragment at 65528 with 8 bytes ends beyond 65535.
        let mut far = FRAG_LAST.to_vec();
        far[2] = 0xff;
        far[3] = 0xf8;
        far.extend_from_slice(&[0; 8]);
        assert_eq!(
            walk(nh::FRAGMENT, &far),
            Err(ExtHeaderError::BadFragment { pointer: 42 })
        );
        // An atomic fragment is reported too.
        let mut atomic = FRAG_LAST.to_vec();
        atomic[2] = 0;
        atomic[3] = 0;
        assert!(
            walk(nh::FRAGMENT, &atomic)
                .unwrap()
                .fragment
                .unwrap()
                .is_atomic()
        );
    }

    #[test]
    fn routing_header() {
        // Type 4 (segment routing), no segments left: skipped.
        let mut rh = vec![nh::TCP, 2, 4, 0];
        rh.extend_from_slice(&[0; 20]);
        let w = walk(nh::ROUTING, &rh).unwrap();
        assert_eq!((w.next_header, w.offset, w.pointer), (nh::TCP, 24, 40));
        // Segments left: Parameter Problem code 0 at the routing type.
        rh[3] = 1;
        let e = walk(nh::ROUTING, &rh).unwrap_err();
        assert_eq!(
            e,
            ExtHeaderError::UnsupportedRouting {
                routing_type: 4,
                segments_left: 1,
                pointer: 42
            }
        );
        assert_eq!(e.param_problem(true), Some((0, 42)));
    }

    #[test]
    fn unknown_headers_and_misplaced_hop_by_hop() {
        let e = walk(nh::ESP, &[0; 16]).unwrap_err();
        assert_eq!(
            e,
            ExtHeaderError::UnknownHeader {
                next_header: nh::ESP,
                pointer: 6
            }
        );
        assert_eq!(e.param_problem(false), Some((1, 6)));
        // Hop-by-Hop after a Destination Options header.
        let d = [nh::HOP_BY_HOP, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0];
        assert_eq!(
            walk(nh::DST_OPTS, &d),
            Err(ExtHeaderError::UnknownHeader {
                next_header: 0,
                pointer: 40
            })
        );
    }

    #[test]
    fn options_action_bits() {
        // RFC 8200 §4.2: 00 skip, 01 drop, 10 report, 11 report unless
        // multicast.
        let with = |t: u8| [nh::TCP, 0, t, 1, 0, 1, 1, 0];
        assert!(walk(nh::DST_OPTS, &with(0x1e)).is_ok());
        let e = walk(nh::DST_OPTS, &with(0x4e)).unwrap_err();
        assert_eq!(e.param_problem(false), None);
        let e = walk(nh::DST_OPTS, &with(0x8e)).unwrap_err();
        assert_eq!(
            e,
            ExtHeaderError::UnrecognizedOption {
                option_type: 0x8e,
                pointer: 42
            }
        );
        assert_eq!(e.param_problem(true), Some((2, 42)));
        let e = walk(nh::HOP_BY_HOP, &with(0xc2)).unwrap_err();
        assert_eq!(e.param_problem(true), None);
        assert_eq!(e.param_problem(false), Some((2, 42)));
        // Pad1 bytes and an option running past its header.
        assert!(walk(nh::DST_OPTS, &[6, 0, 0, 0, 0, 0, 0, 0]).is_ok());
        assert_eq!(
            walk(nh::DST_OPTS, &[6, 0, 1, 5, 0, 0, 0, 0]),
            Err(ExtHeaderError::Truncated)
        );
        assert_eq!(
            walk(nh::DST_OPTS, &[6, 0, 0, 0, 0, 0, 0, 1]),
            Err(ExtHeaderError::Truncated)
        );
    }

    #[test]
    fn truncated_and_too_many() {
        for n in 0..8 {
            assert_eq!(
                walk(nh::HOP_BY_HOP, &mld_payload()[..n]),
                Err(ExtHeaderError::Truncated)
            );
        }
        // Hdr Ext Len 1: 16 bytes, only 8 there.
        assert_eq!(
            walk(nh::DST_OPTS, &[6, 1, 1, 4, 0, 0, 0, 0]),
            Err(ExtHeaderError::Truncated)
        );
        let chain = |n: usize| {
            let mut v = Vec::new();
            for i in 0..n {
                let next = if i + 1 == n { nh::TCP } else { nh::DST_OPTS };
                v.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
            }
            v
        };
        let w = walk(nh::DST_OPTS, &chain(MAX_EXTENSION_HEADERS)).unwrap();
        assert_eq!(w.offset, 8 * MAX_EXTENSION_HEADERS);
        assert_eq!(
            walk(nh::DST_OPTS, &chain(MAX_EXTENSION_HEADERS + 1)),
            Err(ExtHeaderError::TooMany)
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = crate::rand::Rng::new(0xbb67_ae85_84ca_a73b);
        let kinds = [0u8, 43, 44, 60, 6, 58, 50, 59];
        let mut buf = [0u8; 96];
        for _ in 0..20_000 {
            let len = rng.index(97);
            rng.fill(&mut buf);
            // Steer next headers and lengths towards the extension headers.
            for i in (0..len).step_by(8) {
                if rng.chance(0.7) {
                    buf[i] = kinds[rng.index(kinds.len())];
                    if i + 1 < len {
                        buf[i + 1] &= 0x03;
                    }
                }
            }
            let first = kinds[rng.index(kinds.len())];
            match walk(first, &buf[..len]) {
                Ok(w) => {
                    assert!(w.offset <= len);
                    assert!(w.pointer < IPV6_HEADER_LEN + len || w.pointer == 6);
                }
                Err(e) => {
                    let _ = (e.param_problem(false), e.to_string());
                }
            }
        }
    }
}
