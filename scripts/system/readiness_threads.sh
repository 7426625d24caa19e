#!/usr/bin/env bash
# Usage: scripts/system/readiness_threads.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel
#
# Several threads waiting on one epoll (c-tests/readiness/threads.c): four
# threads in epoll_wait on a listening socket; four connections from the
# kernel's side are all accepted and every thread returns.
source "$(dirname "$0")/../lib/netns.sh"
T=readiness_threads
need python3
need_built $T readiness_threads
netns_create $T
start_bg "$TEST_TMP/out" "$TEST_TMP/err" "${PRELOAD[@]}" "$CBUILD/readiness_threads" 198.18.0.2 7300
prog=$BG_PID
wait_for 10 grep -q WAITING "$TEST_TMP/out" ||
    fail "$T: the program did not start: $(head -c 300 "$TEST_TMP/out" "$TEST_TMP/err")"
ns_exec python3 -c '
import socket
conns = [socket.create_connection(("198.18.0.2", 7300), timeout=5) for _ in range(4)]
' || fail "$T: the kernel could not connect four times"
wait "$prog" || fail "$T: $(grep FAIL "$TEST_TMP/out" | head -n 1)"
grep -q '^OK' "$TEST_TMP/out" || fail "$T: $(tail -n 2 "$TEST_TMP/out" | tr '\n' ' ')"
pass $T
