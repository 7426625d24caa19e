//! TEMPORARY stub (replaced by the region branch's version).
use std::path::{Path, PathBuf};
pub const REGION_ADDR: usize = 0x3e00_0000_0000;
pub const REGION_LEN: usize = 4 << 30;
pub struct Region {
    base: *mut u8,
    len: usize,
    path: PathBuf,
    _fd: crate::sys::private_fd::PrivateFd,
}
unsafe impl Send for Region {}
unsafe impl Sync for Region {}
pub enum Opened {
    Created,
    Attached,
}
pub fn region_path(netns_inode: u64, ifname: &str) -> PathBuf {
    PathBuf::from(format!("/dev/shm/tapstack-{netns_inode}-{ifname}"))
}
impl Region {
    pub fn open(path: &Path, len: usize) -> std::io::Result<(Region, Opened)> {
        use std::os::fd::{FromRawFd, OwnedFd};
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        let mut opened = Opened::Created;
        let mut fd = unsafe {
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                c.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                0o600,
            )
        };
        if fd < 0 {
            opened = Opened::Attached;
            fd = unsafe {
                libc::syscall(
                    libc::SYS_openat,
                    libc::AT_FDCWD,
                    c.as_ptr(),
                    libc::O_RDWR | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
        } else if unsafe { libc::ftruncate(fd as i32, len as i64) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd =
            crate::sys::private_fd::PrivateFd::adopt(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        let p = unsafe {
            libc::mmap(
                REGION_ADDR as *mut _,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_FIXED_NOREPLACE | libc::MAP_NORESERVE,
                fd.raw(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok((
            Region {
                base: p as *mut u8,
                len,
                path: path.to_path_buf(),
                _fd: fd,
            },
            opened,
        ))
    }
    pub fn base(&self) -> *mut u8 {
        self.base
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn unlink(&self) -> std::io::Result<()> {
        std::fs::remove_file(&self.path)
    }
}
impl Drop for Region {
    fn drop(&mut self) {
        unsafe { libc::munmap(self.base as *mut _, self.len) };
    }
}
