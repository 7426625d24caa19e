#!/usr/bin/env bash
# Usage: scripts/system/linger_rst.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# Abortive close: tapstack sends "hello", sets SO_LINGER {1, 0} and closes;
# the kernel's reader, blocked in recv after the 5 bytes, gets ECONNRESET;
# the capture holds an RST from 198.18.0.2 and no FIN from it.
source "$(dirname "$0")/../lib/netns.sh"
T=linger_rst
need tshark
need_built $T sockctl
netns_create $T
pcap=$TEST_TMP/linger.pcap
capture_start "$pcap"
start_ctl k "$TEST_TMP/k.out" "$TEST_TMP/k.err" ip netns exec "$NS" "$KBUILD/sockctl" accept 9200
await 10 "$TEST_TMP/k.out" '^listening' || fail "$T: the kernel's sockctl did not listen"
start_ctl t "$TEST_TMP/t.out" "$TEST_TMP/t.err" "${PRELOAD[@]}" "$CBUILD/sockctl" connect 198.18.0.1 9200
await 10 "$TEST_TMP/t.out" '^connected' || fail "$T: tapstack did not connect: $(head -c 300 "$TEST_TMP/t.out" "$TEST_TMP/t.err")"
ctl t "send hello"
await 10 "$TEST_TMP/t.out" '^sent 5' || fail "$T: send: $(tail -n 1 "$TEST_TMP/t.out")"
ctl k readeof
sleep 0.5 # the reader has the 5 bytes and blocks
ctl t linger0
await 10 "$TEST_TMP/t.out" '^linger0 ok' || fail "$T: SO_LINGER: $(tail -n 1 "$TEST_TMP/t.out")"
ctl t close
await 10 "$TEST_TMP/t.out" '^closed' || fail "$T: close: $(tail -n 1 "$TEST_TMP/t.out")"
await 10 "$TEST_TMP/k.out" '^(eof|error)' || fail "$T: the kernel's recv did not return"
grep -qx 'error ECONNRESET 5' "$TEST_TMP/k.out" ||
    fail "$T: the kernel's reader saw '$(tail -n 1 "$TEST_TMP/k.out")', want 'error ECONNRESET 5'"
ctl t exit
ctl k exit
sleep 0.3
capture_stop
rst=$(tshark_count "$pcap" 'ip.src == 198.18.0.2 && tcp.flags.reset == 1')
fin=$(tshark_count "$pcap" 'ip.src == 198.18.0.2 && tcp.flags.fin == 1')
((rst >= 1 && fin == 0)) || fail "$T: capture: $rst RST and $fin FIN from 198.18.0.2, want an RST and no FIN"
echo "  kernel: recv -> ECONNRESET; capture: $rst RST from 198.18.0.2, no FIN"
pass $T
