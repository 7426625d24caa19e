//! The events a traced TCB records (`event.rs`): state changes with their
//! cause, timers that fired, congestion-control changes.

use super::harness::*;
use crate::tcp::*;
use crate::time::Duration;
use crate::wire::SeqNum;
use crate::wire::tcp::TcpRepr;

fn traced() -> TcpConfig {
    TcpConfig {
        trace: true,
        ..config()
    }
}

/// The events since the last call, states as `(from, to, cause)`.
fn take(t: &mut Tcb) -> Vec<TcpEvent> {
    let mut v = Vec::new();
    t.take_events(&mut v);
    v
}

fn states(events: &[TcpEvent]) -> Vec<(State, State, &'static str)> {
    events
        .iter()
        .filter_map(|e| match *e {
            TcpEvent::State { from, to, cause } => {
                Some((from, to, &*String::leak(cause.to_string())))
            }
            _ => None,
        })
        .collect()
}

fn timers(events: &[TcpEvent]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match *e {
            TcpEvent::Timer(name) => Some(&*String::leak(name.to_string())),
            _ => None,
        })
        .collect()
}

fn ccs(events: &[TcpEvent]) -> Vec<CcSample> {
    events
        .iter()
        .filter_map(|e| match *e {
            TcpEvent::Cc(c) => Some(c),
            _ => None,
        })
        .collect()
}

fn traced_established() -> Tcb {
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, traced());
    let _syn = out_at(&mut t, T0).unwrap();
    send!(t, syn_ack_from_peer());
    let _ack = out_at(&mut t, T0).unwrap();
    assert_eq!(t.state(), State::Established);
    t
}

#[test]
fn untraced_tcb_records_nothing() {
    let mut t = established();
    assert!(!t.is_traced());
    t.close();
    assert!(take(&mut t).is_empty());
}

/// Active open, then we close first: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT,
/// and CLOSED when the 2×MSL timer fires.
#[test]
fn active_open_and_active_close() {
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, traced());
    assert_eq!(
        states(&take(&mut t)),
        [(State::Closed, State::SynSent, "connect")]
    );
    let _syn = out_at(&mut t, T0).unwrap();
    send!(t, syn_ack_from_peer());
    let ev = take(&mut t);
    assert_eq!(
        states(&ev),
        [(State::SynSent, State::Established, "rcvd SYN-ACK")]
    );
    let cc = ccs(&ev);
    assert_eq!(cc.len(), 1);
    assert_eq!(cc[0].ca_state, "open");
    assert_eq!(cc[0].ssthresh, u32::MAX);
    assert!(cc[0].cwnd >= cc[0].mss);
    let _ack = out_at(&mut t, T0).unwrap();
    t.close();
    assert_eq!(
        states(&take(&mut t)),
        [(State::Established, State::FinWait1, "close")]
    );
    let _fin = out_at(&mut t, T0).unwrap();
    send!(
        t,
        TcpRepr {
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    assert_eq!(
        states(&take(&mut t)),
        [(State::FinWait1, State::FinWait2, "rcvd ACK of FIN")]
    );
    send!(
        t,
        TcpRepr {
            flags: FIN | ACK,
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    assert_eq!(
        states(&take(&mut t)),
        [(State::FinWait2, State::TimeWait, "rcvd FIN")]
    );
    let at = t.poll_timeout().unwrap();
    t.handle_timeout(at);
    let ev = take(&mut t);
    assert_eq!(timers(&ev), ["time_wait"]);
    assert_eq!(
        states(&ev),
        [(State::TimeWait, State::Closed, "2MSL timeout")]
    );
}

/// Passive open, then the peer closes first: CLOSE-WAIT, LAST-ACK,
/// CLOSED on the ACK of our FIN.
#[test]
fn passive_open_and_passive_close() {
    let mut t = Tcb::accept_syn(T0, tuple(), LOCAL_ISS, &syn_from_peer(), traced()).unwrap();
    assert_eq!(
        states(&take(&mut t)),
        [(State::Listen, State::SynReceived, "rcvd SYN")]
    );
    let _syn_ack = out_at(&mut t, T0).unwrap();
    send!(t, from_peer());
    assert_eq!(
        states(&take(&mut t)),
        [(State::SynReceived, State::Established, "rcvd ACK of SYN")]
    );
    send!(
        t,
        TcpRepr {
            flags: FIN | ACK,
            ..from_peer()
        }
    );
    assert_eq!(
        states(&take(&mut t)),
        [(State::Established, State::CloseWait, "rcvd FIN")]
    );
    // The FIN's ACK waits (`ato`) for our FIN to carry it.
    assert_eq!(out_at(&mut t, T0), None);
    t.close();
    assert_eq!(
        states(&take(&mut t)),
        [(State::CloseWait, State::LastAck, "close")]
    );
    let _fin = out_at(&mut t, T0).unwrap();
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 2u32,
            ack: LOCAL_ISS + 2u32,
            ..from_peer()
        }
    );
    assert_eq!(
        states(&take(&mut t)),
        [(State::LastAck, State::Closed, "rcvd ACK of FIN")]
    );
}

#[test]
fn rst_received_and_abort() {
    let mut t = traced_established();
    take(&mut t);
    send!(
        t,
        TcpRepr {
            flags: RST,
            ack: SeqNum(0),
            ..from_peer()
        }
    );
    assert_eq!(
        states(&take(&mut t)),
        [(State::Established, State::Closed, "rcvd RST")]
    );

    let mut t = traced_established();
    take(&mut t);
    t.abort();
    assert_eq!(
        states(&take(&mut t)),
        [(State::Established, State::Closed, "abort")]
    );
}

/// A close with unread data resets: one state change, named for the close.
#[test]
fn close_with_unread_data() {
    let mut t = traced_established();
    send!(
        t,
        TcpRepr {
            payload: b"unread",
            ..from_peer()
        }
    );
    take(&mut t);
    t.close();
    assert_eq!(
        states(&take(&mut t)),
        [(State::Established, State::Closed, "close with unread data")]
    );
}

/// An RTO fires: the timer event, and cwnd down to the loss window in
/// the "loss" state; after all retries, CLOSED with cause "timeout".
#[test]
fn rto_fires_and_times_out() {
    let mut t = traced_established();
    t.send(b"data").unwrap();
    let _ = out_at(&mut t, T0);
    let before = t.cc_sample();
    take(&mut t);
    let at = t.poll_timeout().unwrap();
    assert_eq!(at - T0, Duration::from_millis(200));
    t.handle_timeout(at);
    let ev = take(&mut t);
    assert_eq!(timers(&ev), ["rto"]);
    assert!(states(&ev).is_empty());
    let cc = ccs(&ev);
    assert_eq!(cc.len(), 1);
    assert_eq!(cc[0].ca_state, "loss");
    assert!(cc[0].cwnd < before.cwnd, "{:?} then {:?}", before, cc[0]);
    assert_eq!(cc[0].rto_us, 400_000);
    loop {
        let _ = out_at(&mut t, at);
        let Some(at) = t.poll_timeout() else { break };
        t.handle_timeout(at);
        if t.state() == State::Closed {
            break;
        }
    }
    let ev = take(&mut t);
    assert_eq!(
        states(&ev),
        [(State::Established, State::Closed, "timeout")]
    );
}
