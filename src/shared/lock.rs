//! [`RobustMutex`]: glibc's mutex, made process-shared and robust, for the
//! stack's lock in the shared region.
//!
//! `PTHREAD_PROCESS_SHARED` lets threads of several processes wait on the
//! same mutex word (the futex is keyed by the page, not by the process).
//! `PTHREAD_MUTEX_ROBUST` puts the held mutex on the thread's robust list,
//! which the kernel walks when the thread dies (`SIGKILL` included): it
//! sets the owner-died bit in the word and wakes one waiter, whose
//! `pthread_mutex_lock` then returns `EOWNERDEAD` while holding the lock.
//! A thread has one robust list and glibc owns it (and re-registers it in a
//! forked child), so we use glibc's mutex rather than a futex word of our
//! own.
//!
//! The protocol for the caller:
//!
//! - [`Locked::Clean`]: the lock is held, the data is as the last holder
//!   left it.
//! - [`Locked::OwnerDied`]: the lock is held, but the last holder died
//!   holding it, maybe halfway through a change. Repair the data, then call
//!   [`make_consistent`](RobustMutex::make_consistent), then go on (and
//!   [`unlock`](RobustMutex::unlock) as usual). A holder that dies before
//!   `make_consistent` passes `OwnerDied` on to the next locker.
//! - [`Locked::Unusable`]: the lock is **not** held and never will be. This
//!   happens when a holder that got `OwnerDied` unlocked without calling
//!   `make_consistent` (glibc then marks the mutex `ENOTRECOVERABLE`), or
//!   when the word is not a mutex at all. It is returned, never a panic
//!   (the lock is taken inside calls from C); the caller treats the stack
//!   as gone (`ENETDOWN`).
//!
//! The mutex is of the normal kind: relocking it from the thread that holds
//! it deadlocks, as `parking_lot`'s does. Each thread counts the locks it
//! holds ([`held_by_this_thread`]), so that a call from a signal handler
//! that interrupted it there fails instead (`shim::guard`).

use std::cell::{Cell, UnsafeCell};
use std::io;

thread_local! {
    /// How many [`RobustMutex`]es this thread holds.
    static HELD: Cell<u32> = const { Cell::new(0) };
}

/// This thread holds a [`RobustMutex`] (or a lock marked with
/// [`HeldMark`]) now: a call on the stack from a
/// signal handler that interrupted it would wait for itself. (apache's
/// prefork child, stopped by `SIGTERM` inside our `close`, closes its
/// sockets in the handler: the child hung, and every process on the stack
/// behind it.)
pub fn held_by_this_thread() -> bool {
    HELD.try_with(|h| h.get() > 0).unwrap_or(false)
}

/// Counts a lock this thread took (`+1`) or gave back (`-1`).
fn note_held(delta: i32) {
    let _ = HELD.try_with(|h| h.set(h.get().saturating_add_signed(delta)));
}

/// Counts, while it lives, a lock of the process's own that a call on the
/// stack may also take (the transmit lock, the fd table's write lock) as
/// held by this thread, as [`RobustMutex`] counts itself: a call from a
/// signal handler that interrupted the thread there fails instead of
/// waiting for itself. Make it before taking the lock and keep it until
/// after the lock is let go ([`Held`] does both in that order).
#[derive(Debug)]
pub struct HeldMark(());

impl HeldMark {
    /// Marks this thread as holding one more lock.
    pub fn new() -> HeldMark {
        note_held(1);
        HeldMark(())
    }
}

impl Default for HeldMark {
    fn default() -> HeldMark {
        HeldMark::new()
    }
}

impl Drop for HeldMark {
    fn drop(&mut self) {
        note_held(-1);
    }
}

/// A lock's guard `G` with the [`HeldMark`] that counts it: the guard is
/// dropped (the lock let go) before the mark, so that no handler call
/// finds the thread unmarked while it still holds the lock.
#[derive(Debug)]
pub struct Held<G> {
    guard: G,
    _mark: HeldMark,
}

impl<G> Held<G> {
    /// Marks this thread, then takes the lock with `take`.
    pub fn take(take: impl FnOnce() -> G) -> Held<G> {
        let mark = HeldMark::new();
        Held {
            guard: take(),
            _mark: mark,
        }
    }

    /// Marks this thread, then tries the lock with `take`; `None` (and no
    /// mark) when it is taken.
    pub fn try_take<E>(take: impl FnOnce() -> Result<G, E>) -> Option<Held<G>> {
        let mark = HeldMark::new();
        take().ok().map(|guard| Held { guard, _mark: mark })
    }
}

impl<G: std::ops::Deref> std::ops::Deref for Held<G> {
    type Target = G::Target;
    fn deref(&self) -> &G::Target {
        &self.guard
    }
}

impl<G: std::ops::DerefMut> std::ops::DerefMut for Held<G> {
    fn deref_mut(&mut self) -> &mut G::Target {
        &mut self.guard
    }
}

/// Tries of a held lock before [`RobustMutex::lock`] sleeps on it.
const SPINS: u32 = 64;
/// CPU pauses between two tries.
const PAUSES: u32 = 16;

/// A process-shared, robust `pthread_mutex_t`, to live in shared memory.
#[repr(C)]
pub struct RobustMutex {
    inner: UnsafeCell<libc::pthread_mutex_t>,
}

// SAFETY: a pthread mutex is made to be used from several threads (and,
// process-shared, from several processes); we only hand out `&self`
// methods that call the pthread functions on it.
unsafe impl Sync for RobustMutex {}
// SAFETY: as above; the mutex is plain memory that any thread may own.
unsafe impl Send for RobustMutex {}

impl std::fmt::Debug for RobustMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RobustMutex")
    }
}

/// What [`RobustMutex::lock`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Locked {
    /// Held; the previous holder unlocked it.
    Clean,
    /// Held; the previous holder died holding it. Repair, then
    /// [`RobustMutex::make_consistent`].
    OwnerDied,
    /// Not held, and it never can be again: the errno (`ENOTRECOVERABLE`,
    /// or `EINVAL` for a word that is not an initialized mutex).
    Unusable(i32),
}

impl Locked {
    /// Whether the caller now holds the lock.
    pub fn is_held(self) -> bool {
        !matches!(self, Locked::Unusable(_))
    }
}

/// `ret` (an errno or 0) from a pthread call as a `Result`.
fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(ret))
    }
}

impl RobustMutex {
    /// Initializes the mutex in place (`PTHREAD_PROCESS_SHARED`,
    /// `PTHREAD_MUTEX_ROBUST`), in shared memory.
    ///
    /// # Safety
    /// `this` is valid for writes of a `RobustMutex`, aligned, and no thread
    /// of any process uses the mutex yet (initializing a mutex in use is
    /// undefined behaviour).
    pub unsafe fn init(this: *mut RobustMutex) -> io::Result<()> {
        // SAFETY: pthread_mutexattr_t is plain data, initialized by
        // pthread_mutexattr_init before any other use; `this` is valid and
        // unused per the contract, so pthread_mutex_init may write it.
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            check(libc::pthread_mutexattr_init(&mut attr))?;
            let r = check(libc::pthread_mutexattr_setpshared(
                &mut attr,
                libc::PTHREAD_PROCESS_SHARED,
            ))
            .and_then(|()| {
                check(libc::pthread_mutexattr_setrobust(
                    &mut attr,
                    libc::PTHREAD_MUTEX_ROBUST,
                ))
            })
            .and_then(|()| {
                check(libc::pthread_mutex_init(
                    UnsafeCell::raw_get(std::ptr::addr_of!((*this).inner)),
                    &attr,
                ))
            });
            libc::pthread_mutexattr_destroy(&mut attr);
            r
        }
    }

    fn raw(&self) -> *mut libc::pthread_mutex_t {
        self.inner.get()
    }

    /// The mutex's lock word, to watch: glibc's `__data.__lock`, the
    /// first `int` of `pthread_mutex_t` on every architecture (0 when
    /// free, else the owner's TID and flags).
    fn word(&self) -> &std::sync::atomic::AtomicI32 {
        // SAFETY: the mutex is at least an aligned `int` long and starts
        // with glibc's lock word, which glibc only changes atomically;
        // we only load it.
        unsafe { &*(self.raw() as *const std::sync::atomic::AtomicI32) }
    }

    fn result(ret: libc::c_int) -> Option<Locked> {
        match ret {
            0 => Some(Locked::Clean),
            libc::EOWNERDEAD => Some(Locked::OwnerDied),
            libc::EBUSY | libc::EINTR | libc::EAGAIN => None,
            e => Some(Locked::Unusable(e)),
        }
    }

    /// Takes the lock, waiting as long as it takes. See [`Locked`] for what
    /// the caller must do with each answer.
    ///
    /// A holder that runs on another CPU lets go within microseconds (a
    /// call, or the stack thread's turn), so a held lock is watched for a
    /// while first ([`SPINS`]) before glibc's lock, whose robust mutex
    /// sleeps at once: a sleep costs both sides a system call and the
    /// waiter two context switches (nginx's worker and its stack thread
    /// met there on every few requests). Only the lock word is read
    /// meanwhile; glibc's lock takes it, with its owner-died and
    /// not-recoverable rules. (Its `trylock` leaves a not-recoverable
    /// mutex locked.) Not when the process may run on one CPU only, where
    /// the holder cannot run while we spin.
    pub fn lock(&self) -> Locked {
        if crate::sys::many_cpus() {
            let word = self.word();
            for _ in 0..SPINS {
                if word.load(std::sync::atomic::Ordering::Relaxed) == 0 {
                    break;
                }
                for _ in 0..PAUSES {
                    std::hint::spin_loop();
                }
            }
        }
        loop {
            // SAFETY: the mutex was initialized by `init` (the type's
            // contract: it lives in memory that `init` formatted).
            let ret = unsafe { libc::pthread_mutex_lock(self.raw()) };
            // EINTR, EAGAIN: not returned by glibc's lock, but retried
            // rather than mistaken for a lost mutex.
            if let Some(locked) = Self::result(ret) {
                if matches!(locked, Locked::Clean | Locked::OwnerDied) {
                    note_held(1);
                }
                return locked;
            }
        }
    }

    /// Takes the lock if it is free: `None` when another thread holds it.
    pub fn try_lock(&self) -> Option<Locked> {
        // SAFETY: as in `lock`.
        let ret = unsafe { libc::pthread_mutex_trylock(self.raw()) };
        let locked = Self::result(ret);
        if matches!(locked, Some(Locked::Clean | Locked::OwnerDied)) {
            note_held(1);
        }
        locked
    }

    /// Releases the lock. After [`Locked::OwnerDied`], call
    /// [`make_consistent`](RobustMutex::make_consistent) first, or the
    /// mutex becomes unusable for every process.
    pub fn unlock(&self) {
        // SAFETY: as in `lock`; the caller holds the lock. An error (EPERM
        // when not the owner) leaves the mutex as it was.
        if unsafe { libc::pthread_mutex_unlock(self.raw()) } == 0 {
            note_held(-1);
        }
    }

    /// After [`Locked::OwnerDied`] and the repair: marks the mutex
    /// consistent again, so that its next holders get [`Locked::Clean`].
    pub fn make_consistent(&self) {
        // SAFETY: as in `lock`; the caller holds the lock (EINVAL
        // otherwise, with no effect).
        unsafe { libc::pthread_mutex_consistent(self.raw()) };
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `RobustMutex` in a fresh `MAP_SHARED` anonymous mapping (shared
    /// with forked children), initialized, leaked.
    pub(crate) fn shared_mutex() -> &'static RobustMutex {
        let len = 4096;
        // SAFETY: a fresh anonymous shared mapping, leaked; `init` on it
        // before anyone else sees it.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            let m = p.cast::<RobustMutex>();
            RobustMutex::init(m).unwrap();
            &*m
        }
    }

    /// Forks a child that takes `m` and dies holding it: killed by
    /// `SIGKILL` or `_exit`. Returns once the child is reaped.
    fn child_dies_holding(m: &'static RobustMutex, sigkill: bool) {
        // SAFETY: in the child we only lock (no allocation: the mutex is
        // ready) and die by `raise`/`_exit`, both async-signal-safe, as
        // the child of a multi-threaded process must.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                let ok = m.lock() == Locked::Clean;
                if sigkill {
                    libc::raise(libc::SIGKILL);
                }
                libc::_exit(if ok { 0 } else { 1 });
            }
            let mut status = 0;
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            if sigkill {
                assert!(libc::WIFSIGNALED(status), "status {status:#x}");
                assert_eq!(libc::WTERMSIG(status), libc::SIGKILL);
            } else {
                assert!(libc::WIFEXITED(status), "status {status:#x}");
                assert_eq!(libc::WEXITSTATUS(status), 0, "child did not lock");
            }
        }
    }

    #[test]
    fn a_thread_knows_it_holds_a_lock() {
        let m = shared_mutex();
        assert!(!held_by_this_thread());
        assert_eq!(m.lock(), Locked::Clean);
        assert!(held_by_this_thread());
        std::thread::scope(|s| {
            s.spawn(|| assert!(!held_by_this_thread(), "only the holder"));
        });
        m.unlock();
        assert!(!held_by_this_thread());
        assert_eq!(m.try_lock(), Some(Locked::Clean));
        assert!(held_by_this_thread());
        m.unlock();
        assert!(!held_by_this_thread());
    }

    #[test]
    fn a_marked_lock_counts_until_it_is_let_go() {
        let m = std::sync::Mutex::new(0);
        {
            let mut g = Held::take(|| m.lock().unwrap());
            *g += 1;
            assert!(held_by_this_thread());
            // Taken: trying again leaves no mark behind.
            assert!(Held::try_take(|| m.try_lock()).is_none());
            assert!(held_by_this_thread());
        }
        assert!(!held_by_this_thread());
        let g = Held::try_take(|| m.try_lock()).expect("free");
        assert!(held_by_this_thread());
        drop(g);
        assert!(!held_by_this_thread());
    }

    #[test]
    fn lock_unlock() {
        let m = shared_mutex();
        assert_eq!(m.lock(), Locked::Clean);
        // Held: another thread cannot take it.
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(m.try_lock(), None));
        });
        m.unlock();
        assert_eq!(m.try_lock(), Some(Locked::Clean));
        m.unlock();
        assert_eq!(m.lock(), Locked::Clean);
        m.unlock();
    }

    #[test]
    fn lock_waits_for_the_holder() {
        let m = shared_mutex();
        let counter = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        assert_eq!(m.lock(), Locked::Clean);
                        // Not atomic as a whole: only the lock keeps the
                        // load and the store together.
                        let v = counter.load(std::sync::atomic::Ordering::Relaxed);
                        counter.store(v + 1, std::sync::atomic::Ordering::Relaxed);
                        m.unlock();
                    }
                });
            }
        });
        assert_eq!(counter.into_inner(), 4000);
    }

    #[test]
    fn owner_killed_holding_it() {
        let m = shared_mutex();
        child_dies_holding(m, true);
        assert_eq!(m.lock(), Locked::OwnerDied);
        m.make_consistent();
        m.unlock();
        assert_eq!(m.lock(), Locked::Clean);
        m.unlock();
    }

    #[test]
    fn owner_exited_holding_it() {
        let m = shared_mutex();
        child_dies_holding(m, false);
        assert_eq!(m.try_lock(), Some(Locked::OwnerDied));
        m.make_consistent();
        m.unlock();
        assert_eq!(m.try_lock(), Some(Locked::Clean));
        m.unlock();
    }

    #[test]
    fn repairer_dies_too() {
        // A holder that got OwnerDied and died before make_consistent
        // passes OwnerDied on.
        let m = shared_mutex();
        child_dies_holding(m, true);
        // SAFETY: as in child_dies_holding: lock and die only.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                let code = if m.lock() == Locked::OwnerDied { 0 } else { 1 };
                libc::_exit(code);
            }
            let mut status = 0;
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        }
        assert_eq!(m.lock(), Locked::OwnerDied);
        m.make_consistent();
        m.unlock();
        assert_eq!(m.lock(), Locked::Clean);
        m.unlock();
    }

    #[test]
    fn unlocked_without_repair_is_unusable_not_a_panic() {
        let m = shared_mutex();
        child_dies_holding(m, true);
        assert_eq!(m.lock(), Locked::OwnerDied);
        m.unlock();
        let got = m.lock();
        assert_eq!(got, Locked::Unusable(libc::ENOTRECOVERABLE));
        assert!(!got.is_held());
        assert_eq!(m.try_lock(), Some(Locked::Unusable(libc::ENOTRECOVERABLE)));
    }
}
