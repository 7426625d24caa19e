//! A minimal pcap writer (stub; the real one replaces it at merge).

use std::io::{self, Write};

/// Ethernet frames.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Raw IPv4/IPv6 packets.
pub const LINKTYPE_RAW: u32 = 101;

/// Writes packets in the classic pcap format, microsecond resolution.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header (snaplen 262144).
    pub fn new(mut w: W, linktype: u32) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&262_144u32.to_le_bytes());
        h.extend_from_slice(&linktype.to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter { w })
    }

    /// Writes one packet record.
    pub fn write_packet(&mut self, micros_since_epoch: u64, data: &[u8]) -> io::Result<()> {
        let len = data.len() as u32;
        let mut h = Vec::with_capacity(16);
        h.extend_from_slice(&((micros_since_epoch / 1_000_000) as u32).to_le_bytes());
        h.extend_from_slice(&((micros_since_epoch % 1_000_000) as u32).to_le_bytes());
        h.extend_from_slice(&len.min(262_144).to_le_bytes());
        h.extend_from_slice(&len.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(&data[..data.len().min(262_144)])
    }
}
