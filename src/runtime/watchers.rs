//! The watchers of this process: threads in `poll`, by socket, and this
//! process's copies of epoll instances, by instance.
//!
//! A watcher is an object of one process, so it cannot live in the shared
//! stack: the socket's wait queue only carries a bit per process slot
//! (`WaitQueue::watched_by`), and the objects sit here. When a socket may
//! have changed, the process that saw it wakes its own watchers from this
//! table and rings the bell of every other process whose bit is set
//! (`runtime::bell`).
//!
//! The locks here are std's, which never call `sched_yield` while they
//! wait (parking_lot's spin does): an application thread takes them, and a
//! program may forbid that system call to its threads (sshd's seccomp
//! sandbox kills the thread).

use crate::stack::SocketHandle;
use crate::stack::socket::{WaitQueue, Watcher};
use std::collections::BTreeMap;
use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};

static TABLE: Mutex<Table> = Mutex::new(Table {
    sockets: BTreeMap::new(),
    epolls: BTreeMap::new(),
});

/// `w` watches socket `h` (whose wait queue is `q`) from process slot
/// `slot`.
pub fn watch(slot: usize, h: SocketHandle, q: &WaitQueue, w: Weak<dyn Watcher>) {
    lock(&TABLE).sockets.entry(h).or_default().push(w);
    q.watched_by.fetch_or(1u64 << (slot % 64), Ordering::AcqRel);
}

/// `w` no longer watches `h` (compared by address).
pub fn unwatch(h: SocketHandle, w: &Weak<dyn Watcher>) {
    let mut table = lock(&TABLE);
    if let Some(list) = table.sockets.get_mut(&h) {
        list.retain(|x| !Weak::ptr_eq(x, w) && x.strong_count() > 0);
        if list.is_empty() {
            table.sockets.remove(&h);
        }
    }
}

/// This process's copy of epoll instance `id` is `w` (its `wake` makes
/// the instance's eventfd readable).
pub fn hold_epoll(id: u32, w: Weak<dyn Watcher>) {
    lock(&TABLE).epolls.insert(id, w);
}

/// This process no longer holds epoll instance `id`.
pub fn drop_epoll(id: u32) {
    lock(&TABLE).epolls.remove(&id);
}

/// Makes epoll instance `id`'s eventfd readable, if this process holds it.
pub fn raise_epoll(id: u32) {
    let _gate = lock(&GATE);
    let w = lock(&TABLE).epolls.get(&id).and_then(Weak::upgrade);
    if let Some(w) = w {
        w.wake(RAISE);
    }
}

/// Makes the eventfd of every epoll instance this process holds readable
/// (a raise may have been lost: the waiters look at their ready lists).
pub fn raise_epolls() {
    let _gate = lock(&GATE);
    let live: Vec<_> = lock(&TABLE)
        .epolls
        .values()
        .filter_map(Weak::upgrade)
        .collect();
    for w in live {
        w.wake(RAISE);
    }
}

/// The handle an epoll instance's `wake` is called with: no socket.
const RAISE: SocketHandle = SocketHandle {
    index: u32::MAX,
    generation: 0,
};

/// Held while watchers are told, and across `fork` (so that no watcher's
/// own lock is copied held by a thread the child does not have).
static GATE: Mutex<()> = Mutex::new(());

/// Tells this process's watchers of `h` (with no lock held).
pub fn wake(h: SocketHandle) {
    let _gate = lock(&GATE);
    let live: Vec<_> = {
        let table = lock(&TABLE);
        match table.sockets.get(&h) {
            Some(list) => list.iter().filter_map(Weak::upgrade).collect(),
            None => return,
        }
    };
    for w in live {
        w.wake(h);
    }
}

/// Tells every watcher of this process about every socket it watches (a
/// wakeup may have been lost).
pub fn wake_everything() {
    for h in watched() {
        wake(h);
    }
}

/// The sockets this process's watchers watch.
pub fn watched() -> Vec<SocketHandle> {
    lock(&TABLE).sockets.keys().copied().collect()
}

/// Locks `m`, whatever a panic left in it (the tables stay usable).
fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// This process's watchers.
pub struct Table {
    /// By socket: the threads in `poll` watching it.
    sockets: BTreeMap<SocketHandle, Vec<Weak<dyn Watcher>>>,
    /// By instance: this process's copy of each epoll instance it holds.
    epolls: BTreeMap<u32, Weak<dyn Watcher>>,
}

/// What [`hold_for_fork`] holds.
pub struct ForkGuards {
    _gate: MutexGuard<'static, ()>,
    _table: MutexGuard<'static, Table>,
}

/// Held across `fork` by the prepare handler (the guards stay in the
/// forking thread), so the child's copy is whole; dropped in the parent
/// and the child.
pub fn hold_for_fork() -> ForkGuards {
    ForkGuards {
        _gate: lock(&GATE),
        _table: lock(&TABLE),
    }
}
