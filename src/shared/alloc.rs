//! [`Heap`]: an allocator whose whole state lives inside the memory it
//! manages.
//!
//! The heap is meant for the shared region (`region.rs`), mapped at the same
//! address in every process, so its header holds absolute addresses and
//! nothing else: no pointer into any process's private memory, no lock of
//! its own, no thread-local cache. Any process that maps the region finds
//! the heap with [`Heap::at`].
//!
//! # Size classes
//!
//! A request of `size` bytes aligned to `align` gets a block of the class
//! `next_power_of_two(max(size, align, 16))`: 16, 32, 64, ... bytes, up to
//! the size of the heap itself. Blocks of a class sit at addresses aligned to
//! `min(class, 4096)` (so every block of a class serves every layout of that
//! class with an alignment up to 4096). Each class has a singly linked free
//! list threaded through the free blocks' first word. A block comes from its
//! class's free list or, when that is empty, from the bump pointer, which
//! only grows. Bumping to an aligned address leaves a gap behind; the gap is
//! cut into naturally aligned power-of-two blocks that go onto their
//! classes' free lists, so nothing is lost to alignment.
//!
//! Freed blocks go back to their class's free list and are reused for that
//! class only. Memory is **never returned to the operating system** (no
//! `madvise`, no coalescing of neighbours): the heap reserves what its peak
//! needed. The classes waste up to half a block (a 33-byte request takes
//! 64); large classes (64 KiB and more: TCP buffers of megabytes) are common
//! and are served the same way, with a page alignment.
//!
//! Layouts aligned to more than 4096 are rare; they take the first of the
//! first 16 blocks of their free list that happens to be aligned enough
//! (unlinked with one store to the link before it), else a fresh block
//! bumped to their alignment.
//!
//! # Who may change what
//!
//! [`alloc`](Heap::alloc), [`free`](Heap::free) and
//! [`drain_deferred`](Heap::drain_deferred) change the free lists and the
//! bump pointer, and must only be called by the holder of the stack's lock:
//! there is one mutator at a time, so they need no atomic read-modify-write.
//! [`free_deferred`](Heap::free_deferred) may be called by any thread of any
//! process at any time: it pushes the block onto a separate lock-free stack
//! (a Treiber stack whose links run through the blocks' first words, with
//! the block's class in the second word), and the next lock holder moves
//! those blocks to their free lists.
//!
//! # A process killed at any instruction
//!
//! A process may die (`SIGKILL`) between any two of its instructions, also
//! inside the allocator, and the next lock holder carries on with the same
//! lists. So every change to a list or to the bump pointer is **one
//! committed store, made after everything it publishes is prepared**:
//!
//! - free: the block's link is written first (pointing at the current head),
//!   then the head is set to the block with one release store. Killed before
//!   that store, the block is leaked; after it, the block is free.
//! - alloc from a list: the block's link is read, then the link that
//!   pointed at the block (the head, or the previous block's for a layout
//!   aligned beyond a page) is set to it with one store. Killed after that
//!   store and before the caller got the block, the block is leaked.
//! - alloc from the bump pointer: the new bump value (past the gap and the
//!   block) is stored first, in one store, and only then are the gap's
//!   pieces pushed onto their lists one by one (each as a free). Killed in
//!   between, the block and the remaining pieces are leaked: nothing beyond
//!   the bump pointer is ever on a list, nothing is handed out twice.
//! - the deferred stack is pushed with one compare-and-swap and popped (by
//!   the lock holder only) with one compare-and-swap per block; a block
//!   popped and not yet pushed onto its free list is leaked by a kill.
//!
//! At worst a block leaks; a list never points at a block that is in use or
//! beyond the bump pointer. The counters ([`bytes_in_use`](Heap::bytes_in_use))
//! are updated after the committed store, so a kill can leave them off by
//! the one block in flight: they are for statistics, not for correctness.
//!
//! A double free, or a free with another layout than the allocation's,
//! corrupts the lists, as with any allocator.

use std::alloc::Layout;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The smallest block: two words, the deferred stack's link and class.
pub const MIN_BLOCK: usize = 16;
/// Blocks are aligned to their class up to this (a page).
pub const MAX_BLOCK_ALIGN: usize = 4096;
/// One free list per power of two (index = log2 of the class).
const CLASSES: usize = usize::BITS as usize;
/// How many free blocks a layout aligned beyond a page looks at for one
/// aligned enough (every other layout takes the head).
const ALIGNED_SEARCH: usize = 16;
/// "tapheap1" in ASCII: [`Heap::format`] writes it last.
const MAGIC: u64 = u64::from_le_bytes(*b"tapheap1");

/// The heap's header, at the start of the memory it manages.
///
/// The fields that never change after [`Heap::format`] (read on every
/// `dealloc` of the process, by [`Heap::contains`]) sit in their own cache
/// line, apart from the ones every allocation writes.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct Heap {
    /// [`MAGIC`] once formatted.
    magic: AtomicU64,
    /// The header's own address (the heap's base): checked by [`Heap::at`].
    base: usize,
    /// The first address blocks are cut from (past the header).
    start: usize,
    /// One past the last byte of the heap.
    end: usize,
    /// Pads the read-only line to 64 bytes.
    _pad: [usize; 4],
    /// The next address the bump pointer hands out; only grows.
    bump: AtomicUsize,
    /// Bytes of blocks handed out and not freed (class sizes).
    in_use: AtomicUsize,
    /// The head of the deferred-free stack (0 when empty).
    deferred: AtomicUsize,
    /// How many blocks [`Heap::free_deferred`] pushed, for statistics.
    deferred_count: AtomicUsize,
    /// The free lists' heads (0 when empty), by log2 of the class.
    free: [AtomicUsize; CLASSES],
}

const _: () = assert!(std::mem::offset_of!(Heap, bump) == 64);

/// The class of `layout`: `next_power_of_two(max(size, align, 16))`, or
/// `None` when that overflows.
#[inline]
pub fn class_of(layout: Layout) -> Option<usize> {
    layout
        .size()
        .max(layout.align())
        .max(MIN_BLOCK)
        .checked_next_power_of_two()
}

/// The alignment of the blocks of `class`.
#[inline]
fn block_align(class: usize) -> usize {
    class.min(MAX_BLOCK_ALIGN)
}

#[inline]
fn align_up(addr: usize, align: usize) -> Option<usize> {
    Some(addr.checked_add(align - 1)? & !(align - 1))
}

impl Heap {
    /// Formats `base..base+len` as an empty heap and returns it (the header
    /// sits at `base`). Writes the header only: the rest of the memory is
    /// not touched (a sparse file stays sparse).
    ///
    /// # Panics
    /// When `base` is not aligned to 64 or `len` is smaller than the
    /// header (a caller's bug, checked before anything is written).
    ///
    /// # Safety
    /// `base` is valid for reads and writes of `len` bytes for the rest of
    /// the process's life (`'static`), and nothing else uses that memory.
    pub unsafe fn format(base: *mut u8, len: usize) -> &'static Heap {
        let header = std::mem::size_of::<Heap>();
        assert!(
            (base as usize).is_multiple_of(64),
            "heap base not aligned to 64"
        );
        assert!(len >= header, "heap smaller than its header");
        let b = base as usize;
        let end = b + len;
        let start = (b + header).min(end);
        let heap = base.cast::<Heap>();
        // SAFETY: the caller gives us `base..base+len`, aligned for `Heap`
        // (checked above) and at least as long; writing a whole header
        // initializes it, and the magic word is zero until we publish it.
        unsafe {
            heap.write(Heap {
                magic: AtomicU64::new(0),
                base: b,
                start,
                end,
                _pad: [0; 4],
                bump: AtomicUsize::new(start),
                in_use: AtomicUsize::new(0),
                deferred: AtomicUsize::new(0),
                deferred_count: AtomicUsize::new(0),
                free: [const { AtomicUsize::new(0) }; CLASSES],
            });
        }
        // SAFETY: initialized just above; lives as long as the memory.
        let heap: &'static Heap = unsafe { &*heap };
        heap.magic.store(MAGIC, Ordering::Release);
        heap
    }

    /// The heap formatted earlier at `base` (by this process or another,
    /// after mapping the same memory at the same address).
    ///
    /// # Safety
    /// `base` points at memory on which [`Heap::format`] was called, mapped
    /// at the same address, and valid for the rest of the process's life.
    /// Check [`is_formatted`](Heap::is_formatted) before trusting it when
    /// the formatting process may have died halfway.
    pub unsafe fn at(base: *mut u8) -> &'static Heap {
        // SAFETY: per the contract, a formatted header lives at `base`.
        unsafe { &*base.cast::<Heap>() }
    }

    /// Whether the header is complete (the magic word is written last by
    /// [`format`](Heap::format)) and was formatted at this address.
    pub fn is_formatted(&self) -> bool {
        self.magic.load(Ordering::Acquire) == MAGIC && self.base == self as *const Heap as usize
    }

    /// Whether `p` lies in the memory this heap hands out blocks from (two
    /// loads from the header's read-only cache line).
    #[inline]
    pub fn contains(&self, p: *const u8) -> bool {
        let p = p as usize;
        p >= self.start && p < self.end
    }

    /// The first address of the blocks (past the header).
    pub fn start(&self) -> usize {
        self.start
    }

    /// One past the heap's last byte.
    pub fn end(&self) -> usize {
        self.end
    }

    /// A block for `layout`, or null when the heap is full (or the layout is
    /// larger than the heap). The block's contents are whatever was there.
    ///
    /// # Safety
    /// Only with the stack lock held: one mutator at a time (see the module
    /// docs).
    pub unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(layout) else {
            return std::ptr::null_mut();
        };
        // The link that points at the block we take: the list's head, or
        // (for a layout aligned beyond a page, whose class's blocks are
        // only page-aligned) the link of the block before the first one
        // aligned enough, among the first few.
        let mut link = &self.free[class.trailing_zeros() as usize];
        for _ in 0..ALIGNED_SEARCH {
            let block = link.load(Ordering::Acquire);
            if block == 0 {
                break;
            }
            // SAFETY: a block on a free list is ours (lock held), at least
            // 16 bytes and aligned to 16: its first word is the link.
            let block_link = unsafe { &*(block as *const AtomicUsize) };
            if block.is_multiple_of(layout.align()) {
                let next = block_link.load(Ordering::Relaxed);
                // The one committed store: the block leaves the list.
                link.store(next, Ordering::Release);
                self.in_use.fetch_add(class, Ordering::Relaxed);
                return block as *mut u8;
            }
            link = block_link;
        }
        // SAFETY: lock held, per our own contract.
        unsafe { self.bump_alloc(class, block_align(class).max(layout.align())) }
    }

    /// A fresh block of `class` aligned to `align` from the bump pointer.
    ///
    /// # Safety
    /// Only with the stack lock held.
    unsafe fn bump_alloc(&self, class: usize, align: usize) -> *mut u8 {
        let bump = self.bump.load(Ordering::Acquire);
        let Some(block) = align_up(bump, align) else {
            return std::ptr::null_mut();
        };
        let Some(new_bump) = block.checked_add(class) else {
            return std::ptr::null_mut();
        };
        if new_bump > self.end {
            return std::ptr::null_mut();
        }
        // The one committed store: the gap and the block are no longer
        // bump memory. A kill from here on leaks them, never hands them out
        // twice.
        self.bump.store(new_bump, Ordering::Release);
        self.in_use.fetch_add(class, Ordering::Relaxed);
        // The gap behind the block, cut into naturally aligned powers of
        // two (bump and block are multiples of 16), each pushed as a free.
        let mut at = bump;
        while at < block {
            let mut size = 1usize << at.trailing_zeros().min(usize::BITS - 1);
            while at + size > block {
                size /= 2;
            }
            // SAFETY: `at..at+size` lies in the gap, which is ours alone
            // (lock held, beyond the old bump pointer) and inside the heap;
            // `at` is aligned to `size`, which is a power of two >= 16.
            unsafe { self.push_free(at, size) };
            at += size;
        }
        block as *mut u8
    }

    /// Pushes the block `p` of `class` onto its free list: link first, then
    /// the head, in one committed store.
    ///
    /// # Safety
    /// Lock held; `p` is a block of `class` that nobody else uses.
    #[inline]
    unsafe fn push_free(&self, p: usize, class: usize) {
        let list = &self.free[class.trailing_zeros() as usize];
        let head = list.load(Ordering::Acquire);
        // SAFETY: the block is ours, at least 16 bytes, aligned to 16.
        unsafe { &*(p as *const AtomicUsize) }.store(head, Ordering::Relaxed);
        // The one committed store (release: the link is written before it).
        list.store(p, Ordering::Release);
    }

    /// Frees a block [`alloc`](Heap::alloc) returned for `layout`.
    ///
    /// # Safety
    /// Only with the stack lock held; `p` came from this heap's `alloc`
    /// with the same `layout` (or one of the same class) and is not used
    /// after this.
    pub unsafe fn free(&self, p: *mut u8, layout: Layout) {
        let Some(class) = class_of(layout) else {
            return;
        };
        debug_assert!(self.contains(p) && (p as usize).is_multiple_of(block_align(class)));
        // SAFETY: per the contract, `p` is a block of `class`, now ours.
        unsafe { self.push_free(p as usize, class) };
        self.in_use.fetch_sub(class, Ordering::Relaxed);
    }

    /// Frees a block from any thread of any process, without the lock: a
    /// lock-free push onto the deferred stack (the block's first word links
    /// to the next, its second holds the class). The block reaches its free
    /// list at the next [`drain_deferred`](Heap::drain_deferred).
    ///
    /// # Safety
    /// `p` came from this heap's `alloc` with `layout` (or one of the same
    /// class) and is not used after this.
    pub unsafe fn free_deferred(&self, p: *mut u8, layout: Layout) {
        let Some(class) = class_of(layout) else {
            return;
        };
        let words = p as *const AtomicUsize;
        // SAFETY: the block is ours until pushed, at least 16 bytes and
        // aligned to 16: two words.
        let (link, class_word) = unsafe { (&*words, &*words.add(1)) };
        class_word.store(class, Ordering::Relaxed);
        let mut head = self.deferred.load(Ordering::Relaxed);
        loop {
            link.store(head, Ordering::Relaxed);
            // The one committed store: a compare-and-swap of the head.
            match self.deferred.compare_exchange_weak(
                head,
                p as usize,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => head = now,
            }
        }
        self.in_use.fetch_sub(class, Ordering::Relaxed);
        self.deferred_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Moves the deferred blocks to their free lists, one at a time (a kill
    /// leaks at most the block in hand).
    ///
    /// Only the lock holder pops, so a popped block cannot come back onto
    /// the stack while we look at it (it is on no list and in nobody's
    /// hands): no ABA.
    ///
    /// # Safety
    /// Only with the stack lock held.
    pub unsafe fn drain_deferred(&self) {
        let mut head = self.deferred.load(Ordering::Acquire);
        while head != 0 {
            let words = head as *const AtomicUsize;
            // SAFETY: a block on the deferred stack has its link and class
            // in its first two words; only we pop, so it stays there.
            let (next, class) = unsafe {
                (
                    (*words).load(Ordering::Relaxed),
                    (*words.add(1)).load(Ordering::Relaxed),
                )
            };
            match self.deferred.compare_exchange_weak(
                head,
                next,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // SAFETY: popped: the block of `class` is ours now.
                    unsafe { self.push_free(head, class) };
                    head = next;
                }
                Err(now) => head = now,
            }
        }
    }

    /// Bytes of blocks handed out and not freed (counted by class size, so
    /// a 33-byte request counts 64; deferred frees count as freed).
    pub fn bytes_in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    /// Bytes between the first block and the bump pointer: what the heap
    /// has ever cut blocks from (it never gives memory back).
    pub fn bytes_reserved(&self) -> usize {
        self.bump.load(Ordering::Relaxed) - self.start
    }

    /// How many frees went through the deferred stack, for statistics.
    pub fn deferred_frees(&self) -> usize {
        self.deferred_count.load(Ordering::Relaxed)
    }

    /// Bytes the heap can hand out in all (its size less the header).
    pub fn capacity(&self) -> usize {
        self.end - self.start
    }

    /// Walks the bump pointer, every free list and the deferred stack, and
    /// checks what a kill must never break: every block on a list lies
    /// below the bump pointer, inside the heap, aligned for its class, and
    /// no list loops. Allocates nothing. For the repair after a holder
    /// died, and for tests. Does not look for two lists sharing a block
    /// (that needs memory; tests do it with [`free_blocks`](Heap::free_blocks)).
    ///
    /// # Safety
    /// Only with the stack lock held (others may push deferred frees
    /// meanwhile: the walk starts from the head it read).
    pub unsafe fn check(&self) -> Result<HeapCheck, Corrupt> {
        let bump = self.bump.load(Ordering::Acquire);
        if bump < self.start || bump > self.end || !bump.is_multiple_of(MIN_BLOCK) {
            return Err(Corrupt {
                what: "bump pointer outside the heap",
                class: 0,
                block: bump,
            });
        }
        let mut out = HeapCheck::default();
        let ok = |block: usize, class: usize, what| {
            let bad = block < self.start
                || block > bump
                || bump - block < class
                || !block.is_multiple_of(block_align(class));
            if bad {
                Err(Corrupt { what, class, block })
            } else {
                Ok(())
            }
        };
        for (log2, list) in self.free.iter().enumerate() {
            let class = 1usize << log2;
            let mut block = list.load(Ordering::Acquire);
            if block != 0 && class < MIN_BLOCK {
                return Err(Corrupt {
                    what: "a list below the smallest class",
                    class,
                    block,
                });
            }
            let limit = (bump - self.start) / class.max(MIN_BLOCK);
            let mut steps = 0;
            while block != 0 {
                ok(block, class, "free block out of place")?;
                steps += 1;
                if steps > limit {
                    return Err(Corrupt {
                        what: "free list loops",
                        class,
                        block,
                    });
                }
                out.free_blocks += 1;
                out.free_bytes += class;
                // SAFETY: checked above: a block of the heap, aligned.
                block = unsafe { &*(block as *const AtomicUsize) }.load(Ordering::Relaxed);
            }
        }
        let mut block = self.deferred.load(Ordering::Acquire);
        let limit = (bump - self.start) / MIN_BLOCK;
        while block != 0 {
            ok(block, MIN_BLOCK, "deferred block out of place")?;
            let words = block as *const AtomicUsize;
            // SAFETY: checked above: a heap block of at least 16 bytes.
            let (next, class) = unsafe {
                (
                    (*words).load(Ordering::Relaxed),
                    (*words.add(1)).load(Ordering::Relaxed),
                )
            };
            if !class.is_power_of_two() || class < MIN_BLOCK {
                return Err(Corrupt {
                    what: "deferred block without a class",
                    class,
                    block,
                });
            }
            ok(block, class, "deferred block out of place")?;
            out.deferred_blocks += 1;
            if out.deferred_blocks > limit {
                return Err(Corrupt {
                    what: "deferred stack loops",
                    class,
                    block,
                });
            }
            block = next;
        }
        Ok(out)
    }

    /// Calls `f(block, class)` for every block on a free list (not the
    /// deferred ones), as [`check`](Heap::check) walks them: call `check`
    /// first.
    ///
    /// # Safety
    /// Only with the stack lock held, after `check` passed.
    pub unsafe fn free_blocks(&self, mut f: impl FnMut(usize, usize)) {
        for (log2, list) in self.free.iter().enumerate() {
            let mut block = list.load(Ordering::Acquire);
            while block != 0 {
                f(block, 1 << log2);
                // SAFETY: `check` passed: a free block of the heap.
                block = unsafe { &*(block as *const AtomicUsize) }.load(Ordering::Relaxed);
            }
        }
    }
}

/// What [`Heap::check`] counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HeapCheck {
    /// Blocks on the free lists.
    pub free_blocks: usize,
    /// Their bytes (by class).
    pub free_bytes: usize,
    /// Blocks on the deferred stack.
    pub deferred_blocks: usize,
}

/// A broken heap, found by [`Heap::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt {
    /// What is wrong.
    pub what: &'static str,
    /// The list's class (0 for the bump pointer).
    pub class: usize,
    /// The block (or the bump pointer) at fault.
    pub block: usize,
}

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (class {}, at {:#x})",
            self.what, self.class, self.block
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An anonymous private mapping of `len` bytes, leaked for the test.
    fn memory(len: usize) -> *mut u8 {
        // SAFETY: a fresh anonymous mapping; no fd, no fixed address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        p.cast()
    }

    fn heap(len: usize) -> &'static Heap {
        // SAFETY: fresh memory, page-aligned, leaked.
        unsafe { Heap::format(memory(len), len) }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn classes() {
        assert_eq!(class_of(layout(1, 1)), Some(16));
        assert_eq!(class_of(layout(16, 8)), Some(16));
        assert_eq!(class_of(layout(17, 1)), Some(32));
        assert_eq!(class_of(layout(8, 64)), Some(64));
        assert_eq!(class_of(layout(100_000, 8)), Some(131_072));
        assert_eq!(
            class_of(layout(isize::MAX as usize - 100, 1)),
            Some(1 << 63)
        );
    }

    #[test]
    fn header_is_found_again() {
        let h = heap(1 << 20);
        assert!(h.is_formatted());
        // SAFETY: formatted just above at this address.
        let again = unsafe { Heap::at(h as *const Heap as *mut u8) };
        assert!(std::ptr::eq(h, again));
        assert_eq!(h.bytes_in_use(), 0);
        assert_eq!(h.bytes_reserved(), 0);
    }

    #[test]
    fn alloc_free_reuse() {
        let h = heap(1 << 20);
        // SAFETY: one thread: it is the only mutator.
        unsafe {
            let a = h.alloc(layout(24, 8));
            let b = h.alloc(layout(24, 8));
            assert!(!a.is_null() && !b.is_null() && a != b);
            assert!(h.contains(a) && h.contains(b));
            assert_eq!(h.bytes_in_use(), 64);
            a.write_bytes(0xaa, 24);
            b.write_bytes(0xbb, 24);
            assert_eq!(*a.add(23), 0xaa);
            h.free(a, layout(24, 8));
            assert_eq!(h.bytes_in_use(), 32);
            let reserved = h.bytes_reserved();
            // The freed block comes back for a layout of the same class.
            let c = h.alloc(layout(32, 16));
            assert_eq!(c, a);
            assert_eq!(h.bytes_reserved(), reserved);
            // Another class does not take it.
            h.free(c, layout(32, 16));
            let d = h.alloc(layout(64, 8));
            assert_ne!(d, a);
            assert_eq!(*b.add(23), 0xbb, "neighbour untouched");
            h.free(b, layout(24, 8));
            h.free(d, layout(64, 8));
            assert_eq!(h.bytes_in_use(), 0);
        }
    }

    #[test]
    fn alignment_for_many_layouts() {
        let h = heap(64 << 20);
        let mut live = Vec::new();
        // SAFETY: one thread: the only mutator.
        unsafe {
            for align_log in 0..14 {
                let align = 1usize << align_log;
                for size in [1, 7, 16, 33, 100, 4095, 4097, 65_536, 100_000] {
                    let l = layout(size, align);
                    let p = h.alloc(l);
                    assert!(!p.is_null(), "{l:?}");
                    assert_eq!(p as usize % align, 0, "{l:?} at {p:?}");
                    let class = class_of(l).unwrap();
                    assert_eq!(p as usize % block_align(class).max(align), 0);
                    assert!(h.contains(p) && h.contains(p.add(size - 1)));
                    // The whole request is writable and nobody else's.
                    p.write_bytes(align_log as u8, size);
                    live.push((p, l, align_log as u8));
                }
            }
            for &(p, l, fill) in &live {
                assert!(
                    (0..l.size()).all(|i| *p.add(i) == fill),
                    "{l:?} overwritten"
                );
            }
            // Freed in a shuffled order, then again: every block reused is
            // aligned for its new owner.
            for (i, &(p, l, _)) in live.iter().enumerate().rev() {
                if i % 2 == 0 {
                    h.free(p, l);
                }
            }
            for (i, &(p, l, _)) in live.iter().enumerate() {
                if i % 2 == 1 {
                    h.free(p, l);
                }
            }
            assert_eq!(h.bytes_in_use(), 0);
            let reserved = h.bytes_reserved();
            for &(_, l, _) in live.iter().rev() {
                let p = h.alloc(l);
                assert!(!p.is_null());
                assert_eq!(p as usize % l.align(), 0, "{l:?} at {p:?}");
            }
            // Everything came back from the free lists (the gaps too), or
            // at most a few blocks aligned beyond a page were bumped anew.
            assert!(h.bytes_reserved() - reserved <= 3 * 8192 * 16);
        }
    }

    #[test]
    fn alignment_gaps_are_reused() {
        let h = heap(1 << 20);
        // SAFETY: one thread: the only mutator.
        unsafe {
            let small = h.alloc(layout(16, 8));
            let page = h.alloc(layout(4096, 4096));
            assert_eq!(page as usize % 4096, 0);
            // The gap between the small block and the page went to the
            // free lists: small blocks now come from below the page.
            let more = h.alloc(layout(16, 8));
            assert!((more as usize) < page as usize && more != small);
            let bigger = h.alloc(layout(1024, 8));
            assert!((bigger as usize) < page as usize);
        }
    }

    #[test]
    fn beyond_page_alignment_reuses_an_aligned_free_block() {
        let h = heap(16 << 20);
        let page = layout(8192, 4096);
        // SAFETY: one thread: the only mutator.
        unsafe {
            // Blocks of the 8 KiB class, page-aligned, with one-page
            // fillers between them: every other one is 8 KiB-aligned too.
            let blocks: Vec<*mut u8> = (0..8)
                .map(|_| {
                    let p = h.alloc(page);
                    h.alloc(layout(4096, 4096));
                    p
                })
                .collect();
            let odd: Vec<*mut u8> = blocks
                .iter()
                .copied()
                .filter(|p| !(*p as usize).is_multiple_of(8192))
                .collect();
            let even = *blocks
                .iter()
                .find(|p| (**p as usize).is_multiple_of(8192))
                .unwrap();
            // The list: odd blocks first, the aligned one behind them.
            h.free(even, page);
            for &p in &odd {
                h.free(p, page);
            }
            let reserved = h.bytes_reserved();
            let free_blocks = h.check().unwrap().free_blocks;
            let aligned = h.alloc(layout(8192, 8192));
            assert_eq!(aligned, even, "taken from the middle of the list");
            assert_eq!(h.bytes_reserved(), reserved);
            let checked = h.check().unwrap();
            assert_eq!(checked.free_blocks, free_blocks - 1);
            // The odd ones are still there for page-aligned layouts.
            for _ in &odd {
                let p = h.alloc(page);
                assert!(odd.contains(&p));
            }
            assert_eq!(h.bytes_reserved(), reserved);
            // None left aligned enough: a fresh block.
            let fresh = h.alloc(layout(8192, 8192));
            assert!((fresh as usize).is_multiple_of(8192));
            assert!(h.bytes_reserved() > reserved);
        }
    }

    #[test]
    fn check_finds_a_broken_list() {
        let h = heap(1 << 20);
        let l = layout(64, 8);
        // SAFETY: one thread: the only mutator; the corruption is on purpose.
        unsafe {
            let a = h.alloc(l);
            let b = h.alloc(l);
            h.free(a, l);
            h.free(b, l);
            assert_eq!(h.check().unwrap().free_blocks, 2);
            // A loop: a's link points back at b.
            (a as *mut usize).write(b as usize);
            assert_eq!(h.check().unwrap_err().what, "free list loops");
            // A link beyond the bump pointer.
            (a as *mut usize).write(h.end() - 64);
            assert_eq!(h.check().unwrap_err().what, "free block out of place");
            (a as *mut usize).write(0);
            assert!(h.check().is_ok());
        }
    }

    #[test]
    fn full_heap_returns_null() {
        let h = heap(64 << 10);
        let cap = h.capacity();
        // SAFETY: one thread: the only mutator.
        unsafe {
            assert!(h.alloc(layout(cap + 1, 1)).is_null());
            assert!(h.alloc(layout(isize::MAX as usize - 100, 1)).is_null());
            let mut got = Vec::new();
            loop {
                let p = h.alloc(layout(1000, 8));
                if p.is_null() {
                    break;
                }
                got.push(p);
            }
            assert!(got.len() >= (cap - 1024) / 1024, "{} blocks", got.len());
            assert!(h.alloc(layout(1000, 8)).is_null());
            // A freed block makes room again.
            h.free(got.pop().unwrap(), layout(1000, 8));
            assert!(!h.alloc(layout(1000, 8)).is_null());
            assert!(h.bytes_reserved() <= cap);
        }
    }

    #[test]
    fn deferred_frees_from_threads_then_drain() {
        const THREADS: usize = 4;
        const EACH: usize = 1000;
        let h = heap(16 << 20);
        let l = layout(40, 8);
        let mut blocks = Vec::new();
        // SAFETY: one mutator: this thread, before the others start.
        unsafe {
            for _ in 0..THREADS * EACH {
                blocks.push(h.alloc(l) as usize);
            }
        }
        let reserved = h.bytes_reserved();
        assert_eq!(h.bytes_in_use(), THREADS * EACH * 64);
        std::thread::scope(|s| {
            for chunk in blocks.chunks(EACH) {
                s.spawn(move || {
                    for &p in chunk {
                        // SAFETY: each block is freed once, by one thread.
                        unsafe { h.free_deferred(p as *mut u8, l) };
                    }
                });
            }
        });
        assert_eq!(h.bytes_in_use(), 0);
        assert_eq!(h.deferred_frees(), THREADS * EACH);
        // SAFETY: the threads are done: this thread is the only mutator.
        unsafe {
            h.drain_deferred();
            let mut again: Vec<usize> = (0..THREADS * EACH).map(|_| h.alloc(l) as usize).collect();
            // Every block came back, from the free list, none twice.
            assert_eq!(h.bytes_reserved(), reserved);
            again.sort_unstable();
            blocks.sort_unstable();
            assert_eq!(again, blocks);
        }
    }

    #[test]
    fn deferred_frees_while_draining() {
        let h = heap(16 << 20);
        let l = layout(100, 8);
        // SAFETY: this thread is the only mutator (alloc, drain); the other
        // threads only push deferred frees of blocks given to them.
        unsafe {
            let blocks: Vec<usize> = (0..8000).map(|_| h.alloc(l) as usize).collect();
            std::thread::scope(|s| {
                for chunk in blocks.chunks(2000) {
                    s.spawn(move || {
                        for &p in chunk {
                            h.free_deferred(p as *mut u8, l);
                        }
                    });
                }
                for _ in 0..100 {
                    h.drain_deferred();
                }
            });
            h.drain_deferred();
            let reserved = h.bytes_reserved();
            let mut again: Vec<usize> = (0..8000).map(|_| h.alloc(l) as usize).collect();
            assert_eq!(h.bytes_reserved(), reserved);
            again.sort_unstable();
            let mut blocks = blocks;
            blocks.sort_unstable();
            assert_eq!(again, blocks);
        }
    }

    #[test]
    fn contains_only_the_blocks() {
        let len = 1 << 20;
        let base = memory(len);
        // SAFETY: fresh memory, leaked.
        let h = unsafe { Heap::format(base, len) };
        assert!(!h.contains(base), "the header is not a block");
        assert!(h.contains(h.start() as *const u8));
        // SAFETY: pointer arithmetic within and just past the mapping.
        unsafe {
            assert!(h.contains(base.add(len - 1)));
            assert!(!h.contains(base.add(len)));
        }
        assert!(!h.contains(std::ptr::null()));
        let private = Box::new(5u64);
        assert!(!h.contains(&*private as *const u64 as *const u8));
    }
}
