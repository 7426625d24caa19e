//! Opening: CLOSED, LISTEN, SYN-SENT, SYN-RECEIVED (RFC 9293 §3.5, §3.10.7.2–3).

use super::harness::*;
use crate::tcp::*;
use crate::time::Duration;
use crate::wire::SeqNum;
use crate::wire::tcp::{TcpOptions, TcpRepr};

#[test]
fn connect_sends_syn_with_our_options() {
    let mut t = Tcb::connect(
        T0,
        tuple(),
        LOCAL_ISS,
        TcpConfig {
            timestamps: true,
            sack: true,
            window_scaling: true,
            ts_offset: 0x5eed_0ff5,
            ..config()
        },
    );
    let syn = out_at(&mut t, T0).unwrap();
    assert_eq!(syn.flags, SYN);
    assert_eq!(syn.options.mss, Some(1460));
    assert_eq!(syn.options.window_scale, Some(0)); // 4096 needs no shift
    assert!(syn.options.sack_permitted);
    // The clock plus the connection's offset, which is not the ISS.
    assert_eq!(syn.options.timestamps, Some((1000 + 0x5eed_0ff5, 0)));
    assert_eq!(t.state(), State::SynSent);
    assert_eq!(t.state().to_string(), "SYN-SENT");
    recv_nothing!(t);
}

#[test]
fn accept_syn_sends_syn_ack() {
    let t = syn_received();
    assert_eq!(t.state(), State::SynReceived);
}

#[test]
fn accept_syn_refuses_non_syn() {
    assert!(Tcb::accept_syn(T0, tuple(), LOCAL_ISS, &from_peer(), config()).is_none());
    let syn_rst = TcpRepr {
        flags: SYN | RST,
        ..syn_from_peer()
    };
    assert!(Tcb::accept_syn(T0, tuple(), LOCAL_ISS, &syn_rst, config()).is_none());
}

#[test]
fn accept_syn_answers_only_offered_options() {
    let syn = TcpRepr {
        options: TcpOptions {
            mss: Some(1000),
            ..TcpOptions::default()
        },
        ..syn_from_peer()
    };
    let cfg = TcpConfig {
        timestamps: true,
        sack: true,
        window_scaling: true,
        ..config()
    };
    let mut t = Tcb::accept_syn(T0, tuple(), LOCAL_ISS, &syn, cfg).unwrap();
    let synack = out_at(&mut t, T0).unwrap();
    assert_eq!(synack.options, mss_opt());
    assert_eq!(t.info().snd_mss, 1000); // the peer's MSS is respected
}

#[test]
fn peer_without_mss_option_gets_536() {
    let syn = TcpRepr {
        options: TcpOptions::default(),
        ..syn_from_peer()
    };
    let t = Tcb::accept_syn(T0, tuple(), LOCAL_ISS, &syn, config()).unwrap();
    assert_eq!(t.info().snd_mss, 536);
}

#[test]
fn syn_sent_syn_ack_goes_established() {
    let t = established();
    assert!(t.readiness().writable);
    assert_eq!(t.info().rto, 200_000); // one RTT sample of 0: rto_min
}

#[test]
fn syn_sent_syn_goes_syn_received() {
    let mut t = syn_sent();
    send!(t, syn_from_peer());
    assert_eq!(t.state(), State::SynReceived);
    recv!(
        t,
        TcpRepr {
            seq: LOCAL_ISS,
            flags: SYN | ACK,
            options: mss_opt(),
            ..to_peer()
        }
    );
}

#[test]
fn simultaneous_open_completes() {
    let mut t = syn_sent();
    send!(t, syn_from_peer());
    recv!(
        t,
        TcpRepr {
            seq: LOCAL_ISS,
            flags: SYN | ACK,
            options: mss_opt(),
            ..to_peer()
        }
    );
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS,
            flags: SYN | ACK,
            options: mss_opt(),
            ..from_peer()
        }
    );
    // The peer's SYN-ACK repeats its SYN: RCV.NXT is past it, so it is
    // acknowledged; its ACK then arrives on its own.
    send!(t, from_peer());
    assert_eq!(t.state(), State::Established);
}

#[test]
fn syn_sent_rst_refuses() {
    let mut t = syn_sent();
    send!(
        t,
        TcpRepr {
            seq: SeqNum(0),
            flags: RST | ACK,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.take_error(), Some(TcpError::ConnectionRefused));
    assert!(t.is_reapable());
}

#[test]
fn syn_sent_rst_without_ack_is_ignored() {
    let mut t = syn_sent();
    send!(
        t,
        TcpRepr {
            flags: RST,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::SynSent);
}

#[test]
fn syn_sent_bad_ack_sends_rst() {
    let mut t = syn_sent();
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 100u32,
            ..syn_ack_from_peer()
        }
    );
    assert_eq!(t.state(), State::SynSent);
    recv!(
        t,
        TcpRepr {
            seq: LOCAL_ISS + 100u32,
            ack: SeqNum(0),
            flags: RST,
            window: 0,
            ..to_peer()
        }
    );
}

#[test]
fn syn_sent_retries_exhausted_times_out() {
    let mut t = syn_sent();
    for i in 0..6u32 {
        // 1, 2, 4, ... s after the previous one (RFC 6298 §5.5).
        let now = t.poll_timeout().unwrap();
        assert_eq!(now - T0, Duration::from_secs((1 << (i + 1)) - 1));
        t.handle_timeout(now);
        let syn = out_at(&mut t, now).unwrap();
        assert_eq!((syn.flags, syn.seq), (SYN, LOCAL_ISS));
    }
    let now = t.poll_timeout().unwrap();
    assert_eq!(now - T0, Duration::from_secs(127));
    t.handle_timeout(now);
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.take_error(), Some(TcpError::TimedOut));
}

#[test]
fn syn_sent_unreachable_fails() {
    let mut t = syn_sent();
    t.handle_unreachable(T0, TcpError::HostUnreachable);
    assert_eq!(t.state(), State::Closed);
    assert_eq!(t.take_error(), Some(TcpError::HostUnreachable));
}

#[test]
fn syn_sent_close_goes_closed() {
    let mut t = syn_sent();
    t.close();
    assert_eq!(t.state(), State::Closed);
    recv_nothing!(t);
}

#[test]
fn syn_received_ack_goes_established() {
    let mut t = syn_received();
    send!(t, from_peer());
    assert_eq!(t.state(), State::Established);
    recv_nothing!(t);
}

#[test]
fn syn_received_ack_too_high_sends_rst() {
    let mut t = syn_received();
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 5u32,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::SynReceived);
    recv!(
        t,
        TcpRepr {
            seq: LOCAL_ISS + 5u32,
            ack: SeqNum(0),
            flags: RST,
            window: 0,
            ..to_peer()
        }
    );
}

#[test]
fn syn_received_rst_closes() {
    let mut t = syn_received();
    send!(
        t,
        TcpRepr {
            flags: RST,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::Closed);
}

#[test]
fn syn_received_retransmitted_syn_resends_syn_ack() {
    let mut t = syn_received();
    send!(t, syn_from_peer());
    recv!(
        t,
        TcpRepr {
            seq: LOCAL_ISS,
            flags: SYN | ACK,
            options: mss_opt(),
            ..to_peer()
        }
    );
}

#[test]
fn syn_received_close_then_ack_goes_fin_wait_1() {
    let mut t = syn_received();
    t.close();
    recv_nothing!(t);
    send!(t, from_peer());
    assert_eq!(t.state(), State::FinWait1);
    recv!(
        t,
        TcpRepr {
            flags: FIN | ACK,
            ..to_peer()
        }
    );
}

#[test]
fn syn_received_synack_retries_exhausted() {
    let mut t = syn_received();
    for _ in 0..6 {
        let at = t.poll_timeout().unwrap();
        t.handle_timeout(at);
        let _ = out_at(&mut t, at);
    }
    assert_eq!(t.state(), State::Closed);
}

#[test]
fn rst_for_answers_per_rfc() {
    let with_ack = rst_for(&TcpRepr {
        ack: SeqNum(77),
        ..from_peer()
    })
    .unwrap();
    assert_eq!((with_ack.seq, with_ack.flags), (SeqNum(77), RST));
    let syn = rst_for(&syn_from_peer()).unwrap();
    assert_eq!(
        (syn.seq, syn.ack, syn.flags),
        (SeqNum(0), REMOTE_ISS + 1u32, RST | ACK)
    );
    assert_eq!((syn.src_port, syn.dst_port), (LOCAL_PORT, REMOTE_PORT));
    assert!(
        rst_for(&TcpRepr {
            flags: RST,
            ..from_peer()
        })
        .is_none()
    );
}

#[test]
fn tcb_is_send() {
    // The stack keeps TCBs behind a lock shared with application threads.
    fn assert_send<T: Send>() {}
    assert_send::<Tcb>();
}

#[test]
fn congestion_control_is_selectable() {
    let mut t = established();
    assert_eq!(t.congestion_name(), "cubic");
    t.set_congestion(CongestionAlgo::NewReno);
    assert_eq!(t.congestion_name(), "reno");
    assert_eq!(t.info().snd_cwnd, 10);
}
