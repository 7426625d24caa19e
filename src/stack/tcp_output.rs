//! TCP output and timers: connections with something to send are polled
//! in turn; each segment is framed once its next hop is resolved, through
//! the stack's one egress path (`ipv4.rs`: `route`, `ip_header`,
//! `emit_ip_frame`).

use super::Stack;
use super::ipv4::NextHop;
use super::ipv6::NextHop6;
use super::trace::SegSummary;
use crate::tcp::FourTuple;
use crate::time::Instant;
use crate::wire::checksum::PROTO_TCP;
use crate::wire::ethernet::{self, EthernetAddress};
use crate::wire::ipv4;
use crate::wire::ipv6::{self, Ipv6Repr};
use crate::wire::tcp::{TcpPacket, TcpRepr};
use crate::wire::virtio_net::{self, VnetRepr};
use std::net::{IpAddr, Ipv6Addr};

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
            self.trace_tcb(now, index);
            self.touch(index);
        }
    }

    /// Connections waiting for `ip` to resolve go back to the transmit
    /// queue; when resolution failed, they are told the host is unreachable.
    pub(super) fn arp_resolved(&mut self, now: Instant, ip: IpAddr, failed: bool) {
        let Some(waiters) = self.arp_waiters.remove(&ip) else {
            return;
        };
        for index in waiters {
            if failed && let Some(tcb) = self.slot_mut(index).and_then(|s| s.tcb_mut()) {
                let tuple = tcb.tuple();
                tcb.handle_unreachable(now, crate::tcp::TcpError::HostUnreachable);
                self.trace_stack(now, tuple, "ARP failed: host unreachable");
                self.trace_tcb(now, index);
            }
            self.touch(index);
        }
    }

    /// A Packet Too Big lowered the path MTU to `dst` (RFC 8201 §5.4): the
    /// connections to it send smaller segments from now on.
    pub(super) fn tcp_path_mtu6(&mut self, now: Instant, dst: Ipv6Addr) {
        let mtu = self.path_mtu6(now, dst);
        let mss = mtu.saturating_sub(ipv6::HEADER_LEN + crate::wire::tcp::HEADER_LEN);
        let mss = mss.min(usize::from(u16::MAX)) as u16;
        let to_dst: Vec<u32> = self
            .conns
            .iter()
            .filter(|(t, _)| t.remote.ip() == IpAddr::V6(dst))
            .map(|(_, &i)| i)
            .collect();
        for index in to_dst {
            if let Some(tcb) = self.slot_mut(index).and_then(|s| s.tcb_mut()) {
                tcb.clamp_snd_mss(mss);
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
    /// cut at the TCB's MSS (`GSO_TCPV4`, or `GSO_TCPV6`).
    pub(super) fn poll_tcp_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let vnet = if self.config.offload {
            virtio_net::HEADER_LEN
        } else {
            0
        };
        while let Some(&index) = self.tx_queue.front() {
            let Some(remote) = self
                .slot_mut(index)
                .and_then(|s| s.tcb())
                .map(|t| t.tuple().remote.ip())
            else {
                self.tx_dequeue(index);
                continue;
            };
            // A segment to this host is framed as usual, then looped back.
            let hop = match remote {
                IpAddr::V4(r) => match self.route(now, r) {
                    Ok(NextHop::Local) => Ok((self.config.mac, true)),
                    Ok(NextHop::Resolved(mac)) => Ok((mac, false)),
                    Ok(NextHop::Pending(hop)) => Err(Some(IpAddr::V4(hop))),
                    Err(_) => Err(None),
                },
                IpAddr::V6(r) if r.is_loopback() || self.ip6.is_ours(r) => {
                    Ok((self.config.mac, true))
                }
                IpAddr::V6(r) => match self.route6(now, r) {
                    Ok(NextHop6::Resolved(mac)) => Ok((mac, false)),
                    Ok(NextHop6::Pending(hop)) => Err(Some(IpAddr::V6(hop))),
                    Err(_) => Err(None),
                },
            };
            let (mac, local) = match hop {
                Ok(h) => h,
                Err(Some(hop)) => {
                    // Nothing is lost: the segments stay in the TCB until
                    // the neighbour answers.
                    self.tx_dequeue(index);
                    self.arp_waiters.entry(hop).or_default().push(index);
                    continue;
                }
                Err(None) => {
                    self.tx_dequeue(index);
                    if let Some(tcb) = self.slot_mut(index).and_then(|s| s.tcb_mut()) {
                        tcb.handle_unreachable(now, crate::tcp::TcpError::NetworkUnreachable);
                    }
                    self.trace_tcb(now, index);
                    self.touch(index);
                    continue;
                }
            };
            // What user calls (close, shutdown) recorded since the last turn.
            self.trace_tcb(now, index);
            let mut scratch = core::mem::take(&mut self.scratch);
            let tracing = self.tracer.on;
            let polled = self.sockets[index as usize].socket.as_mut().and_then(|s| {
                let tos = s.options.tos & !0b11;
                let tcb = s.tcb_mut()?;
                let tuple = tcb.tuple();
                let seg = tcb.poll_transmit(now, &mut scratch)?;
                let win = tracing.then(|| tcb.segment_window(&seg, false));
                Some((seg, tuple, tos, tcb.tso_segment_size(), win))
            });
            let Some((seg, tuple, tos, gso_size, win)) = polled else {
                self.scratch = scratch;
                self.tx_dequeue(index);
                self.update(index);
                continue;
            };
            if let Some(win) = win {
                let summary = SegSummary::new(&seg, true, win);
                self.trace_seg(now, tuple, summary);
            }
            let framed = self.frame_segment(buf, mac, &seg, tuple, tos, gso_size, false);
            self.scratch = scratch;
            let Some(frame_len) = framed else {
                // Larger than the MTU: a bug in segment sizing; drop it
                // rather than send what the link cannot carry.
                self.counters.tcp_tx_oversize += 1;
                continue;
            };
            self.counters.tcp_tx += 1;
            if local {
                self.loop_back(&buf[vnet + ethernet::HEADER_LEN..frame_len]);
                continue;
            }
            self.counters.tx_frames += 1;
            return Some(frame_len);
        }
        None
    }

    /// Sends the ACK connection `index` owes now ([`crate::tcp::Tcb::poll_ack`])
    /// as a frame of its own, queued ahead of what the connection sends
    /// after the batch: called before a data segment reaches a connection
    /// that already owes an ACK, so that a batch of frames read from the
    /// device gets an ACK every second segment and one for each
    /// out-of-order segment (RFC 5681 §4.2), each with the SACK blocks of
    /// its moment, as a stack that handles one frame at a time sends them.
    /// Only for a resolved next hop; otherwise the ACK stays owed.
    pub(super) fn send_owed_ack(&mut self, now: Instant, index: u32) {
        let Some(remote) = self
            .slot_mut(index)
            .and_then(|s| s.tcb())
            .filter(|t| t.ack_owed())
            .map(|t| t.tuple().remote.ip())
        else {
            return;
        };
        let mac = match remote {
            IpAddr::V4(r) => match self.route(now, r) {
                Ok(NextHop::Resolved(mac)) => mac,
                _ => return,
            },
            IpAddr::V6(r) if r.is_loopback() || self.ip6.is_ours(r) => return,
            IpAddr::V6(r) => match self.route6(now, r) {
                Ok(NextHop6::Resolved(mac)) => mac,
                _ => return,
            },
        };
        let tracing = self.tracer.on;
        let polled = self.sockets[index as usize].socket.as_mut().and_then(|s| {
            let tos = s.options.tos & !0b11;
            let tcb = s.tcb_mut()?;
            let tuple = tcb.tuple();
            let seg = tcb.poll_ack(now)?;
            let win = tracing.then(|| tcb.segment_window(&seg, false));
            Some((seg, tuple, tos, win))
        });
        let Some((seg, tuple, tos, win)) = polled else {
            return;
        };
        if let Some(win) = win {
            let summary = SegSummary::new(&seg, true, win);
            self.trace_seg(now, tuple, summary);
        }
        let mut frame = vec![0u8; ethernet::HEADER_LEN + ipv6::HEADER_LEN + seg.buffer_len()];
        if let Some(len) = self.frame_segment(&mut frame, mac, &seg, tuple, tos, 0, true) {
            frame.truncate(len);
            self.counters.tcp_tx += 1;
            self.queue_frame(frame);
        }
    }

    /// Frames `seg` of connection `tuple` to `mac` in `buf` (after a
    /// virtio-net header when offloading) and returns the length, or `None`
    /// when it does not fit: `buf`, or the MTU (64 KiB with offload).
    /// `plain`: a frame for the stack's frame queue, which goes out with an
    /// empty virtio-net header: none here, the checksum whole, the MTU's size.
    #[allow(clippy::too_many_arguments)]
    fn frame_segment(
        &mut self,
        buf: &mut [u8],
        mac: EthernetAddress,
        seg: &TcpRepr,
        tuple: FourTuple,
        tos: u8,
        gso_size: usize,
        plain: bool,
    ) -> Option<usize> {
        let offload = self.config.offload && !plain;
        let vnet = if offload { virtio_net::HEADER_LEN } else { 0 };
        let mtu = self.config.mtu;
        let v6 = tuple.is_ipv6();
        let (ip_header_len, max_ip, gso_type) = if v6 {
            // RFC 8200 §3: the payload length field counts what follows
            // the 40-byte header.
            let max = if offload {
                ipv6::HEADER_LEN + usize::from(u16::MAX)
            } else {
                mtu
            };
            (ipv6::HEADER_LEN, max, virtio_net::GSO_TCPV6)
        } else {
            let max = if offload { ipv4::MAX_PACKET_LEN } else { mtu };
            (ipv4::HEADER_LEN, max, virtio_net::GSO_TCPV4)
        };
        let tcp_len = seg.buffer_len();
        let ip_len = ip_header_len + tcp_len;
        let frame_len = vnet + ethernet::HEADER_LEN + ip_len;
        if ip_len > max_ip || frame_len > buf.len() {
            return None;
        }
        let (head, frame) = buf.split_at_mut(vnet);
        if offload {
            let l4_start = ethernet::HEADER_LEN + ip_header_len;
            let gso = ip_len > mtu;
            VnetRepr {
                flags: virtio_net::F_NEEDS_CSUM,
                gso_type: if gso { gso_type } else { virtio_net::GSO_NONE },
                hdr_len: (l4_start + seg.header_len()) as u16,
                gso_size: if gso { gso_size as u16 } else { 0 },
                csum_start: l4_start as u16,
                csum_offset: TCP_CHECKSUM_OFFSET,
            }
            .emit(head);
        }
        let (src, dst) = (tuple.local.ip(), tuple.remote.ip());
        let room = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let ip = self.ip_header(s, d, PROTO_TCP, tcp_len, true, tos);
                self.emit_ip_frame(frame, mac, &ip)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                // RFC 8200 §7: the traffic class carries the DSCP bits as
                // IPv4's TOS does.
                let ip = Ipv6Repr {
                    src_addr: s,
                    dst_addr: d,
                    next_header: ipv6::next_header::TCP,
                    payload_len: tcp_len,
                    hop_limit: ipv6::DEFAULT_HOP_LIMIT,
                    traffic_class: tos,
                    flow_label: 0,
                };
                self.counters.ip6_tx += 1;
                self.emit_ipv6_frame(frame, mac, &ip)
            }
            _ => return None,
        };
        let mut tcp = TcpPacket::new_unchecked(room);
        if offload {
            seg.emit_partial(&mut tcp, src, dst);
        } else {
            seg.emit(&mut tcp, src, dst);
        }
        Some(frame_len)
    }

    /// Takes connection `index` off the front of the transmit queue: it has
    /// nothing to send, or waits for its next hop.
    fn tx_dequeue(&mut self, index: u32) {
        self.tx_queue.pop_front();
        if let Some(s) = self.slot_mut(index) {
            s.tx_queued = false;
        }
    }
}
