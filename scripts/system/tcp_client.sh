#!/usr/bin/env bash
# Usage: scripts/system/tcp_client.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# tapstack as a client of a kernel server: c-tests/echo_client connects to
# the kernel's echo server, checks getsockname/getpeername, sends 20 lines
# and reads each back byte for byte, half-closes and reads EOF.
source "$(dirname "$0")/../lib/netns.sh"
T=tcp_client
need_built $T echo_client
netns_create $T
kernel_echo 7000
run_side $T 60 echo_client 198.18.0.1 7000
pass $T
