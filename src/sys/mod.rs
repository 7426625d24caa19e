//! Every raw libc call lives here.
