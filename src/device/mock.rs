//! An in-memory device for tests: frames to receive are queued in `rx`,
//! frames sent are collected in `tx`.

use super::{Batch, Capabilities, Device, Received};
use crate::time::Instant;
use std::collections::VecDeque;
use std::io;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct MockDevice {
    /// Frames `recv` will return, front first.
    pub rx: VecDeque<Vec<u8>>,
    /// Frames passed to `send`, in order.
    pub tx: Vec<Vec<u8>>,
    /// The MTU reported.
    pub mtu: usize,
    /// Frames carry a virtio-net header (as a TAP with offloads).
    pub vnet_hdr: bool,
}

impl MockDevice {
    /// An empty mock with `mtu`.
    pub fn new(mtu: usize) -> MockDevice {
        MockDevice {
            mtu,
            ..MockDevice::default()
        }
    }
}

impl Device for MockDevice {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            mtu: self.mtu,
            max_frame: self.mtu + 14,
            vnet_hdr: self.vnet_hdr,
        }
    }

    fn recv(&mut self, _now: Instant, batch: &mut Batch) -> io::Result<Received> {
        let mut got = Received::default();
        while let Some(frame) = self.rx.front() {
            if batch.is_full() {
                got.more = true;
                break;
            }
            batch.push(frame);
            self.rx.pop_front();
            got.frames += 1;
        }
        Ok(got)
    }

    fn send(&mut self, _now: Instant, batch: &Batch) -> io::Result<()> {
        self.tx.extend(batch.iter().map(<[u8]>::to_vec));
        Ok(())
    }
}
