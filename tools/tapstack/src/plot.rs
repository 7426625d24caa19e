//! `tapstack plot TRACE -o DIR`: pictures of each connection of a trace
//! (`trace.rs`), as SVG files a browser shows:
//!
//! - `-ladder.svg`: the segments between the two ends, time going down,
//!   labelled as tcpdump would (relative sequence numbers); our states from
//!   the trace beside our line, the peer's inferred from the segments
//!   (RFC 9293 section 3.3.2's diagram) beside its line, in italics;
//! - `-states.svg`: our end's states as bars over time;
//! - `-cwnd.svg`: cwnd, ssthresh and bytes in flight over time, the
//!   background shaded by phase: slow start, congestion avoidance (cwnd at
//!   or above ssthresh, RFC 5681 section 3.1), fast recovery (RFC 6582,
//!   RFC 6675), loss (after an RTO, RFC 6298 section 5);
//! - `-rtt.svg`: the smoothed RTT and the RTO over time (RFC 6298).

use crate::svg::{self, Frame, Key, Svg, n};
use crate::trace::{self, Cc, Conn, Kind, Seg};

pub const HELP: &str = "\
Usage: tapstack plot TRACE [-o DIR] [--conn SUBSTRING] [--max-segments N]

Draw each connection of a trace (written by a program run with
TAPSTACK_TRACE=FILE) as SVG pictures a browser shows, four a connection:

  CONN-ladder.svg  the segments between both ends, time going down, with
                   our states and the peer's (inferred, in italics)
  CONN-states.svg  our end's states over time
  CONN-cwnd.svg    cwnd, ssthresh (dashed) and bytes in flight over time;
                   slow start, congestion avoidance, fast recovery and
                   loss shaded
  CONN-rtt.svg     smoothed RTT and RTO over time

CONN is the connection's name with ':' and brackets made '_'. The paths
written are printed, one a line.

Options:
  -o, --out DIR         where to write them (made if missing; default .)
  --conn SUBSTRING      only the connections whose name contains it
                        (names are LOCAL_IP:PORT-REMOTE_IP:PORT)
  --max-segments N      the ladder shows the first and the last segments
                        of longer connections, N in all (default 80)
  --max-conns N         of more connections, draw the N with the most
                        events (default 50)
  -h, --help            this text";

/// The options of `tapstack plot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    pub trace: String,
    pub dir: String,
    pub conn: Option<String>,
    pub max_segments: usize,
    pub max_conns: usize,
    pub help: bool,
}

pub fn parse_args(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        trace: String::new(),
        dir: ".".into(),
        conn: None,
        max_segments: 80,
        max_conns: 50,
        help: false,
    };
    let mut trace = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |k: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{k} needs a value"))
        };
        match name {
            "-h" | "--help" => o.help = true,
            "-o" | "--out" => o.dir = value("-o")?,
            "--conn" => o.conn = Some(value("--conn")?),
            "--max-segments" => {
                let v = value("--max-segments")?;
                o.max_segments = v
                    .parse()
                    .ok()
                    .filter(|&m: &usize| m >= 2)
                    .ok_or(format!("--max-segments {v:?}: not a number of 2 or more"))?;
            }
            "--max-conns" => {
                let v = value("--max-conns")?;
                o.max_conns = v
                    .parse()
                    .ok()
                    .filter(|&m: &usize| m >= 1)
                    .ok_or(format!("--max-conns {v:?}: not a number of 1 or more"))?;
            }
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unknown option {a:?} (see tapstack plot --help)"));
            }
            _ if trace.is_none() => trace = Some(a.clone()),
            _ => return Err(format!("one trace at a time ({a:?} is a second)")),
        }
    }
    match trace {
        Some(t) => o.trace = t,
        None if o.help => {}
        None => return Err("which trace? (tapstack plot TRACE -o DIR)".into()),
    }
    Ok(o)
}

/// The command; returns the exit status.
pub fn main(args: &[String]) -> u8 {
    let o = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tapstack: plot: {e}");
            return 2;
        }
    };
    if o.help {
        println!("{HELP}");
        return 0;
    }
    let text = match std::fs::read(&o.trace) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            eprintln!("tapstack: plot: cannot read {}: {e}", o.trace);
            return 1;
        }
    };
    let tr = match trace::parse(&text) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tapstack: plot: {}: {e}", o.trace);
            return 1;
        }
    };
    for w in &tr.warnings {
        eprintln!("tapstack: plot: warning: {}: {w}", o.trace);
    }
    let chosen: Vec<&Conn> = tr
        .conns
        .iter()
        .filter(|c| o.conn.as_ref().is_none_or(|s| c.name.contains(s.as_str())))
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = tr.conns.iter().map(|c| c.name.as_str()).collect();
        eprintln!(
            "tapstack: plot: no connection{} in {} (it has: {})",
            o.conn
                .as_ref()
                .map(|s| format!(" matching {s:?}"))
                .unwrap_or_default(),
            o.trace,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
        return 1;
    }
    let mut chosen = chosen;
    if chosen.len() > o.max_conns {
        let mut busiest: Vec<usize> = (0..chosen.len()).collect();
        busiest.sort_by_key(|&i| std::cmp::Reverse(chosen[i].events.len()));
        busiest.truncate(o.max_conns);
        busiest.sort_unstable();
        eprintln!(
            "tapstack: plot: {} connections; drawing the {} with the most events \
             (--max-conns N for more, --conn SUBSTRING for others)",
            chosen.len(),
            o.max_conns
        );
        chosen = busiest.into_iter().map(|i| chosen[i]).collect();
    }
    if let Err(e) = std::fs::create_dir_all(&o.dir) {
        eprintln!("tapstack: plot: cannot make {}: {e}", o.dir);
        return 1;
    }
    for c in chosen {
        for (suffix, svg) in render(c, o.max_segments) {
            let path =
                std::path::Path::new(&o.dir).join(format!("{}-{suffix}.svg", sanitise(&c.name)));
            if let Err(e) = std::fs::write(&path, svg) {
                eprintln!("tapstack: plot: cannot write {}: {e}", path.display());
                return 1;
            }
            println!("{}", path.display());
        }
    }
    0
}

/// A connection's name as a file name: brackets and ':' become '_'.
pub fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The four pictures of a connection: (suffix, SVG text).
pub fn render(c: &Conn, max_segments: usize) -> Vec<(&'static str, String)> {
    vec![
        ("ladder", ladder(c, max_segments)),
        ("states", states(c)),
        ("cwnd", cwnd(c)),
        ("rtt", rtt(c)),
    ]
}

/// "FIN_WAIT_1" as RFC 9293 writes it: "FIN-WAIT-1".
fn state_name(s: &str) -> String {
    s.replace('_', "-")
}

/// `a` is at or after `b` in sequence space (RFC 9293 section 3.4).
fn seq_ge(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}
fn seq_lt(a: u32, b: u32) -> bool {
    !seq_ge(a, b)
}

fn t0(c: &Conn) -> u64 {
    c.events.iter().map(|e| e.t_us).min().unwrap_or(0)
}
fn t_end(c: &Conn) -> u64 {
    c.events.iter().map(|e| e.t_us).max().unwrap_or(0)
}
/// The last segment or cc event: where the charts over time end, so that
/// a TIME-WAIT's minute of nothing does not squeeze the transfer into a
/// sliver.
fn active_end(c: &Conn) -> u64 {
    c.events
        .iter()
        .filter(|e| matches!(e.kind, Kind::Seg(_) | Kind::Cc(_)))
        .map(|e| e.t_us)
        .max()
        .unwrap_or_else(|| t_end(c))
}

/// Formats a time since the connection's first event for the ladder.
fn fmt_rel(us: u64) -> String {
    if us < 10_000_000 {
        format!("{:.3} ms", us as f64 / 1000.0)
    } else {
        format!("{:.3} s", us as f64 / 1e6)
    }
}

/// A duration, short.
fn fmt_dur(us: u64) -> String {
    if us < 1000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{:.2} s", us as f64 / 1e6)
    }
}

/// The segment's flags in words: "SYN,ACK", "PSH,ACK", "FIN,ACK", "RST".
fn flag_words(flags: &str) -> String {
    let mut w = Vec::new();
    for (c, name) in [
        ('S', "SYN"),
        ('F', "FIN"),
        ('R', "RST"),
        ('P', "PSH"),
        ('.', "ACK"),
    ] {
        if flags.contains(c) {
            w.push(name);
        }
    }
    if w.is_empty() {
        "none".into()
    } else {
        w.join(",")
    }
}

/// The initial sequence numbers of both ends (ours, the peer's): their SYNs',
/// or, when the trace has none, the first sequence number each sent.
fn isns(segs: &[&Seg]) -> (u32, u32) {
    let pick = |out: bool| {
        segs.iter()
            .find(|s| s.out == out && s.syn())
            .or_else(|| segs.iter().find(|s| s.out == out))
            .map(|s| s.seq)
            .or_else(|| {
                segs.iter()
                    .find(|s| s.out != out && s.has_ack())
                    .map(|s| s.ack.wrapping_sub(1))
            })
            .unwrap_or(0)
    };
    (pick(true), pick(false))
}

/// A segment labelled as tcpdump would, with relative sequence numbers:
/// "SYN seq=0 win=64240 <mss 1460>", "ACK ack=1 win=..", "PSH,ACK
/// seq=1:101 ack=1 win=.. len=100".
fn seg_label(s: &Seg, ours: u32, theirs: u32) -> String {
    let (own, other) = if s.out {
        (ours, theirs)
    } else {
        (theirs, ours)
    };
    let rel = s.seq.wrapping_sub(own);
    let mut l = flag_words(&s.flags);
    if s.len > 0 {
        l += &format!(" seq={}:{}", rel, rel.wrapping_add(s.len));
    } else if s.syn() || s.fin() || s.rst() || !s.has_ack() {
        l += &format!(" seq={rel}");
    }
    if s.has_ack() {
        l += &format!(" ack={}", s.ack.wrapping_sub(other));
    }
    l += &format!(" win={}", s.win);
    if s.len > 0 {
        l += &format!(" len={}", s.len);
    }
    // What fits between the two lines (the options are cut to fit).
    if !s.opts.is_empty() {
        let room = LABEL_MAX.saturating_sub(l.chars().count() + 3);
        if s.opts.chars().count() <= room {
            l += &format!(" <{}>", s.opts);
        } else if room >= 6 {
            let o: String = s.opts.chars().take(room - 1).collect();
            l += &format!(" <{o}…>");
        }
    }
    l
}

/// The most characters of a segment's label (monospace, 12 px, between
/// lines 520 px apart).
const LABEL_MAX: usize = 70;

/// The peer's states, inferred from the segments alone (RFC 9293 section
/// 3.3.2): its initial state, and per segment index what it moved to.
/// Losses are not known, so a segment we sent is taken to have arrived.
/// Each is drawn where the segment meets the peer's line: as it leaves, or
/// as it arrives.
fn infer_peer(segs: &[&Seg]) -> (Option<&'static str>, Vec<Vec<&'static str>>) {
    let mut changes = vec![Vec::new(); segs.len()];
    let initial = match segs.first() {
        Some(s) if s.out && s.syn() && !s.has_ack() => Some("LISTEN"),
        Some(s) if !s.out && s.syn() && !s.has_ack() => Some("CLOSED"),
        Some(_) => Some("ESTABLISHED"),
        None => None,
    };
    let Some(mut st) = initial else {
        return (None, changes);
    };
    let (our_isn, peer_isn) = isns(segs);
    // The sequence number just past the peer's FIN, once it sent one.
    let mut peer_fin_end: Option<u32> = None;
    for (i, s) in segs.iter().enumerate() {
        let before = st;
        let next = if s.rst() {
            "CLOSED"
        } else if !s.out {
            // The peer sent it.
            if s.fin() {
                peer_fin_end = Some(s.seq.wrapping_add(s.len).wrapping_add(1));
            }
            let acks_our_syn = s.has_ack() && seq_ge(s.ack, our_isn.wrapping_add(1));
            match st {
                "CLOSED" if s.syn() && !s.has_ack() => "SYN-SENT",
                "LISTEN" if s.syn() => "SYN-RECEIVED",
                "SYN-SENT" if acks_our_syn && !s.syn() => "ESTABLISHED",
                "SYN-SENT" if s.syn() && s.has_ack() => "SYN-RECEIVED",
                "ESTABLISHED" if s.fin() => "FIN-WAIT-1",
                "CLOSE-WAIT" if s.fin() => "LAST-ACK",
                "SYN-RECEIVED" if s.fin() => "FIN-WAIT-1",
                other => other,
            }
        } else {
            // The peer received it.
            let acks_fin =
                |s: &Seg| matches!(peer_fin_end, Some(e) if s.has_ack() && seq_ge(s.ack, e));
            match st {
                "LISTEN" if s.syn() && !s.has_ack() => "SYN-RECEIVED",
                "SYN-SENT" if s.syn() && s.has_ack() => "SYN-SENT",
                "SYN-SENT" if s.syn() => "SYN-RECEIVED",
                "SYN-RECEIVED"
                    if s.has_ack() && seq_ge(s.ack, peer_isn.wrapping_add(1)) && !s.syn() =>
                {
                    if s.fin() { "CLOSE-WAIT" } else { "ESTABLISHED" }
                }
                "ESTABLISHED" if s.fin() => "CLOSE-WAIT",
                "FIN-WAIT-1" if s.fin() && acks_fin(s) => "TIME-WAIT",
                "FIN-WAIT-1" if s.fin() => "CLOSING",
                "FIN-WAIT-1" if acks_fin(s) => "FIN-WAIT-2",
                "FIN-WAIT-2" if s.fin() => "TIME-WAIT",
                "CLOSING" if acks_fin(s) => "TIME-WAIT",
                "LAST-ACK" if acks_fin(s) => "CLOSED",
                other => other,
            }
        };
        // A SYN-SENT peer that gets our SYN-ACK moves on when it ACKs
        // (above); one whose SYN-ACK reaches us moved when it sent it.
        if next != before {
            changes[i].push(next);
            st = next;
        }
    }
    (Some(initial.unwrap_or("CLOSED")), changes)
}

// Ladder geometry.
const OUR_X: f64 = 300.0;
const PEER_X: f64 = 820.0;
const LADDER_W: f64 = 1060.0;
const SLANT: f64 = 12.0;
const ROW: f64 = 26.0;
const TOP: f64 = 124.0;

/// The ladder (sequence) diagram of a connection.
pub fn ladder(c: &Conn, max_segments: usize) -> String {
    let t0 = t0(c);
    let segs: Vec<(usize, u64, &Seg)> = c
        .events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.kind {
            Kind::Seg(s) => Some((i, e.t_us, s)),
            _ => None,
        })
        .collect();
    let only: Vec<&Seg> = segs.iter().map(|s| s.2).collect();
    let (ours, theirs) = isns(&only);
    let (peer_initial, peer_changes) = infer_peer(&only);
    let nseg = segs.len();
    // Which segments show: all, or the first and the last.
    let (head, tail) = if nseg > max_segments {
        let tail = max_segments / 4;
        (max_segments - tail, tail)
    } else {
        (nseg, 0)
    };
    let shown = |k: usize| k < head || k >= nseg - tail;

    // Time between shown rows, to space them and find idle gaps.
    let mut dts: Vec<u64> = segs
        .windows(2)
        .map(|w| w[1].1.saturating_sub(w[0].1))
        .filter(|&d| d > 0)
        .collect();
    dts.sort_unstable();
    let ref_us = dts.get(dts.len() / 2).copied().unwrap_or(1000).max(1) as f64;

    let (local, remote) = c.ends();
    let title = format!("Ladder: {local} ↔ {remote} ({nseg} segments)");
    // Rows first (their y), then drawing, so that the height is known.
    #[derive(Clone, Copy)]
    enum Row {
        Seg(usize, f64),
        /// A break: (y from, y to, text).
        Break(f64, f64),
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut breaks: Vec<(f64, f64, String)> = Vec::new();
    let mut y = TOP;
    let mut prev_t: Option<u64> = None;
    let mut in_ellipsis = false;
    for (k, &(_, t, _)) in segs.iter().enumerate() {
        if !shown(k) {
            if !in_ellipsis {
                in_ellipsis = true;
                let from = segs[k].1.saturating_sub(t0);
                let to = segs[nseg - tail - 1].1.saturating_sub(t0);
                let hidden = nseg - head - tail;
                let y0 = y + 6.0;
                y += 44.0;
                breaks.push((
                    y0,
                    y - 14.0,
                    format!(
                        "⋯ {hidden} segments not shown ({} to {}) ⋯",
                        fmt_rel(from),
                        fmt_rel(to)
                    ),
                ));
                rows.push(Row::Break(y0, y - 14.0));
            }
            prev_t = None;
            continue;
        }
        if let Some(p) = prev_t {
            let dt = t.saturating_sub(p) as f64;
            if dt > 50.0 * ref_us && dt > 50_000.0 {
                let y0 = y + 6.0;
                y += 40.0;
                breaks.push((
                    y0,
                    y - 12.0,
                    format!("≈ {} later", fmt_dur(t.saturating_sub(p))),
                ));
                rows.push(Row::Break(y0, y - 12.0));
            } else {
                y += ROW + (dt / ref_us * 4.0).min(20.0);
                // An arrow from the peer after one of ours starts higher
                // (it left before it arrived): room for its label.
                if segs[k - 1].2.out && !segs[k].2.out {
                    y += SLANT;
                }
            }
        } else if !rows.is_empty() || k > 0 {
            y += ROW;
        }
        rows.push(Row::Seg(k, y));
        prev_t = Some(t);
    }
    let height = y + SLANT + 90.0;
    let mut svg = Svg::new(LADDER_W, height, &title);
    svg.raw(
        "<defs>\
         <marker id=\"ladder-arrow-out\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#1d4ed8\"/></marker>\
         <marker id=\"ladder-arrow-in\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#047857\"/></marker>\
         <marker id=\"ladder-arrow-rst\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#dc2626\"/></marker>\
         </defs>",
    );
    // Heads of the lines.
    svg.text(
        OUR_X,
        52.0,
        &format!("tapstack {local}"),
        "class=\"end ours\" text-anchor=\"middle\" font-weight=\"bold\" font-size=\"14\"",
    );
    svg.text(
        PEER_X,
        52.0,
        &format!("peer {remote}"),
        "class=\"end peer\" text-anchor=\"middle\" font-weight=\"bold\" font-size=\"14\"",
    );
    svg.text(
        OUR_X - 12.0,
        74.0,
        "our states (from the trace)",
        "class=\"note\" text-anchor=\"end\" font-size=\"11\" fill=\"#4b5563\"",
    );
    svg.text(
        PEER_X + 12.0,
        74.0,
        "peer states (inferred)",
        "class=\"note\" font-style=\"italic\" font-size=\"11\" fill=\"#4b5563\"",
    );
    svg.text(
        12.0,
        74.0,
        "time",
        "class=\"note\" font-size=\"11\" fill=\"#4b5563\"",
    );
    // Lifelines, cut at the breaks.
    let bottom = y + SLANT + 20.0;
    let mut from = TOP - 20.0;
    for (b0, b1, text) in &breaks {
        for x in [OUR_X, PEER_X] {
            svg.line(
                x,
                from,
                x,
                *b0,
                "class=\"lifeline\" stroke=\"#374151\" stroke-width=\"2\"",
            );
            svg.line(
                x - 8.0,
                *b0 + 2.0,
                x + 8.0,
                *b0 - 2.0,
                "stroke=\"#374151\" stroke-width=\"1.5\"",
            );
            svg.line(
                x - 8.0,
                *b1 + 2.0,
                x + 8.0,
                *b1 - 2.0,
                "stroke=\"#374151\" stroke-width=\"1.5\"",
            );
            svg.line(
                x,
                *b0,
                x,
                *b1,
                "stroke=\"#9ca3af\" stroke-width=\"2\" stroke-dasharray=\"2 4\"",
            );
        }
        svg.text(
            (OUR_X + PEER_X) / 2.0,
            (b0 + b1) / 2.0 + 4.0,
            text,
            "class=\"break\" text-anchor=\"middle\" font-style=\"italic\" fill=\"#4b5563\"",
        );
        from = *b1;
    }
    for x in [OUR_X, PEER_X] {
        svg.line(
            x,
            from,
            x,
            bottom,
            "class=\"lifeline\" stroke=\"#374151\" stroke-width=\"2\"",
        );
    }

    // Where each segment meets each line, and the arrows.
    let mut y_ours: Vec<Option<f64>> = vec![None; nseg];
    let mut y_peer: Vec<Option<f64>> = vec![None; nseg];
    let mut sent_hi: [Option<u32>; 2] = [None, None];
    let mut retrans = vec![false; nseg];
    for (k, &(_, _, s)) in segs.iter().enumerate() {
        // A retransmission: it starts below what that end already sent.
        let d = usize::from(s.out);
        let span = s.len + u32::from(s.syn()) + u32::from(s.fin());
        if span > 0 {
            if let Some(hi) = sent_hi[d]
                && seq_lt(s.seq, hi)
            {
                retrans[k] = true;
            }
            let end = s.seq.wrapping_add(span);
            if sent_hi[d].is_none_or(|hi| seq_lt(hi, end)) {
                sent_hi[d] = Some(end);
            }
        }
    }
    // Y of the ellipsis/break rows, for states that change out of sight.
    let mut ellipsis_y: Option<f64> = None;
    for row in &rows {
        match *row {
            Row::Seg(k, y) => {
                let (_, t, s) = segs[k];
                let (x1, y1, x2, y2) = if s.out {
                    (OUR_X, y, PEER_X, y + SLANT)
                } else {
                    (PEER_X, y - SLANT, OUR_X, y)
                };
                y_ours[k] = Some(if s.out { y1 } else { y2 });
                y_peer[k] = Some(if s.out { y2 } else { y1 });
                let (color, marker, class) = if s.rst() {
                    ("#dc2626", "rst", "rst")
                } else if s.out {
                    ("#1d4ed8", "out", "out")
                } else {
                    ("#047857", "in", "in")
                };
                let dash = if retrans[k] {
                    " stroke-dasharray=\"6 3\""
                } else {
                    ""
                };
                let x2a = if s.out { x2 - 1.0 } else { x2 + 1.0 };
                svg.line(
                    x1,
                    y1,
                    x2a,
                    y2,
                    &format!("class=\"seg {class}\" stroke=\"{color}\" stroke-width=\"1.5\"{dash} marker-end=\"url(#ladder-arrow-{marker})\""),
                );
                let mut label = seg_label(s, ours, theirs);
                if retrans[k] {
                    label += " (retransmission)";
                }
                svg.text(
                    (OUR_X + PEER_X) / 2.0,
                    (y1 + y2) / 2.0 - 5.0,
                    &label,
                    &format!("class=\"seg-label {class}\" text-anchor=\"middle\" font-family=\"DejaVu Sans Mono, Liberation Mono, monospace\" font-size=\"12\" fill=\"{color}\""),
                );
                svg.text(
                    12.0,
                    y + 4.0,
                    &fmt_rel(t.saturating_sub(t0)),
                    "class=\"time\" font-size=\"11\" fill=\"#4b5563\"",
                );
            }
            Row::Break(b0, b1) => {
                if ellipsis_y.is_none() {
                    ellipsis_y = Some((b0 + b1) / 2.0);
                }
            }
        }
    }

    // Our states: beside our line where they change, at the segment that
    // came just before in the trace (or the first, for a connect()).
    let seg_index_of_event: Vec<Option<usize>> = {
        let mut v = vec![None; c.events.len()];
        for (k, &(i, _, _)) in segs.iter().enumerate() {
            v[i] = Some(k);
        }
        v
    };
    let mut last_y = f64::MIN;
    let mut seen = 0usize; // segments before this event
    let mut first_state = true;
    for (i, e) in c.events.iter().enumerate() {
        if seg_index_of_event[i].is_some() {
            seen += 1;
            continue;
        }
        // A note of the stack's ("sent RST: ...") shows where a state would.
        let (state, note) = match &e.kind {
            Kind::State { from, to, cause } => (Some((from, to)), cause.as_str()),
            Kind::Stack { what } => (None, what.as_str()),
            _ => continue,
        };
        // The nearer in time of the segments either side (the earlier on a
        // tie): a close() shows at the FIN it sends, a received FIN's
        // CLOSE-WAIT at that FIN.
        let at = match (seen.checked_sub(1), (seen < nseg).then_some(seen)) {
            (Some(p), Some(q))
                if segs[q].1.saturating_sub(e.t_us) < e.t_us.saturating_sub(segs[p].1) =>
            {
                q
            }
            (Some(p), _) => p,
            (None, _) => 0,
        };
        let y = if nseg == 0 {
            TOP
        } else if shown(at) {
            y_ours[at].unwrap_or(TOP)
        } else {
            ellipsis_y.unwrap_or(TOP)
        };
        let Some((from, to)) = state else {
            let y = y.max(last_y + 14.0);
            last_y = y;
            svg.text(
                OUR_X - 12.0,
                y + 4.0,
                note,
                "class=\"stack-note\" text-anchor=\"end\" font-style=\"italic\" font-size=\"11\" fill=\"#6b7280\"",
            );
            continue;
        };
        if first_state {
            first_state = false;
            svg.text(
                OUR_X - 12.0,
                TOP - 28.0,
                &state_name(from),
                "class=\"state ours\" text-anchor=\"end\" font-weight=\"bold\" font-size=\"12\"",
            );
        }
        let y = y.max(last_y + 26.0);
        last_y = y;
        svg.text(
            OUR_X - 12.0,
            y + 4.0,
            &state_name(to),
            "class=\"state ours\" text-anchor=\"end\" font-weight=\"bold\" font-size=\"12\"",
        );
        if !note.is_empty() {
            svg.text(
                OUR_X - 12.0,
                y + 17.0,
                &format!("({note})"),
                "class=\"cause\" text-anchor=\"end\" font-size=\"10\" fill=\"#6b7280\"",
            );
        }
    }

    // The peer's, inferred.
    if let Some(init) = peer_initial {
        svg.text(
            PEER_X + 12.0,
            TOP - 28.0,
            &state_name(init),
            "class=\"state peer inferred\" font-style=\"italic\" font-size=\"12\"",
        );
    }
    let mut last_y = f64::MIN;
    for (k, ch) in peer_changes.iter().enumerate() {
        for &st in ch {
            let y = if shown(k) {
                y_peer[k].unwrap_or(TOP)
            } else {
                ellipsis_y.unwrap_or(TOP)
            };
            let y = y.max(last_y + 16.0);
            last_y = y;
            svg.text(
                PEER_X + 12.0,
                y + 4.0,
                st,
                "class=\"state peer inferred\" font-style=\"italic\" font-size=\"12\"",
            );
        }
    }

    // Legend.
    let ly = bottom + 14.0;
    svg.line(
        40.0,
        ly,
        80.0,
        ly,
        "stroke=\"#1d4ed8\" stroke-width=\"1.5\"",
    );
    svg.text(
        86.0,
        ly + 4.0,
        "sent by tapstack",
        "class=\"legend-entry\" font-size=\"12\"",
    );
    svg.line(
        220.0,
        ly,
        260.0,
        ly,
        "stroke=\"#047857\" stroke-width=\"1.5\"",
    );
    svg.text(
        266.0,
        ly + 4.0,
        "sent by the peer",
        "class=\"legend-entry\" font-size=\"12\"",
    );
    svg.line(
        400.0,
        ly,
        440.0,
        ly,
        "stroke=\"#374151\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\"",
    );
    svg.text(
        446.0,
        ly + 4.0,
        "retransmission",
        "class=\"legend-entry\" font-size=\"12\"",
    );
    svg.text(
        580.0,
        ly + 4.0,
        "sequence numbers relative to each end's SYN; times since the first event",
        "class=\"legend-entry\" font-size=\"12\" fill=\"#4b5563\"",
    );
    svg.finish()
}

/// The order states are listed in (RFC 9293 section 3.3.2).
const STATES: &[&str] = &[
    "CLOSED",
    "LISTEN",
    "SYN_SENT",
    "SYN_RECEIVED",
    "ESTABLISHED",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "CLOSE_WAIT",
    "CLOSING",
    "LAST_ACK",
    "TIME_WAIT",
];

fn state_color(s: &str) -> &'static str {
    match s {
        "ESTABLISHED" => "#16a34a",
        "SYN_SENT" | "SYN_RECEIVED" => "#2563eb",
        "FIN_WAIT_1" | "FIN_WAIT_2" | "CLOSING" | "TIME_WAIT" => "#d97706",
        "CLOSE_WAIT" | "LAST_ACK" => "#9333ea",
        "LISTEN" => "#0891b2",
        _ => "#6b7280",
    }
}

/// Our end's states over time, as horizontal bars.
pub fn states(c: &Conn) -> String {
    let t0 = t0(c);
    let end = t_end(c) - t0;
    // The axis ends a little after the last segment; a state that lasts
    // beyond (TIME-WAIT's 2MSL) is cut there, its note saying how long.
    let shown_end = ((active_end(c) - t0) as f64 * 1.1).max(1.0) as u64;
    let shown_end = if end <= shown_end {
        end.max(1)
    } else {
        shown_end
    };
    // (state, from, to, cause)
    let mut spans: Vec<(String, u64, u64, String)> = Vec::new();
    for e in &c.events {
        if let Kind::State { from, to, cause } = &e.kind {
            let t = e.t_us - t0;
            match spans.last_mut() {
                Some(last) => last.2 = t,
                None => spans.push((from.clone(), 0, t, String::new())),
            }
            spans.push((to.clone(), t, end, cause.clone()));
        }
    }
    let mut rows: Vec<String> = Vec::new();
    for s in STATES {
        if spans.iter().any(|sp| sp.0 == *s) {
            rows.push(s.to_string());
        }
    }
    for sp in &spans {
        if !rows.contains(&sp.0) {
            rows.push(sp.0.clone());
        }
    }
    let (local, remote) = c.ends();
    let title = format!("States of tapstack's end: {local} ↔ {remote}");
    let row_h = 34.0;
    let top = 60.0;
    let h = top + row_h * rows.len().max(1) as f64 + 70.0;
    let mut svg = Svg::new(960.0, h, &title);
    if spans.is_empty() {
        svg.text(
            480.0,
            top + 20.0,
            "no state changes in this connection's trace",
            "class=\"empty\" text-anchor=\"middle\"",
        );
        return svg.finish();
    }
    let (div, unit) = svg::time_unit(shown_end as f64);
    let x0 = 150.0;
    let f = Frame::axes(
        &mut svg,
        x0,
        top,
        780.0,
        row_h * rows.len() as f64,
        shown_end as f64 / div,
        1.0,
        &format!("time since the first event ({unit})"),
        "",
    );
    for (i, r) in rows.iter().enumerate() {
        let cy = top + row_h * (i as f64 + 0.5);
        svg.text(
            x0 - 8.0,
            cy + 4.0,
            &state_name(r),
            "class=\"state-row\" text-anchor=\"end\" font-size=\"12\"",
        );
    }
    for (st, a, b, cause) in &spans {
        let i = rows.iter().position(|r| r == st).unwrap_or(0);
        let cy = top + row_h * (i as f64 + 0.5);
        let xa = f.px(*a as f64 / div);
        let xb = f.px(*b as f64 / div).max(xa + 3.0);
        svg.rect(
            xa,
            cy - 9.0,
            xb - xa,
            18.0,
            &format!(
                "class=\"state-bar\" data-state=\"{}\" fill=\"{}\" rx=\"2\"",
                svg::esc(&state_name(st)),
                state_color(st)
            ),
        );
        let mut note = fmt_dur(b.saturating_sub(*a));
        if *a > shown_end {
            note = format!("from {}", fmt_rel(*a));
        } else if *b > shown_end {
            note += " (cut)";
        }
        if !cause.is_empty() {
            note += &format!(" ({cause})");
        }
        // Right of the bar where it fits, else left of it, else (a bar
        // as wide as the plot) inside it, in white.
        let width = 6.5 * note.chars().count() as f64;
        if xb + 8.0 + width <= f.x0 + f.w {
            svg.text(
                xb + 6.0,
                cy + 4.0,
                &note,
                "class=\"bar-note\" font-size=\"11\" fill=\"#374151\"",
            );
        } else if xa - 8.0 - width < f.x0 {
            svg.text(
                xa + 6.0,
                cy + 4.0,
                &note,
                "class=\"bar-note\" font-size=\"11\" fill=\"#ffffff\"",
            );
        } else {
            svg.text(
                xa - 6.0,
                cy + 4.0,
                &note,
                "class=\"bar-note\" text-anchor=\"end\" font-size=\"11\" fill=\"#374151\"",
            );
        }
    }
    svg.finish()
}

/// The phase of congestion control a `cc` event shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    SlowStart,
    Avoidance,
    Disorder,
    Recovery,
    Loss,
}

impl Phase {
    fn of(cc: &Cc) -> Phase {
        match cc.ca_state.as_str() {
            "recovery" => Phase::Recovery,
            "loss" => Phase::Loss,
            "disorder" => Phase::Disorder,
            // RFC 5681 section 3.1: slow start while cwnd < ssthresh.
            _ if cc.ssthresh.is_some_and(|s| cc.cwnd >= s) => Phase::Avoidance,
            _ => Phase::SlowStart,
        }
    }
    fn label(self) -> &'static str {
        match self {
            Phase::SlowStart => "slow start",
            Phase::Avoidance => "congestion avoidance",
            Phase::Disorder => "disorder",
            Phase::Recovery => "fast recovery",
            Phase::Loss => "loss",
        }
    }
    fn class(self) -> &'static str {
        match self {
            Phase::SlowStart => "slow-start",
            Phase::Avoidance => "avoidance",
            Phase::Disorder => "disorder",
            Phase::Recovery => "recovery",
            Phase::Loss => "loss",
        }
    }
    fn fill(self) -> &'static str {
        match self {
            Phase::SlowStart => "#dbeafe",
            Phase::Avoidance => "#dcfce7",
            Phase::Disorder => "#f3e8ff",
            Phase::Recovery => "#fde68a",
            Phase::Loss => "#fecaca",
        }
    }
}

fn ccs(c: &Conn) -> Vec<(u64, &Cc)> {
    let t0 = t0(c);
    c.events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Cc(cc) => Some((e.t_us - t0, cc)),
            _ => None,
        })
        .collect()
}

fn rto_fired(c: &Conn) -> Vec<u64> {
    let t0 = t0(c);
    c.events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Timer { timer } if timer == "rto" => Some(e.t_us - t0),
            _ => None,
        })
        .collect()
}

/// A value held until the next change, as the points of a polyline.
fn steps(pts: &[(f64, f64)], x_end: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for (i, &(x, y)) in pts.iter().enumerate() {
        if i > 0 {
            out.push((x, pts[i - 1].1));
        }
        out.push((x, y));
    }
    if let Some(&(_, y)) = pts.last() {
        out.push((x_end, y));
    }
    thin(out)
}

/// A long run's curve keeps, of each pixel column, its first, lowest,
/// highest and last points: the same picture, not a file of megabytes.
fn thin(pts: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if pts.len() <= 2000 {
        return pts;
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < pts.len() {
        let col = pts[i].0.round();
        let j = i + pts[i..].iter().take_while(|p| p.0.round() == col).count();
        let g = &pts[i..j];
        let (mut lo, mut hi) = (0, 0);
        for (k, p) in g.iter().enumerate() {
            if p.1 < g[lo].1 {
                lo = k;
            }
            if p.1 > g[hi].1 {
                hi = k;
            }
        }
        let mut keep = [0, lo, hi, g.len() - 1];
        keep.sort_unstable();
        let mut last = usize::MAX;
        for k in keep {
            if k != last {
                out.push(g[k]);
                last = k;
            }
        }
        i = j;
    }
    out
}

const CWND_STYLE: &str = "stroke=\"#1d4ed8\" stroke-width=\"2\"";
const SSTHRESH_STYLE: &str = "stroke=\"#dc2626\" stroke-width=\"2\" stroke-dasharray=\"8 4\"";
const FLIGHT_STYLE: &str = "stroke=\"#15803d\" stroke-width=\"1.5\"";

/// cwnd, ssthresh and bytes in flight over time, phases shaded.
pub fn cwnd(c: &Conn) -> String {
    let (local, remote) = c.ends();
    let title = format!("cwnd, ssthresh, bytes in flight: {local} ↔ {remote}");
    let mut svg = Svg::new(1000.0, 480.0, &title);
    let cc = ccs(c);
    if cc.is_empty() {
        svg.text(
            500.0,
            200.0,
            "no congestion-control events in this connection's trace",
            "class=\"empty\" text-anchor=\"middle\"",
        );
        return svg.finish();
    }
    let end = (active_end(c) - t0(c)).max(1) as f64;
    let (tdiv, tunit) = svg::time_unit(end);
    let top_val = cc
        .iter()
        .map(|(_, c)| c.cwnd.max(c.flight))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.15;
    let (bdiv, bunit) = svg::byte_unit(top_val);
    let f = Frame::axes(
        &mut svg,
        90.0,
        50.0,
        680.0,
        360.0,
        end / tdiv,
        top_val / bdiv,
        &format!("time since the first event ({tunit})"),
        bunit,
    );
    let px = |t: u64| f.px(t as f64 / tdiv);
    let py = |b: u64| f.py(b as f64 / bdiv);

    // The phases, shaded behind the curves.
    let mut spans: Vec<(Phase, u64, u64)> = Vec::new();
    for &(t, c) in &cc {
        let p = Phase::of(c);
        match spans.last_mut() {
            Some(last) if last.0 == p => {}
            Some(last) => {
                last.2 = t;
                spans.push((p, t, end as u64));
            }
            None => spans.push((p, t, end as u64)),
        }
    }
    let mut label_end = f64::MIN;
    for &(p, a, b) in &spans {
        let (xa, xb) = (px(a), px(b).max(px(a) + 1.0));
        svg.rect(
            xa,
            f.y0,
            xb - xa,
            f.h,
            &format!(
                "class=\"phase phase-{}\" fill=\"{}\" fill-opacity=\"0.8\"",
                p.class(),
                p.fill()
            ),
        );
    }
    for &(p, a, b) in &spans {
        let (xa, xb) = (px(a), px(b));
        let wtext = 7.0 * p.label().len() as f64;
        if xb - xa >= wtext.min(60.0) && xa + 3.0 > label_end {
            svg.text(
                xa + 3.0,
                f.y0 + 16.0,
                p.label(),
                &format!(
                    "class=\"phase-label phase-{}\" font-size=\"12\" fill=\"#374151\"",
                    p.class()
                ),
            );
            label_end = xa + 3.0 + wtext;
        }
    }
    // Each time cwnd grows to ssthresh (in slow start, or in slow start
    // after an RTO while still in loss); not the end of a fast recovery,
    // which sets cwnd to ssthresh. Labels that would overlap are left out.
    let mut label_end = f64::MIN;
    for w in cc.windows(2) {
        let (a, b) = (w[0].1, w[1].1);
        let below = a.ssthresh.is_some_and(|s| a.cwnd < s);
        let reached = b.ssthresh.is_some_and(|s| b.cwnd >= s);
        let growing = a.ca_state != "recovery" && b.ca_state != "recovery" && b.cwnd > a.cwnd;
        if below && reached && growing {
            let x = px(w[1].0);
            svg.line(
                x,
                f.y0,
                x,
                f.y0 + f.h,
                "class=\"crossing\" stroke=\"#374151\" stroke-width=\"1\" stroke-dasharray=\"2 3\"",
            );
            if x + 3.0 > label_end {
                let (lx, anchor) = if x + 95.0 > f.x0 + f.w {
                    (x - 3.0, "end")
                } else {
                    (x + 3.0, "start")
                };
                svg.text(
                    lx,
                    f.y0 + f.h - 8.0,
                    "cwnd ≥ ssthresh",
                    &format!("class=\"crossing-label\" text-anchor=\"{anchor}\" font-size=\"11\" fill=\"#374151\""),
                );
                label_end = x + 95.0;
            }
        }
    }
    // The curves.
    let flight: Vec<(f64, f64)> = cc.iter().map(|&(t, c)| (px(t), py(c.flight))).collect();
    svg.polyline(
        &steps(&flight, px(end as u64)),
        &format!("class=\"series flight\" {FLIGHT_STYLE}"),
    );
    // ssthresh only where finite: one polyline per finite stretch.
    let mut stretch: Vec<(f64, f64)> = Vec::new();
    let mut stretches = Vec::new();
    for &(t, c) in &cc {
        match c.ssthresh {
            Some(s) => stretch.push((px(t), py(s))),
            None if !stretch.is_empty() => {
                stretch.push((px(t), f64::NAN));
                stretches.push(std::mem::take(&mut stretch));
            }
            None => {}
        }
    }
    if !stretch.is_empty() {
        stretches.push(stretch);
    }
    for s in stretches {
        let mut pts = s.clone();
        let close = pts.last().is_some_and(|p| p.1.is_nan());
        let x_end = if close {
            pts.pop().map(|p| p.0).unwrap_or(0.0)
        } else {
            px(end as u64)
        };
        svg.polyline(
            &steps(&pts, x_end),
            &format!("class=\"series ssthresh\" {SSTHRESH_STYLE}"),
        );
    }
    let cw: Vec<(f64, f64)> = cc.iter().map(|&(t, c)| (px(t), py(c.cwnd))).collect();
    svg.polyline(
        &steps(&cw, px(end as u64)),
        &format!("class=\"series cwnd\" {CWND_STYLE}"),
    );
    let rtos = rto_fired(c);
    for &t in &rtos {
        let x = px(t);
        svg.raw(&format!(
            "<path class=\"rto-fired\" d=\"M{},{} l-5,-9 h10 z\" fill=\"#b91c1c\"/>",
            n(x),
            n(f.y0 + f.h)
        ));
    }
    let mut keys = vec![
        (Key::Line(CWND_STYLE.into()), "cwnd".to_string()),
        (Key::Line(SSTHRESH_STYLE.into()), "ssthresh".to_string()),
        (
            Key::Line(FLIGHT_STYLE.into()),
            "bytes in flight".to_string(),
        ),
    ];
    for p in [
        Phase::SlowStart,
        Phase::Avoidance,
        Phase::Disorder,
        Phase::Recovery,
        Phase::Loss,
    ] {
        if spans.iter().any(|s| s.0 == p) {
            keys.push((Key::Area(p.fill().into()), p.label().to_string()));
        }
    }
    if !rtos.is_empty() {
        keys.push((Key::Area("#b91c1c".into()), "RTO fired (▲)".to_string()));
    }
    svg::legend(&mut svg, 790.0, 50.0, &keys);
    if let Some(m) = cc.iter().map(|(_, c)| c.mss).find(|&m| m > 0) {
        svg.text(
            790.0,
            80.0 + 20.0 * keys.len() as f64,
            &format!("mss {m} bytes"),
            "class=\"note\" font-size=\"12\" fill=\"#4b5563\"",
        );
    }
    svg.finish()
}

const SRTT_STYLE: &str = "stroke=\"#1d4ed8\" stroke-width=\"2\"";
const RTO_STYLE: &str = "stroke=\"#b91c1c\" stroke-width=\"2\" stroke-dasharray=\"8 4\"";

/// The smoothed RTT and the RTO over time.
pub fn rtt(c: &Conn) -> String {
    let (local, remote) = c.ends();
    let title = format!("Smoothed RTT and RTO: {local} ↔ {remote}");
    let mut svg = Svg::new(1000.0, 480.0, &title);
    let cc: Vec<(u64, &Cc)> = ccs(c)
        .into_iter()
        .filter(|(_, c)| c.srtt_us > 0 || c.rto_us > 0)
        .collect();
    if cc.is_empty() {
        svg.text(
            500.0,
            200.0,
            "no RTT measurements in this connection's trace",
            "class=\"empty\" text-anchor=\"middle\"",
        );
        return svg.finish();
    }
    let end = (active_end(c) - t0(c)).max(1) as f64;
    let (tdiv, tunit) = svg::time_unit(end);
    // A logarithmic axis: an RTT of 1 ms under an RTO of 200 ms (or the
    // initial 1 s) is still seen.
    let vals = cc
        .iter()
        .flat_map(|(_, c)| [c.srtt_us, c.rto_us])
        .filter(|&v| v > 0);
    let lo = vals.clone().min().unwrap_or(1) as f64;
    let hi = vals.max().unwrap_or(1) as f64;
    let lmin = (lo * 0.8).log10().floor();
    let lmax = (hi * 1.25).log10().ceil().max(lmin + 1.0);
    let f = Frame::axes(
        &mut svg,
        90.0,
        50.0,
        680.0,
        360.0,
        end / tdiv,
        1.0,
        &format!("time since the first event ({tunit})"),
        "",
    );
    let (x0, y0, h) = (f.x0, f.y0, f.h);
    let ylog =
        move |v: f64| y0 + h - ((v.max(1.0).log10() - lmin) / (lmax - lmin)).clamp(0.0, 1.0) * h;
    let mut decade = lmin;
    while decade <= lmax {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powf(decade);
            if v.log10() > lmax + 1e-9 {
                break;
            }
            let y = ylog(v);
            let major = m == 1.0;
            svg.line(
                x0,
                y,
                x0 + f.w,
                y,
                if major {
                    "stroke=\"#d1d5db\""
                } else {
                    "stroke=\"#f3f4f6\""
                },
            );
            svg.line(x0 - 5.0, y, x0, y, "stroke=\"black\"");
            let ms = v / 1000.0;
            let label = if ms >= 1.0 {
                format!("{ms:.0}")
            } else {
                format!("{ms}")
            };
            svg.text(
                x0 - 8.0,
                y + 4.0,
                &label,
                "class=\"tick\" text-anchor=\"end\" font-size=\"12\"",
            );
        }
        decade += 1.0;
    }
    let (lx, ly) = (x0 - 58.0, y0 + h / 2.0);
    svg.text(
        lx,
        ly,
        "ms (log scale)",
        &format!(
            "class=\"axis-label\" text-anchor=\"middle\" transform=\"rotate(-90 {} {})\"",
            n(lx),
            n(ly)
        ),
    );
    let px = |t: u64| f.px(t as f64 / tdiv);
    let py = |v: u64| ylog(v as f64);
    let rto: Vec<(f64, f64)> = cc
        .iter()
        .filter(|(_, c)| c.rto_us > 0)
        .map(|&(t, c)| (px(t), py(c.rto_us)))
        .collect();
    svg.polyline(
        &steps(&rto, px(end as u64)),
        &format!("class=\"series rto\" {RTO_STYLE}"),
    );
    let srtt: Vec<(f64, f64)> = cc
        .iter()
        .filter(|(_, c)| c.srtt_us > 0)
        .map(|&(t, c)| (px(t), py(c.srtt_us)))
        .collect();
    svg.polyline(
        &steps(&srtt, px(end as u64)),
        &format!("class=\"series srtt\" {SRTT_STYLE}"),
    );
    for &(x, y) in &srtt {
        svg.raw(&format!(
            "<circle class=\"sample\" cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"#1d4ed8\"/>",
            n(x),
            n(y)
        ));
    }
    let rtos = rto_fired(c);
    for &t in &rtos {
        svg.raw(&format!(
            "<path class=\"rto-fired\" d=\"M{},{} l-5,-9 h10 z\" fill=\"#b91c1c\"/>",
            n(px(t)),
            n(f.y0 + f.h)
        ));
    }
    let mut keys = vec![
        (
            Key::Line(SRTT_STYLE.into()),
            "smoothed RTT (srtt)".to_string(),
        ),
        (Key::Line(RTO_STYLE.into()), "RTO".to_string()),
    ];
    if !rtos.is_empty() {
        keys.push((Key::Area("#b91c1c".into()), "RTO fired (▲)".to_string()));
    }
    svg::legend(&mut svg, 790.0, 50.0, &keys);
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An element of a parsed SVG: its name, attributes and own text.
    #[derive(Debug, Clone)]
    struct El {
        name: String,
        attrs: Vec<(String, String)>,
        text: String,
    }

    impl El {
        fn attr(&self, k: &str) -> &str {
            self.attrs
                .iter()
                .find(|(a, _)| a == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        }
        fn has_class(&self, c: &str) -> bool {
            self.attr("class").split(' ').any(|x| x == c)
        }
        fn num(&self, k: &str) -> f64 {
            self.attr(k)
                .parse()
                .unwrap_or_else(|_| panic!("{k} of {self:?}"))
        }
    }

    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    }

    /// Parses the SVG this module writes (XML without comments or CDATA),
    /// checking that every element is closed, into its elements in
    /// document order.
    fn parse_svg(s: &str) -> Vec<El> {
        let mut els: Vec<El> = Vec::new();
        let mut open: Vec<(String, usize)> = Vec::new();
        let mut rest = s;
        while let Some(lt) = rest.find('<') {
            let text = &rest[..lt];
            if let Some(&(_, i)) = open.last() {
                els[i].text += &unescape(text);
            }
            let gt = rest[lt..].find('>').expect("unclosed tag") + lt;
            let tag = &rest[lt + 1..gt];
            rest = &rest[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let (n, _) = open.pop().expect("close without open");
                assert_eq!(n, name.trim(), "mismatched close");
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag.split_whitespace().next().unwrap().to_string();
            let mut attrs = Vec::new();
            let mut a = tag[name.len()..].trim_start();
            while !a.is_empty() {
                let eq = a.find("=\"").expect("attribute without =\"");
                let key = a[..eq].trim().to_string();
                let end = a[eq + 2..].find('"').expect("unterminated attribute") + eq + 2;
                assert!(!a[eq + 2..end].contains('<'), "raw < in an attribute");
                attrs.push((key, unescape(&a[eq + 2..end])));
                a = a[end + 1..].trim_start();
            }
            els.push(El {
                name: name.clone(),
                attrs,
                text: String::new(),
            });
            if !self_closing {
                open.push((name, els.len() - 1));
            }
        }
        assert!(open.is_empty(), "unclosed elements: {open:?}");
        assert!(rest.trim().is_empty());
        assert_eq!(els[0].name, "svg");
        els
    }

    fn texts<'a>(els: &'a [El], class: &str) -> Vec<&'a str> {
        els.iter()
            .filter(|e| e.name == "text" && e.has_class(class))
            .map(|e| e.text.as_str())
            .collect()
    }

    fn fixture(name: &str) -> trace::Trace {
        let text = match name {
            "handshake" => include_str!("../tests/data/handshake.trace"),
            _ => include_str!("../tests/data/lossy.trace"),
        };
        trace::parse(text).unwrap()
    }

    fn points(el: &El) -> Vec<(f64, f64)> {
        el.attr("points")
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn ladder_labels_segments_in_order_and_both_ends_states() {
        let tr = fixture("handshake");
        assert_eq!(tr.conns.len(), 2);
        let c = &tr.conns[0];
        let svg = ladder(c, 80);
        let els = parse_svg(&svg);
        assert!(texts(&els, "title")[0].contains("198.18.0.2:80 ↔ 198.18.0.1:40000"));
        assert_eq!(
            texts(&els, "seg-label"),
            [
                "SYN seq=0 win=64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
                "SYN,ACK seq=0 ack=1 win=65535 <mss 1460,sackOK,TS val 5 ecr 100,nop,…>",
                "ACK ack=1 win=64256 <nop,nop,TS val 101 ecr 5>",
                "PSH,ACK seq=1:79 ack=1 win=64256 len=78 <nop,nop,TS val 101 ecr 5>",
                "PSH,ACK seq=1:201 ack=79 win=65535 len=200 <nop,nop,TS val 6 ecr 101>",
                "ACK ack=201 win=64128 <nop,nop,TS val 102 ecr 6>",
                "FIN,ACK seq=79 ack=201 win=64128 <nop,nop,TS val 102 ecr 6>",
                "ACK ack=80 win=65535 <nop,nop,TS val 7 ecr 102>",
                "FIN,ACK seq=201 ack=80 win=65535 <nop,nop,TS val 7 ecr 102>",
                "ACK ack=202 win=64128 <nop,nop,TS val 103 ecr 7>",
            ]
        );
        // Which way each arrow goes: in from the peer's line, out from ours.
        let arrows: Vec<&El> = els.iter().filter(|e| e.has_class("seg")).collect();
        assert_eq!(arrows.len(), 10);
        assert!(arrows[0].has_class("in") && arrows[0].num("x1") == PEER_X);
        assert!(arrows[1].has_class("out") && arrows[1].num("x1") == OUR_X);
        // Time goes down.
        assert!(arrows.windows(2).all(|w| w[0].num("y1") < w[1].num("y1")));
        let ours: Vec<&El> = els
            .iter()
            .filter(|e| e.has_class("state") && e.has_class("ours"))
            .collect();
        assert_eq!(
            ours.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
            [
                "LISTEN",
                "SYN-RECEIVED",
                "ESTABLISHED",
                "CLOSE-WAIT",
                "LAST-ACK",
                "CLOSED"
            ]
        );
        assert!(ours.iter().all(|e| e.num("x") < OUR_X));
        assert!(texts(&els, "cause").contains(&"(rcvd ACK of SYN)"));
        // LAST-ACK shows at the FIN it sends (same time), not at the ACK before.
        let fin_y = arrows[8].num("y1");
        assert_eq!(ours[4].num("y"), fin_y + 4.0);
        let peer: Vec<&El> = els.iter().filter(|e| e.has_class("inferred")).collect();
        assert_eq!(
            peer.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
            [
                "CLOSED",
                "SYN-SENT",
                "ESTABLISHED",
                "FIN-WAIT-1",
                "FIN-WAIT-2",
                "TIME-WAIT"
            ]
        );
        assert!(
            peer.iter()
                .all(|e| e.attr("font-style") == "italic" && e.num("x") > PEER_X)
        );
        assert!(texts(&els, "note").contains(&"peer states (inferred)"));
        assert!(texts(&els, "end").contains(&"tapstack 198.18.0.2:80"));
        assert!(texts(&els, "end").contains(&"peer 198.18.0.1:40000"));
    }

    #[test]
    fn a_connection_of_two_segments_still_draws() {
        let tr = fixture("handshake");
        let c = &tr.conns[1];
        assert_eq!(c.events.len(), 2, "the cut-short line is dropped");
        let out = render(c, 80);
        assert_eq!(
            out.iter().map(|o| o.0).collect::<Vec<_>>(),
            ["ladder", "states", "cwnd", "rtt"]
        );
        let els = parse_svg(&out[0].1);
        assert_eq!(
            texts(&els, "seg-label"),
            [
                "SYN seq=0 win=64240 <mss 1460>",
                "RST,ACK seq=0 ack=1 win=0"
            ]
        );
        assert!(els.iter().any(|e| e.has_class("rst")));
        for (_, svg) in &out[1..] {
            assert_eq!(texts(&parse_svg(svg), "empty").len(), 1);
        }
    }

    #[test]
    fn cwnd_rises_in_slow_start_and_falls_at_recovery_and_rto() {
        let tr = fixture("lossy");
        let els = parse_svg(&cwnd(&tr.conns[0]));
        let phase = |c: &str| -> Vec<&El> {
            els.iter()
                .filter(|e| e.name == "rect" && e.has_class(c))
                .collect()
        };
        let (ss, ca, rec, loss) = (
            phase("phase-slow-start"),
            phase("phase-avoidance"),
            phase("phase-recovery"),
            phase("phase-loss"),
        );
        assert_eq!((ss.len(), rec.len(), loss.len()), (1, 1, 1));
        assert_eq!(ca.len(), 2);
        // In time order: slow start, fast recovery, avoidance, loss, avoidance.
        let x = |e: &El| e.num("x");
        assert!(
            x(ss[0]) < x(rec[0])
                && x(rec[0]) < x(ca[0])
                && x(ca[0]) < x(loss[0])
                && x(loss[0]) < x(ca[1])
        );
        assert!(rec[0].num("width") > 0.0 && rec[0].attr("fill") != "none");
        let cw = els
            .iter()
            .find(|e| e.has_class("series") && e.has_class("cwnd"))
            .unwrap();
        let pts = points(cw);
        // SVG y grows downwards: a higher cwnd has a smaller y.
        let before: Vec<f64> = pts
            .iter()
            .filter(|p| p.0 < x(rec[0]))
            .map(|p| p.1)
            .collect();
        assert!(
            before.windows(2).all(|w| w[1] <= w[0]),
            "cwnd only grows in slow start"
        );
        let rises = before.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(rises >= 3, "{rises}");
        let peak = before.iter().cloned().fold(f64::MAX, f64::min);
        let after = pts.iter().find(|p| p.0 >= x(rec[0]) + 0.5).unwrap().1;
        assert!(
            after > peak + 20.0,
            "cwnd falls at the recovery: {peak} -> {after}"
        );
        // After the RTO: one segment, at the bottom.
        let at_loss = pts.iter().find(|p| p.0 > x(loss[0]) + 0.5).unwrap().1;
        assert!(at_loss > after);
        let ssthresh = els
            .iter()
            .filter(|e| e.has_class("ssthresh"))
            .collect::<Vec<_>>();
        assert!(
            !ssthresh.is_empty()
                && ssthresh
                    .iter()
                    .all(|e| !e.attr("stroke-dasharray").is_empty())
        );
        // ssthresh starts at the fast recovery (infinite before).
        assert!(points(ssthresh[0])[0].0 >= x(rec[0]) - 0.5);
        assert!(
            els.iter()
                .any(|e| e.has_class("series") && e.has_class("flight"))
        );
        // cwnd reaches ssthresh again in slow start after the RTO.
        let crossing = els.iter().find(|e| e.has_class("crossing")).unwrap();
        assert!(crossing.num("x1") > x(loss[0]));
        assert_eq!(texts(&els, "crossing-label"), ["cwnd ≥ ssthresh"]);
        assert_eq!(els.iter().filter(|e| e.has_class("rto-fired")).count(), 1);
        assert_eq!(
            texts(&els, "legend-entry"),
            [
                "cwnd",
                "ssthresh",
                "bytes in flight",
                "slow start",
                "congestion avoidance",
                "fast recovery",
                "loss",
                "RTO fired (▲)"
            ]
        );
        let labels = texts(&els, "phase-label");
        for l in ["slow start", "congestion avoidance", "loss"] {
            assert!(labels.contains(&l), "{labels:?}");
        }
        assert_eq!(
            texts(&els, "axis-label"),
            ["time since the first event (ms)", "KiB"]
        );
        // The axis ends at the transfer, not 60 s later at TIME-WAIT's end.
        assert!(texts(&els, "tick").contains(&"400"));
    }

    #[test]
    fn rtt_shows_srtt_and_rto() {
        let tr = fixture("lossy");
        let els = parse_svg(&rtt(&tr.conns[0]));
        let srtt = els.iter().find(|e| e.has_class("srtt")).unwrap();
        let rto = els.iter().find(|e| e.has_class("rto")).unwrap();
        assert!(points(srtt).len() > 10 && points(rto).len() > 10);
        // The RTO is above the RTT (smaller y) everywhere.
        let ymin_rto = points(rto).iter().map(|p| p.1).fold(f64::MAX, f64::min);
        let ymin_srtt = points(srtt).iter().map(|p| p.1).fold(f64::MAX, f64::min);
        assert!(ymin_rto < ymin_srtt);
        assert_eq!(
            texts(&els, "legend-entry"),
            ["smoothed RTT (srtt)", "RTO", "RTO fired (▲)"]
        );
        assert_eq!(
            texts(&els, "axis-label"),
            ["time since the first event (ms)", "ms (log scale)"]
        );
        // 10 ms, 200 ms and 1 s: each decade has its tick.
        let ticks = texts(&els, "tick");
        for t in ["10", "100", "1000"] {
            assert!(ticks.contains(&t), "{ticks:?}");
        }
    }

    #[test]
    fn states_are_bars_in_rfc_order() {
        let tr = fixture("lossy");
        let els = parse_svg(&states(&tr.conns[0]));
        assert_eq!(
            texts(&els, "state-row"),
            [
                "CLOSED",
                "SYN-SENT",
                "ESTABLISHED",
                "FIN-WAIT-1",
                "FIN-WAIT-2",
                "TIME-WAIT"
            ]
        );
        let bars: Vec<&El> = els.iter().filter(|e| e.has_class("state-bar")).collect();
        assert_eq!(
            bars.iter()
                .map(|b| b.attr("data-state"))
                .collect::<Vec<_>>(),
            [
                "CLOSED",
                "SYN-SENT",
                "ESTABLISHED",
                "FIN-WAIT-1",
                "FIN-WAIT-2",
                "TIME-WAIT",
                "CLOSED"
            ]
        );
        // Each starts where the one before ends.
        for w in bars.windows(2).take(5) {
            assert!(
                (w[0].num("x") + w[0].num("width") - w[1].num("x")).abs() < 0.2
                    || w[0].num("width") == 3.0
            );
        }
        let est = bars[2];
        assert!(
            est.num("width") > 500.0,
            "ESTABLISHED holds most of the axis"
        );
        let notes = texts(&els, "bar-note");
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("60.00 s (cut) (rcvd FIN)")),
            "{notes:?}"
        );
    }

    #[test]
    fn long_ladders_show_the_first_and_last_segments() {
        let tr = fixture("lossy");
        let c = &tr.conns[0];
        let n = c
            .events
            .iter()
            .filter(|e| matches!(e.kind, Kind::Seg(_)))
            .count();
        let els = parse_svg(&ladder(c, 80));
        let labels = texts(&els, "seg-label");
        assert_eq!(labels.len(), 80);
        assert!(labels[0].starts_with("SYN seq=0 win=64240"));
        assert!(labels[79].starts_with("ACK ack=2 "), "{}", labels[79]);
        assert!(labels.iter().all(|l| l.chars().count() <= LABEL_MAX));
        let breaks = texts(&els, "break");
        assert_eq!(breaks.len(), 1);
        assert!(
            breaks[0].starts_with(&format!("⋯ {} segments not shown", n - 80)),
            "{breaks:?}"
        );
        // Sequence numbers are relative, across the 2^32 wrap.
        assert!(labels.contains(&"ACK seq=1:1449 ack=1 win=262144 len=1448"));
        let all = texts(&parse_svg(&ladder(c, 10_000)), "seg-label")
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>();
        assert_eq!(all.len(), n);
        let re: Vec<&String> = all
            .iter()
            .filter(|l| l.ends_with("(retransmission)"))
            .collect();
        // The fast retransmit, and after the RTO the lost ones again.
        assert!(re.len() > 10, "{re:?}");
        assert!(re[0].starts_with("ACK seq=63713:65161 "), "{re:?}");
        assert_eq!(
            texts(&els, "inferred"),
            [
                "LISTEN",
                "SYN-RECEIVED",
                "ESTABLISHED",
                "CLOSE-WAIT",
                "LAST-ACK",
                "CLOSED"
            ]
        );
        let ours: Vec<&str> = els
            .iter()
            .filter(|e| e.has_class("state") && e.has_class("ours"))
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(
            ours,
            [
                "CLOSED",
                "SYN-SENT",
                "ESTABLISHED",
                "FIN-WAIT-1",
                "FIN-WAIT-2",
                "TIME-WAIT",
                "CLOSED"
            ]
        );
        assert_eq!(texts(&parse_svg(&ladder(c, 10)), "seg-label").len(), 10);
    }

    #[test]
    fn stack_events_show_as_notes_beside_our_line() {
        let tr = trace::parse(
            "{\"t_us\":1,\"conn\":\"198.18.0.2:9-198.18.0.1:7\",\"ev\":\"seg\",\"dir\":\"in\",\"flags\":\"S\",\"seq\":1,\"ack\":0,\"win\":100,\"len\":0,\"opts\":\"\"}\n\
             {\"t_us\":1,\"conn\":\"198.18.0.2:9-198.18.0.1:7\",\"ev\":\"stack\",\"what\":\"sent RST: no connection or listener\"}\n\
             {\"t_us\":1,\"conn\":\"198.18.0.2:9-198.18.0.1:7\",\"ev\":\"seg\",\"dir\":\"out\",\"flags\":\"R.\",\"seq\":0,\"ack\":2,\"win\":0,\"len\":0,\"opts\":\"\"}\n",
        )
        .unwrap();
        let els = parse_svg(&ladder(&tr.conns[0], 80));
        let note: Vec<&El> = els.iter().filter(|e| e.has_class("stack-note")).collect();
        assert_eq!(note.len(), 1);
        assert_eq!(note[0].text, "sent RST: no connection or listener");
        assert!(note[0].num("x") < OUR_X);
        // No state of ours is made up.
        assert!(
            !els.iter()
                .any(|e| e.has_class("state") && e.has_class("ours"))
        );
        assert_eq!(
            texts(&els, "seg-label"),
            ["SYN seq=0 win=100", "RST,ACK seq=0 ack=1 win=0"]
        );
    }

    #[test]
    fn odd_traces_do_not_panic() {
        let lines = "{\"t_us\":50,\"conn\":\"a:1-b:2\",\"ev\":\"seg\",\"dir\":\"in\",\"flags\":\".\",\"seq\":5,\"ack\":9,\"win\":0,\"len\":10}\n\
            {\"t_us\":10,\"conn\":\"a:1-b:2\",\"ev\":\"seg\",\"dir\":\"out\",\"flags\":\"P.\",\"seq\":9,\"ack\":15,\"win\":0,\"len\":4294967295}\n\
            {\"t_us\":5,\"conn\":\"a:1-b:2\",\"ev\":\"state\",\"from\":\"ESTABLISHED\",\"to\":\"NEW_STATE\"}\n\
            {\"t_us\":7,\"conn\":\"a:1-b:2\",\"ev\":\"cc\",\"cwnd\":0,\"ca_state\":\"weird\"}\n\
            {\"t_us\":7,\"conn\":\"c:1-d:2\",\"ev\":\"timer\",\"timer\":\"rto\",\"action\":\"fired\"}\n";
        let tr = trace::parse(lines).unwrap();
        for c in &tr.conns {
            for m in [2, 3, 80] {
                for (_, svg) in render(c, m) {
                    parse_svg(&svg);
                }
            }
        }
        assert_eq!(
            sanitise("[fd00::2]:80-[fd00::1]:5555"),
            "_fd00__2__80-_fd00__1__5555"
        );
    }

    #[test]
    fn long_curves_are_thinned_to_the_same_shape() {
        // 100000 points over 500 px, a sawtooth: the column extremes stay.
        let pts: Vec<(f64, f64)> = (0..100_000)
            .map(|i| (i as f64 / 200.0, if i % 2 == 0 { 10.0 } else { 300.0 }))
            .collect();
        let t = thin(pts.clone());
        assert!(t.len() <= 4 * 501, "{}", t.len());
        assert_eq!(t.first(), pts.first());
        assert_eq!(t.last(), pts.last());
        assert!(t.iter().any(|p| p.1 == 10.0) && t.iter().any(|p| p.1 == 300.0));
        assert!(t.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn options() {
        let a = |v: &[&str]| parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let o = a(&[
            "t.jsonl",
            "-o",
            "out",
            "--conn=:80-",
            "--max-segments",
            "20",
        ])
        .unwrap();
        assert_eq!(
            (
                o.trace.as_str(),
                o.dir.as_str(),
                o.conn.as_deref(),
                o.max_segments
            ),
            ("t.jsonl", "out", Some(":80-"), 20)
        );
        assert_eq!(a(&["t"]).unwrap().dir, ".");
        assert!(a(&[]).unwrap_err().contains("which trace"));
        assert!(a(&["t", "--max-segments", "1"]).is_err());
        assert!(a(&["t", "--bogus"]).is_err());
        assert!(a(&["t", "u"]).is_err());
        assert!(a(&["--help"]).unwrap().help);
        assert_eq!(a(&["t", "--max-conns=3"]).unwrap().max_conns, 3);
        assert!(a(&["t", "--max-conns", "0"]).is_err());
    }
}
