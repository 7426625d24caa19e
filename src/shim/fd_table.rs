//! Which fds are ours.
//!
//! Every stack socket sits on a real, reserved kernel fd (an `eventfd`), so
//! fd numbers come from the kernel and never collide with the program's. The
//! table answers "is this fd ours?" for every `read`/`write`/`close` of the
//! host program, so that question must be cheap when the answer is no: it is
//! one relaxed atomic load of a bit in a static bitmap, no lock. The entries
//! themselves (what the fd is) sit behind a `RwLock`, taken only for our fds.
//!
//! Fds at or above [`MAX_FD`] cannot be ours: `socket()` refuses with
//! `EMFILE` rather than reserve one.

use crate::stack::SocketHandle;
use parking_lot::RwLock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// One past the largest fd the table can hold (Linux's default hard limit
/// for `RLIMIT_NOFILE` is 2^20). The bitmap is 128 KiB of zero pages.
pub const MAX_FD: usize = 1 << 20;

const WORDS: usize = MAX_FD / 64;

/// Bit `fd` is set while `fd` is ours.
static OURS: [AtomicU64; WORDS] = [const { AtomicU64::new(0) }; WORDS];

/// A stack socket as the program holds it: POSIX's "open file
/// description", shared by the fds `dup` makes. When the last fd that
/// refers to it is closed, the stack socket is closed
/// ([`OpenSocket`]'s `Drop`, installed by the socket calls).
#[derive(Debug)]
pub struct OpenSocket {
    /// The socket in the stack.
    pub handle: SocketHandle,
    /// `O_NONBLOCK`: a file status flag, shared by dup'ed fds.
    pub nonblocking: AtomicBool,
}

impl OpenSocket {
    /// A new open socket for `handle`.
    pub fn new(handle: SocketHandle, nonblocking: bool) -> Arc<OpenSocket> {
        Arc::new(OpenSocket {
            handle,
            nonblocking: AtomicBool::new(nonblocking),
        })
    }

    /// `O_NONBLOCK` is set.
    pub fn is_nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        super::socket::release(self.handle);
    }
}

/// What one of our fds is.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The socket it refers to.
    pub socket: Arc<OpenSocket>,
    /// `FD_CLOEXEC` as the program sees it (a per-fd flag; the reserved fd
    /// itself is always close-on-exec: the stack does not survive `exec`).
    pub cloexec: bool,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        Arc::ptr_eq(&self.socket, &other.socket) && self.cloexec == other.cloexec
    }
}

static ENTRIES: RwLock<Vec<Option<Entry>>> = RwLock::new(Vec::new());

fn slot(fd: i32) -> Option<(usize, u64)> {
    let fd = usize::try_from(fd).ok().filter(|&fd| fd < MAX_FD)?;
    Some((fd / 64, 1u64 << (fd % 64)))
}

/// Whether `fd` is one of our sockets. Cheap: one atomic load.
#[inline]
pub fn is_ours(fd: i32) -> bool {
    match slot(fd) {
        Some((word, bit)) => OURS[word].load(Ordering::Acquire) & bit != 0,
        None => false,
    }
}

/// Records `fd` as ours. `Err(EMFILE)` when `fd` is beyond the table.
pub fn insert(fd: i32, entry: Entry) -> Result<(), i32> {
    let (word, bit) = slot(fd).ok_or(libc::EMFILE)?;
    let index = fd as usize;
    {
        let mut entries = ENTRIES.write();
        if entries.len() <= index {
            entries.resize(index + 1, None);
        }
        entries[index] = Some(entry);
    }
    OURS[word].fetch_or(bit, Ordering::Release);
    Ok(())
}

/// Forgets `fd`, returning what it was (`None`: it was not ours).
pub fn remove(fd: i32) -> Option<Entry> {
    let (word, bit) = slot(fd)?;
    let was = OURS[word].fetch_and(!bit, Ordering::AcqRel);
    if was & bit == 0 {
        return None;
    }
    ENTRIES.write().get_mut(fd as usize).and_then(Option::take)
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

    #[test]
    fn out_of_range_fds_are_never_ours() {
        assert!(!is_ours(-1));
        assert!(!is_ours(i32::MAX));
        assert_eq!(insert(MAX_FD as i32, entry()), Err(libc::EMFILE));
        assert_eq!(insert(-5, entry()), Err(libc::EMFILE));
        assert_eq!(remove(-1), None);
    }
}
