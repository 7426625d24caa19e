//! Which fds are ours.
//!
//! Every stack socket sits on a real, reserved kernel fd (an `eventfd`), so
//! fd numbers come from the kernel and never collide with the program's. The
//! table answers "is this fd ours?" for every `read`/`write`/`close` of the
//! host program, so that question must be cheap when the answer is no: it is
//! one atomic load of a bit in a static [`FdBits`], no lock. The entries
//! themselves (what the fd is) sit behind a `RwLock`, taken only for our fds.
//! Its write lock is counted as held by the thread that takes it
//! ([`Held`]): a signal handler that interrupted a `close` there and calls
//! on a socket fails with `EINTR` instead of waiting for its own thread.
//!
//! Fds at or above [`MAX_FD`] cannot be ours: `socket()` refuses with
//! `EMFILE` rather than reserve one.

use crate::runtime::Runtime;
use crate::shared::lock::Held;
use crate::stack::SocketHandle;
use crate::sys::fdbits::FdBits;
pub use crate::sys::fdbits::MAX_FD;
use crate::sys::sync::RwLock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The fds that are ours.
static OURS: FdBits = FdBits::new();

/// A stack socket as the program holds it: POSIX's "open file
/// description", shared by the fds `dup` makes. When the last fd that
/// refers to it is closed, the stack socket is closed
/// ([`OpenSocket`]'s `Drop`, installed by the socket calls). A thread
/// blocked in a call holds a reference too, so a `close` from another
/// thread takes effect when that call returns (as in Linux, which holds
/// the file during the call).
#[derive(Debug)]
pub struct OpenSocket {
    /// The socket in the stack.
    pub handle: SocketHandle,
    /// The runtime whose stack holds it (`None` only in unit tests).
    pub rt: Option<&'static Runtime>,
    /// `O_NONBLOCK`: a file status flag, shared by dup'ed fds.
    pub nonblocking: AtomicBool,
    /// `SO_RCVTIMEO` in microseconds, 0 for none.
    pub rcv_timeout_us: AtomicU64,
    /// `SO_SNDTIMEO` in microseconds, 0 for none.
    pub snd_timeout_us: AtomicU64,
    /// A `connect` returned `EINPROGRESS` (or was interrupted) and no later
    /// `connect` has seen it finish: Linux's `SS_CONNECTING`.
    pub connecting: AtomicBool,
    /// The IPv6 side of an `AF_INET6` socket; `None` for `AF_INET`.
    pub inet6: Option<super::inet6::Inet6>,
}

impl OpenSocket {
    /// A new open socket for `handle` in `rt`'s stack.
    pub fn new(
        handle: SocketHandle,
        rt: Option<&'static Runtime>,
        nonblocking: bool,
    ) -> Arc<OpenSocket> {
        OpenSocket::new_in(handle, rt, nonblocking, None)
    }

    /// As [`OpenSocket::new`], of the family `inet6` says (`Some`:
    /// `AF_INET6`).
    pub fn new_in(
        handle: SocketHandle,
        rt: Option<&'static Runtime>,
        nonblocking: bool,
        inet6: Option<super::inet6::Inet6>,
    ) -> Arc<OpenSocket> {
        Arc::new(OpenSocket {
            handle,
            rt,
            nonblocking: AtomicBool::new(nonblocking),
            rcv_timeout_us: AtomicU64::new(0),
            snd_timeout_us: AtomicU64::new(0),
            connecting: AtomicBool::new(false),
            inet6,
        })
    }

    /// `O_NONBLOCK` is set.
    pub fn is_nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    /// The runtime to call, when it can serve this socket: `EIO` after the
    /// stack thread failed, `ENETDOWN` after it stopped.
    pub fn runtime(&self) -> Result<&'static Runtime, i32> {
        let rt = self.rt.ok_or(libc::EBADFD)?;
        rt.health()?;
        Ok(rt)
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        #[cfg(test)]
        tests::note_drop();
        if let Some(rt) = self.rt {
            super::socket::release(rt, self.handle);
        }
    }
}

/// What one of our fds is.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The socket it refers to.
    pub socket: Arc<OpenSocket>,
    /// `FD_CLOEXEC` as the program sees it (a per-fd flag, set on the
    /// reserved fd too: a socket without it survives `exec`, and the new
    /// program finds it in the shared stack).
    pub cloexec: bool,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        Arc::ptr_eq(&self.socket, &other.socket) && self.cloexec == other.cloexec
    }
}

static ENTRIES: RwLock<Vec<Option<Entry>>> = RwLock::new(Vec::new());

/// Whether `fd` is one of our sockets. Cheap: one atomic load.
#[inline]
pub fn is_ours(fd: i32) -> bool {
    OURS.contains(fd)
}

/// Our fds from `first` to `last`, as the table is now.
pub fn ours_in_range(first: u32, last: u32) -> Vec<i32> {
    OURS.in_range(first, last)
}

/// Records `fd` as ours. `Err(EMFILE)` when `fd` is beyond the table.
/// The kernel fd's own `FD_CLOEXEC` must already be `entry.cloexec`, so
/// that a socket without it survives `exec`.
pub fn insert(fd: i32, entry: Entry) -> Result<(), i32> {
    let index = usize::try_from(fd)
        .ok()
        .filter(|&i| i < MAX_FD)
        .ok_or(libc::EMFILE)?;
    if let Some(rt) = entry.socket.rt {
        crate::runtime::process::record_fd(
            rt,
            fd,
            crate::shared::header::FdRecord {
                handle: entry.socket.handle,
                inet6: entry.socket.inet6.is_some(),
                nonblocking: entry.socket.is_nonblocking(),
            },
        );
    }
    let replaced = {
        let mut entries = Held::take(|| ENTRIES.write());
        if entries.len() <= index {
            entries.resize(index + 1, None);
        }
        entries[index].replace(entry)
    };
    OURS.insert(fd);
    // A stale entry (its fd was closed behind our back, and the kernel
    // gave the number out again) is dropped only now, with the table
    // unlocked: its socket's last close may wait out SO_LINGER.
    drop(replaced);
    Ok(())
}

/// Forgets `fd`, returning what it was (`None`: it was not ours).
pub fn remove(fd: i32) -> Option<Entry> {
    if !OURS.remove(fd) {
        return None;
    }
    let entry = Held::take(|| ENTRIES.write())
        .get_mut(fd as usize)
        .and_then(Option::take);
    if let Some(rt) = entry.as_ref().and_then(|e| e.socket.rt) {
        crate::runtime::process::forget_fd(rt, fd);
    }
    entry
}

/// Sets `fd`'s `FD_CLOEXEC` as the program sees it; false if not ours.
pub fn set_cloexec(fd: i32, cloexec: bool) -> bool {
    if !is_ours(fd) {
        return false;
    }
    match Held::take(|| ENTRIES.write()).get_mut(fd as usize) {
        Some(Some(e)) => {
            e.cloexec = cloexec;
            if e.socket.rt.is_some() {
                let _ = crate::sys::set_cloexec(fd, cloexec);
            }
            true
        }
        _ => false,
    }
}

/// The table's write lock held ([`Held`]).
type TableWrite = Held<std::sync::RwLockWriteGuard<'static, Vec<Option<Entry>>>>;

thread_local! {
    /// The table's write lock, held by the forking thread across `fork`.
    static HELD_FOR_FORK: std::cell::RefCell<Option<TableWrite>> =
        const { std::cell::RefCell::new(None) };
}

/// Before `fork`: holds the table's lock across the fork, so the child's
/// copy is whole and its lock free (released by [`unlock_after_fork`]).
pub fn lock_for_fork() {
    let guard = Held::take(|| ENTRIES.write());
    HELD_FOR_FORK.with(|h| *h.borrow_mut() = Some(guard));
}

/// After `fork`, in the parent and in the child.
pub fn unlock_after_fork() {
    HELD_FOR_FORK.with(|h| drop(h.borrow_mut().take()));
}

/// A copy of `fd`'s entry, if it is ours.
pub fn get(fd: i32) -> Option<Entry> {
    if !is_ours(fd) {
        return None;
    }
    ENTRIES.read().get(fd as usize).cloned().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Numbers far from anything the test process opens.
    const A: i32 = 900_001;
    const B: i32 = 900_065;

    fn entry() -> Entry {
        thread_local! {
            static SOCKET: Arc<OpenSocket> = OpenSocket::new(
                SocketHandle { index: u32::MAX, generation: 0 },
                None,
                true,
            );
        }
        Entry {
            socket: SOCKET.with(Arc::clone),
            cloexec: false,
        }
    }

    #[test]
    fn insert_lookup_remove() {
        assert!(!is_ours(A));
        insert(A, entry()).unwrap();
        insert(B, entry()).unwrap();
        assert!(is_ours(A));
        assert!(!is_ours(A + 1));
        assert_eq!(get(A), Some(entry()));
        assert_eq!(remove(A), Some(entry()));
        assert!(!is_ours(A));
        assert_eq!(remove(A), None);
        assert!(is_ours(B));
        assert_eq!(remove(B), Some(entry()));
    }

    thread_local! {
        /// Whether the table was unlocked when an OpenSocket last dropped.
        static UNLOCKED_AT_DROP: std::cell::Cell<Option<bool>> =
            const { std::cell::Cell::new(None) };
    }

    pub(super) fn note_drop() {
        UNLOCKED_AT_DROP.with(|u| u.set(Some(ENTRIES.try_write().is_some())));
    }

    #[test]
    fn a_replaced_entry_drops_outside_the_lock() {
        const C: i32 = 900_129;
        let fresh = || Entry {
            socket: OpenSocket::new(
                SocketHandle {
                    index: u32::MAX,
                    generation: 1,
                },
                None,
                false,
            ),
            cloexec: false,
        };
        insert(C, fresh()).unwrap();
        UNLOCKED_AT_DROP.with(|u| u.set(None));
        // The number is reused while the table still holds the old entry.
        insert(C, fresh()).unwrap();
        assert_eq!(UNLOCKED_AT_DROP.with(|u| u.get()), Some(true));
        drop(remove(C));
    }

    #[test]
    fn out_of_range_fds_are_never_ours() {
        assert!(!is_ours(-1));
        assert!(!is_ours(i32::MAX));
        assert_eq!(insert(MAX_FD as i32, entry()), Err(libc::EMFILE));
        assert_eq!(insert(-5, entry()), Err(libc::EMFILE));
        assert_eq!(remove(-1), None);
    }
}
