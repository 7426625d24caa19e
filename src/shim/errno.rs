//! This thread's `errno`, read and written only at the C boundary.

/// Sets this thread's `errno`.
#[inline]
pub fn set_errno(e: i32) {
    // SAFETY: __errno_location returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() = e };
}

/// This thread's `errno`.
#[inline]
pub fn errno() -> i32 {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() }
}

/// Sets `errno` to `e` and returns `-1`: `return fail(libc::EBADF);`.
#[inline]
pub fn fail<R: super::guard::Failure>(e: i32) -> R {
    set_errno(e);
    R::FAILED
}
