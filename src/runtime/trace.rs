//! The trace file (`TAPSTACK_TRACE`) and the debug/trace log lines, made
//! from the stack's events ([`crate::stack::trace`]) by the stack thread
//! after it let go of the lock.
//!
//! The file is JSON lines, one event a line, as docs/trace-format.md
//! describes: a header line, then `state`, `seg`, `timer`, `cc` and
//! `stack` events, each with `t_us` (µs since the stack started) and
//! `conn` (`LOCAL_IP:PORT-REMOTE_IP:PORT`). It is written through a
//! buffer, flushed at each turn of the stack thread's loop and at exit;
//! its fd is one of the library's own ([`PrivateFd`]).

use crate::runtime::log::{self, LogLevel};
use crate::stack::snapshot::json_str;
use crate::stack::trace::{SegSummary, TraceEvent, TraceWhat};
use crate::sys::private_fd::PrivateFd;
use crate::tcp::{FourTuple, State, TcpEvent};
use crate::time::Instant;
use crate::wire::tcp::{TcpFlags, TcpOptions};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::Path;

/// The trace format's version (the header's `"version"`).
pub const VERSION: u32 = 1;

/// The RFC's name of a state, with underscores (`SYN_RECEIVED`).
pub fn state_name(s: State) -> &'static str {
    match s {
        State::Closed => "CLOSED",
        State::Listen => "LISTEN",
        State::SynSent => "SYN_SENT",
        State::SynReceived => "SYN_RECEIVED",
        State::Established => "ESTABLISHED",
        State::FinWait1 => "FIN_WAIT_1",
        State::FinWait2 => "FIN_WAIT_2",
        State::CloseWait => "CLOSE_WAIT",
        State::Closing => "CLOSING",
        State::LastAck => "LAST_ACK",
        State::TimeWait => "TIME_WAIT",
    }
}

/// The flags as tcpdump prints them: `S F R P` then `.` for ACK
/// (`S.`, `P.`, `F.`, `R`).
pub fn flag_letters(f: TcpFlags) -> String {
    let mut s = String::with_capacity(5);
    for (flag, c) in [
        (TcpFlags::SYN, 'S'),
        (TcpFlags::FIN, 'F'),
        (TcpFlags::RST, 'R'),
        (TcpFlags::PSH, 'P'),
        (TcpFlags::ACK, '.'),
    ] {
        if f.contains(flag) {
            s.push(c);
        }
    }
    s
}

/// The options as tcpdump names them, in a fixed order (not their order
/// on the wire, and without padding): `mss 1460,sackOK,TS val 1 ecr
/// 0,wscale 7`, and SACK blocks as `sack 2 {a:b}{c:d}`.
pub fn option_text(o: &TcpOptions) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = o.mss {
        parts.push(format!("mss {m}"));
    }
    if o.sack_permitted {
        parts.push("sackOK".into());
    }
    if let Some((val, ecr)) = o.timestamps {
        parts.push(format!("TS val {val} ecr {ecr}"));
    }
    if let Some(ws) = o.window_scale {
        parts.push(format!("wscale {ws}"));
    }
    let blocks: Vec<_> = o.sack_blocks.iter().flatten().collect();
    if !blocks.is_empty() {
        let mut s = format!("sack {}", blocks.len());
        for (l, r) in blocks {
            let _ = write!(s, " {{{}:{}}}", l.0, r.0);
        }
        parts.push(s);
    }
    parts.join(",")
}

/// `LOCAL_IP:PORT-REMOTE_IP:PORT`.
pub fn conn_name(t: &FourTuple) -> String {
    format!("{}-{}", t.local, t.remote)
}

/// The header line (without its newline).
pub fn header_line(pid: u32, ifname: &str, ip: Ipv4Addr) -> String {
    let mut s = format!("{{\"trace\":\"tapstack\",\"version\":{VERSION},\"pid\":{pid},\"ifname\":");
    json_str(&mut s, ifname);
    let _ = write!(s, ",\"ip\":\"{ip}\"}}");
    s
}

/// One event's line (without its newline); `start` is the stack's start.
pub fn event_line(e: &TraceEvent, start: Instant) -> String {
    let mut s = String::with_capacity(160);
    let t_us = e.at.total_micros().saturating_sub(start.total_micros());
    let _ = write!(s, "{{\"t_us\":{t_us},\"conn\":");
    json_str(&mut s, &conn_name(&e.tuple));
    match &e.what {
        TraceWhat::Tcp(TcpEvent::State { from, to, cause }) => {
            let _ = write!(
                s,
                ",\"ev\":\"state\",\"from\":\"{}\",\"to\":\"{}\",\"cause\":",
                state_name(*from),
                state_name(*to)
            );
            json_str(&mut s, cause);
        }
        TraceWhat::Tcp(TcpEvent::Timer(name)) => {
            let _ = write!(
                s,
                ",\"ev\":\"timer\",\"timer\":\"{name}\",\"action\":\"fired\""
            );
        }
        TraceWhat::Tcp(TcpEvent::Cc(c)) => {
            let _ = write!(
                s,
                ",\"ev\":\"cc\",\"cwnd\":{},\"ssthresh\":{},\"flight\":{},\"rwnd\":{},\"srtt_us\":{},\"rttvar_us\":{},\"rto_us\":{},\"mss\":{},\"ca_state\":\"{}\"",
                c.cwnd,
                c.ssthresh,
                c.flight,
                c.rwnd,
                c.srtt_us,
                c.rttvar_us,
                c.rto_us,
                c.mss,
                c.ca_state
            );
        }
        TraceWhat::Seg(g) => {
            let _ = write!(
                s,
                ",\"ev\":\"seg\",\"dir\":\"{}\",\"flags\":\"{}\",\"seq\":{},\"ack\":{},\"win\":{},\"len\":{},\"opts\":",
                if g.outgoing { "out" } else { "in" },
                flag_letters(g.flags),
                g.seq,
                g.ack,
                g.win,
                g.len
            );
            json_str(&mut s, &option_text(&g.options));
        }
        TraceWhat::Stack(what) => {
            s.push_str(",\"ev\":\"stack\",\"what\":");
            json_str(&mut s, what);
        }
    }
    s.push('}');
    s
}

fn seg_text(g: &SegSummary) -> String {
    let opts = option_text(&g.options);
    format!(
        "{} {} seq {} ack {} win {} len {}{}{}",
        if g.outgoing { "out" } else { "in" },
        flag_letters(g.flags),
        g.seq,
        g.ack,
        g.win,
        g.len,
        if opts.is_empty() { "" } else { " " },
        opts
    )
}

/// Writes `e` to the log at the level its kind belongs to: state changes,
/// timers, RSTs and the stack's own events at `debug`; every segment at
/// `trace`; congestion changes nowhere (the trace file has them).
pub fn log_event(e: &TraceEvent) {
    let conn = e.tuple;
    match &e.what {
        TraceWhat::Tcp(TcpEvent::State { from, to, cause }) => crate::log_debug!(
            "{conn}: {} -> {} ({cause})",
            state_name(*from),
            state_name(*to)
        ),
        TraceWhat::Tcp(TcpEvent::Timer(name)) => crate::log_debug!("{conn}: timer {name} fired"),
        TraceWhat::Tcp(TcpEvent::Cc(_)) => {}
        TraceWhat::Stack(what) => crate::log_debug!("{conn}: {what}"),
        TraceWhat::Seg(g) => {
            if log::enabled(LogLevel::Trace) {
                crate::log_trace!("{conn}: {}", seg_text(g));
            } else if g.flags.contains(TcpFlags::RST) {
                let dir = if g.outgoing { "sent" } else { "received" };
                crate::log_debug!("{conn}: RST {dir} ({})", seg_text(g));
            }
        }
    }
}

/// The trace file.
pub struct TraceFile {
    out: BufWriter<PrivateFd>,
    start: Instant,
    failed: bool,
}

impl TraceFile {
    /// Creates (truncates) `path` and writes the header line.
    pub fn create(
        path: &Path,
        start: Instant,
        ifname: &str,
        ip: Ipv4Addr,
    ) -> io::Result<TraceFile> {
        let file = PrivateFd::adopt(File::create(path)?.into());
        let mut out = BufWriter::with_capacity(1 << 16, file);
        writeln!(out, "{}", header_line(std::process::id(), ifname, ip))?;
        out.flush()?;
        Ok(TraceFile {
            out,
            start,
            failed: false,
        })
    }

    /// Appends the events' lines (buffered). After a write error the file
    /// is left alone, with one warning.
    pub fn write(&mut self, events: &[TraceEvent]) {
        if self.failed {
            return;
        }
        for e in events {
            if let Err(err) = writeln!(self.out, "{}", event_line(e, self.start)) {
                self.fail(err);
                return;
            }
        }
    }

    /// Notes `n` events lost to the stack's bound.
    pub fn note_dropped(&mut self, n: u64) {
        crate::log_warn!("trace: {n} events lost (the stack's event buffer was full)");
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        if !self.failed
            && let Err(e) = self.out.flush()
        {
            self.fail(e);
        }
    }

    fn fail(&mut self, e: io::Error) {
        self.failed = true;
        crate::log_warn!("trace file: {e}; tracing stops");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::CcSample;
    use crate::wire::SeqNum;
    use std::net::SocketAddrV4;

    fn tuple() -> FourTuple {
        FourTuple::new(
            SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 80),
            SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 5555),
        )
    }

    fn ev(at_us: u64, what: TraceWhat) -> TraceEvent {
        TraceEvent {
            at: Instant::from_micros(at_us),
            tuple: tuple(),
            what,
        }
    }

    const START: Instant = Instant::from_micros(1_000);

    #[test]
    fn header() {
        assert_eq!(
            header_line(1234, "tap0", Ipv4Addr::new(198, 18, 0, 2)),
            r#"{"trace":"tapstack","version":1,"pid":1234,"ifname":"tap0","ip":"198.18.0.2"}"#
        );
    }

    #[test]
    fn state_line() {
        let e = ev(
            1_250,
            TraceWhat::Tcp(TcpEvent::State {
                from: State::SynReceived,
                to: State::Established,
                cause: "rcvd ACK of SYN".into(),
            }),
        );
        assert_eq!(
            event_line(&e, START),
            r#"{"t_us":250,"conn":"198.18.0.2:80-198.18.0.1:5555","ev":"state","from":"SYN_RECEIVED","to":"ESTABLISHED","cause":"rcvd ACK of SYN"}"#
        );
    }

    #[test]
    fn seg_lines() {
        let syn_ack = SegSummary {
            outgoing: true,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            seq: 100,
            ack: 7,
            win: 65535,
            len: 0,
            options: TcpOptions {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                timestamps: Some((1, 0)),
                ..TcpOptions::default()
            },
        };
        assert_eq!(
            event_line(&ev(1_000, TraceWhat::Seg(syn_ack)), START),
            r#"{"t_us":0,"conn":"198.18.0.2:80-198.18.0.1:5555","ev":"seg","dir":"out","flags":"S.","seq":100,"ack":7,"win":65535,"len":0,"opts":"mss 1460,sackOK,TS val 1 ecr 0,wscale 7"}"#
        );
        let data = SegSummary {
            outgoing: false,
            flags: TcpFlags::PSH | TcpFlags::ACK | TcpFlags::FIN,
            seq: 7,
            ack: 101,
            win: 1 << 20,
            len: 5,
            options: TcpOptions {
                sack_blocks: [Some((SeqNum(1), SeqNum(2))), None, None, None],
                ..TcpOptions::default()
            },
        };
        assert_eq!(
            event_line(&ev(3_000, TraceWhat::Seg(data)), START),
            r#"{"t_us":2000,"conn":"198.18.0.2:80-198.18.0.1:5555","ev":"seg","dir":"in","flags":"FP.","seq":7,"ack":101,"win":1048576,"len":5,"opts":"sack 1 {1:2}"}"#
        );
        let rst = SegSummary {
            flags: TcpFlags::RST,
            options: TcpOptions::default(),
            ..data
        };
        assert!(event_line(&ev(3_000, TraceWhat::Seg(rst)), START).contains(r#""flags":"R","#));
    }

    #[test]
    fn timer_cc_and_stack_lines() {
        assert_eq!(
            event_line(
                &ev(2_000, TraceWhat::Tcp(TcpEvent::Timer("rto".into()))),
                START
            ),
            r#"{"t_us":1000,"conn":"198.18.0.2:80-198.18.0.1:5555","ev":"timer","timer":"rto","action":"fired"}"#
        );
        let cc = CcSample {
            cwnd: 14480,
            ssthresh: u32::MAX,
            flight: 2896,
            rwnd: 65535,
            srtt_us: 120,
            rttvar_us: 60,
            rto_us: 200_000,
            mss: 1448,
            ca_state: "open".into(),
        };
        assert_eq!(
            event_line(&ev(1_000, TraceWhat::Tcp(TcpEvent::Cc(cc))), START),
            r#"{"t_us":0,"conn":"198.18.0.2:80-198.18.0.1:5555","ev":"cc","cwnd":14480,"ssthresh":4294967295,"flight":2896,"rwnd":65535,"srtt_us":120,"rttvar_us":60,"rto_us":200000,"mss":1448,"ca_state":"open"}"#
        );
        assert_eq!(
            event_line(&ev(1_000, TraceWhat::Stack("sent \"RST\"".into())), START),
            r#"{"t_us":0,"conn":"198.18.0.2:80-198.18.0.1:5555","ev":"stack","what":"sent \"RST\""}"#
        );
    }
}
