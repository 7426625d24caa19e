//! `epoll_create`, `epoll_create1`, `epoll_ctl`, `epoll_wait`,
//! `epoll_pwait`.
//!
//! Every epoll instance is a real kernel epoll fd, so kernel fds in the set
//! just work and an epoll fd can sit in another epoll or `poll` set. When
//! the first stack socket joins an instance, it gets a stack side: an
//! interest list and a ready list in the shared region
//! ([`interest_list`](super::interest_list)), the same for every process
//! that holds the epoll fd (after `fork`, as in Linux), and in each
//! process an [`Instance`]: the epoll fd and an eventfd registered in the
//! kernel set. When a socket's readiness may have change, the process that
//! changed it puts the socket's items on the ready list, under the stack
//! lock; if the list was empty, the eventfd is made readable (by a process
//! that holds it), which ends a real `epoll_wait` blocked on the kernel fd
//! in any process (and makes the epoll fd readable to an outer set).
//!
//! `epoll_wait` evaluates only the sockets on the ready list, under one
//! stack lock (no work per wakeup proportional to the set's size), and
//! takes no lock at all when the list is empty. A level-triggered socket
//! that was reported stays on the list and is looked at again next time;
//! one found not ready leaves it until its next wakeup.
//!
//! An epoll fd with no stack socket ever added has no instance: its calls
//! go straight to the kernel after one atomic load.

use super::Deadline;
use super::interest_list::{Ctl, Eventfd, InstanceId, SharedInstance};
use super::observe;
use crate::runtime;
use crate::shared::header::Guard;
use crate::shim::errno::{errno, fail};
use crate::shim::fd_table;
use crate::shim::guard::guard;
use crate::stack::SocketHandle;
use crate::stack::socket::Watcher;
use crate::sys::event::{eventfd, eventfd_add, eventfd_take};
use crate::sys::fdbits::FdBits;
use crate::sys::private_fd::PrivateFd;
use crate::sys::real;
use crate::sys::signal::Blocked;
use crate::sys::sync::RwLock;
use libc::{c_int, epoll_event, sigset_t};
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// `epoll_event.data` of an instance's eventfd in the kernel set: events
/// carrying it are ours and never reach the program. ("tapstack" in ASCII,
/// with the top bit flipped: not a pointer, not a small fd number.)
const TOKEN: u64 = 0xf461_7073_7461_636b;

/// The epoll fds that have an [`Instance`].
static HAS_INSTANCE: FdBits = FdBits::new();

/// The instances, by epoll fd.
static INSTANCES: RwLock<Option<HashMap<c_int, Arc<Instance>>>> = RwLock::new(None);

/// Whether epoll fd `epfd` has stack sockets (one atomic load).
#[inline]
pub fn has_instance(epfd: c_int) -> bool {
    HAS_INSTANCE.contains(epfd)
}

/// The epoll fds from `first` to `last` that have stack sockets.
pub fn instances_in_range(first: u32, last: u32) -> Vec<c_int> {
    HAS_INSTANCE.in_range(first, last)
}

fn instance(epfd: c_int) -> Option<Arc<Instance>> {
    if !has_instance(epfd) {
        return None;
    }
    INSTANCES.read().as_ref()?.get(&epfd).cloned()
}

/// Forgets the stack side of epoll fd `fd` in this process (it was
/// closed, or the number now names a new epoll instance). The instance
/// itself ends when no process holds it. The close path calls this.
pub fn forget(fd: c_int) {
    if !HAS_INSTANCE.remove(fd) {
        return;
    }
    let gone = INSTANCES.write().as_mut().and_then(|m| m.remove(&fd));
    if let Some(inst) = gone {
        runtime::watchers::drop_epoll(inst.id);
        if let Some(rt) = runtime::get() {
            let slot = rt.slot();
            rt.lock().epolls().unhold(inst.id, slot);
        }
    }
}

/// This process's copy of one epoll instance with stack sockets.
pub struct Instance {
    epfd: c_int,
    /// In the kernel set under [`TOKEN`]; after `fork` the same eventfd in
    /// every process that holds the instance.
    event: PrivateFd,
    /// The instance's number in the region's table.
    id: InstanceId,
    /// The table's entry for it, whose `pending` flag is read without the
    /// lock (the entry stays while this process holds the instance).
    shared: usize,
}

impl Watcher for Instance {
    /// The instance has events: makes the eventfd readable (the handle is
    /// not a socket's).
    fn wake(&self, _: SocketHandle) {
        // A raw write: the library's own `write` must not see it.
        let _ = eventfd_add(&self.event, 1);
    }
}

impl Instance {
    /// Whether the ready list may hold something, without the lock.
    fn pending(&self) -> bool {
        // SAFETY: the entry lives in the region, mapped for as long as the
        // runtime, and is not freed while this process holds the instance;
        // its flag is atomic.
        unsafe { (*(self.shared as *const SharedInstance)).pending() }
    }

    /// Watches `pending` for up to `us` microseconds (not past
    /// `deadline`); true when the ready list got something.
    fn spin(&self, us: u32, deadline: Deadline) -> bool {
        crate::runtime::spin_until(us, deadline.at(), || self.pending())
    }

    /// Does to the eventfd what the table asked, with the lock still held.
    fn apply(&self, action: Eventfd, _lock: &Guard) {
        match action {
            Eventfd::Leave => {}
            Eventfd::Raise => {
                let _ = eventfd_add(&self.event, 1);
            }
            Eventfd::Drain => {
                let _ = eventfd_take(&self.event);
            }
        }
    }

    /// Takes the events of ready stack sockets into `out`, under one stack
    /// lock; returns how many. Without candidates it takes no lock, unless
    /// `woken` (the kernel reported the eventfd: it must be drained when
    /// the list is empty).
    fn collect(&self, out: &mut [epoll_event], woken: bool) -> usize {
        if out.is_empty() || (!woken && !self.pending()) {
            return 0;
        }
        let Some(rt) = runtime::get() else {
            return 0;
        };
        let mut lock = rt.lock();
        let (stack, epolls) = lock.stack_and_epolls();
        let (n, action) =
            epolls.collect(self.id, out, woken, &mut |h, edge| observe(stack, h, edge));
        self.apply(action, &lock);
        n
    }

    /// Whether the kernel set still holds our eventfd: the epoll fd is
    /// still the one this instance was made for.
    fn still_valid(&self) -> Result<(), i32> {
        let mut ev = epoll_event {
            events: libc::EPOLLIN as u32,
            u64: TOKEN,
        };
        // SAFETY: `ev` is a valid epoll_event on this frame.
        let r = unsafe {
            real::epoll_ctl(
                self.epfd,
                libc::EPOLL_CTL_MOD,
                self.event.as_raw_fd(),
                &mut ev,
            )
        };
        if r < 0 { Err(errno()) } else { Ok(()) }
    }
}

/// Makes the instance of `epfd` (the first stack socket joins it). The
/// kernel checks `epfd` when our eventfd is added: `EBADF`, `EINVAL`.
fn create_instance(rt: &runtime::Runtime, epfd: c_int) -> Result<Arc<Instance>, i32> {
    let event = eventfd(0).map_err(|e| e.raw_os_error().unwrap_or(libc::ENOMEM))?;
    let mut ev = epoll_event {
        events: libc::EPOLLIN as u32,
        u64: TOKEN,
    };
    // SAFETY: `ev` is valid; both fds are integers the kernel checks.
    if unsafe { real::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, event.as_raw_fd(), &mut ev) } < 0 {
        return Err(errno());
    }
    if epfd < 0 || epfd as usize >= crate::sys::fdbits::MAX_FD {
        return Err(libc::EINVAL);
    }
    let (id, shared) = {
        let slot = rt.slot();
        let mut lock = rt.lock();
        let id = lock.epolls().create(slot);
        let ptr = lock.epolls().instance_ptr(id).ok_or(libc::ENOMEM)?;
        (id, ptr as usize)
    };
    let inst = Arc::new(Instance {
        epfd,
        event,
        id,
        shared,
    });
    let as_watcher: Arc<dyn Watcher> = inst.clone();
    runtime::watchers::hold_epoll(id, Arc::downgrade(&as_watcher));
    let old = INSTANCES
        .write()
        .get_or_insert_with(HashMap::new)
        .insert(epfd, inst.clone());
    if let Some(old) = old {
        runtime::watchers::drop_epoll(old.id);
    }
    HAS_INSTANCE.insert(epfd);
    Ok(inst)
}

/// `epoll_ctl` for a stack socket `fd`.
fn ctl_stack(epfd: c_int, op: c_int, fd: c_int, event: *mut epoll_event) -> Result<(), i32> {
    let op = match op {
        libc::EPOLL_CTL_ADD | libc::EPOLL_CTL_MOD => {
            if event.is_null() {
                return Err(libc::EFAULT);
            }
            // SAFETY: non-null; the caller's epoll_event (packed: read by
            // value).
            let ev = unsafe { std::ptr::read_unaligned(event) };
            let (events, data) = (ev.events, ev.u64);
            if op == libc::EPOLL_CTL_ADD {
                Ctl::Add { events, data }
            } else {
                Ctl::Mod { events, data }
            }
        }
        libc::EPOLL_CTL_DEL => Ctl::Del,
        _ => return Err(libc::EINVAL),
    };
    let handle = fd_table::get(fd).ok_or(libc::EBADF)?.socket.handle;
    let rt = runtime::get().ok_or(libc::EBADF)?;
    let inst = match instance(epfd) {
        Some(inst) => match inst.still_valid() {
            Ok(()) => Some(inst),
            Err(e) => {
                // The number names another file now.
                forget(epfd);
                if e != libc::ENOENT {
                    return Err(e);
                }
                None
            }
        },
        None => None,
    };
    let inst = match inst {
        Some(inst) => inst,
        None if matches!(op, Ctl::Add { .. }) => create_instance(rt, epfd)?,
        None => {
            // No stack socket here: let the kernel give its answer
            // (EBADF, EINVAL, or ENOENT for our reserved fd, which is
            // never in a kernel set).
            // SAFETY: passed on unchanged.
            let r = unsafe { real::epoll_ctl(epfd, libc_op(op), fd, event) };
            return if r < 0 { Err(errno()) } else { Ok(()) };
        }
    };
    let mut lock = rt.lock();
    let action = lock.epolls().ctl(inst.id, (handle, fd), op)?;
    inst.apply(action, &lock);
    Ok(())
}

fn libc_op(op: Ctl) -> c_int {
    match op {
        Ctl::Add { .. } => libc::EPOLL_CTL_ADD,
        Ctl::Mod { .. } => libc::EPOLL_CTL_MOD,
        Ctl::Del => libc::EPOLL_CTL_DEL,
    }
}

/// Removes our eventfd's events from the first `n` of `events`; returns
/// how many are left and whether ours was among them.
fn strip_token(events: &mut [epoll_event], n: usize) -> (usize, bool) {
    let mut kept = 0;
    let mut ours = false;
    for i in 0..n {
        let ev = events[i];
        if ev.u64 != TOKEN {
            events[kept] = ev;
            kept += 1;
        } else {
            ours = true;
        }
    }
    (kept, ours)
}

/// `epoll_wait` on an instance with stack sockets.
fn wait_mixed(
    inst: &Instance,
    events: &mut [epoll_event],
    timeout: c_int,
    sigmask: *const sigset_t,
) -> Result<usize, i32> {
    let deadline = Deadline::from_millis(timeout);
    // Signals blocked once this call waits on the TAP, to the end of the
    // call; every wait after that uses the mask it would have used.
    let mut blocked: Option<Blocked> = None;
    let real_wait = |out: &mut [epoll_event],
                     ms: c_int,
                     blocked: &Option<Blocked>|
     -> Result<(usize, bool), i32> {
        let sigmask = blocked
            .as_ref()
            .map_or(sigmask, |b| b.wait_mask() as *const sigset_t);
        if out.is_empty() {
            return Ok((0, false));
        }
        // SAFETY: `out` is valid for `out.len()` events; `sigmask` is the
        // caller's.
        let r = unsafe {
            real::epoll_pwait(
                inst.epfd,
                out.as_mut_ptr(),
                out.len().min(i32::MAX as usize) as c_int,
                ms,
                sigmask,
            )
        };
        if r < 0 {
            return Err(errno());
        }
        Ok(strip_token(out, r as usize))
    };
    let rt = runtime::get();
    let spin_us = rt.map_or(0, |rt| rt.config().spin_us);
    let mut released = false;
    loop {
        let n = inst.collect(events, false);
        if n > 0 {
            let (k, _) = real_wait(&mut events[n..], 0, &blocked).unwrap_or((0, false));
            return Ok(n + k);
        }
        // Going to wait: what the program did not answer, it will not
        // answer at once (once a call: frames this wait reads may start
        // holds for the events it returns).
        if timeout != 0
            && !released
            && let Some(rt) = rt
        {
            released = true;
            rt.release_held_acks();
        }
        // The thread that waits reads the TAP meanwhile, when it may
        // (`runtime::reader`): the epoll fd joins its `ppoll` set, and
        // the frame that makes a socket ready puts it on the ready list
        // from this thread.
        if timeout != 0
            && let Some(rt) = rt
            && (blocked.is_some() || rt.event_loops_read())
        {
            let mut epfd = [libc::pollfd {
                fd: inst.epfd,
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: the caller's mask, valid for the call when not null.
            let signals = blocked.get_or_insert_with(|| Blocked::new(unsafe { sigmask.as_ref() }));
            match rt.wait_ready(&mut epfd, deadline.at(), signals, &mut || inst.pending()) {
                Some(Ok(())) => {
                    let (k, woken) = if epfd[0].revents != 0 {
                        real_wait(events, 0, &blocked)?
                    } else {
                        (0, false)
                    };
                    let n = k + inst.collect(&mut events[k..], woken);
                    if n > 0 {
                        return Ok(n);
                    }
                    if deadline.expired() {
                        return Ok(0);
                    }
                    continue;
                }
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
        // `TAPSTACK_SPIN_US`: watch the ready list before sleeping (kernel
        // fds in the set are seen when the spin ends).
        if spin_us > 0 && timeout != 0 && inst.spin(spin_us, deadline) {
            continue;
        }
        let (k, woken) = real_wait(events, deadline.remaining_millis(), &blocked)?;
        let n = k + inst.collect(&mut events[k..], woken);
        if n > 0 {
            return Ok(n);
        }
        if deadline.expired() {
            return Ok(0);
        }
    }
}

/// The body of `epoll_wait` and `epoll_pwait`.
///
/// # Safety
/// `events` is valid for `maxevents` events.
unsafe fn wait(
    epfd: c_int,
    events: *mut epoll_event,
    maxevents: c_int,
    timeout: c_int,
    sigmask: *const sigset_t,
) -> c_int {
    // SAFETY: the caller's contract, passed on.
    let n = unsafe { wait_once(epfd, events, maxevents, timeout, sigmask) };
    crate::runtime::transmit::note_epoll_ready(n.max(0) as usize);
    n
}

/// [`wait`]'s work.
///
/// # Safety
/// As `epoll_pwait(2)`.
unsafe fn wait_once(
    epfd: c_int,
    events: *mut epoll_event,
    maxevents: c_int,
    timeout: c_int,
    sigmask: *const sigset_t,
) -> c_int {
    let Some(inst) = instance(epfd) else {
        // SAFETY: passed on unchanged.
        return unsafe { real::epoll_pwait(epfd, events, maxevents, timeout, sigmask) };
    };
    if maxevents <= 0 {
        return fail(libc::EINVAL);
    }
    if events.is_null() {
        return fail(libc::EFAULT);
    }
    // SAFETY: the caller's array of `maxevents` events.
    let out = unsafe { std::slice::from_raw_parts_mut(events, maxevents as usize) };
    match wait_mixed(&inst, out, timeout, sigmask) {
        Ok(n) => n as c_int,
        Err(e) => fail(e),
    }
}

/// `tapstack_epoll_create1`: `epoll_create1(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn tapstack_epoll_create1(flags: c_int) -> c_int {
    epoll_create1(flags)
}

/// `tapstack_epoll_ctl`: `epoll_ctl(2)` for stack sockets and kernel fds.
///
/// # Safety
/// `event` is NULL or valid, as for `epoll_ctl(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tapstack_epoll_ctl(
    epfd: c_int,
    op: c_int,
    fd: c_int,
    event: *mut epoll_event,
) -> c_int {
    // SAFETY: the same contract.
    unsafe { epoll_ctl(epfd, op, fd, event) }
}

/// `tapstack_epoll_wait`: `epoll_wait(2)` over stack sockets and kernel
/// fds.
///
/// # Safety
/// `events` is valid for `maxevents` `struct epoll_event`s.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn tapstack_epoll_wait(
    epfd: c_int,
    events: *mut epoll_event,
    maxevents: c_int,
    timeout: c_int,
) -> c_int {
    // SAFETY: the same contract.
    unsafe { epoll_wait(epfd, events, maxevents, timeout) }
}

/// `epoll_create(2)`: `size` must be positive and is otherwise ignored.
#[unsafe(no_mangle)]
pub extern "C" fn epoll_create(size: c_int) -> c_int {
    guard("epoll_create", || {
        if size <= 0 {
            return fail(libc::EINVAL);
        }
        create1(0)
    })
}

/// `epoll_create1(2)`. Every call is the kernel's; a number that named a
/// closed epoll fd of ours starts afresh.
#[unsafe(no_mangle)]
pub extern "C" fn epoll_create1(flags: c_int) -> c_int {
    guard("epoll_create1", || create1(flags))
}

fn create1(flags: c_int) -> c_int {
    // SAFETY: an integer argument.
    let fd = unsafe { real::epoll_create1(flags) };
    forget(fd);
    fd
}

posix! {
    /// `epoll_ctl(2)`: a stack socket joins the instance's stack side; any
    /// other fd goes to the kernel.
    ///
    /// # Safety
    /// As `epoll_ctl(2)`.
    fn epoll_ctl(epfd: c_int, op: c_int, fd: c_int, event: *mut epoll_event) -> c_int
    where fd_table::is_ours(fd) => match ctl_stack(epfd, op, fd, event) {
        Ok(()) => 0,
        Err(e) => fail(e),
    };

    /// `epoll_wait(2)`. No stack socket in the instance: the real call,
    /// outside the guard.
    ///
    /// # Safety
    /// As `epoll_wait(2)`.
    fn epoll_wait(epfd: c_int, events: *mut epoll_event, maxevents: c_int, timeout: c_int) -> c_int
    where has_instance(epfd) => {
        // SAFETY: the caller's contract.
        unsafe { wait(epfd, events, maxevents, timeout, std::ptr::null()) }
    };

    /// `epoll_pwait(2)`: the signal mask is in force during the wait.
    ///
    /// # Safety
    /// As `epoll_pwait(2)`.
    fn epoll_pwait(
        epfd: c_int,
        events: *mut epoll_event,
        maxevents: c_int,
        timeout: c_int,
        sigmask: *const sigset_t,
    ) -> c_int
    where has_instance(epfd) => {
        // SAFETY: the caller's contract.
        unsafe { wait(epfd, events, maxevents, timeout, sigmask) }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_events_are_stripped() {
        let ev = |u| epoll_event { events: 1, u64: u };
        let mut evs = [ev(1), ev(TOKEN), ev(3), ev(TOKEN)];
        assert_eq!(strip_token(&mut evs, 4), (2, true));
        let (a, b) = (evs[0].u64, evs[1].u64);
        assert_eq!((a, b), (1, 3));
    }

    #[test]
    fn kernel_only_sets_pass_through() {
        let ep = tapstack_epoll_create1(libc::EPOLL_CLOEXEC);
        assert!(ep >= 0);
        assert!(!has_instance(ep));
        let efd = eventfd(1).unwrap();
        let mut ev = epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 42,
        };
        // SAFETY: valid fds and event.
        unsafe {
            assert_eq!(
                tapstack_epoll_ctl(ep, libc::EPOLL_CTL_ADD, efd.as_raw_fd(), &mut ev),
                0
            );
            let mut out = [epoll_event { events: 0, u64: 0 }; 4];
            assert_eq!(tapstack_epoll_wait(ep, out.as_mut_ptr(), 4, 0), 1);
            let d = out[0].u64;
            assert_eq!(d, 42);
            assert_eq!(real::close(ep), 0);
        }
    }

    #[test]
    fn epoll_create_rejects_bad_size() {
        assert_eq!(epoll_create(0), -1);
        assert_eq!(crate::shim::errno::errno(), libc::EINVAL);
    }
}
