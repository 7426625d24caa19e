//! Fault injection: a device that drops, duplicates, reorders, corrupts and
//! delays the frames of the device it wraps, in both directions.
//!
//! Configured by `TAPSTACK_FAULTS=drop=0.05,dup=0.01,reorder=0.1,corrupt=0.001,delay=2ms,seed=7`.
//! Decisions come from a generator seeded with `seed` (one stream per
//! direction), so the same frames in the same order meet the same fate:
//! a failing run can be replayed.
//!
//! For each frame, in this order:
//!
//! 1. **drop** with probability `drop`;
//! 2. **corrupt**: flip bits of one byte past the Ethernet header, so the
//!    IPv4/TCP/ICMP checksums catch it (frames with no payload are spared);
//! 3. **dup**: send it twice;
//! 4. **reorder**: hold it `max(delay, 1 ms)` longer than the others, so the
//!    frames behind it overtake it;
//! 5. **delay**: every frame is held `delay` before it goes on.
//!
//! Held frames wait for a deadline that [`Device::poll_at`] reports.

use super::{Batch, Capabilities, Device, Received};
use crate::rand::Rng;
use crate::time::{Duration, Instant};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::os::fd::RawFd;

/// Most frames held per direction; beyond that, frames are dropped.
const MAX_HELD: usize = 4096;

/// How faults are injected. Probabilities are in `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaultConfig {
    /// Probability that a frame is dropped.
    pub drop: f64,
    /// Probability that a frame is sent twice.
    pub dup: f64,
    /// Probability that a frame is held back so later frames overtake it.
    pub reorder: f64,
    /// Probability that one byte past the Ethernet header is flipped.
    pub corrupt: f64,
    /// Latency added to every frame.
    pub delay: Duration,
    /// Seed of the decisions.
    pub seed: u64,
}

impl FaultConfig {
    /// True when the configuration changes nothing.
    pub fn is_noop(&self) -> bool {
        self.drop == 0.0
            && self.dup == 0.0
            && self.reorder == 0.0
            && self.corrupt == 0.0
            && self.delay.is_zero()
    }

    fn reorder_hold(&self) -> Duration {
        self.delay.max(Duration::from_millis(1))
    }
}

/// What happened to the frames of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultStats {
    /// Frames that entered.
    pub frames: u64,
    /// Frames dropped (by chance or because too many were held).
    pub dropped: u64,
    /// Frames corrupted.
    pub corrupted: u64,
    /// Frames duplicated.
    pub duplicated: u64,
    /// Frames held back to be reordered.
    pub reordered: u64,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    due: Instant,
    seq: u64,
    frame: Vec<u8>,
}

/// The faults of one direction.
#[derive(Debug)]
struct Lane {
    rng: Rng,
    held: BinaryHeap<Reverse<Held>>,
    seq: u64,
    stats: FaultStats,
}

impl Lane {
    fn new(seed: u64) -> Lane {
        Lane {
            rng: Rng::new(seed),
            held: BinaryHeap::new(),
            seq: 0,
            stats: FaultStats::default(),
        }
    }

    fn hold(&mut self, due: Instant, frame: Vec<u8>) {
        if self.held.len() >= MAX_HELD {
            self.stats.dropped += 1;
            return;
        }
        self.seq += 1;
        self.held.push(Reverse(Held {
            due,
            seq: self.seq,
            frame,
        }));
    }

    /// Decides the fate of `frame` arriving at `now`.
    fn admit(&mut self, cfg: &FaultConfig, now: Instant, frame: &[u8]) {
        self.stats.frames += 1;
        // Draw every decision for every frame, so one frame's fate does not
        // shift the stream of the next.
        let drop = self.rng.chance(cfg.drop);
        let corrupt = self.rng.chance(cfg.corrupt);
        let dup = self.rng.chance(cfg.dup);
        let reorder = self.rng.chance(cfg.reorder);
        let where_ = self.rng.next_u64();
        if drop {
            self.stats.dropped += 1;
            return;
        }
        let mut frame = frame.to_vec();
        let header = crate::wire::ethernet::HEADER_LEN;
        if corrupt && frame.len() > header {
            let i = header + (where_ % (frame.len() - header) as u64) as usize;
            // A non-zero mask, so the byte really changes.
            frame[i] ^= 1 + ((where_ >> 32) % 255) as u8;
            self.stats.corrupted += 1;
        }
        let mut due = now + cfg.delay;
        if reorder {
            due += cfg.reorder_hold();
            self.stats.reordered += 1;
        }
        if dup {
            self.stats.duplicated += 1;
            self.hold(due, frame.clone());
        }
        self.hold(due, frame);
    }

    fn next_due(&self) -> Option<Instant> {
        self.held.peek().map(|Reverse(h)| h.due)
    }

    /// Moves the frames due at `now` into `out` while it has room; returns
    /// how many moved.
    fn release(&mut self, now: Instant, out: &mut Batch) -> usize {
        let mut n = 0;
        while self.next_due().is_some_and(|due| due <= now) && !out.is_full() {
            let Some(Reverse(h)) = self.held.pop() else {
                break;
            };
            if out.push(&h.frame) {
                n += 1;
            }
        }
        n
    }
}

/// A device that injects faults into the traffic of `D`. See the module
/// documentation.
#[derive(Debug)]
pub struct FaultDevice<D> {
    inner: D,
    config: FaultConfig,
    rx: Lane,
    tx: Lane,
    scratch: Option<Batch>,
}

impl<D: Device> FaultDevice<D> {
    /// Wraps `inner` with `config`.
    pub fn new(inner: D, config: FaultConfig) -> FaultDevice<D> {
        FaultDevice {
            inner,
            config,
            rx: Lane::new(config.seed ^ 0x5258_5258_5258_5258),
            tx: Lane::new(config.seed ^ 0x5458_5458_5458_5458),
            scratch: None,
        }
    }

    /// The wrapped device.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device, mutably.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// What happened to incoming frames.
    pub fn rx_stats(&self) -> FaultStats {
        self.rx.stats
    }

    /// What happened to outgoing frames.
    pub fn tx_stats(&self) -> FaultStats {
        self.tx.stats
    }

    /// The reusable batch, resized only when the caller's shape changes.
    fn take_scratch(&mut self, capacity: usize, slot_len: usize) -> Batch {
        match self.scratch.take() {
            Some(mut b) if b.capacity() == capacity && b.slot_len() == slot_len => {
                b.clear();
                b
            }
            _ => Batch::new(capacity.max(1), slot_len),
        }
    }

    fn send_due(&mut self, now: Instant, capacity: usize, slot_len: usize) -> io::Result<()> {
        let mut out = self.take_scratch(capacity, slot_len);
        let mut result = Ok(());
        while self.tx.release(now, &mut out) > 0 {
            result = self.inner.send(now, &out);
            out.clear();
            if result.is_err() {
                break;
            }
        }
        self.scratch = Some(out);
        result
    }
}

impl<D: Device> Device for FaultDevice<D> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn recv(&mut self, now: Instant, batch: &mut Batch) -> io::Result<Received> {
        let mut fresh = self.take_scratch(batch.capacity(), batch.slot_len());
        let result = self.inner.recv(now, &mut fresh);
        for frame in fresh.iter() {
            self.rx.admit(&self.config, now, frame);
        }
        self.scratch = Some(fresh);
        let inner = result?;
        let frames = self.rx.release(now, batch);
        let more = inner.more || self.rx.next_due().is_some_and(|due| due <= now);
        Ok(Received { frames, more })
    }

    fn send(&mut self, now: Instant, batch: &Batch) -> io::Result<()> {
        for frame in batch.iter() {
            self.tx.admit(&self.config, now, frame);
        }
        self.send_due(now, batch.capacity(), batch.slot_len())
    }

    fn poll_at(&self) -> Option<Instant> {
        [self.rx.next_due(), self.tx.next_due(), self.inner.poll_at()]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) -> io::Result<()> {
        let (capacity, slot_len) = match &self.scratch {
            Some(b) => (b.capacity(), b.slot_len()),
            None => (64, self.inner.capabilities().max_frame),
        };
        self.send_due(now, capacity, slot_len)?;
        self.inner.handle_timeout(now)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    fn raw_fd(&self) -> Option<RawFd> {
        self.inner.raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::mock::MockDevice;

    fn frame(i: u32) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[14..18].copy_from_slice(&i.to_be_bytes());
        f
    }

    /// Sends `n` numbered frames 100 µs apart through a fault device
    /// and returns what came out, draining held frames at the end.
    fn run_tx(cfg: FaultConfig, n: u32) -> (Vec<Vec<u8>>, FaultStats) {
        let mut dev = FaultDevice::new(MockDevice::new(1500), cfg);
        let mut t = Instant::ZERO;
        for i in 0..n {
            let mut b = Batch::new(1, 1514);
            b.push(&frame(i));
            dev.send(t, &b).unwrap();
            t += Duration::from_micros(100);
            if dev.poll_at().is_some_and(|d| d <= t) {
                dev.handle_timeout(t).unwrap();
            }
        }
        while let Some(d) = dev.poll_at() {
            dev.handle_timeout(d).unwrap();
        }
        (dev.inner().tx.clone(), dev.tx_stats())
    }

    fn run_rx(cfg: FaultConfig, n: u32) -> Vec<Vec<u8>> {
        let mut mock = MockDevice::new(1500);
        mock.rx.extend((0..n).map(frame));
        let mut dev = FaultDevice::new(mock, cfg);
        let mut out = Vec::new();
        let mut t = Instant::ZERO;
        for _ in 0..10_000 {
            let mut b = Batch::new(8, 1514);
            dev.recv(t, &mut b).unwrap();
            out.extend(b.iter().map(<[u8]>::to_vec));
            if dev.inner().rx.is_empty() && dev.poll_at().is_none() {
                break;
            }
            t += Duration::from_millis(1);
        }
        out
    }

    const MIXED: FaultConfig = FaultConfig {
        drop: 0.1,
        dup: 0.05,
        reorder: 0.1,
        corrupt: 0.05,
        delay: Duration::from_millis(2),
        seed: 7,
    };

    #[test]
    fn noop_passes_everything_in_order() {
        let cfg = FaultConfig::default();
        assert!(cfg.is_noop());
        let (out, _) = run_tx(cfg, 100);
        assert_eq!(out, (0..100).map(frame).collect::<Vec<_>>());
        assert_eq!(run_rx(cfg, 100), (0..100).map(frame).collect::<Vec<_>>());
    }

    #[test]
    fn same_seed_same_fate_other_seed_other_fate() {
        let (a, _) = run_tx(MIXED, 500);
        let (b, _) = run_tx(MIXED, 500);
        assert_eq!(a, b);
        assert_eq!(run_rx(MIXED, 500), run_rx(MIXED, 500));
        let (c, _) = run_tx(FaultConfig { seed: 8, ..MIXED }, 500);
        assert!(a != c, "another seed gave the same fate");
    }

    #[test]
    fn rates_match_over_many_frames() {
        let n = 50_000u32;
        let (out, st) = run_tx(MIXED, n);
        let rate = |k: u64| k as f64 / n as f64;
        assert_eq!(st.frames, n as u64);
        assert!((rate(st.dropped) - 0.1).abs() < 0.01, "{st:?}");
        // Rates of the frames that survived the drop.
        let kept = (n as u64 - st.dropped) as f64;
        assert!((st.duplicated as f64 / kept - 0.05).abs() < 0.01, "{st:?}");
        assert!((st.reordered as f64 / kept - 0.1).abs() < 0.01, "{st:?}");
        assert!((st.corrupted as f64 / kept - 0.05).abs() < 0.01, "{st:?}");
        assert_eq!(out.len() as u64, n as u64 - st.dropped + st.duplicated);
    }

    #[test]
    fn corruption_spares_the_ethernet_header() {
        let cfg = FaultConfig {
            corrupt: 1.0,
            ..FaultConfig::default()
        };
        let (out, st) = run_tx(cfg, 200);
        assert_eq!(st.corrupted, 200);
        for (i, f) in out.iter().enumerate() {
            let orig = frame(i as u32);
            assert_eq!(f[..14], orig[..14]);
            let diff = f.iter().zip(&orig).filter(|(a, b)| a != b).count();
            assert_eq!(diff, 1, "frame {i}");
        }
        // A bare header has nothing to corrupt.
        let mut dev = FaultDevice::new(MockDevice::new(1500), cfg);
        let mut b = Batch::new(1, 1514);
        b.push(&[0xaa; 14]);
        dev.send(Instant::ZERO, &b).unwrap();
        assert_eq!(dev.inner().tx, vec![vec![0xaa; 14]]);
    }

    #[test]
    fn delay_holds_until_the_reported_deadline() {
        let cfg = FaultConfig {
            delay: Duration::from_millis(2),
            ..FaultConfig::default()
        };
        let mut dev = FaultDevice::new(MockDevice::new(1500), cfg);
        let mut b = Batch::new(4, 1514);
        b.push(&frame(1));
        let t0 = Instant::from_millis(10);
        dev.send(t0, &b).unwrap();
        assert!(dev.inner().tx.is_empty());
        assert_eq!(dev.poll_at(), Some(Instant::from_millis(12)));
        dev.handle_timeout(Instant::from_millis(11)).unwrap();
        assert!(dev.inner().tx.is_empty());
        dev.handle_timeout(Instant::from_millis(12)).unwrap();
        assert_eq!(dev.inner().tx, vec![frame(1)]);
        assert_eq!(dev.poll_at(), None);

        // Incoming: held, then returned by a later recv.
        dev.inner_mut().rx.push_back(frame(2));
        let mut b = Batch::new(4, 1514);
        assert_eq!(dev.recv(t0, &mut b).unwrap().frames, 0);
        assert_eq!(dev.poll_at(), Some(Instant::from_millis(12)));
        assert_eq!(
            dev.recv(Instant::from_millis(12), &mut b).unwrap().frames,
            1
        );
        assert_eq!(b.get(0), &frame(2)[..]);
    }

    #[test]
    fn reorder_lets_later_frames_overtake() {
        let cfg = FaultConfig {
            reorder: 0.3,
            seed: 3,
            ..FaultConfig::default()
        };
        let (out, st) = run_tx(cfg, 200);
        assert!(st.reordered > 0);
        assert_eq!(out.len(), 200);
        let mut sorted = out.clone();
        sorted.sort();
        assert_eq!(sorted, (0..200).map(frame).collect::<Vec<_>>());
        assert!(out != sorted, "nothing was reordered");
    }
}
