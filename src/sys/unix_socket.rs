//! Unix stream sockets in the abstract namespace, for the control socket
//! (`runtime/control.rs`): raw system calls, never the shim's exports,
//! and every fd a [`PrivateFd`].

use super::cvt;
use super::private_fd::PrivateFd;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// `sockaddr_un` for an abstract `name` (a leading NUL, then the bytes,
/// no terminator) and its length.
fn abstract_addr(name: &[u8]) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if name.len() + 1 > addr.sun_path.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path[1..].iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + 1 + name.len();
    Ok((addr, len as libc::socklen_t))
}

/// A new non-blocking, close-on-exec `AF_UNIX` socket of type `ty`, as one
/// of the library's own fds.
fn unix_socket(ty: libc::c_int) -> io::Result<PrivateFd> {
    // SAFETY: integer arguments.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_socket,
            libc::AF_UNIX,
            ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: the kernel just gave us this fd and nobody else owns it.
    Ok(PrivateFd::adopt(unsafe {
        OwnedFd::from_raw_fd(fd as libc::c_int)
    }))
}

/// Binds `fd` to the abstract address `name`.
fn bind_abstract(fd: &PrivateFd, name: &[u8]) -> io::Result<()> {
    let (addr, len) = abstract_addr(name)?;
    // SAFETY: `addr` is valid for `len` bytes of reads.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_bind,
            fd.raw(),
            &addr as *const libc::sockaddr_un,
            len,
        )
    })
    .map(drop)
}

/// A non-blocking, close-on-exec stream socket listening on the abstract
/// address `name`.
pub fn listen_abstract(name: &[u8], backlog: i32) -> io::Result<PrivateFd> {
    let fd = unix_socket(libc::SOCK_STREAM)?;
    bind_abstract(&fd, name)?;
    // SAFETY: integer arguments.
    cvt(unsafe { libc::syscall(libc::SYS_listen, fd.raw(), backlog) })?;
    Ok(fd)
}

/// The next connection on `listener`, non-blocking and close-on-exec;
/// `Ok(None)` when there is none.
pub fn accept(listener: &PrivateFd) -> io::Result<Option<PrivateFd>> {
    // SAFETY: null address pointers ask for no peer address.
    let r = cvt(unsafe {
        libc::syscall(
            libc::SYS_accept4,
            listener.raw(),
            std::ptr::null_mut::<libc::sockaddr>(),
            std::ptr::null_mut::<libc::socklen_t>(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    });
    match r {
        // SAFETY: the kernel just gave us this fd and nobody else owns it.
        Ok(fd) => Ok(Some(PrivateFd::adopt(unsafe {
            OwnedFd::from_raw_fd(fd as libc::c_int)
        }))),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// `read(2)` as a raw system call; `Err(WouldBlock)` when nothing waits.
pub fn read(fd: &PrivateFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
    cvt(unsafe { libc::syscall(libc::SYS_read, fd.raw(), buf.as_mut_ptr(), buf.len()) })
        .map(|n| n as usize)
}

/// `send(2)` with `MSG_NOSIGNAL | MSG_DONTWAIT` (a client that went away
/// must not raise `SIGPIPE` in the program).
pub fn send(fd: &PrivateFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of reads.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd.raw(),
            buf.as_ptr(),
            buf.len(),
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            std::ptr::null::<libc::sockaddr>(),
            0,
        )
    })
    .map(|n| n as usize)
}

/// A non-blocking, close-on-exec datagram socket bound to the abstract
/// address `name` (a process's bell: `runtime/bell.rs`).
pub fn bind_abstract_dgram(name: &[u8]) -> io::Result<PrivateFd> {
    let fd = unix_socket(libc::SOCK_DGRAM)?;
    bind_abstract(&fd, name)?;
    Ok(fd)
}

/// Sends one datagram from `from` (any datagram socket of ours) to the
/// abstract address `name`, without blocking.
pub fn send_to_abstract(from: &PrivateFd, name: &[u8], buf: &[u8]) -> io::Result<usize> {
    let (addr, len) = abstract_addr(name)?;
    // SAFETY: `buf` is valid for `buf.len()` bytes and `addr` for `len`.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_sendto,
            from.raw(),
            buf.as_ptr(),
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            &addr as *const libc::sockaddr_un,
            len,
        )
    })
    .map(|n| n as usize)
}

/// A non-blocking, close-on-exec datagram socket bound to no address, to
/// send from.
pub fn unbound_dgram() -> io::Result<PrivateFd> {
    unix_socket(libc::SOCK_DGRAM)
}

/// The inode of this process's network namespace (`/proc/self/ns/net`),
/// 0 when it cannot be read.
pub fn netns_inode() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/net").map_or(0, |m| m.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listens_accepts_and_answers_on_an_abstract_name() {
        use std::io::{Read, Write};
        use std::os::linux::net::SocketAddrExt;
        let name = format!("tapstack-test/{}/unix_socket", std::process::id());
        let l = listen_abstract(name.as_bytes(), 4).unwrap();
        assert!(super::super::private_fd::is_private(l.raw()));
        assert!(accept(&l).unwrap().is_none());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let mut c = std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
        c.write_all(b"hi").unwrap();
        let a = accept(&l).unwrap().unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(read(&a, &mut buf).unwrap(), 2);
        assert_eq!(send(&a, b"ok").unwrap(), 2);
        drop(a);
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"ok");
    }
}
