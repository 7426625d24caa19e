#!/usr/bin/env bash
# Usage: scripts/system/spin.sh   (root; after cargo build --release and make -C c-tests)
#
# TAPSTACK_SPIN_US: with 1000 µs of spinning, the echo_server (c-tests)
# answers the kernel's echo_client byte for byte, three times (blocking
# accept, recv and send spin before they sleep), and once idle, blocked in
# accept, it still uses less than 5 % of a CPU over 3 s: the spin ends and
# the thread sleeps. A bound on spinning, not a performance measurement.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/cpu.sh"
T=spin
need_built $T echo_server echo_client
[[ -x $KBUILD/echo_client ]] || fail "$T: $KBUILD/echo_client is missing (make -C c-tests)"
netns_create $T

export TAPSTACK_SPIN_US=1000
start_bg "$TEST_TMP/s.out" "$TEST_TMP/s.err" "${PRELOAD[@]}" "$CBUILD/echo_server" 7000
srv=$BG_PID
await 10 "$TEST_TMP/s.out" '^listening' ||
    fail "$T: echo_server did not start: $(head -c 300 "$TEST_TMP/s.out" "$TEST_TMP/s.err" | tr '\n' ' ')"
for i in 1 2 3; do
    status=0
    timeout 20 ip netns exec "$NS" "$KBUILD/echo_client" 198.18.0.2 7000 \
        >"$TEST_TMP/c$i.out" 2>&1 || status=$?
    ((status == 0)) && grep -qx OK "$TEST_TMP/c$i.out" ||
        fail "$T: the kernel's echo_client, run $i: status $status, $(grep '^FAIL' "$TEST_TMP/c$i.out" | head -n 2 | tr '\n' ';')"
done
echo "  3 echo runs through a spinning server ok"
sleep 0.5
cpu_bound "$srv" 3 5 "$T: idle in accept with TAPSTACK_SPIN_US=1000"
kill -0 "$srv" 2>/dev/null || fail "$T: echo_server died while idle"
stop_pid "$srv"
pass $T
