//! `tapstack run`: its options, the environment it gives the program, and
//! where it finds libtapstack.so.

use crate::check;
use std::ffi::{OsStr, OsString};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub const HELP: &str = "\
Usage: tapstack run [OPTIONS] [--] PROGRAM [ARGS...]

Starts PROGRAM with its IPv4 TCP sockets on tapstack, the user-space stack,
attached to a TAP device, with no environment to write by hand. It sets
LD_PRELOAD to the absolute path of libtapstack.so (found next to this
command, or in ../lib/; put before any LD_PRELOAD already set) and the
TAPSTACK_* variables from the options, then becomes PROGRAM: same process
id, signals go straight to it, its exit status is the command's.

Options (each sets the variable named; without it, the environment's value
or the library's default applies):
  --ip CIDR      TAPSTACK_IP: our address and prefix (198.18.0.2/24)
  --ifname NAME  TAPSTACK_IFNAME: the TAP device (tap0)
  --gw IP        TAPSTACK_GW: the default gateway, on our prefix (none)
  --pcap FILE    TAPSTACK_PCAP: write every frame in and out to FILE
  --faults SPEC  TAPSTACK_FAULTS: fault injection on frames both ways, like
                 drop=0.05,dup=0.01,reorder=0.1,corrupt=0.001,delay=2ms,seed=7
  --trace FILE   TAPSTACK_TRACE: a trace of TCP events to FILE, JSON lines
                 (state changes, segments, timers, congestion control)
  --log LEVEL    TAPSTACK_LOG: error, warn (the default), info, debug, trace
  --setup        as root: create the TAP when it is missing (lasting, as
                 `ip tuntap add` makes it), give its kernel side an address
                 (the --gw address, else the prefix's first host that is not
                 ours: 198.18.0.1/24 for the default), and bring it up;
                 says what it did, and changes nothing already right
  -h, --help     this text
Option values may also be written --ip=CIDR. The first argument that is
not an option starts PROGRAM; `--` makes that explicit.

The other variables (TAPSTACK_MAC, TAPSTACK_MTU, TAPSTACK_OFFLOAD,
TAPSTACK_MSL) pass through from the environment; a TAPSTACK_* name the
library does not know gets a warning naming it.

Examples (as root, in a network namespace of their own: ip netns add ts):
  ip netns exec ts tapstack run --setup -- python3 -m http.server -b 0.0.0.0 80
  ip netns exec ts curl http://198.18.0.2/         # from the kernel's side
  ip netns exec ts tapstack run --pcap c.pcap -- curl http://198.18.0.1:8000/

Exit status: PROGRAM's; 2 for a bad command line, 1 when the library is
not found or --setup fails, 126/127 when PROGRAM cannot be run.";

/// What the command line asked for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunOptions {
    pub ip: Option<String>,
    pub ifname: Option<String>,
    pub gw: Option<String>,
    pub pcap: Option<String>,
    pub faults: Option<String>,
    pub trace: Option<String>,
    pub log: Option<String>,
    pub setup: bool,
    pub help: bool,
    /// PROGRAM and its arguments.
    pub program: Vec<OsString>,
}

/// A command-line mistake; printed as `tapstack run: ...`, exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

/// The options that take a value, and the variable each sets.
const VALUE_OPTIONS: &[(&str, &str)] = &[
    ("--ip", "TAPSTACK_IP"),
    ("--ifname", "TAPSTACK_IFNAME"),
    ("--gw", "TAPSTACK_GW"),
    ("--pcap", "TAPSTACK_PCAP"),
    ("--faults", "TAPSTACK_FAULTS"),
    ("--trace", "TAPSTACK_TRACE"),
    ("--log", "TAPSTACK_LOG"),
];

/// Parses `run`'s arguments (after the word `run`). Values are checked
/// later, by [`RunOptions::check`], which needs the environment.
pub fn parse(args: &[OsString]) -> Result<RunOptions, UsageError> {
    let mut o = RunOptions::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let Some(s) = arg.to_str() else {
            // Not UTF-8: not one of our options, so PROGRAM.
            o.program = args[i - 1..].to_vec();
            break;
        };
        if s == "--" {
            o.program = args[i..].to_vec();
            break;
        }
        if s == "-h" || s == "--help" {
            o.help = true;
            continue;
        }
        if s == "--setup" {
            o.setup = true;
            continue;
        }
        if !s.starts_with('-') || s == "-" {
            o.program = args[i - 1..].to_vec();
            break;
        }
        let (name, inline) = match s.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (s, None),
        };
        if !VALUE_OPTIONS.iter().any(|(n, _)| *n == name) {
            return Err(UsageError(format!(
                "unknown option '{name}' (tapstack run --help lists them; \
                 put `--` before PROGRAM if it is PROGRAM's)"
            )));
        }
        let value = match inline {
            Some(v) => v,
            None => {
                let v = args.get(i).ok_or_else(|| {
                    UsageError(format!("{name} needs a value (tapstack run --help)"))
                })?;
                i += 1;
                v.to_str()
                    .ok_or_else(|| UsageError(format!("{name}: the value is not UTF-8")))?
                    .to_string()
            }
        };
        if value.is_empty() {
            return Err(UsageError(format!("{name}: the value is empty")));
        }
        let slot = match name {
            "--ip" => &mut o.ip,
            "--ifname" => &mut o.ifname,
            "--gw" => &mut o.gw,
            "--faults" => &mut o.faults,
            "--log" => &mut o.log,
            "--pcap" => &mut o.pcap,
            "--trace" => &mut o.trace,
            _ => unreachable!("VALUE_OPTIONS lists {name}"),
        };
        if slot.is_some() {
            return Err(UsageError(format!("{name} is given twice")));
        }
        *slot = Some(value);
    }
    if !o.help && o.program.is_empty() {
        return Err(UsageError(
            "no PROGRAM to run (tapstack run [OPTIONS] -- PROGRAM [ARGS...]; \
             tapstack run --help)"
                .into(),
        ));
    }
    Ok(o)
}

/// What the program will run with, once the options are checked: the
/// values `--setup` needs too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub ifname: String,
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub gw: Option<Ipv4Addr>,
}

impl RunOptions {
    /// Checks each value as the library would, naming the option; and
    /// works out the interface, address and gateway the program will have
    /// (an option, else the environment's variable, else the default).
    /// `env` looks a variable up in the environment the program inherits.
    pub fn check(&self, env: impl Fn(&str) -> Option<String>) -> Result<Effective, UsageError> {
        let bad = |opt: &str, v: &str, why: String| UsageError(format!("{opt} {v:?}: {why}"));
        let from_env = |var: &str| env(var).filter(|v| !v.is_empty());

        let ifname = match &self.ifname {
            Some(v) => {
                check::ifname(v).map_err(|e| bad("--ifname", v, e))?;
                v.clone()
            }
            None => from_env("TAPSTACK_IFNAME").unwrap_or_else(|| check::DEFAULT_IFNAME.into()),
        };
        let (ip, prefix_len) = match &self.ip {
            Some(v) => check::cidr(v).map_err(|e| bad("--ip", v, e))?,
            // A bad value in the environment is the library's to report.
            None => from_env("TAPSTACK_IP")
                .and_then(|v| check::cidr(&v).ok())
                .unwrap_or((check::DEFAULT_IP, check::DEFAULT_PREFIX)),
        };
        let gw = match &self.gw {
            Some(v) => Some(check::gateway(v, ip, prefix_len).map_err(|e| bad("--gw", v, e))?),
            None => from_env("TAPSTACK_GW").and_then(|v| check::gateway(&v, ip, prefix_len).ok()),
        };
        if let Some(v) = &self.faults {
            check::faults(v).map_err(|e| bad("--faults", v, e))?;
        }
        if let Some(v) = &self.log {
            check::log_level(v).map_err(|e| bad("--log", v, e))?;
        }
        Ok(Effective {
            ifname,
            ip,
            prefix_len,
            gw,
        })
    }

    /// The variables to set for the program: LD_PRELOAD with `lib` first
    /// (before `old_preload`, unless it is already on it), then one
    /// TAPSTACK_* per option given. Relative --pcap/--trace paths are made
    /// absolute from `cwd`, since the program may change directory before
    /// its stack starts.
    pub fn env(
        &self,
        lib: &Path,
        old_preload: Option<&OsStr>,
        cwd: &Path,
    ) -> Vec<(&'static str, OsString)> {
        let mut out = Vec::new();
        out.push(("LD_PRELOAD", preload(lib, old_preload)));
        let text = |v: &Option<String>| v.as_ref().map(OsString::from);
        let path = |v: &Option<String>| v.as_ref().map(|p| cwd.join(p).into_os_string());
        let values = [
            text(&self.ip),
            text(&self.ifname),
            text(&self.gw),
            path(&self.pcap),
            text(&self.faults),
            path(&self.trace),
            text(&self.log),
        ];
        for ((_, var), value) in VALUE_OPTIONS.iter().zip(values) {
            if let Some(v) = value {
                out.push((*var, v));
            }
        }
        out
    }
}

/// `lib`, then the entries of `old` (ld.so separates them with ':' or
/// spaces) other than `lib` itself, joined with ':'.
fn preload(lib: &Path, old: Option<&OsStr>) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    let mut v = lib.as_os_str().to_os_string();
    if let Some(old) = old {
        for entry in old
            .as_bytes()
            .split(|&b| b == b':' || b == b' ')
            .filter(|e| !e.is_empty() && *e != lib.as_os_str().as_bytes())
        {
            v.push(":");
            v.push(OsStr::from_bytes(entry));
        }
    }
    v
}

/// The library's file name.
pub const LIB_NAME: &str = "libtapstack.so";

/// Where to look for the library, given the directory this command is in:
/// the same directory (target/release/ after `cargo build --release`),
/// then ../lib/ (an installed bin/ and lib/).
pub fn lib_candidates(exe_dir: &Path) -> Vec<PathBuf> {
    let mut v = vec![exe_dir.join(LIB_NAME)];
    if let Some(parent) = exe_dir.parent() {
        v.push(parent.join("lib").join(LIB_NAME));
    }
    v
}

/// The first candidate that is a file, or an error saying where it looked.
pub fn find_lib(exe_dir: &Path) -> Result<PathBuf, String> {
    let candidates = lib_candidates(exe_dir);
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "cannot find {LIB_NAME}: looked for {} (build it with `cargo build --release`, \
         or install it in lib/ next to this command's bin/)",
        looked.join(" and ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    fn p(a: &[&str]) -> Result<RunOptions, UsageError> {
        parse(&args(a))
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn options_then_program() {
        let o = p(&[
            "--ip",
            "10.0.0.2/24",
            "--ifname=tap1",
            "--gw",
            "10.0.0.1",
            "--pcap",
            "x.pcap",
            "--faults",
            "drop=0.1",
            "--trace",
            "/t",
            "--log",
            "info",
            "--setup",
            "--",
            "./server",
            "--ip",
            "8080",
        ])
        .unwrap();
        assert_eq!(o.ip.as_deref(), Some("10.0.0.2/24"));
        assert_eq!(o.ifname.as_deref(), Some("tap1"));
        assert_eq!(o.gw.as_deref(), Some("10.0.0.1"));
        assert_eq!(o.pcap.as_deref(), Some("x.pcap"));
        assert_eq!(o.faults.as_deref(), Some("drop=0.1"));
        assert_eq!(o.trace.as_deref(), Some("/t"));
        assert_eq!(o.log.as_deref(), Some("info"));
        assert!(o.setup && !o.help);
        // Everything after `--` is the program's, options or not.
        assert_eq!(o.program, args(&["./server", "--ip", "8080"]));
    }

    #[test]
    fn the_first_non_option_starts_the_program() {
        let o = p(&["--log", "debug", "nc", "-l", "80"]).unwrap();
        assert_eq!(o.program, args(&["nc", "-l", "80"]));
        assert_eq!(o.log.as_deref(), Some("debug"));
        let o = p(&["true"]).unwrap();
        assert_eq!(o.program, args(&["true"]));
        assert_eq!(o.ip, None);
    }

    #[test]
    fn usage_errors() {
        let e = |a: &[&str]| p(a).unwrap_err().0;
        assert!(e(&[]).contains("no PROGRAM"));
        assert!(e(&["--setup", "--"]).contains("no PROGRAM"));
        assert!(e(&["--ip"]).contains("--ip needs a value"));
        assert!(e(&["--ip="]).contains("--ip: the value is empty"));
        assert!(e(&["--port", "80", "--", "x"]).contains("unknown option '--port'"));
        assert!(e(&["-x", "prog"]).contains("unknown option '-x'"));
        assert!(e(&["--ip", "a", "--ip", "b", "x"]).contains("--ip is given twice"));
    }

    #[test]
    fn help_fits_a_terminal() {
        for line in HELP.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
        // Each option is documented.
        for (opt, var) in VALUE_OPTIONS {
            assert!(HELP.contains(&format!("  {opt} ")), "{opt}");
            assert!(HELP.contains(var), "{var}");
        }
        assert!(HELP.contains("  --setup "));
    }

    #[test]
    fn help_needs_no_program() {
        assert!(p(&["--help"]).unwrap().help);
        assert!(p(&["-h"]).unwrap().help);
    }

    #[test]
    fn values_are_checked_and_the_option_named() {
        let e = |a: &[&str]| p(a).unwrap().check(no_env).unwrap_err().0;
        assert_eq!(
            e(&["--ip", "10.0.0/24", "x"]),
            "--ip \"10.0.0/24\": not an IPv4 address with a prefix (like 198.18.0.2/24)"
        );
        assert!(e(&["--ip", "10.0.0.1", "x"]).starts_with("--ip "));
        assert!(e(&["--gw", "10.0.0.1", "x"]).contains("not on our network 198.18.0.0/24"));
        assert!(e(&["--ifname", "a/b", "x"]).starts_with("--ifname "));
        assert!(e(&["--faults", "loss=1", "x"]).starts_with("--faults "));
        assert!(e(&["--log", "loud", "x"]).starts_with("--log "));
    }

    #[test]
    fn effective_values_come_from_options_then_the_environment() {
        let d = p(&["x"]).unwrap().check(no_env).unwrap();
        assert_eq!(
            d,
            Effective {
                ifname: "tap0".into(),
                ip: Ipv4Addr::new(198, 18, 0, 2),
                prefix_len: 24,
                gw: None
            }
        );
        let env = |v: &str| match v {
            "TAPSTACK_IP" => Some("10.0.0.2/8".to_string()),
            "TAPSTACK_IFNAME" => Some("tap7".to_string()),
            "TAPSTACK_GW" => Some("10.9.9.9".to_string()),
            _ => None,
        };
        let e = p(&["x"]).unwrap().check(env).unwrap();
        assert_eq!(e.ifname, "tap7");
        assert_eq!((e.ip, e.prefix_len), (Ipv4Addr::new(10, 0, 0, 2), 8));
        assert_eq!(e.gw, Some(Ipv4Addr::new(10, 9, 9, 9)));
        // --gw is checked against the environment's address.
        p(&["--gw", "10.1.1.1", "x"]).unwrap().check(env).unwrap();
        let o = p(&["--ip", "172.16.0.5/16", "--ifname", "tap3", "x"]).unwrap();
        let e = o.check(env).unwrap();
        assert_eq!(e.ifname, "tap3");
        assert_eq!((e.ip, e.prefix_len), (Ipv4Addr::new(172, 16, 0, 5), 16));
        // The environment's gateway is off the new prefix: the library will say so.
        assert_eq!(e.gw, None);
    }

    #[test]
    fn env_for_the_program() {
        let o = p(&[
            "--ip=10.0.0.2/24",
            "--pcap",
            "cap.pcap",
            "--trace",
            "/abs/t.trace",
            "--log",
            "info",
            "--faults",
            "drop=0.5",
            "x",
        ])
        .unwrap();
        let env = o.env(
            Path::new("/opt/t/libtapstack.so"),
            None,
            Path::new("/home/u"),
        );
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.to_str().unwrap())).collect();
        assert_eq!(
            env,
            [
                ("LD_PRELOAD", "/opt/t/libtapstack.so"),
                ("TAPSTACK_IP", "10.0.0.2/24"),
                ("TAPSTACK_PCAP", "/home/u/cap.pcap"),
                ("TAPSTACK_FAULTS", "drop=0.5"),
                ("TAPSTACK_TRACE", "/abs/t.trace"),
                ("TAPSTACK_LOG", "info"),
            ]
        );
        let env = p(&["x"])
            .unwrap()
            .env(Path::new("/l.so"), None, Path::new("/"));
        assert_eq!(env, [("LD_PRELOAD", OsString::from("/l.so"))]);
    }

    #[test]
    fn preload_goes_first_once() {
        let lib = Path::new("/a/libtapstack.so");
        let pre = |old: &str| preload(lib, Some(OsStr::new(old)));
        assert_eq!(preload(lib, None), "/a/libtapstack.so");
        assert_eq!(pre(""), "/a/libtapstack.so");
        assert_eq!(pre("/x/libasan.so"), "/a/libtapstack.so:/x/libasan.so");
        assert_eq!(
            pre("/x/a.so /y/b.so:/a/libtapstack.so"),
            "/a/libtapstack.so:/x/a.so:/y/b.so"
        );
    }

    #[test]
    fn library_next_to_the_command_or_in_lib() {
        let dir = std::env::temp_dir().join(format!("tapstack-cli-test-{}", std::process::id()));
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let e = find_lib(&bin).unwrap_err();
        assert!(
            e.contains(&bin.join(LIB_NAME).display().to_string())
                && e.contains(&dir.join("lib").join(LIB_NAME).display().to_string()),
            "{e}"
        );
        std::fs::create_dir_all(dir.join("lib")).unwrap();
        std::fs::write(dir.join("lib").join(LIB_NAME), b"").unwrap();
        assert_eq!(find_lib(&bin).unwrap(), dir.join("lib").join(LIB_NAME));
        std::fs::write(bin.join(LIB_NAME), b"").unwrap();
        assert_eq!(find_lib(&bin).unwrap(), bin.join(LIB_NAME));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
