//! The TAP ioctls: attach to (or create) a TAP device and configure it.
//!
//! `TUNSETIFF` on a fresh `/dev/net/tun` fd does both: it attaches to an
//! existing (persistent) TAP of that name when we may (`EPERM` when it
//! belongs to another user, `EBUSY` when another fd holds it), or creates it
//! when it does not exist and we have `CAP_NET_ADMIN`. A TAP we create
//! disappears when its last fd closes.

use super::cvt;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// An open TAP: its fd (close-on-exec, non-blocking) and interface name.
#[derive(Debug)]
pub struct Tap {
    /// The `/dev/net/tun` fd attached to the interface (the library's own:
    /// out of the program's reach).
    pub fd: super::private_fd::PrivateFd,
    /// The interface name (as the kernel reports it).
    pub name: String,
    /// True when the interface did not exist before we opened it.
    pub created: bool,
    /// One queue of a multi-queue TAP (`IFF_MULTI_QUEUE`): other programs
    /// may attach queues of their own.
    pub multi_queue: bool,
}

fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    Ok(req)
}

fn name_of(req: &libc::ifreq) -> String {
    let bytes: Vec<u8> = req
        .ifr_name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn ioctl(fd: RawFd, request: libc::c_ulong, req: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: every request used here reads or writes one `struct ifreq`,
    // and `req` is a valid, writable ifreq for the duration of the call.
    cvt(unsafe { libc::syscall(libc::SYS_ioctl, fd, request, req as *mut libc::ifreq) }).map(drop)
}

/// True when an interface named `name` exists in this network namespace.
pub fn interface_exists(name: &str) -> bool {
    !name.contains('/') && std::path::Path::new("/sys/class/net").join(name).exists()
}

/// Length of the virtio-net header we ask for (`TUNSETVNETHDRSZ`).
pub const VNET_HDR_LEN: usize = 10;

/// Opens `/dev/net/tun` and attaches it to the TAP `name` (`IFF_TAP |
/// IFF_NO_PI`), creating the interface when it does not exist. With
/// `offload`, frames carry a 10-byte `virtio_net_hdr` (`IFF_VNET_HDR`) and
/// the kernel may pass TCP segments over IPv4 and IPv6 of up to 64 KiB
/// either way with partial checksums (`TUNSETOFFLOAD`: `TUN_F_CSUM |
/// TUN_F_TSO4 | TUN_F_TSO6`); without,
/// the offloads are turned off (a persistent TAP keeps the last ones set).
pub fn open_tap(name: &str, offload: bool) -> io::Result<Tap> {
    let mut req = ifreq_for(name)?;
    let existed = interface_exists(name);
    let path = CString::new("/dev/net/tun").expect("no NUL in a literal");
    // SAFETY: `path` is a valid NUL-terminated string.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    })?;
    // SAFETY: the kernel just returned this fd; we are its only owner.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    let mut flags = libc::IFF_TAP | libc::IFF_NO_PI;
    if offload {
        flags |= libc::IFF_VNET_HDR;
    }
    // One queue of a multi-queue TAP, so that every program sharing the
    // stack reads its own queue; a TAP made without `multi_queue` takes
    // one fd only (EINVAL for the flag), and then we take that.
    let mut multi = libc::TUNSETIFF as libc::c_ulong;
    req.ifr_ifru.ifru_flags = (flags | libc::IFF_MULTI_QUEUE) as libc::c_short;
    if let Err(e) = ioctl(fd.as_raw_fd(), multi, &mut req) {
        if e.raw_os_error() != Some(libc::EINVAL) {
            return Err(e);
        }
        multi = 0;
        let mut plain = ifreq_for(name)?;
        plain.ifr_ifru.ifru_flags = flags as libc::c_short;
        ioctl(fd.as_raw_fd(), libc::TUNSETIFF as libc::c_ulong, &mut plain)?;
        req = plain;
    }
    if offload {
        let size: libc::c_int = VNET_HDR_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_ioctl,
                fd.as_raw_fd(),
                libc::TUNSETVNETHDRSZ as libc::c_ulong,
                &size as *const libc::c_int,
            )
        })?;
    }
    // The offloads are the interface's, not the fd's: a persistent TAP keeps
    // those the last process set. Without our headers, the kernel must not
    // hand us 64 KiB segments or partial checksums: turn them off then.
    let features = if offload {
        libc::c_ulong::from(libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6)
    } else {
        0
    };
    // SAFETY: TUNSETOFFLOAD takes its argument by value.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_ioctl,
            fd.as_raw_fd(),
            libc::TUNSETOFFLOAD as libc::c_ulong,
            features,
        )
    })?;
    Ok(Tap {
        fd: super::private_fd::PrivateFd::adopt(fd),
        name: name_of(&req),
        created: !existed,
        multi_queue: multi != 0,
    })
}

/// Takes queue `fd` out of the TAP's set of queues, or puts it back
/// (`TUNSETQUEUE` with `IFF_DETACH_QUEUE` or `IFF_ATTACH_QUEUE`). The
/// kernel spreads flows it knows nothing of over the attached queues; a
/// detached one gets no frame. Attaching again needs only the open file
/// (no capability: a process that dropped its privileges may).
pub fn set_queue_attached(fd: RawFd, attached: bool) -> io::Result<()> {
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let flag = if attached {
        libc::IFF_ATTACH_QUEUE
    } else {
        libc::IFF_DETACH_QUEUE
    };
    req.ifr_ifru.ifru_flags = flag as libc::c_short;
    ioctl(fd, libc::TUNSETQUEUE as libc::c_ulong, &mut req)
}

/// The TAP fd a forked child inherited from its parent (the same queue:
/// both processes read and write it), as the child's own.
///
/// `fd` must be the inherited TAP fd, open in this process, that nothing
/// else in this process will close (its owner was a thread of the parent,
/// which does not exist in the child).
pub fn adopt_inherited(fd: RawFd, name: String, multi_queue: bool) -> Tap {
    Tap {
        // SAFETY: the caller's promise.
        fd: super::private_fd::PrivateFd::adopt(unsafe { OwnedFd::from_raw_fd(fd) }),
        name,
        created: false,
        multi_queue,
    }
}

/// A throwaway `AF_INET` datagram socket for the interface ioctls. Made with
/// a raw syscall so it never passes through our own `socket` export.
fn control_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_socket,
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: the kernel just returned this fd; we are its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The interface's flags (`IFF_UP`, ...).
pub fn interface_flags(name: &str) -> io::Result<libc::c_int> {
    let sock = control_socket()?;
    let mut req = ifreq_for(name)?;
    ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req)?;
    // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member.
    Ok(unsafe { req.ifr_ifru.ifru_flags } as u16 as libc::c_int)
}

/// Brings the interface up (`IFF_UP`); a no-op when it already is.
pub fn set_up(name: &str) -> io::Result<()> {
    let flags = interface_flags(name)?;
    if flags & libc::IFF_UP != 0 {
        return Ok(());
    }
    let sock = control_socket()?;
    let mut req = ifreq_for(name)?;
    req.ifr_ifru.ifru_flags = (flags | libc::IFF_UP) as libc::c_short;
    ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &mut req)
}

/// The interface's MTU.
pub fn mtu(name: &str) -> io::Result<usize> {
    let sock = control_socket()?;
    let mut req = ifreq_for(name)?;
    ioctl(sock.as_raw_fd(), libc::SIOCGIFMTU, &mut req)?;
    // SAFETY: SIOCGIFMTU filled the `ifru_mtu` member.
    Ok(unsafe { req.ifr_ifru.ifru_mtu }.max(0) as usize)
}

/// Sets the interface's MTU.
pub fn set_mtu(name: &str, mtu: usize) -> io::Result<()> {
    let sock = control_socket()?;
    let mut req = ifreq_for(name)?;
    req.ifr_ifru.ifru_mtu = libc::c_int::try_from(mtu).unwrap_or(libc::c_int::MAX);
    ioctl(sock.as_raw_fd(), libc::SIOCSIFMTU, &mut req)
}

/// The kernel side's MAC address of the interface.
pub fn hardware_address(name: &str) -> io::Result<[u8; 6]> {
    let sock = control_socket()?;
    let mut req = ifreq_for(name)?;
    ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req)?;
    // SAFETY: SIOCGIFHWADDR filled the `ifru_hwaddr` member.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (dst, src) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *dst = *src as u8;
    }
    Ok(mac)
}

/// Reads one frame into `buf` (raw `read(2)`, bypassing our own export).
/// `Err(WouldBlock)` when no frame is waiting.
pub fn read_frame(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
    cvt(unsafe { libc::syscall(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) })
        .map(|n| n as usize)
}

/// Writes one frame (raw `write(2)`, bypassing our own export).
pub fn write_frame(fd: RawFd, frame: &[u8]) -> io::Result<usize> {
    // SAFETY: `frame` is valid for `frame.len()` bytes of reads.
    cvt(unsafe { libc::syscall(libc::SYS_write, fd, frame.as_ptr(), frame.len()) })
        .map(|n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_are_einval() {
        for name in ["", "a-name-that-is-far-too-long", "nul\0"] {
            let e = open_tap(name, false).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{name:?}");
        }
    }

    #[test]
    fn loopback_has_flags_and_mtu() {
        assert!(interface_exists("lo"));
        assert!(interface_flags("lo").unwrap() & libc::IFF_LOOPBACK != 0);
        assert!(mtu("lo").unwrap() >= 1500);
    }
}
