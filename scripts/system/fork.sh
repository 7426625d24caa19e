#!/usr/bin/env bash
# Usage: scripts/system/fork.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# After fork, a child closing an inherited socket sends nothing and the
# parent's connection carries on (c-tests/fork_close.c); the capture holds
# exactly one FIN from 198.18.0.2 (the parent's close) and no RST.
source "$(dirname "$0")/../lib/netns.sh"
T=fork
need_built $T fork_close
netns_create $T
kernel_echo 7000
pcap=$TEST_TMP/fork.pcap
capture_start "$pcap"
run_side $T 60 fork_close 198.18.0.1 7000
sleep 0.5
capture_stop
fins=$(tshark -r "$pcap" -Y 'ip.src == 198.18.0.2 && tcp.flags.fin == 1' -T fields -e frame.number 2>/dev/null | grep -c . || true)
rsts=$(tshark -r "$pcap" -Y 'ip.src == 198.18.0.2 && tcp.flags.reset == 1' -T fields -e frame.number 2>/dev/null | grep -c . || true)
((fins == 1 && rsts == 0)) ||
    fail "$T: the capture has $fins FIN and $rsts RST from 198.18.0.2, want 1 FIN (the parent's) and no RST"
pass $T
