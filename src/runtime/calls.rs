//! How many calls on the stack this process's threads have begun and
//! ended: whether the process uses the stack at all ([`super::steer`]).
//!
//! Every export that serves a stack socket counts its call in and out
//! (`shim::guard`). The counts are kept per thread, each on a cache line
//! of its own that only that thread writes, and summed by the stack
//! thread when it looks. One pair of process-wide counters cost two
//! threads calling at once a fifth more time per call (140 to 170 ns per
//! `getsockopt`, three runs each), the line passing between their CPUs at
//! each count, and a thread-local of their own as much again (a shared
//! library's thread-local costs a call to `__tls_get_addr`); this way,
//! with the slot kept in the guard's one thread-local, the same runs
//! measured no difference. A thread takes one of [`SLOTS`] at its first
//! call and keeps it; threads past that many, or in a forked child one
//! whose slot was freed and taken again, share a line, counted all the
//! same.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Threads counted on lines of their own.
const SLOTS: usize = 64;

/// The slot of the threads past [`SLOTS`].
pub const SHARED: u16 = SLOTS as u16;

/// One thread's counts.
#[repr(align(64))]
struct Slot {
    taken: AtomicBool,
    entered: AtomicU64,
    returned: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    taken: AtomicBool::new(false),
    entered: AtomicU64::new(0),
    returned: AtomicU64::new(0),
};

/// [`SLOTS`] threads' lines, and the shared one after them.
static TABLE: [Slot; SLOTS + 1] = [FREE; SLOTS + 1];
/// One past the highest slot ever taken: the stack thread sums no further.
static HIGH: AtomicUsize = AtomicUsize::new(0);

/// A slot for the calling thread (once per thread: the caller keeps it).
pub fn claim() -> u16 {
    let free = TABLE[..SLOTS].iter().position(|s| {
        s.taken
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    });
    match free {
        Some(i) => {
            HIGH.fetch_max(i + 1, Ordering::AcqRel);
            i as u16
        }
        None => SHARED,
    }
}

/// A call begins on the thread that holds `slot`.
#[inline]
pub fn enter(slot: u16) {
    // A locked add on a line no other CPU writes costs little, and unlike
    // a load and a store loses no count to a signal handler that calls
    // on the stack in between.
    TABLE[slot as usize].entered.fetch_add(1, Ordering::Release);
}

/// The call that [`enter`] counted has ended.
#[inline]
pub fn leave(slot: u16) {
    TABLE[slot as usize]
        .returned
        .fetch_add(1, Ordering::Release);
}

/// The process's counts, summed: (begun, ended).
pub fn totals() -> (u64, u64) {
    let high = HIGH.load(Ordering::Acquire);
    let shared = &TABLE[SLOTS];
    let mut returned = shared.returned.load(Ordering::Acquire);
    let mut entered = shared.entered.load(Ordering::Acquire);
    for s in &TABLE[..high] {
        // Ended first: a call counted out here was counted in before.
        returned = returned.wrapping_add(s.returned.load(Ordering::Acquire));
        entered = entered.wrapping_add(s.entered.load(Ordering::Acquire));
    }
    (entered, returned)
}

/// In a forked child: only the thread that forked exists, and it is in
/// no call. Every slot is free again (that thread goes on with its own,
/// which a new thread may share).
pub fn forget_in_child() {
    for s in &TABLE {
        s.returned
            .store(s.entered.load(Ordering::Relaxed), Ordering::Relaxed);
        s.taken.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(slot: u16) -> (u64, u64) {
        let s = &TABLE[slot as usize];
        (
            s.entered.load(Ordering::Relaxed),
            s.returned.load(Ordering::Relaxed),
        )
    }

    #[test]
    fn a_call_in_progress_shows_until_it_ends() {
        let slot = claim();
        let (e, r) = counts(slot);
        enter(slot);
        enter(slot);
        assert_eq!(counts(slot), (e + 2, r));
        leave(slot);
        leave(slot);
        assert_eq!(counts(slot), (e + 2, r + 2));
        let (entered, _) = totals();
        assert!(entered >= e + 2);
    }

    #[test]
    fn threads_take_lines_of_their_own() {
        let a = claim();
        let b = std::thread::spawn(claim).join().unwrap();
        assert_ne!(a, b);
    }
}
