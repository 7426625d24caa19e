//! Buffers for TCP: the ring buffer and the out-of-order assembler.
//!
//! The send queue is one [`RingBuffer`]: from its read end, bytes that were
//! sent and not yet acknowledged, then bytes not yet sent (the textbook
//! picture: acked bytes have already been discarded). The receive queue is
//! another, where out-of-order data is written past the end without being
//! committed; the [`Assembler`] remembers which ranges are there.
//!
//! [`Text`] holds a short text by value, for state in shared memory.

mod assembler;
mod ring;
mod text;

pub use assembler::Assembler;
pub use ring::RingBuffer;
pub use text::{TEXT_MAX, Text};
