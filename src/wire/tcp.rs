//! TCP segments (RFC 9293 §3.1) with options (RFC 9293 §3.2, RFC 7323,
//! RFC 2018).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source Port          |       Destination Port        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Acknowledgment Number                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Data |       |C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//! |       |       |R|E|G|K|H|T|N|N|                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Checksum            |         Urgent Pointer        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           [Options]                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                             Data ...
//! ```

use super::checksum::{self, PROTO_TCP};
use super::{Error, Result, SeqNum};
use core::fmt;
use core::ops::BitOr;
use std::net::IpAddr;

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ_NUM: Range<usize> = 4..8;
    pub const ACK_NUM: Range<usize> = 8..12;
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
    pub const OPTIONS_START: usize = 20;
}

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = field::OPTIONS_START;

/// Longest header the data offset can express (15 words).
pub const MAX_HEADER_LEN: usize = 60;

/// Room the timestamps option (RFC 7323 §3.2) takes on a segment: its 10
/// bytes after two NOPs (RFC 7323 Appendix A), or after SACK-permitted on
/// a SYN.
pub const TIMESTAMPS_ALIGNED_LEN: usize = 12;

/// Option kinds (IANA "TCP Option Kind Numbers").
pub mod kind {
    /// End of option list (RFC 9293 §3.2).
    pub const EOL: u8 = 0;
    /// No-operation, used for padding (RFC 9293 §3.2).
    pub const NOP: u8 = 1;
    /// Maximum segment size (RFC 9293 §3.7.1).
    pub const MSS: u8 = 2;
    /// Window scale (RFC 7323 §2).
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted (RFC 2018 §2).
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK blocks (RFC 2018 §3).
    pub const SACK: u8 = 5;
    /// Timestamps (RFC 7323 §3).
    pub const TIMESTAMPS: u8 = 8;
}

/// The control bits of a segment.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN-Echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion window reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x80);
    /// No flag at all.
    pub const NONE: TcpFlags = TcpFlags(0);

    /// Every bit of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` with the bits of `other` cleared.
    pub const fn without(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & !other.0)
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl fmt::Display for TcpFlags {
    /// tcpdump's notation: `S`, `F`, `R`, `P`, `U`, `E`, `W`, and `.` for ACK.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (flag, c) in [
            (TcpFlags::SYN, "S"),
            (TcpFlags::FIN, "F"),
            (TcpFlags::RST, "R"),
            (TcpFlags::PSH, "P"),
            (TcpFlags::URG, "U"),
            (TcpFlags::ECE, "E"),
            (TcpFlags::CWR, "W"),
            (TcpFlags::ACK, "."),
        ] {
            if self.contains(flag) {
                f.write_str(c)?;
            }
        }
        if self.0 == 0 {
            f.write_str("none")?;
        }
        f.write_str("]")
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A read/write view of a TCP segment.
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The buffer holds a fixed header, and the data offset is at least 5
    /// words and fits in the buffer. After this, no accessor panics.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hl = self.header_len();
        if hl < HEADER_LEN {
            Err(Error::Malformed)
        } else if hl > len {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::SRC_PORT])
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::DST_PORT])
    }

    /// Sequence number.
    pub fn seq_number(&self) -> SeqNum {
        SeqNum(be32(&self.buffer.as_ref()[field::SEQ_NUM]))
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> SeqNum {
        SeqNum(be32(&self.buffer.as_ref()[field::ACK_NUM]))
    }

    /// Header length in bytes (data offset × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFFSET] >> 4) * 4
    }

    /// Control bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }

    /// Window field, not scaled.
    pub fn window_len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::WINDOW])
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// Urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::URGENT])
    }

    /// The option bytes (between the fixed header and the data).
    pub fn options(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = self.header_len().clamp(HEADER_LEN, b.len());
        &b[field::OPTIONS_START..end]
    }

    /// The data.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let start = self.header_len().clamp(HEADER_LEN, b.len());
        &b[start..]
    }

    /// The checksum verifies with the pseudo-header of the addresses'
    /// family: IPv4's (RFC 9293 §3.1) or IPv6's (RFC 8200 §8.1).
    pub fn verify_checksum(&self, src: impl Into<IpAddr>, dst: impl Into<IpAddr>) -> bool {
        let b = self.buffer.as_ref();
        let ph = checksum::pseudo_header_ip(src.into(), dst.into(), PROTO_TCP, b.len() as u32);
        checksum::combine(&[ph, checksum::sum(b)]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, v: SeqNum) {
        self.buffer.as_mut()[field::SEQ_NUM].copy_from_slice(&v.0.to_be_bytes());
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, v: SeqNum) {
        self.buffer.as_mut()[field::ACK_NUM].copy_from_slice(&v.0.to_be_bytes());
    }

    /// Sets the header length in bytes (rounded down to words; reserved bits
    /// cleared).
    pub fn set_header_len(&mut self, len: usize) {
        self.buffer.as_mut()[field::DATA_OFFSET] = (((len / 4) as u8) & 0x0f) << 4;
    }

    /// Sets the control bits.
    pub fn set_flags(&mut self, f: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = f.0;
    }

    /// Sets the window field.
    pub fn set_window_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::WINDOW].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, v: u16) {
        self.buffer.as_mut()[field::URGENT].copy_from_slice(&v.to_be_bytes());
    }

    /// The option bytes, mutable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        let b = self.buffer.as_mut();
        let end = hl.clamp(HEADER_LEN, b.len());
        &mut b[field::OPTIONS_START..end]
    }

    /// The data, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        let b = self.buffer.as_mut();
        let start = hl.clamp(HEADER_LEN, b.len());
        &mut b[start..]
    }

    /// Computes and writes the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, src: impl Into<IpAddr>, dst: impl Into<IpAddr>) {
        self.set_checksum(0);
        let b = self.buffer.as_ref();
        let ph = checksum::pseudo_header_ip(src.into(), dst.into(), PROTO_TCP, b.len() as u32);
        let c = !checksum::combine(&[ph, checksum::sum(b)]);
        self.set_checksum(c);
    }
}

/// The options we understand, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size (SYN only, RFC 9293 §3.7.1).
    pub mss: Option<u16>,
    /// Window scale shift (SYN only, RFC 7323 §2.2).
    pub window_scale: Option<u8>,
    /// SACK permitted (SYN only, RFC 2018 §2).
    pub sack_permitted: bool,
    /// SACK blocks `[left, right)` (RFC 2018 §3), most recent first.
    pub sack_blocks: [Option<(SeqNum, SeqNum)>; 4],
    /// Timestamps `(TSval, TSecr)` (RFC 7323 §3).
    pub timestamps: Option<(u32, u32)>,
}

impl TcpOptions {
    /// Decodes an option list. EOL ends it, NOP is skipped, unknown kinds
    /// are skipped by their length; a length below 2 or past the end, or a
    /// known option of the wrong length, is `Malformed`.
    pub fn parse(mut data: &[u8]) -> Result<TcpOptions> {
        let mut o = TcpOptions::default();
        while let Some(&k) = data.first() {
            match k {
                kind::EOL => break,
                kind::NOP => {
                    data = &data[1..];
                    continue;
                }
                _ => {}
            }
            let len = usize::from(*data.get(1).ok_or(Error::Malformed)?);
            if len < 2 || len > data.len() {
                return Err(Error::Malformed);
            }
            let body = &data[2..len];
            match (k, len) {
                (kind::MSS, 4) => o.mss = Some(be16(body)),
                (kind::WINDOW_SCALE, 3) => o.window_scale = Some(body[0]),
                (kind::SACK_PERMITTED, 2) => o.sack_permitted = true,
                (kind::SACK, _) if (len - 2) % 8 == 0 && len > 2 => {
                    for (slot, b) in o.sack_blocks.iter_mut().zip(body.chunks_exact(8)) {
                        *slot = Some((SeqNum(be32(&b[..4])), SeqNum(be32(&b[4..]))));
                    }
                }
                (kind::TIMESTAMPS, 10) => o.timestamps = Some((be32(&body[..4]), be32(&body[4..]))),
                (kind::MSS | kind::WINDOW_SCALE | kind::SACK_PERMITTED | kind::SACK, _)
                | (kind::TIMESTAMPS, _) => return Err(Error::Malformed),
                _ => {}
            }
            data = &data[len..];
        }
        Ok(o)
    }

    /// Length of the encoded options, laid out as [`emit`](Self::emit)
    /// does: each group fills whole 32-bit words.
    fn raw_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        n += match (self.sack_permitted, self.timestamps.is_some()) {
            (_, true) => TIMESTAMPS_ALIGNED_LEN, // sackOK + TS, or NOP NOP TS
            (true, false) => 4,                  // NOP NOP sackOK
            (false, false) => 0,
        };
        if self.window_scale.is_some() {
            n += 4; // NOP + 3
        }
        let blocks = self.sack_block_count();
        if blocks > 0 {
            n += 4 + 8 * blocks; // NOP NOP + 2 + 8 per block
        }
        n
    }

    fn sack_block_count(&self) -> usize {
        // 40 option bytes at most: with timestamps (12 with padding) there is
        // room for 3 blocks, otherwise 4 (RFC 2018 §3).
        let max = if self.timestamps.is_some() { 3 } else { 4 };
        self.sack_blocks
            .iter()
            .take(max)
            .filter(|b| b.is_some())
            .count()
    }

    /// Encoded length, padded to a multiple of 4.
    pub fn len(&self) -> usize {
        self.raw_len().div_ceil(4) * 4
    }

    /// No option at all.
    pub fn is_empty(&self) -> bool {
        self.raw_len() == 0
    }

    /// Writes the options into `buf` (at least [`len`](Self::len) bytes);
    /// returns their length, a multiple of 4.
    ///
    /// The layout is Linux's (`tcp_options_write`), which is RFC 7323
    /// Appendix A's for timestamps: every option or pair starts on a
    /// 32-bit boundary, with the NOPs in front, so that a receiver (or a
    /// middlebox, or a tool matching Linux byte for byte) finds TSval at
    /// a fixed, aligned offset:
    ///
    /// ```text
    /// SYN:      mss, sackOK, TS, nop, wscale   (without sackOK: nop, nop, TS;
    ///                                           without TS: nop, nop, sackOK)
    /// others:   nop, nop, TS, nop, nop, sack …
    /// ```
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let mut i = 0;
        let mut put = |bytes: &[u8]| {
            buf[i..i + bytes.len()].copy_from_slice(bytes);
            i += bytes.len();
        };
        if let Some(mss) = self.mss {
            let m = mss.to_be_bytes();
            put(&[kind::MSS, 4, m[0], m[1]]);
        }
        match (self.sack_permitted, self.timestamps) {
            (sack_ok, Some((val, ecr))) => {
                if sack_ok {
                    put(&[kind::SACK_PERMITTED, 2]);
                } else {
                    put(&[kind::NOP, kind::NOP]);
                }
                put(&[kind::TIMESTAMPS, 10]);
                put(&val.to_be_bytes());
                put(&ecr.to_be_bytes());
            }
            (true, None) => put(&[kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2]),
            (false, None) => {}
        }
        if let Some(ws) = self.window_scale {
            put(&[kind::NOP, kind::WINDOW_SCALE, 3, ws]);
        }
        let blocks = self.sack_block_count();
        if blocks > 0 {
            put(&[kind::NOP, kind::NOP, kind::SACK, (2 + 8 * blocks) as u8]);
            for (l, r) in self.sack_blocks.iter().flatten().take(blocks) {
                put(&l.0.to_be_bytes());
                put(&r.0.to_be_bytes());
            }
        }
        let raw = self.raw_len();
        let padded = raw.div_ceil(4) * 4;
        for _ in raw..padded {
            put(&[kind::NOP]);
        }
        padded
    }
}

/// A decoded TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// SEG.SEQ.
    pub seq: SeqNum,
    /// SEG.ACK (meaningful with the ACK flag).
    pub ack: SeqNum,
    /// Control bits.
    pub flags: TcpFlags,
    /// SEG.WND as carried (not scaled).
    pub window: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Options.
    pub options: TcpOptions,
    /// Data.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Decodes and validates a segment: the checksum must verify
    /// (`Error::Checksum` otherwise) and the options must be well formed.
    pub fn parse(
        packet: &TcpPacket<&'a [u8]>,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) -> Result<TcpRepr<'a>> {
        Self::parse_with(packet, src, dst, true)
    }

    /// Like [`parse`](Self::parse), but the checksum is verified only when
    /// `verify`: false where the link vouched for it (a virtio-net header's
    /// `DATA_VALID`, or `NEEDS_CSUM` from the local kernel, whose checksum
    /// field holds a partial sum).
    pub fn parse_with(
        packet: &TcpPacket<&'a [u8]>,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        verify: bool,
    ) -> Result<TcpRepr<'a>> {
        packet.check_len()?;
        if verify && !packet.verify_checksum(src, dst) {
            return Err(Error::Checksum);
        }
        let buf: &'a [u8] = packet.buffer;
        let hl = packet.header_len();
        let options = TcpOptions::parse(&buf[HEADER_LEN..hl])?;
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq_number(),
            ack: packet.ack_number(),
            flags: packet.flags(),
            window: packet.window_len(),
            urgent: packet.urgent_at(),
            options,
            payload: &buf[hl..],
        })
    }

    /// Header length: 20 plus the options padded to 4 bytes.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// SEG.LEN (RFC 9293 §3.4): data octets plus one for SYN and one for FIN.
    pub fn segment_len(&self) -> u32 {
        (self.payload.len() as u32)
            .wrapping_add(u32::from(self.flags.contains(TcpFlags::SYN)))
            .wrapping_add(u32::from(self.flags.contains(TcpFlags::FIN)))
    }

    /// Writes header, options, payload and checksum. The packet's buffer must
    /// be exactly [`buffer_len`](Self::buffer_len) bytes (the checksum covers
    /// the whole buffer).
    pub fn emit(
        &self,
        packet: &mut TcpPacket<&mut [u8]>,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) {
        self.emit_fields(packet);
        packet.set_checksum(0);
        packet.fill_checksum(src, dst);
    }

    /// Like [`emit`](Self::emit), but the checksum field gets only the
    /// pseudo-header sum, not complemented (Linux's `CHECKSUM_PARTIAL`):
    /// the device completes it (a virtio-net header's `NEEDS_CSUM`).
    pub fn emit_partial(
        &self,
        packet: &mut TcpPacket<&mut [u8]>,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) {
        self.emit_fields(packet);
        let len = self.buffer_len() as u32;
        let ph = checksum::pseudo_header_ip(src.into(), dst.into(), PROTO_TCP, len);
        packet.set_checksum(ph);
    }

    /// Everything but the checksum.
    fn emit_fields(&self, packet: &mut TcpPacket<&mut [u8]>) {
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq);
        packet.set_ack_number(self.ack);
        packet.set_header_len(self.header_len());
        packet.set_flags(self.flags);
        packet.set_window_len(self.window);
        packet.set_urgent_at(self.urgent);
        self.options.emit(packet.options_mut());
        packet.payload_mut()[..self.payload.len()].copy_from_slice(self.payload);
    }
}

impl fmt::Display for TcpRepr<'_> {
    /// Like tcpdump: `1234 > 80: Flags [S.], seq 1:11, ack 5, win 512,
    /// options [mss 1460,wscale 7], length 10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {}: Flags {}, seq {}",
            self.src_port, self.dst_port, self.flags, self.seq
        )?;
        if !self.payload.is_empty() {
            write!(f, ":{}", self.seq + self.payload.len())?;
        }
        if self.flags.contains(TcpFlags::ACK) {
            write!(f, ", ack {}", self.ack)?;
        }
        write!(f, ", win {}", self.window)?;
        let o = &self.options;
        if !o.is_empty() {
            f.write_str(", options [")?;
            let mut sep = "";
            if let Some(m) = o.mss {
                write!(f, "{sep}mss {m}")?;
                sep = ",";
            }
            if o.sack_permitted {
                write!(f, "{sep}sackOK")?;
                sep = ",";
            }
            if let Some((v, e)) = o.timestamps {
                write!(f, "{sep}TS val {v} ecr {e}")?;
                sep = ",";
            }
            if let Some(w) = o.window_scale {
                write!(f, "{sep}wscale {w}")?;
                sep = ",";
            }
            if o.sack_blocks.iter().any(|b| b.is_some()) {
                write!(f, "{sep}sack")?;
                for (l, r) in o.sack_blocks.iter().flatten() {
                    write!(f, " {{{l}:{r}}}")?;
                }
            }
            f.write_str("]")?;
        }
        write!(f, ", length {}", self.payload.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);

    // A SYN-ACK with MSS 1460, SACK-permitted, timestamps and wscale 7,
    // and 4 bytes of payload; checksum computed for SRC > DST.
    const SYN_ACK: [u8; 44] = [
        0x30, 0x39, 0x00, 0x50, // ports 12345 > 80
        0x01, 0x02, 0x03, 0x04, // seq
        0x0a, 0x0b, 0x0c, 0x0d, // ack
        0xa0, 0x12, 0xfa, 0xf0, // offset 10 words, [S.], win 64240
        0x00, 0x00, 0x00, 0x00, // checksum (filled by the test), urgent
        0x02, 0x04, 0x05, 0xb4, // mss 1460
        0x04, 0x02, // sackOK
        0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, // TS 1, 2
        0x01, 0x03, 0x03, 0x07, // nop, wscale 7
        0xaa, 0xbb, 0xcc, 0xdd, // payload
    ];

    fn golden() -> [u8; 44] {
        let mut b = SYN_ACK;
        TcpPacket::new_unchecked(&mut b[..]).fill_checksum(SRC, DST);
        b
    }

    fn golden_repr() -> TcpRepr<'static> {
        TcpRepr {
            src_port: 12345,
            dst_port: 80,
            seq: SeqNum(0x01020304),
            ack: SeqNum(0x0a0b0c0d),
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window: 64240,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                sack_blocks: [None; 4],
                timestamps: Some((1, 2)),
            },
            payload: &[0xaa, 0xbb, 0xcc, 0xdd],
        }
    }

    #[test]
    fn checksum_is_known_value() {
        // Independently: sum of pseudo-header and segment must verify.
        let b = golden();
        assert!(
            TcpPacket::new_checked(&b[..])
                .unwrap()
                .verify_checksum(SRC, DST)
        );
        assert!(
            !TcpPacket::new_checked(&b[..])
                .unwrap()
                .verify_checksum(DST, Ipv4Addr::LOCALHOST)
        );
    }

    #[test]
    fn parse_golden() {
        let b = golden();
        let p = TcpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.src_port(), 12345);
        assert_eq!(p.dst_port(), 80);
        assert_eq!(p.header_len(), 40);
        assert_eq!(p.options().len(), 20);
        assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        let r = TcpRepr::parse(&p, SRC, DST).unwrap();
        assert_eq!(r, golden_repr());
        assert_eq!(r.segment_len(), 5);
    }

    #[test]
    fn emit_golden_and_round_trip() {
        let r = golden_repr();
        assert_eq!(r.buffer_len(), 44);
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST);
        assert_eq!(buf[..], golden()[..]);
        let back = TcpRepr::parse(&TcpPacket::new_checked(&buf[..]).unwrap(), SRC, DST).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn emit_partial_leaves_the_pseudo_header_sum() {
        let r = golden_repr();
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit_partial(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST);
        // Everything but the checksum matches the golden bytes.
        let g = golden();
        assert_eq!(buf[..16], g[..16]);
        assert_eq!(buf[18..], g[18..]);
        let partial = u16::from_be_bytes([buf[16], buf[17]]);
        assert_eq!(partial, checksum::pseudo_header(SRC, DST, PROTO_TCP, 44));
        // A device completes it as Linux does: the complement of the sum
        // from csum_start on, written at csum_offset.
        let c = !checksum::sum(&buf);
        buf[16..18].copy_from_slice(&c.to_be_bytes());
        assert_eq!(buf[..], g[..]);
        // Unverified parsing takes a partial checksum; verified does not.
        let mut partial_buf = buf.clone();
        partial_buf[16..18].copy_from_slice(&partial.to_be_bytes());
        let p = TcpPacket::new_checked(&partial_buf[..]).unwrap();
        assert_eq!(TcpRepr::parse(&p, SRC, DST), Err(Error::Checksum));
        assert_eq!(TcpRepr::parse_with(&p, SRC, DST, false).unwrap(), r);
    }

    /// The option bytes `o` is emitted as.
    fn option_bytes(o: TcpOptions) -> Vec<u8> {
        let mut buf = vec![0u8; o.len()];
        assert_eq!(o.emit(&mut buf), buf.len());
        assert_eq!(TcpOptions::parse(&buf).unwrap(), o);
        buf
    }

    /// Linux's layout (tcp_options_write; RFC 7323 Appendix A for TS):
    /// NOPs first, each option on a 32-bit boundary. These were emitted
    /// with the NOPs after the option (`TS, nop, nop`), and TS with SACK
    /// as `TS, sack` with no padding at all, leaving every SACK block and
    /// any later option unaligned.
    #[test]
    fn options_are_laid_out_as_linux_does() {
        let ts = Some((0x0102_0304, 0x0506_0708));
        // An ACK with timestamps: nop, nop, TS.
        let o = TcpOptions {
            timestamps: ts,
            ..TcpOptions::default()
        };
        assert_eq!(option_bytes(o), [1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
        // With one SACK block: nop, nop, TS, nop, nop, sack.
        let o = TcpOptions {
            timestamps: ts,
            sack_blocks: [Some((SeqNum(0x10), SeqNum(0x20))), None, None, None],
            ..TcpOptions::default()
        };
        assert_eq!(
            option_bytes(o),
            [
                1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, // nop, nop, TS
                1, 1, 5, 10, 0, 0, 0, 0x10, 0, 0, 0, 0x20, // nop, nop, sack
            ]
        );
        // Without timestamps, four blocks fit: 4 + 32 bytes.
        let b = Some((SeqNum(1), SeqNum(2)));
        let o = TcpOptions {
            sack_blocks: [b; 4],
            ..TcpOptions::default()
        };
        let bytes = option_bytes(o);
        assert_eq!((bytes.len(), &bytes[..4]), (36, &[1, 1, 5, 34][..]));
        // With them, three: 12 + 4 + 24 = 40.
        let o = TcpOptions {
            timestamps: ts,
            sack_blocks: [b; 4],
            ..TcpOptions::default()
        };
        let mut buf = [0u8; 40];
        assert_eq!((o.len(), o.emit(&mut buf)), (40, 40));
        assert_eq!(buf[12..16], [1, 1, 5, 26]);
        // A SYN without timestamps: mss, nop, nop, sackOK, nop, wscale.
        let o = TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            ..TcpOptions::default()
        };
        assert_eq!(option_bytes(o), [2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]);
        // A SYN with timestamps but no SACK: mss, nop, nop, TS, nop, wscale.
        let o = TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            timestamps: ts,
            ..TcpOptions::default()
        };
        assert_eq!(
            option_bytes(o),
            [
                2, 4, 5, 0xb4, 1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 7
            ]
        );
    }

    #[test]
    fn sack_blocks_round_trip() {
        let mut r = TcpRepr {
            payload: &[],
            flags: TcpFlags::ACK,
            ..golden_repr()
        };
        r.options = TcpOptions {
            timestamps: Some((7, 8)),
            sack_blocks: [
                Some((SeqNum(10), SeqNum(20))),
                Some((SeqNum(30), SeqNum(40))),
                None,
                None,
            ],
            ..TcpOptions::default()
        };
        assert_eq!(r.header_len(), 20 + 12 + 20);
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST);
        let back = TcpRepr::parse(&TcpPacket::new_checked(&buf[..]).unwrap(), SRC, DST).unwrap();
        assert_eq!(back, r);
        assert!(back.to_string().contains("sack {10:20} {30:40}"));
    }

    #[test]
    fn truncated_is_an_error() {
        let b = golden();
        assert_eq!(
            TcpPacket::new_checked(&b[..19]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            TcpPacket::new_checked(&b[..39]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn bad_data_offset_is_an_error() {
        let mut b = golden();
        b[12] = 0x40; // 4 words < 5
        assert_eq!(
            TcpPacket::new_checked(&b[..]).unwrap_err(),
            Error::Malformed
        );
        b[12] = 0xf0; // 60 bytes > 44
        assert_eq!(
            TcpPacket::new_checked(&b[..]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn bad_option_length_is_an_error() {
        let mut b = golden();
        b[21] = 1; // MSS length 1
        TcpPacket::new_unchecked(&mut b[..]).fill_checksum(SRC, DST);
        let p = TcpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(TcpRepr::parse(&p, SRC, DST).unwrap_err(), Error::Malformed);
        assert_eq!(TcpOptions::parse(&[2, 40, 0, 0]), Err(Error::Malformed));
        assert_eq!(TcpOptions::parse(&[3, 4, 7, 0]), Err(Error::Malformed));
        assert_eq!(TcpOptions::parse(&[99]), Err(Error::Malformed));
    }

    #[test]
    fn unknown_options_are_skipped_and_eol_ends() {
        let o = TcpOptions::parse(&[1, 30, 4, 0, 0, 2, 4, 1, 0, 0, 2, 4, 9, 9]).unwrap();
        assert_eq!(o.mss, Some(256));
        let o = TcpOptions::parse(&[4, 2, 0, 2, 4, 9, 9]).unwrap();
        assert!(o.sack_permitted);
        assert_eq!(o.mss, None);
    }

    #[test]
    fn bad_checksum_is_an_error() {
        let mut b = golden();
        b[43] ^= 1;
        let p = TcpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(TcpRepr::parse(&p, SRC, DST).unwrap_err(), Error::Checksum);
    }

    #[test]
    fn display_reads_like_tcpdump() {
        assert_eq!(TcpFlags::SYN.to_string(), "[S]");
        assert_eq!((TcpFlags::SYN | TcpFlags::ACK).to_string(), "[S.]");
        assert_eq!((TcpFlags::PSH | TcpFlags::ACK).to_string(), "[P.]");
        assert_eq!((TcpFlags::FIN | TcpFlags::ACK).to_string(), "[F.]");
        assert_eq!(TcpFlags::RST.to_string(), "[R]");
        assert_eq!(TcpFlags::ACK.to_string(), "[.]");
        let s = golden_repr().to_string();
        assert_eq!(
            s,
            "12345 > 80: Flags [S.], seq 16909060:16909064, ack 168496141, win 64240, \
             options [mss 1460,sackOK,TS val 1 ecr 2,wscale 7], length 4"
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = crate::rand::Rng::new(0x9e37_79b9_7f4a_7c15);
        let mut next = || rng.next_u64();
        let mut buf = [0u8; 80];
        for _ in 0..20_000 {
            let len = (next() % 81) as usize;
            for b in buf.iter_mut() {
                *b = next() as u8;
            }
            if len > 12 {
                buf[12] = (buf[12] & 0x0f) | (((next() % 16) as u8) << 4);
            }
            if let Ok(p) = TcpPacket::new_checked(&buf[..len]) {
                let _ = (p.options(), p.payload(), p.flags(), p.urgent_at());
                let _ = TcpRepr::parse(&p, SRC, DST);
                let _ = TcpOptions::parse(p.options());
                let mut fixed = buf;
                TcpPacket::new_unchecked(&mut fixed[..len]).fill_checksum(SRC, DST);
                let p = TcpPacket::new_checked(&fixed[..len]).unwrap();
                if let Ok(r) = TcpRepr::parse(&p, SRC, DST) {
                    let _ = r.to_string();
                }
            }
        }
    }

    /// A SYN the Linux kernel sent from fd00:198:18::1 to fd00:198:18::2
    /// (written to a TAP without a virtio-net header, so with its checksum
    /// complete): it verifies with the IPv6 pseudo-header (RFC 8200 §8.1),
    /// and recomputing the checksum gives the kernel's.
    #[test]
    fn checksum_over_ipv6_matches_a_kernel_segment() {
        use std::net::Ipv6Addr;
        const TCP: &str = "86ae1f908b1e161f00000000a002fd2019270000020405a00402080a\
                           1c20d0c8000000000103030a";
        let bytes: Vec<u8> = (0..TCP.len() / 2)
            .map(|i| u8::from_str_radix(&TCP[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let src: Ipv6Addr = "fd00:198:18::1".parse().unwrap();
        let dst: Ipv6Addr = "fd00:198:18::2".parse().unwrap();
        let p = TcpPacket::new_checked(&bytes[..]).unwrap();
        let r = TcpRepr::parse(&p, src, dst).unwrap();
        assert_eq!(
            (r.src_port, r.dst_port, r.options.mss),
            (34478, 8080, Some(1440))
        );
        assert!(r.flags.contains(TcpFlags::SYN));
        let mut copy = bytes.clone();
        let mut q = TcpPacket::new_unchecked(&mut copy[..]);
        q.fill_checksum(src, dst);
        assert_eq!(q.checksum(), 0x1927);
        assert!(
            !p.verify_checksum(Ipv4Addr::new(253, 0, 1, 152), Ipv4Addr::new(0, 24, 0, 0)),
            "not with an IPv4 pseudo-header"
        );
        let mut bad = bytes.clone();
        bad[4] ^= 1;
        assert_eq!(
            TcpRepr::parse(&TcpPacket::new_checked(&bad[..]).unwrap(), src, dst),
            Err(Error::Checksum)
        );
    }
}
