//! `AF_INET6` TCP sockets over the IPv4 engine: dual-stack sockets.
//!
//! A program that opens `socket(AF_INET6, SOCK_STREAM, 0)` and binds `::`
//! (iperf3, Python's `http.server`, servers listening on `[::]`) gets a
//! stack socket, as Linux gives it a socket that also serves IPv4 while
//! `IPV6_V6ONLY` is 0 (RFC 3493 §3.7, RFC 4291 §2.5.5.2): its IPv4 peers
//! appear as v4-mapped addresses, `::ffff:a.b.c.d`. The stack itself
//! carries the IPv4 side; this module translates addresses at the socket
//! boundary and keeps the IPv6 options (RFC 3493 §5, RFC 3542).
//!
//! The stack does not speak TCP over IPv6 yet, so the choices are:
//! - `::` binds the stack's `0.0.0.0`; `::ffff:a.b.c.d` binds `a.b.c.d`;
//! - `::1` binds the stack's loopback `127.0.0.1`, and that socket (and the
//!   connections accepted on it or made from it) shows `127.0.0.1` as `::1`,
//!   so a client that resolves `localhost` to `::1` reaches a server that
//!   listens on `::1` in the same process; as on Linux, binding `::1` sets
//!   `IPV6_V6ONLY`. Unlike Linux, such a listener also accepts a connection
//!   made to `127.0.0.1` (the two are one address inside the stack);
//! - any other IPv6 address: `bind` fails with `EADDRNOTAVAIL` (not ours),
//!   `connect` with `ENETUNREACH` (Linux's answer without an IPv6 route);
//! - with `IPV6_V6ONLY` set, a socket bound to `::` takes no IPv4 port in
//!   the stack (so a `0.0.0.0` listener on the same port, as nginx's
//!   `listen 80; listen [::]:80;`, can exist) and, listening, accepts
//!   nothing: `accept` blocks (or `EAGAIN`) until IPv6 exists.

use super::errno::Errno;
use crate::stack::SocketHandle;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU16, AtomicU32, AtomicUsize, Ordering};

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
    /// `IPV6_V6ONLY`.
    pub v6only: AtomicBool,
    /// Bound to, or connected to, `::1`: the stack's `127.0.0.1` is shown
    /// as `::1`.
    pub loopback: AtomicBool,
    /// `IPV6_V6ONLY` and bound to `::` (no stack port): the port.
    pub v6_port: AtomicU16,
    /// Bound as above (the port may be 0).
    pub v6_bound: AtomicBool,
    /// Listening as above: accepts nothing until the stack has IPv6.
    pub v6_listening: AtomicBool,
    /// `IPV6_TCLASS` (stored and read back: the traffic is IPv4).
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
            loopback: AtomicBool::new(self.loopback.load(r)),
            tclass: AtomicI32::new(self.tclass.load(r)),
            hops: AtomicI32::new(self.hops.load(r)),
            pmtudisc: AtomicI32::new(self.pmtudisc.load(r)),
            flags: AtomicU32::new(self.flags.load(r)),
            ..Inet6::default()
        }
    }

    /// How an address of the stack looks on this socket: `0.0.0.0` is
    /// `::` (unbound, or bound to `::`), `127.0.0.1` is `::1` on a socket
    /// of `::1`, and every other address is v4-mapped.
    pub fn show(&self, a: SocketAddrV4) -> SocketAddrV6 {
        let ip = if a.ip().is_unspecified() {
            Ipv6Addr::UNSPECIFIED
        } else if *a.ip() == Ipv4Addr::LOCALHOST && self.loopback.load(Ordering::Relaxed) {
            Ipv6Addr::LOCALHOST
        } else {
            a.ip().to_ipv6_mapped()
        };
        SocketAddrV6::new(ip, a.port(), 0, 0)
    }

    /// `getsockname` of a socket bound to `::` with `IPV6_V6ONLY`, which
    /// holds no stack port.
    pub fn v6_name(&self) -> Option<SocketAddrV6> {
        self.v6_bound.load(Ordering::Relaxed).then(|| {
            SocketAddrV6::new(
                Ipv6Addr::UNSPECIFIED,
                self.v6_port.load(Ordering::Relaxed),
                0,
                0,
            )
        })
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

/// The stack sockets of IPv6-only listeners (`IPV6_V6ONLY` on `::`): idle
/// in the stack, which would report them as a fresh socket (`POLLOUT |
/// POLLHUP`), while a Linux listener with nothing to accept reports
/// nothing. The readiness calls ask [`is_silent`]; with no such listener
/// that costs one atomic load.
static SILENT: parking_lot::Mutex<Vec<SocketHandle>> = parking_lot::Mutex::new(Vec::new());
static SILENT_COUNT: AtomicUsize = AtomicUsize::new(0);

/// `h` became an IPv6-only listener.
pub fn mark_silent(h: SocketHandle) {
    let mut v = SILENT.lock();
    if !v.contains(&h) {
        v.push(h);
        SILENT_COUNT.store(v.len(), Ordering::Release);
    }
}

/// `h` was closed.
pub fn unmark_silent(h: SocketHandle) {
    let mut v = SILENT.lock();
    v.retain(|&x| x != h);
    SILENT_COUNT.store(v.len(), Ordering::Release);
}

/// Whether `h` is an IPv6-only listener: never ready until IPv6 exists.
#[inline]
pub fn is_silent(h: SocketHandle) -> bool {
    SILENT_COUNT.load(Ordering::Acquire) != 0 && SILENT.lock().contains(&h)
}

fn flag_bit(name: i32) -> Option<u32> {
    FLAGS.iter().position(|&f| f == name).map(|i| 1 << i)
}

/// Where a `bind` of an `AF_INET6` socket goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindTo {
    /// This IPv4 address of the stack; `loopback` for `::1`.
    V4 {
        /// The stack's address.
        addr: SocketAddrV4,
        /// Bound to `::1`.
        loopback: bool,
    },
    /// `::` with `IPV6_V6ONLY`: no stack port (see the module comment).
    V6Only(u16),
}

/// Is `ip` link-local unicast (fe80::/10), which needs a scope id?
fn link_local(ip: &Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

/// `bind` of `a` on an `AF_INET6` socket, in the order of Linux's
/// `__inet6_bind` (the double-bind check is the stack's, or the caller's
/// for [`BindTo::V6Only`]).
pub fn bind_target(a: SocketAddrV6, v6only: bool) -> Errno<BindTo> {
    let ip = a.ip();
    if ip.is_multicast() {
        return Err(libc::EINVAL);
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        if v6only {
            return Err(libc::EINVAL);
        }
        return Ok(BindTo::V4 {
            addr: SocketAddrV4::new(v4, a.port()),
            loopback: false,
        });
    }
    if ip.is_unspecified() {
        if v6only {
            return Ok(BindTo::V6Only(a.port()));
        }
        return Ok(BindTo::V4 {
            addr: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, a.port()),
            loopback: false,
        });
    }
    if ip.is_loopback() {
        return Ok(BindTo::V4 {
            addr: SocketAddrV4::new(Ipv4Addr::LOCALHOST, a.port()),
            loopback: true,
        });
    }
    if link_local(ip) && a.scope_id() == 0 {
        return Err(libc::EINVAL);
    }
    Err(libc::EADDRNOTAVAIL)
}

/// `connect` to `a` from an `AF_INET6` socket, in the order of Linux's
/// `tcp_v6_connect`: the IPv4 peer to connect to, and whether it is `::1`.
/// `::` means the loopback (`::1`), as on Linux.
pub fn connect_target(a: SocketAddrV6, v6only: bool) -> Errno<(SocketAddrV4, bool)> {
    let ip = a.ip();
    if ip.is_unspecified() || ip.is_loopback() {
        return Ok((SocketAddrV4::new(Ipv4Addr::LOCALHOST, a.port()), true));
    }
    if ip.is_multicast() {
        return Err(libc::ENETUNREACH);
    }
    if link_local(ip) && a.scope_id() == 0 {
        return Err(libc::EINVAL);
    }
    match ip.to_ipv4_mapped() {
        Some(_) if v6only => Err(libc::ENETUNREACH),
        Some(v4) => Ok((SocketAddrV4::new(v4, a.port()), false)),
        // No IPv6 route (the stack has no IPv6 yet).
        None => Err(libc::ENETUNREACH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str, port: u16) -> SocketAddrV6 {
        SocketAddrV6::new(s.parse().unwrap(), port, 0, 0)
    }

    #[test]
    fn bind_maps_as_linux_does() {
        let any4 = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80);
        assert_eq!(
            bind_target(v6("::", 80), false),
            Ok(BindTo::V4 {
                addr: any4,
                loopback: false
            })
        );
        assert_eq!(bind_target(v6("::", 80), true), Ok(BindTo::V6Only(80)));
        assert_eq!(
            bind_target(v6("::ffff:198.18.0.2", 1), false),
            Ok(BindTo::V4 {
                addr: "198.18.0.2:1".parse().unwrap(),
                loopback: false
            })
        );
        assert_eq!(
            bind_target(v6("::ffff:198.18.0.2", 1), true),
            Err(libc::EINVAL)
        );
        assert_eq!(
            bind_target(v6("::1", 5), true),
            Ok(BindTo::V4 {
                addr: "127.0.0.1:5".parse().unwrap(),
                loopback: true
            })
        );
        assert_eq!(bind_target(v6("ff02::1", 5), false), Err(libc::EINVAL));
        assert_eq!(bind_target(v6("fe80::1", 5), false), Err(libc::EINVAL));
        assert_eq!(
            bind_target(v6("2001:db8::1", 5), false),
            Err(libc::EADDRNOTAVAIL)
        );
    }

    #[test]
    fn connect_maps_as_linux_does() {
        assert_eq!(
            connect_target(v6("::ffff:198.18.0.1", 7), false),
            Ok(("198.18.0.1:7".parse().unwrap(), false))
        );
        assert_eq!(
            connect_target(v6("::ffff:198.18.0.1", 7), true),
            Err(libc::ENETUNREACH)
        );
        assert_eq!(
            connect_target(v6("::", 7), false),
            Ok(("127.0.0.1:7".parse().unwrap(), true))
        );
        assert_eq!(
            connect_target(v6("2001:db8::1", 7), false),
            Err(libc::ENETUNREACH)
        );
        assert_eq!(connect_target(v6("fe80::1", 7), false), Err(libc::EINVAL));
    }

    #[test]
    fn names_and_options() {
        let s = Inet6::new();
        let a = |ip: [u8; 4]| SocketAddrV4::new(Ipv4Addr::from(ip), 9);
        assert_eq!(s.show(a([0, 0, 0, 0])), v6("::", 9));
        assert_eq!(s.show(a([127, 0, 0, 1])), v6("::ffff:127.0.0.1", 9));
        assert_eq!(s.show(a([198, 18, 0, 1])), v6("::ffff:198.18.0.1", 9));
        s.loopback.store(true, Ordering::Relaxed);
        assert_eq!(s.show(a([127, 0, 0, 1])), v6("::1", 9));
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
