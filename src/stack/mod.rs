//! The host: a sans-IO network stack (ARP, IPv4, ICMP, IPv6 with Neighbor
//! Discovery and ICMPv6, the socket table).
//!
//! Like the TCB, the stack never reads a clock or touches an fd. The runtime
//! feeds it frames and time and drains the frames it wants to send:
//!
//! - [`Stack::handle_frame`]: one Ethernet frame arrived;
//! - [`Stack::handle_timeout`]: time passed (call when `poll_timeout` is due);
//! - [`Stack::poll_transmit`]: the next frame to send, if any;
//! - [`Stack::poll_timeout`]: when the stack next needs `handle_timeout`;
//! - [`Stack::take_wakeups`]: the wait queues of sockets whose readiness
//!   may have changed (and of sockets freed meanwhile), so the runtime can
//!   wake the threads waiting on them.
//!
//! Every frame that comes in ends in exactly one place: handled by a
//! protocol, or counted under the reason it was dropped (see
//! [`Counters`]).

mod api;
pub mod arp_cache;
pub mod counters;
pub mod icmp;
mod icmpv6;
pub mod ipv4;
pub mod ipv6;
mod loopback;
pub mod ndisc_cache;
pub mod reassembly;
pub mod reassembly6;
mod recover;
pub mod snapshot;
pub mod socket;
mod table;
mod tcp_input;
mod tcp_output;
pub mod trace;

#[cfg(test)]
pub(crate) mod tests;

pub use counters::Counters;
pub use socket::{SocketError, SocketHandle, SocketOptions};

use crate::tcp::{FourTuple, Tcb, TcpConfig};
use crate::time::Instant;
use crate::wire::arp::{ArpPacket, ArpRepr, Operation};
use crate::wire::ethernet::{self, EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
use crate::wire::ipv4::{HEADER_LEN as IPV4_HEADER_LEN, Ipv4Cidr, MAX_PACKET_LEN};
use crate::wire::ipv6::Ipv6Cidr;
use crate::wire::tcp::{HEADER_LEN as TCP_HEADER_LEN, MAX_HEADER_LEN as TCP_MAX_HEADER_LEN};
use crate::wire::virtio_net::{self, VnetHeader};
use arp_cache::ArpCache;
use loopback::LOOPBACK_ROUNDS;
use reassembly::Reassembler;
use socket::{Slot, WaitQueue};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Arc;

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
    /// Our IPv6 address and on-link prefix, besides the link-local address
    /// always derived from `mac` (see `ipv6.rs`).
    pub ip6: Option<Ipv6Cidr>,
    /// The IP MTU (largest IP datagram on the link), 1500 by default.
    pub mtu: usize,
    /// Frames carry a virtio-net header (`wire::virtio_net`) and the link
    /// takes TCP segments of up to 64 KiB with partial checksums: the device
    /// cuts them at the MSS and completes the checksums (TSO), and hands us
    /// segments it glued together (GRO) whose checksums it vouches for.
    pub offload: bool,
}

impl StackConfig {
    /// The default MAC for an IP: locally administered `02:00:` followed by
    /// the four octets of the address, so it is stable and recognisable.
    pub fn default_mac(ip: Ipv4Addr) -> EthernetAddress {
        let o = ip.octets();
        EthernetAddress([0x02, 0x00, o[0], o[1], o[2], o[3]])
    }

    /// The on-link prefix.
    pub fn cidr(&self) -> Ipv4Cidr {
        Ipv4Cidr {
            address: self.ip,
            prefix_len: self.prefix_len,
        }
    }
}

/// What the stack's secrets and choices start from. The runtime fills it
/// from `getrandom(2)` ([`Entropy::from_bytes`]); tests derive it from a
/// small seed ([`Entropy::from_seed`]) so that runs repeat.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Entropy {
    /// The 128-bit SipHash key of the ISN (RFC 6528), the SYN cookies
    /// (RFC 4987 §3.6) and the timestamp offsets (RFC 7323 §5.4). It must
    /// be unguessable from outside: with it, anyone could forge a cookie.
    pub key: [u8; 16],
    /// Seeds the non-cryptographic choices: the first ephemeral port, the
    /// IP identification, the jitter of the challenge-ACK limit.
    pub seed: u64,
}

impl Entropy {
    /// Bytes from the kernel's random source: 16 of key, 8 of seed.
    pub fn from_bytes(bytes: [u8; 24]) -> Entropy {
        let mut key = [0u8; 16];
        key.copy_from_slice(&bytes[..16]);
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&bytes[16..]);
        Entropy {
            key,
            seed: u64::from_le_bytes(seed),
        }
    }

    /// Everything spread from one 64-bit seed: repeatable, and only as
    /// secret as the seed (for tests and simulations).
    pub fn from_seed(seed: u64) -> Entropy {
        Entropy {
            key: {
                let mut key = [0u8; 16];
                crate::rand::Rng::new(seed).fill(&mut key);
                key
            },
            seed,
        }
    }
}

impl core::fmt::Debug for Entropy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Entropy(..)")
    }
}

/// The smallest MSS the MTU may give (Linux's `TCP_MIN_MSS`).
const MIN_MSS: usize = 88;

/// Frames waiting in the stack's own queue (ARP, ICMP, RSTs), at most.
const TX_QUEUE_LIMIT: usize = 4096;

/// The least length of [`Stack`]'s list of held quick ACKs that is pruned.
const HELD_ACKS_PRUNE_MIN: usize = 64;

/// The stack. See the module documentation.
pub struct Stack {
    config: StackConfig,
    cidr: Ipv4Cidr,
    counters: Counters,
    arp: ArpCache,
    reasm: Reassembler,
    /// IPv6: addresses, neighbour cache, reassembly, path MTUs (`ipv6.rs`).
    ip6: ipv6::Ipv6State,
    icmp_limiter: icmp::RateLimiter,
    /// Whole Ethernet frames ready to go, in order.
    tx_frames: VecDeque<Vec<u8>>,
    /// IPv4 datagrams to this host, waiting to be delivered (`loopback.rs`).
    loopback: VecDeque<Vec<u8>>,
    ip_ident: u16,
    dirty: Vec<SocketHandle>,
    /// Connections that began holding a quick ACK for the application's
    /// answer (`Tcb::ack_held`), for [`Stack::release_held_acks`]; some
    /// may have sent it since.
    held_acks: Vec<u32>,
    /// `held_acks`' length at which it is next pruned.
    held_acks_prune_at: usize,
    // The socket table (see `socket.rs` and `table.rs`).
    sockets: Vec<Slot>,
    free_slots: Vec<u32>,
    /// Connections by 4-tuple.
    conns: BTreeMap<FourTuple, u32>,
    /// Listeners by port (several with `SO_REUSEPORT`).
    listeners: BTreeMap<u16, Vec<u32>>,
    /// Sockets holding each local port (a set: a busy server's port is
    /// held by every one of its connections, and they come and go).
    ports: BTreeMap<u16, BTreeSet<u32>>,
    /// Connection deadlines, earliest first.
    tcp_timers: BTreeSet<(Instant, u32)>,
    /// Connections that may have something to send.
    tx_queue: VecDeque<u32>,
    /// Connections waiting for a next hop to resolve (ARP, or Neighbor
    /// Discovery).
    arp_waiters: BTreeMap<std::net::IpAddr, Vec<u32>>,
    tcp_defaults: TcpConfig,
    isn_secret: [u8; 16],
    ephemeral_next: u32,
    /// RFC 5961 §7: the host's budget of challenge ACKs.
    challenge_limit: crate::tcp::challenge::HostChallengeLimit,
    /// Connections in TIME-WAIT now, and the most there may be (Linux's
    /// `tcp_max_tw_buckets`).
    time_wait_count: usize,
    max_time_wait: usize,
    /// Wait queues of sockets freed since the last `take_wakeups`.
    freed_waits: Vec<(SocketHandle, Arc<WaitQueue>)>,
    /// Where a TCB copies a segment's payload on its way out.
    scratch: Vec<u8>,
    /// Events for logs and traces, while on (`trace.rs`).
    tracer: trace::Tracer,
}

impl Stack {
    /// A stack with `config`, started at `now`, whose secrets are all
    /// spread from `seed` ([`Entropy::from_seed`]): for tests. See
    /// [`Stack::with_entropy`].
    pub fn new(config: StackConfig, now: Instant, seed: u64) -> Stack {
        Stack::with_entropy(config, now, Entropy::from_seed(seed))
    }

    /// A stack with `config`, started at `now`; `entropy` keys the ISN
    /// hash (RFC 6528), the SYN cookies and the timestamp offsets, and
    /// seeds the ephemeral port choice. It starts by announcing its
    /// address with a gratuitous ARP (RFC 5227 §3).
    pub fn with_entropy(config: StackConfig, now: Instant, entropy: Entropy) -> Stack {
        // The non-secret choices (RFC 6056's starting point for ephemeral
        // ports, the first IP identification, the challenge-ACK budget).
        let mut rng = crate::rand::Rng::new(entropy.seed);
        let headers = IPV4_HEADER_LEN + TCP_HEADER_LEN;
        let mss = config
            .mtu
            .saturating_sub(headers)
            .clamp(MIN_MSS, MAX_PACKET_LEN - headers) as u16;
        // The largest payload under a 64 KiB datagram with the largest TCP
        // header.
        let tso_max = if config.offload {
            MAX_PACKET_LEN - IPV4_HEADER_LEN - TCP_MAX_HEADER_LEN
        } else {
            0
        };
        let ip6 = ipv6::Ipv6State::new(&config, now, (entropy.seed >> 32) as u32 ^ 0x9e37_79b9);
        let mut s = Stack {
            cidr: config.cidr(),
            ip6,
            config,
            counters: Counters::default(),
            arp: ArpCache::new(),
            reasm: Reassembler::new(),
            icmp_limiter: icmp::RateLimiter::new(now, 1000, 50),
            tx_frames: VecDeque::new(),
            loopback: VecDeque::new(),
            ip_ident: rng.next_u32() as u16,
            dirty: Vec::new(),
            held_acks: Vec::new(),
            held_acks_prune_at: HELD_ACKS_PRUNE_MIN,
            sockets: Vec::new(),
            free_slots: Vec::new(),
            conns: BTreeMap::new(),
            listeners: BTreeMap::new(),
            ports: BTreeMap::new(),
            tcp_timers: BTreeSet::new(),
            tx_queue: VecDeque::new(),
            arp_waiters: BTreeMap::new(),
            tcp_defaults: TcpConfig {
                mss,
                tso_max,
                ..TcpConfig::default()
            },
            isn_secret: entropy.key,
            ephemeral_next: rng.next_u32(),
            challenge_limit: crate::tcp::challenge::HostChallengeLimit::new(
                crate::tcp::challenge::CHALLENGE_ACK_LIMIT,
                crate::rand::Rng::new(rng.next_u64()),
            ),
            time_wait_count: 0,
            max_time_wait: table::MAX_TIME_WAIT,
            freed_waits: Vec::new(),
            scratch: vec![0u8; table::SCRATCH_LEN],
            tracer: trace::Tracer::default(),
        };
        s.queue_arp(
            ArpRepr {
                operation: Operation::Request,
                source_hardware_addr: s.config.mac,
                source_protocol_addr: s.config.ip,
                target_hardware_addr: EthernetAddress([0; 6]),
                target_protocol_addr: s.config.ip,
            },
            EthernetAddress::BROADCAST,
        );
        s
    }

    /// The configuration the stack runs with.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// Event and drop counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Counts `n` frames that an application thread waiting on the TAP
    /// read (the runtime's `reader`), before handing them in.
    pub fn count_frames_read_by_waiter(&mut self, n: usize) {
        self.counters.rx_frames_by_waiter += n as u64;
    }

    /// Sets the host-wide challenge-ACK budget per second (Linux's
    /// `tcp_challenge_ack_limit`; see [`crate::tcp::challenge`]).
    pub fn set_challenge_ack_limit(&mut self, per_second: u32) {
        self.challenge_limit.set_limit(per_second);
    }

    /// The neighbour cache, for introspection.
    pub fn arp_cache(&self) -> &ArpCache {
        &self.arp
    }

    /// Whether frames carry virtio-net headers and may be 64 KiB segments
    /// ([`StackConfig::offload`]): every process's TAP queue must agree.
    pub fn offload(&self) -> bool {
        self.config.offload
    }

    /// Processes one received Ethernet frame (after its virtio-net header
    /// when [`StackConfig::offload`] is on).
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        self.counters.rx_frames += 1;
        let mut csum_trusted = false;
        let mut frame = frame;
        if self.config.offload {
            let Ok(vnet) = VnetHeader::new_checked(frame) else {
                self.counters.drop_eth_truncated += 1;
                return;
            };
            csum_trusted = vnet.csum_trusted();
            frame = &frame[virtio_net::HEADER_LEN..];
        }
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.counters.drop_eth_truncated += 1;
            return;
        };
        let dst = eth.dst_addr();
        // IPv6 groups (33:33:...) are filtered by their IPv6 address.
        let ip6_group = dst.is_multicast() && eth.ethertype() == EtherType::Ipv6;
        if dst != self.config.mac && !dst.is_broadcast() && !ip6_group {
            self.counters.drop_eth_not_for_us += 1;
            return;
        }
        match eth.ethertype() {
            EtherType::Arp => self.handle_arp(now, eth.payload()),
            EtherType::Ipv4 => self.handle_ipv4(now, eth.payload(), csum_trusted),
            EtherType::Ipv6 => {
                let link = ipv6::LinkInfo {
                    src_mac: eth.src_addr(),
                    multicast: dst.is_multicast(),
                    csum_trusted,
                };
                self.handle_ipv6(now, eth.payload(), link)
            }
            _ => self.counters.drop_eth_unknown_type += 1,
        }
    }

    /// RFC 826's packet reception algorithm: merge what the sender says
    /// into an existing entry; if the packet is for us, add the sender if
    /// new, and answer a request.
    fn handle_arp(&mut self, now: Instant, payload: &[u8]) {
        let repr = match ArpPacket::new_checked(payload).and_then(|p| ArpRepr::parse(&p)) {
            Ok(r) => r,
            Err(_) => {
                self.counters.drop_arp_malformed += 1;
                return;
            }
        };
        let sender_ok = repr.source_hardware_addr.is_unicast()
            && repr.source_protocol_addr != Ipv4Addr::UNSPECIFIED
            && repr.source_protocol_addr != self.config.ip;
        // Merge: update the sender if we know it (or are resolving it).
        let mut merged = false;
        if sender_ok {
            let (ip, mac) = (repr.source_protocol_addr, repr.source_hardware_addr);
            if let Some(released) = self.arp.merge(now, ip, mac) {
                merged = true;
                for datagram in released {
                    self.transmit_datagram(mac, &datagram);
                }
                self.arp_resolved(now, ip.into(), false);
            }
        }
        if repr.target_protocol_addr != self.config.ip {
            self.counters.drop_arp_not_for_us += 1;
            return;
        }
        self.counters.arp_rx += 1;
        if sender_ok && !merged {
            let (ip, mac) = (repr.source_protocol_addr, repr.source_hardware_addr);
            for datagram in self.arp.learn(now, ip, mac) {
                self.transmit_datagram(mac, &datagram);
            }
            self.arp_resolved(now, ip.into(), false);
        }
        if repr.operation == Operation::Request && repr.source_hardware_addr.is_unicast() {
            self.counters.arp_tx_replies += 1;
            self.queue_arp(
                ArpRepr {
                    operation: Operation::Reply,
                    source_hardware_addr: self.config.mac,
                    source_protocol_addr: self.config.ip,
                    target_hardware_addr: repr.source_hardware_addr,
                    target_protocol_addr: repr.source_protocol_addr,
                },
                repr.source_hardware_addr,
            );
        }
    }

    fn queue_arp(&mut self, repr: ArpRepr, to: EthernetAddress) {
        let mut frame = vec![0u8; ethernet::HEADER_LEN + repr.buffer_len()];
        let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
        EthernetRepr {
            src_addr: self.config.mac,
            dst_addr: to,
            ethertype: EtherType::Arp,
        }
        .emit(&mut eth);
        repr.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
        self.queue_frame(frame);
    }

    fn queue_frame(&mut self, frame: Vec<u8>) {
        if self.tx_frames.len() < TX_QUEUE_LIMIT {
            self.tx_frames.push_back(frame);
        }
    }

    /// Runs the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.arp.handle_timeout(now);
        for ip in self.arp.take_failed() {
            self.counters.arp_failed += 1;
            self.arp_resolved(now, ip.into(), true);
        }
        self.reasm.handle_timeout(now);
        self.counters.ip_reasm_timeout += self.reasm.take_timed_out();
        self.ipv6_timeout(now);
        self.handle_tcp_timeouts(now);
    }

    /// Writes the next frame to send into `buf` and returns its length, or
    /// `None` when there is nothing to send. `buf` must hold MTU + 14 bytes.
    /// Datagrams to this host are delivered on the way (`loopback.rs`), a
    /// bounded number of rounds per call: loopback traffic that goes on
    /// (a large transfer to ourselves) is left queued, [`Stack::has_loopback`]
    /// says so, and the caller comes back after serving the device and the
    /// application.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        for _ in 0..LOOPBACK_ROUNDS {
            self.run_loopback(now);
            if let Some(n) = self.poll_device_transmit(now, buf) {
                return Some(n);
            }
            if !self.has_loopback() {
                return None;
            }
        }
        None
    }

    /// The next frame for the device.
    ///
    /// A segment whose next hop is unknown starts a resolution while
    /// `poll_tcp_transmit` frames it; that ARP request goes out in this
    /// same call rather than at the first retry (RFC 826: the request is
    /// sent when the translation is missing; Linux's `__neigh_event_send`
    /// probes at once too).
    fn poll_device_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if let Some(n) = self.poll_frame(buf) {
            return Some(n);
        }
        if let Some(n) = self.poll_tcp_transmit(now, buf) {
            return Some(n);
        }
        self.poll_frame(buf)
    }

    /// The next ARP request or queued frame (ARP, ICMP, RSTs), if any.
    fn poll_frame(&mut self, buf: &mut [u8]) -> Option<usize> {
        while let Some(req) = self.arp.poll_request() {
            self.counters.arp_tx_requests += 1;
            let (to, tha) = match req.unicast_to {
                Some(mac) => (mac, mac),
                None => (EthernetAddress::BROADCAST, EthernetAddress([0; 6])),
            };
            self.queue_arp(
                ArpRepr {
                    operation: Operation::Request,
                    source_hardware_addr: self.config.mac,
                    source_protocol_addr: self.config.ip,
                    target_hardware_addr: tha,
                    target_protocol_addr: req.target,
                },
                to,
            );
        }
        let vnet = if self.config.offload {
            virtio_net::HEADER_LEN
        } else {
            0
        };
        if buf.len() < vnet {
            return None;
        }
        while let Some(frame) = self.tx_frames.pop_front() {
            if vnet + frame.len() <= buf.len() {
                // A plain frame: a zeroed virtio-net header asks nothing.
                buf[..vnet].fill(0);
                buf[vnet..vnet + frame.len()].copy_from_slice(&frame);
                self.counters.tx_frames += 1;
                return Some(vnet + frame.len());
            }
        }
        None
    }

    /// When `handle_timeout` should next run (`None`: no timer pending).
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.arp.poll_timeout(),
            self.reasm.poll_timeout(),
            self.ipv6_poll_timeout(),
            self.tcp_timers.first().map(|&(t, _)| t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Appends the sockets whose readiness may have changed since the last
    /// call, each with its wait queue, and clears the set. Sockets freed
    /// since the last call are included, so that a thread still blocked on
    /// a socket another thread closed is woken too.
    pub fn take_wakeups(&mut self, out: &mut Vec<(SocketHandle, Arc<WaitQueue>)>) {
        let mut dirty = core::mem::take(&mut self.dirty);
        for h in dirty.drain(..) {
            if let Some(s) = self
                .sockets
                .get_mut(h.index as usize)
                .filter(|slot| slot.generation == h.generation)
                .and_then(|s| s.socket.as_mut())
            {
                s.dirty = false;
                out.push((h, s.wait.clone()));
            }
        }
        self.dirty = dirty;
        out.append(&mut self.freed_waits);
    }

    /// Connection `h` may have segments for `poll_transmit` (it is on the
    /// transmit queue). False for a handle that no longer names a socket:
    /// a connection that finished has nothing more to send.
    pub fn transmit_queued(&self, h: SocketHandle) -> bool {
        self.sock(h).is_ok_and(|s| s.tx_queued)
    }

    /// Some connection may hold a quick ACK for its application's answer
    /// ([`Stack::release_held_acks`]).
    pub fn has_held_acks(&self) -> bool {
        !self.held_acks.is_empty()
    }

    /// Connection `index` began holding a quick ACK. Most holds end with
    /// the answer that carries the ACK, with nobody looking at this list
    /// (a program that blocks in `recv` never goes through an event loop's
    /// wait): when it has doubled since it was last pruned, the entries
    /// whose connection no longer holds one go.
    pub(super) fn note_held_ack(&mut self, index: u32) {
        if self.held_acks.len() >= self.held_acks_prune_at {
            let mut held = core::mem::take(&mut self.held_acks);
            held.retain(|&i| {
                self.sockets
                    .get(i as usize)
                    .and_then(|s| s.socket.as_ref())
                    .and_then(|s| s.tcb())
                    .is_some_and(Tcb::ack_held)
            });
            self.held_acks_prune_at = (2 * held.len()).max(HELD_ACKS_PRUNE_MIN);
            self.held_acks = held;
        }
        self.held_acks.push(index);
    }

    /// Sends the quick ACKs connections hold for their application's
    /// answer: the application went back to its event loop's wait
    /// (`epoll_wait`, `poll`, `select`), so what it did not answer by now
    /// it will not answer at once.
    pub fn release_held_acks(&mut self) {
        let held = core::mem::take(&mut self.held_acks);
        for &index in &held {
            if self
                .slot_mut(index)
                .and_then(|s| s.tcb_mut())
                .is_some_and(|tcb| tcb.release_held_ack())
            {
                self.queue_output(index);
            }
        }
        // The vector's room, kept for the next holds.
        self.held_acks = held;
        self.held_acks.clear();
    }

    /// The stack has frames or segments waiting for `poll_transmit`.
    pub fn has_pending_transmit(&self) -> bool {
        !self.tx_frames.is_empty()
            || !self.tx_queue.is_empty()
            || self.arp.has_requests()
            || self.has_loopback()
    }
}
