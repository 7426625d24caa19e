//! The exported C ABI, kept thin.
//!
//! - [`guard`]: the panic boundary every export runs inside.
//! - [`errno`]: `errno`, only here at the boundary.
//! - [`fd_table`]: which fds are stack sockets.
//! - [`socket`]: the POSIX-named exports (`socket`, `close`), kept out of
//!   the header.
//! - [`api`]: the `tapstack_*` functions declared in `include/tapstack.h`.
//! - [`readiness`]: `epoll_*`, `poll`, `select` and their cousins.

pub mod api;
pub mod errno;
pub mod fd_table;
pub mod guard;
pub mod readiness;
pub mod socket;

#[cfg(test)]
mod header;
