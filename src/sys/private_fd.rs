//! The library's own fds, out of the program's way.
//!
//! The library holds fds of its own: the TAP, the stack thread's epoll
//! instance and waker, the eventfds that end a `poll`, `select` or
//! `epoll_wait` blocked on stack sockets, the pcap file. A program may
//! close every fd it did not open itself, right after its first socket
//! (`closefrom(3)`, `close_range(3, ~0U, 0)`, a `close()` loop up to the
//! limit: daemons do). Those fds must be invisible to it.
//!
//! So each one is a [`PrivateFd`]: moved high on creation (the lowest free
//! number at or above [`floor`], near the top of the usual 1024 fds, with
//! `F_DUPFD_CLOEXEC`), and recorded in [`PRIVATE`]. The shim's `close`,
//! `close_range` and `closefrom` skip the fds in that set (`close` fails with
//! `EBADF`, as on a closed fd). The kernel still counts them against
//! `RLIMIT_NOFILE`, as it would any library's.
//!
//! A program may `dup2`/`dup3` onto any number below its limit, one of ours
//! included. The shim then calls [`move_away`] first: our fd gets another
//! number (the owner reads its number afresh at each use, [`PrivateFd::raw`]),
//! and the program's `dup2` replaces the old one. The kernel's epoll
//! registrations of a moved fd stay (they belong to the open file, which
//! the new number keeps open). What is not covered: a call on our fd that
//! another thread started with the old number in the instant between the
//! move and the program's `dup2`.

use super::fdbits::{FdBits, MAX_FD};
use super::sync::ForkHold;
use super::sync::Mutex;
use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

/// The library's own fds, by number.
pub static PRIVATE: FdBits = FdBits::new();

/// Each private fd's current number, shared with its owner, so that
/// [`move_away`] can renumber it. Held from the moment a private fd gets
/// its number until [`PRIVATE`] has it, and while one is closed or moved,
/// so that [`with_numbers_fixed`] sees every number in use.
static OWNERS: Mutex<Vec<Arc<AtomicI32>>> = Mutex::new(Vec::new());

/// Runs `f` while no private fd is made, moved or closed: the shim's
/// `close_range` closes the program's fds around ours in it.
pub fn with_numbers_fixed<R>(f: impl FnOnce() -> R) -> R {
    let _held = OWNERS.lock();
    f()
}

/// The owners' lock, held across a `fork` ([`hold_for_fork`]).
#[derive(Debug)]
pub struct HeldForFork(ForkHold<Vec<Arc<AtomicI32>>>);

impl HeldForFork {
    /// After `fork`, in the parent and in the child.
    pub fn release(self) {
        self.0.release();
    }
}

/// Before `fork`: takes the owners' lock (waiting at most `wait`), so that
/// the child's copy is not locked by a thread it does not have (its first
/// private fd made or dropped would wait forever).
pub fn hold_for_fork(wait: std::time::Duration) -> Option<HeldForFork> {
    ForkHold::hold(&OWNERS, wait).map(HeldForFork)
}

/// Whether `fd` is one of the library's own fds (one atomic load).
#[inline]
pub fn is_private(fd: i32) -> bool {
    PRIVATE.contains(fd)
}

/// How far below the fd limit our fds go.
const BELOW_LIMIT: u64 = 64;
/// Our fds sit near the top of the first 1024 even when the limit is
/// higher: the kernel's fd table grows to the largest number in use.
const HIGH: u64 = 1024;

/// The lowest number a private fd is given: 64 below the smaller of
/// `RLIMIT_NOFILE`'s soft limit and 1024 (and at least 3).
pub fn floor() -> i32 {
    let soft = super::nofile_soft_limit().unwrap_or(HIGH);
    soft.min(HIGH).saturating_sub(BELOW_LIMIT).max(3) as i32
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)` as a raw system call.
fn dup_at_least(fd: RawFd, min: i32) -> io::Result<RawFd> {
    super::fcntl_dupfd_cloexec(fd, min)
}

/// The number of a [`PrivateFd`] as it is now ([`move_away`] changes it).
#[derive(Debug, Clone)]
pub struct FdNumber(Arc<AtomicI32>);

impl FdNumber {
    /// The fd's number now.
    #[inline]
    pub fn get(&self) -> RawFd {
        self.0.load(Ordering::Acquire)
    }
}

/// One of the library's own fds. Closed on drop.
#[derive(Debug)]
pub struct PrivateFd {
    fd: Arc<AtomicI32>,
}

impl PrivateFd {
    /// Takes `fd` over: moves it to a high number (keeping it where it is
    /// when there is no free one) and records it as the library's.
    pub fn adopt(fd: OwnedFd) -> PrivateFd {
        let mut owners = OWNERS.lock();
        let low = fd.into_raw_fd();
        let number = match dup_at_least(low, floor()) {
            Ok(high) if (high as usize) < MAX_FD => {
                super::close_raw(low);
                high
            }
            Ok(high) => {
                super::close_raw(high);
                low
            }
            Err(_) => low,
        };
        let fd = Arc::new(AtomicI32::new(number));
        PRIVATE.insert(number);
        owners.push(fd.clone());
        PrivateFd { fd }
    }

    /// The fd's number now (it changes when [`move_away`] moves it).
    #[inline]
    pub fn raw(&self) -> RawFd {
        self.fd.load(Ordering::Acquire)
    }

    /// A handle on this fd's number that follows its moves, for a holder
    /// that uses it from elsewhere (the calling threads' TAP reads and
    /// writes). Valid while this `PrivateFd` lives.
    pub fn number(&self) -> FdNumber {
        FdNumber(self.fd.clone())
    }

    /// `write(2)` as a raw system call (never through the shim's `write`).
    pub fn write_raw(&self, buf: &[u8]) -> io::Result<usize> {
        super::write_raw(self.raw(), buf)
    }
}

impl AsRawFd for PrivateFd {
    fn as_raw_fd(&self) -> RawFd {
        self.raw()
    }
}

impl io::Write for PrivateFd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.write_raw(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for PrivateFd {
    fn drop(&mut self) {
        let mut owners = OWNERS.lock();
        owners.retain(|o| !Arc::ptr_eq(o, &self.fd));
        let number = self.raw();
        PRIVATE.remove(number);
        super::close_raw(number);
    }
}

/// Before the program's `dup2`/`dup3` onto `fd`: when `fd` is one of ours,
/// gives ours another number, so that the program may have this one.
/// `Ok(true)`: it was ours and has moved (the old number still refers to
/// our file until the program's call replaces it; if that call fails, pass
/// the number to [`discard_moved`]). `Err(EMFILE)` when no number is free.
pub fn move_away(fd: RawFd) -> Result<bool, i32> {
    if !is_private(fd) {
        return Ok(false);
    }
    let owners = OWNERS.lock();
    let Some(owner) = owners.iter().find(|o| o.load(Ordering::Acquire) == fd) else {
        return Ok(false);
    };
    let new = dup_at_least(fd, floor())
        .or_else(|_| dup_at_least(fd, 3))
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EMFILE))?;
    if new as usize >= MAX_FD {
        super::close_raw(new);
        return Err(libc::EMFILE);
    }
    PRIVATE.insert(new);
    owner.store(new, Ordering::Release);
    PRIVATE.remove(fd);
    Ok(true)
}

/// In a forked child: closes our fd `fd` that the child inherited and will
/// never use (the parent's stack thread's epoll, waker, bell, control
/// socket). Its owner, a value the child copied, then holds no number, so
/// the number is free for the program again.
pub fn close_inherited(fd: RawFd) {
    if fd < 0 || !is_private(fd) {
        return;
    }
    let owners = OWNERS.lock();
    if let Some(owner) = owners.iter().find(|o| o.load(Ordering::Acquire) == fd) {
        owner.store(-1, Ordering::Release);
        PRIVATE.remove(fd);
        super::close_raw(fd);
    }
}

/// Closes the old number of a fd [`move_away`] moved, when the program's
/// `dup2` onto it failed (it still refers to our file).
pub fn discard_moved(fd: RawFd) {
    super::close_raw(fd);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::event::eventfd;

    #[test]
    fn held_for_fork_until_released() {
        let held = hold_for_fork(std::time::Duration::from_millis(100)).unwrap();
        assert!(OWNERS.try_lock().is_none());
        held.release();
        assert!(OWNERS.try_lock().is_some());
    }

    #[test]
    fn adopted_fds_sit_high_and_move_away() {
        let fd = eventfd(0).unwrap();
        let n = fd.raw();
        assert!(n >= floor(), "{n} below {}", floor());
        assert!(is_private(n));
        // Moving it away leaves the old number open (until the program's
        // dup2 replaces it) and no longer ours.
        assert_eq!(move_away(n), Ok(true));
        let m = fd.raw();
        assert_ne!(m, n);
        assert!(is_private(m) && !is_private(n));
        crate::sys::event::eventfd_add(&fd, 3).unwrap();
        assert_eq!(crate::sys::event::eventfd_take(&fd).unwrap(), 3);
        discard_moved(n);
        assert_eq!(move_away(n), Ok(false));
        drop(fd);
        assert!(!is_private(m));
    }
}
