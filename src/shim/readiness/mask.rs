//! What a stack socket reports to `poll`/`epoll`, and the level-, edge- and
//! one-shot rules `epoll` applies to it. Pure: no locks, no fds, no clock.
//!
//! The `POLL*` and `EPOLL*` bits have the same values on Linux, so one
//! mask serves `poll`, `select` and `epoll`.

use crate::stack::SocketHandle;
use crate::tcp::{Readiness, State};

/// `EPOLLIN` / `POLLIN`.
pub const IN: u32 = libc::EPOLLIN as u32;
/// `EPOLLPRI` / `POLLPRI`.
pub const PRI: u32 = libc::EPOLLPRI as u32;
/// `EPOLLOUT` / `POLLOUT`.
pub const OUT: u32 = libc::EPOLLOUT as u32;
/// `EPOLLERR` / `POLLERR`.
pub const ERR: u32 = libc::EPOLLERR as u32;
/// `EPOLLHUP` / `POLLHUP`.
pub const HUP: u32 = libc::EPOLLHUP as u32;
/// `EPOLLRDNORM` / `POLLRDNORM`.
pub const RDNORM: u32 = libc::EPOLLRDNORM as u32;
/// `EPOLLRDBAND` / `POLLRDBAND`.
pub const RDBAND: u32 = libc::EPOLLRDBAND as u32;
/// `EPOLLWRNORM` / `POLLWRNORM`.
pub const WRNORM: u32 = libc::EPOLLWRNORM as u32;
/// `EPOLLWRBAND` / `POLLWRBAND`.
pub const WRBAND: u32 = libc::EPOLLWRBAND as u32;
/// `EPOLLRDHUP` / `POLLRDHUP`.
pub const RDHUP: u32 = libc::EPOLLRDHUP as u32;
/// `EPOLLET`.
pub const ET: u32 = libc::EPOLLET as u32;
/// `EPOLLONESHOT`.
pub const ONESHOT: u32 = libc::EPOLLONESHOT as u32;
/// `EPOLLEXCLUSIVE`.
pub const EXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;
/// `EPOLLWAKEUP`.
pub const WAKEUP: u32 = libc::EPOLLWAKEUP as u32;
/// The bits of `epoll_event.events` that are flags, not events.
pub const FLAGS: u32 = ET | ONESHOT | EXCLUSIVE | WAKEUP;
/// Every event bit: what a state change wakes (Linux wakes with key 0).
const ALL: u32 = !FLAGS;

/// The mask Linux's `tcp_poll` (or `inet_csk_listen_poll`) would report for
/// a socket in `state` whose stack readiness is `r`.
///
/// `Stack::readiness` follows `tcp_poll` except in three places, corrected
/// here (they belong in the stack; see the report of issue 5):
/// - after our FIN (`shutdown(SHUT_WR)`, FIN-WAIT, CLOSING, LAST-ACK) Linux
///   reports `EPOLLOUT` (`SEND_SHUTDOWN`: a write fails at once with
///   `EPIPE`), the stack reports not writable;
/// - a connection that ended (reset, refused, timed out, or both FINs done)
///   is `tcp_done`: `sk_shutdown = SHUTDOWN_MASK`, so Linux reports
///   `IN | OUT | RDHUP | HUP` (plus `ERR` while an error is pending); the
///   stack reports `IN | HUP` and `RDHUP` only after a FIN;
/// - a pending error alone makes the stack readable; Linux reports only
///   `EPOLLERR` for it (the two meet again since every fatal error also
///   ends the connection).
pub fn linux_mask(r: Readiness, state: State) -> u32 {
    let mut m = 0;
    // An idle socket is never readable, a connection that ended always is.
    let ended = state == State::Closed && r.readable;
    let fin_sent = matches!(
        state,
        State::FinWait1 | State::FinWait2 | State::Closing | State::LastAck | State::TimeWait
    );
    if r.readable || ended {
        m |= IN | RDNORM;
    }
    if r.writable || fin_sent || ended {
        m |= OUT | WRNORM;
    }
    if r.read_closed || ended {
        m |= IN | RDNORM | RDHUP;
    }
    if r.hup || ended {
        m |= HUP;
    }
    if r.error {
        m |= ERR;
    }
    m
}

/// One socket as seen under the stack lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observation {
    /// [`linux_mask`].
    pub mask: u32,
    /// In-order bytes received so far (`tcpi_bytes_received`): grows with
    /// every arrival of data, whatever the application reads.
    pub rx_total: u64,
    /// Bytes the peer acknowledged so far (`tcpi_bytes_acked`): grows when
    /// room is made in the send buffer.
    pub acked_total: u64,
    /// A listener (its wakeups are new connections or accepts).
    pub listener: bool,
}

/// The kinds of wakeup Linux would have made between two observations,
/// as the `key` mask its `ep_poll_callback` receives: `IN` for new data
/// (`sk_data_ready`), `OUT` for room made (`sk_write_space`), every bit for
/// a state change (`sk_state_change` wakes with key 0).
///
/// Between observations the application may have read, written or
/// accepted, so this errs on the side of an edge: a wakeup may be reported
/// that Linux would not make (an ACK while the buffer was not full, an
/// accept that left connections queued), never the other way round.
pub fn wakeup_kinds(prev: Observation, now: Observation) -> u32 {
    let mut k = 0;
    if now.rx_total > prev.rx_total || (now.listener && now.mask & IN != 0) {
        k |= IN | RDNORM;
    }
    if now.mask & OUT != 0 && (prev.mask & OUT == 0 || now.acked_total > prev.acked_total) {
        k |= OUT | WRNORM;
    }
    if now.mask & !prev.mask & (RDHUP | HUP | ERR) != 0 {
        k |= ALL;
    }
    k
}

/// One stack socket in an epoll interest list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interest {
    /// The socket.
    pub handle: SocketHandle,
    /// `epoll_event.events`: the events and the flags.
    pub events: u32,
    /// `epoll_event.data`, returned as is.
    pub data: u64,
    /// `false` after a one-shot report, until `EPOLL_CTL_MOD`.
    pub armed: bool,
    /// Added or modified since the last evaluation: report what is ready
    /// now (Linux polls the file in `ep_insert` and `ep_modify`).
    pub fresh: bool,
    /// What the last evaluation saw.
    pub last: Observation,
}

impl Interest {
    /// A new (or modified) interest: armed and fresh.
    pub fn new(handle: SocketHandle, events: u32, data: u64) -> Interest {
        Interest {
            handle,
            events,
            data,
            armed: true,
            fresh: true,
            last: Observation::default(),
        }
    }

    /// Edge-triggered.
    pub fn edge(&self) -> bool {
        self.events & ET != 0
    }

    /// What the application asked for, plus `ERR` and `HUP`, always
    /// reported.
    pub fn wanted(&self) -> u32 {
        (self.events & !FLAGS) | ERR | HUP
    }

    /// Evaluates a socket taken from the ready list: the events to report,
    /// if any, and whether it stays in the ready list (level-triggered and
    /// reported: it is looked at again on the next `epoll_wait`).
    pub fn evaluate(&mut self, now: Observation) -> (Option<u32>, bool) {
        let prev = self.last;
        let fresh = self.fresh;
        self.last = now;
        self.fresh = false;
        if !self.armed {
            return (None, false);
        }
        let wanted = self.wanted();
        let revents = now.mask & wanted;
        if revents == 0 {
            return (None, false);
        }
        if self.edge() && !fresh && wakeup_kinds(prev, now) & wanted == 0 {
            return (None, false);
        }
        if self.events & ONESHOT != 0 {
            self.armed = false;
        }
        let stays = !self.edge() && self.armed;
        (Some(revents), stays)
    }
}

/// `revents` for a `poll` entry asking for `events` on a socket whose mask
/// is `mask`: `ERR` and `HUP` are always reported.
pub fn poll_revents(mask: u32, events: i16) -> i16 {
    let wanted = u32::from(events as u16) | ERR | HUP;
    (mask & wanted) as u16 as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: SocketHandle = SocketHandle {
        index: 1,
        generation: 0,
    };

    fn r(readable: bool, writable: bool) -> Readiness {
        Readiness {
            readable,
            writable,
            ..Readiness::default()
        }
    }

    fn obs(mask: u32, rx: u64, acked: u64) -> Observation {
        Observation {
            mask,
            rx_total: rx,
            acked_total: acked,
            listener: false,
        }
    }

    #[test]
    fn masks_follow_tcp_poll() {
        // A fresh socket: OUT | HUP.
        let idle = Readiness {
            writable: true,
            hup: true,
            ..Readiness::default()
        };
        assert_eq!(linux_mask(idle, State::Closed), OUT | WRNORM | HUP);
        assert_eq!(linux_mask(r(false, false), State::SynSent), 0);
        assert_eq!(linux_mask(r(false, true), State::Established), OUT | WRNORM);
        assert_eq!(
            linux_mask(r(true, true), State::Established),
            IN | RDNORM | OUT | WRNORM
        );
        // shutdown(SHUT_WR): writable, as Linux says.
        assert_eq!(linux_mask(r(false, false), State::FinWait2), OUT | WRNORM);
        // Peer FIN: IN | RDHUP.
        let fin = Readiness {
            readable: true,
            writable: true,
            read_closed: true,
            ..Readiness::default()
        };
        assert_eq!(
            linux_mask(fin, State::CloseWait),
            IN | RDNORM | OUT | WRNORM | RDHUP
        );
        // Reset: everything.
        let reset = Readiness {
            readable: true,
            hup: true,
            error: true,
            ..Readiness::default()
        };
        assert_eq!(
            linux_mask(reset, State::Closed),
            IN | RDNORM | OUT | WRNORM | RDHUP | HUP | ERR
        );
    }

    #[test]
    fn level_triggered_reports_while_ready() {
        let mut i = Interest::new(H, IN, 7);
        let ready = obs(IN | RDNORM, 10, 0);
        assert_eq!(i.evaluate(ready), (Some(IN), true));
        assert_eq!(i.evaluate(ready), (Some(IN), true));
        // Drained: not reported, leaves the ready list.
        assert_eq!(i.evaluate(obs(0, 10, 0)), (None, false));
    }

    #[test]
    fn out_is_filtered_by_interest_but_err_hup_are_not() {
        let mut i = Interest::new(H, IN, 0);
        assert_eq!(i.evaluate(obs(OUT | WRNORM, 0, 0)), (None, false));
        assert_eq!(
            i.evaluate(obs(OUT | HUP | ERR, 0, 0)),
            (Some(HUP | ERR), true)
        );
    }

    #[test]
    fn edge_triggered_reports_each_new_arrival() {
        let mut i = Interest::new(H, IN | ET, 0);
        // Fresh: what is ready now.
        assert_eq!(i.evaluate(obs(IN, 5, 0)), (Some(IN), false));
        // A wakeup with nothing new (the application read part of it).
        assert_eq!(i.evaluate(obs(IN, 5, 0)), (None, false));
        // More data while data was already there: a new edge.
        assert_eq!(i.evaluate(obs(IN, 9, 0)), (Some(IN), false));
        // An ACK: not an IN edge.
        assert_eq!(i.evaluate(obs(IN, 9, 100)), (None, false));
        // Peer FIN: a state change.
        assert_eq!(i.evaluate(obs(IN | RDHUP, 9, 100)), (Some(IN), false));
    }

    #[test]
    fn edge_triggered_out_after_room_is_made() {
        let mut i = Interest::new(H, OUT | ET, 0);
        assert_eq!(i.evaluate(obs(OUT, 0, 0)), (Some(OUT), false));
        // Filled up: not writable.
        assert_eq!(i.evaluate(obs(0, 0, 0)), (None, false));
        // Room again.
        assert_eq!(i.evaluate(obs(OUT, 0, 50)), (Some(OUT), false));
        // Filled and drained between two looks: still an edge (acked grew).
        assert_eq!(i.evaluate(obs(OUT, 0, 90)), (Some(OUT), false));
        // New data arrived: IN is not asked for, no OUT edge.
        assert_eq!(i.evaluate(obs(OUT | IN, 10, 90)), (None, false));
    }

    #[test]
    fn listener_edge_on_each_wakeup_while_queued() {
        let mut i = Interest::new(H, IN | ET, 0);
        let l = |mask| Observation {
            mask,
            listener: true,
            ..Observation::default()
        };
        assert_eq!(i.evaluate(l(0)), (None, false));
        assert_eq!(i.evaluate(l(IN)), (Some(IN), false));
        assert_eq!(i.evaluate(l(IN)), (Some(IN), false));
    }

    #[test]
    fn oneshot_disarms_until_modified() {
        let mut i = Interest::new(H, IN | ONESHOT, 0);
        assert_eq!(i.evaluate(obs(IN, 1, 0)), (Some(IN), false));
        // Not even ERR/HUP while disarmed.
        assert_eq!(i.evaluate(obs(IN | HUP | ERR, 2, 0)), (None, false));
        let mut i = Interest::new(H, IN | ONESHOT, 0);
        assert_eq!(i.evaluate(obs(IN, 2, 0)), (Some(IN), false));
    }

    #[test]
    fn rdhup_only_when_asked() {
        let mask = IN | RDNORM | RDHUP;
        let mut i = Interest::new(H, IN, 0);
        assert_eq!(i.evaluate(obs(mask, 0, 0)), (Some(IN), true));
        let mut i = Interest::new(H, IN | RDHUP, 0);
        assert_eq!(i.evaluate(obs(mask, 0, 0)), (Some(IN | RDHUP), true));
    }

    #[test]
    fn poll_revents_keep_err_hup() {
        let mask = IN | RDNORM | OUT | WRNORM | HUP;
        assert_eq!(
            poll_revents(mask, libc::POLLIN),
            libc::POLLIN | libc::POLLHUP
        );
        assert_eq!(
            poll_revents(mask, libc::POLLOUT | libc::POLLWRNORM),
            libc::POLLOUT | libc::POLLWRNORM | libc::POLLHUP
        );
        assert_eq!(poll_revents(RDHUP | IN, libc::POLLRDHUP), libc::POLLRDHUP);
    }
}
