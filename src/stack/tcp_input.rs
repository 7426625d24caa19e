//! TCP demultiplexing (RFC 9293 §3.10.7): a segment goes to the connection
//! its 4-tuple names, else to a listener on its port, else it is answered
//! with a RST.

use super::Stack;
use super::socket::{Owner, Socket, SocketKind};
use super::trace::SegSummary;
use crate::tcp::{self, FourTuple, State, Tcb, TcpError, cookie};
use crate::time::Instant;
use crate::wire::icmpv4::unreachable;
use crate::wire::icmpv6::unreachable as unreachable6;
use crate::wire::tcp::{TcpFlags, TcpPacket, TcpRepr};
use std::net::{IpAddr, SocketAddr};

impl Stack {
    /// A TCP segment addressed to us (`dst`) from `src`, over IPv4 or
    /// IPv6: the checksum covers the pseudo-header of that family (RFC
    /// 9293 §3.1, RFC 8200 §8.1). `csum_trusted`: the link vouched for it.
    pub(super) fn handle_tcp(
        &mut self,
        now: Instant,
        src: IpAddr,
        dst: IpAddr,
        payload: &[u8],
        csum_trusted: bool,
    ) {
        let seg = match TcpPacket::new_checked(payload)
            .and_then(|p| TcpRepr::parse_with(&p, src, dst, !csum_trusted))
        {
            Ok(s) => s,
            Err(_) => {
                self.counters.drop_tcp_malformed += 1;
                return;
            }
        };
        self.counters.tcp_rx += 1;
        let tuple = FourTuple::new(
            SocketAddr::new(dst, seg.dst_port),
            SocketAddr::new(src, seg.src_port),
        );
        if self.tracer.on {
            self.trace_seg_in(now, tuple, &seg);
        }
        let listener = |st: &Stack| st.pick_listener(&tuple);
        let mut iss = None;
        if let Some(&index) = self.conns.get(&tuple) {
            // A new incarnation of a connection in TIME-WAIT: the old one
            // ends and the SYN goes to the listener, if there still is one
            // (Linux: TCP_TW_SYN; without a listener, TIME-WAIT answers).
            iss = self
                .time_wait_reopen(index, &seg)
                .filter(|_| listener(self).is_some());
            if iss.is_none() {
                self.connection_input(now, index, &seg);
                return;
            }
            self.counters.tcp_time_wait_reopened += 1;
            self.free_socket(index);
        }
        match listener(self) {
            Some(l) => self.listener_input(now, l, tuple, &seg, iss),
            None => self.send_rst_for(now, tuple, &seg),
        }
    }

    /// The ISS for a new incarnation if `seg` is a SYN that may end
    /// connection `index`'s TIME-WAIT ([`Tcb::time_wait_reopen`]). Only
    /// for connections the application has closed: one it still holds
    /// keeps its TIME-WAIT (and answers with an ACK).
    fn time_wait_reopen(&mut self, index: u32, seg: &TcpRepr) -> Option<crate::wire::SeqNum> {
        let sock = self.slot_mut(index)?;
        if sock.owner != Owner::Orphan {
            return None;
        }
        sock.tcb()?.time_wait_reopen(seg)
    }

    /// The listener for a connection request to `tuple.local`: one bound
    /// to that address or to a wildcard serving it (`0.0.0.0` for IPv4,
    /// `::` for IPv6, and for IPv4 too unless `IPV6_V6ONLY`: RFC 3493
    /// §3.7); among several (`SO_REUSEPORT`),
    /// one chosen by a hash of the peer's address and port, so that a
    /// peer's retransmitted SYN finds the same one.
    fn pick_listener(&self, tuple: &FourTuple) -> Option<u32> {
        let all = self.listeners.get(&tuple.local.port())?;
        let serves = |i: &&u32| match self.sockets[**i as usize].socket.as_ref() {
            Some(
                s @ Socket {
                    kind: SocketKind::Listener(l),
                    ..
                },
            ) => {
                super::table::addr_overlap(l.local.ip(), s.options.v6only, tuple.local.ip(), false)
            }
            _ => false,
        };
        let n = all.iter().filter(serves).count();
        if n == 0 {
            return None;
        }
        let ip = match tuple.remote.ip() {
            IpAddr::V4(a) => u32::from(a),
            IpAddr::V6(a) => a
                .segments()
                .iter()
                .fold(0u32, |h, &w| h.rotate_left(5) ^ u32::from(w)),
        };
        let h = ip ^ u32::from(tuple.remote.port()).rotate_left(16);
        all.iter().filter(serves).nth(h as usize % n).copied()
    }

    fn connection_input(&mut self, now: Instant, index: u32, seg: &TcpRepr) {
        let Some(sock) = self.slot_mut(index) else {
            return;
        };
        let owner = sock.owner;
        let Some((state, retransmits)) = sock.tcb().map(|t| (t.state(), t.retransmits())) else {
            return;
        };
        // An ACK that would complete a passive open (the listener's
        // connection in SYN-RECEIVED) may be dropped, leaving it there; our
        // SYN-ACK retransmission brings another ACK later.
        let completing = match owner {
            Owner::Listener {
                index: l,
                queued: false,
            } if state == State::SynReceived
                && seg.flags.contains(TcpFlags::ACK)
                && !seg.flags.contains(TcpFlags::RST)
                && !seg.flags.contains(TcpFlags::SYN) =>
            {
                Some(l)
            }
            _ => None,
        };
        if let Some(l) = completing {
            // While the accept queue is full (Linux, tcp_abort_on_overflow
            // = 0).
            if self.listener_accept_full(l) {
                self.counters.tcp_accept_queue_overflow += 1;
                let tuple = tuple_of(seg, index, self);
                self.trace_stack(now, tuple, "accept queue full: ACK dropped");
                return;
            }
            // TCP_DEFER_ACCEPT: a bare ACK, while the deferral lasts; the
            // client, connected in its own view, sends its request, and
            // that segment completes the handshake (Linux does the same).
            let bare = seg.payload.is_empty() && !seg.flags.contains(TcpFlags::FIN);
            if bare && retransmits < u32::from(self.listener_defer_accept(l)) {
                self.counters.tcp_defer_accept_drop += 1;
                return;
            }
        }
        // An ACK still owed from an earlier segment of this batch goes
        // first, with the ACK number and SACK blocks of its moment.
        if !seg.payload.is_empty() || seg.flags.contains(TcpFlags::FIN) {
            self.send_owed_ack(now, index);
        }
        // RFC 5961 §7: the host's challenge-ACK budget, spent by the TCB.
        let allowed = self.challenge_limit.allows(now);
        let Some(tcb) = self.slot_mut(index).and_then(|s| s.tcb_mut()) else {
            return;
        };
        tcb.set_challenge_ack_allowed(allowed);
        let held = tcb.ack_held();
        tcb.handle_segment(now, seg);
        if !held && tcb.ack_held() {
            self.note_held_ack(index);
        }
        let Some(tcb) = self.slot_mut(index).and_then(|s| s.tcb_mut()) else {
            return;
        };
        let ev = tcb.take_ack_events();
        self.trace_tcb(now, index);
        if ev.challenge_sent > 0 {
            self.challenge_limit.consume();
        }
        let c = &mut self.counters;
        c.tcp_challenge_acks += u64::from(ev.challenge_sent);
        c.tcp_challenge_ack_limited_conn += u64::from(ev.challenge_limited_conn);
        c.tcp_challenge_ack_limited_host += u64::from(ev.challenge_limited_host);
        c.tcp_oow_ack_limited += u64::from(ev.oow_limited);
        self.touch(index);
    }

    fn cookies_recently_sent(&mut self, now: Instant, l: u32) -> bool {
        match self.slot_mut(l).map(|s| &s.kind) {
            Some(SocketKind::Listener(li)) => li.cookies_recently_sent(now),
            _ => false,
        }
    }

    fn listener_defer_accept(&mut self, l: u32) -> u8 {
        self.slot_mut(l).map_or(0, |s| s.options.defer_accept)
    }

    fn listener_accept_full(&mut self, l: u32) -> bool {
        match self.slot_mut(l).map(|s| &s.kind) {
            Some(SocketKind::Listener(li)) => li.accept_queue_full(),
            _ => false,
        }
    }

    /// RFC 9293 §3.10.7.2, LISTEN state: ignore RST, answer an ACK with a
    /// RST unless it returns a valid SYN cookie (checked only while a
    /// cookie may be out, [`super::socket::Listener::cookies_recently_sent`]),
    /// and open a half-open
    /// connection for a SYN when the queues have room, or answer it with a
    /// SYN cookie when only the SYN queue is full (see [`super::socket`]).
    ///
    /// `iss`: the initial sequence number to use instead of RFC 6528's,
    /// for a new incarnation of a connection that was in TIME-WAIT.
    fn listener_input(
        &mut self,
        now: Instant,
        l: u32,
        tuple: FourTuple,
        seg: &TcpRepr,
        iss: Option<crate::wire::SeqNum>,
    ) {
        let f = seg.flags;
        if f.contains(TcpFlags::RST) {
            return;
        }
        if f.contains(TcpFlags::ACK) {
            if !f.contains(TcpFlags::SYN)
                && self.cookies_recently_sent(now, l)
                && self.cookie_ack(now, l, tuple, seg)
            {
                return;
            }
            self.send_rst_for(now, tuple, seg);
            return;
        }
        if !f.contains(TcpFlags::SYN) || f.contains(TcpFlags::FIN) {
            return;
        }
        let Some(Socket {
            kind: SocketKind::Listener(li),
            options,
            ..
        }) = self.slot_mut(l)
        else {
            return;
        };
        if li.accept_queue_full() {
            self.counters.tcp_accept_queue_overflow += 1;
            self.trace_stack(now, tuple, "accept queue full: SYN dropped");
            return;
        }
        let syn_queue_full = li.syn_queue_full();
        if syn_queue_full {
            li.last_overflow = Some(now);
        } else {
            li.syn_queue += 1;
        }
        let options = *options;
        let config = self.conn_config(now, &options, &tuple);
        if syn_queue_full {
            self.send_syn_cookie(now, tuple, seg, config);
            return;
        }
        let iss = iss.unwrap_or_else(|| tcp::isn::isn(self.isn_secret, now, &tuple));
        let Some(tcb) = Tcb::accept_syn(now, tuple, iss, seg, config) else {
            if let Some(SocketKind::Listener(li)) = self.slot_mut(l).map(|s| &mut s.kind) {
                li.syn_queue -= 1;
            }
            return;
        };
        let mut sock = Socket::new();
        sock.kind = SocketKind::Tcp(Box::new(tcb));
        sock.owner = Owner::Listener {
            index: l,
            queued: false,
        };
        sock.options = options;
        let h = self.alloc_socket(sock);
        self.hold_port(tuple.local.port(), h.index);
        self.conns.insert(tuple, h.index);
        self.counters.tcp_passive_opens += 1;
        self.touch(h.index);
    }

    /// The SYN queue is full: answer `syn` with a SYN-ACK whose ISN is a
    /// SYN cookie, and keep nothing (Linux, `tcp_syncookies = 1`).
    fn send_syn_cookie(
        &mut self,
        now: Instant,
        tuple: FourTuple,
        syn: &TcpRepr,
        config: tcp::TcpConfig,
    ) {
        let index = cookie::mss_index(syn.options.mss);
        let iss = cookie::encode(self.isn_secret, now, &tuple, syn.seq, index);
        let Some(reply) = Tcb::syn_cookie_reply(now, tuple, iss, syn, config) else {
            return;
        };
        if self.send_stateless(now, tuple, &reply) {
            self.counters.tcp_tx += 1;
            self.counters.tcp_syncookies_sent += 1;
            self.trace_stack(now, tuple, "SYN queue full: sent SYN cookie");
        }
    }

    /// An ACK for no connection on listener `l`: if it returns a valid SYN
    /// cookie, the connection is made, ESTABLISHED, straight into the
    /// accept queue; when that queue is full the ACK is dropped, as in
    /// Linux. Returns false when `seg` carries no valid cookie.
    fn cookie_ack(&mut self, now: Instant, l: u32, tuple: FourTuple, seg: &TcpRepr) -> bool {
        let cookie = seg.ack - 1u32;
        let Some(mss) = cookie::validate(self.isn_secret, now, &tuple, seg.seq - 1u32, cookie)
        else {
            self.counters.tcp_syncookies_failed += 1;
            self.trace_stack(now, tuple, "ACK with a bad SYN cookie");
            return false;
        };
        let Some(Socket {
            kind: SocketKind::Listener(li),
            options,
            ..
        }) = self.slot_mut(l)
        else {
            return false;
        };
        if li.accept_queue_full() {
            self.counters.tcp_accept_queue_overflow += 1;
            self.trace_stack(now, tuple, "accept queue full: cookie ACK dropped");
            return true;
        }
        let options = *options;
        let config = self.conn_config(now, &options, &tuple);
        let Some(tcb) = Tcb::establish_from_cookie(now, tuple, cookie, seg, mss, config) else {
            return false;
        };
        self.counters.tcp_syncookies_validated += 1;
        self.trace_stack(now, tuple, "accepted SYN cookie");
        let mut sock = Socket::new();
        sock.kind = SocketKind::Tcp(Box::new(tcb));
        sock.owner = Owner::Listener {
            index: l,
            queued: true,
        };
        sock.options = options;
        let h = self.alloc_socket(sock);
        if let Some(SocketKind::Listener(li)) = self.slot_mut(l).map(|s| &mut s.kind) {
            li.accept_queue.push_back(h);
        }
        self.hold_port(tuple.local.port(), h.index);
        self.conns.insert(tuple, h.index);
        self.counters.tcp_passive_opens += 1;
        self.touch(h.index);
        self.mark_dirty(l);
        true
    }

    /// Answers a segment for which no connection exists (RFC 9293
    /// §3.10.7.1). The RST goes out through the normal IP path.
    fn send_rst_for(&mut self, now: Instant, tuple: FourTuple, seg: &TcpRepr) {
        let Some(rst) = tcp::rst_for(seg) else {
            return;
        };
        if self.send_stateless(now, tuple, &rst) {
            self.counters.tcp_tx_rst_no_socket += 1;
            self.trace_stack(now, tuple, "sent RST: no connection or listener");
            let win = u32::from(rst.window);
            self.trace_seg(now, tuple, SegSummary::new(&rst, true, win));
        }
    }

    /// Sends a segment that belongs to no connection (a RST, a SYN cookie's
    /// SYN-ACK) through the normal IP path; true when it went out or waits
    /// for ARP.
    fn send_stateless(&mut self, now: Instant, tuple: FourTuple, seg: &TcpRepr) -> bool {
        let mut buf = vec![0u8; seg.buffer_len()];
        let (src, dst) = (tuple.local.ip(), tuple.remote.ip());
        seg.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), src, dst);
        let proto = crate::wire::checksum::PROTO_TCP;
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => self.send_ip_from(now, s, d, proto, &buf).is_ok(),
            (IpAddr::V6(s), IpAddr::V6(d)) => self.send_ip6_from(now, s, d, proto, &buf),
            _ => false,
        }
    }

    /// The configuration of a new connection on `tuple` with `options`:
    /// its TSval offset (RFC 7323 §5.4), and for IPv6 an MSS that fits the
    /// path MTU less the IPv6 and TCP headers (RFC 8200 §5, RFC 9293
    /// §3.7.1: 1500 - 40 - 20 = 1440 on Ethernet), lowered by a Packet Too
    /// Big (RFC 8201) for both what we offer and what we send.
    pub(super) fn conn_config(
        &self,
        now: Instant,
        options: &super::socket::SocketOptions,
        tuple: &FourTuple,
    ) -> tcp::TcpConfig {
        let mut config = options.apply(&self.tcp_defaults);
        config.ts_offset = tcp::isn::ts_offset(self.isn_secret, tuple);
        if let IpAddr::V6(remote) = tuple.remote.ip() {
            let mtu = if remote.is_loopback() || self.ip6.is_ours(remote) {
                self.config.mtu
            } else {
                self.path_mtu6(now, remote)
            };
            let most =
                mtu.saturating_sub(crate::wire::ipv6::HEADER_LEN + crate::wire::tcp::HEADER_LEN);
            config.mss = config.mss.min(most.min(usize::from(u16::MAX)) as u16);
        }
        config
    }

    /// An ICMP destination unreachable naming one of our connections (RFC
    /// 1122 §4.2.3.9, RFC 5927): hard errors abort a connection that is
    /// still opening; on an established one they are soft, as in Linux.
    ///
    /// `seq` is the sequence number of the TCP header the error quotes. It
    /// must name data we sent and that is not yet acknowledged (RFC 5927
    /// §4.1, [`Tcb::icmp_seq_acceptable`]), in every state; otherwise the
    /// error is ignored and counted (`icmp_tcp_out_of_window`, Linux's
    /// `OutOfWindowIcmps`): a blind attacker who knows only the addresses
    /// and ports can no longer kill a connection that is opening.
    ///
    /// `error`: what the message means for the connection (None: nothing,
    /// as for "fragmentation needed").
    pub(super) fn tcp_icmp_error(
        &mut self,
        now: Instant,
        tuple: FourTuple,
        seq: crate::wire::SeqNum,
        error: Option<TcpError>,
    ) {
        let Some(&index) = self.conns.get(&tuple) else {
            return;
        };
        let acceptable = self
            .slot_mut(index)
            .and_then(|s| s.tcb())
            .is_some_and(|t| t.icmp_seq_acceptable(seq));
        if !acceptable {
            self.counters.icmp_tcp_out_of_window += 1;
            return;
        }
        let Some(error) = error else {
            return;
        };
        self.counters.icmp_errors_to_tcp += 1;
        if let Some(tcb) = self.slot_mut(index).and_then(|s| s.tcb_mut()) {
            tcb.handle_unreachable(now, error);
        }
        self.touch(index);
    }
}

/// What an ICMP destination unreachable `code` means for a connection
/// (RFC 1122 §4.2.3.9; the errno Linux's `icmp_err_convert` gives).
pub(super) fn icmp4_error(code: u8) -> Option<TcpError> {
    Some(match code {
        unreachable::NET => TcpError::NetworkUnreachable,
        unreachable::PORT | unreachable::PROTOCOL => TcpError::ConnectionRefused,
        unreachable::FRAG_NEEDED => return None,
        _ => TcpError::HostUnreachable,
    })
}

/// What an ICMPv6 destination unreachable `code` (RFC 4443 §3.1) means
/// for a connection (Linux's `icmpv6_err_convert`): no route is
/// `ENETUNREACH`, port unreachable `ECONNREFUSED`, the rest (address
/// unreachable, beyond scope, prohibited, ...) `EHOSTUNREACH`.
pub(super) fn icmp6_error(code: u8) -> Option<TcpError> {
    Some(match code {
        unreachable6::NO_ROUTE => TcpError::NetworkUnreachable,
        unreachable6::PORT => TcpError::ConnectionRefused,
        _ => TcpError::HostUnreachable,
    })
}

/// The 4-tuple of connection `index` (for a trace note), or the one
/// `seg` names when the slot is gone.
fn tuple_of(seg: &TcpRepr, index: u32, st: &mut Stack) -> FourTuple {
    st.slot_mut(index)
        .and_then(|s| s.tcb())
        .map(|t| t.tuple())
        .unwrap_or(FourTuple::new(
            SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), seg.dst_port),
            SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), seg.src_port),
        ))
}

impl Stack {
    /// Records an incoming segment, its window scaled as its connection
    /// scales it.
    fn trace_seg_in(&mut self, now: Instant, tuple: FourTuple, seg: &TcpRepr) {
        let index = self.conns.get(&tuple).copied();
        if let Some(i) = index {
            // What user calls recorded since (a close), before the segment.
            self.trace_tcb(now, i);
        }
        let win = index
            .and_then(|i| self.slot_mut(i))
            .and_then(|s| s.tcb())
            .map_or(u32::from(seg.window), |t| t.segment_window(seg, true));
        self.trace_seg(now, tuple, SegSummary::new(seg, false, win));
    }
}
