//! The host: a sans-IO network stack (ARP, IPv4, ICMP, the socket table).
//!
//! Like the TCB, the stack never reads a clock or touches an fd. The runtime
//! feeds it frames and time and drains the frames it wants to send:
//!
//! - [`Stack::handle_frame`]: one Ethernet frame arrived;
//! - [`Stack::handle_timeout`]: time passed (call when `poll_timeout` is due);
//! - [`Stack::poll_transmit`]: the next frame to send, if any;
//! - [`Stack::poll_timeout`]: when the stack next needs `handle_timeout`;
//! - [`Stack::take_dirty`]: sockets whose readiness may have changed, so the
//!   runtime can wake the threads waiting on them.

use crate::time::Instant;
use crate::wire::ethernet::EthernetAddress;
use std::net::Ipv4Addr;

/// The host's addressing and link parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackConfig {
    /// Our MAC address.
    pub mac: EthernetAddress,
    /// Our IPv4 address.
    pub ip: Ipv4Addr,
    /// The on-link prefix length (`/24` → 24).
    pub prefix_len: u8,
    /// The default gateway, for destinations off the prefix.
    pub gateway: Option<Ipv4Addr>,
    /// The IP MTU (largest IP datagram on the link), 1500 by default.
    pub mtu: usize,
}

impl StackConfig {
    /// The default MAC for an IP: locally administered `02:00:` followed by
    /// the four octets of the address, so it is stable and recognisable.
    pub fn default_mac(ip: Ipv4Addr) -> EthernetAddress {
        let o = ip.octets();
        EthernetAddress([0x02, 0x00, o[0], o[1], o[2], o[3]])
    }
}

/// A socket in the stack's socket table (index and generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketHandle {
    /// Slot in the table.
    pub index: u32,
    /// Bumped each time the slot is reused, so stale handles are detected.
    pub generation: u32,
}

/// The stack. See the module documentation.
pub struct Stack {
    config: StackConfig,
}

impl Stack {
    /// A stack with `config`, started at `now`; `seed` keys the ISN hash
    /// (RFC 6528) and the ephemeral port choice.
    pub fn new(config: StackConfig, _now: Instant, _seed: u64) -> Stack {
        Stack { config }
    }

    /// The configuration the stack runs with.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// Processes one received Ethernet frame.
    pub fn handle_frame(&mut self, _now: Instant, _frame: &[u8]) {}

    /// Runs the timers that are due at `now`.
    pub fn handle_timeout(&mut self, _now: Instant) {}

    /// Writes the next frame to send into `buf` and returns its length, or
    /// `None` when there is nothing to send. `buf` must hold MTU + 14 bytes.
    pub fn poll_transmit(&mut self, _now: Instant, _buf: &mut [u8]) -> Option<usize> {
        None
    }

    /// When `handle_timeout` should next run (`None`: no timer pending).
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Appends the sockets whose readiness may have changed since the last
    /// call and clears the set.
    pub fn take_dirty(&mut self, _out: &mut Vec<SocketHandle>) {}
}
