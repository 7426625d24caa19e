#!/usr/bin/env bash
# Usage: scripts/system/signals.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# A signal interrupts a blocking recv and a blocking accept with EINTR when
# its handler lacks SA_RESTART, and the call carries on with SA_RESTART
# (c-tests/signals.c); with SO_RCVTIMEO set, EINTR even with SA_RESTART,
# and a signal with no handler (SIGCHLD by default) interrupts nothing.
# epoll_wait and poll end with EINTR whatever SA_RESTART says, and an
# epoll_pwait whose mask blocks the signal is not interrupted (on tapstack
# the program is alone on its queue: these waits read the TAP). The kernel
# is the echo server, and connects to the program's listener for the last
# case.
source "$(dirname "$0")/../lib/netns.sh"
T=signals
need_built $T signals
netns_create $T
kernel_echo 7000

start_bg "$TEST_TMP/signals.out" "$TEST_TMP/signals.err" \
    "${PRELOAD[@]}" "$CBUILD/signals" 198.18.0.1 7000 8000
prog=$BG_PID
if await 20 "$TEST_TMP/signals.out" '^accept_restart waiting|^FAIL'; then
    if grep -q '^accept_restart waiting' "$TEST_TMP/signals.out"; then
        sleep 1 # after the signal (300 ms)
        ns_exec timeout 5 bash -c 'exec 3<>/dev/tcp/198.18.0.2/8000; echo hi >&3' ||
            echo "  (the kernel could not connect to 198.18.0.2:8000)"
    fi
fi
status=0
for ((i = 0; i < 100; i++)); do
    kill -0 "$prog" 2>/dev/null || break
    sleep 0.1
done
stop_pid "$prog"
sed 's/^/  /' "$TEST_TMP/signals.out"
grep -qx OK "$TEST_TMP/signals.out" ||
    fail "$T: $(grep '^FAIL' "$TEST_TMP/signals.out" | head -n 3 | tr '\n' ';') (exit status $STOP_STATUS; $(tail -n 2 "$TEST_TMP/signals.err" | tr '\n' ' '))"
pass $T
