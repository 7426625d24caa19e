//! The stack thread: the only place that reads the clock or blocks.
//!
//! One thread per process, named `tapstack`, started lazily by the first
//! [`ensure_started`] (the shim calls it for the first IPv4 TCP socket).
//! Application threads lock the [`Stack`] directly ([`Runtime::lock`]) and
//! call [`Runtime::wake`] when they leave work for the stack thread.
//!
//! One turn of the loop:
//!
//! 1. block in `epoll_wait` on the TAP fd and a waker, until the
//!    earlier of the stack's and the device's deadlines;
//! 2. read a batch of frames from the device (no lock held);
//! 3. under **one** lock: `handle_frame` for each, `handle_timeout` when
//!    due, drain `poll_transmit` into a batch, `take_wakeups` (the wait
//!    queues of the sockets whose readiness may have changed), and
//!    `take_trace` (the events recorded while tracing or logging at
//!    `debug`);
//! 4. unlock, write the batch to the device, wake the threads waiting on
//!    those sockets (bump their futex word, `FUTEX_WAKE`), write the
//!    events to the trace file ([`trace`], flushed) and the log.
//!
//! The same loop serves the control socket ([`control`]): a request takes
//! the lock only to copy a snapshot out.
//!
//! No real syscall runs while the stack lock is held. A panic in the loop is
//! caught: the runtime is marked failed (later calls get `EIO`), every
//! waiter is woken, the pcap is flushed, and the host program goes on.

pub mod config;
pub mod config_text;
pub mod control;
pub mod known_vars;
pub mod log;
pub mod process;
pub mod trace;
use crate::device::{Batch, Device, FaultDevice, PcapDevice, TapDevice};
use crate::stack::SocketHandle;
use crate::stack::Stack;
use crate::stack::socket::WaitQueue;
use crate::stack::trace::TraceEvent;
use crate::sys;
use crate::sys::clock::{monotonic_now, realtime_micros};
use crate::sys::event::{Epoll, EpollEvent, Waker};
use crate::sys::sync::LeakedSlot;
use crate::time::{Duration, Instant};
pub use config::Config;
use once_cell::sync::OnceCell;
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::cell::Cell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread::ThreadId;

const TAP: u64 = 0;
const WAKER: u64 = 1;

/// Most frames moved per batch.
const MAX_BATCH: usize = 64;
/// Upper bound on one batch's buffer, so jumbo MTUs do not cost megabytes.
const BATCH_BYTES: usize = 1 << 20;

const RUNNING: u8 = 0;
const FAILED: u8 = 1;
const STOPPED: u8 = 2;

/// The running stack: the [`Stack`] behind its lock, and the stack thread.
pub struct Runtime {
    stack: Mutex<Stack>,
    config: Config,
    waker: Waker,
    wake_pending: AtomicBool,
    stop: AtomicBool,
    state: AtomicU8,
    finished: Mutex<bool>,
    finished_cv: Condvar,
    thread: OnceCell<ThreadId>,
    /// Set in a forked child: this runtime is the parent's (see
    /// [`process`]).
    inherited: AtomicBool,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("ifname", &self.config.ifname)
            .field("health", &self.health())
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
            " (needs CAP_NET_ADMIN, or a persistent TAP this user may use: ip tuntap add dev NAME mode tap user USER)"
        }
        libc::EBUSY => " (another process holds it: a TAP serves one process at a time)",
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
    let offload = config.use_offload();
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
    if let Some(path) = &config.pcap {
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

impl Runtime {
    /// Opens the device `config` names and starts a stack thread on it.
    /// The runtime lives for the rest of the process.
    /// It serves a control socket ([`control`]) for `tapstack ss` and the
    /// like, when it can make one.
    pub fn start(config: Config) -> Result<&'static Runtime, StartError> {
        let dev = open_device(&config, monotonic_now())?;
        Runtime::start_inner(config, dev, true)
    }

    /// Starts a stack thread on `dev` (which [`Runtime::start`] opens; tests
    /// pass their own). A device without an fd is polled on every wakeup.
    pub fn start_with_device(
        config: Config,
        dev: Box<dyn Device + Send>,
    ) -> Result<&'static Runtime, StartError> {
        Runtime::start_inner(config, dev, false)
    }

    fn start_inner(
        config: Config,
        dev: Box<dyn Device + Send>,
        with_control: bool,
    ) -> Result<&'static Runtime, StartError> {
        let io_error = |what: &str, e: std::io::Error| {
            start_error(format!(
                "tapstack: cannot start the stack thread: {what}: {e}"
            ))
        };
        let poll = Epoll::new().map_err(|e| io_error("epoll_create1", e))?;
        let waker = Waker::new(&poll, WAKER).map_err(|e| io_error("eventfd", e))?;
        if let Some(fd) = dev.raw_fd() {
            poll.add(fd, libc::EPOLLIN as u32, TAP)
                .map_err(|e| io_error("epoll_ctl", e))?;
        }
        // Introspection is a help, not a need: without it the stack runs.
        let control = if with_control {
            let name = control::socket_name(
                sys::unix_socket::netns_inode(),
                &config.ifname,
                std::process::id(),
            );
            match control::Control::new(&poll, name) {
                Ok(c) => {
                    crate::log_info!("control socket @{}", c.name());
                    Some(c)
                }
                Err(e) => {
                    crate::log_warn!(
                        "no control socket (tapstack ss will not see this stack): {e}"
                    );
                    None
                }
            }
        } else {
            None
        };
        let mut entropy = [0u8; 24];
        sys::getrandom(&mut entropy).map_err(|e| io_error("getrandom", e))?;
        let mut stack_config = config.stack_config();
        stack_config.offload = dev.capabilities().vnet_hdr;
        let entropy = crate::stack::Entropy::from_bytes(entropy);
        let started = monotonic_now();
        let mut stack = Stack::with_entropy(stack_config, started, entropy);
        let trace_file = match &config.trace {
            Some(path) => Some(
                trace::TraceFile::create(path, started, &config.ifname, config.ip).map_err(
                    |e| {
                        start_error(format!(
                            "tapstack: TAPSTACK_TRACE={path:?}: cannot create: {e}"
                        ))
                    },
                )?,
            ),
            None => None,
        };
        // Events are recorded for the trace file and for a debug log.
        stack.set_tracing(trace_file.is_some() || log::enabled(log::LogLevel::Debug));
        stack.tcp_defaults_mut().time_wait = config.time_wait();
        stack.tcp_defaults_mut().msl = config.time_wait() / 2;
        let rt: &'static Runtime = Box::leak(Box::new(Runtime {
            stack: Mutex::new(stack),
            config,
            waker,
            wake_pending: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            state: AtomicU8::new(RUNNING),
            finished: Mutex::new(false),
            finished_cv: Condvar::new(),
            thread: OnceCell::new(),
            inherited: AtomicBool::new(false),
        }));
        // The thread starts with every signal blocked: the application's
        // handlers must never run on it.
        let old_mask = sys::block_all_signals();
        let spawned = std::thread::Builder::new()
            .name("tapstack".into())
            .spawn(move || rt.thread_main(dev, poll, control, trace_file));
        sys::restore_signals(&old_mask);
        let handle = spawned.map_err(|e| io_error("spawn", e))?;
        let _ = rt.thread.set(handle.thread().id());
        Ok(rt)
    }

    /// Locks the stack. Application threads call the stack directly under
    /// this lock; make no real syscall while holding it.
    pub fn lock(&self) -> MutexGuard<'_, Stack> {
        self.stack.lock()
    }

    /// Tells the stack thread there is new work (data to send, a socket
    /// closed). Cheap when a wakeup is already pending.
    pub fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::AcqRel)
            && let Err(e) = self.waker.wake()
        {
            crate::log_error!("waking the stack thread failed: {e}");
        }
    }

    /// Ends an application thread's call on the stack: takes the sockets
    /// whose readiness the call changed, unlocks, wakes the threads waiting
    /// on them (e.g. a `recv` blocked on a socket another thread just shut
    /// down), and wakes the stack thread when there is something to send.
    pub fn finish(&self, mut stack: parking_lot::MutexGuard<'_, Stack>) {
        let mut words = Vec::new();
        stack.take_wakeups(&mut words);
        let transmit = stack.has_pending_transmit();
        drop(stack);
        wake_words(&words);
        if transmit {
            self.wake();
        }
    }

    /// The configuration the runtime started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `Ok` while the stack thread runs; `Err(EIO)` after it failed,
    /// `Err(ENETDOWN)` after [`Runtime::shutdown`], `Err(EBADFD)` in a
    /// forked child (the runtime is the parent's).
    pub fn health(&self) -> Result<(), i32> {
        if self.inherited.load(Ordering::Acquire) {
            return Err(libc::EBADFD);
        }
        match self.state.load(Ordering::Acquire) {
            RUNNING => Ok(()),
            FAILED => Err(libc::EIO),
            _ => Err(libc::ENETDOWN),
        }
    }

    /// Stops the stack thread and flushes the pcap, waiting up to a second
    /// for it (at exit, other threads may still hold the stack lock).
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        if self.thread.get() == Some(&std::thread::current().id()) {
            return;
        }
        let _ = self.waker.wake();
        let mut finished = self.finished.lock();
        if !*finished {
            let _ = self
                .finished_cv
                .wait_for(&mut finished, Duration::from_secs(1));
        }
    }

    fn thread_main(
        &'static self,
        mut dev: Box<dyn Device + Send>,
        poll: Epoll,
        mut control: Option<control::Control>,
        mut trace_file: Option<trace::TraceFile>,
    ) {
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.run(&mut *dev, &poll, control.as_mut(), trace_file.as_mut())
        }));
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
        self.state
            .store(if failed { FAILED } else { STOPPED }, Ordering::Release);
        // Wake every waiter so nobody sleeps forever on a dead stack. The
        // lock is taken without a bound: application threads hold it only
        // for short calls that make no system call (a panic released it).
        let mut words = Vec::new();
        self.stack
            .lock()
            .for_each_wait_word(&mut |h, w| words.push((h, w.clone())));
        wake_words(&words);
        // What the last turn and the exit (connections reset at exit)
        // recorded.
        let mut events = Vec::new();
        let dropped = self.stack.lock().take_trace(&mut events);
        let _ = catch_unwind(AssertUnwindSafe(|| {
            write_trace(&events, dropped, trace_file.as_mut())
        }));
        let flushed = catch_unwind(AssertUnwindSafe(|| dev.flush()));
        if let Ok(Err(e)) = flushed {
            crate::log_warn!("flushing the device: {e}");
        }
        *self.finished.lock() = true;
        self.finished_cv.notify_all();
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
                let sockets = self.stack.lock().socket_snapshot();
                snapshot::sockets_json(&origin, &sockets)
            }
            Some(control::Request::Neigh) => {
                let now = monotonic_now();
                let neigh = self.stack.lock().neigh_snapshot(now);
                snapshot::neigh_json(&origin, &neigh)
            }
            Some(control::Request::Stats) => {
                let counters = self.stack.lock().counters_snapshot();
                snapshot::stats_json(&origin, &counters)
            }
            None => snapshot::error_json("unknown request (ss, neigh, stats)"),
        }
    }

    fn run(
        &self,
        dev: &mut dyn Device,
        poll: &Epoll,
        mut control: Option<&mut control::Control>,
        mut trace_file: Option<&mut trace::TraceFile>,
    ) -> std::io::Result<()> {
        let mut trace_events = Vec::new();
        let caps = dev.capabilities();
        let slot = caps.max_frame.max(64);
        let per_batch = (BATCH_BYTES / slot).clamp(4, MAX_BATCH);
        let mut rx = Batch::new(per_batch, slot);
        let mut tx = Batch::new(per_batch, slot);
        let mut events = [EpollEvent { events: 0, u64: 0 }; 16];
        let mut words: Vec<(SocketHandle, Arc<WaitQueue>)> = Vec::new();
        let polled = dev.raw_fd().is_none();
        let mut rx_ready = true;
        let mut tx_more = false;
        let mut stack_deadline = self.stack.lock().poll_timeout();

        while !self.stop.load(Ordering::Acquire) {
            let now = monotonic_now();
            let control_at = control.as_ref().and_then(|c| c.poll_at());
            let deadline = [stack_deadline, dev.poll_at(), control_at]
                .into_iter()
                .flatten()
                .min();
            let timeout = if rx_ready || tx_more {
                Some(Duration::ZERO)
            } else {
                deadline.map(|d| d.saturating_duration_since(now))
            };
            let n = match poll.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            for ev in &events[..n] {
                match ev.u64 {
                    TAP => rx_ready = true,
                    WAKER => self.wake_pending.store(false, Ordering::Release),
                    token => {
                        if let Some(c) = control.as_deref_mut()
                            && control::Control::owns(token)
                        {
                            c.handle(poll, token, monotonic_now(), &mut |r| self.answer(r));
                        }
                    }
                }
            }
            let now = monotonic_now();
            if let Some(c) = control.as_deref_mut()
                && c.poll_at().is_some_and(|t| t <= now)
            {
                c.handle_timeout(poll, now);
            }
            let dev_due = dev.poll_at().is_some_and(|d| d <= now);

            rx.clear();
            if rx_ready || dev_due || polled {
                rx_ready = dev.recv(now, &mut rx)?.more;
            }
            if dev_due {
                dev.handle_timeout(now)?;
            }

            tx.clear();
            let trace_dropped;
            {
                let mut stack = self.stack.lock();
                for frame in rx.iter() {
                    stack.handle_frame(now, frame);
                }
                if stack.poll_timeout().is_some_and(|t| t <= now) {
                    stack.handle_timeout(now);
                }
                while let Ok(Some(_)) =
                    tx.push_with(|buf| Ok::<_, ()>(stack.poll_transmit(now, buf)))
                {}
                tx_more = tx.is_full() || stack.has_loopback();
                stack.take_wakeups(&mut words);
                stack_deadline = stack.poll_timeout();
                trace_dropped = stack.take_trace(&mut trace_events);
            }
            if !tx.is_empty() {
                dev.send(now, &tx)?;
            }
            wake_words(&words);
            words.clear();
            write_trace(&trace_events, trace_dropped, trace_file.as_deref_mut());
            trace_events.clear();
        }
        Ok(())
    }
}

/// Bumps each socket's word, wakes its sleepers and tells its watchers.
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

/// Called with the stack unlocked.
fn wake_words(words: &[(SocketHandle, Arc<WaitQueue>)]) {
    for (h, w) in words {
        // With [`sleep_on`]'s increment, a store-load pair on each side:
        // either we see the sleeper, or its futex sees the new word.
        w.word.fetch_add(1, Ordering::SeqCst);
        if w.sleepers.load(Ordering::SeqCst) > 0 {
            sys::event::futex_wake_all(&w.word);
        }
        let watchers: Vec<_> = {
            let mut list = w.watchers.lock();
            if list.is_empty() {
                continue;
            }
            list.retain(|x| x.strong_count() > 0);
            list.iter().filter_map(|x| x.upgrade()).collect()
        };
        for watcher in watchers {
            watcher.wake(*h);
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

/// The runtime of this process: null until started, else a leaked
/// `Result` (a failed start is remembered too). A forked child resets it
/// to null ([`process`]), so that its first socket tries a stack of its own.
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
/// is not the fork of a process whose stack holds the TAP. A failure is
/// reported as at the first socket (one line); the privilege call goes on
/// either way.
pub fn start_before_privilege_drop() {
    if current().is_some() || process::parent_holds_tap() || sys::effective_uid() != 0 {
        return;
    }
    if ensure_started().is_ok() {
        crate::log_info!("started before the program gives up its privileges");
    }
}

fn start_from_env() -> Result<&'static Runtime, i32> {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Err(libc::ENETDOWN);
        }
    };
    log::set_level(config.log);
    if let Some(template) = &config.log_file {
        let path = config::log_file_path(template, std::process::id());
        match std::fs::File::create(&path) {
            Ok(f) => log::set_file(crate::sys::private_fd::PrivateFd::adopt(f.into())),
            Err(e) => {
                eprintln!("tapstack: TAPSTACK_LOG_FILE={template:?}: cannot create {path:?}: {e}");
                return Err(libc::ENETDOWN);
            }
        }
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
        assert!(*rt.finished.lock());
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
