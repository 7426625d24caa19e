#!/usr/bin/env bash
# Usage: scripts/system/readiness_differential.sh   (root; after cargo build
# --release and make -C c-tests/readiness)
#
# The differential readiness test (issue 5, item 2): readiness_differential
# runs one scripted sequence of socket and readiness operations (LT, ET,
# ONESHOT, RDHUP, half-close, reset, accept readiness, write readiness after
# a full send buffer drains; epoll, poll and select) against a kernel-side
# peer and prints every event. It runs once on the kernel's sockets
# (198.18.0.1) and once under tapstack (198.18.0.2); the streams must match.
source "$(dirname "$0")/../lib/netns.sh"
T=readiness_differential
need_built $T readiness_differential
netns_create $T

timeout 60 ip netns exec "$NS" "$CBUILD/readiness_differential" 198.18.0.1 \
    >"$TEST_TMP/kernel.txt" 2>"$TEST_TMP/kernel.err" ||
    fail "$T: kernel run failed: $(tail -c 300 "$TEST_TMP/kernel.err")"
timeout 60 "${PRELOAD[@]}" TAPSTACK_PCAP="$TEST_TMP/tapstack.pcap" \
    "$CBUILD/readiness_differential" 198.18.0.2 \
    >"$TEST_TMP/tapstack.txt" 2>"$TEST_TMP/tapstack.err" ||
    echo "  (tapstack run failed: $(tail -c 300 "$TEST_TMP/tapstack.err"))" >&2
diff -u "$TEST_TMP/kernel.txt" "$TEST_TMP/tapstack.txt" >&2 ||
    fail "$T: tapstack's events differ from the kernel's (diff above)"
pass $T
