//! ESTABLISHED: data, and the acceptance rules of RFC 9293 §3.10.7.4, RFC 5961 and RFC 7323.

use super::harness::*;
use crate::tcp::*;
use crate::time::Duration;
use crate::wire::SeqNum;
use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};

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
fn writable_again_when_free_space_is_half_of_what_is_queued() {
    let mut t = established();
    // snd_buf 16384: fill it, then let the peer acknowledge what it gets,
    // a window (4096) at a time.
    assert_eq!(t.send(&[1u8; 20_000]), Ok(16384));
    assert!(!t.readiness().writable);
    let mut held_back = 0;
    while t.send_queue_len() > 0 {
        while out_at(&mut t, T0).is_some() {}
        let (_, nxt, _) = t.seq_vars();
        send!(
            t,
            TcpRepr {
                ack: nxt,
                ..from_peer()
            }
        );
        let queued = t.send_queue_len();
        let free = 16384 - queued;
        // Linux's sk_stream_is_writeable: free space >= half the queue.
        assert_eq!(
            t.readiness().writable,
            free >= queued / 2,
            "{free} free, {queued} queued"
        );
        if free > 0 && !t.readiness().writable {
            held_back += 1;
        }
    }
    assert!(held_back > 0, "some free space was not yet writability");
    assert!(t.readiness().writable);
}

#[test]
fn notsent_lowat_makes_writability_wait_for_unsent_bytes() {
    let mut t = established();
    t.set_notsent_lowat(1000);
    assert!(t.readiness().writable);
    assert_eq!(t.send(&[1u8; 3000]), Ok(3000));
    // 3000 bytes unsent: not writable, though the buffer has room.
    assert!(!t.readiness().writable);
    while out_at(&mut t, T0).is_some() {}
    // Two full segments went out; what is left unsent is under 1000.
    assert!(t.unsent() < 1000, "{} unsent", t.unsent());
    assert!(t.readiness().writable);
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

/// RFC 5961 §7, in the TCB alone (sans-IO, on `now`): one challenge ACK
/// per 500 ms per connection; the host's budget, when the stack says it is
/// spent, stops the next one; the events say which limit held.
#[test]
fn challenge_acks_are_throttled_per_connection_and_by_the_host_budget() {
    use crate::tcp::challenge::{AckEvents, INVALID_RATELIMIT};
    let mut t = established();
    let rst = TcpRepr {
        seq: REMOTE_ISS + 100u32,
        flags: RST,
        ..from_peer()
    };
    for _ in 0..10 {
        send!(t, rst);
        let _ = out_at(&mut t, T0);
    }
    let later = T0 + INVALID_RATELIMIT;
    send!(t, later, rst);
    recv!(t, at later, to_peer());
    assert_eq!(
        t.take_ack_events(),
        AckEvents {
            challenge_sent: 2,
            challenge_limited_conn: 9,
            ..AckEvents::default()
        }
    );
    let last = later + INVALID_RATELIMIT;
    t.set_challenge_ack_allowed(false);
    send!(t, last, rst);
    assert_eq!(out_at(&mut t, last), None);
    assert_eq!(t.take_ack_events().challenge_limited_host, 1);
    assert_eq!(t.state(), State::Established);
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

/// RFC 9293 §3.10.7.4: in-window data at RCV.NXT is accepted even when
/// the out-of-order assembler holds as many ranges as it may; the highest
/// range is pruned instead (Linux's tcp_prune_ofo_queue), and no longer
/// SACKed.
#[test]
fn in_order_data_is_taken_when_the_assembler_is_full() {
    let mut t = Tcb::connect(
        T0,
        tuple(),
        LOCAL_ISS,
        TcpConfig {
            sack: true,
            max_ooo_ranges: 2,
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
    for (off, byte) in [(3u32, b"d"), (7, b"h")] {
        send!(
            t,
            TcpRepr {
                seq: REMOTE_ISS + 1u32 + off,
                payload: byte,
                ..from_peer()
            }
        );
        assert_eq!(out_at(&mut t, T0).unwrap().ack, REMOTE_ISS + 1u32);
    }
    // Two ranges held: "ab" at RCV.NXT touches neither.
    send!(
        t,
        TcpRepr {
            payload: b"ab",
            ..from_peer()
        }
    );
    let ack = out_at(&mut t, T0).unwrap();
    assert_eq!(ack.ack, REMOTE_ISS + 3u32);
    assert_eq!(
        ack.options.sack_blocks,
        [
            Some((REMOTE_ISS + 4u32, REMOTE_ISS + 5u32)),
            None,
            None,
            None
        ],
        "the pruned range is no longer SACKed"
    );
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 3u32,
            payload: b"c",
            ..from_peer()
        }
    );
    assert_eq!(out_at(&mut t, T0).unwrap().ack, REMOTE_ISS + 5u32);
    let mut buf = [0u8; 8];
    assert_eq!(t.recv(&mut buf), Ok(4));
    assert_eq!(&buf[..4], b"abcd");
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
    send!(t, scaled_syn_ack_from_peer());
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

/// RFC 7323 §5.5: after more than 24 days idle, TS.Recent is invalid. The
/// peer's millisecond clock has moved past 2^31 since, so its timestamps
/// look older than TS.Recent; without the rule every segment is dropped.
#[test]
fn paws_forgets_ts_recent_after_24_days_idle() {
    let cfg = TcpConfig {
        timestamps: true,
        ..config()
    };
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, cfg);
    let _ = out_at(&mut t, T0);
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
    let idle = Duration::from_secs(25 * 24 * 3600);
    let later = T0 + idle;
    let val = 500u32.wrapping_add(idle.as_millis() as u32);
    assert!((val.wrapping_sub(500) as i32) < 0, "looks older");
    // Within 24 days the same timestamp is still refused.
    send!(
        t,
        T0 + Duration::from_secs(23 * 24 * 3600),
        TcpRepr {
            options: TcpOptions {
                timestamps: Some((val, 1000)),
                ..TcpOptions::default()
            },
            payload: b"early",
            ..from_peer()
        }
    );
    assert_eq!(t.recv_queue_len(), 0);
    let _ = out_at(&mut t, T0);
    send!(
        t,
        later,
        TcpRepr {
            options: TcpOptions {
                timestamps: Some((val, 1000)),
                ..TcpOptions::default()
            },
            payload: b"hello",
            ..from_peer()
        }
    );
    assert_eq!(t.recv_queue_len(), 5);
    let ack = out_at(&mut t, later).unwrap();
    assert_eq!(ack.ack, REMOTE_ISS + 6u32);
    assert_eq!(
        ack.options.timestamps.map(|x| x.1),
        Some(val),
        "TS.Recent reset"
    );
    // And the next segment from the new clock passes PAWS as usual.
    send!(
        t,
        later,
        TcpRepr {
            seq: REMOTE_ISS + 6u32,
            options: TcpOptions {
                timestamps: Some((val + 10, 1000)),
                ..TcpOptions::default()
            },
            payload: b"!",
            ..from_peer()
        }
    );
    assert_eq!(t.recv_queue_len(), 6);
}

#[test]
fn garbage_segments_never_panic() {
    let mut r = crate::rand::Rng::new(5);
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
            let x = r.next_u64();
            let seg = TcpRepr {
                seq: SeqNum((x >> 32) as u32),
                ack: SeqNum(x as u32),
                flags: TcpFlags((r.next_u64() & 0x3f) as u8),
                window: r.next_u64() as u16,
                payload: &payload[..(r.next_u64() % 100) as usize],
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
fn receiver_avoids_silly_window_updates() {
    let mut t = established();
    let fill = [1u8; WIN as usize];
    send!(
        t,
        TcpRepr {
            payload: &fill,
            ..from_peer()
        }
    );
    let full = out_at(&mut t, T0).unwrap();
    assert_eq!(full.window, 0);
    // Reading a little does not reopen the window (RFC 9293 §3.8.6.2.2)...
    let mut buf = [0u8; 4096];
    assert_eq!(t.recv(&mut buf[..100]), Ok(100));
    recv_nothing!(t);
    // ...reading at least min(buffer/2, MSS) does, with a window update.
    assert_eq!(t.recv(&mut buf[..2000]), Ok(2000));
    let update = out_at(&mut t, T0).unwrap();
    assert_eq!(update.window, 2100);
}

#[test]
fn shrinking_the_receive_buffer_never_retracts_the_offered_window() {
    let mut t = established();
    let _ = out_at(&mut t, T0);
    send!(
        t,
        TcpRepr {
            payload: &[7u8; 1000],
            ..from_peer()
        }
    );
    let ack = out_at(&mut t, T0).unwrap();
    assert_eq!(u32::from(ack.window), u32::from(WIN) - 1000);
    // SO_RCVBUF drops to 2 KiB: what was offered stays acceptable (RFC 9293
    // §3.8.6.2.1), so the peer's full window of data is still taken...
    t.set_recv_buffer(2048);
    let rest = vec![8u8; usize::from(WIN) - 1000];
    send!(
        t,
        TcpRepr {
            seq: REMOTE_ISS + 1001u32,
            payload: &rest,
            ..from_peer()
        }
    );
    let full = out_at(&mut t, T0).unwrap();
    assert_eq!(full.ack, REMOTE_ISS + 1u32 + u32::from(WIN));
    assert_eq!(full.window, 0);
    // ...and once the application reads it all, the new, smaller buffer
    // is what the window offers.
    let mut buf = vec![0u8; usize::from(WIN)];
    assert_eq!(t.recv(&mut buf), Ok(usize::from(WIN)));
    let update = out_at(&mut t, T0).unwrap();
    assert_eq!(update.window, 2048);
}

#[test]
fn window_scale_is_negotiated_and_applied() {
    let cfg = TcpConfig {
        rcv_buf: 1 << 20,
        window_scaling: true,
        ..config()
    };
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, cfg);
    let syn = out_at(&mut t, T0).unwrap();
    assert_eq!(syn.options.window_scale, Some(5)); // 1 MiB >> 5 fits 16 bits
    assert_eq!(syn.window, 65535); // never scaled in a SYN
    let opts = TcpOptions {
        window_scale: Some(2),
        ..mss_opt()
    };
    send!(
        t,
        TcpRepr {
            options: opts,
            ..syn_ack_from_peer()
        }
    );
    let ack = out_at(&mut t, T0).unwrap();
    assert_eq!(ack.window, ((1u32 << 20) >> 5) as u16);
    send!(
        t,
        TcpRepr {
            window: 1000,
            ..from_peer()
        }
    );
    assert_eq!(t.info().snd_wnd, 4000);
}

/// With window scaling, the field is rounded up (Linux's tcp_select_window):
/// rounding down would move the right edge left of what was offered
/// (RFC 7323 §2.4), and the peer could have sent up to it already. All
/// that is offered is then taken.
#[test]
fn scaled_window_never_moves_the_right_edge_left() {
    let cfg = TcpConfig {
        rcv_buf: 1 << 18,
        window_scaling: true,
        ..config()
    };
    let mut t = Tcb::connect(T0, tuple(), LOCAL_ISS, cfg);
    let syn = out_at(&mut t, T0).unwrap();
    assert_eq!(syn.options.window_scale, Some(3));
    send!(t, scaled_syn_ack_from_peer());
    let ack = out_at(&mut t, T0).unwrap();
    let mut edge = REMOTE_ISS + 1u32 + (u32::from(ack.window) << 3);
    assert_eq!(edge, REMOTE_ISS + 1u32 + (1u32 << 18));
    let mut seq = REMOTE_ISS + 1u32;
    for len in [1001usize, 3, 65535, 65535, 65535] {
        let data = vec![5u8; len];
        send!(
            t,
            TcpRepr {
                seq,
                payload: &data,
                ..from_peer()
            }
        );
        seq += len;
        let ack = out_at(&mut t, T0).unwrap();
        assert_eq!(ack.ack, seq, "taken whole");
        let new_edge = ack.ack + (u32::from(ack.window) << 3);
        assert!(
            !new_edge.before(edge),
            "right edge moved left: {new_edge:?} < {edge:?}"
        );
        edge = new_edge;
    }
    // The rest of the offer, to the last byte, is taken too.
    let rest = vec![6u8; edge.since(seq) as usize];
    send!(
        t,
        TcpRepr {
            seq,
            payload: &rest,
            ..from_peer()
        }
    );
    let ack = out_at(&mut t, T0).unwrap();
    assert_eq!(ack.ack, edge);
    assert_eq!(ack.window, 0);
}

/// RFC 7661 §4.1 (Linux's tcp_is_cwnd_limited): an application-limited
/// sender, one segment at a time, must not grow its window with every ACK,
/// or it would burst a huge window when data finally comes.
#[test]
fn application_limited_sender_does_not_grow_cwnd() {
    let mut t = established();
    let initial = t.info().snd_cwnd;
    let mut seq = LOCAL_ISS + 1u32;
    let chunk = [7u8; 1000];
    for i in 0..200u32 {
        assert_eq!(t.send(&chunk), Ok(1000));
        let at = T0 + crate::time::Duration::from_millis(u64::from(i) * 10);
        let seg = out_at(&mut t, at).unwrap_or_else(|| panic!("segment {i} did not go out"));
        assert_eq!((seg.seq, seg.payload.len()), (seq, 1000));
        seq += 1000u32;
        send!(
            t,
            at,
            TcpRepr {
                ack: seq,
                ..from_peer()
            }
        );
    }
    assert_eq!(
        t.info().snd_cwnd,
        initial,
        "one segment in flight at a time never fills the window"
    );
}

/// Before any loss, `tcpi_snd_ssthresh` reads Linux's
/// `TCP_INFINITE_SSTHRESH` (0x7fffffff), which `ss -i` leaves out; it
/// used to read u32::MAX divided by the MSS, a number that looked real.
#[test]
fn ssthresh_before_any_loss_reads_as_infinite() {
    let t = established();
    assert_eq!(t.info().snd_ssthresh, 0x7fff_ffff);
}
