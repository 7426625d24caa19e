//! The exported C ABI, kept thin.
//!
//! - [`guard`]: the panic boundary every export runs inside.
//! - [`errno`]: `errno`, only here at the boundary.
//! - [`fd_table`]: which fds are stack sockets.
//! - [`socket`]: `socket`, `close`, `close_range`, `closefrom`, `dup`,
//!   `dup2`, `dup3`.
//! - [`connect`]: `bind`, `listen`, `accept`, `connect`, `shutdown`, names.
//! - [`io`]: the `send` and `recv` families, `sendfile`.
//! - [`options`]: `setsockopt`, `getsockopt`, `fcntl`, `ioctl`.
//! - [`wait`]: blocking, non-blocking, timeouts and signals.
//! - [`addr`]: sockaddr conversion and pointer checks.
//! - [`inet6`]: `AF_INET6` (dual-stack) sockets: IPv6 addresses as they
//!   are, IPv4 peers v4-mapped.
//! - [`fork`]: `pthread_atfork` handlers.
//! - [`privileges`]: `setuid` and its cousins start the stack first.
//! - [`api`]: the `tapstack_*` functions declared in `include/tapstack.h`.
//! - [`readiness`]: `epoll_*`, `poll`, `select` and their cousins.
//!
//! The POSIX-named exports stay out of the header (see `cbindgen.toml`).

/// Defines POSIX-named exports, each stating its name once:
///
/// ```ignore
/// posix! {
///     /// `send(2)`...
///     fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t
///     where fd_table::is_ours(fd) => count(send_ours(fd, buf, len, flags));
/// }
/// ```
///
/// A call for which the `where` condition is false is not the library's:
/// it goes to libc's function of the same name ([`crate::sys::real`]) with
/// the same arguments, outside the guard, so that it stays a cancellation
/// point as the program expects. A call for the library runs the body
/// inside [`guard::guard`] under the export's name (a panic becomes -1 and
/// `EIO`). The `tapstack_*` functions of the header call these exports.
macro_rules! posix {
    ($(
        $(#[$doc:meta])*
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty
        where $ours:expr => $body:expr;
    )*) => {$(
        $(#[$doc])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C-unwind" fn $name($($arg: $ty),*) -> $ret {
            if !($ours) {
                // SAFETY: passed on unchanged, under libc's contract.
                return unsafe { $crate::sys::real::$name($($arg),*) };
            }
            $crate::shim::guard::guard(stringify!($name), || $body)
        }
    )*};
}

pub mod addr;
pub mod api;
pub mod connect;
pub mod errno;
pub mod fd_table;
pub mod fork;
pub mod guard;
pub mod inet6;
pub mod io;
pub mod options;
pub mod privileges;
pub mod readiness;
pub mod socket;
pub mod wait;

#[cfg(test)]
mod header;
