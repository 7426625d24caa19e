//! The pieces together, across processes: a heap and a robust lock in a
//! region, used by forked children that die at any instruction.

use super::alloc::Heap;
use super::lock::{Locked, RobustMutex};
use super::region::{REGION_ADDR, Region};
use std::alloc::Layout;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// The words at the start of the test's shared memory, before the heap.
#[repr(C)]
struct Header {
    lock: RobustMutex,
    /// Set by a child once it holds the lock.
    holding: AtomicU32,
    /// A block a child allocated, for the parent.
    block: AtomicUsize,
}

/// The heap starts one page in.
const HEAP_OFFSET: usize = 4096;

/// Formats `base..base+len`: the header's lock and a heap after it.
///
/// # Safety
/// `base` is page-aligned, mapped shared for `len` bytes, never unmapped,
/// unused by anyone else yet.
unsafe fn format(base: *mut u8, len: usize) -> (&'static Header, &'static Heap) {
    // SAFETY: per the contract; the header fits in the first page.
    unsafe {
        let header = base.cast::<Header>();
        RobustMutex::init(std::ptr::addr_of_mut!((*header).lock)).unwrap();
        let heap = Heap::format(base.add(HEAP_OFFSET), len - HEAP_OFFSET);
        (&*header, heap)
    }
}

/// A fresh anonymous shared mapping (inherited by forked children).
fn shared_memory(len: usize) -> *mut u8 {
    // SAFETY: a fresh mapping at an address of the kernel's choosing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    p.cast()
}

/// Forks; the child runs `child` (which must only make async-signal-safe
/// calls and touch no allocator but the heap) and `_exit`s with its code.
fn fork(child: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: fork; the child runs code that keeps to the rule above.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = child();
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// Waits for `pid`: its exit code, or 128 + the signal that killed it.
fn reap(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

/// A process attaches to the region at the same address and finds the
/// heap; a block it allocates under the lock is read and freed by another.
#[test]
fn heap_in_a_region_shared_by_processes() {
    let path = std::path::PathBuf::from(format!(
        "/dev/shm/tapstack-test-{}-heap",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let addr = REGION_ADDR + 16 * (64 << 30);
    let len = 64 << 20;
    let (region, _) = Region::open_at(&path, len, addr).unwrap();
    // SAFETY: a fresh region, page-aligned, kept until the end.
    let (header, heap) = unsafe { format(region.base(), len) };

    let child = fork(|| {
        // The child finds the heap from the address alone.
        // SAFETY: formatted by the parent, mapped here at the same address.
        let heap = unsafe { Heap::at((addr + HEAP_OFFSET) as *mut u8) };
        if !heap.is_formatted() || header.lock.lock() != Locked::Clean {
            return 1;
        }
        // SAFETY: the lock is held: the one mutator.
        let p = unsafe { heap.alloc(Layout::from_size_align(1000, 8).unwrap()) };
        if p.is_null() {
            return 2;
        }
        // SAFETY: a fresh block of at least 1000 bytes.
        unsafe { p.write_bytes(0x5a, 1000) };
        header.block.store(p as usize, Ordering::Release);
        header.lock.unlock();
        0
    });
    assert_eq!(reap(child), 0);

    assert_eq!(header.lock.lock(), Locked::Clean);
    let p = header.block.load(Ordering::Acquire) as *mut u8;
    assert!(heap.contains(p));
    assert_eq!(heap.bytes_in_use(), 1024);
    // SAFETY: the child's block, 1000 bytes; the lock is held.
    unsafe {
        assert!((0..1000).all(|i| *p.add(i) == 0x5a));
        heap.free(p, Layout::from_size_align(1000, 8).unwrap());
    }
    assert_eq!(heap.bytes_in_use(), 0);
    header.lock.unlock();
    region.unlink().unwrap();
}

/// The layouts the churning child uses: small, odd, page-sized, aligned
/// beyond a page, large.
const SIZES: [usize; 8] = [16, 24, 100, 1000, 4096, 5000, 65_536, 200_000];
const ALIGNS: [usize; 5] = [8, 16, 64, 4096, 8192];

/// Allocates, frees, defers and drains at random until killed, holding
/// the lock throughout. Allocation-free (runs in a forked child).
fn churn(heap: &Heap, mut x: u64) -> ! {
    let mut live = [(0usize, 0usize, 0usize); 32];
    loop {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let slot = &mut live[(x % 32) as usize];
        let (p, size, align) = *slot;
        // SAFETY: the lock is held (one mutator); each block is freed once
        // with the layout it was allocated with.
        unsafe {
            if p != 0 {
                let layout = Layout::from_size_align_unchecked(size, align);
                if (x >> 8).is_multiple_of(2) {
                    heap.free(p as *mut u8, layout);
                } else {
                    heap.free_deferred(p as *mut u8, layout);
                }
                *slot = (0, 0, 0);
            } else {
                let size = SIZES[((x >> 16) % SIZES.len() as u64) as usize];
                let align = ALIGNS[((x >> 24) % ALIGNS.len() as u64) as usize];
                let q = heap.alloc(Layout::from_size_align_unchecked(size, align));
                if !q.is_null() {
                    // Touch both ends: the block is really ours.
                    q.write(1);
                    q.add(size - 1).write(1);
                    *slot = (q as usize, size, align);
                }
            }
            if (x >> 32).is_multiple_of(16) {
                heap.drain_deferred();
            }
        }
    }
}

/// Children churn the heap under the lock and are killed with `SIGKILL`
/// at random moments, inside the allocator as often as not. After each,
/// the next holder gets `OwnerDied`, and the heap's lists are whole: every
/// free block below the bump pointer, aligned, in no other list, no loop.
/// The heap goes on serving blocks that do not overlap.
#[test]
fn killed_at_any_instruction_never_corrupts_the_heap() {
    // Each dead child leaks the blocks it held (up to 32 of up to 256 KiB):
    // address space enough for every round. Only touched pages cost.
    let len = 4 << 30;
    let base = shared_memory(len);
    // SAFETY: fresh shared memory, never unmapped.
    let (header, heap) = unsafe { format(base, len) };
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
    for round in 0..200u64 {
        header.holding.store(0, Ordering::Relaxed);
        let child = fork(|| {
            if !header.lock.lock().is_held() {
                return 1;
            }
            header.holding.store(1, Ordering::Release);
            churn(heap, seed.wrapping_add(round) | 1)
        });
        while header.holding.load(Ordering::Acquire) == 0 {
            std::thread::yield_now();
        }
        // A random moment within the first millisecond of churning (not a timed
        // assertion: only where the kill lands varies).
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(std::time::Duration::from_micros(seed % 1000));
        // SAFETY: signals our own child.
        unsafe { libc::kill(child, libc::SIGKILL) };
        assert_eq!(reap(child), 128 + libc::SIGKILL);

        assert_eq!(header.lock.lock(), Locked::OwnerDied, "round {round}");
        // SAFETY: the lock is held.
        let checked = unsafe { heap.check() };
        let checked = checked.unwrap_or_else(|e| panic!("round {round}: {e}"));
        let mut blocks = Vec::with_capacity(checked.free_blocks);
        // SAFETY: the lock is held and check passed.
        unsafe { heap.free_blocks(|b, class| blocks.push((b, class))) };
        assert_eq!(blocks.len(), checked.free_blocks);
        blocks.sort_unstable();
        for pair in blocks.windows(2) {
            assert!(
                pair[0].0 + pair[0].1 <= pair[1].0,
                "round {round}: free blocks overlap: {pair:x?}"
            );
        }
        // The survivor allocates and frees on: distinct, usable blocks.
        // SAFETY: the lock is held.
        unsafe {
            heap.drain_deferred();
            let mut got: Vec<(usize, Layout)> = Vec::new();
            for (i, &size) in SIZES.iter().enumerate() {
                let layout = Layout::from_size_align(size, ALIGNS[i % ALIGNS.len()]).unwrap();
                let p = heap.alloc(layout);
                assert!(!p.is_null());
                p.write_bytes(i as u8, size);
                got.push((p as usize, layout));
            }
            for (i, &(p, layout)) in got.iter().enumerate() {
                let p = p as *const u8;
                assert!((0..layout.size()).all(|j| *p.add(j) == i as u8));
                heap.free(p as *mut u8, layout);
            }
            heap.check().unwrap();
        }
        header.lock.make_consistent();
        header.lock.unlock();
    }
}
