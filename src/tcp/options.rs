//! The socket options a TCB honours, set by the application at any time
//! (`setsockopt` reaches them through the stack): Nagle, cork, keepalive
//! and its timing (RFC 1122 §4.2.3.6), the user timeout (RFC 5482), the
//! unsent low-water mark, quick ACKs, the buffer sizes and the congestion
//! controller. Each setter ignores a value that did not change, so the
//! stack may apply them all whenever one changes.

use super::TcpConfig;
use super::congestion::Congestion;
use super::tcb::{QUICKACKS, Tcb};
use super::timer::Timer;
use crate::time::Duration;

impl Tcb {
    /// The configuration this connection runs with (the stack's defaults
    /// as the socket's options changed them).
    pub fn config(&self) -> &TcpConfig {
        &self.config
    }

    /// The congestion controller's name (`TCP_CONGESTION`).
    pub fn congestion_name(&self) -> &'static str {
        self.cc.name()
    }

    /// `TCP_NODELAY`.
    pub fn set_nodelay(&mut self, on: bool) {
        self.nodelay = on;
    }

    /// `TCP_CORK`: hold partial segments until uncorked.
    pub fn set_cork(&mut self, on: bool) {
        self.cork = on;
    }

    /// `SO_KEEPALIVE`. Turning it on (re)arms the timer from the last
    /// segment received; setting it to what it already is changes nothing,
    /// so probes in flight keep their count.
    pub fn set_keepalive(&mut self, on: bool) {
        if on == self.keepalive.enabled {
            return;
        }
        self.keepalive.enabled = on;
        self.keepalive.probes = 0;
        self.arm_keepalive();
    }

    /// `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT` on a live connection
    /// (RFC 1122 §4.2.3.6 leaves the values to the application). As Linux
    /// does, a new idle time counts from the last segment received, so a
    /// connection already idle longer is probed at once.
    pub fn set_keepalive_timing(&mut self, idle: Duration, intvl: Duration, cnt: u32) {
        let c = &mut self.config;
        if (c.keepalive_idle, c.keepalive_intvl, c.keepalive_cnt) == (idle, intvl, cnt) {
            return;
        }
        c.keepalive_idle = idle;
        c.keepalive_intvl = intvl;
        c.keepalive_cnt = cnt;
        if self.keepalive.probes == 0 {
            self.arm_keepalive();
        }
    }

    fn arm_keepalive(&mut self) {
        if self.keepalive.enabled && self.state.is_synchronized() {
            self.timers.set(
                Timer::Keepalive,
                self.last_recv + self.config.keepalive_idle,
            );
        } else {
            self.timers.stop(Timer::Keepalive);
        }
    }

    /// `TCP_USER_TIMEOUT` (RFC 5482 §3): zero turns it off. Applies to the
    /// retransmission timer (data and handshake) and, since the last
    /// segment from the peer, to the persist timer, as Linux's does; the
    /// keepalive timer keeps its own limits here.
    pub fn set_user_timeout(&mut self, timeout: Duration) {
        self.config.user_timeout = timeout;
    }

    /// `TCP_LINGER2`: see [`TcpConfig::linger2`]. Takes effect at the next
    /// `close` (or entry into FIN-WAIT-2).
    pub fn set_linger2(&mut self, secs: i32) {
        self.config.linger2 = secs;
    }

    /// `TCP_NOTSENT_LOWAT`: see [`TcpConfig::notsent_lowat`].
    pub fn set_notsent_lowat(&mut self, bytes: u32) {
        self.config.notsent_lowat = bytes;
    }

    /// `TCP_QUICKACK`: on, acknowledge the next segments at once (and any
    /// data waiting for a delayed ACK now); off, delay ACKs from now on.
    /// Like Linux's, the mode is not permanent: after a few quick ACKs the
    /// delayed-ACK rule resumes. Asked for, quick ACKs go at once even for
    /// a request (none is held for the answer, `Tcb::ack_held`).
    pub fn set_quickack(&mut self, on: bool) {
        self.delack.quick_asked = on;
        if on {
            self.delack.quickacks = QUICKACKS;
            self.release_held_ack();
            if self.delack.rcv_unacked > 0 {
                self.pending.ack = true;
            }
        } else {
            self.delack.quickacks = 0;
        }
    }

    /// In quick-ACK mode (`TCP_QUICKACK` as `getsockopt` reads it).
    pub fn quickack(&self) -> bool {
        self.delack.quickacks > 0
    }

    /// `SO_SNDBUF`: the send buffer's limit (never below what it holds),
    /// no longer autotuned.
    pub fn set_send_buffer(&mut self, bytes: usize) {
        self.config.snd_buf = bytes;
        self.config.snd_buf_auto = false;
        self.tx.resize(bytes);
    }

    /// `SO_RCVBUF`: the receive buffer's limit, no longer autotuned. On a
    /// live connection it
    /// never drops below the window already offered: RFC 9293 §3.8.6.2.1
    /// asks the receiver not to move the right edge back ("shrink the
    /// window"), so a smaller buffer takes effect as the data is read. The
    /// window scale chosen in the SYN stays, so growing past `65535 <<
    /// rcv.wscale` offers no more.
    pub fn set_recv_buffer(&mut self, bytes: usize) {
        self.config.rcv_buf = bytes;
        self.config.rcv_buf_auto = false;
        self.fit_recv_buffer();
    }

    /// Brings the receive buffer's limit to `SO_RCVBUF`, or as near as the
    /// window already offered allows (called again before each window
    /// advertisement, so a smaller buffer takes effect as data is read).
    pub(super) fn fit_recv_buffer(&mut self) {
        if self.rx.capacity() == self.config.rcv_buf {
            return;
        }
        let offered = if self.rcv_adv.after(self.rcv_nxt) {
            self.rcv_adv.since(self.rcv_nxt) as usize
        } else {
            0
        };
        self.rx
            .resize(self.config.rcv_buf.max(self.rx.len() + offered));
    }

    /// `TCP_CONGESTION`: switches the controller, keeping the current cwnd
    /// (as Linux's `tcp_reinit_congestion_control`).
    pub fn set_congestion(&mut self, algo: super::CongestionAlgo) {
        if algo == self.config.congestion {
            return;
        }
        let cwnd = self.cc.cwnd();
        let started = self.snd_max != self.iss;
        self.config.congestion = algo;
        self.cc = Congestion::new(algo, self.eff_mss());
        if started {
            self.cc.set_cwnd(cwnd);
        }
    }
}
