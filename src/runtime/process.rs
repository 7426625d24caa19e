//! The runtime across `fork` and `exit` (see `docs/processes.md`).
//!
//! - **fork**: the shim's `pthread_atfork` handlers call [`fork_prepare`]
//!   before the fork (it takes the start lock, the stack lock and the
//!   lock of the library's own fds, so the child's copies are not caught
//!   half-changed), [`fork_parent`]
//!   after it in the parent (unlocks) and [`fork_child`] in the child
//!   (unlocks, marks the runtime *inherited* and forgets it). In the child
//!   the stack thread does not exist and the TAP belongs to the parent:
//!   the inherited runtime answers `EBADFD` ([`Runtime::health`]), a socket
//!   closed there sends nothing, and the child's first new socket tries to
//!   start a stack of its own.
//! - **exit**: the kernel closes a process's fds when it exits, so an
//!   `atexit` handler closes the sockets the application still holds as
//!   `close` would (FIN after the queued data; RST with unread data or
//!   `SO_LINGER` 0; connections not yet accepted are reset, as Linux does
//!   when a listener closes). Then it gives the closing connections up to
//!   5 s to deliver their data and finish the FIN exchange (the kernel
//!   would go on after the process is gone; we cannot), resets what is
//!   still open (never a connection in TIME-WAIT, RFC 1337), lets the stack
//!   thread send the RSTs, and stops it (flushing the pcap): all bounded in
//!   time, never waiting without a bound for a lock another thread may
//!   hold.

use super::{CURRENT, Runtime, START, current};
use crate::stack::Stack;
use crate::sys::private_fd::{self, HeldForFork};
use crate::sys::sync::ForkHold;
use crate::time::Duration;
use std::cell::RefCell;
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicBool, Ordering};

/// How long `fork` waits for the stack lock before forking without it.
const FORK_LOCK_WAIT: Duration = Duration::from_secs(2);
/// Bound on the exit handler's wait for closed connections to deliver
/// their data, and then for the RSTs to leave.
const EXIT_DRAIN: Duration = Duration::from_secs(5);
const EXIT_FLUSH: Duration = Duration::from_millis(300);

/// The locks [`fork_prepare`] took. The three handlers run in the forking
/// thread, and its thread-locals are the child's main thread's.
struct Held {
    start: Option<ForkHold<()>>,
    stack: Option<ForkHold<Stack>>,
    private_fds: Option<HeldForFork>,
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// This process is a fork of one whose stack ran (on the TAP it still
/// holds).
static PARENT_HOLDS_TAP: AtomicBool = AtomicBool::new(false);

/// Whether an ancestor of this process ran a stack before it forked.
pub fn parent_holds_tap() -> bool {
    PARENT_HOLDS_TAP.load(Ordering::Acquire)
}

fn running() -> Option<&'static Runtime> {
    match current() {
        Some(Ok(rt)) if !rt.inherited.load(Ordering::Acquire) => Some(rt),
        _ => None,
    }
}

/// Before `fork`: takes the start lock and the stack lock, and keeps them
/// across the fork.
pub fn fork_prepare() {
    let start = ForkHold::hold(&START, FORK_LOCK_WAIT);
    let stack = running().and_then(|rt| ForkHold::hold(&rt.stack, FORK_LOCK_WAIT));
    // Last: the runtime makes its private fds under the start lock.
    let private_fds = private_fd::hold_for_fork(FORK_LOCK_WAIT);
    HELD.with(|h| {
        *h.borrow_mut() = Some(Held {
            start,
            stack,
            private_fds,
        })
    });
}

fn release_held() {
    if let Some(held) = HELD.with(|h| h.borrow_mut().take()) {
        if let Some(private_fds) = held.private_fds {
            private_fds.release();
        }
        if let Some(stack) = held.stack {
            stack.release();
        }
        if let Some(start) = held.start {
            start.release();
        }
    }
}

/// After `fork`, in the parent: unlocks; the parent goes on as before.
pub fn fork_parent() {
    release_held();
}

/// After `fork`, in the child: unlocks, then marks the parent's runtime
/// inherited and forgets it.
pub fn fork_child() {
    let inherited = running();
    release_held();
    if let Some(rt) = inherited {
        rt.inherited.store(true, Ordering::Release);
        PARENT_HOLDS_TAP.store(true, Ordering::Release);
    }
    CURRENT.forget();
}

/// Registers [`at_exit`] (once, when the runtime starts).
pub(super) fn register_exit_handler() {
    crate::sys::real::atexit(at_exit);
}

extern "C" fn at_exit() {
    // No panic may unwind into libc's exit.
    let _ = catch_unwind(|| {
        if let Some(rt) = running()
            && rt.health().is_ok()
        {
            rt.reset_and_stop(EXIT_DRAIN, EXIT_FLUSH);
        }
    });
}

impl Runtime {
    /// At exit: closes the connections the application holds (as `close`
    /// does), waits up to `drain` for closing ones to deliver their data
    /// and finish the FIN exchange, resets the rest, gives
    /// the stack thread up to `flush` to put the RSTs on the wire, then
    /// stops it. Never waits on a lock without a bound: another thread may
    /// hold the stack lock when `exit` is called.
    pub fn reset_and_stop(&self, drain: Duration, flush: Duration) {
        let step = Duration::from_millis(20);
        if let Some(mut stack) = self.stack.try_lock_for(flush) {
            stack.close_all_held();
            self.finish(stack);
            let start = std::time::Instant::now();
            while start.elapsed() < drain {
                match self.stack.try_lock_for(step) {
                    Some(stack) if !stack.orphans_draining() => break,
                    Some(stack) => drop(stack),
                    None => {}
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            if let Some(mut stack) = self.stack.try_lock_for(step) {
                stack.abort_all(true);
                self.finish(stack);
            }
            let start = std::time::Instant::now();
            while start.elapsed() < flush {
                self.wake();
                match self.stack.try_lock_for(step) {
                    Some(stack) if !stack.has_pending_transmit() => break,
                    _ => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        }
        // The stack thread finishes its turn (writing what it took) before
        // it sees the stop flag.
        self.shutdown();
    }
}
