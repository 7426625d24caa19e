//! The stack's events for logs and traces (`trace.rs`): segments in and
//! out, each connection's state changes with their cause, and the stack's
//! own (a RST for a closed port), between two stacks.

use super::fixture::*;
use crate::stack::trace::{TraceEvent, TraceWhat};
use crate::stack::*;
use crate::tcp::{State, TcpEvent};
use crate::time::Duration;
use crate::wire::tcp::TcpFlags;
use std::net::SocketAddrV4;

fn take(s: &mut Stack) -> Vec<TraceEvent> {
    let mut v = Vec::new();
    assert_eq!(s.take_trace(&mut v), 0, "no event lost");
    v
}

fn states(ev: &[TraceEvent]) -> Vec<(State, State, &'static str)> {
    ev.iter()
        .filter_map(|e| match e.what {
            TraceWhat::Tcp(TcpEvent::State { from, to, cause }) => {
                Some((from, to, &*String::leak(cause.to_string())))
            }
            _ => None,
        })
        .collect()
}

/// Segments as `"out S"`, `"in S."`, ...
fn segs(ev: &[TraceEvent]) -> Vec<String> {
    ev.iter()
        .filter_map(|e| match e.what {
            TraceWhat::Seg(g) => {
                let mut f = String::new();
                for (flag, c) in [
                    (TcpFlags::SYN, 'S'),
                    (TcpFlags::FIN, 'F'),
                    (TcpFlags::RST, 'R'),
                    (TcpFlags::PSH, 'P'),
                    (TcpFlags::ACK, '.'),
                ] {
                    if g.flags.contains(flag) {
                        f.push(c);
                    }
                }
                Some(format!("{} {f}", if g.outgoing { "out" } else { "in" }))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn untraced_stack_records_nothing() {
    let mut p = Pair::new();
    let _l = listen(&mut p.b, 80, 16);
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
    p.run_until(Duration::from_secs(5), |p| {
        p.a.state(c).unwrap() == State::Established
    });
    assert!(take(&mut p.a).is_empty());
    assert!(take(&mut p.b).is_empty());
}

/// A connects and closes first; B accepts, reads EOF and closes: every
/// state change of both sides with its cause, in order, and the
/// handshake's segments. B closes at once, so its FIN carries the ACK of
/// A's (delayed for that, as Linux delays it) and A goes from FIN-WAIT-1
/// straight to TIME-WAIT.
#[test]
fn handshake_and_close_both_orders() {
    let mut p = Pair::new();
    p.a.set_tracing(true);
    p.b.set_tracing(true);
    let l = listen(&mut p.b, 80, 16);
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 80));
    p.run_until(Duration::from_secs(5), |p| {
        p.b.readiness(l).unwrap().readable
    });
    let (s, _) = p.b.accept(l).unwrap();
    assert_eq!(p.a.send(c, b"hello"), Ok(5));
    p.run_until(Duration::from_secs(1), |p| {
        p.b.readiness(s).unwrap().readable
    });
    assert_eq!(p.b.recv(s, &mut [0u8; 16], false), Ok(5));
    p.a.close(c);
    p.run_until(Duration::from_secs(1), |p| {
        p.b.readiness(s).unwrap().read_closed
    });
    p.b.close(s);
    p.exchange();
    p.run_until(Duration::from_secs(200), |p| p.a.socket_list().is_empty());

    let a = take(&mut p.a);
    assert_eq!(
        states(&a),
        [
            (State::Closed, State::SynSent, "connect"),
            (State::SynSent, State::Established, "rcvd SYN-ACK"),
            (State::Established, State::FinWait1, "close"),
            (State::FinWait1, State::TimeWait, "rcvd FIN and ACK of FIN"),
            (State::TimeWait, State::Closed, "2MSL timeout"),
        ]
    );
    assert_eq!(segs(&a)[..3], ["out S", "in S.", "out ."]);
    assert!(
        a.iter()
            .any(|e| matches!(e.what, TraceWhat::Tcp(TcpEvent::Timer(t)) if t == "time_wait"))
    );
    // Every event of A's names A's connection, ours first.
    assert!(
        a.iter()
            .all(|e| e.tuple.remote == SocketAddrV4::new(B, 80).into())
    );

    let b = take(&mut p.b);
    assert_eq!(
        states(&b),
        [
            (State::Listen, State::SynReceived, "rcvd SYN"),
            (State::SynReceived, State::Established, "rcvd ACK of SYN"),
            (State::Established, State::CloseWait, "rcvd FIN"),
            (State::CloseWait, State::LastAck, "close"),
            (State::LastAck, State::Closed, "rcvd ACK of FIN"),
        ]
    );
    assert_eq!(segs(&b)[..3], ["in S", "out S.", "in ."]);
    // The data segment, as B saw it.
    assert!(b.iter().any(|e| matches!(e.what,
        TraceWhat::Seg(g) if !g.outgoing && g.len == 5)));
    // Congestion control was recorded, cwnd at least one segment.
    assert!(a.iter().any(|e| matches!(e.what,
        TraceWhat::Tcp(TcpEvent::Cc(cc)) if cc.cwnd >= cc.mss && cc.mss > 0)));
}

#[test]
fn rst_for_a_closed_port_is_recorded_on_both_sides() {
    let mut p = Pair::new();
    p.a.set_tracing(true);
    p.b.set_tracing(true);
    let c = p.a.socket();
    let _ = p.a.connect(p.now, c, SocketAddrV4::new(B, 9));
    p.run_until(Duration::from_secs(5), |p| p.a.readiness(c).unwrap().error);
    let a = take(&mut p.a);
    assert_eq!(
        states(&a),
        [
            (State::Closed, State::SynSent, "connect"),
            (State::SynSent, State::Closed, "rcvd RST"),
        ]
    );
    assert_eq!(segs(&a), ["out S", "in R."]);
    let b = take(&mut p.b);
    assert!(b.iter().any(|e| matches!(
        e.what,
        TraceWhat::Stack(t) if t == "sent RST: no connection or listener"
    )));
    assert_eq!(segs(&b), ["in S", "out R."]);
}
