#!/usr/bin/env bash
# Usage: scripts/system/idle_cpu.sh   (root; after cargo build --release and make -C c-tests)
#
# An idle program with a started stack must not busy-poll: over 3 s it uses
# less than 5 % of a CPU (utime + stime from /proc/PID/stat, all threads).
# A bound on spinning, not a performance measurement.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/cpu.sh"
T=idle_cpu
need_built $T socket_sleep
netns_create $T

start_bg "$TEST_TMP/out" "$TEST_TMP/err" "${PRELOAD[@]}" "$CBUILD/socket_sleep" 20
prog=$BG_PID
wait_for 10 grep -q '^socket fd=' "$TEST_TMP/out" ||
    fail "$T: socket_sleep did not open its socket: $(head -c 300 "$TEST_TMP/out" "$TEST_TMP/err")"
sleep 0.5 # let the start (gratuitous ARP, thread start) settle

cpu_bound "$prog" 3 5 "$T: idle"
kill -0 "$prog" 2>/dev/null || fail "$T: socket_sleep died while idle"

stop_pid "$prog"
[[ $STOP_STATUS == 0 ]] || fail "$T: socket_sleep exited with status $STOP_STATUS after SIGTERM"
pass $T
