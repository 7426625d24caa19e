#!/usr/bin/env bash
# Usage: scripts/system/readiness_mixed.sh   (root; after cargo build --release
# and make -C c-tests/readiness)
#
# Stack sockets next to an eventfd, a pipe, a Unix socket and a timerfd in
# one epoll, one poll and one select; epoll_ctl errors; ET and ONESHOT on a
# fresh socket; a socket closed while registered. The program prints what
# it sees; the output with the preload must equal the kernel's.
source "$(dirname "$0")/../lib/netns.sh"
T=readiness_mixed
need_built $T readiness_mixed
netns_create $T

ns_exec "$CBUILD/readiness_mixed" >"$TEST_TMP/kernel.txt" 2>"$TEST_TMP/kernel.err" ||
    fail "$T: kernel run failed: $(head -c 300 "$TEST_TMP/kernel.err")"
timeout 30 "${PRELOAD[@]}" "$CBUILD/readiness_mixed" >"$TEST_TMP/tapstack.txt" \
    2>"$TEST_TMP/tapstack.err" ||
    fail "$T: tapstack run failed: $(head -c 300 "$TEST_TMP/tapstack.err")"
diff -u "$TEST_TMP/kernel.txt" "$TEST_TMP/tapstack.txt" >&2 ||
    fail "$T: tapstack's events differ from the kernel's (diff above)"
pass $T
