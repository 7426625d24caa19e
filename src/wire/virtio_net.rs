//! The virtio-net header (`struct virtio_net_hdr`, virtio 1.x §5.1.6, Linux
//! `include/uapi/linux/virtio_net.h`) that a TAP opened with `IFF_VNET_HDR`
//! puts in front of every frame: the offload metadata of the frame.
//!
//! ```text
//! +--------+--------+-----------------+
//! | flags  |gso_type|     hdr_len     |
//! +--------+--------+-----------------+
//! |    gso_size     |   csum_start    |
//! +-----------------+-----------------+
//! |   csum_offset   |
//! +-----------------+
//! ```
//! The 16-bit fields are little-endian (the TAP's default on a
//! little-endian host; the stack refuses offloads on other hosts).

use super::{Error, Result};

mod field {
    use core::ops::Range;
    pub const FLAGS: usize = 0;
    pub const GSO_TYPE: usize = 1;
    pub const HDR_LEN: Range<usize> = 2..4;
    pub const GSO_SIZE: Range<usize> = 4..6;
    pub const CSUM_START: Range<usize> = 6..8;
    pub const CSUM_OFFSET: Range<usize> = 8..10;
}

/// Length of the header (the legacy layout, without `num_buffers`).
pub const HEADER_LEN: usize = field::CSUM_OFFSET.end;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at `csum_start +
/// csum_offset` holds only the pseudo-header sum; the rest is still to add.
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the sender already verified the checksum.
pub const F_DATA_VALID: u8 = 2;

/// `VIRTIO_NET_HDR_GSO_NONE`.
pub const GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`: a TCP/IPv4 segment to cut at `gso_size`.
pub const GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_TCPV6`: a TCP/IPv6 segment to cut at `gso_size`.
pub const GSO_TCPV6: u8 = 4;

/// A view over a virtio-net header at the start of a buffer.
#[derive(Debug, Clone, Copy)]
pub struct VnetHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VnetHeader<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> VnetHeader<T> {
        VnetHeader { buffer }
    }

    /// Wraps `buffer`, which must hold at least [`HEADER_LEN`] bytes.
    pub fn new_checked(buffer: T) -> Result<VnetHeader<T>> {
        let h = VnetHeader::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// `Err(Truncated)` when the buffer is shorter than the header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_le_bytes([b[r.start], b[r.start + 1]])
    }

    /// `flags` (`F_NEEDS_CSUM`, `F_DATA_VALID`).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// `gso_type` (`GSO_NONE`, `GSO_TCPV4`, ...; bit 7 is ECN).
    pub fn gso_type(&self) -> u8 {
        self.buffer.as_ref()[field::GSO_TYPE]
    }

    /// `hdr_len`: link, network and transport headers together.
    pub fn hdr_len(&self) -> u16 {
        self.u16_at(field::HDR_LEN)
    }

    /// `gso_size`: the payload of each segment the frame is cut into.
    pub fn gso_size(&self) -> u16 {
        self.u16_at(field::GSO_SIZE)
    }

    /// `csum_start`: where checksumming starts, from the frame's start.
    pub fn csum_start(&self) -> u16 {
        self.u16_at(field::CSUM_START)
    }

    /// `csum_offset`: where the checksum goes, from `csum_start`.
    pub fn csum_offset(&self) -> u16 {
        self.u16_at(field::CSUM_OFFSET)
    }

    /// The frame's checksum is vouched for by the kernel: verified
    /// (`DATA_VALID`), or left partial by a local sender (`NEEDS_CSUM`).
    pub fn csum_trusted(&self) -> bool {
        self.flags() & (F_NEEDS_CSUM | F_DATA_VALID) != 0
    }
}

/// A decoded virtio-net header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VnetRepr {
    /// `flags`.
    pub flags: u8,
    /// `gso_type`.
    pub gso_type: u8,
    /// `hdr_len`.
    pub hdr_len: u16,
    /// `gso_size`.
    pub gso_size: u16,
    /// `csum_start`.
    pub csum_start: u16,
    /// `csum_offset`.
    pub csum_offset: u16,
}

impl VnetRepr {
    /// Decodes a header.
    pub fn parse<T: AsRef<[u8]>>(h: &VnetHeader<T>) -> Result<VnetRepr> {
        h.check_len()?;
        Ok(VnetRepr {
            flags: h.flags(),
            gso_type: h.gso_type(),
            hdr_len: h.hdr_len(),
            gso_size: h.gso_size(),
            csum_start: h.csum_start(),
            csum_offset: h.csum_offset(),
        })
    }

    /// Writes the header into the first [`HEADER_LEN`] bytes of `buf`,
    /// which must hold them.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::FLAGS] = self.flags;
        buf[field::GSO_TYPE] = self.gso_type;
        buf[field::HDR_LEN].copy_from_slice(&self.hdr_len.to_le_bytes());
        buf[field::GSO_SIZE].copy_from_slice(&self.gso_size.to_le_bytes());
        buf[field::CSUM_START].copy_from_slice(&self.csum_start.to_le_bytes());
        buf[field::CSUM_OFFSET].copy_from_slice(&self.csum_offset.to_le_bytes());
    }
}

/// Does what the device would for a `NEEDS_CSUM` frame (the frame after
/// its virtio-net header): sums from `csum_start` to the end, the field at
/// `csum_start + csum_offset` holding the pseudo-header sum, and stores the
/// complement there. Returns false, changing nothing, when the offsets lie
/// outside the frame.
pub fn complete_checksum(frame: &mut [u8], csum_start: u16, csum_offset: u16) -> bool {
    let start = usize::from(csum_start);
    let at = start + usize::from(csum_offset);
    if at + 2 > frame.len() {
        return false;
    }
    let value = super::checksum::checksum(&frame[start..]);
    frame[at..at + 2].copy_from_slice(&value.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    // A TSO segment as we hand it to the kernel: NEEDS_CSUM, TCPV4,
    // hdr_len 66 (14 + 20 + 32), gso_size 1448, csum at 34 + 16.
    const TSO: [u8; 10] = [0x01, 0x01, 0x42, 0x00, 0xa8, 0x05, 0x22, 0x00, 0x10, 0x00];

    #[test]
    fn parses_golden_bytes() {
        let h = VnetHeader::new_checked(&TSO[..]).unwrap();
        assert_eq!(h.flags(), F_NEEDS_CSUM);
        assert_eq!(h.gso_type(), GSO_TCPV4);
        assert_eq!(h.hdr_len(), 66);
        assert_eq!(h.gso_size(), 1448);
        assert_eq!(h.csum_start(), 34);
        assert_eq!(h.csum_offset(), 16);
        assert!(h.csum_trusted());
    }

    #[test]
    fn emits_golden_bytes_and_round_trips() {
        let repr = VnetRepr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let mut buf = [0xffu8; 12];
        repr.emit(&mut buf);
        assert_eq!(buf[..10], TSO);
        assert_eq!(buf[10..], [0xff, 0xff]);
        let parsed = VnetRepr::parse(&VnetHeader::new_unchecked(&buf[..])).unwrap();
        assert_eq!(parsed, repr);
    }

    #[test]
    fn completes_a_partial_checksum() {
        use crate::wire::SeqNum;
        use crate::wire::tcp::{TcpFlags, TcpOptions, TcpPacket, TcpRepr};
        use std::net::Ipv4Addr;
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let repr = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(7),
            ack: SeqNum(9),
            flags: TcpFlags::ACK | TcpFlags::PSH,
            window: 512,
            urgent: 0,
            options: TcpOptions::default(),
            payload: b"some data",
        };
        let mut full = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut full[..]), src, dst);
        let mut partial = vec![0u8; repr.buffer_len()];
        repr.emit_partial(&mut TcpPacket::new_unchecked(&mut partial[..]), src, dst);
        // The segment after 4 bytes of something else: csum_start 4.
        let mut frame = [vec![9u8; 4], partial].concat();
        assert!(complete_checksum(&mut frame, 4, 16));
        assert_eq!(frame[4..], full[..]);
        assert!(!complete_checksum(&mut frame, 4, 10_000));
    }

    #[test]
    fn plain_and_valid_flags() {
        let zero = [0u8; 10];
        let h = VnetHeader::new_checked(&zero[..]).unwrap();
        assert!(!h.csum_trusted());
        assert_eq!(h.gso_type(), GSO_NONE);
        let valid = [F_DATA_VALID, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(VnetHeader::new_checked(&valid[..]).unwrap().csum_trusted());
    }

    #[test]
    fn truncated_is_an_error() {
        for n in 0..HEADER_LEN {
            let b = vec![0u8; n];
            assert_eq!(
                VnetHeader::new_checked(&b[..]).unwrap_err(),
                Error::Truncated
            );
        }
    }
}
