//! IPv6 fragment reassembly (RFC 8200 §4.5), with bounded memory and a
//! timeout; the shape of the IPv4 reassembler (`reassembly.rs`).
//!
//! Packets are keyed by (source, destination, identification) (§4.5). The
//! fragment with offset 0 gives the Next Header of the fragmentable part;
//! the one with M clear fixes the length. Fragments that overlap are
//! discarded with the whole packet (§4.5, RFC 5722), except a fragment that
//! repeats bytes already held exactly (a duplicate, which §4.5 lets an
//! implementation drop alone). Limits: [`MAX_PACKETS`] in progress,
//! [`MAX_BYTES`] buffered in all, each dropped [`REASSEMBLY_TIMEOUT`] after
//! its first fragment arrived; a timed-out packet whose first fragment
//! arrived is reported with that fragment, for the ICMPv6 Time Exceeded
//! (code 1) §4.5 asks for.

use crate::time::{Duration, Instant};
use crate::wire::icmpv6::MAX_ERROR_QUOTE;
use std::collections::BTreeMap;
use std::net::Ipv6Addr;

/// Packets being reassembled at once.
pub const MAX_PACKETS: usize = 64;
/// Bytes buffered across all reassemblies (Linux: ip6frag_high_thresh 4 MiB).
pub const MAX_BYTES: usize = 4 << 20;
/// RFC 8200 §4.5: 60 seconds from the first fragment.
pub const REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest fragmentable part: the Payload Length is 16 bits.
const MAX_DATA: usize = 65535;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ident: u32,
}

#[derive(Debug)]
struct Packet {
    data: Vec<u8>,
    /// Received ranges, sorted and merged.
    have: Vec<(usize, usize)>,
    total_len: Option<usize>,
    /// The Next Header of the offset-0 fragment, and that fragment as
    /// received (cut to an ICMPv6 error's quote), once it arrived.
    first: Option<(u8, Vec<u8>)>,
    deadline: Instant,
}

impl Packet {
    fn complete(&self) -> bool {
        matches!(self.total_len, Some(t) if self.have.first() == Some(&(0, t)))
            && self.first.is_some()
    }
}

/// Why a fragment was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frag6Error {
    /// It overlaps what is held, or contradicts the known length: the
    /// packet is discarded.
    Overlap,
    /// Empty, or past 65535 bytes.
    BadLength,
    /// No room under the limits.
    NoMemory,
}

/// One fragment, as the input path found it.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'a> {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Identification.
    pub ident: u32,
    /// Offset in bytes.
    pub offset: usize,
    /// More fragments follow.
    pub more: bool,
    /// The fragment header's Next Header.
    pub next_header: u8,
    /// The fragment's data.
    pub data: &'a [u8],
    /// The whole fragment as received, from its IPv6 header.
    pub packet: &'a [u8],
}

/// A reassembled packet: the Next Header of its fragmentable part and that
/// part.
pub type Reassembled = (u8, Vec<u8>);

/// The reassembly buffers.
#[derive(Debug, Default)]
pub struct Reassembler6 {
    packets: BTreeMap<Key, Packet>,
    bytes: usize,
    timed_out: Vec<(Ipv6Addr, Vec<u8>)>,
    timed_out_count: u64,
}

impl Reassembler6 {
    /// Empty.
    pub fn new() -> Reassembler6 {
        Reassembler6::default()
    }

    /// Bytes buffered now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Packets in progress now.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Nothing in progress.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Adds a fragment; returns the packet it completes, if any.
    pub fn insert(
        &mut self,
        now: Instant,
        f: &Fragment<'_>,
    ) -> Result<Option<Reassembled>, Frag6Error> {
        let end = f.offset + f.data.len();
        if f.data.is_empty() || end > MAX_DATA {
            return Err(Frag6Error::BadLength);
        }
        let key = Key {
            src: f.src,
            dst: f.dst,
            ident: f.ident,
        };
        if !self.packets.contains_key(&key) && self.packets.len() >= MAX_PACKETS {
            return Err(Frag6Error::NoMemory);
        }
        let p = self.packets.entry(key).or_insert_with(|| Packet {
            data: Vec::new(),
            have: Vec::new(),
            total_len: None,
            first: None,
            deadline: now + REASSEMBLY_TIMEOUT,
        });
        match Self::add(p, f, end, &mut self.bytes) {
            Err(e) => {
                let p = self.packets.remove(&key);
                self.bytes -= p.map_or(0, |p| p.data.len());
                Err(e)
            }
            Ok(()) if p.complete() => {
                let p = self.packets.remove(&key).expect("present");
                self.bytes -= p.data.len();
                let nh = p.first.map_or(f.next_header, |(nh, _)| nh);
                Ok(Some((nh, p.data)))
            }
            Ok(()) => Ok(None),
        }
    }

    fn add(
        p: &mut Packet,
        f: &Fragment<'_>,
        end: usize,
        bytes: &mut usize,
    ) -> Result<(), Frag6Error> {
        let offset = f.offset;
        if !f.more {
            match p.total_len {
                Some(t) if t != end => return Err(Frag6Error::Overlap),
                _ => p.total_len = Some(end),
            }
        }
        if let Some(t) = p.total_len
            && (end > t || p.data.len() > t)
        {
            return Err(Frag6Error::Overlap);
        }
        // An overlap is allowed only as an exact repeat of bytes held.
        for &(s, e) in &p.have {
            let (os, oe) = (s.max(offset), e.min(end));
            if os < oe {
                let inside = s <= offset && end <= e;
                if !inside || p.data[offset..end] != *f.data {
                    return Err(Frag6Error::Overlap);
                }
                return Ok(());
            }
        }
        if end > p.data.len() {
            let grow = end - p.data.len();
            if *bytes + grow > MAX_BYTES {
                return Err(Frag6Error::NoMemory);
            }
            *bytes += grow;
            p.data.resize(end, 0);
        }
        p.data[offset..end].copy_from_slice(f.data);
        if offset == 0 {
            let quote = &f.packet[..f.packet.len().min(MAX_ERROR_QUOTE)];
            p.first = Some((f.next_header, quote.to_vec()));
        }
        p.have.push((offset, end));
        p.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(p.have.len());
        for &(s, e) in &p.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        p.have = merged;
        Ok(())
    }

    /// Drops the packets whose time is up.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut freed = 0;
        let mut timed_out = Vec::new();
        self.packets.retain(|k, p| {
            let keep = now < p.deadline;
            if !keep {
                freed += p.data.len();
                timed_out.push((k.src, p.first.take().map(|(_, q)| q)));
            }
            keep
        });
        self.bytes -= freed;
        self.timed_out_count += timed_out.len() as u64;
        self.timed_out.extend(
            timed_out
                .into_iter()
                .filter_map(|(src, q)| q.map(|q| (src, q))),
        );
    }

    /// The earliest deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.packets.values().map(|p| p.deadline).min()
    }

    /// How many timed out since the last call, and, for those whose first
    /// fragment had arrived, the source and that fragment.
    pub fn take_timed_out(&mut self) -> (u64, Vec<(Ipv6Addr, Vec<u8>)>) {
        (
            core::mem::take(&mut self.timed_out_count),
            core::mem::take(&mut self.timed_out),
        )
    }
}
