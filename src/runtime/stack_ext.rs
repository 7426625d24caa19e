//! What the runtime needs from the stack beyond its fixed API, as a trait
//! with stub implementations until the stack provides the real methods.
//!
//! Method-call syntax prefers inherent methods over trait methods, so once
//! `Stack` has its own `wait_word`, calls here resolve to it and this stub
//! can be deleted without touching the runtime.

use crate::stack::{SocketHandle, Stack};
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

/// Per-socket futex words that application threads sleep on.
pub trait WaitWord {
    /// The word threads waiting on socket `h` sleep on; the runtime bumps
    /// it and wakes them when `h` comes out of `take_dirty`.
    fn wait_word(&self, h: SocketHandle) -> Option<Arc<AtomicU32>>;

    /// Calls `f` with every socket's word (used to wake everyone when the
    /// stack thread fails).
    fn for_each_wait_word(&self, f: &mut dyn FnMut(&Arc<AtomicU32>));
}

impl WaitWord for Stack {
    fn wait_word(&self, _h: SocketHandle) -> Option<Arc<AtomicU32>> {
        None
    }

    fn for_each_wait_word(&self, _f: &mut dyn FnMut(&Arc<AtomicU32>)) {}
}
