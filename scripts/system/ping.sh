#!/usr/bin/env bash
# Usage: scripts/system/ping.sh   (root; after cargo build --release and make -C c-tests)
#
# ARP, IPv4 (with fragmentation both ways) and ICMP echo against the kernel:
# socket_sleep starts the stack under the preload with a pcap; the kernel
# side pings it (small and 4000-byte payloads), learns its MAC, and the
# capture, decoded by tcpdump and tshark, must show the whole exchange.
source "$(dirname "$0")/../lib/netns.sh"
T=ping
need ping tcpdump tshark
need_built $T socket_sleep
netns_create $T
pcap=$TEST_TMP/ping.pcap

start_bg "$TEST_TMP/out" "$TEST_TMP/err" \
    "${PRELOAD[@]}" TAPSTACK_PCAP="$pcap" "$CBUILD/socket_sleep" 60
prog=$BG_PID
wait_for 10 grep -q '^socket fd=' "$TEST_TMP/out" ||
    fail "$T: socket_sleep did not open its socket: $(head -c 300 "$TEST_TMP/out" "$TEST_TMP/err")"

out=$(ns_exec ping -c 5 -i 0.2 -W 2 198.18.0.2 2>&1) || true
grep -q '5 packets transmitted, 5 received' <<<"$out" ||
    fail "$T: ping -c 5 did not get 5/5 replies: $(tail -n 2 <<<"$out" | tr '\n' ' ')"

out=$(ns_exec ping -c 3 -i 0.2 -W 2 -s 4000 198.18.0.2 2>&1) || true
grep -q '3 packets transmitted, 3 received' <<<"$out" ||
    fail "$T: ping -s 4000 did not get 3/3 replies: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
! grep -q 'wrong data byte' <<<"$out" ||
    fail "$T: ping -s 4000 replies carry a different payload"

neigh=$(ip -n "$NS" neigh show 198.18.0.2 dev tap0)
# DELAY is STALE in use, about to be confirmed: the MAC is what matters.
grep -Eq 'lladdr 02:00:c6:12:00:02 .*(REACHABLE|STALE|DELAY)' <<<"$neigh" ||
    fail "$T: ip neigh shows '$neigh', want lladdr 02:00:c6:12:00:02 REACHABLE or STALE"

stop_pid "$prog"
[[ $STOP_STATUS == 0 ]] || fail "$T: socket_sleep exited with status $STOP_STATUS after SIGTERM"

[[ -s $pcap ]] || fail "$T: no pcap written at $pcap"
tcpdump -nn -r "$pcap" >"$TEST_TMP/tcpdump.txt" 2>"$TEST_TMP/tcpdump.err" ||
    fail "$T: tcpdump cannot read the pcap: $(head -n 1 "$TEST_TMP/tcpdump.err")"
tshark -r "$pcap" >"$TEST_TMP/tshark.txt" 2>"$TEST_TMP/tshark.err" ||
    fail "$T: tshark cannot read the pcap: $(head -n 1 "$TEST_TMP/tshark.err")"

# frames FILTER: the numbers of the frames tshark decodes matching a display
# filter, one a line; a filter tshark rejects fails the test (it must not
# count as "no match").
frames() {
    tshark_fields -o ip.check_checksum:TRUE "$pcap" "$1" frame.number
}
count() {
    local f
    f=$(frames "$1")
    grep -c . <<<"$f" || true
}
first() {
    local f
    f=$(frames "$1")
    head -n 1 <<<"$f"
}
# at_least N WHAT FILTER
at_least() {
    local n
    n=$(count "$3")
    ((n >= $1)) || fail "$T: pcap has $n $2 ($3), want at least $1"
}

ours='02:00:c6:12:00:02'
garp='arp.opcode == 1 && arp.src.proto_ipv4 == 198.18.0.2 && arp.dst.proto_ipv4 == 198.18.0.2'
garp+=" && arp.src.hw_mac == $ours && eth.dst == ff:ff:ff:ff:ff:ff"
at_least 1 "gratuitous ARP from 198.18.0.2" "$garp"
at_least 1 "ARP requests from the kernel for 198.18.0.2" \
    'arp.opcode == 1 && arp.src.proto_ipv4 == 198.18.0.1 && arp.dst.proto_ipv4 == 198.18.0.2'
at_least 1 "ARP replies with our MAC" \
    "arp.opcode == 2 && arp.src.proto_ipv4 == 198.18.0.2 && arp.src.hw_mac == $ours && arp.dst.proto_ipv4 == 198.18.0.1"
at_least 8 "ICMP echo requests to 198.18.0.2" \
    'icmp.type == 8 && ip.src == 198.18.0.1 && ip.dst == 198.18.0.2'
at_least 8 "ICMP echo replies from 198.18.0.2" \
    "icmp.type == 0 && ip.src == 198.18.0.2 && ip.dst == 198.18.0.1 && eth.src == $ours"
at_least 3 "reassembled 4000-byte echo replies" \
    'icmp.type == 0 && ip.src == 198.18.0.2 && ip.reassembled.length == 4008'
# 4028-byte datagrams over a 1500 MTU: 3 fragments each way per ping.
at_least 6 "IP fragments (MF set) from the kernel" 'ip.src == 198.18.0.1 && ip.flags.mf == 1'
at_least 3 "last IP fragments from the kernel" 'ip.src == 198.18.0.1 && ip.flags.mf == 0 && ip.frag_offset > 0'
at_least 6 "IP fragments (MF set) from 198.18.0.2" 'ip.src == 198.18.0.2 && ip.flags.mf == 1'
at_least 3 "last IP fragments from 198.18.0.2" 'ip.src == 198.18.0.2 && ip.flags.mf == 0 && ip.frag_offset > 0'

bad=$(count '_ws.malformed || icmp.checksum.status == "Bad" || ip.checksum.status == "Bad"')
((bad == 0)) || fail "$T: tshark finds $bad malformed frames or bad checksums"

g=$(first "$garp")
e=$(first 'icmp.type == 8')
((g < e)) || fail "$T: the gratuitous ARP (frame $g) comes after the first echo request (frame $e)"

pass $T
