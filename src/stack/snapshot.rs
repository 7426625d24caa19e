//! A read-only snapshot of the stack for live introspection (`tapstack ss`,
//! `neigh`, `stats`): plain owned data, taken under the stack lock in one
//! short pass, then turned into JSON with the lock released.
//!
//! The JSON is written by hand (the library keeps its dependency list
//! small): objects of strings, unsigned integers, arrays and `null`, in a
//! fixed key order, one document per answer.

use super::Stack;
use super::arp_cache::REACHABLE_TIME;
use crate::tcp::{State, TcpInfo};
use crate::time::Instant;
use crate::wire::ethernet::EthernetAddress;
use core::fmt::Write;
use std::net::{Ipv4Addr, SocketAddr};

/// One socket as `ss` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSnapshot {
    /// The state, as Linux numbers and names it (`ss` spelling, see
    /// [`ss_state_name`]).
    pub state: State,
    /// Our address.
    pub local: SocketAddr,
    /// The peer's, `None` for a listener.
    pub peer: Option<SocketAddr>,
    /// `ss`'s Recv-Q: unread bytes, or a listener's accept queue.
    pub recv_q: usize,
    /// `ss`'s Send-Q: unacknowledged and unsent bytes, or a listener's
    /// backlog.
    pub send_q: usize,
    /// The connection's internals (`None` for a listener).
    pub tcp: Option<TcpSnapshot>,
}

/// A connection's internals: `TCP_INFO` plus what `ss -i` adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSnapshot {
    /// `TCP_INFO`.
    pub info: TcpInfo,
    /// The congestion controller's name (`TCP_CONGESTION`).
    pub cc: &'static str,
    /// SND.NXT − SND.UNA: bytes sent and not yet acknowledged.
    pub bytes_in_flight: u32,
}

/// One neighbour-cache entry as `ip neigh` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighSnapshot {
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its MAC, `None` while it resolves.
    pub lladdr: Option<EthernetAddress>,
    /// `REACHABLE`, `PROBE` (a refresh request is out), `STALE` (expired,
    /// dropped at its next use) or `INCOMPLETE` (resolving), as Linux names
    /// its NUD states.
    pub state: &'static str,
    /// Milliseconds since it was last confirmed (0 while resolving).
    pub age_ms: u64,
}

/// `ss`'s name of a state.
pub fn ss_state_name(s: State) -> &'static str {
    match s {
        State::Closed => "CLOSE",
        State::Listen => "LISTEN",
        State::SynSent => "SYN-SENT",
        State::SynReceived => "SYN-RECV",
        State::Established => "ESTAB",
        State::FinWait1 => "FIN-WAIT-1",
        State::FinWait2 => "FIN-WAIT-2",
        State::CloseWait => "CLOSE-WAIT",
        State::Closing => "CLOSING",
        State::LastAck => "LAST-ACK",
        State::TimeWait => "TIME-WAIT",
    }
}

impl Stack {
    /// Every listener and connection (fresh sockets, which `ss -t` does not
    /// list either, are left out). Reads only.
    pub fn socket_snapshot(&self) -> Vec<SocketSnapshot> {
        let mut out = Vec::new();
        for (h, state, tuple) in self.socket_list() {
            match (state, tuple) {
                (State::Listen, _) => {
                    let (Ok(local), Ok((_, accept, backlog))) =
                        (self.local_sockaddr(h), self.listener_queues(h))
                    else {
                        continue;
                    };
                    out.push(SocketSnapshot {
                        state,
                        local,
                        peer: None,
                        recv_q: accept,
                        send_q: backlog,
                        tcp: None,
                    });
                }
                (_, Some(t)) => {
                    let Ok(s) = self.sock(h) else { continue };
                    let Some(tcb) = s.tcb() else { continue };
                    let (snd_una, snd_nxt, _) = tcb.seq_vars();
                    out.push(SocketSnapshot {
                        state,
                        local: t.local,
                        peer: Some(t.remote),
                        recv_q: tcb.recv_queue_len(),
                        send_q: tcb.send_queue_len(),
                        tcp: Some(TcpSnapshot {
                            info: tcb.info(),
                            cc: tcb.congestion_name(),
                            bytes_in_flight: snd_nxt.since(snd_una),
                        }),
                    });
                }
                _ => {}
            }
        }
        out.sort_by_key(|s| (s.state != State::Listen, s.local, s.peer));
        out
    }

    /// The neighbour cache at `now`, by address.
    pub fn neigh_snapshot(&self, now: Instant) -> Vec<NeighSnapshot> {
        let mut out: Vec<NeighSnapshot> = self
            .arp_cache()
            .entries()
            .map(|(ip, n)| {
                let confirmed = n.expires_at - REACHABLE_TIME;
                NeighSnapshot {
                    ip,
                    lladdr: Some(n.mac),
                    state: if now >= n.expires_at {
                        "STALE"
                    } else if n.refreshing {
                        "PROBE"
                    } else {
                        "REACHABLE"
                    },
                    age_ms: now.saturating_duration_since(confirmed).as_millis() as u64,
                }
            })
            .chain(self.arp_cache().pending().map(|ip| NeighSnapshot {
                ip,
                lladdr: None,
                state: "INCOMPLETE",
                age_ms: 0,
            }))
            .collect();
        out.sort_by_key(|n| n.ip);
        out
    }

    /// Every counter by name, in declaration order.
    pub fn counters_snapshot(&self) -> Vec<(&'static str, u64)> {
        self.counters().iter().collect()
    }
}

/// Appends `s` as a JSON string (quoted, escaped); the runtime's trace
/// lines use it too.
pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `"key":` to an object (with a comma unless it is the first).
fn key(out: &mut String, first: &mut bool, k: &str) {
    if !*first {
        out.push(',');
    }
    *first = false;
    json_str(out, k);
    out.push(':');
}

/// Where an answer comes from: the fields every document starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin<'a> {
    /// The process the stack runs in.
    pub pid: u32,
    /// Its TAP.
    pub ifname: &'a str,
}

fn open_doc(out: &mut String, origin: &Origin<'_>) -> bool {
    let mut first = true;
    out.push('{');
    key(out, &mut first, "pid");
    let _ = write!(out, "{}", origin.pid);
    key(out, &mut first, "ifname");
    json_str(out, origin.ifname);
    first
}

/// `ss` as JSON: `{"pid":..,"ifname":..,"sockets":[{"state":"ESTAB",
/// "local":"198.18.0.2:7","peer":"198.18.0.1:40000","recv_q":0,"send_q":0,
/// "pid":..,"tcp":{..}|null}]}`. Each socket carries its owner's pid (this
/// process's, while a stack serves one process).
pub fn sockets_json(origin: &Origin<'_>, sockets: &[SocketSnapshot]) -> String {
    let mut out = String::with_capacity(128 + sockets.len() * 640);
    let mut first = open_doc(&mut out, origin);
    key(&mut out, &mut first, "sockets");
    out.push('[');
    for (i, s) in sockets.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut f = true;
        out.push('{');
        key(&mut out, &mut f, "state");
        json_str(&mut out, ss_state_name(s.state));
        key(&mut out, &mut f, "local");
        json_str(&mut out, &s.local.to_string());
        key(&mut out, &mut f, "peer");
        match s.peer {
            Some(p) => json_str(&mut out, &p.to_string()),
            // `ss`'s way: the wildcard of the listener's family.
            None if s.local.is_ipv6() => json_str(&mut out, "[::]:*"),
            None => json_str(&mut out, "0.0.0.0:*"),
        }
        for (k, v) in [("recv_q", s.recv_q), ("send_q", s.send_q)] {
            key(&mut out, &mut f, k);
            let _ = write!(out, "{v}");
        }
        key(&mut out, &mut f, "pid");
        let _ = write!(out, "{}", origin.pid);
        key(&mut out, &mut f, "tcp");
        match &s.tcp {
            None => out.push_str("null"),
            Some(t) => tcp_json(&mut out, t),
        }
        out.push('}');
    }
    out.push_str("]}\n");
    out
}

fn tcp_json(out: &mut String, t: &TcpSnapshot) {
    let i = &t.info;
    let mut f = true;
    out.push('{');
    key(out, &mut f, "cc");
    json_str(out, t.cc);
    let fields: [(&str, u64); 29] = [
        ("state_code", i.state.into()),
        ("ca_state", i.ca_state.into()),
        ("retransmits", i.retransmits.into()),
        ("backoff", i.backoff.into()),
        ("options", i.options.into()),
        ("snd_wscale", i.snd_wscale.into()),
        ("rcv_wscale", i.rcv_wscale.into()),
        ("rto_us", i.rto.into()),
        ("ato_us", i.ato.into()),
        ("rtt_us", i.rtt.into()),
        ("rttvar_us", i.rttvar.into()),
        ("snd_mss", i.snd_mss.into()),
        ("rcv_mss", i.rcv_mss.into()),
        ("advmss", i.advmss.into()),
        ("cwnd", i.snd_cwnd.into()),
        ("ssthresh", i.snd_ssthresh.into()),
        ("unacked", i.unacked.into()),
        ("sacked", i.sacked.into()),
        ("lost", i.lost.into()),
        ("retrans", i.retrans.into()),
        ("total_retrans", i.total_retrans.into()),
        ("bytes_in_flight", t.bytes_in_flight.into()),
        ("bytes_acked", i.bytes_acked),
        ("bytes_received", i.bytes_received),
        ("segs_out", i.segs_out.into()),
        ("segs_in", i.segs_in.into()),
        ("snd_wnd", i.snd_wnd.into()),
        ("rcv_wnd", i.rcv_space.into()),
        ("rcv_space", i.rcv_space.into()),
    ];
    for (k, v) in fields {
        key(out, &mut f, k);
        let _ = write!(out, "{v}");
    }
    out.push('}');
}

/// `neigh` as JSON: `{"pid":..,"ifname":..,"neighbours":[{"ip":..,
/// "lladdr":"aa:bb:..."|null,"state":"REACHABLE","age_ms":..}]}`.
pub fn neigh_json(origin: &Origin<'_>, neigh: &[NeighSnapshot]) -> String {
    let mut out = String::with_capacity(128 + neigh.len() * 96);
    let mut first = open_doc(&mut out, origin);
    key(&mut out, &mut first, "neighbours");
    out.push('[');
    for (i, n) in neigh.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut f = true;
        out.push('{');
        key(&mut out, &mut f, "ip");
        json_str(&mut out, &n.ip.to_string());
        key(&mut out, &mut f, "lladdr");
        match n.lladdr {
            Some(mac) => json_str(&mut out, &mac.to_string()),
            None => out.push_str("null"),
        }
        key(&mut out, &mut f, "state");
        json_str(&mut out, n.state);
        key(&mut out, &mut f, "age_ms");
        let _ = write!(out, "{}", n.age_ms);
        out.push('}');
    }
    out.push_str("]}\n");
    out
}

/// `stats` as JSON: `{"pid":..,"ifname":..,"counters":{"rx_frames":..}}`,
/// the counters in declaration order.
pub fn stats_json(origin: &Origin<'_>, counters: &[(&'static str, u64)]) -> String {
    let mut out = String::with_capacity(128 + counters.len() * 40);
    let mut first = open_doc(&mut out, origin);
    key(&mut out, &mut first, "counters");
    out.push('{');
    let mut f = true;
    for (name, v) in counters {
        key(&mut out, &mut f, name);
        let _ = write!(out, "{v}");
    }
    out.push_str("}}\n");
    out
}

/// An error answer: `{"error":"..."}`.
pub fn error_json(msg: &str) -> String {
    let mut out = String::from("{\"error\":");
    json_str(&mut out, msg);
    out.push_str("}\n");
    out
}
