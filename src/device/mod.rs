//! Devices: the TAP and the devices that wrap it (pcap, fault injection).
//!
//! A [`Device`] moves Ethernet frames in **batches**: one call reads or
//! writes many frames, so the runtime takes the stack lock once per batch and
//! wrappers pay their cost (a pcap `write`, a fault decision) per batch. A
//! [`Batch`] is one contiguous buffer cut into fixed-size slots, so frames are
//! read and built in place, without an allocation per frame.
//!
//! Wrappers are devices themselves, so they stack. The runtime builds
//! `FaultDevice<PcapDevice<TapDevice>>`: the capture shows what crossed the
//! TAP (the wire), and the faults sit between the wire and the stack.
//!
//! [`Capabilities`] says how large a frame may be; a
//! TAP opened with `IFF_VNET_HDR` reports a 64 KiB `max_frame` and
//! `vnet_hdr`, and carries TSO/GSO segments through the same interface.

pub mod fault;
pub mod mock;
pub mod pcap;
pub mod tap;

pub use fault::{FaultConfig, FaultDevice};
pub use pcap::{PcapDevice, PcapWriter};
pub use tap::TapDevice;

use crate::sys::private_fd::FdNumber;
use crate::time::Instant;
use std::io;
use std::os::fd::RawFd;

/// What a device can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The IP MTU of the link.
    pub mtu: usize,
    /// The largest frame, link header included (`mtu + 14` for plain
    /// Ethernet; more with a virtio-net header and segmentation offload).
    pub max_frame: usize,
    /// Frames carry a `virtio_net_hdr` in front (`wire::virtio_net`), and
    /// TCP segments may be up to 64 KiB (TSO on output, GRO on input).
    pub vnet_hdr: bool,
}

/// The outcome of [`Device::recv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Received {
    /// How many frames were appended to the batch.
    pub frames: usize,
    /// The device may have more frames ready now (the batch filled up
    /// before the device ran dry): call `recv` again without waiting.
    pub more: bool,
}

/// A link device. `now` is passed in (devices never read the clock).
pub trait Device {
    /// What the device can carry.
    fn capabilities(&self) -> Capabilities;

    /// Appends the frames ready now to `batch`, as many as fit. Never
    /// blocks: no frame ready is `Ok` with zero frames.
    fn recv(&mut self, now: Instant, batch: &mut Batch) -> io::Result<Received>;

    /// Sends every frame of `batch`, in order. A frame the link cannot take
    /// right now is dropped, as a full NIC queue would; TCP recovers.
    fn send(&mut self, now: Instant, batch: &Batch) -> io::Result<()>;

    /// When the device next needs [`Device::handle_timeout`] (frames held
    /// back by a wrapper); `None`: never.
    fn poll_at(&self) -> Option<Instant> {
        None
    }

    /// Time passed: sends the held outgoing frames that are due. Held
    /// incoming frames that are due come out of the next `recv`, so call
    /// that too.
    fn handle_timeout(&mut self, _now: Instant) -> io::Result<()> {
        Ok(())
    }

    /// Pushes anything buffered to its destination (the pcap file).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// The fd to wait on for incoming frames, if the device has one.
    fn raw_fd(&self) -> Option<RawFd> {
        None
    }

    /// The fd any thread may read and write whole frames on (see
    /// [`tap::write_frames`]) without going through this device: a bare
    /// TAP queue's. `None` for a device that must see every frame it sends
    /// (a pcap capture, fault injection) or has no fd.
    fn tx_fd(&self) -> Option<FdNumber> {
        None
    }
}

impl<D: Device + ?Sized> Device for Box<D> {
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
    fn recv(&mut self, now: Instant, batch: &mut Batch) -> io::Result<Received> {
        (**self).recv(now, batch)
    }
    fn send(&mut self, now: Instant, batch: &Batch) -> io::Result<()> {
        (**self).send(now, batch)
    }
    fn poll_at(&self) -> Option<Instant> {
        (**self).poll_at()
    }
    fn handle_timeout(&mut self, now: Instant) -> io::Result<()> {
        (**self).handle_timeout(now)
    }
    fn flush(&mut self) -> io::Result<()> {
        (**self).flush()
    }
    fn raw_fd(&self) -> Option<RawFd> {
        (**self).raw_fd()
    }
    fn tx_fd(&self) -> Option<FdNumber> {
        (**self).tx_fd()
    }
}

/// Frames in one contiguous buffer of `capacity` slots of `slot_len` bytes.
pub struct Batch {
    buf: Vec<u8>,
    lens: Vec<usize>,
    slot_len: usize,
    capacity: usize,
}

impl Batch {
    /// An empty batch of `capacity` frames of up to `slot_len` bytes each.
    pub fn new(capacity: usize, slot_len: usize) -> Batch {
        Batch {
            buf: vec![0; capacity * slot_len],
            lens: Vec::with_capacity(capacity),
            slot_len,
            capacity,
        }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.lens.len()
    }

    /// No frames.
    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// No room for another frame.
    pub fn is_full(&self) -> bool {
        self.lens.len() == self.capacity
    }

    /// Largest number of frames.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Largest frame.
    pub fn slot_len(&self) -> usize {
        self.slot_len
    }

    /// Removes every frame.
    pub fn clear(&mut self) {
        self.lens.clear();
    }

    /// Frame `i`. Panics when `i >= len()`.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = i * self.slot_len;
        &self.buf[start..start + self.lens[i]]
    }

    /// The frames, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Builds the next frame in place: `fill` gets the free slot and returns
    /// the frame's length, or `None` to add nothing. Returns the length, or
    /// `None` when `fill` did or the batch is full.
    pub fn push_with<E>(
        &mut self,
        fill: impl FnOnce(&mut [u8]) -> Result<Option<usize>, E>,
    ) -> Result<Option<usize>, E> {
        if self.is_full() {
            return Ok(None);
        }
        let start = self.lens.len() * self.slot_len;
        let slot = &mut self.buf[start..start + self.slot_len];
        match fill(slot)? {
            Some(n) => {
                let n = n.min(self.slot_len);
                self.lens.push(n);
                Ok(Some(n))
            }
            None => Ok(None),
        }
    }

    /// Appends a copy of `frame`; false when full or `frame` is too long.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        if frame.len() > self.slot_len {
            return false;
        }
        let added = self.push_with(|slot| {
            slot[..frame.len()].copy_from_slice(frame);
            Ok::<_, ()>(Some(frame.len()))
        });
        matches!(added, Ok(Some(_)))
    }
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("slot_len", &self.slot_len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_fills_in_place_and_copies() {
        let mut b = Batch::new(2, 4);
        assert!(b.is_empty());
        let n = b.push_with(|s| {
            s[..3].copy_from_slice(b"abc");
            Ok::<_, ()>(Some(3))
        });
        assert_eq!(n, Ok(Some(3)));
        assert!(!b.push(b"too long"));
        assert!(b.push(b"xy"));
        assert!(b.is_full());
        assert!(!b.push(b"z"));
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![&b"abc"[..], b"xy"]);
        b.clear();
        assert_eq!(b.len(), 0);
    }
}
