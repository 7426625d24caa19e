//! Stack tests, sans-IO: frames in, frames out, virtual time.
//!
//! - `fixture.rs`: what they share (addresses, frame builders, [`fixture::Pair`]:
//!   two stacks over an in-memory Ethernet);
//! - `ip.rs`: ARP, IPv4, ICMP and routing on one stack;
//! - `ipv6.rs`: IPv6, Neighbor Discovery and ICMPv6, on one stack and
//!   between two;
//! - `fuzz.rs`: random and mutated frames through the input path;
//! - `tcp.rs`: two stacks over TCP: handshakes, listeners and backlogs,
//!   data, close, loopback, offload;
//! - `tcp6.rs`: the same engine over IPv6, and the listeners' families.

pub(crate) mod fixture;
mod fuzz;
mod ip;
mod ipv6;
mod snapshot;
mod tcp;
mod tcp6;
mod trace;
