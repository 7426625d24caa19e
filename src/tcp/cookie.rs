//! SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, the
//! SYN-ACK's ISN carries what the connection needs, and the listener keeps
//! no state. The 32 bits, as in the classic scheme:
//!
//! ```text
//!  31      27 26  24 23                        0
//! +----------+------+---------------------------+
//! | t mod 32 | MSS  | hash(secret, 4-tuple,     |
//! | (5 bits) | index|   t, MSS index, peer ISN) |
//! +----------+------+---------------------------+
//! ```
//!
//! `t` counts 64-second periods; a cookie is valid in its own period and the
//! next, so it lives between 64 and 128 s. The hash is SipHash-2-4 (see
//! [`super::isn`]) under the stack's secret, truncated to 24 bits; it covers
//! the MSS index, so neither the time nor the MSS bits can be changed
//! without the hash failing. The peer's ISN is in the hash too: the ACK that
//! returns the cookie must continue the SYN that got it.
//!
//! A cookie carries only an MSS (rounded down to an entry of [`MSS_TABLE`]).
//! When the SYN offers timestamps, the SYN-ACK's TSval carries the rest in
//! its low 5 bits, as Linux does (see [`ts_encode`]): the peer's window
//! scale and SACK-permitted, which the peer echoes back in its ACK's TSecr.
//! Without timestamps a cookie connection has neither window scaling nor
//! SACK: the SYN-ACK does not offer them. The TSval's clock is the one the
//! connection will have: milliseconds plus the offset the stack derives
//! from the 4-tuple ([`super::isn::ts_offset`]), so the TCB rebuilt from
//! the cookie goes on from the SYN-ACK's TSval.

use super::isn::siphash24;
use super::tcb::MAX_WSCALE;
use super::{FourTuple, State, Tcb, TcpConfig};
use crate::time::{Duration, Instant};
use crate::wire::SeqNum;
use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};

/// The MSS values a cookie can encode, by index (Linux's `msstab`).
pub const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];

/// Seconds in one period of the cookie clock.
pub const PERIOD_SECS: u64 = 64;

/// The longest a cookie stays valid: it is accepted in its own period and
/// the next.
pub const LIFETIME: Duration = Duration::from_secs(2 * PERIOD_SECS);

fn period(now: Instant) -> u32 {
    (now.total_micros() / 1_000_000 / PERIOD_SECS) as u32
}

fn hash(secret: [u8; 16], tuple: &FourTuple, t: u32, mss_index: u8, peer_isn: SeqNum) -> u32 {
    let mut msg = tuple.hash_input(b"cookie");
    msg.extend_from_slice(&t.to_be_bytes());
    msg.push(mss_index);
    msg.extend_from_slice(&peer_isn.0.to_be_bytes());
    (siphash24(secret, &msg) as u32) & HASH_MASK
}

/// Where the period counter `t mod 32` sits in a cookie (bits 27..=31).
const T_SHIFT: u32 = 27;
/// `t mod 32`: the five bits of the period counter a cookie keeps.
const T_MASK: u32 = 0x1f;
/// Where the MSS index sits in a cookie (bits 24..=26).
const MSS_SHIFT: u32 = 24;
/// The three bits of the MSS index.
const MSS_MASK: u8 = 0x7;
/// The 24 bits of the hash.
const HASH_MASK: u32 = 0x00ff_ffff;

/// The low bits of a cookie SYN-ACK's TSval that carry the peer's options
/// ([`ts_encode`]): bits 0..=3 the window scale, bit 4 SACK-permitted.
pub const TS_BITS: u32 = 0x1f;
/// The window-scale bits of [`TS_BITS`]; all set: no window scaling.
const TS_WSCALE_MASK: u32 = 0xf;
/// The SACK-permitted bit of [`TS_BITS`].
const TS_SACK_BIT: u32 = 0x10;
/// A cookie SYN-ACK's TSval is less than this many ticks (ms) behind the
/// clock it was taken from ([`ts_encode`]).
pub const TS_LAG_MAX: u32 = 2 * (TS_BITS + 1);

/// The index in [`MSS_TABLE`] of the largest entry not above `mss` (the
/// peer's MSS option, or 536 without one), so a cookie never promises more
/// than the peer offered.
pub fn mss_index(mss: Option<u16>) -> u8 {
    let mss = mss.unwrap_or(MSS_TABLE[0]);
    MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0) as u8
}

/// The TSval of a cookie SYN-ACK: `tsval` with its low 5 bits replaced by
/// the peer's window scale (bits 0..=3: 0 to 14, 15 for none) and
/// SACK-permitted (bit 4), moved back by 32 when that would put it ahead
/// of `tsval`. It is less than 64 ms behind our clock, never ahead, so
/// later TSvals still grow from it.
pub fn ts_encode(tsval: u32, wscale: Option<u8>, sack: bool) -> u32 {
    let wscale = wscale.map_or(TS_WSCALE_MASK, |w| u32::from(w.min(MAX_WSCALE)));
    let bits = if sack { TS_SACK_BIT } else { 0 } | wscale;
    let v = (tsval & !TS_BITS) | bits;
    if (tsval.wrapping_sub(v) as i32) < 0 {
        v.wrapping_sub(TS_BITS + 1)
    } else {
        v
    }
}

/// What [`ts_encode`] put in a TSval, read from the TSecr that echoes it:
/// the peer's window scale and SACK-permitted.
pub fn ts_decode(tsecr: u32) -> (Option<u8>, bool) {
    let w = tsecr & TS_WSCALE_MASK;
    (
        (w != TS_WSCALE_MASK).then_some(w as u8),
        tsecr & TS_SACK_BIT != 0,
    )
}

/// The cookie, to be our ISS, for a SYN with sequence number `peer_isn` on
/// `tuple` at `now`, encoding the MSS of [`MSS_TABLE`]`[mss_index]`.
pub fn encode(
    secret: [u8; 16],
    now: Instant,
    tuple: &FourTuple,
    peer_isn: SeqNum,
    mss_index: u8,
) -> SeqNum {
    let t = period(now);
    let m = mss_index & MSS_MASK;
    SeqNum(
        ((t & T_MASK) << T_SHIFT)
            | (u32::from(m) << MSS_SHIFT)
            | hash(secret, tuple, t, m, peer_isn),
    )
}

/// Checks `cookie` (an ACK's acknowledgment number less one) for an ACK
/// with sequence number `peer_isn + 1`. Returns the MSS it encodes when it
/// was made on `tuple` under `secret` in the current or the previous period.
pub fn validate(
    secret: [u8; 16],
    now: Instant,
    tuple: &FourTuple,
    peer_isn: SeqNum,
    cookie: SeqNum,
) -> Option<u16> {
    let now_t = period(now);
    let age = now_t.wrapping_sub(cookie.0 >> T_SHIFT) & T_MASK;
    if age > 1 {
        return None;
    }
    let t = now_t.wrapping_sub(age);
    let m = (cookie.0 >> MSS_SHIFT) as u8 & MSS_MASK;
    let mss = *MSS_TABLE.get(usize::from(m))?;
    (cookie.0 & HASH_MASK == hash(secret, tuple, t, m, peer_isn)).then_some(mss)
}

impl Tcb {
    /// The SYN-ACK a listener whose SYN queue is full sends for `syn`, with
    /// ISS `cookie` (see [`encode`]), keeping no state. The SYN's MSS
    /// is rounded down to what the cookie encodes. With timestamps, window
    /// scaling and SACK are offered as for any SYN, and the TSval carries
    /// what the peer offered ([`ts_encode`]); without them,
    /// neither is offered, since nothing would remember it. Returns None
    /// when `syn` is not a plain SYN.
    pub fn syn_cookie_reply(
        now: Instant,
        tuple: FourTuple,
        cookie: SeqNum,
        syn: &TcpRepr,
        config: TcpConfig,
    ) -> Option<TcpRepr<'static>> {
        let o = &syn.options;
        let ts = config.timestamps && o.timestamps.is_some();
        let mss = MSS_TABLE[usize::from(mss_index(o.mss))];
        let mut stateless = *syn;
        stateless.options = TcpOptions {
            mss: Some(mss),
            window_scale: o.window_scale.filter(|_| ts),
            sack_permitted: ts && o.sack_permitted,
            timestamps: o.timestamps,
            ..TcpOptions::default()
        };
        let mut tcb = Tcb::accept_syn(now, tuple, cookie, &stateless, config)?;
        let wscale = (tcb.config.window_scaling && ts)
            .then_some(o.window_scale)
            .flatten();
        let sack = tcb.sack_ok;
        let r = tcb.poll_transmit(now, &mut [])?;
        let mut options = r.options;
        if let Some((val, ecr)) = options.timestamps {
            options.timestamps = Some((ts_encode(val, wscale, sack), ecr));
        }
        Some(TcpRepr {
            src_port: r.src_port,
            dst_port: r.dst_port,
            seq: r.seq,
            ack: r.ack,
            flags: r.flags,
            window: r.window,
            urgent: r.urgent,
            options,
            payload: &[],
        })
    }

    /// Completes a handshake the listener answered with a SYN cookie: `ack`
    /// acknowledges `cookie` (already validated, encoding the peer's `mss`).
    /// Rebuilds the TCB the SYN would have made, as if its SYN-ACK had been
    /// sent: the MSS; with timestamps, the window scale and SACK-permitted
    /// that `ack`'s TSecr echoes ([`ts_decode`]); without,
    /// no window scaling and no SACK. Then `ack` moves it to ESTABLISHED,
    /// with any data or FIN it carries. Returns None when `ack` does not
    /// complete the handshake.
    pub fn establish_from_cookie(
        now: Instant,
        tuple: FourTuple,
        cookie: SeqNum,
        ack: &TcpRepr,
        mss: u16,
        config: TcpConfig,
    ) -> Option<Tcb> {
        let f = ack.flags;
        if !f.contains(TcpFlags::ACK)
            || f.contains(TcpFlags::SYN)
            || f.contains(TcpFlags::RST)
            || ack.ack != cookie + 1u32
        {
            return None;
        }
        let (window_scale, sack_permitted) = match ack.options.timestamps {
            Some((_, ecr)) if config.timestamps => ts_decode(ecr),
            _ => (None, false),
        };
        let syn = TcpRepr {
            seq: ack.seq - 1u32,
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            options: TcpOptions {
                mss: Some(mss),
                window_scale,
                sack_permitted,
                timestamps: ack.options.timestamps.map(|(val, _)| (val, 0)),
                ..TcpOptions::default()
            },
            payload: &[],
            ..*ack
        };
        let mut tcb = Tcb::new(now, tuple, cookie, config, State::SynReceived);
        tcb.take_syn(&syn);
        // Our SYN-ACK went out, from the listener. Its TSval lost its low
        // 5 bits to the options: its echo gives no RTT sample, nor does
        // any echo of a TSval that may be older than it.
        tcb.snd_nxt = cookie + 1u32;
        tcb.snd_max = tcb.snd_nxt;
        if let (true, Some((_, ecr))) = (tcb.ts_ok, ack.options.timestamps) {
            tcb.ts_rexmit_floor = Some((ecr & !TS_BITS).wrapping_add(TS_LAG_MAX));
        }
        tcb.handle_segment(now, ack);
        (!matches!(tcb.state, State::SynReceived | State::Closed)).then_some(tcb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{State, Tcb, TcpConfig};
    use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
    use std::net::{Ipv4Addr, SocketAddrV4};

    const KEY: [u8; 16] = [9; 16];
    const ISN: SeqNum = SeqNum(0xdead_beef);

    fn tuple(port: u16) -> FourTuple {
        FourTuple::new(
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), port),
        )
    }

    fn at(secs: u64) -> Instant {
        Instant::from_millis(secs * 1000)
    }

    #[test]
    fn a_cookie_validates_in_its_period_and_the_next() {
        let t = tuple(40000);
        let c = encode(KEY, at(1000), &t, ISN, 3);
        assert_eq!(validate(KEY, at(1000), &t, ISN, c), Some(1460));
        // 1000 s is in period 15 (960..1024); period 16 still accepts it.
        assert_eq!(validate(KEY, at(1087), &t, ISN, c), Some(1460));
        assert_eq!(validate(KEY, at(1088), &t, ISN, c), None, "expired");
        // Thirty-two periods later the 5-bit counter wraps: still expired,
        // because the hash covers the full counter.
        assert_eq!(validate(KEY, at(1000 + 32 * 64), &t, ISN, c), None);
        // Never valid before it was made.
        assert_eq!(validate(KEY, at(900), &t, ISN, c), None);
    }

    #[test]
    fn a_cookie_is_bound_to_tuple_key_and_peer_isn() {
        let t = tuple(40000);
        let c = encode(KEY, at(5), &t, ISN, 2);
        assert_eq!(validate(KEY, at(5), &tuple(40001), ISN, c), None);
        assert_eq!(validate([8; 16], at(5), &t, ISN, c), None);
        assert_eq!(validate(KEY, at(5), &t, ISN + 1u32, c), None);
    }

    #[test]
    fn tampering_with_any_bit_is_detected() {
        let t = tuple(40000);
        let c = encode(KEY, at(5), &t, ISN, 1);
        for bit in 0..32 {
            let bad = SeqNum(c.0 ^ (1 << bit));
            assert_eq!(validate(KEY, at(5), &t, ISN, bad), None, "bit {bit}");
        }
    }

    fn syn(ts: bool) -> TcpRepr<'static> {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: ISN,
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: 64240,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1448),
                window_scale: Some(7),
                sack_permitted: true,
                timestamps: ts.then_some((1000, 0)),
                ..TcpOptions::default()
            },
            payload: &[],
        }
    }

    /// A cookie SYN-ACK for a SYN with or without timestamps, and the TCB
    /// its ACK (carrying "GET") makes.
    fn cookie_handshake(ts: bool) -> (SeqNum, TcpRepr<'static>, Tcb) {
        let t = tuple(40000);
        let cookie = encode(KEY, at(5), &t, ISN, mss_index(Some(1448)));
        let reply = Tcb::syn_cookie_reply(at(5), t, cookie, &syn(ts), TcpConfig::default())
            .expect("a SYN-ACK");
        let ack = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: ISN + 1u32,
            ack: reply.seq + 1u32,
            flags: TcpFlags::ACK,
            window: 502,
            urgent: 0,
            options: TcpOptions {
                timestamps: reply.options.timestamps.map(|(val, _)| (1010, val)),
                ..TcpOptions::default()
            },
            payload: b"GET",
        };
        let later = Instant::from_millis(5010);
        let mss = validate(KEY, later, &t, ack.seq - 1u32, ack.ack - 1u32).expect("valid");
        let tcb =
            Tcb::establish_from_cookie(later, t, ack.ack - 1u32, &ack, mss, TcpConfig::default())
                .expect("established");
        (cookie, reply, tcb)
    }

    #[test]
    fn with_timestamps_a_cookie_connection_keeps_window_scale_and_sack() {
        let (cookie, reply, mut tcb) = cookie_handshake(true);
        assert_eq!(reply.flags, TcpFlags::SYN | TcpFlags::ACK);
        assert_eq!((reply.seq, reply.ack), (cookie, ISN + 1u32));
        assert!(reply.options.window_scale.is_some());
        assert!(reply.options.sack_permitted);
        assert!(reply.options.timestamps.is_some());
        assert_eq!(tcb.state(), State::Established);
        let info = tcb.info();
        assert_eq!(info.options, 7, "timestamps, SACK, window scale");
        assert_eq!(info.snd_wscale, 7);
        assert_eq!(Some(info.rcv_wscale), reply.options.window_scale);
        assert_eq!(tcb.snd_mss, 1440, "1448 rounded down to the table");
        assert_eq!(tcb.snd_wnd, 502 << 7);
        let mut buf = [0u8; 8];
        assert_eq!(tcb.recv(&mut buf), Ok(3));
        assert_eq!(&buf[..3], b"GET");
    }

    #[test]
    fn without_timestamps_a_cookie_connection_has_no_window_scale_or_sack() {
        let (_, reply, tcb) = cookie_handshake(false);
        assert_eq!(reply.options.window_scale, None);
        assert!(!reply.options.sack_permitted);
        assert_eq!(reply.options.timestamps, None);
        assert_eq!(reply.options.mss, Some(1460), "we still offer ours");
        assert_eq!(tcb.state(), State::Established);
        let info = tcb.info();
        assert_eq!((info.options, info.snd_wscale, info.rcv_wscale), (0, 0, 0));
        assert_eq!(tcb.snd_wnd, 502);
    }

    #[test]
    fn timestamp_bits_carry_window_scale_and_sack() {
        for now in [0x1234_5678, 0x1234_5660, 0x1234_567f, 5] {
            for ws in [None, Some(0), Some(7), Some(14)] {
                for sack in [false, true] {
                    let v = ts_encode(now, ws, sack);
                    let behind = now.wrapping_sub(v);
                    assert!(behind < 64, "{now:#x} {v:#x}");
                    assert_eq!(ts_decode(v), (ws, sack));
                }
            }
        }
        // RFC 7323 §2.3: a shift above 14 is taken as 14.
        assert_eq!(ts_decode(ts_encode(77, Some(15), false)), (Some(14), false));
    }

    #[test]
    fn mss_index_rounds_down_and_round_trips() {
        assert_eq!(mss_index(None), 0);
        assert_eq!(mss_index(Some(100)), 0);
        assert_eq!(mss_index(Some(536)), 0);
        assert_eq!(mss_index(Some(1299)), 0);
        assert_eq!(mss_index(Some(1300)), 1);
        assert_eq!(mss_index(Some(1448)), 2);
        assert_eq!(mss_index(Some(1460)), 3);
        assert_eq!(mss_index(Some(9000)), 3);
        let t = tuple(1);
        for (i, &mss) in MSS_TABLE.iter().enumerate() {
            let c = encode(KEY, at(77), &t, ISN, i as u8);
            assert_eq!(validate(KEY, at(77), &t, ISN, c), Some(mss));
        }
    }
}
