#!/usr/bin/env bash
# Usage: scripts/system/fork.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# After fork, a child closing an inherited socket sends nothing and the
# parent's connection carries on (c-tests/fork_close.c); in the capture, no
# FIN or RST leaves 198.18.0.2 before the parent's last data ("after").
# The parent's own close afterwards is a clean one: a FIN, no RST (as
# close_exit.sh checks without a fork). The child also makes a new socket
# (on tapstack, of the same shared stack) before its close.
source "$(dirname "$0")/../lib/netns.sh"
T=fork
need tshark
need_built $T fork_close
netns_create $T
kernel_echo 7000
pcap=$TEST_TMP/fork.pcap
capture_start "$pcap"
run_side $T 60 fork_close 198.18.0.1 7000
sleep 0.5
capture_stop
last=$(tshark_fields "$pcap" 'ip.src == 198.18.0.2 && tcp.len > 0' frame.number)
last=$(tail -n 1 <<<"$last")
[[ -n $last ]] || fail "$T: no data from 198.18.0.2 in the capture"
early=$(tshark_count "$pcap" "ip.src == 198.18.0.2 && (tcp.flags.fin == 1 || tcp.flags.reset == 1) && frame.number < $last")
((early == 0)) || fail "$T: $early FIN/RST from 198.18.0.2 before the parent's last data (frame $last): the child's close reached the wire"
echo "  no FIN or RST from 198.18.0.2 before the parent's last data"
fins=$(tshark_count "$pcap" 'ip.src == 198.18.0.2 && tcp.flags.fin == 1')
rsts=$(tshark_count "$pcap" 'ip.src == 198.18.0.2 && tcp.flags.reset == 1')
((fins == 1 && rsts == 0)) ||
    fail "$T: the parent's close: $fins FIN and $rsts RST from 198.18.0.2, want 1 FIN and no RST"
pass $T
