//! [`SwitchAlloc`]: the library's global allocator, which serves a thread
//! from the shared [`Heap`] while it holds the stack's lock, and from the
//! system allocator otherwise.
//!
//! The stack's state (`Stack`, its sockets, their buffers, its maps) lives
//! in the shared region, so whatever the stack allocates while it runs must
//! come from the region's heap. The stack runs only under its lock, so the
//! lock's guard calls [`enter`], and until the returned [`RegionScope`] is
//! dropped every allocation of that thread comes from the heap. Frees are
//! routed by address, whoever makes them:
//!
//! | call | in region scope | outside |
//! |---|---|---|
//! | `alloc`, `alloc_zeroed` | the heap (the system allocator when it is full, counted in [`fallbacks`]) | the system allocator |
//! | `dealloc` of a heap block | [`Heap::free`] | [`Heap::free_deferred`] (lock-free; the next lock holder drains it) |
//! | `dealloc` of another block | the system allocator | the system allocator |
//! | `realloc` of a heap block | a new block by the `alloc` rule, copy, old block freed by the `dealloc` rule (kept in place when the new size is of the same class) | the same |
//! | `realloc` of another block | the system allocator's `realloc` | the same |
//!
//! So a private object grown under the lock stays private, and a shared one
//! dropped by a thread without the lock (a buffer handed out of the stack)
//! goes back through the deferred list.
//!
//! The per-thread depth is a `const`-initialized `thread_local` `Cell`: no
//! allocation, no destructor registered, usable at any point of a thread's
//! life (inside other TLS destructors too). The fast path when no heap is
//! set (every process before the region exists) is one atomic load; with a
//! heap set, a pointer outside it costs two more loads from the heap
//! header's read-only cache line.

use super::alloc::{Heap, class_of};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

/// The process's heap (null until [`set_heap`]).
static HEAP: AtomicPtr<Heap> = AtomicPtr::new(std::ptr::null_mut());
/// Allocations in region scope the heap could not serve.
static FALLBACKS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// How many [`RegionScope`]s this thread holds.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Installs the process's heap, once the region is mapped (again after
/// `exec`, with the heap found at the same address; a forked child
/// inherits it). Every block of the heap is recognized from then on.
///
/// One heap per process: replacing it with another while blocks of the
/// first are alive would send those to the system allocator.
pub fn set_heap(heap: &'static Heap) {
    let old = HEAP.swap(heap as *const Heap as *mut Heap, Ordering::AcqRel);
    debug_assert!(old.is_null() || std::ptr::eq(old, heap), "a second heap");
}

/// Forgets the heap when it lies in `base..base + len` (that mapping is
/// going away): its blocks can no longer be freed, and nothing may read
/// its header.
pub fn clear_heap_in(base: usize, len: usize) {
    let h = HEAP.load(Ordering::Acquire) as usize;
    if h >= base && h < base.saturating_add(len) {
        HEAP.store(std::ptr::null_mut(), Ordering::Release);
    }
}

/// The heap [`set_heap`] installed.
pub fn heap() -> Option<&'static Heap> {
    let h = HEAP.load(Ordering::Acquire);
    // SAFETY: a non-null pointer came from a `&'static Heap` in set_heap.
    (!h.is_null()).then(|| unsafe { &*h })
}

/// How many allocations in region scope the heap could not serve (full),
/// and went to the system allocator instead: private memory in shared
/// state, wrong for any other process that looks at it.
pub fn fallbacks() -> u64 {
    FALLBACKS.load(Ordering::Relaxed)
}

/// While a thread holds one of these, its allocations come from the heap.
/// Nestable. Not `Send`: it counts for the thread that made it.
#[derive(Debug)]
#[must_use = "allocations come from the region only while the scope lives"]
pub struct RegionScope {
    _thread: PhantomData<*const ()>,
}

impl Drop for RegionScope {
    fn drop(&mut self) {
        DEPTH.set(DEPTH.get().saturating_sub(1));
    }
}

/// Enters region scope for this thread: only with the stack's lock held
/// (the heap has one mutator at a time). Drop the scope before unlocking.
pub fn enter() -> RegionScope {
    DEPTH.set(DEPTH.get() + 1);
    RegionScope {
        _thread: PhantomData,
    }
}

/// In a forked child: ends every region scope of this thread (the child
/// does not hold the stack's lock, even if the forking thread did). Guards
/// still alive then count down to zero at most.
pub fn forget_scope() {
    DEPTH.set(0);
}

/// Whether this thread is in region scope.
#[inline]
pub fn in_region() -> bool {
    DEPTH.get() > 0
}

/// Leaves region scope for a while, inside it: what is made until the
/// returned guard is dropped is private (a log line, a frame for the
/// device). Frees of heap blocks meanwhile take the deferred list.
#[must_use = "allocations are private only while the guard lives"]
#[derive(Debug)]
pub struct PrivateScope {
    depth: u32,
    _thread: PhantomData<*const ()>,
}

impl Drop for PrivateScope {
    fn drop(&mut self) {
        DEPTH.set(self.depth);
    }
}

/// See [`PrivateScope`].
pub fn leave() -> PrivateScope {
    let depth = DEPTH.replace(0);
    PrivateScope {
        depth,
        _thread: PhantomData,
    }
}

/// The heap, if one is set and this thread is in region scope.
#[inline]
fn scoped_heap() -> Option<&'static Heap> {
    let h = HEAP.load(Ordering::Acquire);
    if h.is_null() || !in_region() {
        return None;
    }
    // SAFETY: a non-null pointer came from a `&'static Heap` in set_heap.
    Some(unsafe { &*h })
}

/// The heap, if one is set and `p` is one of its blocks.
#[inline]
fn owning_heap(p: *const u8) -> Option<&'static Heap> {
    let h = HEAP.load(Ordering::Acquire);
    if h.is_null() {
        return None;
    }
    // SAFETY: as above.
    let heap = unsafe { &*h };
    heap.contains(p).then_some(heap)
}

/// The library's global allocator (installed in `src/lib.rs`).
#[derive(Debug)]
pub struct SwitchAlloc;

impl SwitchAlloc {
    /// A block from the heap in region scope, else from the system.
    #[inline]
    unsafe fn alloc_by_rule(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        if let Some(heap) = scoped_heap() {
            // SAFETY: region scope means the stack lock is held: we are
            // the heap's one mutator.
            let p = unsafe { heap.alloc(layout) };
            if !p.is_null() {
                if zeroed {
                    // SAFETY: the block holds at least `layout.size()`.
                    unsafe { p.write_bytes(0, layout.size()) };
                }
                return p;
            }
            FALLBACKS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's layout is valid and non-zero (GlobalAlloc's
        // contract).
        unsafe {
            if zeroed {
                System.alloc_zeroed(layout)
            } else {
                System.alloc(layout)
            }
        }
    }
}

// SAFETY: every block handed out is either a heap block of at least
// `layout.size()` bytes aligned to `layout.align()` (Heap::alloc's
// contract), or the system allocator's; frees go back to whichever
// allocator owns the address (the heap knows its range).
unsafe impl GlobalAlloc for SwitchAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: GlobalAlloc's contract, passed on.
        unsafe { self.alloc_by_rule(layout, false) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: GlobalAlloc's contract, passed on.
        unsafe { self.alloc_by_rule(layout, true) }
    }

    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        match owning_heap(p) {
            // SAFETY: `p` is a heap block allocated with `layout`; in
            // region scope we hold the lock (one mutator), outside it the
            // deferred push needs no lock.
            Some(heap) => unsafe {
                if in_region() {
                    heap.free(p, layout)
                } else {
                    heap.free_deferred(p, layout)
                }
            },
            // SAFETY: not a heap block: the system allocator's.
            None => unsafe { System.dealloc(p, layout) },
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if owning_heap(p).is_none() {
            // SAFETY: not a heap block: the system allocator's.
            return unsafe { System.realloc(p, layout, new_size) };
        }
        // SAFETY: GlobalAlloc::realloc's contract: new_size rounded up to
        // the alignment does not overflow isize.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if class_of(new_layout) == class_of(layout) {
            // The block has room: it stays where it is, in its class.
            return p;
        }
        // SAFETY: a valid layout (above).
        let q = unsafe { self.alloc_by_rule(new_layout, false) };
        if !q.is_null() {
            // SAFETY: both blocks hold at least the smaller size, and they
            // are distinct (`p` is allocated).
            unsafe {
                std::ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                self.dealloc(p, layout);
            }
        }
        q
    }
}

/// For tests in this crate: one process-wide heap in a shared anonymous
/// mapping (set once; forked children share it), and a lock that stands for the stack's lock (hold it
/// around every region scope).
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use parking_lot::{Mutex, MutexGuard};
    use std::sync::OnceLock;

    /// The test heap's size.
    pub const TEST_HEAP_LEN: usize = 64 << 20;

    static HEAP_ONCE: OnceLock<usize> = OnceLock::new();
    static STACK_LOCK: Mutex<()> = Mutex::new(());

    /// The process's heap, made and set on first use.
    pub fn test_heap() -> &'static Heap {
        let addr = *HEAP_ONCE.get_or_init(|| {
            // SAFETY: a fresh anonymous mapping, never unmapped.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    TEST_HEAP_LEN,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED);
            // SAFETY: fresh page-aligned memory that lives for ever.
            let heap = unsafe { Heap::format(p.cast(), TEST_HEAP_LEN) };
            set_heap(heap);
            p as usize
        });
        // SAFETY: formatted above, never unmapped.
        unsafe { Heap::at(addr as *mut u8) }
    }

    /// Takes the stand-in for the stack lock.
    pub fn stack_lock() -> MutexGuard<'static, ()> {
        STACK_LOCK.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{stack_lock, test_heap};
    use super::*;

    #[test]
    fn outside_scope_is_private() {
        let heap = test_heap();
        assert!(!in_region());
        let b = Box::new([7u8; 100]);
        assert!(!heap.contains(b.as_ptr()));
    }

    #[test]
    fn scope_nests_and_ends() {
        let heap = test_heap();
        let _lock = stack_lock();
        let outer = enter();
        let inner = enter();
        let a = Box::new(1u64);
        drop(inner);
        assert!(in_region());
        let b = Box::new(2u64);
        assert!(heap.contains(&*a as *const u64 as *const u8));
        assert!(heap.contains(&*b as *const u64 as *const u8));
        drop((a, b));
        drop(outer);
        assert!(!in_region());
        let c = Box::new(3u64);
        assert!(!heap.contains(&*c as *const u64 as *const u8));
    }

    #[test]
    fn shared_objects_grow_and_die_in_the_heap() {
        let heap = test_heap();
        let _lock = stack_lock();
        let scope = enter();
        let mut v: Vec<u32> = Vec::new();
        for i in 0..10_000 {
            v.push(i);
            assert!(heap.contains(v.as_ptr().cast()));
        }
        let zeroed = vec![0u64; 5000];
        assert!(heap.contains(zeroed.as_ptr().cast()));
        assert!(zeroed.iter().all(|&x| x == 0));
        // A private object made before the scope stays private when it
        // grows or dies inside it.
        drop(scope);
        let mut private: Vec<u8> = Vec::with_capacity(8);
        let scope = enter();
        private.extend_from_slice(&[1; 1000]);
        assert!(!heap.contains(private.as_ptr()));
        drop(private);
        let in_use = heap.bytes_in_use();
        drop(v);
        drop(zeroed);
        assert!(heap.bytes_in_use() < in_use);
        drop(scope);
    }

    #[test]
    fn shared_object_dropped_outside_scope_is_deferred() {
        let heap = test_heap();
        let lock = stack_lock();
        let scope = enter();
        let s = String::from("made under the lock, freed by anyone");
        let addr = s.as_ptr();
        assert!(heap.contains(addr));
        drop(scope);
        drop(lock);
        let deferred = heap.deferred_frees();
        // Another thread drops it without the lock.
        std::thread::spawn(move || drop(s)).join().unwrap();
        assert!(heap.deferred_frees() > deferred);
        // The next lock holder drains it: the block is reused.
        let _lock = stack_lock();
        // SAFETY: the stand-in lock is held: one mutator.
        unsafe { heap.drain_deferred() };
        let _scope = enter();
        let mut found = false;
        let mut keep = Vec::new();
        for _ in 0..64 {
            let again = String::from("made under the lock, freed by anyone");
            found |= again.as_ptr() == addr;
            keep.push(again);
        }
        assert!(found, "the deferred block was not reused");
    }

    #[test]
    fn private_scope_inside_region_scope() {
        let heap = test_heap();
        let _lock = stack_lock();
        let _scope = enter();
        let shared = Box::new(1u32);
        let private = {
            let _out = leave();
            assert!(!in_region());
            Box::new(2u32)
        };
        assert!(in_region());
        assert!(heap.contains(&*shared as *const u32 as *const u8));
        assert!(!heap.contains(&*private as *const u32 as *const u8));
    }

    #[test]
    fn realloc_in_place_within_a_class_and_across_classes() {
        let heap = test_heap();
        let _lock = stack_lock();
        let _scope = enter();
        let mut v: Vec<u8> = Vec::with_capacity(40);
        let first = v.as_ptr();
        v.extend_from_slice(&[5; 40]);
        v.reserve_exact(20); // 60 bytes: the 64-byte class, same block
        assert_eq!(v.as_ptr(), first);
        v.reserve_exact(100); // another class: moved, contents kept
        assert_ne!(v.as_ptr(), first);
        assert!(heap.contains(v.as_ptr()));
        assert_eq!(v, [5; 40]);
        v.shrink_to_fit(); // back down: moved again, still in the heap
        assert!(heap.contains(v.as_ptr()));
        assert_eq!(v, [5; 40]);
    }

    #[test]
    fn collections_built_by_one_process_are_used_by_another() {
        let heap = test_heap();
        let _lock = stack_lock();
        let scope = enter();
        let handoff = Box::new(std::sync::atomic::AtomicUsize::new(0));
        let word: &std::sync::atomic::AtomicUsize = &handoff;
        // SAFETY: the child allocates only in region scope (from the heap,
        // which takes no lock; this thread holds the stand-in stack lock,
        // so the child is the heap's one mutator until it exits), does not
        // panic, and ends with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let strings: Vec<String> = (0..100).map(|i| format!("string {i}")).collect();
            let map: std::collections::BTreeMap<u32, Vec<u8>> =
                (0..50).map(|i| (i, vec![i as u8; i as usize])).collect();
            let boxed = Box::new((strings, map));
            word.store(
                Box::into_raw(boxed) as usize,
                std::sync::atomic::Ordering::Release,
            );
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        let raw = word.load(std::sync::atomic::Ordering::Acquire);
        assert!(heap.contains(raw as *const u8));
        // SAFETY: the child made this box in the shared heap, with this
        // type, and gave it up: it is ours now.
        let (strings, map) = *unsafe {
            Box::from_raw(raw as *mut (Vec<String>, std::collections::BTreeMap<u32, Vec<u8>>))
        };
        assert_eq!(strings.len(), 100);
        assert_eq!(strings[42], "string 42");
        assert!(strings.iter().all(|s| heap.contains(s.as_ptr())));
        assert_eq!(map[&7], vec![7u8; 7]);
        assert_eq!(map.len(), 50);
        // Dropped here, in scope: the blocks go back to the free lists.
        let in_use = heap.bytes_in_use();
        drop((strings, map));
        assert!(heap.bytes_in_use() < in_use);
        drop(handoff);
        drop(scope);
    }

    #[test]
    fn full_heap_falls_back_to_the_system() {
        let heap = test_heap();
        let _lock = stack_lock();
        let _scope = enter();
        let before = fallbacks();
        let big: Vec<u8> = vec![0; testing::TEST_HEAP_LEN];
        assert!(!heap.contains(big.as_ptr()));
        assert_eq!(fallbacks(), before + 1);
        // And it is freed to the system, in scope or not.
        drop(big);
    }
}
