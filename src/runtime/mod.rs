//! The runtime: the stack's lock, and one stack thread per process.
//!
//! The [`Stack`] lives in a region of shared memory (`crate::shared`) that
//! every process using the same TAP maps at one address: forked children,
//! programs they `exec`, and unrelated programs started with the same
//! `TAPSTACK_IFNAME` in the same network namespace. The first process
//! formats the region; the others attach. `docs/shared-stack.md` tells
//! the whole design.
//!
//! Each process has a stack thread, named `tapstack`, started with the
//! runtime (lazily in a forked child, at its first call on the stack).
//! Application threads lock the stack directly ([`Runtime::lock`]) and
//! call [`Runtime::wake`] when they leave work for their stack thread.
//!
//! One turn of the loop:
//!
//! 1. block in `epoll_wait` on this process's TAP queue, a waker, the
//!    process's bell (`bell`) and a pidfd per other process, until the
//!    earlier of the stack's and the device's deadlines;
//! 2. read a batch of frames from the device (no lock held);
//! 3. under **one** lock: `handle_frame` for each, `handle_timeout` when
//!    due, drain `poll_transmit` into a batch, `take_wakeups` (the wait
//!    queues of the sockets whose readiness may have changed), and
//!    `take_trace`;
//! 4. unlock, write the batch to the device, wake the threads waiting on
//!    those sockets (their futex words are shared: any process wakes
//!    them), tell this process's watchers and ring the bells of the other
//!    processes that watch them, write the trace.
//!
//! Every process's thread runs the stack's timers (whoever takes the lock
//! first does the work); a process that dies is seen through its pidfd,
//! and the sockets only it held are closed as the kernel closes a dead
//! process's sockets ([`process`]).
//!
//! No real syscall runs while the stack lock is held. A panic in the loop is
//! caught: the runtime is marked failed (later calls get `EIO`), every
//! waiter is woken, the pcap is flushed, and the host program goes on.

pub mod bell;
pub mod calls;
pub mod config;
pub mod config_text;
pub mod control;
pub mod known_vars;
pub mod log;
pub mod process;
pub mod reader;
pub mod steer;
pub mod trace;
pub mod transmit;
pub mod watchers;
use crate::device::{Batch, Device, FaultDevice, PcapDevice, TapDevice};
use crate::shared::header::{AttachError, Guard, Header};
use crate::shared::lock::Held;
use crate::shared::region::{Opened, REGION_LEN, Region, region_path};
use crate::shim::readiness::interest_list::Raise;
use crate::stack::SocketHandle;
use crate::stack::Stack;
use crate::stack::socket::WaitQueue;
use crate::stack::trace::TraceEvent;
use crate::sys;
use crate::sys::clock::{monotonic_now, realtime_micros};
use crate::sys::event::{Epoll, EpollEvent, Waker};
use crate::sys::private_fd::PrivateFd;
use crate::sys::sync::LeakedSlot;
use crate::sys::sync::Mutex;
use crate::time::{Duration, Instant};
use bell::Note;
pub use config::Config;
use once_cell::sync::OnceCell;
use std::cell::Cell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicUsize, Ordering};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::thread::ThreadId;

/// The transmit lock held ([`Local::tx`]).
type TxGuard<'a> = Held<std::sync::MutexGuard<'a, Option<transmit::Transmitter>>>;

const TAP: u64 = 0;
const WAKER: u64 = 1;
// 2 and 16.. are the control socket's (`control::LISTEN_TOKEN`,
// `control::FIRST_CLIENT_TOKEN`).
const BELL: u64 = 3;
const TIMER: u64 = 4;
const _: () = assert!(
    BELL != control::LISTEN_TOKEN
        && TIMER != control::LISTEN_TOKEN
        && TIMER < control::FIRST_CLIENT_TOKEN
        && BELL < control::FIRST_CLIENT_TOKEN
        && PIDFD > (1 << 31)
);
/// `PIDFD + slot`: the pidfd of the process in that slot.
const PIDFD: u64 = 1 << 32;

/// Most frames moved per batch.
const MAX_BATCH: usize = 64;
/// Upper bound on one batch's buffer, so jumbo MTUs do not cost megabytes.
const BATCH_BYTES: usize = 1 << 20;

const RUNNING: u8 = 0;
const FAILED: u8 = 1;
const STOPPED: u8 = 2;

/// How long an attaching process waits for the region's creator to finish
/// formatting it.
const ATTACH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The running stack as this process sees it: the shared header (lock,
/// process table, stack), this process's slot, and its stack thread.
pub struct Runtime {
    header: &'static Header,
    /// The mapping, kept for the process's life (`None`: a private stack,
    /// for tests).
    region: Option<Region>,
    config: Config,
    netns: u64,
    /// This process's slot in the process table.
    slot: AtomicUsize,
    /// The per-process part (thread, waker, bell); a forked child makes
    /// its own.
    local: LeakedSlot<Local>,
    /// This process's TAP fd, for a forked child to take over (-1: none).
    tap_fd: AtomicI32,
    /// In a forked child until its first call on the stack: a queue of its
    /// own, opened detached in its `fork` handler ([`Runtime::open_child_queue`]).
    child_queue: std::sync::Mutex<Option<TapDevice>>,
    /// The pid of the process that opened the TAP queue this process reads
    /// (a forked child's is its parent's, copied by `fork`): the process
    /// table's [`ProcSlot::queue`](crate::shared::header::ProcSlot).
    queue: AtomicI32,
    /// This process's control socket, for a forked child to close.
    control_fd: AtomicI32,
    /// Set in a forked child until its own stack thread runs.
    forked: AtomicBool,
    /// The stack thread was stopped for an `exec` in progress.
    exec_pending: AtomicBool,
    respawn: Mutex<()>,
    /// This process gave its slot back (at exit); the stack thread may
    /// still finish a turn, but the slot may be another process's now.
    left: AtomicBool,
}

/// What each process has for itself.
struct Local {
    waker: Waker,
    poll: Epoll,
    bell: Option<bell::Bell>,
    /// A socket to ring other processes' bells from.
    ringer: Option<PrivateFd>,
    wake_pending: AtomicBool,
    /// The stack's next timer as the stack thread last saw it, or as a
    /// call that armed an earlier one set its timer for (microseconds,
    /// `u64::MAX`: none): [`Runtime::arm_timer`].
    deadline: AtomicU64,
    /// Wakes the stack thread for a timer an application thread armed
    /// (`None`: it could not be made; the thread is woken at once).
    timer: Option<sys::event::TimerFd>,
    /// Writes frames from application threads, and orders them with the
    /// stack thread's ([`transmit`]); `None` when the device must see
    /// every frame. (std's lock, as `outbox`.)
    tx: std::sync::Mutex<Option<transmit::Transmitter>>,
    /// The stack thread is running a turn (not asleep in `epoll_wait`): a
    /// call leaves its frames to it ([`transmit`]), and asks for a turn
    /// with `asked` alone ([`Runtime::wake`]).
    busy: AtomicBool,
    /// A call asked the stack thread for a turn ([`Runtime::wake`]): it
    /// looks before it sleeps.
    asked: AtomicBool,
    /// Bells for the stack thread to ring, left by application threads.
    /// (std's lock: an application thread takes it, and std's never
    /// calls `sched_yield`, which a sandbox may forbid.)
    outbox: std::sync::Mutex<Vec<(usize, Vec<Note>)>>,
    stop: AtomicBool,
    state: AtomicU8,
    /// 1 once the stack thread has ended (a futex word: [`Runtime::shutdown`]
    /// waits on it).
    finished: AtomicU32,
    thread: OnceCell<ThreadId>,
    /// The TAP queue an application thread may wait on and read
    /// ([`reader`]); unset when the stack thread must do every read.
    tap_watch: OnceCell<reader::TapWatch>,
    /// The wait word (its address) of the thread that reads the TAP while
    /// it waits, 0 when none does ([`reader`]).
    reader: AtomicUsize,
    /// Wakes that thread (an eventfd it polls).
    kick: PrivateFd,
    /// The signals that thread watches while it waits (made at the first
    /// wait; only the reader uses it).
    signals: std::sync::Mutex<Option<sys::signal::SignalFd>>,
    /// The TAP is out of the stack thread's epoll set, lent to the
    /// application threads ([`reader`]); changed with `tx` held.
    lent: AtomicBool,
    /// When the lease ends if no thread waits on the TAP by then
    /// (microseconds).
    lease_end: AtomicU64,
    /// Until when (microseconds) an event loop's waits leave the TAP to
    /// the stack thread: bulk traffic was seen ([`reader`]).
    streaming_until: AtomicU64,
    /// This process's own queue is detached: it takes no new flows
    /// ([`steer`]).
    detached: AtomicBool,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("ifname", &self.config.ifname)
            .field("slot", &self.slot.load(Ordering::Relaxed))
            .field("state", &self.local().state.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Why the runtime could not start: one line for the user, and the errno
/// the failing call returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError {
    /// The line to print (starts with `tapstack: `).
    pub message: String,
    /// The errno for the application's call (`ENETDOWN`).
    pub errno: i32,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StartError {}

fn start_error(message: String) -> StartError {
    StartError {
        message,
        errno: libc::ENETDOWN,
    }
}

fn tap_error(name: &str, e: &std::io::Error) -> StartError {
    let errno = e.raw_os_error().unwrap_or(0);
    let hint = match errno {
        libc::EPERM | libc::EACCES => {
            " (needs CAP_NET_ADMIN, or a persistent TAP this user may use: ip tuntap add dev NAME mode tap multi_queue user USER)"
        }
        libc::EBUSY => {
            " (another process holds it and it has one queue: make it with `ip tuntap add dev NAME mode tap multi_queue` to share it)"
        }
        libc::ENOENT | libc::ENODEV => " (no /dev/net/tun: is the tun module loaded?)",
        libc::EINVAL => " (is there a non-TAP interface with that name?)",
        _ => "",
    };
    start_error(format!(
        "tapstack: cannot open TAP {name:?} (TAPSTACK_IFNAME): {} ({}){hint}",
        std::io::Error::from_raw_os_error(errno),
        sys::errno_name(errno),
    ))
}

/// Opens the TAP and wraps it as configured: `FaultDevice<PcapDevice<TapDevice>>`
/// (the capture shows the wire; the faults sit between the wire and the stack).
pub fn open_device(config: &Config, now: Instant) -> Result<Box<dyn Device + Send>, StartError> {
    open_device_as(config, config.use_offload(), true, now)
}

/// As [`open_device`], with the stack's `offload` setting (a process that
/// attaches to a stack must read frames as the stack reads them) and
/// without the capture unless `pcap` (one process writes it: the first).
pub fn open_device_as(
    config: &Config,
    offload: bool,
    pcap: bool,
    now: Instant,
) -> Result<Box<dyn Device + Send>, StartError> {
    let tap = TapDevice::open(&config.ifname, config.mtu, offload)
        .map_err(|e| tap_error(&config.ifname, &e))?;
    crate::log_info!(
        "{} {} (MTU {}, offload {})",
        if tap.created() {
            "created"
        } else {
            "attached to"
        },
        tap.name(),
        config.mtu,
        if tap.capabilities().vnet_hdr {
            "on"
        } else {
            "off"
        }
    );
    let mut dev: Box<dyn Device + Send> = Box::new(tap);
    if let Some(path) = config.pcap.as_ref().filter(|_| pcap) {
        let pcap = PcapDevice::create(dev, path, now, realtime_micros()).map_err(|e| {
            start_error(format!(
                "tapstack: TAPSTACK_PCAP={:?}: cannot write: {e}",
                path.display().to_string()
            ))
        })?;
        dev = Box::new(pcap);
    }
    if let Some(faults) = config.faults.filter(|f| !f.is_noop()) {
        crate::log_info!("fault injection: {faults:?}");
        dev = Box::new(FaultDevice::new(dev, faults));
    }
    Ok(dev)
}

/// Where a runtime's stack comes from.
#[derive(PartialEq, Eq)]
enum Origin {
    /// The region of this TAP, created by this process (it writes the
    /// trace file, if one is asked for).
    Created,
    /// The region of this TAP, attached to (or inherited).
    Shared,
    /// A private stack in this process (tests).
    Private,
}

impl Runtime {
    /// Maps the stack of `config`'s TAP (formatting it when this process
    /// is the first), joins its process table, opens a queue of the TAP and
    /// starts this process's stack thread. The runtime lives for the rest
    /// of the process. It serves a control socket ([`control`]) for
    /// `tapstack ss` and the like, when it can make one.
    pub fn start(config: Config) -> Result<&'static Runtime, StartError> {
        let netns = sys::unix_socket::netns_inode();
        let (header, region) = map_shared(&config, netns)?;
        let created = header.in_use() == 0;
        let rt = Runtime::new(config, netns, header, Some(region))?;
        let offload = rt.lock().offload();
        let dev = match open_device_as(&rt.config, offload, created, monotonic_now()) {
            Ok(dev) => Some(dev),
            Err(e) if header.in_use() > 1 => {
                // Another process reads the TAP: this one shares its stack
                // and lets that process move the frames.
                crate::log_info!(
                    "no TAP queue of our own ({e}); the other processes carry the frames"
                );
                None
            }
            Err(e) => {
                rt.leave_quietly();
                return Err(e);
            }
        };
        if let Some(fd) = dev.as_ref().and_then(|d| d.raw_fd()) {
            rt.tap_fd.store(fd, Ordering::Release);
        }
        rt.spawn(
            dev,
            if created {
                Origin::Created
            } else {
                Origin::Shared
            },
            false,
        )?;
        rt.announce();
        Ok(rt)
    }

    /// Starts a stack thread on `dev` with a private stack (tests: several
    /// in one process). A device without an fd is polled on every wakeup.
    pub fn start_with_device(
        config: Config,
        dev: Box<dyn Device + Send>,
    ) -> Result<&'static Runtime, StartError> {
        let offload = dev.capabilities().vnet_hdr;
        let header = Header::private(|| make_stack(&config, offload))
            .map_err(|e| start_error(format!("tapstack: cannot make the stack's lock: {e}")))?;
        let rt = Runtime::new(config, 0, header, None)?;
        rt.spawn(Some(dev), Origin::Private, false)?;
        Ok(rt)
    }

    /// Joins the process table and makes this process's part.
    fn new(
        config: Config,
        netns: u64,
        header: &'static Header,
        region: Option<Region>,
    ) -> Result<&'static Runtime, StartError> {
        let pid = std::process::id() as i32;
        let slot = {
            let mut guard = header.lock(process::repair);
            process::reap_dead(&mut guard);
            let slot = header.take_slot(&guard).ok_or_else(|| {
                start_error(format!(
                    "tapstack: {} processes share the stack of {} already (the most there may be)",
                    crate::shared::header::MAX_PROCS,
                    config.ifname
                ))
            })?;
            header.set_live(slot, pid);
            slot
        };
        let local = Local::new(netns, &config.ifname, pid, region.is_some())?;
        Ok(Box::leak(Box::new(Runtime {
            header,
            region,
            config,
            netns,
            slot: AtomicUsize::new(slot),
            local: LeakedSlot::with(local),
            tap_fd: AtomicI32::new(-1),
            queue: AtomicI32::new(0),
            child_queue: std::sync::Mutex::new(None),
            control_fd: AtomicI32::new(-1),
            forked: AtomicBool::new(false),
            exec_pending: AtomicBool::new(false),
            respawn: Mutex::new(()),
            left: AtomicBool::new(false),
        })))
    }

    /// Gives up the slot this process took (a start that failed).
    fn leave_quietly(&self) {
        let mut guard = self.lock();
        process::release_slot(&mut guard, self.slot());
    }

    fn local(&self) -> &Local {
        // Set when the runtime is made, replaced only in a forked child
        // (whose old one stays leaked).
        self.local.get().expect("set in Runtime::new")
    }

    /// Starts this process's stack thread on `dev` (none: this process
    /// reads no TAP, it runs the timers and its bell only). `inherited`:
    /// the queue is the one this process's parent read, which every
    /// process forked from it reads too.
    fn spawn(
        &'static self,
        dev: Option<Box<dyn Device + Send>>,
        origin: Origin,
        inherited: bool,
    ) -> Result<(), StartError> {
        let local = self.local();
        // Which queue this process reads, for the waits that read it only
        // when no other process does ([`reader`]).
        let queue = match dev.as_ref().and_then(|d| d.raw_fd()) {
            None => 0,
            Some(_) if inherited => self.queue.load(Ordering::Acquire),
            Some(_) => std::process::id() as i32,
        };
        self.queue.store(queue, Ordering::Release);
        self.header.procs[self.slot()]
            .queue
            .store(queue, Ordering::Release);
        self.header
            .set_attached(self.slot(), queue == std::process::id() as i32);
        if let Some(d) = dev.as_ref()
            && let Some(fd) = d.tx_fd()
        {
            let t = transmit::Transmitter::new(fd, &self.config.ifname, d.capabilities().max_frame);
            *local.tx() = Some(t);
        }
        if let Some(fd) = dev.as_ref().and_then(|d| d.raw_fd()) {
            // A frame on a queue wakes every reader that sleeps on it, the
            // process that opened it and each one forked from it (socat
            // fork's 20 children: 21 threads woken per frame, 20 of them
            // for nothing). Forked readers wait exclusively: a frame wakes
            // the opener and one of them. (All exclusive, the first
            // registered sleeper would be woken: nginx's idle master.)
            let exclusive = if inherited { libc::EPOLLEXCLUSIVE } else { 0 };
            let events = (libc::EPOLLIN | exclusive) as u32;
            local
                .poll
                .add(fd, events, TAP)
                .map_err(|e| start_error(format!("tapstack: epoll_ctl: {e}")))?;
            // A thread that waits may read it ([`reader`]), unless every
            // frame must pass the device layer or the trace.
            let traced = self.config.trace.is_some() || log::enabled(log::LogLevel::Debug);
            if let Some(number) = dev.as_ref().and_then(|d| d.tx_fd())
                && !traced
            {
                let _ = local
                    .tap_watch
                    .set(reader::TapWatch::new(number, fd, events));
            }
        }
        // Introspection is a help, not a need: without it the stack runs.
        let control = match origin {
            Origin::Created | Origin::Shared => {
                let name =
                    control::socket_name(self.netns, &self.config.ifname, std::process::id());
                match control::Control::new(&local.poll, name) {
                    Ok(c) => {
                        crate::log_info!("control socket @{}", c.name());
                        self.control_fd.store(c.listener_fd(), Ordering::Release);
                        Some(c)
                    }
                    Err(e) => {
                        crate::log_warn!(
                            "no control socket (tapstack ss will not see this process): {e}"
                        );
                        None
                    }
                }
            }
            Origin::Private => None,
        };
        let trace_file = match self
            .config
            .trace
            .as_ref()
            .filter(|_| origin != Origin::Shared)
        {
            Some(path) => Some(
                trace::TraceFile::create(
                    path,
                    monotonic_now(),
                    &self.config.ifname,
                    self.config.ip,
                )
                .map_err(|e| {
                    start_error(format!(
                        "tapstack: TAPSTACK_TRACE={path:?}: cannot create: {e}"
                    ))
                })?,
            ),
            None => None,
        };
        if trace_file.is_some() || log::enabled(log::LogLevel::Debug) {
            self.lock().set_tracing(true);
        }
        // The thread starts with every signal blocked: the application's
        // handlers must never run on it.
        let old_mask = sys::block_all_signals();
        let spawned = std::thread::Builder::new()
            .name("tapstack".into())
            .spawn(move || self.thread_main(dev, control, trace_file));
        sys::restore_signals(&old_mask);
        let handle = spawned
            .map_err(|e| start_error(format!("tapstack: cannot start the stack thread: {e}")))?;
        let _ = local.thread.set(handle.thread().id());
        Ok(())
    }

    /// In a forked child, at its first call on the stack: a stack thread,
    /// waker and bell of its own, the TAP queue it inherited, and its
    /// watchers (copied from the parent) registered under its slot.
    pub(crate) fn respawn_after_fork(&'static self) {
        let _one = self.respawn.lock();
        if !self.forked.load(Ordering::Acquire) {
            return;
        }
        let pid = std::process::id() as i32;
        let local = match Local::new(self.netns, &self.config.ifname, pid, self.region.is_some()) {
            Ok(l) => l,
            Err(e) => {
                crate::log_error!("after fork: {e}");
                return;
            }
        };
        self.local.set(local);
        // A queue of its own, opened at `fork`: read it rather than the
        // parent's, so that the flows this process answers come to it
        // (tun sends a flow's frames to the queue that last wrote it).
        let mut own = self
            .child_queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(tap) = &own {
            match tap.attach() {
                Ok(()) => {
                    let parents = self.tap_fd.swap(-1, Ordering::AcqRel);
                    crate::sys::private_fd::close_inherited(parents);
                    if let Some(fd) = tap.raw_fd() {
                        self.tap_fd.store(fd, Ordering::Release);
                    }
                }
                Err(e) => {
                    crate::log_info!("after fork: cannot attach a queue of its own ({e})");
                    own = None;
                }
            }
        }
        let fd = self.tap_fd.load(Ordering::Acquire);
        let inherited = fd >= 0 && own.is_none();
        let dev: Option<Box<dyn Device + Send>> = if let Some(tap) = own {
            let mut dev: Box<dyn Device + Send> = Box::new(tap);
            if let Some(faults) = self.config.faults.filter(|f| !f.is_noop()) {
                dev = Box::new(FaultDevice::new(dev, faults));
            }
            Some(dev)
        } else if !inherited {
            // No queue to take over (an `exec` that failed closed ours):
            // a queue of our own, when the TAP gives one.
            let offload = self.lock().offload();
            let dev = open_device_as(&self.config, offload, false, monotonic_now()).ok();
            if let Some(fd) = dev.as_ref().and_then(|d| d.raw_fd()) {
                self.tap_fd.store(fd, Ordering::Release);
            }
            dev
        } else {
            Some({
                let offload = self.lock().offload();
                // The fd is the parent's TAP queue, which this process
                // inherited; its owner was the parent's stack thread, which
                // does not exist here. The parent may have detached it
                // ([`steer`]): this process reads it.
                let _ = sys::tap::set_queue_attached(fd, true);
                let tap =
                    TapDevice::inherited(fd, self.config.ifname.clone(), self.config.mtu, offload);
                let mut dev: Box<dyn Device + Send> = Box::new(tap);
                if let Some(faults) = self.config.faults.filter(|f| !f.is_noop()) {
                    dev = Box::new(FaultDevice::new(dev, faults));
                }
                dev
            })
        };
        // Taking the inherited fd over may have given it another number:
        // a child of this child inherits that one.
        if let Some(fd) = dev.as_ref().and_then(|d| d.raw_fd()) {
            self.tap_fd.store(fd, Ordering::Release);
        }
        {
            let slot = self.slot();
            let stack = self.lock();
            for h in watchers::watched() {
                if let Some(q) = stack.wait_word(h) {
                    q.watched_by.fetch_or(1u64 << (slot % 64), Ordering::AcqRel);
                }
            }
        }
        // The other processes' stack threads look at the process table
        // again (this one's queue is attached now: [`steer`]); rung by
        // the new stack thread, as every bell.
        {
            let me = self.slot();
            let others = self.header.live().into_iter().filter(|&(s, _)| s != me);
            let mut outbox = self
                .local()
                .outbox
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            outbox.extend(others.map(|(s, _)| (s, Vec::new())));
        }
        self.forked.store(false, Ordering::Release);
        // The watchers copied from the parent look at their sockets once,
        // on the new thread (the caller may hold a watcher's lock now).
        self.header.procs[self.slot()]
            .overflow
            .store(true, Ordering::Release);
        if let Err(e) = self.spawn(dev, Origin::Shared, inherited) {
            crate::log_error!("after fork: {e}");
            self.local().state.store(FAILED, Ordering::Release);
        }
    }

    /// In a forked child, in its `fork` handler: a queue of its own,
    /// opened while the child still has its parent's privileges (nginx's
    /// workers drop theirs before their first call on the stack) and left
    /// detached until that call ([`TapDevice::open_detached_queue`]).
    pub(crate) fn open_child_queue(&self) {
        // A queue the parent opened at its own `fork` and never attached
        // (it has not called the stack yet) is the parent's: a copy
        // attached here would be one queue read by two processes, each
        // taking it for its own.
        let inherited = self
            .child_queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(inherited);
        let tap_fd = self.tap_fd.load(Ordering::Acquire);
        if tap_fd < 0 || self.local().tap_watch.get().is_none() {
            return;
        }
        let offload = self.lock().offload();
        match TapDevice::open_detached_queue(&self.config.ifname, self.config.mtu, offload) {
            Ok(tap) => *self.child_queue.lock().unwrap_or_else(|e| e.into_inner()) = Some(tap),
            Err(e) => {
                crate::log_info!("after fork: no queue of its own ({e}); it reads its parent's")
            }
        }
    }

    /// This process's slot, unless it gave it back at exit.
    fn own_slot(&self) -> Option<usize> {
        (!self.left.load(Ordering::Acquire)).then(|| self.slot())
    }

    /// This process's slot in the process table.
    pub fn slot(&self) -> usize {
        self.slot.load(Ordering::Acquire)
    }

    /// The shared header.
    pub fn header(&self) -> &'static Header {
        self.header
    }

    /// Locks the stack. Application threads call the stack directly under
    /// this lock; make no real syscall while holding it. When the last
    /// holder died holding it, the dead processes' sockets are closed first
    /// ([`process::repair`]).
    pub fn lock(&self) -> Guard {
        self.header.lock(process::repair)
    }

    /// Tries to lock for up to `wait`.
    pub fn try_lock_for(&self, wait: Duration) -> Option<Guard> {
        let start = std::time::Instant::now();
        loop {
            if let Some(g) = self.header.try_lock(process::repair) {
                return Some(g);
            }
            if start.elapsed() >= wait {
                return None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Tells the stack thread there is new work (data to send, a socket
    /// closed, a timer). Cheap when a wakeup is already pending, and when
    /// the thread is running a turn: it looks at `asked` before it sleeps
    /// again, so no `write` is needed. (A call that found it running a
    /// turn wrote the eventfd all the same, and the thread woke once more
    /// after that turn.)
    /// The call's work is published before (the stack unlocked); the
    /// store of `asked` and the load of `busy` here, the store of `busy`
    /// and the load of `asked` in the thread's loop: one side sees the
    /// other.
    pub fn wake(&self) {
        let local = self.local();
        local.asked.store(true, Ordering::SeqCst);
        if local.busy.load(Ordering::SeqCst) {
            return;
        }
        if !local.wake_pending.swap(true, Ordering::AcqRel)
            && let Err(e) = local.waker.wake()
        {
            crate::log_error!("waking the stack thread failed: {e}");
        }
    }

    /// An application thread is about to wait in its event loop
    /// (`epoll_wait`, `poll`, `select` with nothing ready): the quick ACKs
    /// held for answers it did not make go now
    /// ([`Stack::release_held_acks`]). One atomic load when none is held.
    ///
    /// [`Stack::release_held_acks`]: crate::stack::Stack::release_held_acks
    pub fn release_held_acks(&self) {
        if !self.header.acks_held.load(Ordering::Acquire) {
            return;
        }
        let mut stack = self.lock();
        stack.release_held_acks();
        self.finish(stack);
    }

    /// Ends an application thread's call on the stack: takes the sockets
    /// whose readiness the call changed, unlocks, wakes the threads waiting
    /// on them (e.g. a `recv` blocked on a socket another thread just shut
    /// down), and wakes the stack thread when there is something to send.
    pub fn finish(&self, mut stack: Guard) {
        let local = self.local();
        // What this call queued leaves from this thread ([`transmit`]).
        let mut sender = None;
        if stack.has_pending_transmit()
            && transmit::caller_transmits()
            && !local.busy.load(Ordering::Acquire)
            && let Some(mut tx) = local.try_tx()
            && let Some(t) = tx.as_mut()
            && t.fill(&mut stack, monotonic_now())
        {
            sender = Some(tx);
        }
        let mut words = Vec::new();
        stack.take_wakeups(&mut words);
        let mut raises = Vec::new();
        stack
            .epolls()
            .wakeups(words.iter().map(|(h, _)| *h), &mut raises);
        let transmit = stack.has_pending_transmit();
        let next_timer = stack.poll_timeout();
        drop(stack);
        if let Some(mut tx) = sender
            && let Some(t) = tx.as_mut()
        {
            t.send();
        }
        self.wake_words(&words, &raises, false);
        if transmit {
            // Its turn looks at the timers too.
            self.wake();
        } else if reader::sandboxed() {
            // A timer armed earlier than the stack thread will wake for
            // (SO_KEEPALIVE, a delayed ACK owed by a read): with an
            // eventfd `write`, as a program's seccomp sandbox may allow
            // its threads little more than `read`, `write` and `futex`.
            let earlier = next_timer
                .is_some_and(|t| t.total_micros() < local.deadline.load(Ordering::SeqCst));
            if earlier {
                self.wake();
            }
        } else {
            // Set on the stack thread's timerfd: it wakes then, not now.
            // (Woken at once, it woke to go back to sleep: under nginx's
            // `Connection: close` load a request's `recv`, owing a
            // delayed ACK, woke it so, while it slept until a TIME-WAIT
            // ended.)
            self.arm_timer(next_timer);
        }
    }

    /// For a thread that reads the TAP ([`reader`]): a timer its turn
    /// armed (a retransmission, a delayed ACK) earlier than the stack
    /// thread will wake for, or the end of its lease on the TAP, is set
    /// on the stack thread's timerfd, so that the thread wakes then and
    /// not now. (Waking it to look cost a wakeup per connection, twice.)
    /// Two threads may race here; each sets the timer again while the
    /// deadline published is earlier than its own, so the earliest stays
    /// armed.
    pub(crate) fn arm_timer(&self, next: Option<Instant>) {
        let local = self.local();
        let Some(mut at) = next else {
            return;
        };
        let Some(timer) = &local.timer else {
            if at.total_micros() < local.deadline.load(Ordering::Acquire) {
                self.wake();
            }
            return;
        };
        // After the unlock that published the timer in the header: see
        // the stack thread's loop.
        std::sync::atomic::fence(Ordering::SeqCst);
        if local
            .deadline
            .fetch_min(at.total_micros(), Ordering::SeqCst)
            <= at.total_micros()
        {
            return;
        }
        loop {
            if let Err(e) = timer.set_at(at) {
                crate::log_warn!("timerfd_settime: {e}; waking the stack thread instead");
                self.wake();
                return;
            }
            let now = local.deadline.load(Ordering::Acquire);
            if now >= at.total_micros() {
                return;
            }
            at = Instant::from_micros(now);
        }
    }

    /// The configuration the runtime started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `Ok` while the stack thread runs; `Err(EIO)` after it failed,
    /// `Err(ENETDOWN)` after [`Runtime::shutdown`]. In a forked child the
    /// first call starts the child's own stack thread.
    pub fn health(&'static self) -> Result<(), i32> {
        if self.forked.load(Ordering::Acquire) {
            self.respawn_after_fork();
        }
        let local = self.local();
        if local.detached.load(Ordering::Relaxed) {
            self.attach_again(local);
        }
        match local.state.load(Ordering::Acquire) {
            RUNNING => Ok(()),
            FAILED => Err(libc::EIO),
            _ => Err(libc::ENETDOWN),
        }
    }

    /// Stops this process's stack thread and flushes the pcap, waiting up
    /// to a second for it (at exit, other threads may still hold the stack
    /// lock).
    pub fn shutdown(&self) {
        let local = self.local();
        local.stop.store(true, Ordering::Release);
        if local.thread.get() == Some(&std::thread::current().id()) {
            return;
        }
        let _ = local.waker.wake();
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while local.finished.load(Ordering::Acquire) == 0 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            sys::event::futex_wait(&local.finished, 0, Some(left));
        }
    }

    /// The region file (`None`: a private stack).
    pub fn region_path(&self) -> Option<&std::path::Path> {
        self.region.as_ref().map(|r| r.path())
    }

    fn thread_main(
        &'static self,
        mut dev: Option<Box<dyn Device + Send>>,
        mut control: Option<control::Control>,
        mut trace_file: Option<trace::TraceFile>,
    ) {
        let local = self.local();
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.run(local, &mut dev, control.as_mut(), trace_file.as_mut())
        }));
        // The device's fd closes with it: no thread writes to it after.
        *local.tx() = None;
        let failed = match result {
            Ok(Ok(())) => false,
            Ok(Err(e)) => {
                crate::log_error!("stack thread stopped: {e}");
                true
            }
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                crate::log_error!("stack thread panicked, sockets now fail with EIO: {msg}");
                true
            }
        };
        local
            .state
            .store(if failed { FAILED } else { STOPPED }, Ordering::Release);
        self.kick_reader();
        // After a failure, wake every waiter so nobody sleeps forever on a
        // dead stack. The lock is taken without a bound: application
        // threads hold it only for short calls that make no system call (a
        // panic released it). A thread stopped on purpose (exit, exec)
        // leaves the others alone while the stack goes on in other
        // processes.
        if failed || self.header.in_use() == 0 {
            let mut words = Vec::new();
            self.lock()
                .for_each_wait_word(&mut |h, w| words.push((h, w.clone())));
            self.wake_words(&words, &[], false);
            watchers::raise_epolls();
        }
        // What the last turn and the exit (connections reset at exit)
        // recorded.
        let mut events = Vec::new();
        let dropped = self.lock().take_trace(&mut events);
        let _ = catch_unwind(AssertUnwindSafe(|| {
            write_trace(&events, dropped, trace_file.as_mut())
        }));
        if let Some(dev) = dev.as_mut() {
            let flushed = catch_unwind(AssertUnwindSafe(|| dev.flush()));
            if let Ok(Err(e)) = flushed {
                crate::log_warn!("flushing the device: {e}");
            }
        }
        local.finished.store(1, Ordering::Release);
        sys::event::futex_wake_all(&local.finished);
    }

    /// Answers a control request: copies a snapshot out under the lock,
    /// then makes the JSON without it.
    fn answer(&self, request: Option<control::Request>) -> String {
        use crate::stack::snapshot;
        let pid = std::process::id();
        let origin = snapshot::Origin {
            pid,
            ifname: &self.config.ifname,
        };
        match request {
            Some(control::Request::Sockets) => {
                let sockets = self.lock().socket_snapshot();
                snapshot::sockets_json(&origin, &sockets)
            }
            Some(control::Request::Neigh) => {
                let now = monotonic_now();
                let neigh = self.lock().neigh_snapshot(now);
                snapshot::neigh_json(&origin, &neigh)
            }
            Some(control::Request::Stats) => {
                let counters = self.lock().counters_snapshot();
                snapshot::stats_json(&origin, &counters)
            }
            None => snapshot::error_json("unknown request (ss, neigh, stats)"),
        }
    }

    fn run(
        &self,
        local: &Local,
        dev: &mut Option<Box<dyn Device + Send>>,
        mut control: Option<&mut control::Control>,
        mut trace_file: Option<&mut trace::TraceFile>,
    ) -> std::io::Result<()> {
        let poll = &local.poll;
        let mut trace_events = Vec::new();
        let caps = dev.as_ref().map(|d| d.capabilities());
        let slot = caps.map_or(2048, |c| c.max_frame.max(64));
        let per_batch = (BATCH_BYTES / slot).clamp(4, MAX_BATCH);
        let mut rx = Batch::new(per_batch, slot);
        let mut tx = Batch::new(per_batch, slot);
        let mut events = [EpollEvent { events: 0, u64: 0 }; 16];
        let mut words: Vec<(SocketHandle, Arc<WaitQueue>)> = Vec::new();
        let mut raises = Vec::new();
        let polled = dev.as_ref().is_some_and(|d| d.raw_fd().is_none());
        let mut rx_ready = dev.is_some();
        let mut tx_more = false;
        let mut stack_deadline;
        if let Some(b) = &local.bell {
            poll.add(b.raw(), libc::EPOLLIN as u32, BELL)?;
        }
        let mut pids = process::PidWatch::default();
        let mut idle = steer::IdleWatch::default();
        let mut steer_at = None;

        while !local.stop.load(Ordering::Acquire) {
            pids.refresh(self.header, self.slot(), poll);
            let now = monotonic_now();
            let control_at = control.as_ref().and_then(|c| c.poll_at());
            let dev_at = dev.as_ref().and_then(|d| d.poll_at());
            // The TAP lent to an application thread ([`reader`]) comes
            // back when its lease ends.
            let lease = self.lease(local, now);
            // The stack's next timer as whoever last held the lock left it
            // (another process's call may have armed an earlier one), and
            // what this thread will wake for, published for the calls
            // that arm timers ([`Runtime::arm_timer`]): either such a call
            // sees the deadline stored here, or this thread sees its timer
            // in the header on the second look.
            let deadline = loop {
                stack_deadline = self.header.next_timer();
                let d = [stack_deadline, dev_at, control_at, lease, steer_at]
                    .into_iter()
                    .flatten()
                    .min();
                local
                    .deadline
                    .store(d.map_or(u64::MAX, |t| t.total_micros()), Ordering::SeqCst);
                std::sync::atomic::fence(Ordering::SeqCst);
                if self.header.next_timer() == stack_deadline {
                    break d;
                }
            };
            let timeout = if rx_ready || tx_more {
                Some(Duration::ZERO)
            } else {
                deadline.map(|d| d.saturating_duration_since(now))
            };
            local.busy.store(false, Ordering::SeqCst);
            // A call that found this thread busy asked for a turn without
            // waking it ([`Runtime::wake`]): no sleep.
            let asked = local.asked.swap(false, Ordering::SeqCst);
            let timeout = if asked { Some(Duration::ZERO) } else { timeout };
            let waited = poll.wait(&mut events, timeout);
            local.busy.store(true, Ordering::SeqCst);
            let n = match waited {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    if asked {
                        local.asked.store(true, Ordering::SeqCst);
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut died = Vec::new();
            let mut woken = asked;
            let mut bell_rung = false;
            for ev in &events[..n] {
                let token = ev.u64;
                match token {
                    TAP => rx_ready = true,
                    WAKER => {
                        local.wake_pending.store(false, Ordering::Release);
                        // What the write asked for, this turn does (it
                        // looks at the stack after this).
                        local.asked.store(false, Ordering::SeqCst);
                        woken = true;
                    }
                    // A call armed a timer after this wait began.
                    TIMER => stack_deadline = self.header.next_timer(),
                    BELL => {
                        bell_rung = true;
                        if let Some(b) = &local.bell {
                            b.drain(&mut |note| match note {
                                Note::Socket(h) => watchers::wake(h),
                                Note::Epoll(id) => watchers::raise_epoll(id),
                            });
                        }
                    }
                    token if token >= PIDFD => died.push((token - PIDFD) as usize),
                    token => {
                        if let Some(c) = control.as_deref_mut()
                            && control::Control::owns(token)
                        {
                            c.handle(poll, token, monotonic_now(), &mut |r| self.answer(r));
                        }
                    }
                }
            }
            // A process joined or died: a thread reading the TAP looks at
            // the process table again ([`reader`]: only alone).
            if bell_rung || !died.is_empty() {
                self.kick_reader();
            }
            self.ring_outbox(local);
            // A wakeup for our watchers was lost (a full bell, or a
            // forked child's watchers copied from its parent).
            if self
                .own_slot()
                .is_some_and(|s| self.header.procs[s].overflow.swap(false, Ordering::AcqRel))
            {
                watchers::wake_everything();
                watchers::raise_epolls();
            }
            let now = monotonic_now();
            if let Some(c) = control.as_deref_mut()
                && c.poll_at().is_some_and(|t| t <= now)
            {
                c.handle_timeout(poll, now);
            }
            let dev_due = dev
                .as_ref()
                .is_some_and(|d| d.poll_at().is_some_and(|t| t <= now));

            rx.clear();
            // Taken before the TAP is read and held until the frames are
            // written: frames are read and processed in order with those
            // a waiting application thread reads ([`reader`]), and sent
            // in order with those the calling threads send ([`transmit`];
            // taken after the stack lock, it could keep the stack locked
            // while another thread of ours writes).
            let order = dev.is_some().then(|| local.tx());
            if let Some(d) = dev.as_deref_mut() {
                if local.lent.load(Ordering::Acquire) {
                    // The TAP is lent to an application thread ([`reader`]).
                    rx_ready = false;
                } else if rx_ready || dev_due || polled {
                    rx_ready = d.recv(now, &mut rx)?.more;
                }
                if dev_due {
                    d.handle_timeout(now)?;
                }
                if !rx_ready {
                    steer_at = self.steer(local, &mut idle, now);
                }
            }

            // Nothing for the stack (a bell, or a frame another process
            // sharing the queue read first, and nobody left frames to
            // send): the lock is left to those who have work. With many
            // processes on one stack, taking it anyway made every turn a
            // queue.
            let due = stack_deadline.is_some_and(|t| t <= now);
            let pending = self.header.transmit_pending.load(Ordering::Acquire);
            if rx.is_empty() && died.is_empty() && !woken && !due && !tx_more && !pending {
                continue;
            }

            tx.clear();
            let trace_dropped;
            // A process that left may have been the last other one with
            // a queue attached: [`steer`] looks again once it is reaped.
            if !died.is_empty() {
                steer_at = Some(now);
            }
            {
                let mut stack = self.lock();
                for slot in died {
                    if let Some(pid) = pids.forget(slot, poll) {
                        process::reap_exited(&mut stack, slot, pid);
                    }
                }
                for frame in rx.iter() {
                    stack.handle_frame(now, frame);
                }
                if stack.poll_timeout().is_some_and(|t| t <= now) {
                    stack.handle_timeout(now);
                }
                if dev.is_some() {
                    while let Ok(Some(_)) =
                        tx.push_with(|buf| Ok::<_, ()>(stack.poll_transmit(now, buf)))
                    {
                    }
                }
                tx_more = tx.is_full() || stack.has_loopback();
                let read = rx.iter().map(|f| f.len()).sum();
                self.note_traffic(local, now, read, tx.iter().map(|f| f.len()).sum());
                stack.take_wakeups(&mut words);
                stack
                    .epolls()
                    .wakeups(words.iter().map(|(h, _)| *h), &mut raises);
                trace_dropped = stack.take_trace(&mut trace_events);
            }
            if !tx.is_empty()
                && let Some(d) = dev.as_deref_mut()
            {
                d.send(now, &tx)?;
            }
            drop(order);
            self.wake_words(&words, &raises, false);
            words.clear();
            raises.clear();
            write_trace(&trace_events, trace_dropped, trace_file.as_deref_mut());
            trace_events.clear();
        }
        // The loop ends on the stop flag: bells application threads left
        // after the last turn's would otherwise never be rung (an `exec` or
        // `_exit` right after a `close` that woke another process).
        self.ring_outbox(local);
        // The stack's timers are left to the other processes, whose stack
        // threads may sleep past one this process armed (the retransmission
        // of the FIN its exit sent): one of them looks again.
        if self.header.next_timer().is_some() {
            self.ring_another();
        }
        Ok(())
    }

    /// Rings the bells application threads left for this thread.
    fn ring_outbox(&self, local: &Local) {
        let outbox = std::mem::take(&mut *local.outbox.lock().unwrap_or_else(|e| e.into_inner()));
        if !outbox.is_empty() {
            self.ring_bells(outbox);
        }
    }

    /// Bumps each socket's word and wakes its sleepers (in any process:
    /// the words are shared), tells this process's watchers, and rings the
    /// bell of each other process whose watchers watch one of them. Makes
    /// the eventfd of each epoll instance in `raises` readable: here when
    /// this process holds the instance, else by the bell of one that does.
    /// Called with the stack unlocked.
    /// `by_reader`: this thread is the process's reader ([`reader`]),
    /// which looks at its own word after its turn: it is not kicked (the
    /// kick cost it an eventfd `write` and `read` and one more `ppoll`
    /// per wait).
    fn wake_words(
        &self,
        words: &[(SocketHandle, Arc<WaitQueue>)],
        raises: &[Raise],
        by_reader: bool,
    ) {
        // After `leave`, no bit is ours (the slot may be a newcomer's).
        let me = self.own_slot().unwrap_or(usize::MAX);
        let mine = |mask: u64| me != usize::MAX && mask & (1u64 << (me % 64)) != 0;
        let mut others: Vec<(usize, Vec<Note>)> = Vec::new();
        let mut tell = |slot: usize, note: Note| match others.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, list)) => list.push(note),
            None => others.push((slot, vec![note])),
        };
        for r in raises {
            if mine(r.holders) {
                watchers::raise_epoll(r.id);
            } else if r.holders != 0 {
                tell(r.holders.trailing_zeros() as usize, Note::Epoll(r.id));
            }
        }
        for (h, w) in words {
            // With [`sleep_on`]'s increment, a store-load pair on each side:
            // either we see the sleeper, or its futex sees the new word.
            w.word.fetch_add(1, Ordering::SeqCst);
            if w.sleepers.load(Ordering::SeqCst) > 0 {
                sys::event::futex_wake_all(&w.word);
            }
            if !by_reader {
                self.kick_reader_of(w);
            }
            let mut mask = w.watched_by.load(Ordering::Acquire);
            if mask == 0 {
                continue;
            }
            if mine(mask) {
                watchers::wake(*h);
                mask &= !(1u64 << (me % 64));
            }
            while mask != 0 {
                let slot = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                tell(slot, Note::Socket(*h));
            }
        }
        if others.is_empty() {
            return;
        }
        let local = self.local();
        if local.thread.get() != Some(&std::thread::current().id()) {
            // An application thread: the stack thread rings the bells. The
            // program may have fenced its own threads' system calls in
            // (sshd's seccomp sandbox allows no sendto), never ours.
            local
                .outbox
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(others);
            self.wake();
            return;
        }
        self.ring_bells(others);
    }

    /// Rings the bell of each process in `others` with its handles (on the
    /// stack thread).
    fn ring_bells(&self, others: Vec<(usize, Vec<Note>)>) {
        let local = self.local();
        let Some(from) = &local.ringer else {
            return;
        };
        for (slot, handles) in others {
            let p = &self.header.procs[slot];
            let pid = p.pid.load(Ordering::Acquire);
            if pid <= 0 {
                continue;
            }
            let name = bell::name(self.netns, &self.config.ifname, pid);
            if bell::ring(from, &name, &handles).is_err() {
                p.overflow.store(true, Ordering::Release);
            }
        }
    }
}

impl Runtime {
    /// Rings the bell of process `pid` with no note: its stack thread wakes
    /// and looks at the process table and the stack's next timer again.
    fn ring_empty(&self, pid: i32) {
        if let Some(from) = &self.local().ringer {
            let _ = bell::ring(from, &bell::name(self.netns, &self.config.ifname, pid), &[]);
        }
    }

    /// Rings the bell of one other live process, if any.
    fn ring_another(&self) {
        let me = std::process::id() as i32;
        if let Some((_, pid)) = self.header.live().into_iter().find(|&(_, p)| p != me) {
            self.ring_empty(pid);
        }
    }

    /// Wakes the stack thread of every other process, so that each
    /// watches the process table as it is now (a pidfd for a newcomer).
    pub fn announce(&self) {
        let me = std::process::id() as i32;
        for (_, pid) in self.header.live() {
            if pid != me {
                self.ring_empty(pid);
            }
        }
    }
}

impl Local {
    /// The transmit lock ([`transmit`]), whatever a panic left in it,
    /// counted as held by this thread (a signal handler's call on the
    /// stack meanwhile fails with `EINTR` instead of waiting for it).
    fn tx(&self) -> TxGuard<'_> {
        Held::take(|| self.tx.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The transmit lock if it is free now (as [`Local::tx`]).
    fn try_tx(&self) -> Option<TxGuard<'_>> {
        Held::try_take(|| match self.tx.try_lock() {
            Ok(g) => Ok(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(()),
        })
    }

    /// In a forked child: closes this (the parent's) part's fds, which the
    /// child inherited and never uses.
    fn close_in_child(&self) {
        use crate::sys::private_fd::close_inherited;
        close_inherited(self.poll.raw());
        close_inherited(self.waker.raw());
        if let Some(b) = &self.bell {
            close_inherited(b.raw());
        }
        if let Some(r) = &self.ringer {
            close_inherited(r.raw());
        }
        close_inherited(self.kick.raw());
        if let Some(t) = &self.timer {
            close_inherited(t.raw());
        }
        // (Not waited for: a parent's thread may have held it at the fork.)
        if let Ok(s) = self.signals.try_lock()
            && let Some(s) = s.as_ref()
        {
            close_inherited(s.raw());
        }
    }

    fn new(netns: u64, ifname: &str, pid: i32, shared: bool) -> Result<Local, StartError> {
        let io_error = |what: &str, e: std::io::Error| {
            start_error(format!(
                "tapstack: cannot start the stack thread: {what}: {e}"
            ))
        };
        let poll = Epoll::new().map_err(|e| io_error("epoll_create1", e))?;
        let waker = Waker::new(&poll, WAKER).map_err(|e| io_error("eventfd", e))?;
        let kick = sys::event::eventfd(0).map_err(|e| io_error("eventfd", e))?;
        let timer = match sys::event::TimerFd::new(&poll, TIMER) {
            Ok(t) => Some(t),
            Err(e) => {
                crate::log_warn!(
                    "timerfd_create: {e}; calls that arm a timer wake the stack thread"
                );
                None
            }
        };
        let (bell, ringer) = if shared {
            let bell =
                bell::Bell::bind(netns, ifname, pid).map_err(|e| io_error("bind the bell", e))?;
            let ringer = sys::unix_socket::unbound_dgram().map_err(|e| io_error("socket", e))?;
            (Some(bell), Some(ringer))
        } else {
            (None, None)
        };
        Ok(Local {
            waker,
            poll,
            bell,
            ringer,
            wake_pending: AtomicBool::new(false),
            deadline: AtomicU64::new(u64::MAX),
            timer,
            tx: std::sync::Mutex::new(None),
            busy: AtomicBool::new(false),
            asked: AtomicBool::new(false),
            outbox: std::sync::Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            state: AtomicU8::new(RUNNING),
            finished: AtomicU32::new(0),
            thread: OnceCell::new(),
            tap_watch: OnceCell::new(),
            reader: AtomicUsize::new(0),
            kick,
            signals: std::sync::Mutex::new(None),
            lent: AtomicBool::new(false),
            streaming_until: AtomicU64::new(0),
            detached: AtomicBool::new(false),
            lease_end: AtomicU64::new(0),
        })
    }
}

/// The stack `config` describes, made with fresh entropy (called with the
/// region's allocator on, so its memory is the region's).
fn make_stack(config: &Config, offload: bool) -> Stack {
    let mut entropy = [0u8; 24];
    if let Err(e) = sys::getrandom(&mut entropy) {
        crate::log_warn!("getrandom: {e}; the clock seeds the stack's keys");
        let t = realtime_micros().to_ne_bytes();
        entropy[..8].copy_from_slice(&t);
    }
    let mut stack_config = config.stack_config();
    stack_config.offload = offload;
    let entropy = crate::stack::Entropy::from_bytes(entropy);
    let mut stack = Stack::with_entropy(stack_config, monotonic_now(), entropy);
    stack.tcp_defaults_mut().time_wait = config.time_wait();
    stack.tcp_defaults_mut().msl = config.time_wait() / 2;
    stack
}

/// Maps the region of `config`'s TAP, formatting it when we are the first.
/// A region left by processes that all died (killed) is removed and made
/// again.
fn map_shared(config: &Config, netns: u64) -> Result<(&'static Header, Region), StartError> {
    let path = region_path(netns, &config.ifname);
    let fail = |e: &dyn fmt::Display| {
        start_error(format!(
            "tapstack: cannot share the stack of {} through {}: {e}",
            config.ifname,
            path.display()
        ))
    };
    for _ in 0..3 {
        let (region, opened) = Region::open(&path, REGION_LEN).map_err(|e| fail(&e))?;
        match opened {
            Opened::Created => {
                // Whether the TAP takes offloads is known once it is open;
                // the stack asks for them when the configuration does, and
                // the stack thread turns them off if the TAP refuses.
                let offload = config.use_offload();
                // SAFETY-free: the region is fresh and ours alone.
                let header =
                    crate::shared::header::format_region(&region, || make_stack(config, offload))
                        .map_err(|e| fail(&e))?;
                return Ok((header, region));
            }
            Opened::Attached => match crate::shared::header::attach_region(&region, ATTACH_WAIT) {
                Ok(header) => {
                    if header.in_use() == 0 || process::all_dead(header) {
                        crate::log_info!(
                            "{} was left by processes that are gone: made afresh",
                            path.display()
                        );
                        let _ = region.unlink();
                        drop(region);
                        continue;
                    }
                    return Ok((header, region));
                }
                Err(AttachError::NotReady) => {
                    crate::log_warn!(
                        "{} was never finished (its creator died?): made afresh",
                        path.display()
                    );
                    let _ = region.unlink();
                    drop(region);
                }
                Err(AttachError::Layout { found, ours }) => {
                    return Err(fail(&format_args!(
                        "it was made by another build of tapstack (layout {found:016x}, ours {ours:016x}); \
                         stop the programs using it, or remove the file"
                    )));
                }
            },
        }
    }
    Err(fail(&"it keeps disappearing"))
}

/// Writes the stack's events to the trace file (flushed) and the log.
/// Called with the stack unlocked.
fn write_trace(events: &[TraceEvent], dropped: u64, file: Option<&mut trace::TraceFile>) {
    if let Some(f) = file {
        if !events.is_empty() {
            f.write(events);
            f.flush();
        }
        if dropped > 0 {
            f.note_dropped(dropped);
        }
    }
    if log::enabled(log::LogLevel::Debug) {
        for e in events {
            trace::log_event(e);
        }
    }
}

/// Sleeps on a socket's wait word while it still holds `seen` (at most
/// `timeout`), counted as a sleeper so that `wake_words` knows to make
/// the wake system call.
pub fn sleep_on(w: &WaitQueue, seen: u32, timeout: Option<Duration>) -> sys::event::FutexWait {
    w.sleepers.fetch_add(1, Ordering::SeqCst);
    let r = sys::event::futex_wait(&w.word, seen, timeout);
    w.sleepers.fetch_sub(1, Ordering::SeqCst);
    r
}

/// Spins until `ready` says so (true) or `us` microseconds have passed, or
/// `deadline` (false). `us == 0`: false at once.
pub fn spin_until(us: u32, deadline: Option<Instant>, mut ready: impl FnMut() -> bool) -> bool {
    if us == 0 {
        return false;
    }
    let mut end = monotonic_now() + Duration::from_micros(u64::from(us));
    if let Some(d) = deadline {
        end = end.min(d);
    }
    loop {
        for _ in 0..64 {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        if monotonic_now() >= end {
            return false;
        }
    }
}

/// The runtime of this process: null until started, else a leaked
/// `Result` (a failed start is remembered too). A forked child keeps its
/// parent's: the stack is shared ([`process`]).
static CURRENT: LeakedSlot<Result<&'static Runtime, i32>> = LeakedSlot::new();

/// Held while a thread starts the runtime (and across `fork`).
static START: Mutex<()> = Mutex::new(());

thread_local! {
    static STARTING: Cell<bool> = const { Cell::new(false) };
}

fn current() -> Option<Result<&'static Runtime, i32>> {
    CURRENT.get().copied()
}

/// Starts the runtime once per process from the environment, lazily and
/// thread-safely. A bad configuration or an unusable TAP prints one line,
/// once, and every call returns `ENETDOWN`; after the stack thread failed,
/// `EIO`.
pub fn ensure_started() -> Result<&'static Runtime, i32> {
    if let Some(started) = current() {
        let rt = started?;
        return rt.health().map(|()| rt);
    }
    // A call from inside the start-up itself (through an interposed libc
    // call) must not deadlock on the lock.
    if STARTING.with(Cell::get) {
        return Err(libc::EAGAIN);
    }
    STARTING.with(|s| s.set(true));
    let started = {
        let _start = START.lock();
        match current() {
            Some(started) => started,
            None => {
                let started = start_from_env();
                CURRENT.set(started);
                if started.is_ok() {
                    process::register_exit_handler();
                }
                started
            }
        }
    };
    STARTING.with(|s| s.set(false));
    let rt = started?;
    rt.health().map(|()| rt)
}

/// Before the program gives up its privileges (`setuid`, `setgid`,
/// `setgroups`...): starts the stack now, while it may still open the TAP,
/// when it has not been tried in this process, the program runs as root
/// (the effective uid is 0: the drop takes `CAP_NET_ADMIN` away), and it
/// is not the fork of a process that uses the stack. A failure is
/// reported as at the first socket (one line); the privilege call goes on
/// either way.
pub fn start_before_privilege_drop() {
    if current().is_some() || sys::effective_uid() != 0 {
        return;
    }
    if ensure_started().is_ok() {
        crate::log_info!("started before the program gives up its privileges");
    }
}

/// The log level and `TAPSTACK_LOG_FILE` of `config` (the file made now,
/// named with this pid).
fn setup_logging(config: &Config) -> Result<(), ()> {
    log::set_level(config.log);
    if let Some(template) = &config.log_file {
        let path = config::log_file_path(template, std::process::id());
        match std::fs::File::create(&path) {
            Ok(f) => log::set_file(crate::sys::private_fd::PrivateFd::adopt(f.into())),
            Err(e) => {
                eprintln!("tapstack: TAPSTACK_LOG_FILE={template:?}: cannot create {path:?}: {e}");
                return Err(());
            }
        }
    }
    Ok(())
}

fn start_from_env() -> Result<&'static Runtime, i32> {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Err(libc::ENETDOWN);
        }
    };
    if setup_logging(&config).is_err() {
        return Err(libc::ENETDOWN);
    }
    // A misspelt variable would otherwise be ignored without a word.
    let names = std::env::vars_os().filter_map(|(k, _)| k.into_string().ok());
    for w in known_vars::unknown_var_warnings(names) {
        crate::log_warn!("{w}");
    }
    Runtime::start(config).map_err(|e| {
        eprintln!("{e}");
        e.errno
    })
}

/// The runtime, if it started in this process and its thread has not
/// failed. `None` in a forked child until it starts a stack of its own.
pub fn get() -> Option<&'static Runtime> {
    match current() {
        Some(Ok(rt)) if rt.health().is_ok() => Some(rt),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::mock::MockDevice;
    use crate::device::{Capabilities, Received};
    use std::collections::VecDeque;

    /// A device whose queues the test shares with the stack thread.
    struct Shared(Arc<Mutex<MockDevice>>);

    impl Device for Shared {
        fn capabilities(&self) -> Capabilities {
            self.0.lock().capabilities()
        }
        fn recv(&mut self, now: Instant, batch: &mut Batch) -> std::io::Result<Received> {
            self.0.lock().recv(now, batch)
        }
        fn send(&mut self, now: Instant, batch: &Batch) -> std::io::Result<()> {
            self.0.lock().send(now, batch)
        }
    }

    fn wait_until(mut f: impl FnMut() -> bool) -> bool {
        for _ in 0..500 {
            if f() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        false
    }

    #[test]
    fn loop_consumes_frames_and_shuts_down() {
        let mock = Arc::new(Mutex::new(MockDevice::new(1500)));
        let rt =
            Runtime::start_with_device(Config::default(), Box::new(Shared(mock.clone()))).unwrap();
        assert_eq!(rt.health(), Ok(()));
        assert_eq!(rt.config().mtu, 1500);
        mock.lock().rx = VecDeque::from(vec![vec![0u8; 60]; 100]);
        rt.wake();
        assert!(wait_until(|| mock.lock().rx.is_empty()));
        drop(rt.lock());
        rt.shutdown();
        assert_eq!(rt.health(), Err(libc::ENETDOWN));
        assert_eq!(rt.local().finished.load(Ordering::Acquire), 1);
    }

    struct Panicking;

    impl Device for Panicking {
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                mtu: 1500,
                max_frame: 1514,
                vnet_hdr: false,
            }
        }
        fn recv(&mut self, _: Instant, _: &mut Batch) -> std::io::Result<Received> {
            panic!("injected")
        }
        fn send(&mut self, _: Instant, _: &Batch) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_panic_marks_the_runtime_failed() {
        let rt = Runtime::start_with_device(Config::default(), Box::new(Panicking)).unwrap();
        assert!(wait_until(|| rt.health() == Err(libc::EIO)));
        // The lock is usable and shutdown returns at once.
        drop(rt.lock());
        rt.shutdown();
        assert_eq!(rt.health(), Err(libc::EIO));
    }

    #[test]
    fn tap_errors_read_as_one_line() {
        let e = tap_error("tap0", &std::io::Error::from_raw_os_error(libc::EBUSY));
        assert!(
            e.message.starts_with("tapstack: cannot open TAP \"tap0\""),
            "{e}"
        );
        assert!(e.message.contains("(EBUSY)"), "{e}");
        assert!(!e.message.contains('\n'));
        assert_eq!(e.errno, libc::ENETDOWN);
    }
}
