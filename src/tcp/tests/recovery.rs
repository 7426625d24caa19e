//! Congestion response to loss: what a retransmission timeout does to
//! ssthresh and `recover`, the RTO's floor, restart after idle, and the
//! window during SACK recovery.

use super::harness::*;
use crate::tcp::*;
use crate::time::{Duration, Instant};
use crate::wire::SeqNum;
use crate::wire::tcp::{TcpOptions, TcpRepr};

const MSS: u32 = 1460;

/// ESTABLISHED with `algo`, no SACK nor timestamps, the peer's window
/// 65535 (MSS 1460, so cwnd starts at IW10 = 14600).
fn established_with(algo: CongestionAlgo) -> Tcb {
    let cfg = TcpConfig {
        congestion: algo,
        ..config()
    };
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, cfg);
    let _ = out_at(&mut t, T0);
    send!(
        t,
        TcpRepr {
            window: 65535,
            ..syn_ack_from_peer()
        }
    );
    let _ = out_at(&mut t, T0);
    assert_eq!(t.state(), State::Established);
    assert_eq!(t.info().snd_cwnd, 10);
    t
}

/// Our `i`th segment of 1460 bytes starts here.
fn seg(i: u32) -> SeqNum {
    LOCAL_ISS + 1u32 + i * MSS
}

/// The peer's ACK of everything below `ack`, window 65535.
fn ack(ack: SeqNum) -> TcpRepr<'static> {
    TcpRepr {
        ack,
        window: 65535,
        ..from_peer()
    }
}

/// Sends `n` full segments; returns when they went.
fn send_segments(t: &mut Tcb, n: u32, at: Instant) {
    t.send(&vec![9u8; (n * MSS) as usize]).unwrap();
    for i in 0..n {
        let s = out_at(t, at).unwrap();
        assert_eq!((s.seq, s.payload.len()), (seg(i), MSS as usize));
    }
    assert_eq!(out_at(t, at), None);
}

/// Fires the retransmission timer; returns when, after checking that the
/// head went again, alone.
fn timeout(t: &mut Tcb, head: SeqNum) -> Instant {
    let at = t.poll_timeout().unwrap();
    t.handle_timeout(at);
    let r = out_at(t, at).unwrap();
    assert_eq!(r.seq, head);
    assert_eq!(out_at(t, at), None, "one segment after a timeout");
    at
}

/// RFC 5681 §3.1: a second timeout for the same data keeps ssthresh. CUBIC
/// used to set it from cwnd again, which the first timeout had cut to one
/// segment: ssthresh fell to 2 segments.
#[test]
fn back_to_back_timeouts_keep_ssthresh() {
    for algo in [CongestionAlgo::Cubic, CongestionAlgo::NewReno] {
        let mut t = established_with(algo);
        send_segments(&mut t, 4, T0);
        timeout(&mut t, seg(0));
        // CUBIC: 0.7 × 14600 = 10220 (7 segments); Reno: 5840 / 2.
        let first = match algo {
            CongestionAlgo::Cubic => 7,
            CongestionAlgo::NewReno => 2,
        };
        assert_eq!(t.info().snd_ssthresh, first, "{algo:?}");
        assert_eq!((t.info().snd_cwnd, t.info().ca_state), (1, 4));
        for _ in 0..3 {
            timeout(&mut t, seg(0));
            assert_eq!(t.info().snd_ssthresh, first, "{algo:?}");
            assert_eq!(t.info().snd_cwnd, 1);
        }
    }
}

/// RFC 6582 §3.2 step 4 and §6: after a timeout `recover` is SND.MAX, so
/// duplicate ACKs for data sent before it (late ones, or those the
/// go-back-N retransmissions provoke) do not start fast recovery: no
/// second ssthresh cut, no inflated cwnd, no burst. The episode ends when
/// `recover` is acknowledged.
#[test]
fn duplicate_acks_after_a_timeout_do_not_start_fast_recovery() {
    for algo in [CongestionAlgo::Cubic, CongestionAlgo::NewReno] {
        let mut t = established_with(algo);
        send_segments(&mut t, 6, T0);
        let at = timeout(&mut t, seg(0));
        let ssthresh = t.info().snd_ssthresh;
        for _ in 0..4 {
            send!(t, at, ack(seg(0)));
            assert_eq!(out_at(&mut t, at), None, "{algo:?}");
        }
        let i = t.info();
        assert_eq!((i.ca_state, i.snd_cwnd, i.snd_ssthresh), (4, 1, ssthresh));
        // A partial ACK: slow start from the loss window, go-back-N goes
        // on, still in the timeout's episode.
        send!(t, at, ack(seg(1)));
        assert_eq!(out_at(&mut t, at).unwrap().seq, seg(1));
        assert_eq!(out_at(&mut t, at).unwrap().seq, seg(2));
        assert_eq!(out_at(&mut t, at), None);
        assert_eq!((t.info().ca_state, t.info().snd_cwnd), (4, 2));
        for _ in 0..3 {
            send!(t, at, ack(seg(1)));
        }
        assert_eq!(out_at(&mut t, at), None, "{algo:?}");
        assert_eq!(t.info().snd_ssthresh, ssthresh);
        // `recover` (SND.MAX at the timeout) acknowledged: over.
        send!(t, at, ack(seg(6)));
        assert_eq!(t.info().ca_state, 0);
        assert_eq!(t.info().snd_ssthresh, ssthresh);
    }
}

/// A steady 180 ms path with a timestamp echo on every ACK (RFC 7323
/// §4.1), then one ACK that the peer's delayed-ACK timer holds 40 ms more:
/// no spurious retransmission. RTTVAR has decayed to nothing, and the
/// 200 ms floor was on the whole RTO (200 ms, fired before the 220 ms
/// ACK); it is on the variance term, as Linux's (RTO = SRTT + 200 ms).
#[test]
fn a_delayed_ack_on_a_steady_path_is_not_a_timeout() {
    let cfg = TcpConfig {
        timestamps: true,
        nodelay: true,
        ..config()
    };
    let rtt = Duration::from_millis(180);
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, cfg);
    let syn = out_at(&mut t, T0).unwrap();
    let mut now = T0 + rtt;
    let mut peer_ts = 1u32;
    let echo = |ecr: u32, peer_ts: u32| TcpOptions {
        timestamps: Some((peer_ts, ecr)),
        ..TcpOptions::default()
    };
    send!(
        t,
        now,
        TcpRepr {
            window: 65535,
            options: TcpOptions {
                timestamps: Some((peer_ts, syn.options.timestamps.unwrap().0)),
                ..mss_opt()
            },
            ..syn_ack_from_peer()
        }
    );
    let _ = out_at(&mut t, now);
    let mut next = LOCAL_ISS + 1u32;
    let mut round = |t: &mut Tcb, now: &mut Instant, delay: Duration| {
        t.send(&[1u8; 100]).unwrap();
        let s = out_at(t, *now).unwrap();
        assert_eq!((s.seq, s.payload.len()), (next, 100));
        let sent = *now;
        next += 100u32;
        let ack_at = sent + rtt + delay;
        assert!(
            t.poll_timeout().unwrap() > ack_at,
            "the RTO ({:?} after sending) fires before the ACK",
            t.poll_timeout().unwrap() - sent
        );
        *now = ack_at;
        peer_ts += 1;
        send!(
            t,
            *now,
            TcpRepr {
                ack: next,
                window: 65535,
                options: echo(s.options.timestamps.unwrap().0, peer_ts),
                ..from_peer()
            }
        );
    };
    for _ in 0..50 {
        round(&mut t, &mut now, Duration::ZERO);
    }
    assert_eq!((t.info().rtt, t.info().rttvar), (180_000, 0));
    assert_eq!(t.info().rto, 380_000);
    round(&mut t, &mut now, Duration::from_millis(40));
    assert_eq!(t.info().total_retrans, 0);
}

/// ESTABLISHED with `algo` and a 256 KiB send buffer, cwnd grown by slow
/// start to `segs` segments, everything acknowledged at the returned time.
fn grown_to(algo: CongestionAlgo, segs: u32) -> (Tcb, Instant) {
    let cfg = TcpConfig {
        congestion: algo,
        snd_buf: 256 * 1024,
        ..config()
    };
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, cfg);
    let _ = out_at(&mut t, T0);
    send!(
        t,
        TcpRepr {
            window: 65535,
            ..syn_ack_from_peer()
        }
    );
    let _ = out_at(&mut t, T0);
    let mut now = T0;
    let mut acked = 0;
    while t.info().snd_cwnd < segs {
        // A full window, then one ACK per segment of growth wanted (slow
        // start adds at most one MSS per ACK), the last one cumulative.
        let cwnd = t.info().snd_cwnd;
        t.send(&vec![1u8; (cwnd * MSS) as usize]).unwrap();
        let mut sent = 0;
        while let Some(s) = out_at(&mut t, now) {
            assert_eq!(s.payload.len(), MSS as usize);
            sent += 1;
        }
        assert_eq!(sent, cwnd);
        now += Duration::from_millis(10);
        let grow = (segs - cwnd).min(cwnd);
        for _ in 1..grow {
            acked += 1;
            send!(t, now, ack(seg(acked)));
        }
        acked += cwnd - (grow - 1);
        send!(t, now, ack(seg(acked)));
    }
    assert_eq!(t.info().snd_cwnd, segs);
    (t, now)
}

/// Full segments that go out at `at` with `n` queued and nothing acked.
fn burst(t: &mut Tcb, at: Instant, n: u32) -> u32 {
    t.send(&vec![2u8; (n * MSS) as usize]).unwrap();
    let mut sent = 0;
    while out_at(t, at).is_some() {
        sent += 1;
    }
    sent
}

/// RFC 5681 §4.1, the Linux way (tcp_cwnd_restart): after more than an
/// RTO (200 ms here) without sending, cwnd halves per RTO of idle time,
/// down to min(IW, cwnd); ssthresh keeps ¾ of the old cwnd. A full-cwnd
/// burst went out after any pause before.
#[test]
fn cwnd_restarts_after_idle() {
    for algo in [CongestionAlgo::Cubic, CongestionAlgo::NewReno] {
        // Idle for 1.5 RTO: one halving.
        let (mut t, now) = grown_to(algo, 40);
        let at = now + Duration::from_millis(300);
        assert_eq!(burst(&mut t, at, 40), 20, "{algo:?}");
        assert_eq!(t.info().snd_cwnd, 20);
        // Slow start never ended: ssthresh stays unbounded.
        assert!(t.info().snd_ssthresh > 1000);
        // 30 s idle: down to the initial window, not further.
        let (mut t, now) = grown_to(algo, 40);
        assert_eq!(burst(&mut t, now + Duration::from_secs(30), 40), 10);
        // An RTO of idle time or less (the last data went 10 ms before
        // `now`): nothing changes.
        let (mut t, now) = grown_to(algo, 40);
        assert_eq!(burst(&mut t, now + Duration::from_millis(190), 40), 40);
    }
}
