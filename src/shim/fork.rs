//! `fork` without disturbing the parent's connections (see
//! `docs/processes.md`).
//!
//! The handlers are registered with `pthread_atfork` when the library is
//! loaded. Before the fork they take the fd table's lock and the runtime's
//! locks, so the child's copies are whole; after it the parent just
//! unlocks, and the child unlocks and marks the runtime inherited. In the
//! child, the inherited sockets keep their fds: `close` forgets them and
//! sends nothing (the connection is the parent's), `dup`/`fcntl` work on
//! the fd, and every call that needs the stack fails with `EBADFD`.

use super::fd_table;
use crate::runtime::process;
use crate::sys::real;

#[used]
#[unsafe(link_section = ".init_array")]
static REGISTER_AT_LOAD: extern "C" fn() = {
    extern "C" fn register_at_load() {
        real::pthread_atfork(prepare, parent, child);
    }
    register_at_load
};

unsafe extern "C" fn prepare() {
    let _ = std::panic::catch_unwind(|| {
        fd_table::lock_for_fork();
        process::fork_prepare();
    });
}

unsafe extern "C" fn parent() {
    let _ = std::panic::catch_unwind(|| {
        process::fork_parent();
        fd_table::unlock_after_fork();
    });
}

unsafe extern "C" fn child() {
    let _ = std::panic::catch_unwind(|| {
        process::fork_child();
        fd_table::unlock_after_fork();
    });
}
