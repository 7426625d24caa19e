//! [`Region`]: the shared-memory file, mapped at one fixed address in
//! every process.
//!
//! One file per stack in `/dev/shm` ([`region_path`]: the network
//! namespace's inode and the TAP's name), created by the first process with
//! `O_EXCL` and sized with `ftruncate` (sparse: tmpfs gives it pages only
//! where they are written), opened by the others. Every process maps it
//! `MAP_SHARED | MAP_FIXED_NOREPLACE` at [`REGION_ADDR`], so that an
//! address stored in the region (a `Vec`'s buffer, a free list's link)
//! means the same memory in every process. When something else is already
//! mapped there, `MAP_FIXED_NOREPLACE` fails with `EEXIST` rather than
//! replacing it, and [`Region::open`] says so in its error.
//!
//! Across `fork` the mapping is inherited as it is (`MAP_SHARED`: parent and
//! child see each other's writes, at the same address; no `MADV_DONTFORK`),
//! and so is the fd. Across `execve` the mapping is gone and the fd is
//! closed (`O_CLOEXEC`); the new image opens the file again by its name.
//! The fd is the library's own ([`PrivateFd`]: high, and out of reach of
//! the program's `close`).
//!
//! Every call here is a raw system call (`openat`, `ftruncate`, `mmap`, ...),
//! never through a symbol another preloaded library could interpose.
//!
//! Opening says whether the file was [`Opened::Created`] or
//! [`Opened::Attached`]; it does not say whether the creator has finished
//! writing the header: a header written last (a magic word) tells, and a
//! creator may die before it.
//!
//! Limits: tmpfs hands out pages on first write, so a full `/dev/shm` shows
//! as `SIGBUS` on touching a new page, as for any `shm_open` user; the file
//! is created `0600` (processes of one user share a stack).

use crate::sys::private_fd::PrivateFd;
use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Where the region is mapped in every process.
///
/// On x86_64 (47-bit user addresses, up to `0x7fff_ffff_ffff`) the kernel
/// places shared libraries and anonymous mappings from just below the
/// stack, near `0x7f..`, downwards (randomized by at most 16 TiB with the
/// largest `mmap_rnd_bits`); PIE executables and their `brk` heap at
/// `0x55..`–`0x56..`; non-PIE executables at `0x40_0000`; with an unlimited
/// stack rlimit (the legacy layout) mappings go upwards from
/// `0x2aaa_aaaa_b000`, plus at most 16 TiB of randomization, which ends
/// below `0x3b00_0000_0000`. `0x3e00_0000_0000` (62 TiB) lies between all of
/// these, with terabytes to spare on each side, so only a program that
/// maps tens of terabytes or picks this very address meets it. On aarch64
/// with 48-bit addresses it is as free (mappings near `0xffff_..`, PIE at
/// `0xaaaa_..`); with 39-bit addresses it is out of range and the region
/// cannot be mapped (the error says so).
pub const REGION_ADDR: usize = 0x3e00_0000_0000;

/// The region's size: 4 GiB of address space, a sparse file that costs
/// only the pages written.
pub const REGION_LEN: usize = 4 << 30;

/// Whether [`Region::open`] made the file or found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// This process created the file (`O_CREAT | O_EXCL`) and sized it: it
    /// is all zeros, and ours to format.
    Created,
    /// The file existed: another process created it (it may still be
    /// formatting it, or have died doing so).
    Attached,
}

/// The region's file: `/dev/shm/tapstack-<netns inode>-<ifname>`, so that
/// the same TAP name in two network namespaces names two stacks.
pub fn region_path(netns_inode: u64, ifname: &str) -> PathBuf {
    PathBuf::from(format!("/dev/shm/tapstack-{netns_inode}-{ifname}"))
}

/// The inode of this thread's network namespace (`/proc/thread-self/ns/net`),
/// for [`region_path`]: two namespaces, two stacks.
pub fn netns_inode() -> io::Result<u64> {
    let path = CString::new("/proc/thread-self/ns/net").expect("no NUL in a literal");
    // SAFETY: `stat` is plain data, written whole by the call.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated; `st` is valid for one `struct stat`.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_newfstatat,
            libc::AT_FDCWD,
            path.as_ptr(),
            &mut st as *mut libc::stat,
            0,
        )
    })?;
    Ok(st.st_ino)
}

/// The region mapped in this process. Dropping it unmaps it: the runtime
/// keeps it for the life of the process (every address in it must stay
/// valid as long as anything may use it).
#[derive(Debug)]
pub struct Region {
    base: *mut u8,
    len: usize,
    fd: PrivateFd,
    path: PathBuf,
}

// SAFETY: the Region only describes a mapping (its address and length) and
// owns an fd; any thread may use or drop them.
unsafe impl Send for Region {}
// SAFETY: as above: `&Region` hands out the address, never a reference.
unsafe impl Sync for Region {}

/// A raw system call's -1 as the thread's errno.
fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Retries `f` while it fails with `EINTR`.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn openat(path: &CString, flags: libc::c_int) -> io::Result<OwnedFd> {
    let fd = retry(|| {
        // SAFETY: `path` is NUL-terminated; the mode is an integer.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                flags | libc::O_RDWR | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                0o600 as libc::c_uint,
            )
        })
    })?;
    // SAFETY: openat returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

fn file_size(fd: libc::c_int) -> io::Result<u64> {
    // SAFETY: `stat` is plain data, written whole by fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is valid for writes of one `struct stat`.
    cvt(unsafe { libc::syscall(libc::SYS_fstat, fd, &mut st as *mut libc::stat) })?;
    Ok(st.st_size as u64)
}

fn ftruncate(fd: libc::c_int, len: usize) -> io::Result<()> {
    // SAFETY: integer arguments.
    retry(|| cvt(unsafe { libc::syscall(libc::SYS_ftruncate, fd, len as libc::off_t) })).map(drop)
}

fn munmap(addr: usize, len: usize) {
    // SAFETY: unmapping a range this module mapped and owns.
    unsafe { libc::syscall(libc::SYS_munmap, addr, len) };
}

impl Region {
    /// Opens the region's file at `path` (creating it with `O_EXCL` and
    /// sizing it to `len` when it does not exist: [`Opened::Created`]; else
    /// opening it: [`Opened::Attached`]) and maps `len` bytes of it
    /// `MAP_SHARED | MAP_FIXED_NOREPLACE` at [`REGION_ADDR`].
    ///
    /// When the address is taken (something is mapped in
    /// `REGION_ADDR..REGION_ADDR+len`), the error (`AddrInUse`) says so in
    /// one line.
    pub fn open(path: &Path, len: usize) -> io::Result<(Region, Opened)> {
        Region::open_at(path, len, REGION_ADDR)
    }

    /// [`open`](Region::open) at another address: for tests, which map
    /// several regions in one process.
    pub fn open_at(path: &Path, len: usize, addr: usize) -> io::Result<(Region, Opened)> {
        if len == 0 || !addr.is_multiple_of(4096) || !len.is_multiple_of(4096) {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let cpath = c_path(path)?;
        let (fd, opened) = match openat(&cpath, libc::O_CREAT | libc::O_EXCL) {
            Ok(fd) => (fd, Opened::Created),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                (openat(&cpath, 0)?, Opened::Attached)
            }
            Err(e) => return Err(e),
        };
        let fd = PrivateFd::adopt(fd);
        // The creator sizes the file; an attacher that finds it shorter
        // (the creator is between its open and its ftruncate, or died
        // there) sizes it too: the same length twice is harmless, and
        // mapping past the end would fault on first touch.
        if opened == Opened::Created || file_size(fd.raw())? < len as u64 {
            ftruncate(fd.raw(), len)?;
        }
        // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping:
        // it maps the fd at `addr` or fails; no memory of ours changes.
        let got = unsafe {
            libc::syscall(
                libc::SYS_mmap,
                addr,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_FIXED_NOREPLACE,
                fd.raw(),
                0 as libc::off_t,
            )
        };
        if got == -1 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EEXIST) => io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "the shared region's address {addr:#x}..{:#x} is already mapped in this process",
                        addr + len
                    ),
                ),
                Some(libc::ENOMEM) => io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!(
                        "cannot map the shared region at {addr:#x}..{:#x} (beyond this system's address space?)",
                        addr + len
                    ),
                ),
                _ => e,
            });
        }
        let got = got as usize;
        if got != addr {
            // A kernel older than 4.17 takes MAP_FIXED_NOREPLACE for a hint.
            munmap(got, len);
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "the shared region could not be mapped at {addr:#x} (kernel without MAP_FIXED_NOREPLACE, or the address is taken)"
                ),
            ));
        }
        Ok((
            Region {
                base: got as *mut u8,
                len,
                fd,
                path: path.to_path_buf(),
            },
            opened,
        ))
    }

    /// The first byte of the mapping ([`REGION_ADDR`] unless opened with
    /// [`open_at`](Region::open_at)).
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// The mapping's length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never: a region has at least one page.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's fd (the library's own).
    pub fn fd(&self) -> &PrivateFd {
        &self.fd
    }

    /// Removes the file from `/dev/shm` (the last process out). The
    /// mapping stays valid; the memory goes when the last mapping does.
    pub fn unlink(&self) -> io::Result<()> {
        let cpath = c_path(&self.path)?;
        // SAFETY: `cpath` is NUL-terminated.
        cvt(unsafe { libc::syscall(libc::SYS_unlinkat, libc::AT_FDCWD, cpath.as_ptr(), 0) })
            .map(drop)
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        super::global::clear_heap_in(self.base as usize, self.len);
        munmap(self.base as usize, self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A fresh path in /dev/shm for one test.
    fn test_path(name: &str) -> PathBuf {
        PathBuf::from(format!(
            "/dev/shm/tapstack-test-{}-{name}",
            std::process::id()
        ))
    }

    /// A distinct address per test, so that tests map side by side.
    fn test_addr(n: usize) -> usize {
        REGION_ADDR + (n + 1) * (64 << 30)
    }

    fn word(r: &Region, i: usize) -> &AtomicU64 {
        assert!((i + 1) * 8 <= r.len());
        // SAFETY: inside the mapping, aligned; atomics because other
        // processes write it too.
        unsafe { &*r.base().cast::<AtomicU64>().add(i) }
    }

    #[test]
    fn path_names_namespace_and_interface() {
        assert_eq!(
            region_path(4026531840, "tap0"),
            Path::new("/dev/shm/tapstack-4026531840-tap0")
        );
    }

    #[test]
    fn netns_inode_is_the_namespace_files() {
        use std::os::unix::fs::MetadataExt;
        let ino = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
        assert_eq!(netns_inode().unwrap(), ino);
        assert_ne!(ino, 0);
    }

    #[test]
    fn create_attach_fork_unlink() {
        let path = test_path("cafu");
        let _ = std::fs::remove_file(&path);
        let len = 1 << 30;
        let (a, opened) = Region::open_at(&path, len, test_addr(0)).unwrap();
        assert_eq!(opened, Opened::Created);
        assert_eq!(a.base() as usize, test_addr(0));
        assert_eq!(a.len(), len);
        assert_eq!(a.path(), path);
        assert!(crate::sys::private_fd::is_private(a.fd().raw()));
        // SAFETY: F_GETFD on our own fd.
        let fd_flags = unsafe { libc::fcntl(a.fd().raw(), libc::F_GETFD) };
        assert_eq!(
            fd_flags & libc::FD_CLOEXEC,
            libc::FD_CLOEXEC,
            "not close-on-exec"
        );
        // Sized, and sparse: nothing written yet.
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), len as u64);
        assert_eq!(word(&a, 0).load(Ordering::Relaxed), 0);
        word(&a, 0).store(0x1234, Ordering::Relaxed);
        word(&a, len / 8 - 1).store(0x5678, Ordering::Relaxed);

        // A second open finds the file and sees the first one's writes
        // (at another address here: one process cannot map both at one).
        let (b, opened) = Region::open_at(&path, len, test_addr(1)).unwrap();
        assert_eq!(opened, Opened::Attached);
        assert_eq!(word(&b, 0).load(Ordering::Relaxed), 0x1234);
        assert_eq!(word(&b, len / 8 - 1).load(Ordering::Relaxed), 0x5678);
        word(&b, 1).store(7, Ordering::Relaxed);
        assert_eq!(word(&a, 1).load(Ordering::Relaxed), 7);

        // A forked child has the mapping at the same address and shares it.
        let seen = word(&a, 0) as *const AtomicU64;
        // SAFETY: the child only reads and writes the mapped memory and
        // calls _exit, all async-signal-safe.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                let ok = (*seen).load(Ordering::Relaxed) == 0x1234;
                (*seen.add(2)).store(0xc41d, Ordering::Relaxed);
                libc::_exit(if ok { 0 } else { 1 });
            }
            let mut status = 0;
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        }
        assert_eq!(word(&a, 2).load(Ordering::Relaxed), 0xc41d);
        assert_eq!(word(&b, 2).load(Ordering::Relaxed), 0xc41d);

        a.unlink().unwrap();
        assert!(!path.exists());
        // The mappings outlive the name.
        assert_eq!(word(&b, 0).load(Ordering::Relaxed), 0x1234);
        assert_eq!(a.unlink().unwrap_err().raw_os_error(), Some(libc::ENOENT));
        // A new open makes a new, empty file.
        drop(b);
        let (c, opened) = Region::open_at(&path, len, test_addr(1)).unwrap();
        assert_eq!(opened, Opened::Created);
        assert_eq!(word(&c, 0).load(Ordering::Relaxed), 0);
        c.unlink().unwrap();
    }

    #[test]
    fn taken_address_is_an_error_that_says_so() {
        let path = test_path("taken");
        let _ = std::fs::remove_file(&path);
        let (a, _) = Region::open_at(&path, 1 << 20, test_addr(2)).unwrap();
        // The same address again in this process: refused, not replaced.
        word(&a, 0).store(99, Ordering::Relaxed);
        let e = Region::open_at(&path, 1 << 20, test_addr(2)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert!(e.to_string().contains("already mapped"), "{e}");
        assert_eq!(word(&a, 0).load(Ordering::Relaxed), 99);
        // Overlapping only its end is refused too.
        let e = Region::open_at(&path, 2 << 20, test_addr(2) - (1 << 20)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        a.unlink().unwrap();
    }

    #[test]
    fn attacher_sizes_a_short_file() {
        // The creator died between its O_EXCL open and its ftruncate.
        let path = test_path("short");
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, b"").unwrap();
        let (a, opened) = Region::open_at(&path, 1 << 20, test_addr(3)).unwrap();
        assert_eq!(opened, Opened::Attached);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 20);
        word(&a, (1 << 20) / 8 - 1).store(1, Ordering::Relaxed);
        a.unlink().unwrap();
    }

    #[test]
    fn bad_arguments() {
        let path = test_path("bad");
        assert_eq!(
            Region::open_at(&path, 0, test_addr(4)).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            Region::open_at(&path, 4096, test_addr(4) + 1)
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
        assert!(!path.exists());
    }
}
