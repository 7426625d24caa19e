//! `tapstack ss`, `tapstack neigh`, `tapstack stats`: live introspection of
//! running stacks.
//!
//! Each stack listens on a Unix socket in the abstract namespace,
//! `@tapstack/<netns inode>/<ifname>/<pid>` (the library's
//! `runtime/control.rs`). This command cannot link the library: it finds
//! those names in `/proc/net/unix` (which lists the caller's network
//! namespace, the one whose TAPs it can see), sends one request line
//! (`ss`, `neigh` or `stats`), reads one JSON document back, and prints it
//! as `ss -tan`, `ip neigh` or `nstat -a` would, or as it is with `--json`.

use crate::json::{self, Value};
use std::io::{Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::time::Duration;

pub const HELP: &str = "\
Usage: tapstack ss    [-i] [--json] [--ifname NAME | --pid PID]
       tapstack neigh [--json] [--ifname NAME | --pid PID]
       tapstack stats [--json] [--ifname NAME | --pid PID]

Show what a running stack holds, as the kernel's tools show theirs. The
stacks are found in this network namespace (run it in the program's:
ip netns exec NS tapstack ss); with several, name one by its TAP or its
pid (ss shows them all).

  ss      sockets, like ss -tan: State Recv-Q Send-Q Local Peer Process
  neigh   the neighbour (ARP) cache, like ip neigh
  stats   every counter, like nstat -a: segments, drops by reason, ...

Options:
  -i, --info       (ss) a line of internals per connection, as ss -ti:
                   congestion control, wscale, rto, rtt/rttvar, mss, cwnd,
                   ssthresh, bytes, segments, unacked, retransmits, windows
  --json           the stack's answer as JSON, unformatted
  --ifname NAME    the stack on this TAP
  --pid PID        the stack of this process
  -h, --help       this text";

/// Which answer is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Ss,
    Neigh,
    Stats,
}

impl What {
    fn request(self) -> &'static str {
        match self {
            What::Ss => "ss",
            What::Neigh => "neigh",
            What::Stats => "stats",
        }
    }
}

/// The options of the three commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opts {
    pub info: bool,
    pub json: bool,
    pub ifname: Option<String>,
    pub pid: Option<u32>,
    pub help: bool,
}

/// Parses the options after the command's name.
pub fn parse(what: What, args: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |n: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{n} needs a value"))
        };
        match name {
            "-h" | "--help" => o.help = true,
            "--json" | "-j" => o.json = true,
            // `nstat -a`, `ss -n`, `ss -t`, `ss -a`: what we show anyway.
            "-a" | "-n" | "-t" | "-tan" | "-tn" | "-ta" if what != What::Neigh => {}
            "-i" | "--info" | "-ti" | "-tani" | "-tin" if what == What::Ss => o.info = true,
            "--ifname" => o.ifname = Some(value("--ifname")?),
            "--pid" => {
                let v = value("--pid")?;
                o.pid = Some(v.parse().map_err(|_| format!("--pid {v:?}: not a pid"))?);
            }
            _ => {
                return Err(format!(
                    "unknown option {a:?} (see tapstack {} --help)",
                    what.request()
                ));
            }
        }
    }
    Ok(o)
}

/// A stack found in `/proc/net/unix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The abstract name, without the leading `@`.
    pub name: String,
    pub netns: u64,
    pub ifname: String,
    pub pid: u32,
}

/// The listening `@tapstack/...` sockets in a `/proc/net/unix` listing,
/// by pid.
pub fn discover(proc_net_unix: &str) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    for line in proc_net_unix.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // Num RefCount Protocol Flags Type St Inode Path
        let (Some(flags), Some(path)) = (cols.get(3), cols.get(7)) else {
            continue;
        };
        let listening = u32::from_str_radix(flags, 16).is_ok_and(|f| f & 0x10000 != 0);
        let Some(name) = path.strip_prefix('@') else {
            continue;
        };
        let mut parts = name.splitn(4, '/');
        let (Some("tapstack"), Some(ns), Some(ifname), Some(pid)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (Ok(netns), Ok(pid)) = (ns.parse(), pid.parse()) else {
            continue;
        };
        if listening && !out.iter().any(|f| f.name == name) {
            out.push(Found {
                name: name.to_string(),
                netns,
                ifname: ifname.to_string(),
                pid,
            });
        }
    }
    out.sort_by_key(|f| (f.pid, f.ifname.clone()));
    out
}

/// The stacks `opts` selects among `found`. Every process sharing a stack
/// (one TAP in one namespace) answers for the whole stack, so one of them
/// is asked (the lowest pid), unless `--pid` names one.
pub fn select<'a>(found: &'a [Found], opts: &Opts) -> Vec<&'a Found> {
    let mut chosen: Vec<&Found> = Vec::new();
    for f in found
        .iter()
        .filter(|f| opts.ifname.as_ref().is_none_or(|n| *n == f.ifname))
        .filter(|f| opts.pid.is_none_or(|p| p == f.pid))
    {
        if !chosen
            .iter()
            .any(|c| c.netns == f.netns && c.ifname == f.ifname)
        {
            chosen.push(f);
        }
    }
    chosen
}

/// Sends `request` to the stack at `name` and reads its whole answer.
pub fn query(name: &str, request: &str) -> Result<String, String> {
    let addr = SocketAddr::from_abstract_name(name).map_err(|e| e.to_string())?;
    let mut s = UnixStream::connect_addr(&addr).map_err(|e| format!("connect @{name}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("{request}\n").as_bytes())
        .map_err(|e| format!("@{name}: {e}"))?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| {
        if e.kind() == std::io::ErrorKind::WouldBlock {
            // The name outlives a stack whose process is stopped, or gone
            // with only its forked children left (they inherit the socket).
            format!("@{name}: no answer within 5 s (is the process stopped?)")
        } else {
            format!("@{name}: {e}")
        }
    })?;
    if out.is_empty() {
        return Err(format!("@{name}: no answer"));
    }
    Ok(out)
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    match v.get(key) {
        Some(Value::Arr(a)) => a,
        _ => &[],
    }
}

/// Milliseconds, as `ss` prints them, from microseconds: `204`, `0.5`.
fn ms(us: u64) -> String {
    if us.is_multiple_of(1000) {
        format!("{}", us / 1000)
    } else {
        let s = format!("{:.3}", us as f64 / 1000.0);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The internals line of `ss -i`.
pub fn info_line(t: &Value) -> String {
    let mut f = vec![t.s("cc").to_string()];
    if t.u("options") & 4 != 0 {
        f.push(format!(
            "wscale:{},{}",
            t.u("snd_wscale"),
            t.u("rcv_wscale")
        ));
    }
    f.push(format!("rto:{}", ms(t.u("rto_us"))));
    if t.u("backoff") > 0 {
        f.push(format!("backoff:{}", t.u("backoff")));
    }
    f.push(format!(
        "rtt:{}/{}",
        ms(t.u("rtt_us")),
        ms(t.u("rttvar_us"))
    ));
    f.push(format!("ato:{}", ms(t.u("ato_us"))));
    f.push(format!("mss:{}", t.u("snd_mss")));
    f.push(format!("rcvmss:{}", t.u("rcv_mss")));
    f.push(format!("advmss:{}", t.u("advmss")));
    f.push(format!("cwnd:{}", t.u("cwnd")));
    if t.u("ssthresh") < 0x7fff_ffff {
        f.push(format!("ssthresh:{}", t.u("ssthresh")));
    }
    for k in ["bytes_acked", "bytes_received", "segs_out", "segs_in"] {
        f.push(format!("{k}:{}", t.u(k)));
    }
    f.push(format!("bytes_in_flight:{}", t.u("bytes_in_flight")));
    for k in ["unacked", "sacked", "lost"] {
        if t.u(k) > 0 {
            f.push(format!("{k}:{}", t.u(k)));
        }
    }
    f.push(format!(
        "retrans:{}/{}",
        t.u("retrans"),
        t.u("total_retrans")
    ));
    if t.u("retransmits") > 0 {
        f.push(format!("retransmits:{}", t.u("retransmits")));
    }
    f.push(format!("rcv_space:{}", t.u("rcv_space")));
    f.push(format!("snd_wnd:{}", t.u("snd_wnd")));
    f.push(format!("rcv_wnd:{}", t.u("rcv_wnd")));
    let ca = match t.u("ca_state") {
        0 => "open",
        1 => "disorder",
        2 => "cwr",
        3 => "recovery",
        _ => "loss",
    };
    f.push(format!("ca_state:{ca}"));
    f.join(" ")
}

/// `ss -tan` (with `info`, `ss -tani`) from answers of one or more stacks.
pub fn format_ss(docs: &[Value], info: bool) -> String {
    let header = [
        "State",
        "Recv-Q",
        "Send-Q",
        "Local Address:Port",
        "Peer Address:Port",
        "Process",
    ];
    let mut rows: Vec<([String; 6], Option<String>)> = Vec::new();
    for d in docs {
        for s in arr(d, "sockets") {
            let row = [
                s.s("state").to_string(),
                s.u("recv_q").to_string(),
                s.u("send_q").to_string(),
                s.s("local").to_string(),
                s.s("peer").to_string(),
                format!("pid={},tap={}", s.u("pid"), d.s("ifname")),
            ];
            let extra = match s.get("tcp") {
                Some(t @ Value::Obj(_)) if info => Some(info_line(t)),
                _ => None,
            };
            rows.push((row, extra));
        }
    }
    let mut width = header.map(str::len);
    for (r, _) in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            // Queues right-aligned, the rest left, as ss does.
            if i == 1 || i == 2 {
                l.push_str(&format!("{c:>w$} ", w = width[i]));
            } else if i == 5 {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$} ", w = width[i]));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for (r, extra) in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]));
        if let Some(e) = extra {
            out.push('\t');
            out.push_str(e);
            out.push('\n');
        }
    }
    out
}

/// `ip neigh` from one stack's answer.
pub fn format_neigh(doc: &Value) -> String {
    let dev = doc.s("ifname");
    let mut out = String::new();
    for n in arr(doc, "neighbours") {
        out.push_str(n.s("ip"));
        out.push_str(" dev ");
        out.push_str(dev);
        if let Some(mac) = n.get("lladdr").and_then(Value::as_str) {
            out.push_str(" lladdr ");
            out.push_str(mac);
        }
        out.push(' ');
        out.push_str(n.s("state"));
        out.push_str(&format!(" age {}ms\n", n.u("age_ms")));
    }
    out
}

/// `nstat -a` from one stack's answer: a header, then `name value`.
pub fn format_stats(doc: &Value) -> String {
    let mut out = format!("#tapstack pid {} dev {}\n", doc.u("pid"), doc.s("ifname"));
    if let Some(Value::Obj(m)) = doc.get("counters") {
        let w = m.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max(31);
        for (k, v) in m {
            out.push_str(&format!("{k:<w$} {}\n", v.as_u64().unwrap_or(0)));
        }
    }
    out
}

/// Runs `tapstack ss|neigh|stats`; returns the exit code.
pub fn main(what: What, args: &[String]) -> u8 {
    let opts = match parse(what, args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tapstack: {}: {e}", what.request());
            return 2;
        }
    };
    if opts.help {
        println!("{HELP}");
        return 0;
    }
    let listing = match std::fs::read_to_string("/proc/net/unix") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tapstack: cannot read /proc/net/unix: {e}");
            return 1;
        }
    };
    let found = discover(&listing);
    let chosen = select(&found, &opts);
    let cmd = what.request();
    if chosen.is_empty() {
        let what_for = match (&opts.ifname, opts.pid) {
            (Some(n), _) => format!(" on {n}"),
            (None, Some(p)) => format!(" in pid {p}"),
            _ => String::new(),
        };
        eprintln!(
            "tapstack: {cmd}: no running stack{what_for} in this network namespace \
             (run it in the program's: ip netns exec NS tapstack {cmd})"
        );
        return 1;
    }
    if chosen.len() > 1 && what != What::Ss {
        eprintln!("tapstack: {cmd}: several stacks run here; name one with --ifname or --pid:");
        for f in &chosen {
            eprintln!("  --ifname {} --pid {}", f.ifname, f.pid);
        }
        return 2;
    }
    let mut docs = Vec::new();
    let mut status = 0;
    for f in &chosen {
        let text = match query(&f.name, cmd) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("tapstack: {cmd}: {e}");
                status = 1;
                continue;
            }
        };
        if opts.json {
            // One document per line: one stack, one document.
            print!(
                "{}",
                if text.ends_with('\n') {
                    text
                } else {
                    text + "\n"
                }
            );
            continue;
        }
        match json::parse(&text) {
            Ok(v) if v.get("error").is_some() => {
                eprintln!("tapstack: {cmd}: the stack says: {}", v.s("error"));
                status = 1;
            }
            Ok(v) => docs.push(v),
            Err(e) => {
                eprintln!("tapstack: {cmd}: unreadable answer from @{}: {e}", f.name);
                status = 1;
            }
        }
    }
    if !opts.json {
        let text = match what {
            What::Ss => format_ss(&docs, opts.info),
            What::Neigh => docs.iter().map(format_neigh).collect(),
            What::Stats => docs.iter().map(format_stats).collect(),
        };
        print!("{text}");
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNIX: &str = "\
Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 31337 @tapstack/4026531840/tap0/1234
0000000000000000: 00000003 00000000 00000000 0001 03 31338 @tapstack/4026531840/tap0/1234
0000000000000000: 00000002 00000000 00010000 0001 01 31339 @tapstack/4026531840/tap1/99
0000000000000000: 00000002 00000000 00010000 0001 01 31340 /run/systemd/notify
0000000000000000: 00000002 00000000 00010000 0001 01 31341 @tapstackish/1/x/2
0000000000000000: 00000002 00000000 00000000 0002 01 31342
";

    #[test]
    fn finds_the_listening_stacks_only() {
        let f = discover(UNIX);
        assert_eq!(
            f,
            vec![
                Found {
                    name: "tapstack/4026531840/tap1/99".into(),
                    netns: 4026531840,
                    ifname: "tap1".into(),
                    pid: 99
                },
                Found {
                    name: "tapstack/4026531840/tap0/1234".into(),
                    netns: 4026531840,
                    ifname: "tap0".into(),
                    pid: 1234
                },
            ]
        );
        let by_name = Opts {
            ifname: Some("tap0".into()),
            ..Opts::default()
        };
        assert_eq!(select(&f, &by_name), vec![&f[1]]);
        let by_pid = Opts {
            pid: Some(99),
            ..Opts::default()
        };
        assert_eq!(select(&f, &by_pid), vec![&f[0]]);
        assert_eq!(select(&f, &Opts::default()).len(), 2);
    }

    #[test]
    fn parses_options() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = parse(
            What::Ss,
            &args(&["-i", "--json", "--pid", "7", "--ifname=tap3"]),
        )
        .unwrap();
        assert_eq!(
            o,
            Opts {
                info: true,
                json: true,
                ifname: Some("tap3".into()),
                pid: Some(7),
                help: false
            }
        );
        assert!(parse(What::Neigh, &args(&["-i"])).is_err());
        assert!(parse(What::Ss, &args(&["--pid", "x"])).is_err());
        assert!(parse(What::Ss, &args(&["--pid"])).is_err());
        assert!(parse(What::Stats, &args(&["-a"])).is_ok());
    }

    const SS: &str = r#"{"pid":1234,"ifname":"tap0","sockets":[{"state":"LISTEN","local":"0.0.0.0:7","peer":"0.0.0.0:*","recv_q":0,"send_q":128,"pid":1234,"tcp":null},{"state":"ESTAB","local":"198.18.0.2:7","peer":"198.18.0.1:45678","recv_q":5,"send_q":0,"pid":1234,"tcp":{"cc":"cubic","state_code":1,"ca_state":0,"retransmits":0,"backoff":0,"options":7,"snd_wscale":7,"rcv_wscale":7,"rto_us":204000,"ato_us":40000,"rtt_us":500,"rttvar_us":250,"snd_mss":1448,"rcv_mss":536,"advmss":1460,"cwnd":10,"ssthresh":2147483647,"unacked":0,"sacked":0,"lost":0,"retrans":0,"total_retrans":2,"bytes_in_flight":0,"bytes_acked":12,"bytes_received":34,"segs_out":5,"segs_in":6,"snd_wnd":64256,"rcv_wnd":65535,"rcv_space":65535}}]}"#;

    #[test]
    fn ss_prints_like_ss_tan_and_ti() {
        let doc = json::parse(SS).unwrap();
        assert_eq!(
            format_ss(std::slice::from_ref(&doc), false),
            "\
State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN      0    128 0.0.0.0:7          0.0.0.0:*         pid=1234,tap=tap0
ESTAB       5      0 198.18.0.2:7       198.18.0.1:45678  pid=1234,tap=tap0
"
        );
        let with_info = format_ss(&[doc], true);
        let lines: Vec<&str> = with_info.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[3],
            "\tcubic wscale:7,7 rto:204 rtt:0.5/0.25 ato:40 mss:1448 rcvmss:536 advmss:1460 \
             cwnd:10 bytes_acked:12 bytes_received:34 segs_out:5 segs_in:6 bytes_in_flight:0 \
             retrans:0/2 rcv_space:65535 snd_wnd:64256 rcv_wnd:65535 ca_state:open"
        );
    }

    #[test]
    fn neigh_prints_like_ip_neigh() {
        let doc = json::parse(r#"{"pid":1,"ifname":"tap0","neighbours":[{"ip":"198.18.0.1","lladdr":"46:c2:22:e8:1d:0d","state":"REACHABLE","age_ms":1200},{"ip":"198.18.0.9","lladdr":null,"state":"INCOMPLETE","age_ms":0}]}"#).unwrap();
        assert_eq!(
            format_neigh(&doc),
            "198.18.0.1 dev tap0 lladdr 46:c2:22:e8:1d:0d REACHABLE age 1200ms\n\
             198.18.0.9 dev tap0 INCOMPLETE age 0ms\n"
        );
    }

    #[test]
    fn stats_print_like_nstat() {
        let doc = json::parse(r#"{"pid":1,"ifname":"tap0","counters":{"rx_frames":10,"tcp_rx":18446744073709551615}}"#).unwrap();
        assert_eq!(
            format_stats(&doc),
            format!(
                "#tapstack pid 1 dev tap0\n{:<31} 10\n{:<31} 18446744073709551615\n",
                "rx_frames", "tcp_rx"
            )
        );
    }

    #[test]
    fn help_fits_a_terminal() {
        for line in HELP.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
    }
}
