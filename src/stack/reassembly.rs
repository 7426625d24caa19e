//! IPv4 fragment reassembly (RFC 791 §3.2, RFC 815's hole idea), with
//! bounded memory and a timeout.
//!
//! Datagrams are keyed by (source, destination, protocol, identification).
//! Each keeps the byte ranges it has. The last fragment (MF clear) fixes the
//! total length; when the ranges cover it, the datagram is complete.
//! Fragments that overlap with different bytes make the whole datagram
//! invalid (overlaps are an attack tool, RFC 5722's reasoning, and Linux
//! drops such queues); exact duplicates are accepted, since duplication is
//! a normal network fault. Limits: [`MAX_DATAGRAMS`] in progress,
//! [`MAX_BYTES`] buffered in all, each dropped after [`REASSEMBLY_TIMEOUT`]
//! (Linux's `ipfrag_time`).

use crate::time::{Duration, Instant};
use crate::wire::ipv4::{self, Ipv4Repr};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Datagrams being reassembled at once.
pub const MAX_DATAGRAMS: usize = 256;
/// Bytes buffered across all reassemblies (Linux: ipfrag_high_thresh 4 MiB).
pub const MAX_BYTES: usize = 4 << 20;
/// How long a datagram may take to complete (Linux: ipfrag_time 30 s).
pub const REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest IPv4 payload.
const MAX_PAYLOAD: usize = ipv4::MAX_PACKET_LEN - ipv4::HEADER_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    ident: u16,
}

#[derive(Debug)]
struct Datagram {
    data: Vec<u8>,
    /// Received ranges, sorted and merged.
    have: Vec<(usize, usize)>,
    total_len: Option<usize>,
    first: Option<Ipv4Repr>,
    deadline: Instant,
}

impl Datagram {
    fn complete(&self) -> bool {
        matches!(self.total_len, Some(t) if self.have.first() == Some(&(0, t)))
    }
}

/// Why a fragment was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragError {
    /// It overlaps data already received with different bytes, or
    /// contradicts the known total length: the datagram is discarded.
    Overlap,
    /// Not a multiple of 8 bytes while more fragments follow, or too long.
    BadLength,
    /// No room under the limits.
    NoMemory,
}

/// The reassembly buffers.
#[derive(Debug, Default)]
pub struct Reassembler {
    datagrams: BTreeMap<Key, Datagram>,
    bytes: usize,
    timed_out: u64,
}

impl Reassembler {
    /// Empty.
    pub fn new() -> Reassembler {
        Reassembler::default()
    }

    /// Adds a fragment. Returns the whole datagram (the first fragment's
    /// header, with `payload_len` set and fragment fields cleared, and the
    /// payload) when this fragment completes it.
    pub fn insert(
        &mut self,
        now: Instant,
        repr: &Ipv4Repr,
        payload: &[u8],
    ) -> Result<Option<(Ipv4Repr, Vec<u8>)>, FragError> {
        let offset = usize::from(repr.frag_offset);
        let end = offset + payload.len();
        if end > MAX_PAYLOAD
            || (repr.more_frags && !payload.len().is_multiple_of(8))
            || payload.is_empty()
        {
            return Err(FragError::BadLength);
        }
        let key = Key {
            src: repr.src_addr,
            dst: repr.dst_addr,
            protocol: repr.protocol,
            ident: repr.ident,
        };
        if !self.datagrams.contains_key(&key) && self.datagrams.len() >= MAX_DATAGRAMS {
            return Err(FragError::NoMemory);
        }
        let d = self.datagrams.entry(key).or_insert_with(|| Datagram {
            data: Vec::new(),
            have: Vec::new(),
            total_len: None,
            first: None,
            deadline: now + REASSEMBLY_TIMEOUT,
        });
        let result = Self::add(d, repr, offset, end, payload, &mut self.bytes);
        match result {
            Err(e) => {
                let d = self.datagrams.remove(&key);
                self.bytes -= d.map_or(0, |d| d.data.len());
                Err(e)
            }
            Ok(()) if d.complete() => {
                let d = self.datagrams.remove(&key).expect("present");
                self.bytes -= d.data.len();
                let mut header = d.first.unwrap_or(*repr);
                header.payload_len = d.data.len();
                header.more_frags = false;
                header.frag_offset = 0;
                Ok(Some((header, d.data)))
            }
            Ok(()) => Ok(None),
        }
    }

    fn add(
        d: &mut Datagram,
        repr: &Ipv4Repr,
        offset: usize,
        end: usize,
        payload: &[u8],
        bytes: &mut usize,
    ) -> Result<(), FragError> {
        if !repr.more_frags {
            match d.total_len {
                Some(t) if t != end => return Err(FragError::Overlap),
                _ => d.total_len = Some(end),
            }
        }
        if let Some(t) = d.total_len
            && (end > t || d.data.len() > t)
        {
            return Err(FragError::Overlap);
        }
        // Overlap check against what we have: identical bytes only.
        for &(s, e) in &d.have {
            let (os, oe) = (s.max(offset), e.min(end));
            if os < oe && d.data[os..oe] != payload[os - offset..oe - offset] {
                return Err(FragError::Overlap);
            }
        }
        if end > d.data.len() {
            let grow = end - d.data.len();
            if *bytes + grow > MAX_BYTES {
                return Err(FragError::NoMemory);
            }
            *bytes += grow;
            d.data.resize(end, 0);
        }
        d.data[offset..end].copy_from_slice(payload);
        if offset == 0 {
            d.first = Some(*repr);
        }
        d.have.push((offset, end));
        d.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(d.have.len());
        for &(s, e) in &d.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        d.have = merged;
        Ok(())
    }

    /// Drops the datagrams whose time is up.
    pub fn handle_timeout(&mut self, now: Instant) {
        let before = self.datagrams.len();
        let mut freed = 0;
        self.datagrams.retain(|_, d| {
            let keep = now < d.deadline;
            if !keep {
                freed += d.data.len();
            }
            keep
        });
        self.bytes -= freed;
        self.timed_out += (before - self.datagrams.len()) as u64;
    }

    /// Reassemblies that timed out since the last call.
    pub fn take_timed_out(&mut self) -> u64 {
        core::mem::take(&mut self.timed_out)
    }

    /// The earliest deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.datagrams.values().map(|d| d.deadline).min()
    }

    /// Bytes buffered now.
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Datagrams in progress.
    pub fn in_progress(&self) -> usize {
        self.datagrams.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(ident: u16, offset: u16, more: bool, len: usize) -> Ipv4Repr {
        Ipv4Repr {
            src_addr: Ipv4Addr::new(198, 18, 0, 1),
            dst_addr: Ipv4Addr::new(198, 18, 0, 2),
            protocol: 1,
            payload_len: len,
            ttl: 64,
            ident,
            dont_frag: false,
            more_frags: more,
            frag_offset: offset,
            dscp_ecn: 0,
        }
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn out_of_order_fragments_reassemble() {
        let all = data(4008);
        let mut r = Reassembler::new();
        let t = Instant::ZERO;
        assert_eq!(
            r.insert(t, &frag(1, 2960, false, 1048), &all[2960..]),
            Ok(None)
        );
        assert_eq!(r.insert(t, &frag(1, 0, true, 1480), &all[..1480]), Ok(None));
        let (h, payload) = r
            .insert(t, &frag(1, 1480, true, 1480), &all[1480..2960])
            .unwrap()
            .unwrap();
        assert_eq!(payload, all);
        assert_eq!(h.payload_len, 4008);
        assert!(!h.is_fragment());
        assert_eq!(r.buffered_bytes(), 0);
        assert_eq!(r.in_progress(), 0);
    }

    #[test]
    fn exact_duplicates_are_fine_conflicting_overlaps_are_not() {
        let all = data(16);
        let mut r = Reassembler::new();
        let t = Instant::ZERO;
        r.insert(t, &frag(2, 0, true, 8), &all[..8]).unwrap();
        r.insert(t, &frag(2, 0, true, 8), &all[..8]).unwrap();
        assert!(
            r.insert(t, &frag(2, 8, false, 8), &all[8..])
                .unwrap()
                .is_some()
        );

        r.insert(t, &frag(3, 0, true, 8), &all[..8]).unwrap();
        let mut evil = all[..8].to_vec();
        evil[3] ^= 0xff;
        assert_eq!(
            r.insert(t, &frag(3, 0, true, 8), &evil),
            Err(FragError::Overlap)
        );
        assert_eq!(r.in_progress(), 0);
        assert_eq!(r.buffered_bytes(), 0);
    }

    #[test]
    fn bad_lengths_are_refused() {
        let mut r = Reassembler::new();
        let t = Instant::ZERO;
        assert_eq!(
            r.insert(t, &frag(4, 0, true, 7), &[0; 7]),
            Err(FragError::BadLength)
        );
        assert_eq!(
            r.insert(t, &frag(4, 65528, false, 16), &[0; 16]),
            Err(FragError::BadLength)
        );
        // Two different ends: contradiction.
        r.insert(t, &frag(5, 8, false, 8), &[0; 8]).unwrap();
        assert_eq!(
            r.insert(t, &frag(5, 16, false, 8), &[0; 8]),
            Err(FragError::Overlap)
        );
    }

    #[test]
    fn limits_and_timeout() {
        let mut r = Reassembler::new();
        let t = Instant::ZERO;
        for id in 0..MAX_DATAGRAMS as u16 {
            r.insert(t, &frag(id, 0, true, 8), &[0; 8]).unwrap();
        }
        assert_eq!(
            r.insert(t, &frag(999, 0, true, 8), &[0; 8]),
            Err(FragError::NoMemory)
        );
        assert_eq!(r.poll_timeout(), Some(t + REASSEMBLY_TIMEOUT));
        r.handle_timeout(t + REASSEMBLY_TIMEOUT);
        assert_eq!(r.in_progress(), 0);
        assert_eq!(r.buffered_bytes(), 0);
        assert_eq!(r.take_timed_out(), MAX_DATAGRAMS as u64);
    }

    #[test]
    fn memory_bound_holds() {
        let mut r = Reassembler::new();
        let t = Instant::ZERO;
        let big = vec![0u8; 65000 / 8 * 8];
        let mut refused = false;
        for id in 0..MAX_DATAGRAMS as u16 {
            // Only the tail: forces the whole buffer to be allocated.
            match r.insert(t, &frag(id, 0, true, big.len()), &big) {
                Ok(_) => {}
                Err(FragError::NoMemory) => refused = true,
                Err(e) => panic!("{e:?}"),
            }
            assert!(r.buffered_bytes() <= MAX_BYTES);
        }
        assert!(refused);
    }
}
