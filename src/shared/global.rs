//! TEMPORARY stub (replaced by the region branch's version).
use super::alloc::Heap;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, Ordering};

static HEAP: AtomicPtr<Heap> = AtomicPtr::new(std::ptr::null_mut());
thread_local! { static DEPTH: Cell<u32> = const { Cell::new(0) }; }

pub struct SwitchAlloc;
pub struct RegionScope(());
impl Drop for RegionScope {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}
pub fn set_heap(heap: &'static Heap) {
    HEAP.store(heap as *const Heap as *mut Heap, Ordering::Release);
}
pub fn clear_heap(base: *mut u8) {
    let p = HEAP.load(Ordering::Acquire);
    if !p.is_null() && (p as usize) >= base as usize && (p as usize) < base as usize + (1 << 21) {
        HEAP.store(std::ptr::null_mut(), Ordering::Release);
    }
}
pub fn heap() -> Option<&'static Heap> {
    let p = HEAP.load(Ordering::Acquire);
    // SAFETY: set from a &'static.
    (!p.is_null()).then(|| unsafe { &*p })
}
pub fn enter() -> RegionScope {
    DEPTH.with(|d| d.set(d.get() + 1));
    RegionScope(())
}
pub fn in_region() -> bool {
    DEPTH.with(|d| d.get() > 0)
}
unsafe impl GlobalAlloc for SwitchAlloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if in_region()
            && let Some(h) = heap()
        {
            let p = unsafe { h.alloc(l) };
            if !p.is_null() {
                return p;
            }
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if let Some(h) = heap()
            && h.contains(p)
        {
            if in_region() {
                unsafe { h.free(p, l) }
            } else {
                unsafe { h.free_deferred(p, l) }
            }
            return;
        }
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if let Some(h) = heap()
            && h.contains(p)
        {
            let nl = unsafe { Layout::from_size_align_unchecked(n, l.align()) };
            let q = unsafe { self.alloc(nl) };
            if !q.is_null() {
                unsafe {
                    std::ptr::copy_nonoverlapping(p, q, l.size().min(n));
                    self.dealloc(p, l)
                };
            }
            return q;
        }
        unsafe { System.realloc(p, l, n) }
    }
}
