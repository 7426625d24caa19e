//! Segment arrival, RFC 9293 §3.10.7, checked in the RFC's order:
//! sequence number (with PAWS before it, RFC 7323 §5.3), RST (RFC 5961 §3),
//! SYN (RFC 5961 §4), ACK (RFC 5961 §5), text, FIN.

use super::congestion::Prr;
use super::sack::Scoreboard;
use super::tcb::{Pending, QUICKACKS};
use super::timer::Timer;
use super::{State, Tcb, TcpError};
use crate::time::{Duration, Instant};
use crate::wire::tcp::{TcpFlags, TcpRepr};

/// RFC 5681 §3.2 and RFC 6675's DupThresh: duplicate ACKs (or segments'
/// worth SACKed above SND.UNA) that mean the segment at SND.UNA is lost.
pub(super) const DUP_THRESH: u32 = 3;

/// The longest RTT a timestamp echo may show to count as a sample: an
/// echo older than this is a stale or mangled TSecr, not a round trip.
const TS_RTT_MAX: Duration = Duration::from_secs(60);

impl Tcb {
    /// Processes one incoming segment (already demultiplexed to this TCB and
    /// checksum-verified). Never panics, whatever the segment holds.
    pub(super) fn handle_segment_untraced(&mut self, now: Instant, seg: &TcpRepr) {
        self.stats.segs_in = self.stats.segs_in.wrapping_add(1);
        match self.state {
            // The stack answers for connections that do not exist (rst_for).
            State::Closed | State::Listen => return,
            State::SynSent => return self.handle_syn_sent(now, seg),
            _ => {}
        }
        let f = seg.flags;

        // A retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost.
        if self.state == State::SynReceived
            && f.contains(TcpFlags::SYN)
            && !f.contains(TcpFlags::ACK)
            && seg.seq == self.irs
        {
            self.snd_nxt = self.iss;
            return;
        }

        // RFC 7323 §5.3 R1: PAWS, before the window check; skipped once
        // TS.Recent is over 24 days old (§5.5), so that the segment is
        // taken and TS.Recent set again from it (§4.3 below).
        if self.ts_ok
            && !f.contains(TcpFlags::RST)
            && let Some((val, _)) = seg.options.timestamps
            && (val.wrapping_sub(self.ts_recent) as i32) < 0
            && now < self.ts_recent_at + super::tcb::PAWS_IDLE
        {
            self.oow_ack(now, seg);
            return;
        }

        // First: is the sequence number acceptable (§3.10.7.4)?
        let mut seg = *seg;
        if !self.acceptable(&seg) {
            let wnd_zero_ack =
                self.rcv_wnd() == 0 && seg.seq == self.rcv_nxt && f.contains(TcpFlags::ACK);
            if !wnd_zero_ack {
                // Answered, within RFC 5961 §7's throttle (`challenge.rs`).
                if !f.contains(TcpFlags::RST) {
                    self.oow_ack(now, &seg);
                }
                // RFC 9293 §3.10.7.4 eighth: in TIME-WAIT, a retransmitted FIN
                // is acknowledged and restarts the 2 MSL timeout.
                if self.state == State::TimeWait && f.contains(TcpFlags::FIN) {
                    self.timers.set(Timer::Close, now + self.config.time_wait);
                }
                return;
            }
            // "If the RCV.WND is zero, no segments will be acceptable, but
            // special allowance should be made to accept valid ACKs, URGs,
            // and RSTs": keep the control part, drop the text.
            seg.payload = &[];
            seg.flags = seg.flags.without(TcpFlags::FIN);
            self.pending.ack = true;
        }
        self.last_recv = now;
        if self.keepalive.enabled {
            self.keepalive.probes = 0;
            self.timers
                .set(Timer::Keepalive, now + self.config.keepalive_idle);
        }

        // Second: RST. RFC 5961 §3.2: only an exact match resets; anything
        // else in the window earns a challenge ACK (rate-limited, §7).
        if f.contains(TcpFlags::RST) {
            if seg.seq != self.rcv_nxt {
                self.challenge_ack(now);
                return;
            }
            match self.state {
                State::SynReceived => {
                    // Passive open: back to the listener, which the stack
                    // owns; for an active (simultaneous) open, refused.
                    self.error = Some(TcpError::ConnectionRefused);
                    self.set_closed();
                }
                State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                    // RFC 9293: "all segment queues should be flushed". The
                    // send queue is; received data stays readable before
                    // the error, as Linux's tcp_recvmsg hands over what is
                    // queued first (a client may still read a response
                    // that a RST followed). In CLOSE-WAIT the peer had
                    // already finished sending, and Linux's tcp_reset
                    // reports EPIPE there, ECONNRESET elsewhere.
                    self.tx.discard(self.tx.len());
                    self.fail(if self.state == State::CloseWait {
                        TcpError::BrokenPipe
                    } else {
                        TcpError::ConnectionReset
                    });
                }
                _ => self.set_closed(),
            }
            return;
        }

        // Fourth: SYN in a synchronized state (and SYN-RECEIVED): RFC 5961
        // §4.2, a challenge ACK instead of a reset.
        if f.contains(TcpFlags::SYN) {
            self.challenge_ack(now);
            return;
        }

        // Fifth: ACK. Without it the segment is dropped.
        if !f.contains(TcpFlags::ACK) {
            return;
        }
        if self.state == State::SynReceived {
            if seg.ack.after(self.snd_una) && seg.ack.before_eq(self.snd_max) {
                self.state = if self.fin_queued {
                    State::FinWait1
                } else {
                    State::Established
                };
                self.snd_wl1 = seg.seq - 1u32;
                self.on_established(now);
            } else {
                // "<SEQ=SEG.ACK><CTL=RST>"
                self.rst_pending = Some((seg.ack, false));
                return;
            }
        }
        // RFC 5961 §5.2: acceptable ACKs lie in
        // [SND.UNA − MAX.SND.WND, SND.NXT]. Beyond SND.NXT: ACK and drop;
        // too old: challenge ACK and drop.
        if seg.ack.after(self.snd_max) || seg.ack.before(self.snd_una - self.max_snd_wnd.max(1)) {
            self.challenge_ack(now);
            return;
        }
        self.process_ack(now, &seg);

        match self.state {
            State::FinWait1 if self.fin_acked() => {
                self.state = State::FinWait2;
                if self.app_closed {
                    if self.config.linger2 < 0 {
                        // TCP_LINGER2 negative: the orphan ends here, quietly
                        // (Linux's tcp_rcv_state_process).
                        self.set_closed();
                        return;
                    }
                    // Linux's tcp_fin_timeout (or TCP_LINGER2) for orphans.
                    self.timers
                        .set(Timer::Close, now + self.fin_wait2_timeout());
                }
            }
            State::Closing if self.fin_acked() => self.enter_time_wait(now),
            State::LastAck if self.fin_acked() => {
                self.set_closed();
                return;
            }
            _ => {}
        }

        // RFC 7323 §4.3: TS.Recent follows the segment that covers
        // Last.ACK.sent.
        if self.ts_ok
            && let Some((val, _)) = seg.options.timestamps
            && seg.seq.before_eq(self.last_ack_sent)
        {
            self.ts_recent = val;
            self.ts_recent_at = now;
        }

        // Seventh: text.
        if !seg.payload.is_empty() && self.state.can_receive() {
            if self.app_closed {
                // Data for a socket nobody will read: reset (Linux, RFC 2525
                // §2.17).
                self.abort();
                return;
            }
            self.receive_data(now, &seg);
        }

        // Eighth: FIN, processed once everything before it has arrived.
        if seg.flags.contains(TcpFlags::FIN) {
            let fin_seq = seg.seq + seg.payload.len();
            if fin_seq == self.rcv_nxt {
                self.process_fin(now);
            } else if fin_seq.after(self.rcv_nxt) && !self.fin_received {
                self.rx_fin_seq = Some(fin_seq);
                self.pending.ack = true;
            }
        }
    }

    /// RFC 9293 §3.10.7.4's four cases of segment acceptability.
    fn acceptable(&self, seg: &TcpRepr) -> bool {
        let len = seg.segment_len();
        let wnd = self.rcv_wnd();
        match (len, wnd) {
            (0, 0) => seg.seq == self.rcv_nxt,
            (0, _) => seg.seq.in_window(self.rcv_nxt, wnd),
            (_, 0) => false,
            (_, _) => {
                seg.seq.in_window(self.rcv_nxt, wnd)
                    || (seg.seq + (len - 1)).in_window(self.rcv_nxt, wnd)
            }
        }
    }

    /// RFC 9293 §3.10.7.3: a segment in SYN-SENT.
    fn handle_syn_sent(&mut self, now: Instant, seg: &TcpRepr) {
        let f = seg.flags;
        let has_ack = f.contains(TcpFlags::ACK);
        if has_ack && (seg.ack.before_eq(self.iss) || seg.ack.after(self.snd_max)) {
            if !f.contains(TcpFlags::RST) {
                self.rst_pending = Some((seg.ack, false));
            }
            return;
        }
        if f.contains(TcpFlags::RST) {
            // RFC 5961 §3.2 keeps RFC 793's rule here: a RST is believed
            // only with an acceptable ACK.
            if has_ack {
                self.fail(TcpError::ConnectionRefused);
            }
            return;
        }
        if !f.contains(TcpFlags::SYN) {
            return;
        }
        self.take_syn(seg);
        self.last_recv = now;
        self.ts_recent_at = now;
        if has_ack {
            self.rtt_sample(now, seg);
            self.snd_una = seg.ack;
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
            self.state = State::Established;
            self.pending.ack = true;
            self.timers.stop(Timer::Retransmit);
            self.retransmits = 0;
            self.on_established(now);
        } else {
            // Simultaneous open: SYN-RECEIVED, our SYN goes again with ACK.
            self.state = State::SynReceived;
            self.snd_nxt = self.iss;
        }
    }

    /// Entering ESTABLISHED (or FIN-WAIT-1 straight from SYN-RECEIVED).
    fn on_established(&mut self, now: Instant) {
        if self.keepalive.enabled {
            self.timers
                .set(Timer::Keepalive, now + self.config.keepalive_idle);
        }
    }

    /// An RTT sample from the timestamp echo (RFC 7323 §4.1) or the timed
    /// segment (Karn's rule: never a retransmitted one, RFC 6298 §3).
    fn rtt_sample(&mut self, now: Instant, seg: &TcpRepr) {
        if self.ts_ok
            && let Some((_, ecr)) = seg.options.timestamps
        {
            let ms = self.ts_now(now).wrapping_sub(ecr);
            let stale = self
                .ts_rexmit_floor
                .is_some_and(|floor| (ecr.wrapping_sub(floor) as i32) < 0);
            let sample = Duration::from_millis(u64::from(ms));
            if ecr != 0 && sample < TS_RTT_MAX && !stale {
                self.rtt.sample(sample);
            }
            return;
        }
        if let Some((seq, at)) = self.rtt_seq
            && seg.ack.after(seq)
        {
            self.rtt.sample(now - at);
            self.rtt_seq = None;
        }
    }

    /// RFC 9293 §3.10.7.4 fifth, ESTABLISHED and after: SND.UNA, the send
    /// window, RTT, duplicate ACKs and congestion control.
    fn process_ack(&mut self, now: Instant, seg: &TcpRepr) {
        let ack = seg.ack;
        if ack.before(self.snd_una) {
            return; // an old duplicate: ignore
        }
        // The peer is alive: zero-window probes are answered (RFC 1122
        // §4.2.2.17).
        self.persist.probes = 0;
        let wnd = u32::from(seg.window) << self.snd_wscale;
        let mss = self.eff_mss();
        let advanced = ack.after(self.snd_una);
        let sacked_before = self.scoreboard.sacked_bytes();
        let una_before = self.snd_una;
        // RFC 6675 §2: with SACK, an ACK that reports new SACKed data is a
        // duplicate ACK even when it carries data.
        let dsack = self.sack_ok && Scoreboard::is_dsack(&seg.options.sack_blocks, ack);
        let new_sack = self.sack_ok
            && ack.before(self.snd_max)
            && self
                .scoreboard
                .add(&seg.options.sack_blocks, ack, self.snd_max);
        // RFC 5681 §2 counts an ACK as duplicate only if it leaves the
        // window unchanged; RFC 6675 §2, with SACK, only asks that it SACK
        // new data. A peer whose receive buffer autotunes (Linux) changes
        // the window on nearly every ACK, so with SACK the window must not
        // matter, or fast retransmit never happens and every loss costs an
        // RTO.
        let dup_candidate = ack == self.snd_una
            && !seg.flags.contains(TcpFlags::FIN)
            && self.flight() > 0
            && if self.sack_ok {
                new_sack
            } else {
                seg.payload.is_empty() && wnd == self.snd_wnd && wnd > 0 // answers to zero-window probes are not loss signals
            };

        if ack.after(self.snd_una) {
            self.rtt_sample(now, seg);
            let acked = ack.since(self.snd_una);
            let removable = if ack.after(self.tx_seq) {
                (ack.since(self.tx_seq) as usize).min(self.tx.len())
            } else {
                0
            };
            self.tx.discard(removable);
            self.tx_seq += removable;
            self.stats.bytes_acked += removable as u64;
            self.snd_una = ack;
            self.scoreboard.prune(ack);
            if self.snd_nxt.before(self.snd_una) {
                self.snd_nxt = self.snd_una;
            }
            self.retransmits = 0;
            self.rtt.backoff = 0;
            if let Some(high) = self.tlp.high_seq
                && ack.after_eq(high)
            {
                self.end_tlp_episode(now, seg, dsack);
            }
            match self.recovery.recover {
                Some(recover) if self.recovery.in_loss => {
                    // After a timeout (RFC 5681 §3.1): ACKs clock slow start
                    // from the loss window; the episode ends when `recover`
                    // is acknowledged (RFC 6582 §3.2 step 4).
                    if ack.after_eq(recover) {
                        self.recovery.recover = None;
                        self.recovery.in_loss = false;
                    }
                    self.recovery.dupacks = 0;
                    self.grow_cwnd(now, acked);
                }
                Some(recover) if ack.after_eq(recover) => {
                    // RFC 6582 §3.2 step 3, full acknowledgment: deflate;
                    // after PRR, cwnd = ssthresh (RFC 6937 §3.1).
                    let w = if self.recovery.prr.take().is_some() {
                        self.cc.ssthresh()
                    } else {
                        self.cc.ssthresh().min(self.flight().max(mss) + mss)
                    };
                    self.cc.set_cwnd(w);
                    self.recovery.recover = None;
                    self.recovery.dupacks = 0;
                }
                Some(_) => {
                    // Partial acknowledgment: retransmit the next hole,
                    // deflate by what was acked, add back one segment.
                    // Without SACK the hole is at the new SND.UNA.
                    self.pending.rexmit = true;
                    if self.recovery.prr.is_none() {
                        self.recovery.high_rxt = self.snd_una;
                        let w = self.cc.cwnd().saturating_sub(acked).saturating_add(mss);
                        self.cc.set_cwnd(w);
                    }
                }
                None => {
                    self.recovery.dupacks = 0;
                    self.grow_cwnd(now, acked);
                }
            }
            if self.snd_una == self.snd_max {
                self.timers.stop(Timer::Retransmit);
            } else {
                // RFC 6298 §5.3: restart the timer on new data acked.
                self.progress_at = now;
                self.timers.set(Timer::Retransmit, now + self.rtt.rto());
            }
            self.snd_buf_expand();
        } else if dup_candidate {
            // RFC 5681 §3.2 and RFC 6582 §3.2.
            self.recovery.dupacks += 1;
            // RFC 6675 §4 IsLost(SND.UNA): DupThresh duplicate ACKs, or at
            // least DupThresh segments' worth SACKed above it (one
            // stretch ACK may SACK several segments at once).
            let lost = self.recovery.dupacks >= DUP_THRESH
                || (self.sack_ok && self.scoreboard.sacked_bytes() >= DUP_THRESH * mss);
            if self.recovery.recover.is_none() && lost {
                self.enter_recovery(now);
            } else if self.recovery.recover.is_some()
                && !self.recovery.in_loss
                && self.recovery.dupacks > DUP_THRESH
            {
                if self.recovery.prr.is_some() {
                    // RFC 6675 §5 (C): each ACK in recovery may send the
                    // next hole the scoreboard shows, as PRR allows.
                    self.pending.rexmit = true;
                } else {
                    // RFC 6582 §3.2 step 4: inflate by the segment that left.
                    self.cc.set_cwnd(self.cc.cwnd().saturating_add(mss));
                }
            }
        }

        // RFC 8985 §6: what this ACK delivered, and what that says was lost.
        if self.sack_ok {
            self.rack.on_ack(now, self.snd_una, &self.scoreboard, dsack);
            self.rack_detect_loss(now);
        }
        // RFC 6937: every ACK starting or during SACK recovery (not the
        // one ending it) sets what may be sent, from what it delivered
        // (SND.UNA's advance plus newly SACKed bytes) and the pipe after
        // its losses were marked.
        if let Some(prr) = self.recovery.prr.as_mut() {
            let delivered = i64::from(self.snd_una.since(una_before))
                + i64::from(self.scoreboard.sacked_bytes())
                - i64::from(sacked_before);
            let delivered = u32::try_from(delivered.max(0)).unwrap_or(u32::MAX);
            let pipe = self.rack.pipe();
            let sndcnt = prr.on_ack(delivered, pipe, self.cc.ssthresh(), mss);
            self.cc.set_cwnd(pipe.saturating_add(sndcnt));
        }
        if advanced {
            // RFC 8985 §7.2: the probe timer restarts on a cumulative ACK.
            self.arm_loss_probe(now);
        }

        // Window update (§3.10.7.4): only from a segment newer than the last
        // one used (SND.WL1, SND.WL2).
        if self.snd_wl1.before(seg.seq) || (self.snd_wl1 == seg.seq && self.snd_wl2.before_eq(ack))
        {
            self.snd_wnd = wnd;
            self.max_snd_wnd = self.max_snd_wnd.max(wnd);
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = ack;
            if wnd > 0 {
                self.timers.stop(Timer::Persist);
                self.persist.backoff = 0;
            }
        }
    }

    /// `acked` new bytes outside fast recovery: the controller grows cwnd,
    /// but only when cwnd was what limited the sender (RFC 7661 §4.1,
    /// Linux's tcp_is_cwnd_limited): an application- or receiver-limited
    /// connection would otherwise inflate cwnd without bound and burst
    /// when it finally has data. Half a window in flight counts, as slow
    /// start may double from what was used.
    fn grow_cwnd(&mut self, now: Instant, acked: u32) {
        let srtt = self
            .rtt
            .has_sample()
            .then(|| Duration::from_micros(self.rtt.srtt));
        let prior_flight = acked.saturating_add(self.flight());
        if prior_flight.saturating_mul(2) >= self.cc.cwnd() {
            self.cc.on_ack(now, acked, srtt);
        }
    }

    /// Fast recovery begins (RFC 5681 §3.2 steps 2–3, RFC 6582 §3.2,
    /// RFC 6675 §5): ssthresh from the flight, retransmit the first hole.
    /// Without SACK, cwnd is inflated by the three segments that left the
    /// network (RFC 6582); with SACK, PRR (RFC 6937) decides what goes.
    pub(super) fn enter_recovery(&mut self, now: Instant) {
        let mss = self.eff_mss();
        let flight = self.flight();
        self.cc.on_loss(now, flight);
        if self.sack_ok {
            // With SACK the pipe is known: PRR (RFC 6937) paces the
            // reduction from the flight to ssthresh.
            self.recovery.prr = Some(Prr::start(flight, mss));
        } else {
            self.cc.set_cwnd(self.cc.ssthresh() + DUP_THRESH * mss);
        }
        self.recovery.recover = Some(self.snd_max);
        self.recovery.high_rxt = self.snd_una;
        self.pending.rexmit = true;
        self.timers.stop(Timer::LossProbe);
    }

    /// RACK's loss detection (RFC 8985 §6.2 step 5) and its reorder timer
    /// (§6.3). A loss found outside recovery starts it; none is acted on
    /// while a timeout's go-back-N resends everything anyway.
    pub(super) fn rack_detect_loss(&mut self, now: Instant) {
        let srtt = Duration::from_micros(self.rtt.srtt);
        let (lost, timeout) = self
            .rack
            .detect_loss(now, self.recovery.recover.is_some(), srtt);
        match timeout {
            Some(at) => self.timers.set(Timer::Reorder, at),
            None => self.timers.stop(Timer::Reorder),
        }
        if !lost || self.snd_nxt.before(self.snd_max) || !self.state.is_synchronized() {
            return;
        }
        if self.recovery.recover.is_none() {
            self.enter_recovery(now);
        }
        self.pending.rexmit = true;
    }

    /// An ACK covered the tail loss probe (RFC 8985 §7.4): if the probe was
    /// a retransmission and the ACK answers it (its timestamp echo is the
    /// probe's, and no D-SACK says the original arrived), the probe
    /// repaired a loss, which congestion control must hear about.
    fn end_tlp_episode(&mut self, now: Instant, seg: &TcpRepr, dsack: bool) {
        self.tlp.high_seq = None;
        let answered_probe = match (self.tlp.ts, seg.options.timestamps) {
            (Some(probe), Some((_, ecr))) => (ecr.wrapping_sub(probe) as i32) >= 0,
            _ => false,
        };
        if self.tlp.retrans && answered_probe && !dsack && self.recovery.recover.is_none() {
            let cwnd = self.cc.cwnd();
            self.cc.on_loss(now, cwnd);
        }
        self.tlp.ts = None;
    }

    /// Seventh step: in-order data into the receive queue, out-of-order data
    /// past its end with the assembler recording it; then the ACK policy.
    fn receive_data(&mut self, now: Instant, seg: &TcpRepr) {
        let mut data = seg.payload;
        let mut offset = 0usize;
        if seg.seq.before(self.rcv_nxt) {
            let skip = self.rcv_nxt.since(seg.seq) as usize;
            data = data.get(skip..).unwrap_or(&[]);
        } else {
            offset = seg.seq.since(self.rcv_nxt) as usize;
        }
        if data.is_empty() {
            self.pending.ack = true;
            return;
        }
        let quiet = now.saturating_duration_since(self.delack.last_data);
        self.delack.last_data = now;
        self.delack.reopen = None;
        let had_holes = !self.assembler.is_empty();
        let written = self.rx.write_unallocated(offset, data);
        if written > 0 && !self.assembler.add(offset as u32, (offset + written) as u32) {
            // Too many holes and this one above them all: drop it, the
            // peer will send it again. Data at RCV.NXT is always taken
            // (RFC 9293 §3.10.7.4): the assembler prunes its highest
            // ranges instead, which then stop being SACKed.
            self.pending.ack = true;
            return;
        }
        let ready = self.assembler.remove_front() as usize;
        let ready = self.rx.commit(ready);
        self.rcv_nxt += ready;
        self.stats.bytes_received += ready as u64;
        self.rcv_mss = self
            .rcv_mss
            .max((data.len() as u32).min(u32::from(self.config.mss)));
        if self.rx_fin_seq == Some(self.rcv_nxt) {
            self.process_fin(now);
        }
        // ACK policy (RFC 9293 §3.8.6.3, RFC 5681 §4.2): at once for
        // out-of-order data or a filled hole, and in quick-ACK mode;
        // otherwise every second full-sized segment, or after `ato`.
        if offset > 0 || had_holes || written < data.len() {
            self.pending.ack = true;
            return;
        }
        self.delack.rcv_unacked = self.delack.rcv_unacked.saturating_add(ready as u32);
        // Data after a silence longer than our RTO: the sender has likely
        // been waiting on its retransmission timer and restarts from a
        // cwnd of one segment, so each ACK withheld for `ato` stalls it a
        // whole `ato`. Quick-ACK mode again, as Linux does
        // (tcp_event_data_recv: `m > icsk_rto` -> tcp_incr_quickack).
        if quiet > self.rtt.rto() {
            self.delack.quickacks = self.delack.quickacks.max(QUICKACKS);
        }
        if self.delack.quickacks > 0 {
            self.delack.quickacks -= 1;
            if self.is_message(seg, data.len()) {
                self.hold_ack(now);
            } else {
                self.pending.ack = true;
            }
        } else if self.delack.rcv_unacked >= 2 * self.rcv_mss {
            self.pending.ack = true;
        } else if !self.timers.is_armed(Timer::DelayedAck) {
            self.timers.set(Timer::DelayedAck, now + self.ato());
        }
    }

    /// A segment that looks like a whole message the peer now waits to
    /// have answered (a request): pushed, at most half a full-sized
    /// segment, and alone unacknowledged. Not the segments of a bulk
    /// transfer, whose ACKs clock the sender; none while the application
    /// asks for quick ACKs (`TCP_QUICKACK`).
    fn is_message(&self, seg: &TcpRepr, len: usize) -> bool {
        !self.delack.quick_asked
            && seg.flags.contains(TcpFlags::PSH)
            && 2 * len as u32 <= self.rcv_mss
            && self.delack.rcv_unacked as usize == len
    }

    /// Holds the quick ACK of a message for the application's answer,
    /// which carries it: a request answered at once then costs the peer
    /// one segment, not an ACK and then the answer. Quick-ACK mode is
    /// there for a sender that waits for the ACK (slow start, Nagle's
    /// rule holding back its next small segment); such a sender's data
    /// leaves the application wanting more, and the hold ends when it
    /// does: its `recv` finds nothing ([`Tcb::recv`]), or it goes back
    /// to its event loop's wait (the stack's
    /// [`release_held_acks`](crate::stack::Stack::release_held_acks)).
    /// Otherwise the delayed-ACK timer (`ato`) sends it, as RFC 9293
    /// §3.8.6.3 allows any ACK to wait.
    fn hold_ack(&mut self, now: Instant) {
        self.delack.held = true;
        if !self.timers.is_armed(Timer::DelayedAck) {
            self.timers.set(Timer::DelayedAck, now + self.ato());
        }
    }

    /// Eighth step: the peer's FIN (RFC 9293 §3.10.7.4).
    fn process_fin(&mut self, now: Instant) {
        if self.fin_received {
            return;
        }
        self.rcv_nxt += 1u32;
        self.fin_received = true;
        self.rx_fin_seq = None;
        self.assembler.clear();
        match self.state {
            // The peer closed first: its FIN is acknowledged after `ato`
            // unless our own FIN or data carries the ACK before then, as
            // Linux does (tcp_fin enters pingpong mode, so
            // __tcp_ack_snd_check delays it). A server that closes when
            // it reads the end answers with one FIN-ACK instead of an ACK
            // and then a FIN. `ato` is at most 200 ms, the least RTO
            // Linux waits before it sends its FIN again.
            State::SynReceived | State::Established => {
                self.state = State::CloseWait;
                if !self.pending.ack && !self.timers.is_armed(Timer::DelayedAck) {
                    self.timers.set(Timer::DelayedAck, now + self.ato());
                }
            }
            State::FinWait1 => {
                self.pending.ack = true;
                if self.fin_acked() {
                    self.enter_time_wait(now);
                } else {
                    self.state = State::Closing;
                }
            }
            State::FinWait2 => {
                self.pending.ack = true;
                self.enter_time_wait(now);
            }
            _ => self.pending.ack = true,
        }
    }

    /// TIME-WAIT for `time_wait` (2×MSL, RFC 9293 §3.4.2): only the
    /// 2 MSL timer runs.
    pub(super) fn enter_time_wait(&mut self, now: Instant) {
        self.state = State::TimeWait;
        self.timers.clear();
        self.timers.set(Timer::Close, now + self.config.time_wait);
        // Only ACKs go out from here: the one owed for the peer's FIN
        // stays owed.
        self.pending = Pending {
            ack: self.pending.ack,
            ..Pending::default()
        };
        self.release_buffers();
    }

    /// An ICMP error or ARP failure for this connection (RFC 9293 §3.9.2.4,
    /// RFC 1122 §4.2.3.9): fatal while connecting, otherwise a soft error
    /// reported if the connection later times out (as Linux does).
    pub(super) fn handle_unreachable_untraced(&mut self, _now: Instant, error: TcpError) {
        if self.state == State::SynSent {
            self.fail(error);
        } else {
            self.soft_error = Some(error);
        }
    }
}
