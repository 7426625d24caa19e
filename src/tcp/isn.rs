//! Initial sequence numbers, RFC 6528: `ISN = M + F(localip, localport,
//! remoteip, remoteport, secretkey)`, where M is a 4 µs clock and F is
//! SipHash-2-4 keyed with a 128-bit secret the runtime draws at start.
//! The clock keeps ISNs of successive incarnations of one 4-tuple increasing
//! (RFC 9293 §3.4.1); the keyed hash makes them unpredictable from outside.

use super::FourTuple;
use crate::time::Instant;
use crate::wire::SeqNum;

/// SipHash-2-4 (Aumasson and Bernstein, 2012) of `data` under `key`.
pub fn siphash24(key: [u8; 16], data: &[u8]) -> u64 {
    let k0 = u64::from_le_bytes(key[..8].try_into().unwrap_or([0; 8]));
    let k1 = u64::from_le_bytes(key[8..].try_into().unwrap_or([0; 8]));
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let compress = |v: &mut [u64; 4], m: u64| {
        v[3] ^= m;
        round(v);
        round(v);
        v[0] ^= m;
    };
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        compress(&mut v, u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    last[7] = data.len() as u8;
    compress(&mut v, u64::from_le_bytes(last));
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// The ISN for a new connection on `tuple` at `now` (RFC 6528 §3).
pub fn isn(secret: [u8; 16], now: Instant, tuple: &FourTuple) -> SeqNum {
    let msg = tuple.hash_input(b"");
    let f = siphash24(secret, &msg) as u32;
    let m = (now.total_micros() / 4) as u32;
    SeqNum(m.wrapping_add(f))
}

/// The offset added to a connection's millisecond clock to make its TSvals
/// (RFC 7323 §5.4 recommends a keyed hash of the 4-tuple; Linux's
/// `secure_tcp_ts_off` hashes the address pair). Fixed for a 4-tuple, so
/// a new incarnation's TSvals still grow from the old one's (PAWS across
/// TIME-WAIT, RFC 6191); unrelated across 4-tuples and to the ISN, which
/// hashes the same tuple under another domain.
pub fn ts_offset(secret: [u8; 16], tuple: &FourTuple) -> u32 {
    let msg = tuple.hash_input(b"tsoffset");
    siphash24(secret, &msg) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    fn key() -> [u8; 16] {
        core::array::from_fn(|i| i as u8)
    }

    #[test]
    fn siphash_reference_vectors() {
        // The paper's Appendix A: key 00..0f, message 00..0e.
        let msg: Vec<u8> = (0..15).collect();
        assert_eq!(siphash24(key(), &msg), 0xa129_ca61_49be_45e5);
        // The reference implementation's vectors for the empty message.
        assert_eq!(siphash24(key(), &[]), 0x726f_db47_dd0e_0e31);
    }

    #[test]
    fn isn_grows_with_the_clock_and_depends_on_tuple_and_key() {
        let t = FourTuple::new(
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 1234),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80),
        );
        let a = isn(key(), Instant::ZERO, &t);
        let b = isn(key(), Instant::from_micros(400), &t);
        assert_eq!(b.since(a), 100);
        let other = FourTuple {
            local: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 1235).into(),
            ..t
        };
        assert_ne!(isn(key(), Instant::ZERO, &other), a);
        assert_ne!(isn([7; 16], Instant::ZERO, &t), a);
    }
}
