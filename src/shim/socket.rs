//! The POSIX-named socket calls that make and unmake fds: `socket`,
//! `close`, `close_range`, `closefrom`, `dup`, `dup2`, `dup3`.
//!
//! These names stay out of `include/tapstack.h` (see `cbindgen.toml`), so the
//! header can be included next to `<sys/socket.h>`.
//!
//! Every stack socket sits on a real kernel fd (an eventfd, always
//! close-on-exec in the kernel), so fd numbers are the kernel's. `dup`s are
//! made by the kernel from that fd, and the new number is registered with
//! the same [`OpenSocket`].
//!
//! The library's own fds ([`crate::sys::private_fd`]) are not the
//! program's: closing one fails with `EBADF` and leaves it open, a range
//! closed around it spares it, and a `dup2` onto one moves ours away first.

use super::errno::{Errno, errno, fail, ret};
use super::fd_table::{self, Entry, OpenSocket};
use super::guard::guard;
use super::inet6::Inet6;
use crate::runtime::{self, Runtime};
use crate::shim::readiness::epoll;
use crate::stack::SocketHandle;
use crate::sys::clock::monotonic_now;
use crate::sys::event::FutexWait;
use crate::sys::private_fd;
use crate::sys::real;
use crate::tcp::State;
use crate::time::Duration;
use libc::{c_int, c_uint};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// The `socket()` calls the stack serves: TCP over `AF_INET`, and over
/// `AF_INET6` as a dual-stack socket (see [`super::inet6`]).
fn is_tcp(domain: c_int, ty: c_int, protocol: c_int) -> bool {
    (domain == libc::AF_INET || domain == libc::AF_INET6)
        && ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) == libc::SOCK_STREAM
        && (protocol == 0 || protocol == libc::IPPROTO_TCP)
}

/// `socket(2)`: TCP sockets (`AF_INET`, and `AF_INET6` as dual-stack
/// sockets) are the stack's, starting it on first use; every other socket
/// is the kernel's, and at `TAPSTACK_LOG=info` each kind of those is named
/// once, so a user sees what went to the kernel.
///
/// # Safety
/// None beyond libc's: the arguments are integers.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    if !is_tcp(domain, ty, protocol) {
        if kernel_sockets_logged() {
            let _: c_int = guard("socket", || {
                note_kernel_socket(domain, ty, protocol);
                0
            });
        }
        // SAFETY: passed on unchanged, under libc's contract.
        return unsafe { real::socket(domain, ty, protocol) };
    }
    guard("socket", || ret(new_socket(domain, ty)))
}

/// Whether kernel sockets are named: `TAPSTACK_LOG` at `info` or more. Read
/// from the environment once (a program may open a UDP socket before the
/// stack starts and sets the logger's level).
fn kernel_sockets_logged() -> bool {
    use crate::runtime::log::LogLevel;
    // 0: not read yet, 1: no, 2: yes.
    static STATE: AtomicU8 = AtomicU8::new(0);
    match STATE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let on = crate::runtime::log::enabled(LogLevel::Info)
                || std::env::var("TAPSTACK_LOG")
                    .ok()
                    .and_then(|v| v.parse::<LogLevel>().ok())
                    .is_some_and(|l| l >= LogLevel::Info);
            STATE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
    }
}

/// Says, once per family and type, that a socket went to the kernel.
fn note_kernel_socket(domain: c_int, ty: c_int, protocol: c_int) {
    static SEEN: crate::sys::sync::Mutex<Vec<(c_int, c_int)>> =
        crate::sys::sync::Mutex::new(Vec::new());
    let ty = ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
    {
        let mut seen = SEEN.lock();
        if seen.contains(&(domain, ty)) {
            return;
        }
        seen.push((domain, ty));
    }
    let family = match domain {
        libc::AF_INET => "AF_INET".to_string(),
        libc::AF_INET6 => "AF_INET6".to_string(),
        libc::AF_UNIX => "AF_UNIX".to_string(),
        libc::AF_NETLINK => "AF_NETLINK".to_string(),
        libc::AF_PACKET => "AF_PACKET".to_string(),
        d => format!("family {d}"),
    };
    let kind = match ty {
        libc::SOCK_STREAM => "SOCK_STREAM".to_string(),
        libc::SOCK_DGRAM => "SOCK_DGRAM".to_string(),
        libc::SOCK_RAW => "SOCK_RAW".to_string(),
        libc::SOCK_SEQPACKET => "SOCK_SEQPACKET".to_string(),
        t => format!("type {t}"),
    };
    crate::runtime::log::write(
        crate::runtime::log::LogLevel::Info,
        format_args!(
            "socket({family}, {kind}, {protocol}) goes to the kernel's stack: \
             tapstack takes TCP sockets (AF_INET and AF_INET6) only"
        ),
    );
}

/// Starts the stack if needed and reserves the fd of a new stack socket of
/// `domain` (`AF_INET` or `AF_INET6`).
pub(crate) fn new_socket(domain: c_int, ty: c_int) -> Errno<c_int> {
    let rt = runtime::ensure_started()?;
    let fd = reserve_fd(ty & libc::SOCK_CLOEXEC != 0)?;
    let handle = rt.lock().socket();
    let inet6 = (domain == libc::AF_INET6).then(Inet6::new);
    install(
        rt,
        fd,
        handle,
        ty & libc::SOCK_NONBLOCK != 0,
        ty & libc::SOCK_CLOEXEC != 0,
        inet6,
    )
}

/// Makes `fd` (a freshly reserved fd) stand for the stack socket `handle`.
/// On failure the fd is closed and the socket released.
pub(crate) fn install(
    rt: &'static Runtime,
    fd: c_int,
    handle: SocketHandle,
    nonblocking: bool,
    cloexec: bool,
    inet6: Option<Inet6>,
) -> Errno<c_int> {
    let entry = Entry {
        socket: OpenSocket::new_in(handle, Some(rt), nonblocking, inet6),
        cloexec,
    };
    if let Err(e) = fd_table::insert(fd, entry) {
        // SAFETY: `fd` is the eventfd we just opened and nobody else has.
        unsafe { real::close(fd) };
        return Err(e);
    }
    Ok(fd)
}

/// This process lets go of the stack socket `handle`: no fd of this
/// process refers to it any more (called from [`OpenSocket`]'s `Drop`).
/// The socket is closed when no other process holds it either, as
/// `close(2)` closes a file when its open file description's last
/// reference goes.
pub(crate) fn release(rt: &'static Runtime, handle: SocketHandle) {
    if rt.health().is_err() {
        return;
    }
    let mut stack = rt.lock();
    if !crate::runtime::process::let_go(&mut stack, rt, handle) {
        rt.finish(stack);
        return;
    }
    let linger = stack
        .options(handle)
        .ok()
        .and_then(|o| o.linger)
        .filter(|t| !t.is_zero());
    stack.close(handle);
    rt.finish(stack);
    if let Some(t) = linger {
        linger_wait(rt, handle, t);
    }
}

/// `SO_LINGER` with a time: the last `close` waits, at most that long,
/// until the peer has acknowledged our FIN, as Linux's `tcp_close` does
/// (`sk_stream_wait_close`: while FIN-WAIT-1, CLOSING or LAST-ACK). Also
/// for a non-blocking socket, as on Linux. A signal ends the wait early;
/// either way `close` succeeds and the connection goes on delivering in the
/// background (Linux does not discard the data when the time runs out).
fn linger_wait(rt: &'static Runtime, handle: SocketHandle, time: Duration) {
    let deadline = monotonic_now() + time;
    loop {
        let stack = rt.lock();
        let Some(wait) = stack.wait_word(handle) else {
            return;
        };
        let seen = wait.word.load(Ordering::Acquire);
        let closing = matches!(
            stack.state(handle),
            Ok(State::FinWait1 | State::Closing | State::LastAck)
        );
        drop(stack);
        let now = monotonic_now();
        if !closing || now >= deadline {
            return;
        }
        let left = deadline.saturating_duration_since(now);
        match crate::runtime::sleep_on(&wait, seen, Some(left)) {
            FutexWait::Interrupted | FutexWait::TimedOut => return,
            FutexWait::Woken | FutexWait::Changed => {}
        }
    }
}

/// A real kernel fd to stand for a stack socket: an eventfd, small,
/// closable and pollable; close-on-exec when the program asked for
/// `SOCK_CLOEXEC` (as the kernel's socket would be, and with no second
/// system call to set it).
pub(crate) fn reserve_fd(cloexec: bool) -> Errno<c_int> {
    let flags = libc::EFD_NONBLOCK | if cloexec { libc::EFD_CLOEXEC } else { 0 };
    // SAFETY: integer arguments.
    let fd = unsafe { real::eventfd(0, flags) };
    if fd < 0 { Err(errno()) } else { Ok(fd) }
}

/// The open socket behind one of our fds (`EBADF` if another thread
/// closed it meanwhile).
pub(crate) fn lookup(fd: c_int) -> Errno<Arc<OpenSocket>> {
    fd_table::get(fd).map(|e| e.socket).ok_or(libc::EBADF)
}

/// Whether closing (or `dup2`-ing onto) `fd` concerns the library: a
/// stack socket, one of the library's own fds, or an epoll fd with stack
/// sockets in it (state of ours to drop). Three atomic loads.
fn closing_concerns_us(fd: c_int) -> bool {
    fd_table::is_ours(fd) || private_fd::is_private(fd) || epoll::has_instance(fd)
}

posix! {
    /// `close(2)`: a stack socket is forgotten and its reserved fd closed;
    /// one of the library's own fds is left alone and reads as closed
    /// (`EBADF`); an epoll fd forgets its stack sockets; any other fd goes
    /// to the kernel.
    ///
    /// # Safety
    /// None beyond libc's.
    fn close(fd: c_int) -> c_int
    where closing_concerns_us(fd) => {
        if private_fd::is_private(fd) {
            return fail(libc::EBADF);
        }
        epoll::forget(fd);
        // Dropping the entry releases the stack socket when this was the
        // last fd that referred to it (and no call in another thread still
        // uses it).
        drop(fd_table::remove(fd));
        // SAFETY: closing an fd is always memory-safe.
        unsafe { real::close(fd) }
    };
}

/// `close_range(2)` (glibc 2.34): as the kernel's, but the library's own
/// fds in the range stay open (the program never had them), and the stack
/// sockets in it are closed as `close` closes them.
///
/// # Safety
/// None beyond libc's: the arguments are integers.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    guard("close_range", || {
        ret(close_fds(first, last, flags).map(|()| 0 as c_int))
    })
}

/// `closefrom(3)` (glibc 2.34): closes every fd from `lowfd` up, as
/// `close_range(lowfd, ~0U, 0)`, but the library's own.
///
/// # Safety
/// None beyond libc's.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn closefrom(lowfd: c_int) {
    let low = lowfd.max(0) as c_uint;
    let _: c_int = guard("closefrom", || {
        if close_fds(low, c_uint::MAX, 0).is_err() {
            // No close_range(2) (Linux before 5.9): one fd at a time, up to
            // the fd limit, as glibc falls back to.
            let limit = crate::sys::nofile_soft_limit()
                .unwrap_or(fd_table::MAX_FD as u64)
                .min(fd_table::MAX_FD as u64) as c_int;
            for fd in (low as c_int)..limit {
                // SAFETY: closing an fd is memory-safe.
                unsafe { close(fd) };
            }
        }
        0
    });
}

/// The kernel's `close_range` from `first` to `last`, around the
/// library's own fds; the stack sockets and epoll instances in the range
/// are forgotten first (with `CLOSE_RANGE_CLOEXEC`, only marked).
fn close_fds(first: c_uint, last: c_uint, flags: c_int) -> Errno<()> {
    let known = (libc::CLOSE_RANGE_UNSHARE | libc::CLOSE_RANGE_CLOEXEC) as c_int;
    if first > last || flags & !known != 0 {
        return Err(libc::EINVAL);
    }
    if flags & libc::CLOSE_RANGE_CLOEXEC as c_int != 0 {
        // Nothing is closed. The library's fds are close-on-exec already,
        // and so are the stack sockets' reserved fds; the program's flag of
        // a stack socket is the table's.
        for fd in fd_table::ours_in_range(first, last) {
            fd_table::set_cloexec(fd, true);
        }
        return kernel_close_range(first, last, flags);
    }
    // Outside any lock: the last close of a socket with SO_LINGER waits.
    for fd in fd_table::ours_in_range(first, last) {
        drop(fd_table::remove(fd));
    }
    for fd in crate::shim::readiness::epoll::instances_in_range(first, last) {
        crate::shim::readiness::epoll::forget(fd);
    }
    private_fd::with_numbers_fixed(|| {
        let mut from = first;
        for own in private_fd::PRIVATE.in_range(first, last) {
            let own = own as c_uint;
            if own > from {
                kernel_close_range(from, own - 1, flags)?;
            }
            from = own + 1;
        }
        // `from` passed `last` only when `last` itself is ours (never
        // c_uint::MAX: our fds are below MAX_FD).
        if from <= last {
            kernel_close_range(from, last, flags)?;
        }
        Ok(())
    })
}

fn kernel_close_range(first: c_uint, last: c_uint, flags: c_int) -> Errno<()> {
    // SAFETY: integer arguments; closing fds is memory-safe.
    if unsafe { real::close_range(first, last, flags) } < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Registers `new` (a kernel duplicate of `old`, made close-on-exec) as
/// the same open socket, its `FD_CLOEXEC` then set as the program asked,
/// so that a duplicate without it survives `exec`.
fn register_dup(new: c_int, socket: Arc<OpenSocket>, cloexec: bool) -> Errno<c_int> {
    if !cloexec {
        let _ = crate::sys::set_cloexec(new, false);
    }
    if let Err(e) = fd_table::insert(new, Entry { socket, cloexec }) {
        // SAFETY: our own fresh duplicate.
        unsafe { real::close(new) };
        return Err(e);
    }
    Ok(new)
}

/// `dup`/`F_DUPFD`/`F_DUPFD_CLOEXEC` of one of our fds: the kernel picks
/// the lowest free number at or above `min`.
pub(crate) fn dup_ours(fd: c_int, min: c_int, cloexec: bool) -> Errno<c_int> {
    let socket = lookup(fd)?;
    // Close-on-exec until registered (an `exec` in another thread meanwhile
    // takes no half-made socket); `register_dup` then sets the program's
    // flag.
    // SAFETY: integer arguments.
    let new = unsafe { real::fcntl(fd, libc::F_DUPFD_CLOEXEC, min as libc::c_ulong) };
    if new < 0 {
        return Err(errno());
    }
    register_dup(new, socket, cloexec)
}

/// `dup2`/`dup3` when `old` or `new` may be ours or the library's. A
/// library fd at `new` is given another number first: the program may have
/// any number below its limit.
fn dup_onto(old: c_int, new: c_int, cloexec: bool) -> Errno<c_int> {
    if private_fd::is_private(old) {
        return Err(libc::EBADF);
    }
    let moved = private_fd::move_away(new)?;
    let r = dup_onto_unowned(old, new, cloexec);
    if r.is_err() && moved {
        private_fd::discard_moved(new);
    }
    r
}

/// [`dup_onto`] once `new` is not the library's.
fn dup_onto_unowned(old: c_int, new: c_int, cloexec: bool) -> Errno<c_int> {
    if !fd_table::is_ours(old) {
        // SAFETY: integer arguments.
        let r = unsafe { real::dup3(old, new, if cloexec { libc::O_CLOEXEC } else { 0 }) };
        if r < 0 {
            return Err(errno());
        }
        // The kernel closed `new` (ours or an epoll fd, maybe): forget it.
        drop(fd_table::remove(new));
        epoll::forget(new);
        return Ok(r);
    }
    let socket = lookup(old)?;
    // Forget `new` first, outside the table's lock, so that a stack socket
    // it was the last fd of is released cleanly.
    drop(fd_table::remove(new));
    epoll::forget(new);
    // SAFETY: integer arguments.
    let r = unsafe { real::dup3(old, new, libc::O_CLOEXEC) };
    if r < 0 {
        return Err(errno());
    }
    register_dup(r, socket, cloexec)
}

posix! {
    /// `dup(2)`: a stack socket's duplicate is a new kernel fd for the same
    /// open socket; any other fd goes to the kernel.
    ///
    /// # Safety
    /// None beyond libc's.
    fn dup(fd: c_int) -> c_int
    where fd_table::is_ours(fd) => ret(dup_ours(fd, 0, false));

    /// `dup2(2)`: as `dup`, onto `new` (closing what `new` was first: a
    /// stack socket there is forgotten, an epoll fd forgets its stack
    /// sockets, one of the library's own fds is moved away first).
    ///
    /// # Safety
    /// None beyond libc's.
    fn dup2(old: c_int, new: c_int) -> c_int
    where fd_table::is_ours(old) || closing_concerns_us(new) => {
        if old == new {
            // dup2(fd, fd) does nothing and returns fd, when fd is open: a
            // stack socket is; the library's reads as closed; an epoll fd
            // is the kernel's to check.
            return if fd_table::is_ours(old) {
                new
            } else if private_fd::is_private(old) {
                fail(libc::EBADF)
            } else {
                // SAFETY: integer arguments.
                unsafe { real::dup2(old, new) }
            };
        }
        ret(dup_onto(old, new, false))
    };

    /// `dup3(2)`: as `dup2`, with `O_CLOEXEC`; `old == new` is `EINVAL`.
    ///
    /// # Safety
    /// None beyond libc's.
    fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int
    where fd_table::is_ours(old) || closing_concerns_us(new) => {
        if flags & !libc::O_CLOEXEC != 0 || old == new {
            return fail(libc::EINVAL);
        }
        ret(dup_onto(old, new, flags & libc::O_CLOEXEC != 0))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tcp_is_ours() {
        assert!(is_tcp(libc::AF_INET, libc::SOCK_STREAM, 0));
        assert!(is_tcp(libc::AF_INET6, libc::SOCK_STREAM, 0));
        assert!(is_tcp(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::IPPROTO_TCP
        ));
        assert!(!is_tcp(libc::AF_INET, libc::SOCK_DGRAM, 0));
        assert!(!is_tcp(libc::AF_INET6, libc::SOCK_DGRAM, 0));
        assert!(!is_tcp(libc::AF_UNIX, libc::SOCK_STREAM, 0));
        assert!(!is_tcp(
            libc::AF_INET,
            libc::SOCK_STREAM,
            libc::IPPROTO_SCTP
        ));
    }

    #[test]
    fn other_sockets_pass_through_to_the_kernel() {
        // SAFETY: integer arguments; the fd is closed below.
        let fd = unsafe { socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0);
        assert!(!fd_table::is_ours(fd));
        // SAFETY: our own fd.
        unsafe {
            let d = dup(fd);
            assert!(d > fd && !fd_table::is_ours(d));
            assert_eq!(dup2(fd, d), d);
            assert_eq!(dup3(fd, d, 0), d);
            assert_eq!(dup3(fd, fd, 0), -1);
            assert_eq!(errno(), libc::EINVAL);
            assert_eq!(close(d), 0);
        }
        // SAFETY: our own fd.
        assert_eq!(unsafe { close(fd) }, 0);
        // SAFETY: closing a closed fd is an error, not UB.
        assert_eq!(unsafe { close(fd) }, -1);
        assert_eq!(errno(), libc::EBADF);
    }
}
