//! The POSIX-named socket calls: `socket` and `close`.
//!
//! These names stay out of `include/tapstack.h` (see `cbindgen.toml`), so the
//! header can be included next to `<sys/socket.h>`.

use super::errno::fail;
use super::fd_table::{self, Entry, OpenSocket};
use super::guard::guard;
use crate::runtime;
use crate::stack::SocketHandle;
use crate::sys::real;
use libc::c_int;

/// The `socket()` calls the stack serves: IPv4 TCP.
fn is_ipv4_tcp(domain: c_int, ty: c_int, protocol: c_int) -> bool {
    domain == libc::AF_INET
        && ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) == libc::SOCK_STREAM
        && (protocol == 0 || protocol == libc::IPPROTO_TCP)
}

/// `socket(2)`: IPv4 TCP sockets are the stack's (starting it on first
/// use); every other socket is the kernel's.
///
/// # Safety
/// None beyond libc's: the arguments are integers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    guard("socket", || {
        if !is_ipv4_tcp(domain, ty, protocol) {
            // SAFETY: integer arguments, passed on unchanged.
            return unsafe { real::socket(domain, ty, protocol) };
        }
        match new_socket(ty) {
            Ok(fd) => fd,
            Err(e) => fail(e),
        }
    })
}

/// Starts the stack if needed and reserves the fd of a new stack socket.
pub(crate) fn new_socket(ty: c_int) -> Result<c_int, c_int> {
    let rt = runtime::ensure_started()?;
    let fd = reserve_fd()?;
    let handle = rt.lock().socket();
    install(
        fd,
        handle,
        ty & libc::SOCK_NONBLOCK != 0,
        ty & libc::SOCK_CLOEXEC != 0,
    )
}

/// Makes `fd` (a freshly reserved fd) stand for the stack socket `handle`.
/// On failure the fd is closed and the socket released.
pub(crate) fn install(
    fd: c_int,
    handle: SocketHandle,
    nonblocking: bool,
    cloexec: bool,
) -> Result<c_int, c_int> {
    let entry = Entry {
        socket: OpenSocket::new(handle, nonblocking),
        cloexec,
    };
    if let Err(e) = fd_table::insert(fd, entry) {
        // SAFETY: `fd` is the eventfd we just opened and nobody else has.
        unsafe { real::close(fd) };
        return Err(e);
    }
    Ok(fd)
}

/// Closes the stack socket `handle` once no fd refers to it any more
/// (called from [`OpenSocket`]'s `Drop`). In a process whose stack is not
/// running (e.g. a forked child), it does nothing: the socket belongs to
/// the stack of the process that created it.
pub(crate) fn release(handle: SocketHandle) {
    if handle.index == u32::MAX {
        return;
    }
    if let Some(rt) = runtime::get() {
        let mut stack = rt.lock();
        stack.close(handle);
        rt.finish(stack);
    }
}

/// A real kernel fd to stand for a stack socket: an eventfd, small, closable
/// and pollable.
fn reserve_fd() -> Result<c_int, c_int> {
    // SAFETY: integer arguments.
    let fd = unsafe { real::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        Err(super::errno::errno())
    } else {
        Ok(fd)
    }
}

/// `close(2)`: a stack socket is forgotten and its reserved fd closed; any
/// other fd goes to the kernel.
///
/// # Safety
/// None beyond libc's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    guard("close", || {
        // Dropping the entry releases the stack socket when this was the
        // last fd that referred to it.
        drop(fd_table::remove(fd));
        // SAFETY: closing an fd is always memory-safe.
        unsafe { real::close(fd) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shim::errno::errno;

    #[test]
    fn only_ipv4_tcp_is_ours() {
        assert!(is_ipv4_tcp(libc::AF_INET, libc::SOCK_STREAM, 0));
        assert!(is_ipv4_tcp(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::IPPROTO_TCP
        ));
        assert!(!is_ipv4_tcp(libc::AF_INET, libc::SOCK_DGRAM, 0));
        assert!(!is_ipv4_tcp(libc::AF_INET6, libc::SOCK_STREAM, 0));
        assert!(!is_ipv4_tcp(libc::AF_UNIX, libc::SOCK_STREAM, 0));
        assert!(!is_ipv4_tcp(
            libc::AF_INET,
            libc::SOCK_STREAM,
            libc::IPPROTO_SCTP
        ));
    }

    #[test]
    fn other_sockets_pass_through_to_the_kernel() {
        // SAFETY: integer arguments; the fd is closed below.
        let fd = unsafe { socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0);
        assert!(!fd_table::is_ours(fd));
        // SAFETY: our own fd.
        assert_eq!(unsafe { close(fd) }, 0);
        // SAFETY: closing a closed fd is an error, not UB.
        assert_eq!(unsafe { close(fd) }, -1);
        assert_eq!(errno(), libc::EBADF);
    }
}
