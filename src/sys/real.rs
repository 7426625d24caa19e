//! The real libc functions, found with `dlsym(RTLD_NEXT)`.
//!
//! Our shared object is preloaded, so its exported `socket`, `close`, `read`,
//! ... take the calls of the whole process, including our own. Whenever a call
//! is not for a tapstack socket, the shim passes it on to the function of the
//! same name here, which calls the next definition in the symbol search order:
//! libc's.
//!
//! Each function resolves its symbol lazily, once: a static slot holds the
//! address (0 = not looked up yet, 1 = not found). The hot path is one atomic
//! load and an indirect call; no lock, no allocation. Two threads racing on the
//! first call both resolve the same address, which is harmless. This works from
//! any thread and during early process start (before `main`, inside other
//! libraries' constructors), because it needs nothing but `dlsym`.
//!
//! When `dlsym` finds nothing (a libc without `__poll_chk`, say), the call
//! falls back to the raw system call where there is one, else fails with
//! `ENOSYS`.

use super::set_errno;
use libc::{
    c_int, c_long, c_uint, c_ulong, c_void, epoll_event, fd_set, msghdr, nfds_t, off_t, off64_t,
    pollfd, sigset_t, size_t, sockaddr, socklen_t, ssize_t, timespec, timeval,
};
use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Slot value: looked up, and `dlsym` found nothing.
const MISSING: usize = 1;

/// The address of one real libc function, looked up on first use.
struct Slot(AtomicUsize);

impl Slot {
    const fn new() -> Slot {
        Slot(AtomicUsize::new(0))
    }

    /// The address of `name`, or `None` when the next object does not define
    /// it.
    #[inline]
    fn get(&self, name: &CStr) -> Option<usize> {
        match self.0.load(Ordering::Acquire) {
            0 => self.resolve(name),
            MISSING => None,
            addr => Some(addr),
        }
    }

    #[cold]
    fn resolve(&self, name: &CStr) -> Option<usize> {
        // SAFETY: `name` is NUL-terminated; RTLD_NEXT is a valid pseudo-handle.
        let addr = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
        // dlsym never returns 1 for a function; keep the encoding unambiguous.
        let stored = if addr == 0 || addr == MISSING {
            MISSING
        } else {
            addr
        };
        self.0.store(stored, Ordering::Release);
        (stored != MISSING).then_some(stored)
    }
}

/// A `_FORTIFY_SOURCE` check failed: ends the process as glibc does
/// (`__chk_fail`: one line on stderr, then `abort`).
pub fn fortify_fail() -> ! {
    // SAFETY: __chk_fail takes nothing and does not return.
    unsafe { __chk_fail() };
    // SAFETY: abort is always safe to call.
    unsafe { libc::abort() }
}

/// Defines `pub unsafe fn NAME(args) -> ret` calling the real `NAME`, or the
/// fallback expression (which may use the arguments) when it is missing.
macro_rules! real {
    ($(
        $(#[$doc:meta])*
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $fallback:expr;
    )*) => {$(
        $(#[$doc])*
        ///
        /// # Safety
        /// The same contract as the libc function of the same name.
        #[inline]
        pub unsafe fn $name($($arg: $ty),*) -> $ret {
            static SLOT: Slot = Slot::new();
            const NAME: &CStr = cstr(concat!(stringify!($name), "\0"));
            // C-unwind: a thread cancelled inside the real call (glibc
            // unwinds it) passes through our exports legally.
            type Real = unsafe extern "C-unwind" fn($($ty),*) -> $ret;
            match SLOT.get(NAME) {
                Some(addr) => {
                    // SAFETY: dlsym found the libc function of this name,
                    // whose C prototype is `Real`.
                    let f = unsafe { std::mem::transmute::<usize, Real>(addr) };
                    // SAFETY: the caller upholds the libc contract.
                    unsafe { f($($arg),*) }
                }
                #[allow(unused_unsafe, clippy::unnecessary_cast)]
                // SAFETY: the caller upholds the contract of the syscall.
                None => unsafe { $fallback },
            }
        }
    )*};
}

/// A `&CStr` from a literal ending in NUL, checked at compile time.
const fn cstr(s: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(s.as_bytes()) {
        Ok(c) => c,
        Err(_) => panic!("symbol name must end in NUL"),
    }
}

/// A raw system call returning `int`.
macro_rules! sys_int {
    ($nr:expr $(, $a:expr)*) => {
        libc::syscall($nr $(, $a)*) as c_int
    };
}

/// A raw system call returning `ssize_t`.
macro_rules! sys_ssize {
    ($nr:expr $(, $a:expr)*) => {
        libc::syscall($nr $(, $a)*) as ssize_t
    };
}

real! {
    /// `fork(2)` (glibc's: it runs the `pthread_atfork` handlers).
    fn fork() -> libc::pid_t = sys_int!(libc::SYS_fork);
    fn _exit(status: c_int) -> () = {
        libc::syscall(libc::SYS_exit_group, status);
    };
    #[allow(non_snake_case)]
    fn _Exit(status: c_int) -> () = {
        libc::syscall(libc::SYS_exit_group, status);
    };
    fn execve(path: *const libc::c_char, argv: *const *const libc::c_char, envp: *const *const libc::c_char) -> c_int =
        sys_int!(libc::SYS_execve, path, argv, envp);
    fn execv(path: *const libc::c_char, argv: *const *const libc::c_char) -> c_int = {
        set_errno(libc::ENOSYS);
        let _ = (path, argv);
        -1
    };
    fn execvp(file: *const libc::c_char, argv: *const *const libc::c_char) -> c_int = {
        set_errno(libc::ENOSYS);
        let _ = (file, argv);
        -1
    };
    fn execvpe(file: *const libc::c_char, argv: *const *const libc::c_char, envp: *const *const libc::c_char) -> c_int = {
        set_errno(libc::ENOSYS);
        let _ = (file, argv, envp);
        -1
    };
    fn fexecve(fd: c_int, argv: *const *const libc::c_char, envp: *const *const libc::c_char) -> c_int = {
        set_errno(libc::ENOSYS);
        let _ = (fd, argv, envp);
        -1
    };
    fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int =
        sys_int!(libc::SYS_socket, domain, ty, protocol);
    fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int =
        sys_int!(libc::SYS_bind, fd, addr, len);
    fn listen(fd: c_int, backlog: c_int) -> c_int =
        sys_int!(libc::SYS_listen, fd, backlog);
    fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int =
        sys_int!(libc::SYS_accept4, fd, addr, len, 0);
    fn accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int =
        sys_int!(libc::SYS_accept4, fd, addr, len, flags);
    fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int =
        sys_int!(libc::SYS_connect, fd, addr, len);
    fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t =
        sys_ssize!(libc::SYS_sendto, fd, buf, len, flags, 0usize, 0);
    fn sendto(
        fd: c_int,
        buf: *const c_void,
        len: size_t,
        flags: c_int,
        addr: *const sockaddr,
        addrlen: socklen_t,
    ) -> ssize_t = sys_ssize!(libc::SYS_sendto, fd, buf, len, flags, addr, addrlen);
    fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t =
        sys_ssize!(libc::SYS_sendmsg, fd, msg, flags);
    fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t =
        sys_ssize!(libc::SYS_recvfrom, fd, buf, len, flags, 0usize, 0usize);
    fn recvfrom(
        fd: c_int,
        buf: *mut c_void,
        len: size_t,
        flags: c_int,
        addr: *mut sockaddr,
        addrlen: *mut socklen_t,
    ) -> ssize_t = sys_ssize!(libc::SYS_recvfrom, fd, buf, len, flags, addr, addrlen);
    fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t =
        sys_ssize!(libc::SYS_recvmsg, fd, msg, flags);
    fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t =
        sys_ssize!(libc::SYS_read, fd, buf, count);
    fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t =
        sys_ssize!(libc::SYS_write, fd, buf, count);
    fn readv(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> ssize_t =
        sys_ssize!(libc::SYS_readv, fd, iov, iovcnt);
    fn writev(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> ssize_t =
        sys_ssize!(libc::SYS_writev, fd, iov, iovcnt);
    fn close(fd: c_int) -> c_int = sys_int!(libc::SYS_close, fd);
    /// glibc 2.34's wrapper; the raw system call where it is missing.
    fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int =
        sys_int!(libc::SYS_close_range, first, last, flags);
    fn shutdown(fd: c_int, how: c_int) -> c_int = sys_int!(libc::SYS_shutdown, fd, how);
    fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int =
        sys_int!(libc::SYS_getsockname, fd, addr, len);
    fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int =
        sys_int!(libc::SYS_getpeername, fd, addr, len);
    fn setsockopt(
        fd: c_int,
        level: c_int,
        name: c_int,
        value: *const c_void,
        len: socklen_t,
    ) -> c_int = sys_int!(libc::SYS_setsockopt, fd, level, name, value, len);
    fn getsockopt(
        fd: c_int,
        level: c_int,
        name: c_int,
        value: *mut c_void,
        len: *mut socklen_t,
    ) -> c_int = sys_int!(libc::SYS_getsockopt, fd, level, name, value, len);
    fn dup(fd: c_int) -> c_int = sys_int!(libc::SYS_dup, fd);
    fn dup2(old: c_int, new: c_int) -> c_int = dup2_fallback(old, new);
    fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int =
        sys_int!(libc::SYS_dup3, old, new, flags);
    fn sendfile(out_fd: c_int, in_fd: c_int, offset: *mut off_t, count: size_t) -> ssize_t =
        sys_ssize!(libc::SYS_sendfile, out_fd, in_fd, offset, count);
    fn sendfile64(out_fd: c_int, in_fd: c_int, offset: *mut off64_t, count: size_t) -> ssize_t =
        sys_ssize!(libc::SYS_sendfile, out_fd, in_fd, offset, count);
    fn epoll_create(size: c_int) -> c_int = if size <= 0 {
        set_errno(libc::EINVAL);
        -1
    } else {
        sys_int!(libc::SYS_epoll_create1, 0)
    };
    fn epoll_create1(flags: c_int) -> c_int = sys_int!(libc::SYS_epoll_create1, flags);
    fn epoll_ctl(epfd: c_int, op: c_int, fd: c_int, event: *mut epoll_event) -> c_int =
        sys_int!(libc::SYS_epoll_ctl, epfd, op, fd, event);
    fn epoll_wait(epfd: c_int, events: *mut epoll_event, maxevents: c_int, timeout: c_int)
        -> c_int = sys_int!(
            libc::SYS_epoll_pwait, epfd, events, maxevents, timeout, 0usize, SIGSET_BYTES
        );
    fn epoll_pwait(
        epfd: c_int,
        events: *mut epoll_event,
        maxevents: c_int,
        timeout: c_int,
        sigmask: *const sigset_t,
    ) -> c_int = sys_int!(
        libc::SYS_epoll_pwait, epfd, events, maxevents, timeout, sigmask, SIGSET_BYTES
    );
    fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int =
        poll_fallback(fds, nfds, timeout);
    fn ppoll(
        fds: *mut pollfd,
        nfds: nfds_t,
        timeout: *const timespec,
        sigmask: *const sigset_t,
    ) -> c_int = sys_int!(libc::SYS_ppoll, fds, nfds, timeout, sigmask, SIGSET_BYTES);
    fn select(
        nfds: c_int,
        readfds: *mut fd_set,
        writefds: *mut fd_set,
        exceptfds: *mut fd_set,
        timeout: *mut timeval,
    ) -> c_int = select_fallback(nfds, readfds, writefds, exceptfds, timeout);
    fn pselect(
        nfds: c_int,
        readfds: *mut fd_set,
        writefds: *mut fd_set,
        exceptfds: *mut fd_set,
        timeout: *const timespec,
        sigmask: *const sigset_t,
    ) -> c_int = pselect_fallback(nfds, readfds, writefds, exceptfds, timeout, sigmask);
    /// glibc's `_FORTIFY_SOURCE` variant of `poll`, with the size of `fds`.
    fn __poll_chk(fds: *mut pollfd, nfds: nfds_t, timeout: c_int, fdslen: size_t) -> c_int = {
        let _ = fdslen;
        poll(fds, nfds, timeout)
    };
    /// glibc's report of a `_FORTIFY_SOURCE` check that failed: it prints
    /// "buffer overflow detected" and aborts.
    fn __chk_fail() -> () = libc::abort();
    /// Not intercepted (`sendfile` reads the file with it).
    fn pread(fd: c_int, buf: *mut c_void, count: size_t, offset: off_t) -> ssize_t =
        sys_ssize!(libc::SYS_pread64, fd, buf, count, offset);
    /// Not intercepted (`sendfile` without an offset moves the file position).
    fn lseek(fd: c_int, offset: off_t, whence: c_int) -> off_t =
        libc::syscall(libc::SYS_lseek, fd, offset, whence) as off_t;
    /// Not intercepted: see [`disable_cancel`].
    fn pthread_setcancelstate(state: c_int, old: *mut c_int) -> c_int = {
        let _ = (state, old);
        0
    };
    /// Not intercepted; here so that every raw call goes through `sys`.
    fn eventfd(initval: c_uint, flags: c_int) -> c_int =
        sys_int!(libc::SYS_eventfd2, initval, flags);
    // The privilege calls (glibc changes every thread's ids; the raw
    // fallbacks only the caller's).
    fn setuid(uid: libc::uid_t) -> c_int = sys_int!(libc::SYS_setuid, uid);
    fn setgid(gid: libc::gid_t) -> c_int = sys_int!(libc::SYS_setgid, gid);
    fn seteuid(euid: libc::uid_t) -> c_int =
        sys_int!(libc::SYS_setresuid, -1 as c_int, euid, -1 as c_int);
    fn setegid(egid: libc::gid_t) -> c_int =
        sys_int!(libc::SYS_setresgid, -1 as c_int, egid, -1 as c_int);
    fn setreuid(ruid: libc::uid_t, euid: libc::uid_t) -> c_int =
        sys_int!(libc::SYS_setreuid, ruid, euid);
    fn setregid(rgid: libc::gid_t, egid: libc::gid_t) -> c_int =
        sys_int!(libc::SYS_setregid, rgid, egid);
    fn setresuid(ruid: libc::uid_t, euid: libc::uid_t, suid: libc::uid_t) -> c_int =
        sys_int!(libc::SYS_setresuid, ruid, euid, suid);
    fn setresgid(rgid: libc::gid_t, egid: libc::gid_t, sgid: libc::gid_t) -> c_int =
        sys_int!(libc::SYS_setresgid, rgid, egid, sgid);
    fn setgroups(size: size_t, list: *const libc::gid_t) -> c_int =
        sys_int!(libc::SYS_setgroups, size, list);
    /// `prctl(2)`: variadic in C; every option takes at most four more
    /// integer or pointer arguments, carried as `c_ulong`.
    fn prctl(option: c_int, a2: c_ulong, a3: c_ulong, a4: c_ulong, a5: c_ulong) -> c_int =
        sys_int!(libc::SYS_prctl, option, a2, a3, a4, a5);
}

/// The kernel's sigset size (64 signals), as the `*pwait`/`ppoll` calls want.
const SIGSET_BYTES: usize = 8;

/// `fcntl(fd, cmd, arg)`: the real function is variadic; every command we
/// pass on takes at most one integer or pointer argument, carried as
/// `c_ulong`.
///
/// # Safety
/// The same contract as libc's `fcntl` for `cmd`.
pub unsafe fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    static SLOT: Slot = Slot::new();
    type Real = unsafe extern "C-unwind" fn(c_int, c_int, ...) -> c_int;
    match SLOT.get(c"fcntl") {
        // SAFETY: dlsym found libc's variadic `fcntl`; the caller upholds its
        // contract for `cmd`.
        Some(addr) => unsafe { std::mem::transmute::<usize, Real>(addr)(fd, cmd, arg) },
        // SAFETY: as above, for the system call.
        None => unsafe { sys_int!(libc::SYS_fcntl, fd, cmd, arg) },
    }
}

/// `ioctl(fd, request, arg)`: the real function is variadic.
///
/// # Safety
/// The same contract as libc's `ioctl` for `request`.
pub unsafe fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    static SLOT: Slot = Slot::new();
    type Real = unsafe extern "C-unwind" fn(c_int, c_ulong, ...) -> c_int;
    match SLOT.get(c"ioctl") {
        // SAFETY: dlsym found libc's variadic `ioctl`; the caller upholds its
        // contract for `request`.
        Some(addr) => unsafe { std::mem::transmute::<usize, Real>(addr)(fd, request, arg) },
        // SAFETY: as above, for the system call.
        None => unsafe { sys_int!(libc::SYS_ioctl, fd, request, arg) },
    }
}

/// Registers `f` to run at `exit` (libc's `atexit`).
pub fn atexit(f: extern "C" fn()) {
    // SAFETY: `f` is a plain function that lives as long as the process
    // (the library is never unloaded while preloaded).
    unsafe { libc::atexit(f) };
}

/// Registers fork handlers (libc's `pthread_atfork`).
pub fn pthread_atfork(
    prepare: unsafe extern "C" fn(),
    parent: unsafe extern "C" fn(),
    child: unsafe extern "C" fn(),
) {
    // SAFETY: plain functions that live as long as the process.
    unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
}

/// glibc's `PTHREAD_CANCEL_DISABLE`.
const PTHREAD_CANCEL_DISABLE: c_int = 1;

/// Disables thread cancellation for the calling thread and returns the
/// previous state, for [`restore_cancel`]. The library's own code must not
/// be unwound by `pthread_cancel` at a cancellation point inside it (the
/// panic guard would stop the unwind, and glibc aborts).
pub fn disable_cancel() -> c_int {
    let mut old = 0;
    // SAFETY: `old` is a valid out-pointer.
    unsafe { pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &mut old) };
    old
}

/// Restores the cancellation state [`disable_cancel`] returned.
pub fn restore_cancel(old: c_int) {
    let mut ignored = 0;
    // SAFETY: as above.
    unsafe { pthread_setcancelstate(old, &mut ignored) };
}

/// Sends `SIGPIPE` to the calling thread, as Linux does for `EPIPE`.
pub fn raise_sigpipe() {
    // SAFETY: signalling the calling thread.
    unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGPIPE) };
}

/// `dup2` from `dup3`, which differs when both fds are the same.
unsafe fn dup2_fallback(old: c_int, new: c_int) -> c_int {
    if old == new {
        // dup2(fd, fd) returns fd when it is open, EBADF otherwise.
        // SAFETY: F_GETFD takes no argument.
        return if unsafe { sys_int!(libc::SYS_fcntl, old, libc::F_GETFD) } < 0 {
            -1
        } else {
            new
        };
    }
    // SAFETY: plain integer arguments.
    unsafe { sys_int!(libc::SYS_dup3, old, new, 0) }
}

/// `poll` from `ppoll`, converting the millisecond timeout.
unsafe fn poll_fallback(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    let ts = timespec {
        tv_sec: (timeout / 1000) as libc::time_t,
        tv_nsec: ((timeout % 1000) as c_long) * 1_000_000,
    };
    let tsp = if timeout < 0 {
        std::ptr::null()
    } else {
        &ts as *const timespec
    };
    // SAFETY: the caller upholds poll's contract for `fds`; `tsp` is valid.
    unsafe { sys_int!(libc::SYS_ppoll, fds, nfds, tsp, 0usize, SIGSET_BYTES) }
}

/// `select` from `pselect6` (the timeout is not updated with the time left).
unsafe fn select_fallback(
    nfds: c_int,
    readfds: *mut fd_set,
    writefds: *mut fd_set,
    exceptfds: *mut fd_set,
    timeout: *mut timeval,
) -> c_int {
    let ts;
    let tsp = if timeout.is_null() {
        std::ptr::null()
    } else {
        // SAFETY: the caller passes a valid timeval or NULL.
        let tv = unsafe { *timeout };
        ts = timespec {
            tv_sec: tv.tv_sec,
            tv_nsec: tv.tv_usec * 1000,
        };
        &ts as *const timespec
    };
    // SAFETY: the caller upholds select's contract for the sets.
    unsafe { pselect_fallback(nfds, readfds, writefds, exceptfds, tsp, std::ptr::null()) }
}

/// `pselect` from the `pselect6` system call, whose last argument is a
/// pointer to `{ sigmask, sigset size }`.
unsafe fn pselect_fallback(
    nfds: c_int,
    readfds: *mut fd_set,
    writefds: *mut fd_set,
    exceptfds: *mut fd_set,
    timeout: *const timespec,
    sigmask: *const sigset_t,
) -> c_int {
    let mask: [usize; 2] = [sigmask as usize, SIGSET_BYTES];
    let maskp = if sigmask.is_null() {
        std::ptr::null()
    } else {
        mask.as_ptr()
    };
    // SAFETY: the caller upholds pselect's contract; `maskp` is valid.
    unsafe {
        sys_int!(
            libc::SYS_pselect6,
            nfds,
            readfds,
            writefds,
            exceptfds,
            timeout,
            maskp
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_libc_functions() {
        let mut fds = [0; 2];
        // SAFETY: fds holds two ints.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let msg = b"hi";
        // SAFETY: valid fds and buffers.
        unsafe {
            assert_eq!(write(fds[1], msg.as_ptr().cast(), 2), 2);
            let mut buf = [0u8; 2];
            assert_eq!(read(fds[0], buf.as_mut_ptr().cast(), 2), 2);
            assert_eq!(&buf, msg);
            assert_eq!(fcntl(fds[0], libc::F_SETFL, libc::O_NONBLOCK as c_ulong), 0);
            assert_ne!(fcntl(fds[0], libc::F_GETFL, 0) & libc::O_NONBLOCK, 0);
            assert_eq!(close(fds[0]), 0);
            assert_eq!(close(fds[1]), 0);
        }
    }

    #[test]
    fn missing_symbol_is_remembered() {
        let slot = Slot::new();
        assert_eq!(slot.get(c"tapstack_no_such_function"), None);
        assert_eq!(slot.0.load(Ordering::Relaxed), MISSING);
    }

    #[test]
    fn fallbacks_work() {
        // SAFETY: plain syscalls on fds this test owns.
        unsafe {
            let fd = eventfd(0, libc::EFD_CLOEXEC);
            assert!(fd >= 0);
            assert_eq!(dup2_fallback(fd, fd), fd);
            let mut p = pollfd {
                fd,
                events: libc::POLLOUT,
                revents: 0,
            };
            assert_eq!(poll_fallback(&mut p, 1, 0), 1);
            assert_eq!(close(fd), 0);
            assert_eq!(dup2_fallback(fd, fd), -1);
        }
    }
}
