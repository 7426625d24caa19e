//! Signal masks, a signalfd and `ppoll`: what a thread needs to wait on
//! file descriptors and still keep Linux's rules for interrupted calls.
//!
//! A blocking `recv` or `accept` interrupted by a signal is restarted by
//! the kernel when the handler was installed with `SA_RESTART`, and fails
//! with `EINTR` otherwise (signal(7), "Interruption of system calls"). A
//! futex wait follows that rule; `poll` does not (it is never restarted).
//! So a call that waits in `ppoll` blocks the signals for the wait and
//! watches them through a signalfd instead: when one is pending it looks
//! at what its handler asked for ([`handler_restarts`]) before letting it
//! be delivered.

use super::cvt;
use super::private_fd::PrivateFd;
use crate::time::Duration;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// A thread's signal mask.
#[derive(Clone, Copy)]
pub struct Mask(libc::sigset_t);

impl Mask {
    fn empty() -> Mask {
        // SAFETY: sigset_t is plain data; sigemptyset writes only to it.
        unsafe {
            let mut s: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut s);
            Mask(s)
        }
    }

    fn has(&self, sig: i32) -> bool {
        // SAFETY: reads the set; an invalid number gives -1 (false).
        unsafe { libc::sigismember(&self.0, sig) == 1 }
    }

    fn add(&mut self, sig: i32) {
        // SAFETY: writes the set; an invalid number is refused (EINVAL).
        unsafe {
            libc::sigaddset(&mut self.0, sig);
        }
    }

    /// A mask a caller gave (`epoll_pwait`'s, `ppoll`'s).
    pub fn from_raw(set: &libc::sigset_t) -> Mask {
        Mask(*set)
    }

    /// The signals from 1 to `SIGRTMAX` that are not in this mask.
    pub fn complement(&self) -> Mask {
        let mut out = Mask::empty();
        for sig in 1..=libc::SIGRTMAX() {
            if !self.has(sig) {
                out.add(sig);
            }
        }
        out
    }

    /// The signals in both masks, by number.
    pub fn common(&self, other: &Mask) -> Vec<i32> {
        (1..=libc::SIGRTMAX())
            .filter(|&s| self.has(s) && other.has(s))
            .collect()
    }

    fn same(&self, other: &Mask) -> bool {
        (1..=libc::SIGRTMAX()).all(|s| self.has(s) == other.has(s))
    }
}

/// Blocks every signal the C library lets a program block and returns the
/// mask before (glibc keeps its own two, so a `setuid` in another thread,
/// which signals every thread and waits for each, never waits for us).
pub fn block_all() -> Mask {
    Mask(super::block_all_signals())
}

/// Sets the calling thread's mask back to `old` (pending signals it
/// unblocks are delivered now).
pub fn restore(old: &Mask) {
    super::restore_signals(&old.0);
}

/// The signals pending for this thread or its process.
pub fn pending() -> Mask {
    let mut m = Mask::empty();
    // SAFETY: writes one sigset_t we own.
    unsafe {
        libc::sigpending(&mut m.0);
    }
    m
}

/// What delivering `sig` runs: `None` when no handler (its disposition is
/// the default or ignored: a blocking call is not interrupted by it, or
/// the process ends), else whether the handler asked for `SA_RESTART`.
pub fn handler_restarts(sig: i32) -> Option<bool> {
    // SAFETY: a query (null new action); `old` is ours to write.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
            return None;
        }
        if old.sa_sigaction == libc::SIG_DFL || old.sa_sigaction == libc::SIG_IGN {
            return None;
        }
        Some(old.sa_flags & libc::SA_RESTART != 0)
    }
}

/// A signalfd of the library's own: readable while one of its signals is
/// pending (it is never read, so the signal stays pending for delivery).
pub struct SignalFd {
    fd: PrivateFd,
    mask: Mask,
}

impl SignalFd {
    /// A signalfd for `mask`.
    pub fn new(mask: Mask) -> io::Result<SignalFd> {
        // SAFETY: `mask` is a valid sigset_t for the call.
        let fd = cvt(unsafe {
            libc::signalfd(-1, &mask.0, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) as libc::c_long
        })?;
        // SAFETY: the kernel just gave us this fd and nobody else owns it.
        let fd = PrivateFd::adopt(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        Ok(SignalFd { fd, mask })
    }

    /// Watches `mask` from now on (a system call only when it changed).
    pub fn watch(&mut self, mask: Mask) -> io::Result<()> {
        if self.mask.same(&mask) {
            return Ok(());
        }
        // SAFETY: an fd we own and a valid sigset_t.
        cvt(unsafe { libc::signalfd(self.fd.raw(), &mask.0, 0) as libc::c_long })?;
        self.mask = mask;
        Ok(())
    }

    /// The fd, for `ppoll`.
    pub fn raw(&self) -> RawFd {
        self.fd.raw()
    }
}

/// Signals blocked for the length of a call that may wait several times
/// (an event loop's `epoll_wait`, `poll`, `select`), restored when it
/// returns: each of its waits unblocks [`Blocked::wait_mask`] itself
/// (`ppoll`'s mask), so that a handler runs only inside a wait, and that
/// wait then ends with `EINTR`.
pub struct Blocked {
    old: Mask,
    wait: Mask,
}

impl Blocked {
    /// Blocks every signal; the waits will unblock all but `sigmask`'s
    /// (the caller's `epoll_pwait`, `ppoll` or `pselect` mask), else all
    /// but those the thread blocked.
    pub fn new(sigmask: Option<&libc::sigset_t>) -> Blocked {
        let old = block_all();
        let wait = sigmask.map_or(old, Mask::from_raw);
        Blocked { old, wait }
    }

    /// The mask to wait with.
    pub fn wait_mask(&self) -> &libc::sigset_t {
        &self.wait.0
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        restore(&self.old);
    }
}

/// `ppoll(2)` on `fds` for up to `timeout` (`None`: no limit), straight to
/// the kernel (the shim's `ppoll` would take our fds for the program's),
/// with `mask` as the thread's mask while it waits (`None`: the mask as
/// it is). Returns how many fds have events; `Interrupted` when a signal
/// came.
pub fn ppoll(
    fds: &mut [libc::pollfd],
    timeout: Option<Duration>,
    mask: Option<&libc::sigset_t>,
) -> io::Result<usize> {
    let ts = super::Timeout::new(timeout);
    let ts_ptr = ts.as_ptr();
    // The kernel's sigset: 64 signals (the size it checks).
    let (mask_ptr, mask_len) = match mask {
        Some(m) => (m as *const libc::sigset_t, 8usize),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: `fds` is valid for `fds.len()` entries; `ts_ptr` is null or
    // points at a timespec that outlives the call; `mask_ptr` is null or
    // the caller's sigset_t, whose first 8 bytes are the kernel's set.
    let n = cvt(unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            ts_ptr,
            mask_ptr,
            mask_len,
        )
    })?;
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_signal_shows_on_the_signalfd_and_stays_pending() {
        // SIGURG: ignored by default, so a stray delivery harms no test.
        let old = block_all();
        let mut watched = Mask::empty();
        watched.add(libc::SIGURG);
        let sfd = SignalFd::new(watched).unwrap();
        let mut fds = [libc::pollfd {
            fd: sfd.raw(),
            events: libc::POLLIN,
            revents: 0,
        }];
        assert_eq!(ppoll(&mut fds, Some(Duration::ZERO), None).unwrap(), 0);
        // SAFETY: signals this thread only.
        unsafe {
            libc::pthread_kill(libc::pthread_self(), libc::SIGURG);
        }
        assert_eq!(ppoll(&mut fds, Some(Duration::ZERO), None).unwrap(), 1);
        assert_eq!(pending().common(&watched), vec![libc::SIGURG]);
        assert_eq!(handler_restarts(libc::SIGURG), None, "no handler");
        restore(&old);
        assert!(
            pending().common(&watched).is_empty(),
            "delivered on unblock"
        );
    }

    #[test]
    fn the_complement_holds_what_the_mask_does_not() {
        let mut m = Mask::empty();
        m.add(libc::SIGUSR1);
        let c = m.complement();
        assert!(!c.has(libc::SIGUSR1));
        assert!(c.has(libc::SIGUSR2));
        assert!(c.has(libc::SIGRTMAX()));
    }
}
