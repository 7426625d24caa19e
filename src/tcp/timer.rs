//! The connection's timers: a small table whose next deadline is its minimum.

use crate::time::Instant;

/// Each timer a connection can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Retransmission (RFC 6298 §5), also for SYN and SYN-ACK.
    Retransmit = 0,
    /// Zero-window probe (RFC 9293 §3.8.6.1).
    Persist = 1,
    /// Delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2).
    DelayedAck = 2,
    /// Keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6).
    Keepalive = 3,
    /// TIME-WAIT's 2×MSL, and FIN-WAIT-2's orphan timeout.
    Close = 4,
    /// Tail loss probe (RFC 8985 §7.2).
    LossProbe = 5,
    /// RACK's reordering timeout (RFC 8985 §6.3).
    Reorder = 6,
}

const COUNT: usize = 7;
const ALL: [Timer; COUNT] = [
    Timer::Retransmit,
    Timer::Persist,
    Timer::DelayedAck,
    Timer::Keepalive,
    Timer::Close,
    Timer::LossProbe,
    Timer::Reorder,
];

/// A slot of [`TimerTable`] that is not armed.
const DISARMED: u64 = u64::MAX;

/// Deadlines, one slot per [`Timer`]: each in microseconds, or
/// [`DISARMED`] (half the size of `Option<Instant>`, in every TCB).
#[derive(Debug, Clone, Copy)]
pub struct TimerTable {
    deadlines: [u64; COUNT],
}

impl Default for TimerTable {
    fn default() -> TimerTable {
        TimerTable {
            deadlines: [DISARMED; COUNT],
        }
    }
}

impl TimerTable {
    /// Arms `t` to fire at `at` (`at` before the end of time, which is
    /// half a million years away).
    pub fn set(&mut self, t: Timer, at: Instant) {
        self.deadlines[t as usize] = at.total_micros().min(DISARMED - 1);
    }

    /// Disarms `t`.
    pub fn stop(&mut self, t: Timer) {
        self.deadlines[t as usize] = DISARMED;
    }

    /// When `t` fires, if armed.
    pub fn get(&self, t: Timer) -> Option<Instant> {
        let at = self.deadlines[t as usize];
        (at != DISARMED).then(|| Instant::from_micros(at))
    }

    /// `t` is armed.
    pub fn is_armed(&self, t: Timer) -> bool {
        self.get(t).is_some()
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        let at = self.deadlines.iter().copied().min()?;
        (at != DISARMED).then(|| Instant::from_micros(at))
    }

    /// Disarms and returns the timers due at `now`.
    pub fn expire(&mut self, now: Instant) -> impl Iterator<Item = Timer> + use<> {
        let mut due = [None; COUNT];
        for t in ALL {
            if self.get(t).is_some_and(|at| at <= now) {
                self.stop(t);
                due[t as usize] = Some(t);
            }
        }
        due.into_iter().flatten()
    }

    /// Disarms everything.
    pub fn clear(&mut self) {
        self.deadlines = [DISARMED; COUNT];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_the_minimum_and_expire_takes_due_ones() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Keepalive, Instant::from_millis(50));
        t.set(Timer::Retransmit, Instant::from_millis(20));
        assert_eq!(t.next(), Some(Instant::from_millis(20)));
        let due: Vec<_> = t.expire(Instant::from_millis(30)).collect();
        assert_eq!(due, [Timer::Retransmit]);
        assert_eq!(t.next(), Some(Instant::from_millis(50)));
    }
}
