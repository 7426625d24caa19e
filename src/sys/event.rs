//! eventfd and futex: how threads wake each other.

use super::cvt;
use crate::time::Duration;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::AtomicU32;

/// A new eventfd, always close-on-exec and non-blocking.
pub fn eventfd(initval: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_eventfd2,
            initval as libc::c_uint,
            libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
        )
    })?;
    // SAFETY: the kernel just gave us this fd and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Adds `n` to an eventfd's counter (it becomes readable).
pub fn eventfd_add(fd: &OwnedFd, n: u64) -> io::Result<()> {
    let buf = n.to_ne_bytes();
    // SAFETY: `buf` is valid for 8 bytes of reads.
    cvt(unsafe { libc::syscall(libc::SYS_write, fd.as_raw_fd(), buf.as_ptr(), buf.len()) })
        .map(drop)
}

/// Reads and clears an eventfd's counter; `Ok(0)` when it was already zero.
pub fn eventfd_take(fd: &OwnedFd) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    // SAFETY: `buf` is valid for 8 bytes of writes.
    match cvt(unsafe { libc::syscall(libc::SYS_read, fd.as_raw_fd(), buf.as_mut_ptr(), buf.len()) })
    {
        Ok(_) => Ok(u64::from_ne_bytes(buf)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
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
/// `FUTEX_WAIT_PRIVATE`: the word is shared only within this process.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> FutexWait {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call;
    // `ts_ptr` is null or points at a timespec that outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
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
    let ret = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        )
    };
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
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        assert!(flags & libc::FD_CLOEXEC != 0);
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
}
