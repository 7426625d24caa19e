//! A tiny logger: one line per message to stderr, or to the file
//! `TAPSTACK_LOG_FILE` names ([`set_file`]), the level from
//! `TAPSTACK_LOG`. A message below the level costs one relaxed atomic load
//! and a branch; its arguments are not even formatted.
//!
//! ```ignore
//! crate::log_warn!("{}: frame of {} bytes refused", name, len);
//! ```
//!
//! prints `tapstack: warn: tap0: frame of 9000 bytes refused`.

use crate::sys::private_fd::PrivateFd;
use once_cell::sync::OnceCell;
use std::fmt;
use std::io::Write;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};

/// How much to log, least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum LogLevel {
    /// Something failed.
    Error = 1,
    /// Something is wrong but we go on (the default).
    Warn = 2,
    /// Notable events: start, stop.
    Info = 3,
    /// Detail for debugging.
    Debug = 4,
    /// Per-frame detail.
    Trace = 5,
}

impl LogLevel {
    /// The name used in `TAPSTACK_LOG` and in the message prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl FromStr for LogLevel {
    type Err = ();
    /// One of `error`, `warn`, `info`, `debug`, `trace` (any case).
    fn from_str(s: &str) -> Result<LogLevel, ()> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "error" => LogLevel::Error,
            "warn" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => return Err(()),
        })
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Warn as u8);

/// Sets the most detailed level printed.
pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// True when messages at `level` are printed.
#[inline(always)]
pub fn enabled(level: LogLevel) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// The log file, when `TAPSTACK_LOG_FILE` gave one: one of the library's
/// own fds, out of the program's reach.
static FILE: OnceCell<PrivateFd> = OnceCell::new();

/// Sends the log to `file` from now on, instead of stderr (once; a second
/// call is ignored).
pub fn set_file(file: PrivateFd) {
    let _ = FILE.set(file);
}

/// Prints one message (use the `log_*!` macros, which check the level first).
/// The line goes out in one `write`, so lines from threads do not interleave.
#[cold]
pub fn write(level: LogLevel, args: fmt::Arguments<'_>) {
    let line = format!("tapstack: {level}: {args}\n");
    match FILE.get() {
        Some(f) => {
            let _ = f.write_raw(line.as_bytes());
        }
        None => {
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

/// Logs at `level` when it is enabled.
#[macro_export]
macro_rules! log_at {
    ($level:expr, $($arg:tt)+) => {
        if $crate::runtime::log::enabled($level) {
            $crate::runtime::log::write($level, format_args!($($arg)+));
        }
    };
}

/// Logs an error.
#[macro_export]
macro_rules! log_error {
    ($($arg:tt)+) => { $crate::log_at!($crate::runtime::log::LogLevel::Error, $($arg)+) };
}

/// Logs a warning.
#[macro_export]
macro_rules! log_warn {
    ($($arg:tt)+) => { $crate::log_at!($crate::runtime::log::LogLevel::Warn, $($arg)+) };
}

/// Logs information.
#[macro_export]
macro_rules! log_info {
    ($($arg:tt)+) => { $crate::log_at!($crate::runtime::log::LogLevel::Info, $($arg)+) };
}

/// Logs detail for debugging.
#[macro_export]
macro_rules! log_debug {
    ($($arg:tt)+) => { $crate::log_at!($crate::runtime::log::LogLevel::Debug, $($arg)+) };
}

/// Logs per-frame detail.
#[macro_export]
macro_rules! log_trace {
    ($($arg:tt)+) => { $crate::log_at!($crate::runtime::log::LogLevel::Trace, $($arg)+) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_order() {
        for l in [
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
            LogLevel::Trace,
        ] {
            assert_eq!(l.as_str().parse::<LogLevel>(), Ok(l));
        }
        assert_eq!("WARN".parse::<LogLevel>(), Ok(LogLevel::Warn));
        assert!("verbose".parse::<LogLevel>().is_err());
        assert!(LogLevel::Error < LogLevel::Trace);
    }

    #[test]
    fn disabled_levels_do_not_format() {
        // The default level is warn; the argument would panic if formatted.
        struct Boom;
        impl fmt::Display for Boom {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                panic!("formatted")
            }
        }
        assert!(!enabled(LogLevel::Trace));
        crate::log_trace!("{}", Boom);
    }
}
