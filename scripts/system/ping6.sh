#!/usr/bin/env bash
# Usage: scripts/system/ping6.sh   (root; after cargo build --release and make -C c-tests)
#
# IPv6 against the kernel: Neighbor Discovery, ICMPv6 echo to our
# configured and our link-local address, fragmentation both ways.
# socket_sleep starts the stack under the preload with a pcap; IPv6 is
# turned on for tap0 alone inside the test's namespace (netns_create turns
# it off everywhere for a quiet wire), with DAD off on the kernel's side so
# its addresses are usable at once. The kernel pings fd00:198:18::2 (the
# default TAPSTACK_IP6) and fe80::c6ff:fe12:2 (modified EUI-64 of our MAC
# 02:00:c6:12:00:02), small and with 4000 bytes, then its neighbour table
# must hold our MAC, and the capture must show the exchange well formed.
source "$(dirname "$0")/../lib/netns.sh"
T=ping6
need ping tshark
need_built $T socket_sleep
netns_create $T
pcap=$TEST_TMP/ping6.pcap
ours='02:00:c6:12:00:02'
ll='fe80::c6ff:fe12:2'

ns_exec sysctl -qw net.ipv6.conf.tap0.accept_dad=0
ns_exec sysctl -qw net.ipv6.conf.tap0.disable_ipv6=0
ip -n "$NS" -6 addr add fd00:198:18::1/64 dev tap0 nodad

start_bg "$TEST_TMP/out" "$TEST_TMP/err" \
    "${PRELOAD[@]}" TAPSTACK_PCAP="$pcap" "$CBUILD/socket_sleep" 60
prog=$BG_PID
wait_for 10 grep -q '^socket fd=' "$TEST_TMP/out" ||
    fail "$T: socket_sleep did not open its socket: $(head -c 300 "$TEST_TMP/out" "$TEST_TMP/err")"
# The kernel's link-local address comes with the carrier, when the stack
# has opened the TAP.
wait_for 10 sh -c "ip -n '$NS' -6 addr show dev tap0 scope link | grep -q fe80::" ||
    fail "$T: the kernel has no link-local address on tap0: $(ip -n "$NS" -6 addr show dev tap0 | tr '\n' ' ')"

# ping6 ARGS... -- NAME: 3 replies of 3, the same bytes.
ping6() {
    local out
    out=$(ns_exec ping -6 -c 3 -i 0.2 -W 2 "$@" 2>&1) || true
    grep -q '3 packets transmitted, 3 received' <<<"$out" ||
        fail "$T: ping -6 $* did not get 3/3 replies: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    ! grep -q 'wrong data byte' <<<"$out" ||
        fail "$T: ping -6 $* replies carry a different payload"
}
ping6 fd00:198:18::2
ping6 "$ll%tap0"
ping6 -s 4000 fd00:198:18::2
ping6 -s 4000 "$ll%tap0"

neigh=$(ip -n "$NS" -6 neigh show fd00:198:18::2 dev tap0)
grep -Eq "lladdr $ours .*(REACHABLE|STALE|DELAY|PROBE)" <<<"$neigh" ||
    fail "$T: ip -6 neigh shows '$neigh', want lladdr $ours"
neigh=$(ip -n "$NS" -6 neigh show "$ll" dev tap0)
grep -q "lladdr $ours" <<<"$neigh" ||
    fail "$T: ip -6 neigh for $ll shows '$neigh', want lladdr $ours"

stop_pid "$prog"
[[ $STOP_STATUS == 0 ]] || fail "$T: socket_sleep exited with status $STOP_STATUS after SIGTERM"
[[ -s $pcap ]] || fail "$T: no pcap written at $pcap"

# at_least N WHAT FILTER
at_least() {
    local n
    n=$(tshark_count "$pcap" "$3")
    ((n >= $1)) || fail "$T: pcap has $n $2 ($3), want at least $1"
}
# Neighbor Advertisements from us: solicited, override, not router, hop
# limit 255, our MAC as the target's link-layer address.
at_least 1 "solicited advertisements for fd00:198:18::2" \
    "icmpv6.type == 136 && icmpv6.nd.na.target_address == fd00:198:18::2 && icmpv6.nd.na.flag.s == 1 && icmpv6.nd.na.flag.o == 1 && icmpv6.nd.na.flag.r == 0 && ipv6.hlim == 255 && icmpv6.opt.linkaddr == $ours"
at_least 1 "solicited advertisements for $ll" \
    "icmpv6.type == 136 && icmpv6.nd.na.target_address == $ll && eth.src == $ours"
at_least 12 "echo replies from us" "icmpv6.type == 129 && eth.src == $ours"
at_least 6 "reassembled 4000-byte echo replies from us" \
    "icmpv6.type == 129 && eth.src == $ours && ipv6.reassembled.length == 4008"
at_least 18 "fragments from the kernel" "ipv6.fraghdr.ident && eth.dst == $ours"
at_least 18 "fragments from us" "ipv6.fraghdr.ident && eth.src == $ours"
bad=$(tshark_count "$pcap" '_ws.malformed || icmpv6.checksum.status == "Bad"')
((bad == 0)) || fail "$T: tshark finds $bad malformed frames or bad ICMPv6 checksums"

pass $T
