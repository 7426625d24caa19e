# Usage: source "$(dirname "$0")/../lib/bulk.sh"   (after lib/netns.sh)
#
#   bulk_kernel_connects T PORT BYTES SECS
#       starts c-tests' bulk as a listener on the tapstack side, has the
#       kernel's kpeer.py connect to it and exchange BYTES both ways
#       (inputs $TEST_TMP/k.in, output $TEST_TMP/k.out), waits (bounded)
#       for bulk to finish and stops it; its output is $TEST_TMP/listen.out
#       and its exit status STOP_STATUS. Fails T when either side fails to
#       start or kpeer.py fails.

bulk_kernel_connects() {
    local t=$1 port=$2 bytes=$3 secs=$4 prog status=0 i
    need python3
    start_bg "$TEST_TMP/listen.out" "$TEST_TMP/listen.err" "${PRELOAD[@]}" \
        "$CBUILD/bulk" listen "$port" "$bytes" "$secs"
    prog=$BG_PID
    await 10 "$TEST_TMP/listen.out" '^listening' ||
        fail "$t: bulk listen did not start: $(head -c 300 "$TEST_TMP/listen.out" "$TEST_TMP/listen.err")"
    ns_exec timeout "$secs" python3 "$ROOT/scripts/lib/kpeer.py" connect 198.18.0.2 "$port" \
        "$TEST_TMP/k.in" "$TEST_TMP/k.out" >"$TEST_TMP/kpeer.out" 2>&1 || status=$?
    ((status == 0)) ||
        fail "$t: the kernel's kpeer.py to 198.18.0.2:$port exited with $status: $(tail -c 300 "$TEST_TMP/kpeer.out")"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$prog" 2>/dev/null || break
        sleep 0.1
    done
    stop_pid "$prog"
}
