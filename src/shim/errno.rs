//! This thread's `errno`, read and written only at the C boundary.

pub use crate::sys::{errno, set_errno};

/// Sets `errno` to `e` and returns `-1`: `return fail(libc::EBADF);`.
#[inline]
pub fn fail<R: super::guard::Failure>(e: i32) -> R {
    set_errno(e);
    R::FAILED
}

use crate::stack::SocketError;

/// The errno for a stack error: the one place `SocketError` meets errno.
pub fn errno_of(e: SocketError) -> i32 {
    use SocketError as S;
    match e {
        S::WouldBlock => libc::EAGAIN,
        S::InProgress => libc::EINPROGRESS,
        S::Already => libc::EALREADY,
        S::IsConnected => libc::EISCONN,
        S::NotConnected => libc::ENOTCONN,
        S::AddrInUse => libc::EADDRINUSE,
        S::AddrNotAvailable => libc::EADDRNOTAVAIL,
        S::InvalidInput => libc::EINVAL,
        S::BadHandle => libc::EBADF,
        S::ConnectionRefused => libc::ECONNREFUSED,
        S::ConnectionReset => libc::ECONNRESET,
        S::ConnectionAborted => libc::ECONNABORTED,
        S::TimedOut => libc::ETIMEDOUT,
        S::BrokenPipe => libc::EPIPE,
        S::HostUnreachable => libc::EHOSTUNREACH,
        S::NetworkUnreachable => libc::ENETUNREACH,
        S::OpNotSupported => libc::EOPNOTSUPP,
    }
}

/// A shim result: a value, or the errno to fail with.
pub type Errno<T> = Result<T, i32>;

/// Turns a shim result into the C return value, setting `errno` on failure.
#[inline]
pub fn ret<T: super::guard::Failure>(r: Errno<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => fail(e),
    }
}
