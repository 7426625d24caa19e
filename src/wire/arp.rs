//! ARP for IPv4 over Ethernet (RFC 826).
//!
//! ```text
//!  0       2       4   5   6       8                14          18                24          28
//! +-------+-------+---+---+-------+----------------+-----------+-----------------+-----------+
//! | htype | ptype |hln|pln| oper  | sender MAC     | sender IP | target MAC      | target IP |
//! +-------+-------+---+---+-------+----------------+-----------+-----------------+-----------+
//! ```
//! Without ARP a host cannot learn the MAC of its neighbours, and after the
//! kernel's entry for us ages out, nothing it sends reaches us: the seed
//! notes' "after a while, send stops working".

use super::ethernet::EthernetAddress;
use super::{Error, Result};
use core::fmt;
use std::net::Ipv4Addr;

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = field::TPA.end;

/// The ARP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// 1: who has target IP?
    Request,
    /// 2: sender IP is at sender MAC.
    Reply,
    /// Anything else (RARP and friends).
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(v: u16) -> Self {
        match v {
            1 => Operation::Request,
            2 => Operation::Reply,
            other => Operation::Unknown(other),
        }
    }
}

impl From<Operation> for u16 {
    fn from(v: Operation) -> u16 {
        match v {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(other) => other,
        }
    }
}

fn ipv4_at(data: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(data[0], data[1], data[2], data[3])
}

fn be16(data: &[u8]) -> u16 {
    u16::from_be_bytes([data[0], data[1]])
}

/// A view of an ARP packet.
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The buffer holds a whole Ethernet/IPv4 ARP packet. (Other hardware
    /// and protocol sizes are rejected by `ArpRepr::parse`, not here.)
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < PACKET_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Hardware type (1 = Ethernet).
    pub fn hardware_type(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::HTYPE])
    }
    /// Protocol type (0x0800 = IPv4).
    pub fn protocol_type(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::PTYPE])
    }
    /// Hardware address length.
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }
    /// Protocol address length.
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }
    /// The operation.
    pub fn operation(&self) -> Operation {
        Operation::from(be16(&self.buffer.as_ref()[field::OPER]))
    }
    /// Sender hardware address.
    pub fn source_hardware_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::SHA])
    }
    /// Sender protocol address.
    pub fn source_protocol_addr(&self) -> Ipv4Addr {
        ipv4_at(&self.buffer.as_ref()[field::SPA])
    }
    /// Target hardware address.
    pub fn target_hardware_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::THA])
    }
    /// Target protocol address.
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        ipv4_at(&self.buffer.as_ref()[field::TPA])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    fn set_be16(&mut self, r: core::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }
    /// Writes every field of an Ethernet/IPv4 ARP packet.
    #[allow(clippy::too_many_arguments)]
    fn set_all(
        &mut self,
        op: Operation,
        sha: EthernetAddress,
        spa: Ipv4Addr,
        tha: EthernetAddress,
        tpa: Ipv4Addr,
    ) {
        self.set_be16(field::HTYPE, 1);
        self.set_be16(field::PTYPE, 0x0800);
        let b = self.buffer.as_mut();
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
        self.set_be16(field::OPER, op.into());
        let b = self.buffer.as_mut();
        b[field::SHA].copy_from_slice(&sha.0);
        b[field::SPA].copy_from_slice(&spa.octets());
        b[field::THA].copy_from_slice(&tha.0);
        b[field::TPA].copy_from_slice(&tpa.octets());
    }
}

/// A decoded Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    /// Request or reply.
    pub operation: Operation,
    /// Who sends it.
    pub source_hardware_addr: EthernetAddress,
    /// The sender's IP.
    pub source_protocol_addr: Ipv4Addr,
    /// Whom it is for (zero in a request).
    pub target_hardware_addr: EthernetAddress,
    /// The IP asked about or answered to.
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// Decodes an Ethernet/IPv4 ARP request or reply; anything else is
    /// `Unsupported`.
    pub fn parse<T: AsRef<[u8]>>(p: &ArpPacket<T>) -> Result<ArpRepr> {
        p.check_len()?;
        if p.hardware_type() != 1
            || p.protocol_type() != 0x0800
            || p.hardware_len() != 6
            || p.protocol_len() != 4
        {
            return Err(Error::Unsupported);
        }
        let operation = match p.operation() {
            op @ (Operation::Request | Operation::Reply) => op,
            Operation::Unknown(_) => return Err(Error::Unsupported),
        };
        Ok(ArpRepr {
            operation,
            source_hardware_addr: p.source_hardware_addr(),
            source_protocol_addr: p.source_protocol_addr(),
            target_hardware_addr: p.target_hardware_addr(),
            target_protocol_addr: p.target_protocol_addr(),
        })
    }

    /// Length of the packet `emit` writes.
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the packet; the buffer must hold [`PACKET_LEN`] bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut ArpPacket<T>) {
        p.set_all(
            self.operation,
            self.source_hardware_addr,
            self.source_protocol_addr,
            self.target_hardware_addr,
            self.target_protocol_addr,
        );
    }
}

impl fmt::Display for ArpRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operation {
            Operation::Request => write!(
                f,
                "ARP, Request who-has {} tell {}",
                self.target_protocol_addr, self.source_protocol_addr
            ),
            Operation::Reply => write!(
                f,
                "ARP, Reply {} is-at {}",
                self.source_protocol_addr, self.source_hardware_addr
            ),
            Operation::Unknown(op) => write!(f, "ARP, op {op}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The kernel asking who has 198.18.0.2 (from tcpdump -xx).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x46, 0xc2, 0x22, 0xe8, 0x1d, 0x0d, 0xc6,
        0x12, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x12, 0x00, 0x02,
    ];

    fn request_repr() -> ArpRepr {
        ArpRepr {
            operation: Operation::Request,
            source_hardware_addr: EthernetAddress([0x46, 0xc2, 0x22, 0xe8, 0x1d, 0x0d]),
            source_protocol_addr: Ipv4Addr::new(198, 18, 0, 1),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: Ipv4Addr::new(198, 18, 0, 2),
        }
    }

    #[test]
    fn parse_golden() {
        let r = ArpRepr::parse(&ArpPacket::new_checked(&REQUEST[..]).unwrap()).unwrap();
        assert_eq!(r, request_repr());
        assert_eq!(
            r.to_string(),
            "ARP, Request who-has 198.18.0.2 tell 198.18.0.1"
        );
    }

    #[test]
    fn emit_golden_and_round_trip() {
        let mut buf = [0u8; PACKET_LEN];
        request_repr().emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
        assert_eq!(buf, REQUEST);
        let back = ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(back, request_repr());
    }

    #[test]
    fn truncated_and_unsupported() {
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]).unwrap_err(),
            Error::Truncated
        );
        let mut other = REQUEST;
        other[3] = 0xdd; // ptype IPv6
        let p = ArpPacket::new_checked(&other[..]).unwrap();
        assert_eq!(ArpRepr::parse(&p).unwrap_err(), Error::Unsupported);
        let mut rarp = REQUEST;
        rarp[7] = 3;
        let p = ArpPacket::new_checked(&rarp[..]).unwrap();
        assert_eq!(ArpRepr::parse(&p).unwrap_err(), Error::Unsupported);
    }
}
