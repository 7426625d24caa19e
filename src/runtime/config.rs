//! Configuration from the `TAPSTACK_*` environment variables, read once when
//! the stack starts (at the first IPv4 TCP `socket()`, or `tapstack_init()`).
//! README.md's "Configuration" table is the user's copy of this one.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TAPSTACK_IFNAME` | TAP to attach to (created when missing and allowed) | `tap0` |
//! | `TAPSTACK_IP` | our address with its prefix | `198.18.0.2/24` |
//! | `TAPSTACK_GW` | default gateway, on the prefix | none |
//! | `TAPSTACK_IP6` | our IPv6 address with its on-link prefix; a link-local address from the MAC is always added | `fd00:198:18::2/64` |
//! | `TAPSTACK_MAC` | our MAC, unicast | `02:00:` + the IP's four octets |
//! | `TAPSTACK_MTU` | IP MTU, `576..=65521` | `1500` |
//! | `TAPSTACK_PCAP` | write every frame in and out to this pcap file | none |
//! | `TAPSTACK_FAULTS` | fault injection, e.g. `drop=0.05,dup=0.01,reorder=0.1,corrupt=0.001,delay=2ms,seed=7` | none |
//! | `TAPSTACK_OFFLOAD` | `on` or `off`: TCP segmentation and checksum offload on the TAP (`IFF_VNET_HDR`); always off with `TAPSTACK_FAULTS` | `on` |
//! | `TAPSTACK_LOG` | `error`, `warn`, `info`, `debug` or `trace` | `warn` |
//! | `TAPSTACK_TRACE` | write a trace of every connection (state changes with their cause, segments, timers, congestion control) to this file, as JSON lines (docs/trace-format.md) | none |
//! | `TAPSTACK_LOG_FILE` | write the log to this file instead of stderr; `%p` in it becomes the pid, and without `%p` `.PID` is appended | none (stderr) |
//! | `TAPSTACK_MSL` | *our extension*: Maximum Segment Lifetime, `30s`, `500ms`, `250us`, or a bare number of seconds (TIME-WAIT lasts 2×MSL) | `30s` (TIME-WAIT 60 s, like Linux) |
//! | `TAPSTACK_SPIN_US` | a blocking call spins this many microseconds, `0..=100000`, before it sleeps (OpenOnload's `EF_POLL_USEC`) | `0` (off) |
//!
//! An empty value counts as unset. A bad value is a [`ConfigError`] whose
//! `Display` is one line naming the variable, its value and the problem; the
//! stack then does not start.

use super::config_text as text;
use crate::device::FaultConfig;
use crate::runtime::log::LogLevel;
use crate::stack::StackConfig;
use crate::time::Duration;
use crate::wire::ethernet::EthernetAddress;
use crate::wire::ipv6::Ipv6Cidr;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// Smallest MTU accepted (RFC 791: every host must take 576-byte datagrams).
pub const MIN_MTU: usize = 576;
/// Largest MTU accepted (the largest a TAP carries: 65535 minus headers).
pub const MAX_MTU: usize = 65521;
/// Longest MSL accepted, in seconds.
pub const MAX_MSL_SECS: f64 = 3600.0;

/// The configuration the stack runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `TAPSTACK_IFNAME`.
    pub ifname: String,
    /// `TAPSTACK_IP`, the address.
    pub ip: Ipv4Addr,
    /// `TAPSTACK_IP`, the prefix length.
    pub prefix_len: u8,
    /// `TAPSTACK_GW`.
    pub gateway: Option<Ipv4Addr>,
    /// `TAPSTACK_IP6`.
    pub ip6: Ipv6Cidr,
    /// `TAPSTACK_MAC`.
    pub mac: EthernetAddress,
    /// `TAPSTACK_MTU`.
    pub mtu: usize,
    /// `TAPSTACK_PCAP`.
    pub pcap: Option<PathBuf>,
    /// `TAPSTACK_FAULTS`.
    pub faults: Option<FaultConfig>,
    /// `TAPSTACK_OFFLOAD` as given (see [`Config::use_offload`]).
    pub offload: bool,
    /// `TAPSTACK_LOG`.
    pub log: LogLevel,
    /// `TAPSTACK_MSL`.
    pub msl: Duration,
    /// `TAPSTACK_TRACE`.
    pub trace: Option<PathBuf>,
    /// `TAPSTACK_LOG_FILE`, as given (see [`log_file_path`]).
    pub log_file: Option<String>,
    /// `TAPSTACK_SPIN_US`: how long a blocking call spins on its socket
    /// before it sleeps (0: never).
    pub spin_us: u32,
}

/// The most `TAPSTACK_SPIN_US` takes: 100 ms.
pub const MAX_SPIN_US: u32 = 100_000;

/// `TAPSTACK_OFFLOAD` when unset.
pub const DEFAULT_OFFLOAD: bool = true;

/// The default address.
pub const DEFAULT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// The default IPv6 address: unique-local (RFC 4193, fd00::/8), mirroring
/// the IPv4 default (the kernel's side is `fd00:198:18::1/64`).
pub const DEFAULT_IP6: Ipv6Cidr = Ipv6Cidr {
    address: std::net::Ipv6Addr::new(0xfd00, 0x198, 0x18, 0, 0, 0, 0, 2),
    prefix_len: 64,
};

impl Default for Config {
    fn default() -> Config {
        Config {
            ifname: "tap0".to_string(),
            ip: DEFAULT_IP,
            prefix_len: 24,
            gateway: None,
            ip6: DEFAULT_IP6,
            mac: StackConfig::default_mac(DEFAULT_IP),
            mtu: 1500,
            pcap: None,
            faults: None,
            offload: DEFAULT_OFFLOAD,
            log: LogLevel::Warn,
            msl: Duration::from_secs(30),
            trace: None,
            log_file: None,
            spin_us: 0,
        }
    }
}

/// A bad value: which variable, its value, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable (`TAPSTACK_IP`).
    pub var: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong, in a few words.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{:?}` quotes and escapes, so a newline in the value stays on one line.
        write!(
            f,
            "tapstack: {}={:?}: {}",
            self.var, self.value, self.problem
        )
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// Reads the variables through `lookup` (name → value), so tests need
    /// not touch the real environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |var: &'static str| lookup(var).filter(|v| !v.is_empty()).map(|v| (var, v));
        let mut c = Config::default();
        if let Some((var, v)) = get("TAPSTACK_IFNAME") {
            c.ifname = text::ifname(&v)
                .map(|()| v.clone())
                .map_err(|p| err(var, &v, p))?;
        }
        if let Some((var, v)) = get("TAPSTACK_IP") {
            (c.ip, c.prefix_len) = text::cidr(&v).map_err(|p| err(var, &v, p))?;
        }
        c.mac = StackConfig::default_mac(c.ip);
        if let Some((var, v)) = get("TAPSTACK_GW") {
            c.gateway = Some(
                text::gateway(&v, c.ip, c.prefix_len, "the TAPSTACK_IP network")
                    .map_err(|p| err(var, &v, p))?,
            );
        }
        if let Some((var, v)) = get("TAPSTACK_IP6") {
            c.ip6 = parse_cidr6(&v).map_err(|p| err(var, &v, p))?;
        }
        if let Some((var, v)) = get("TAPSTACK_MAC") {
            c.mac = parse_mac(&v).map_err(|p| err(var, &v, p))?;
        }
        if let Some((var, v)) = get("TAPSTACK_MTU") {
            c.mtu = parse_mtu(&v).map_err(|p| err(var, &v, p))?;
        }
        if let Some((_, v)) = get("TAPSTACK_PCAP") {
            c.pcap = Some(PathBuf::from(v));
        }
        if let Some((var, v)) = get("TAPSTACK_FAULTS") {
            c.faults = Some(parse_faults(&v).map_err(|p| err(var, &v, p))?);
        }
        if let Some((var, v)) = get("TAPSTACK_OFFLOAD") {
            c.offload = match v.trim() {
                "on" => true,
                "off" => false,
                _ => return Err(err(var, &v, "not on or off".into())),
            };
        }
        if let Some((var, v)) = get("TAPSTACK_LOG") {
            c.log = v.trim().parse().map_err(|()| {
                err(
                    var,
                    &v,
                    "not a log level (error, warn, info, debug or trace)".into(),
                )
            })?;
        }
        if let Some((var, v)) = get("TAPSTACK_MSL") {
            c.msl = parse_msl(&v).map_err(|p| err(var, &v, p))?;
        }
        if let Some((var, v)) = get("TAPSTACK_TRACE") {
            c.trace = Some(PathBuf::from(
                parse_file_path(&v).map_err(|p| err(var, &v, p))?,
            ));
        }
        if let Some((var, v)) = get("TAPSTACK_LOG_FILE") {
            c.log_file = Some(parse_file_path(&v).map_err(|p| err(var, &v, p))?);
        }
        if let Some((var, v)) = get("TAPSTACK_SPIN_US") {
            c.spin_us = parse_spin(&v).map_err(|p| err(var, &v, p))?;
        }
        Ok(c)
    }

    /// The stack's part of the configuration.
    pub fn stack_config(&self) -> StackConfig {
        StackConfig {
            mac: self.mac,
            ip: self.ip,
            prefix_len: self.prefix_len,
            gateway: self.gateway,
            ip6: Some(self.ip6),
            mtu: self.mtu,
            offload: false,
        }
    }

    /// Whether to open the TAP with offloads: as `TAPSTACK_OFFLOAD` says,
    /// but never with fault injection (faults apply per frame, and one
    /// frame would be dozens of segments). A capture keeps them: it records
    /// the frames as an offloading interface shows them (`device::pcap`).
    pub fn use_offload(&self) -> bool {
        self.offload && self.faults.is_none_or(|f| f.is_noop())
    }

    /// How long TIME-WAIT lasts: 2×MSL (RFC 9293 §3.6.1).
    pub fn time_wait(&self) -> Duration {
        self.msl * 2
    }
}

/// A file to write: not a directory's name.
fn parse_file_path(v: &str) -> Result<String, String> {
    if v.ends_with('/') || v == "." || v == ".." {
        return Err("a directory, not a file".into());
    }
    Ok(v.to_string())
}

/// The log file for `TAPSTACK_LOG_FILE=template` in process `pid`: each
/// `%p` becomes the pid; without one, `.PID` is appended, so that each
/// process of a program that forks and execs writes a file of its own.
pub fn log_file_path(template: &str, pid: u32) -> PathBuf {
    if template.contains("%p") {
        PathBuf::from(template.replace("%p", &pid.to_string()))
    } else {
        PathBuf::from(format!("{template}.{pid}"))
    }
}

fn err(var: &'static str, value: &str, problem: String) -> ConfigError {
    ConfigError {
        var,
        value: value.to_string(),
        problem,
    }
}

fn parse_cidr6(v: &str) -> Result<Ipv6Cidr, String> {
    const BAD: &str = "not an IPv6 address with a prefix (like fd00:198:18::2/64)";
    let c: Ipv6Cidr = v.trim().parse().map_err(|()| BAD.to_string())?;
    if c.prefix_len == 0 {
        return Err("the prefix length must be 1 to 128".into());
    }
    let a = c.address;
    if a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || crate::wire::ipv6::from_v4_mapped(a).is_some()
    {
        return Err("not a unicast IPv6 address".into());
    }
    if crate::wire::ipv6::is_link_local(a) {
        return Err("a link-local address (fe80::/10); ours is derived from the MAC".into());
    }
    Ok(c)
}

fn parse_mac(v: &str) -> Result<EthernetAddress, String> {
    let mac: EthernetAddress = v
        .trim()
        .parse()
        .map_err(|()| "not a MAC address (like 02:00:c6:12:00:02)".to_string())?;
    if !mac.is_unicast() || mac == EthernetAddress([0; 6]) {
        return Err("not a unicast MAC address (the first octet must be even)".into());
    }
    Ok(mac)
}

fn parse_mtu(v: &str) -> Result<usize, String> {
    let bad = || format!("not an MTU from {MIN_MTU} to {MAX_MTU}");
    let mtu: usize = v.trim().parse().map_err(|_| bad())?;
    if (MIN_MTU..=MAX_MTU).contains(&mtu) {
        Ok(mtu)
    } else {
        Err(bad())
    }
}

/// Microseconds of spinning, `0..=MAX_SPIN_US`.
fn parse_spin(v: &str) -> Result<u32, String> {
    let bad = || format!("not a number of microseconds from 0 to {MAX_SPIN_US}");
    let us: u32 = v.trim().parse().map_err(|_| bad())?;
    if us <= MAX_SPIN_US {
        Ok(us)
    } else {
        Err(bad())
    }
}

/// `30s`, `500ms`, `250us`, or a bare number of seconds (`30`, `0.25`).
fn parse_msl(v: &str) -> Result<Duration, String> {
    let bad = || {
        format!("not a duration from 0 to {MAX_MSL_SECS} s (like 30s, 500ms, or 30 for seconds)")
    };
    let v = v.trim();
    let (num, unit_secs) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else {
        (v, 1.0)
    };
    let secs = num.trim().parse::<f64>().map_err(|_| bad())? * unit_secs;
    if secs.is_finite() && (0.0..=MAX_MSL_SECS).contains(&secs) {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(bad())
    }
}

fn parse_probability(key: &str, v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "{key}={} is not a probability from 0 to 1",
            v.escape_debug()
        )),
    }
}

/// `2ms`, `500us`, `1.5s`, or `0`.
fn parse_faults(v: &str) -> Result<FaultConfig, String> {
    let mut f = FaultConfig::default();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, val) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?} is not key=value"))?;
        let (key, val) = (key.trim(), val.trim());
        match key {
            "drop" => f.drop = parse_probability(key, val)?,
            "dup" => f.dup = parse_probability(key, val)?,
            "reorder" => f.reorder = parse_probability(key, val)?,
            "corrupt" => f.corrupt = parse_probability(key, val)?,
            "delay" => f.delay = Duration::from_micros(text::duration_micros(key, val)?),
            "seed" => {
                f.seed = val.parse().map_err(|_| {
                    format!("seed={} is not an unsigned integer", val.escape_debug())
                })?
            }
            _ => {
                return Err(format!(
                    "unknown fault {key:?} (known: drop, dup, reorder, corrupt, delay, seed)"
                ));
            }
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    fn bad(var: &str, value: &str) -> String {
        let e = parse(&[(var, value)]).unwrap_err();
        assert_eq!(e.var, var);
        let line = e.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.starts_with(&format!("tapstack: {var}=")), "{line}");
        line
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.ifname, "tap0");
        assert_eq!((c.ip, c.prefix_len), (Ipv4Addr::new(198, 18, 0, 2), 24));
        assert_eq!(c.gateway, None);
        assert_eq!(c.mac.to_string(), "02:00:c6:12:00:02");
        assert_eq!(c.mtu, 1500);
        assert_eq!(c.pcap, None);
        assert_eq!(c.faults, None);
        assert_eq!(c.log, LogLevel::Warn);
        assert_eq!(c.time_wait(), Duration::from_secs(60));
        let s = c.stack_config();
        assert_eq!((s.ip, s.prefix_len, s.mtu), (c.ip, 24, 1500));
    }

    #[test]
    fn empty_values_count_as_unset() {
        assert_eq!(
            parse(&[("TAPSTACK_GW", ""), ("TAPSTACK_IP", "")]).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn ip6() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.ip6.to_string(), "fd00:198:18::2/64");
        assert_eq!(c.stack_config().ip6, Some(c.ip6));
        let c = parse(&[("TAPSTACK_IP6", "2001:db8:1::5/48")]).unwrap();
        assert_eq!(c.ip6.to_string(), "2001:db8:1::5/48");
        for v in [
            "fd00::2",
            "fd00::2/129",
            "fd00::2/0",
            "198.18.0.2/24",
            "::/64",
            "::1/128",
            "ff02::1/64",
            "fe80::1/64",
            "::ffff:1.2.3.4/96",
            "x/64",
        ] {
            bad("TAPSTACK_IP6", v);
        }
    }

    #[test]
    fn ifname() {
        assert_eq!(
            parse(&[("TAPSTACK_IFNAME", "tapx1")]).unwrap().ifname,
            "tapx1"
        );
        bad("TAPSTACK_IFNAME", "a-name-that-is-far-too-long");
        bad("TAPSTACK_IFNAME", "../x");
        bad("TAPSTACK_IFNAME", "has space");
    }

    #[test]
    fn ip_and_derived_mac() {
        let c = parse(&[("TAPSTACK_IP", "10.1.2.3/16")]).unwrap();
        assert_eq!((c.ip, c.prefix_len), (Ipv4Addr::new(10, 1, 2, 3), 16));
        assert_eq!(c.mac.to_string(), "02:00:0a:01:02:03");
        assert_eq!(
            bad("TAPSTACK_IP", "10.0.0/24"),
            "tapstack: TAPSTACK_IP=\"10.0.0/24\": not an IPv4 address with a prefix (like 198.18.0.2/24)"
        );
        bad("TAPSTACK_IP", "10.0.0.1");
        bad("TAPSTACK_IP", "10.0.0.1/33");
        bad("TAPSTACK_IP", "10.0.0.1/0");
        bad("TAPSTACK_IP", "224.0.0.1/24");
        bad("TAPSTACK_IP", "0.0.0.0/8");
    }

    #[test]
    fn gateway() {
        let c = parse(&[("TAPSTACK_GW", "198.18.0.1")]).unwrap();
        assert_eq!(c.gateway, Some(Ipv4Addr::new(198, 18, 0, 1)));
        let c = parse(&[("TAPSTACK_IP", "10.0.0.5/8"), ("TAPSTACK_GW", "10.9.9.9")]).unwrap();
        assert_eq!(c.gateway, Some(Ipv4Addr::new(10, 9, 9, 9)));
        assert!(
            bad("TAPSTACK_GW", "10.0.0.1").contains("not on the TAPSTACK_IP network 198.18.0.0/24")
        );
        bad("TAPSTACK_GW", "198.18.0.2");
        bad("TAPSTACK_GW", "gateway");
    }

    #[test]
    fn mac() {
        let c = parse(&[("TAPSTACK_MAC", "02:aa:bb:cc:dd:ee")]).unwrap();
        assert_eq!(c.mac, EthernetAddress([2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]));
        bad("TAPSTACK_MAC", "02:aa:bb:cc:dd");
        bad("TAPSTACK_MAC", "zz:aa:bb:cc:dd:ee");
        assert!(bad("TAPSTACK_MAC", "01:00:5e:00:00:01").contains("unicast"));
        bad("TAPSTACK_MAC", "00:00:00:00:00:00");
    }

    #[test]
    fn mtu() {
        assert_eq!(parse(&[("TAPSTACK_MTU", "9000")]).unwrap().mtu, 9000);
        assert_eq!(parse(&[("TAPSTACK_MTU", "576")]).unwrap().mtu, 576);
        assert_eq!(parse(&[("TAPSTACK_MTU", "65521")]).unwrap().mtu, 65521);
        bad("TAPSTACK_MTU", "575");
        bad("TAPSTACK_MTU", "65522");
        bad("TAPSTACK_MTU", "-1");
        bad("TAPSTACK_MTU", "1500b");
        assert_eq!(parse(&[("TAPSTACK_SPIN_US", "50")]).unwrap().spin_us, 50);
        assert_eq!(parse(&[]).unwrap().spin_us, 0);
        assert_eq!(
            parse(&[("TAPSTACK_SPIN_US", "100000")]).unwrap().spin_us,
            MAX_SPIN_US
        );
        bad("TAPSTACK_SPIN_US", "100001");
        bad("TAPSTACK_SPIN_US", "-1");
        bad("TAPSTACK_SPIN_US", "5us");
    }

    #[test]
    fn offload() {
        assert_eq!(parse(&[]).unwrap().offload, DEFAULT_OFFLOAD);
        let on = parse(&[("TAPSTACK_OFFLOAD", "on")]).unwrap();
        assert!(on.offload && on.use_offload());
        let off = parse(&[("TAPSTACK_OFFLOAD", "off")]).unwrap();
        assert!(!off.offload && !off.use_offload());
        let e = bad("TAPSTACK_OFFLOAD", "yes");
        assert!(e.contains("TAPSTACK_OFFLOAD") && !e.contains('\n'), "{e}");
        // Faults turn it off, whatever the variable says; a capture not.
        let pcap = [("TAPSTACK_OFFLOAD", "on"), ("TAPSTACK_PCAP", "/tmp/x.pcap")];
        assert!(parse(&pcap).unwrap().use_offload());
        let faults = [("TAPSTACK_OFFLOAD", "on"), ("TAPSTACK_FAULTS", "drop=0.1")];
        assert!(!parse(&faults).unwrap().use_offload());
    }

    #[test]
    fn pcap() {
        let c = parse(&[("TAPSTACK_PCAP", "/tmp/x.pcap")]).unwrap();
        assert_eq!(c.pcap, Some(PathBuf::from("/tmp/x.pcap")));
    }

    #[test]
    fn faults() {
        let c = parse(&[(
            "TAPSTACK_FAULTS",
            "drop=0.05,dup=0.01,reorder=0.1,corrupt=0.001,delay=2ms,seed=7",
        )])
        .unwrap();
        let f = c.faults.unwrap();
        assert_eq!(
            f,
            FaultConfig {
                drop: 0.05,
                dup: 0.01,
                reorder: 0.1,
                corrupt: 0.001,
                delay: Duration::from_millis(2),
                seed: 7,
            }
        );
        let f = parse(&[("TAPSTACK_FAULTS", "delay=500us")])
            .unwrap()
            .faults
            .unwrap();
        assert_eq!(f.delay, Duration::from_micros(500));
        let f = parse(&[("TAPSTACK_FAULTS", "delay=1.5s, drop=1")])
            .unwrap()
            .faults
            .unwrap();
        assert_eq!((f.delay, f.drop), (Duration::from_millis(1500), 1.0));
        assert!(
            bad("TAPSTACK_FAULTS", "drop=1.5")
                .contains(": drop=1.5 is not a probability from 0 to 1")
        );
        assert!(bad("TAPSTACK_FAULTS", "loss=0.1").contains("unknown fault"));
        bad("TAPSTACK_FAULTS", "drop");
        bad("TAPSTACK_FAULTS", "delay=2");
        bad("TAPSTACK_FAULTS", "delay=-2ms");
        bad("TAPSTACK_FAULTS", "seed=-1");
    }

    #[test]
    fn log() {
        assert_eq!(
            parse(&[("TAPSTACK_LOG", "debug")]).unwrap().log,
            LogLevel::Debug
        );
        assert_eq!(
            parse(&[("TAPSTACK_LOG", "TRACE")]).unwrap().log,
            LogLevel::Trace
        );
        assert!(bad("TAPSTACK_LOG", "loud").contains("not a log level"));
    }

    #[test]
    fn msl() {
        let c = parse(&[("TAPSTACK_MSL", "1")]).unwrap();
        assert_eq!(c.time_wait(), Duration::from_secs(2));
        let c = parse(&[("TAPSTACK_MSL", "0.25")]).unwrap();
        assert_eq!(c.msl, Duration::from_millis(250));
        assert_eq!(parse(&[("TAPSTACK_MSL", "0")]).unwrap().msl, Duration::ZERO);
        bad("TAPSTACK_MSL", "-1");
        bad("TAPSTACK_MSL", "inf");
        bad("TAPSTACK_MSL", "7200");
        bad("TAPSTACK_MSL", "7200s");
        bad("TAPSTACK_MSL", "30m");
        bad("TAPSTACK_MSL", "s");
    }

    /// The README documents the default as `30s`: that spelling, and the
    /// other units, are accepted.
    #[test]
    fn msl_with_a_unit() {
        let msl = |v: &str| parse(&[("TAPSTACK_MSL", v)]).unwrap().msl;
        assert_eq!(msl("30s"), Config::default().msl);
        assert_eq!(msl("30s"), Duration::from_secs(30));
        assert_eq!(msl(" 2 s "), Duration::from_secs(2));
        assert_eq!(msl("500ms"), Duration::from_millis(500));
        assert_eq!(msl("250us"), Duration::from_micros(250));
        assert_eq!(msl("0s"), Duration::ZERO);
        assert_eq!(msl("3600s"), Duration::from_secs(3600));
    }

    #[test]
    fn trace_and_log_file() {
        let c = parse(&[
            ("TAPSTACK_TRACE", "/tmp/t.jsonl"),
            ("TAPSTACK_LOG_FILE", "/tmp/log.%p"),
        ])
        .unwrap();
        assert_eq!(c.trace, Some(PathBuf::from("/tmp/t.jsonl")));
        assert_eq!(c.log_file.as_deref(), Some("/tmp/log.%p"));
        assert_eq!(parse(&[]).unwrap().trace, None);
        assert_eq!(
            bad("TAPSTACK_TRACE", "/tmp/"),
            "tapstack: TAPSTACK_TRACE=\"/tmp/\": a directory, not a file"
        );
        assert!(bad("TAPSTACK_LOG_FILE", ".").contains("TAPSTACK_LOG_FILE"));
        assert_eq!(
            log_file_path("/tmp/log.%p", 42),
            PathBuf::from("/tmp/log.42")
        );
        assert_eq!(
            log_file_path("/tmp/a-%p-%p", 7),
            PathBuf::from("/tmp/a-7-7")
        );
        assert_eq!(
            log_file_path("/tmp/tapstack.log", 42),
            PathBuf::from("/tmp/tapstack.log.42")
        );
    }

    #[test]
    fn newline_in_value_stays_on_one_line() {
        bad("TAPSTACK_MTU", "15\n00");
    }
}
