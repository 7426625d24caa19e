//! Processes sharing the stack: `fork`, `exec`, death and `exit` (see
//! `docs/shared-stack.md` and `docs/processes.md`).
//!
//! - **fork**: [`fork_prepare`] (the `pthread_atfork` prepare handler)
//!   takes a slot of the process table for the child and records, under
//!   the stack lock and *before* the fork, that the child holds every
//!   socket the parent has an fd for: a parent that closes its copy right
//!   after `fork` (the classic accept-then-fork server) then does not close
//!   the connection. The child marks its slot live ([`fork_child`]) and
//!   starts its own stack thread at its first call on the stack. When the
//!   fork fails, [`fork_failed`] gives the slot back.
//! - **exec**: the slot, its pid and its fd records stay in the region. The
//!   new image's library finds them at load ([`attach_after_exec`]): the
//!   fds that are still open and still eventfds are the sockets it
//!   inherited; those closed by `FD_CLOEXEC` are let go.
//! - **death**: every stack thread watches the other processes through
//!   pidfds. When one dies (`SIGKILL` included), the first to notice
//!   closes the sockets only it held, as the kernel closes a dead
//!   process's fds, and frees its slot. A process that died holding the
//!   lock is found by the next locker ([`repair`]).
//! - **exit**: an `atexit` handler lets go of this process's sockets (the
//!   ones nobody else holds are closed as `close` would). The last process
//!   out gives closing connections up to 5 s to finish, resets what is
//!   left (never TIME-WAIT, RFC 1337), and removes the region.

use super::{CURRENT, Runtime, START, current};
use crate::shared::header::{FdRecord, Guard, Header, LIVE, MAX_PROCS, PENDING};
use crate::stack::SocketHandle;
use crate::sys::event::Epoll;
use crate::sys::private_fd::{self, HeldForFork, PrivateFd};
use crate::sys::sync::ForkHold;
use crate::time::Duration;
use std::cell::RefCell;
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How long `fork` waits for a lock before forking without it.
const FORK_LOCK_WAIT: Duration = Duration::from_secs(2);
/// Bound on the exit handler's wait for closed connections to deliver
/// their data, and then for the RSTs to leave.
const EXIT_DRAIN: Duration = Duration::from_secs(5);
const EXIT_FLUSH: Duration = Duration::from_millis(300);

/// The locks [`fork_prepare`] took. The three handlers run in the forking
/// thread, and its thread-locals are the child's main thread's.
struct Held {
    start: Option<ForkHold<()>>,
    watchers: Option<super::watchers::ForkGuards>,
    private_fds: Option<HeldForFork>,
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// The slot reserved for the child of the `fork` in progress
/// (`usize::MAX`: none).
static CHILD_SLOT: AtomicUsize = AtomicUsize::new(usize::MAX);

fn running() -> Option<&'static Runtime> {
    match current() {
        Some(Ok(rt)) => Some(rt),
        _ => None,
    }
}

/// Before `fork`: reserves the child's slot (it holds what we hold), then
/// takes the start lock, the watchers' table and the library's fd lock
/// across the fork so the child's copies are whole.
pub fn fork_prepare() {
    CHILD_SLOT.store(usize::MAX, Ordering::Release);
    if let Some(rt) = running() {
        let mut guard = rt.lock();
        if let Some(child) = rt.header.take_slot(&guard) {
            guard.holdings().fork(rt.slot(), child);
            guard.epolls().fork(rt.slot(), child);
            CHILD_SLOT.store(child, Ordering::Release);
        } else {
            crate::log_warn!(
                "fork: {MAX_PROCS} processes share the stack already; the child cannot use it"
            );
        }
    }
    let start = ForkHold::hold(&START, FORK_LOCK_WAIT);
    let watchers = Some(super::watchers::hold_for_fork());
    // Last: the runtime makes its private fds under the start lock.
    let private_fds = private_fd::hold_for_fork(FORK_LOCK_WAIT);
    HELD.with(|h| {
        *h.borrow_mut() = Some(Held {
            start,
            watchers,
            private_fds,
        })
    });
}

fn release_held() {
    if let Some(held) = HELD.with(|h| h.borrow_mut().take()) {
        if let Some(private_fds) = held.private_fds {
            private_fds.release();
        }
        drop(held.watchers);
        if let Some(start) = held.start {
            start.release();
        }
    }
}

/// After `fork`, in the parent: unlocks. `child` is the child's pid when
/// the caller knows it (our `fork` export), so the slot names it even
/// before the child runs.
pub fn fork_parent() {
    release_held();
}

/// Our `fork` export saw the result: names the child's slot, or gives it
/// back when the fork failed.
pub fn fork_result(pid: i32) {
    let child = CHILD_SLOT.swap(usize::MAX, Ordering::AcqRel);
    let Some(rt) = running() else {
        return;
    };
    if child == usize::MAX {
        return;
    }
    if pid > 0 {
        // The child may have done it already; the same values either way.
        if rt.header.procs[child].state.load(Ordering::Acquire) == PENDING {
            rt.header.set_live(child, pid);
        }
        // Every stack thread (ours included) watches the child from now.
        rt.wake();
        rt.announce();
    } else {
        let mut guard = rt.lock();
        release_slot(&mut guard, child);
    }
}

/// After `fork`, in the child: unlocks, marks its slot live and the
/// runtime forked (its own stack thread starts at its first call).
pub fn fork_child() {
    release_held();
    let child = CHILD_SLOT.swap(usize::MAX, Ordering::AcqRel);
    if let Some(rt) = running() {
        if child == usize::MAX {
            // No slot: this child cannot use the stack.
            rt.local().state.store(super::STOPPED, Ordering::Release);
            return;
        }
        rt.header.set_live(child, std::process::id() as i32);
        rt.slot.store(child, Ordering::Release);
        // The parent's pending wakeup is not ours, nor its thread's fds.
        rt.local().wake_pending.store(false, Ordering::Release);
        rt.local().close_in_child();
        private_fd::close_inherited(rt.control_fd.swap(-1, Ordering::AcqRel));
        // The child's stack thread starts at its first call on the stack
        // (`Runtime::health`): a child that never uses the stack (a helper
        // process, a `system` on its way to `exec`) reads no frame and runs
        // no timer. The thread's own needs are met before that: its `poll`
        // eventfd is made in the child's `fork` handler, and bells are
        // rung by the stack thread, so a sandbox the program installs later
        // (sshd's seccomp filter) forbids nothing we call from its threads.
        rt.open_child_queue();
        super::calls::forget_in_child();
        rt.forked.store(true, Ordering::Release);
    }
}

/// Lets go of everything slot `slot` holds (closing what nobody else
/// holds) and frees the slot. With the lock held. Returns the sockets it
/// closed.
pub(super) fn release_slot(guard: &mut Guard, slot: usize) -> Vec<SocketHandle> {
    let closed = guard.holdings().release_all(slot);
    for &h in &closed {
        close_for_good(guard, h);
    }
    guard.epolls().leave(slot);
    let header = guard.header();
    header.free_slot(guard, slot);
    closed
}

/// Closes socket `h`, which no process holds any more; it leaves every
/// epoll instance (Linux drops an item when its file is released).
fn close_for_good(guard: &mut Guard, h: SocketHandle) {
    guard.epolls().forget_socket(h);
    guard.close(h);
}

/// Whether process `pid` exists and has not exited (a zombie waiting for
/// its parent's `wait` has closed its fds: it holds nothing any more).
fn alive(pid: i32) -> bool {
    if pid <= 0 || !crate::sys::process_exists(pid) {
        return false;
    }
    // /proc/PID/stat: "PID (comm) S ...", comm may hold spaces and ')'.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_none_or(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Frees the slots of processes that died without leaving (killed), with
/// the lock held.
pub fn reap_dead(guard: &mut Guard) {
    let header = guard.header();
    let me = std::process::id() as i32;
    for (slot, pid) in header.live() {
        if pid != me && !alive(pid) {
            crate::log_info!("process {pid} is gone: its sockets are closed");
            release_slot(guard, slot);
            guard.wake_all();
        }
    }
}

/// The pidfd of process `pid` in slot `slot` became readable: it exited
/// (it may be a zombie still), so its slot is freed.
pub fn reap_exited(guard: &mut Guard, slot: usize, pid: i32) {
    let header = guard.header();
    let p = &header.procs[slot];
    if p.state.load(Ordering::Acquire) == LIVE && p.pid.load(Ordering::Acquire) == pid {
        crate::log_info!("process {pid} is gone: its sockets are closed");
        release_slot(guard, slot);
        // Its stack thread may have taken wakeups and died before it
        // delivered them.
        guard.wake_all();
    }
}

/// No live process in the table exists (a region left by killed
/// processes).
pub fn all_dead(header: &Header) -> bool {
    header.live().iter().all(|&(_, pid)| !alive(pid))
        && header
            .procs
            .iter()
            .all(|p| p.state.load(Ordering::Acquire) != PENDING)
}

/// Run by whoever takes the lock after its holder died holding it: the
/// holder's process is gone (or one of its threads died, which a program
/// does not survive either), so its sockets are closed as the kernel
/// would. What it was changing when it died is not rolled back: the
/// region's allocator never leaves its lists half-changed, and what the
/// stack keeps beside its sockets (wakeup list, transmit queue, timer set,
/// the segment scratch) is rebuilt from them ([`crate::stack::Stack::recover`]),
/// as are the epoll instances' ready lists.
pub fn repair(guard: &mut Guard) {
    let epoch = guard.header().epoch.load(Ordering::Relaxed);
    crate::log_warn!("the stack's lock was held by a process that died (repair {epoch})");
    guard.recover();
    guard.epolls().recover();
    reap_dead(guard);
}

/// The pidfds of the other processes, in the stack thread's epoll set.
#[derive(Default)]
pub struct PidWatch {
    generation: u64,
    fds: Vec<Option<(i32, PrivateFd)>>,
}

impl PidWatch {
    /// Follows the process table when it changed: a pidfd per live
    /// process other than `me`.
    pub fn refresh(&mut self, header: &Header, me: usize, poll: &Epoll) {
        let g = header.generation.load(Ordering::Acquire);
        if g == self.generation && !self.fds.is_empty() {
            return;
        }
        self.generation = g;
        self.fds.resize_with(MAX_PROCS, || None);
        let live = header.live();
        for slot in 0..MAX_PROCS {
            let want = live
                .iter()
                .find(|&&(s, _)| s == slot && s != me)
                .map(|&(_, pid)| pid);
            let have = self.fds[slot].as_ref().map(|(pid, _)| *pid);
            if want == have {
                continue;
            }
            if let Some((_, fd)) = self.fds[slot].take() {
                let _ = poll.delete(fd.raw());
            }
            if let Some(pid) = want
                && let Ok(fd) = crate::sys::pidfd_open(pid)
                && poll
                    .add(fd.raw(), libc::EPOLLIN as u32, super::PIDFD + slot as u64)
                    .is_ok()
            {
                self.fds[slot] = Some((pid, fd));
            }
        }
    }

    /// Stops watching slot `slot` (its process exited); the pid it had.
    pub fn forget(&mut self, slot: usize, poll: &Epoll) -> Option<i32> {
        let (pid, fd) = self.fds.get_mut(slot).and_then(Option::take)?;
        let _ = poll.delete(fd.raw());
        Some(pid)
    }
}

/// Records that fd `fd` of this process is socket `rec.handle` (for a
/// program this process `exec`s), and that this process holds the socket.
pub fn record_fd(rt: &Runtime, fd: i32, rec: FdRecord) {
    let slot = rt.slot();
    let mut guard = rt.lock();
    let holdings = guard.holdings();
    holdings.hold(slot, rec.handle);
    holdings.procs[slot].fds.insert(fd, rec);
}

/// Forgets fd `fd` of this process (closed).
pub fn forget_fd(rt: &Runtime, fd: i32) {
    let slot = rt.slot();
    let mut guard = rt.lock();
    guard.holdings().procs[slot].fds.remove(&fd);
}

/// This process lets `h` go (its last fd here closed). True when no
/// process holds it any more: the caller closes it.
pub fn let_go(guard: &mut Guard, rt: &Runtime, h: SocketHandle) -> bool {
    let slot = rt.slot();
    let gone = guard.holdings().release(slot, h);
    if gone {
        guard.epolls().forget_socket(h);
    }
    gone
}

/// In a new program image, at load: when this pid has a slot in the
/// stack of the configured TAP (the program before `exec` used it), joins
/// it and returns the fds it inherited, each with its record; the
/// caller installs them. Records of fds that `exec` closed are dropped,
/// and the sockets this process no longer holds are let go.
pub fn attach_after_exec() -> Vec<(i32, FdRecord)> {
    let Ok(config) = super::Config::from_env() else {
        return Vec::new();
    };
    let netns = crate::sys::unix_socket::netns_inode();
    let path = crate::shared::region::region_path(netns, &config.ifname);
    if !path.exists() {
        return Vec::new();
    }
    let _start = START.lock();
    if current().is_some() {
        return Vec::new();
    }
    match super::Runtime::attach_exec(config, netns) {
        Some((rt, fds)) => {
            CURRENT.set(Ok(rt));
            register_exit_handler();
            fds
        }
        None => Vec::new(),
    }
}

/// Whether `fd` is open in this process and an eventfd (what a stack
/// socket's fd is).
fn is_inherited_socket_fd(fd: i32) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .is_ok_and(|p| p.as_os_str() == "anon_inode:[eventfd]")
}

impl Runtime {
    /// [`attach_after_exec`]'s work, with the start lock held.
    fn attach_exec(
        config: super::Config,
        netns: u64,
    ) -> Option<(&'static Runtime, Vec<(i32, FdRecord)>)> {
        let path = crate::shared::region::region_path(netns, &config.ifname);
        let (region, opened) =
            crate::shared::region::Region::open(&path, crate::shared::region::REGION_LEN).ok()?;
        if !matches!(opened, crate::shared::region::Opened::Attached) {
            // It vanished meanwhile: nothing to inherit.
            let _ = region.unlink();
            return None;
        }
        let header = crate::shared::header::attach_region(&region, super::ATTACH_WAIT).ok()?;
        let pid = std::process::id() as i32;
        // Not ours: a program that never used the stack before (its first
        // socket starts it, and sets the log up then).
        let slot = header.slot_of(pid)?;
        let kept: Vec<(i32, FdRecord)> = {
            let mut guard = header.lock(repair);
            let records: Vec<(i32, FdRecord)> = guard.holdings().procs[slot]
                .fds
                .iter()
                .map(|(&fd, &r)| (fd, r))
                .collect();
            let kept: Vec<(i32, FdRecord)> = records
                .into_iter()
                .filter(|&(fd, _)| is_inherited_socket_fd(fd))
                .collect();
            let keep: std::collections::BTreeSet<SocketHandle> =
                kept.iter().map(|(_, r)| r.handle).collect();
            let held: Vec<SocketHandle> = guard.holdings().procs[slot]
                .sockets
                .iter()
                .copied()
                .collect();
            guard.holdings().procs[slot].fds = kept.iter().copied().collect();
            for h in held {
                if !keep.contains(&h) && guard.holdings().release(slot, h) {
                    close_for_good(&mut guard, h);
                }
            }
            // The old image's epoll instances are not this image's: an
            // inherited epoll fd is the kernel's alone now.
            guard.epolls().leave(slot);
            if kept.is_empty() {
                // Nothing inherited: a program like any other, which its
                // first socket would start. Until then it reads no frame
                // (a process that never uses the stack, and may die of a
                // SIGPIPE at any instruction, is no one to carry the other
                // processes' frames: socat's EXEC:cat is one).
                release_slot(&mut guard, slot);
                return None;
            }
            kept
        };
        if super::setup_logging(&config).is_err() {
            return None;
        }
        let local = super::Local::new(netns, &config.ifname, pid, true).ok()?;
        let rt: &'static Runtime = Box::leak(Box::new(Runtime {
            header,
            region: Some(region),
            config,
            netns,
            slot: AtomicUsize::new(slot),
            local: crate::sys::sync::LeakedSlot::with(local),
            tap_fd: std::sync::atomic::AtomicI32::new(-1),
            queue: std::sync::atomic::AtomicI32::new(0),
            child_queue: std::sync::Mutex::new(None),
            control_fd: std::sync::atomic::AtomicI32::new(-1),
            forked: std::sync::atomic::AtomicBool::new(false),
            exec_pending: std::sync::atomic::AtomicBool::new(false),
            respawn: crate::sys::sync::Mutex::new(()),
            left: std::sync::atomic::AtomicBool::new(false),
        }));
        let offload = rt.lock().offload();
        let dev = match super::open_device_as(
            &rt.config,
            offload,
            false,
            crate::sys::clock::monotonic_now(),
        ) {
            Ok(dev) => Some(dev),
            Err(e) => {
                crate::log_info!(
                    "after exec: no TAP queue of our own ({e}); the other processes carry the frames"
                );
                None
            }
        };
        if let Some(fd) = dev.as_ref().and_then(|d| d.raw_fd()) {
            rt.tap_fd.store(fd, Ordering::Release);
        }
        if let Err(e) = rt.spawn(dev, super::Origin::Shared, false) {
            crate::log_error!("after exec: {e}");
            return None;
        }
        rt.announce();
        crate::log_info!("after exec: {} inherited socket fds", kept.len());
        Some((rt, kept))
    }
}

/// Before `exec`: stops this process's stack thread, so that none of our
/// threads holds the stack's lock when `exec` ends them all.
pub fn before_exec() {
    if let Some(rt) = running()
        && !rt.forked.load(Ordering::Acquire)
        && rt.local().state.load(Ordering::Acquire) == super::RUNNING
    {
        rt.shutdown();
        // The thread closed its TAP queue as it ended: a process that
        // detached its own because this one's was attached looks again
        // (`steer`); the pid stays the same, so no pidfd tells it.
        rt.tap_fd.store(-1, Ordering::Release);
        if let Some(slot) = rt.own_slot() {
            rt.header.set_attached(slot, false);
            rt.announce();
        }
        rt.local().state.store(super::RUNNING, Ordering::Release);
        rt.exec_pending.store(true, Ordering::Release);
    }
}

/// Before `_exit`: this process's stack thread finishes its turn and stops
/// (bounded by [`Runtime::shutdown`]); nothing else (the process's sockets
/// are let go by the others when they see it gone).
pub fn before_exit_now() {
    if let Some(rt) = running()
        && !rt.forked.load(Ordering::Acquire)
        && rt.local().state.load(Ordering::Acquire) == super::RUNNING
    {
        rt.shutdown();
    }
}

/// The `exec` failed: this process goes on, with a new stack thread.
pub fn after_failed_exec() {
    if let Some(rt) = running()
        && rt.exec_pending.swap(false, Ordering::AcqRel)
    {
        // As after a fork: a new thread on the same TAP queue.
        rt.local().close_in_child();
        rt.forked.store(true, Ordering::Release);
        let _ = rt.health();
    }
}

/// Registers [`at_exit`] (once, when the runtime starts).
pub(super) fn register_exit_handler() {
    crate::sys::real::atexit(at_exit);
}

extern "C" fn at_exit() {
    // No panic may unwind into libc's exit.
    let _ = catch_unwind(|| {
        let Some(rt) = running() else {
            return;
        };
        if rt.forked.load(Ordering::Acquire) {
            // A forked child that never used the stack: when it holds
            // nothing, giving its slot back is all; else it needs its own
            // stack thread to send what closing its sockets queues.
            let slot = rt.slot();
            let mut guard = rt.lock();
            if guard.holdings().procs[slot].sockets.is_empty() {
                rt.header.free_slot(&guard, slot);
                return;
            }
        }
        if rt.health().is_ok() {
            rt.leave(EXIT_DRAIN, EXIT_FLUSH);
        }
    });
}

impl Runtime {
    /// At exit: lets go of this process's sockets (those nobody else
    /// holds are closed as `close` closes them) and gives the stack thread
    /// up to `flush` to put what closing them queued on the wire. The last
    /// process out first waits up to `drain` for closing connections to
    /// deliver their data and finish the FIN exchange, resets the rest,
    /// waits for everything the stack has to send, and removes the
    /// region. Never waits on a lock without a bound (another thread may
    /// hold the stack lock when `exit` is called), and never sleeps with
    /// it held: the other processes go on meanwhile.
    pub fn leave(&self, drain: Duration, flush: Duration) {
        let step = Duration::from_millis(20);
        let slot = self.slot();
        let Some(mut stack) = self.try_lock_for(flush) else {
            self.shutdown();
            return;
        };
        let closed = release_slot(&mut stack, slot);
        self.left.store(true, Ordering::Release);
        let header = self.header;
        let last = header.in_use() == 0;
        if last && let Some(path) = self.region_path() {
            // No newcomer attaches to a stack that is ending.
            let _ = std::fs::remove_file(path);
        }
        self.finish(stack);
        if last {
            let start = std::time::Instant::now();
            while start.elapsed() < drain {
                match self.try_lock_for(step) {
                    Some(stack) if !stack.orphans_draining() => break,
                    Some(stack) => drop(stack),
                    None => {}
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            if let Some(mut stack) = self.try_lock_for(step) {
                stack.abort_all(true);
                self.finish(stack);
            }
        }
        // Only the last process waits for the whole stack: while others
        // remain, their stack threads send the rest of what is queued.
        let start = std::time::Instant::now();
        while start.elapsed() < flush {
            self.wake();
            // The guard goes with this statement, before the sleep.
            let pending = self.try_lock_for(step).is_none_or(|stack| {
                if last {
                    stack.has_pending_transmit()
                } else {
                    closed.iter().any(|&h| stack.transmit_queued(h))
                }
            });
            if !pending {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // The stack thread finishes its turn (writing what it took) before
        // it sees the stop flag.
        self.shutdown();
    }

    /// Kept for the tests and callers of the one-process design: as
    /// [`Runtime::leave`].
    pub fn reset_and_stop(&self, drain: Duration, flush: Duration) {
        self.leave(drain, flush);
    }
}
