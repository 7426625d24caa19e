//! Every raw libc call lives here, so `unsafe` stays in one place.
//!
//! The calls the stack thread makes on its own fds (the TAP's `read` and
//! `write`, the interface ioctls) go straight to the kernel with
//! `syscall(2)`: in the final library our own exported `read`, `write`,
//! `ioctl`... interpose on libc for the whole process, and the stack thread
//! must bypass them (docs/design.md, "Calls that are not ours, and
//! re-entrancy").
//!
//! - [`clock`]: `CLOCK_MONOTONIC` as an [`Instant`](crate::time::Instant),
//!   `CLOCK_REALTIME` for pcap timestamps.
//! - [`tap`]: opening, attaching to and configuring a TAP device.
//! - [`event`]: eventfd and futex wait/wake.
//! - [`signal`]: signal masks, a signalfd and `ppoll`, for a thread that
//!   waits on the TAP.
//! - [`real`]: the table of real libc functions, found with `dlsym`.
//! - [`fdbits`]: a lock-free set of fd numbers.
//! - [`private_fd`]: the library's own fds, kept out of the program's way.
//! - [`unix_socket`]: abstract Unix sockets, for the control socket.
//! - [`sync`]: a leaked slot and a lock held across `fork`, for the runtime.

pub mod clock;
pub mod event;
pub mod fdbits;
pub mod private_fd;
pub mod real;
pub mod signal;
pub mod sync;
pub mod tap;
pub mod unix_socket;

use std::io;
use std::os::fd::RawFd;

/// A relative timeout for a system call that takes a `timespec` pointer
/// (`None`: no limit, a null pointer).
pub(crate) struct Timeout(Option<libc::timespec>);

impl Timeout {
    pub(crate) fn new(d: Option<crate::time::Duration>) -> Timeout {
        Timeout(d.map(|d| libc::timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        }))
    }

    /// The pointer to pass (valid while `self` lives).
    pub(crate) fn as_ptr(&self) -> *const libc::timespec {
        self.0
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec)
    }
}

/// The calling thread's `errno`.
#[inline]
pub fn errno() -> i32 {
    // SAFETY: `__errno_location` returns a valid pointer to this thread's
    // errno for the lifetime of the thread.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's `errno` (the C boundary reports errors this
/// way). The one definition: the shim re-exports it.
#[inline]
pub fn set_errno(value: i32) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = value }
}

/// The symbolic name of an errno value (`EPERM`), for one-line messages.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::ENOSYS => "ENOSYS",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ENETDOWN => "ENETDOWN",
        libc::EBADFD => "EBADFD",
        _ => "E?",
    }
}

/// `ret` from a raw `syscall(2)`: -1 becomes the thread's errno as an error.
fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `RLIMIT_NOFILE`'s soft limit (`None` for unlimited or unknown).
pub fn nofile_soft_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit64 on our own process writes one rlimit into `lim`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_prlimit64,
            0,
            libc::RLIMIT_NOFILE,
            std::ptr::null::<libc::rlimit>(),
            &mut lim as *mut libc::rlimit,
        )
    };
    (r == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)` as a raw system call: the lowest free
/// fd at or above `min`, a duplicate of `fd`, close-on-exec.
pub fn fcntl_dupfd_cloexec(fd: RawFd, min: i32) -> io::Result<RawFd> {
    // SAFETY: integer arguments.
    cvt(unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_DUPFD_CLOEXEC, min) })
        .map(|n| n as RawFd)
}

/// `close(2)` as a raw system call, never through the shim's `close`.
pub fn close_raw(fd: RawFd) {
    // SAFETY: closing an fd is memory-safe; the caller owns `fd`.
    unsafe { libc::syscall(libc::SYS_close, fd) };
}

/// `write(2)` as a raw system call, never through the shim's `write`.
pub fn write_raw(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of reads.
    cvt(unsafe { libc::syscall(libc::SYS_write, fd, buf.as_ptr(), buf.len()) }).map(|n| n as usize)
}

/// How many CPUs this thread may run on (`sched_getaffinity`); 1 when it
/// cannot be told.
pub fn cpus_allowed() -> usize {
    // SAFETY: a zeroed cpu_set_t is a valid empty set, and the call
    // writes at most its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return 1;
        }
        libc::CPU_COUNT(&set).max(1) as usize
    }
}

/// Whether this process may run on more than one CPU: [`cpus_allowed`],
/// asked once (no allocation: called inside calls from C). A program
/// that changes its affinity later keeps the first answer.
pub fn many_cpus() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    const UNKNOWN: u8 = 0;
    const ONE: u8 = 1;
    const MANY: u8 = 2;
    static CPUS: AtomicU8 = AtomicU8::new(UNKNOWN);
    match CPUS.load(Ordering::Relaxed) {
        UNKNOWN => {
            let many = cpus_allowed() > 1;
            CPUS.store(if many { MANY } else { ONE }, Ordering::Relaxed);
            many
        }
        known => known == MANY,
    }
}

/// Whether process `pid` exists (it may be a zombie).
pub fn process_exists(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || errno() == libc::EPERM
}

/// `pidfd_open(2)` (Linux 5.3): an fd that becomes readable when process
/// `pid` ends, as one of the library's own fds.
pub fn pidfd_open(pid: i32) -> io::Result<private_fd::PrivateFd> {
    // SAFETY: integer arguments.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel just gave us this fd and nobody else owns it.
    Ok(private_fd::PrivateFd::adopt(unsafe {
        std::os::fd::FromRawFd::from_raw_fd(fd as RawFd)
    }))
}

/// Sets or clears `FD_CLOEXEC` on `fd` (a raw `fcntl`, never our export).
pub fn set_cloexec(fd: RawFd, cloexec: bool) -> io::Result<()> {
    let flag = if cloexec { libc::FD_CLOEXEC } else { 0 };
    // SAFETY: integer arguments.
    cvt(unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFD, flag) }).map(drop)
}

/// The effective user id.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// Fills `buf` from the kernel's random source (`getrandom(2)`), to key
/// and seed the stack.
pub fn getrandom(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is valid for writes of `rest.len()` bytes.
        let ret = cvt(unsafe {
            libc::syscall(
                libc::SYS_getrandom,
                rest.as_mut_ptr(),
                rest.len(),
                0 as libc::c_uint,
            )
        });
        match ret {
            Ok(n) => filled += n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Blocks every blockable signal in the calling thread and returns the
/// previous mask, so a thread spawned now inherits a full mask: the
/// application's signal handlers never run on the stack thread (where they
/// could find the stack lock held).
pub fn block_all_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset and pthread_sigmask only
    // write to the sets we pass, which live on this stack frame.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        old
    }
}

/// Restores a signal mask saved by [`block_all_signals`].
pub fn restore_signals(old: &libc::sigset_t) {
    // SAFETY: `old` is a valid sigset_t; a null old-set pointer is allowed.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_allowed_follows_the_affinity_mask() {
        std::thread::spawn(|| {
            assert!(cpus_allowed() >= 1);
            // SAFETY: a valid set naming CPU 0, for this thread only.
            unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(0, &mut set);
                assert_eq!(
                    libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
                    0
                );
            }
            assert_eq!(cpus_allowed(), 1);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn errno_round_trip() {
        set_errno(libc::EBUSY);
        assert_eq!(errno(), libc::EBUSY);
        assert_eq!(errno_name(libc::EBUSY), "EBUSY");
    }

    #[test]
    fn getrandom_differs() {
        let (mut a, mut b) = ([0u8; 24], [0u8; 24]);
        getrandom(&mut a).unwrap();
        getrandom(&mut b).unwrap();
        assert_ne!(a, b);
    }
}
