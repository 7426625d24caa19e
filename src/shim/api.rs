//! The `tapstack_*` C API, declared in `include/tapstack.h`.

use super::errno::fail;
use super::guard::guard;
use crate::runtime;
use libc::{c_char, c_int};

/// Starts the stack now instead of at the first IPv4 TCP `socket()`.
///
/// Returns 0 on success (also when it was already running), or -1 with
/// `errno` set: `ENETDOWN` when the `TAPSTACK_*` configuration is invalid
/// (one line on stderr names the variable).
#[unsafe(no_mangle)]
pub extern "C" fn tapstack_init() -> c_int {
    guard("tapstack_init", || match runtime::ensure_started() {
        Ok(_) => 0,
        Err(e) => fail(e),
    })
}

/// The library's version, e.g. "0.1.0": a static NUL-terminated string,
/// never freed.
#[unsafe(no_mangle)]
pub extern "C" fn tapstack_version() -> *const c_char {
    guard("tapstack_version", || VERSION.as_ptr())
}

static VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(v) => v,
    Err(_) => panic!("version has no NUL"),
};

/// Test hook: panics inside the library's panic guard, to show that a panic
/// never reaches the caller. Returns -1 with `errno = EIO` (after one line
/// on stderr) when the environment variable `TAPSTACK_TEST_HOOKS=1` is set
/// at the time of the call, else -1 with `errno = ENOSYS`.
#[unsafe(no_mangle)]
pub extern "C" fn tapstack_debug_panic() -> c_int {
    guard("tapstack_debug_panic", || {
        if std::env::var_os("TAPSTACK_TEST_HOOKS").is_some_and(|v| v == "1") {
            panic!("test hook: deliberate panic");
        }
        fail(libc::ENOSYS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shim::errno::errno;
    use std::ffi::CStr;

    #[test]
    fn version_is_the_crate_version() {
        // SAFETY: a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(tapstack_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn debug_panic_needs_the_env_var() {
        // Only the "not set" path: setting the variable would race with other
        // tests; the C test `panic_guard` covers the panic path.
        if std::env::var_os("TAPSTACK_TEST_HOOKS").is_none() {
            assert_eq!(tapstack_debug_panic(), -1);
            assert_eq!(errno(), libc::ENOSYS);
        }
    }
}
