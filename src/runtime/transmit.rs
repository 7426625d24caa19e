//! The thread that sends, transmits.
//!
//! A `send` used to leave its segments to the stack thread: the call woke
//! it, which took the lock a second time to build the frames and write
//! them. Two wakeups and two turns of the lock for each segment sent, where
//! the kernel has none: its `sendmsg` builds and queues the segments itself
//! (`tcp_push` from `tcp_sendmsg`). Now the call (`send`, `close`, a
//! `recv` that opens the window) builds the frames while it still holds
//! the lock ([`Transmitter::fill`]) and writes them to its process's TAP
//! queue once the lock is let go ([`Transmitter::send`]); the stack
//! thread is woken only when there is more than one batch, traffic to
//! itself (loopback), or a timer it must now run sooner.
//!
//! Only when the calling thread has nothing else ready, and only while
//! the stack thread sleeps. Each TAP `write` also runs the kernel peer's
//! TCP input, in the writer's time: for nginx under load (an event loop
//! whose `epoll_wait` returns many ready connections) writing its own
//! frames put all of that on its CPU instead of the stack thread's, and
//! cost it requests per second on two CPUs (38,000 to 28,000 in one pair
//! of profiled runs, which on this machine vary by a fifth on their own:
//! the `write`s' `tcp_ack` moved from the stack thread to nginx). So a
//! thread on epoll (an event loop, with connections to serve) leaves its
//! frames to the stack thread after any event, and a thread whose last
//! `poll` or `select` reported more than one ready fd does too
//! ([`note_epoll_ready`], [`note_ready`]): the stack thread writes them on
//! another CPU while it goes on. A thread that blocks in its calls, or
//! polled one thing, is about to wait for an answer, and the wakeup and
//! turn it saves are all gain. When the stack thread is running a turn
//! anyway (reading frames), it takes the frames along, as before.
//!
//! A process allowed one CPU (`taskset`, `sched_setaffinity` before the
//! stack starts) has no other CPU for its stack thread: every thread
//! writes its own frames there. nginx pinned to one CPU with its client
//! on another (`scripts/bench/run`, "2 CPUs", 3 rounds, tapstack /
//! kernel): keep-alive 0.61 → 0.94, `Connection: close` 0.80 → 0.93, 2
//! workers 0.62 → 0.79; with the client on the same CPU, keep-alive
//! 1.26 → 1.09 and 2 workers 1.18 → 0.98 (`docs/performance.md`).
//!
//! Frames leave a process in the order they were built, so that no
//! thread's later segment passes an earlier one of the same connection on
//! the wire: building and writing happen under the process's transmit
//! lock (in the runtime's per-process state). The stack thread takes it
//! before the stack lock, for its whole turn; an application thread only
//! tries it, with the stack locked, and when it is taken (the stack
//! thread is in a turn, or another thread is writing) leaves its frames
//! to the stack thread, as before. Nobody waits for it with the stack
//! locked.
//!
//! Only a bare TAP queue is written this way ([`Device::tx_fd`]): a pcap
//! capture or fault injection must see every frame, so with those the
//! stack thread sends everything. The system call is a plain `write(2)`,
//! which a program's seccomp sandbox allows wherever it lets the program
//! wake our thread (sshd's pre-authentication child).
//!
//! [`Device::tx_fd`]: crate::device::Device::tx_fd

use crate::device::Batch;
use crate::device::Received;
use crate::device::tap::{read_frames, write_frames};
use crate::stack::Stack;
use crate::sys::private_fd::FdNumber;
use crate::time::Instant;
use std::cell::Cell;

/// Most bytes of frames one call builds; a bigger burst (a large `send`
/// with a wide window) goes on from the stack thread.
const BATCH_BYTES: usize = 256 << 10;
/// Fewest and most frames in the batch.
const MIN_FRAMES: usize = 4;
const MAX_FRAMES: usize = 64;

/// One process's way to write frames from any of its threads.
pub struct Transmitter {
    /// The TAP queue's fd (its number follows the program's `dup2`s onto
    /// it: `sys::private_fd::move_away`).
    fd: FdNumber,
    name: String,
    batch: Batch,
    link_down: bool,
}

impl Transmitter {
    /// Writes to TAP queue `fd` of interface `name`, frames up to
    /// `max_frame` bytes. Allocates the batch now: [`Transmitter::fill`]
    /// runs with the stack locked, where memory comes from the shared
    /// region.
    pub fn new(fd: FdNumber, name: &str, max_frame: usize) -> Transmitter {
        let max_frame = max_frame.max(64);
        let frames = (BATCH_BYTES / max_frame).clamp(MIN_FRAMES, MAX_FRAMES);
        Transmitter {
            fd,
            name: name.to_owned(),
            batch: Batch::new(frames, max_frame),
            link_down: false,
        }
    }

    /// Builds the frames `stack` has ready, as many as the batch holds
    /// (with the stack locked). True when it built any.
    pub fn fill(&mut self, stack: &mut Stack, now: Instant) -> bool {
        self.batch.clear();
        while let Ok(Some(_)) = self
            .batch
            .push_with(|buf| Ok::<_, ()>(stack.poll_transmit(now, buf)))
        {}
        !self.batch.is_empty()
    }

    /// Reads what the TAP queue has, a batch at most (the waiting thread's
    /// read: `runtime::reader`).
    pub fn recv(&mut self) -> std::io::Result<Received> {
        self.batch.clear();
        read_frames(self.fd.get(), &mut self.batch)
    }

    /// The frames [`Transmitter::recv`] read.
    pub fn frames(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.batch.iter()
    }

    /// Writes what [`Transmitter::fill`] built (with the stack unlocked,
    /// this process's transmit lock held). An error that is not a lost
    /// frame is logged; the stack thread's next write meets it too and
    /// ends the device.
    pub fn send(&mut self) {
        if let Err(e) = write_frames(self.fd.get(), &self.name, &self.batch, &mut self.link_down) {
            crate::log_warn!("{}: write from the calling thread: {e}", self.name);
        }
        self.batch.clear();
    }
}

thread_local! {
    /// How many fds this thread's last `poll` or `select` reported ready;
    /// `usize::MAX` after an `epoll_wait` that reported any.
    static READY: Cell<usize> = const { Cell::new(0) };
}

/// This thread's `poll` or `select` with a stack socket reported `n` fds
/// ready.
pub fn note_ready(n: usize) {
    READY.with(|r| r.set(n));
}

/// This thread's `epoll_wait` on an instance with stack sockets reported
/// `n` events. A thread on epoll is an event loop with connections to
/// serve: after any event it leaves its frames to the stack thread.
pub fn note_epoll_ready(n: usize) {
    READY.with(|r| r.set(if n > 0 { usize::MAX } else { 0 }));
}

/// Whether this thread transmits its own frames: by its last readiness
/// call it has nothing else to serve (a thread that never made one blocks
/// in its calls), or its process may run on one CPU only, where the stack
/// thread would write them on the same CPU after it, with a context
/// switch each way.
pub fn caller_transmits() -> bool {
    READY.with(|r| r.get()) <= 1 || !crate::sys::many_cpus()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_thread_with_more_ready_leaves_its_frames() {
        // On a process allowed one CPU every thread writes its own.
        let many = crate::sys::many_cpus();
        assert!(caller_transmits(), "a thread that never polled blocks");
        note_ready(1);
        assert!(caller_transmits());
        note_ready(5);
        assert_eq!(caller_transmits(), !many);
        note_ready(0);
        assert!(caller_transmits());
        note_epoll_ready(1);
        assert_eq!(caller_transmits(), !many, "an event loop leaves its frames");
        note_epoll_ready(0);
        assert!(caller_transmits());
    }

    #[test]
    fn frames_are_written_whole_and_in_order() {
        let (mut r, w) = std::os::unix::net::UnixStream::pair().unwrap();
        let w = crate::sys::private_fd::PrivateFd::adopt(w.into());
        let mut t = Transmitter::new(w.number(), "test0", 1514);
        assert!(t.batch.push(b"first frame"));
        assert!(t.batch.push(b"second"));
        t.send();
        assert!(t.batch.is_empty(), "sent frames are gone");
        drop(w);
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"first framesecond");
    }
}
