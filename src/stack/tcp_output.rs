//! TCP output and timers: connections with something to send are polled
//! in turn; each segment is framed once its next hop is resolved.

use super::Stack;
use super::arp_cache::Lookup;
use crate::time::Instant;
use crate::wire::checksum::PROTO_TCP;
use crate::wire::ethernet::{self, EtherType, EthernetFrame, EthernetRepr};
use crate::wire::ipv4::{self, DEFAULT_TTL, Ipv4Packet, Ipv4Repr};
use crate::wire::tcp::TcpPacket;
use crate::wire::virtio_net::{self, VnetRepr};

/// Where the checksum sits in a TCP header (`csum_offset`).
const TCP_CHECKSUM_OFFSET: u16 = 16;

impl Stack {
    /// Runs the connection timers due at `now`.
    pub(super) fn handle_tcp_timeouts(&mut self, now: Instant) {
        while let Some(&(t, index)) = self.tcp_timers.first() {
            if t > now {
                break;
            }
            self.tcp_timers.pop_first();
            if let Some(s) = self.slot_mut(index) {
                s.timer_at = None;
                if let Some(tcb) = s.tcb_mut() {
                    tcb.handle_timeout(now);
                }
            }
            self.touch(index);
        }
    }

    /// Connections waiting for `ip` to resolve go back to the transmit
    /// queue; when resolution failed, they are told the host is unreachable.
    pub(super) fn arp_resolved(&mut self, now: Instant, ip: std::net::Ipv4Addr, failed: bool) {
        let Some(waiters) = self.arp_waiters.remove(&ip) else {
            return;
        };
        for index in waiters {
            if failed && let Some(tcb) = self.slot_mut(index).and_then(|s| s.tcb_mut()) {
                tcb.handle_unreachable(now, crate::tcp::TcpError::HostUnreachable);
            }
            self.touch(index);
        }
    }

    /// Writes the next TCP segment of any connection into `buf` as a whole
    /// Ethernet frame.
    ///
    /// With offload, the frame starts with a virtio-net header: the TCP
    /// checksum is left partial for the device to complete (`NEEDS_CSUM`),
    /// and a segment larger than the MTU allows is marked for the device to
    /// cut at the TCB's MSS (`GSO_TCPV4`).
    pub(super) fn poll_tcp_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let offload = self.config.offload;
        let vnet = if offload { virtio_net::HEADER_LEN } else { 0 };
        let mtu = self.config.mtu;
        let max_ip = if offload { ipv4::MAX_PACKET_LEN } else { mtu };
        while let Some(&index) = self.tx_queue.front() {
            let Some(remote) = self
                .slot_mut(index)
                .and_then(|s| s.tcb())
                .map(|t| *t.tuple().remote.ip())
            else {
                self.tx_queue.pop_front();
                if let Some(s) = self.slot_mut(index) {
                    s.tx_queued = false;
                }
                continue;
            };
            // A segment to this host is framed as usual, then looped back.
            let local = self.is_local_addr(remote);
            let route = if local {
                Some((remote, Lookup::Found(self.config.mac)))
            } else {
                self.next_hop(remote)
                    .map(|hop| (hop, self.arp.lookup(now, hop)))
            };
            let mac = match route {
                Some((_, Lookup::Found(mac))) => mac,
                Some((hop, Lookup::Pending)) => {
                    // Nothing is lost: the segments stay in the TCB until
                    // the neighbour answers.
                    self.tx_queue.pop_front();
                    if let Some(s) = self.slot_mut(index) {
                        s.tx_queued = false;
                    }
                    self.arp_waiters.entry(hop).or_default().push(index);
                    continue;
                }
                None => {
                    self.tx_queue.pop_front();
                    if let Some(s) = self.slot_mut(index) {
                        s.tx_queued = false;
                        if let Some(tcb) = s.tcb_mut() {
                            tcb.handle_unreachable(now, crate::tcp::TcpError::NetworkUnreachable);
                        }
                    }
                    self.touch(index);
                    continue;
                }
            };
            let mut scratch = core::mem::take(&mut self.scratch);
            let our_mac = self.config.mac;
            let ident = self.ip_ident.wrapping_add(1);
            let sent = self.sockets[index as usize].socket.as_mut().and_then(|s| {
                let tos = s.options.tos & !0b11;
                let tcb = s.tcb_mut()?;
                let tuple = tcb.tuple();
                let seg = tcb.poll_transmit(now, &mut scratch)?;
                let tcp_len = seg.buffer_len();
                let ip_len = ipv4::HEADER_LEN + tcp_len;
                let frame_len = vnet + ethernet::HEADER_LEN + ip_len;
                if ip_len > max_ip || frame_len > buf.len() {
                    return Some(None);
                }
                let (head, buf) = buf.split_at_mut(vnet);
                if offload {
                    let l4_start = ethernet::HEADER_LEN + ipv4::HEADER_LEN;
                    let gso = ip_len > mtu;
                    VnetRepr {
                        flags: virtio_net::F_NEEDS_CSUM,
                        gso_type: if gso {
                            virtio_net::GSO_TCPV4
                        } else {
                            virtio_net::GSO_NONE
                        },
                        hdr_len: (l4_start + seg.header_len()) as u16,
                        gso_size: if gso {
                            tcb.tso_segment_size() as u16
                        } else {
                            0
                        },
                        csum_start: l4_start as u16,
                        csum_offset: TCP_CHECKSUM_OFFSET,
                    }
                    .emit(head);
                }
                let frame_len = frame_len - vnet;
                let mut eth = EthernetFrame::new_unchecked(&mut buf[..frame_len]);
                EthernetRepr {
                    src_addr: our_mac,
                    dst_addr: mac,
                    ethertype: EtherType::Ipv4,
                }
                .emit(&mut eth);
                let ip = Ipv4Repr {
                    src_addr: *tuple.local.ip(),
                    dst_addr: *tuple.remote.ip(),
                    protocol: PROTO_TCP,
                    payload_len: tcp_len,
                    ttl: DEFAULT_TTL,
                    ident,
                    dont_frag: true,
                    more_frags: false,
                    frag_offset: 0,
                    dscp_ecn: tos,
                };
                let mut packet = Ipv4Packet::new_unchecked(eth.payload_mut());
                ip.emit(&mut packet);
                let mut tcp = TcpPacket::new_unchecked(packet.payload_mut());
                if offload {
                    seg.emit_partial(&mut tcp, ip.src_addr, ip.dst_addr);
                } else {
                    seg.emit(&mut tcp, ip.src_addr, ip.dst_addr);
                }
                Some(Some(vnet + frame_len))
            });
            self.scratch = scratch;
            match sent {
                Some(Some(len)) => {
                    self.ip_ident = ident;
                    self.counters.tcp_tx += 1;
                    if local {
                        self.loop_back(&buf[vnet + ethernet::HEADER_LEN..len]);
                        continue;
                    }
                    self.counters.tx_frames += 1;
                    return Some(len);
                }
                Some(None) => {
                    // Larger than the MTU: a bug in segment sizing; drop it
                    // rather than send what the link cannot carry.
                    self.counters.tcp_tx_oversize += 1;
                }
                None => {
                    self.tx_queue.pop_front();
                    if let Some(s) = self.slot_mut(index) {
                        s.tx_queued = false;
                    }
                    self.update(index);
                }
            }
        }
        None
    }
}
