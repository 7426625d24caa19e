//! One TCB driven segment by segment: one test per transition of the
//! RFC 9293 state diagram (§3.3.2, Figure 5) and per acceptance rule.
//!
//! | From         | Event                                  | To           | Test |
//! |--------------|----------------------------------------|--------------|------|
//! | CLOSED       | connect (send SYN)                     | SYN-SENT     | `connect_sends_syn_with_our_options` |
//! | LISTEN       | SYN (send SYN-ACK)                     | SYN-RECEIVED | `accept_syn_sends_syn_ack` |
//! | LISTEN       | not a plain SYN                        | (none)       | `accept_syn_refuses_non_syn` |
//! | SYN-SENT     | SYN-ACK (send ACK)                     | ESTABLISHED  | `syn_sent_syn_ack_goes_established` |
//! | SYN-SENT     | SYN (send SYN-ACK): simultaneous open  | SYN-RECEIVED | `syn_sent_syn_goes_syn_received` |
//! | SYN-SENT     | RST with acceptable ACK                | CLOSED       | `syn_sent_rst_refuses` |
//! | SYN-SENT     | RST without ACK                        | SYN-SENT     | `syn_sent_rst_without_ack_is_ignored` |
//! | SYN-SENT     | unacceptable ACK (send RST)            | SYN-SENT     | `syn_sent_bad_ack_sends_rst` |
//! | SYN-SENT     | SYN retries exhausted                  | CLOSED       | `syn_sent_retries_exhausted_times_out` |
//! | SYN-SENT     | ICMP unreachable                       | CLOSED       | `syn_sent_unreachable_fails` |
//! | SYN-SENT     | close                                  | CLOSED       | `syn_sent_close_goes_closed` |
//! | SYN-RECEIVED | ACK of SYN                             | ESTABLISHED  | `syn_received_ack_goes_established` |
//! | SYN-RECEIVED | ACK too high (send RST)                | SYN-RECEIVED | `syn_received_ack_too_high_sends_rst` |
//! | SYN-RECEIVED | RST                                    | CLOSED       | `syn_received_rst_closes` |
//! | SYN-RECEIVED | retransmitted SYN (resend SYN-ACK)     | SYN-RECEIVED | `syn_received_retransmitted_syn_resends_syn_ack` |
//! | SYN-RECEIVED | close, then ACK (send FIN)             | FIN-WAIT-1   | `syn_received_close_then_ack_goes_fin_wait_1` |
//! | SYN-RECEIVED | simultaneous open completes            | ESTABLISHED  | `simultaneous_open_completes` |
//! | ESTABLISHED  | close (send FIN)                       | FIN-WAIT-1   | `established_close_goes_fin_wait_1` |
//! | ESTABLISHED  | FIN (send ACK)                         | CLOSE-WAIT   | `established_fin_goes_close_wait` |
//! | ESTABLISHED  | RST at RCV.NXT                         | CLOSED       | `established_rst_exact_resets` |
//! | ESTABLISHED  | abort (send RST)                       | CLOSED       | `established_abort_sends_rst` |
//! | ESTABLISHED  | close with unread data (send RST)      | CLOSED       | `close_with_unread_data_sends_rst` |
//! | ESTABLISHED  | retries exhausted                      | CLOSED       | `established_retries_exhausted_times_out` |
//! | FIN-WAIT-1   | ACK of FIN                             | FIN-WAIT-2   | `fin_wait_1_ack_goes_fin_wait_2` |
//! | FIN-WAIT-1   | FIN (send ACK)                         | CLOSING      | `fin_wait_1_fin_goes_closing` |
//! | FIN-WAIT-1   | FIN+ACK together                       | TIME-WAIT    | `fin_wait_1_fin_ack_together_goes_time_wait` |
//! | FIN-WAIT-2   | FIN (send ACK)                         | TIME-WAIT    | `fin_wait_2_fin_goes_time_wait` |
//! | FIN-WAIT-2   | data (half-close keeps receiving)      | FIN-WAIT-2   | `fin_wait_2_still_receives_data` |
//! | CLOSE-WAIT   | close (send FIN)                       | LAST-ACK     | `close_wait_close_goes_last_ack` |
//! | CLOSING      | ACK of FIN                             | TIME-WAIT    | `closing_ack_goes_time_wait` |
//! | LAST-ACK     | ACK of FIN                             | CLOSED       | `last_ack_ack_goes_closed` |
//! | TIME-WAIT    | 2 MSL timeout                          | CLOSED       | `time_wait_expires_to_closed` |
//! | TIME-WAIT    | retransmitted FIN (ACK, restart)       | TIME-WAIT    | `time_wait_retransmitted_fin_restarts_timer` |
//!
//! Acceptance rules (RFC 9293 §3.10.7.4, RFC 5961, RFC 7323):
//!
//! | Rule                                             | Test |
//! |--------------------------------------------------|------|
//! | unacceptable sequence number → ACK, drop         | `unacceptable_segment_is_acked_and_dropped` |
//! | zero window: ACK still processed, data dropped   | `zero_window_still_processes_ack` |
//! | in-window RST not at RCV.NXT → challenge ACK     | `established_rst_in_window_sends_challenge_ack` |
//! | out-of-window RST → ignored                      | `established_rst_out_of_window_is_ignored` |
//! | SYN in synchronized state → challenge ACK        | `established_syn_sends_challenge_ack` |
//! | ACK beyond SND.NXT → ACK, drop                   | `established_ack_beyond_snd_nxt_is_dropped` |
//! | ACK older than SND.UNA − MAX.SND.WND → challenge | `established_ack_too_old_sends_challenge_ack` |
//! | segment without ACK → drop                       | `segment_without_ack_is_dropped` |
//! | PAWS: old TSval → ACK, drop                      | `paws_drops_old_timestamp` |
//! | out-of-order data → quick ACK with SACK          | `out_of_order_data_is_sacked_and_reassembled` |
//! | no connection → RST per §3.10.7.1                | `rst_for_answers_per_rfc` |

use crate::tcp::{FourTuple, Readiness, State, Tcb, TcpConfig, TcpError, rst_for};
use crate::time::{Duration, Instant};
use crate::wire::SeqNum;
use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
use std::net::{Ipv4Addr, SocketAddrV4};

const LOCAL_PORT: u16 = 4000;
const REMOTE_PORT: u16 = 80;
const LOCAL_ISS: SeqNum = SeqNum(1_000_000);
/// Close to the wrap, so that modular arithmetic is exercised everywhere.
const REMOTE_ISS: SeqNum = SeqNum(0xffff_fff0);
const T0: Instant = Instant::from_millis(1000);
const WIN: u16 = 4096;

const ACK: TcpFlags = TcpFlags::ACK;
const SYN: TcpFlags = TcpFlags::SYN;
const FIN: TcpFlags = TcpFlags::FIN;
const RST: TcpFlags = TcpFlags::RST;
const PSH: TcpFlags = TcpFlags::PSH;

fn tuple() -> FourTuple {
    FourTuple {
        local: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), LOCAL_PORT),
        remote: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), REMOTE_PORT),
    }
}

fn config() -> TcpConfig {
    TcpConfig {
        rcv_buf: usize::from(WIN),
        snd_buf: 16384,
        window_scaling: false,
        sack: false,
        timestamps: false,
        ..TcpConfig::default()
    }
}

/// What the peer sends us, in ESTABLISHED.
fn from_peer() -> TcpRepr<'static> {
    TcpRepr {
        src_port: REMOTE_PORT,
        dst_port: LOCAL_PORT,
        seq: REMOTE_ISS + 1u32,
        ack: LOCAL_ISS + 1u32,
        flags: ACK,
        window: WIN,
        urgent: 0,
        options: TcpOptions::default(),
        payload: &[],
    }
}

/// What we send the peer, in ESTABLISHED.
fn to_peer() -> TcpRepr<'static> {
    TcpRepr {
        src_port: LOCAL_PORT,
        dst_port: REMOTE_PORT,
        seq: LOCAL_ISS + 1u32,
        ack: REMOTE_ISS + 1u32,
        flags: ACK,
        window: WIN,
        urgent: 0,
        options: TcpOptions::default(),
        payload: &[],
    }
}

fn mss_opt() -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        ..TcpOptions::default()
    }
}

/// The next segment the TCB sends at `at` (its payload leaked: tests only).
fn out_at(tcb: &mut Tcb, at: Instant) -> Option<TcpRepr<'static>> {
    let mut scratch = vec![0u8; 65536];
    let seg = tcb.poll_transmit(at, &mut scratch)?;
    let payload: &'static [u8] = Box::leak(seg.payload.to_vec().into_boxed_slice());
    Some(TcpRepr { payload, ..seg })
}

macro_rules! send {
    ($tcb:expr, $seg:expr) => {
        $tcb.handle_segment(T0, &$seg)
    };
    ($tcb:expr, $at:expr, $seg:expr) => {
        $tcb.handle_segment($at, &$seg)
    };
}

macro_rules! recv {
    ($tcb:expr, $seg:expr) => {
        assert_eq!(out_at(&mut $tcb, T0), Some($seg), "state {}", $tcb.state())
    };
    ($tcb:expr, at $at:expr, $seg:expr) => {
        assert_eq!(out_at(&mut $tcb, $at), Some($seg), "state {}", $tcb.state())
    };
}

macro_rules! recv_nothing {
    ($tcb:expr) => {
        assert_eq!(out_at(&mut $tcb, T0), None, "state {}", $tcb.state())
    };
}

// --- Fixtures, one per state.

fn syn_sent() -> Tcb {
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, config());
    recv!(
        t,
        TcpRepr {
            seq: LOCAL_ISS,
            ack: SeqNum(0),
            flags: SYN,
            options: mss_opt(),
            ..to_peer()
        }
    );
    t
}

fn syn_ack_from_peer() -> TcpRepr<'static> {
    TcpRepr {
        seq: REMOTE_ISS,
        flags: SYN | ACK,
        options: mss_opt(),
        ..from_peer()
    }
}

fn established() -> Tcb {
    let mut t = syn_sent();
    send!(t, syn_ack_from_peer());
    recv!(t, to_peer());
    assert_eq!(t.state(), State::Established);
    t
}

fn syn_from_peer() -> TcpRepr<'static> {
    TcpRepr {
        seq: REMOTE_ISS,
        ack: SeqNum(0),
        flags: SYN,
        options: mss_opt(),
        ..from_peer()
    }
}

fn syn_received() -> Tcb {
    let mut t = Tcb::accept_syn(T0, tuple(), LOCAL_ISS, &syn_from_peer(), config()).unwrap();
    recv!(
        t,
        TcpRepr {
            seq: LOCAL_ISS,
            flags: SYN | ACK,
            options: mss_opt(),
            ..to_peer()
        }
    );
    t
}

fn fin_wait_1() -> Tcb {
    let mut t = established();
    t.close();
    recv!(
        t,
        TcpRepr {
            flags: FIN | ACK,
            ..to_peer()
        }
    );
    assert_eq!(t.state(), State::FinWait1);
    t
}

fn fin_wait_2() -> Tcb {
    let mut t = fin_wait_1();
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::FinWait2);
    t
}

fn close_wait() -> Tcb {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            flags: FIN | ACK,
            ..from_peer()
        }
    );
    recv!(
        t,
        TcpRepr {
            ack: REMOTE_ISS + 2u32,
            window: WIN - 1,
            ..to_peer()
        }
    );
    assert_eq!(t.state(), State::CloseWait);
    t
}

fn time_wait() -> Tcb {
    let mut t = fin_wait_2();
    send!(
        t,
        TcpRepr {
            flags: FIN | ACK,
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    recv!(
        t,
        TcpRepr {
            seq: LOCAL_ISS + 2u32,
            ack: REMOTE_ISS + 2u32,
            window: WIN - 1,
            ..to_peer()
        }
    );
    assert_eq!(t.state(), State::TimeWait);
    t
}

// --- CLOSED / LISTEN.

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
            ..config()
        },
    );
    let syn = out_at(&mut t, T0).unwrap();
    assert_eq!(syn.flags, SYN);
    assert_eq!(syn.options.mss, Some(1460));
    assert_eq!(syn.options.window_scale, Some(0)); // 4096 needs no shift
    assert!(syn.options.sack_permitted);
    assert_eq!(syn.options.timestamps, Some((1000, 0)));
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

// --- SYN-SENT.

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

// --- SYN-RECEIVED.

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

// --- ESTABLISHED.

#[test]
fn established_data_is_delivered_and_acked() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            payload: b"hello",
            ..from_peer()
        }
    );
    recv!(
        t,
        TcpRepr {
            ack: REMOTE_ISS + 6u32,
            window: WIN - 5,
            ..to_peer()
        }
    );
    let mut buf = [0u8; 16];
    assert_eq!(t.recv(&mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(t.recv(&mut buf), Err(TcpError::WouldBlock));
}

#[test]
fn established_send_goes_out_and_ack_frees_it() {
    let mut t = established();
    assert_eq!(t.send(b"abc"), Ok(3));
    recv!(
        t,
        TcpRepr {
            flags: ACK | PSH,
            payload: b"abc",
            ..to_peer()
        }
    );
    assert_eq!(t.send_queue_len(), 3);
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 4u32,
            ..from_peer()
        }
    );
    assert_eq!(t.send_queue_len(), 0);
    assert_eq!(t.poll_timeout(), None);
}

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

#[test]
fn established_rst_exact_resets() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            flags: RST,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::Closed);
    assert!(t.readiness().error);
    assert_eq!(t.take_error(), Some(TcpError::ConnectionReset));
}

#[test]
fn established_rst_in_window_sends_challenge_ack() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 100u32,
            flags: RST,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::Established);
    recv!(t, to_peer());
}

#[test]
fn established_rst_out_of_window_is_ignored() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 100_000u32,
            flags: RST,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::Established);
    recv_nothing!(t);
}

#[test]
fn established_syn_sends_challenge_ack() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 10u32,
            flags: SYN,
            ..from_peer()
        }
    );
    assert_eq!(t.state(), State::Established);
    recv!(t, to_peer());
}

#[test]
fn established_ack_beyond_snd_nxt_is_dropped() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 1000u32,
            payload: b"zz",
            ..from_peer()
        }
    );
    recv!(t, to_peer()); // ACK, and the data was not taken
    assert_eq!(t.recv_queue_len(), 0);
}

#[test]
fn established_ack_too_old_sends_challenge_ack() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS - 100_000u32,
            ..from_peer()
        }
    );
    recv!(t, to_peer());
}

#[test]
fn segment_without_ack_is_dropped() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            flags: TcpFlags::NONE,
            payload: b"x",
            ..from_peer()
        }
    );
    assert_eq!(t.recv_queue_len(), 0);
}

#[test]
fn unacceptable_segment_is_acked_and_dropped() {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 5000u32,
            payload: b"late",
            ..from_peer()
        }
    );
    recv!(t, to_peer());
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS - 10u32,
            payload: b"old",
            ..from_peer()
        }
    );
    recv!(t, to_peer());
    assert_eq!(t.recv_queue_len(), 0);
}

#[test]
fn zero_window_still_processes_ack() {
    let mut t = established();
    let fill = [1u8; WIN as usize];
    send!(
        t,
        TcpRepr {
            payload: &fill,
            ..from_peer()
        }
    );
    recv!(
        t,
        TcpRepr {
            ack: REMOTE_ISS + 1u32 + u32::from(WIN),
            window: 0,
            ..to_peer()
        }
    );
    t.send(b"q").unwrap();
    let _ = out_at(&mut t, T0);
    let seq = REMOTE_ISS + 1u32 + u32::from(WIN);
    send!(
        t,
        TcpRepr {
            seq,
            ack: LOCAL_ISS + 2u32,
            payload: b"more",
            ..from_peer()
        }
    );
    assert_eq!(t.send_queue_len(), 0); // the ACK was taken
    assert_eq!(t.recv_queue_len(), usize::from(WIN)); // the data was not
}

#[test]
fn out_of_order_data_is_sacked_and_reassembled() {
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
    send!(
        t,
        TcpRepr {
            options: TcpOptions {
                sack_permitted: true,
                ..mss_opt()
            },
            ..syn_ack_from_peer()
        }
    );
    let _ = out_at(&mut t, T0);
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 4u32,
            payload: b"def",
            ..from_peer()
        }
    );
    let ack = out_at(&mut t, T0).unwrap();
    assert_eq!(ack.ack, REMOTE_ISS + 1u32);
    assert_eq!(
        ack.options.sack_blocks[0],
        Some((REMOTE_ISS + 4u32, REMOTE_ISS + 7u32))
    );
    send!(
        t,
        TcpRepr {
            payload: b"abc",
            ..from_peer()
        }
    );
    assert_eq!(out_at(&mut t, T0).unwrap().ack, REMOTE_ISS + 7u32);
    let mut buf = [0u8; 8];
    assert_eq!(t.recv(&mut buf), Ok(6));
    assert_eq!(&buf[..6], b"abcdef");
}

#[test]
fn large_segment_of_64k_is_accepted() {
    let cfg = TcpConfig {
        rcv_buf: 1 << 20,
        window_scaling: true,
        ..config()
    };
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, cfg);
    let _ = out_at(&mut t, T0);
    send!(
        t,
        TcpRepr {
            options: TcpOptions {
                window_scale: Some(0),
                ..mss_opt()
            },
            ..syn_ack_from_peer()
        }
    );
    let _ = out_at(&mut t, T0);
    let big = vec![9u8; 65535];
    send!(
        t,
        TcpRepr {
            payload: &big,
            ..from_peer()
        }
    );
    assert_eq!(t.recv_queue_len(), 65535);
}

#[test]
fn paws_drops_old_timestamp() {
    let cfg = TcpConfig {
        timestamps: true,
        ..config()
    };
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, cfg);
    let _ = out_at(&mut t, T0);
    let ts = |v| TcpOptions {
        timestamps: Some((v, 1000)),
        ..TcpOptions::default()
    };
    send!(
        t,
        TcpRepr {
            options: TcpOptions {
                timestamps: Some((500, 1000)),
                ..mss_opt()
            },
            ..syn_ack_from_peer()
        }
    );
    let _ = out_at(&mut t, T0);
    send!(
        t,
        TcpRepr {
            options: ts(400),
            payload: b"old",
            ..from_peer()
        }
    );
    assert_eq!(t.recv_queue_len(), 0);
    assert!(out_at(&mut t, T0).is_some());
    send!(
        t,
        TcpRepr {
            options: ts(600),
            payload: b"new",
            ..from_peer()
        }
    );
    assert_eq!(t.recv_queue_len(), 3);
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

// --- Closing states.

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
fn garbage_segments_never_panic() {
    let mut r = super::sim::Rng::new(5);
    for fixture in [
        syn_sent as fn() -> Tcb,
        syn_received,
        established,
        fin_wait_1,
        close_wait,
        time_wait,
    ] {
        let mut t = fixture();
        let payload = [0u8; 100];
        for _ in 0..2000 {
            let x = r.next();
            let seg = TcpRepr {
                seq: SeqNum((x >> 32) as u32),
                ack: SeqNum(x as u32),
                flags: TcpFlags((r.next() & 0x3f) as u8),
                window: r.next() as u16,
                payload: &payload[..(r.next() % 100) as usize],
                ..from_peer()
            };
            send!(t, seg);
            let _ = out_at(&mut t, T0);
            if let Some(at) = t.poll_timeout() {
                t.handle_timeout(at);
            }
        }
    }
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
fn sack_blocks_take_room_from_data() {
    let mut t = Tcb::connect(
        T0,
        tuple(),
        LOCAL_ISS,
        TcpConfig {
            sack: true,
            timestamps: true,
            ..config()
        },
    );
    let _ = out_at(&mut t, T0);
    let opts = TcpOptions {
        sack_permitted: true,
        timestamps: Some((1, 1000)),
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
    let ts = TcpOptions {
        timestamps: Some((2, 1000)),
        ..TcpOptions::default()
    };
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 10u32,
            options: ts,
            payload: b"x",
            window: 65535,
            ..from_peer()
        }
    );
    let _ = out_at(&mut t, T0);
    t.send(&[0u8; 3000]).unwrap();
    let seg = out_at(&mut t, T0).unwrap();
    assert!(seg.options.sack_blocks[0].is_some());
    // MSS 1460 covers options and data: 1460 - 12 (timestamps) - 12 (one block).
    assert_eq!(seg.header_len() - 20 + seg.payload.len(), 1460);
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
    send!(t, sack(&[(1, 2)]));
    send!(t, sack(&[(3, 4), (1, 2)]));
    send!(t, sack(&[(3, 5), (1, 2)]));
    let r = out_at(&mut t, T0).unwrap();
    assert_eq!((r.seq, r.payload.len()), (seg(0), 1460));
    send!(t, sack(&[(3, 6), (1, 2)]));
    let r = out_at(&mut t, T0).unwrap();
    assert_eq!((r.seq, r.payload.len()), (seg(2), 1460));
    assert_eq!(t.info().sacked, 4);
}
