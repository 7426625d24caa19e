//! Every raw libc call lives here.

pub mod real;
