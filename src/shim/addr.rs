//! `struct sockaddr_in` and `struct sockaddr_in6` in and out, and the pointer checks of the C
//! boundary: pointers become Rust values here, with the checks Linux makes
//! (`EFAULT` for a NULL or obviously bad pointer, `EINVAL` for a length that
//! cannot hold the address), and outputs are written only on success.

use super::errno::Errno;
use libc::{sockaddr, sockaddr_in, sockaddr_in6, socklen_t};
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

const SIN_LEN: usize = size_of::<sockaddr_in>();
/// `sizeof(struct sockaddr_in6)`: 28, what Linux reports.
const SIN6_LEN: usize = size_of::<sockaddr_in6>();
/// `SIN6_LEN_RFC2133`: the RFC 2133 `sockaddr_in6`, without the scope id,
/// which Linux still takes as input (24 bytes).
const SIN6_LEN_RFC2133: usize = 24;

/// Addresses below this are never mapped (Linux's `vm.mmap_min_addr` is at
/// least 4096): a pointer there is as bad as NULL.
const LOWEST_VALID: usize = 4096;

/// `EFAULT` unless `p` may point at `len` bytes: NULL or a page-zero
/// pointer with a non-zero length, or a range that wraps the address space.
pub fn check_buf<T>(p: *const T, len: usize) -> Errno<()> {
    if len == 0 {
        return Ok(());
    }
    let start = p as usize;
    if start < LOWEST_VALID || start.checked_add(len).is_none() || len > isize::MAX as usize {
        return Err(libc::EFAULT);
    }
    Ok(())
}

/// `EFAULT` unless `p` is a plausible pointer to one `T`.
pub fn check_ptr<T>(p: *const T) -> Errno<()> {
    check_buf(p, size_of::<T>())
}

/// Reads the IPv4 address `bind`/`connect` were given. `AF_UNSPEC` with
/// the any-address is taken as `AF_INET` for `bind`, as Linux does.
///
/// # Safety
/// `addr` must point at `len` readable bytes when it passes the checks.
pub unsafe fn read_sockaddr(
    addr: *const sockaddr,
    len: socklen_t,
    bind: bool,
) -> Errno<SocketAddrV4> {
    if (len as usize) < SIN_LEN {
        // Linux: a length that cannot hold the family is EINVAL too.
        return Err(libc::EINVAL);
    }
    if len as usize > size_of::<libc::sockaddr_storage>() {
        return Err(libc::EINVAL);
    }
    check_buf(addr, len as usize)?;
    // SAFETY: checked above that `addr` holds at least a sockaddr_in; it
    // may be unaligned.
    let sin = unsafe { std::ptr::read_unaligned(addr.cast::<sockaddr_in>()) };
    let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
    let port = u16::from_be(sin.sin_port);
    match i32::from(sin.sin_family) {
        libc::AF_INET => Ok(SocketAddrV4::new(ip, port)),
        libc::AF_UNSPEC if bind && ip.is_unspecified() => Ok(SocketAddrV4::new(ip, port)),
        _ => Err(libc::EAFNOSUPPORT),
    }
}

/// Reads the IPv6 address `bind`/`connect` were given on an `AF_INET6`
/// socket, as Linux's `inet6_bind` and `tcp_v6_connect`: shorter than 24
/// bytes (an `AF_INET` address among them) is `EINVAL`, another family
/// `EAFNOSUPPORT`; the scope id is read only from a full 28 bytes.
///
/// # Safety
/// `addr` must point at `len` readable bytes when it passes the checks.
pub unsafe fn read_sockaddr6(addr: *const sockaddr, len: socklen_t) -> Errno<SocketAddrV6> {
    if (len as usize) < SIN6_LEN_RFC2133 || len as usize > size_of::<libc::sockaddr_storage>() {
        return Err(libc::EINVAL);
    }
    check_buf(addr, len as usize)?;
    let mut raw = [0u8; SIN6_LEN];
    let n = (len as usize).min(SIN6_LEN);
    // SAFETY: checked above that `addr` holds `len` >= `n` bytes.
    unsafe { std::ptr::copy_nonoverlapping(addr.cast::<u8>(), raw.as_mut_ptr(), n) };
    // SAFETY: `raw` is a zero-filled sockaddr_in6's bytes, any of which is
    // a valid value.
    let sin6 = unsafe { std::ptr::read_unaligned(raw.as_ptr().cast::<sockaddr_in6>()) };
    if i32::from(sin6.sin6_family) != libc::AF_INET6 {
        return Err(libc::EAFNOSUPPORT);
    }
    Ok(SocketAddrV6::new(
        Ipv6Addr::from(sin6.sin6_addr.s6_addr),
        u16::from_be(sin6.sin6_port),
        u32::from_be(sin6.sin6_flowinfo),
        sin6.sin6_scope_id,
    ))
}

/// Checks an address output (`accept`, `getsockname`, `recvfrom`): NULL
/// `addr` means "not wanted"; otherwise `len` must be readable and hold a
/// non-negative length. Call before the operation, so a bad pointer fails
/// the call without side effects.
///
/// # Safety
/// `len`, when it passes the checks, must point at a `socklen_t`.
pub unsafe fn check_out(addr: *mut sockaddr, len: *mut socklen_t) -> Errno<()> {
    if addr.is_null() {
        return Ok(());
    }
    check_ptr(len)?;
    // SAFETY: checked just above.
    let n = unsafe { len.read_unaligned() };
    if (n as i32) < 0 {
        return Err(libc::EINVAL);
    }
    check_buf(addr, n as usize)
}

/// Writes `a` to an address output checked by [`check_out`]: truncated to
/// the caller's length, which is then set to the full length.
///
/// # Safety
/// As for [`check_out`], which must have passed.
pub unsafe fn write_sockaddr(a: Option<SocketAddrV4>, addr: *mut sockaddr, len: *mut socklen_t) {
    if addr.is_null() {
        return;
    }
    let Some(a) = a else {
        // No address (TCP's recvfrom): length 0.
        // SAFETY: checked by check_out.
        unsafe { len.write_unaligned(0) };
        return;
    };
    let sin = sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: the caller's contract.
    unsafe { write_truncated(&sin, addr, len) }
}

/// Writes `a` as a `sockaddr_in6` (28 bytes, flow info and scope id as
/// given) to an address output checked by [`check_out`], truncated as
/// [`write_sockaddr`] does.
///
/// # Safety
/// As for [`check_out`], which must have passed.
pub unsafe fn write_sockaddr6(a: SocketAddrV6, addr: *mut sockaddr, len: *mut socklen_t) {
    if addr.is_null() {
        return;
    }
    // SAFETY: all-zero bytes are a valid sockaddr_in6.
    let mut sin6: sockaddr_in6 = unsafe { std::mem::zeroed() };
    sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sin6.sin6_port = a.port().to_be();
    sin6.sin6_flowinfo = a.flowinfo().to_be();
    sin6.sin6_addr.s6_addr = a.ip().octets();
    sin6.sin6_scope_id = a.scope_id();
    // SAFETY: the caller's contract.
    unsafe { write_truncated(&sin6, addr, len) }
}

/// Copies `min(*len, size_of::<T>())` bytes of `v` to `addr` and sets
/// `*len` to the full size, as Linux's `move_addr_to_user`.
///
/// # Safety
/// `addr` and `len` passed [`check_out`], and `addr` is not NULL.
unsafe fn write_truncated<T>(v: &T, addr: *mut sockaddr, len: *mut socklen_t) {
    // SAFETY: check_out checked `len`; `addr` holds `n` bytes.
    unsafe {
        let n = (len.read_unaligned() as usize).min(size_of::<T>());
        std::ptr::copy_nonoverlapping((v as *const T).cast::<u8>(), addr.cast::<u8>(), n);
        len.write_unaligned(size_of::<T>() as socklen_t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sin(family: i32, ip: [u8; 4], port: u16) -> sockaddr_in {
        sockaddr_in {
            sin_family: family as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_be_bytes(ip).to_be(),
            },
            sin_zero: [0; 8],
        }
    }

    #[test]
    fn reads_ipv4_and_rejects_the_rest() {
        let s = sin(libc::AF_INET, [198, 18, 0, 1], 8080);
        let p = (&s as *const sockaddr_in).cast::<sockaddr>();
        // SAFETY: `p` points at a sockaddr_in.
        unsafe {
            assert_eq!(
                read_sockaddr(p, 16, false),
                Ok(SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 8080))
            );
            assert_eq!(read_sockaddr(p, 8, false), Err(libc::EINVAL));
            assert_eq!(
                read_sockaddr(std::ptr::null(), 16, false),
                Err(libc::EFAULT)
            );
            let s6 = sin(libc::AF_INET6, [0; 4], 1);
            let p6 = (&s6 as *const sockaddr_in).cast::<sockaddr>();
            assert_eq!(read_sockaddr(p6, 16, false), Err(libc::EAFNOSUPPORT));
            let any = sin(libc::AF_UNSPEC, [0; 4], 80);
            let pa = (&any as *const sockaddr_in).cast::<sockaddr>();
            assert!(read_sockaddr(pa, 16, true).is_ok());
            assert_eq!(read_sockaddr(pa, 16, false), Err(libc::EAFNOSUPPORT));
        }
    }

    #[test]
    fn writes_truncated_and_reports_the_full_length() {
        let mut out = [0xffu8; 16];
        let mut len: socklen_t = 4;
        let a = SocketAddrV4::new(Ipv4Addr::new(1, 2, 3, 4), 0x1234);
        let p = out.as_mut_ptr().cast::<sockaddr>();
        // SAFETY: `out` holds 16 bytes, `len` is valid.
        unsafe {
            check_out(p, &mut len).unwrap();
            write_sockaddr(Some(a), p, &mut len);
        }
        assert_eq!(len, 16);
        assert_eq!(&out[..4], &[libc::AF_INET as u8, 0, 0x12, 0x34]);
        assert_eq!(out[4], 0xff);
    }

    #[test]
    fn ipv6_in_and_out_as_linux() {
        // SAFETY: all-zero bytes are a valid sockaddr_in6.
        let mut s6: sockaddr_in6 = unsafe { std::mem::zeroed() };
        s6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        s6.sin6_port = 5201u16.to_be();
        s6.sin6_addr.s6_addr = "::ffff:198.18.0.1".parse::<Ipv6Addr>().unwrap().octets();
        s6.sin6_scope_id = 3;
        let p = (&s6 as *const sockaddr_in6).cast::<sockaddr>();
        let s4 = sin(libc::AF_INET, [198, 18, 0, 1], 1);
        let p4 = (&s4 as *const sockaddr_in).cast::<sockaddr>();
        // SAFETY: `p` holds 28 bytes, `p4` 16.
        unsafe {
            let a = read_sockaddr6(p, 28).unwrap();
            assert_eq!(a.port(), 5201);
            assert_eq!(a.scope_id(), 3);
            assert_eq!(read_sockaddr6(p, 24).unwrap().scope_id(), 0);
            assert_eq!(read_sockaddr6(p, 23), Err(libc::EINVAL));
            assert_eq!(read_sockaddr6(p4, 16), Err(libc::EINVAL));
            assert_eq!(read_sockaddr6(p, 129), Err(libc::EINVAL));
        }
        let mut p46 = [0u8; 32];
        p46[0] = libc::AF_INET as u8;
        // SAFETY: 32 readable bytes.
        assert_eq!(
            unsafe { read_sockaddr6(p46.as_ptr().cast(), 28) },
            Err(libc::EAFNOSUPPORT)
        );
        let mut out = [0xffu8; 32];
        let mut len: socklen_t = 10;
        // SAFETY: `out` holds 32 bytes, `len` is valid.
        unsafe {
            check_out(out.as_mut_ptr().cast(), &mut len).unwrap();
            write_sockaddr6(a6(), out.as_mut_ptr().cast(), &mut len);
        }
        assert_eq!(len, 28);
        assert_eq!(&out[..4], &[libc::AF_INET6 as u8, 0, 0x14, 0x51]);
        assert_eq!(&out[4..10], &[0; 6]);
        assert_eq!(out[10], 0xff);
    }

    fn a6() -> SocketAddrV6 {
        SocketAddrV6::new("::ffff:1.2.3.4".parse().unwrap(), 5201, 0, 0)
    }

    #[test]
    fn bad_pointers_are_efault() {
        assert_eq!(check_buf(std::ptr::null::<u8>(), 1), Err(libc::EFAULT));
        assert_eq!(check_buf(std::ptr::null::<u8>(), 0), Ok(()));
        assert_eq!(check_buf(8 as *const u8, 1), Err(libc::EFAULT));
        assert_eq!(check_buf(usize::MAX as *const u8, 2), Err(libc::EFAULT));
        let mut len: socklen_t = u32::MAX;
        let mut b = [0u8; 4];
        // SAFETY: valid pointers.
        assert_eq!(
            unsafe { check_out(b.as_mut_ptr().cast(), &mut len) },
            Err(libc::EINVAL)
        );
    }
}
