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
//!   always sees the other.
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

/// How long the TAP stays lent to the application after a wait on it
/// ends (see [`Runtime::end_wait`]): longer than a program takes between
/// two blocking calls, short enough that a frame meanwhile is not late.
const LEASE: Duration = Duration::from_micros(1000);

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
        let tap = local.tap_watch.get()?;
        let fd = tap.fd.get();
        if self.header.in_use() != 1
            || local.stop.load(Ordering::Acquire)
            || SANDBOXED.load(Ordering::SeqCst)
        {
            return None;
        }
        let me = Arc::as_ptr(w) as usize;
        {
            // The transmit lock orders this with the stack thread's reads
            // and with its taking the TAP back ([`Runtime::lease`]).
            let _order = local.tx();
            local
                .reader
                .compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst)
                .ok()?;
            // From here the stack thread no longer wakes for frames.
            if !local.lent.load(Ordering::Acquire) {
                if tap.registered.load(Ordering::Acquire) != fd || local.poll.delete(fd).is_err() {
                    local.reader.store(0, Ordering::SeqCst);
                    return None;
                }
                local.lent.store(true, Ordering::Release);
            }
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
                self.end_wait(local);
                signal::restore(&old);
                return None;
            }
        };
        let outcome = if self.spin_reading(local, w, seen, deadline) {
            Outcome::Wait(FutexWait::Woken)
        } else {
            self.read_until(local, &tap.fd, sfd, w, seen, deadline)
        };
        self.end_wait(local);
        let result = match outcome {
            Outcome::Wait(r) => r,
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

    /// `TAPSTACK_SPIN_US`: before it sleeps, the reader polls the TAP
    /// (a non-blocking read) and its word for up to that long, as a NIC
    /// busy-poller would; true when the word moved. (Spinning on the word
    /// alone, as a thread that does not read the TAP does, would wait for
    /// frames nobody reads while the TAP is lent.)
    fn spin_reading(
        &self,
        local: &Local,
        w: &WaitQueue,
        seen: u32,
        deadline: Option<Instant>,
    ) -> bool {
        super::spin_until(self.config().spin_us, deadline, || {
            w.word.load(Ordering::SeqCst) != seen || {
                self.read_turn(local);
                w.word.load(Ordering::SeqCst) != seen
            }
        })
    }

    fn read_until(
        &self,
        local: &Local,
        tap: &FdNumber,
        sfd: RawFd,
        w: &WaitQueue,
        seen: u32,
        deadline: Option<Instant>,
    ) -> Outcome {
        loop {
            if w.word.load(Ordering::SeqCst) != seen {
                return Outcome::Wait(FutexWait::Woken);
            }
            // Another process joined, or the stack thread stops: back to
            // the futex (the caller tries again first).
            if self.header.in_use() != 1 || local.stop.load(Ordering::Acquire) {
                return Outcome::Wait(FutexWait::Woken);
            }
            let timeout = match deadline {
                None => None,
                Some(d) => {
                    let now = monotonic_now();
                    if now >= d {
                        return Outcome::Wait(FutexWait::TimedOut);
                    }
                    Some(d.saturating_duration_since(now))
                }
            };
            // (Numbers read again each time: the program may `dup2` onto
            // one of ours, which moves it.)
            let mut fds = [tap.get(), local.kick.raw(), sfd].map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
            match signal::ppoll(&mut fds, timeout) {
                Ok(_) => {}
                // glibc's own signals (never blocked) land here.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    crate::log_warn!("ppoll on the TAP: {e}; back to the socket's wait");
                    return Outcome::Wait(FutexWait::Woken);
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
        }
    }

    /// The reader's wait is over: the TAP stays lent for [`LEASE`] more
    /// while the process is alone on the stack, so that a frame that comes
    /// while the thread makes its next call (the next connection's SYN
    /// while it closes the last one) waits for it to wait again, not for
    /// the stack thread to wake. The stack thread's timer is set for the
    /// lease's end.
    fn end_wait(&self, local: &Local) {
        // No more waits will read it when the process is no longer alone
        // (or stops): the lease ends now.
        let alone = self.header.in_use() == 1 && !local.stop.load(Ordering::Acquire);
        let end = monotonic_now() + if alone { LEASE } else { Duration::ZERO };
        local.lease_end.store(end.total_micros(), Ordering::SeqCst);
        local.reader.store(0, Ordering::SeqCst);
        self.arm_timer(Some(end));
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
        let Ok(_order) = local.tx.try_lock() else {
            return Some(now + LEASE);
        };
        if local.reader.load(Ordering::SeqCst) != 0 {
            return None;
        }
        let end = Instant::from_micros(local.lease_end.load(Ordering::SeqCst));
        if now < end {
            return Some(end);
        }
        let tap = local.tap_watch.get()?;
        let fd = tap.fd.get();
        match local.poll.add(fd, tap.events, TAP) {
            Ok(()) => tap.registered.store(fd, Ordering::Release),
            Err(e) => crate::log_error!("taking the TAP back from the application: {e}"),
        }
        local.lent.store(false, Ordering::Release);
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
        let (transmit, next_timer) = {
            let mut stack = self.lock();
            stack.count_frames_read_by_waiter(got.frames);
            for frame in t.frames() {
                stack.handle_frame(now, frame);
            }
            if stack.poll_timeout().is_some_and(|at| at <= now) {
                stack.handle_timeout(now);
            }
            t.fill(&mut stack, now);
            stack.take_wakeups(&mut words);
            stack
                .epolls()
                .wakeups(words.iter().map(|(h, _)| *h), &mut raises);
            (stack.has_pending_transmit(), stack.poll_timeout())
        };
        t.send();
        drop(tx);
        self.wake_words(&words, &raises);
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

enum Outcome {
    Wait(FutexWait),
    /// A signal is pending (blocked while the thread waited).
    Signal,
}
