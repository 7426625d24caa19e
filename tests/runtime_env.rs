//! `ensure_started` with a bad `TAPSTACK_*` value: one line on stderr, once,
//! and `ENETDOWN` from every call. Runs itself as a child process so the
//! environment and the once-per-process runtime are its own.

use std::process::Command;

const CHILD_ENV: &str = "TAPSTACK_RT_ENV_CHILD";

#[test]
fn bad_config_prints_one_line_once_and_fails_every_call() {
    if std::env::var_os(CHILD_ENV).is_some() {
        for _ in 0..3 {
            assert_eq!(
                tapstack::runtime::ensure_started().err(),
                Some(libc::ENETDOWN)
            );
        }
        assert!(tapstack::runtime::get().is_none());
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "bad_config_prints_one_line_once_and_fails_every_call",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .env("TAPSTACK_IP", "10.0.0/24")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stderr}");
    let line = "tapstack: TAPSTACK_IP=\"10.0.0/24\": not an IPv4 address with a prefix (like 198.18.0.2/24)";
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("tapstack:"))
        .collect();
    assert_eq!(lines, vec![line], "stderr:\n{stderr}");
}
