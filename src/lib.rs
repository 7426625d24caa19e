//! tapstack: a TCP/IP stack written by hand, running in user space on a Linux
//! TAP device, used by unmodified C programs through `LD_PRELOAD`.
//!
//! Layers (dependencies point downwards only; `docs/design.md` describes
//! the architecture: threads, locks, wakeups, the fd table, epoll):
//!
//! ```text
//! shim  ──►  runtime  ──►  stack  ──►  tcp  ──►  wire, storage, time
//!   │           │
//!   └──► sys ◄──┴──►  device (tap, pcap, faults)  ──►  wire
//! ```
//!
//! - [`wire`]: zero-copy packet views and `Repr`s (Ethernet, ARP, IPv4, ICMP, TCP).
//! - [`storage`]: ring buffers and the out-of-order assembler.
//! - [`tcp`]: the sans-IO TCP control block.
//! - [`stack`]: the sans-IO host: ARP, IPv4, ICMP, the socket table.
//! - [`device`]: the TAP device and the devices that wrap it (pcap, faults).
//! - [`rand`]: the one non-cryptographic random generator.
//! - [`runtime`]: the stack thread, the only place that reads the clock.
//! - [`sys`]: every raw libc call.
//! - [`shared`]: the shared-memory region, its allocator and its lock.
//! - [`shim`]: the exported C ABI.

#![deny(unsafe_op_in_unsafe_fn)]
// `unsafe` is allowed in `sys` (raw libc calls), `shim` (the C ABI) and
// `shared` (the shared-memory region, its allocator and its lock) only.
#![deny(unsafe_code)]

pub mod device;
pub mod rand;
pub mod runtime;
#[allow(unsafe_code)]
pub mod shared;
#[allow(unsafe_code)]
pub mod shim;
pub mod stack;
pub mod storage;
#[allow(unsafe_code)]
pub mod sys;
pub mod tcp;
pub mod time;
pub mod wire;

/// Every allocation of the library: from the shared region's heap while a
/// thread holds the stack's lock, else from the system (`shared::global`).
#[global_allocator]
static GLOBAL: shared::global::SwitchAlloc = shared::global::SwitchAlloc;
