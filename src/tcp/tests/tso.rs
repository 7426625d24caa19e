//! Segment sizing with TSO (`TcpConfig::tso_max`): runs of whole MSS-sized
//! segments in one, within cwnd and the peer's window, and the bookkeeping
//! (RACK's records, segments sent) one wire segment at a time.

use super::harness::*;
use crate::tcp::*;
use crate::wire::tcp::{TcpOptions, TcpRepr};

const MSS: u16 = 1000;

/// ESTABLISHED with SACK, an MSS of 1000, the peer's window 65535 and
/// `tso_max` as given.
fn established_tso(tso_max: usize) -> Tcb {
    let cfg = TcpConfig {
        sack: true,
        snd_buf: 256 * 1024,
        tso_max,
        ..config()
    };
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, cfg);
    let _ = out_at(&mut t, T0);
    send!(
        t,
        TcpRepr {
            window: 65535,
            options: TcpOptions {
                mss: Some(MSS),
                sack_permitted: true,
                ..TcpOptions::default()
            },
            ..syn_ack_from_peer()
        }
    );
    let _ = out_at(&mut t, T0);
    assert_eq!(t.state(), State::Established);
    t
}

#[test]
fn tso_sends_whole_segments_up_to_cwnd_in_one() {
    let mut t = established_tso(65000);
    let cwnd = t.info().snd_cwnd as usize * usize::from(MSS);
    assert!(cwnd >= 4 * usize::from(MSS), "cwnd {cwnd}");
    let data = vec![7u8; 100_000];
    assert_eq!(t.send(&data), Ok(100_000));
    let segs_before = t.info().segs_out;
    let seg = out_at(&mut t, T0).unwrap();
    // One segment carries the whole congestion window, cut at the MSS by
    // the device; no more goes until an ACK.
    assert_eq!(seg.payload.len(), cwnd);
    assert_eq!(t.tso_segment_size(), usize::from(MSS));
    assert_eq!(seg.seq, LOCAL_ISS + 1u32);
    assert_eq!(out_at(&mut t, T0), None);
    // Counted as the segments the wire carries, each recorded for RACK.
    let n = cwnd / usize::from(MSS);
    assert_eq!(t.info().segs_out - segs_before, n as u32);
    assert_eq!(t.rack.recorded(), n);
    assert_eq!(t.info().unacked, n as u32);
}

#[test]
fn tso_leaves_a_short_tail_to_nagle() {
    let mut t = established_tso(65000);
    assert_eq!(t.send(&[1u8; 2500]), Ok(2500));
    let seg = out_at(&mut t, T0).unwrap();
    assert_eq!(seg.payload.len(), 2000);
    // The 500 left wait for the ACK, as Nagle wants.
    assert_eq!(out_at(&mut t, T0), None);

    let mut t = established_tso(65000);
    t.set_nodelay(true);
    assert_eq!(t.send(&[1u8; 2500]), Ok(2500));
    let seg = out_at(&mut t, T0).unwrap();
    assert_eq!(seg.payload.len(), 2500);
    assert_eq!(t.rack.recorded(), 3);
}

#[test]
fn without_tso_one_mss_per_segment() {
    let mut t = established_tso(0);
    assert_eq!(t.send(&[1u8; 5000]), Ok(5000));
    let seg = out_at(&mut t, T0).unwrap();
    assert_eq!(seg.payload.len(), usize::from(MSS));
}

#[test]
fn tso_respects_the_peers_window() {
    let mut t = established_tso(65000);
    // The peer closes its window to 3500: three whole segments fit.
    send!(
        t,
        TcpRepr {
            window: 3500,
            ..from_peer()
        }
    );
    assert_eq!(t.send(&[1u8; 10_000]), Ok(10_000));
    let seg = out_at(&mut t, T0).unwrap();
    assert_eq!(seg.payload.len(), 3000);
}

#[test]
fn lost_wire_segment_inside_a_tso_segment_is_retransmitted_alone() {
    let mut t = established_tso(65000);
    assert_eq!(t.send(&[3u8; 5000]), Ok(5000));
    t.set_nodelay(true);
    let seg = out_at(&mut t, T0).unwrap();
    assert_eq!(seg.payload.len(), 5000);
    // The second wire segment was lost; the peer SACKs the other three
    // after the first (three duplicate ACKs' worth of SACKed data).
    let at = T0 + crate::time::Duration::from_millis(10);
    let base = LOCAL_ISS + 1u32;
    for hi in [3000u32, 4000, 5000] {
        send!(
            t,
            at,
            TcpRepr {
                ack: base + 1000u32,
                window: 65535,
                options: TcpOptions {
                    sack_blocks: [Some((base + 2000u32, base + hi)), None, None, None],
                    ..TcpOptions::default()
                },
                ..from_peer()
            }
        );
    }
    let rexmit = out_at(&mut t, at).unwrap();
    assert_eq!(rexmit.seq, base + 1000u32);
    assert_eq!(rexmit.payload.len(), usize::from(MSS));
}
