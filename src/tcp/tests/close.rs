//! Closing: FIN-WAIT-1/2, CLOSING, TIME-WAIT, CLOSE-WAIT, LAST-ACK, resets (RFC 9293 §3.6).

use super::harness::*;
use crate::tcp::tcb::Pending;
use crate::tcp::*;
use crate::time::Duration;
use crate::wire::SeqNum;
use crate::wire::tcp::{TcpFlags, TcpRepr};

#[test]
fn established_close_goes_fin_wait_1() {
    let t = fin_wait_1();
    assert!(!t.readiness().writable);
}

#[test]
fn established_fin_goes_close_wait() {
    let mut t = close_wait();
    let mut buf = [0u8; 4];
    assert_eq!(t.recv(&mut buf), Ok(0));
    assert_eq!(
        t.readiness(),
        Readiness {
            readable: true,
            writable: true,
            read_closed: true,
            hup: false,
            error: false
        }
    );
}

/// The peer closed first: its FIN alone is acknowledged after `ato`, as
/// Linux's is (pingpong mode on a FIN), not at once.
#[test]
fn a_fin_is_acknowledged_after_ato_when_nothing_of_ours_carries_it() {
    let mut t = close_wait();
    let at = t.poll_timeout().unwrap();
    assert_eq!(at - T0, Duration::from_millis(40)); // ato: delack_min (SRTT 0)
    t.handle_timeout(at);
    recv!(
        t,
        at at,
        TcpRepr {
            ack: REMOTE_ISS + 2u32,
            window: WIN - 1,
            ..to_peer()
        }
    );
    assert_eq!(t.state(), State::CloseWait);
}

/// A FIN that comes with data the receiver acknowledges at once (quick-ACK
/// mode at the start) is acknowledged with it.
#[test]
fn a_fin_with_data_in_quick_ack_mode_is_acknowledged_at_once() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            flags: FIN | ACK,
            payload: b"bye",
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::CloseWait);
    assert_eq!(out_at(&mut t, T0).unwrap().ack, REMOTE_ISS + 5u32);
}

#[test]
fn established_abort_sends_rst() {
    let mut t = established();
    t.abort();
    assert_eq!(t.state(), State::Closed);
    assert!(!t.is_reapable());
    recv!(
        t,
        TcpRepr {
            flags: RST | ACK,
            window: 0,
            ..to_peer()
        }
    );
    assert!(t.is_reapable());
}

/// RFC 9293 §3.10.5: ABORT in SYN-RECEIVED sends `<SEQ=SND.NXT><CTL=RST>`,
/// no ACK bit (a listener closed while a handshake is half done).
#[test]
fn syn_received_abort_sends_rst_without_ack() {
    let mut t = syn_received();
    t.abort();
    assert_eq!(t.state(), State::Closed);
    let rst = out_at(&mut t, T0).unwrap();
    assert_eq!(
        (rst.seq, rst.ack, rst.flags),
        (LOCAL_ISS + 1u32, SeqNum(0), RST)
    );
    assert!(t.is_reapable());
}

/// After a timeout rewound SND.NXT for go-back-N, the abort's RST takes
/// the highest sequence number sent: the peer may have received the data,
/// and a RST behind its RCV.NXT would be ignored.
#[test]
fn abort_after_a_rewind_uses_the_highest_sequence_sent() {
    let mut t = established();
    t.send(b"data").unwrap();
    assert_eq!(out_at(&mut t, T0).unwrap().payload, b"data");
    let at = t.poll_timeout().unwrap();
    t.handle_timeout(at);
    assert_eq!(t.seq_vars().1, LOCAL_ISS + 1u32, "rewound");
    t.abort();
    let rst = out_at(&mut t, at).unwrap();
    assert_eq!((rst.seq, rst.flags), (LOCAL_ISS + 5u32, RST | ACK));
}

#[test]
fn close_with_unread_data_sends_rst() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            payload: b"unread",
            ..from_peer()
        }
    );
    let _ = out_at(&mut t, T0);
    t.close();
    assert_eq!(t.state(), State::Closed);
    recv!(
        t,
        TcpRepr {
            ack: REMOTE_ISS + 7u32,
            flags: RST | ACK,
            window: 0,
            ..to_peer()
        }
    );
}

#[test]
fn fin_wait_1_ack_goes_fin_wait_2() {
    let t = fin_wait_2();
    assert_eq!(t.state(), State::FinWait2);
}

#[test]
fn fin_wait_1_fin_goes_closing() {
    let mut t = fin_wait_1();
    send!(
        t,
        TcpRepr {
            flags: FIN | ACK,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::Closing);
    recv!(
        t,
        TcpRepr {
            seq: LOCAL_ISS + 2u32,
            ack: REMOTE_ISS + 2u32,
            window: WIN - 1,
            ..to_peer()
        }
    );
}

#[test]
fn closing_ack_goes_time_wait() {
    let mut t = fin_wait_1();
    send!(
        t,
        TcpRepr {
            flags: FIN | ACK,
            ..from_peer()
        }
    );
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 2u32,
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::TimeWait);
}

#[test]
fn fin_wait_1_fin_ack_together_goes_time_wait() {
    let mut t = fin_wait_1();
    send!(
        t,
        TcpRepr {
            flags: FIN | ACK,
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::TimeWait);
}

#[test]
fn fin_wait_2_fin_goes_time_wait() {
    let t = time_wait();
    assert_eq!(t.state().to_string(), "TIME-WAIT");
}

#[test]
fn fin_wait_2_still_receives_data() {
    let mut t = established();
    t.shutdown_write();
    let _ = out_at(&mut t, T0);
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 2u32,
            payload: b"more",
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::FinWait2);
    let mut buf = [0u8; 8];
    assert_eq!(t.recv(&mut buf), Ok(4));
    assert_eq!(t.send(b"x"), Err(TcpError::BrokenPipe));
}

#[test]
fn close_wait_close_goes_last_ack() {
    let mut t = close_wait();
    t.close();
    assert_eq!(t.state(), State::LastAck);
    recv!(
        t,
        TcpRepr {
            flags: FIN | ACK,
            ack: REMOTE_ISS + 2u32,
            window: WIN - 1,
            ..to_peer()
        }
    );
}

#[test]
fn last_ack_ack_goes_closed() {
    let mut t = close_wait();
    t.close();
    let _ = out_at(&mut t, T0);
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 2u32,
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::Closed);
    assert!(t.is_reapable());
    assert_eq!(t.take_error(), None);
}

#[test]
fn time_wait_expires_to_closed() {
    let mut t = time_wait();
    let at = t.poll_timeout().unwrap();
    assert_eq!(at - T0, Duration::from_secs(60));
    t.handle_timeout(at);
    assert_eq!(t.state(), State::Closed);
}

#[test]
fn time_wait_retransmitted_fin_restarts_timer() {
    let mut t = time_wait();
    let later = T0 + Duration::from_secs(30);
    send!(
        t,
        later,
        TcpRepr {
            flags: FIN | ACK,
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    recv!(t, at later, TcpRepr { seq: LOCAL_ISS + 2u32, ack: REMOTE_ISS + 2u32, window: WIN - 1, ..to_peer() });
    assert_eq!(t.poll_timeout(), Some(later + Duration::from_secs(60)));
}

#[test]
fn time_wait_takes_a_new_syn_only_past_rcv_nxt() {
    let t = time_wait();
    let syn = |seq: SeqNum, flags: TcpFlags| TcpRepr {
        seq,
        ack: SeqNum(0),
        flags,
        ..from_peer()
    };
    // RFC 1122 §4.2.2.13 (no timestamps here): a SYN whose sequence
    // number is past RCV.NXT opens a new incarnation, with an ISS past
    // everything the old one sent...
    assert_eq!(
        t.time_wait_reopen(&syn(REMOTE_ISS + 1000u32, SYN)),
        Some(LOCAL_ISS + 2u32 + 65537u32)
    );
    // ...one that could be an old duplicate does not, nor anything that is
    // not a bare SYN.
    assert_eq!(t.time_wait_reopen(&syn(REMOTE_ISS + 2u32, SYN)), None);
    assert_eq!(t.time_wait_reopen(&syn(REMOTE_ISS, SYN)), None);
    assert_eq!(
        t.time_wait_reopen(&syn(REMOTE_ISS + 1000u32, SYN | ACK)),
        None
    );
    assert_eq!(
        t.time_wait_reopen(&syn(REMOTE_ISS + 1000u32, SYN | RST)),
        None
    );
    assert_eq!(t.time_wait_reopen(&syn(REMOTE_ISS + 1000u32, ACK)), None);
    assert_eq!(
        established().time_wait_reopen(&syn(REMOTE_ISS + 1000u32, SYN)),
        None
    );
}

#[test]
fn reset_is_reported_once_then_eof() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            flags: RST,
            ..from_peer()
        }
    );
    let mut buf = [0u8; 4];
    assert_eq!(t.recv(&mut buf), Err(TcpError::ConnectionReset));
    assert_eq!(t.recv(&mut buf), Ok(0));
}

#[test]
fn orphaned_fin_wait_2_times_out() {
    let mut t = established();
    t.shutdown_write();
    let _ = out_at(&mut t, T0);
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::FinWait2);
    assert_eq!(t.poll_timeout(), None); // half-closed: waits for the peer
    t.close();
    recv_nothing!(t);
    let at = t.poll_timeout().unwrap();
    t.handle_timeout(at);
    assert_eq!(t.state(), State::Closed);
}

/// TCP_LINGER2 sets how long an orphan waits in FIN-WAIT-2 (Linux's
/// tcp_fin_time): the default is tcp_fin_timeout (60 s here, as TIME-WAIT).
#[test]
fn linger2_sets_the_orphans_fin_wait_2_timeout() {
    for (linger2, wait) in [(0, 60), (5, 5), (90, 90)] {
        let mut t = established();
        t.set_linger2(linger2);
        t.close();
        assert_eq!(out_at(&mut t, T0).unwrap().flags, FIN | ACK);
        send!(
            t,
            TcpRepr {
                ack: LOCAL_ISS + 2u32,
                ..from_peer()
            }
        );
        assert_eq!(t.state(), State::FinWait2);
        let at = t.poll_timeout().unwrap();
        assert_eq!(at, T0 + Duration::from_secs(wait), "TCP_LINGER2 {linger2}");
        t.handle_timeout(at);
        assert_eq!(t.state(), State::Closed);
        assert!(t.is_reapable());
    }
}

/// A negative TCP_LINGER2: no orphan waits in FIN-WAIT-2. One reaching it
/// ends quietly (Linux's tcp_rcv_state_process), and `close` of a
/// connection already there resets it (Linux's tcp_close).
#[test]
fn negative_linger2_ends_fin_wait_2_at_once() {
    let mut t = established();
    t.set_linger2(-1);
    t.close();
    assert_eq!(out_at(&mut t, T0).unwrap().flags, FIN | ACK);
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::Closed);
    recv_nothing!(t);
    assert!(t.is_reapable());

    let mut t = established();
    t.set_linger2(-1);
    t.shutdown_write();
    assert_eq!(out_at(&mut t, T0).unwrap().flags, FIN | ACK);
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::FinWait2, "not an orphan: it waits");
    t.close();
    assert_eq!(t.state(), State::Closed);
    recv!(
        t,
        TcpRepr {
            seq: LOCAL_ISS + 2u32,
            flags: RST | ACK,
            window: 0,
            ..to_peer()
        }
    );
}

/// A connection that goes to CLOSED owes nothing more: no ACK, no
/// retransmission, no probe, and no "send despite Nagle and SWS" left
/// over from a persist timeout (RFC 9293 §3.8.6.2.1's override) that fired
/// just before the abort.
#[test]
fn abort_clears_every_pending_output() {
    let mut t = established();
    // The peer's window shrinks below what is queued, with nothing in
    // flight: sender-side SWS avoidance holds the data, the persist timer
    // runs, and its timeout asks for a forced send.
    send!(
        t,
        TcpRepr {
            window: 100,
            ..from_peer()
        }
    );
    t.send(&[7u8; 1000]).unwrap();
    recv_nothing!(t);
    let at = t.poll_timeout().expect("persist timer");
    t.handle_timeout(at);
    assert!(
        t.pending.force_send,
        "the persist timeout asks for a forced send"
    );
    t.abort();
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.pending, Pending::default(), "CLOSED owes nothing");
}
