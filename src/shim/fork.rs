//! `fork` and `exec` with the stack shared (see `docs/shared-stack.md`
//! and `runtime::process`).
//!
//! The handlers are registered with `pthread_atfork` when the library is
//! loaded. Before the fork they reserve the child's slot in the stack's
//! process table (the child holds every socket the parent has an fd for)
//! and take the fd table's lock, so the child's copy is whole; after it
//! the parent unlocks, and the child unlocks and joins the stack. Our
//! `fork` export also sees the result, and gives the slot back when the
//! fork failed.
//!
//! After `exec`, the new image's library runs [`attach_at_load`] before
//! `main`: when the program before `exec` used the stack, the sockets it
//! left open (no `FD_CLOEXEC`) are this program's again, on the same fds.

use super::fd_table::{self, Entry, OpenSocket};
use super::inet6::Inet6;
use crate::runtime::process;
use crate::sys::real;
use std::collections::HashMap;
use std::sync::Arc;

#[used]
#[unsafe(link_section = ".init_array")]
static REGISTER_AT_LOAD: extern "C" fn() = {
    extern "C" fn register_at_load() {
        real::pthread_atfork(prepare, parent, child);
        let _ = std::panic::catch_unwind(attach_at_load);
    }
    register_at_load
};

/// After `exec`: takes back the stack sockets the program inherited.
fn attach_at_load() {
    let fds = process::attach_after_exec();
    if fds.is_empty() {
        return;
    }
    let Some(rt) = crate::runtime::get() else {
        return;
    };
    // Fds of one socket share one open file description, as they did
    // before `exec`.
    let mut open: HashMap<crate::stack::SocketHandle, Arc<OpenSocket>> = HashMap::new();
    for (fd, rec) in fds {
        let socket = open
            .entry(rec.handle)
            .or_insert_with(|| {
                OpenSocket::new_in(
                    rec.handle,
                    Some(rt),
                    rec.nonblocking,
                    rec.inet6.then(Inet6::new),
                )
            })
            .clone();
        let _ = fd_table::insert(
            fd,
            Entry {
                socket,
                cloexec: false,
            },
        );
    }
}

unsafe extern "C" fn prepare() {
    let _ = std::panic::catch_unwind(|| {
        process::fork_prepare();
        fd_table::lock_for_fork();
    });
}

unsafe extern "C" fn parent() {
    let _ = std::panic::catch_unwind(|| {
        process::fork_parent();
        fd_table::unlock_after_fork();
    });
}

unsafe extern "C" fn child() {
    let _ = std::panic::catch_unwind(|| {
        fd_table::unlock_after_fork();
        process::fork_child();
        // This thread's eventfd for blocking in poll/select: its own, not
        // the parent's copied with the thread, and made now (a sandbox may
        // forbid it later).
        if crate::runtime::get().is_some() {
            let _ = super::readiness::renew_thread_waiter();
        }
    });
}

/// `fork(2)`: libc's, which runs the handlers above; then, in the parent,
/// names the child's slot by its pid or, when the fork failed, gives the
/// slot back.
///
/// # Safety
/// None beyond libc's.
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn fork() -> libc::pid_t {
    // SAFETY: libc's fork, with its own contract.
    let pid = unsafe { real::fork() };
    if pid != 0 {
        let errno = crate::sys::errno();
        let _ = std::panic::catch_unwind(|| process::fork_result(pid));
        crate::sys::set_errno(errno);
    }
    pid
}

/// Around `execve` and the rest of its family: this process's stack thread
/// stops first (so that no thread of ours holds the stack's lock when
/// `exec` ends every thread), and starts again when the call fails. The
/// new image finds its sockets at load ([`attach_at_load`]). `execl`,
/// `execlp` and `execle` are variadic: see [`variadic`].
macro_rules! exec_family {
    ($(
        $(#[$doc:meta])*
        fn $name:ident($($arg:ident: $ty:ty),*);
    )*) => {$(
        $(#[$doc])*
        ///
        /// # Safety
        /// None beyond libc's.
        #[unsafe(no_mangle)]
        pub unsafe extern "C-unwind" fn $name($($arg: $ty),*) -> libc::c_int {
            let _ = std::panic::catch_unwind(process::before_exec);
            // SAFETY: libc's function, with its own contract.
            let r = unsafe { real::$name($($arg),*) };
            let errno = crate::sys::errno();
            let _ = std::panic::catch_unwind(process::after_failed_exec);
            crate::sys::set_errno(errno);
            r
        }
    )*};
}

type Str = *const libc::c_char;
type StrList = *const *const libc::c_char;

exec_family! {
    /// `execve(2)`.
    fn execve(path: Str, argv: StrList, envp: StrList);
    /// `execv(3)`.
    fn execv(path: Str, argv: StrList);
    /// `execvp(3)`.
    fn execvp(file: Str, argv: StrList);
    /// `execvpe(3)`.
    fn execvpe(file: Str, argv: StrList, envp: StrList);
    /// `fexecve(3)`.
    fn fexecve(fd: libc::c_int, argv: StrList, envp: StrList);
}

/// `execl`, `execlp` and `execle`, which glibc implements with its
/// internal `execve` (so the exports above would not see them, and the
/// stack thread would be ended wherever `exec` found it, maybe holding the
/// stack's lock halfway through a change). Rust cannot define a variadic
/// function, so each is a naked entry point (x86-64 only) that stores the
/// five argument registers after the first, and hands them and the address
/// of the arguments on the stack to [`variadic::gather`], which walks them
/// as `va_arg` does in the System V ABI (integer and pointer arguments in
/// `rdi`, `rsi`, `rdx`, `rcx`, `r8`, `r9`, then on the caller's stack above
/// the return address) and calls `execv`, `execvp` or `execve` above.
#[cfg(target_arch = "x86_64")]
pub mod variadic {
    use super::{Str, StrList};
    use libc::c_int;

    /// Which of the three.
    const EXECL: u32 = 0;
    const EXECLP: u32 = 1;
    const EXECLE: u32 = 2;

    macro_rules! entry {
        ($(#[$doc:meta])* $name:ident, $kind:expr) => {
            $(#[$doc])*
            ///
            /// # Safety
            /// As the C function: a NULL-terminated list of strings.
            #[unsafe(naked)]
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $name() {
                core::arch::naked_asm!(
                    "push rbp",
                    "mov rbp, rsp",
                    // Five saved registers; rsp stays 16-byte aligned.
                    "sub rsp, 48",
                    "mov [rsp], rsi",
                    "mov [rsp + 8], rdx",
                    "mov [rsp + 16], rcx",
                    "mov [rsp + 24], r8",
                    "mov [rsp + 32], r9",
                    // rdi: the path, as it came.
                    "mov rsi, rsp",
                    "lea rdx, [rbp + 16]",
                    "mov ecx, {kind}",
                    "call {gather}",
                    "leave",
                    "ret",
                    kind = const $kind,
                    gather = sym gather,
                )
            }
        };
    }

    entry!(
        /// `execl(3)`.
        execl,
        EXECL
    );
    entry!(
        /// `execlp(3)`.
        execlp,
        EXECLP
    );
    entry!(
        /// `execle(3)`: the environment follows the list's NULL.
        execle,
        EXECLE
    );

    /// The argument after the path at position `i`: the first five were in
    /// registers, the rest on the stack.
    ///
    /// # Safety
    /// The caller passed at least `i + 1` arguments after the path.
    unsafe fn arg(regs: *const Str, stack: *const Str, i: usize) -> Str {
        // SAFETY: the caller's; `regs` holds five, `stack` the rest.
        unsafe {
            if i < 5 {
                *regs.add(i)
            } else {
                *stack.add(i - 5)
            }
        }
    }

    /// Collects the list (up to and with its NULL) and makes the call.
    extern "C" fn gather(path: Str, regs: *const Str, stack: *const Str, kind: u32) -> c_int {
        let mut argv: Vec<Str> = Vec::with_capacity(16);
        let mut i = 0;
        loop {
            // SAFETY: the list is NULL-terminated (the caller's contract);
            // we stop at its NULL.
            let a = unsafe { arg(regs, stack, i) };
            argv.push(a);
            i += 1;
            if a.is_null() {
                break;
            }
        }
        let argv_ptr: StrList = argv.as_ptr();
        // SAFETY: the functions' own contracts, with the caller's strings.
        unsafe {
            match kind {
                EXECLP => super::execvp(path, argv_ptr),
                EXECLE => {
                    let envp = arg(regs, stack, i) as StrList;
                    super::execve(path, argv_ptr, envp)
                }
                _ => super::execv(path, argv_ptr),
            }
        }
    }
}

/// `_exit(2)` and `_Exit(3)`: the process's stack thread first finishes
/// the turn it is in (the frames it read from the TAP queue it shares with
/// the other processes are handled, not lost with it, and it does not die
/// holding the stack's lock); what the process held is let go by the
/// others when they see it gone, as after any death.
macro_rules! exit_family {
    ($($name:ident),*) => {$(
        /// # Safety
        /// None beyond libc's.
        #[unsafe(no_mangle)]
        #[allow(non_snake_case)]
        pub unsafe extern "C-unwind" fn $name(status: libc::c_int) -> ! {
            let _ = std::panic::catch_unwind(process::before_exit_now);
            // SAFETY: libc's function, with its own contract.
            unsafe { real::$name(status) };
            // SAFETY: the real call does not return; in case it did, the
            // system call ends the process.
            unsafe { libc::syscall(libc::SYS_exit_group, status) };
            unreachable!("exit_group returned")
        }
    )*};
}

exit_family!(_exit, _Exit);
