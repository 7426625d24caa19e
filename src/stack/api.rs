//! The socket calls, as the shim makes them: each takes a
//! [`SocketHandle`] and returns a value or a [`SocketError`] named after
//! Linux's errno for the same situation.

use super::Stack;
use super::socket::WaitQueue;
use super::socket::{
    Listener, Owner, SOMAXCONN, Socket, SocketError, SocketHandle, SocketKind, SocketOptions,
};
use crate::tcp::{FourTuple, Readiness, State, Tcb, TcpConfig, TcpError, TcpInfo};
use crate::time::{Duration, Instant};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

type Result<T> = core::result::Result<T, SocketError>;

impl Stack {
    /// `socket(AF_INET, SOCK_STREAM, 0)`: a fresh, unbound socket.
    pub fn socket(&mut self) -> SocketHandle {
        self.alloc_socket(Socket::new())
    }

    /// The defaults new connections start from (MSS from the MTU, buffer
    /// sizes, TIME-WAIT length...).
    pub fn tcp_defaults_mut(&mut self) -> &mut TcpConfig {
        &mut self.tcp_defaults
    }

    /// Sets the most connections kept in TIME-WAIT ([`super::table::MAX_TIME_WAIT`]
    /// by default).
    pub fn set_max_time_wait(&mut self, n: usize) {
        self.max_time_wait = n;
    }

    /// Connections in TIME-WAIT now.
    pub fn time_wait_count(&self) -> usize {
        self.time_wait_count
    }

    /// `bind`: our address, a loopback address (127/8, `::1`) or a
    /// wildcard (`0.0.0.0`, or `::`, dual-stack unless
    /// [`SocketOptions::v6only`]); port 0 for an ephemeral one. As on
    /// Linux, the same port may be bound on two distinct addresses; a
    /// wildcard conflicts with every address it serves
    /// ([`super::table::addr_overlap`]). An IPv4 address is an `AF_INET`
    /// socket's; a v4-mapped IPv6 one (`::ffff:a.b.c.d`) is taken as its
    /// IPv4 address.
    pub fn bind(&mut self, h: SocketHandle, addr: impl Into<SocketAddr>) -> Result<()> {
        let addr = unmap(addr.into());
        let (reuse_addr, reuse_port, v6only) = {
            let s = self.sock(h)?;
            match s.kind {
                SocketKind::Idle { bound: None } => {}
                _ => return Err(SocketError::InvalidInput),
            }
            (s.options.reuse_addr, s.options.reuse_port, s.options.v6only)
        };
        if !addr.ip().is_unspecified() && !self.is_local_ip(addr.ip()) {
            return Err(SocketError::AddrNotAvailable);
        }
        let port = match addr.port() {
            0 => self.ephemeral_port().ok_or(SocketError::AddrInUse)?,
            _ if self.port_conflicts(addr, v6only, reuse_addr, reuse_port) => {
                return Err(SocketError::AddrInUse);
            }
            p => p,
        };
        self.hold_port(port, h.index);
        self.sock_mut(h)?.kind = SocketKind::Idle {
            bound: Some(SocketAddr::new(addr.ip(), port)),
        };
        Ok(())
    }

    /// `IPV6_V6ONLY` (RFC 3493 §5.3), before the socket is bound; see
    /// [`SocketOptions::v6only`].
    pub fn set_v6only(&mut self, h: SocketHandle, on: bool) -> Result<()> {
        let s = self.sock_mut(h)?;
        if !matches!(s.kind, SocketKind::Idle { bound: None }) {
            return Err(SocketError::InvalidInput);
        }
        s.options.v6only = on;
        Ok(())
    }

    /// `listen(backlog)`: see [`super::socket`] for what the backlog means.
    /// Listening again changes the backlog.
    pub fn listen(&mut self, h: SocketHandle, backlog: i32) -> Result<()> {
        let backlog = if backlog < 0 {
            SOMAXCONN
        } else {
            (backlog as usize).min(SOMAXCONN)
        };
        let bound = match &mut self.sock_mut(h)?.kind {
            SocketKind::Listener(l) => {
                l.backlog = backlog;
                return Ok(());
            }
            SocketKind::Idle { bound } => *bound,
            SocketKind::Tcp(_) => return Err(SocketError::InvalidInput),
        };
        let local = match bound {
            Some(a) => a,
            None => {
                self.bind(h, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
                match self.sock(h)?.kind {
                    SocketKind::Idle { bound: Some(a) } => a,
                    _ => return Err(SocketError::InvalidInput),
                }
            }
        };
        let (reuse_port, v6only) = {
            let o = &self.sock(h)?.options;
            (o.reuse_port, o.v6only)
        };
        if let Some(existing) = self.listeners.get(&local.port()) {
            // Listeners on distinct addresses coexist; on overlapping ones
            // (the same, or a wildcard serving both) all must have
            // `SO_REUSEPORT`.
            let clash = existing.iter().any(|&i| {
                self.sockets[i as usize].socket.as_ref().is_some_and(|s| {
                    let SocketKind::Listener(l) = &s.kind else {
                        return false;
                    };
                    let overlap = super::table::addr_overlap(
                        l.local.ip(),
                        s.options.v6only,
                        local.ip(),
                        v6only,
                    );
                    overlap && !(reuse_port && s.options.reuse_port)
                })
            });
            if clash {
                return Err(SocketError::AddrInUse);
            }
        }
        self.sock_mut(h)?.kind = SocketKind::Listener(Listener {
            local,
            backlog,
            syn_queue: 0,
            accept_queue: VecDeque::new(),
            last_overflow: None,
        });
        self.listeners
            .entry(local.port())
            .or_default()
            .push(h.index);
        Ok(())
    }

    /// `accept` for an `AF_INET` socket: as [`Stack::accept_any`], with
    /// an IPv4 peer (an IPv6 one is `InvalidInput`: only a socket bound to
    /// an IPv6 address gets those).
    pub fn accept(&mut self, h: SocketHandle) -> Result<(SocketHandle, SocketAddrV4)> {
        let (child, peer) = self.accept_any(h)?;
        Ok((child, v4_only(peer)?))
    }

    /// `accept`: the oldest connection of the accept queue, now the
    /// application's, with the peer's address.
    pub fn accept_any(&mut self, h: SocketHandle) -> Result<(SocketHandle, SocketAddr)> {
        let child = match &mut self.sock_mut(h)?.kind {
            SocketKind::Listener(l) => l.accept_queue.pop_front().ok_or(SocketError::WouldBlock)?,
            _ => return Err(SocketError::InvalidInput),
        };
        self.mark_dirty(h.index);
        let s = self.sock_mut(child)?;
        s.owner = Owner::App;
        let remote = s
            .tuple()
            .map(|t| t.remote)
            .ok_or(SocketError::InvalidInput)?;
        Ok((child, remote))
    }

    /// `connect`: starts the handshake and returns `InProgress`; the shim
    /// waits for writability (or an error) when the socket is blocking.
    /// The peer's family decides the connection's: an IPv4 peer from a
    /// socket bound to an IPv6 address (other than a dual-stack `::`), or
    /// the reverse, is unreachable.
    pub fn connect(
        &mut self,
        now: Instant,
        h: SocketHandle,
        remote: impl Into<SocketAddr>,
    ) -> Result<()> {
        let remote = unmap(remote.into());
        let s = self.sock_mut(h)?;
        let v6only = s.options.v6only;
        let bound = match &mut s.kind {
            SocketKind::Idle { bound } => *bound,
            SocketKind::Listener(_) => return Err(SocketError::IsConnected),
            SocketKind::Tcp(tcb) => {
                return Err(match tcb.state() {
                    State::SynSent | State::SynReceived => SocketError::Already,
                    State::Closed => match tcb.take_error() {
                        Some(e) => e.into(),
                        None => SocketError::InvalidInput,
                    },
                    _ => SocketError::IsConnected,
                });
            }
        };
        // As on Linux, `0.0.0.0` names this host (`127.0.0.1`), and `::`
        // names `::1`.
        let remote = match remote.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => {
                SocketAddr::new(Ipv4Addr::LOCALHOST.into(), remote.port())
            }
            IpAddr::V6(ip) if ip.is_unspecified() => {
                SocketAddr::new(Ipv6Addr::LOCALHOST.into(), remote.port())
            }
            _ => remote,
        };
        let refused = match remote.ip() {
            IpAddr::V4(ip) => ip.is_broadcast() || ip.is_multicast(),
            IpAddr::V6(ip) => ip.is_multicast(),
        };
        if remote.port() == 0 || refused {
            return Err(SocketError::ConnectionRefused);
        }
        let bound_ip = bound.map(|a| a.ip()).filter(|ip| !ip.is_unspecified());
        let family_ok = match (bound.map(|a| a.ip()), remote.ip()) {
            (Some(IpAddr::V6(b)), IpAddr::V4(_)) => b.is_unspecified() && !v6only,
            (Some(IpAddr::V4(_)), IpAddr::V6(_)) => false,
            (None, IpAddr::V4(_)) => !v6only,
            _ => true,
        };
        if !family_ok {
            return Err(SocketError::NetworkUnreachable);
        }
        let local_ip = match bound_ip {
            Some(ip) => ip,
            None => self.source_for_ip(remote.ip()),
        };
        let routable = if self.is_local_ip(remote.ip()) {
            true
        } else {
            // A loopback source cannot leave the host (RFC 1122 §3.2.1.3,
            // RFC 4291 §2.5.3).
            let hop = match remote.ip() {
                IpAddr::V4(ip) => self.next_hop(ip).is_some(),
                IpAddr::V6(ip) => self.on_link6(ip),
            };
            hop && !local_ip.is_loopback()
        };
        if !routable {
            return Err(SocketError::NetworkUnreachable);
        }
        let port = match bound {
            Some(a) => a.port(),
            None => {
                let p = self.ephemeral_port().ok_or(SocketError::AddrNotAvailable)?;
                self.hold_port(p, h.index);
                p
            }
        };
        let tuple = FourTuple::new(SocketAddr::new(local_ip, port), remote);
        if self.conns.contains_key(&tuple) {
            return Err(SocketError::AddrNotAvailable);
        }
        let opts = self.sock(h)?.options;
        let iss = crate::tcp::isn::isn(self.isn_secret, now, &tuple);
        let config = self.conn_config(now, &opts, &tuple);
        let mut tcb = Tcb::connect(now, tuple, iss, config);
        apply_live_options(&mut tcb, &opts);
        self.sock_mut(h)?.kind = SocketKind::Tcp(Box::new(tcb));
        self.conns.insert(tuple, h.index);
        self.counters.tcp_active_opens += 1;
        self.touch(h.index);
        Err(SocketError::InProgress)
    }

    /// `send`: copies what fits into the send buffer.
    pub fn send(&mut self, h: SocketHandle, data: &[u8]) -> Result<usize> {
        let r = match &mut self.sock_mut(h)?.kind {
            SocketKind::Tcp(tcb) => tcb.send(data).map_err(SocketError::from),
            // Linux: sending on a socket that is neither connected nor
            // connecting is EPIPE (sk_stream_wait_connect).
            _ => Err(SocketError::BrokenPipe),
        };
        if matches!(r, Ok(n) if n > 0) {
            self.touch(h.index);
        }
        r
    }

    /// `recv`: copies from the receive buffer; `Ok(0)` is end of file.
    pub fn recv(&mut self, h: SocketHandle, buf: &mut [u8], peek: bool) -> Result<usize> {
        let s = self.sock_mut(h)?;
        let read_shutdown = s.read_shutdown;
        let mut released = false;
        let r = match &mut s.kind {
            SocketKind::Tcp(tcb) => {
                let held = tcb.ack_held();
                let r = if peek { tcb.peek(buf) } else { tcb.recv(buf) };
                // Nothing to read: a quick ACK held for the answer goes
                // now (`Tcb::recv` lets it go; a peek too).
                if r == Err(TcpError::WouldBlock) {
                    tcb.release_held_ack();
                }
                released = held && !tcb.ack_held();
                r.map_err(SocketError::from)
            }
            _ => Err(SocketError::NotConnected),
        };
        if released {
            self.queue_output(h.index);
        }
        match r {
            Err(SocketError::WouldBlock) if read_shutdown => Ok(0),
            Ok(n) if n > 0 && !peek => {
                // Reading opened the window: a window update may be due.
                self.touch(h.index);
                Ok(n)
            }
            r => r,
        }
    }

    /// `shutdown`: `read` stops reading (later reads see EOF), `write`
    /// sends FIN after what is queued (half-close).
    pub fn shutdown(&mut self, h: SocketHandle, read: bool, write: bool) -> Result<()> {
        let s = self.sock_mut(h)?;
        match &mut s.kind {
            SocketKind::Tcp(tcb) => {
                if matches!(tcb.state(), State::SynSent | State::Closed) && write && !read {
                    return Err(SocketError::NotConnected);
                }
                if write {
                    tcb.shutdown_write();
                }
            }
            SocketKind::Listener(l) if read => {
                // Linux's inet_shutdown disconnects a listener
                // (tcp_disconnect, inet_csk_listen_stop): the connections
                // it holds are reset, it stops listening (accept then gives
                // EINVAL, a SYN a RST) and keeps its address. For every
                // process that holds it.
                let local = l.local;
                s.kind = SocketKind::Idle { bound: Some(local) };
                self.close_listener(h.index);
                if let Some(v) = self.listeners.get_mut(&local.port()) {
                    v.retain(|&i| i != h.index);
                    if v.is_empty() {
                        self.listeners.remove(&local.port());
                    }
                }
                self.touch(h.index);
                self.mark_dirty(h.index);
                return Ok(());
            }
            _ => return Err(SocketError::NotConnected),
        }
        if read {
            s.read_shutdown = true;
        }
        self.touch(h.index);
        self.mark_dirty(h.index);
        Ok(())
    }

    /// `close`: the application lets go of the socket. A connection
    /// finishes on its own (FIN, or RST with unread data or `SO_LINGER` 0)
    /// and is reaped when done; a listener resets the connections it still
    /// holds.
    pub fn close(&mut self, h: SocketHandle) {
        let Ok(s) = self.sock_mut(h) else {
            return;
        };
        let linger_zero = s.options.linger.is_some_and(|d| d.is_zero());
        match &mut s.kind {
            SocketKind::Tcp(tcb) => {
                if linger_zero {
                    tcb.abort();
                } else {
                    tcb.close();
                }
                s.owner = Owner::Orphan;
                self.touch(h.index);
            }
            SocketKind::Listener(_) => {
                self.close_listener(h.index);
                self.free_socket(h.index);
            }
            SocketKind::Idle { .. } => self.free_socket(h.index),
        }
    }

    fn close_listener(&mut self, l: u32) {
        let children: Vec<u32> = self
            .sockets
            .iter()
            .enumerate()
            .filter(|(_, slot)| {
                slot.socket
                    .as_ref()
                    .is_some_and(|s| matches!(s.owner, Owner::Listener { index, .. } if index == l))
            })
            .map(|(i, _)| i as u32)
            .collect();
        for c in children {
            if let Some(s) = self.slot_mut(c) {
                s.owner = Owner::Orphan;
                if let Some(tcb) = s.tcb_mut() {
                    tcb.abort();
                }
            }
            self.touch(c);
        }
    }

    /// `getsockname` of an `AF_INET` socket (an IPv6 address is
    /// `InvalidInput`; see [`Stack::local_sockaddr`]).
    pub fn local_addr(&self, h: SocketHandle) -> Result<SocketAddrV4> {
        v4_only(self.local_sockaddr(h)?)
    }

    /// `getpeername` of an `AF_INET` socket (see [`Stack::peer_sockaddr`]).
    pub fn peer_addr(&self, h: SocketHandle) -> Result<SocketAddrV4> {
        v4_only(self.peer_sockaddr(h)?)
    }

    /// `getsockname`.
    pub fn local_sockaddr(&self, h: SocketHandle) -> Result<SocketAddr> {
        Ok(match &self.sock(h)?.kind {
            SocketKind::Idle { bound } => {
                bound.unwrap_or(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0))
            }
            SocketKind::Listener(l) => l.local,
            SocketKind::Tcp(t) => t.tuple().local,
        })
    }

    /// `getpeername`.
    pub fn peer_sockaddr(&self, h: SocketHandle) -> Result<SocketAddr> {
        match &self.sock(h)?.kind {
            SocketKind::Tcp(t) if t.state() != State::Closed && t.state() != State::SynSent => {
                Ok(t.tuple().remote)
            }
            _ => Err(SocketError::NotConnected),
        }
    }

    /// The socket's options.
    pub fn options(&self, h: SocketHandle) -> Result<SocketOptions> {
        Ok(self.sock(h)?.options)
    }

    /// `TCP_QUICKACK`: see [`Tcb::set_quickack`]; nothing before the
    /// socket has a connection.
    pub fn set_quickack(&mut self, h: SocketHandle, on: bool) -> Result<()> {
        if let Some(tcb) = self.sock_mut(h)?.tcb_mut() {
            tcb.set_quickack(on);
            self.touch(h.index);
        }
        Ok(())
    }

    /// `TCP_QUICKACK` as `getsockopt` reads it (Linux: 1 unless delayed
    /// ACKs are in force, so 1 before a connection exists).
    pub fn quickack(&self, h: SocketHandle) -> Result<bool> {
        Ok(self.sock(h)?.tcb().is_none_or(|t| t.quickack()))
    }

    /// `TCP_CONGESTION` of a connection (`None` before it has a TCB).
    pub fn congestion_name(&self, h: SocketHandle) -> Result<Option<&'static str>> {
        Ok(self.sock(h)?.tcb().map(|t| t.congestion_name()))
    }

    /// A connection's receive and send buffer sizes now, as `SO_RCVBUF`
    /// and `SO_SNDBUF` read them: autotuning grows them (Linux's
    /// `sk_rcvbuf` and `sk_sndbuf` as `tcp_rcv_space_adjust` and
    /// `tcp_sndbuf_expand` leave them); `None` for a socket without one.
    pub fn buffer_sizes(&self, h: SocketHandle) -> Result<Option<(usize, usize)>> {
        Ok(self
            .sock(h)?
            .tcb()
            .map(|t| (t.config().rcv_buf, t.config().snd_buf)))
    }

    /// Changes the socket's options; on a live connection all but
    /// `TCP_MAXSEG` take effect at once (see [`apply_live_options`]).
    pub fn set_options(
        &mut self,
        h: SocketHandle,
        f: impl FnOnce(&mut SocketOptions),
    ) -> Result<()> {
        let s = self.sock_mut(h)?;
        f(&mut s.options);
        let opts = s.options;
        if let Some(tcb) = s.tcb_mut() {
            apply_live_options(tcb, &opts);
            self.touch(h.index);
        }
        Ok(())
    }

    /// Readiness as `poll` reports it (Linux's `tcp_poll`).
    pub fn readiness(&self, h: SocketHandle) -> Result<Readiness> {
        let s = self.sock(h)?;
        Ok(match &s.kind {
            // A fresh socket: POLLOUT | POLLHUP, as Linux reports it.
            SocketKind::Idle { .. } => Readiness {
                writable: true,
                hup: true,
                ..Readiness::default()
            },
            SocketKind::Listener(l) => Readiness {
                readable: !l.accept_queue.is_empty(),
                ..Readiness::default()
            },
            SocketKind::Tcp(tcb) => {
                let mut r = tcb.readiness();
                if s.read_shutdown {
                    r.readable = true;
                    r.read_closed = true;
                }
                r
            }
        })
    }

    /// `SO_ERROR`: the pending error, cleared by reading it.
    pub fn take_error(&mut self, h: SocketHandle) -> Result<Option<SocketError>> {
        Ok(self
            .sock_mut(h)?
            .tcb_mut()
            .and_then(|t| t.take_error())
            .map(SocketError::from))
    }

    /// The connection's state (`Listen` for a listener, `Closed` for a
    /// fresh socket).
    pub fn state(&self, h: SocketHandle) -> Result<State> {
        Ok(match &self.sock(h)?.kind {
            SocketKind::Idle { .. } => State::Closed,
            SocketKind::Listener(_) => State::Listen,
            SocketKind::Tcp(t) => t.state(),
        })
    }

    /// `TCP_INFO`.
    pub fn tcp_info(&self, h: SocketHandle) -> Result<Option<TcpInfo>> {
        Ok(self.sock(h)?.tcb().map(|t| t.info()))
    }

    /// Bytes waiting to be read (`FIONREAD`).
    pub fn recv_queue_len(&self, h: SocketHandle) -> Result<usize> {
        Ok(self.sock(h)?.tcb().map_or(0, |t| t.recv_queue_len()))
    }

    /// Bytes not yet acknowledged or not yet sent (`TIOCOUTQ`).
    pub fn send_queue_len(&self, h: SocketHandle) -> Result<usize> {
        Ok(self.sock(h)?.tcb().map_or(0, |t| t.send_queue_len()))
    }

    /// The wait queue of this socket: its word changes, and its watchers
    /// are told, whenever the socket's readiness may have changed.
    pub fn wait_word(&self, h: SocketHandle) -> Option<Arc<WaitQueue>> {
        self.sock(h).ok().map(|s| s.wait.clone())
    }

    /// Calls `f` with every socket's wait word (to wake everyone when the
    /// stack thread fails).
    pub fn for_each_wait_word(&self, f: &mut dyn FnMut(SocketHandle, &Arc<WaitQueue>)) {
        for (i, slot) in self.sockets.iter().enumerate() {
            if let Some(s) = &slot.socket {
                let h = SocketHandle {
                    index: i as u32,
                    generation: slot.generation,
                };
                f(h, &s.wait);
            }
        }
    }

    /// A listener's queue lengths: (SYN queue, accept queue, backlog).
    pub fn listener_queues(&self, h: SocketHandle) -> Result<(usize, usize, usize)> {
        match &self.sock(h)?.kind {
            SocketKind::Listener(l) => Ok((l.syn_queue, l.accept_queue.len(), l.backlog)),
            _ => Err(SocketError::InvalidInput),
        }
    }

    /// Every socket with its state and addresses, for `ss`-like listings.
    pub fn socket_list(&self) -> Vec<(SocketHandle, State, Option<FourTuple>)> {
        self.sockets
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| {
                let s = slot.socket.as_ref()?;
                let h = SocketHandle {
                    index: i as u32,
                    generation: slot.generation,
                };
                let state = self.state(h).ok()?;
                Some((h, state, s.tuple()))
            })
            .collect()
    }
}

/// Applies the options a live connection honours: Nagle, cork,
/// keepalive and its timing, the buffer sizes, the congestion controller,
/// the user timeout and the unsent low-water mark (`IP_TOS` is read as each
/// segment goes out). `TCP_MAXSEG` is read only when a connection starts (Linux
/// likewise keeps the MSS the handshake settled). Each setter ignores a
/// value that did not change.
fn apply_live_options(tcb: &mut Tcb, o: &SocketOptions) {
    tcb.set_nodelay(o.nodelay);
    tcb.set_cork(o.cork);
    let c = tcb.config();
    let (idle, intvl, cnt) = (c.keepalive_idle, c.keepalive_intvl, c.keepalive_cnt);
    tcb.set_keepalive_timing(
        o.keep_idle
            .map_or(idle, |s| Duration::from_secs(u64::from(s))),
        o.keep_intvl
            .map_or(intvl, |s| Duration::from_secs(u64::from(s))),
        o.keep_cnt.unwrap_or(cnt),
    );
    tcb.set_keepalive(o.keepalive);
    if let Some(b) = o.snd_buf {
        tcb.set_send_buffer(b);
    }
    if let Some(b) = o.rcv_buf {
        tcb.set_recv_buffer(b);
    }
    if let Some(a) = o.congestion {
        tcb.set_congestion(a);
    }
    tcb.set_user_timeout(Duration::from_millis(u64::from(o.user_timeout_ms)));
    tcb.set_linger2(o.linger2);
    tcb.set_notsent_lowat(if o.notsent_lowat == 0 {
        u32::MAX
    } else {
        o.notsent_lowat
    });
}

/// Calls the shim needs beyond the socket calls above (process exit).
impl Stack {
    /// At process exit: aborts the connections the application still
    /// holds or has not accepted yet (RST to each synchronized peer, RFC
    /// 9293 §3.10.5), so that no peer is left waiting for a process that is
    /// gone. With `orphans`, also those the application closed that are
    /// still delivering their data. Listeners and fresh sockets stay.
    pub fn abort_all(&mut self, orphans: bool) {
        let mut touched = Vec::new();
        for (i, slot) in self.sockets.iter_mut().enumerate() {
            let Some(s) = slot.socket.as_mut() else {
                continue;
            };
            if s.owner == Owner::Orphan && !orphans {
                continue;
            }
            // RFC 1337: no RST from TIME-WAIT; it ends quietly.
            if let Some(tcb) = s.tcb_mut()
                && !matches!(tcb.state(), State::Closed | State::TimeWait)
            {
                tcb.abort();
                touched.push(i as u32);
            }
        }
        for i in touched {
            self.touch(i);
        }
    }

    /// What the kernel does to a process's sockets when it exits: closes
    /// each socket the application holds as `close` would (FIN after the
    /// queued data, RST with unread data or `SO_LINGER` 0; a listener resets
    /// the connections it had not handed out).
    pub fn close_all_held(&mut self) {
        let held: Vec<SocketHandle> = self
            .sockets
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.socket.as_ref().is_some_and(|s| s.owner == Owner::App))
            .map(|(i, slot)| SocketHandle {
                index: i as u32,
                generation: slot.generation,
            })
            .collect();
        for h in held {
            self.close(h);
        }
    }

    /// Some connection the application closed is still exchanging FINs:
    /// its data or FIN is unacknowledged (FIN-WAIT-1, CLOSING, LAST-ACK),
    /// or the peer's FIN has yet to come (FIN-WAIT-2).
    pub fn orphans_draining(&self) -> bool {
        self.sockets.iter().any(|slot| {
            slot.socket.as_ref().is_some_and(|s| {
                s.owner == Owner::Orphan
                    && s.tcb().is_some_and(|t| {
                        matches!(
                            t.state(),
                            State::FinWait1 | State::FinWait2 | State::Closing | State::LastAck
                        )
                    })
            })
        })
    }

    /// The defaults new connections start from.
    pub fn tcp_defaults(&self) -> &TcpConfig {
        &self.tcp_defaults
    }
}

/// A v4-mapped IPv6 address (RFC 4291 §2.5.5.2) as the IPv4 address it
/// names; anything else as it is.
fn unmap(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => a,
        },
        a => a,
    }
}

/// `a` for the IPv4-only calls.
fn v4_only(a: SocketAddr) -> Result<SocketAddrV4> {
    match a {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(SocketError::InvalidInput),
    }
}
