//! The readiness family: `epoll_*`, `poll`, `ppoll`, `__poll_chk`,
//! `select`, `pselect`, with Linux semantics over stack sockets and kernel
//! fds in one set.
//!
//! - [`mask`]: what a socket reports (Linux's `tcp_poll`) and the
//!   level/edge/one-shot rules, pure.
//! - [`epoll`]: each epoll instance is a real kernel epoll fd plus, once a
//!   stack socket joins it, an interest list of stack sockets and an
//!   eventfd in the kernel set that a [`Watcher`] makes readable.
//! - [`poll`] and [`select`]: stack fds are evaluated under one stack lock;
//!   when the call must block, a per-thread eventfd watches the stack
//!   sockets and joins the kernel fds in the real `ppoll`.
//!
//! Sets with no stack socket in them go straight to the real call: no
//! stack lock, no allocation.

pub mod epoll;
pub mod interest_list;
pub mod mask;
pub mod poll;
pub mod select;

use crate::runtime;
use crate::stack::socket::{WaitQueue, Watcher};
use crate::stack::{SocketHandle, Stack};
use crate::sys::clock::monotonic_now;
use crate::sys::event::{eventfd, eventfd_add, eventfd_take};
use crate::sys::private_fd::PrivateFd;
use crate::tcp::State;
use crate::time::{Duration, Instant};
use mask::Observation;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// Looks at one stack socket under the stack lock. `counters`: also read
/// the byte counters the edge-triggered rules need. A handle the stack no
/// longer knows (its thread failed) reads as `ERR | HUP`.
pub(crate) fn observe(stack: &Stack, h: SocketHandle, counters: bool) -> Observation {
    let (Ok(r), Ok(state)) = (stack.readiness(h), stack.state(h)) else {
        return Observation {
            mask: mask::ERR | mask::HUP,
            ..Observation::default()
        };
    };
    let (rx_total, acked_total) = if counters {
        match stack.tcp_info(h) {
            Ok(Some(i)) => (i.bytes_received, i.bytes_acked),
            _ => (0, 0),
        }
    } else {
        (0, 0)
    };
    Observation {
        mask: mask::linux_mask(r, state),
        rx_total,
        acked_total,
        listener: state == State::Listen,
    }
}

/// The masks of `handles`, under one stack lock. Without a running stack
/// every socket reads as `ERR | HUP`.
pub(crate) fn masks(handles: &[SocketHandle], out: &mut Vec<u32>) {
    out.clear();
    match runtime::get() {
        Some(rt) => {
            let stack = rt.lock();
            out.extend(handles.iter().map(|&h| observe(&stack, h, false).mask));
        }
        None => out.extend(handles.iter().map(|_| mask::ERR | mask::HUP)),
    }
}

/// When a wait with a timeout ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// `None`: wait forever.
    pub fn after(timeout: Option<Duration>) -> Deadline {
        Deadline(timeout.map(|t| monotonic_now() + t))
    }

    /// From a `poll`/`epoll_wait` millisecond timeout (negative: forever).
    pub fn from_millis(ms: libc::c_int) -> Deadline {
        Deadline::after((ms >= 0).then(|| Duration::from_millis(ms as u64)))
    }

    /// Time left (`None`: forever).
    pub fn remaining(&self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(monotonic_now()))
    }

    /// The time left in whole milliseconds, rounded up so that a wait never
    /// ends early and spins; -1 for forever.
    pub fn remaining_millis(&self) -> libc::c_int {
        match self.remaining() {
            None => -1,
            Some(d) => d.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int,
        }
    }

    /// The time left as a `timespec` for `ppoll`.
    pub fn remaining_timespec(&self) -> Option<libc::timespec> {
        self.remaining().map(|d| libc::timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        })
    }

    /// When it ends (`None`: never).
    pub fn at(&self) -> Option<Instant> {
        self.0
    }

    /// The time is up.
    pub fn expired(&self) -> bool {
        self.remaining().is_some_and(|d| d.is_zero())
    }
}

/// A thread blocked in `poll`/`select`: an eventfd that becomes readable
/// when one of the stack sockets it watches may have changed.
pub(crate) struct ThreadWaiter {
    fd: PrivateFd,
    /// The eventfd was written since the last `drain`: further wakeups
    /// need no system call (the thread is already woken, or will look at
    /// every socket before sleeping again).
    signalled: AtomicBool,
}

impl Watcher for ThreadWaiter {
    fn wake(&self, _: SocketHandle) {
        if !self.signalled.swap(true, Ordering::SeqCst) {
            // A raw write: the library's own `write` export must not see it.
            let _ = eventfd_add(&self.fd, 1);
        }
    }
}

impl ThreadWaiter {
    /// The eventfd, for the real `poll` set.
    pub fn raw_fd(&self) -> libc::c_int {
        self.fd.raw()
    }

    /// Whether a socket it watches may have changed since the last
    /// [`drain`](Self::drain).
    pub fn signalled(&self) -> bool {
        self.signalled.load(Ordering::SeqCst)
    }

    /// Clears the eventfd. The caller then looks at its sockets before it
    /// sleeps: a wakeup that came before the flag is cleared changed
    /// something that look will see; one after writes the eventfd again.
    pub fn drain(&self) {
        let _ = eventfd_take(&self.fd);
        self.signalled.store(false, Ordering::SeqCst);
    }
}

thread_local! {
    static WAITER: RefCell<Option<Arc<ThreadWaiter>>> = const { RefCell::new(None) };
}

/// In a forked child: this thread's waiter is made anew. The one it had is
/// the parent's thread's, copied by `fork`, and its eventfd the same file
/// as the parent's: a wakeup for the child could be drained by the
/// parent's `poll` and lost (socat's child, woken for its connection, slept
/// on while its parent slept in `poll` on the listener).
pub(crate) fn renew_thread_waiter() -> Result<Arc<ThreadWaiter>, i32> {
    WAITER.with(|w| w.borrow_mut().take());
    thread_waiter()
}

/// This thread's waiter (one eventfd per thread, kept for its lifetime).
pub(crate) fn thread_waiter() -> Result<Arc<ThreadWaiter>, i32> {
    WAITER.with(|w| {
        let mut w = w.borrow_mut();
        if let Some(waiter) = &*w {
            return Ok(waiter.clone());
        }
        let fd = eventfd(0).map_err(|e| e.raw_os_error().unwrap_or(libc::ENOMEM))?;
        let waiter = Arc::new(ThreadWaiter {
            fd,
            signalled: AtomicBool::new(false),
        });
        *w = Some(waiter.clone());
        Ok(waiter)
    })
}

/// Watches some stack sockets for as long as it lives.
pub(crate) struct Watching {
    me: Weak<dyn Watcher>,
    handles: Vec<SocketHandle>,
}

impl Watching {
    /// Registers `watcher` on the wait queue of each of `handles`.
    pub fn new(watcher: &Arc<ThreadWaiter>, handles: &[SocketHandle]) -> Watching {
        let arc: Arc<dyn Watcher> = watcher.clone();
        let me = Arc::downgrade(&arc);
        let mut watched = Vec::new();
        if let Some(rt) = runtime::get() {
            let queues: Vec<(SocketHandle, Arc<WaitQueue>)> = {
                let stack = rt.lock();
                handles
                    .iter()
                    .filter_map(|&h| stack.wait_word(h).map(|q| (h, q)))
                    .collect()
            };
            for (h, q) in queues {
                runtime::watchers::watch(rt.slot(), h, &q, me.clone());
                watched.push(h);
            }
        }
        Watching {
            me,
            handles: watched,
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        for &h in &self.handles {
            runtime::watchers::unwatch(h, &self.me);
        }
    }
}
