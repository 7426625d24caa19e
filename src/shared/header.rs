//! What every process sharing a stack finds at the region's base: the
//! robust lock, the process table, and behind the lock the [`Stack`] and
//! the record of which process holds which socket ([`Holdings`]).
//!
//! ```text
//!  base ─► Header { magic, layout, lock, epoch, generation,
//!                   procs[MAX_PROCS] (pid, state: read without the lock),
//!                   guarded: { Stack, Holdings, EpollTable }
//!                            (only with the lock) }
//!  base + HEADER_SPAN ─► Heap (every Vec, map and buffer the stack owns)
//! ```
//!
//! The region is mapped at the same address in every process, so the
//! pointers inside the `Stack` (its `Vec`s, maps, ring buffers) mean the
//! same thing everywhere. Nothing here points at code or at one process's
//! private memory: the congestion controller is an enum, the epoll
//! instances' lists hold socket handles and fd numbers (each process keeps
//! its own epoll fd and eventfd), the `poll` watchers are kept per process
//! (`runtime::watchers`), and a socket's wait queue only says *which
//! processes* watch it.

use super::alloc::Heap;
use super::global::{self, RegionScope};
use super::lock::{Locked, RobustMutex};
use super::region::Region;
use crate::shim::readiness::interest_list::EpollTable;
use crate::stack::{SocketHandle, Stack};
use std::cell::UnsafeCell;
use std::collections::{BTreeMap, BTreeSet};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};

/// `tapstack` and a format number, in the first word of a formatted region.
pub const MAGIC: u64 = u64::from_be_bytes(*b"tapstk01");

/// At most this many processes share one stack at a time (the bits of a
/// wait queue's `watched_by`).
pub const MAX_PROCS: usize = 64;

/// The header's share of the region, page-aligned; the heap follows.
pub const HEADER_SPAN: usize = 1 << 20;

/// A slot of the process table that no process uses.
pub const FREE: u32 = 0;
/// Reserved by a `fork` in progress: the child's pid is not known yet.
pub const PENDING: u32 = 1;
/// A process that uses the stack (it may not have touched it yet).
pub const LIVE: u32 = 2;

/// One process sharing the stack. Read without the lock (the atomics);
/// changed with it.
#[repr(C)]
pub struct ProcSlot {
    /// The process's pid; 0 while the slot is free or pending.
    pub pid: AtomicI32,
    /// [`FREE`], [`PENDING`] or [`LIVE`].
    pub state: AtomicU32,
    /// A wakeup for this process's watchers was lost (its bell's queue was
    /// full): it must look at every socket it watches.
    pub overflow: AtomicBool,
    /// The TAP queue this process reads, named by the pid of the process
    /// that opened it (a forked child reads its parent's); 0: none.
    pub queue: AtomicI32,
    /// That queue is this process's own and attached: tun gives it a share
    /// of the flows it knows nothing of (`runtime::steer`).
    pub attached: AtomicBool,
}

/// What one process holds, recorded under the lock.
#[derive(Debug, Default, Clone)]
pub struct Held {
    /// The sockets it holds an open file description of (POSIX's
    /// "open file description"; one per process since we cannot share
    /// ours across processes): while any process holds a socket, `close`
    /// elsewhere does not close the connection.
    pub sockets: BTreeSet<SocketHandle>,
    /// Its fds of stack sockets, for a new program image after `exec` to
    /// find (as OpenOnload's `EF_PROBE` does).
    pub fds: BTreeMap<i32, FdRecord>,
}

/// One fd of a stack socket, as recorded for `exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdRecord {
    /// The socket.
    pub handle: SocketHandle,
    /// Made by `socket(AF_INET6, ...)`.
    pub inet6: bool,
    /// `O_NONBLOCK` when the fd was made.
    pub nonblocking: bool,
}

/// Who holds what: per process slot, and how many processes hold each
/// socket.
#[derive(Debug, Default)]
pub struct Holdings {
    /// Indexed by process slot.
    pub procs: Vec<Held>,
    /// Per socket, the number of processes that hold it.
    pub holders: BTreeMap<SocketHandle, u32>,
}

impl Holdings {
    fn new() -> Holdings {
        Holdings {
            procs: vec![Held::default(); MAX_PROCS],
            holders: BTreeMap::new(),
        }
    }

    /// Process `slot` now holds `h` (a new socket, an accepted one, or one
    /// inherited). Idempotent.
    pub fn hold(&mut self, slot: usize, h: SocketHandle) {
        if self.procs[slot].sockets.insert(h) {
            *self.holders.entry(h).or_insert(0) += 1;
        }
    }

    /// Process `slot` lets `h` go. True when no process holds it any more:
    /// the caller closes it.
    pub fn release(&mut self, slot: usize, h: SocketHandle) -> bool {
        let p = &mut self.procs[slot];
        p.fds.retain(|_, r| r.handle != h);
        if !p.sockets.remove(&h) {
            return false;
        }
        match self.holders.get_mut(&h) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => {
                self.holders.remove(&h);
                true
            }
        }
    }

    /// Process `slot` is gone: everything it held is released. Returns the
    /// sockets nobody holds any more.
    pub fn release_all(&mut self, slot: usize) -> Vec<SocketHandle> {
        let held: Vec<SocketHandle> = self.procs[slot].sockets.iter().copied().collect();
        let orphaned = held
            .into_iter()
            .filter(|&h| self.release(slot, h))
            .collect();
        self.procs[slot] = Held::default();
        orphaned
    }

    /// A fork: `child` starts with `parent`'s fds, and holds each socket
    /// they refer to.
    pub fn fork(&mut self, parent: usize, child: usize) {
        let fds = self.procs[parent].fds.clone();
        self.procs[child] = Held::default();
        for r in fds.values() {
            self.hold(child, r.handle);
        }
        self.procs[child].fds = fds;
    }
}

/// The state only the lock holder touches.
pub struct Guarded {
    /// The stack itself.
    pub stack: Stack,
    /// Who holds which socket.
    pub holdings: Holdings,
    /// Every epoll instance's interest and ready lists.
    pub epolls: EpollTable,
}

/// The region's header.
#[repr(C)]
pub struct Header {
    magic: AtomicU64,
    layout: AtomicU64,
    lock: RobustMutex,
    /// How many times a process found the lock's holder dead.
    pub epoch: AtomicU64,
    /// Bumped whenever a process joins or leaves.
    pub generation: AtomicU64,
    /// The stack has frames to send (or to deliver to itself), as the last
    /// holder of the lock left it ([`Guard`]'s drop): a stack thread woken
    /// for nothing of its own takes the lock only for them.
    pub transmit_pending: AtomicBool,
    /// Some connection holds a quick ACK for its application's answer, as
    /// the last holder of the lock left it: an event loop's wait lets
    /// them go (`Runtime::release_held_acks`) without taking the lock when
    /// none does.
    pub acks_held: AtomicBool,
    /// The stack's next timer as the last holder of the lock left it
    /// (microseconds + 1; 0: none): a stack thread sleeps no later than
    /// it, so a timer armed by a process that then exits still runs
    /// ([`Header::next_timer`]).
    pub next_timer: AtomicU64,
    /// The process table.
    pub procs: [ProcSlot; MAX_PROCS],
    /// A private stack (tests): no region, no heap switch.
    private: bool,
    guarded: UnsafeCell<MaybeUninit<Guarded>>,
}

// SAFETY: `guarded` is only reached through `Header::lock`, which holds the
// process-shared mutex; everything else is atomic.
unsafe impl Sync for Header {}

/// Why a region could not be used.
#[derive(Debug)]
pub enum AttachError {
    /// Another build of the library formatted it.
    Layout { found: u64, ours: u64 },
    /// Nobody finished formatting it in time (its creator died?).
    NotReady,
}

/// This build's layout: the source the library was built from and the
/// sizes of what the region holds. A library built from other source
/// refuses to attach rather than misread the stack.
pub fn layout_id() -> u64 {
    // FNV-1a of the source hash build.rs computed.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in env!("TAPSTACK_SOURCE_HASH").bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    for n in [
        std::mem::size_of::<Header>(),
        std::mem::size_of::<Stack>(),
        std::mem::size_of::<Guarded>(),
    ] {
        h = h.rotate_left(17) ^ n as u64;
    }
    h
}

impl Header {
    /// Formats a fresh region at `base` (`len` bytes, zeroed): the heap,
    /// the lock, then the stack `make` builds (allocating from the heap).
    /// The magic is written last, so an attaching process never sees half
    /// a header.
    ///
    /// # Safety
    /// `base..base + len` is a fresh, zeroed, writable shared mapping that
    /// nobody else uses yet, at least `HEADER_SPAN` plus a heap long.
    pub unsafe fn format(
        base: *mut u8,
        len: usize,
        make: impl FnOnce() -> Stack,
    ) -> std::io::Result<&'static Header> {
        assert!(std::mem::size_of::<Header>() <= HEADER_SPAN);
        // SAFETY: the caller gives us the range; the heap part is ours.
        let heap = unsafe { Heap::format(base.add(HEADER_SPAN), len - HEADER_SPAN) };
        global::set_heap(heap);
        let header = base as *mut Header;
        // SAFETY: zeroed memory, in the range, aligned to the page.
        unsafe { RobustMutex::init(std::ptr::addr_of_mut!((*header).lock))? };
        // SAFETY: as above; only we see the region yet.
        let header: &'static Header = unsafe { &*header };
        {
            let _scope = global::enter();
            let guarded = Guarded {
                stack: make(),
                holdings: Holdings::new(),
                epolls: EpollTable::default(),
            };
            // SAFETY: nobody else reaches `guarded` before the magic is set.
            unsafe { (*header.guarded.get()).write(guarded) };
        }
        header.layout.store(layout_id(), Ordering::Relaxed);
        header.magic.store(MAGIC, Ordering::Release);
        Ok(header)
    }

    /// The header another process formatted at `base`, once it is ready
    /// (waits up to `wait` for a creator still formatting it).
    ///
    /// # Safety
    /// `base` is the start of a mapped region at least `HEADER_SPAN` long.
    pub unsafe fn attach(
        base: *mut u8,
        wait: std::time::Duration,
    ) -> Result<&'static Header, AttachError> {
        // SAFETY: the caller's promise; all fields read here are atomics.
        let header: &'static Header = unsafe { &*(base as *const Header) };
        let start = std::time::Instant::now();
        while header.magic.load(Ordering::Acquire) != MAGIC {
            if start.elapsed() > wait {
                return Err(AttachError::NotReady);
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let found = header.layout.load(Ordering::Relaxed);
        if found != layout_id() {
            return Err(AttachError::Layout {
                found,
                ours: layout_id(),
            });
        }
        // SAFETY: formatted by `format` at `base + HEADER_SPAN`.
        global::set_heap(unsafe { Heap::at(base.add(HEADER_SPAN)) });
        Ok(header)
    }

    /// A header of a stack private to this process (tests; several may
    /// live in one process): in ordinary memory, its allocations from the
    /// process's own allocator.
    pub fn private(make: impl FnOnce() -> Stack) -> std::io::Result<&'static Header> {
        let layout = std::alloc::Layout::new::<Header>();
        // SAFETY: a Header is not zero-sized.
        let header = unsafe { std::alloc::alloc_zeroed(layout) } as *mut Header;
        if header.is_null() {
            return Err(std::io::Error::from_raw_os_error(libc::ENOMEM));
        }
        // SAFETY: zeroed, aligned memory of a Header that nobody else sees.
        unsafe {
            RobustMutex::init(std::ptr::addr_of_mut!((*header).lock))?;
            (*(*header).guarded.get()).write(Guarded {
                stack: make(),
                holdings: Holdings::new(),
                epolls: EpollTable::default(),
            });
            (*header).private = true;
        }
        // SAFETY: leaked, so it lives for the rest of the process.
        let header: &'static Header = unsafe { &*header };
        header.layout.store(layout_id(), Ordering::Relaxed);
        header.magic.store(MAGIC, Ordering::Release);
        Ok(header)
    }

    /// Takes the lock. When its last holder died holding it, `repair` runs
    /// first (with the lock held), then the lock is marked consistent.
    pub fn lock(&'static self, repair: impl FnOnce(&mut Guard)) -> Guard {
        self.held(self.lock.lock(), repair)
    }

    /// Takes the lock if it is free.
    pub fn try_lock(&'static self, repair: impl FnOnce(&mut Guard)) -> Option<Guard> {
        let outcome = self.lock.try_lock()?;
        Some(self.held(outcome, repair))
    }

    /// The guard of a lock just taken with `outcome`, repaired when its
    /// last holder died. A lock that can never be held again
    /// (`ENOTRECOVERABLE`) is a panic, which the shim's guard turns into
    /// `EIO` for the call.
    fn held(&'static self, outcome: Locked, repair: impl FnOnce(&mut Guard)) -> Guard {
        if let Locked::Unusable(e) = outcome {
            panic!("the stack's lock is unusable (errno {e})");
        }
        let mut guard = self.guard();
        if outcome == Locked::OwnerDied {
            self.epoch.fetch_add(1, Ordering::Relaxed);
            repair(&mut guard);
            self.lock.make_consistent();
        }
        guard
    }

    fn guard(&'static self) -> Guard {
        if self.private {
            return Guard {
                header: self,
                _scope: None,
            };
        }
        let scope = global::enter();
        if let Some(heap) = global::heap() {
            // SAFETY: we hold the lock: no other thread of any process
            // touches the heap's lists now.
            unsafe { heap.drain_deferred() };
        }
        Guard {
            header: self,
            _scope: Some(scope),
        }
    }

    /// The stack's next timer as the last holder of the lock left it.
    pub fn next_timer(&self) -> Option<crate::time::Instant> {
        match self.next_timer.load(Ordering::Acquire) {
            0 => None,
            v => Some(crate::time::Instant::from_micros(v - 1)),
        }
    }

    /// A free slot of the process table, marked [`PENDING`] (with the lock
    /// held).
    pub fn take_slot(&self, _guard: &Guard) -> Option<usize> {
        let i = self
            .procs
            .iter()
            .position(|p| p.state.load(Ordering::Acquire) == FREE)?;
        self.procs[i].pid.store(0, Ordering::Release);
        self.procs[i].overflow.store(false, Ordering::Relaxed);
        self.procs[i].queue.store(0, Ordering::Relaxed);
        self.procs[i].attached.store(false, Ordering::Relaxed);
        self.procs[i].state.store(PENDING, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        Some(i)
    }

    /// Marks slot `i` in use by `pid`.
    pub fn set_live(&self, i: usize, pid: i32) {
        self.procs[i].pid.store(pid, Ordering::Release);
        self.procs[i].state.store(LIVE, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Frees slot `i` (with the lock held; its holdings released first).
    pub fn free_slot(&self, _guard: &Guard, i: usize) {
        self.procs[i].attached.store(false, Ordering::Release);
        self.procs[i].state.store(FREE, Ordering::Release);
        self.procs[i].pid.store(0, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether a process other than the one in slot `me` reads the TAP
    /// queue `queue` (see [`ProcSlot::queue`]).
    pub fn queue_shared(&self, me: usize, queue: i32) -> bool {
        queue != 0
            && self.procs.iter().enumerate().any(|(i, p)| {
                i != me
                    && p.state.load(Ordering::Acquire) != FREE
                    && p.queue.load(Ordering::Acquire) == queue
            })
    }

    /// Records whether the process in slot `i` has a queue of its own
    /// attached; the others' stack threads see it as a change of the
    /// process table.
    pub fn set_attached(&self, i: usize, attached: bool) {
        if self.procs[i].attached.swap(attached, Ordering::AcqRel) != attached {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Whether a live process other than the one in slot `me` has a queue
    /// of its own attached (see [`ProcSlot::attached`]).
    pub fn other_queue_attached(&self, me: usize) -> bool {
        self.procs.iter().enumerate().any(|(i, p)| {
            i != me && p.state.load(Ordering::Acquire) == LIVE && p.attached.load(Ordering::Acquire)
        })
    }

    /// The slot of the live process `pid`.
    pub fn slot_of(&self, pid: i32) -> Option<usize> {
        self.procs.iter().position(|p| {
            p.state.load(Ordering::Acquire) == LIVE && p.pid.load(Ordering::Acquire) == pid
        })
    }

    /// The pids of the live processes, with their slots.
    pub fn live(&self) -> Vec<(usize, i32)> {
        self.procs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.state.load(Ordering::Acquire) == LIVE)
            .map(|(i, p)| (i, p.pid.load(Ordering::Acquire)))
            .collect()
    }

    /// Slots in use (live or pending).
    pub fn in_use(&self) -> usize {
        self.procs
            .iter()
            .filter(|p| p.state.load(Ordering::Acquire) != FREE)
            .count()
    }
}

/// The lock, held: the stack and the holdings. While it lives, this
/// thread's allocations come from the region's heap. Unlocks on drop.
pub struct Guard {
    header: &'static Header,
    _scope: Option<RegionScope>,
}

impl Guard {
    /// Who holds which socket.
    pub fn holdings(&mut self) -> &mut Holdings {
        // SAFETY: we hold the lock; formatted before the magic was set.
        unsafe { &mut (*self.header.guarded.get()).assume_init_mut().holdings }
    }

    /// Every epoll instance's interest and ready lists.
    pub fn epolls(&mut self) -> &mut EpollTable {
        // SAFETY: we hold the lock; formatted before the magic was set.
        unsafe { &mut (*self.header.guarded.get()).assume_init_mut().epolls }
    }

    /// The stack to look at and the epoll instances to change, at once.
    pub fn stack_and_epolls(&mut self) -> (&Stack, &mut EpollTable) {
        // SAFETY: we hold the lock; formatted before the magic was set.
        let g = unsafe { (*self.header.guarded.get()).assume_init_mut() };
        (&g.stack, &mut g.epolls)
    }

    /// The header.
    pub fn header(&self) -> &'static Header {
        self.header
    }
}

impl std::ops::Deref for Guard {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        // SAFETY: we hold the lock; formatted before the magic was set.
        unsafe { &(*self.header.guarded.get()).assume_init_ref().stack }
    }
}

impl std::ops::DerefMut for Guard {
    fn deref_mut(&mut self) -> &mut Stack {
        // SAFETY: we hold the lock; formatted before the magic was set.
        unsafe { &mut (*self.header.guarded.get()).assume_init_mut().stack }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let pending = self.has_pending_transmit();
        self.header
            .transmit_pending
            .store(pending, Ordering::Release);
        let held = self.has_held_acks();
        self.header.acks_held.store(held, Ordering::Release);
        let next = self.poll_timeout().map_or(0, |t| t.total_micros() + 1);
        self.header.next_timer.store(next, Ordering::Release);
        self.header.lock.unlock();
    }
}

/// Formats the fresh `region` (see [`Header::format`]).
pub fn format_region(
    region: &Region,
    make: impl FnOnce() -> Stack,
) -> std::io::Result<&'static Header> {
    // SAFETY: `Region::open` created and mapped it just now (zeroed, at
    // least REGION_LEN long), and nobody attaches before the magic is set.
    unsafe { Header::format(region.base(), region.len(), make) }
}

/// The header another process formatted in `region`.
pub fn attach_region(
    region: &Region,
    wait: std::time::Duration,
) -> Result<&'static Header, AttachError> {
    // SAFETY: the region is mapped for the process's life.
    unsafe { Header::attach(region.base(), wait) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u32) -> SocketHandle {
        SocketHandle {
            index: i,
            generation: 0,
        }
    }

    #[test]
    fn a_socket_closes_when_its_last_holder_lets_go() {
        let mut t = Holdings::new();
        t.hold(0, h(1));
        t.procs[0].fds.insert(
            3,
            FdRecord {
                handle: h(1),
                inet6: false,
                nonblocking: false,
            },
        );
        t.fork(0, 1);
        assert_eq!(t.holders[&h(1)], 2);
        assert!(!t.release(0, h(1)), "the child still holds it");
        assert!(t.procs[0].fds.is_empty());
        assert_eq!(t.release_all(1), vec![h(1)]);
        assert!(t.holders.is_empty());
    }

    /// Every unlock publishes the stack's next timer, so that a stack
    /// thread in another process sleeps no later than a timer this one
    /// armed (and may die before running).
    #[test]
    fn unlocking_publishes_the_next_timer() {
        use crate::stack::tests::fixture::{PEER, US, config};
        use crate::time::Instant;
        let header = Header::private(|| Stack::new(config(US), Instant::ZERO, 1)).unwrap();
        drop(header.lock(|_| {}));
        assert_eq!(header.next_timer(), None, "nothing armed");
        {
            let mut stack = header.lock(|_| {});
            let s = stack.socket();
            let _ = stack.connect(Instant::ZERO, s, std::net::SocketAddrV4::new(PEER, 80));
            let mut buf = vec![0u8; 2048];
            while stack.poll_transmit(Instant::ZERO, &mut buf).is_some() {}
            assert!(stack.poll_timeout().is_some(), "the SYN (or ARP) is timed");
        }
        assert!(header.next_timer().is_some(), "published as the lock went");
    }

    #[test]
    fn holding_twice_counts_once() {
        let mut t = Holdings::new();
        t.hold(2, h(7));
        t.hold(2, h(7));
        assert_eq!(t.holders[&h(7)], 1);
        assert!(t.release(2, h(7)));
        assert!(!t.release(2, h(7)));
    }
}
