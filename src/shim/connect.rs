//! Making connections: `bind`, `listen`, `accept`, `accept4`, `connect`,
//! `shutdown`, `getsockname`, `getpeername`.
//!
//! `listen(fd, backlog)` sizes the listener's two queues (see
//! `src/stack/socket.rs`): the SYN queue of half-open connections and the
//! accept queue of established ones waiting for `accept`. `accept` takes the
//! oldest connection from the accept queue (never from the SYN queue) and
//! gives it a new fd: a fresh reserved eventfd, the lowest free number, as
//! the kernel would allocate it.

use super::addr::{check_out, read_sockaddr, read_sockaddr6, write_sockaddr, write_sockaddr6};
use super::errno::{Errno, errno_of, ret};
use super::fd_table::{self, OpenSocket};
use super::inet6::{self, Inet6};
use super::socket::{install, lookup, reserve_fd};
use super::wait::{Dir, Waiter};
use crate::stack::{SocketError, SocketHandle, Stack};
use crate::sys::clock::monotonic_now;
use crate::tcp::State;
use libc::{c_int, sockaddr, socklen_t};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::Ordering;

/// Runs `f` on `fd`'s stack socket under the lock, ending with `finish`.
pub(crate) fn with_stack<T>(
    fd: c_int,
    f: impl FnOnce(&mut Stack, SocketHandle) -> Result<T, SocketError>,
) -> Errno<T> {
    let sock = lookup(fd)?;
    let rt = sock.runtime()?;
    let mut stack = rt.lock();
    let r = f(&mut stack, sock.handle);
    rt.finish(stack);
    r.map_err(errno_of)
}

posix! {
    /// `bind(2)`: our address or `INADDR_ANY`, port 0 for an ephemeral port.
    ///
    /// # Safety
    /// `addr` must point at `len` readable bytes (NULL is `EFAULT`).
    fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int
    where fd_table::is_ours(fd) => {
        // SAFETY: the caller's contract.
        ret(unsafe { bind_ours(fd, addr, len) }.map(|()| 0))
    };
}

/// `bind` of an `AF_INET` or `AF_INET6` socket.
///
/// # Safety
/// `addr` must point at `len` readable bytes.
unsafe fn bind_ours(fd: c_int, addr: *const sockaddr, len: socklen_t) -> Errno<()> {
    let sock = lookup(fd)?;
    let Some(i6) = &sock.inet6 else {
        // SAFETY: the caller's contract.
        let a = unsafe { read_sockaddr(addr, len, true) }?;
        return with_stack(fd, |st, h| st.bind(h, a));
    };
    // SAFETY: the caller's contract.
    let a = unsafe { read_sockaddr6(addr, len) }?;
    let (addr, v6only) = inet6::bind_target(a, i6.v6only.load(Ordering::Relaxed))?;
    with_stack(fd, |st, h| {
        if matches!(st.local_sockaddr(h), Ok(a) if a.port() != 0) {
            return Err(SocketError::InvalidInput);
        }
        st.set_v6only(h, v6only)?;
        st.bind(h, addr)
    })?;
    i6.v6only.store(v6only, Ordering::Relaxed);
    Ok(())
}

posix! {
    /// `listen(2)`: see the module documentation for `backlog`.
    ///
    /// # Safety
    /// None beyond libc's.
    fn listen(fd: c_int, backlog: c_int) -> c_int
    where fd_table::is_ours(fd) => {
        if let Ok(sock) = lookup(fd)
            && let Some(i6) = &sock.inet6
        {
            // An unbound `AF_INET6` socket listens on `::` (Linux's
            // autobind picks the family's wildcard).
            let v6only = i6.v6only.load(Ordering::Relaxed);
            let r = with_stack(fd, |st, h| {
                if matches!(st.local_sockaddr(h), Ok(a) if a.port() == 0) {
                    st.set_v6only(h, v6only)?;
                    st.bind(h, std::net::SocketAddrV6::new(std::net::Ipv6Addr::UNSPECIFIED, 0, 0, 0))?;
                }
                st.listen(h, backlog)
            });
            return ret(r.map(|()| 0));
        }
        ret(with_stack(fd, |st, h| st.listen(h, backlog)).map(|()| 0))
    };
}

fn accept_ours(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> Errno<c_int> {
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return Err(libc::EINVAL);
    }
    // SAFETY: the caller's contract for `addr` and `len`.
    unsafe { check_out(addr, len)? };
    let sock = lookup(fd)?;
    let w = Waiter::new(&sock, false, Dir::Recv)?;
    let rt = w.rt();
    let (child, peer) = w.run(|st, h| {
        if sock.inet6.is_some() {
            st.accept_any(h)
        } else {
            st.accept(h).map(|(c, a)| (c, a.into()))
        }
    })?;
    let newfd = match reserve_fd(flags & libc::SOCK_CLOEXEC != 0) {
        Ok(f) => f,
        Err(e) => {
            // No fd for it: the connection is closed (reset), as if the
            // program had accepted and closed it.
            let mut st = rt.lock();
            st.close(child);
            rt.finish(st);
            return Err(e);
        }
    };
    let newfd = install(
        rt,
        newfd,
        child,
        flags & libc::SOCK_NONBLOCK != 0,
        flags & libc::SOCK_CLOEXEC != 0,
        sock.inet6.as_ref().map(Inet6::inherit),
    )?;
    // Linux clones the listener: the new socket starts with its
    // SO_RCVTIMEO and SO_SNDTIMEO.
    if let Ok(new) = lookup(newfd) {
        for (to, from) in [
            (&new.rcv_timeout_us, &sock.rcv_timeout_us),
            (&new.snd_timeout_us, &sock.snd_timeout_us),
        ] {
            to.store(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
    // SAFETY: checked by check_out above.
    unsafe { write_name(&sock, peer, addr, len) };
    Ok(newfd)
}

posix! {
    /// `accept(2)`: see [`accept4`].
    ///
    /// # Safety
    /// `addr` is NULL, or `len` points at its length and `addr` at that many
    /// writable bytes.
    fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int
    where fd_table::is_ours(fd) => ret(accept_ours(fd, addr, len, 0));
}

posix! {
    /// `accept4(2)`: the oldest connection of the accept queue, on a new fd
    /// with `SOCK_NONBLOCK`/`SOCK_CLOEXEC` from `flags` (the listener's
    /// `O_NONBLOCK` is not inherited). Blocks while the queue is empty unless
    /// the listener is non-blocking (`EAGAIN`).
    ///
    /// # Safety
    /// As for [`accept`].
    fn accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int
    where fd_table::is_ours(fd) => ret(accept_ours(fd, addr, len, flags));
}

/// Waits for a connect under way: `Ok` once established, its error once
/// failed (`ECONNABORTED` when the error was already read via `SO_ERROR`).
fn finish_connect(sock: &OpenSocket, w: &Waiter<'_>) -> Errno<()> {
    let r = w.run(|st, h| match st.state(h)? {
        State::SynSent | State::SynReceived => Err(SocketError::WouldBlock),
        State::Closed => Err(st.take_error(h)?.unwrap_or(SocketError::ConnectionAborted)),
        _ => Ok(()),
    });
    match r {
        // Interrupted: still connecting; a later connect says EALREADY.
        Err(libc::EINTR) => Err(libc::EINTR),
        Err(libc::EAGAIN) => Err(libc::EALREADY),
        r => {
            sock.connecting.store(false, Ordering::Relaxed);
            r
        }
    }
}

/// The peer a `connect` on `sock` reaches.
///
/// # Safety
/// `addr` must point at `len` readable bytes.
unsafe fn connect_target(
    sock: &OpenSocket,
    addr: *const sockaddr,
    len: socklen_t,
) -> Errno<SocketAddr> {
    let Some(i6) = &sock.inet6 else {
        // SAFETY: the caller's contract.
        return unsafe { read_sockaddr(addr, len, false) }.map(SocketAddr::V4);
    };
    // SAFETY: the caller's contract.
    let a = unsafe { read_sockaddr6(addr, len) }?;
    inet6::connect_target(a, i6.v6only.load(Ordering::Relaxed))
}

pub(crate) fn connect_ours(fd: c_int, addr: *const sockaddr, len: socklen_t) -> Errno<()> {
    let sock = lookup(fd)?;
    // SAFETY: the caller's contract.
    let remote = unsafe { connect_target(&sock, addr, len) }?;
    let w = Waiter::new(&sock, false, Dir::Send)?;
    if sock.connecting.load(Ordering::Relaxed) {
        // Linux's SS_CONNECTING: EALREADY while under way (a blocking call
        // waits), 0 the first time after it succeeded, its error after it
        // failed; later calls get EISCONN from the stack.
        return finish_connect(&sock, &w);
    }
    let rt = w.rt();
    let r = {
        let mut st = rt.lock();
        if let Some(i6) = &sock.inet6 {
            // Unbound, the stack learns `IPV6_V6ONLY` now (bound, it has).
            let _ = st.set_v6only(sock.handle, i6.v6only.load(Ordering::Relaxed));
        }
        let r = st.connect(monotonic_now(), sock.handle, remote);
        rt.finish(st);
        r
    };
    match r {
        Err(SocketError::InProgress) => {}
        r => return r.map_err(errno_of),
    }
    sock.connecting.store(true, Ordering::Relaxed);
    if w.nonblocking() {
        return Err(libc::EINPROGRESS);
    }
    match finish_connect(&sock, &w) {
        // SO_SNDTIMEO expired: Linux says EINPROGRESS.
        Err(libc::EALREADY) => Err(libc::EINPROGRESS),
        r => r,
    }
}

posix! {
    /// `connect(2)`: starts the handshake. A blocking socket waits for it to
    /// finish (`SO_SNDTIMEO` bounds the wait: `EINPROGRESS`; a signal:
    /// `EINTR`, the handshake goes on); a non-blocking one returns
    /// `EINPROGRESS` at once, and `SO_ERROR` tells the outcome once the socket
    /// is writable. A second `connect` while under way: `EALREADY`; once
    /// connected: `EISCONN`.
    ///
    /// # Safety
    /// `addr` must point at `len` readable bytes.
    fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int
    where fd_table::is_ours(fd) => ret(connect_ours(fd, addr, len).map(|()| 0));
}

posix! {
    /// `shutdown(2)`: `SHUT_RD` makes later reads see end of file (and wakes a
    /// blocked `recv` with it), `SHUT_WR` sends FIN after the queued data.
    ///
    /// # Safety
    /// None beyond libc's.
    fn shutdown(fd: c_int, how: c_int) -> c_int
    where fd_table::is_ours(fd) => {
        let (read, write) = match how {
            libc::SHUT_RD => (true, false),
            libc::SHUT_WR => (false, true),
            libc::SHUT_RDWR => (true, true),
            _ => return super::errno::fail(libc::EINVAL),
        };
        ret(with_stack(fd, |st, h| st.shutdown(h, read, write)).map(|()| 0))
    };
}

fn name_ours(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, peer: bool) -> Errno<c_int> {
    if addr.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: the caller's contract.
    unsafe { check_out(addr, len)? };
    let sock = lookup(fd)?;
    let rt = sock.runtime()?;
    let a = {
        let st = rt.lock();
        if peer {
            st.peer_sockaddr(sock.handle)
        } else {
            st.local_sockaddr(sock.handle)
        }
    }
    .map_err(errno_of)?;
    // SAFETY: checked above.
    unsafe { write_name(&sock, a, addr, len) };
    Ok(0)
}

/// Writes an address of the stack as `sock`'s family shows it: a
/// `sockaddr_in`, or a `sockaddr_in6` (see [`Inet6::show`]).
///
/// # Safety
/// As for [`write_sockaddr`].
unsafe fn write_name(sock: &OpenSocket, a: SocketAddr, addr: *mut sockaddr, len: *mut socklen_t) {
    let shown: Option<SocketAddrV6> = sock.inet6.as_ref().map(|i6| i6.show(a));
    let a = match a {
        SocketAddr::V4(a) => a,
        // Only an `AF_INET6` socket has IPv6 addresses.
        SocketAddr::V6(_) => SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0),
    };
    // SAFETY: the caller's contract.
    unsafe {
        match shown {
            Some(a6) => write_sockaddr6(a6, addr, len),
            None => write_sockaddr(Some(a), addr, len),
        }
    }
}

posix! {
    /// `getsockname(2)`: the local address (`0.0.0.0:0` before `bind`).
    ///
    /// # Safety
    /// `len` points at the length of `addr`, which must be writable.
    fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int
    where fd_table::is_ours(fd) => ret(name_ours(fd, addr, len, false));
}

posix! {
    /// `getpeername(2)`: the peer's address; `ENOTCONN` unless connected.
    ///
    /// # Safety
    /// As for [`getsockname`].
    fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int
    where fd_table::is_ours(fd) => ret(name_ours(fd, addr, len, true));
}
