#!/usr/bin/env bash
# Usage: scripts/system/close_exit.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# A program that closes its connection and exits at once (echo_client's
# last two steps: close, return from main) still closes it cleanly: the
# capture holds a FIN from 198.18.0.2 and no RST, and the kernel's echo
# server sees the end of a clean connection (no ECONNRESET).
source "$(dirname "$0")/../lib/netns.sh"
T=close_exit
need tshark
need_built $T echo_client
netns_create $T
kernel_echo 7000
pcap=$TEST_TMP/close_exit.pcap
capture_start "$pcap"
run_side $T 60 echo_client 198.18.0.1 7000
sleep 0.5
capture_stop
fin=$(tshark_count "$pcap" 'ip.src == 198.18.0.2 && tcp.flags.fin == 1')
rst=$(tshark_count "$pcap" 'ip.src == 198.18.0.2 && tcp.flags.reset == 1')
((fin >= 1 && rst == 0)) || fail "$T: capture: $fin FIN and $rst RST from 198.18.0.2 after close() and exit, want a FIN and no RST"
! grep -q ECONNRESET "$TEST_TMP/kecho.7000.out" || fail "$T: the kernel's echo server saw ECONNRESET"
echo "  $fin FIN, no RST from 198.18.0.2"
pass $T
