//! The transmission control block (RFC 9293 §3.3.1): its variables, the
//! two ways to open one, and the status the application may read. The
//! application's other calls are in `user.rs`.
//!
//! The send queue is laid out as textbooks draw it: everything before
//! `snd_una` is acknowledged and already dropped from `tx`; `tx` starts at
//! `tx_seq` (the first data byte not yet acknowledged, `snd_una` once the
//! SYN is acknowledged) and holds the bytes sent but not acknowledged
//! (up to `snd_nxt`) followed by those not yet sent. Our FIN, once queued,
//! sits right after the last byte of `tx`.

use super::congestion::{Congestion, Prr};
use super::rack::Rack;
use super::rtt::RttEstimator;
use super::sack::Scoreboard;
use super::timer::TimerTable;
use super::{FourTuple, Readiness, State, TcpConfig, TcpError};
use crate::storage::{Assembler, RingBuffer};
use crate::time::{Duration, Instant};
use crate::wire::SeqNum;
use crate::wire::tcp::{TIMESTAMPS_ALIGNED_LEN, TcpFlags, TcpRepr};

/// RFC 9293 §3.7.1: the MSS to assume when the peer sends no MSS option.
pub const DEFAULT_MSS: u16 = 536;

/// RFC 7323 §5.5: a TS.Recent older than 24 days is invalid (the peer's
/// timestamp clock may have moved more than 2^31 ticks since).
pub(super) const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// The smallest MSS we use, whatever the peer's option or our
/// configuration says (Linux floors the peer's at 48, `TCP_MIN_SND_MSS`):
/// a peer announcing a tiny MSS cannot make us cut the stream into
/// segments of a few bytes, each with 40 bytes of headers.
pub(super) const MIN_MSS: u16 = 64;

/// RFC 7323 §2.3: the largest window shift. "If a Window Scale option is
/// received with a shift.cnt value larger than 14, the TCP SHOULD log the
/// error but MUST use 14 instead of the specified value."
pub(super) const MAX_WSCALE: u8 = 14;

/// How far past what the old incarnation sent a connection reopened from
/// TIME-WAIT starts (Linux's `tw_snd_nxt + 65535 + 2`): beyond the largest
/// unscaled window, so that the old one's segments still in the network
/// fall outside the new one's.
pub(super) const TIME_WAIT_ISS_GAP: u32 = 65535 + 2;

/// Segments acknowledged at once at the start of a connection ("quick ACK"
/// mode, like Linux's `TCP_MAX_QUICKACKS`).
pub(super) const QUICKACKS: u32 = 16;

/// A TCP connection.
#[derive(Debug)]
pub struct Tcb {
    pub(super) state: State,
    pub(super) tuple: FourTuple,
    /// Out of line: 232 bytes that the connection reads rarely, and
    /// without them a TCB fits the shared heap's 1 KiB class rather than
    /// its 2 KiB one (`shared/alloc.rs` rounds to powers of two).
    pub(super) config: Box<TcpConfig>,

    // --- Send sequence variables (RFC 9293 §3.3.1, Figure 3).
    /// ISS: our initial sequence number.
    pub(super) iss: SeqNum,
    /// SND.UNA: oldest unacknowledged sequence number.
    pub(super) snd_una: SeqNum,
    /// SND.NXT: next sequence number to send (rewound on timeout).
    pub(super) snd_nxt: SeqNum,
    /// The highest sequence number sent so far (Linux `snd_nxt` before a
    /// rewind; RFC 6582's "highest sequence number transmitted").
    pub(super) snd_max: SeqNum,
    /// SND.WND: the peer's window, scaled, bytes.
    pub(super) snd_wnd: u32,
    /// The largest window the peer ever offered (RFC 9293 §3.8.6.2.1's
    /// Max(SND.WND), RFC 5961 §5.2's MAX.SND.WND).
    pub(super) max_snd_wnd: u32,
    /// SND.WL1: segment sequence number used for the last window update.
    pub(super) snd_wl1: SeqNum,
    /// SND.WL2: segment acknowledgment number used for the last window update.
    pub(super) snd_wl2: SeqNum,
    /// Shift applied to the peer's window field (RFC 7323 §2.3).
    pub(super) snd_wscale: u8,
    /// Sequence number of the first byte of `tx`.
    pub(super) tx_seq: SeqNum,
    /// The send queue.
    pub(super) tx: RingBuffer,
    /// The application asked for a FIN after the queued data.
    pub(super) fin_queued: bool,
    /// Effective send MSS: the peer's MSS option (or 536), capped by ours.
    pub(super) snd_mss: u32,

    // --- Receive sequence variables (RFC 9293 §3.3.1, Figure 4).
    /// IRS: the peer's initial sequence number.
    pub(super) irs: SeqNum,
    /// RCV.NXT: next sequence number expected.
    pub(super) rcv_nxt: SeqNum,
    /// The right edge of the window we last advertised (RCV.NXT + RCV.WND
    /// as sent); never moved left (RFC 9293 §3.8.6.2.2, RFC 7323 §2.4).
    pub(super) rcv_adv: SeqNum,
    /// Shift we apply to our window field (RFC 7323 §2.3).
    pub(super) rcv_wscale: u8,
    /// The receive queue; out-of-order bytes are written past its end.
    pub(super) rx: RingBuffer,
    /// Which out-of-order ranges past RCV.NXT have arrived.
    pub(super) assembler: Assembler,
    /// Sequence number of the peer's FIN when it arrived out of order.
    pub(super) rx_fin_seq: Option<SeqNum>,
    /// The peer's FIN has been received in order.
    pub(super) fin_received: bool,
    /// Largest segment payload received (Linux `rcv_mss`).
    pub(super) rcv_mss: u32,

    // --- Options negotiated on the SYNs.
    pub(super) sack_ok: bool,
    pub(super) ts_ok: bool,
    /// TS.Recent (RFC 7323 §4.3).
    pub(super) ts_recent: u32,
    /// When TS.Recent was last set (Linux's `ts_recent_stamp`): after
    /// [`PAWS_IDLE`] it is no longer valid (RFC 7323 §5.5).
    pub(super) ts_recent_at: Instant,
    /// Last ACK we sent (RFC 7323 §4.3's Last.ACK.sent).
    pub(super) last_ack_sent: SeqNum,

    // --- Retransmission and congestion.
    pub(super) rtt: RttEstimator,
    /// Karn's rule without timestamps: the sequence number being timed and
    /// when it was first sent; dropped when anything is retransmitted.
    pub(super) rtt_seq: Option<(SeqNum, Instant)>,
    /// Karn's rule for timestamps: our TSval clock at the last
    /// retransmission. An echo older than it may answer the original
    /// transmission or a long-gone segment, so it gives no RTT sample.
    pub(super) ts_rexmit_floor: Option<u32>,
    /// The congestion controller (see [`Congestion`] for why an enum).
    pub(super) cc: Congestion,
    /// Fast recovery and timeout episodes (RFC 5681, RFC 6582, RFC 6937).
    pub(super) recovery: Recovery,
    /// What the peer SACKed (RFC 6675 §3).
    pub(super) scoreboard: Scoreboard,
    /// RACK's record of sent segments and loss detection (RFC 8985 §6).
    pub(super) rack: Rack,
    /// The tail loss probe outstanding (RFC 8985 §7).
    pub(super) tlp: LossProbe,
    /// When data was last sent (Linux's `lsndtime`): restart after idle
    /// (RFC 5681 §4.1) measures from here.
    pub(super) lsndtime: Instant,
    /// Consecutive timeouts (`tcpi_retransmits`).
    pub(super) retransmits: u32,
    /// Zero-window probing (RFC 9293 §3.8.6.1).
    pub(super) persist: Persist,

    // --- Output owed, and ACK generation.
    /// What the next [`poll_transmit`](Self::poll_transmit) owes besides
    /// new data. CLOSED owes none of it.
    pub(super) pending: Pending,
    /// Emit a RST on the next poll: its sequence number, and whether it
    /// carries an ACK (an abort does; the answer to a bad ACK does not).
    /// Kept apart from [`pending`](Self::pending): it is the one segment a
    /// connection sends after going to CLOSED.
    pub(super) rst_pending: Option<(SeqNum, bool)>,
    /// RFC 5961 §7: the throttle on ACKs to invalid segments.
    pub(super) ack_throttle: super::challenge::AckThrottle,
    /// Delayed and quick ACKs (RFC 5681 §4.2).
    pub(super) delack: Delack,

    // --- Application flags.
    pub(super) nodelay: bool,
    pub(super) cork: bool,
    /// `SO_KEEPALIVE` and its probes (RFC 1122 §4.2.3.6).
    pub(super) keepalive: Keepalive,
    /// The application called `close` (the socket is orphaned).
    pub(super) app_closed: bool,
    /// The pending error for `SO_ERROR`.
    pub(super) error: Option<TcpError>,
    /// The last soft error (ICMP), reported if the connection times out.
    pub(super) soft_error: Option<TcpError>,
    /// Last time a segment arrived (keepalive idle time).
    pub(super) last_recv: Instant,
    /// Receive-buffer autotuning's measure (`autotune.rs`).
    pub(super) rcv_space: super::autotune::RcvSpace,
    /// A `send` found the send buffer full since the last ACK that could
    /// grow it (Linux's `SOCK_NOSPACE`, `autotune.rs`).
    pub(super) snd_buf_full: bool,
    /// Since when the oldest unacknowledged data has waited for an ACK:
    /// set when a flight starts and when an ACK makes progress
    /// (`TCP_USER_TIMEOUT` counts from here).
    pub(super) progress_at: Instant,

    pub(super) timers: TimerTable,
    /// Counters for `TCP_INFO`.
    pub(super) stats: Stats,
    /// The wire MSS of the last data segment sent (its `gso_size` if the
    /// device cuts it: [`Tcb::tso_segment_size`]).
    pub(super) last_seg_mss: u32,
    /// Events for logs and traces, when [`TcpConfig::trace`] is set
    /// (`event.rs`).
    pub(super) events: Option<Box<super::event::EventLog>>,
}

/// What [`Tcb::poll_transmit`] owes besides new data, each a flag set by
/// input or a timer and cleared when the segment goes out. Going to CLOSED
/// resets the whole group, so that no flag outlives the connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Pending {
    /// Send an ACK.
    pub ack: bool,
    /// Retransmit the next hole (fast retransmit, NewReno partial ACKs,
    /// SACK recovery).
    pub rexmit: bool,
    /// Send a tail loss probe (RFC 8985 §7.3).
    pub tlp: bool,
    /// Send a zero-window probe (RFC 9293 §3.8.6.1).
    pub window_probe: bool,
    /// Send a keepalive probe (RFC 1122 §4.2.3.6).
    pub keepalive: bool,
    /// Ignore SWS and Nagle once: the persist timer fired with the window
    /// open (RFC 9293 §3.8.6.2.1's override timeout).
    pub force_send: bool,
}

/// Loss recovery: RFC 5681 §3.2 fast retransmit and recovery, RFC 6582's
/// NewReno, RFC 6675's SACK recovery paced by RFC 6937's PRR, and the
/// timeout episode that follows an RTO. A timeout starts a new episode
/// from [`Recovery::after_timeout`]; nothing else survives it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Recovery {
    /// Duplicate ACKs in a row (RFC 5681 §2).
    pub dupacks: u32,
    /// RFC 6582's `recover`: fast recovery lasts until it is acknowledged.
    pub recover: Option<SeqNum>,
    /// The episode up to `recover` began with a retransmission timeout
    /// (Linux's `TCP_CA_Loss`): ACKs grow cwnd by slow start, and neither
    /// duplicate ACKs nor a partial ACK start fast recovery in it.
    pub in_loss: bool,
    /// Proportional rate reduction (RFC 6937) while in SACK fast recovery:
    /// what may be sent per ACK. None outside it (and without SACK, where
    /// RFC 6582's inflation of cwnd rules).
    pub prr: Option<Prr>,
    /// RFC 6675's HighRxt: the highest sequence number retransmitted in
    /// this recovery.
    pub high_rxt: SeqNum,
}

impl Recovery {
    /// The episode a retransmission timeout starts (RFC 5681 §3.1,
    /// RFC 6582 §3.2 step 4): it lasts until `snd_max`, the highest
    /// sequence number sent, is acknowledged, and retransmits from
    /// `snd_una`.
    pub fn after_timeout(snd_una: SeqNum, snd_max: SeqNum) -> Recovery {
        Recovery {
            recover: Some(snd_max),
            in_loss: true,
            high_rxt: snd_una,
            ..Recovery::default()
        }
    }
}

/// The tail loss probe outstanding (RFC 8985 §7).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LossProbe {
    /// TLP.end_seq (RFC 8985 §7.4): SND.MAX when the probe went out; no
    /// other probe until it is acknowledged (one probe per tail).
    pub high_seq: Option<SeqNum>,
    /// The probe was a retransmission (TLP.is_retrans).
    pub retrans: bool,
    /// Our TSval on the probe, to tell its ACK from the original's.
    pub ts: Option<u32>,
}

/// The persist timer's state (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Persist {
    /// Backoff count of the probe interval.
    pub backoff: u32,
    /// Zero-window probes sent since the last acceptable ACK (Linux's
    /// `icsk_probes_out`).
    pub probes: u32,
}

/// `SO_KEEPALIVE` (RFC 1122 §4.2.3.6).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Keepalive {
    /// The application turned keepalives on.
    pub enabled: bool,
    /// Probes sent unanswered.
    pub probes: u32,
}

/// The delayed-ACK rule's state (RFC 5681 §4.2, RFC 9293 §3.8.6.3).
#[derive(Debug, Clone, Copy)]
pub(super) struct Delack {
    /// Bytes received in order since our last ACK (an ACK goes out once
    /// two full-sized segments' worth is waiting).
    pub rcv_unacked: u32,
    /// Quick ACKs left (every segment acknowledged at once).
    pub quickacks: u32,
    /// A quick ACK held for the application's answer
    /// ([`Tcb::release_held_ack`]).
    pub held: bool,
    /// The application asked for quick ACKs (`TCP_QUICKACK`): none is
    /// held.
    pub quick_asked: bool,
    /// When data last arrived (Linux's `lrcvtime`): data after a silence
    /// longer than the RTO starts quick-ACK mode again.
    pub last_data: Instant,
    /// A window update that reopened a window the peer knew as too small
    /// for a segment: RCV.NXT when it went, and how often it was sent
    /// again since. Repeated after `ato`, doubling, while no data follows.
    pub reopen: Option<(SeqNum, u32)>,
}

/// Counters reported by `TCP_INFO`; nothing decides on them.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Stats {
    /// `tcpi_bytes_acked`.
    pub bytes_acked: u64,
    /// `tcpi_bytes_received`.
    pub bytes_received: u64,
    /// `tcpi_segs_in`.
    pub segs_in: u32,
    /// `tcpi_segs_out`: wire segments, a TSO segment counting as many.
    pub segs_out: u32,
    /// `tcpi_total_retrans`.
    pub total_retrans: u32,
}

/// The shift to offer so that `buf` fits a 16-bit window (RFC 7323 §2.3,
/// at most [`MAX_WSCALE`]).
fn wscale_for(buf: usize) -> u8 {
    let mut shift = 0u8;
    while shift < MAX_WSCALE && (buf >> shift) > usize::from(u16::MAX) {
        shift += 1;
    }
    shift
}

impl Tcb {
    pub(super) fn new(
        now: Instant,
        tuple: FourTuple,
        iss: SeqNum,
        config: TcpConfig,
        state: State,
    ) -> Tcb {
        let mss = u32::from(config.mss.max(MIN_MSS));
        Tcb {
            state,
            tuple,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNum(0),
            snd_wl2: iss,
            snd_wscale: 0,
            tx_seq: iss + 1u32,
            tx: RingBuffer::new(config.snd_buf),
            fin_queued: false,
            snd_mss: u32::from(DEFAULT_MSS).min(mss),
            irs: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rcv_adv: SeqNum(0),
            // Scaled for the largest the buffer may grow to (RFC 7323
            // §2.2: the shift is fixed in the SYN).
            rcv_wscale: if config.window_scaling {
                wscale_for(if config.rcv_buf_auto {
                    config.rcv_buf.max(config.rcv_buf_max)
                } else {
                    config.rcv_buf
                })
            } else {
                0
            },
            rx: RingBuffer::new(config.rcv_buf),
            assembler: Assembler::new(config.max_ooo_ranges),
            rx_fin_seq: None,
            fin_received: false,
            rcv_mss: u32::from(DEFAULT_MSS),
            sack_ok: false,
            ts_ok: false,
            ts_recent: 0,
            ts_recent_at: now,
            last_ack_sent: SeqNum(0),
            rtt: RttEstimator::new(config.rto_initial, config.rto_min, config.rto_max),
            rtt_seq: None,
            ts_rexmit_floor: None,
            cc: Congestion::new(config.congestion, u32::from(DEFAULT_MSS)),
            recovery: Recovery {
                high_rxt: iss,
                ..Recovery::default()
            },
            scoreboard: Scoreboard::default(),
            rack: Rack::default(),
            tlp: LossProbe::default(),
            lsndtime: now,
            retransmits: 0,
            persist: Persist::default(),
            pending: Pending::default(),
            rst_pending: None,
            ack_throttle: Default::default(),
            delack: Delack {
                rcv_unacked: 0,
                quickacks: QUICKACKS,
                held: false,
                quick_asked: false,
                last_data: now,
                reopen: None,
            },
            nodelay: config.nodelay,
            cork: false,
            keepalive: Keepalive::default(),
            app_closed: false,
            error: None,
            soft_error: None,
            last_recv: now,
            progress_at: now,
            rcv_space: super::autotune::RcvSpace::new(now, mss),
            snd_buf_full: false,
            timers: TimerTable::default(),
            stats: Stats::default(),
            last_seg_mss: 0,
            events: super::event::EventLog::start(&config, state),
            config: Box::new(config),
        }
    }

    /// Active open (RFC 9293 §3.10.1): SYN-SENT, with the SYN queued for the
    /// next [`poll_transmit`](Self::poll_transmit).
    pub fn connect(now: Instant, tuple: FourTuple, iss: SeqNum, config: TcpConfig) -> Tcb {
        Tcb::new(now, tuple, iss, config, State::SynSent)
    }

    /// Passive open: the listener got `syn` (RFC 9293 §3.10.7.2). Returns a
    /// TCB in SYN-RECEIVED with the SYN-ACK queued, or None when `syn` is not
    /// a plain SYN.
    pub fn accept_syn(
        now: Instant,
        tuple: FourTuple,
        iss: SeqNum,
        syn: &TcpRepr,
        config: TcpConfig,
    ) -> Option<Tcb> {
        let f = syn.flags;
        if !f.contains(TcpFlags::SYN)
            || f.contains(TcpFlags::ACK)
            || f.contains(TcpFlags::RST)
            || f.contains(TcpFlags::FIN)
        {
            return None;
        }
        let mut tcb = Tcb::new(now, tuple, iss, config, State::SynReceived);
        tcb.take_syn(syn);
        Some(tcb)
    }

    /// Takes the peer's SYN: IRS, RCV.NXT and the options it offers
    /// (RFC 9293 §3.10.7.2 and §3.10.7.3).
    pub(super) fn take_syn(&mut self, syn: &TcpRepr) {
        self.irs = syn.seq;
        self.rcv_nxt = syn.seq + 1u32;
        self.rcv_adv = self.rcv_nxt;
        self.last_ack_sent = self.rcv_nxt;
        self.snd_wl1 = syn.seq;
        let o = &syn.options;
        let our_mss = u32::from(self.config.mss.max(MIN_MSS));
        self.snd_mss = u32::from(o.mss.unwrap_or(DEFAULT_MSS)).clamp(u32::from(MIN_MSS), our_mss);
        self.rcv_mss = self.snd_mss;
        match (self.config.window_scaling, o.window_scale) {
            // RFC 7323 §2.3: shifts above 14 are treated as 14.
            (true, Some(ws)) => self.snd_wscale = ws.min(MAX_WSCALE),
            _ => {
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        self.sack_ok = self.config.sack && o.sack_permitted;
        match (self.config.timestamps, o.timestamps) {
            (true, Some((val, _))) => {
                self.ts_ok = true;
                self.ts_recent = val;
            }
            _ => self.ts_ok = false,
        }
        // The SYN's window is never scaled (RFC 7323 §2.2).
        self.snd_wnd = u32::from(syn.window);
        self.max_snd_wnd = self.snd_wnd;
        self.cc.set_mss(self.eff_mss());
    }

    /// The payload of a full-sized segment: SND.MSS less the timestamp option
    /// we put on every segment (like Linux's `mss_cache`).
    pub(super) fn eff_mss(&self) -> u32 {
        if self.ts_ok {
            self.snd_mss
                .saturating_sub(TIMESTAMPS_ALIGNED_LEN as u32)
                .max(1)
        } else {
            self.snd_mss
        }
    }

    /// Our TSval clock (RFC 7323 §5.4): milliseconds plus the
    /// connection's random offset ([`TcpConfig::ts_offset`]), so that it
    /// reveals neither uptime nor a clock shared across connections. (The
    /// ISS is no offset: the SYN carries both, and ISS minus TSval would
    /// give the clock away.)
    pub(super) fn ts_now(&self, now: Instant) -> u32 {
        (now.total_millis() as u32).wrapping_add(self.config.ts_offset)
    }

    /// An ICMP error quoting a segment that starts at `seq` may be about
    /// this connection: `SND.UNA <= seq <= SND.NXT` (RFC 5927 §4.1; Linux's
    /// `tcp_v4_err` checks the same), with SND.NXT the highest sent.
    pub fn icmp_seq_acceptable(&self, seq: SeqNum) -> bool {
        seq.between(self.snd_una, self.snd_max)
    }

    /// The path MTU dropped (RFC 8201 §5.4, a Packet Too Big): SND.MSS
    /// becomes at most `mss` (never below the minimum), and the congestion
    /// controller counts in the new size.
    pub fn clamp_snd_mss(&mut self, mss: u16) {
        let mss = u32::from(mss.max(MIN_MSS));
        if mss < self.snd_mss {
            self.snd_mss = mss;
            self.cc.set_mss(self.eff_mss());
        }
    }

    /// Sequence number of our FIN (valid once queued).
    pub(super) fn fin_seq(&self) -> SeqNum {
        self.tx_seq + self.tx.len()
    }

    /// Our FIN has been acknowledged.
    pub(super) fn fin_acked(&self) -> bool {
        self.fin_queued && self.snd_una.after(self.fin_seq())
    }

    /// Bytes in flight: sent and not acknowledged (RFC 5681's FlightSize).
    pub(super) fn flight(&self) -> u32 {
        self.snd_max.since(self.snd_una)
    }

    /// Bytes queued and not sent yet (`TCP_NOTSENT_LOWAT` counts these).
    /// (A SYN or FIN in flight makes it one short, when nothing is
    /// unsent anyway.)
    pub(super) fn unsent(&self) -> usize {
        self.tx.len().saturating_sub(self.flight() as usize)
    }

    /// RCV.WND: free room in the receive buffer, the window we can offer.
    pub(super) fn rcv_wnd(&self) -> u32 {
        u32::try_from(self.rx.window()).unwrap_or(u32::MAX)
    }

    /// The delayed-ACK timeout ("ato"). The rule: a quarter of the smoothed
    /// RTT, clamped to `[delack_min, delack_max]` (40 ms and 200 ms by
    /// default, Linux's `TCP_ATO_MIN` and `TCP_DELACK_MAX`); `delack_min`
    /// before any RTT sample. A quarter RTT keeps the ACK well inside the
    /// peer's RTO (at least SRTT + 4·RTTVAR), while the bounds stop a LAN
    /// from ACKing every segment and a slow path from stalling the sender.
    pub(super) fn ato(&self) -> Duration {
        if !self.rtt.has_sample() {
            return self.config.delack_min;
        }
        Duration::from_micros(self.rtt.srtt / 4)
            .max(self.config.delack_min)
            .min(self.config.delack_max)
    }

    /// Goes to CLOSED: timers stop, queues stay readable.
    pub(super) fn set_closed(&mut self) {
        self.state = State::Closed;
        self.timers.clear();
        self.pending = Pending::default();
        self.release_buffers();
    }

    /// Gives back the memory of the queues that are empty: a connection in
    /// TIME-WAIT or CLOSED keeps only what the application has yet to read,
    /// so thousands of them cost little. Out-of-order bytes are dropped
    /// with the assembler: nothing more will be acknowledged.
    pub(super) fn release_buffers(&mut self) {
        self.tx.release();
        self.rack.release();
        if self.assembler.is_empty() || self.state == State::Closed {
            self.assembler.clear();
            self.rx.release();
        }
    }

    /// Fails the connection with `err` (reset, timeout).
    pub(super) fn fail(&mut self, err: TcpError) {
        self.error = Some(err);
        self.set_closed();
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The 4-tuple.
    pub fn tuple(&self) -> FourTuple {
        self.tuple
    }

    /// What `poll`/`epoll` would report. Writable, as Linux's
    /// `sk_stream_is_writeable`, means the free part of the send buffer is
    /// at least half of what is queued (sent or not, until acknowledged):
    /// a writer woken by it can queue a useful amount at once, rather than
    /// a few bytes per ACK.
    pub fn readiness(&self) -> Readiness {
        let closed = self.state == State::Closed;
        let free = self.tx.window();
        Readiness {
            readable: !self.rx.is_empty() || self.fin_received || self.error.is_some() || closed,
            writable: matches!(self.state, State::Established | State::CloseWait)
                && !self.fin_queued
                && free > 0
                && free >= self.tx.len() / 2
                && self.unsent() < self.config.notsent_lowat as usize,
            read_closed: self.fin_received,
            hup: closed || (self.fin_received && self.fin_queued),
            error: self.error.is_some(),
        }
    }

    /// `SO_ERROR`: takes the pending error.
    pub fn take_error(&mut self) -> Option<TcpError> {
        self.error.take()
    }

    /// CLOSED with nothing left to send (no pending RST) nor to read: the
    /// stack may drop it. A connection whose TIME-WAIT ended while the
    /// application still had data to read stays until it is read (or the
    /// socket is closed, which the stack knows).
    pub fn is_reapable(&self) -> bool {
        self.state == State::Closed && self.rst_pending.is_none() && self.rx.is_empty()
    }

    /// Bytes the application can read.
    pub fn recv_queue_len(&self) -> usize {
        self.rx.len()
    }

    /// Bytes queued and not yet acknowledged.
    pub fn send_queue_len(&self) -> usize {
        self.tx.len()
    }

    /// A SYN for this connection's 4-tuple while it is in TIME-WAIT: may it
    /// start a new incarnation? RFC 9293 §3.10.7.4 lets TIME-WAIT answer
    /// only with an ACK, but RFC 1122 §4.2.2.13 and RFC 6191 allow a SYN
    /// that cannot be an old duplicate: one whose sequence number is past
    /// RCV.NXT, or whose timestamp is newer than TS.Recent. Like Linux
    /// (`tcp_timewait_state_process`), either test suffices unless PAWS
    /// rejects the timestamp. A client that reuses its port quickly (a
    /// server closing first leaves TIME-WAIT here, and the client's
    /// ephemeral ports wrap) then connects at once, instead of getting an
    /// ACK, answering it with RST and retrying.
    ///
    /// Returns the ISS for the new incarnation: past anything the old one
    /// sent, as Linux's `tw_snd_nxt + 65535 + 2`, so that its segments
    /// still in the network cannot be taken for the new one's.
    pub fn time_wait_reopen(&self, seg: &TcpRepr) -> Option<SeqNum> {
        let f = seg.flags;
        if self.state != State::TimeWait
            || !f.contains(TcpFlags::SYN)
            || f.contains(TcpFlags::ACK)
            || f.contains(TcpFlags::RST)
        {
            return None;
        }
        let age = seg
            .options
            .timestamps
            .filter(|_| self.ts_ok)
            .map(|(val, _)| val.wrapping_sub(self.ts_recent) as i32);
        if age.is_some_and(|a| a < 0) {
            return None;
        }
        if seg.seq.after(self.rcv_nxt) || age.is_some_and(|a| a > 0) {
            Some(self.snd_nxt + TIME_WAIT_ISS_GAP)
        } else {
            None
        }
    }

    /// Consecutive retransmission timeouts so far (in SYN-RECEIVED: how
    /// many times our SYN-ACK went again).
    pub fn retransmits(&self) -> u32 {
        self.retransmits
    }

    /// SND.UNA, SND.NXT, RCV.NXT, for tests and tools.
    pub fn seq_vars(&self) -> (SeqNum, SeqNum, SeqNum) {
        (self.snd_una, self.snd_nxt, self.rcv_nxt)
    }

    /// Leaves quick-ACK mode (tests of the delayed-ACK rule).
    #[cfg(test)]
    pub(crate) fn quickacks_off_for_test(&mut self) {
        self.delack.quickacks = 0;
    }
}
