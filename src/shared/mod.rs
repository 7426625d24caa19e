//! Shared-memory primitives for one stack shared by every process on a TAP
//! (`docs/shared-stack.md`).
//!
//! - [`alloc`]: [`Heap`], a size-classed allocator whose whole state lives
//!   inside the memory it manages.

pub mod alloc;

pub use alloc::Heap;
