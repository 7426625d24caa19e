//! The two lock-free and lock tricks the runtime needs, behind safe
//! interfaces, so that `unsafe` stays in `sys/` and `shim/`.
//!
//! - [`LeakedSlot`]: a value published once and never freed, readable with
//!   one atomic load (the process's runtime), and forgettable (a forked
//!   child forgets its parent's).
//! - [`ForkHold`]: a lock taken before `fork` and released after it, in
//!   the parent and in the child (whose copy of the lock would otherwise
//!   stay locked by a thread that does not exist there).

use parking_lot::Mutex;
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

/// A `Mutex` locked by [`ForkHold::hold`] and kept locked, with no guard,
/// until [`ForkHold::release`]: across a `fork`, from the `prepare`
/// handler to the `parent` and `child` ones.
#[derive(Debug)]
pub struct ForkHold<T: 'static> {
    mutex: &'static Mutex<T>,
}

impl<T: 'static> ForkHold<T> {
    /// Locks `mutex`, waiting at most `wait`; `None` when it stayed busy.
    pub fn hold(mutex: &'static Mutex<T>, wait: Duration) -> Option<ForkHold<T>> {
        std::mem::forget(mutex.try_lock_for(wait)?);
        Some(ForkHold { mutex })
    }

    /// Unlocks it (in the parent, or in the child's copy of memory).
    pub fn release(self) {
        // SAFETY: `hold` locked the mutex and forgot the guard; this value
        // is the only record of that lock and is consumed here.
        unsafe { self.mutex.force_unlock() };
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
