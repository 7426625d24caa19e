//! `epoll_create`, `epoll_create1`, `epoll_ctl`, `epoll_wait`,
//! `epoll_pwait`.
//!
//! Every epoll instance is a real kernel epoll fd, so kernel fds in the set
//! just work and an epoll fd can sit in another epoll or `poll` set. When
//! the first stack socket joins an instance, it gets an [`Instance`]: the
//! interest list of its stack sockets, a ready list, and an eventfd
//! registered in the kernel set. The instance is a [`Watcher`] on each of
//! its sockets' wait queues: a wakeup puts the socket on the ready list and,
//! if the list was empty, makes the eventfd readable, which ends a real
//! `epoll_wait` blocked on the kernel fd (and makes the epoll fd readable to
//! an outer set).
//!
//! `epoll_wait` evaluates only the sockets on the ready list, under one
//! stack lock (no work per wakeup proportional to the set's size). A
//! level-triggered socket that was reported stays on the list and is looked
//! at again next time; one found not ready leaves it until its next wakeup.
//!
//! An epoll fd with no stack socket ever added has no instance: its calls
//! go straight to the kernel after one atomic load.

use super::mask::{self, EXCLUSIVE, Interest, ONESHOT};
use super::{Deadline, observe};
use crate::runtime;
use crate::shim::errno::{errno, fail};
use crate::shim::fd_table::{self, OpenSocket};
use crate::shim::guard::guard;
use crate::stack::SocketHandle;
use crate::stack::socket::Watcher;
use crate::sys::event::{eventfd, eventfd_add, eventfd_take};
use crate::sys::fdbits::FdBits;
use crate::sys::private_fd::PrivateFd;
use crate::sys::real;
use crate::sys::sync::{Mutex, RwLock};
use libc::{c_int, epoll_event, sigset_t};
use std::collections::{HashMap, VecDeque};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Weak};

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

/// Forgets the stack side of epoll fd `fd` (it was closed, or the number
/// now names a new epoll instance). The close path calls this.
pub fn forget(fd: c_int) {
    if !HAS_INSTANCE.remove(fd) {
        return;
    }
    let gone = INSTANCES.write().as_mut().and_then(|m| m.remove(&fd));
    if let Some(inst) = gone {
        inst.unwatch_all();
    }
}

/// One stack socket in an instance's interest list, keyed by fd.
struct Member {
    /// The open socket the fd referred to when added. Linux drops the item
    /// when the file is closed: a dead `Weak` here.
    socket: Weak<OpenSocket>,
    interest: Interest,
    /// Added with `EPOLLEXCLUSIVE`: `EPOLL_CTL_MOD` fails with `EINVAL`.
    exclusive: bool,
    /// On the ready list.
    queued: bool,
}

/// The fds of one socket in the set, and its wait queue we watch.
struct Watched {
    fds: Vec<c_int>,
}

#[derive(Default)]
struct Inner {
    members: HashMap<c_int, Member>,
    by_handle: HashMap<SocketHandle, Watched>,
    ready: VecDeque<c_int>,
    /// The eventfd has been made readable and not drained since.
    signalled: bool,
}

/// The stack side of one epoll instance.
pub struct Instance {
    epfd: c_int,
    event: PrivateFd,
    me: Weak<Instance>,
    inner: Mutex<Inner>,
}

impl Watcher for Instance {
    fn wake(&self, h: SocketHandle) {
        let mut inner = self.inner.lock();
        let Inner {
            members,
            by_handle,
            ready,
            ..
        } = &mut *inner;
        if let Some(w) = by_handle.get(&h) {
            for fd in &w.fds {
                if let Some(m) = members.get_mut(fd)
                    && !m.queued
                {
                    m.queued = true;
                    ready.push_back(*fd);
                }
            }
        }
        self.signal(&mut inner);
    }
}

impl Instance {
    /// Makes the eventfd readable if the ready list has something and it
    /// is not already; drains it if the list is empty.
    fn signal(&self, inner: &mut Inner) {
        if !inner.ready.is_empty() && !inner.signalled {
            inner.signalled = true;
            // A raw write: the library's own `write` must not see it.
            let _ = eventfd_add(&self.event, 1);
        } else if inner.ready.is_empty() && inner.signalled {
            inner.signalled = false;
            let _ = eventfd_take(&self.event);
        }
    }

    fn watcher(&self) -> Weak<dyn Watcher> {
        self.me.clone()
    }

    fn unwatch_all(&self) {
        let me = self.watcher();
        let inner = self.inner.lock();
        for h in inner.by_handle.keys() {
            runtime::watchers::unwatch(*h, &me);
        }
    }

    /// Removes member `fd`; stops watching its socket when it was the last
    /// fd of it.
    fn remove(&self, inner: &mut Inner, fd: c_int) {
        let Some(m) = inner.members.remove(&fd) else {
            return;
        };
        let h = m.interest.handle;
        if let Some(w) = inner.by_handle.get_mut(&h) {
            w.fds.retain(|&f| f != fd);
            if w.fds.is_empty() && inner.by_handle.remove(&h).is_some() {
                runtime::watchers::unwatch(h, &self.watcher());
            }
        }
        if m.queued {
            inner.ready.retain(|&f| f != fd);
        }
    }

    /// Takes the events of ready stack sockets into `out`, under one stack
    /// lock; returns how many. Without candidates it takes no stack lock.
    fn collect(&self, out: &mut [epoll_event]) -> usize {
        let mut inner = self.inner.lock();
        if inner.ready.is_empty() || out.is_empty() {
            self.signal(&mut inner);
            return 0;
        }
        let mut n = 0;
        let mut stays = Vec::new();
        let mut dead = Vec::new();
        {
            let rt = runtime::get();
            let stack = rt.map(|rt| rt.lock());
            let Inner { members, ready, .. } = &mut *inner;
            while n < out.len() {
                let Some(fd) = ready.pop_front() else { break };
                let Some(m) = members.get_mut(&fd) else {
                    continue;
                };
                m.queued = false;
                if m.socket.strong_count() == 0 {
                    dead.push(fd);
                    continue;
                }
                let now = match &stack {
                    Some(s) => observe(s, m.interest.handle, m.interest.edge()),
                    None => mask::Observation {
                        mask: mask::ERR | mask::HUP,
                        ..Default::default()
                    },
                };
                let (revents, stay) = m.interest.evaluate(now);
                if let Some(ev) = revents {
                    out[n] = epoll_event {
                        events: ev,
                        u64: m.interest.data,
                    };
                    n += 1;
                }
                if stay {
                    stays.push(fd);
                }
            }
            for fd in stays {
                if let Some(m) = members.get_mut(&fd) {
                    m.queued = true;
                    ready.push_back(fd);
                }
            }
        }
        for fd in dead {
            self.remove(&mut inner, fd);
        }
        self.signal(&mut inner);
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
fn create_instance(epfd: c_int) -> Result<Arc<Instance>, i32> {
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
    let inst = Arc::new_cyclic(|me| Instance {
        epfd,
        event,
        me: me.clone(),
        inner: Mutex::new(Inner::default()),
    });
    let old = INSTANCES
        .write()
        .get_or_insert_with(HashMap::new)
        .insert(epfd, inst.clone());
    if let Some(old) = old {
        old.unwatch_all();
    }
    HAS_INSTANCE.insert(epfd);
    Ok(inst)
}

/// `epoll_ctl` for a stack socket `fd`.
fn ctl_stack(epfd: c_int, op: c_int, fd: c_int, event: *mut epoll_event) -> Result<(), i32> {
    if !matches!(
        op,
        libc::EPOLL_CTL_ADD | libc::EPOLL_CTL_MOD | libc::EPOLL_CTL_DEL
    ) {
        return Err(libc::EINVAL);
    }
    let wanted = if op == libc::EPOLL_CTL_DEL {
        None
    } else if event.is_null() {
        return Err(libc::EFAULT);
    } else {
        // SAFETY: non-null; the caller's epoll_event (packed: read by value).
        let ev = unsafe { std::ptr::read_unaligned(event) };
        Some((ev.events, ev.u64))
    };
    let entry = fd_table::get(fd).ok_or(libc::EBADF)?;
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
        None if op == libc::EPOLL_CTL_ADD => create_instance(epfd)?,
        None => {
            // No stack socket here: let the kernel give its answer
            // (EBADF, EINVAL, or ENOENT for our reserved fd, which is
            // never in a kernel set).
            // SAFETY: passed on unchanged.
            let r = unsafe { real::epoll_ctl(epfd, op, fd, event) };
            return if r < 0 { Err(errno()) } else { Ok(()) };
        }
    };
    let socket = Arc::downgrade(&entry.socket);
    let handle = entry.socket.handle;
    let mut inner = inst.inner.lock();
    // An item whose file is gone, or whose number names another socket
    // now, is not the one the program means.
    let existing = inner
        .members
        .get(&fd)
        .is_some_and(|m| Weak::ptr_eq(&m.socket, &socket));
    if !existing && inner.members.contains_key(&fd) {
        inst.remove(&mut inner, fd);
    }
    match (op, wanted) {
        (libc::EPOLL_CTL_ADD, Some((events, data))) => {
            if existing {
                return Err(libc::EEXIST);
            }
            if events & EXCLUSIVE != 0 && events & ONESHOT != 0 {
                return Err(libc::EINVAL);
            }
            if let Some(w) = inner.by_handle.get_mut(&handle) {
                w.fds.push(fd);
            } else {
                // The wait queue needs the stack lock, which is never
                // taken under an instance's lock.
                drop(inner);
                let rt = runtime::get().ok_or(libc::EBADF)?;
                let queue = rt.lock().wait_word(handle).ok_or(libc::EBADF)?;
                inner = inst.inner.lock();
                match inner.by_handle.get_mut(&handle) {
                    // Another thread added a dup of it meanwhile.
                    Some(w) => w.fds.push(fd),
                    None => {
                        runtime::watchers::watch(rt.slot(), handle, &queue, inst.watcher());
                        let fds = vec![fd];
                        inner.by_handle.insert(handle, Watched { fds });
                    }
                }
            }
            inner.members.insert(
                fd,
                Member {
                    socket,
                    interest: Interest::new(handle, events, data),
                    exclusive: events & EXCLUSIVE != 0,
                    queued: true,
                },
            );
            inner.ready.push_back(fd);
        }
        (libc::EPOLL_CTL_MOD, Some((events, data))) => {
            if !existing {
                return Err(libc::ENOENT);
            }
            let m = inner.members.get_mut(&fd).ok_or(libc::ENOENT)?;
            if events & EXCLUSIVE != 0 || m.exclusive {
                return Err(libc::EINVAL);
            }
            m.interest = Interest::new(handle, events, data);
            if !m.queued {
                m.queued = true;
                inner.ready.push_back(fd);
            }
        }
        _ => {
            if !existing {
                return Err(libc::ENOENT);
            }
            inst.remove(&mut inner, fd);
        }
    }
    inst.signal(&mut inner);
    Ok(())
}

/// Removes our eventfd's events from the first `n` of `events`; returns
/// how many are left.
fn strip_token(events: &mut [epoll_event], n: usize) -> usize {
    let mut kept = 0;
    for i in 0..n {
        let ev = events[i];
        if ev.u64 != TOKEN {
            events[kept] = ev;
            kept += 1;
        }
    }
    kept
}

/// `epoll_wait` on an instance with stack sockets.
fn wait_mixed(
    inst: &Instance,
    events: &mut [epoll_event],
    timeout: c_int,
    sigmask: *const sigset_t,
) -> Result<usize, i32> {
    let deadline = Deadline::from_millis(timeout);
    let real_wait = |out: &mut [epoll_event], ms: c_int| -> Result<usize, i32> {
        if out.is_empty() {
            return Ok(0);
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
    loop {
        let n = inst.collect(events);
        if n > 0 {
            let k = real_wait(&mut events[n..], 0).unwrap_or(0);
            return Ok(n + k);
        }
        let k = real_wait(events, deadline.remaining_millis())?;
        if k > 0 {
            return Ok(k + inst.collect(&mut events[k..]));
        }
        if deadline.expired() {
            return Ok(inst.collect(events));
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
        assert_eq!(strip_token(&mut evs, 4), 2);
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
