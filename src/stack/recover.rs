//! Recovery after a call on the stack ended half way: its process died
//! holding the lock (`docs/shared-stack.md`, "When a process dies holding
//! the lock").
//!
//! The sockets are the truth; everything else the stack keeps is an index
//! of them, updated in steps a `SIGKILL` can cut between: a mark set in the
//! socket and the list entry not yet pushed, a counter raised and the
//! half-open connection not yet made, an ordered map halfway through a
//! rebalance, a vector halfway through growing. [`Stack::recover`] throws
//! every such index away without walking it (the old one is leaked, not
//! dropped: dropping a map whose nodes a dead call left half linked could
//! follow a bad pointer) and builds it again from the socket table.
//!
//! Not rebuilt: the sockets themselves (a TCB or a listener caught between
//! two of its own fields stays so; the peer's next segment or a timeout
//! settles it) and the socket table's own vector (growing it is the one
//! reallocation every other index hangs on).

use super::Stack;
use super::socket::{Owner, SocketHandle, SocketKind};
use super::table::SCRATCH_LEN;
use crate::tcp::{FourTuple, State};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Replaces `x` with an empty one and leaks the old one: it may be half
/// changed, and dropping it would walk it.
fn abandon<T: Default>(x: &mut T) {
    std::mem::forget(std::mem::take(x));
}

impl Stack {
    /// After a call on the stack ended half way (its process died holding
    /// the lock): rebuilds, from the sockets, every index the stack keeps
    /// of them — connections by 4-tuple, listeners and port holders by
    /// port, free slots, the TIME-WAIT count, each listener's SYN-queue
    /// count and accept queue, the wakeup list and the dirty marks, the
    /// transmit queue and its marks, the timer set and each socket's
    /// registered deadline — and the segment scratch (taken while a TCB
    /// fills it). A mark set whose list entry was never pushed would
    /// otherwise keep that socket from ever waking a waiter, sending or
    /// timing out again; a SYN-queue count raised for a connection never
    /// made would shrink the listener's queue for good; an empty scratch
    /// would make every data segment empty. Connections waiting for ARP
    /// or Neighbor Discovery are forgotten: their retransmissions ask
    /// again. Every socket is then marked for a wakeup and a transmit
    /// turn: a wakeup the dead call took and never delivered arrives as a
    /// spurious one, which every waiter tolerates.
    pub fn recover(&mut self) {
        if self.scratch.len() < SCRATCH_LEN {
            abandon(&mut self.scratch);
            self.scratch = vec![0u8; SCRATCH_LEN];
        }
        abandon(&mut self.dirty);
        abandon(&mut self.tx_queue);
        abandon(&mut self.tcp_timers);
        abandon(&mut self.arp_waiters);
        self.rebuild_tables();
        for index in 0..self.sockets.len() as u32 {
            let Some(s) = self.slot_mut(index) else {
                continue;
            };
            s.dirty = false;
            s.tx_queued = false;
            s.timer_at = None;
            self.touch(index);
        }
    }

    /// The connection, listener and port maps, the free slots, the
    /// TIME-WAIT count and the listeners' queues, from the sockets.
    fn rebuild_tables(&mut self) {
        let mut conns: BTreeMap<FourTuple, u32> = BTreeMap::new();
        let mut listeners: BTreeMap<u16, Vec<u32>> = BTreeMap::new();
        let mut ports: BTreeMap<u16, BTreeSet<u32>> = BTreeMap::new();
        let mut free_slots = Vec::new();
        let mut time_wait = 0;
        let mut half_open: BTreeMap<u32, usize> = BTreeMap::new();
        let mut accepted: BTreeMap<u32, VecDeque<SocketHandle>> = BTreeMap::new();
        for (i, slot) in self.sockets.iter().enumerate() {
            let index = i as u32;
            let Some(s) = slot.socket.as_ref() else {
                free_slots.push(index);
                continue;
            };
            if let Some(port) = s.port {
                ports.entry(port).or_default().insert(index);
            }
            time_wait += usize::from(s.in_time_wait);
            match &s.kind {
                SocketKind::Listener(l) => listeners.entry(l.local.port()).or_default().push(index),
                SocketKind::Tcp(t) if t.state() != State::Closed => {
                    // A new incarnation of a connection in TIME-WAIT takes
                    // its 4-tuple over.
                    let replaces = |old: &u32| {
                        self.sockets[*old as usize]
                            .socket
                            .as_ref()
                            .is_some_and(|o| o.in_time_wait)
                    };
                    let tuple = t.tuple();
                    if conns.get(&tuple).is_none_or(replaces) {
                        conns.insert(tuple, index);
                    }
                }
                _ => {}
            }
            match s.owner {
                Owner::Listener {
                    index: l,
                    queued: false,
                } => *half_open.entry(l).or_default() += 1,
                Owner::Listener {
                    index: l,
                    queued: true,
                } => accepted.entry(l).or_default().push_back(SocketHandle {
                    index,
                    generation: slot.generation,
                }),
                _ => {}
            }
        }
        for (&port, indices) in &listeners {
            for &l in indices {
                let Some(SocketKind::Listener(li)) = self.slot_mut(l).map(|s| &mut s.kind) else {
                    continue;
                };
                debug_assert_eq!(li.local.port(), port);
                abandon(&mut li.accept_queue);
                li.accept_queue = accepted.remove(&l).unwrap_or_default();
                li.syn_queue = half_open.get(&l).copied().unwrap_or(0);
            }
        }
        abandon(&mut self.conns);
        abandon(&mut self.listeners);
        abandon(&mut self.ports);
        abandon(&mut self.free_slots);
        self.conns = conns;
        self.listeners = listeners;
        self.ports = ports;
        self.free_slots = free_slots;
        self.time_wait_count = time_wait;
    }
}
