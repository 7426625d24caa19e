//! The neighbour cache: IPv4 → MAC, with resolution (RFC 826, RFC 1122
//! §2.3.2).
//!
//! An entry is learned from a reply or from a request addressed to us, and
//! lives [`REACHABLE_TIME`]. When it is used within [`REFRESH_BEFORE`] of its
//! expiry, one unicast request is sent to refresh it while it stays usable,
//! so a busy connection never stalls on ARP. A lookup that misses starts a
//! resolution: a broadcast request, retried every [`RETRY_INTERVAL`] up to
//! [`MAX_REQUESTS`] times, while up to [`QUEUE_PER_DESTINATION`] datagrams
//! wait for it (RFC 1122 §2.3.2.2 asks for at least one). When the retries
//! run out, the queue is dropped and the destination is reported as failed
//! so the stack can fail its connections with `EHOSTUNREACH`.

use crate::time::{Duration, Instant};
use crate::wire::ethernet::EthernetAddress;
use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;

/// How long an entry is trusted (Linux's base_reachable_time is 30 s; it
/// keeps stale entries longer, we refresh instead).
pub const REACHABLE_TIME: Duration = Duration::from_secs(60);
/// Window before expiry in which a use triggers a refresh.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(15);
/// Time between requests of one resolution (Linux: retrans_time 1 s).
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Requests sent before a resolution fails (Linux: mcast_solicit 3).
pub const MAX_REQUESTS: u32 = 3;
/// Datagrams kept per unresolved destination.
pub const QUEUE_PER_DESTINATION: usize = 32;
/// Entries kept in all; the oldest is evicted beyond that.
pub const MAX_ENTRIES: usize = 1024;
/// Destinations resolved at once: past it, a new destination's datagram
/// is dropped (its sender retries), as a full per-destination queue does.
pub const MAX_PENDING: usize = 1024;
/// Bytes waiting for resolution, over all destinations: 32 datagrams of
/// 64 KiB for each of 1024 destinations would otherwise be 2 GiB that a
/// host on the link could make us hold by spoofing sources.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;

/// A learned neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbor {
    /// Its MAC.
    pub mac: EthernetAddress,
    /// When it must be confirmed again.
    pub expires_at: Instant,
    /// A refresh request is out.
    pub refreshing: bool,
}

#[derive(Debug)]
struct Pending {
    requests_sent: u32,
    next_request_at: Instant,
    queue: VecDeque<Vec<u8>>,
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Send to this MAC.
    Found(EthernetAddress),
    /// Not known yet; a resolution is under way.
    Pending,
}

/// A request the cache wants sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The IP to ask for.
    pub target: Ipv4Addr,
    /// Unicast to this MAC (refresh) or broadcast (`None`).
    pub unicast_to: Option<EthernetAddress>,
}

/// The cache. Sans-IO: it returns requests and released datagrams instead
/// of sending anything.
#[derive(Debug, Default)]
pub struct ArpCache {
    entries: BTreeMap<Ipv4Addr, Neighbor>,
    pending: BTreeMap<Ipv4Addr, Pending>,
    requests: VecDeque<Request>,
    failed: Vec<Ipv4Addr>,
    /// Bytes in all the pending queues ([`MAX_QUEUED_BYTES`]).
    queued_bytes: usize,
}

impl ArpCache {
    /// An empty cache.
    pub fn new() -> ArpCache {
        ArpCache::default()
    }

    /// The MAC for `ip`, starting or continuing a resolution when unknown.
    /// A use close to expiry queues one unicast refresh.
    pub fn lookup(&mut self, now: Instant, ip: Ipv4Addr) -> Lookup {
        if let Some(n) = self.entries.get_mut(&ip) {
            if now < n.expires_at {
                if !n.refreshing && now + REFRESH_BEFORE >= n.expires_at {
                    n.refreshing = true;
                    self.requests.push_back(Request {
                        target: ip,
                        unicast_to: Some(n.mac),
                    });
                }
                return Lookup::Found(n.mac);
            }
            self.entries.remove(&ip);
        }
        if self.pending.len() >= MAX_PENDING && !self.pending.contains_key(&ip) {
            return Lookup::Pending;
        }
        if let std::collections::btree_map::Entry::Vacant(e) = self.pending.entry(ip) {
            e.insert(Pending {
                requests_sent: 1,
                next_request_at: now + RETRY_INTERVAL,
                queue: VecDeque::new(),
            });
            self.requests.push_back(Request {
                target: ip,
                unicast_to: None,
            });
        }
        Lookup::Pending
    }

    /// Keeps `datagram` (a whole IPv4 packet) until `ip` resolves. Returns
    /// false, dropping it, when that destination's queue is full, or all
    /// the queues together hold [`MAX_QUEUED_BYTES`].
    pub fn enqueue(&mut self, ip: Ipv4Addr, datagram: Vec<u8>) -> bool {
        if self.queued_bytes + datagram.len() > MAX_QUEUED_BYTES {
            return false;
        }
        match self.pending.get_mut(&ip) {
            Some(p) if p.queue.len() < QUEUE_PER_DESTINATION => {
                self.queued_bytes += datagram.len();
                p.queue.push_back(datagram);
                true
            }
            _ => false,
        }
    }

    /// Forgets a resolution, with its queue's bytes.
    fn take_pending(&mut self, ip: &Ipv4Addr) -> Option<Pending> {
        let p = self.pending.remove(ip)?;
        let bytes: usize = p.queue.iter().map(Vec::len).sum();
        self.queued_bytes = self.queued_bytes.saturating_sub(bytes);
        Some(p)
    }

    /// Records `ip` at `mac` (from a reply, or a request naming us) and
    /// returns the datagrams that were waiting for it.
    pub fn learn(&mut self, now: Instant, ip: Ipv4Addr, mac: EthernetAddress) -> Vec<Vec<u8>> {
        if self.entries.len() >= MAX_ENTRIES
            && !self.entries.contains_key(&ip)
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, n)| n.expires_at)
                .map(|(ip, _)| *ip)
        {
            self.entries.remove(&oldest);
        }
        self.entries.insert(
            ip,
            Neighbor {
                mac,
                expires_at: now + REACHABLE_TIME,
                refreshing: false,
            },
        );
        self.take_pending(&ip)
            .map(|p| p.queue.into_iter().collect())
            .unwrap_or_default()
    }

    /// Updates an entry that exists or is being resolved (RFC 826's "merge"
    /// step, which applies even to packets not addressed to us). Returns
    /// the datagrams released by it, or `None` when `ip` was unknown.
    pub fn merge(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        mac: EthernetAddress,
    ) -> Option<Vec<Vec<u8>>> {
        if self.entries.contains_key(&ip) || self.pending.contains_key(&ip) {
            Some(self.learn(now, ip, mac))
        } else {
            None
        }
    }

    /// Retries and failures due at `now`; expired entries are removed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.entries.retain(|_, n| now < n.expires_at);
        let mut failed = Vec::new();
        for (ip, p) in self.pending.iter_mut() {
            if now < p.next_request_at {
                continue;
            }
            if p.requests_sent >= MAX_REQUESTS {
                failed.push(*ip);
            } else {
                p.requests_sent += 1;
                p.next_request_at = now + RETRY_INTERVAL;
                self.requests.push_back(Request {
                    target: *ip,
                    unicast_to: None,
                });
            }
        }
        for ip in failed {
            self.take_pending(&ip);
            self.failed.push(ip);
        }
    }

    /// The earliest retry or expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retry = self.pending.values().map(|p| p.next_request_at).min();
        let expiry = self.entries.values().map(|n| n.expires_at).min();
        match (retry, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next request to send.
    pub fn poll_request(&mut self) -> Option<Request> {
        self.requests.pop_front()
    }

    /// Requests are waiting for [`poll_request`](Self::poll_request).
    pub fn has_requests(&self) -> bool {
        !self.requests.is_empty()
    }

    /// Destinations whose resolution failed since the last call, with the
    /// number of datagrams that were dropped with them.
    pub fn take_failed(&mut self) -> Vec<Ipv4Addr> {
        core::mem::take(&mut self.failed)
    }

    /// The learned entries, for `ip neigh`-like introspection.
    pub fn entries(&self) -> impl Iterator<Item = (Ipv4Addr, Neighbor)> + '_ {
        self.entries.iter().map(|(ip, n)| (*ip, *n))
    }

    /// The destinations being resolved.
    pub fn pending(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.pending.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);

    fn t(secs: u64) -> Instant {
        Instant::from_millis(secs * 1000)
    }

    #[test]
    fn miss_starts_one_resolution_and_queues_until_reply() {
        let mut c = ArpCache::new();
        assert_eq!(c.lookup(t(0), IP), Lookup::Pending);
        assert_eq!(c.lookup(t(0), IP), Lookup::Pending);
        assert_eq!(
            c.poll_request(),
            Some(Request {
                target: IP,
                unicast_to: None
            })
        );
        assert_eq!(c.poll_request(), None, "one request per resolution");
        assert!(c.enqueue(IP, vec![1]));
        assert!(c.enqueue(IP, vec![2]));
        let released = c.learn(t(0), IP, MAC);
        assert_eq!(released, vec![vec![1], vec![2]]);
        assert_eq!(c.lookup(t(1), IP), Lookup::Found(MAC));
    }

    #[test]
    fn queue_is_bounded() {
        let mut c = ArpCache::new();
        c.lookup(t(0), IP);
        for i in 0..QUEUE_PER_DESTINATION {
            assert!(c.enqueue(IP, vec![i as u8]));
        }
        assert!(!c.enqueue(IP, vec![0]));
        assert!(
            !c.enqueue(Ipv4Addr::new(1, 1, 1, 1), vec![0]),
            "no resolution, no queue"
        );
    }

    /// Many destinations at once (a host on the link spoofing sources we
    /// answer) hold at most MAX_QUEUED_BYTES and MAX_PENDING resolutions;
    /// bytes released by a reply or a failure can be queued again.
    #[test]
    fn all_the_queues_together_are_bounded() {
        let mut c = ArpCache::new();
        let big = vec![0u8; 60_000];
        let mut queued = 0;
        for i in 0..MAX_PENDING as u32 + 100 {
            let ip = Ipv4Addr::from(0x0a00_0000 + i);
            c.lookup(t(0), ip);
            if c.enqueue(ip, big.clone()) {
                queued += big.len();
            }
        }
        assert!(queued <= MAX_QUEUED_BYTES, "{queued} bytes held");
        assert!(
            c.pending.len() <= MAX_PENDING,
            "{} resolutions",
            c.pending.len()
        );
        let first = Ipv4Addr::from(0x0a00_0000);
        assert!(!c.enqueue(first, big.clone()), "full");
        assert_eq!(c.learn(t(0), first, MAC).len(), 1);
        assert!(
            c.enqueue(Ipv4Addr::from(0x0a00_0001), big.clone()),
            "room again"
        );
        for s in 1..=MAX_REQUESTS as u64 + 1 {
            c.handle_timeout(t(s));
        }
        assert_eq!(c.queued_bytes, 0, "failures give their bytes back");
    }

    #[test]
    fn retries_then_fails() {
        let mut c = ArpCache::new();
        c.lookup(t(0), IP);
        c.enqueue(IP, vec![9]);
        c.poll_request();
        c.handle_timeout(t(1));
        assert!(c.poll_request().is_some());
        c.handle_timeout(t(2));
        assert!(c.poll_request().is_some());
        assert!(c.take_failed().is_empty());
        c.handle_timeout(t(3));
        assert_eq!(c.poll_request(), None);
        assert_eq!(c.take_failed(), vec![IP]);
        assert_eq!(c.poll_timeout(), None);
        // A new use starts over.
        assert_eq!(c.lookup(t(4), IP), Lookup::Pending);
    }

    #[test]
    fn entries_age_out_and_are_refreshed_before() {
        let mut c = ArpCache::new();
        c.learn(t(0), IP, MAC);
        assert_eq!(c.lookup(t(10), IP), Lookup::Found(MAC));
        assert_eq!(c.poll_request(), None);
        // Within REFRESH_BEFORE of expiry: still usable, one unicast refresh.
        assert_eq!(c.lookup(t(50), IP), Lookup::Found(MAC));
        assert_eq!(
            c.poll_request(),
            Some(Request {
                target: IP,
                unicast_to: Some(MAC)
            })
        );
        assert_eq!(c.lookup(t(51), IP), Lookup::Found(MAC));
        assert_eq!(c.poll_request(), None, "one refresh at a time");
        c.handle_timeout(t(60));
        assert_eq!(c.entries().count(), 0);
        assert_eq!(c.lookup(t(61), IP), Lookup::Pending);
    }

    #[test]
    fn merge_only_updates_known_entries() {
        let mut c = ArpCache::new();
        assert_eq!(c.merge(t(0), IP, MAC), None);
        assert_eq!(c.entries().count(), 0);
        c.learn(t(0), IP, MAC);
        let other = EthernetAddress([2, 0, 0, 0, 0, 9]);
        assert_eq!(c.merge(t(1), IP, other), Some(vec![]));
        c.lookup(t(2), Ipv4Addr::new(1, 2, 3, 4));
        c.enqueue(Ipv4Addr::new(1, 2, 3, 4), vec![7]);
        assert_eq!(
            c.merge(t(2), Ipv4Addr::new(1, 2, 3, 4), MAC),
            Some(vec![vec![7]])
        );
        assert_eq!(c.lookup(t(2), IP), Lookup::Found(other));
    }
}
