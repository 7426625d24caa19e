//! Buffer autotuning (`tcp/autotune.rs`): the receive buffer grows with
//! what the application reads per round trip, the send buffer with cwnd,
//! each up to its ceiling, and not for a slow reader, a sender the network
//! limits, or once `SO_RCVBUF` / `SO_SNDBUF` is set.

use super::harness::*;
use crate::tcp::*;
use crate::time::{Duration, Instant};
use crate::wire::SeqNum;
use crate::wire::tcp::{TcpOptions, TcpRepr};

const START: usize = 64 * 1024;
const MAX: usize = 1 << 20;

/// ESTABLISHED with an autotuned buffer of 64 KiB that may grow to 1 MiB.
fn autotuned() -> Tcb {
    let cfg = TcpConfig {
        rcv_buf: START,
        rcv_buf_auto: true,
        rcv_buf_max: MAX,
        window_scaling: true,
        ..config()
    };
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, cfg);
    let syn = out_at(&mut t, T0).unwrap();
    assert_eq!(
        syn.options.window_scale,
        Some(5),
        "scaled for the most it may grow to (1 MiB >> 5 fits 16 bits)"
    );
    send!(t, scaled_syn_ack_from_peer());
    let _ = out_at(&mut t, T0);
    t
}

/// The peer sends `n` bytes from `seq` at `at`, in 1460-byte segments; the
/// application then reads `read` of what is queued.
fn round(t: &mut Tcb, seq: &mut SeqNum, n: usize, read: usize, at: Instant) {
    let data = vec![7u8; 1460];
    let mut left = n;
    while left > 0 {
        let len = left.min(1460);
        send!(
            t,
            at,
            TcpRepr {
                seq: *seq,
                payload: &data[..len],
                ..from_peer()
            }
        );
        *seq += len as u32;
        left -= len;
    }
    let mut buf = vec![0u8; read];
    let mut got = 0;
    while got < read {
        match t.recv(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    while out_at(t, at).is_some() {}
}

#[test]
fn a_reader_that_drains_the_window_each_round_trip_grows_the_buffer_to_its_ceiling() {
    let mut t = autotuned();
    let mut seq = REMOTE_ISS + 1u32;
    let mut at = T0;
    let mut sizes = Vec::new();
    for _ in 0..12 {
        at += Duration::from_millis(1);
        let window = t.rcv_wnd() as usize;
        round(&mut t, &mut seq, window, window, at);
        sizes.push(t.rx.capacity());
    }
    assert!(sizes[1] > START, "it grows: {sizes:?}");
    assert!(
        sizes.windows(2).all(|w| w[0] <= w[1]),
        "never shrinks: {sizes:?}"
    );
    assert_eq!(*sizes.last().unwrap(), MAX, "up to its ceiling: {sizes:?}");
    assert!(
        t.rcv_wnd() as usize > START,
        "and the window offered follows"
    );
}

#[test]
fn a_slow_reader_keeps_its_buffer() {
    let mut t = autotuned();
    let mut seq = REMOTE_ISS + 1u32;
    let mut at = T0;
    for _ in 0..20 {
        at += Duration::from_millis(1);
        round(&mut t, &mut seq, 4096, 4096, at);
    }
    assert_eq!(t.rx.capacity(), START);
}

#[test]
fn so_rcvbuf_stops_autotuning() {
    let mut t = autotuned();
    t.set_recv_buffer(START);
    let mut seq = REMOTE_ISS + 1u32;
    let mut at = T0;
    for _ in 0..12 {
        at += Duration::from_millis(1);
        let window = t.rcv_wnd() as usize;
        round(&mut t, &mut seq, window, window, at);
    }
    assert_eq!(t.rx.capacity(), START);
}

#[test]
fn by_default_the_syn_offers_the_scale_of_the_largest_buffer() {
    let cfg = TcpConfig {
        window_scaling: true,
        ..TcpConfig::default()
    };
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, cfg);
    let syn = out_at(&mut t, T0).unwrap();
    // 6 MiB (Linux's tcp_rmem[2]) >> 7 fits 16 bits: Linux offers 7 too.
    assert_eq!(syn.options.window_scale, Some(7));
}

/// ESTABLISHED with an autotuned send buffer of 16 KiB that may grow to
/// 256 KiB, to a peer with a large window.
fn sender() -> Tcb {
    let cfg = TcpConfig {
        snd_buf: 16 * 1024,
        snd_buf_auto: true,
        snd_buf_max: 256 * 1024,
        window_scaling: true,
        ..config()
    };
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, cfg);
    let _ = out_at(&mut t, T0);
    let syn_ack = TcpRepr {
        options: TcpOptions {
            window_scale: Some(8),
            ..mss_opt()
        },
        ..syn_ack_from_peer()
    };
    send!(t, syn_ack);
    let _ = out_at(&mut t, T0);
    t
}

/// The application fills the send buffer, everything that may go goes,
/// and the peer acknowledges all of it: `rounds` times. The send buffer's
/// size after each round.
fn sending_rounds(t: &mut Tcb, rounds: usize) -> Vec<usize> {
    let data = vec![1u8; 64 * 1024];
    let mut at = T0;
    let mut sizes = Vec::new();
    for _ in 0..rounds {
        at += Duration::from_millis(1);
        while matches!(t.send(&data), Ok(n) if n > 0) {}
        let mut ends = Vec::new();
        while let Some(seg) = out_at(t, at) {
            ends.push(seg.seq + seg.payload.len() as u32);
        }
        // An ACK every second segment, as a receiver sends them.
        for end in ends.iter().skip(1).step_by(2).chain(ends.last()) {
            send!(
                t,
                at,
                TcpRepr {
                    ack: *end,
                    window: 65535,
                    ..from_peer()
                }
            );
        }
        sizes.push(t.tx.capacity());
    }
    sizes
}

#[test]
fn a_sender_whose_cwnd_outgrows_its_buffer_grows_the_buffer() {
    let mut t = sender();
    let sizes = sending_rounds(&mut t, 12);
    assert!(sizes.iter().any(|&s| s > 16 * 1024), "it grows: {sizes:?}");
    assert!(
        sizes.windows(2).all(|w| w[0] <= w[1]),
        "never shrinks: {sizes:?}"
    );
    assert_eq!(
        *sizes.last().unwrap(),
        256 * 1024,
        "up to its ceiling: {sizes:?}"
    );
}

#[test]
fn so_sndbuf_stops_send_autotuning() {
    let mut t = sender();
    t.set_send_buffer(16 * 1024);
    let sizes = sending_rounds(&mut t, 12);
    assert!(sizes.iter().all(|&s| s == 16 * 1024), "{sizes:?}");
}

#[test]
fn a_buffer_already_more_than_cwnd_needs_does_not_grow() {
    // 10 segments of cwnd, 128 KiB of buffer: more than four times cwnd.
    let cfg = TcpConfig {
        snd_buf: 128 * 1024,
        snd_buf_auto: true,
        snd_buf_max: 1 << 20,
        ..config()
    };
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, cfg);
    let _ = out_at(&mut t, T0);
    send!(t, syn_ack_from_peer());
    let _ = out_at(&mut t, T0);
    while matches!(t.send(&[1u8; 4096]), Ok(n) if n > 0) {}
    let mut segs = Vec::new();
    while let Some(seg) = out_at(&mut t, T0) {
        segs.push(seg.seq + seg.payload.len() as u32);
    }
    // One segment acknowledged.
    send!(
        t,
        TcpRepr {
            ack: segs[0],
            ..from_peer()
        }
    );
    assert_eq!(t.tx.capacity(), 128 * 1024);
}
