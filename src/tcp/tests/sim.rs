//! Two TCBs over a simulated wire with virtual time: latency, jitter
//! (reordering), loss, duplication and corruption, over many seeds.
//!
//! Every segment is serialised with `emit` and parsed back, so a corrupted
//! one fails its checksum like on a real wire. Each run moves 1 MiB each
//! way, checks the bytes delivered exactly, and requires both sides to end
//! in CLOSED or TIME-WAIT. `drive` is bounded in steps and virtual time, so
//! a livelock fails instead of hanging. On failure the seed is printed and
//! the run is written as a pcap (`LINKTYPE_RAW`, IPv4) in the temp dir.

use crate::device::pcap::{LINKTYPE_RAW, PcapWriter};
use crate::rand::Rng;
use crate::tcp::{CongestionAlgo, FourTuple, State, Tcb, TcpConfig, TcpError};
use crate::time::{Duration, Instant};
use crate::wire::SeqNum;
use crate::wire::checksum;
use crate::wire::tcp::{TcpPacket, TcpRepr};
use std::collections::BinaryHeap;
use std::net::{Ipv4Addr, SocketAddrV4};

const A_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// True with probability `per_mille`/1000.
fn chance(r: &mut Rng, per_mille: u64) -> bool {
    r.below(1000) < per_mille
}

/// Faults on the wire, per mille.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Faults {
    pub loss: u64,
    pub dup: u64,
    pub corrupt: u64,
    pub latency: Duration,
    /// Extra random delay up to this much: reorders segments.
    pub jitter: Duration,
}

#[derive(PartialEq, Eq)]
struct InFlight {
    at: Instant,
    order: u64,
    to_b: bool,
    bytes: Vec<u8>,
}

impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        // Min-heap on (at, order).
        (other.at, other.order).cmp(&(self.at, self.order))
    }
}

impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

struct Side {
    tcb: Option<Tcb>,
    data: Vec<u8>,
    sent: usize,
    received: Vec<u8>,
    shut: bool,
    eof: bool,
    closed: bool,
    /// Most bytes the application reads per step (a slow reader closes
    /// the window).
    read_limit: usize,
    /// Most bytes the application writes at once, then it pauses for
    /// `pause` (small bursts keep the flight small: tail losses).
    burst: usize,
    pause: Duration,
    next_write: Instant,
}

impl Side {
    fn new(data: Vec<u8>) -> Side {
        Side {
            tcb: None,
            data,
            sent: 0,
            received: Vec::new(),
            shut: false,
            eof: false,
            closed: false,
            read_limit: usize::MAX,
            burst: usize::MAX,
            pause: Duration::ZERO,
            next_write: Instant::ZERO,
        }
    }

    /// The application: write all, shut down writing, read to EOF, close.
    fn app(&mut self, now: Instant) -> Result<(), String> {
        let Some(tcb) = self.tcb.as_mut() else {
            return Ok(());
        };
        let mut allowance = if now >= self.next_write {
            self.burst
        } else {
            0
        };
        while self.sent < self.data.len() && allowance > 0 {
            let end = self.data.len().min(self.sent.saturating_add(allowance));
            match tcb.send(&self.data[self.sent..end]) {
                Ok(n) => {
                    self.sent += n;
                    allowance -= n;
                    if allowance == 0 {
                        self.next_write = now + self.pause;
                    }
                }
                Err(TcpError::WouldBlock) => break,
                Err(e) => return Err(format!("send: {e} in {}", tcb.state())),
            }
        }
        if self.sent == self.data.len()
            && !self.shut
            && tcb.state() != State::SynSent
            && tcb.state() != State::SynReceived
        {
            tcb.shutdown_write();
            self.shut = true;
        }
        let mut buf = [0u8; 16384];
        let mut budget = self.read_limit;
        while !self.eof && budget > 0 {
            let want = budget.min(buf.len());
            match tcb.recv(&mut buf[..want]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    budget -= n;
                    self.received.extend_from_slice(&buf[..n]);
                }
                Err(TcpError::WouldBlock) => break,
                Err(e) => return Err(format!("recv: {e} in {}", tcb.state())),
            }
        }
        if self.eof && self.shut && !self.closed {
            tcb.close();
            self.closed = true;
        }
        Ok(())
    }

    fn done(&self) -> bool {
        self.closed
            && self
                .tcb
                .as_ref()
                .is_some_and(|t| matches!(t.state(), State::Closed | State::TimeWait))
    }
}

/// Chooses segments to lose: `(from_a, segment)`, true to drop.
pub(crate) type DropFilter = Box<dyn FnMut(bool, &TcpRepr) -> bool>;

pub(crate) struct Sim {
    now: Instant,
    rng: Rng,
    faults: Faults,
    a: Side,
    b: Side,
    b_config: TcpConfig,
    wire: BinaryHeap<InFlight>,
    order: u64,
    log: Vec<(Instant, bool, Vec<u8>)>,
    pub corrupted: u64,
    /// SACK recovery watched on both sides ([`RecoveryWatch`]).
    pub recovery: [RecoveryWatch; 2],
    pub segments: u64,
    /// Drops chosen segments (from A when the flag is true), on top of
    /// the random faults.
    pub(crate) drop_if: Option<DropFilter>,
}

fn tuple(a_to_b: bool) -> FourTuple {
    let a = SocketAddrV4::new(A_ADDR, 40000);
    let b = SocketAddrV4::new(B_ADDR, 80);
    if a_to_b {
        FourTuple::new(a, b)
    } else {
        FourTuple::new(b, a)
    }
}

/// What one side sends in SACK fast recovery, against what the peer
/// reported delivered (RFC 6937's prr_delivered: SND.UNA's advance plus
/// newly SACKed bytes, from the ACK that started recovery on) and
/// RecoverFS (the flight before that ACK). Checked at each segment sent
/// in recovery: either the pipe is at most ssthresh after it, or what
/// was sent in the episode is within ssthresh/RecoverFS of what was
/// delivered (PRR's proportional part), with two segments of slack for
/// the forced first retransmission and rounding.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RecoveryWatch {
    episode: Option<SeqNum>,
    una0: SeqNum,
    sacked0: u32,
    recover_fs: u32,
    out: u64,
    /// Before the segment being delivered: SND.UNA, SACKed bytes, flight.
    before: (SeqNum, u32, u32),
    /// SACK recovery episodes seen, and segments sent in them.
    pub episodes: u32,
    pub sends: u32,
    /// The most sent beyond the bound, bytes, and when.
    pub max_excess: u64,
    pub worst_at: Option<Instant>,
}

fn in_sack_recovery(t: &Tcb) -> Option<SeqNum> {
    t.recovery
        .recover
        .filter(|_| t.sack_ok && !t.recovery.in_loss)
}

fn pattern(seed: u64, len: usize, salt: u64) -> Vec<u8> {
    let mut r = Rng::new(seed ^ salt);
    (0..len).map(|_| r.next_u64() as u8).collect()
}

impl Sim {
    pub(crate) fn new(
        seed: u64,
        faults: Faults,
        a_cfg: TcpConfig,
        b_cfg: TcpConfig,
        len: usize,
    ) -> Sim {
        let mut a = Side::new(pattern(seed, len, 0xa));
        let b = Side::new(pattern(seed, len, 0xb));
        let iss = SeqNum((Rng::new(seed).next_u64() >> 7) as u32);
        a.tcb = Some(Tcb::connect(Instant::ZERO, tuple(true), iss, a_cfg));
        Sim {
            now: Instant::ZERO,
            rng: Rng::new(seed.wrapping_add(77)),
            faults,
            a,
            b,
            b_config: b_cfg,
            wire: BinaryHeap::new(),
            order: 0,
            log: Vec::new(),
            corrupted: 0,
            recovery: [RecoveryWatch::default(); 2],
            segments: 0,
            drop_if: None,
        }
    }

    fn transmit(&mut self, from_a: bool, scratch: &mut [u8]) {
        loop {
            let side = if from_a { &mut self.a } else { &mut self.b };
            let Some(tcb) = side.tcb.as_mut() else { return };
            let Some(seg) = tcb.poll_transmit(self.now, scratch) else {
                return;
            };
            let (src, dst) = if from_a {
                (A_ADDR, B_ADDR)
            } else {
                (B_ADDR, A_ADDR)
            };
            let len = seg.payload.len();
            let mut bytes = vec![0u8; seg.buffer_len()];
            seg.emit(&mut TcpPacket::new_unchecked(&mut bytes[..]), src, dst);
            self.watch_send(from_a, len);
            self.segments += 1;
            self.log.push((self.now, from_a, bytes.clone()));
            if self.drop_if.as_mut().is_some_and(|f| f(from_a, &seg)) {
                continue;
            }
            if chance(&mut self.rng, self.faults.loss) {
                continue;
            }
            let copies = if chance(&mut self.rng, self.faults.dup) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let mut b = bytes.clone();
                if chance(&mut self.rng, self.faults.corrupt) {
                    let i = self.rng.below(b.len() as u64) as usize;
                    // Never 0xff: a single-byte change by less than 0xff
                    // cannot keep the one's complement sum.
                    b[i] ^= 1 + self.rng.below(0x7f) as u8;
                }
                let jitter = self.rng.below(self.faults.jitter.as_micros() as u64 + 1);
                let at = self.now + self.faults.latency + Duration::from_micros(jitter);
                self.order += 1;
                self.wire.push(InFlight {
                    at,
                    order: self.order,
                    to_b: from_a,
                    bytes: b,
                });
            }
        }
    }

    fn deliver(&mut self, p: InFlight) {
        let (src, dst) = if p.to_b {
            (A_ADDR, B_ADDR)
        } else {
            (B_ADDR, A_ADDR)
        };
        let Ok(pkt) = TcpPacket::new_checked(&p.bytes[..]) else {
            self.corrupted += 1;
            return;
        };
        let seg = match TcpRepr::parse(&pkt, src, dst) {
            Ok(s) => s,
            Err(_) => {
                self.corrupted += 1;
                return;
            }
        };
        let now = self.now;
        let side = if p.to_b { &mut self.b } else { &mut self.a };
        let w = &mut self.recovery[usize::from(p.to_b)];
        match side.tcb.as_mut() {
            Some(t) => {
                w.before = (t.snd_una, t.scoreboard.sacked_bytes(), t.flight());
                t.handle_segment(now, &seg);
                match in_sack_recovery(t) {
                    Some(r) if w.episode != Some(r) => {
                        w.episode = Some(r);
                        (w.una0, w.sacked0, w.recover_fs) = w.before;
                        w.out = 0;
                        w.episodes += 1;
                    }
                    Some(_) => {}
                    None => w.episode = None,
                }
            }
            None if p.to_b => {
                side.tcb =
                    Tcb::accept_syn(now, tuple(false), SeqNum(0x8000_0000), &seg, self.b_config)
            }
            None => {}
        }
    }

    /// Runs to completion; Err with a reason on failure.
    pub(crate) fn drive(&mut self, max_steps: u64, max_time: Duration) -> Result<(), String> {
        let mut scratch = vec![0u8; 65536];
        for _ in 0..max_steps {
            self.a.app(self.now)?;
            self.b.app(self.now)?;
            self.transmit(true, &mut scratch);
            self.transmit(false, &mut scratch);
            if self.a.done() && self.b.done() {
                return self.check();
            }
            for s in [&self.a, &self.b] {
                // CLOSED before the application is done is fine (TIME-WAIT
                // may end while it still reads), unless it is an error.
                if let Some(t) = &s.tcb
                    && t.state() == State::Closed
                    && t.readiness().error
                {
                    return Err(format!("closed early: {:?}", t.info()));
                }
            }
            let mut next = self.wire.peek().map(|p| p.at);
            for t in [&self.a.tcb, &self.b.tcb].into_iter().flatten() {
                if let Some(at) = t.poll_timeout() {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
            // A slow reader with data waiting works on the next step.
            let reading = [&self.a, &self.b]
                .iter()
                .any(|s| s.tcb.as_ref().is_some_and(|t| t.recv_queue_len() > 0));
            if reading {
                next = Some(next.map_or(self.now, |n| n.min(self.now)));
            }
            // A pausing writer with data left writes again at next_write.
            for s in [&self.a, &self.b] {
                if s.tcb.is_some() && s.sent < s.data.len() && s.next_write > self.now {
                    next = Some(next.map_or(s.next_write, |n| n.min(s.next_write)));
                }
            }
            let Some(next) = next else {
                return Err(format!("stuck: nothing to do at {}", self.now));
            };
            if next - Instant::ZERO > max_time {
                return Err(format!("virtual time limit at {}", self.now));
            }
            self.now = self.now.max(next);
            while self.wire.peek().is_some_and(|p| p.at <= self.now) {
                if let Some(p) = self.wire.pop() {
                    self.deliver(p);
                }
            }
            let now = self.now;
            for t in [&mut self.a.tcb, &mut self.b.tcb].into_iter().flatten() {
                if t.poll_timeout().is_some_and(|at| at <= now) {
                    t.handle_timeout(now);
                }
            }
        }
        Err(format!("livelock: {max_steps} steps at {}", self.now))
    }

    /// A segment of `len` bytes went from one side: see [`RecoveryWatch`].
    fn watch_send(&mut self, from_a: bool, len: usize) {
        let side = if from_a { &self.a } else { &self.b };
        let w = &mut self.recovery[usize::from(!from_a)];
        let Some(t) = side.tcb.as_ref() else { return };
        if len == 0 || w.episode.is_none() || in_sack_recovery(t) != w.episode {
            return;
        }
        w.out += len as u64;
        w.sends += 1;
        let ssthresh = u64::from(t.cc.ssthresh());
        if u64::from(t.rack.pipe()) <= ssthresh {
            return;
        }
        let delivered = i64::from(t.snd_una.since(w.una0)) + i64::from(t.scoreboard.sacked_bytes())
            - i64::from(w.sacked0);
        let delivered = delivered.max(0) as u64;
        let fs = u64::from(w.recover_fs.max(1));
        let bound = (delivered * ssthresh).div_ceil(fs) + 2 * u64::from(t.eff_mss());
        if w.out > bound && w.out - bound > w.max_excess {
            w.max_excess = w.out - bound;
            w.worst_at = Some(self.now);
        }
    }

    fn check(&self) -> Result<(), String> {
        let first_diff = |a: &[u8], b: &[u8]| a.iter().zip(b).position(|(x, y)| x != y);
        if let Some(i) = first_diff(&self.b.received, &self.a.data) {
            return Err(format!("B's byte {i} differs"));
        }
        if let Some(i) = first_diff(&self.a.received, &self.b.data) {
            return Err(format!("A's byte {i} differs"));
        }
        if self.b.received != self.a.data {
            return Err(format!(
                "B got {} bytes of {} (or wrong bytes)",
                self.b.received.len(),
                self.a.data.len()
            ));
        }
        if self.a.received != self.b.data {
            return Err(format!(
                "A got {} bytes of {} (or wrong bytes)",
                self.a.received.len(),
                self.b.data.len()
            ));
        }
        Ok(())
    }

    pub(crate) fn status(&self) -> String {
        let st = |s: &Side| {
            s.tcb.as_ref().map_or("none".to_string(), |t| {
                format!(
                    "{} sent {}/{} recv {} {:?} sq {} rq {} rto {}ms rtt {}ms cwnd {} wnd {} rexmits {}",
                    t.state(),
                    s.sent,
                    s.data.len(),
                    s.received.len(),
                    t.seq_vars(),
                    t.send_queue_len(),
                    t.recv_queue_len(),
                    t.info().rto / 1000,
                    t.info().rtt / 1000,
                    t.info().snd_cwnd,
                    t.info().snd_wnd,
                    t.info().retransmits
                )
            })
        };
        format!("t={} A: {} | B: {}", self.now, st(&self.a), st(&self.b))
    }

    /// Segments sent advertising a zero window.
    fn zero_windows(&self) -> usize {
        self.log
            .iter()
            .filter(|(_, _, b)| b.len() >= 20 && b[13] & 0x02 == 0 && b[14] == 0 && b[15] == 0)
            .count()
    }

    /// Writes the run as a pcap of raw IPv4 packets.
    pub(crate) fn write_pcap(&self, path: &std::path::Path) -> std::io::Result<()> {
        let f = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut w = PcapWriter::new(f, LINKTYPE_RAW)?;
        for (at, from_a, tcp) in &self.log {
            let (src, dst) = if *from_a {
                (A_ADDR, B_ADDR)
            } else {
                (B_ADDR, A_ADDR)
            };
            let total = (20 + tcp.len()) as u16;
            let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0];
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&src.octets());
            ip.extend_from_slice(&dst.octets());
            let c = checksum::checksum(&ip);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            ip.extend_from_slice(tcp);
            w.write_packet(at.total_micros(), &ip)?;
        }
        Ok(())
    }
}

/// A config for seed `seed`: buffers, options and congestion control vary.
fn config_for(seed: u64, side: u64) -> TcpConfig {
    let mut r = Rng::new(seed * 31 + side);
    let bufs = [256 * 1024, 64 * 1024, 16 * 1024, 6000];
    TcpConfig {
        rcv_buf: bufs[r.below(4) as usize],
        snd_buf: bufs[r.below(3) as usize],
        window_scaling: !chance(&mut r, 200),
        sack: !chance(&mut r, 300),
        timestamps: !chance(&mut r, 300),
        nodelay: chance(&mut r, 300),
        congestion: if chance(&mut r, 500) {
            CongestionAlgo::Cubic
        } else {
            CongestionAlgo::NewReno
        },
        mss: [1460, 1460, 536, 9000][r.below(4) as usize],
        // A third of the TCBs send TSO-sized segments (the wire carries
        // them whole, as one GRO segment would arrive).
        tso_max: if chance(&mut r, 333) { 65000 } else { 0 },
        // Half the buffers autotune (from any of the sizes above), half
        // keep their size as SO_RCVBUF and SO_SNDBUF would.
        rcv_buf_auto: chance(&mut r, 500),
        snd_buf_auto: chance(&mut r, 500),
        ..TcpConfig::default()
    }
}

fn run_seeds(loss_per_mille: u64, seeds: core::ops::Range<u64>) {
    let mut failures = Vec::new();
    let mut corrupted = 0;
    for seed in seeds {
        let faults = Faults {
            loss: loss_per_mille,
            dup: if loss_per_mille > 0 { 10 } else { 0 },
            corrupt: if loss_per_mille > 0 { 10 } else { 0 },
            latency: Duration::from_millis(1 + seed % 20),
            jitter: Duration::from_millis(if loss_per_mille > 0 { seed % 7 } else { 0 }),
        };
        let mut sim = Sim::new(
            seed,
            faults,
            config_for(seed, 0),
            config_for(seed, 1),
            1 << 20,
        );
        if let Err(e) = sim.drive(2_000_000, Duration::from_secs(3600)) {
            let path = std::env::temp_dir().join(format!("tapstack-tcp-sim-{seed}.pcap"));
            let _ = sim.write_pcap(&path);
            eprintln!(
                "seed {seed} (loss {loss_per_mille}‰) failed: {e}\n  {}\n  pcap: {}",
                sim.status(),
                path.display()
            );
            failures.push(seed);
        }
        corrupted += sim.corrupted;
    }
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    // Corruption was injected and every corrupted segment was caught by
    // its checksum (the byte-exact comparison would fail otherwise).
    assert_eq!(corrupted > 0, loss_per_mille > 0);
}

/// A slow reader behind a small buffer: zero windows, persist probes and
/// window updates, under light loss.
#[test]
fn sim_slow_reader_zero_windows() {
    let mut failures = Vec::new();
    let mut zero_windows = 0;
    for seed in 5000..5020 {
        let faults = Faults {
            loss: 10,
            dup: 5,
            corrupt: 5,
            latency: Duration::from_millis(2),
            jitter: Duration::from_millis(1),
        };
        let small = TcpConfig {
            rcv_buf: 4096,
            rcv_buf_auto: false,
            ..config_for(seed, 0)
        };
        let mut sim = Sim::new(seed, faults, small, config_for(seed, 1), 256 * 1024);
        sim.a.read_limit = 300;
        sim.b.read_limit = 700;
        if let Err(e) = sim.drive(2_000_000, Duration::from_secs(3600)) {
            let path = std::env::temp_dir().join(format!("tapstack-tcp-sim-{seed}.pcap"));
            let _ = sim.write_pcap(&path);
            eprintln!(
                "seed {seed} (slow reader) failed: {e}\n  {}\n  pcap: {}",
                sim.status(),
                path.display()
            );
            failures.push(seed);
        }
        zero_windows += sim.zero_windows();
    }
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    assert!(zero_windows > 0, "the windows never closed");
}

/// Tail losses: the applications write 4 KiB every 10 ms, so the flight
/// is a few segments and a loss rarely gets three duplicate ACKs. With only
/// the RTO (200 ms at least) repairing them, 1 MiB at 5 % loss takes over
/// 7 s of virtual time; the tail loss probe and RACK (RFC 8985) repair
/// them within a few RTTs, so the bound is 4 s (2.6 s of it are pauses).
#[test]
fn sim_tail_losses_are_repaired_without_timeouts() {
    let mut failures = Vec::new();
    for seed in 6000..6010 {
        let faults = Faults {
            loss: 50,
            dup: 0,
            corrupt: 0,
            latency: Duration::from_millis(5),
            jitter: Duration::ZERO,
        };
        let cfg = TcpConfig {
            nodelay: true,
            ..TcpConfig::default()
        };
        let mut sim = Sim::new(seed, faults, cfg, cfg, 1 << 20);
        for s in [&mut sim.a, &mut sim.b] {
            s.burst = 4096;
            s.pause = Duration::from_millis(10);
        }
        if let Err(e) = sim.drive(2_000_000, Duration::from_secs(4)) {
            eprintln!("seed {seed} (tail losses) failed: {e}\n  {}", sim.status());
            failures.push(seed);
        }
    }
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
}

/// Without SACK, two segments of every three in a window are lost: more
/// holes than the receiver's assembler keeps ranges (32), each two
/// segments long, so the retransmission at RCV.NXT does not reach the
/// range above it. It must still be taken, whatever the assembler holds,
/// or every retransmission is dropped until the connection times out.
#[test]
fn sim_many_holes_without_sack_complete() {
    let faults = Faults {
        loss: 0,
        dup: 0,
        corrupt: 0,
        latency: Duration::from_millis(5),
        jitter: Duration::ZERO,
    };
    let cfg = TcpConfig {
        sack: false,
        congestion: CongestionAlgo::NewReno,
        ..TcpConfig::default()
    };
    // The receiver keeps 8 ranges rather than 32: the flight here holds
    // about 15 holes when the losses begin.
    let b_cfg = TcpConfig {
        max_ooo_ranges: 8,
        ..cfg
    };
    let mut sim = Sim::new(9, faults, cfg, b_cfg, 8 << 20);
    // B only acknowledges: pure ACKs, so duplicate ACKs count.
    sim.b.data.clear();
    let dropped = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let counter = dropped.clone();
    let mut highest: Option<SeqNum> = None;
    let mut n = 0u32;
    sim.drop_if = Some(Box::new(move |from_a, seg| {
        if !from_a || seg.payload.is_empty() {
            return false;
        }
        let end = seg.seq + seg.payload.len();
        if highest.is_some_and(|h| !end.after(h)) {
            return false; // a retransmission: let it through
        }
        highest = Some(end);
        n += 1;
        let drop = (1000..1150).contains(&n) && !n.is_multiple_of(3);
        counter.set(counter.get() + u32::from(drop));
        drop
    }));
    let r = sim.drive(4_000_000, Duration::from_secs(600));
    assert!(r.is_ok(), "{r:?}\n  {}", sim.status());
    assert_eq!(dropped.get(), 100);
}

/// SACK recovery under loss (RFC 6937, PRR): once in fast recovery the
/// pipe only shrinks until it reaches ssthresh (proportional rate
/// reduction), then stays at or below it (slow-start reduction bound),
/// and the bytes still arrive exactly. With the Reno model RACK
/// retransmitted while the pipe was below an inflated cwnd
/// (ssthresh + 3 MSS + 1 per duplicate ACK), so the pipe climbed back
/// above ssthresh in recovery and went out in bursts.
#[test]
fn sim_sack_recovery_holds_the_pipe_to_ssthresh() {
    let mut failures = Vec::new();
    let (mut episodes, mut worst, mut took) = (0, 0, Duration::ZERO);
    for seed in 7000..7030 {
        let faults = Faults {
            loss: 30,
            dup: 0,
            corrupt: 0,
            latency: Duration::from_millis(10),
            jitter: Duration::ZERO,
        };
        let cfg = |side| TcpConfig {
            sack: true,
            timestamps: true,
            window_scaling: true,
            ..config_for(seed, side)
        };
        let mut sim = Sim::new(seed, faults, cfg(0), cfg(1), 1 << 20);
        let r = sim.drive(2_000_000, Duration::from_secs(3600));
        took += sim.now - Instant::ZERO;
        for w in sim.recovery {
            episodes += w.episodes;
            worst = worst.max(w.max_excess);
        }
        let excess = sim.recovery.iter().map(|w| w.max_excess).max();
        if let Err(e) = r {
            eprintln!(
                "seed {seed} (SACK recovery) failed: {e}\n  {}",
                sim.status()
            );
            failures.push(seed);
        } else if excess > Some(0) {
            eprintln!(
                "seed {seed}: the pipe went {} bytes over in recovery: {:?}",
                excess.unwrap_or(0),
                sim.recovery
            );
            failures.push(seed);
        }
    }
    eprintln!(
        "SACK recovery: {episodes} episodes, worst excess {worst} bytes, {took:?} of virtual time"
    );
    assert!(episodes > 30, "too few recoveries to judge: {episodes}");
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
}

#[test]
fn sim_no_loss() {
    run_seeds(0, 0..50);
}

#[test]
fn sim_loss_1_percent() {
    run_seeds(10, 1000..1050);
}

#[test]
fn sim_loss_5_percent() {
    run_seeds(50, 2000..2050);
}

#[test]
fn sim_loss_20_percent() {
    run_seeds(200, 3000..3050);
}

/// A longer search for failing seeds, outside the regular run:
/// `TAPSTACK_SIM_SEEDS=N cargo test --release sim_soak -- --ignored`
/// runs N fresh seeds (default 1000) at each loss rate.
#[test]
#[ignore]
fn sim_soak() {
    let n: u64 = std::env::var("TAPSTACK_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    for (i, loss) in [0, 10, 50, 200].into_iter().enumerate() {
        let start = 100_000 * (i as u64 + 1);
        run_seeds(loss, start..start + n);
    }
}

#[test]
fn failed_run_writes_a_readable_pcap() {
    let faults = Faults {
        loss: 0,
        dup: 0,
        corrupt: 0,
        latency: Duration::from_millis(5),
        jitter: Duration::ZERO,
    };
    let mut sim = Sim::new(
        1,
        faults,
        TcpConfig::default(),
        TcpConfig::default(),
        10_000,
    );
    // Too few steps: the run "fails", as a livelock would.
    assert!(sim.drive(3, Duration::from_secs(10)).is_err());
    let path =
        std::env::temp_dir().join(format!("tapstack-tcp-sim-test-{}.pcap", std::process::id()));
    sim.write_pcap(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_le_bytes());
    assert_eq!(&bytes[20..24], &LINKTYPE_RAW.to_le_bytes());
    // The first record is the SYN: 16-byte record header, 20-byte IPv4.
    assert_eq!(bytes[24 + 16], 0x45);
    assert_eq!(bytes[24 + 16 + 9], 6);
}
