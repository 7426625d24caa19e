//! The panic boundary: no panic ever crosses the C ABI.
//!
//! Every exported function runs its body through [`guard`]. A panic inside
//! is caught, reported on stderr in one line (function, message, location),
//! and turned into the function's failure value ([`Failure::FAILED`]) with
//! `errno = EIO`, so the host program gets an ordinary error and carries on.
//!
//! Thread cancellation is disabled inside the guard: glibc's
//! `pthread_cancel` unwinds a thread at a cancellation point (`read`,
//! `write`...), and the library makes such calls (the stack thread's
//! waker). Calls that are not for a stack socket go to libc *outside* the
//! guard, through `extern "C-unwind"` exports, so they stay cancellation
//! points as the program expects. A thread blocked in a stack socket call
//! is therefore not cancelled until it returns.
//!
//! The one line comes from a panic hook installed on first use: while a
//! thread is inside a guard it prints our line instead of the default report;
//! elsewhere (the stack thread, tests) it defers to the previous hook.

use super::errno::set_errno;
use crate::runtime::calls;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

/// The value an exported function returns when it fails.
pub trait Failure {
    /// `-1` for counts and fds, NULL for pointers.
    const FAILED: Self;
}

impl Failure for libc::c_int {
    const FAILED: Self = -1;
}

impl Failure for libc::ssize_t {
    const FAILED: Self = -1;
}

impl<T> Failure for *const T {
    const FAILED: Self = std::ptr::null();
}

impl<T> Failure for *mut T {
    const FAILED: Self = std::ptr::null_mut();
}

/// What a thread is running, in one thread-local (each one an access of
/// its own in a shared library).
struct Current {
    /// The exported function, if any.
    name: Cell<Option<&'static str>>,
    /// Where the thread counts its calls ([`calls`]); `u16::MAX` until
    /// its first.
    slot: Cell<u16>,
}

thread_local! {
    /// The exported function this thread is running, and its count slot.
    static CURRENT: Current = const {
        Current {
            name: Cell::new(None),
            slot: Cell::new(u16::MAX),
        }
    };
}

static HOOK: Once = Once::new();

/// Installs the hook when the library is loaded, so that no exported call
/// (`close` in a signal handler, say) has to allocate to install it later.
/// `guard` still checks, for when the crate is linked as an rlib.
#[used]
#[unsafe(link_section = ".init_array")]
static INSTALL_AT_LOAD: extern "C" fn() = {
    extern "C" fn install_at_load() {
        // A panic must not unwind out of a constructor.
        let _ = panic::catch_unwind(|| HOOK.call_once(install_hook));
    }
    install_at_load
};

/// Runs `body` as the exported function `name`: a panic becomes
/// `R::FAILED` with `errno = EIO`.
#[inline]
pub fn guard<R: Failure>(name: &'static str, body: impl FnOnce() -> R) -> R {
    HOOK.call_once(install_hook);
    // A signal handler that interrupted this thread while it held one of
    // the stack's locks (the stack's, the transmit lock, the fd table's
    // write lock: `shared::lock::held_by_this_thread`), calling on the
    // stack: it would wait for itself (and every process on the stack
    // behind it). It fails as an interrupted
    // call does, and touches nothing.
    if crate::shared::lock::held_by_this_thread() {
        set_errno(libc::EINTR);
        return R::FAILED;
    }
    let (outer, slot) = CURRENT.with(|c| {
        let slot = match c.slot.get() {
            u16::MAX => {
                let mine = calls::claim();
                c.slot.set(mine);
                mine
            }
            mine => mine,
        };
        (c.name.replace(Some(name)), slot)
    });
    calls::enter(slot);
    let cancel = crate::sys::real::disable_cancel();
    let result = panic::catch_unwind(AssertUnwindSafe(body));
    crate::sys::real::restore_cancel(cancel);
    calls::leave(slot);
    CURRENT.with(|c| c.name.set(outer));
    match result {
        Ok(value) => value,
        Err(_) => {
            set_errno(libc::EIO);
            R::FAILED
        }
    }
}

fn install_hook() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        match CURRENT.try_with(|c| c.name.get()).ok().flatten() {
            Some(name) => eprintln!("{}", panic_line(name, info)),
            None => previous(info),
        }
    }));
}

/// `tapstack: panic in NAME(): MESSAGE at FILE:LINE; returning EIO`.
fn panic_line(name: &str, info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    let location = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    format!("tapstack: panic in {name}(): {message}{location}; returning EIO")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_made_while_this_thread_holds_the_lock_fails_with_eintr() {
        let m = crate::shared::lock::tests::shared_mutex();
        let _ = m.lock();
        let r: libc::c_int = guard("t", || 7);
        assert_eq!(r, -1);
        assert_eq!(errno(), libc::EINTR);
        m.unlock();
        assert_eq!(guard("t", || 7 as libc::c_int), 7);
    }
    use crate::shim::errno::errno;

    #[test]
    fn a_call_made_while_this_thread_holds_the_fd_tables_write_lock_fails_with_eintr() {
        // As around a `fork`: the table's write lock, marked as held.
        crate::shim::fd_table::lock_for_fork();
        let r: libc::c_int = guard("t", || 7);
        let e = errno();
        crate::shim::fd_table::unlock_after_fork();
        assert_eq!((r, e), (-1, libc::EINTR));
        assert_eq!(guard("t", || 7 as libc::c_int), 7);
    }

    #[test]
    fn passes_the_value_through() {
        assert_eq!(guard("t", || 7 as libc::c_int), 7);
    }

    #[test]
    fn panic_becomes_minus_one_and_eio() {
        set_errno(0);
        let r: libc::ssize_t = guard("t", || panic!("boom"));
        assert_eq!(r, -1);
        assert_eq!(errno(), libc::EIO);
        // The guard is reusable after a panic.
        assert_eq!(guard("t", || 3 as libc::c_int), 3);
    }

    #[test]
    fn pointer_functions_return_null() {
        let r: *const libc::c_char = guard("t", || panic!("boom"));
        assert!(r.is_null());
    }

    #[test]
    fn nested_guards_restore_the_name() {
        guard("outer", || {
            let _: libc::c_int = guard("inner", || panic!("inner"));
            assert_eq!(CURRENT.with(|c| c.name.get()), Some("outer"));
            0 as libc::c_int
        });
        assert_eq!(CURRENT.with(|c| c.name.get()), None);
    }
}
