//! Shared-memory primitives for one stack shared by every process on a TAP
//! (`docs/shared-stack.md`).
//!
//! - [`region`]: [`Region`], the `/dev/shm` file mapped at one fixed
//!   address ([`REGION_ADDR`]) in every process, so that an address stored
//!   in it means the same memory everywhere (a `Vec`'s buffer, a list's
//!   link). Inherited across `fork` (`MAP_SHARED`), opened again by name
//!   after `exec`.
//! - [`alloc`]: [`Heap`], a size-classed allocator whose whole state lives
//!   inside the memory it manages (absolute addresses, nothing private).
//! - [`global`]: [`SwitchAlloc`], the library's global allocator: a thread
//!   in region scope ([`enter`], taken by the stack lock's guard) allocates
//!   from the heap; frees are routed by address, and a heap block freed
//!   outside scope takes the heap's lock-free deferred list.
//! - [`lock`]: [`RobustMutex`], glibc's process-shared robust mutex, which
//!   tells the next holder when the last one died holding it.
//! - [`header`]: what the region holds: the lock, the process table,
//!   and the stack.
//!
//! # A process may die at any instruction
//!
//! Any process may be killed (`SIGKILL`) at any instruction, also while it
//! holds the stack's lock and is inside the allocator. The lock tells the
//! next holder ([`Locked::OwnerDied`]); the heap is built so that there is
//! nothing to repair in it: every change to a free list, the bump pointer or
//! the deferred stack is one committed store made after the block it
//! publishes is prepared, so a kill leaks at most the block in flight and
//! never leaves a list pointing at a block in use. [`Heap::check`] verifies
//! that (the repair may call it; `tests.rs` kills children at random
//! moments and calls it after each).
//!
//! `unsafe` is allowed here, as in `sys` and `shim`: the region is raw
//! memory at a fixed address, and the allocator hands out raw blocks. Every
//! `unsafe` block says why it is sound.

pub mod alloc;
pub mod global;
pub mod header;
pub mod lock;
pub mod region;

pub use alloc::Heap;
pub use global::{RegionScope, SwitchAlloc, enter, fallbacks, in_region, set_heap};
pub use lock::{Locked, RobustMutex};
pub use region::{Opened, REGION_ADDR, REGION_LEN, Region, netns_inode, region_path};

#[cfg(test)]
mod tests;
