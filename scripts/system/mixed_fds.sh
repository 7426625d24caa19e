#!/usr/bin/env bash
# Usage: scripts/system/mixed_fds.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# Kernel fds are untouched by the stack (c-tests/mixed_fds.c): a regular
# file, a pipe, a Unix socketpair and a UDP socket, opened between TCP
# connections to the kernel's echo server, behave as without the preload;
# fd numbers are distinct and small; the TCP connections still echo. Under
# the preload with TAPSTACK_LOG=info, the library says once that the UDP
# sockets (two of them) went to the kernel.
source "$(dirname "$0")/../lib/netns.sh"
T=mixed_fds
need_built $T mixed_fds
netns_create $T
kernel_echo 7000
run_side $T 60 mixed_fds 198.18.0.1 7000
if [[ $SIDE == tapstack ]]; then
    PRELOAD+=(TAPSTACK_LOG=info)
    run_side $T 60 mixed_fds 198.18.0.1 7000
    n=$(grep -c 'socket(AF_INET, SOCK_DGRAM, 0) goes to the kernel' "$TEST_TMP/mixed_fds.err" || true)
    ((n == 1)) || fail "$T: TAPSTACK_LOG=info named the kernel's UDP sockets $n times, want once: $(grep -v '^$' "$TEST_TMP/mixed_fds.err" | head -n 5 | tr '\n' ' ')"
    echo "  $(grep -m1 'goes to the kernel' "$TEST_TMP/mixed_fds.err")"
fi
pass $T
