//! The stack thread: the only place that reads the clock or blocks.
//!
//! STUB (shim worktree only; replaced by the runtime branch at merge). It has
//! exactly the API the shim consumes, and checks `TAPSTACK_IP` so the
//! bad-configuration path can be exercised; it starts no thread.

use crate::stack::{Stack, StackConfig};
use crate::time::Instant;
use once_cell::sync::OnceCell;
use parking_lot::{Mutex, MutexGuard};
use std::net::Ipv4Addr;

/// The running stack: the sans-IO [`Stack`] behind a lock, and its thread.
pub struct Runtime {
    stack: Mutex<Stack>,
}

impl Runtime {
    /// Locks the stack.
    pub fn lock(&self) -> MutexGuard<'_, Stack> {
        self.stack.lock()
    }

    /// Wakes the stack thread (it has new work).
    pub fn wake(&self) {}

    /// Stops the stack thread.
    pub fn shutdown(&self) {}
}

static RUNTIME: OnceCell<Runtime> = OnceCell::new();

/// Starts the runtime on first use (thread-safe); a bad configuration prints
/// one line and gives `Err(ENETDOWN)`.
pub fn ensure_started() -> Result<&'static Runtime, i32> {
    RUNTIME.get_or_try_init(|| {
        let ip = std::env::var("TAPSTACK_IP").unwrap_or_else(|_| "198.18.0.2/24".into());
        let addr = ip.split('/').next().unwrap_or("");
        let ip: Ipv4Addr = addr.parse().map_err(|_| {
            eprintln!("tapstack: TAPSTACK_IP={ip:?} is not an IPv4 address in CIDR form");
            libc::ENETDOWN
        })?;
        let config = StackConfig {
            mac: StackConfig::default_mac(ip),
            ip,
            prefix_len: 24,
            gateway: None,
            mtu: 1500,
        };
        let stack = Stack::new(config, Instant::default(), 0);
        Ok(Runtime {
            stack: Mutex::new(stack),
        })
    })
}

/// The runtime, if it has started.
pub fn get() -> Option<&'static Runtime> {
    RUNTIME.get()
}
