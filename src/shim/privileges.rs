//! `setuid`, `setgid`, `setgroups` and their cousins: the stack starts
//! before the program gives up its privileges.
//!
//! The stack starts lazily, at the first IPv4 TCP socket. A daemon that
//! drops root first (`memcached -u nobody`, and many others: `setgroups`,
//! `setgid`, `setuid`, then `socket`) could then no longer open the TAP
//! (`CAP_NET_ADMIN` goes with uid 0). So each of these calls, made as root
//! while the stack has not been tried, starts it first
//! ([`runtime::start_before_privilege_drop`]), then makes the real call.
//! Not covered: privileges dropped with `capset`/`prctl` alone, or with a
//! raw `syscall(SYS_setuid, ...)`.
//!
//! `prctl` is watched for another reason: a program that fences its
//! system calls in (`PR_SET_NO_NEW_PRIVS`, which an unprivileged seccomp
//! filter needs, or `PR_SET_SECCOMP`: sshd's pre-authentication child,
//! anything built on libseccomp) may allow its threads little more than
//! `read`, `write` and `futex`; from then on its threads never wait on the
//! TAP themselves (`runtime::reader`), which takes system calls such a
//! filter may punish with death.

use crate::runtime;
use crate::sys::real;
use libc::{c_int, c_ulong, gid_t, size_t, uid_t};

/// Defines a POSIX-named export that starts the stack, then calls libc's.
macro_rules! start_first {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        $(#[$doc])*
        ///
        /// # Safety
        /// The same contract as the libc function of the same name.
        #[unsafe(no_mangle)]
        pub unsafe extern "C-unwind" fn $name($($arg: $ty),*) -> c_int {
            // A panic must not cross the C ABI; the call goes on after one.
            let _ = std::panic::catch_unwind(runtime::start_before_privilege_drop);
            // SAFETY: the caller upholds libc's contract.
            unsafe { real::$name($($arg),*) }
        }
    )*};
}

start_first! {
    /// `setuid(2)`.
    fn setuid(uid: uid_t);
    /// `setgid(2)`.
    fn setgid(gid: gid_t);
    /// `seteuid(3)`.
    fn seteuid(euid: uid_t);
    /// `setegid(3)`.
    fn setegid(egid: gid_t);
    /// `setreuid(2)`.
    fn setreuid(ruid: uid_t, euid: uid_t);
    /// `setregid(2)`.
    fn setregid(rgid: gid_t, egid: gid_t);
    /// `setresuid(2)`.
    fn setresuid(ruid: uid_t, euid: uid_t, suid: uid_t);
    /// `setresgid(2)`.
    fn setresgid(rgid: gid_t, egid: gid_t, sgid: gid_t);
    /// `setgroups(2)`.
    fn setgroups(size: size_t, list: *const gid_t);
}

/// `prctl(2)`: notes a sandbox in the making (see the module's doc), then
/// calls libc's.
///
/// # Safety
/// The same contract as libc's `prctl` (variadic there: the four optional
/// arguments are integers or pointers, passed on as they came).
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn prctl(
    option: c_int,
    a2: c_ulong,
    a3: c_ulong,
    a4: c_ulong,
    a5: c_ulong,
) -> c_int {
    if option == libc::PR_SET_NO_NEW_PRIVS || option == libc::PR_SET_SECCOMP {
        runtime::reader::note_sandbox();
    }
    // SAFETY: the caller upholds libc's contract.
    unsafe { real::prctl(option, a2, a3, a4, a5) }
}
