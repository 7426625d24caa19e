//! Events for logs and traces: what each connection did ([`TcpEvent`],
//! drained from its TCB after each call), every segment in and out, and
//! what the stack itself did (a RST for no connection, an ARP failure, a
//! listen queue overflow, a SYN cookie).
//!
//! Recorded only while [`Stack::set_tracing`] is on; the runtime takes
//! them out with [`Stack::take_trace`] under the lock and writes them
//! after letting go of it. Off, each hook is one predictable branch.

use super::Stack;
use crate::storage::Text;
use crate::tcp::{FourTuple, TcpEvent};
use crate::time::Instant;
use crate::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};

/// The most events kept between two [`Stack::take_trace`] calls; past it
/// they are counted in [`Tracer::dropped`] and lost.
const MAX_EVENTS: usize = 1 << 16;

/// One segment as the trace shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegSummary {
    /// We sent it.
    pub outgoing: bool,
    /// Control bits.
    pub flags: TcpFlags,
    /// SEG.SEQ.
    pub seq: u32,
    /// SEG.ACK (0 without ACK).
    pub ack: u32,
    /// The window in bytes, scaled.
    pub win: u32,
    /// Payload bytes.
    pub len: u32,
    /// Its options.
    pub options: TcpOptions,
}

impl SegSummary {
    /// `seg` as seen, with its window `win` already scaled.
    pub fn new(seg: &TcpRepr, outgoing: bool, win: u32) -> SegSummary {
        SegSummary {
            outgoing,
            flags: seg.flags,
            seq: seg.seq.0,
            ack: if seg.flags.contains(TcpFlags::ACK) {
                seg.ack.0
            } else {
                0
            },
            win,
            len: seg.payload.len() as u32,
            options: seg.options,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceWhat {
    /// A connection's own event.
    Tcp(TcpEvent),
    /// A segment in or out.
    Seg(SegSummary),
    /// Something the stack did for this 4-tuple, in a few words
    /// ("sent RST: no connection or listener").
    Stack(Text),
}

/// One event with when and which connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceEvent {
    /// When.
    pub at: Instant,
    /// The connection (ours first).
    pub tuple: FourTuple,
    /// What.
    pub what: TraceWhat,
}

/// The stack's event buffer.
#[derive(Debug, Default)]
pub(super) struct Tracer {
    /// Recording.
    pub on: bool,
    events: Vec<TraceEvent>,
    scratch: Vec<TcpEvent>,
    /// Events lost to [`MAX_EVENTS`] since the last take.
    pub dropped: u64,
}

impl Tracer {
    fn push(&mut self, e: TraceEvent) {
        if self.events.len() < MAX_EVENTS {
            self.events.push(e);
        } else {
            self.dropped += 1;
        }
    }
}

impl Stack {
    /// Starts or stops recording events; connections made from now on
    /// record theirs ([`crate::tcp::TcpConfig::trace`]).
    pub fn set_tracing(&mut self, on: bool) {
        self.tracer.on = on;
        self.tcp_defaults.trace = on;
    }

    /// Moves the events recorded so far to `out` and returns how many were
    /// lost to the bound since the last call.
    pub fn take_trace(&mut self, out: &mut Vec<TraceEvent>) -> u64 {
        out.append(&mut self.tracer.events);
        std::mem::take(&mut self.tracer.dropped)
    }

    /// Records a segment.
    #[inline]
    pub(super) fn trace_seg(&mut self, now: Instant, tuple: FourTuple, seg: SegSummary) {
        if self.tracer.on {
            self.tracer.push(TraceEvent {
                at: now,
                tuple,
                what: TraceWhat::Seg(seg),
            });
        }
    }

    /// Records something the stack did for `tuple`.
    #[inline]
    pub(super) fn trace_stack(&mut self, now: Instant, tuple: FourTuple, what: &'static str) {
        if self.tracer.on {
            self.tracer.push(TraceEvent {
                at: now,
                tuple,
                what: TraceWhat::Stack(what.into()),
            });
        }
    }

    /// Takes connection `index`'s own events.
    #[inline]
    pub(super) fn trace_tcb(&mut self, now: Instant, index: u32) {
        if !self.tracer.on {
            return;
        }
        let mut scratch = std::mem::take(&mut self.tracer.scratch);
        let Some(tcb) = self.slot_mut(index).and_then(|s| s.tcb_mut()) else {
            self.tracer.scratch = scratch;
            return;
        };
        let tuple = tcb.tuple();
        tcb.take_events(&mut scratch);
        for e in scratch.drain(..) {
            self.tracer.push(TraceEvent {
                at: now,
                tuple,
                what: TraceWhat::Tcp(e),
            });
        }
        self.tracer.scratch = scratch;
    }
}
