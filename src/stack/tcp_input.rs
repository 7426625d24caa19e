//! TCP demultiplexing: segments to connections and listeners.

use super::Stack;
use crate::time::Instant;
use crate::wire::ipv4::Ipv4Repr;
use std::net::Ipv4Addr;

impl Stack {
    /// A TCP segment for us (the TCP engine is wired in with the socket table).
    pub(super) fn handle_tcp(&mut self, _now: Instant, _ip: &Ipv4Repr, _payload: &[u8]) {
        self.counters.tcp_rx += 1;
    }

    /// An ICMP error naming one of our connections.
    pub(super) fn tcp_icmp_error(
        &mut self,
        _now: Instant,
        _remote: Ipv4Addr,
        _local_port: u16,
        _remote_port: u16,
        _code: u8,
    ) {
        self.counters.icmp_errors_to_tcp += 1;
    }
}
