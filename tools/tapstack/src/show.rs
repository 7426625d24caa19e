//! `tapstack trace FILE`: a trace (`TAPSTACK_TRACE=FILE`) as text, one
//! line an event, connection by connection, read as a capture is read with
//! `tcpdump -r`: the segments with relative sequence numbers (each side's
//! ISN is 0, as tcpdump shows them), and between them what only the stack
//! knows: its state changes with their cause, the timers that fired, and
//! cwnd, ssthresh and RTT after each change.

use crate::trace::{self, Conn, Kind};
use std::fmt::Write as _;

pub const HELP: &str = "\
Usage: tapstack trace FILE [--conn SUBSTRING]

Prints a trace the library recorded (TAPSTACK_TRACE=FILE, or
tapstack run --trace FILE) as text, connection by connection, one line
per event: time in seconds since the stack started, then

  > S.  seq 0 ack 1 win 65535 len 0 <mss 1460,...>   a segment we sent
  < .   seq 1 ack 1 win 502 len 0                    a segment we received
  state SYN_RECEIVED -> ESTABLISHED (rcvd ACK of SYN)
  timer rto fired
  cc    cwnd 14600 ssthresh - flight 0 srtt 0.512ms rto 200ms open

Sequence numbers are relative: each side's ISN counts as 0, as tcpdump
shows them.

Options:
  --conn SUBSTRING   only the connections whose name contains it
  -h, --help         this text

Example:
  TAPSTACK_TRACE=/tmp/t.jsonl tapstack run -- ./server 8080
  tapstack trace /tmp/t.jsonl --conn :8080";

/// The command; returns the exit status.
pub fn main(args: &[String]) -> u8 {
    let mut file = None;
    let mut conn = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return 0;
            }
            "--conn" => match it.next() {
                Some(s) => conn = Some(s.clone()),
                None => return usage("--conn needs a SUBSTRING"),
            },
            s if s.starts_with('-') => return usage(&format!("unknown option {s:?}")),
            s if file.is_none() => file = Some(s.to_string()),
            s => return usage(&format!("one trace at a time ({s:?} is a second)")),
        }
    }
    let Some(file) = file else {
        return usage("which trace? (tapstack trace FILE)");
    };
    let text = match std::fs::read(&file) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            eprintln!("tapstack: trace: cannot read {file}: {e}");
            return 1;
        }
    };
    let tr = match trace::parse(&text) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tapstack: trace: {file}: {e}");
            return 1;
        }
    };
    for w in &tr.warnings {
        eprintln!("tapstack: trace: warning: {file}: {w}");
    }
    let chosen: Vec<&Conn> = tr
        .conns
        .iter()
        .filter(|c| conn.as_ref().is_none_or(|s| c.name.contains(s.as_str())))
        .collect();
    if chosen.is_empty() {
        eprintln!("tapstack: trace: no connection to show in {file}");
        return 1;
    }
    for (i, c) in chosen.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", render(c));
    }
    0
}

fn usage(msg: &str) -> u8 {
    eprintln!("tapstack: trace: {msg} (tapstack trace --help)");
    2
}

/// One connection's events as text.
pub fn render(c: &Conn) -> String {
    let (local, remote) = c.ends();
    let mut out = format!("{local} <-> {remote}  (> we sent, < we received)\n");
    // Each side's ISN: the sequence number of its SYN, else of its first
    // segment.
    let isn = |out_dir: bool| {
        let mut segs = c.events.iter().filter_map(|e| match &e.kind {
            Kind::Seg(s) if s.out == out_dir => Some(s),
            _ => None,
        });
        let first = segs.clone().next().map(|s| s.seq);
        segs.find(|s| s.syn()).map(|s| s.seq).or(first)
    };
    let (ours, theirs) = (isn(true), isn(false));
    let rel = |x: u32, base: Option<u32>| base.map_or(x, |b| x.wrapping_sub(b));
    for e in &c.events {
        let t = format!("{:>4}.{:06}", e.t_us / 1_000_000, e.t_us % 1_000_000);
        let _ = match &e.kind {
            Kind::Seg(s) => {
                let (seq_base, ack_base) = if s.out {
                    (ours, theirs)
                } else {
                    (theirs, ours)
                };
                let mut line = format!(
                    "{t} {} {:<3} seq {} ack {} win {} len {}",
                    if s.out { '>' } else { '<' },
                    s.flags,
                    rel(s.seq, seq_base),
                    if s.has_ack() { rel(s.ack, ack_base) } else { 0 },
                    s.win,
                    s.len
                );
                if !s.opts.is_empty() {
                    let _ = write!(line, " <{}>", s.opts);
                }
                writeln!(out, "{line}")
            }
            Kind::State { from, to, cause } => {
                writeln!(out, "{t} state {from} -> {to} ({cause})")
            }
            Kind::Timer { timer } => writeln!(out, "{t} timer {timer} fired"),
            Kind::Cc(cc) => writeln!(
                out,
                "{t} cc    cwnd {} ssthresh {} flight {} srtt {} rto {} {}",
                cc.cwnd,
                cc.ssthresh.map_or("-".to_string(), |v| v.to_string()),
                cc.flight,
                ms(cc.srtt_us),
                ms(cc.rto_us),
                cc.ca_state
            ),
            Kind::Stack { what } => writeln!(out, "{t} stack {what}"),
        };
    }
    out
}

/// Microseconds as milliseconds, short.
fn ms(us: u64) -> String {
    if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else {
        format!("{}.{:03}ms", us / 1000, us % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> trace::Trace {
        let text = include_str!("../tests/data/handshake.trace");
        trace::parse(text).unwrap()
    }

    #[test]
    fn segments_are_relative_to_each_sides_isn() {
        let tr = fixture();
        let text = render(&tr.conns[0]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("198.18.0.2:80 <-> 198.18.0.1:40000"),
            "{text}"
        );
        assert!(
            lines[1].ends_with(
                "< S   seq 0 ack 0 win 64240 len 0 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>"
            ),
            "{text}"
        );
        assert!(
            lines[2].ends_with("state LISTEN -> SYN_RECEIVED (rcvd SYN)"),
            "{text}"
        );
        assert!(
            lines[3].contains("> S.  seq 0 ack 1 win 65535 len 0"),
            "{text}"
        );
        assert!(
            lines[4].ends_with("cc    cwnd 14600 ssthresh - flight 1 srtt 0ms rto 1000ms open"),
            "{text}"
        );
    }

    #[test]
    fn every_state_change_is_shown_with_its_cause() {
        let tr = fixture();
        let text = render(&tr.conns[0]);
        for want in ["-> ESTABLISHED (", "-> CLOSE_WAIT (", "-> LAST_ACK ("] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
    }

    #[test]
    fn milliseconds_read_short() {
        assert_eq!(ms(200_000), "200ms");
        assert_eq!(ms(512), "0.512ms");
    }
}
