//! `select` and `pselect`: sets with a stack socket in them become a
//! `poll` set (as Linux implements both on the same `->poll`), the rest
//! goes straight to the real call.

use super::Deadline;
use super::poll::poll_mixed;
use crate::shim::errno::fail;
use crate::shim::fd_table;
use crate::time::Duration;
use libc::{c_int, fd_set, pollfd, sigset_t, timespec, timeval};

const BITS: usize = 8 * std::mem::size_of::<libc::c_ulong>();

/// What Linux's select counts as readable, writable, exceptional
/// (`fs/select.c`).
const IN_SET: i16 =
    libc::POLLIN | libc::POLLRDNORM | libc::POLLRDBAND | libc::POLLHUP | libc::POLLERR;
const OUT_SET: i16 = libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND | libc::POLLERR;
const EX_SET: i16 = libc::POLLPRI;

/// The three sets as word arrays of `nfds` bits.
struct Sets {
    nfds: usize,
    sets: [*mut libc::c_ulong; 3],
}

impl Sets {
    fn new(nfds: usize, r: *mut fd_set, w: *mut fd_set, e: *mut fd_set) -> Sets {
        Sets {
            nfds,
            sets: [r.cast(), w.cast(), e.cast()],
        }
    }

    /// Whether `fd` is in set `k`.
    ///
    /// # Safety
    /// Each non-null set holds at least `nfds` bits.
    unsafe fn get(&self, k: usize, fd: usize) -> bool {
        let s = self.sets[k];
        // SAFETY: fd < nfds, within the caller's set.
        !s.is_null() && unsafe { *s.add(fd / BITS) } & (1 << (fd % BITS)) != 0
    }

    /// Clears the first `nfds` bits of each set.
    ///
    /// # Safety
    /// As [`Sets::get`].
    unsafe fn clear(&self) {
        for &s in &self.sets {
            if s.is_null() {
                continue;
            }
            for fd in 0..self.nfds {
                // SAFETY: within the caller's set.
                unsafe { *s.add(fd / BITS) &= !(1 << (fd % BITS)) };
            }
        }
    }

    /// Sets bit `fd` of set `k`.
    ///
    /// # Safety
    /// As [`Sets::get`].
    unsafe fn set(&self, k: usize, fd: usize) {
        // SAFETY: within the caller's set.
        unsafe { *self.sets[k].add(fd / BITS) |= 1 << (fd % BITS) };
    }

    /// Whether any fd in the sets is a stack socket.
    ///
    /// # Safety
    /// As [`Sets::get`].
    unsafe fn any_ours(&self) -> bool {
        // SAFETY: the caller's contract.
        (0..self.nfds).any(|fd| unsafe { self.get(0, fd) || self.get(1, fd) || self.get(2, fd) } && fd_table::is_ours(fd as c_int))
    }
}

/// `select` over sets holding a stack socket: the count of bits set, or
/// the errno (`EBADF` when a set holds a closed fd).
///
/// # Safety
/// As [`Sets::get`].
unsafe fn select_mixed(
    sets: &Sets,
    deadline: Deadline,
    sigmask: *const sigset_t,
) -> Result<usize, i32> {
    let mut fds: Vec<pollfd> = Vec::new();
    for fd in 0..sets.nfds {
        let mut events = 0;
        // SAFETY: the caller's contract.
        unsafe {
            if sets.get(0, fd) {
                events |= libc::POLLIN | libc::POLLRDNORM | libc::POLLRDBAND;
            }
            if sets.get(1, fd) {
                events |= libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND;
            }
            if sets.get(2, fd) {
                events |= libc::POLLPRI;
            }
        }
        if events != 0 {
            fds.push(pollfd {
                fd: fd as c_int,
                events,
                revents: 0,
            });
        }
    }
    poll_mixed(&mut fds, deadline, sigmask)?;
    if fds.iter().any(|p| p.revents & libc::POLLNVAL != 0) {
        return Err(libc::EBADF);
    }
    // SAFETY: the caller's contract.
    unsafe { sets.clear() };
    let mut n = 0;
    for p in &fds {
        let fd = p.fd as usize;
        for (k, (asked, got)) in [
            (libc::POLLIN, IN_SET),
            (libc::POLLOUT, OUT_SET),
            (libc::POLLPRI, EX_SET),
        ]
        .into_iter()
        .enumerate()
        {
            if p.events & asked != 0 && p.revents & got != 0 {
                // SAFETY: the caller's contract; the fd was in set k.
                unsafe { sets.set(k, fd) };
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Checks `nfds` the way Linux does: negative is `EINVAL`.
fn check_nfds(nfds: c_int) -> Result<usize, i32> {
    usize::try_from(nfds).map_err(|_| libc::EINVAL)
}

/// `tapstack_select`: `select(2)` over stack sockets and kernel fds (the
/// function the preloaded `select` runs). Like Linux, the timeout is
/// updated with the time left.
///
/// # Safety
/// Each non-null set holds at least `nfds` bits; `timeout` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_select(
    nfds: c_int,
    readfds: *mut fd_set,
    writefds: *mut fd_set,
    exceptfds: *mut fd_set,
    timeout: *mut timeval,
) -> c_int {
    // SAFETY: the same contract.
    unsafe { select(nfds, readfds, writefds, exceptfds, timeout) }
}

/// Whether the sets hold a stack socket among their first `nfds` bits (a
/// negative `nfds` is the kernel's to refuse).
///
/// # Safety
/// Each non-null set holds at least `nfds` bits.
unsafe fn any_ours(
    nfds: c_int,
    readfds: *mut fd_set,
    writefds: *mut fd_set,
    exceptfds: *mut fd_set,
) -> bool {
    // SAFETY: the caller's contract.
    check_nfds(nfds).is_ok_and(|n| unsafe { Sets::new(n, readfds, writefds, exceptfds).any_ours() })
}

posix! {
    /// `select(2)`. Only kernel fds (or an `nfds` the kernel will refuse):
    /// the real call, outside the guard.
    ///
    /// # Safety
    /// As `select(2)`.
    fn select(
        nfds: c_int,
        readfds: *mut fd_set,
        writefds: *mut fd_set,
        exceptfds: *mut fd_set,
        timeout: *mut timeval,
    ) -> c_int
    // SAFETY: the caller's contract.
    where unsafe { any_ours(nfds, readfds, writefds, exceptfds) } => {
        let sets = Sets::new(nfds as usize, readfds, writefds, exceptfds);
        let deadline = if timeout.is_null() {
            Deadline::after(None)
        } else {
            // SAFETY: non-null, the caller's timeval.
            let tv = unsafe { *timeout };
            if tv.tv_sec < 0 || tv.tv_usec < 0 {
                return fail(libc::EINVAL);
            }
            let us = (tv.tv_sec as u64)
                .saturating_mul(1_000_000)
                .saturating_add(tv.tv_usec as u64);
            Deadline::after(Some(Duration::from_micros(us)))
        };
        // SAFETY: the caller's contract.
        let r = unsafe { select_mixed(&sets, deadline, std::ptr::null()) };
        if !timeout.is_null() {
            let left = deadline.remaining().unwrap_or_default();
            // SAFETY: the caller's timeval.
            unsafe {
                (*timeout).tv_sec = left.as_secs() as libc::time_t;
                (*timeout).tv_usec = left.subsec_micros() as libc::suseconds_t;
            }
        }
        match r {
            Ok(n) => n as c_int,
            Err(e) => fail(e),
        }
    };

    /// `pselect(2)`: a `timespec` timeout, left unchanged, and a signal
    /// mask for the wait.
    ///
    /// # Safety
    /// As `pselect(2)`.
    fn pselect(
        nfds: c_int,
        readfds: *mut fd_set,
        writefds: *mut fd_set,
        exceptfds: *mut fd_set,
        timeout: *const timespec,
        sigmask: *const sigset_t,
    ) -> c_int
    // SAFETY: the caller's contract.
    where unsafe { any_ours(nfds, readfds, writefds, exceptfds) } => {
        let sets = Sets::new(nfds as usize, readfds, writefds, exceptfds);
        let deadline = if timeout.is_null() {
            Deadline::after(None)
        } else {
            // SAFETY: non-null, the caller's timespec.
            let ts = unsafe { *timeout };
            if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
                return fail(libc::EINVAL);
            }
            Deadline::after(Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)))
        };
        // SAFETY: the caller's contract.
        match unsafe { select_mixed(&sets, deadline, sigmask) } {
            Ok(n) => n as c_int,
            Err(e) => fail(e),
        }
    };
}
