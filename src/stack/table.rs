//! Bookkeeping of the socket table: slots and generations, the port table,
//! per-socket timers, the transmit queue, dirty marks and reaping.
//!
//! After anything happens to a connection (a segment, a timeout, an
//! application call), [`Stack::touch`] runs: it marks the socket dirty (so
//! waiters are woken), queues it for transmission, re-registers its next
//! deadline, moves a connection that just finished its handshake from the
//! listener's SYN queue to its accept queue, and reaps what is finished.

use super::Stack;
use super::socket::{Owner, Slot, Socket, SocketError, SocketHandle, SocketKind};
use crate::tcp::State;
use std::net::{IpAddr, SocketAddr};

/// Connections kept in TIME-WAIT at most (Linux's `tcp_max_tw_buckets`
/// default). Beyond it, a connection that enters TIME-WAIT is dropped at
/// once, as Linux does when its table overflows ("time wait bucket table
/// overflow"): a client churning connections cannot grow memory without
/// bound for the 60 s each would otherwise wait.
pub const MAX_TIME_WAIT: usize = 262_144;

/// Bytes of the scratch a TCB copies a segment's payload into: the
/// largest TSO segment.
pub(super) const SCRATCH_LEN: usize = 65536;

/// Linux's default `ip_local_port_range`.
pub const EPHEMERAL_PORTS: core::ops::RangeInclusive<u16> = 32768..=60999;

impl Stack {
    /// Puts `socket` in a free slot.
    pub(super) fn alloc_socket(&mut self, socket: Socket) -> SocketHandle {
        if let Some(index) = self.free_slots.pop() {
            let slot = &mut self.sockets[index as usize];
            slot.socket = Some(socket);
            SocketHandle {
                index,
                generation: slot.generation,
            }
        } else {
            let index = self.sockets.len() as u32;
            self.sockets.push(Slot {
                generation: 0,
                socket: Some(socket),
            });
            SocketHandle {
                index,
                generation: 0,
            }
        }
    }

    /// The socket behind a handle, if the handle is current.
    pub(super) fn sock(&self, h: SocketHandle) -> Result<&Socket, SocketError> {
        match self.sockets.get(h.index as usize) {
            Some(Slot {
                generation,
                socket: Some(s),
            }) if *generation == h.generation => Ok(s),
            _ => Err(SocketError::BadHandle),
        }
    }

    /// The socket behind a handle, mutable.
    pub(super) fn sock_mut(&mut self, h: SocketHandle) -> Result<&mut Socket, SocketError> {
        match self.sockets.get_mut(h.index as usize) {
            Some(Slot {
                generation,
                socket: Some(s),
            }) if *generation == h.generation => Ok(s),
            _ => Err(SocketError::BadHandle),
        }
    }

    /// The socket in slot `index`.
    pub(super) fn slot_mut(&mut self, index: u32) -> Option<&mut Socket> {
        self.sockets
            .get_mut(index as usize)
            .and_then(|s| s.socket.as_mut())
    }

    /// The current handle of slot `index`.
    pub(super) fn handle_of(&self, index: u32) -> SocketHandle {
        SocketHandle {
            index,
            generation: self.sockets[index as usize].generation,
        }
    }

    /// Frees a slot: its port, its connection entry and its timer go too.
    pub(super) fn free_socket(&mut self, index: u32) {
        let Some(slot) = self.sockets.get_mut(index as usize) else {
            return;
        };
        let Some(sock) = slot.socket.take() else {
            return;
        };
        if sock.in_time_wait {
            self.time_wait_count -= 1;
        }
        let old = SocketHandle {
            index,
            generation: slot.generation,
        };
        slot.generation = slot.generation.wrapping_add(1);
        // Wake anyone still waiting on it; they will find a stale handle.
        self.freed_waits.push((old, sock.wait.clone()));
        if let Some(t) = sock.timer_at {
            self.tcp_timers.remove(&(t, index));
        }
        if let Some(tuple) = sock.tuple()
            && self.conns.get(&tuple) == Some(&index)
        {
            self.conns.remove(&tuple);
        }
        if let SocketKind::Listener(l) = &sock.kind
            && let Some(v) = self.listeners.get_mut(&l.local.port())
        {
            v.retain(|&i| i != index);
            if v.is_empty() {
                self.listeners.remove(&l.local.port());
            }
        }
        if let Some(port) = sock.port {
            self.release_port(port, index);
        }
        self.free_slots.push(index);
    }

    /// Records that slot `index` uses `port`.
    pub(super) fn hold_port(&mut self, port: u16, index: u32) {
        self.ports.entry(port).or_default().insert(index);
        if let Some(s) = self.slot_mut(index) {
            s.port = Some(port);
        }
    }

    fn release_port(&mut self, port: u16, index: u32) {
        if let Some(v) = self.ports.get_mut(&port) {
            v.remove(&index);
            if v.is_empty() {
                self.ports.remove(&port);
            }
        }
    }

    /// Whether binding `addr` with `reuse_addr`/`reuse_port` conflicts
    /// with a socket that holds its port on an overlapping address (Linux's
    /// `inet_bind_conflict`): `SO_REUSEADDR` on both sides allows sharing unless
    /// the holder is listening; `SO_REUSEPORT` on both sides always allows
    /// it; a connection in TIME-WAIT never blocks a `SO_REUSEADDR` bind.
    pub(super) fn port_conflicts(
        &self,
        addr: SocketAddr,
        v6only: bool,
        reuse_addr: bool,
        reuse_port: bool,
    ) -> bool {
        let Some(users) = self.ports.get(&addr.port()) else {
            return false;
        };
        users.iter().any(|&i| {
            let Some(s) = self.sockets[i as usize].socket.as_ref() else {
                return false;
            };
            // Two distinct local addresses never overlap (127.0.0.1 and
            // ours); a wildcard overlaps every address it serves.
            let theirs = match &s.kind {
                SocketKind::Idle { bound } => bound.map(|a| a.ip()),
                SocketKind::Listener(l) => Some(l.local.ip()),
                SocketKind::Tcp(t) => Some(t.tuple().local.ip()),
            };
            if let Some(ip) = theirs
                && !addr_overlap(ip, s.options.v6only, addr.ip(), v6only)
            {
                return false;
            }
            if reuse_port && s.options.reuse_port {
                return false;
            }
            let listening = matches!(s.kind, SocketKind::Listener(_));
            let time_wait = s.tcb().is_some_and(|t| t.state() == State::TimeWait);
            let closed = s.tcb().is_some_and(|t| t.state() == State::Closed);
            if closed {
                return false;
            }
            if reuse_addr && (time_wait || (s.options.reuse_addr && !listening)) {
                return false;
            }
            true
        })
    }

    /// A free ephemeral port (RFC 6056 §3.3.1's simple hash-based choice:
    /// start at a keyed offset, then probe sequentially).
    pub(super) fn ephemeral_port(&mut self) -> Option<u16> {
        let lo = u32::from(*EPHEMERAL_PORTS.start());
        let n = u32::from(*EPHEMERAL_PORTS.end()) - lo + 1;
        for _ in 0..n {
            self.ephemeral_next = self.ephemeral_next.wrapping_add(1);
            let port = (lo + (self.ephemeral_next % n)) as u16;
            if !self.ports.contains_key(&port) {
                return Some(port);
            }
        }
        None
    }

    /// Wakes every socket's waiters once (spurious wakeups, which every
    /// waiter tolerates): for a process that died, which may have taken
    /// wakeups from the stack and not delivered them yet.
    pub fn wake_all(&mut self) {
        for index in 0..self.sockets.len() as u32 {
            self.mark_dirty(index);
        }
    }

    /// Marks the socket's readiness as possibly changed.
    pub(super) fn mark_dirty(&mut self, index: u32) {
        let generation = self.sockets[index as usize].generation;
        if let Some(s) = self.slot_mut(index)
            && !s.dirty
        {
            s.dirty = true;
            self.dirty.push(super::SocketHandle { index, generation });
        }
    }

    /// After anything happened to connection `index`: see the module
    /// documentation.
    pub(super) fn touch(&mut self, index: u32) {
        self.mark_dirty(index);
        self.queue_output(index);
    }

    /// Connection `index` has a segment to send and its readiness did not
    /// change (its waiters are not woken): on the transmit queue, its
    /// timer registered again.
    pub(super) fn queue_output(&mut self, index: u32) {
        if let Some(s) = self.slot_mut(index)
            && !s.tx_queued
            && s.tcb().is_some()
        {
            s.tx_queued = true;
            self.tx_queue.push_back(index);
        }
        self.update(index);
    }

    /// Re-registers the connection's timer, moves it from the SYN queue to
    /// the accept queue when its handshake completed, and reaps it when it
    /// is finished and nobody holds it.
    pub(super) fn update(&mut self, index: u32) {
        let Some(s) = self.slot_mut(index) else {
            return;
        };
        let Some(tcb) = s.tcb() else {
            return;
        };
        let state = tcb.state();
        let deadline = tcb.poll_timeout();
        let reapable = tcb.is_reapable();
        let tuple = tcb.tuple();
        let owner = s.owner;
        let old_timer = s.timer_at;
        if old_timer != deadline {
            s.timer_at = deadline;
            if let Some(t) = old_timer {
                self.tcp_timers.remove(&(t, index));
            }
            if let Some(t) = deadline {
                self.tcp_timers.insert((t, index));
            }
        }
        if state == State::Closed && self.conns.get(&tuple) == Some(&index) {
            self.conns.remove(&tuple);
        }
        if state == State::TimeWait
            && !self.sockets[index as usize]
                .socket
                .as_ref()
                .is_some_and(|s| s.in_time_wait)
        {
            if self.time_wait_count >= self.max_time_wait && owner == Owner::Orphan {
                self.counters.tcp_time_wait_overflow += 1;
                self.free_socket(index);
                return;
            }
            self.time_wait_count += 1;
            if let Some(s) = self.slot_mut(index) {
                s.in_time_wait = true;
            }
        }
        match owner {
            Owner::Listener {
                index: l,
                queued: false,
            } => {
                if state == State::Closed {
                    // A half-open connection died (RST, or SYN-ACK retries
                    // exhausted): it leaves the SYN queue.
                    self.listener_syn_queue_dec(l);
                    if let Some(s) = self.slot_mut(index) {
                        s.owner = Owner::Orphan;
                    }
                    if reapable {
                        self.free_socket(index);
                    }
                } else if state != State::SynReceived {
                    let h = self.handle_of(index);
                    if let Some(SocketKind::Listener(li)) = self.slot_mut(l).map(|s| &mut s.kind) {
                        li.syn_queue = li.syn_queue.saturating_sub(1);
                        li.accept_queue.push_back(h);
                    }
                    if let Some(s) = self.slot_mut(index) {
                        s.owner = Owner::Listener {
                            index: l,
                            queued: true,
                        };
                    }
                    self.mark_dirty(l);
                }
            }
            Owner::Orphan if reapable => self.free_socket(index),
            _ => {}
        }
    }

    fn listener_syn_queue_dec(&mut self, l: u32) {
        if let Some(SocketKind::Listener(li)) = self.slot_mut(l).map(|s| &mut s.kind) {
            li.syn_queue = li.syn_queue.saturating_sub(1);
        }
    }
}

/// Whether sockets bound to `a` and to `b` serve a common local address
/// (Linux's `inet_rcv_saddr_equal`): equal addresses do; `0.0.0.0` serves
/// every IPv4 address; `::` every IPv6 address, and every IPv4 one too
/// unless `IPV6_V6ONLY` (RFC 3493 §5.3). So a dual-stack `::` and a
/// `0.0.0.0` on one port conflict, and an IPv6-only `::` and a `0.0.0.0`
/// do not.
pub(super) fn addr_overlap(a: IpAddr, a_v6only: bool, b: IpAddr, b_v6only: bool) -> bool {
    let v4_any = |ip: IpAddr, v6only: bool| match ip {
        IpAddr::V4(ip) => ip.is_unspecified(),
        IpAddr::V6(ip) => ip.is_unspecified() && !v6only,
    };
    let v6_any = |ip: IpAddr| matches!(ip, IpAddr::V6(ip) if ip.is_unspecified());
    a == b
        || (v4_any(a, a_v6only) && b.is_ipv4())
        || (v4_any(b, b_v6only) && a.is_ipv4())
        || (v6_any(a) && b.is_ipv6())
        || (v6_any(b) && a.is_ipv6())
}
