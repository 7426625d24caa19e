//! Timers and sending policy: RTO, delayed ACK, persist, keepalive, Nagle, cork, recovery.

use super::harness::*;
use crate::tcp::*;
use crate::time::{Duration, Instant};
use crate::wire::tcp::{TcpOptions, TcpRepr};

#[test]
fn delayed_ack_after_quick_acks() {
    let mut t = established();
    let mut seq = REMOTE_ISS + 1u32;
    let mut buf = [0u8; 100];
    for _ in 0..16 {
        send!(
            t,
            TcpRepr {
                seq,
                payload: b"x",
                ..from_peer()
            }
        );
        seq += 1u32;
        assert!(out_at(&mut t, T0).is_some());
        t.recv(&mut buf).unwrap();
    }
    send!(
        t,
        TcpRepr {
            seq,
            payload: b"x",
            ..from_peer()
        }
    );
    recv_nothing!(t);
    let at = t.poll_timeout().unwrap();
    assert_eq!(at - T0, Duration::from_millis(40)); // ato: delack_min (SRTT 0)
    t.handle_timeout(at);
    assert_eq!(out_at(&mut t, at).unwrap().ack, seq + 1u32);
}

#[test]
fn every_second_full_segment_is_acked() {
    let mut t = established();
    t.quickacks_off_for_test();
    let data = [7u8; 1460];
    send!(
        t,
        TcpRepr {
            payload: &data,
            ..from_peer()
        }
    );
    recv_nothing!(t);
    let mut buf = [0u8; 4096];
    t.recv(&mut buf).unwrap();
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 1461u32,
            payload: &data,
            ..from_peer()
        }
    );
    assert_eq!(out_at(&mut t, T0).unwrap().ack, REMOTE_ISS + 2921u32);
}

/// Data after a silence longer than the RTO (a sender whose RTO fired
/// and which restarts from one segment) is acknowledged at once, as
/// Linux's receiver does (quick-ACK mode again), not after `ato`: each
/// such withheld ACK stalled a kernel sender recovering from a timeout by
/// 40 ms, once per round trip of its slow start.
#[test]
fn data_after_a_silence_longer_than_the_rto_is_acked_at_once() {
    let mut t = established();
    t.quickacks_off_for_test();
    let data = [7u8; 1460];
    let mut buf = [0u8; 4096];
    send!(
        t,
        TcpRepr {
            payload: &data,
            ..from_peer()
        }
    );
    recv_nothing!(t);
    t.recv(&mut buf).unwrap();
    let at = t.poll_timeout().unwrap();
    t.handle_timeout(at);
    assert_eq!(out_at(&mut t, at).unwrap().ack, REMOTE_ISS + 1461u32);
    // Longer than the RTO (1 s before any RTT sample) without data.
    let later = at + Duration::from_secs(2);
    send!(
        t,
        later,
        TcpRepr {
            seq: REMOTE_ISS + 1461u32,
            payload: &data,
            ..from_peer()
        }
    );
    assert_eq!(out_at(&mut t, later).unwrap().ack, REMOTE_ISS + 2921u32);
}

#[test]
fn established_retries_exhausted_times_out() {
    let mut t = established();
    t.send(b"data").unwrap();
    let _ = out_at(&mut t, T0);
    let mut rto = Duration::from_millis(200);
    let mut now;
    now = T0;
    for _ in 0..15 {
        let at = t.poll_timeout().unwrap();
        assert_eq!(at - now, rto); // RFC 6298 §5.5: doubles, up to rto_max
        now = at;
        t.handle_timeout(now);
        let seg = out_at(&mut t, now).unwrap();
        assert_eq!(seg.payload, b"data");
        rto = (rto * 2).min(Duration::from_secs(120));
    }
    let at = t.poll_timeout().unwrap();
    t.handle_timeout(at);
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.take_error(), Some(TcpError::TimedOut));
    assert_eq!(t.info().total_retrans, 15);
}

#[test]
fn fast_retransmit_after_three_dup_acks() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            window: 65535,
            ..from_peer()
        }
    );
    let data = [5u8; 1460 * 4];
    t.send(&data).unwrap();
    for _ in 0..4 {
        assert_eq!(out_at(&mut t, T0).unwrap().payload.len(), 1460);
    }
    recv_nothing!(t);
    for _ in 0..3 {
        send!(
            t,
            TcpRepr {
                window: 65535,
                ..from_peer()
            }
        );
    }
    // RFC 5681 §3.2: the third duplicate retransmits the head at once.
    let r = out_at(&mut t, T0).unwrap();
    assert_eq!((r.seq, r.payload.len()), (LOCAL_ISS + 1u32, 1460));
    assert_eq!(t.info().ca_state, 3);
    // A partial ACK (RFC 6582) retransmits the next hole.
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 1461u32,
            window: 65535,
            ..from_peer()
        }
    );
    let r = out_at(&mut t, T0).unwrap();
    assert_eq!(r.seq, LOCAL_ISS + 1461u32);
    // The full ACK ends recovery.
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 1u32 + 4 * 1460u32,
            window: 65535,
            ..from_peer()
        }
    );
    assert_eq!(t.info().ca_state, 0);
}

#[test]
fn zero_window_is_probed() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            window: 0,
            ..from_peer()
        }
    );
    t.send(b"abc").unwrap();
    recv_nothing!(t);
    let at = t.poll_timeout().unwrap();
    t.handle_timeout(at);
    recv!(t, at at, TcpRepr { seq: LOCAL_ISS, ..to_peer() });
    send!(
        t,
        at,
        TcpRepr {
            window: 100,
            ..from_peer()
        }
    );
    let seg = out_at(&mut t, at).unwrap();
    assert_eq!(seg.payload, b"abc");
}

#[test]
fn closed_window_with_data_in_flight_does_not_time_out() {
    let mut t = established();
    t.send(b"abc").unwrap();
    let _ = out_at(&mut t, T0);
    // The peer takes nothing and closes its window.
    send!(
        t,
        TcpRepr {
            window: 0,
            ..from_peer()
        }
    );
    let mut now = T0;
    for _ in 0..40 {
        now = t.poll_timeout().unwrap();
        t.handle_timeout(now);
        while let Some(seg) = out_at(&mut t, now) {
            assert!(
                seg.payload.is_empty(),
                "no data into a zero window: {seg} at {now:?} {:?}",
                t.seq_vars()
            );
        }
        send!(
            t,
            now,
            TcpRepr {
                window: 0,
                ..from_peer()
            }
        );
    }
    assert_eq!(t.state(), State::Established);
    send!(
        t,
        now,
        TcpRepr {
            window: 1000,
            ..from_peer()
        }
    );
    assert_eq!(out_at(&mut t, now).unwrap().payload, b"abc");
}

#[test]
fn nagle_holds_small_segments_until_acked() {
    let mut t = established();
    t.send(b"a").unwrap();
    assert!(out_at(&mut t, T0).is_some());
    t.send(b"b").unwrap();
    recv_nothing!(t);
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    assert_eq!(out_at(&mut t, T0).unwrap().payload, b"b");
}

#[test]
fn nodelay_sends_small_segments_at_once() {
    let mut t = established();
    t.set_nodelay(true);
    t.send(b"a").unwrap();
    assert!(out_at(&mut t, T0).is_some());
    t.send(b"b").unwrap();
    assert_eq!(out_at(&mut t, T0).unwrap().payload, b"b");
}

#[test]
fn cork_holds_partial_segments() {
    let mut t = established();
    t.set_cork(true);
    t.send(b"a").unwrap();
    recv_nothing!(t);
    t.set_cork(false);
    assert_eq!(out_at(&mut t, T0).unwrap().payload, b"a");
}

#[test]
fn keepalive_probes_then_times_out() {
    let mut t = established();
    t.set_keepalive(true);
    let at = t.poll_timeout().unwrap();
    assert_eq!(at - T0, Duration::from_secs(7200));
    t.handle_timeout(at);
    recv!(t, at at, TcpRepr { seq: LOCAL_ISS, ..to_peer() });
    for _ in 0..9 {
        let at = t.poll_timeout().unwrap();
        t.handle_timeout(at);
        let _ = out_at(&mut t, at);
    }
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.take_error(), Some(TcpError::TimedOut));
}

#[test]
fn keepalive_timing_changes_on_a_live_connection() {
    let mut t = established();
    t.set_keepalive(true);
    // TCP_KEEPIDLE 10 s, set after 3 s of silence: the first probe comes
    // 10 s after the last segment received, not after 7200 s.
    let later = T0 + Duration::from_secs(3);
    t.set_keepalive_timing(Duration::from_secs(10), Duration::from_secs(2), 3);
    let at = t.poll_timeout().unwrap();
    assert_eq!(at - T0, Duration::from_secs(10));
    t.handle_timeout(at);
    recv!(t, at at, TcpRepr { seq: LOCAL_ISS, ..to_peer() });
    // Probes then come every TCP_KEEPINTVL; setting the same values again
    // (any setsockopt re-applies them all) keeps the count running, and
    // three unanswered probes end the connection.
    let at = t.poll_timeout().unwrap();
    assert_eq!(at - T0, Duration::from_secs(12));
    t.set_keepalive(true);
    t.set_keepalive_timing(Duration::from_secs(10), Duration::from_secs(2), 3);
    assert_eq!(t.poll_timeout(), Some(at));
    assert!(at > later);
    for _ in 0..3 {
        let at = t.poll_timeout().unwrap();
        t.handle_timeout(at);
        let _ = out_at(&mut t, at);
    }
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.take_error(), Some(TcpError::TimedOut));
}

#[test]
fn user_timeout_ends_a_stalled_connection() {
    let mut t = established();
    t.set_user_timeout(Duration::from_secs(3));
    t.send(b"data").unwrap();
    assert!(out_at(&mut t, T0).is_some());
    // An ACK of part of it after 2 s is progress: the clock restarts.
    let t2 = T0 + Duration::from_secs(2);
    send!(
        t,
        t2,
        TcpRepr {
            ack: LOCAL_ISS + 3u32,
            ..from_peer()
        }
    );
    // Then nothing: retransmissions, and ETIMEDOUT exactly 3 s after the
    // progress, far sooner than 15 retries (RFC 5482; Linux's rule).
    let mut last = t2;
    while t.state() != State::Closed {
        let at = t.poll_timeout().unwrap();
        assert!(
            at <= t2 + Duration::from_secs(3),
            "a timer past the user timeout"
        );
        t.handle_timeout(at);
        let _ = out_at(&mut t, at);
        last = at;
    }
    assert_eq!(last, t2 + Duration::from_secs(3));
    assert_eq!(t.take_error(), Some(TcpError::TimedOut));
}

#[test]
fn sack_recovery_retransmits_each_hole() {
    let mut t = Tcb::connect(
        T0,
        tuple(),
        LOCAL_ISS,
        TcpConfig {
            sack: true,
            ..config()
        },
    );
    let _ = out_at(&mut t, T0);
    let opts = TcpOptions {
        sack_permitted: true,
        ..mss_opt()
    };
    send!(
        t,
        TcpRepr {
            options: opts,
            window: 65535,
            ..syn_ack_from_peer()
        }
    );
    let _ = out_at(&mut t, T0);
    t.send(&[1u8; 1460 * 6]).unwrap();
    for _ in 0..6 {
        assert!(out_at(&mut t, T0).is_some());
    }
    // Segments 0 and 2 are lost; the peer SACKs 1, then 3, 4, 5.
    let seg = |i: u32| LOCAL_ISS + 1u32 + i * 1460;
    let sack = |blocks: &[(u32, u32)]| {
        let mut o = TcpOptions::default();
        for (slot, &(a, b)) in o.sack_blocks.iter_mut().zip(blocks) {
            *slot = Some((seg(a), seg(b)));
        }
        TcpRepr {
            options: o,
            window: 65535,
            ..from_peer()
        }
    };
    // The SACKs come one round trip (10 ms) later: RACK does not yet call
    // anything lost, the third duplicate ACK does.
    let at = T0 + Duration::from_millis(10);
    send!(t, at, sack(&[(1, 2)]));
    send!(t, at, sack(&[(3, 4), (1, 2)]));
    send!(t, at, sack(&[(3, 5), (1, 2)]));
    let r = out_at(&mut t, at).unwrap();
    assert_eq!((r.seq, r.payload.len()), (seg(0), 1460));
    send!(t, at, sack(&[(3, 6), (1, 2)]));
    let r = out_at(&mut t, at).unwrap();
    assert_eq!((r.seq, r.payload.len()), (seg(2), 1460));
    assert_eq!(t.info().sacked, 4);
}

/// ESTABLISHED with SACK, a 65535-byte peer window and SRTT = 10 ms (the
/// SYN-ACK came 10 ms after the SYN). Returns the TCB and when it is.
fn established_sack() -> (Tcb, Instant) {
    let mut t = Tcb::connect(
        T0,
        tuple(),
        LOCAL_ISS,
        TcpConfig {
            sack: true,
            ..config()
        },
    );
    let _ = out_at(&mut t, T0);
    let at = T0 + Duration::from_millis(10);
    send!(
        t,
        at,
        TcpRepr {
            options: TcpOptions {
                sack_permitted: true,
                ..mss_opt()
            },
            window: 65535,
            ..syn_ack_from_peer()
        }
    );
    let _ = out_at(&mut t, at);
    assert_eq!(t.info().rtt, 10_000);
    (t, at)
}

#[test]
fn tail_loss_probe_resends_the_last_segment_once() {
    let (mut t, at) = established_sack();
    t.send(&[3u8; 1460 * 2]).unwrap();
    assert!(out_at(&mut t, at).is_some());
    assert!(out_at(&mut t, at).is_some());
    assert_eq!(out_at(&mut t, at), None);
    // RFC 8985 §7.2: PTO = 2·SRTT, well before the RTO (200 ms).
    let pto = at + Duration::from_millis(20);
    assert_eq!(t.poll_timeout(), Some(pto));
    t.handle_timeout(pto);
    // Nothing new to send: the highest segment goes again.
    let r = out_at(&mut t, pto).unwrap();
    assert_eq!((r.seq, r.payload.len()), (LOCAL_ISS + 1461u32, 1460));
    assert_eq!(out_at(&mut t, pto), None);
    // One probe per tail: next is the RTO, restarted by the probe
    // (SRTT 10 ms + the 200 ms floor of the variance term).
    let rto = t.poll_timeout().unwrap();
    assert_eq!(rto, pto + Duration::from_millis(210));
    assert_eq!(t.info().ca_state, 0);
}

#[test]
fn tail_loss_probe_sends_new_data_when_the_window_allows() {
    let (mut t, at) = established_sack();
    // One full segment goes; Nagle holds the 100-byte rest.
    t.send(&[4u8; 1460 + 100]).unwrap();
    assert_eq!(out_at(&mut t, at).unwrap().payload.len(), 1460);
    assert_eq!(out_at(&mut t, at), None);
    // One segment in flight: PTO = 2·SRTT + the delayed-ACK allowance.
    let pto = at + Duration::from_millis(20 + 40);
    assert_eq!(t.poll_timeout(), Some(pto));
    t.handle_timeout(pto);
    let r = out_at(&mut t, pto).unwrap();
    assert_eq!((r.seq, r.payload.len()), (LOCAL_ISS + 1461u32, 100));
    // The probe's SACK-less ACK of everything ends the episode; a new
    // tail gets its own probe.
    send!(
        t,
        pto + Duration::from_millis(10),
        TcpRepr {
            ack: LOCAL_ISS + 1561u32,
            window: 65535,
            ..from_peer()
        }
    );
    t.send(&[5u8; 1460 * 2]).unwrap();
    let now = pto + Duration::from_millis(10);
    assert!(out_at(&mut t, now).is_some());
    assert!(out_at(&mut t, now).is_some());
    assert!(t.poll_timeout().unwrap() < now + Duration::from_millis(100));
}

#[test]
fn rack_retransmits_with_two_segments_in_flight() {
    let (mut t, at) = established_sack();
    t.send(&[6u8; 1460 * 2]).unwrap();
    assert!(out_at(&mut t, at).is_some());
    assert!(out_at(&mut t, at).is_some());
    // The first is lost; the second is SACKed one RTT later. One duplicate
    // ACK: far from DupThresh.
    let seg = |i: u32| LOCAL_ISS + 1u32 + i * 1460;
    let sacked_at = at + Duration::from_millis(10);
    let mut o = TcpOptions::default();
    o.sack_blocks[0] = Some((seg(1), seg(2)));
    send!(
        t,
        sacked_at,
        TcpRepr {
            options: o,
            window: 65535,
            ..from_peer()
        }
    );
    assert_eq!(out_at(&mut t, sacked_at), None);
    // RFC 8985 §6.2: lost once RACK.rtt (10 ms) + reo_wnd (min_RTT/4)
    // has passed since it was sent; the reorder timer says when.
    let deadline = at + Duration::from_micros(12_500);
    assert_eq!(t.poll_timeout(), Some(deadline));
    t.handle_timeout(deadline);
    let r = out_at(&mut t, deadline).unwrap();
    assert_eq!((r.seq, r.payload.len()), (seg(0), 1460));
    assert_eq!(t.info().ca_state, 3);
    // Its ACK ends recovery.
    send!(
        t,
        deadline + Duration::from_millis(10),
        TcpRepr {
            ack: seg(2),
            window: 65535,
            ..from_peer()
        }
    );
    assert_eq!(t.info().ca_state, 0);
}

/// A peer that closes its window and falls silent (RFC 1122 §4.2.2.17 keeps
/// the connection only while probes are answered). Runs the timers with
/// nobody answering, at most `limit` times; returns the zero-window probes
/// sent and when the connection ended, if it did.
fn silent_zero_window(t: &mut Tcb, limit: usize) -> (usize, Option<Instant>) {
    let mut probes = 0;
    for _ in 0..limit {
        let Some(at) = t.poll_timeout() else {
            break;
        };
        t.handle_timeout(at);
        while let Some(seg) = out_at(t, at) {
            assert!(seg.payload.is_empty(), "no data into a zero window");
            if seg.seq == LOCAL_ISS {
                probes += 1;
            }
        }
        if t.state() == State::Closed {
            return (probes, Some(at));
        }
    }
    (probes, None)
}

/// Established, with "abc" queued behind the peer's zero window.
fn behind_zero_window() -> Tcb {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            window: 0,
            ..from_peer()
        }
    );
    t.send(b"abc").unwrap();
    recv_nothing!(t);
    t
}

#[test]
fn silent_zero_window_times_out_after_tcp_retries2_probes() {
    let mut t = behind_zero_window();
    let (probes, end) = silent_zero_window(&mut t, 200);
    assert!(end.is_some(), "still {} after {probes} probes", t.state());
    assert_eq!(probes, 15, "tcp_retries2 probes, then ETIMEDOUT");
    assert_eq!(t.take_error(), Some(TcpError::TimedOut));
}

#[test]
fn answered_zero_window_probes_keep_the_connection() {
    let mut t = behind_zero_window();
    let mut now = T0;
    let mut probes = 0;
    while probes < 50 {
        now = t.poll_timeout().unwrap();
        t.handle_timeout(now);
        while let Some(seg) = out_at(&mut t, now) {
            assert!(seg.payload.is_empty());
            probes += 1;
            // The answer: still no room.
            send!(
                t,
                now,
                TcpRepr {
                    window: 0,
                    ..from_peer()
                }
            );
        }
        assert_eq!(t.state(), State::Established, "after {probes} probes");
    }
    send!(
        t,
        now,
        TcpRepr {
            window: 1000,
            ..from_peer()
        }
    );
    assert_eq!(out_at(&mut t, now).unwrap().payload, b"abc");
}

#[test]
fn user_timeout_bounds_a_silent_zero_window() {
    let mut t = behind_zero_window();
    t.set_user_timeout(Duration::from_secs(30));
    let (probes, end) = silent_zero_window(&mut t, 200);
    // RFC 5482: 30 s after the last segment from the peer (T0), not after
    // 15 probes (about 20 minutes).
    assert_eq!(end, Some(T0 + Duration::from_secs(30)), "{probes} probes");
    assert!(probes < 15);
    assert_eq!(t.take_error(), Some(TcpError::TimedOut));
}

#[test]
fn orphan_in_fin_wait_1_behind_a_silent_zero_window_ends() {
    let mut t = behind_zero_window();
    t.close();
    assert_eq!(t.state(), State::FinWait1);
    let (probes, end) = silent_zero_window(&mut t, 200);
    assert!(end.is_some(), "still {} after {probes} probes", t.state());
    assert_eq!(probes, 8, "tcp_orphan_retries' 8 probes");
    assert!(t.is_reapable());
}

/// Only our FIN is left and the window is closed: the FIN goes regardless,
/// and its retransmissions back off and end when the peer stays silent.
#[test]
fn fin_behind_a_silent_zero_window_ends() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            window: 0,
            ..from_peer()
        }
    );
    t.shutdown_write();
    assert_eq!(out_at(&mut t, T0).unwrap().flags, FIN | ACK);
    let mut fins = 0;
    let mut end = None;
    for _ in 0..200 {
        let at = t.poll_timeout().unwrap();
        t.handle_timeout(at);
        while out_at(&mut t, at).is_some() {
            fins += 1;
        }
        if t.state() == State::Closed {
            end = Some(at);
            break;
        }
    }
    let end = end.expect("FIN-WAIT-1 forever");
    assert!(fins < 20, "{fins} FINs: not backed off");
    assert!(end - T0 <= Duration::from_secs(480), "ended at {end:?}");
    assert_eq!(t.take_error(), Some(TcpError::TimedOut));
}

/// Keepalive goes on in FIN-WAIT-2 (Linux probes there): after
/// `shutdown(SHUT_WR)` the connection waits on the peer's FIN, and a peer
/// that vanished is found out.
#[test]
fn keepalive_probes_in_fin_wait_2() {
    let mut t = established();
    t.set_keepalive_timing(Duration::from_secs(10), Duration::from_secs(2), 3);
    t.set_keepalive(true);
    t.shutdown_write();
    assert_eq!(out_at(&mut t, T0).unwrap().flags, FIN | ACK);
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::FinWait2);
    let at = t.poll_timeout().expect("keepalive armed");
    assert_eq!(at, T0 + Duration::from_secs(10));
    t.handle_timeout(at);
    recv!(t, at at, TcpRepr { seq: LOCAL_ISS + 1u32, ..to_peer() });
    for _ in 0..3 {
        let at = t.poll_timeout().expect("keepalive armed");
        t.handle_timeout(at);
        let _ = out_at(&mut t, at);
    }
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.take_error(), Some(TcpError::TimedOut));
}

/// An orphan behind a zero window the peer keeps answering is not kept
/// forever either: once the probes are spaced by the largest interval,
/// tcp_orphan_retries backoffs end it (Linux's tcp_probe_timer).
#[test]
fn orphan_behind_an_answered_zero_window_ends() {
    let mut t = behind_zero_window();
    t.close();
    assert_eq!(t.state(), State::FinWait1);
    let mut probes = 0;
    while t.state() != State::Closed && probes < 100 {
        let now = t.poll_timeout().unwrap();
        t.handle_timeout(now);
        while out_at(&mut t, now).is_some() {
            probes += 1;
            send!(
                t,
                now,
                TcpRepr {
                    window: 0,
                    ..from_peer()
                }
            );
        }
    }
    assert_eq!(t.state(), State::Closed, "after {probes} answered probes");
    assert!(probes >= 8, "{probes}");
    assert_eq!(t.take_error(), Some(TcpError::TimedOut));
}

/// A window update that reopens a window the peer knew as closed is sent
/// again after `ato` (then twice, four times that) while no data follows:
/// a sender in persist whose update was lost otherwise waits its whole
/// backed-off RTO (200 ms and more) with the receiver's buffer empty. At
/// 5 % random loss that idled a kernel sending into tapstack a quarter of
/// the time. Data stops the repeats.
#[test]
fn a_window_update_after_a_zero_window_is_repeated_until_data_comes() {
    let mut t = established();
    let fill = [1u8; WIN as usize];
    send!(
        t,
        TcpRepr {
            payload: &fill,
            ..from_peer()
        }
    );
    assert_eq!(out_at(&mut t, T0).unwrap().window, 0);
    let mut buf = [0u8; WIN as usize];
    assert_eq!(t.recv(&mut buf), Ok(WIN as usize));
    let update = out_at(&mut t, T0).unwrap();
    assert_eq!(update.window, WIN);
    // No data comes: the same update again, three times, further apart.
    let mut now = T0;
    let mut gaps = Vec::new();
    while let Some(at) = t.poll_timeout() {
        if at - T0 > Duration::from_secs(5) {
            break;
        }
        t.handle_timeout(at);
        if let Some(again) = out_at(&mut t, at) {
            assert_eq!((again.ack, again.window), (update.ack, WIN));
            gaps.push((at - now).as_millis());
            now = at;
        }
    }
    assert_eq!(gaps, [40, 80, 160]);

    // Once data follows the update, no repeat.
    let mut t = established();
    send!(
        t,
        TcpRepr {
            payload: &fill,
            ..from_peer()
        }
    );
    let _ = out_at(&mut t, T0);
    t.recv(&mut buf).unwrap();
    let _ = out_at(&mut t, T0);
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 1u32 + u32::from(WIN),
            payload: b"more",
            ..from_peer()
        }
    );
    let mut acks = 0;
    while let Some(at) = t.poll_timeout() {
        if at - T0 > Duration::from_secs(5) {
            break;
        }
        t.handle_timeout(at);
        acks += usize::from(out_at(&mut t, at).is_some());
    }
    assert!(acks <= 1, "{acks} ACKs after data followed the update");
}

/// Every connection's TCB lives in the shared heap, whose classes are
/// powers of two: at 1152 bytes it took a 2 KiB block. The configuration
/// went out of line and the timer table to microseconds, and it fits in
/// 1 KiB: keep it there (memory per idle connection is a benchmark figure).
#[test]
fn a_tcb_fits_the_shared_heaps_1_kib_class() {
    let size = std::mem::size_of::<crate::tcp::Tcb>();
    assert!(size <= 1024, "a TCB is {size} bytes");
}

/// A request in quick-ACK mode: a pushed segment of at most half a
/// full-sized one, alone unacknowledged.
fn request(t: &mut Tcb) {
    send!(
        t,
        TcpRepr {
            flags: ACK | PSH,
            payload: b"ping",
            ..from_peer()
        }
    );
}

/// Quick-ACK mode, a request: its ACK is held for the answer, which
/// carries it (one segment where an ACK and the answer would be two);
/// reading the request is not answering it.
#[test]
fn a_quick_ack_for_a_request_rides_on_the_answer() {
    let mut t = established();
    request(&mut t);
    recv_nothing!(t);
    assert!(t.ack_held());
    let mut buf = [0u8; 16];
    assert_eq!(t.recv(&mut buf), Ok(4));
    recv_nothing!(t);
    assert_eq!(t.send(b"pong"), Ok(4));
    let seg = out_at(&mut t, T0).unwrap();
    assert_eq!((seg.payload, seg.ack), (&b"pong"[..], REMOTE_ISS + 5u32));
    assert!(!t.ack_held());
    recv_nothing!(t);
}

/// The application wants more than the request (its `recv` finds
/// nothing): the held ACK goes at once, so that a sender holding back its
/// next small segment for it (Nagle's rule) does not wait for `ato`.
#[test]
fn a_held_quick_ack_goes_when_the_application_finds_nothing_more() {
    let mut t = established();
    request(&mut t);
    let mut buf = [0u8; 16];
    assert_eq!(t.recv(&mut buf), Ok(4));
    assert_eq!(t.recv(&mut buf), Err(TcpError::WouldBlock));
    assert!(!t.ack_held());
    let seg = out_at(&mut t, T0).unwrap();
    assert_eq!((seg.payload, seg.ack), (&b""[..], REMOTE_ISS + 5u32));
}

/// Nobody answers and nobody reads: the delayed-ACK timer sends the held
/// ACK after `ato`.
#[test]
fn a_held_quick_ack_goes_after_ato_at_the_latest() {
    let mut t = established();
    request(&mut t);
    let at = t.poll_timeout().unwrap();
    assert_eq!(at - T0, Duration::from_millis(40)); // ato: delack_min (SRTT 0)
    t.handle_timeout(at);
    assert_eq!(out_at(&mut t, at).unwrap().ack, REMOTE_ISS + 5u32);
}

/// What is not a request is acknowledged at once in quick-ACK mode: a
/// segment more than half full-sized (a bulk sender's, whose ACKs clock
/// it), one without PSH (more follows), one behind unacknowledged data.
#[test]
fn quick_acks_of_other_data_are_not_held() {
    for (flags, len) in [(ACK | PSH, 1000), (ACK, 4)] {
        let mut t = established();
        let data = vec![7u8; len];
        send!(
            t,
            TcpRepr {
                flags,
                payload: &data,
                ..from_peer()
            }
        );
        assert!(!t.ack_held(), "{flags} {len}");
        assert_eq!(
            out_at(&mut t, T0).unwrap().ack,
            REMOTE_ISS + 1u32 + len as u32
        );
    }
    let mut t = established();
    send!(
        t,
        TcpRepr {
            payload: b"x",
            ..from_peer()
        }
    );
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 2u32,
            flags: ACK | PSH,
            payload: b"ping",
            ..from_peer()
        }
    );
    assert!(!t.ack_held());
    assert_eq!(out_at(&mut t, T0).unwrap().ack, REMOTE_ISS + 6u32);
}

/// `TCP_QUICKACK` asks for every ACK at once: a request's is not held,
/// and one held already goes.
#[test]
fn tcp_quickack_holds_no_ack() {
    let mut t = established();
    request(&mut t);
    assert!(t.ack_held());
    t.set_quickack(true);
    assert!(!t.ack_held());
    assert_eq!(out_at(&mut t, T0).unwrap().ack, REMOTE_ISS + 5u32);
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 5u32,
            flags: ACK | PSH,
            payload: b"ping",
            ..from_peer()
        }
    );
    assert!(!t.ack_held());
    assert_eq!(out_at(&mut t, T0).unwrap().ack, REMOTE_ISS + 9u32);
}
