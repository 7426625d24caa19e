//! The IPv6 neighbour cache: IPv6 → MAC, with the reachability states of
//! RFC 4861 §7.3.2 (INCOMPLETE, REACHABLE, STALE, DELAY, PROBE) and the
//! timers of its §10 constants.
//!
//! - A lookup that misses creates an INCOMPLETE entry and asks for a
//!   multicast Neighbor Solicitation to the target's solicited-node group,
//!   retried every [`RETRANS_TIMER`] up to [`MAX_MULTICAST_SOLICIT`] times
//!   (§7.2.2); up to [`QUEUE_PER_DESTINATION`] packets wait meanwhile, and
//!   when the retries run out they are dropped and the destination is
//!   reported as failed (§7.3.3).
//! - A solicited advertisement makes an entry REACHABLE for
//!   [`REACHABLE_TIME`]; then it turns STALE (§7.3.3).
//! - Using a STALE entry sends with it and moves it to DELAY; after
//!   [`DELAY_FIRST_PROBE_TIME`] it moves to PROBE, which sends unicast
//!   solicitations every [`RETRANS_TIMER`], [`MAX_UNICAST_SOLICIT`] times,
//!   then deletes the entry (§7.3.3).
//! - A solicitation's source link-layer address option creates or updates
//!   a STALE entry (§7.2.3); advertisements update per §7.2.5.
//!
//! Simplifications: no upper-layer reachability confirmation (TCP does not
//! run over IPv6 yet), so a busy entry goes REACHABLE → STALE → DELAY →
//! PROBE and is confirmed by its solicited advertisement; ReachableTime is
//! the base constant, not randomised between 0.5 and 1.5 of it (§6.3.2);
//! router flags (IsRouter) are not kept, since routers are not used.
//! Sans-IO: the cache returns the solicitations to send and the packets it
//! releases instead of sending anything.

use crate::time::{Duration, Instant};
use crate::wire::ethernet::EthernetAddress;
use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv6Addr;

/// RFC 4861 §10 REACHABLE_TIME.
pub const REACHABLE_TIME: Duration = Duration::from_secs(30);
/// RFC 4861 §10 RETRANS_TIMER.
pub const RETRANS_TIMER: Duration = Duration::from_secs(1);
/// RFC 4861 §10 DELAY_FIRST_PROBE_TIME.
pub const DELAY_FIRST_PROBE_TIME: Duration = Duration::from_secs(5);
/// RFC 4861 §10 MAX_MULTICAST_SOLICIT.
pub const MAX_MULTICAST_SOLICIT: u32 = 3;
/// RFC 4861 §10 MAX_UNICAST_SOLICIT.
pub const MAX_UNICAST_SOLICIT: u32 = 3;
/// Packets kept per unresolved destination (RFC 4861 §7.2.2 asks for at
/// least one).
pub const QUEUE_PER_DESTINATION: usize = 32;
/// Entries kept in all; beyond that the one whose timer comes first is
/// evicted (an INCOMPLETE one too, with its queue).
pub const MAX_ENTRIES: usize = 1024;
/// Bytes of packets waiting for resolutions, across all destinations.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;
/// How long an unused STALE entry is kept before garbage collection (the
/// RFC leaves it to the implementation; Linux's gc_stale_time is 60 s).
pub const STALE_LIFETIME: Duration = Duration::from_secs(60);

/// The reachability state of an entry (RFC 4861 §7.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighborState {
    /// Address resolution is under way; no link-layer address yet.
    Incomplete,
    /// Known reachable recently.
    Reachable,
    /// Not known reachable; nothing is done until a packet is sent.
    Stale,
    /// A packet was sent to a STALE neighbour; waiting before probing.
    Delay,
    /// Unicast solicitations are being sent to confirm it.
    Probe,
}

/// One entry, for introspection (`ip -6 neigh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbor6 {
    /// Its MAC (`None` while INCOMPLETE).
    pub mac: Option<EthernetAddress>,
    /// Its state.
    pub state: NeighborState,
}

#[derive(Debug)]
struct Entry {
    mac: Option<EthernetAddress>,
    state: NeighborState,
    /// When the current state's timer fires.
    timer: Instant,
    /// Solicitations sent in INCOMPLETE or PROBE.
    probes: u32,
    queue: VecDeque<Vec<u8>>,
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup6 {
    /// Send to this MAC.
    Found(EthernetAddress),
    /// Not known yet; a resolution is under way.
    Pending,
}

/// A solicitation the cache wants sent (RFC 4861 §7.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Solicit {
    /// The address asked about.
    pub target: Ipv6Addr,
    /// Unicast to this MAC (PROBE), or multicast to the target's
    /// solicited-node group (`None`).
    pub unicast_to: Option<EthernetAddress>,
}

/// The cache. See the module documentation.
#[derive(Debug, Default)]
pub struct NeighborCache {
    entries: BTreeMap<Ipv6Addr, Entry>,
    solicits: VecDeque<Solicit>,
    failed: Vec<Ipv6Addr>,
    queued_bytes: usize,
}

fn queue_bytes(q: &VecDeque<Vec<u8>>) -> usize {
    q.iter().map(Vec::len).sum()
}

impl NeighborCache {
    /// An empty cache.
    pub fn new() -> NeighborCache {
        NeighborCache::default()
    }

    fn make_room(&mut self, ip: Ipv6Addr) {
        if self.entries.len() >= MAX_ENTRIES
            && !self.entries.contains_key(&ip)
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.timer)
                .map(|(ip, _)| *ip)
        {
            self.remove(oldest);
        }
    }

    fn remove(&mut self, ip: Ipv6Addr) {
        if let Some(e) = self.entries.remove(&ip) {
            self.queued_bytes -= queue_bytes(&e.queue);
        }
    }

    /// The MAC to send to `ip` with: a STALE entry is used and moves to
    /// DELAY; a miss creates an INCOMPLETE entry and queues its first
    /// multicast solicitation (RFC 4861 §7.3.3).
    pub fn lookup(&mut self, now: Instant, ip: Ipv6Addr) -> Lookup6 {
        if let Some(e) = self.entries.get_mut(&ip) {
            match (e.state, e.mac) {
                (NeighborState::Stale, Some(mac)) => {
                    e.state = NeighborState::Delay;
                    e.timer = now + DELAY_FIRST_PROBE_TIME;
                    return Lookup6::Found(mac);
                }
                (_, Some(mac)) => return Lookup6::Found(mac),
                (_, None) => return Lookup6::Pending,
            }
        }
        self.make_room(ip);
        self.entries.insert(
            ip,
            Entry {
                mac: None,
                state: NeighborState::Incomplete,
                timer: now + RETRANS_TIMER,
                probes: 1,
                queue: VecDeque::new(),
            },
        );
        self.solicits.push_back(Solicit {
            target: ip,
            unicast_to: None,
        });
        Lookup6::Pending
    }

    /// Keeps `packet` (a whole IPv6 packet) until `ip` resolves. Returns
    /// false, dropping it, when `ip` is not being resolved or its queue is
    /// full.
    pub fn enqueue(&mut self, ip: Ipv6Addr, packet: Vec<u8>) -> bool {
        match self.entries.get_mut(&ip) {
            Some(e)
                if e.mac.is_none()
                    && e.queue.len() < QUEUE_PER_DESTINATION
                    && self.queued_bytes + packet.len() <= MAX_QUEUED_BYTES =>
            {
                self.queued_bytes += packet.len();
                e.queue.push_back(packet);
                true
            }
            _ => false,
        }
    }

    /// A Neighbor Solicitation from `ip` carried its link-layer address
    /// (RFC 4861 §7.2.3): create the entry STALE, or set it STALE when the
    /// address differs. Returns the packets released (an INCOMPLETE entry
    /// now resolved).
    pub fn learn_from_solicit(
        &mut self,
        now: Instant,
        ip: Ipv6Addr,
        mac: EthernetAddress,
    ) -> Vec<Vec<u8>> {
        self.make_room(ip);
        let e = self.entries.entry(ip).or_insert_with(|| Entry {
            mac: None,
            state: NeighborState::Stale,
            timer: now,
            probes: 0,
            queue: VecDeque::new(),
        });
        if e.mac != Some(mac) {
            e.mac = Some(mac);
            e.state = NeighborState::Stale;
            e.timer = now + STALE_LIFETIME;
            e.probes = 0;
        } else if e.state == NeighborState::Stale {
            // Still there: keep it from collection a while longer.
            e.timer = now + STALE_LIFETIME;
        }
        self.queued_bytes -= queue_bytes(&e.queue);
        e.queue.drain(..).collect()
    }

    /// A Neighbor Advertisement for `ip` (RFC 4861 §7.2.5). Returns the
    /// packets released, with the MAC to send them to.
    pub fn advertised(
        &mut self,
        now: Instant,
        ip: Ipv6Addr,
        lladdr: Option<EthernetAddress>,
        solicited: bool,
        override_: bool,
    ) -> Vec<Vec<u8>> {
        // No entry: silently discard (§7.2.5).
        let Some(e) = self.entries.get_mut(&ip) else {
            return Vec::new();
        };
        if e.state == NeighborState::Incomplete {
            let Some(mac) = lladdr else {
                return Vec::new();
            };
            e.mac = Some(mac);
            e.probes = 0;
            if solicited {
                e.state = NeighborState::Reachable;
                e.timer = now + REACHABLE_TIME;
            } else {
                e.state = NeighborState::Stale;
                e.timer = now + STALE_LIFETIME;
            }
            self.queued_bytes -= queue_bytes(&e.queue);
            return e.queue.drain(..).collect();
        }
        let differs = lladdr.is_some_and(|m| Some(m) != e.mac);
        if !override_ && differs {
            // Keep the cached address; a REACHABLE entry becomes STALE.
            if e.state == NeighborState::Reachable {
                e.state = NeighborState::Stale;
                e.timer = now + STALE_LIFETIME;
            }
            return Vec::new();
        }
        if let Some(m) = lladdr {
            e.mac = Some(m);
        }
        if solicited {
            e.state = NeighborState::Reachable;
            e.timer = now + REACHABLE_TIME;
            e.probes = 0;
        } else if differs {
            e.state = NeighborState::Stale;
            e.timer = now + STALE_LIFETIME;
            e.probes = 0;
        }
        Vec::new()
    }

    /// Runs the timers due at `now` (RFC 4861 §7.3.3): retries and
    /// failures of INCOMPLETE entries, REACHABLE → STALE, DELAY → PROBE,
    /// PROBE retries then deletion, and the collection of old STALE
    /// entries.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut gone = Vec::new();
        for (ip, e) in self.entries.iter_mut() {
            if now < e.timer {
                continue;
            }
            match e.state {
                NeighborState::Incomplete if e.probes >= MAX_MULTICAST_SOLICIT => {
                    gone.push(*ip);
                    self.failed.push(*ip);
                }
                NeighborState::Incomplete => {
                    e.probes += 1;
                    e.timer = now + RETRANS_TIMER;
                    self.solicits.push_back(Solicit {
                        target: *ip,
                        unicast_to: None,
                    });
                }
                NeighborState::Reachable => {
                    e.state = NeighborState::Stale;
                    e.timer = now + STALE_LIFETIME;
                }
                NeighborState::Stale => gone.push(*ip),
                NeighborState::Delay | NeighborState::Probe if e.probes < MAX_UNICAST_SOLICIT => {
                    e.state = NeighborState::Probe;
                    e.probes += 1;
                    e.timer = now + RETRANS_TIMER;
                    self.solicits.push_back(Solicit {
                        target: *ip,
                        unicast_to: e.mac,
                    });
                }
                NeighborState::Delay | NeighborState::Probe => gone.push(*ip),
            }
        }
        for ip in gone {
            self.remove(ip);
        }
    }

    /// The earliest timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.entries.values().map(|e| e.timer).min()
    }

    /// The next solicitation to send.
    pub fn poll_solicit(&mut self) -> Option<Solicit> {
        self.solicits.pop_front()
    }

    /// Destinations whose resolution failed since the last call; their
    /// queued packets were dropped.
    pub fn take_failed(&mut self) -> Vec<Ipv6Addr> {
        core::mem::take(&mut self.failed)
    }

    /// Bytes of packets waiting for resolutions.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// The entry for `ip`, if any.
    pub fn get(&self, ip: Ipv6Addr) -> Option<Neighbor6> {
        self.entries.get(&ip).map(|e| Neighbor6 {
            mac: e.mac,
            state: e.state,
        })
    }

    /// Every entry, for `ip -6 neigh`-like introspection.
    pub fn entries(&self) -> impl Iterator<Item = (Ipv6Addr, Neighbor6)> + '_ {
        self.entries.iter().map(|(ip, e)| {
            (
                *ip,
                Neighbor6 {
                    mac: e.mac,
                    state: e.state,
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, 1);
    const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);

    fn state(c: &NeighborCache) -> NeighborState {
        c.get(IP).unwrap().state
    }

    #[test]
    fn incomplete_retries_then_fails() {
        let mut c = NeighborCache::new();
        let mut t = Instant::ZERO;
        assert_eq!(c.lookup(t, IP), Lookup6::Pending);
        assert!(c.enqueue(IP, vec![1]));
        let mut sent = 0;
        while c.poll_solicit().is_some() {
            sent += 1;
        }
        for _ in 0..10 {
            let Some(next) = c.poll_timeout() else { break };
            t = next;
            c.handle_timeout(t);
            while let Some(s) = c.poll_solicit() {
                assert_eq!(s.unicast_to, None);
                sent += 1;
            }
        }
        assert_eq!(sent, MAX_MULTICAST_SOLICIT);
        assert_eq!(c.take_failed(), [IP]);
        assert!(c.get(IP).is_none());
    }

    #[test]
    fn queue_is_bounded_and_released_by_the_advertisement() {
        let mut c = NeighborCache::new();
        c.lookup(Instant::ZERO, IP);
        for i in 0..QUEUE_PER_DESTINATION {
            assert!(c.enqueue(IP, vec![i as u8]));
        }
        assert!(!c.enqueue(IP, vec![0xff]));
        assert_eq!(c.queued_bytes(), QUEUE_PER_DESTINATION);
        let released = c.advertised(Instant::ZERO, IP, Some(MAC), true, true);
        assert_eq!(c.queued_bytes(), 0);
        assert_eq!(released.len(), QUEUE_PER_DESTINATION);
        assert_eq!(released[0], [0]);
        assert_eq!(state(&c), NeighborState::Reachable);
    }

    /// Many destinations at once: the entries and the bytes waiting stay
    /// under their limits, and evicting or failing frees the bytes.
    #[test]
    fn entries_and_queued_bytes_are_bounded() {
        let mut c = NeighborCache::new();
        for i in 0..(MAX_ENTRIES as u32 + 500) {
            let ip = Ipv6Addr::from(0xfd00_u128 << 112 | u128::from(i));
            c.lookup(Instant::ZERO, ip);
            c.enqueue(ip, vec![0u8; 9000]);
            assert!(c.queued_bytes() <= MAX_QUEUED_BYTES);
        }
        assert_eq!(c.entries().count(), MAX_ENTRIES);
        let mut t = Instant::ZERO;
        while let Some(next) = c.poll_timeout() {
            t = next;
            c.handle_timeout(t);
        }
        assert_eq!(c.entries().count(), 0);
        assert_eq!(c.queued_bytes(), 0);
        assert!(t < Instant::ZERO + Duration::from_secs(10));
    }

    #[test]
    fn reachable_stale_delay_probe_then_gone() {
        let mut c = NeighborCache::new();
        let t0 = Instant::ZERO;
        c.lookup(t0, IP);
        c.poll_solicit();
        c.advertised(t0, IP, Some(MAC), true, false);
        let t1 = t0 + REACHABLE_TIME;
        c.handle_timeout(t1);
        assert_eq!(state(&c), NeighborState::Stale);
        assert_eq!(c.lookup(t1, IP), Lookup6::Found(MAC));
        assert_eq!(state(&c), NeighborState::Delay);
        let t2 = t1 + DELAY_FIRST_PROBE_TIME;
        c.handle_timeout(t2);
        assert_eq!(state(&c), NeighborState::Probe);
        assert_eq!(
            c.poll_solicit(),
            Some(Solicit {
                target: IP,
                unicast_to: Some(MAC)
            })
        );
        // A solicited advertisement confirms it.
        c.advertised(t2, IP, None, true, false);
        assert_eq!(state(&c), NeighborState::Reachable);
        // Unanswered probes delete it.
        let mut t = t2 + REACHABLE_TIME;
        c.handle_timeout(t);
        c.lookup(t, IP);
        for _ in 0..=MAX_UNICAST_SOLICIT + 1 {
            t = c.poll_timeout().unwrap();
            c.handle_timeout(t);
            if c.get(IP).is_none() {
                break;
            }
        }
        assert!(c.get(IP).is_none());
    }

    #[test]
    fn solicitation_learns_stale_and_advertisement_without_override_keeps_mac() {
        let mut c = NeighborCache::new();
        c.learn_from_solicit(Instant::ZERO, IP, MAC);
        assert_eq!(state(&c), NeighborState::Stale);
        let other = EthernetAddress([2, 0, 0, 0, 0, 9]);
        c.advertised(Instant::ZERO, IP, Some(other), true, false);
        assert_eq!(c.get(IP).unwrap().mac, Some(MAC));
        c.advertised(Instant::ZERO, IP, Some(other), true, true);
        assert_eq!(c.get(IP).unwrap().mac, Some(other));
        assert_eq!(state(&c), NeighborState::Reachable);
        // An unsolicited advertisement for an unknown address is ignored.
        let ip2 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 7);
        c.advertised(Instant::ZERO, ip2, Some(other), false, true);
        assert!(c.get(ip2).is_none());
    }
}
