//! ICMP for IPv4 (RFC 792).
//!
//! ```text
//! +--------+--------+-----------------+
//! |  type  |  code  |    checksum     |
//! +--------+--------+-----------------+
//! |   rest of header (echo: id, seq)  |
//! +-----------------------------------+
//! |   data ...                        |
//! ```
//! Without ICMP, `ping` gets no answer: the first symptom of a hand-made
//! stack.

use super::checksum;
use super::{Error, Result};
use core::fmt;

mod field {
    use core::ops::{Range, RangeFrom};
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    pub const UNUSED: Range<usize> = 4..8;
    pub const DATA: RangeFrom<usize> = 8..;
}

/// Length of the ICMP header (type, code, checksum and the 4-byte rest).
pub const HEADER_LEN: usize = field::DATA.start;

/// ICMP message types we name.
pub mod msg_type {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const DST_UNREACHABLE: u8 = 3;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
}

/// Destination-unreachable codes (RFC 792, RFC 1122 §3.2.2.1).
pub mod unreachable {
    /// Net unreachable.
    pub const NET: u8 = 0;
    /// Host unreachable.
    pub const HOST: u8 = 1;
    /// Protocol unreachable.
    pub const PROTOCOL: u8 = 2;
    /// Port unreachable.
    pub const PORT: u8 = 3;
    /// Fragmentation needed and DF set.
    pub const FRAG_NEEDED: u8 = 4;
    /// Communication administratively prohibited.
    pub const ADMIN_PROHIBITED: u8 = 13;
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// A view of an ICMPv4 message.
#[derive(Debug, Clone)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The buffer holds the 8-byte header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
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
    /// Everything after the 8-byte header.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA]
    }
    /// The checksum over the whole message verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(self.buffer.as_ref())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    /// Sets type and code.
    pub fn set_type_code(&mut self, t: u8, c: u8) {
        let b = self.buffer.as_mut();
        b[field::TYPE] = t;
        b[field::CODE] = c;
    }
    /// Sets the four "rest of header" bytes.
    pub fn set_rest(&mut self, rest: [u8; 4]) {
        self.buffer.as_mut()[field::UNUSED].copy_from_slice(&rest);
    }
    /// The data, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA]
    }
    /// Computes and writes the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        let b = self.buffer.as_mut();
        b[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(b);
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
}

/// A decoded ICMPv4 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    /// Echo request (`ping`).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data to return byte for byte.
        data: &'a [u8],
    },
    /// Echo reply.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// The request's data.
        data: &'a [u8],
    },
    /// Destination unreachable, carrying the head of the offending datagram
    /// (its IP header and at least 8 bytes of its payload).
    DstUnreachable {
        /// Why (see [`unreachable`]).
        code: u8,
        /// Next-hop MTU, for `FRAG_NEEDED` (RFC 1191).
        next_hop_mtu: u16,
        /// The offending datagram's head.
        original: &'a [u8],
    },
    /// Time exceeded, with the head of the offending datagram.
    TimeExceeded {
        /// 0: TTL, 1: reassembly.
        code: u8,
        /// The offending datagram's head.
        original: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Verifies the checksum and decodes the messages we handle.
    pub fn parse(p: &Icmpv4Packet<&'a [u8]>) -> Result<Icmpv4Repr<'a>> {
        p.check_len()?;
        if !p.verify_checksum() {
            return Err(Error::Checksum);
        }
        let data: &'a [u8] = &p.buffer[field::DATA];
        match (p.msg_type(), p.msg_code()) {
            (msg_type::ECHO_REQUEST, 0) => Ok(Icmpv4Repr::EchoRequest {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            }),
            (msg_type::ECHO_REPLY, 0) => Ok(Icmpv4Repr::EchoReply {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            }),
            (msg_type::DST_UNREACHABLE, code) => Ok(Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: p.echo_seq_no(),
                original: data,
            }),
            (msg_type::TIME_EXCEEDED, code) => Ok(Icmpv4Repr::TimeExceeded {
                code,
                original: data,
            }),
            _ => Err(Error::Unsupported),
        }
    }

    /// Length of the message `emit` writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + match self {
                Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => {
                    data.len()
                }
                Icmpv4Repr::DstUnreachable { original, .. }
                | Icmpv4Repr::TimeExceeded { original, .. } => original.len(),
            }
    }

    /// Writes the message and its checksum; the buffer must be exactly
    /// [`buffer_len`](Self::buffer_len) long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Icmpv4Packet<T>) {
        let (t, c, rest, data): (u8, u8, [u8; 4], &[u8]) = match *self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => (msg_type::ECHO_REQUEST, 0, echo_rest(ident, seq_no), data),
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => (msg_type::ECHO_REPLY, 0, echo_rest(ident, seq_no), data),
            Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu,
                original,
            } => {
                let m = next_hop_mtu.to_be_bytes();
                (
                    msg_type::DST_UNREACHABLE,
                    code,
                    [0, 0, m[0], m[1]],
                    original,
                )
            }
            Icmpv4Repr::TimeExceeded { code, original } => {
                (msg_type::TIME_EXCEEDED, code, [0; 4], original)
            }
        };
        p.set_type_code(t, c);
        p.set_rest(rest);
        p.data_mut()[..data.len()].copy_from_slice(data);
        p.fill_checksum();
    }
}

fn echo_rest(ident: u16, seq_no: u16) -> [u8; 4] {
    let i = ident.to_be_bytes();
    let s = seq_no.to_be_bytes();
    [i[0], i[1], s[0], s[1]]
}

impl fmt::Display for Icmpv4Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMP echo request, id {ident}, seq {seq_no}, length {}",
                data.len() + HEADER_LEN
            ),
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMP echo reply, id {ident}, seq {seq_no}, length {}",
                data.len() + HEADER_LEN
            ),
            Icmpv4Repr::DstUnreachable { code, .. } => {
                write!(f, "ICMP destination unreachable, code {code}")
            }
            Icmpv4Repr::TimeExceeded { code, .. } => write!(f, "ICMP time exceeded, code {code}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Echo request id 0x0b0c, seq 1, data "ping".
    const ECHO: [u8; 12] = [
        0x08, 0x00, 0x8e, 0xa3, 0x0b, 0x0c, 0x00, 0x01, b'p', b'i', b'n', b'g',
    ];

    fn echo_golden() -> [u8; 12] {
        let mut e = ECHO;
        e[2] = 0;
        e[3] = 0;
        let c = checksum::checksum(&e);
        e[2..4].copy_from_slice(&c.to_be_bytes());
        e
    }

    #[test]
    fn parse_golden_echo() {
        let bytes = echo_golden();
        let p = Icmpv4Packet::new_checked(&bytes[..]).unwrap();
        let r = Icmpv4Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Icmpv4Repr::EchoRequest {
                ident: 0x0b0c,
                seq_no: 1,
                data: b"ping"
            }
        );
        assert_eq!(
            r.to_string(),
            "ICMP echo request, id 2828, seq 1, length 12"
        );
    }

    #[test]
    fn emit_round_trip_reply() {
        let r = Icmpv4Repr::EchoReply {
            ident: 7,
            seq_no: 9,
            data: b"abcde",
        };
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]));
        assert_eq!(&buf[..2], &[0, 0]);
        let p = Icmpv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p).unwrap(), r);
    }

    #[test]
    fn emit_golden_request() {
        let r = Icmpv4Repr::EchoRequest {
            ident: 0x0b0c,
            seq_no: 1,
            data: b"ping",
        };
        let mut buf = [0u8; 12];
        r.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, echo_golden());
    }

    #[test]
    fn unreachable_round_trip() {
        let original = [0x45u8; 28];
        let r = Icmpv4Repr::DstUnreachable {
            code: unreachable::PORT,
            next_hop_mtu: 0,
            original: &original,
        };
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]));
        let p = Icmpv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p).unwrap(), r);
    }

    #[test]
    fn bad_checksum_truncated_and_unsupported() {
        let mut bad = echo_golden();
        bad[9] ^= 1;
        let p = Icmpv4Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p).unwrap_err(), Error::Checksum);
        assert_eq!(
            Icmpv4Packet::new_checked(&ECHO[..7]).unwrap_err(),
            Error::Truncated
        );
        let mut ts = [13u8, 0, 0, 0, 0, 0, 0, 0];
        let c = checksum::checksum(&ts);
        ts[2..4].copy_from_slice(&c.to_be_bytes());
        let p = Icmpv4Packet::new_checked(&ts[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p).unwrap_err(), Error::Unsupported);
    }
}
