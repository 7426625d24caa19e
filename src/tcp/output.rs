//! What to send next, and the timers that make it happen.
//!
//! `poll_transmit` answers, in order: a pending RST; our SYN or SYN-ACK;
//! a fast retransmission of the head (RFC 5681 §3.2); data and FIN as the
//! windows, Nagle, cork and silly-window avoidance allow (RFC 9293 §3.8.6.2);
//! a zero-window probe; a keepalive probe; a bare ACK.

use super::tcb::{LossProbe, Recovery};
use super::timer::Timer;
use super::{State, Tcb, TcpError};
use crate::time::{Duration, Instant};
use crate::wire::SeqNum;
use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};

/// The least probe timeout (RFC 8985 §7.2 leaves the floor to the
/// implementation; Linux adds `TCP_TIMEOUT_MIN`, two jiffies): below it,
/// timer slack and scheduling would fire probes at every ACK's jitter.
pub(super) const TLP_MIN: Duration = Duration::from_millis(2);

/// How many times a window update that reopened a closed window is sent
/// again while no data follows (after `ato`, then twice and four times
/// that): receiver-side help for a sender in persist whose update was
/// lost, which would otherwise wait its whole backed-off RTO.
const REOPEN_REPEATS: u32 = 3;

/// In-order full-sized segments of one batch of frames acknowledged by one
/// ACK at most ([`Tcb::ack_owed`]).
const BATCH_ACK_SEGMENTS: u32 = 8;

/// The persist interval doubles at most this many times (its ceiling,
/// `rto_max`, is reached long before): bounds the shift.
const PERSIST_MAX_SHIFT: u32 = 16;

impl Tcb {
    /// The next segment to send, if any. The payload is copied into
    /// `scratch`, which must hold at least one MSS (64 KiB is plenty).
    pub fn poll_transmit<'a>(
        &mut self,
        now: Instant,
        scratch: &'a mut [u8],
    ) -> Option<TcpRepr<'a>> {
        if let Some((seq, with_ack)) = self.rst_pending.take() {
            let mut r = self.segment(now, seq, TcpFlags::RST, &[]);
            r.options = TcpOptions::default();
            r.window = 0;
            if !with_ack {
                r.flags = TcpFlags::RST;
                r.ack = SeqNum(0);
            } else {
                r.flags = TcpFlags::RST | TcpFlags::ACK;
            }
            self.stats.segs_out = self.stats.segs_out.wrapping_add(1);
            return Some(r);
        }
        if self.state == State::FinWait2 && self.app_closed && !self.timers.is_armed(Timer::Close) {
            // close() after shutdown(): the orphan's FIN-WAIT-2 is bounded
            // (Linux's tcp_fin_timeout, or TCP_LINGER2); close() has no
            // clock, so arm here.
            self.timers
                .set(Timer::Close, now + self.fin_wait2_timeout());
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent | State::SynReceived if self.snd_nxt == self.iss => {
                return Some(self.syn(now));
            }
            State::SynSent => return None,
            State::SynReceived => return self.ack_if_due(now),
            _ => {}
        }
        if self.sack_ok
            && let Some((start, len)) = self.rack_retransmit(now)
        {
            return Some(self.data_segment(now, start, len, scratch, true));
        }
        if self.pending.rexmit {
            self.pending.rexmit = false;
            if let Some((start, end)) = self.next_hole() {
                let off = start.since(self.tx_seq) as usize;
                let len = self
                    .seg_mss(now)
                    .min(end.since(start) as usize)
                    .min(self.tx.len().saturating_sub(off));
                if self.recovery.prr.is_some_and(|prr| !prr.allows(len as u32)) {
                    // PRR has nothing left for this ACK: the next one may.
                    self.pending.rexmit = true;
                } else {
                    self.recovery.high_rxt = start + len;
                    return Some(self.data_segment(now, start, len, scratch, true));
                }
            }
        }
        if std::mem::take(&mut self.pending.tlp) && self.flight() > 0 {
            return Some(self.loss_probe(now, scratch));
        }
        if let Some(len) = self.data_ready(now) {
            let seq = self.snd_nxt;
            let retransmission = seq.before(self.snd_max);
            return Some(self.data_segment(now, seq, len, scratch, retransmission));
        }
        if self.pending.window_probe {
            // A zero-window probe in Linux's style: an old sequence number
            // and no data, which the peer must answer with its window.
            self.pending.window_probe = false;
            self.stats.segs_out = self.stats.segs_out.wrapping_add(1);
            return Some(self.segment(now, self.snd_una - 1u32, TcpFlags::ACK, &[]));
        }
        if self.pending.keepalive {
            // RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT − 1, no data.
            self.pending.keepalive = false;
            self.stats.segs_out = self.stats.segs_out.wrapping_add(1);
            return Some(self.segment(now, self.snd_max - 1u32, TcpFlags::ACK, &[]));
        }
        self.ack_if_due(now)
    }

    /// RFC 8985 §6: a segment RACK marked lost goes again, while the
    /// pipe (RFC 6675 §4) is below cwnd, and always once per ACK that asked
    /// for a retransmission.
    /// Returns the range to send.
    fn rack_retransmit(&mut self, now: Instant) -> Option<(SeqNum, usize)> {
        let (start, end) = self.rack.first_lost()?;
        if self.recovery.prr.is_none() && !self.pending.rexmit && self.rack.pipe() >= self.cc.cwnd()
        {
            return None;
        }
        let start = if start.before(self.snd_una) {
            self.snd_una
        } else {
            start
        };
        let off = start.since(self.tx_seq) as usize;
        let len = self
            .seg_mss(now)
            .min(end.since(start) as usize)
            .min(self.tx.len().saturating_sub(off));
        let fin = self.fin_queued && start == self.fin_seq();
        if len == 0 && !fin {
            return None;
        }
        if self.recovery.prr.is_some_and(|prr| !prr.allows(len as u32)) {
            return None;
        }
        self.pending.rexmit = false;
        if (start + len).after(self.recovery.high_rxt) {
            self.recovery.high_rxt = start + len;
        }
        Some((start, len))
    }

    /// The tail loss probe (RFC 8985 §7.3): one new segment if the peer's
    /// window allows, else the highest segment sent again; then the RTO
    /// restarts. Only one per tail: no other until an ACK covers SND.MAX
    /// as it is now.
    fn loss_probe<'a>(&mut self, now: Instant, scratch: &'a mut [u8]) -> TcpRepr<'a> {
        let mss = self.seg_mss(now);
        let sent_off = self.snd_nxt.since(self.tx_seq) as usize;
        let avail = self.tx.len().saturating_sub(sent_off);
        let room = self
            .snd_wnd
            .saturating_sub(self.snd_nxt.since(self.snd_una)) as usize;
        let new_len = avail.min(mss).min(room);
        let seg = if self.snd_nxt == self.snd_max && new_len > 0 && new_len == avail.min(mss) {
            self.tlp.retrans = false;
            self.tlp.ts = None;
            self.data_segment(now, self.snd_nxt, new_len, scratch, false)
        } else {
            let fin_sent = self.fin_queued && self.snd_max.after(self.fin_seq());
            let data_end = if fin_sent {
                self.fin_seq()
            } else {
                self.snd_max
            };
            let len = (data_end.since(self.snd_una) as usize).min(mss);
            self.tlp.retrans = true;
            self.tlp.ts = self.ts_ok.then(|| self.ts_now(now));
            self.data_segment(now, data_end - len as u32, len, scratch, true)
        };
        self.tlp.high_seq = Some(self.snd_max);
        self.timers.stop(Timer::LossProbe);
        self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        seg
    }

    /// Arms the tail loss probe (RFC 8985 §7.2) when the connection is
    /// open, has data in flight, is in neither recovery nor RTO backoff,
    /// has no probe outstanding, and the RTO is armed. PTO = 2·SRTT, at
    /// least [`TLP_MIN`]; with one segment in flight, plus the peer's
    /// delayed-ACK allowance (our `delack_min`, Linux's 40 ms
    /// `TCP_ATO_MIN`: a lone segment may wait that long for its ACK). A PTO
    /// at or past the RTO is not armed: the RTO fires first.
    pub(super) fn arm_loss_probe(&mut self, now: Instant) {
        self.timers.stop(Timer::LossProbe);
        let open = matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        );
        let flight = self.flight();
        if !self.sack_ok
            || !open
            || flight == 0
            || self.recovery.recover.is_some()
            || self.retransmits > 0
            || self.tlp.high_seq.is_some()
            || !self.rtt.has_sample()
            || self.snd_nxt.before(self.snd_max)
        {
            return;
        }
        let Some(rto_at) = self.timers.get(Timer::Retransmit) else {
            return;
        };
        let mut pto = Duration::from_micros(2 * self.rtt.srtt).max(TLP_MIN);
        if flight <= self.eff_mss() {
            pto += self.config.delack_min;
        }
        if now + pto < rto_at {
            self.timers.set(Timer::LossProbe, now + pto);
        }
    }

    /// The next range to retransmit in recovery: the segment at SND.UNA
    /// first, then (with SACK) the holes below the highest SACKed byte not
    /// yet retransmitted (RFC 6675 §4's NextSeg, rule 1).
    fn next_hole(&self) -> Option<(SeqNum, SeqNum)> {
        if !self.snd_una.before(self.snd_max) {
            return None;
        }
        let from = if self.recovery.high_rxt.after(self.snd_una) {
            self.recovery.high_rxt
        } else {
            self.snd_una
        };
        if from == self.snd_una {
            let end = self
                .scoreboard
                .next_hole(from)
                .map_or(self.snd_max, |(_, e)| e);
            return Some((from, end));
        }
        self.scoreboard
            .next_hole(from)
            .filter(|(s, _)| s.before(self.snd_max))
    }

    /// When the TCB next needs [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// An ACK we owe at once, alone, and nothing else (no data, no
    /// retransmission, no timer work): for the stack to send before it
    /// hands this connection the next segment of a batch of frames.
    ///
    /// RFC 9293 §3.8.6.3 and RFC 5681 §4.2 ask for an ACK at least every
    /// second full-sized segment and at once for each out-of-order one;
    /// a stack that reads frames in batches and polls for output after the
    /// batch would send one ACK per batch (up to a whole window), each with
    /// only the last SACK blocks. A sender then sees few duplicate ACKs
    /// and, when one such stretch ACK is lost, nothing until its RTO.
    pub fn poll_ack(&mut self, now: Instant) -> Option<TcpRepr<'static>> {
        if self.rst_pending.is_some() {
            return None;
        }
        match self.state {
            State::Closed | State::Listen | State::SynSent | State::SynReceived => None,
            _ => self.ack_if_due(now),
        }
    }

    /// An ACK is owed now that should not wait for the end of a batch
    /// ([`Tcb::poll_ack`] would return one): for out-of-order or duplicate
    /// data, data while holes remain, a filled hole, a window update, or
    /// once `BATCH_ACK_SEGMENTS`
    /// full-sized segments wait to be acknowledged. In-order data in
    /// between is acknowledged every second segment only at the batch's
    /// end: an ACK costs the stack and the peer a frame each, and a few
    /// per window are enough for a lost one not to matter.
    pub fn ack_owed(&self) -> bool {
        self.pending.ack
            && (self.delack.rcv_unacked == 0
                || !self.assembler.is_empty()
                || self.delack.rcv_unacked >= BATCH_ACK_SEGMENTS * self.rcv_mss)
    }

    /// A quick ACK held for the application's answer
    /// (`hold_ack`) is still owed.
    pub fn ack_held(&self) -> bool {
        self.delack.held
    }

    /// Sends a held quick ACK now (the application did not answer: it
    /// waits for more, or went back to its event loop). True when there
    /// was one: the connection then has a segment to send.
    pub fn release_held_ack(&mut self) -> bool {
        if !self.delack.held {
            return false;
        }
        self.delack.held = false;
        self.pending.ack = true;
        true
    }

    /// A bare ACK. Its sequence number is the highest we sent, not SND.NXT
    /// after a go-back-N rewind: the peer has seen up to there, and a number
    /// behind its RCV.NXT would make the ACK unacceptable.
    fn ack_if_due(&mut self, now: Instant) -> Option<TcpRepr<'static>> {
        if !self.pending.ack {
            return None;
        }
        self.stats.segs_out = self.stats.segs_out.wrapping_add(1);
        Some(self.segment(now, self.snd_max, TcpFlags::ACK, &[]))
    }

    /// Our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) with the options we
    /// offer (RFC 9293 §3.7.1, RFC 7323, RFC 2018). Options the peer did
    /// not offer are not answered in a SYN-ACK.
    fn syn(&mut self, now: Instant) -> TcpRepr<'static> {
        let active = self.state == State::SynSent;
        let c = &self.config;
        let options = TcpOptions {
            mss: Some(c.mss),
            window_scale: (c.window_scaling
                && (active || self.snd_wscale > 0 || self.rcv_wscale > 0))
                .then_some(self.rcv_wscale),
            sack_permitted: c.sack && (active || self.sack_ok),
            sack_blocks: [None; 4],
            timestamps: (c.timestamps && (active || self.ts_ok))
                .then_some((self.ts_now(now), if active { 0 } else { self.ts_recent })),
        };
        let flags = if active {
            TcpFlags::SYN
        } else {
            TcpFlags::SYN | TcpFlags::ACK
        };
        let retransmission = self.snd_max != self.iss;
        self.snd_nxt = self.iss + 1u32;
        self.snd_max = self.snd_nxt;
        if retransmission {
            self.rtt_seq = None;
        } else {
            self.rtt_seq = Some((self.iss, now));
        }
        if !self.timers.is_armed(Timer::Retransmit) {
            self.progress_at = now;
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        }
        self.pending.ack = false;
        self.stats.segs_out = self.stats.segs_out.wrapping_add(1);
        TcpRepr {
            src_port: self.tuple.local.port(),
            dst_port: self.tuple.remote.port(),
            seq: self.iss,
            ack: if active { SeqNum(0) } else { self.rcv_nxt },
            flags,
            window: self.rcv_wnd().min(u32::from(u16::MAX)) as u16,
            urgent: 0,
            options,
            payload: &[],
        }
    }

    /// Can new data (or a retransmission after a timeout, or our FIN) go out
    /// now? Applies the window, Nagle (RFC 9293 §3.7.4), cork and the
    /// sender's silly-window avoidance (RFC 9293 §3.8.6.2.1). Arms the
    /// persist timer when the peer's window holds everything back.
    fn data_ready(&mut self, now: Instant) -> Option<usize> {
        let sent_off = self.snd_nxt.since(self.tx_seq) as usize;
        let avail = self.tx.len().saturating_sub(sent_off);
        let fin_allowed = matches!(
            self.state,
            State::FinWait1 | State::Closing | State::LastAck
        );
        let fin_unsent = self.fin_queued && fin_allowed && self.snd_nxt.before_eq(self.fin_seq());
        if avail == 0 {
            return fin_unsent.then_some(0);
        }
        if self.snd_una == self.snd_max {
            self.restart_after_idle(now);
        }
        let in_flight = self.snd_nxt.since(self.snd_una);
        let mss = self.seg_mss(now);
        let usable = match self.recovery.prr {
            // In SACK recovery PRR, not cwnd against the whole flight,
            // says how much new data may go (RFC 6937, RFC 6675 §5 rule
            // 2); whole segments only, as for retransmissions.
            Some(prr) => {
                let usable = self.snd_wnd.saturating_sub(in_flight).min(prr.allowance()) as usize;
                if usable < avail.min(mss) {
                    return None;
                }
                usable
            }
            None => self.snd_wnd.min(self.cc.cwnd()).saturating_sub(in_flight) as usize,
        };
        let retransmission = self.snd_nxt.before(self.snd_max);
        let mut len = avail.min(usable).min(mss);
        if !retransmission && self.config.tso_max > mss && len == mss {
            // TSO: a run of whole segments in one. The device cuts it at
            // the MSS, so a part below the MSS at its end is a segment of
            // its own: it goes only where Nagle would let it (it empties
            // the queue and nothing holds it back, the segments before it
            // being in flight by then).
            let big = avail.min(usable).min(self.config.tso_max);
            let tail = big % mss;
            let tail_ok = big == avail && !self.cork && (fin_unsent || self.nodelay);
            len = if tail == 0 || tail_ok {
                big
            } else {
                big - tail
            };
        }
        let force = std::mem::take(&mut self.pending.force_send);
        let ok = if len == 0 {
            false
        } else if len >= mss || retransmission || force {
            true
        } else {
            let empties_queue = len == avail;
            let push =
                empties_queue && (fin_unsent || ((self.nodelay || in_flight == 0) && !self.cork));
            let sws = self.max_snd_wnd > 0 && len as u32 >= self.max_snd_wnd / 2 && !self.cork;
            // Nagle holds a small segment while data is in flight; the SWS
            // rule sends a big share of the peer's largest window.
            push || (sws && (self.nodelay || in_flight == 0 || len == usable))
        };
        if !ok && in_flight == 0 && usable < avail.min(mss) {
            // RFC 9293 §3.8.6.1: the window holds us back with nothing in
            // flight: probe it when the persist timer fires.
            if !self.timers.is_armed(Timer::Persist) {
                let backoff = self.persist.backoff.min(PERSIST_MAX_SHIFT);
                let t = self
                    .rtt
                    .rto()
                    .checked_mul(1 << backoff)
                    .unwrap_or(self.config.rto_max);
                let mut at = now + t.min(self.config.rto_max);
                let user_timeout = self.config.user_timeout;
                if !user_timeout.is_zero() {
                    // Not past the user timeout (Linux's
                    // tcp_clamp_probe0_to_user_timeout).
                    at = at.min((self.last_recv + user_timeout).max(now));
                }
                self.timers.set(Timer::Persist, at);
            }
        }
        ok.then_some(len)
    }

    /// New data is ready with nothing in flight: the controller hears how
    /// long the connection has not sent (restart after idle, RFC 5681
    /// §4.1, checked like Linux's tcp_slow_start_after_idle_check when
    /// the application writes with nothing in flight). The idle clock then
    /// restarts, so a poll that still sends nothing (cork, a closed
    /// window) does not cut cwnd again.
    fn restart_after_idle(&mut self, now: Instant) {
        let idle = now.saturating_duration_since(self.lsndtime);
        if idle.is_zero() {
            return;
        }
        self.cc.on_send_after_idle(now, idle, self.rtt.rto());
        self.lsndtime = now;
    }

    /// A data segment of `len` bytes from `seq`, with FIN when it reaches
    /// the end of the queue after the application shut down writing.
    fn data_segment<'a>(
        &mut self,
        now: Instant,
        seq: SeqNum,
        len: usize,
        scratch: &'a mut [u8],
        retransmission: bool,
    ) -> TcpRepr<'a> {
        let off = seq.since(self.tx_seq) as usize;
        let len = len.min(scratch.len());
        let n = self.tx.peek(off, &mut scratch[..len]);
        let end = seq + n;
        let fin_allowed = matches!(
            self.state,
            State::FinWait1 | State::Closing | State::LastAck
        );
        let mut flags = TcpFlags::ACK;
        if self.fin_queued && fin_allowed && end == self.fin_seq() {
            flags = flags | TcpFlags::FIN;
        }
        if n > 0 && off + n == self.tx.len() {
            flags = flags | TcpFlags::PSH;
        }
        let seg_end = end + u32::from(flags.contains(TcpFlags::FIN));
        if retransmission {
            self.stats.total_retrans = self.stats.total_retrans.wrapping_add(1);
            self.rtt_seq = None;
            self.ts_rexmit_floor = Some(self.ts_now(now));
        } else if self.rtt_seq.is_none() && !self.ts_ok {
            self.rtt_seq = Some((seq, now));
        }
        if n > 0 {
            self.lsndtime = now;
        }
        if let Some(prr) = self.recovery.prr.as_mut() {
            prr.on_send(seg_end.since(seq));
        }
        if seq == self.snd_nxt {
            self.snd_nxt = seg_end;
        }
        let new_data = seg_end.after(self.snd_max);
        if new_data {
            self.snd_max = seg_end;
        }
        // A TSO segment leaves as several on the wire, each MSS long but
        // the last: RACK records them one by one, as the peer SACKs them,
        // and they count one by one as segments sent.
        let wire_mss = self.seg_mss(now);
        let wire_segs = n.div_ceil(wire_mss).max(1);
        if self.sack_ok {
            let mut from = seq;
            for _ in 1..wire_segs {
                let to = from + wire_mss;
                self.rack.on_send(now, from, to);
                from = to;
            }
            self.rack.on_send(now, from, seg_end);
        }
        if !self.timers.is_armed(Timer::Retransmit) {
            self.progress_at = now;
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        }
        if new_data && !self.pending.tlp {
            // RFC 8985 §7.2: (re)arm the probe after sending new data.
            self.arm_loss_probe(now);
        }
        self.timers.stop(Timer::Persist);
        self.stats.segs_out = self.stats.segs_out.wrapping_add(wire_segs as u32);
        self.last_seg_mss = wire_mss as u32;
        let header = self.segment(now, seq, flags, &[]);
        TcpRepr {
            payload: &scratch[..n],
            ..header
        }
    }

    /// A segment carrying our current ACK, window, timestamps and SACK
    /// blocks. Sending it counts as acknowledging: the delayed-ACK state is
    /// cleared.
    fn segment<'a>(
        &mut self,
        now: Instant,
        seq: SeqNum,
        flags: TcpFlags,
        payload: &'a [u8],
    ) -> TcpRepr<'a> {
        let window = self.advertise_window();
        let options = self.ack_options(now);
        self.pending.ack = false;
        self.delack.held = false;
        self.delack.rcv_unacked = 0;
        self.timers.stop(Timer::DelayedAck);
        if let Some((_, sent)) = self.delack.reopen {
            // A window update that reopened the window goes again after
            // `ato` (doubling) unless data follows it.
            let wait = self.ato() * (1u32 << sent.min(REOPEN_REPEATS));
            self.timers.set(Timer::DelayedAck, now + wait);
        }
        self.last_ack_sent = self.rcv_nxt;
        TcpRepr {
            src_port: self.tuple.local.port(),
            dst_port: self.tuple.remote.port(),
            seq,
            ack: self.rcv_nxt,
            flags,
            window,
            urgent: 0,
            options,
            payload,
        }
    }

    /// The options on every non-SYN segment: timestamps (RFC 7323 §3.2)
    /// and SACK blocks, the most recently received first (RFC 2018 §4).
    fn ack_options(&self, now: Instant) -> TcpOptions {
        let mut options = TcpOptions::default();
        if self.ts_ok {
            options.timestamps = Some((self.ts_now(now), self.ts_recent));
        }
        if self.sack_ok {
            for (slot, (l, r)) in options
                .sack_blocks
                .iter_mut()
                .zip(self.assembler.recent_first())
            {
                *slot = Some((self.rcv_nxt + l, self.rcv_nxt + r));
            }
        }
        options
    }

    /// The payload of each wire segment the last data segment is to be cut
    /// into: the `gso_size` for a device doing TSO.
    pub fn tso_segment_size(&self) -> usize {
        self.last_seg_mss as usize
    }

    /// The payload that fits a segment sent now: SND.MSS less the options
    /// it will carry (SACK blocks take room from the data, RFC 2018 §3).
    fn seg_mss(&self, now: Instant) -> usize {
        (self.snd_mss as usize)
            .saturating_sub(self.ack_options(now).len())
            .max(1)
    }

    /// The window field to send. Receiver-side SWS avoidance (RFC 9293
    /// §3.8.6.2.2): the right edge moves only by at least
    /// min(buffer/2, MSS); it never moves left (RFC 7323 §2.4).
    fn advertise_window(&mut self) -> u16 {
        self.fit_recv_buffer();
        let room = self.rcv_wnd();
        let edge = self.rcv_nxt + room;
        let threshold = (self.rx.capacity() as u32 / 2).min(self.rcv_mss).max(1);
        let offered = if self.rcv_adv.after(self.rcv_nxt) {
            self.rcv_adv.since(self.rcv_nxt)
        } else {
            0
        };
        let wnd = if edge.after(self.rcv_adv) && edge.since(self.rcv_adv) < threshold {
            offered.min(room)
        } else {
            room.max(offered.min(room))
        };
        // The scaled field (RFC 7323 §2.3) is rounded up, as Linux's
        // tcp_select_window aligns it: rounding down would put the right
        // edge left of what was offered. The buffer grows by the few bytes
        // (less than 2^scale) this offers past the room, so that they are
        // taken when they come.
        let field = wnd.div_ceil(1 << self.rcv_wscale).min(u32::from(u16::MAX));
        let new_edge = self.rcv_nxt + (field << self.rcv_wscale);
        if new_edge.after(self.rcv_adv) {
            self.rcv_adv = new_edge;
        }
        if self.rcv_adv.after(self.rcv_nxt) {
            let need = self.rx.len() + self.rcv_adv.since(self.rcv_nxt) as usize;
            if need > self.rx.capacity() {
                self.rx.resize(need);
            }
        }
        field as u16
    }

    /// Handles every timer due at `now`.
    pub(super) fn handle_timeout_untraced(&mut self, now: Instant) {
        for t in self.timers.expire(now) {
            self.note_timer(t);
            match t {
                Timer::Retransmit => self.on_retransmit_timeout(now),
                Timer::Persist => self.on_persist_timeout(now),
                Timer::DelayedAck => {
                    let owed = self.pending.ack || self.delack.rcv_unacked > 0;
                    if self.state != State::Closed {
                        self.pending.ack = true;
                    }
                    // No data since a window update that reopened the
                    // window: it may have been lost; a few more go.
                    match self.delack.reopen {
                        Some((nxt, sent)) if nxt == self.rcv_nxt && sent < REOPEN_REPEATS => {
                            self.delack.reopen = Some((nxt, sent + 1));
                        }
                        Some(_) => {
                            self.delack.reopen = None;
                            self.pending.ack &= owed;
                        }
                        None => {}
                    }
                }
                Timer::Keepalive => self.on_keepalive_timeout(now),
                Timer::LossProbe => {
                    if self.flight() > 0 && self.recovery.recover.is_none() {
                        self.pending.tlp = true;
                    }
                }
                Timer::Reorder => self.rack_detect_loss(now),
                Timer::Close => self.set_closed(),
            }
            if self.state == State::Closed {
                return;
            }
        }
    }

    /// RFC 6298 §5.4–5.7 and RFC 5681 §3.1: retransmit from SND.UNA,
    /// back off, shrink cwnd to the loss window; give up after the
    /// configured number of retries.
    fn on_retransmit_timeout(&mut self, now: Instant) {
        let handshake = matches!(self.state, State::SynSent | State::SynReceived);
        if !handshake && self.snd_una == self.snd_max {
            return;
        }
        self.retransmits += 1;
        let limit = match self.state {
            State::SynSent => self.config.syn_retries,
            State::SynReceived => self.config.synack_retries,
            _ => self.config.max_retries,
        };
        // RFC 5482: with a user timeout, time without progress decides
        // instead of the count (Linux's retransmits_timed_out).
        let user_timeout = self.config.user_timeout;
        let given_up = if user_timeout.is_zero() {
            self.retransmits > limit
        } else {
            now >= self.progress_at + user_timeout
        };
        if given_up {
            let err = self.soft_error.unwrap_or(TcpError::TimedOut);
            self.fail(err);
            return;
        }
        if !handshake && self.snd_wnd == 0 && !self.app_closed {
            // The peer's window is closed: nothing was lost, it is the
            // persist timer's job (RFC 9293 §3.8.6.1) to probe, and the
            // data goes again once the window opens. The timeout does not
            // count, but backs off and stays armed (a FIN goes regardless
            // of the window); a peer silent for twice the largest RTO ends
            // the connection (Linux's tcp_rtx_probe0_timed_out). An orphan
            // counts its timeouts as usual.
            if now.saturating_duration_since(self.last_recv) > self.config.rto_max * 2 {
                let err = self.soft_error.unwrap_or(TcpError::TimedOut);
                self.fail(err);
                return;
            }
            self.retransmits -= 1;
            self.snd_nxt = self.snd_una;
            self.rtt.back_off();
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
            return;
        }
        if handshake {
            self.snd_nxt = self.iss;
        } else {
            // ssthresh is reduced once per window of data (RFC 5681 §3.1:
            // held constant when the timer fires again for data it already
            // retransmitted). As Linux's tcp_enter_loss: only outside a
            // recovery episode (or once its `recover` is acknowledged), or
            // on the first timeout after an ACK made progress in a timeout
            // episode. A timeout during fast recovery keeps the ssthresh
            // that recovery set.
            let episode = self.recovery.recover.is_some_and(|r| r.after(self.snd_una));
            let reduce = !episode || (self.recovery.in_loss && self.retransmits == 1);
            self.cc.on_rto(now, self.flight(), reduce);
            self.snd_nxt = self.snd_una;
            // RFC 6582 §3.2 step 4: recover = the highest sequence number
            // transmitted, so that the duplicate ACKs the go-back-N
            // retransmissions provoke do not start fast recovery (§6).
            self.recovery = Recovery::after_timeout(self.snd_una, self.snd_max);
            self.pending.rexmit = false;
            self.scoreboard.clear();
            self.rack.on_rto();
            self.pending.tlp = false;
            self.tlp = LossProbe::default();
            self.timers.stop(Timer::LossProbe);
            self.timers.stop(Timer::Reorder);
        }
        self.stats.total_retrans = self.stats.total_retrans.wrapping_add(u32::from(handshake));
        self.rtt.back_off();
        self.rtt_seq = None;
        let mut next = now + self.rtt.rto();
        if !user_timeout.is_zero() {
            // Do not sleep past the user timeout (tcp_clamp_rto_to_user_timeout).
            next = next.min(self.progress_at + user_timeout);
        }
        self.timers.set(Timer::Retransmit, next);
    }

    /// The persist timer (RFC 9293 §3.8.6.1): a zero-window probe, or with
    /// the window open, the override timeout of §3.8.6.2.1.
    ///
    /// RFC 1122 §4.2.2.17 keeps a connection open while the receiver
    /// answers the probes, not while it is silent. As Linux's
    /// `tcp_probe_timer`: `max_retries` probes unanswered in a row
    /// (`tcp_retries2`), `orphan_retries` for a connection the
    /// application closed, or the user timeout (RFC 5482) since the last
    /// segment from the peer, and the connection fails with `ETIMEDOUT`.
    fn on_persist_timeout(&mut self, now: Instant) {
        self.persist.backoff = self.persist.backoff.saturating_add(1);
        if self.snd_wnd != 0 {
            self.pending.force_send = true;
            return;
        }
        let max_probes = if self.app_closed {
            self.config.orphan_retries
        } else {
            self.config.max_retries
        };
        // Nor is an orphan kept forever by a peer that answers but never
        // opens its window: once the probe interval has reached its
        // ceiling, `orphan_retries` backoffs end it (the "alive" test of
        // tcp_probe_timer).
        let interval = self
            .rtt
            .rto()
            .checked_mul(1 << self.persist.backoff.min(PERSIST_MAX_SHIFT))
            .unwrap_or(self.config.rto_max);
        let orphan_spent = self.app_closed
            && interval >= self.config.rto_max
            && self.persist.backoff >= max_probes;
        let user_timeout = self.config.user_timeout;
        if self.persist.probes >= max_probes
            || orphan_spent
            || (!user_timeout.is_zero() && now >= self.last_recv + user_timeout)
        {
            let err = self.soft_error.unwrap_or(TcpError::TimedOut);
            self.fail(err);
            return;
        }
        self.persist.probes += 1;
        self.pending.window_probe = true;
    }

    /// RFC 1122 §4.2.3.6: after `keepalive_idle` of silence, probe every
    /// `keepalive_intvl`; `keepalive_cnt` unanswered probes end it. In
    /// every synchronized state but TIME-WAIT, as Linux's
    /// tcp_keepalive_timer: a half-closed connection in FIN-WAIT-2 waits
    /// on a peer that may be gone (while our FIN is unacknowledged, the
    /// retransmission timer watches instead).
    fn on_keepalive_timeout(&mut self, now: Instant) {
        if !self.keepalive.enabled
            || !matches!(
                self.state,
                State::Established
                    | State::CloseWait
                    | State::FinWait1
                    | State::FinWait2
                    | State::Closing
                    | State::LastAck
            )
        {
            return;
        }
        if self.flight() > 0 || !self.tx.is_empty() {
            // The retransmission or persist timer watches this connection.
            self.timers
                .set(Timer::Keepalive, now + self.config.keepalive_idle);
            return;
        }
        if self.keepalive.probes >= self.config.keepalive_cnt {
            self.fail(TcpError::TimedOut);
            return;
        }
        self.keepalive.probes += 1;
        self.pending.keepalive = true;
        self.timers
            .set(Timer::Keepalive, now + self.config.keepalive_intvl);
    }
}
