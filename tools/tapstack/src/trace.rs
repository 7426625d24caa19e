//! Reading a trace the library writes (`TAPSTACK_TRACE=FILE`): JSON lines,
//! a header and then one event a line, each naming its connection
//! (`"conn":"LOCAL_IP:PORT-REMOTE_IP:PORT"`) and its kind (`"ev"`: state,
//! seg, timer, cc). Unknown fields and kinds are ignored, so that a newer
//! library's traces still plot; a last line cut short (the program was
//! killed mid-write) is dropped with a warning; any other line that is not
//! an event is an error naming its line number.

use crate::json::{self, Value};

/// One event of a connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The line of the trace it came from (1-based).
    pub line: usize,
    /// Microseconds since the stack started.
    pub t_us: u64,
    pub kind: Kind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Our end moved from one state to another (RFC 9293 names, with
    /// underscores).
    State {
        from: String,
        to: String,
        cause: String,
    },
    /// A segment we sent (`out`) or received (`in`).
    Seg(Seg),
    /// A timer fired.
    Timer { timer: String },
    /// Congestion control after a change.
    Cc(Cc),
    /// Something the stack did for this 4-tuple outside a connection
    /// ("sent RST: no connection or listener", "SYN queue full: sent SYN
    /// cookie", ...).
    Stack { what: String },
}

/// A segment, as the trace gives it (absolute sequence numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seg {
    pub out: bool,
    /// tcpdump's letters: S F R P and `.` for ACK.
    pub flags: String,
    pub seq: u32,
    pub ack: u32,
    pub win: u32,
    pub len: u32,
    pub opts: String,
}

impl Seg {
    pub fn syn(&self) -> bool {
        self.flags.contains('S')
    }
    pub fn fin(&self) -> bool {
        self.flags.contains('F')
    }
    pub fn rst(&self) -> bool {
        self.flags.contains('R')
    }
    pub fn has_ack(&self) -> bool {
        self.flags.contains('.')
    }
}

/// The congestion-control snapshot of a `cc` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cc {
    pub cwnd: u64,
    /// None while infinite (absent or 4294967295).
    pub ssthresh: Option<u64>,
    pub flight: u64,
    pub srtt_us: u64,
    pub rto_us: u64,
    pub mss: u64,
    /// open, disorder, recovery or loss.
    pub ca_state: String,
}

/// The events of one connection, in trace order.
#[derive(Debug, Clone, PartialEq)]
pub struct Conn {
    /// As the trace names it: "LOCAL_IP:PORT-REMOTE_IP:PORT".
    pub name: String,
    pub events: Vec<Event>,
}

impl Conn {
    /// The local and the remote end of the name.
    pub fn ends(&self) -> (&str, &str) {
        split_conn(&self.name)
    }
}

/// "L:P-R:Q" into ("L:P", "R:Q"); IPv6 addresses are in brackets and
/// contain no '-', and neither do IPv4 ones, so the first '-' after the
/// local port splits them.
pub fn split_conn(name: &str) -> (&str, &str) {
    name.split_once('-').unwrap_or((name, "?"))
}

/// A whole trace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// The local IP address of the header, when there is one.
    pub ip: Option<String>,
    pub conns: Vec<Conn>,
    /// What was skipped, each with its line number.
    pub warnings: Vec<String>,
}

/// Reads the text of a trace.
pub fn parse(text: &str) -> Result<Trace, String> {
    let mut tr = Trace::default();
    let lines: Vec<&str> = text.split('\n').collect();
    // The index of the last line that has something on it.
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    for (i, raw) in lines.iter().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let v = match json::parse(raw) {
            Ok(v) => v,
            Err(e) if Some(i) == last && !text.ends_with('\n') => {
                tr.warnings
                    .push(format!("line {line}: cut short ({e}), ignored"));
                continue;
            }
            Err(e) => return Err(format!("line {line}: not JSON: {e}")),
        };
        if !matches!(v, Value::Obj(_)) {
            return Err(format!("line {line}: not a JSON object"));
        }
        if v.get("trace").is_some() {
            if v.s("trace") != "tapstack" {
                return Err(format!("line {line}: not a tapstack trace header"));
            }
            let version = v.u("version");
            if version != 1 {
                tr.warnings.push(format!(
                    "line {line}: trace version {version}, this command reads version 1"
                ));
            }
            tr.ip = v.get("ip").and_then(Value::as_str).map(str::to_string);
            continue;
        }
        let Some(ev) = event(&v, line)? else {
            continue;
        };
        let conn = v.s("conn");
        if conn.is_empty() {
            return Err(format!("line {line}: an event without \"conn\""));
        }
        match tr.conns.iter_mut().find(|c| c.name == conn) {
            Some(c) => c.events.push(ev),
            None => tr.conns.push(Conn {
                name: conn.to_string(),
                events: vec![ev],
            }),
        }
    }
    Ok(tr)
}

fn need_u(v: &Value, key: &str, line: usize, ev: &str) -> Result<u64, String> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("line {line}: a {ev} event without a number \"{key}\""))
}

fn need_u32(v: &Value, key: &str, line: usize, ev: &str) -> Result<u32, String> {
    let n = need_u(v, key, line, ev)?;
    u32::try_from(n).map_err(|_| format!("line {line}: \"{key}\" {n} is not a 32-bit number"))
}

fn need_s<'a>(v: &'a Value, key: &str, line: usize, ev: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("line {line}: a {ev} event without a string \"{key}\""))
}

/// The event of one line; None for kinds this command does not know.
fn event(v: &Value, line: usize) -> Result<Option<Event>, String> {
    let ev = need_s(v, "ev", line, "trace")?;
    let t_us = need_u(v, "t_us", line, ev)?;
    let kind = match ev {
        "state" => Kind::State {
            from: need_s(v, "from", line, ev)?.to_string(),
            to: need_s(v, "to", line, ev)?.to_string(),
            cause: v.s("cause").to_string(),
        },
        "seg" => {
            let dir = need_s(v, "dir", line, ev)?;
            let out = match dir {
                "out" => true,
                "in" => false,
                _ => return Err(format!("line {line}: \"dir\" is {dir:?}, not in or out")),
            };
            Kind::Seg(Seg {
                out,
                flags: need_s(v, "flags", line, ev)?.to_string(),
                seq: need_u32(v, "seq", line, ev)?,
                ack: v.get("ack").and_then(Value::as_u64).unwrap_or(0) as u32,
                win: v.get("win").and_then(Value::as_u64).unwrap_or(0) as u32,
                len: v.get("len").and_then(Value::as_u64).unwrap_or(0) as u32,
                opts: v.s("opts").to_string(),
            })
        }
        "timer" => Kind::Timer {
            timer: need_s(v, "timer", line, ev)?.to_string(),
        },
        "cc" => Kind::Cc(Cc {
            cwnd: need_u(v, "cwnd", line, ev)?,
            ssthresh: v
                .get("ssthresh")
                .and_then(Value::as_u64)
                .filter(|&s| s < u64::from(u32::MAX)),
            flight: v.u("flight"),
            srtt_us: v.u("srtt_us"),
            rto_us: v.u("rto_us"),
            mss: v.u("mss"),
            ca_state: v
                .get("ca_state")
                .and_then(Value::as_str)
                .unwrap_or("open")
                .to_string(),
        }),
        "stack" => Kind::Stack {
            what: v.s("what").to_string(),
        },
        _ => return Ok(None),
    };
    Ok(Some(Event { line, t_us, kind }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_events_by_connection_and_ignores_what_it_does_not_know() {
        let text = "{\"trace\":\"tapstack\",\"version\":1,\"pid\":1,\"ifname\":\"tap0\",\"ip\":\"198.18.0.2\"}\n\
            {\"t_us\":5,\"conn\":\"198.18.0.2:80-198.18.0.1:5555\",\"ev\":\"state\",\"from\":\"LISTEN\",\"to\":\"SYN_RECEIVED\",\"cause\":\"rcvd SYN\",\"new\":[1,{}]}\n\
            {\"t_us\":6,\"conn\":\"[fd00::2]:80-[fd00::1]:5\",\"ev\":\"wobble\",\"x\":1}\n\
            {\"t_us\":7,\"conn\":\"[fd00::2]:80-[fd00::1]:5\",\"ev\":\"cc\",\"cwnd\":14600,\"ssthresh\":4294967295,\"ca_state\":\"open\"}\n\
            {\"t_us\":8,\"conn\":\"198.18.0.2:80-198.18.0.1:5555\",\"ev\":\"seg\",\"dir\":\"out\",\"flags\":\"S.\",\"seq\":4294967295,\"ack\":1,\"win\":65535,\"len\":0,\"opts\":\"mss 1460\"}\n\
            {\"t_us\":9,\"conn\":\"198.18.0.2:80-198.18";
        let tr = parse(text).unwrap();
        assert_eq!(tr.ip.as_deref(), Some("198.18.0.2"));
        assert_eq!(tr.conns.len(), 2);
        assert_eq!(tr.conns[0].events.len(), 2);
        assert_eq!(tr.conns[1].ends(), ("[fd00::2]:80", "[fd00::1]:5"));
        let Kind::Cc(cc) = &tr.conns[1].events[0].kind else {
            panic!()
        };
        assert_eq!((cc.cwnd, cc.ssthresh), (14600, None));
        let Kind::Seg(s) = &tr.conns[0].events[1].kind else {
            panic!()
        };
        assert!(s.out && s.syn() && s.has_ack() && !s.fin());
        assert_eq!((s.seq, s.line_of(&tr)), (u32::MAX, 5));
        assert_eq!(tr.warnings.len(), 1, "{:?}", tr.warnings);
        assert!(tr.warnings[0].starts_with("line 6: cut short"));
    }

    impl Seg {
        fn line_of(&self, tr: &Trace) -> usize {
            tr.conns
                .iter()
                .flat_map(|c| &c.events)
                .find(|e| e.kind == Kind::Seg(self.clone()))
                .unwrap()
                .line
        }
    }

    #[test]
    fn errors_name_the_line() {
        let bad = "{\"trace\":\"tapstack\",\"version\":1}\n{\"t_us\":1,\"conn\":\"a-b\",\"ev\":\"seg\",\"dir\":\"in\",\"flags\":\"S\"}\n";
        let e = parse(bad).unwrap_err();
        assert!(
            e.starts_with("line 2: a seg event without a number \"seq\""),
            "{e}"
        );
        // A broken line that is not the last, or a last one that ends its
        // line, is not a cut-short write.
        let e = parse("{\"t_us\":1,\n{}\n").unwrap_err();
        assert!(e.starts_with("line 1: not JSON"), "{e}");
        let e = parse("{}\n{\"t_us\":\n").unwrap_err();
        assert!(e.starts_with("line 1: a trace event without"), "{e}");
        let e = parse("[1]\n").unwrap_err();
        assert!(e.starts_with("line 1: not a JSON object"), "{e}");
    }
}
