//! Tests of the TCB: segment by segment, and two TCBs over a simulated wire.

mod sim;
mod transitions;
