//! pcap capture files (the classic libpcap format, microsecond timestamps),
//! which `tcpdump -r`, `tshark -r` and Wireshark read.
//!
//! ```text
//! global header (24 bytes, little endian as written by this host):
//!   magic a1b2c3d4 | version 2.4 | thiszone 0 | sigfigs 0 | snaplen | linktype
//! per packet (16 bytes + data):
//!   ts_sec | ts_usec | incl_len | orig_len | data[incl_len]
//! ```
//!
//! [`PcapWriter`] is the pure writer; [`PcapDevice`] wraps a device and
//! records every frame in and out, flushing after every batch so the file is
//! complete even when the process is killed.
//!
//! With offloads (frames behind a virtio-net header), the capture shows what
//! `tcpdump` shows on an offloading interface: the header is left out, TCP
//! segments appear as large as they crossed the TAP (up to 64 KiB), and a
//! checksum left for the device to finish (`NEEDS_CSUM`) is finished in the
//! copy written, so that the capture reads as valid.

use super::{Batch, Capabilities, Device, Received};
use crate::sys::private_fd::PrivateFd;
use crate::time::Instant;
use crate::wire::virtio_net::{self, VnetHeader};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::RawFd;
use std::path::Path;

/// Ethernet frames.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Raw IPv4/IPv6 packets, no link header.
pub const LINKTYPE_RAW: u32 = 101;
/// Longest packet kept; longer ones are truncated (`orig_len` keeps the size).
pub const SNAPLEN: u32 = 262_144;

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;

/// Writes a pcap stream to `W`.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header for `linktype` and returns the writer.
    pub fn new(mut w: W, linktype: u32) -> io::Result<Self> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&MAGIC_MICROS.to_ne_bytes());
        h[4..6].copy_from_slice(&2u16.to_ne_bytes());
        h[6..8].copy_from_slice(&4u16.to_ne_bytes());
        // thiszone (8..12) and sigfigs (12..16) stay zero.
        h[16..20].copy_from_slice(&SNAPLEN.to_ne_bytes());
        h[20..24].copy_from_slice(&linktype.to_ne_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter { w })
    }

    /// Appends one packet captured at `micros_since_epoch`.
    pub fn write_packet(&mut self, micros_since_epoch: u64, data: &[u8]) -> io::Result<()> {
        let secs = (micros_since_epoch / 1_000_000).min(u32::MAX as u64) as u32;
        let usecs = (micros_since_epoch % 1_000_000) as u32;
        let orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let incl_len = orig_len.min(SNAPLEN);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_ne_bytes());
        h[4..8].copy_from_slice(&usecs.to_ne_bytes());
        h[8..12].copy_from_slice(&incl_len.to_ne_bytes());
        h[12..16].copy_from_slice(&orig_len.to_ne_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(&data[..incl_len as usize])
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// Unwraps the underlying writer.
    pub fn into_inner(self) -> W {
        self.w
    }
}

/// A device that records every frame of the device it wraps.
///
/// Timestamps are `now` plus a fixed offset from the monotonic clock to the
/// Unix epoch, taken once at creation: real wall-clock times, while the
/// device itself never reads a clock. A write error disables the capture
/// (with one warning) and traffic goes on.
#[derive(Debug)]
pub struct PcapDevice<D, W: Write = BufWriter<PrivateFd>> {
    inner: D,
    writer: Option<PcapWriter<W>>,
    epoch_offset_micros: u64,
    /// Where a frame whose checksum must be finished is copied.
    scratch: Vec<u8>,
}

impl<D: Device> PcapDevice<D> {
    /// Creates (truncates) `path` and records into it. `now` and
    /// `realtime_micros` are the same moment on the monotonic and the
    /// real-time clock.
    pub fn create(
        inner: D,
        path: &Path,
        now: Instant,
        realtime_micros: u64,
    ) -> io::Result<PcapDevice<D>> {
        // The file is the library's own fd: out of the program's reach.
        let file = PrivateFd::adopt(File::create(path)?.into());
        let writer = PcapWriter::new(BufWriter::with_capacity(1 << 16, file), LINKTYPE_ETHERNET)?;
        let mut dev = PcapDevice::new(
            inner,
            writer,
            realtime_micros.wrapping_sub(now.total_micros()),
        );
        dev.flush()?;
        Ok(dev)
    }
}

impl<D: Device, W: Write> PcapDevice<D, W> {
    /// Records into `writer`; timestamps are `now + epoch_offset_micros`.
    pub fn new(inner: D, writer: PcapWriter<W>, epoch_offset_micros: u64) -> Self {
        PcapDevice {
            inner,
            writer: Some(writer),
            epoch_offset_micros,
            scratch: Vec::new(),
        }
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The pcap writer, unless a write error disabled it.
    pub fn writer(&self) -> Option<&PcapWriter<W>> {
        self.writer.as_ref()
    }

    fn record<'a>(&mut self, now: Instant, frames: impl Iterator<Item = &'a [u8]>) {
        let vnet = self.inner.capabilities().vnet_hdr;
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        let ts = now.total_micros().wrapping_add(self.epoch_offset_micros);
        let mut result = Ok(());
        for frame in frames {
            let frame = if vnet {
                ethernet_of(frame, &mut self.scratch)
            } else {
                frame
            };
            result = w.write_packet(ts, frame);
            if result.is_err() {
                break;
            }
        }
        if let Err(e) = result.and_then(|()| w.flush()) {
            crate::log_warn!("pcap: write failed, capture stopped: {e}");
            self.writer = None;
        }
    }
}

/// The Ethernet frame behind a virtio-net header, its checksum finished
/// (in `scratch`) when the header says it is partial.
fn ethernet_of<'a>(frame: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let Ok(h) = VnetHeader::new_checked(frame) else {
        return frame;
    };
    let eth = &frame[virtio_net::HEADER_LEN..];
    if h.flags() & virtio_net::F_NEEDS_CSUM == 0 {
        return eth;
    }
    scratch.clear();
    scratch.extend_from_slice(eth);
    if virtio_net::complete_checksum(scratch, h.csum_start(), h.csum_offset()) {
        scratch
    } else {
        eth
    }
}

impl<D: Device, W: Write> Device for PcapDevice<D, W> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn recv(&mut self, now: Instant, batch: &mut Batch) -> io::Result<Received> {
        let start = batch.len();
        let got = self.inner.recv(now, batch)?;
        if got.frames > 0 {
            let end = batch.len();
            self.record(now, (start..end).map(|i| batch.get(i)));
        }
        Ok(got)
    }

    fn send(&mut self, now: Instant, batch: &Batch) -> io::Result<()> {
        if !batch.is_empty() {
            self.record(now, batch.iter());
        }
        self.inner.send(now, batch)
    }

    fn poll_at(&self) -> Option<Instant> {
        self.inner.poll_at()
    }

    fn handle_timeout(&mut self, now: Instant) -> io::Result<()> {
        self.inner.handle_timeout(now)
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(w) = self.writer.as_mut() {
            w.flush()?;
        }
        self.inner.flush()
    }

    fn raw_fd(&self) -> Option<RawFd> {
        self.inner.raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::mock::MockDevice;

    #[test]
    fn golden_bytes() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET).unwrap();
        w.write_packet(1_700_000_000_123_456, &[0xde, 0xad, 0xbe])
            .unwrap();
        let bytes = w.into_inner();
        #[rustfmt::skip]
        let expected: [u8; 24 + 16 + 3] = [
            0xd4, 0xc3, 0xb2, 0xa1, // magic, microseconds
            0x02, 0x00, 0x04, 0x00, // version 2.4
            0, 0, 0, 0,             // thiszone
            0, 0, 0, 0,             // sigfigs
            0x00, 0x00, 0x04, 0x00, // snaplen 262144
            0x01, 0x00, 0x00, 0x00, // LINKTYPE_ETHERNET
            0x00, 0xf1, 0x53, 0x65, // ts_sec 1700000000
            0x40, 0xe2, 0x01, 0x00, // ts_usec 123456
            0x03, 0x00, 0x00, 0x00, // incl_len
            0x03, 0x00, 0x00, 0x00, // orig_len
            0xde, 0xad, 0xbe,
        ];
        assert_eq!(bytes, expected);
    }

    #[test]
    fn raw_linktype_and_truncation() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_RAW).unwrap();
        let big = vec![7u8; SNAPLEN as usize + 10];
        w.write_packet(0, &big).unwrap();
        let bytes = w.into_inner();
        assert_eq!(&bytes[20..24], &101u32.to_le_bytes());
        assert_eq!(&bytes[32..36], &SNAPLEN.to_le_bytes());
        assert_eq!(&bytes[36..40], &(SNAPLEN + 10).to_le_bytes());
        assert_eq!(bytes.len(), 24 + 16 + SNAPLEN as usize);
    }

    #[test]
    fn device_records_both_directions() {
        let mut mock = MockDevice::new(1500);
        mock.rx.push_back(vec![1; 60]);
        let writer = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET).unwrap();
        let mut dev = PcapDevice::new(mock, writer, 1_000_000);
        let mut batch = Batch::new(4, 1514);
        let got = dev.recv(Instant::from_micros(5), &mut batch).unwrap();
        assert_eq!(got.frames, 1);
        let mut out = Batch::new(4, 1514);
        out.push(&[2; 42]);
        dev.send(Instant::from_micros(7), &out).unwrap();
        assert_eq!(dev.inner().tx, vec![vec![2; 42]]);
        let bytes = dev.writer().unwrap().get_ref();
        assert_eq!(bytes.len(), 24 + 16 + 60 + 16 + 42);
        // Second packet: ts = 1 s + 7 us, 42 bytes of 2.
        let p2 = &bytes[24 + 16 + 60..];
        assert_eq!(&p2[0..4], &1u32.to_le_bytes());
        assert_eq!(&p2[4..8], &7u32.to_le_bytes());
        assert_eq!(&p2[16..], &[2; 42]);
    }

    #[test]
    fn offload_frames_lose_their_header_and_get_whole_checksums() {
        use crate::wire::virtio_net::VnetRepr;
        let mut mock = MockDevice::new(1500);
        mock.vnet_hdr = true;
        let writer = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET).unwrap();
        let mut dev = PcapDevice::new(mock, writer, 0);
        // A frame whose 2-byte "checksum" at offset 4 of the frame covers
        // bytes 2.. and holds a partial sum of 0x0102.
        let eth = [0xaau8, 0xbb, 0x10, 0x20, 0x01, 0x02, 0x30, 0x40];
        let mut frame = vec![0u8; virtio_net::HEADER_LEN];
        VnetRepr {
            flags: virtio_net::F_NEEDS_CSUM,
            csum_start: 2,
            csum_offset: 2,
            ..VnetRepr::default()
        }
        .emit(&mut frame);
        frame.extend_from_slice(&eth);
        let mut out = Batch::new(4, 1514);
        out.push(&frame);
        let plain = [[0u8; virtio_net::HEADER_LEN].as_slice(), &eth].concat();
        out.push(&plain);
        dev.send(Instant::ZERO, &out).unwrap();
        assert_eq!(dev.inner().tx[0], frame, "the device gets the frame as is");
        let bytes = dev.writer().unwrap().get_ref();
        let first = &bytes[24 + 16..24 + 16 + eth.len()];
        // 0x1020 + 0x0102 + 0x3040 = 0x4162; its complement is 0xbe9d.
        assert_eq!(first, [0xaa, 0xbb, 0x10, 0x20, 0xbe, 0x9d, 0x30, 0x40]);
        let second = &bytes[24 + 16 + eth.len() + 16..];
        assert_eq!(second, eth, "a plain frame is written without its header");
    }
}
