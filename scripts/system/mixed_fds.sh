#!/usr/bin/env bash
# Usage: scripts/system/mixed_fds.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# Kernel fds are untouched by the stack (c-tests/mixed_fds.c): a regular
# file, a pipe, a Unix socketpair and a UDP socket, opened between TCP
# connections to the kernel's echo server, behave as without the preload;
# fd numbers are distinct and small; the TCP connections still echo.
source "$(dirname "$0")/../lib/netns.sh"
T=mixed_fds
need_built $T mixed_fds
netns_create $T
kernel_echo 7000
run_side $T 60 mixed_fds 198.18.0.1 7000
pass $T
