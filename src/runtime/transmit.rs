//! The thread that sends, transmits.
//!
//! A `send` (or `close`, `shutdown`, a `recv` that opens the window) used
//! to leave its segments to the stack thread: the call woke that thread,
//! which took the lock a second time to build the frames and write them.
//! Two wakeups and two turns of the lock for each segment sent, where the
//! kernel has none: its `sendmsg` builds and queues the segments itself
//! (`tcp_push` from `tcp_sendmsg`). Here too the calling thread now builds
//! the frames while it still holds the lock ([`Transmitter::fill`]) and
//! writes them to its process's TAP queue once the lock is let go
//! ([`Transmitter::send`]); the stack thread is woken only when there is
//! more than one batch, or traffic to itself (loopback), or a timer it
//! must now run sooner.
//!
//! Only while the stack thread sleeps. When it is running a turn (reading
//! frames, as under nginx's load), the call leaves its frames to it, as
//! before: that thread writes them on its own CPU while the application
//! goes on with its next request, where writing them itself (each TAP
//! `write` also runs the kernel peer's TCP input) put all of it on the
//! application's CPU and cost nginx a fifth of its requests per second
//! on two CPUs. A program that answers and then waits (request/response,
//! an echo, `socat`'s children) finds the thread asleep and saves it a
//! wakeup and a turn of the lock.
//!
//! Frames leave a process in the order they were built: the stack thread
//! and the application threads each take [`Local`](super::Local)'s
//! transmit lock before they let the stack lock go and hold it while they
//! write, so that no thread's later segment passes an earlier one of the
//! same connection on the wire. An application thread only tries that
//! lock: while another thread writes, it leaves its frames to the stack
//! thread, as before, rather than wait with the stack locked.
//!
//! Only a bare TAP queue is written this way ([`Device::tx_fd`]): a pcap
//! capture or fault injection must see every frame, so with those the
//! stack thread sends everything. The system call is a plain `write(2)`,
//! which a program's seccomp sandbox allows wherever it lets the program
//! wake our thread (sshd's pre-authentication child).
//!
//! [`Device::tx_fd`]: crate::device::Device::tx_fd

use crate::device::Batch;
use crate::device::tap::write_frames;
use crate::stack::Stack;
use crate::time::Instant;
use std::os::fd::RawFd;

/// Most bytes of frames one call builds; a bigger burst (a large `send`
/// with a wide window) goes on from the stack thread.
const BATCH_BYTES: usize = 256 << 10;
/// Fewest and most frames in the batch.
const MIN_FRAMES: usize = 4;
const MAX_FRAMES: usize = 64;

/// One process's way to write frames from any of its threads.
pub struct Transmitter {
    fd: RawFd,
    name: String,
    batch: Batch,
    link_down: bool,
}

impl Transmitter {
    /// Writes to TAP queue `fd` of interface `name`, frames up to
    /// `max_frame` bytes. Allocates the batch now: [`Transmitter::fill`]
    /// runs with the stack locked, where memory comes from the shared
    /// region.
    pub fn new(fd: RawFd, name: &str, max_frame: usize) -> Transmitter {
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

    /// Writes what [`Transmitter::fill`] built (with the stack unlocked,
    /// this process's transmit lock held). An error that is not a lost
    /// frame is logged; the stack thread's next write meets it too and
    /// ends the device.
    pub fn send(&mut self) {
        if let Err(e) = write_frames(self.fd, &self.name, &self.batch, &mut self.link_down) {
            crate::log_warn!("{}: write from the calling thread: {e}", self.name);
        }
        self.batch.clear();
    }
}
