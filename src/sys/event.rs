//! eventfd, epoll and futex: how threads wake each other.

use super::cvt;
use super::private_fd::PrivateFd;
use crate::time::Duration;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU32;

/// A new eventfd of the library's own (a [`PrivateFd`]), always
/// close-on-exec and non-blocking.
pub fn eventfd(initval: u32) -> io::Result<PrivateFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_eventfd2,
            initval as libc::c_uint,
            libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
        )
    })?;
    // SAFETY: the kernel just gave us this fd and nobody else owns it.
    Ok(PrivateFd::adopt(unsafe {
        OwnedFd::from_raw_fd(fd as libc::c_int)
    }))
}

/// Adds `n` to an eventfd's counter (it becomes readable).
pub fn eventfd_add(fd: &PrivateFd, n: u64) -> io::Result<()> {
    fd.write_raw(&n.to_ne_bytes()).map(drop)
}

/// Reads and clears an eventfd's counter; `Ok(0)` when it was already zero.
pub fn eventfd_take(fd: &PrivateFd) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    // SAFETY: `buf` is valid for 8 bytes of writes.
    match cvt(unsafe { libc::syscall(libc::SYS_read, fd.raw(), buf.as_mut_ptr(), buf.len()) }) {
        Ok(_) => Ok(u64::from_ne_bytes(buf)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
    }
}

/// An epoll instance of the library's own (the stack thread's): the
/// kernel calls go straight to the kernel, never through the shim's
/// `epoll_*` exports.
#[derive(Debug)]
pub struct Epoll {
    fd: PrivateFd,
}

/// One event out of [`Epoll::wait`]: the token it was added with.
pub type EpollEvent = libc::epoll_event;

impl Epoll {
    /// The epoll fd.
    pub fn raw(&self) -> RawFd {
        self.fd.raw()
    }

    /// A new, empty, close-on-exec epoll instance.
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: integer argument.
        let fd = cvt(unsafe { libc::syscall(libc::SYS_epoll_create1, libc::EPOLL_CLOEXEC) })?;
        // SAFETY: the kernel just gave us this fd and nobody else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        Ok(Epoll {
            fd: PrivateFd::adopt(fd),
        })
    }

    /// Watches `fd` for `events` (`EPOLLIN`, `EPOLLET`...), reported
    /// with `token`.
    pub fn add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_epoll_ctl,
                self.fd.raw(),
                libc::EPOLL_CTL_ADD,
                fd,
                &mut ev as *mut libc::epoll_event,
            )
        })
        .map(drop)
    }

    /// Changes the events `fd` is watched for.
    pub fn modify(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_epoll_ctl,
                self.fd.raw(),
                libc::EPOLL_CTL_MOD,
                fd,
                &mut ev as *mut libc::epoll_event,
            )
        })
        .map(drop)
    }

    /// Stops watching `fd` (before closing it: a copy of the fd in a forked
    /// child would otherwise keep the registration alive).
    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_epoll_ctl,
                self.fd.raw(),
                libc::EPOLL_CTL_DEL,
                fd,
                &mut ev as *mut libc::epoll_event,
            )
        })
        .map(drop)
    }

    /// Waits at most `timeout` (`None`: forever; rounded up to the next
    /// millisecond, so that a wait never ends early and spins) and fills
    /// `events`; returns how many. `Interrupted` on a signal.
    pub fn wait(&self, events: &mut [EpollEvent], timeout: Option<Duration>) -> io::Result<usize> {
        let ms = match timeout {
            None => -1,
            Some(d) => d.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int,
        };
        let max = events.len().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: `events` is valid for `max` epoll_events of writes; a
        // null sigmask leaves the mask alone.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_epoll_pwait,
                self.fd.raw(),
                events.as_mut_ptr(),
                max,
                ms,
                std::ptr::null::<libc::sigset_t>(),
                std::mem::size_of::<libc::sigset_t>(),
            )
        })
        .map(|n| n as usize)
    }
}

/// Wakes a thread blocked in an [`Epoll::wait`] that watches it (added
/// with `EPOLLIN | EPOLLET`: every `wake` is a new edge, and the counter
/// need not be read back).
#[derive(Debug)]
pub struct Waker {
    fd: PrivateFd,
}

impl Waker {
    /// The eventfd.
    pub fn raw(&self) -> RawFd {
        self.fd.raw()
    }

    /// A waker whose eventfd `epoll` reports with `token`.
    pub fn new(epoll: &Epoll, token: u64) -> io::Result<Waker> {
        let fd = eventfd(0)?;
        epoll.add(fd.raw(), (libc::EPOLLIN | libc::EPOLLET) as u32, token)?;
        Ok(Waker { fd })
    }

    /// Wakes the waiting thread.
    pub fn wake(&self) -> io::Result<()> {
        match eventfd_add(&self.fd, 1) {
            // The counter is full (after 2^64 - 2 wakeups): empty it.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                eventfd_take(&self.fd)?;
                eventfd_add(&self.fd, 1)
            }
            r => r,
        }
    }
}

/// A `CLOCK_MONOTONIC` timerfd of the library's own: any thread arms it,
/// and the thread whose epoll set holds it wakes when it expires, with no
/// wakeup before (added with `EPOLLIN | EPOLLET`: each expiry is a new
/// edge, and the count need not be read back).
#[derive(Debug)]
pub struct TimerFd {
    fd: PrivateFd,
}

impl TimerFd {
    /// A disarmed timer that `epoll` reports with `token`.
    pub fn new(epoll: &Epoll, token: u64) -> io::Result<TimerFd> {
        // SAFETY: plain syscall with integer arguments.
        let fd = cvt(unsafe {
            libc::syscall(
                libc::SYS_timerfd_create,
                libc::CLOCK_MONOTONIC,
                libc::TFD_CLOEXEC | libc::TFD_NONBLOCK,
            )
        })?;
        // SAFETY: the kernel just gave us this fd and nobody else owns it.
        let fd = PrivateFd::adopt(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) });
        epoll.add(fd.raw(), (libc::EPOLLIN | libc::EPOLLET) as u32, token)?;
        Ok(TimerFd { fd })
    }

    /// The timerfd.
    pub fn raw(&self) -> RawFd {
        self.fd.raw()
    }

    /// Expires once at `at` (on the clock of [`monotonic_now`]), replacing
    /// what was set before; at once if `at` has passed.
    ///
    /// [`monotonic_now`]: super::clock::monotonic_now
    pub fn set_at(&self, at: crate::time::Instant) -> io::Result<()> {
        let us = at.total_micros().max(1);
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (us / 1_000_000) as libc::time_t,
                tv_nsec: ((us % 1_000_000) * 1000) as libc::c_long,
            },
        };
        // SAFETY: `spec` is a valid itimerspec for the call; no old value.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_timerfd_settime,
                self.fd.raw(),
                libc::TFD_TIMER_ABSTIME,
                &spec as *const libc::itimerspec,
                std::ptr::null_mut::<libc::itimerspec>(),
            )
        })
        .map(drop)
    }
}

/// Why a [`futex_wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FutexWait {
    /// Woken (or a spurious wakeup): re-check the condition.
    Woken,
    /// The word no longer held `expected` when the call started.
    Changed,
    /// The timeout passed.
    TimedOut,
    /// A signal interrupted the wait (`EINTR`); the caller decides whether
    /// to restart (`SA_RESTART`) or fail with `EINTR`.
    Interrupted,
}

/// Sleeps while `*word == expected`, at most `timeout` (`None`: forever).
/// A shared futex (no `FUTEX_PRIVATE_FLAG`): the word may live in the
/// stack's shared region, and a thread of another process wakes it.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> FutexWait {
    let ts = super::Timeout::new(timeout);
    let ts_ptr = ts.as_ptr();
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call;
    // `ts_ptr` is null or points at a timespec that outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts_ptr,
        )
    };
    if ret == 0 {
        return FutexWait::Woken;
    }
    match super::errno() {
        libc::EAGAIN => FutexWait::Changed,
        libc::ETIMEDOUT => FutexWait::TimedOut,
        libc::EINTR => FutexWait::Interrupted,
        _ => FutexWait::Woken,
    }
}

/// Wakes up to `n` threads sleeping on `word`; returns how many woke.
pub fn futex_wake(word: &AtomicU32, n: u32) -> usize {
    let n = n.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: `word` is a valid, aligned u32; FUTEX_WAKE only uses its address.
    let ret = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n) };
    ret.max(0) as usize
}

/// Wakes every thread sleeping on `word`.
pub fn futex_wake_all(word: &AtomicU32) -> usize {
    futex_wake(word, i32::MAX as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    #[test]
    fn eventfd_counts() {
        let fd = eventfd(0).unwrap();
        assert_eq!(eventfd_take(&fd).unwrap(), 0);
        eventfd_add(&fd, 2).unwrap();
        eventfd_add(&fd, 3).unwrap();
        assert_eq!(eventfd_take(&fd).unwrap(), 5);
        // SAFETY: fcntl on an fd we own.
        let flags = unsafe { libc::fcntl(fd.raw(), libc::F_GETFD) };
        assert!(flags & libc::FD_CLOEXEC != 0);
    }

    #[test]
    fn epoll_reports_the_waker() {
        let ep = Epoll::new().unwrap();
        let waker = Waker::new(&ep, 7).unwrap();
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 4];
        assert_eq!(ep.wait(&mut evs, Some(Duration::ZERO)).unwrap(), 0);
        waker.wake().unwrap();
        assert_eq!(ep.wait(&mut evs, None).unwrap(), 1);
        assert_eq!({ evs[0].u64 }, 7);
        // Edge-triggered: reported once per wake.
        assert_eq!(ep.wait(&mut evs, Some(Duration::ZERO)).unwrap(), 0);
    }

    #[test]
    fn futex_changed_and_timeout() {
        let w = AtomicU32::new(1);
        assert_eq!(futex_wait(&w, 0, None), FutexWait::Changed);
        assert_eq!(
            futex_wait(&w, 1, Some(Duration::from_millis(5))),
            FutexWait::TimedOut
        );
    }

    #[test]
    fn futex_wakes_a_sleeper() {
        let w = Arc::new(AtomicU32::new(0));
        let w2 = w.clone();
        let t = std::thread::spawn(move || {
            while w2.load(Ordering::Acquire) == 0 {
                futex_wait(&w2, 0, Some(Duration::from_secs(5)));
            }
        });
        std::thread::sleep(Duration::from_millis(20));
        w.store(1, Ordering::Release);
        futex_wake_all(&w);
        t.join().unwrap();
    }

    #[test]
    fn a_timerfd_fires_for_a_past_time_and_not_for_a_later_one() {
        let epoll = Epoll::new().unwrap();
        let timer = TimerFd::new(&epoll, 7).unwrap();
        let mut events = [EpollEvent { events: 0, u64: 0 }; 4];
        assert_eq!(
            epoll.wait(&mut events, Some(Duration::ZERO)).unwrap(),
            0,
            "disarmed"
        );
        let now = crate::sys::clock::monotonic_now();
        timer.set_at(now + Duration::from_secs(60)).unwrap();
        assert_eq!(epoll.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
        // Set again, earlier: it replaces the later one and fires.
        timer.set_at(now).unwrap();
        assert_eq!(
            epoll
                .wait(&mut events, Some(Duration::from_secs(5)))
                .unwrap(),
            1
        );
        assert_eq!({ events[0].u64 }, 7);
    }
}
