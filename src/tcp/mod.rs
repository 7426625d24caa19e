//! The TCP control block, a sans-IO state machine (RFC 9293).
