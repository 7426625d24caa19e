//! The socket table: what the application's sockets are inside the stack.
//!
//! A socket starts unbound, may be bound to a port, and becomes either a
//! listener or a connection (a [`Tcb`]). Connections created by a listener
//! belong to it until `accept` hands them to the application; connections
//! the application has closed are orphans that live on until the TCB has
//! finished (FIN exchange, TIME-WAIT) and are then reaped.
//!
//! ## `listen(backlog)`: the SYN queue and the accept queue
//!
//! What does `backlog` mean? Here, as in Linux:
//!
//! - `backlog` is clamped to `0..=SOMAXCONN` (4096); a negative value
//!   means `SOMAXCONN`. Calling `listen` again changes it.
//! - The **SYN queue** holds half-open connections (SYN received, our
//!   SYN-ACK sent, in SYN-RECEIVED), at most `backlog + 1`. Our SYN-ACK
//!   is retransmitted with backoff up to `synack_retries` times. When the
//!   SYN queue is full (a SYN flood, or many clients at once), a new SYN is
//!   answered with a **SYN cookie** (Linux's `tcp_syncookies = 1`, see
//!   [`crate::tcp::cookie`]): a SYN-ACK whose ISN encodes the 4-tuple, a
//!   64 s time counter and the peer's MSS, and no state is kept. The peer
//!   sees an ordinary SYN-ACK. Its ACK, if it returns a valid cookie (made
//!   in the current or the previous 64 s period), creates the connection
//!   directly in ESTABLISHED, in the accept queue. A cookie SYN-ACK is never
//!   retransmitted (nothing remembers it): if it is lost, the peer's SYN
//!   retransmission gets a new one. A cookie connection has its MSS rounded
//!   down to 536, 1300, 1440 or 1460. When the SYN offered timestamps, the
//!   SYN-ACK's TSval carries the peer's window scale and SACK-permitted (as
//!   Linux does), so the connection has all three; without timestamps it
//!   has no window scaling (at most 64 KiB in flight each way) and no SACK.
//!   Cookies are checked only while one may be out: within a cookie's
//!   lifetime (128 s) of the last SYN that found the SYN queue full, as
//!   Linux does; at any other time an ACK for no connection is not a
//!   cookie. Any other ACK for no connection still gets a RST.
//! - The **accept queue** holds established connections waiting for
//!   `accept`, at most `backlog + 1` (Linux's `sk_acceptq_is_full` uses `>`).
//!   While it is full, new SYNs are dropped without an answer, cookie or not
//!   (the peer retries: 1 s, 2 s, 4 s...), and the ACK that would complete a
//!   handshake is dropped too. For a half-open connection, it stays in
//!   SYN-RECEIVED, our SYN-ACK is retransmitted, and the handshake completes
//!   when the application makes room. For a cookie, nothing is kept: the
//!   handshake completes when a later segment of the peer (a retransmission
//!   of its data) returns the cookie while there is room, within its
//!   lifetime. Either way the peer believes it is connected meanwhile, and
//!   what it sends waits in its retransmission queue. A peer whose cookie
//!   ACK was dropped and that waits for the server to speak first sends
//!   nothing that could return the cookie: it waits until its own timeout
//!   or keepalive, as with Linux.
//! - With `TCP_DEFER_ACCEPT`, the client's bare ACK ending the handshake
//!   is ignored (the connection stays in SYN-RECEIVED and our SYN-ACK is
//!   retransmitted) until its first data arrives or the deferral runs out,
//!   so `accept` returns connections that have a request waiting.
//! - `accept` takes the oldest connection from the accept queue and gives it
//!   an fd (in the shim, a new reserved kernel fd).
//! - Closing a listener drops its half-open connections silently and resets
//!   the established ones that were never accepted.

use crate::tcp::{CongestionAlgo, FourTuple, Tcb, TcpConfig};
use crate::time::{Duration, Instant};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64};

/// Linux's default `net.core.somaxconn`.
pub const SOMAXCONN: usize = 4096;

/// A socket in the stack's socket table (index and generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketHandle {
    /// Slot in the table.
    pub index: u32,
    /// Bumped each time the slot is reused, so stale handles are detected.
    pub generation: u32,
}

/// Errors of socket calls, named after the errno the shim returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketError {
    /// `EAGAIN`
    WouldBlock,
    /// `EINPROGRESS`: a connect has started.
    InProgress,
    /// `EALREADY`: a connect is already under way.
    Already,
    /// `EISCONN`
    IsConnected,
    /// `ENOTCONN`
    NotConnected,
    /// `EADDRINUSE`
    AddrInUse,
    /// `EADDRNOTAVAIL`
    AddrNotAvailable,
    /// `EINVAL`
    InvalidInput,
    /// `EBADF`: the handle is stale.
    BadHandle,
    /// `ECONNREFUSED`
    ConnectionRefused,
    /// `ECONNRESET`
    ConnectionReset,
    /// `ECONNABORTED`
    ConnectionAborted,
    /// `ETIMEDOUT`
    TimedOut,
    /// `EPIPE`
    BrokenPipe,
    /// `EHOSTUNREACH`
    HostUnreachable,
    /// `ENETUNREACH`
    NetworkUnreachable,
    /// `EOPNOTSUPP`
    OpNotSupported,
}

impl From<crate::tcp::TcpError> for SocketError {
    fn from(e: crate::tcp::TcpError) -> Self {
        use crate::tcp::TcpError as T;
        match e {
            T::WouldBlock => SocketError::WouldBlock,
            T::NotConnected => SocketError::NotConnected,
            T::AlreadyConnected => SocketError::IsConnected,
            T::ConnectionRefused => SocketError::ConnectionRefused,
            T::ConnectionReset => SocketError::ConnectionReset,
            T::ConnectionAborted => SocketError::ConnectionAborted,
            T::TimedOut => SocketError::TimedOut,
            T::BrokenPipe => SocketError::BrokenPipe,
            T::HostUnreachable => SocketError::HostUnreachable,
            T::NetworkUnreachable => SocketError::NetworkUnreachable,
            T::InvalidState => SocketError::InvalidInput,
        }
    }
}

/// Options set on a socket before or after it connects. Connections made
/// by a listener inherit the listener's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SocketOptions {
    /// `SO_REUSEADDR`
    pub reuse_addr: bool,
    /// `SO_REUSEPORT`
    pub reuse_port: bool,
    /// `SO_KEEPALIVE`
    pub keepalive: bool,
    /// `TCP_NODELAY`
    pub nodelay: bool,
    /// `TCP_CORK`
    pub cork: bool,
    /// `SO_LINGER`: `Some(0)` makes close send RST.
    pub linger: Option<Duration>,
    /// `SO_RCVBUF` (bytes), if set.
    pub rcv_buf: Option<usize>,
    /// `SO_SNDBUF` (bytes), if set.
    pub snd_buf: Option<usize>,
    /// `TCP_MAXSEG`, if set.
    pub max_seg: Option<u16>,
    /// `TCP_KEEPIDLE`, `TCP_KEEPINTVL` (seconds), `TCP_KEEPCNT`.
    pub keep_idle: Option<u32>,
    /// `TCP_KEEPINTVL` in seconds.
    pub keep_intvl: Option<u32>,
    /// `TCP_KEEPCNT`.
    pub keep_cnt: Option<u32>,
    /// `TCP_CONGESTION`, if set.
    pub congestion: Option<CongestionAlgo>,
    /// `TCP_USER_TIMEOUT` in milliseconds (0: off).
    pub user_timeout_ms: u32,
    /// `TCP_LINGER2` in seconds, as Linux keeps it (0: the default,
    /// negative: reset): see [`crate::tcp::TcpConfig::linger2`].
    pub linger2: i32,
    /// `TCP_NOTSENT_LOWAT` in bytes (0: no limit, as Linux reads it).
    pub notsent_lowat: u32,
    /// `TCP_DEFER_ACCEPT` on a listener, as Linux keeps it: the number of
    /// SYN-ACK retransmissions during which a handshake's final ACK without
    /// data is ignored, so that `accept` sees the connection only once the
    /// client has sent something (0: off). See [`defer_accept_retrans`].
    pub defer_accept: u8,
    /// `TCP_FASTOPEN` on a listener: the queue length asked for. Stored
    /// and read back only: like Linux with its default `tcp_fastopen = 1`
    /// (client side only), the server offers no Fast Open cookie, so
    /// clients make ordinary handshakes (RFC 7413 §4.2 lets a server
    /// decline).
    pub fastopen_qlen: u32,
    /// `IP_TOS`: the DSCP bits for our IP headers (the ECN bits are TCP's,
    /// RFC 3168 §6.1.1, and always 0 here).
    pub tos: u8,
    /// `IPV6_V6ONLY` (RFC 3493 §5.3): a socket bound to `::` serves IPv6
    /// only. Without it, `::` is dual-stack and also serves IPv4, whose
    /// peers the socket layer shows v4-mapped; a socket bound to `0.0.0.0`
    /// (`AF_INET`) serves IPv4 only.
    pub v6only: bool,
}

impl SocketOptions {
    /// The TCB configuration these options make of the stack's defaults.
    pub fn apply(&self, defaults: &TcpConfig) -> TcpConfig {
        let mut c = *defaults;
        c.nodelay = self.nodelay;
        if let Some(b) = self.rcv_buf {
            c.rcv_buf = b;
            c.rcv_buf_auto = false;
        }
        if let Some(b) = self.snd_buf {
            c.snd_buf = b;
            c.snd_buf_auto = false;
        }
        if let Some(m) = self.max_seg {
            c.mss = c.mss.min(m.max(88));
        }
        if let Some(s) = self.keep_idle {
            c.keepalive_idle = Duration::from_secs(u64::from(s));
        }
        if let Some(s) = self.keep_intvl {
            c.keepalive_intvl = Duration::from_secs(u64::from(s));
        }
        if let Some(n) = self.keep_cnt {
            c.keepalive_cnt = n;
        }
        if let Some(a) = self.congestion {
            c.congestion = a;
        }
        c.user_timeout = Duration::from_millis(u64::from(self.user_timeout_ms));
        c.linger2 = self.linger2;
        // A deferred handshake lives as long as the deferral (Linux's
        // syn_ack_recalc).
        c.synack_retries = c.synack_retries.max(u32::from(self.defer_accept));
        if self.notsent_lowat > 0 {
            c.notsent_lowat = self.notsent_lowat;
        }
        c
    }
}

/// `TCP_DEFER_ACCEPT`'s seconds as SYN-ACK retransmissions, as Linux's
/// `secs_to_retrans` counts them with a 1 s initial RTO doubling up to
/// 120 s: the fewest retransmissions whose timeouts add up to `secs`.
pub fn defer_accept_retrans(secs: i32) -> u8 {
    if secs <= 0 {
        return 0;
    }
    let (mut n, mut timeout, mut period) = (1u8, 1i64, 1i64);
    while i64::from(secs) > period && n < 255 {
        n += 1;
        timeout = (timeout * 2).min(120);
        period += timeout;
    }
    n
}

/// The seconds `getsockopt(TCP_DEFER_ACCEPT)` reports for `retrans`
/// (Linux's `retrans_to_secs`: the sum of those timeouts).
pub fn defer_accept_secs(retrans: u8) -> i32 {
    if retrans == 0 {
        return 0;
    }
    let (mut timeout, mut period) = (1i32, 1i32);
    for _ in 1..retrans {
        timeout = (timeout * 2).min(120);
        period += timeout;
    }
    period
}

/// Who holds a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The application (it has an fd for it).
    App,
    /// A listener, until `accept`; `queued` once it is in the accept queue.
    Listener {
        /// The listener's slot.
        index: u32,
        /// In the accept queue (else in the SYN queue).
        queued: bool,
    },
    /// Nobody: the application closed it, the TCB finishes on its own.
    Orphan,
}

/// A listening socket.
#[derive(Debug)]
pub struct Listener {
    /// Bound address.
    pub local: SocketAddr,
    /// `listen`'s backlog, clamped.
    pub backlog: usize,
    /// Half-open connections in SYN-RECEIVED.
    pub syn_queue: usize,
    /// Established connections waiting for `accept`.
    pub accept_queue: VecDeque<SocketHandle>,
    /// When a SYN last found the SYN queue full (and was answered with a
    /// cookie); `None` if never.
    pub last_overflow: Option<Instant>,
}

impl Listener {
    /// No room for another established connection (Linux: `>`).
    pub fn accept_queue_full(&self) -> bool {
        self.accept_queue.len() > self.backlog
    }

    /// No room for another half-open connection (Linux's
    /// `inet_csk_reqsk_queue_is_full` also uses `>`).
    pub fn syn_queue_full(&self) -> bool {
        self.syn_queue > self.backlog
    }

    /// A cookie this listener sent may still be valid: its SYN queue
    /// overflowed less than a cookie's lifetime ago. Only then is an ACK
    /// for no connection checked as a cookie; otherwise a blind attacker
    /// could try ACKs until one of them matched the 24-bit MAC (about
    /// 2^24 tries) with no cookie ever sent. Linux's
    /// `tcp_synq_no_recent_overflow` gates `cookie_v4_check` the same way,
    /// over its cookies' lifetime (`TCP_SYNCOOKIE_VALID`, 2 × 60 s).
    pub fn cookies_recently_sent(&self, now: Instant) -> bool {
        self.last_overflow
            .is_some_and(|t| now.saturating_duration_since(t) < crate::tcp::cookie::LIFETIME)
    }
}

/// What a socket is.
pub enum SocketKind {
    /// Fresh, maybe bound.
    Idle {
        /// The address given to `bind`.
        bound: Option<SocketAddr>,
    },
    /// Listening.
    Listener(Listener),
    /// A connection.
    Tcp(Box<Tcb>),
}

/// One socket.
pub struct Socket {
    /// What it is.
    pub kind: SocketKind,
    /// Who holds it.
    pub owner: Owner,
    /// Its options.
    pub options: SocketOptions,
    /// Bumped when its readiness may have changed; threads blocked on it
    /// wait on its word (a futex in the runtime), watchers are told.
    pub wait: Arc<WaitQueue>,
    /// The local port it holds in the port table, if any.
    pub port: Option<u16>,
    /// `shutdown(SHUT_RD)` was called.
    pub read_shutdown: bool,
    /// In the stack's dirty list.
    pub dirty: bool,
    /// In the stack's transmit queue.
    pub tx_queued: bool,
    /// The deadline registered in the stack's timer set.
    pub timer_at: Option<crate::time::Instant>,
    /// Counted among the stack's connections in TIME-WAIT.
    pub in_time_wait: bool,
}

impl Socket {
    /// A fresh socket.
    pub fn new() -> Socket {
        Socket {
            kind: SocketKind::Idle { bound: None },
            owner: Owner::App,
            options: SocketOptions::default(),
            wait: Arc::new(WaitQueue::default()),
            port: None,
            read_shutdown: false,
            dirty: false,
            tx_queued: false,
            timer_at: None,
            in_time_wait: false,
        }
    }

    /// The TCB, if a connection.
    pub fn tcb(&self) -> Option<&Tcb> {
        match &self.kind {
            SocketKind::Tcp(t) => Some(t),
            _ => None,
        }
    }

    /// The TCB, mutable.
    pub fn tcb_mut(&mut self) -> Option<&mut Tcb> {
        match &mut self.kind {
            SocketKind::Tcp(t) => Some(t),
            _ => None,
        }
    }

    /// The connection's 4-tuple.
    pub fn tuple(&self) -> Option<FourTuple> {
        self.tcb().map(|t| t.tuple())
    }
}

impl Default for Socket {
    fn default() -> Self {
        Socket::new()
    }
}

/// Something that wants to hear when a socket's readiness may have changed
/// (an epoll instance, a thread in `poll`). The runtime calls it after the
/// stack lock is released, so it may make system calls.
pub trait Watcher: Send + Sync {
    /// Socket `h` may have changed.
    fn wake(&self, h: SocketHandle);
}

/// Where threads wait for a socket: a futex word that changes whenever the
/// socket's readiness may have changed, and the watchers to notify then.
#[derive(Default)]
pub struct WaitQueue {
    /// Threads blocked on the socket sleep on this word (futex).
    pub word: AtomicU32,
    /// How many threads are asleep on `word` or about to be: the waker
    /// makes the wake system call only when there is someone to wake.
    pub sleepers: AtomicU32,
    /// One bit per process slot whose watchers (epoll instances, threads
    /// in `poll`) watch the socket: the watchers themselves are objects of
    /// that process (`runtime::watchers`). A bit stays set until the slot
    /// is reused; a wakeup too many is harmless.
    pub watched_by: AtomicU64,
}

/// A slot of the table.
pub(super) struct Slot {
    pub generation: u32,
    pub socket: Option<Socket>,
}
