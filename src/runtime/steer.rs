//! Which processes take new connections: a queue that serves nobody
//! leaves the TAP's flow spreading.
//!
//! tun sends a frame of a flow it knows to the queue that last wrote a
//! frame of that flow (`tun_flow_update`), and spreads the flows it knows
//! nothing of, a new connection's SYN among them, over every *attached*
//! queue by their hash. A process that serves no connection gets its
//! share of SYNs all the same. nginx's master opened the listening
//! sockets and forked its workers, then sleeps in `sigsuspend` and accepts
//! nothing; with one worker, half the SYNs landed on the master's queue.
//! Its stack thread answered them, and each such connection reached the
//! worker that accepts it by a hand-off (the worker's bell, its stack
//! thread, an eventfd) until the worker's first answer moved the flow to
//! the worker's queue: three wakeups where the worker's `epoll_wait`,
//! reading its own queue, takes one.
//!
//! So the stack thread of a process that is idle on the stack (no call
//! in progress, none for [`IDLE`]), that holds nothing but listeners,
//! and that reads a queue of its own which no other process reads,
//! detaches that queue (`IFF_DETACH_QUEUE`) while another process has a
//! queue of its own attached: new flows then go only to the processes
//! that use the stack. The process's next call on the stack attaches the
//! queue again ([`Runtime::attach_again`], when the transmit lock is free),
//! as does its stack thread when it sees calls begun since the detach or
//! no other queue of its own left attached (a TAP with no attached queue
//! drops every frame). Decisions to detach are made with the stack
//! locked, so that of two idle processes one keeps its queue. The stack
//! thread of a detached process goes on running the stack's timers and
//! its bell.
//!
//! What it costs: tun drops the frames waiting on a queue when it is
//! detached (`tun_queue_purge`, in `__tun_detach`). The stack thread
//! detaches right after reading its queue empty, under its transmit lock,
//! so only a frame that comes in between (microseconds) is lost, and TCP
//! sends it again. It happens once per idle spell of a process that holds
//! only listeners: a server's master, not a client.

use super::{Local, Runtime};
use crate::shared::header::Guard;
use crate::sys;
use crate::time::{Duration, Instant};
use std::sync::atomic::Ordering;

/// How long a process must have made no call on the stack before its
/// queue stops taking new flows: far longer than a busy server's gaps
/// between calls, short enough that a master has done it before its
/// first client comes.
const IDLE: Duration = Duration::from_millis(100);

/// The stack thread's view of its process's calls.
#[derive(Debug, Default)]
pub(super) struct IdleWatch {
    /// Calls begun when the process was last seen with none in progress.
    seen: u64,
    /// Since when it has made none (`None`: not counting).
    since: Option<Instant>,
    /// It was found holding a connection after `seen` calls: not looked
    /// at again until it makes another.
    refused: Option<u64>,
}

impl Runtime {
    /// In the stack thread, with the TAP read empty and the transmit
    /// lock held: detaches this process's queue or attaches it again, as
    /// the module's text says. Returns when to look again, if no turn
    /// comes before.
    pub(super) fn steer(&self, local: &Local, w: &mut IdleWatch, now: Instant) -> Option<Instant> {
        let slot = self.own_slot()?;
        let tap = local.tap_watch.get()?;
        let (entered, returned) = super::calls::totals();
        if local.detached.load(Ordering::Acquire) {
            // A call began since the detach (its own `attach_again` may
            // have found the transmit lock taken, or it began between the
            // look at the calls and the detach), or no other queue is
            // left to take the frames.
            if entered != w.seen || !self.header.other_queue_attached(slot) {
                self.set_queue(local, tap.fd(), true);
            }
            return None;
        }
        if entered != returned || local.lent.load(Ordering::Acquire) {
            w.since = None;
            return None;
        }
        if w.since.is_none() || w.seen != entered {
            w.seen = entered;
            w.since = Some(now);
        }
        if w.refused == Some(entered) {
            return None;
        }
        // The process table is looked at only once the process has been
        // idle that long (a busy thread's turns skip it).
        let idle_at = w.since? + IDLE;
        if now < idle_at {
            return Some(idle_at);
        }
        // Decided with the stack locked, and recorded in the process
        // table before the lock is let go: two idle processes, each seeing
        // the other's queue attached, never both detach theirs.
        let detach = {
            let mut guard = self.lock();
            if !self.queue_is_own_alone(slot) {
                return None;
            }
            let only = holds_listeners_only(&mut guard, slot);
            if only {
                self.header.set_attached(slot, false);
            }
            only
        };
        if detach {
            self.set_queue(local, tap.fd(), false);
            // A call that began after the look at the calls found the
            // queue still attached at its start: it is not left detached.
            if super::calls::totals().0 != entered {
                self.set_queue(local, tap.fd(), true);
            }
        } else {
            w.refused = Some(entered);
        }
        None
    }

    /// This process reads a queue it opened, attached, which no other
    /// process reads, and another process has one of its own attached.
    fn queue_is_own_alone(&self, slot: usize) -> bool {
        let queue = self.queue.load(Ordering::Acquire);
        queue == std::process::id() as i32
            && self.header.procs[slot].attached.load(Ordering::Acquire)
            && !self.header.queue_shared(slot, queue)
            && self.header.other_queue_attached(slot)
    }

    /// At a call on the stack in a process whose queue is detached:
    /// attaches it again (the call may be the start of serving).
    /// Never waits for the transmit lock: the call may come with the
    /// stack locked, and the stack thread takes the stack lock with the
    /// transmit lock held. When it is taken, the stack thread attaches the
    /// queue at its turn (it sees the calls move), or the next call does.
    pub(super) fn attach_again(&self, local: &Local) {
        let Some(_order) = local.try_tx() else {
            return;
        };
        if local.detached.load(Ordering::Acquire)
            && let Some(tap) = local.tap_watch.get()
        {
            self.set_queue(local, tap.fd(), true);
        }
    }

    /// Attaches or detaches queue `fd` (with the transmit lock held), and
    /// says so in the process table.
    fn set_queue(&self, local: &Local, fd: std::os::fd::RawFd, attach: bool) {
        match sys::tap::set_queue_attached(fd, attach) {
            Ok(()) => {}
            // Attached already: a child that could not open a queue of
            // its own attached the one it inherited.
            Err(e) if attach && e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => {
                crate::log_info!(
                    "cannot {} the TAP queue: {e}",
                    if attach { "attach" } else { "detach" }
                );
                if !attach && let Some(slot) = self.own_slot() {
                    // Still attached, as the process table said before
                    // the decision.
                    self.header.set_attached(slot, true);
                }
                return;
            }
        }
        local.detached.store(!attach, Ordering::Release);
        if let Some(slot) = self.own_slot() {
            self.header.set_attached(slot, attach);
        }
        crate::log_info!(
            "TAP queue {}: {}",
            if attach { "attached again" } else { "detached" },
            if attach {
                "this process calls on the stack"
            } else {
                "this process is idle and holds only listeners; new flows go to the others"
            }
        );
    }
}

/// The process in `slot` holds no socket but listeners (and fresh ones):
/// no flow of its own would come to its queue.
fn holds_listeners_only(guard: &mut Guard, slot: usize) -> bool {
    use crate::tcp::State;
    let held: Vec<_> = guard.holdings().procs[slot]
        .sockets
        .iter()
        .copied()
        .collect();
    held.into_iter()
        .all(|h| matches!(guard.state(h), Ok(State::Listen | State::Closed) | Err(_)))
}
