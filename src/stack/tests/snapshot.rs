//! The introspection snapshot (`tapstack ss`, `neigh`, `stats`): what a
//! live pair of stacks shows, and its JSON.

use super::fixture::*;
use crate::stack::snapshot::*;
use crate::stack::*;
use crate::tcp::State;
use crate::time::Duration;
use std::net::SocketAddrV4;

const ORIGIN: Origin<'static> = Origin {
    pid: 4242,
    ifname: "tap0",
};

/// B listens on 80 with one connection from A that has carried 1000
/// bytes each way (accepted, unread on B's side: 1000 in Recv-Q).
fn connected() -> (Pair, u16) {
    let (mut p, c, s) = accepted_pair(80);
    let peer = p.b.peer_addr(s).unwrap();
    assert_eq!(p.a.send(c, &[7u8; 1000]).unwrap(), 1000);
    assert_eq!(p.b.send(s, &[9u8; 1000]).unwrap(), 1000);
    p.run_until(Duration::from_secs(1), |p| {
        p.b.recv_queue_len(s).unwrap() == 1000 && p.a.recv_queue_len(c).unwrap() == 1000
    });
    (p, peer.port())
}

#[test]
fn sockets_show_the_listener_and_the_connection_with_internals() {
    let (p, client_port) = connected();
    let socks = p.b.socket_snapshot();
    assert_eq!(socks.len(), 2, "{socks:?}");
    let (l, e) = (&socks[0], &socks[1]);
    assert_eq!(l.state, State::Listen);
    assert_eq!(l.local, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80).into());
    assert_eq!((l.peer, l.recv_q, l.send_q), (None, 0, 16));
    assert!(l.tcp.is_none());
    assert_eq!(e.state, State::Established);
    assert_eq!(e.local, SocketAddrV4::new(B, 80).into());
    assert_eq!(e.peer, Some(SocketAddrV4::new(A, client_port).into()));
    assert_eq!((e.recv_q, e.send_q), (1000, 0));
    let t = e.tcp.as_ref().unwrap();
    assert!(t.info.snd_cwnd > 0);
    assert_eq!(t.info.bytes_acked, 1000);
    assert_eq!(t.info.bytes_received, 1000);
    assert_eq!(t.bytes_in_flight, 0);
    assert_eq!(
        t.cc,
        p.b.congestion_name(p.b.socket_list()[1].0)
            .unwrap()
            .unwrap()
    );

    let json = sockets_json(&ORIGIN, &socks);
    assert!(json.starts_with("{\"pid\":4242,\"ifname\":\"tap0\",\"sockets\":[{\"state\":\"LISTEN\",\"local\":\"0.0.0.0:80\",\"peer\":\"0.0.0.0:*\",\"recv_q\":0,\"send_q\":16,\"pid\":4242,\"tcp\":null},{\"state\":\"ESTAB\""), "{json}");
    assert!(json.contains(&format!("\"peer\":\"10.0.0.1:{client_port}\",\"recv_q\":1000,\"send_q\":0,\"pid\":4242,\"tcp\":{{\"cc\":\"{}\"", t.cc)), "{json}");
    assert!(
        json.contains(&format!(",\"cwnd\":{},", t.info.snd_cwnd)),
        "{json}"
    );
    assert!(
        json.contains(",\"bytes_acked\":1000,\"bytes_received\":1000,"),
        "{json}"
    );
    assert!(json.ends_with("}]}\n"), "{json}");
    assert_eq!(json.matches('{').count(), json.matches('}').count());
}

#[test]
fn neighbours_show_the_peer_reachable_then_stale() {
    let (p, _) = connected();
    let n = p.b.neigh_snapshot(p.now);
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0].ip, A);
    assert_eq!(n[0].lladdr, Some(StackConfig::default_mac(A)));
    assert_eq!(n[0].state, "REACHABLE");
    assert_eq!(
        neigh_json(&ORIGIN, &n),
        format!(
            "{{\"pid\":4242,\"ifname\":\"tap0\",\"neighbours\":[{{\"ip\":\"10.0.0.1\",\"lladdr\":\"02:00:0a:00:00:01\",\"state\":\"REACHABLE\",\"age_ms\":{}}}]}}\n",
            n[0].age_ms
        )
    );
    let later = p.b.neigh_snapshot(p.now + Duration::from_secs(3600));
    assert_eq!(later[0].state, "STALE");
    assert!(later[0].age_ms >= 3_540_000);
}

#[test]
fn unresolved_neighbours_are_incomplete() {
    let mut s = stack();
    let c = s.socket();
    let _ = s.connect(Instant::ZERO, c, SocketAddrV4::new(PEER, 80));
    drain(&mut s);
    let n = s.neigh_snapshot(Instant::ZERO);
    assert_eq!(n.len(), 1);
    assert_eq!(
        (n[0].ip, n[0].lladdr, n[0].state),
        (PEER, None, "INCOMPLETE")
    );
    assert!(neigh_json(&ORIGIN, &n).contains("\"lladdr\":null,\"state\":\"INCOMPLETE\""));
}

#[test]
fn stats_name_every_counter_in_order() {
    let (p, _) = connected();
    let c = p.b.counters_snapshot();
    assert_eq!(c.len(), p.b.counters().iter().count());
    assert_eq!(c[0], ("rx_frames", p.b.counters().rx_frames));
    let json = stats_json(&ORIGIN, &c);
    assert!(
        json.starts_with("{\"pid\":4242,\"ifname\":\"tap0\",\"counters\":{\"rx_frames\":"),
        "{json}"
    );
    assert!(json.contains(&format!(",\"tcp_rx\":{},", p.b.counters().tcp_rx)));
    assert!(p.b.counters().tcp_rx > 0);
    assert!(json.ends_with("}}\n"));
}

#[test]
fn json_strings_are_escaped() {
    let o = Origin {
        pid: 1,
        ifname: "a\"b\\c\n",
    };
    assert_eq!(
        stats_json(&o, &[]),
        "{\"pid\":1,\"ifname\":\"a\\\"b\\\\c\\u000a\",\"counters\":{}}\n"
    );
    assert_eq!(error_json("no"), "{\"error\":\"no\"}\n");
}

/// IPv6 sockets show as `ss` shows them: `[addr]:port`, and a listener's
/// peer as the IPv6 wildcard.
#[test]
fn ipv6_sockets_show_bracketed_addresses() {
    use std::net::{Ipv6Addr, SocketAddrV6};
    let mut s = Stack::new(
        StackConfig {
            ip6: Some(crate::wire::ipv6::Ipv6Cidr {
                address: "fd00::2".parse().unwrap(),
                prefix_len: 64,
            }),
            ..config(B)
        },
        Instant::ZERO,
        1,
    );
    let l = s.socket();
    s.bind(l, SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 80, 0, 0))
        .unwrap();
    s.listen(l, 4).unwrap();
    let json = sockets_json(&ORIGIN, &s.socket_snapshot());
    assert!(
        json.contains("\"local\":\"[::]:80\",\"peer\":\"[::]:*\""),
        "{json}"
    );
}
