//! The built `libtapstack.so` exports the C ABI it promises: every POSIX
//! socket call it serves, each also as `tapstack_NAME`, and the rest of the
//! `tapstack_*` API.

use std::ffi::{CStr, CString, c_void};
use std::path::PathBuf;

/// `target/<profile>/libtapstack.so`, next to this test's `deps/` directory.
fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    profile_dir.join("libtapstack.so")
}

/// The file of the object that defines `name`, looked up from `handle`.
fn defining_object(handle: *mut c_void, name: &str) -> Option<String> {
    let name = CString::new(name).unwrap();
    // SAFETY: valid handle and NUL-terminated name.
    let sym = unsafe { libc::dlsym(handle, name.as_ptr()) };
    if sym.is_null() {
        return None;
    }
    // SAFETY: dladdr fills `info` for an address dlsym returned.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    assert_ne!(unsafe { libc::dladdr(sym, &mut info) }, 0);
    // SAFETY: dli_fname is a NUL-terminated path owned by the loader.
    Some(
        unsafe { CStr::from_ptr(info.dli_fname) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// The POSIX socket calls the shim serves (epoll/poll/select are checked
/// with their own module).
const POSIX: &[&str] = &[
    "socket",
    "bind",
    "listen",
    "accept",
    "accept4",
    "connect",
    "send",
    "sendto",
    "sendmsg",
    "write",
    "writev",
    "sendfile",
    "sendfile64",
    "recv",
    "recvfrom",
    "recvmsg",
    "read",
    "readv",
    "shutdown",
    "close",
    "getsockname",
    "getpeername",
    "setsockopt",
    "getsockopt",
    "fcntl",
    "fcntl64",
    "ioctl",
    "dup",
    "dup2",
    "dup3",
];

#[test]
fn exports_every_socket_call_under_both_names() {
    let path = library();
    assert!(path.exists(), "{} is not built", path.display());
    let cpath = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: loading our own library; RTLD_LOCAL keeps its symbols from
    // interposing on this test process.
    let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!handle.is_null(), "dlopen {} failed", path.display());

    let api = [
        "tapstack_init",
        "tapstack_version",
        "tapstack_debug_panic",
        "epoll_wait",
        "poll",
        "select",
        "tapstack_epoll_wait",
    ];
    let prefixed: Vec<String> = POSIX.iter().map(|n| format!("tapstack_{n}")).collect();
    for name in api
        .iter()
        .copied()
        .chain(POSIX.iter().copied())
        .chain(prefixed.iter().map(String::as_str))
    {
        let object = defining_object(handle, name).unwrap_or_default();
        assert!(
            object.ends_with("libtapstack.so"),
            "{name} comes from '{object}'"
        );
    }
    // `fork` is ours: it gives the child's slot of the shared stack back
    // when the fork fails (runtime::process).
    let object = defining_object(handle, "fork").unwrap_or_default();
    assert!(
        object.ends_with("libtapstack.so"),
        "fork comes from '{object}'"
    );
    for name in ["open", "pipe"] {
        let object = defining_object(handle, name).unwrap_or_default();
        assert!(
            !object.ends_with("libtapstack.so"),
            "{name} must stay libc's"
        );
    }

    let version = defining_object(handle, "tapstack_version");
    assert!(version.is_some());
    let name = CString::new("tapstack_version").unwrap();
    // SAFETY: the symbol is `const char *tapstack_version(void)`.
    let f: extern "C" fn() -> *const libc::c_char =
        unsafe { std::mem::transmute(libc::dlsym(handle, name.as_ptr())) };
    // SAFETY: it returns a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(f()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}
