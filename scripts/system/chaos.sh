#!/usr/bin/env bash
# Usage: scripts/system/chaos.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel
#
# A pre-fork server under load whose workers die by SIGKILL: prefork_server
# chaos (c-tests/prefork_server.c) runs 4 workers on the tapstack side; its
# parent kills one at random every 20 ms, 150 times, and starts a new one
# for each (a few of them die holding the stack's lock: what their call
# left half done must be repaired). Meanwhile the kernel's prefork_client
# sends rounds of 200 requests from 8 threads. A connection whose worker
# died may be reset or cut short, but every completed answer must be right
# byte for byte, and at least half of each round must complete. After the last kill, one more
# round must complete every request: the server still answers.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh" # own_tree
T=chaos
need_built $T prefork_server
[[ -x $KBUILD/prefork_client ]] || fail "$T: $KBUILD/prefork_client is missing (make -C c-tests)"
netns_create $T

start_bg "$TEST_TMP/server.out" "$TEST_TMP/server.err" \
    "${PRELOAD[@]}" "$CBUILD/prefork_server" chaos 7702 4 150 20
pid=$BG_PID
own_tree "$pid" prefork_server
await 10 "$TEST_TMP/server.out" '^listening' ||
    fail "$T: prefork_server did not start: $(head -c 300 "$TEST_TMP/server.err")"

client() {
    local out=$1 status=0
    shift
    timeout 45 ip netns exec "$NS" "$KBUILD/prefork_client" 198.18.0.2 7702 200 8 "$@" \
        >"$out" 2>"$out.err" || status=$?
    ! grep -q '^completed' "$out" || grep -q ' wrong 0$' "$out" ||
        fail "$T: a completed answer was wrong: $(grep '^FAIL' "$out" | head -n 3 | tr '\n' ';')"
    ((status == 0)) && grep -qx OK "$out" || stack_report
    ((status == 0)) && grep -qx OK "$out" ||
        fail "$T: $(grep '^completed' "$out" || echo "no summary (status $status)"); $(grep '^FAIL' "$out" | head -n 2 | tr '\n' ';') $(head -n 2 "$out.err" | tr '\n' ' ')"
}

rounds=0 done_total=0 errors_total=0
deadline=$((SECONDS + 40))
until grep -q '^chaos done' "$TEST_TMP/server.out"; do
    ((SECONDS < deadline)) || fail "$T: the server did not finish its 150 kills in 40 s"
    rounds=$((rounds + 1))
    client "$TEST_TMP/round$rounds" --allow-errors
    read -r _ c _ e _ < <(grep '^completed' "$TEST_TMP/round$rounds")
    done_total=$((done_total + c)) errors_total=$((errors_total + e))
done
echo "  under chaos: $rounds rounds, $done_total answers completed and checked, $errors_total connections lost"
kill -0 "$pid" 2>/dev/null || fail "$T: the server's parent died: $(tail -n 2 "$TEST_TMP/server.err" | tr '\n' ' ')"
client "$TEST_TMP/final"
echo "  after the chaos: $(grep '^completed' "$TEST_TMP/final")"
stop_pid "$pid"
((STOP_STATUS == 0)) || fail "$T: the server ended with status $STOP_STATUS after SIGTERM"
echo "  server: $(tail -n 1 "$TEST_TMP/server.err")"
pass $T
