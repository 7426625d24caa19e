//! The exported C ABI, kept thin.
//!
//! - [`guard`]: the panic boundary every export runs inside.
//! - [`errno`]: `errno`, only here at the boundary.
//! - [`fd_table`]: which fds are stack sockets.
//! - [`socket`]: `socket`, `close`, `dup`, `dup2`, `dup3`.
//! - [`connect`]: `bind`, `listen`, `accept`, `connect`, `shutdown`, names.
//! - [`io`]: the `send` and `recv` families, `sendfile`.
//! - [`options`]: `setsockopt`, `getsockopt`, `fcntl`, `ioctl`.
//! - [`wait`]: blocking, non-blocking, timeouts and signals.
//! - [`addr`]: sockaddr conversion and pointer checks.
//! - [`fork`]: `pthread_atfork` handlers.
//! - [`privileges`]: `setuid` and its cousins start the stack first.
//! - [`api`]: the `tapstack_*` functions declared in `include/tapstack.h`.
//! - [`readiness`]: `epoll_*`, `poll`, `select` and their cousins.
//!
//! The POSIX-named exports stay out of the header (see `cbindgen.toml`).

pub mod addr;
pub mod api;
pub mod connect;
pub mod errno;
pub mod fd_table;
pub mod fork;
pub mod guard;
pub mod io;
pub mod options;
pub mod privileges;
pub mod readiness;
pub mod socket;
pub mod wait;

#[cfg(test)]
mod header;
