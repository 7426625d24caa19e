//! The thread that waits, reads: the receive half of "the waiting thread
//! does the stack's work" (docs/performance.md).
//!
//! A blocking `recv`, `accept` or `connect` used to sleep on its socket's
//! futex word while the stack thread slept in `epoll_wait` on the TAP. A
//! frame then woke the stack thread, which processed it and woke the
//! application thread with a futex: two wakeups, two threads scheduled,
//! where the kernel's softirq delivers into the socket and wakes the
//! reader once. Now the thread about to sleep waits on the TAP itself
//! ([`Runtime::wait_reading`]): it takes the TAP out of its stack
//! thread's epoll set and waits in `ppoll` on the TAP, a *kick* eventfd
//! and a signalfd. A frame wakes it directly; it reads a batch, processes
//! it under the stack lock, runs due timers, writes the answers, wakes the
//! other sockets' waiters, and most often finds its own socket ready. When
//! it returns, the TAP goes back into the stack thread's set (level-
//! triggered: a frame that came meanwhile wakes the stack thread).
//!
//! The rules that keep it correct:
//!
//! - **One reader per process**, the one whose wait word is in
//!   `Local::reader`; other threads sleep on their futex words as before.
//! - **The reader's own wakeups**: whoever bumps its word in this process
//!   (the stack thread's timers, another thread's `shutdown`) writes the
//!   kick ([`Runtime::kick_reader`] in `wake_words`): the store of the
//!   word and the load of `reader` on the waker's side, the store of
//!   `reader` and the load of the word on the reader's, so one of the two
//!   always sees the other. Its own turn does not kick it: it looks at
//!   its word after each turn.
//! - **Only while this process is alone on the stack.** A thread of
//!   another process bumps the word with a futex wake only. A process
//!   that joins rings this process's bell (`announce`), its stack thread
//!   kicks the reader, and the reader goes back to the futex.
//! - **Frames of one process are read in order**: the reader reads and
//!   processes under the process's transmit lock, which the stack thread
//!   holds for its own reads too.
//! - **Signals keep Linux's rules.** `ppoll` is never restarted after a
//!   handler, where a blocking `recv` is when the handler has
//!   `SA_RESTART`. So the reader blocks signals while it waits and
//!   watches them on a signalfd; when one is pending it gives the TAP
//!   back, decides as the kernel would (restart, or `EINTR`), and unblocks
//!   it, which runs the handler.
//! - **Not when frames must be seen by the device layer** (pcap capture,
//!   fault injection) **or traced**: the stack thread then does all reads.

use super::{Local, Runtime, TAP};
use crate::device::Received;
use crate::stack::socket::WaitQueue;
use crate::sys::clock::monotonic_now;
use crate::sys::event::{FutexWait, eventfd_add, eventfd_take};
use crate::sys::private_fd::FdNumber;
use crate::sys::signal::{self, SignalFd};
use crate::time::{Duration, Instant};
use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The program fences its system calls in (seen at its `prctl`): no
/// thread of it waits on the TAP from then on.
static SANDBOXED: AtomicBool = AtomicBool::new(false);

/// The program is installing a seccomp filter, or preparing to
/// (`PR_SET_NO_NEW_PRIVS`): its threads may soon be killed for the calls
/// a wait on the TAP makes (`ppoll`, `signalfd`, `epoll_ctl`,
/// `timerfd_settime`), so they stop making them.
pub fn note_sandbox() {
    SANDBOXED.store(true, Ordering::SeqCst);
}

/// The program fenced its system calls in ([`note_sandbox`]): its threads
/// make no call beyond `read`, `write` and `futex` for the stack.
pub fn sandboxed() -> bool {
    SANDBOXED.load(Ordering::SeqCst)
}

/// How long the TAP stays lent to the application after a wait on it
/// ends (see [`Runtime::end_wait`]): longer than a program takes between
/// two blocking calls, short enough that a frame meanwhile is not late.
const LEASE: Duration = Duration::from_micros(1000);

/// A turn that reads or writes this many bytes of frames is bulk
/// traffic ([`Runtime::note_traffic`]).
const STREAM_BYTES: usize = 64 << 10;

/// How long event loops leave the TAP to the stack thread after bulk
/// traffic was last seen.
const STREAM_HOLD: Duration = Duration::from_millis(10);

/// The TAP queue an application thread may read: its fd and the events
/// the stack thread's epoll set watches it with.
#[derive(Debug)]
pub struct TapWatch {
    fd: FdNumber,
    events: u32,
    /// The number the stack thread's epoll set has the TAP under (epoll
    /// knows an fd by its file and number): after the program's `dup2`
    /// moved it (`sys::private_fd::move_away`) while it was in the set,
    /// it can no longer be taken out, and is no longer lent.
    registered: AtomicI32,
}

impl TapWatch {
    /// The TAP `fd`, in the stack thread's set as `now` with `events`.
    pub fn new(fd: FdNumber, now: RawFd, events: u32) -> TapWatch {
        TapWatch {
            fd,
            events,
            registered: AtomicI32::new(now),
        }
    }

    /// The TAP queue's fd (its number now).
    pub fn fd(&self) -> RawFd {
        self.fd.get()
    }
}

/// How a wait on the TAP hears of signals (they are blocked while the
/// thread processes frames, which it does with the stack locked).
#[derive(Clone, Copy)]
enum Signals<'a> {
    /// Watched on this signalfd, the mask left blocked (a blocking
    /// `recv`, which decides for itself whether a handler restarts it).
    Fd(RawFd),
    /// Unblocked by `ppoll` itself while it sleeps, to this mask (an
    /// event loop's wait, which a handler always ends).
    Mask(&'a libc::sigset_t),
}

impl Runtime {
    /// Sleeps until `w`'s word moves from `seen` (or `deadline`, or a
    /// signal), reading and processing the TAP's frames meanwhile. `None`
    /// when this thread cannot be the reader now (another thread is, this
    /// process is not alone on the stack, the device is not a bare TAP):
    /// the caller sleeps on the futex instead.
    pub fn wait_reading(
        &self,
        w: &Arc<WaitQueue>,
        seen: u32,
        deadline: Option<Instant>,
    ) -> Option<FutexWait> {
        let local = self.local();
        // A thread of another process bumps the word with a futex wake
        // alone: it would not reach a thread waiting in `ppoll`.
        if self.header.in_use() != 1 || !self.begin_wait(local, Arc::as_ptr(w) as usize) {
            return None;
        }
        let old = signal::block_all();
        let unblocked = old.complement();
        // One signalfd per process, set to the reader's unblocked signals:
        // its readiness is the polling thread's pending signals and the
        // process's, whichever thread that is.
        let sfd = {
            let mut s = local.signals.lock().unwrap_or_else(|e| e.into_inner());
            match s.as_mut() {
                Some(sfd) => sfd.watch(unblocked).map(|_| sfd.raw()),
                None => SignalFd::new(unblocked).map(|sfd| s.insert(sfd).raw()),
            }
        };
        let sfd = match sfd {
            Ok(fd) => fd,
            Err(e) => {
                crate::log_warn!("signalfd: {e}; this thread waits on its socket only");
                self.end_wait(local, Lease::None);
                signal::restore(&old);
                return None;
            }
        };
        let mut woken = || w.word.load(Ordering::SeqCst) != seen;
        let outcome = if self.spin_reading(local, &mut woken, deadline) {
            Outcome::Done
        } else {
            let signals = Signals::Fd(sfd);
            self.read_until(local, signals, &mut [], true, &mut woken, deadline)
        };
        self.end_wait(local, Lease::WhileAlone);
        let result = match outcome {
            Outcome::Done => FutexWait::Woken,
            Outcome::TimedOut => FutexWait::TimedOut,
            // What the kernel does with a blocking call a signal
            // interrupts: a handler runs, and it has no `SA_RESTART` or
            // the call a timeout: `EINTR`; else the call goes on (the
            // caller tries again and waits again). A signal with no
            // handler (SIGCHLD by default) interrupts nothing: blocked,
            // it was kept pending, where Linux would have dropped it.
            Outcome::Signal => {
                let interrupted = signal::pending()
                    .common(&unblocked)
                    .into_iter()
                    .filter_map(signal::handler_restarts)
                    .any(|restarts| deadline.is_some() || !restarts);
                if interrupted {
                    FutexWait::Interrupted
                } else {
                    FutexWait::Woken
                }
            }
        };
        // Delivers the pending signal, if any: its handler runs now.
        signal::restore(&old);
        Some(result)
    }

    /// An event loop's wait (`epoll_wait`, `poll`, `select`): sleeps until
    /// `ready()` (the stack sockets it watches may have changed), one of
    /// the kernel fds in `theirs` has events (their `revents` are set as
    /// `ppoll` sets them), `deadline`, or a signal handler ran
    /// (`Some(Err(EINTR))`: those calls are never restarted), reading and
    /// processing the TAP's frames meanwhile. `None` when this thread
    /// cannot be the reader now, and the caller waits as it would have.
    ///
    /// `signals` blocks the thread's signals for the caller's whole call
    /// (which may wait more than once), and `ppoll` unblocks those of its
    /// wait mask while it sleeps: a signal that comes while the thread
    /// processes frames is delivered by the next sleep, which then ends.
    /// (Unblocked between two waits, its handler would run where the call
    /// goes on to sleep: nginx's SIGTERM was lost that way.)
    ///
    /// Unlike a blocking `recv`, this wait needs no process to be alone:
    /// every wakeup for an event loop comes as an fd's readiness (the
    /// epoll instance's eventfd, the thread's `poll` eventfd), which
    /// another process's thread makes through this one's bell.
    pub fn wait_ready(
        &self,
        theirs: &mut [libc::pollfd],
        deadline: Option<Instant>,
        signals: &signal::Blocked,
        ready: &mut dyn FnMut() -> bool,
    ) -> Option<Result<(), i32>> {
        let local = self.local();
        if !self.event_loops_read() {
            return None;
        }
        // Any address unique to this wait while it lasts: a frame of this
        // call (no wait word is ever there).
        let mark = &local as *const &Local as usize;
        if !self.begin_wait(local, mark) {
            return None;
        }
        for p in theirs.iter_mut() {
            p.revents = 0;
        }
        let outcome = if self.spin_reading(local, ready, deadline) {
            Outcome::Done
        } else {
            let signals = Signals::Mask(signals.wait_mask());
            self.read_until(local, signals, theirs, false, ready, deadline)
        };
        let lease = if self.streaming(local) {
            Lease::None
        } else {
            Lease::Keep
        };
        self.end_wait(local, lease);
        Some(match outcome {
            Outcome::Done | Outcome::TimedOut => Ok(()),
            Outcome::Signal => Err(libc::EINTR),
        })
    }

    /// Whether an event loop's wait may read the TAP now (the caller then
    /// blocks signals for [`Runtime::wait_ready`]): a bare TAP, this
    /// process the only one reading its queue, no bulk traffic lately.
    pub fn event_loops_read(&self) -> bool {
        let local = self.local();
        // A queue forked processes share: each frame goes to whichever of
        // them reads first, and a frame for this thread's sockets read by
        // another reaches it through a bell and a stack thread anyway;
        // for the process that has it, the frame for another's sockets is
        // the same hand-off. Their stack threads wait on it exclusively
        // (one woken per frame), a `ppoll` cannot (nginx with two
        // workers: 0.86 of the kernel's requests/s with their stack
        // threads reading, 0.62 with the workers' waits).
        local.tap_watch.get().is_some()
            && !SANDBOXED.load(Ordering::Relaxed)
            && !self.streaming(local)
            && !self
                .header
                .queue_shared(self.slot(), self.queue.load(Ordering::Acquire))
    }

    /// A turn read `read` bytes of frames and wrote `sent`: bulk traffic
    /// keeps event loops off the TAP for a while.
    ///
    /// Bulk is where the stack thread earns its keep: it takes in and
    /// acknowledges one batch, and writes the next, on one CPU while the
    /// program copies on the other. An event loop's thread that reads the
    /// TAP does both in turn (iperf3's `select`: 1.15 of the kernel's
    /// receive rate fell to 0.97, 1.82 of its send rate to 1.32; nginx's
    /// 10 MB responses 1.23 to 1.15). Request and response traffic is
    /// where it gains, a wakeup per request.
    pub(super) fn note_traffic(&self, local: &Local, now: Instant, read: usize, sent: usize) {
        if read >= STREAM_BYTES || sent >= STREAM_BYTES {
            local
                .streaming_until
                .store((now + STREAM_HOLD).total_micros(), Ordering::Relaxed);
        }
    }

    /// Bulk traffic was seen lately ([`Runtime::note_traffic`]).
    fn streaming(&self, local: &Local) -> bool {
        monotonic_now().total_micros() < local.streaming_until.load(Ordering::Relaxed)
    }

    /// Makes this thread the process's reader (`mark` tells its wait from
    /// others) and the TAP lent to it; false when it cannot be.
    fn begin_wait(&self, local: &Local, mark: usize) -> bool {
        let Some(tap) = local.tap_watch.get() else {
            return false;
        };
        let fd = tap.fd.get();
        if local.stop.load(Ordering::Acquire) || SANDBOXED.load(Ordering::SeqCst) {
            return false;
        }
        // The transmit lock orders this with the stack thread's reads and
        // with its taking the TAP back ([`Runtime::lease`]).
        let _order = local.tx();
        if local
            .reader
            .compare_exchange(0, mark, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        // From here the stack thread no longer wakes for frames.
        if !local.lent.load(Ordering::Acquire) {
            if tap.registered.load(Ordering::Acquire) != fd || local.poll.delete(fd).is_err() {
                local.reader.store(0, Ordering::SeqCst);
                return false;
            }
            local.lent.store(true, Ordering::Release);
        }
        true
    }

    /// `TAPSTACK_SPIN_US`: before it sleeps, the reader polls the TAP
    /// (a non-blocking read) and `done` for up to that long, as a NIC
    /// busy-poller would; true when `done`. (Spinning on the word alone,
    /// as a thread that does not read the TAP does, would wait for
    /// frames nobody reads while the TAP is lent.)
    fn spin_reading(
        &self,
        local: &Local,
        done: &mut dyn FnMut() -> bool,
        deadline: Option<Instant>,
    ) -> bool {
        super::spin_until(self.config().spin_us, deadline, || {
            done() || {
                self.read_turn(local);
                done()
            }
        })
    }

    /// Waits in `ppoll` on the TAP, the kick, `signals` and `theirs`
    /// until `done()`, one of `theirs` is ready, `deadline` or a signal,
    /// processing the frames that come. `alone`: the wait also ends when
    /// another process joins the stack.
    fn read_until(
        &self,
        local: &Local,
        signals: Signals<'_>,
        theirs: &mut [libc::pollfd],
        alone: bool,
        done: &mut dyn FnMut() -> bool,
        deadline: Option<Instant>,
    ) -> Outcome {
        let Some(tap) = local.tap_watch.get() else {
            return Outcome::Done;
        };
        const OURS: usize = 3;
        let mut fds = Vec::with_capacity(OURS + theirs.len());
        loop {
            if done() {
                return Outcome::Done;
            }
            // Another process joined, or the stack thread stops: back to
            // the futex (the caller tries again first).
            if (alone && self.header.in_use() != 1) || local.stop.load(Ordering::Acquire) {
                return Outcome::Done;
            }
            let timeout = match deadline {
                None => None,
                Some(d) => {
                    let now = monotonic_now();
                    if now >= d {
                        return Outcome::TimedOut;
                    }
                    Some(d.saturating_duration_since(now))
                }
            };
            // (Numbers read again each time: the program may `dup2` onto
            // one of ours, which moves it.)
            let (sfd, mask) = match signals {
                Signals::Fd(fd) => (fd, None),
                Signals::Mask(m) => (-1, Some(m)),
            };
            fds.clear();
            fds.extend(
                [tap.fd.get(), local.kick.raw(), sfd].map(|fd| libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                }),
            );
            fds.extend_from_slice(theirs);
            match signal::ppoll(&mut fds, timeout, mask) {
                Ok(_) => {}
                // A handler ran in `ppoll` (its mask unblocked it).
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted && mask.is_some() => {
                    return Outcome::Signal;
                }
                // glibc's own signals (never blocked) land here.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    crate::log_warn!("ppoll on the TAP: {e}; back to the socket's wait");
                    return Outcome::Done;
                }
            }
            if fds[2].revents != 0 {
                return Outcome::Signal;
            }
            if fds[1].revents != 0 {
                let _ = eventfd_take(&local.kick);
            }
            if fds[0].revents != 0 {
                while self.read_turn(local).more {}
            }
            let mut theirs_ready = false;
            for (mine, got) in theirs.iter_mut().zip(&fds[OURS..]) {
                mine.revents = got.revents;
                theirs_ready |= got.revents != 0;
            }
            if theirs_ready {
                return Outcome::Done;
            }
        }
    }

    /// The reader's wait is over: the TAP stays lent for [`LEASE`] more
    /// while the process is alone on the stack, so that a frame that comes
    /// while the thread makes its next call (the next connection's SYN
    /// while it closes the last one) waits for it to wait again, not for
    /// the stack thread to wake. The stack thread's timer is set for the
    /// lease's end.
    /// `alone`: the wait was one that reads only while this process is
    /// alone on the stack.
    fn end_wait(&self, local: &Local, lease: Lease) {
        // No more waits will read it when the process is no longer alone
        // (or stops): the lease ends now.
        let keep = !local.stop.load(Ordering::Acquire)
            && match lease {
                Lease::Keep => true,
                Lease::WhileAlone => self.header.in_use() == 1,
                Lease::None => false,
            };
        if !keep {
            let _order = local.tx();
            local.reader.store(0, Ordering::SeqCst);
            self.take_back(local);
            return;
        }
        let end = monotonic_now() + LEASE;
        local.lease_end.store(end.total_micros(), Ordering::SeqCst);
        local.reader.store(0, Ordering::SeqCst);
        self.arm_timer(Some(end));
    }

    /// The TAP back in the stack thread's epoll set (with the transmit
    /// lock held and no reader).
    fn take_back(&self, local: &Local) {
        if !local.lent.load(Ordering::Acquire) {
            return;
        }
        let Some(tap) = local.tap_watch.get() else {
            return;
        };
        let fd = tap.fd.get();
        match local.poll.add(fd, tap.events, TAP) {
            Ok(()) => tap.registered.store(fd, Ordering::Release),
            Err(e) => crate::log_error!("taking the TAP back from the application: {e}"),
        }
        local.lent.store(false, Ordering::Release);
    }

    /// For the stack thread, at the top of each turn: while the TAP is
    /// lent and no thread waits on it, when the lease ends; once it has
    /// ended, the TAP back in the stack thread's epoll set (level-
    /// triggered: frames that came meanwhile wake it at once) and `None`.
    pub(super) fn lease(&self, local: &Local, now: Instant) -> Option<Instant> {
        if !local.lent.load(Ordering::Acquire) {
            return None;
        }
        // A thread waits on it: its wait's end sets the timer again.
        if local.reader.load(Ordering::SeqCst) != 0 {
            return None;
        }
        // Never wait for the transmit lock here: a thread holding it is
        // about to wait on the TAP, or sending; look again soon.
        let Some(_order) = local.try_tx() else {
            return Some(now + LEASE);
        };
        if local.reader.load(Ordering::SeqCst) != 0 {
            return None;
        }
        let end = Instant::from_micros(local.lease_end.load(Ordering::SeqCst));
        if now < end {
            return Some(end);
        }
        self.take_back(local);
        None
    }

    /// One turn of the reader: a batch of frames from the TAP through the
    /// stack under one lock, due timers, the answers written, the
    /// sockets' waiters woken (the stack thread's turn, on this thread).
    fn read_turn(&self, local: &Local) -> Received {
        let mut tx = local.tx();
        let Some(t) = tx.as_mut() else {
            return Received::default();
        };
        let got = match t.recv() {
            Ok(got) if got.frames > 0 => got,
            Ok(got) => return got,
            Err(e) => {
                // The stack thread's next read meets it too and ends the
                // device.
                crate::log_warn!("TAP read from the waiting thread: {e}");
                self.wake();
                return Received::default();
            }
        };
        let now = monotonic_now();
        let mut words = Vec::new();
        let mut raises = Vec::new();
        let mut read = 0;
        let sent;
        let (transmit, next_timer) = {
            let mut stack = self.lock();
            stack.count_frames_read_by_waiter(got.frames);
            for frame in t.frames() {
                read += frame.len();
                stack.handle_frame(now, frame);
            }
            if stack.poll_timeout().is_some_and(|at| at <= now) {
                stack.handle_timeout(now);
            }
            t.fill(&mut stack, now);
            sent = t.frames().map(|f| f.len()).sum();
            stack.take_wakeups(&mut words);
            stack
                .epolls()
                .wakeups(words.iter().map(|(h, _)| *h), &mut raises);
            (stack.has_pending_transmit(), stack.poll_timeout())
        };
        t.send();
        drop(tx);
        self.note_traffic(local, now, read, sent);
        self.wake_words(&words, &raises, true);
        self.arm_timer(next_timer);
        // More than a batch to send, or traffic to ourselves: the stack
        // thread takes over.
        if transmit {
            self.wake();
        }
        got
    }

    /// Wakes the reader, if a thread is one, so it looks at its word and
    /// the process table again.
    pub(super) fn kick_reader(&self) {
        let local = self.local();
        if local.reader.load(Ordering::SeqCst) != 0 {
            let _ = eventfd_add(&local.kick, 1);
        }
    }

    /// After bumping `w`'s word: wakes the reader when it waits on it.
    pub(super) fn kick_reader_of(&self, w: &Arc<WaitQueue>) {
        let local = self.local();
        let r = local.reader.load(Ordering::SeqCst);
        if r != 0 && r == Arc::as_ptr(w) as usize {
            let _ = eventfd_add(&local.kick, 1);
        }
    }
}

/// What happens to the TAP when a wait on it ends.
#[derive(Clone, Copy)]
enum Lease {
    /// Lent for [`LEASE`] more.
    Keep,
    /// Lent for [`LEASE`] more while this process is alone on the stack.
    WhileAlone,
    /// Back to the stack thread now.
    None,
}

enum Outcome {
    /// What the caller waited for may have come: it looks again.
    Done,
    TimedOut,
    /// A signal is pending (blocked while the thread waited), or for
    /// [`Signals::Mask`] a handler ran.
    Signal,
}
