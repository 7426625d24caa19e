//! The harness for driving one TCB segment by segment: constants, the
//! `from_peer`/`to_peer` templates edited with struct-update syntax, the
//! `send!`/`recv!`/`recv_nothing!` macros and one fixture per state.

use crate::tcp::{FourTuple, State, Tcb, TcpConfig};
use crate::time::Instant;
use crate::wire::SeqNum;
use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
use std::net::{Ipv4Addr, SocketAddrV4};

pub const LOCAL_PORT: u16 = 4000;
pub const REMOTE_PORT: u16 = 80;
pub const LOCAL_ISS: SeqNum = SeqNum(1_000_000);
/// Close to the wrap, so that modular arithmetic is exercised everywhere.
pub const REMOTE_ISS: SeqNum = SeqNum(0xffff_fff0);
pub const T0: Instant = Instant::from_millis(1000);
pub const WIN: u16 = 4096;

pub const ACK: TcpFlags = TcpFlags::ACK;
pub const SYN: TcpFlags = TcpFlags::SYN;
pub const FIN: TcpFlags = TcpFlags::FIN;
pub const RST: TcpFlags = TcpFlags::RST;
pub const PSH: TcpFlags = TcpFlags::PSH;

pub fn tuple() -> FourTuple {
    FourTuple::new(
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), LOCAL_PORT),
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), REMOTE_PORT),
    )
}

/// Small fixed buffers (as `SO_RCVBUF` and `SO_SNDBUF` make them: not
/// autotuned), no options.
pub fn config() -> TcpConfig {
    TcpConfig {
        rcv_buf: usize::from(WIN),
        rcv_buf_auto: false,
        snd_buf_auto: false,
        snd_buf: 16384,
        window_scaling: false,
        sack: false,
        timestamps: false,
        ..TcpConfig::default()
    }
}

/// What the peer sends us, in ESTABLISHED.
pub fn from_peer() -> TcpRepr<'static> {
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
pub fn to_peer() -> TcpRepr<'static> {
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

pub fn mss_opt() -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        ..TcpOptions::default()
    }
}

/// The next segment the TCB sends at `at` (its payload leaked: tests only).
pub fn out_at(tcb: &mut Tcb, at: Instant) -> Option<TcpRepr<'static>> {
    let mut scratch = vec![0u8; 65536];
    let seg = tcb.poll_transmit(at, &mut scratch)?;
    let payload: &'static [u8] = Box::leak(seg.payload.to_vec().into_boxed_slice());
    Some(TcpRepr { payload, ..seg })
}

#[allow(unused_macros)]
macro_rules! send {
    ($tcb:expr, $seg:expr) => {
        $tcb.handle_segment(T0, &$seg)
    };
    ($tcb:expr, $at:expr, $seg:expr) => {
        $tcb.handle_segment($at, &$seg)
    };
}

#[allow(unused_macros)]
macro_rules! recv {
    ($tcb:expr, $seg:expr) => {
        assert_eq!(out_at(&mut $tcb, T0), Some($seg), "state {}", $tcb.state())
    };
    ($tcb:expr, at $at:expr, $seg:expr) => {
        assert_eq!(out_at(&mut $tcb, $at), Some($seg), "state {}", $tcb.state())
    };
}

#[allow(unused_macros)]
macro_rules! recv_nothing {
    ($tcb:expr) => {
        assert_eq!(out_at(&mut $tcb, T0), None, "state {}", $tcb.state())
    };
}

pub fn syn_sent() -> Tcb {
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

pub fn syn_ack_from_peer() -> TcpRepr<'static> {
    TcpRepr {
        seq: REMOTE_ISS,
        flags: SYN | ACK,
        options: mss_opt(),
        ..from_peer()
    }
}

/// A SYN-ACK from a peer that offers window scaling with a shift of 0.
pub fn scaled_syn_ack_from_peer() -> TcpRepr<'static> {
    TcpRepr {
        options: TcpOptions {
            window_scale: Some(0),
            ..mss_opt()
        },
        ..syn_ack_from_peer()
    }
}

pub fn established() -> Tcb {
    let mut t = syn_sent();
    send!(t, syn_ack_from_peer());
    recv!(t, to_peer());
    assert_eq!(t.state(), State::Established);
    t
}

pub fn syn_from_peer() -> TcpRepr<'static> {
    TcpRepr {
        seq: REMOTE_ISS,
        ack: SeqNum(0),
        flags: SYN,
        options: mss_opt(),
        ..from_peer()
    }
}

pub fn syn_received() -> Tcb {
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

pub fn fin_wait_1() -> Tcb {
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

pub fn fin_wait_2() -> Tcb {
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

pub fn close_wait() -> Tcb {
    let mut t = established();
    send!(
        t,
        TcpRepr {
            flags: FIN | ACK,
            ..from_peer()
        }
    );
    // Its ACK waits for ours (our FIN, data) or `ato`.
    recv_nothing!(t);
    assert_eq!(t.state(), State::CloseWait);
    t
}

pub fn time_wait() -> Tcb {
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
