//! The clocks. Only the runtime calls these: everything below it takes time
//! as an argument.

use crate::time::Instant;

fn read(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; both clocks always exist
    // on Linux, so the call cannot fail.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000)
        .saturating_add(ts.tv_nsec as u64 / 1000)
}

/// Now, on `CLOCK_MONOTONIC`, as an [`Instant`].
pub fn monotonic_now() -> Instant {
    Instant::from_micros(read(libc::CLOCK_MONOTONIC))
}

/// Microseconds since the Unix epoch, on `CLOCK_REALTIME` (pcap timestamps).
pub fn realtime_micros() -> u64 {
    read(libc::CLOCK_REALTIME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_advances_and_realtime_is_recent() {
        let a = monotonic_now();
        let b = monotonic_now();
        assert!(b >= a);
        // After 2020-01-01.
        assert!(realtime_micros() > 1_577_836_800_000_000);
    }
}
