#!/usr/bin/env bash
# Usage: scripts/system/close_all.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel
#
# A program that closes every fd it did not open itself after its first
# socket (closefrom(3), close_range(3, ~0U, 0), a close() loop to 1023: as
# varnish and many daemons do) keeps a working stack: the library's own fds
# (the TAP, the stack thread's epoll and waker, the eventfds of poll and
# epoll waits) are out of its reach. c-tests/close_all.c then connects to
# the kernel's echo server, echoes through a blocking poll and epoll_wait,
# is refused on a closed port, and dup2s onto every fd up to 1100.
source "$(dirname "$0")/../lib/netns.sh"
T=close_all
need_built $T close_all
netns_create $T
kernel_echo 7000
for mode in closefrom close_range loop; do
    echo "  $mode:"
    run_side "$T ($mode)" 60 close_all "$mode" 198.18.0.1 7000 7001
done
pass $T
