//! Tests of the TCB: segment by segment, and two TCBs over a simulated wire.
//!
//! `transitions` holds the table mapping every RFC 9293 transition and
//! acceptance rule to its test.

#[macro_use]
mod harness;
mod autotune;
mod close;
mod established;
mod events;
mod open;
mod recovery;
mod sim;
mod timers;
mod transitions;
mod tso;
