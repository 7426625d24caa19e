//! Shared-memory primitives for one stack shared by every process on a TAP
//! (`docs/shared-stack.md`).
//!
//! - [`alloc`]: [`Heap`], a size-classed allocator whose whole state lives
//!   inside the memory it manages.
//! - [`lock`]: [`RobustMutex`], glibc's process-shared robust mutex, which
//!   tells the next holder when the last one died holding it.
//! - [`global`]: [`SwitchAlloc`](global::SwitchAlloc), the library's
//!   global allocator, which serves a thread in region scope (the stack's
//!   lock held) from the heap.
//! - [`region`]: [`Region`], the `/dev/shm` file mapped at one fixed
//!   address ([`REGION_ADDR`]) in every process.

pub mod alloc;
pub mod global;
pub mod lock;
pub mod region;

pub use alloc::Heap;
pub use global::{RegionScope, SwitchAlloc, enter, fallbacks, in_region, set_heap};
pub use lock::{Locked, RobustMutex};
pub use region::{Opened, REGION_ADDR, REGION_LEN, Region, region_path};

#[cfg(test)]
mod tests;
