//! The runtime on a real TAP, with the Linux kernel on the other side.
//!
//! As root, the test creates a network namespace `tapstack-rt-<pid>`, runs
//! itself again inside it (`ip netns exec`), and there starts a `Runtime`
//! that creates the TAP, checks the idle stack thread uses no CPU, makes the
//! kernel send an ARP request (a `ping` to the stack's address), and checks
//! the request is in the pcap. Every packet stays in the namespace, which is
//! deleted at the end, also on failure. Without root it skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "TAPSTACK_RT_CHILD_PCAP";
const TEST_NAME: &str = "kernel_arp_request_reaches_the_pcap";
const IFNAME: &str = "tapst0";

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn kernel_arp_request_reaches_the_pcap() {
    if let Some(pcap) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&pcap));
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !have("ip") || !Path::new("/dev/net/tun").exists() {
        eprintln!("skipped: needs root, iproute2 and /dev/net/tun (TAP and network namespace)");
        return;
    }
    let pid = std::process::id();
    let ns = Netns(format!("tapstack-rt-{pid}"));
    let ok = Command::new("ip").args(["netns", "add", &ns.0]).status();
    if !ok.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot create a network namespace");
        std::mem::forget(ns);
        return;
    }
    let pcap = std::env::temp_dir().join(format!("tapstack-rt-{pid}.pcap"));
    let log_path = std::env::temp_dir().join(format!("tapstack-rt-{pid}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(&exe)
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &pcap)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("ip netns exec");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            // SAFETY: kill on the PID of the child we spawned.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
            let _ = child.wait();
            panic!("the test in the namespace took over 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::fs::remove_file(&pcap);
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    assert!(
        status.success(),
        "the test in the namespace failed ({status}):\n{output}"
    );
}

/// CPU ticks (utime + stime) of the thread named `tapstack`.
fn stack_thread_ticks() -> Option<u64> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() == "tapstack" {
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            // Fields after the ")" that closes comm: utime is the 12th, stime the 13th.
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            return Some(f[11].parse::<u64>().ok()? + f[12].parse::<u64>().ok()?);
        }
    }
    None
}

fn child(pcap: &Path) {
    use tapstack::runtime::Config;
    use tapstack::runtime::Runtime;

    // A quiet wire: no IPv6 chatter from the kernel.
    for f in ["all", "default"] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{f}/disable_ipv6"), "1");
    }
    let config = Config {
        ifname: IFNAME.into(),
        pcap: Some(PathBuf::from(pcap)),
        ..Config::default()
    };
    let rt = Runtime::start(config).unwrap_or_else(|e| panic!("{e}"));
    let ip = |args: &[&str]| {
        let st = Command::new("ip").args(args).status().unwrap();
        assert!(st.success(), "ip {args:?}");
    };
    ip(&["addr", "add", "198.18.0.1/24", "dev", IFNAME]);
    ip(&["link", "set", IFNAME, "up"]);

    // Idle: the stack thread sleeps in epoll_wait.
    let before = stack_thread_ticks().expect("a thread named tapstack");
    std::thread::sleep(Duration::from_secs(1));
    let after = stack_thread_ticks().unwrap();
    assert!(
        after - before <= 5,
        "idle stack thread used {} ticks in 1 s",
        after - before
    );

    // The stack does not answer yet; the kernel's ARP request is what we want.
    let _ = Command::new("ping")
        .args(["-c", "2", "-i", "0.2", "-w", "2", "198.18.0.2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    // Read the capture while the runtime still runs: it is flushed after
    // every batch, so a process killed now would leave a complete file.

    let bytes = std::fs::read(pcap).unwrap();
    assert!(bytes.len() >= 24, "pcap too short");
    assert_eq!(&bytes[0..4], &0xa1b2c3d4u32.to_ne_bytes());
    assert_eq!(&bytes[20..24], &1u32.to_ne_bytes());
    let mut off = 24;
    let mut arp_requests = 0;
    while off + 16 <= bytes.len() {
        let incl = u32::from_ne_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
        let frame = &bytes[off + 16..(off + 16 + incl).min(bytes.len())];
        let is_arp_request = frame.len() >= 42
            && frame[12..14] == [0x08, 0x06]
            && frame[20..22] == [0x00, 0x01]
            && frame[38..42] == [198, 18, 0, 2];
        arp_requests += usize::from(is_arp_request);
        off += 16 + incl;
    }
    assert_eq!(off, bytes.len(), "pcap ends mid-record");
    assert!(
        arp_requests >= 1,
        "no ARP request for 198.18.0.2 in the pcap"
    );

    if have("tcpdump") {
        let out = Command::new("tcpdump")
            .args(["-nr"])
            .arg(pcap)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "tcpdump -r failed");
        assert!(
            text.contains("Request who-has 198.18.0.2"),
            "tcpdump read:\n{text}"
        );
    }
    if have("tshark") {
        let out = Command::new("tshark").arg("-r").arg(pcap).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "tshark -r failed");
        assert!(text.contains("Who has 198.18.0.2"), "tshark read:\n{text}");
    }
    rt.shutdown();
    eprintln!("ok: {arp_requests} ARP request(s) captured");
}
