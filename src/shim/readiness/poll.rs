//! `poll`, `ppoll` and `__poll_chk` over stack sockets and kernel fds.
//!
//! A set without stack sockets goes straight to the real call. Otherwise
//! the stack sockets are evaluated under one stack lock; when one is ready
//! or the timeout is zero, the kernel fds are polled with timeout 0 and
//! both are returned. Else this thread's eventfd watches the stack sockets
//! and joins the kernel fds in the real `ppoll`; after it returns, the
//! stack sockets are evaluated again.

use super::{Deadline, ThreadWaiter, Watching, mask, masks, thread_waiter};
use crate::runtime;
use crate::shim::errno::{errno, fail};
use crate::shim::fd_table::{self, Entry};
use crate::stack::SocketHandle;
use crate::sys::real;
use crate::sys::signal::Blocked;
use libc::{c_int, nfds_t, pollfd, sigset_t, size_t, timespec};

/// Whether any fd of `fds` is a stack socket.
pub(crate) fn any_ours(fds: &[pollfd]) -> bool {
    fds.iter().any(|p| fd_table::is_ours(p.fd))
}

/// The set, split: positions and handles of the stack sockets (with their
/// entries, kept alive for the call), and positions of the kernel fds.
struct Split {
    stack: Vec<(usize, SocketHandle)>,
    kernel: Vec<usize>,
    _entries: Vec<Entry>,
}

fn split(fds: &[pollfd]) -> Split {
    let mut s = Split {
        stack: Vec::new(),
        kernel: Vec::new(),
        _entries: Vec::new(),
    };
    for (i, p) in fds.iter().enumerate() {
        match fd_table::get(p.fd) {
            Some(e) => {
                s.stack.push((i, e.socket.handle));
                s._entries.push(e);
            }
            None => s.kernel.push(i),
        }
    }
    s
}

/// Sets the `revents` of the stack sockets; returns how many are non-zero.
fn eval_stack(fds: &mut [pollfd], split: &Split, scratch: &mut Vec<u32>) -> usize {
    let handles: Vec<SocketHandle> = split.stack.iter().map(|&(_, h)| h).collect();
    masks(&handles, scratch);
    let mut n = 0;
    for (&(i, _), &m) in split.stack.iter().zip(scratch.iter()) {
        fds[i].revents = mask::poll_revents(m, fds[i].events);
        n += usize::from(fds[i].revents != 0);
    }
    n
}

/// Polls the kernel fds (plus `extra`, if any) with the real `ppoll`;
/// copies their `revents` back and returns how many kernel fds are ready,
/// and whether `extra` was.
fn poll_kernel(
    fds: &mut [pollfd],
    split: &Split,
    extra: Option<c_int>,
    timeout: Option<timespec>,
    sigmask: *const sigset_t,
) -> Result<(usize, bool), i32> {
    let mut set: Vec<pollfd> = split.kernel.iter().map(|&i| fds[i]).collect();
    if let Some(fd) = extra {
        set.push(pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
    }
    if set.is_empty() && timeout.is_some_and(|t| t.tv_sec == 0 && t.tv_nsec == 0) {
        return Ok((0, false));
    }
    let ts = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const _);
    // SAFETY: `set` is a valid array of `set.len()` pollfds; `ts` is null or
    // points at a timespec on this frame; `sigmask` is the caller's.
    let r = unsafe { real::ppoll(set.as_mut_ptr(), set.len() as nfds_t, ts, sigmask) };
    if r < 0 {
        return Err(errno());
    }
    let mut n = 0;
    for (&i, p) in split.kernel.iter().zip(set.iter()) {
        fds[i].revents = p.revents;
        n += usize::from(p.revents != 0);
    }
    let extra_ready = extra.is_some() && set.last().is_some_and(|p| p.revents != 0);
    Ok((n, extra_ready))
}

/// The thread that waits reads the TAP meanwhile, when it may
/// (`runtime::reader`): the kernel fds and `waiter`'s eventfd join its
/// `ppoll` set, with `blocked` (made at the first such wait) blocking
/// signals to the end of the call. As [`poll_kernel`]'s blocking call, or
/// `None` when this thread cannot read the TAP now.
fn wait_reading(
    fds: &mut [pollfd],
    split: &Split,
    waiter: &ThreadWaiter,
    deadline: Deadline,
    sigmask: *const sigset_t,
    blocked: &mut Option<Blocked>,
) -> Option<Result<(usize, bool), i32>> {
    let rt = runtime::get()?;
    if blocked.is_none() && !rt.event_loops_read() {
        return None;
    }
    let mut set: Vec<pollfd> = split.kernel.iter().map(|&i| fds[i]).collect();
    set.push(pollfd {
        fd: waiter.raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    });
    // SAFETY: the caller's mask, valid for the call when not null.
    let signals = blocked.get_or_insert_with(|| Blocked::new(unsafe { sigmask.as_ref() }));
    if let Err(e) = rt.wait_ready(&mut set, deadline.at(), signals, &mut || waiter.signalled())? {
        return Some(Err(e));
    }
    let mut n = 0;
    for (&i, p) in split.kernel.iter().zip(set.iter()) {
        fds[i].revents = p.revents;
        n += usize::from(p.revents != 0);
    }
    let woken = waiter.signalled() || set.last().is_some_and(|p| p.revents != 0);
    Some(Ok((n, woken)))
}

const ZERO: timespec = timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// `poll` over a set holding at least one stack socket.
pub(crate) fn poll_mixed(
    fds: &mut [pollfd],
    deadline: Deadline,
    sigmask: *const sigset_t,
) -> Result<usize, i32> {
    let r = poll_mixed_once(fds, deadline, sigmask);
    crate::runtime::transmit::note_ready(*r.as_ref().unwrap_or(&0));
    r
}

fn poll_mixed_once(
    fds: &mut [pollfd],
    deadline: Deadline,
    sigmask: *const sigset_t,
) -> Result<usize, i32> {
    let split = split(fds);
    let mut scratch = Vec::new();
    let n = eval_stack(fds, &split, &mut scratch);
    if n > 0 || deadline.expired() {
        let (k, _) = poll_kernel(fds, &split, None, Some(ZERO), std::ptr::null())?;
        return Ok(n + k);
    }
    // Going to wait: what the program did not answer, it will not answer
    // at once.
    if let Some(rt) = runtime::get() {
        rt.release_held_acks();
    }
    let waiter = thread_waiter()?;
    let handles: Vec<SocketHandle> = split.stack.iter().map(|&(_, h)| h).collect();
    let _watching = Watching::new(&waiter, &handles);
    // Signals blocked once this call waits on the TAP, to the end of the
    // call; every wait after that uses the mask it would have used.
    let mut blocked: Option<Blocked> = None;
    loop {
        waiter.drain();
        // Evaluated after the watchers are in place: a change from now on
        // makes the eventfd readable.
        let n = eval_stack(fds, &split, &mut scratch);
        if n > 0 {
            let (k, _) = poll_kernel(fds, &split, None, Some(ZERO), std::ptr::null())?;
            return Ok(n + k);
        }
        let (k, woken) = match wait_reading(fds, &split, &waiter, deadline, sigmask, &mut blocked) {
            Some(r) => r?,
            None => {
                let timeout = deadline.remaining_timespec();
                let sigmask = blocked
                    .as_ref()
                    .map_or(sigmask, |b| b.wait_mask() as *const sigset_t);
                poll_kernel(fds, &split, Some(waiter.raw_fd()), timeout, sigmask)?
            }
        };
        if k > 0 || woken {
            let n = eval_stack(fds, &split, &mut scratch);
            if n + k > 0 {
                return Ok(n + k);
            }
        }
        if deadline.expired() {
            return Ok(0);
        }
    }
}

/// The body of every `poll`-like export.
///
/// # Safety
/// `fds` is valid for `nfds` pollfds (or `nfds` is 0).
unsafe fn poll_common(
    fds: *mut pollfd,
    nfds: nfds_t,
    deadline: impl FnOnce() -> Result<Deadline, i32>,
    sigmask: *const sigset_t,
) -> c_int {
    if fds.is_null() {
        return fail(libc::EFAULT);
    }
    // SAFETY: the caller passes `nfds` valid pollfds.
    let set = unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) };
    let deadline = match deadline() {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    match poll_mixed(set, deadline, sigmask) {
        Ok(n) => n as c_int,
        Err(e) => fail(e),
    }
}

/// Whether the `nfds` pollfds at `fds` hold a stack socket (NULL: no).
///
/// # Safety
/// `fds` is NULL or valid for `nfds` pollfds.
unsafe fn has_stack_fd(fds: *const pollfd, nfds: nfds_t) -> bool {
    if fds.is_null() || nfds == 0 || nfds > fd_table::MAX_FD as nfds_t {
        return false;
    }
    // SAFETY: the caller passes `nfds` valid pollfds.
    any_ours(unsafe { std::slice::from_raw_parts(fds, nfds as usize) })
}

/// `tapstack_poll`: `poll(2)` over stack sockets and kernel fds (the
/// function the preloaded `poll` runs).
///
/// # Safety
/// `fds` is valid for `nfds` `struct pollfd`s.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_poll(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: c_int,
) -> c_int {
    // SAFETY: the same contract.
    unsafe { poll(fds, nfds, timeout) }
}

posix! {
    /// `poll(2)`. Only kernel fds: the real call, outside the guard.
    ///
    /// # Safety
    /// As `poll(2)`.
    fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int
    // SAFETY: the caller's contract.
    where unsafe { has_stack_fd(fds, nfds) } => {
        // SAFETY: as above.
        unsafe {
            poll_common(
                fds,
                nfds,
                || Ok(Deadline::from_millis(timeout)),
                std::ptr::null(),
            )
        }
    };
}

/// `__poll_chk`: glibc's `_FORTIFY_SOURCE` `poll`, which checks that
/// `fds` holds `nfds` entries.
///
/// # Safety
/// As `poll(2)`; `fdslen` is the size of the array in bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn __poll_chk(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: c_int,
    fdslen: size_t,
) -> c_int {
    if (fdslen / std::mem::size_of::<pollfd>()) < nfds as usize {
        real::fortify_fail();
    }
    // SAFETY: the same contract.
    unsafe { poll(fds, nfds, timeout) }
}

/// `__ppoll_chk`: glibc's `_FORTIFY_SOURCE` `ppoll`, which checks that
/// `fds` holds `nfds` entries (else it ends the process, as glibc does).
///
/// # Safety
/// As `ppoll(2)`; `fdslen` is the size of the array in bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn __ppoll_chk(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: *const timespec,
    sigmask: *const sigset_t,
    fdslen: size_t,
) -> c_int {
    if (fdslen / std::mem::size_of::<pollfd>()) < nfds as usize {
        real::fortify_fail();
    }
    // SAFETY: the same contract.
    unsafe { ppoll(fds, nfds, timeout, sigmask) }
}

posix! {
    /// `ppoll(2)`: a `timespec` timeout (NULL: forever) and a signal mask
    /// for the wait.
    ///
    /// # Safety
    /// As `ppoll(2)`.
    fn ppoll(
        fds: *mut pollfd,
        nfds: nfds_t,
        timeout: *const timespec,
        sigmask: *const sigset_t,
    ) -> c_int
    // SAFETY: the caller's contract.
    where unsafe { has_stack_fd(fds, nfds) } => {
        let deadline = || {
            if timeout.is_null() {
                return Ok(Deadline::after(None));
            }
            // SAFETY: non-null, the caller's timespec.
            let ts = unsafe { *timeout };
            if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
                return Err(libc::EINVAL);
            }
            Ok(Deadline::after(Some(crate::time::Duration::new(
                ts.tv_sec as u64,
                ts.tv_nsec as u32,
            ))))
        };
        // SAFETY: as above.
        unsafe { poll_common(fds, nfds, deadline, sigmask) }
    };
}
