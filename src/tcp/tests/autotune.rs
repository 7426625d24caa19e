//! Receive-buffer autotuning (`tcp/autotune.rs`): the buffer grows with
//! what the application reads per round trip, up to its ceiling, and not
//! for a slow reader or once `SO_RCVBUF` is set.

use super::harness::*;
use crate::tcp::*;
use crate::time::{Duration, Instant};
use crate::wire::SeqNum;
use crate::wire::tcp::TcpRepr;

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
