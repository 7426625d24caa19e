//! Buffers for TCP: the ring buffer and the out-of-order assembler.
//!
//! The send queue is one [`RingBuffer`]: from its read end, bytes that were
//! sent and not yet acknowledged, then bytes not yet sent (the textbook
//! picture: acked bytes have already been discarded). The receive queue is
//! another, where out-of-order data is written past the end without being
//! committed; the [`Assembler`] remembers which ranges are there.

mod assembler;
mod ring;

pub use assembler::Assembler;
pub use ring::RingBuffer;
