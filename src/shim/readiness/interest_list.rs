//! The stack side of every epoll instance, in the shared region: each
//! instance's interest list and ready list, so that an epoll fd inherited
//! across `fork` is the *same* instance in every process, as in Linux
//! (`fs/eventpoll.c` keeps one `struct eventpoll` per epoll file, whoever
//! holds it).
//!
//! What is shared and what is not:
//!
//! - Here, behind the stack lock: the items (keyed, as Linux keys them, by
//!   the file and the fd number: here the socket and the fd), their
//!   interest and edge/one-shot state, the ready list, and which process
//!   slots hold a copy of the instance.
//! - In each process (`epoll.rs`): the epoll fd and the eventfd that sits in
//!   its kernel set. After `fork` the child's copies are the same kernel
//!   files, so one write to the eventfd, by any process holding it, wakes
//!   a thread blocked in `epoll_wait` in any of them.
//!
//! The ready list is filled where a socket's readiness may have changed:
//! under the stack lock, by whichever process made the change
//! ([`EpollTable::wakeups`]); the eventfd is made readable by a process
//! that holds it (that one, or another rung by its bell). An item is
//! removed with `EPOLL_CTL_DEL`, or when its socket is closed for good (the
//! last fd of the last process), as Linux drops an item when its file is
//! released.

use super::mask::{EXCLUSIVE, Interest, ONESHOT, Observation};
use crate::stack::SocketHandle;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};

/// An item: the socket (Linux's file) and the fd number it was added by.
pub type Key = (SocketHandle, i32);

/// An instance's number, the same in every process that holds it.
pub type InstanceId = u32;

/// One item of an interest list.
struct Item {
    interest: Interest,
    /// Added with `EPOLLEXCLUSIVE`: `EPOLL_CTL_MOD` fails with `EINVAL`.
    exclusive: bool,
    /// On the ready list.
    queued: bool,
}

/// One epoll instance's stack side.
pub struct SharedInstance {
    items: BTreeMap<Key, Item>,
    ready: VecDeque<Key>,
    /// The eventfd has been made readable (or is about to be) and not
    /// drained since.
    signalled: bool,
    /// The ready list is not empty: read without the lock, so that an
    /// `epoll_wait` with nothing to collect takes no stack lock.
    pending: AtomicBool,
    /// The process slots holding a copy of the instance (bit per slot).
    holders: u64,
}

impl SharedInstance {
    fn new(holders: u64) -> SharedInstance {
        SharedInstance {
            items: BTreeMap::new(),
            ready: VecDeque::new(),
            signalled: false,
            pending: AtomicBool::new(false),
            holders,
        }
    }

    /// Whether the ready list may have something (no lock needed).
    pub fn pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// The items of socket `h` (one per fd it was added by).
    fn keys_of(&self, h: SocketHandle) -> Vec<Key> {
        self.items
            .range((h, i32::MIN)..=(h, i32::MAX))
            .map(|(k, _)| *k)
            .collect()
    }

    /// Puts every item of socket `h` on the ready list (no allocation:
    /// this runs for every woken socket).
    fn queue_socket(&mut self, h: SocketHandle) {
        let SharedInstance { items, ready, .. } = self;
        for (key, item) in items.range_mut((h, i32::MIN)..=(h, i32::MAX)) {
            if !item.queued {
                item.queued = true;
                ready.push_back(*key);
            }
        }
    }

    /// After a holder died mid-call: each item's mark says again whether
    /// it is on the ready list (marked and never pushed, an item would
    /// never be reported again), and the eventfd counts as not raised (a
    /// raise the dead holder took and never made would otherwise be the
    /// last).
    fn recover(&mut self) {
        let mut listed = BTreeSet::new();
        let SharedInstance { items, ready, .. } = self;
        ready.retain(|k| items.contains_key(k) && listed.insert(*k));
        for (key, item) in items.iter_mut() {
            item.queued = listed.contains(key);
        }
        self.signalled = false;
        self.pending
            .store(!self.ready.is_empty(), Ordering::Release);
    }

    /// Whether socket `h` has an item here.
    fn has_socket(&self, h: SocketHandle) -> bool {
        self.items
            .range((h, i32::MIN)..=(h, i32::MAX))
            .next()
            .is_some()
    }

    fn queue(&mut self, key: Key) {
        if let Some(item) = self.items.get_mut(&key)
            && !item.queued
        {
            item.queued = true;
            self.ready.push_back(key);
        }
    }

    fn remove(&mut self, key: Key) {
        if let Some(item) = self.items.remove(&key)
            && item.queued
        {
            self.ready.retain(|k| *k != key);
        }
    }

    /// After the ready list changed: what the caller must do to the
    /// eventfd, and the `pending` hint brought up to date.
    fn settle(&mut self, drain_anyway: bool) -> Eventfd {
        self.pending
            .store(!self.ready.is_empty(), Ordering::Release);
        if self.ready.is_empty() {
            if self.signalled || drain_anyway {
                self.signalled = false;
                return Eventfd::Drain;
            }
        } else if !self.signalled {
            self.signalled = true;
            return Eventfd::Raise;
        }
        Eventfd::Leave
    }
}

/// What the eventfd needs after a change to an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eventfd {
    /// Nothing.
    Leave,
    /// Make it readable: the ready list has something.
    Raise,
    /// Empty it (with the stack lock still held, so that no raise for a
    /// newer item is taken with it): the ready list is empty.
    Drain,
}

/// An instance whose eventfd must be made readable, and who can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raise {
    pub id: InstanceId,
    pub holders: u64,
}

/// Every epoll instance with stack sockets, of every process on the stack.
#[derive(Default)]
pub struct EpollTable {
    next_id: InstanceId,
    /// Boxed: the box does not move, so a holder may read `pending`
    /// without the lock.
    instances: BTreeMap<InstanceId, Box<SharedInstance>>,
    /// The instances with an item for each socket.
    by_socket: BTreeMap<SocketHandle, BTreeSet<InstanceId>>,
    /// Raises owed since a holder left with events waiting, handed out by
    /// the next [`EpollTable::wakeups`] (whoever holds the lock next).
    owed: Vec<Raise>,
}

/// `epoll_ctl`'s operation on a stack socket.
#[derive(Debug, Clone, Copy)]
pub enum Ctl {
    Add { events: u32, data: u64 },
    Mod { events: u32, data: u64 },
    Del,
}

fn bit(slot: usize) -> u64 {
    1u64 << (slot % 64)
}

impl EpollTable {
    /// A new instance held by process slot `slot`.
    pub fn create(&mut self, slot: usize) -> InstanceId {
        loop {
            self.next_id = self.next_id.wrapping_add(1);
            if !self.instances.contains_key(&self.next_id) {
                break;
            }
        }
        let id = self.next_id;
        self.instances
            .insert(id, Box::new(SharedInstance::new(bit(slot))));
        id
    }

    /// The instance, for a holder to read `pending` without the lock. The
    /// pointer stays valid while the caller's slot holds the instance.
    pub fn instance_ptr(&self, id: InstanceId) -> Option<*const SharedInstance> {
        self.instances
            .get(&id)
            .map(|b| &**b as *const SharedInstance)
    }

    /// Whether instance `id` exists (a process's copy may outlive it when
    /// the process's slot was repaired away).
    pub fn exists(&self, id: InstanceId) -> bool {
        self.instances.contains_key(&id)
    }

    /// Slot `slot` no longer holds instance `id` (its epoll fd closed).
    /// The last holder's going ends the instance.
    pub fn unhold(&mut self, id: InstanceId, slot: usize) {
        let Some(inst) = self.instances.get_mut(&id) else {
            return;
        };
        inst.holders &= !bit(slot);
        if inst.holders == 0 {
            self.end(id);
        }
    }

    fn end(&mut self, id: InstanceId) {
        let Some(inst) = self.instances.remove(&id) else {
            return;
        };
        for (h, _) in inst.items.keys() {
            if let Some(set) = self.by_socket.get_mut(h) {
                set.remove(&id);
                if set.is_empty() {
                    self.by_socket.remove(h);
                }
            }
        }
    }

    /// A forked child (slot `child`) holds every instance its parent does.
    pub fn fork(&mut self, parent: usize, child: usize) {
        for inst in self.instances.values_mut() {
            if inst.holders & bit(parent) != 0 {
                inst.holders |= bit(child);
            }
        }
    }

    /// Slot `slot` holds no instance any more (its process ended, or
    /// replaced its image with `exec`, which leaves the library's state
    /// behind). The instances with events waiting are raised again for the
    /// other holders by the next [`EpollTable::wakeups`]: the one that left
    /// may have been about to.
    pub fn leave(&mut self, slot: usize) {
        let ids: Vec<InstanceId> = self
            .instances
            .iter()
            .filter(|(_, i)| i.holders & bit(slot) != 0)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.unhold(id, slot);
            if let Some(inst) = self.instances.get_mut(&id)
                && !inst.ready.is_empty()
            {
                inst.signalled = true;
                self.owed.push(Raise {
                    id,
                    holders: inst.holders,
                });
            }
        }
    }

    /// Socket `h` is closed for good: its items go from every instance.
    pub fn forget_socket(&mut self, h: SocketHandle) {
        let Some(ids) = self.by_socket.remove(&h) else {
            return;
        };
        for id in ids {
            if let Some(inst) = self.instances.get_mut(&id) {
                for k in inst.keys_of(h) {
                    inst.remove(k);
                }
                inst.pending
                    .store(!inst.ready.is_empty(), Ordering::Release);
            }
        }
    }

    /// `epoll_ctl` on item `key` of instance `id`, with Linux's errors:
    /// `EEXIST`, `ENOENT`, `EINVAL` (`EPOLLEXCLUSIVE` with `EPOLLONESHOT`,
    /// or in a `MOD`). An added or modified item is looked at on the next
    /// `epoll_wait`, as Linux polls the file in `ep_insert`/`ep_modify`.
    pub fn ctl(&mut self, id: InstanceId, key: Key, op: Ctl) -> Result<Eventfd, i32> {
        let inst = self.instances.get_mut(&id).ok_or(libc::EBADF)?;
        let exists = inst.items.contains_key(&key);
        match op {
            Ctl::Add { events, data } => {
                if exists {
                    return Err(libc::EEXIST);
                }
                if events & EXCLUSIVE != 0 && events & ONESHOT != 0 {
                    return Err(libc::EINVAL);
                }
                inst.items.insert(
                    key,
                    Item {
                        interest: Interest::new(key.0, events, data),
                        exclusive: events & EXCLUSIVE != 0,
                        queued: false,
                    },
                );
                inst.queue(key);
                self.by_socket.entry(key.0).or_default().insert(id);
            }
            Ctl::Mod { events, data } => {
                let item = inst.items.get_mut(&key).ok_or(libc::ENOENT)?;
                if events & EXCLUSIVE != 0 || item.exclusive {
                    return Err(libc::EINVAL);
                }
                item.interest = Interest::new(key.0, events, data);
                inst.queue(key);
            }
            Ctl::Del => {
                if !exists {
                    return Err(libc::ENOENT);
                }
                inst.remove(key);
                if !inst.has_socket(key.0)
                    && let Some(set) = self.by_socket.get_mut(&key.0)
                {
                    set.remove(&id);
                    if set.is_empty() {
                        self.by_socket.remove(&key.0);
                    }
                }
            }
        }
        Ok(self
            .instances
            .get_mut(&id)
            .map_or(Eventfd::Leave, |i| i.settle(false)))
    }

    /// Sockets `changed` may have changed: their items go on their
    /// instances' ready lists. Returns the instances whose eventfd must now
    /// be made readable.
    /// After a holder died mid-call (the stack's repair): every
    /// instance's ready list and marks agree again, and its next wakeup
    /// raises its eventfd. With every socket woken after it
    /// ([`crate::stack::Stack::wake_all`]), each item is looked at again.
    pub fn recover(&mut self) {
        for inst in self.instances.values_mut() {
            inst.recover();
        }
    }

    pub fn wakeups(&mut self, changed: impl Iterator<Item = SocketHandle>, out: &mut Vec<Raise>) {
        out.append(&mut self.owed);
        if self.by_socket.is_empty() {
            return;
        }
        for h in changed {
            let Some(ids) = self.by_socket.get(&h) else {
                continue;
            };
            for id in ids {
                let Some(inst) = self.instances.get_mut(id) else {
                    continue;
                };
                inst.queue_socket(h);
                if inst.settle(false) == Eventfd::Raise {
                    out.push(Raise {
                        id: *id,
                        holders: inst.holders,
                    });
                }
            }
        }
    }

    /// `epoll_wait`'s look at instance `id`: takes items off the ready
    /// list, asks `observe` about each, and writes the events to report
    /// into `out`. A level-triggered item that was reported stays on the
    /// list; one found not ready leaves it until its next wakeup.
    /// `woken`: the caller's kernel wait saw the eventfd readable (drain it
    /// even when this instance thinks it is not signalled: a raise that
    /// raced with an earlier drain).
    pub fn collect(
        &mut self,
        id: InstanceId,
        out: &mut [libc::epoll_event],
        woken: bool,
        observe: &mut dyn FnMut(SocketHandle, bool) -> Observation,
    ) -> (usize, Eventfd) {
        let Some(inst) = self.instances.get_mut(&id) else {
            return (
                0,
                if woken {
                    Eventfd::Drain
                } else {
                    Eventfd::Leave
                },
            );
        };
        let mut n = 0;
        let mut stays = Vec::new();
        while n < out.len() {
            let Some(key) = inst.ready.pop_front() else {
                break;
            };
            let Some(item) = inst.items.get_mut(&key) else {
                continue;
            };
            item.queued = false;
            let now = observe(key.0, item.interest.edge());
            let (revents, stay) = item.interest.evaluate(now);
            if let Some(ev) = revents {
                out[n] = libc::epoll_event {
                    events: ev,
                    u64: item.interest.data,
                };
                n += 1;
            }
            if stay {
                stays.push(key);
            }
        }
        for key in stays {
            inst.queue(key);
        }
        (n, inst.settle(woken))
    }
}

#[cfg(test)]
mod tests {
    use super::super::mask::{self, ET};
    use super::*;

    const A: SocketHandle = SocketHandle {
        index: 1,
        generation: 0,
    };
    const B: SocketHandle = SocketHandle {
        index: 2,
        generation: 0,
    };
    const IN: u32 = libc::EPOLLIN as u32;

    fn readable(_: SocketHandle, _: bool) -> Observation {
        Observation {
            mask: mask::IN,
            ..Observation::default()
        }
    }

    fn quiet(_: SocketHandle, _: bool) -> Observation {
        Observation::default()
    }

    fn add(events: u32, data: u64) -> Ctl {
        Ctl::Add { events, data }
    }

    fn modify(events: u32, data: u64) -> Ctl {
        Ctl::Mod { events, data }
    }

    fn ev() -> [libc::epoll_event; 4] {
        [libc::epoll_event { events: 0, u64: 0 }; 4]
    }

    #[test]
    fn add_queues_and_raises_once_then_drains_when_nothing_is_ready() {
        let mut t = EpollTable::default();
        let id = t.create(0);
        let add = add(IN, 7);
        assert_eq!(t.ctl(id, (A, 5), add), Ok(Eventfd::Raise));
        assert_eq!(t.ctl(id, (A, 5), add), Err(libc::EEXIST));
        assert_eq!(t.ctl(id, (B, 6), add), Ok(Eventfd::Leave));
        let mut out = ev();
        let (n, e) = t.collect(id, &mut out, false, &mut quiet);
        assert_eq!((n, e), (0, Eventfd::Drain));
        assert!(!t.instances[&id].pending());
    }

    #[test]
    fn level_triggered_items_stay_and_edge_triggered_report_once() {
        let mut t = EpollTable::default();
        let id = t.create(0);
        let lt = add(IN, 1);
        let et = add(IN | ET, 2);
        t.ctl(id, (A, 5), lt).unwrap();
        t.ctl(id, (B, 6), et).unwrap();
        let mut out = ev();
        assert_eq!(t.collect(id, &mut out, false, &mut readable).0, 2);
        // Only the level-triggered one is looked at again.
        assert_eq!(t.collect(id, &mut out, false, &mut readable).0, 1);
        assert_eq!({ out[0].u64 }, 1);
    }

    #[test]
    fn items_are_keyed_by_socket_and_fd() {
        let mut t = EpollTable::default();
        let id = t.create(0);
        let add = add(IN, 1);
        t.ctl(id, (A, 5), add).unwrap();
        // Another socket under the same number (the first one's file lives
        // on elsewhere) is another item.
        let m = modify(IN, 3);
        assert_eq!(t.ctl(id, (B, 5), m), Err(libc::ENOENT));
        assert_eq!(t.ctl(id, (B, 5), Ctl::Del), Err(libc::ENOENT));
        t.ctl(id, (B, 5), add).unwrap();
        t.forget_socket(A);
        assert_eq!(t.ctl(id, (A, 5), Ctl::Del), Err(libc::ENOENT));
        assert_eq!(t.ctl(id, (B, 5), Ctl::Del), Ok(Eventfd::Drain));
        assert!(t.by_socket.is_empty());
    }

    #[test]
    fn exclusive_rules() {
        let mut t = EpollTable::default();
        let id = t.create(0);
        let both = add(IN | EXCLUSIVE | ONESHOT, 0);
        assert_eq!(t.ctl(id, (A, 5), both), Err(libc::EINVAL));
        let ex = add(IN | EXCLUSIVE, 0);
        t.ctl(id, (A, 5), ex).unwrap();
        let m = modify(IN, 0);
        assert_eq!(t.ctl(id, (A, 5), m), Err(libc::EINVAL));
    }

    #[test]
    fn wakeups_raise_each_instance_once_until_drained() {
        let mut t = EpollTable::default();
        let id = t.create(3);
        let add = add(IN, 1);
        t.ctl(id, (A, 5), add).unwrap();
        let mut out = ev();
        t.collect(id, &mut out, false, &mut quiet);
        let mut raise = Vec::new();
        t.wakeups([A, B].into_iter(), &mut raise);
        assert_eq!(
            raise,
            vec![Raise {
                id,
                holders: 1 << 3
            }]
        );
        raise.clear();
        t.wakeups([A].into_iter(), &mut raise);
        assert!(raise.is_empty(), "already signalled");
        assert!(t.instances[&id].pending());
    }

    #[test]
    fn holders_fork_and_leave() {
        let mut t = EpollTable::default();
        let id = t.create(0);
        t.fork(0, 1);
        t.ctl(id, (A, 5), add(IN, 1)).unwrap();
        // The parent goes with an event waiting: the child is told.
        t.leave(0);
        let mut raise = Vec::new();
        t.wakeups(std::iter::empty(), &mut raise);
        assert_eq!(raise, vec![Raise { id, holders: 2 }]);
        t.unhold(id, 1);
        assert!(!t.exists(id));
        assert!(t.by_socket.is_empty());
    }

    /// What a holder killed mid-call leaves: an item marked as listed that
    /// is not on the ready list, and the instance believed signalled while
    /// the raise was never made. After `recover` the next wakeup of the
    /// socket raises the eventfd and the item is reported.
    #[test]
    fn recover_makes_marks_and_list_agree_and_raises_again() {
        let mut t = EpollTable::default();
        let id = t.create(0);
        t.ctl(id, (A, 5), add(IN, 1)).unwrap();
        let mut out = ev();
        t.collect(id, &mut out, false, &mut quiet);
        {
            let inst = t.instances.get_mut(&id).unwrap();
            inst.items.get_mut(&(A, 5)).unwrap().queued = true;
            inst.signalled = true;
        }
        let mut raise = Vec::new();
        t.wakeups([A].into_iter(), &mut raise);
        assert!(raise.is_empty(), "the half-done state hides it");
        assert_eq!(t.collect(id, &mut out, false, &mut readable).0, 0);

        t.recover();
        t.wakeups([A].into_iter(), &mut raise);
        assert_eq!(raise, vec![Raise { id, holders: 1 }]);
        assert_eq!(t.collect(id, &mut out, false, &mut readable).0, 1);
        assert_eq!({ out[0].u64 }, 1);
    }

    #[test]
    fn a_woken_collect_drains_even_when_not_signalled() {
        let mut t = EpollTable::default();
        let id = t.create(0);
        let mut out = ev();
        assert_eq!(t.collect(id, &mut out, true, &mut quiet).1, Eventfd::Drain);
        assert_eq!(t.collect(id, &mut out, false, &mut quiet).1, Eventfd::Leave);
        assert_eq!(t.collect(99, &mut out, true, &mut quiet).1, Eventfd::Drain);
    }
}
