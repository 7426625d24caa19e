//! Socket options and fd control: `setsockopt`, `getsockopt`, `fcntl`,
//! `fcntl64`, `ioctl`.
//!
//! Values and errors are Linux's: `SO_RCVBUF`/`SO_SNDBUF` are doubled (and
//! clamped to `2 × net.core.[rw]mem_max`, 425984), int options shorter than
//! an int are `EINVAL` to set and truncated to get, unknown options are
//! `ENOPROTOOPT`, `SO_RCVTIMEO`/`SO_SNDTIMEO` with `tv_usec` out of range
//! are `EDOM`. Accepted connections inherit the listener's options. On a
//! live connection every option takes effect at once (the keepalive
//! timing, the buffer sizes, `TCP_CONGESTION` (`reno` or `cubic`) too),
//! except `TCP_MAXSEG`, which as on Linux only shapes the next handshake.
//! `TCP_USER_TIMEOUT` (ms), `TCP_NOTSENT_LOWAT`, `TCP_QUICKACK`,
//! `TCP_DEFER_ACCEPT` (seconds, kept as Linux keeps them: a count of SYN-ACK
//! retransmissions, so 30 reads back as 31), `TCP_FASTOPEN` (a listener's
//! queue length, kept but unused: the server offers no cookie, as Linux
//! by default) and `IP_TOS` (its ECN bits cleared, as Linux does for TCP)
//! are served too. On an `AF_INET6` socket, the IPv6 options a server sets
//! (`IPV6_V6ONLY`, `IPV6_TCLASS`, `IPV6_UNICAST_HOPS`, ...) are
//! [`super::inet6`]'s; on an `AF_INET` one they are `ENOPROTOOPT`, as on
//! Linux.

use super::addr::{check_buf, check_ptr};
use super::errno::{Errno, errno, errno_of, ret};
use super::fd_table::{self, OpenSocket};
use super::socket::{dup_ours, lookup};
use crate::stack::socket::{defer_accept_retrans, defer_accept_secs};
use crate::stack::{SocketHandle, SocketOptions, Stack};
use crate::sys::real;
use crate::tcp::{CongestionAlgo, State, TcpInfo};
use crate::time::Duration;
use libc::{c_int, c_ulong, c_void, socklen_t};
use std::mem::size_of;
use std::sync::atomic::Ordering;

const SO_ACCEPTCONN: c_int = 30;
const TCP_DEFER_ACCEPT: c_int = 9;
const TCP_FASTOPEN: c_int = 23;
const SO_PROTOCOL: c_int = 38;
const SO_DOMAIN: c_int = 39;
/// `2 × net.core.rmem_max` and `wmem_max` (212992 by default).
const BUF_MAX: usize = 2 * 212_992;
/// Linux's `SOCK_MIN_RCVBUF` and `SOCK_MIN_SNDBUF` (x86-64).
const MIN_RCVBUF: usize = 2304;
const MIN_SNDBUF: usize = 4608;
/// Linux's `TCP_MSS_DEFAULT`: `TCP_MAXSEG` before a connection exists.
const MSS_DEFAULT: c_int = 536;
/// `TCP_CA_NAME_MAX`.
const CA_NAME_MAX: usize = 16;

/// Linux's `struct tcp_info` (`include/uapi/linux/tcp.h`), the fields up to
/// `tcpi_data_segs_out`; a caller with a shorter buffer gets a prefix, as
/// from Linux.
#[repr(C)]
#[derive(Default)]
struct LinuxTcpInfo {
    state: u8,
    ca_state: u8,
    retransmits: u8,
    probes: u8,
    backoff: u8,
    options: u8,
    /// `tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4`.
    wscale: u8,
    /// `tcpi_delivery_rate_app_limited : 1, tcpi_fastopen_client_fail : 2`.
    flags: u8,
    rto: u32,
    ato: u32,
    snd_mss: u32,
    rcv_mss: u32,
    unacked: u32,
    sacked: u32,
    lost: u32,
    retrans: u32,
    fackets: u32,
    last_data_sent: u32,
    last_ack_sent: u32,
    last_data_recv: u32,
    last_ack_recv: u32,
    pmtu: u32,
    rcv_ssthresh: u32,
    rtt: u32,
    rttvar: u32,
    snd_ssthresh: u32,
    snd_cwnd: u32,
    advmss: u32,
    reordering: u32,
    rcv_rtt: u32,
    rcv_space: u32,
    total_retrans: u32,
    pacing_rate: u64,
    max_pacing_rate: u64,
    bytes_acked: u64,
    bytes_received: u64,
    segs_out: u32,
    segs_in: u32,
    notsent_bytes: u32,
    min_rtt: u32,
    data_segs_in: u32,
    data_segs_out: u32,
}

impl LinuxTcpInfo {
    fn from_info(i: &TcpInfo, mtu: u32) -> LinuxTcpInfo {
        LinuxTcpInfo {
            state: i.state,
            ca_state: i.ca_state,
            retransmits: i.retransmits,
            backoff: i.backoff,
            options: i.options,
            wscale: (i.snd_wscale & 0xf) | (i.rcv_wscale << 4),
            rto: i.rto,
            ato: i.ato,
            snd_mss: i.snd_mss,
            rcv_mss: i.rcv_mss,
            unacked: i.unacked,
            sacked: i.sacked,
            lost: i.lost,
            retrans: i.retrans,
            pmtu: mtu,
            rcv_ssthresh: i.rcv_space,
            rtt: i.rtt,
            rttvar: i.rttvar,
            snd_ssthresh: i.snd_ssthresh,
            snd_cwnd: i.snd_cwnd,
            advmss: i.advmss,
            reordering: 3,
            rcv_space: i.rcv_space,
            total_retrans: i.total_retrans,
            bytes_acked: i.bytes_acked,
            bytes_received: i.bytes_received,
            segs_out: i.segs_out,
            segs_in: i.segs_in,
            ..LinuxTcpInfo::default()
        }
    }
}

/// A value `getsockopt` returns.
enum Value {
    Int(c_int),
    Bytes(Vec<u8>),
}

fn bytes_of<T>(v: &T) -> Vec<u8> {
    // SAFETY: `T` is a plain `repr(C)` value; reading its bytes is fine.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
}

fn timeval_of(us: u64) -> libc::timeval {
    libc::timeval {
        tv_sec: (us / 1_000_000) as libc::time_t,
        tv_usec: (us % 1_000_000) as libc::suseconds_t,
    }
}

/// Reads the option value the caller passed, as a `T`.
fn read_opt<T: Copy>(val: *const c_void, len: socklen_t) -> Errno<T> {
    if (len as usize) < size_of::<T>() {
        return Err(libc::EINVAL);
    }
    check_buf(val.cast::<u8>(), size_of::<T>())?;
    // SAFETY: checked: `val` holds a `T`, maybe unaligned.
    Ok(unsafe { val.cast::<T>().read_unaligned() })
}

fn set_opts(fd: c_int, f: impl FnOnce(&mut SocketOptions)) -> Errno<()> {
    super::connect::with_stack(fd, |st, h| st.set_options(h, f))
}

/// `SO_RCVTIMEO`/`SO_SNDTIMEO` from a timeval: 0 for none; a negative time
/// makes the call time out at once (1 µs), as Linux's zero timeout.
fn timeout_us(tv: libc::timeval) -> Errno<u64> {
    if !(0..1_000_000).contains(&tv.tv_usec) {
        return Err(libc::EDOM);
    }
    if tv.tv_sec < 0 {
        return Ok(1);
    }
    Ok((tv.tv_sec as u64)
        .saturating_mul(1_000_000)
        .saturating_add(tv.tv_usec as u64))
}

fn setsockopt_ours(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> Errno<()> {
    let sock = lookup(fd)?;
    let int = || read_opt::<c_int>(val, len);
    match (level, name) {
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => {
            let on = int()? != 0;
            set_opts(fd, |o| o.reuse_addr = on)
        }
        (libc::SOL_SOCKET, libc::SO_REUSEPORT) => {
            let on = int()? != 0;
            set_opts(fd, |o| o.reuse_port = on)
        }
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => {
            let on = int()? != 0;
            set_opts(fd, |o| o.keepalive = on)
        }
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => {
            let v = (int()?.max(0) as usize)
                .saturating_mul(2)
                .clamp(MIN_RCVBUF, BUF_MAX);
            set_opts(fd, |o| o.rcv_buf = Some(v))
        }
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => {
            let v = (int()?.max(0) as usize)
                .saturating_mul(2)
                .clamp(MIN_SNDBUF, BUF_MAX);
            set_opts(fd, |o| o.snd_buf = Some(v))
        }
        (libc::SOL_SOCKET, libc::SO_LINGER) => {
            let l = read_opt::<libc::linger>(val, len)?;
            let linger = (l.l_onoff != 0).then(|| Duration::from_secs(l.l_linger.max(0) as u64));
            set_opts(fd, |o| o.linger = linger)
        }
        (libc::SOL_SOCKET, libc::SO_RCVTIMEO | libc::SO_SNDTIMEO) => {
            let us = timeout_us(read_opt::<libc::timeval>(val, len)?)?;
            let slot = if name == libc::SO_RCVTIMEO {
                &sock.rcv_timeout_us
            } else {
                &sock.snd_timeout_us
            };
            slot.store(us, Ordering::Relaxed);
            Ok(())
        }
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) => {
            let on = int()? != 0;
            set_opts(fd, |o| o.nodelay = on)
        }
        (libc::IPPROTO_TCP, libc::TCP_CORK) => {
            let on = int()? != 0;
            set_opts(fd, |o| o.cork = on)
        }
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG) => {
            let v = int()?;
            if !(88..=32767).contains(&v) {
                return Err(libc::EINVAL);
            }
            set_opts(fd, |o| o.max_seg = Some(v as u16))
        }
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE | libc::TCP_KEEPINTVL) => {
            let v = int()?;
            if !(1..=32767).contains(&v) {
                return Err(libc::EINVAL);
            }
            let idle = name == libc::TCP_KEEPIDLE;
            set_opts(fd, |o| {
                if idle {
                    o.keep_idle = Some(v as u32)
                } else {
                    o.keep_intvl = Some(v as u32)
                }
            })
        }
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => {
            let v = int()?;
            if !(1..=127).contains(&v) {
                return Err(libc::EINVAL);
            }
            set_opts(fd, |o| o.keep_cnt = Some(v as u32))
        }
        (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT) => {
            let ms = int()?;
            if ms < 0 {
                return Err(libc::EINVAL);
            }
            set_opts(fd, |o| o.user_timeout_ms = ms as u32)
        }
        (libc::IPPROTO_TCP, libc::TCP_LINGER2) => {
            // Linux: negative is -1, above TCP_FIN_TIMEOUT_MAX (120 s) is
            // capped.
            let v = int()?.clamp(-1, 120);
            set_opts(fd, |o| o.linger2 = v)
        }
        (libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT) => {
            let v = int()? as u32;
            set_opts(fd, |o| o.notsent_lowat = v)
        }
        (libc::IPPROTO_TCP, TCP_DEFER_ACCEPT) => {
            let n = defer_accept_retrans(int()?);
            set_opts(fd, |o| o.defer_accept = n)
        }
        (libc::IPPROTO_TCP, TCP_FASTOPEN) => {
            let q = int()?;
            if q < 0 {
                return Err(libc::EINVAL);
            }
            set_opts(fd, |o| o.fastopen_qlen = q as u32)
        }
        (libc::IPPROTO_TCP, libc::TCP_QUICKACK) => {
            let on = int()? != 0;
            super::connect::with_stack(fd, |st, h| st.set_quickack(h, on))
        }
        (libc::IPPROTO_IP, libc::IP_TOS) => {
            // Linux takes an int, or a single byte.
            let v = if len as usize >= size_of::<c_int>() {
                int()?
            } else {
                c_int::from(read_opt::<u8>(val, len)?)
            };
            // The ECN bits belong to TCP (RFC 3168 §6.1.1): dropped.
            set_opts(fd, |o| o.tos = (v as u8) & !0b11)
        }
        (libc::IPPROTO_IPV6, _) => {
            // Linux: IPv6 options on an AF_INET TCP socket are
            // ENOPROTOOPT (ip_setsockopt knows only SOL_IP).
            let i6 = sock.inet6.as_ref().ok_or(libc::ENOPROTOOPT)?;
            // Linux reads the int only when `len` holds one.
            let v = if len as usize >= size_of::<c_int>() {
                int()?
            } else {
                0
            };
            let bound = super::connect::with_stack(fd, |st, h| st.local_sockaddr(h))?.port() != 0;
            i6.set(name, v, len as usize, bound)
        }
        (libc::IPPROTO_TCP, libc::TCP_CONGESTION) => {
            let n = (len as usize).min(CA_NAME_MAX);
            check_buf(val.cast::<u8>(), n)?;
            // SAFETY: checked above.
            let raw = unsafe { std::slice::from_raw_parts(val.cast::<u8>(), n) };
            let name = raw.split(|&b| b == 0).next().unwrap_or(&[]);
            let algo = match name {
                b"reno" => CongestionAlgo::NewReno,
                b"cubic" => CongestionAlgo::Cubic,
                _ => return Err(libc::ENOENT),
            };
            set_opts(fd, |o| o.congestion = Some(algo))
        }
        _ => Err(libc::ENOPROTOOPT),
    }
}

fn congestion_name(st: &Stack, sock: &OpenSocket) -> &'static str {
    if let Ok(Some(name)) = st.congestion_name(sock.handle) {
        return name;
    }
    let chosen = st.options(sock.handle).ok().and_then(|o| o.congestion);
    match chosen.unwrap_or(st.tcp_defaults().congestion) {
        CongestionAlgo::NewReno => "reno",
        CongestionAlgo::Cubic => "cubic",
    }
}

fn getsockopt_value(sock: &OpenSocket, level: c_int, name: c_int) -> Errno<Value> {
    let rt = sock.runtime()?;
    let h: SocketHandle = sock.handle;
    let mut st = rt.lock();
    let o = st.options(h).map_err(errno_of)?;
    let state = st.state(h).map_err(errno_of)?;
    let b = |v: bool| Ok(Value::Int(c_int::from(v)));
    let secs = |d: Duration| Ok(Value::Int(d.as_secs().min(c_int::MAX as u64) as c_int));
    let defaults = *st.tcp_defaults();
    match (level, name) {
        (libc::SOL_SOCKET, libc::SO_TYPE) => Ok(Value::Int(libc::SOCK_STREAM)),
        (libc::SOL_SOCKET, SO_DOMAIN) => Ok(Value::Int(if sock.inet6.is_some() {
            libc::AF_INET6
        } else {
            libc::AF_INET
        })),
        (libc::IPPROTO_IPV6, _) => {
            // On an AF_INET socket Linux's ip_getsockopt answers another
            // level with EOPNOTSUPP (ip_setsockopt with ENOPROTOOPT).
            let i6 = sock.inet6.as_ref().ok_or(libc::EOPNOTSUPP)?;
            Ok(Value::Int(i6.get(name)?))
        }
        (libc::SOL_SOCKET, SO_PROTOCOL) => Ok(Value::Int(libc::IPPROTO_TCP)),
        // Not bound to a device: Linux's sock_getbindtodevice answers with
        // an empty name (length 0). sshd asks (its VRF lookup).
        (libc::SOL_SOCKET, libc::SO_BINDTODEVICE) => Ok(Value::Bytes(Vec::new())),
        (libc::SOL_SOCKET, SO_ACCEPTCONN) => b(state == State::Listen),
        (libc::SOL_SOCKET, libc::SO_ERROR) => {
            let e = st.take_error(h).map_err(errno_of)?;
            drop(st);
            Ok(Value::Int(e.map_or(0, errno_of)))
        }
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => b(o.reuse_addr),
        (libc::SOL_SOCKET, libc::SO_REUSEPORT) => b(o.reuse_port),
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => b(o.keepalive),
        // A connection's buffers as they are now (autotuning grows them);
        // before one, what was set or the default.
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => {
            let now = st.buffer_sizes(h).map_err(errno_of)?.map(|(r, _)| r);
            let v = now.unwrap_or(o.rcv_buf.unwrap_or(defaults.rcv_buf));
            Ok(Value::Int(v.min(c_int::MAX as usize) as c_int))
        }
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => {
            let now = st.buffer_sizes(h).map_err(errno_of)?.map(|(_, s)| s);
            let v = now.unwrap_or(o.snd_buf.unwrap_or(defaults.snd_buf));
            Ok(Value::Int(v.min(c_int::MAX as usize) as c_int))
        }
        (libc::SOL_SOCKET, libc::SO_LINGER) => Ok(Value::Bytes(bytes_of(&libc::linger {
            l_onoff: c_int::from(o.linger.is_some()),
            l_linger: o.linger.map_or(0, |d| d.as_secs() as c_int),
        }))),
        (libc::SOL_SOCKET, libc::SO_RCVTIMEO) => Ok(Value::Bytes(bytes_of(&timeval_of(
            sock.rcv_timeout_us.load(Ordering::Relaxed),
        )))),
        (libc::SOL_SOCKET, libc::SO_SNDTIMEO) => Ok(Value::Bytes(bytes_of(&timeval_of(
            sock.snd_timeout_us.load(Ordering::Relaxed),
        )))),
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) => b(o.nodelay),
        (libc::IPPROTO_TCP, libc::TCP_CORK) => b(o.cork),
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG) => {
            let info = st.tcp_info(h).map_err(errno_of)?;
            Ok(Value::Int(match (info, o.max_seg) {
                (Some(i), _) if !matches!(state, State::Closed) => i.snd_mss as c_int,
                (_, Some(m)) => c_int::from(m),
                _ => MSS_DEFAULT,
            }))
        }
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) => o.keep_idle.map_or_else(
            || secs(defaults.keepalive_idle),
            |v| Ok(Value::Int(v as c_int)),
        ),
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) => o.keep_intvl.map_or_else(
            || secs(defaults.keepalive_intvl),
            |v| Ok(Value::Int(v as c_int)),
        ),
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => Ok(Value::Int(
            o.keep_cnt.unwrap_or(defaults.keepalive_cnt) as c_int,
        )),
        (libc::IPPROTO_TCP, libc::TCP_INFO) => {
            let mtu = u32::try_from(st.config().mtu).unwrap_or(u32::MAX);
            let info = st.tcp_info(h).map_err(errno_of)?;
            let mut li =
                info.map_or_else(LinuxTcpInfo::default, |i| LinuxTcpInfo::from_info(&i, mtu));
            li.state = state.linux_code();
            Ok(Value::Bytes(bytes_of(&li)))
        }
        (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT) => Ok(Value::Int(o.user_timeout_ms as c_int)),
        (libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT) => Ok(Value::Int(o.notsent_lowat as c_int)),
        // 0 reads back as tcp_fin_timeout, as Linux's do_tcp_getsockopt.
        (libc::IPPROTO_TCP, libc::TCP_LINGER2) if o.linger2 == 0 => secs(defaults.time_wait),
        (libc::IPPROTO_TCP, libc::TCP_LINGER2) => Ok(Value::Int(o.linger2)),
        (libc::IPPROTO_TCP, libc::TCP_QUICKACK) => b(st.quickack(h).map_err(errno_of)?),
        (libc::IPPROTO_TCP, TCP_DEFER_ACCEPT) => Ok(Value::Int(defer_accept_secs(o.defer_accept))),
        (libc::IPPROTO_TCP, TCP_FASTOPEN) => Ok(Value::Int(o.fastopen_qlen as c_int)),
        (libc::IPPROTO_IP, libc::IP_TOS) => Ok(Value::Int(c_int::from(o.tos))),
        (libc::IPPROTO_TCP, libc::TCP_CONGESTION) => {
            let mut name = congestion_name(&st, sock).as_bytes().to_vec();
            name.resize(CA_NAME_MAX, 0);
            Ok(Value::Bytes(name))
        }
        _ => Err(libc::ENOPROTOOPT),
    }
}

fn getsockopt_ours(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> Errno<()> {
    check_ptr(len)?;
    // SAFETY: checked above.
    let want = unsafe { len.read_unaligned() } as i32;
    if want < 0 {
        return Err(libc::EINVAL);
    }
    check_buf(val.cast::<u8>(), want as usize)?;
    let sock = lookup(fd)?;
    let bytes = match getsockopt_value(&sock, level, name)? {
        Value::Int(v) => v.to_ne_bytes().to_vec(),
        Value::Bytes(b) => b,
    };
    let n = bytes.len().min(want as usize);
    // SAFETY: checked: `val` holds `want` >= `n` bytes; `len` is valid.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), val.cast::<u8>(), n);
        len.write_unaligned(n as socklen_t);
    }
    Ok(())
}

posix! {
    /// `setsockopt(2)`: see the module documentation for the options served.
    ///
    /// # Safety
    /// `val` must hold `len` readable bytes.
    fn setsockopt(fd: c_int, level: c_int, name: c_int, val: *const c_void, len: socklen_t) -> c_int
    where fd_table::is_ours(fd) => {
        ret(setsockopt_ours(fd, level, name, val, len).map(|()| 0))
    };
}

posix! {
    /// `getsockopt(2)`: see the module documentation for the options served.
    ///
    /// # Safety
    /// `len` must point at the length of `val`, which must be writable.
    fn getsockopt(
        fd: c_int,
        level: c_int,
        name: c_int,
        val: *mut c_void,
        len: *mut socklen_t,
    ) -> c_int
    where fd_table::is_ours(fd) => {
        ret(getsockopt_ours(fd, level, name, val, len).map(|()| 0))
    };
}

fn fcntl_ours(fd: c_int, cmd: c_int, arg: c_ulong) -> Errno<c_int> {
    let entry = fd_table::get(fd).ok_or(libc::EBADF)?;
    let sock = &entry.socket;
    match cmd {
        libc::F_GETFL => Ok(libc::O_RDWR
            | if sock.is_nonblocking() {
                libc::O_NONBLOCK
            } else {
                0
            }),
        libc::F_SETFL => {
            sock.nonblocking
                .store(arg as c_int & libc::O_NONBLOCK != 0, Ordering::Relaxed);
            Ok(0)
        }
        libc::F_GETFD => Ok(if entry.cloexec { libc::FD_CLOEXEC } else { 0 }),
        libc::F_SETFD => {
            fd_table::set_cloexec(fd, arg as c_int & libc::FD_CLOEXEC != 0);
            Ok(0)
        }
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let min = c_int::try_from(arg).map_err(|_| libc::EINVAL)?;
            if min < 0 {
                return Err(libc::EINVAL);
            }
            dup_ours(fd, min, cmd == libc::F_DUPFD_CLOEXEC)
        }
        _ => {
            // Locks, owners...: the kernel answers for the reserved fd.
            // SAFETY: the caller's contract for `cmd`.
            let r = unsafe { real::fcntl(fd, cmd, arg) };
            if r < 0 { Err(errno()) } else { Ok(r) }
        }
    }
}

posix! {
    /// `fcntl(2)`, defined with one fixed argument (glibc passes it in a
    /// register): `F_GETFL`/`F_SETFL` (`O_NONBLOCK`), `F_GETFD`/`F_SETFD`,
    /// `F_DUPFD[_CLOEXEC]` on a stack socket; anything else goes to the kernel.
    ///
    /// # Safety
    /// The same contract as libc's `fcntl` for `cmd`.
    fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int
    where fd_table::is_ours(fd) => ret(fcntl_ours(fd, cmd, arg));
}

/// `fcntl64`: glibc's name for `fcntl` with 64-bit file locks.
///
/// # Safety
/// As for [`fcntl`].
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn fcntl64(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: the same contract.
    unsafe { fcntl(fd, cmd, arg) }
}

fn queue_len(fd: c_int, out: bool, arg: *mut c_void) -> Errno<c_int> {
    check_ptr(arg.cast::<c_int>())?;
    let n = super::connect::with_stack(fd, |st, h| {
        if st.state(h)? == State::Listen {
            return Err(crate::stack::SocketError::InvalidInput);
        }
        if out {
            st.send_queue_len(h)
        } else {
            st.recv_queue_len(h)
        }
    })?;
    // SAFETY: checked above.
    unsafe {
        arg.cast::<c_int>()
            .write_unaligned(n.min(c_int::MAX as usize) as c_int)
    };
    Ok(0)
}

fn ioctl_ours(fd: c_int, request: c_ulong, arg: *mut c_void) -> Errno<c_int> {
    match request {
        libc::FIONBIO => {
            check_ptr(arg.cast::<c_int>())?;
            // SAFETY: checked above.
            let on = unsafe { arg.cast::<c_int>().read_unaligned() } != 0;
            lookup(fd)?.nonblocking.store(on, Ordering::Relaxed);
            Ok(0)
        }
        // SIOCINQ is FIONREAD.
        libc::FIONREAD => queue_len(fd, false, arg),
        // SIOCOUTQ is TIOCOUTQ.
        libc::TIOCOUTQ => queue_len(fd, true, arg),
        libc::FIOCLEX | libc::FIONCLEX => {
            fd_table::set_cloexec(fd, request == libc::FIOCLEX);
            Ok(0)
        }
        // Interface ioctls (SIOCGIFCONF, SIOCGIFADDR...): any AF_INET
        // socket answers them in Linux; a kernel socket does here.
        0x8900..=0x89ff => {
            // SAFETY: integer arguments; the socket is closed below.
            let k =
                unsafe { real::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
            if k < 0 {
                return Err(errno());
            }
            // SAFETY: the caller's contract for `request`.
            let r = unsafe { real::ioctl(k, request, arg) };
            let e = errno();
            // SAFETY: our own fd.
            unsafe { real::close(k) };
            if r < 0 { Err(e) } else { Ok(r) }
        }
        _ => Err(libc::ENOTTY),
    }
}

posix! {
    /// `ioctl(2)`, defined with one fixed argument: `FIONBIO`,
    /// `FIONREAD`/`SIOCINQ`, `SIOCOUTQ`, `FIOCLEX`/`FIONCLEX` on a stack
    /// socket (`ENOTTY` for others, interface requests aside); anything else
    /// goes to the kernel.
    ///
    /// # Safety
    /// The same contract as libc's `ioctl` for `request`.
    fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int
    where fd_table::is_ours(fd) => ret(ioctl_ours(fd, request, arg));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_info_layout_is_linuxs() {
        // Offsets from include/uapi/linux/tcp.h.
        assert_eq!(std::mem::offset_of!(LinuxTcpInfo, rto), 8);
        assert_eq!(std::mem::offset_of!(LinuxTcpInfo, rtt), 68);
        assert_eq!(std::mem::offset_of!(LinuxTcpInfo, snd_cwnd), 80);
        assert_eq!(std::mem::offset_of!(LinuxTcpInfo, total_retrans), 100);
        assert_eq!(std::mem::offset_of!(LinuxTcpInfo, bytes_acked), 120);
        assert_eq!(std::mem::offset_of!(LinuxTcpInfo, segs_out), 136);
    }

    #[test]
    fn timeouts_follow_linux() {
        let tv = |s, us| libc::timeval {
            tv_sec: s,
            tv_usec: us,
        };
        assert_eq!(timeout_us(tv(1, 500_000)), Ok(1_500_000));
        assert_eq!(timeout_us(tv(0, 0)), Ok(0));
        assert_eq!(timeout_us(tv(0, 1_000_000)), Err(libc::EDOM));
        assert_eq!(timeout_us(tv(-1, 0)), Ok(1));
    }
}
