//! Per-connection settings, with Linux-like defaults.

use crate::time::Duration;

/// Which congestion controller a connection uses (`TCP_CONGESTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CongestionAlgo {
    /// RFC 5681 with RFC 6582 fast recovery.
    NewReno,
    /// RFC 9438, Linux's default.
    #[default]
    Cubic,
}

/// Settings of one connection. `Default` gives Linux's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpConfig {
    /// The MSS we advertise (MTU − 40).
    pub mss: u16,
    /// Receive buffer (`SO_RCVBUF`), bytes: where it starts, when it
    /// autotunes.
    pub rcv_buf: usize,
    /// The receive buffer grows with what the application reads
    /// (`autotune.rs`); off once `SO_RCVBUF` is set, as in Linux.
    pub rcv_buf_auto: bool,
    /// The most it grows to (Linux's `tcp_rmem[2]`).
    pub rcv_buf_max: usize,
    /// Send buffer (`SO_SNDBUF`), bytes: where it starts, when it
    /// autotunes.
    pub snd_buf: usize,
    /// The send buffer grows with cwnd (`autotune.rs`); off once
    /// `SO_SNDBUF` is set, as in Linux.
    pub snd_buf_auto: bool,
    /// The most it grows to (Linux's `tcp_wmem[2]`).
    pub snd_buf_max: usize,
    /// `TCP_NODELAY`: Nagle off.
    pub nodelay: bool,
    /// How long TIME-WAIT lasts (2×MSL; Linux uses a fixed 60 s).
    pub time_wait: Duration,
    /// Maximum segment lifetime (RFC 9293 §3.4.2), for reference.
    pub msl: Duration,
    /// SYN retransmissions before giving up (`tcp_syn_retries`).
    pub syn_retries: u32,
    /// SYN-ACK retransmissions before giving up (`tcp_synack_retries`).
    pub synack_retries: u32,
    /// Data retransmissions before `ETIMEDOUT` (`tcp_retries2`); also the
    /// unanswered zero-window probes a connection survives.
    pub max_retries: u32,
    /// Unanswered zero-window probes an orphan (closed by the
    /// application) survives: Linux's `tcp_orphan_retries`, whose default
    /// 0 means 8.
    pub orphan_retries: u32,
    /// `TCP_LINGER2`, as Linux keeps it (`tp->linger2`), in seconds: how
    /// long an orphan (closed by the application) waits in FIN-WAIT-2 for
    /// the peer's FIN. 0: the default, `time_wait` (Linux's
    /// `tcp_fin_timeout`, 60 s like its TIME-WAIT); negative: no wait, an
    /// orphan reaching FIN-WAIT-2 is dropped and `close` there resets.
    pub linger2: i32,
    /// `TCP_KEEPIDLE`.
    pub keepalive_idle: Duration,
    /// `TCP_KEEPINTVL`.
    pub keepalive_intvl: Duration,
    /// `TCP_KEEPCNT`.
    pub keepalive_cnt: u32,
    /// `TCP_USER_TIMEOUT` (RFC 5482): how long sent data may stay
    /// unacknowledged before the connection fails with `ETIMEDOUT`; it
    /// replaces the retry counts when set. Zero: off (the retry counts rule).
    pub user_timeout: Duration,
    /// `TCP_NOTSENT_LOWAT`: the socket is writable only while fewer bytes
    /// than this wait unsent (Linux's default: no limit).
    pub notsent_lowat: u32,
    /// Offer window scaling (RFC 7323 §2).
    pub window_scaling: bool,
    /// Offer SACK (RFC 2018).
    pub sack: bool,
    /// Offer timestamps (RFC 7323 §3).
    pub timestamps: bool,
    /// The congestion controller.
    pub congestion: CongestionAlgo,
    /// Lower bound of the delayed-ACK timeout (Linux `TCP_ATO_MIN`).
    pub delack_min: Duration,
    /// Upper bound of the delayed-ACK timeout (Linux `TCP_DELACK_MAX`).
    pub delack_max: Duration,
    /// Initial RTO (RFC 6298 §2.1: 1 s).
    pub rto_initial: Duration,
    /// Lower bound of the RTO (Linux `TCP_RTO_MIN`, 200 ms).
    pub rto_min: Duration,
    /// Upper bound of the RTO (Linux `TCP_RTO_MAX`, 120 s).
    pub rto_max: Duration,
    /// Bound on the out-of-order assembler's separate ranges.
    pub max_ooo_ranges: usize,
    /// Largest payload of one segment handed to a device that segments
    /// (TSO): new data goes out in runs of whole MSS-sized segments up to
    /// this many bytes, which the device cuts at the MSS. 0: no TSO, one
    /// MSS per segment.
    pub tso_max: usize,
    /// Added to the millisecond clock to make our TSval (RFC 7323 §5.4).
    /// The stack sets it per connection to a keyed hash of the 4-tuple
    /// ([`super::isn::ts_offset`]), so that TSvals reveal neither the
    /// host's uptime nor the ISS, and no two connections share a clock.
    pub ts_offset: u32,
    /// Record what the connection does ([`super::TcpEvent`]) for the
    /// stack to drain: set when `TAPSTACK_TRACE` or a `debug` log asks.
    pub trace: bool,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss: 1460,
            rcv_buf: 256 * 1024,
            rcv_buf_auto: true,
            rcv_buf_max: 6 << 20,
            snd_buf: 256 * 1024,
            snd_buf_auto: true,
            snd_buf_max: 4 << 20,
            nodelay: false,
            time_wait: Duration::from_secs(60),
            msl: Duration::from_secs(30),
            syn_retries: 6,
            synack_retries: 5,
            max_retries: 15,
            orphan_retries: 8,
            linger2: 0,
            keepalive_idle: Duration::from_secs(7200),
            keepalive_intvl: Duration::from_secs(75),
            keepalive_cnt: 9,
            user_timeout: Duration::ZERO,
            notsent_lowat: u32::MAX,
            window_scaling: true,
            sack: true,
            timestamps: true,
            congestion: CongestionAlgo::default(),
            delack_min: Duration::from_millis(40),
            delack_max: Duration::from_millis(200),
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(120),
            max_ooo_ranges: 32,
            tso_max: 0,
            ts_offset: 0,
            trace: false,
        }
    }
}
