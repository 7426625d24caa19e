//! The stack thread: the only place that reads the clock or blocks.

pub mod log;
