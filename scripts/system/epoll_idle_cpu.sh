#!/usr/bin/env bash
# Usage: scripts/system/epoll_idle_cpu.sh   (root; after cargo build --release
# modes: tapstack kernel
#        and make -C c-tests/readiness)
#
# No busy polling: an epoll server under the preload, idle in epoll_wait
# with a listener and an idle established connection, uses (with its stack
# thread) less than 5 % of a CPU over 3 s, then still serves. A bound on
# spinning, not a performance measurement.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/cpu.sh"
T=epoll_idle_cpu
need python3
need_built $T readiness_epoll_echo
netns_create $T

start_bg "$TEST_TMP/out" "$TEST_TMP/err" "${PRELOAD[@]}" "$CBUILD/readiness_epoll_echo" 198.18.0.2 7000 et
srv=$BG_PID
wait_for 10 grep -q LISTENING "$TEST_TMP/out" ||
    fail "$T: the server did not start: $(head -c 300 "$TEST_TMP/out" "$TEST_TMP/err")"
# One idle connection held open by the kernel side.
ip netns exec "$NS" python3 -c '
import socket, sys, time
s = socket.create_connection(("198.18.0.2", 7000), timeout=5)
s.sendall(b"ping"); assert s.recv(4) == b"ping"
print("connected", flush=True); time.sleep(8)
s.sendall(b"again"); assert s.recv(5) == b"again"; print("echoed", flush=True)
' >"$TEST_TMP/cli.out" 2>"$TEST_TMP/cli.err" &
cli=$!
STARTED_PIDS+=("$cli")
wait_for 10 grep -q connected "$TEST_TMP/cli.out" ||
    fail "$T: the kernel client did not connect: $(cat "$TEST_TMP/cli.err" | tail -n 2)"
sleep 0.5

cpu_bound "$srv" 3 5 "$T: idle in epoll_wait"
wait "$cli" || fail "$T: the idle connection did not echo afterwards: $(cat "$TEST_TMP/cli.err" | tail -n 2)"
grep -q echoed "$TEST_TMP/cli.out" || fail "$T: no echo after idling"
stop_pid "$srv"
pass $T
