//! The TAP device: one `read` per incoming frame, one `write` per outgoing.
//!
//! Opened with offloads, every frame in a [`Batch`] starts with the
//! 10-byte virtio-net header (`wire::virtio_net`), and a frame may be a TCP
//! segment of up to 64 KiB that the kernel cuts into MSS-sized ones (or
//! glued together from them, GRO). The stack reads and writes the header.

use super::{Batch, Capabilities, Device, Received};
use crate::sys;
use crate::sys::private_fd::FdNumber;
use crate::time::Instant;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// A Linux TAP device (`IFF_TAP | IFF_NO_PI`), non-blocking.
#[derive(Debug)]
pub struct TapDevice {
    tap: sys::tap::Tap,
    mtu: usize,
    /// Frames carry a virtio-net header; TSO and checksum offload are on.
    offload: bool,
    /// Writes fail with EIO: the kernel's side of the TAP is down.
    link_down: bool,
}

impl TapDevice {
    /// Attaches to the TAP `name`, creating it when it does not exist and
    /// the process may. A TAP we create gets `mtu` and is brought up; an
    /// existing one keeps its settings (a warning says when its MTU differs).
    ///
    /// With `offload` (little-endian hosts only: the header's byte order),
    /// the TAP carries virtio-net headers and large TCP segments.
    pub fn open(name: &str, mtu: usize, offload: bool) -> io::Result<TapDevice> {
        let offload = offload && cfg!(target_endian = "little");
        let tap = sys::tap::open_tap(name, offload)?;
        if tap.created {
            if let Err(e) = sys::tap::set_mtu(&tap.name, mtu) {
                crate::log_warn!("cannot set the MTU of {} to {mtu}: {e}", tap.name);
            }
        } else if let Ok(kernel_mtu) = sys::tap::mtu(&tap.name)
            && kernel_mtu != mtu
        {
            crate::log_warn!(
                "{} has MTU {kernel_mtu} on the kernel side, TAPSTACK_MTU is {mtu}",
                tap.name
            );
        }
        if let Err(e) = sys::tap::set_up(&tap.name) {
            crate::log_warn!("cannot bring {} up: {e}", tap.name);
        }
        Ok(TapDevice {
            tap,
            mtu,
            offload,
            link_down: false,
        })
    }

    /// A queue of its own for a forked child, opened in its `fork` handler
    /// while it still has the parent's privileges, and left detached
    /// ([`sys::tap::set_queue_attached`]) until the child reads it: a
    /// queue nobody reads would swallow its share of new flows. Only for
    /// a multi-queue TAP.
    pub fn open_detached_queue(name: &str, mtu: usize, offload: bool) -> io::Result<TapDevice> {
        let offload = offload && cfg!(target_endian = "little");
        let tap = sys::tap::open_tap(name, offload)?;
        if !tap.multi_queue {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        sys::tap::set_queue_attached(tap.fd.as_raw_fd(), false)?;
        Ok(TapDevice {
            tap,
            mtu,
            offload,
            link_down: false,
        })
    }

    /// Puts a queue from [`TapDevice::open_detached_queue`] in the TAP's set.
    pub fn attach(&self) -> io::Result<()> {
        sys::tap::set_queue_attached(self.tap.fd.as_raw_fd(), true)
    }

    /// The device a forked child makes of the TAP fd it inherited
    /// (`fd`, the parent's [`Device::raw_fd`]), with the parent's settings.
    ///
    /// As [`sys::tap::adopt_inherited`]: `fd` is the inherited TAP fd and
    /// its owner does not exist in this process.
    pub fn inherited(fd: RawFd, name: String, mtu: usize, offload: bool) -> TapDevice {
        TapDevice {
            tap: sys::tap::adopt_inherited(fd, name, true),
            mtu,
            offload,
            link_down: false,
        }
    }

    /// True when other programs may attach queues of their own.
    pub fn multi_queue(&self) -> bool {
        self.tap.multi_queue
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.tap.name
    }

    /// True when the interface did not exist before `open`.
    pub fn created(&self) -> bool {
        self.tap.created
    }
}

impl Device for TapDevice {
    fn capabilities(&self) -> Capabilities {
        if self.offload {
            Capabilities {
                mtu: self.mtu,
                max_frame: sys::tap::VNET_HDR_LEN
                    + crate::wire::ethernet::HEADER_LEN
                    + crate::wire::ipv4::MAX_PACKET_LEN,
                vnet_hdr: true,
            }
        } else {
            Capabilities {
                mtu: self.mtu,
                max_frame: self.mtu + crate::wire::ethernet::HEADER_LEN,
                vnet_hdr: false,
            }
        }
    }

    fn recv(&mut self, _now: Instant, batch: &mut Batch) -> io::Result<Received> {
        read_frames(self.tap.fd.as_raw_fd(), batch)
    }

    fn send(&mut self, _now: Instant, batch: &Batch) -> io::Result<()> {
        write_frames(
            self.tap.fd.as_raw_fd(),
            &self.tap.name,
            batch,
            &mut self.link_down,
        )
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.tap.fd.as_raw_fd())
    }

    fn tx_fd(&self) -> Option<FdNumber> {
        Some(self.tap.fd.number())
    }
}

/// Reads frames from the TAP queue `fd` (non-blocking) into `batch` until
/// the queue is empty or the batch full (then `more`).
pub fn read_frames(fd: RawFd, batch: &mut Batch) -> io::Result<Received> {
    let mut got = Received::default();
    loop {
        if batch.is_full() {
            got.more = true;
            return Ok(got);
        }
        let read = batch.push_with(|slot| {
            loop {
                match sys::tap::read_frame(fd, slot) {
                    Ok(n) => return Ok(Some(n)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        })?;
        match read {
            Some(_) => got.frames += 1,
            None => return Ok(got),
        }
    }
}

/// Writes every frame of `batch` to the TAP queue `fd` (of interface
/// `name`), in order, one `write` each. A frame the kernel cannot take is
/// dropped, as a NIC drops it: the link is down (`EIO`, logged once, until
/// a write succeeds again: `link_down`), the queue is full, or the frame is
/// refused as malformed. Other errors end the device.
pub fn write_frames(fd: RawFd, name: &str, batch: &Batch, link_down: &mut bool) -> io::Result<()> {
    for frame in batch.iter() {
        loop {
            match sys::tap::write_frame(fd, frame) {
                Ok(_) => {
                    if *link_down {
                        *link_down = false;
                        crate::log_info!("{name}: link is up again");
                    }
                    break;
                }
                // The kernel's side of the TAP is down (`ip link set
                // down`): the frame is lost, as on a pulled cable, and
                // TCP retransmits once the link is back. Not fatal.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                    if !*link_down {
                        *link_down = true;
                        crate::log_warn!("{name}: link is down, frames are dropped");
                    }
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    crate::log_debug!("{name}: queue full, frame dropped");
                    break;
                }
                // The kernel refuses a malformed frame (EINVAL) or one
                // too large (EMSGSIZE): a stack bug, not a dead device.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EMSGSIZE)) => {
                    crate::log_warn!("{name}: frame of {} bytes refused: {e}", frame.len());
                    break;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
