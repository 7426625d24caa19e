//! The `tapstack_*` C API, declared in `include/tapstack.h`.

//!
//! Each socket call is the POSIX-named export under its own name, so a
//! program can link the library instead of preloading it. Stack sockets
//! inherited across `fork` fail with `EBADFD` in the child, except `close`
//! (which sends nothing), `dup*` and `fcntl` (see `docs/processes.md`).

use super::errno::fail;
use super::guard::guard;
use super::{connect, io, options, socket};
use crate::runtime;
use libc::{
    c_char, c_int, c_ulong, c_void, iovec, msghdr, off_t, off64_t, size_t, sockaddr, socklen_t,
    ssize_t,
};

/// Starts the stack now instead of at the first IPv4 TCP `socket()`.
///
/// Returns 0 on success (also when it was already running), or -1 with
/// `errno` set: `ENETDOWN` when the `TAPSTACK_*` configuration is invalid
/// (one line on stderr names the variable).
#[unsafe(no_mangle)]
pub extern "C" fn tapstack_init() -> c_int {
    guard("tapstack_init", || match runtime::ensure_started() {
        Ok(_) => 0,
        Err(e) => fail(e),
    })
}

/// The library's version, e.g. "0.1.0": a static NUL-terminated string,
/// never freed.
#[unsafe(no_mangle)]
pub extern "C" fn tapstack_version() -> *const c_char {
    guard("tapstack_version", || VERSION.as_ptr())
}

static VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(v) => v,
    Err(_) => panic!("version has no NUL"),
};

/// Test hook: panics inside the library's panic guard, to show that a panic
/// never reaches the caller. Returns -1 with `errno = EIO` (after one line
/// on stderr) when the environment variable `TAPSTACK_TEST_HOOKS=1` is set
/// at the time of the call, else -1 with `errno = ENOSYS`.
#[unsafe(no_mangle)]
pub extern "C" fn tapstack_debug_panic() -> c_int {
    guard("tapstack_debug_panic", || {
        if std::env::var_os("TAPSTACK_TEST_HOOKS").is_some_and(|v| v == "1") {
            panic!("test hook: deliberate panic");
        }
        fail(libc::ENOSYS)
    })
}

/// `socket(2)` for the stack. `domain` `AF_INET`, or `AF_INET6` for a
/// dual-stack socket (IPv4 peers as v4-mapped `::ffff:a.b.c.d` addresses,
/// `sockaddr_in6` in and out, `IPV6_V6ONLY` and the other IPv6 options a
/// server sets; the stack carries no IPv6 traffic yet), `type`
/// `SOCK_STREAM` (optionally `| SOCK_NONBLOCK | SOCK_CLOEXEC`), `protocol`
/// 0 or `IPPROTO_TCP` for a stack socket; anything else is a kernel socket.
/// Starts the stack on first use (`ENETDOWN` when it cannot: a bad
/// `TAPSTACK_*` variable, or a TAP another process holds). The fd is a real
/// kernel fd (an eventfd reserved for the socket, the lowest free number),
/// close-on-exec in the kernel whatever `SOCK_CLOEXEC` says: the stack does
/// not survive `exec`.
#[unsafe(no_mangle)]
pub extern "C-unwind" fn tapstack_socket(domain: c_int, r#type: c_int, protocol: c_int) -> c_int {
    // SAFETY: integer arguments.
    unsafe { socket::socket(domain, r#type, protocol) }
}

/// `bind(2)`: `addr` points at a `struct sockaddr_in` of `len` bytes
/// (`len` < 16 is `EINVAL`, NULL `EFAULT`, another family `EAFNOSUPPORT`);
/// on an `AF_INET6` socket at a `struct sockaddr_in6` (`len` < 24 is
/// `EINVAL`): `::` (IPv4 too unless `IPV6_V6ONLY`), `::ffff:` and one of
/// the addresses below, or `::1`; another IPv6 address is `EADDRNOTAVAIL`.
/// The address must be the stack's (`TAPSTACK_IP`), a loopback address
/// (127/8) or `INADDR_ANY` (`EADDRNOTAVAIL` otherwise); port 0 picks an
/// ephemeral port. A port in
/// use is `EADDRINUSE`, unless `SO_REUSEADDR` lets it rebind over
/// connections in TIME-WAIT (or `SO_REUSEPORT` on every socket shares it).
/// Binding twice is `EINVAL`.
///
/// # Safety
/// `addr` must point at `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_bind(
    fd: c_int,
    addr: *const sockaddr,
    len: socklen_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { connect::bind(fd, addr, len) }
}

/// `listen(2)`: makes `fd` a listener (binding an ephemeral port first if
/// it is unbound). `backlog` sizes its two queues, as in Linux: it is
/// clamped to 0..=4096 (`SOMAXCONN`; negative means 4096); the **SYN
/// queue** holds half-open connections (SYN received, SYN-ACK sent), at
/// most `max(backlog, 1)`, and the **accept queue** holds established
/// connections waiting for `accept`, at most `backlog + 1`. While a queue
/// is full, new SYNs (and the ACK completing a handshake) are dropped and
/// the peer retries. Calling `listen` again changes the backlog. A
/// connected socket is `EINVAL`.
#[unsafe(no_mangle)]
pub extern "C-unwind" fn tapstack_listen(fd: c_int, backlog: c_int) -> c_int {
    // SAFETY: integer arguments.
    unsafe { connect::listen(fd, backlog) }
}

/// `accept(2)`: takes the oldest connection from the listener's **accept
/// queue** (never a half-open one from the SYN queue) and gives it a new
/// fd: a freshly reserved kernel eventfd, so the lowest free number. When
/// `addr` is not NULL, the peer's `sockaddr_in` is written there,
/// truncated to `*len`, and `*len` set to 16 (on an `AF_INET6` listener a
/// `sockaddr_in6`, v4-mapped, and 28). Blocks while the queue is
/// empty (`SO_RCVTIMEO` bounds it: `EAGAIN`; a signal: `EINTR`), or fails
/// with `EAGAIN` on a non-blocking listener. `EINVAL` if `fd` is not
/// listening.
///
/// # Safety
/// `addr` is NULL, or `len` points at its length and `addr` at that many
/// writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_accept(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { connect::accept(fd, addr, len) }
}

/// `accept4(2)`: as [`tapstack_accept`]; `flags` may hold `SOCK_NONBLOCK`
/// and `SOCK_CLOEXEC` for the new fd (others: `EINVAL`). The new fd does
/// not inherit the listener's `O_NONBLOCK`.
///
/// # Safety
/// As for [`tapstack_accept`].
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { connect::accept4(fd, addr, len, flags) }
}

/// `connect(2)`: `addr` points at the peer's `sockaddr_in` (`len` >= 16),
/// or on an `AF_INET6` socket its `sockaddr_in6` (`len` >= 24): a
/// v4-mapped address reaches that IPv4 peer (`ENETUNREACH` with
/// `IPV6_V6ONLY`), `::1` and `::` the loopback, another IPv6 address is
/// `ENETUNREACH`.
/// Sends SYN from an ephemeral port (unless bound). A blocking socket waits
/// for the handshake: 0, or `ECONNREFUSED` (RST), `ETIMEDOUT` (no answer),
/// `EINTR` (a signal; the handshake goes on), `EINPROGRESS` when
/// `SO_SNDTIMEO` expires. A non-blocking socket returns `EINPROGRESS` at
/// once; wait for it to become writable, then read `SO_ERROR`. While the
/// handshake is under way another `connect` is `EALREADY`; the first one
/// after it finished returns 0 (or its error), later ones `EISCONN`.
/// `ENETUNREACH` when no route leads to the address. The stack's own
/// address, 127/8 and `INADDR_ANY` (taken for 127.0.0.1, as Linux does)
/// reach the program's own listeners over loopback, never the wire.
///
/// # Safety
/// `addr` must point at `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_connect(
    fd: c_int,
    addr: *const sockaddr,
    len: socklen_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { connect::connect(fd, addr, len) }
}

/// `send(2)`: copies `buf[0..len]` into the send buffer. Blocking: returns
/// when all of it is queued (short when a signal or `SO_SNDTIMEO` stops it
/// after some bytes; `EINTR`/`EAGAIN` before any). Non-blocking (or
/// `MSG_DONTWAIT` in `flags`): queues what fits, `EAGAIN` when nothing
/// does. On a connection that cannot send (never connected, shut down for
/// writing, closed by the peer's RST after the error was reported): `EPIPE`
/// and `SIGPIPE` on the calling thread, unless `MSG_NOSIGNAL`. A NULL
/// `buf` with `len` > 0 is `EFAULT`.
///
/// # Safety
/// `buf` must hold `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_send(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { io::send(fd, buf, len, flags) }
}

/// `sendto(2)`: [`tapstack_send`]; `addr` and `addrlen` are ignored on a
/// connected TCP socket, as in Linux.
///
/// # Safety
/// As for [`tapstack_send`].
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { io::sendto(fd, buf, len, flags, addr, addrlen) }
}

/// `sendmsg(2)`: sends `msg->msg_iov` (at most 1024 iovecs) in order, as
/// [`tapstack_send`]; name and control data are ignored.
///
/// # Safety
/// `msg` must point at a valid `struct msghdr`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_sendmsg(
    fd: c_int,
    msg: *const msghdr,
    flags: c_int,
) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { io::sendmsg(fd, msg, flags) }
}

/// `write(2)`: [`tapstack_send`] with no flags (so `SIGPIPE` on `EPIPE`).
///
/// # Safety
/// `buf` must hold `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_write(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { io::write(fd, buf, len) }
}

/// `writev(2)`: the `cnt` buffers of `iov` in order, no flags (`cnt`
/// outside 0..=1024 is `EINVAL`).
///
/// # Safety
/// `iov` must point at `cnt` valid iovecs.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_writev(
    fd: c_int,
    iov: *const iovec,
    cnt: c_int,
) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { io::writev(fd, iov, cnt) }
}

/// `sendfile(2)` from a seekable file `in_fd` to the stack socket
/// `out_fd`: up to `count` bytes read with `pread` from `*offset` (then
/// advanced past what was sent), or from the file position (then moved) when
/// `offset` is NULL. Blocks as [`tapstack_send`]; returns the bytes sent, 0
/// at end of file. A non-seekable `in_fd` is `EINVAL`. Between kernel fds
/// it is the kernel's `sendfile`.
///
/// # Safety
/// `offset` is NULL or points at a writable `off_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_sendfile(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut off_t,
    count: size_t,
) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { io::sendfile(out_fd, in_fd, offset, count) }
}

/// `sendfile64`: [`tapstack_sendfile`] with a 64-bit offset (`off64_t`,
/// declared here as `int64_t` so the header needs no `_LARGEFILE64_SOURCE`).
///
/// # Safety
/// As for [`tapstack_sendfile`].
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_sendfile64(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut i64,
    count: size_t,
) -> ssize_t {
    // SAFETY: the caller's contract; off64_t is i64.
    unsafe { io::sendfile64(out_fd, in_fd, offset.cast::<off64_t>(), count) }
}

/// `recv(2)`: copies up to `len` received bytes into `buf` and returns as
/// soon as there are some (a short read), 0 at end of file (the peer's FIN,
/// or `shutdown(SHUT_RD)`). Blocks while there is nothing (`SO_RCVTIMEO`:
/// `EAGAIN`; a signal: `EINTR`), or `EAGAIN` when non-blocking or with
/// `MSG_DONTWAIT`. `MSG_PEEK` leaves the bytes queued; `MSG_WAITALL` waits
/// for all `len` bytes (short only at end of file, an error, a signal or a
/// timeout). `ECONNRESET` after the peer's RST, `ETIMEDOUT` when
/// retransmissions ran out, `ENOTCONN` on a socket that never connected.
///
/// # Safety
/// `buf` must hold `len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_recv(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { io::recv(fd, buf, len, flags) }
}

/// `recvfrom(2)`: [`tapstack_recv`]; TCP reports no address: when `addr`
/// is not NULL, `*addrlen` becomes 0, as in Linux.
///
/// # Safety
/// As for [`tapstack_recv`]; `addr` is NULL or `addrlen` points at its
/// length.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { io::recvfrom(fd, buf, len, flags, addr, addrlen) }
}

/// `recvmsg(2)`: [`tapstack_recv`] into `msg->msg_iov`; `msg_namelen`,
/// `msg_controllen` and `msg_flags` are set to 0.
///
/// # Safety
/// `msg` must point at a valid, writable `struct msghdr`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_recvmsg(
    fd: c_int,
    msg: *mut msghdr,
    flags: c_int,
) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { io::recvmsg(fd, msg, flags) }
}

/// `read(2)`: [`tapstack_recv`] with no flags.
///
/// # Safety
/// `buf` must hold `len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { io::read(fd, buf, len) }
}

/// `readv(2)`: [`tapstack_recv`] into the `cnt` buffers of `iov` in order.
///
/// # Safety
/// `iov` must point at `cnt` valid iovecs.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_readv(
    fd: c_int,
    iov: *const iovec,
    cnt: c_int,
) -> ssize_t {
    // SAFETY: the caller's contract.
    unsafe { io::readv(fd, iov, cnt) }
}

/// `shutdown(2)`: `how` is `SHUT_RD` (later reads return 0; a thread
/// blocked in `recv` wakes with 0), `SHUT_WR` (FIN after the queued data:
/// a half-close; later sends are `EPIPE`) or `SHUT_RDWR`; others `EINVAL`.
/// `ENOTCONN` on a socket that is not connected.
#[unsafe(no_mangle)]
pub extern "C-unwind" fn tapstack_shutdown(fd: c_int, how: c_int) -> c_int {
    // SAFETY: integer arguments.
    unsafe { connect::shutdown(fd, how) }
}

/// `close(2)`: forgets `fd` and closes its kernel fd. When it was the last
/// fd of the socket (see `dup`), the connection is closed: FIN after the
/// queued data, or RST when received data was left unread or `SO_LINGER`
/// is on with 0 s; a listener resets the connections nobody accepted. The
/// FIN exchange and TIME-WAIT then go on in the stack. With `SO_LINGER` on
/// and a time, the last `close` first waits (at most that long, even on a
/// non-blocking socket) until the peer has acknowledged our FIN; it
/// succeeds either way. A thread blocked in
/// `recv` on the socket keeps it open until its call returns (as in
/// Linux). In a forked child, closing an inherited socket sends nothing.
#[unsafe(no_mangle)]
pub extern "C-unwind" fn tapstack_close(fd: c_int) -> c_int {
    // SAFETY: closing an fd is memory-safe.
    unsafe { socket::close(fd) }
}

/// `getsockname(2)`: the local `sockaddr_in` (0.0.0.0:0 before `bind`),
/// truncated to `*len`; `*len` becomes 16 (an `AF_INET6` socket: a
/// `sockaddr_in6`, `::` or v4-mapped, and 28).
///
/// # Safety
/// `len` points at the length of `addr`, which must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_getsockname(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { connect::getsockname(fd, addr, len) }
}

/// `getpeername(2)`: the peer's `sockaddr_in`, as [`tapstack_getsockname`];
/// `ENOTCONN` unless connected.
///
/// # Safety
/// As for [`tapstack_getsockname`].
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_getpeername(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { connect::getpeername(fd, addr, len) }
}

/// `setsockopt(2)`. `SOL_SOCKET`: `SO_REUSEADDR`, `SO_REUSEPORT`,
/// `SO_KEEPALIVE`, `SO_RCVBUF`/`SO_SNDBUF` (doubled and clamped as in
/// Linux), `SO_LINGER`, `SO_RCVTIMEO`/`SO_SNDTIMEO` (`struct timeval`;
/// `EDOM` for `tv_usec` out of range). `IPPROTO_TCP`: `TCP_NODELAY`,
/// `TCP_CORK`, `TCP_MAXSEG` (88..=32767), `TCP_KEEPIDLE`/`TCP_KEEPINTVL`
/// (seconds), `TCP_KEEPCNT`, `TCP_CONGESTION` (`"reno"` or `"cubic"`;
/// other names `ENOENT`), `TCP_USER_TIMEOUT` (milliseconds without an ACK
/// before `ETIMEDOUT`; 0 off), `TCP_NOTSENT_LOWAT` (writable only while
/// fewer bytes wait unsent), `TCP_QUICKACK`, `TCP_DEFER_ACCEPT` (seconds
/// during which a listener does not offer a connection until its client
/// sends data; read back rounded as Linux does), `TCP_FASTOPEN` (kept and
/// read back; no Fast Open cookie is offered, as on a default Linux).
/// `IPPROTO_IP`: `IP_TOS` (the
/// DSCP of our segments; the ECN bits are cleared, as Linux does for TCP).
/// Int values need `len` >= 4 (`EINVAL`); other options are
/// `ENOPROTOOPT`. On a connected socket each takes effect at
/// once, except `TCP_MAXSEG` (the next handshake's, as on Linux); accepted
/// connections inherit the listener's options.
///
/// # Safety
/// `val` must hold `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { options::setsockopt(fd, level, name, val, len) }
}

/// `getsockopt(2)`: the options of [`tapstack_setsockopt`], plus `SO_TYPE`,
/// `SO_ERROR` (the pending error, cleared by reading it), `SO_ACCEPTCONN`,
/// `SO_DOMAIN`, `SO_PROTOCOL` and `TCP_INFO` (Linux's `struct tcp_info`).
/// The value is truncated to `*len`, which is set to the length written.
///
/// # Safety
/// `len` points at the length of `val`, which must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { options::getsockopt(fd, level, name, val, len) }
}

/// `fcntl(2)` with one argument (`arg`, 0 when `cmd` takes none):
/// `F_GETFL`/`F_SETFL` (`O_NONBLOCK`, shared by dup'ed fds),
/// `F_GETFD`/`F_SETFD` (`FD_CLOEXEC`, per fd), `F_DUPFD` and
/// `F_DUPFD_CLOEXEC` (a duplicate at or above `arg`, as [`tapstack_dup`]).
///
/// # Safety
/// The same contract as `fcntl` for `cmd`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { options::fcntl(fd, cmd, arg) }
}

/// `fcntl64`: [`tapstack_fcntl`] (glibc's name for `fcntl` with 64-bit
/// file locks).
///
/// # Safety
/// The same contract as `fcntl` for `cmd`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_fcntl64(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { options::fcntl64(fd, cmd, arg) }
}

/// `ioctl(2)` with one argument: `FIONBIO` (`arg` points at an int: non-zero
/// sets `O_NONBLOCK`), `FIONREAD`/`SIOCINQ` (bytes ready to read) and
/// `SIOCOUTQ` (bytes not yet acknowledged) into the int `arg` points at
/// (`EINVAL` on a listener), `FIOCLEX`/`FIONCLEX`; others `ENOTTY`.
///
/// # Safety
/// The same contract as `ioctl` for `request`.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_ioctl(
    fd: c_int,
    request: c_ulong,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { options::ioctl(fd, request, arg) }
}

/// `dup(2)`: a new fd (the kernel's lowest free number, made with the
/// kernel's own dup) for the same socket: options, `O_NONBLOCK` and the
/// connection are shared; the connection closes when its last fd does.
#[unsafe(no_mangle)]
pub extern "C-unwind" fn tapstack_dup(fd: c_int) -> c_int {
    // SAFETY: integer argument.
    unsafe { socket::dup(fd) }
}

/// `dup2(2)`: as [`tapstack_dup`], onto `newfd`; what `newfd` was is closed
/// first (a stack socket there is forgotten, and closed if that was its
/// last fd). `dup2(fd, fd)` returns `fd`.
#[unsafe(no_mangle)]
pub extern "C-unwind" fn tapstack_dup2(oldfd: c_int, newfd: c_int) -> c_int {
    // SAFETY: integer arguments.
    unsafe { socket::dup2(oldfd, newfd) }
}

/// `dup3(2)`: [`tapstack_dup2`] with `flags` 0 or `O_CLOEXEC`; `oldfd ==
/// newfd` is `EINVAL`.
#[unsafe(no_mangle)]
pub extern "C-unwind" fn tapstack_dup3(oldfd: c_int, newfd: c_int, flags: c_int) -> c_int {
    // SAFETY: integer arguments.
    unsafe { socket::dup3(oldfd, newfd, flags) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shim::errno::errno;
    use std::ffi::CStr;

    #[test]
    fn version_is_the_crate_version() {
        // SAFETY: a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(tapstack_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn debug_panic_needs_the_env_var() {
        // Only the "not set" path: setting the variable would race with other
        // tests; the C test `panic_guard` covers the panic path.
        if std::env::var_os("TAPSTACK_TEST_HOOKS").is_none() {
            assert_eq!(tapstack_debug_panic(), -1);
            assert_eq!(errno(), libc::ENOSYS);
        }
    }
}
