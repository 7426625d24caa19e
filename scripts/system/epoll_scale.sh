#!/usr/bin/env bash
# Usage: scripts/system/epoll_scale.sh   (root; after cargo build --release
# modes: tapstack kernel
#        and make -C c-tests/readiness; N=connections, default 10000)
#
# An epoll echo server under the preload, level- and then edge-triggered,
# holds N concurrent connections from kernel-side clients: every client's
# bytes are echoed and checked (64 bytes each, then, after the connections
# sat idle, 1 KiB each). The server's memory per idle connection (growth of
# its resident set while the N connections are idle, divided by N) is
# measured and reported, not asserted.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=epoll_scale
N=${N:-10000}
need_built $T readiness_epoll_echo readiness_many_clients
real_setup scale

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

port=9000
for mode in lt et; do
    port=$((port + 1))
    start_bg "$TEST_TMP/srv-$mode.out" "$TEST_TMP/srv-$mode.err" \
        "${UNDER[@]}" "$CBUILD/readiness_epoll_echo" "$STACK_IP" $port $mode
    srv=$BG_PID
    wait_for 10 grep -q LISTENING "$TEST_TMP/srv-$mode.out" ||
        fail "$T: $mode server did not start: $(head -c 300 "$TEST_TMP/srv-$mode.out" "$TEST_TMP/srv-$mode.err")"
    # The server process is the last of the exec chain (ip netns exec, env).
    before=$(rss_kib "$srv")
    fifo=$TEST_TMP/go-$mode
    mkfifo "$fifo"
    # The client reads its go-ahead for round 2 from a fifo, opened
    # read-write here so that neither side blocks opening it.
    exec 4<>"$fifo"
    ip netns exec "$NS" "$CBUILD/readiness_many_clients" "$STACK_IP" $port "$N" \
        <&4 >"$TEST_TMP/cli-$mode.out" 2>"$TEST_TMP/cli-$mode.err" &
    cli=$!
    STARTED_PIDS+=("$cli")
    wait_for 120 grep -q -e 'ROUND1 OK' -e FAIL "$TEST_TMP/cli-$mode.out" ||
        fail "$T: $mode: round 1 did not finish: $(tail -n 3 "$TEST_TMP/cli-$mode.out" | tr '\n' ' ')"
    grep -q "ROUND1 OK $N" "$TEST_TMP/cli-$mode.out" ||
        fail "$T: $mode: $(grep FAIL "$TEST_TMP/cli-$mode.out" | head -n 1)"
    sleep 1
    after=$(rss_kib "$srv")
    echo "  $mode: $N connections echoed; server RSS ${before} KiB idle, ${after} KiB with $N idle connections: $(((after - before) * 1024 / N)) bytes per connection"
    echo go >&4
    wait_for 120 grep -q -e 'ROUND2 OK' -e FAIL "$TEST_TMP/cli-$mode.out" ||
        fail "$T: $mode: round 2 did not finish: $(tail -n 3 "$TEST_TMP/cli-$mode.out" | tr '\n' ' ')"
    grep -q "ROUND2 OK $N" "$TEST_TMP/cli-$mode.out" ||
        fail "$T: $mode: $(grep FAIL "$TEST_TMP/cli-$mode.out" | head -n 1)"
    exec 4>&-
    wait "$cli" || fail "$T: $mode: the clients exited with status $?"
    stop_pid "$srv"
    [[ $STOP_STATUS == 0 ]] || fail "$T: $mode server exited with status $STOP_STATUS"
    grep -q "SERVED $N connections" "$TEST_TMP/srv-$mode.out" ||
        fail "$T: $mode server: $(cat "$TEST_TMP/srv-$mode.out" | tail -n 1)"
done
pass $T
