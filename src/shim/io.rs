//! Moving bytes: the `send` family (`send`, `sendto`, `sendmsg`, `write`,
//! `writev`, `sendfile`, `sendfile64`) and the `recv` family (`recv`,
//! `recvfrom`, `recvmsg`, `read`, `readv`).
//!
//! As in Linux: a blocking send returns when all its bytes are queued (or
//! short, when a signal or `SO_SNDTIMEO` interrupts it after some were); a
//! non-blocking one queues what fits (`EAGAIN` when nothing does). A recv
//! returns what is there (a short read) as soon as there is something,
//! `0` at end of file; with `MSG_WAITALL` it waits for the whole length
//! (short only at end of file, an error, a signal or a timeout). Writing to
//! a connection that cannot send any more fails with `EPIPE` and raises
//! `SIGPIPE` on the calling thread, unless `MSG_NOSIGNAL`.

use super::addr::{check_buf, check_out, check_ptr, write_sockaddr};
use super::errno::{Errno, ret};
use super::fd_table::{self, OpenSocket};
use super::socket::lookup;
use super::wait::{Dir, Waiter, partial};
use crate::stack::SocketError;
use crate::sys::real;
use libc::{c_int, c_void, iovec, msghdr, off_t, off64_t, size_t, sockaddr, socklen_t, ssize_t};

/// Linux's `UIO_MAXIOV`.
const IOV_MAX: usize = 1024;
/// Largest bounce buffer for scatter reads and `sendfile`.
const BOUNCE_MAX: usize = 1 << 20;

/// The flags the stack serves; others are ignored as TCP ignores them.
fn dontwait(flags: c_int) -> bool {
    flags & libc::MSG_DONTWAIT != 0
}

/// The count as `ssize_t`.
fn count(r: Errno<usize>) -> ssize_t {
    ret(r.map(|n| n as ssize_t))
}

/// Reads an iovec array after Linux's checks (`EINVAL` for a bad count,
/// `EFAULT` for bad pointers).
///
/// # Safety
/// `iov` must point at `cnt` iovecs whose buffers are valid.
unsafe fn iovecs(iov: *const iovec, cnt: usize) -> Errno<Vec<(*mut u8, usize)>> {
    if cnt > IOV_MAX {
        return Err(libc::EINVAL);
    }
    check_buf(iov, cnt * std::mem::size_of::<iovec>())?;
    let mut out = Vec::with_capacity(cnt);
    for i in 0..cnt {
        // SAFETY: checked above; iovecs may be unaligned.
        let v = unsafe { iov.add(i).read_unaligned() };
        check_buf(v.iov_base.cast::<u8>(), v.iov_len)?;
        out.push((v.iov_base.cast::<u8>(), v.iov_len));
    }
    Ok(out)
}

/// After a send failed with `e` having queued nothing: `SIGPIPE` for
/// `EPIPE` unless `MSG_NOSIGNAL`.
fn send_failed(e: i32, flags: c_int) -> i32 {
    if e == libc::EPIPE && flags & libc::MSG_NOSIGNAL == 0 {
        real::raise_sigpipe();
    }
    e
}

/// Queues `data` on the stack socket through `w`: all of it when blocking.
fn send_some(w: &Waiter<'_>, data: &[u8]) -> (usize, Option<i32>) {
    let mut off = 0;
    loop {
        let r = w.run(|st, h| {
            st.send(h, &data[off..]).map_err(|e| match e {
                // A connection that is gone (not one that never was: the
                // stack says EPIPE for that already) is EPIPE, as Linux
                // says once the pending error has been reported.
                SocketError::NotConnected => SocketError::BrokenPipe,
                e => e,
            })
        });
        match r {
            Ok(n) => {
                off += n;
                if off >= data.len() {
                    return (off, None);
                }
            }
            Err(e) => return (off, Some(e)),
        }
    }
}

/// Sends the buffers in order (a stream: one after the other).
fn send_bufs(sock: &OpenSocket, bufs: &[(*mut u8, usize)], flags: c_int) -> Errno<usize> {
    let w = Waiter::new(sock, dontwait(flags), Dir::Send)?;
    let mut done = 0;
    let empty = [(std::ptr::NonNull::<u8>::dangling().as_ptr(), 0)];
    let bufs = if bufs.iter().all(|b| b.1 == 0) {
        // Still ask the stack: an unconnected socket says EPIPE.
        &empty[..]
    } else {
        bufs
    };
    for &(p, len) in bufs {
        if len == 0 && bufs.len() > 1 {
            continue;
        }
        // SAFETY: checked by the caller (check_buf/iovecs): `p` holds `len`
        // readable bytes for the duration of the call.
        let data = unsafe { std::slice::from_raw_parts(p, len) };
        let (n, err) = send_some(&w, data);
        done += n;
        if let Some(e) = err {
            return partial(done, e).map_err(|e| send_failed(e, flags));
        }
    }
    Ok(done)
}

/// The errors a connection keeps pending until they are reported.
fn is_connection_error(e: SocketError) -> bool {
    matches!(
        e,
        SocketError::ConnectionReset
            | SocketError::ConnectionRefused
            | SocketError::ConnectionAborted
            | SocketError::TimedOut
            | SocketError::HostUnreachable
            | SocketError::NetworkUnreachable
    )
}

/// Receives into one buffer (see the module documentation).
fn recv_one(sock: &OpenSocket, buf: &mut [u8], flags: c_int) -> Errno<usize> {
    if flags & libc::MSG_OOB != 0 {
        // No urgent data is ever kept apart.
        return Err(libc::EINVAL);
    }
    let peek = flags & libc::MSG_PEEK != 0;
    let waitall = flags & libc::MSG_WAITALL != 0 && !peek;
    let w = Waiter::new(sock, dontwait(flags), Dir::Recv)?;
    let mut done = 0;
    loop {
        let attempt = |st: &mut crate::stack::Stack, h| match st.recv(h, &mut buf[done..], peek) {
            // A connection error is reported once, as Linux's sock_error()
            // clears sk_err: later reads see end of file, later sends EPIPE.
            Err(e) if is_connection_error(e) => {
                let _ = st.take_error(h);
                Err(e)
            }
            r => r,
        };
        match w.run(attempt) {
            Ok(0) => return Ok(done),
            Ok(n) => {
                done += n;
                if !waitall || done >= buf.len() {
                    return Ok(done);
                }
            }
            Err(e) => return partial(done, e),
        }
    }
}

/// Receives into several buffers: through one bounce buffer, so that
/// `MSG_PEEK` and short reads behave as for one buffer.
fn recv_bufs(sock: &OpenSocket, bufs: &[(*mut u8, usize)], flags: c_int) -> Errno<usize> {
    if let [(p, len)] = bufs {
        // SAFETY: checked by the caller: `p` holds `len` writable bytes.
        let buf = unsafe { std::slice::from_raw_parts_mut(*p, *len) };
        return recv_one(sock, buf, flags);
    }
    let total = bufs.iter().map(|b| b.1).sum::<usize>().min(BOUNCE_MAX);
    let mut bounce = vec![0u8; total];
    let n = recv_one(sock, &mut bounce, flags)?;
    let mut off = 0;
    for &(p, len) in bufs {
        let k = len.min(n - off);
        // SAFETY: as above; `k` fits both.
        unsafe { std::ptr::copy_nonoverlapping(bounce.as_ptr().add(off), p, k) };
        off += k;
        if off == n {
            break;
        }
    }
    Ok(n)
}

fn send_ours(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> Errno<usize> {
    check_buf(buf, len)?;
    let sock = lookup(fd)?;
    send_bufs(&sock, &[(buf as *mut u8, len)], flags)
}

fn recv_ours(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> Errno<usize> {
    check_buf(buf, len)?;
    let sock = lookup(fd)?;
    recv_bufs(&sock, &[(buf.cast::<u8>(), len)], flags)
}

posix! {
    /// `send(2)`: `MSG_DONTWAIT`, `MSG_NOSIGNAL` (others as TCP ignores them).
    ///
    /// # Safety
    /// `buf` must hold `len` readable bytes.
    fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t
    where fd_table::is_ours(fd) => count(send_ours(fd, buf, len, flags));
}

posix! {
    /// `sendto(2)`: as `send`; the address is ignored on a TCP socket, except
    /// with `MSG_FASTOPEN` (TCP Fast Open, RFC 7413): then the call connects
    /// first. Without a Fast Open cookie (tapstack never has one) Linux does
    /// the same: an ordinary handshake, the data after it; a non-blocking
    /// socket gets `EINPROGRESS` with nothing sent, a connected one `EISCONN`.
    ///
    /// # Safety
    /// As for [`send`].
    fn sendto(
        fd: c_int,
        buf: *const c_void,
        len: size_t,
        flags: c_int,
        addr: *const sockaddr,
        addrlen: socklen_t,
    ) -> ssize_t
    where fd_table::is_ours(fd) => {
        count(fastopen(fd, flags, addr, addrlen).and_then(|flags| send_ours(fd, buf, len, flags)))
    };
}

/// `MSG_FASTOPEN` with an address: connect first (see [`sendto`]); the
/// flags to send with.
fn fastopen(fd: c_int, flags: c_int, addr: *const sockaddr, len: socklen_t) -> Errno<c_int> {
    if flags & libc::MSG_FASTOPEN == 0 {
        return Ok(flags);
    }
    if !addr.is_null() {
        super::connect::connect_ours(fd, addr, len)?;
    }
    Ok(flags & !libc::MSG_FASTOPEN)
}

posix! {
    /// `sendmsg(2)`: the iovecs in order; name and control data are ignored
    /// (but for `MSG_FASTOPEN`, as in [`sendto`]).
    ///
    /// # Safety
    /// `msg` must point at a valid `msghdr`.
    fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t
    where fd_table::is_ours(fd) => {
        let r = check_ptr(msg).and_then(|()| {
            // SAFETY: checked above.
            let m = unsafe { msg.read_unaligned() };
            // SAFETY: the caller's contract.
            let bufs = unsafe { iovecs(m.msg_iov, m.msg_iovlen) }?;
            let flags = fastopen(fd, flags, m.msg_name.cast(), m.msg_namelen)?;
            send_bufs(&*lookup(fd)?, &bufs, flags)
        });
        count(r)
    };
}

posix! {
    /// `write(2)` on a socket: `send` with no flags.
    ///
    /// # Safety
    /// `buf` must hold `len` readable bytes.
    fn write(fd: c_int, buf: *const c_void, len: size_t) -> ssize_t
    where fd_table::is_ours(fd) => count(send_ours(fd, buf, len, 0));
}

posix! {
    /// `writev(2)` on a socket: the buffers in order, no flags.
    ///
    /// # Safety
    /// `iov` must point at `cnt` valid iovecs.
    fn writev(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t
    where fd_table::is_ours(fd) => {
        let r = usize::try_from(cnt)
            .map_err(|_| libc::EINVAL)
            // SAFETY: the caller's contract.
            .and_then(|cnt| unsafe { iovecs(iov, cnt) })
            .and_then(|bufs| send_bufs(&*lookup(fd)?, &bufs, 0));
        count(r)
    };
}

posix! {
    /// `recv(2)`: `MSG_PEEK`, `MSG_DONTWAIT`, `MSG_WAITALL`.
    ///
    /// # Safety
    /// `buf` must hold `len` writable bytes.
    fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t
    where fd_table::is_ours(fd) => count(recv_ours(fd, buf, len, flags));
}

posix! {
    /// `recvfrom(2)`: as `recv`; a TCP socket reports no address (`*addrlen`
    /// becomes 0), as Linux does.
    ///
    /// # Safety
    /// As for [`recv`]; `addr` is NULL or `addrlen` points at its length.
    fn recvfrom(
        fd: c_int,
        buf: *mut c_void,
        len: size_t,
        flags: c_int,
        addr: *mut sockaddr,
        addrlen: *mut socklen_t,
    ) -> ssize_t
    where fd_table::is_ours(fd) => {
        // SAFETY: the caller's contract.
        let r = unsafe { check_out(addr, addrlen) }.and_then(|()| recv_ours(fd, buf, len, flags));
        if r.is_ok() {
            // SAFETY: checked by check_out.
            unsafe { write_sockaddr(None, addr, addrlen) };
        }
        count(r)
    };
}

posix! {
    /// `recvmsg(2)`: into the iovecs; no name, no control data, no flags
    /// (`msg_namelen`, `msg_controllen`, `msg_flags` become 0).
    ///
    /// # Safety
    /// `msg` must point at a valid, writable `msghdr`.
    fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t
    where fd_table::is_ours(fd) => {
        let r = check_ptr(msg).and_then(|()| {
            // SAFETY: checked above.
            let m = unsafe { msg.read_unaligned() };
            // SAFETY: the caller's contract.
            let bufs = unsafe { iovecs(m.msg_iov, m.msg_iovlen) }?;
            let n = recv_bufs(&*lookup(fd)?, &bufs, flags)?;
            let mut out = m;
            if !out.msg_name.is_null() {
                out.msg_namelen = 0;
            }
            out.msg_controllen = 0;
            out.msg_flags = 0;
            // SAFETY: checked above.
            unsafe { msg.write_unaligned(out) };
            Ok(n)
        });
        count(r)
    };
}

posix! {
    /// `read(2)` on a socket: `recv` with no flags.
    ///
    /// # Safety
    /// `buf` must hold `len` writable bytes.
    fn read(fd: c_int, buf: *mut c_void, len: size_t) -> ssize_t
    where fd_table::is_ours(fd) => count(recv_ours(fd, buf, len, 0));
}

/// `__read_chk`: glibc's `_FORTIFY_SOURCE` `read`, where `buflen` is the
/// size of the buffer the compiler knows: reading more ends the process,
/// as glibc does (`__chk_fail`).
///
/// # Safety
/// As [`read`].
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn __read_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
) -> ssize_t {
    if len > buflen {
        real::fortify_fail();
    }
    // SAFETY: the same contract.
    unsafe { read(fd, buf, len) }
}

/// `__recv_chk`: glibc's `_FORTIFY_SOURCE` `recv` (see [`__read_chk`]).
///
/// # Safety
/// As [`recv`].
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn __recv_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
) -> ssize_t {
    if len > buflen {
        real::fortify_fail();
    }
    // SAFETY: the same contract.
    unsafe { recv(fd, buf, len, flags) }
}

/// `__recvfrom_chk`: glibc's `_FORTIFY_SOURCE` `recvfrom` (see
/// [`__read_chk`]).
///
/// # Safety
/// As [`recvfrom`].
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    if len > buflen {
        real::fortify_fail();
    }
    // SAFETY: the same contract.
    unsafe { recvfrom(fd, buf, len, flags, addr, addrlen) }
}

posix! {
    /// `readv(2)` on a socket: into the buffers in order, no flags.
    ///
    /// # Safety
    /// `iov` must point at `cnt` valid iovecs.
    fn readv(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t
    where fd_table::is_ours(fd) => {
        let r = usize::try_from(cnt)
            .map_err(|_| libc::EINVAL)
            // SAFETY: the caller's contract.
            .and_then(|cnt| unsafe { iovecs(iov, cnt) })
            .and_then(|bufs| recv_bufs(&*lookup(fd)?, &bufs, 0));
        count(r)
    };
}

/// `sendfile` to one of our sockets: reads the file with `pread` from the
/// offset (`*offset`, or the file position, which is then moved past what
/// was sent), and sends through the stack. The file must be seekable.
fn sendfile_ours(out_fd: c_int, in_fd: c_int, offset: *mut off_t, len: size_t) -> Errno<usize> {
    let sock = lookup(out_fd)?;
    if fd_table::is_ours(in_fd) {
        return Err(libc::EINVAL);
    }
    let start = if offset.is_null() {
        // SAFETY: integer arguments.
        let pos = unsafe { real::lseek(in_fd, 0, libc::SEEK_CUR) };
        if pos < 0 {
            return Err(match super::errno::errno() {
                libc::ESPIPE => libc::EINVAL,
                e => e,
            });
        }
        pos
    } else {
        check_ptr(offset)?;
        // SAFETY: checked above.
        let pos = unsafe { offset.read_unaligned() };
        if pos < 0 {
            return Err(libc::EINVAL);
        }
        pos
    };
    let w = Waiter::new(&sock, false, Dir::Send)?;
    let mut buf = vec![0u8; len.min(BOUNCE_MAX)];
    let mut done = 0usize;
    let mut err = None;
    while done < len {
        let want = buf.len().min(len - done);
        // SAFETY: `buf` holds `want` writable bytes.
        let n = unsafe { real::pread(in_fd, buf.as_mut_ptr().cast(), want, start + done as off_t) };
        if n < 0 {
            err = Some(super::errno::errno());
            break;
        }
        if n == 0 {
            break;
        }
        let (sent, e) = send_some(&w, &buf[..n as usize]);
        done += sent;
        if e.is_some() {
            err = e;
            break;
        }
    }
    let end = start + done as off_t;
    if offset.is_null() {
        // SAFETY: integer arguments.
        unsafe { real::lseek(in_fd, end, libc::SEEK_SET) };
    } else {
        // SAFETY: checked above.
        unsafe { offset.write_unaligned(end) };
    }
    match err {
        None => Ok(done),
        Some(e) => partial(done, e).map_err(|e| send_failed(e, 0)),
    }
}

posix! {
    /// `sendfile(2)`: from a file to a socket (see `sendfile_ours`); any
    /// other pair of fds goes to the kernel.
    ///
    /// # Safety
    /// `offset` is NULL or points at a writable `off_t`.
    fn sendfile(out_fd: c_int, in_fd: c_int, offset: *mut off_t, len: size_t) -> ssize_t
    where fd_table::is_ours(out_fd) || fd_table::is_ours(in_fd) => {
        if !fd_table::is_ours(out_fd) {
            // From a stack socket: Linux cannot either.
            return super::errno::fail(libc::EINVAL);
        }
        count(sendfile_ours(out_fd, in_fd, offset, len))
    };
}

posix! {
    /// `sendfile64`: `sendfile` with a 64-bit offset (the same on 64-bit
    /// Linux).
    ///
    /// # Safety
    /// As for [`sendfile`].
    fn sendfile64(out_fd: c_int, in_fd: c_int, offset: *mut off64_t, len: size_t) -> ssize_t
    where fd_table::is_ours(out_fd) || fd_table::is_ours(in_fd) => {
        if !fd_table::is_ours(out_fd) {
            return super::errno::fail(libc::EINVAL);
        }
        count(sendfile_ours(out_fd, in_fd, offset.cast::<off_t>(), len))
    };
}
