//! Wire formats: zero-copy views over bytes plus decoded `Repr`s.
//!
//! Every `*Packet<T: AsRef<[u8]>>` follows one contract: construct it with
//! `new_checked` (which calls `check_len`), and from then on no accessor can
//! panic, whatever the bytes are. A `Repr` holds only valid values; `parse`
//! validates, `emit` writes.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod ipv6ext;
pub mod ndisc;
pub mod seq;
pub mod tcp;
pub mod virtio_net;

pub use seq::SeqNum;

use core::fmt;

/// Why a packet could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The buffer is shorter than the header or the length fields say.
    Truncated,
    /// A field holds a value the format does not allow.
    Malformed,
    /// The checksum does not verify.
    Checksum,
    /// A valid packet of a kind we do not handle.
    Unsupported,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated",
            Error::Malformed => "malformed",
            Error::Checksum => "bad checksum",
            Error::Unsupported => "unsupported",
        })
    }
}

/// Result of parsing.
pub type Result<T> = core::result::Result<T, Error>;
