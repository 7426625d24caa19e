//! Blocking, non-blocking and timeouts: how a call waits for its socket.
//!
//! A call tries its operation under the stack lock. When the stack says
//! "would block" and the call may block, the thread sleeps on the socket's
//! wait word (a futex): it reads the word under the lock *before* trying,
//! unlocks, and sleeps only while the word still holds that value. Whoever
//! changes the socket (the stack thread, or another application thread via
//! `Runtime::finish`) bumps the word after unlocking, so no wakeup is lost
//! between the check and the sleep.
//!
//! When it may (`runtime::reader`: alone on the stack, a bare TAP), the
//! thread does not sleep on the word but waits on the TAP itself and
//! processes the frames that come, its own among them: the frame that
//! makes its socket ready wakes it, not the stack thread first.
//!
//! Signals: the futex wait is interrupted like Linux's socket waits
//! (`sock_intr_errno`). Without a timeout, the kernel restarts the wait
//! itself after a handler installed with `SA_RESTART`, and the call fails
//! with `EINTR` otherwise; with a timeout (`SO_RCVTIMEO`/`SO_SNDTIMEO`) it
//! always fails with `EINTR`. A timeout that expires fails with `EAGAIN`
//! (Linux's `EWOULDBLOCK`), or with `EINPROGRESS` for `connect`.
//! Callers that moved some bytes before the interruption return the count.

use super::errno::{Errno, errno_of};
use super::fd_table::OpenSocket;
use crate::runtime::Runtime;
use crate::stack::{SocketError, SocketHandle, Stack};
use crate::sys::clock::monotonic_now;
use crate::sys::event::FutexWait;
use crate::time::{Duration, Instant};
use std::sync::atomic::Ordering;

/// Which timeout applies to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// `SO_RCVTIMEO`: receiving and accepting.
    Recv,
    /// `SO_SNDTIMEO`: sending and connecting.
    Send,
}

/// One call's way of waiting: blocking or not, and its deadline. Made once
/// per call, so that a call that waits several times (a large blocking
/// `send`, `MSG_WAITALL`) has one deadline in all.
pub struct Waiter<'a> {
    sock: &'a OpenSocket,
    rt: &'static Runtime,
    nonblocking: bool,
    deadline: Option<Instant>,
}

impl<'a> Waiter<'a> {
    /// A waiter for a call on `sock`; `dontwait` is `MSG_DONTWAIT`.
    pub fn new(sock: &'a OpenSocket, dontwait: bool, dir: Dir) -> Errno<Waiter<'a>> {
        let rt = sock.runtime()?;
        let nonblocking = dontwait || sock.is_nonblocking();
        let timeout_us = match dir {
            Dir::Recv => sock.rcv_timeout_us.load(Ordering::Relaxed),
            Dir::Send => sock.snd_timeout_us.load(Ordering::Relaxed),
        };
        let deadline = (!nonblocking && timeout_us > 0)
            .then(|| monotonic_now() + Duration::from_micros(timeout_us));
        Ok(Waiter {
            sock,
            rt,
            nonblocking,
            deadline,
        })
    }

    /// The runtime the call runs on.
    pub fn rt(&self) -> &'static Runtime {
        self.rt
    }

    /// The call does not block.
    pub fn nonblocking(&self) -> bool {
        self.nonblocking
    }

    /// Runs `attempt` under the stack lock (ending with `finish`, which
    /// wakes whoever the attempt affected) until it returns something other
    /// than `WouldBlock`. A non-blocking call tries once (`EAGAIN`); a
    /// blocking one sleeps between tries and fails with `EINTR` when a
    /// signal interrupts it, `EAGAIN` when its timeout expires.
    pub fn run<T>(
        &self,
        mut attempt: impl FnMut(&mut Stack, SocketHandle) -> Result<T, SocketError>,
    ) -> Errno<T> {
        let h = self.sock.handle;
        loop {
            let mut stack = self.rt.lock();
            let wait = stack.wait_word(h);
            let seen = wait.as_ref().map(|w| w.word.load(Ordering::Acquire));
            let r = attempt(&mut stack, h);
            self.rt.finish(stack);
            match r {
                Err(SocketError::WouldBlock) if !self.nonblocking => {}
                Err(e) => return Err(errno_of(e)),
                Ok(v) => return Ok(v),
            }
            let (Some(wait), Some(seen)) = (wait, seen) else {
                return Err(libc::EBADF);
            };
            // The stack thread marks itself stopped before it bumps every
            // word for the last time: a `seen` read after that bump comes
            // with the stopped state, and nothing would wake this sleep.
            self.rt.health()?;
            let timeout = match self.deadline {
                None => None,
                Some(d) => {
                    let now = monotonic_now();
                    if now >= d {
                        return Err(libc::EAGAIN);
                    }
                    Some(d.saturating_duration_since(now))
                }
            };
            // The thread that waits reads the TAP meanwhile when it may
            // (`runtime::reader`, which spins on the TAP); else it spins
            // on the word, then sleeps on it.
            let slept = match self.rt.wait_reading(&wait, seen, self.deadline) {
                Some(r) => r,
                None => {
                    if spin(&wait.word, seen, self.rt.config().spin_us, self.deadline) {
                        continue;
                    }
                    crate::runtime::sleep_on(&wait, seen, timeout)
                }
            };
            match slept {
                FutexWait::Interrupted => return Err(libc::EINTR),
                FutexWait::TimedOut => return Err(libc::EAGAIN),
                FutexWait::Woken | FutexWait::Changed => {}
            }
            // The stack thread may have failed while we slept.
            self.rt.health()?;
        }
    }
}

/// `TAPSTACK_SPIN_US`: watches `word` for up to `us` microseconds (and not
/// past `deadline`) before the caller sleeps on it; true when it changed
/// (the socket may be ready: try again without sleeping). The futex sleep
/// and wakeup cost a few microseconds each way; a thread that spins meets
/// its data on the CPU it is on.
fn spin(
    word: &std::sync::atomic::AtomicU32,
    seen: u32,
    us: u32,
    deadline: Option<Instant>,
) -> bool {
    crate::runtime::spin_until(us, deadline, || word.load(Ordering::Acquire) != seen)
}

/// A call that moved `done` bytes before failing with `e`: Linux returns
/// the count when it is not zero (an interrupted or timed-out transfer is
/// short, not failed).
pub fn partial(done: usize, e: i32) -> Errno<usize> {
    if done > 0 { Ok(done) } else { Err(e) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Batch, Capabilities, Device, Received};
    use crate::runtime::Config;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    /// A device with no fd (polled on every wakeup) whose `recv` fails
    /// once `fail` is set: the stack thread then stops.
    struct Failing(Arc<AtomicBool>);

    impl Device for Failing {
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                mtu: 1500,
                max_frame: 1514,
                vnet_hdr: false,
            }
        }
        fn recv(&mut self, _: Instant, _: &mut Batch) -> std::io::Result<Received> {
            if self.0.load(Ordering::Acquire) {
                Err(std::io::Error::from_raw_os_error(libc::EBADF))
            } else {
                Ok(Received::default())
            }
        }
        fn send(&mut self, _: Instant, _: &Batch) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn spinning_sees_a_change_and_gives_up() {
        let word = Arc::new(std::sync::atomic::AtomicU32::new(7));
        assert!(!spin(&word, 7, 0, None), "0: no spinning");
        assert!(!spin(&word, 7, 2_000, None), "unchanged: gives up");
        assert!(spin(&word, 6, 2_000, None), "already changed");
        let w = word.clone();
        let bump = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(5));
            w.fetch_add(1, Ordering::SeqCst);
        });
        assert!(spin(&word, 7, 5_000_000, None));
        bump.join().unwrap();
        // A deadline cuts a long spin short (a deadline already past: it
        // gives up after one round, instead of spinning 5 s).
        assert!(!spin(&word, 8, 5_000_000, Some(monotonic_now())));
    }

    /// A call that began before the stack thread stopped, and reads its
    /// wait word after the thread's last wakeup, must not sleep: nothing
    /// would wake it.
    #[test]
    fn a_call_begun_before_the_stack_stopped_does_not_sleep() {
        let fail = Arc::new(AtomicBool::new(false));
        let rt =
            Runtime::start_with_device(Config::default(), Box::new(Failing(fail.clone()))).unwrap();
        let handle = rt.lock().socket();
        let sock = OpenSocket::new(handle, Some(rt), false);
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter_sock = sock.clone();
        let ready = Arc::new(AtomicBool::new(false));
        let go = ready.clone();
        std::thread::spawn(move || {
            let w = Waiter::new(&waiter_sock, false, Dir::Recv).unwrap();
            go.store(true, Ordering::Release);
            // Starts only once the stack thread has stopped and made its
            // last wakeups (shutdown waits for the thread's end).
            while rt.health().is_ok() {
                std::thread::yield_now();
            }
            rt.shutdown();
            let r = w.run(|_, _| Err::<(), _>(SocketError::WouldBlock));
            let _ = tx.send(r);
        });
        while !ready.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        fail.store(true, Ordering::Release);
        rt.wake();
        // A hang would fail here rather than block the test run.
        let r = rx.recv_timeout(std::time::Duration::from_secs(20));
        assert_eq!(r, Ok(Err(libc::EIO)));
    }
}
