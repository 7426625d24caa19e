//! The two lock-free and lock tricks the runtime needs, behind safe
//! interfaces, so that `unsafe` stays in `sys/` and `shim/`.
//!
//! - [`LeakedSlot`]: a value published once and never freed, readable with
//!   one atomic load (the process's runtime), and forgettable (a forked
//!   child forgets its parent's).
//! - [`ForkHold`]: a lock taken before `fork` and released after it, in
//!   the parent and in the child (whose copy of the lock would otherwise
//!   stay locked by a thread that does not exist there).

use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Duration;

/// A slot that holds nothing or a leaked `T`.
#[derive(Debug)]
pub struct LeakedSlot<T: 'static> {
    ptr: AtomicPtr<T>,
}

impl<T: 'static> LeakedSlot<T> {
    /// An empty slot.
    pub const fn new() -> LeakedSlot<T> {
        LeakedSlot {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// A slot holding `value` from the start.
    pub fn with(value: T) -> LeakedSlot<T> {
        let slot = LeakedSlot::new();
        slot.set(value);
        slot
    }

    /// The value, if one was published and not forgotten since.
    #[inline]
    pub fn get(&self) -> Option<&'static T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: a non-null pointer here came from `Box::leak` in `set`
        // and is never freed.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// Publishes `value` (leaked: it lives for the rest of the process).
    pub fn set(&self, value: T) -> &'static T {
        let leaked: &'static mut T = Box::leak(Box::new(value));
        self.ptr.store(leaked, Ordering::Release);
        leaked
    }

    /// Empties the slot; the value stays allocated (others may hold it).
    pub fn forget(&self) {
        self.ptr.store(std::ptr::null_mut(), Ordering::Release);
    }
}

impl<T: 'static> Default for LeakedSlot<T> {
    fn default() -> LeakedSlot<T> {
        LeakedSlot::new()
    }
}

/// A mutual-exclusion lock with `parking_lot`'s interface over std's lock.
///
/// std's locks wait on a futex in the lock's own word. `parking_lot`'s park
/// a contended waiter in a table global to the process, whose buckets have
/// locks of their own: a process forked while another of its threads held
/// one (the stack thread, parking or unparking) gives a child whose first
/// contended lock waits forever. Forked children are the rule here (the
/// stack is shared by them), so the library's locks are std's. A lock
/// that a panic poisoned is used as it is.
#[derive(Debug, Default)]
pub struct Mutex<T>(std::sync::Mutex<T>);

/// The guard of a [`Mutex`].
pub type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    /// A new, unlocked mutex.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex(std::sync::Mutex::new(value))
    }

    /// Locks it, waiting as long as it takes.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks it if it is free.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        match self.0.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Locks it, waiting at most `wait` (polling: for rare callers).
    pub fn try_lock_for(&self, wait: Duration) -> Option<MutexGuard<'_, T>> {
        let start = std::time::Instant::now();
        loop {
            if let Some(g) = self.try_lock() {
                return Some(g);
            }
            if start.elapsed() >= wait {
                return None;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

/// A readers-writer lock with `parking_lot`'s interface over std's (see
/// [`Mutex`] for why).
#[derive(Debug, Default)]
pub struct RwLock<T>(std::sync::RwLock<T>);

impl<T> RwLock<T> {
    /// A new, unlocked lock.
    pub const fn new(value: T) -> RwLock<T> {
        RwLock(std::sync::RwLock::new(value))
    }

    /// Locks it for reading.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks it for writing.
    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks it for writing if it is free.
    pub fn try_write(&self) -> Option<std::sync::RwLockWriteGuard<'_, T>> {
        match self.0.try_write() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

/// A `Mutex` locked by [`ForkHold::hold`] and kept locked until
/// [`ForkHold::release`]: across a `fork`, from the `prepare` handler to
/// the `parent` and `child` ones (which run in the same thread, the child's
/// copy of it in the child).
pub struct ForkHold<T: 'static> {
    _guard: MutexGuard<'static, T>,
}

impl<T: 'static> ForkHold<T> {
    /// Locks `mutex`, waiting at most `wait`; `None` when it stayed busy.
    pub fn hold(mutex: &'static Mutex<T>, wait: Duration) -> Option<ForkHold<T>> {
        Some(ForkHold {
            _guard: mutex.try_lock_for(wait)?,
        })
    }

    /// Unlocks it (in the parent, or in the child's copy of memory).
    pub fn release(self) {}
}

impl<T: 'static> std::fmt::Debug for ForkHold<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForkHold")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_set_get_forget() {
        static SLOT: LeakedSlot<u32> = LeakedSlot::new();
        assert_eq!(SLOT.get(), None);
        SLOT.set(7);
        assert_eq!(SLOT.get(), Some(&7));
        SLOT.forget();
        assert_eq!(SLOT.get(), None);
    }

    #[test]
    fn hold_and_release() {
        static M: Mutex<()> = Mutex::new(());
        let held = ForkHold::hold(&M, Duration::from_millis(10)).unwrap();
        assert!(M.try_lock().is_none());
        held.release();
        assert!(M.try_lock().is_some());
    }
}
