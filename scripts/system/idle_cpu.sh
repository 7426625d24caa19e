#!/usr/bin/env bash
# Usage: scripts/system/idle_cpu.sh   (root; after cargo build --release and make -C c-tests)
#
# An idle program with a started stack must not busy-poll: over 3 s it uses
# less than 5 % of a CPU (utime + stime from /proc/PID/stat, all threads).
# A bound on spinning, not a performance measurement.
source "$(dirname "$0")/../lib/netns.sh"
T=idle_cpu
need_built $T socket_sleep
netns_create $T

start_bg "$TEST_TMP/out" "$TEST_TMP/err" "${PRELOAD[@]}" "$CBUILD/socket_sleep" 20
prog=$BG_PID
wait_for 10 grep -q '^socket fd=' "$TEST_TMP/out" ||
    fail "$T: socket_sleep did not open its socket: $(head -c 300 "$TEST_TMP/out" "$TEST_TMP/err")"
sleep 0.5 # let the start (gratuitous ARP, thread start) settle

# cpu_ticks: utime + stime of $prog, in clock ticks. Fields are counted
# after the ")" closing the command name, which may hold spaces.
cpu_ticks() {
    local stat
    stat=$(<"/proc/$prog/stat")
    stat=${stat##*) }
    read -r -a f <<<"$stat"
    # f[0] is field 3 (state): utime is field 14, stime field 15.
    echo $((f[11] + f[12]))
}
hz=$(getconf CLK_TCK)
before=$(cpu_ticks)
sleep 3
after=$(cpu_ticks)
kill -0 "$prog" 2>/dev/null || fail "$T: socket_sleep died while idle"
used=$((after - before))
# used / (3 s * hz) < 5 %  <=>  used * 100 < 15 * hz
((used * 100 < 15 * hz)) ||
    fail "$T: idle for 3 s it used $used ticks of $((3 * hz)) ($((used * 100 / (3 * hz))) %), want < 5 %"

stop_pid "$prog"
[[ $STOP_STATUS == 0 ]] || fail "$T: socket_sleep exited with status $STOP_STATUS after SIGTERM"
pass $T
