#!/usr/bin/env bash
# Usage: scripts/system/readiness_cancel.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel
#
# A thread blocked in poll, epoll_wait or select on kernel fds is cancelled
# by pthread_cancel under the preload as without it
# (c-tests/readiness/cancel.c): those are cancellation points, and the
# unwinding must pass through the library's exports.
source "$(dirname "$0")/../lib/netns.sh"
T=readiness_cancel
need_built $T readiness_cancel
netns_create $T
"${PRELOAD[@]}" timeout 20 "$CBUILD/readiness_cancel" >"$TEST_TMP/out" 2>"$TEST_TMP/err" ||
    fail "$T: $(cat "$TEST_TMP/out" "$TEST_TMP/err" | head -n 3 | tr '\n' ' ')"
grep -q '^OK' "$TEST_TMP/out" || fail "$T: $(head -n 3 "$TEST_TMP/out" | tr '\n' ' ')"
pass $T
