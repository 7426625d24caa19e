//! `AF_INET6` TCP sockets: dual-stack sockets over the stack's IPv4 and
//! IPv6.
//!
//! A program that opens `socket(AF_INET6, SOCK_STREAM, 0)` gets a stack
//! socket that speaks IPv6 and, while `IPV6_V6ONLY` is 0, IPv4 too (RFC
//! 3493 §3.7, RFC 4291 §2.5.5.2): its IPv4 peers appear as v4-mapped
//! addresses, `::ffff:a.b.c.d`. This module translates addresses at the
//! socket boundary and keeps the IPv6 options (RFC 3493 §5, RFC 3542), as
//! Linux's `__inet6_bind` and `tcp_v6_connect` do:
//! - `::` binds the stack's dual-stack wildcard (IPv6-only with
//!   `IPV6_V6ONLY`, which then shares its port with a `0.0.0.0` socket,
//!   as nginx's `listen 80; listen [::]:80 ipv6only=on;`);
//!   `::ffff:a.b.c.d` binds `a.b.c.d`;
//! - `::1` and our IPv6 addresses (the configured one, the link-local one
//!   with a scope id) bind as they are, and, as on Linux, make the socket
//!   IPv6-only; any other address is `EADDRNOTAVAIL`;
//! - `connect` reaches IPv6 peers over IPv6 (`::` means `::1`), v4-mapped
//!   ones over IPv4 (`ENETUNREACH` with `IPV6_V6ONLY`).

use super::errno::Errno;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

/// `<netinet/in.h>` values (Linux), for the options not all in `libc`.
pub const IPV6_UNICAST_HOPS: i32 = 16;
pub const IPV6_MTU_DISCOVER: i32 = 23;
pub const IPV6_RECVERR: i32 = 25;
pub const IPV6_V6ONLY: i32 = 26;
pub const IPV6_RECVPKTINFO: i32 = 49;
pub const IPV6_RECVHOPLIMIT: i32 = 51;
pub const IPV6_DONTFRAG: i32 = 62;
pub const IPV6_RECVTCLASS: i32 = 66;
pub const IPV6_TCLASS: i32 = 67;

/// Linux's default hop limit (`net.ipv6.conf.all.hop_limit`), what
/// `IPV6_UNICAST_HOPS` reads back while unset.
const DEFAULT_HOPS: i32 = 64;
/// `IPV6_PMTUDISC_WANT`, the default of `IPV6_MTU_DISCOVER`.
const PMTUDISC_WANT: i32 = 1;
/// `IPV6_PMTUDISC_OMIT`, the largest value.
const PMTUDISC_OMIT: i32 = 5;

/// The boolean options kept and read back, one bit each.
const FLAGS: [i32; 5] = [
    IPV6_RECVERR,
    IPV6_RECVPKTINFO,
    IPV6_RECVHOPLIMIT,
    IPV6_DONTFRAG,
    IPV6_RECVTCLASS,
];

/// The IPv6 side of an `AF_INET6` socket. Accepted connections start with
/// a copy of their listener's ([`Inet6::inherit`]), as Linux copies
/// `ipv6_pinfo`.
#[derive(Debug, Default)]
pub struct Inet6 {
    /// `IPV6_V6ONLY`, handed to the stack when the socket binds or
    /// connects.
    pub v6only: AtomicBool,
    /// `IPV6_TCLASS` (stored and read back).
    pub tclass: AtomicI32,
    /// `IPV6_UNICAST_HOPS`, -1 for the default.
    pub hops: AtomicI32,
    /// `IPV6_MTU_DISCOVER`, `None` (0) meaning unset; stored + 1.
    pub pmtudisc: AtomicI32,
    /// The boolean options in [`FLAGS`], bit `i` for `FLAGS[i]`.
    pub flags: AtomicU32,
}

impl Inet6 {
    /// A fresh `AF_INET6` socket's state (Linux's defaults).
    pub fn new() -> Inet6 {
        Inet6 {
            hops: AtomicI32::new(-1),
            ..Inet6::default()
        }
    }

    /// An accepted connection's state: its listener's options.
    pub fn inherit(&self) -> Inet6 {
        let r = Ordering::Relaxed;
        Inet6 {
            v6only: AtomicBool::new(self.v6only.load(r)),
            tclass: AtomicI32::new(self.tclass.load(r)),
            hops: AtomicI32::new(self.hops.load(r)),
            pmtudisc: AtomicI32::new(self.pmtudisc.load(r)),
            flags: AtomicU32::new(self.flags.load(r)),
        }
    }

    /// How an address of the stack looks on this socket: `0.0.0.0` is
    /// `::` (unbound), an IPv4 address is v4-mapped, an IPv6 one is
    /// itself.
    pub fn show(&self, a: SocketAddr) -> SocketAddrV6 {
        match a {
            SocketAddr::V4(a) if a.ip().is_unspecified() => {
                SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, a.port(), 0, 0)
            }
            SocketAddr::V4(a) => SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0),
            SocketAddr::V6(a) => a,
        }
    }

    /// `setsockopt(IPPROTO_IPV6, name)` with the int `val` (`len` bytes
    /// given), as Linux's `do_ipv6_setsockopt`: `bound` says the socket
    /// has a local port (`IPV6_V6ONLY` cannot change then).
    pub fn set(&self, name: i32, val: i32, len: usize, bound: bool) -> Errno<()> {
        let r = Ordering::Relaxed;
        let known = matches!(
            name,
            IPV6_V6ONLY | IPV6_TCLASS | IPV6_UNICAST_HOPS | IPV6_MTU_DISCOVER
        ) || flag_bit(name).is_some();
        if !known {
            return Err(libc::ENOPROTOOPT);
        }
        if len < size_of::<i32>() {
            return Err(libc::EINVAL);
        }
        match name {
            IPV6_V6ONLY => {
                if bound {
                    return Err(libc::EINVAL);
                }
                self.v6only.store(val != 0, r);
            }
            IPV6_TCLASS => {
                if !(-1..=0xff).contains(&val) {
                    return Err(libc::EINVAL);
                }
                // RFC 3542 §6.5: -1 is the default, 0. For TCP the ECN
                // bits are TCP's (RFC 3168 §6.1.1): the old ones stay.
                let old = self.tclass.load(r);
                self.tclass.store((val.max(0) & !0b11) | (old & 0b11), r);
            }
            IPV6_UNICAST_HOPS => {
                if !(-1..=255).contains(&val) {
                    return Err(libc::EINVAL);
                }
                self.hops.store(val, r);
            }
            IPV6_MTU_DISCOVER => {
                if !(0..=PMTUDISC_OMIT).contains(&val) {
                    return Err(libc::EINVAL);
                }
                self.pmtudisc.store(val + 1, r);
            }
            _ => {
                let bit = flag_bit(name).ok_or(libc::ENOPROTOOPT)?;
                if val != 0 {
                    self.flags.fetch_or(bit, r);
                } else {
                    self.flags.fetch_and(!bit, r);
                }
            }
        }
        Ok(())
    }

    /// `getsockopt(IPPROTO_IPV6, name)`: an int, or `ENOPROTOOPT`.
    pub fn get(&self, name: i32) -> Errno<i32> {
        let r = Ordering::Relaxed;
        Ok(match name {
            IPV6_V6ONLY => i32::from(self.v6only.load(r)),
            IPV6_TCLASS => self.tclass.load(r),
            IPV6_UNICAST_HOPS => match self.hops.load(r) {
                -1 => DEFAULT_HOPS,
                v => v,
            },
            IPV6_MTU_DISCOVER => match self.pmtudisc.load(r) {
                0 => PMTUDISC_WANT,
                v => v - 1,
            },
            _ => {
                let bit = flag_bit(name).ok_or(libc::ENOPROTOOPT)?;
                i32::from(self.flags.load(r) & bit != 0)
            }
        })
    }
}

fn flag_bit(name: i32) -> Option<u32> {
    FLAGS.iter().position(|&f| f == name).map(|i| 1 << i)
}

/// Is `ip` link-local unicast (fe80::/10), which needs a scope id?
fn link_local(ip: &Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

/// `bind` of `a` on an `AF_INET6` socket, in the order of Linux's
/// `__inet6_bind`: the stack address to bind (the stack says whether it
/// is ours), and whether the socket becomes IPv6-only (a specific IPv6
/// address, RFC 3493 §5.3 as Linux applies it).
pub fn bind_target(a: SocketAddrV6, v6only: bool) -> Errno<(SocketAddr, bool)> {
    let ip = a.ip();
    if ip.is_multicast() {
        return Err(libc::EINVAL);
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        if v6only {
            return Err(libc::EINVAL);
        }
        return Ok((SocketAddr::new(v4.into(), a.port()), false));
    }
    if link_local(ip) && a.scope_id() == 0 {
        return Err(libc::EINVAL);
    }
    let specific = !ip.is_unspecified();
    let addr = SocketAddrV6::new(*ip, a.port(), 0, 0);
    Ok((addr.into(), v6only || specific))
}

/// `connect` to `a` from an `AF_INET6` socket, in the order of Linux's
/// `tcp_v6_connect`: the peer in the stack (`::` means `::1`, as on Linux;
/// the stack does that).
pub fn connect_target(a: SocketAddrV6, v6only: bool) -> Errno<SocketAddr> {
    let ip = a.ip();
    if ip.is_multicast() {
        return Err(libc::ENETUNREACH);
    }
    if link_local(ip) && a.scope_id() == 0 {
        return Err(libc::EINVAL);
    }
    match ip.to_ipv4_mapped() {
        Some(_) if v6only => Err(libc::ENETUNREACH),
        Some(v4) => Ok(SocketAddr::new(v4.into(), a.port())),
        None => Ok(SocketAddrV6::new(*ip, a.port(), 0, 0).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str, port: u16) -> SocketAddrV6 {
        SocketAddrV6::new(s.parse().unwrap(), port, 0, 0)
    }

    fn sa(s: &str, port: u16) -> SocketAddr {
        SocketAddr::new(s.parse().unwrap(), port)
    }

    #[test]
    fn bind_maps_as_linux_does() {
        assert_eq!(bind_target(v6("::", 80), false), Ok((sa("::", 80), false)));
        assert_eq!(bind_target(v6("::", 80), true), Ok((sa("::", 80), true)));
        assert_eq!(
            bind_target(v6("::ffff:198.18.0.2", 1), false),
            Ok((sa("198.18.0.2", 1), false))
        );
        assert_eq!(
            bind_target(v6("::ffff:198.18.0.2", 1), true),
            Err(libc::EINVAL)
        );
        assert_eq!(bind_target(v6("::1", 5), false), Ok((sa("::1", 5), true)));
        assert_eq!(bind_target(v6("ff02::1", 5), false), Err(libc::EINVAL));
        assert_eq!(bind_target(v6("fe80::1", 5), false), Err(libc::EINVAL));
        assert_eq!(
            bind_target(v6("2001:db8::1", 5), false),
            Ok((sa("2001:db8::1", 5), true)),
            "the stack answers EADDRNOTAVAIL"
        );
    }

    #[test]
    fn connect_maps_as_linux_does() {
        assert_eq!(
            connect_target(v6("::ffff:198.18.0.1", 7), false),
            Ok(sa("198.18.0.1", 7))
        );
        assert_eq!(
            connect_target(v6("::ffff:198.18.0.1", 7), true),
            Err(libc::ENETUNREACH)
        );
        assert_eq!(connect_target(v6("::", 7), false), Ok(sa("::", 7)));
        assert_eq!(
            connect_target(v6("2001:db8::1", 7), false),
            Ok(sa("2001:db8::1", 7))
        );
        assert_eq!(
            connect_target(v6("ff02::1", 7), false),
            Err(libc::ENETUNREACH)
        );
        assert_eq!(connect_target(v6("fe80::1", 7), false), Err(libc::EINVAL));
    }

    #[test]
    fn names_and_options() {
        let s = Inet6::new();
        assert_eq!(s.show(sa("0.0.0.0", 9)), v6("::", 9));
        assert_eq!(s.show(sa("127.0.0.1", 9)), v6("::ffff:127.0.0.1", 9));
        assert_eq!(s.show(sa("198.18.0.1", 9)), v6("::ffff:198.18.0.1", 9));
        assert_eq!(s.show(sa("::1", 9)), v6("::1", 9));
        assert_eq!(s.show(sa("fd00::2", 9)), v6("fd00::2", 9));
        assert_eq!(s.get(IPV6_V6ONLY), Ok(0));
        assert_eq!(s.get(IPV6_UNICAST_HOPS), Ok(64));
        assert_eq!(s.set(IPV6_V6ONLY, 1, 2, false), Err(libc::EINVAL));
        assert_eq!(s.set(IPV6_V6ONLY, 5, 4, true), Err(libc::EINVAL));
        assert_eq!(s.set(IPV6_V6ONLY, 5, 4, false), Ok(()));
        assert_eq!(s.get(IPV6_V6ONLY), Ok(1));
        assert_eq!(s.set(IPV6_TCLASS, 0xbb, 4, false), Ok(()));
        assert_eq!(s.get(IPV6_TCLASS), Ok(0xb8));
        assert_eq!(s.set(IPV6_TCLASS, 256, 4, false), Err(libc::EINVAL));
        assert_eq!(s.set(IPV6_RECVPKTINFO, 7, 4, false), Ok(()));
        assert_eq!(s.get(IPV6_RECVPKTINFO), Ok(1));
        assert_eq!(s.get(IPV6_RECVTCLASS), Ok(0));
        assert_eq!(s.set(18, 1, 4, false), Err(libc::ENOPROTOOPT));
        assert_eq!(s.inherit().get(IPV6_TCLASS), Ok(0xb8));
    }
}
