//! The application's side of a connection, RFC 9293 §3.10's user calls
//! after OPEN (which is [`Tcb::connect`] and [`Tcb::accept_syn`]): SEND,
//! RECEIVE, CLOSE (here `shutdown_write` and `close`) and ABORT.

use super::{State, Tcb, TcpError};
use crate::time::Duration;

impl Tcb {
    /// Queues `data` for sending; returns how much fit.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, TcpError> {
        if self.fin_queued {
            return Err(TcpError::BrokenPipe);
        }
        match self.state {
            State::Established | State::CloseWait => {}
            State::SynSent | State::SynReceived => return Err(TcpError::WouldBlock),
            State::Closed => return Err(self.error.take().unwrap_or(TcpError::NotConnected)),
            State::Listen => return Err(TcpError::NotConnected),
            _ => return Err(TcpError::BrokenPipe),
        }
        if data.is_empty() {
            return Ok(0);
        }
        let n = self.tx.enqueue(data);
        if n < data.len() {
            // The buffer, not the application, limits the sender now.
            self.snd_buf_full = true;
        }
        match n {
            0 => Err(TcpError::WouldBlock),
            n => Ok(n),
        }
    }

    /// Reads received bytes. `Ok(0)` is end of stream (the peer's FIN).
    /// Nothing to read (`WouldBlock`) sends a held quick ACK: the
    /// application waits for more, which the peer may be holding back
    /// until it is acknowledged.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, TcpError> {
        let n = match self.peek(buf) {
            Err(TcpError::WouldBlock) => {
                self.release_held_ack();
                return Err(TcpError::WouldBlock);
            }
            Err(e) if Some(e) == self.error => {
                // Reported once, like Linux: then end of stream.
                self.error = None;
                return Err(e);
            }
            other => other?,
        };
        self.rx.discard(n);
        if n > 0 {
            self.rcv_space_adjust(n, self.last_recv);
            self.window_update_after_read();
        }
        Ok(n)
    }

    /// Like [`recv`](Self::recv) without consuming.
    pub fn peek(&self, buf: &mut [u8]) -> Result<usize, TcpError> {
        if !self.rx.is_empty() {
            return Ok(self.rx.peek(0, buf));
        }
        if self.fin_received || buf.is_empty() {
            return Ok(0);
        }
        match self.state {
            State::SynSent | State::SynReceived => Err(TcpError::WouldBlock),
            State::Established | State::FinWait1 | State::FinWait2 => Err(TcpError::WouldBlock),
            State::Closed | State::Listen => match self.error {
                Some(e) => Err(e),
                None if self.state == State::Closed && self.snd_max != self.iss => Ok(0),
                None => Err(TcpError::NotConnected),
            },
            _ => Ok(0),
        }
    }

    /// After the application read: offer the freed room when it moves the
    /// window's right edge by at least min(buffer/2, MSS) (receiver-side
    /// SWS avoidance, RFC 9293 §3.8.6.2.2).
    fn window_update_after_read(&mut self) {
        if !self.state.can_receive() || self.fin_received {
            return;
        }
        let new_edge = self.rcv_nxt + self.rcv_wnd();
        let threshold = (self.rx.capacity() as u32 / 2).min(self.rcv_mss);
        if new_edge.after(self.rcv_adv) && new_edge.since(self.rcv_adv) >= threshold {
            // Only worth a segment if the peer may be held back by it: the
            // window it knows is less than half the buffer.
            let known = self.rcv_adv.since(self.rcv_nxt);
            if known < self.rx.capacity() as u32 / 2 {
                self.pending.ack = true;
            }
            // The peer knows no room for a segment: it is waiting on its
            // persist timer (its RTO, 200 ms at least, and backing off),
            // and if this update is lost it waits that long for nothing.
            if known < self.rcv_mss {
                self.delack.reopen = Some((self.rcv_nxt, 0));
            }
        }
    }

    /// `shutdown(SHUT_WR)`: a FIN after the queued data (half-close,
    /// RFC 9293 §3.10.4).
    pub(super) fn shutdown_write_untraced(&mut self) {
        match self.state {
            State::Established => {
                self.fin_queued = true;
                self.state = State::FinWait1;
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.state = State::LastAck;
            }
            // The FIN follows the handshake (RFC 9293 §3.10.4: "queue for
            // processing after entering ESTABLISHED").
            State::SynReceived => self.fin_queued = true,
            State::SynSent | State::Listen => self.set_closed(),
            _ => {}
        }
    }

    /// `close()`: FIN after queued data; with unread received data, RST
    /// instead (RFC 2525 §2.17, as Linux does).
    pub(super) fn close_untraced(&mut self) {
        self.app_closed = true;
        if !self.rx.is_empty() && self.state != State::Closed {
            self.abort();
            return;
        }
        if self.state == State::Closed {
            // Reset or timed out with data unread: nobody will read it now.
            self.drop_received();
        }
        if self.state == State::FinWait2 && self.config.linger2 < 0 {
            // TCP_LINGER2 negative: no orphan waits in FIN-WAIT-2; Linux's
            // tcp_close resets the connection.
            self.abort();
            return;
        }
        self.shutdown_write();
    }

    /// How long an orphan waits in FIN-WAIT-2 for the peer's FIN (Linux's
    /// `tcp_fin_time`): `TCP_LINGER2`'s time, or `time_wait` by default,
    /// and never less than 3.5 RTO.
    pub(super) fn fin_wait2_timeout(&self) -> Duration {
        let t = match u64::try_from(self.config.linger2) {
            Ok(secs) if secs > 0 => Duration::from_secs(secs),
            _ => self.config.time_wait,
        };
        let rto = self.rtt.rto();
        t.max(rto * 4 - rto / 2)
    }

    /// The application let go of the connection: what it has not read is
    /// dropped, so that a CLOSED connection holds nothing and the stack can
    /// free it (and its port).
    fn drop_received(&mut self) {
        self.rx.discard(self.rx.len());
        self.assembler.clear();
        self.rx.release();
    }

    /// Abort (RFC 9293 §3.10.5, `SO_LINGER` 0): RST now if synchronized,
    /// then CLOSED; "all queued SENDs and RECEIVEs" are flushed, unread
    /// data too. From SYN-RECEIVED (a listener closed with a half-open
    /// connection) the RST is the RFC's `<SEQ=SND.NXT><CTL=RST>`, without
    /// ACK, the form Linux answers the peer's ACK with once the request is
    /// gone; from the other states it carries an ACK, as Linux's active
    /// resets do.
    pub(super) fn abort_untraced(&mut self) {
        self.app_closed = true;
        let with_ack = self.state != State::SynReceived;
        if matches!(
            self.state,
            State::SynReceived
                | State::Established
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        ) {
            // SND.NXT as the peer knows it: the highest sent, not where a
            // go-back-N rewind left SND.NXT, which a peer that received
            // the data would find left of its window and ignore.
            self.rst_pending = Some((self.snd_max, with_ack));
        }
        self.tx.discard(self.tx.len());
        self.drop_received();
        self.set_closed();
    }
}
