#!/usr/bin/env bash
# Usage: scripts/system/timewait_rebind.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# TIME_WAIT then rebinding (c-tests/timewait_rebind.c): after an active
# close, bind to the same port fails with EADDRINUSE without SO_REUSEADDR
# and succeeds with it, for a server's port and for a client's bound port.
# The kernel connects twice with `nc -d` and is the echo server.
source "$(dirname "$0")/../lib/netns.sh"
T=timewait_rebind
need nc
need_built $T timewait_rebind
netns_create $T
kernel_echo 7000
start_bg "$TEST_TMP/tw.out" "$TEST_TMP/tw.err" "${PRELOAD[@]}" "$CBUILD/timewait_rebind" 198.18.0.1 7000 9400
prog=$BG_PID
await 10 "$TEST_TMP/tw.out" '^listening|^FAIL' || fail "$T: the program did not listen"
ns_exec timeout 10 nc -d 198.18.0.2 9400 >/dev/null 2>&1 || true
if await 10 "$TEST_TMP/tw.out" '^rebound|^FAIL'; then
    ns_exec timeout 10 nc -d 198.18.0.2 9400 >/dev/null 2>&1 || true
fi
for ((i = 0; i < 100; i++)); do
    kill -0 "$prog" 2>/dev/null || break
    sleep 0.1
done
stop_pid "$prog"
sed 's/^/  /' "$TEST_TMP/tw.out"
grep -qx OK "$TEST_TMP/tw.out" ||
    fail "$T: $(grep '^FAIL' "$TEST_TMP/tw.out" | head -n 3 | tr '\n' ';') (status $STOP_STATUS)"
pass $T
