#!/usr/bin/env bash
# Usage: scripts/system/prefork.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel
#
# The two classic forking servers on the tapstack side
# (c-tests/prefork_server.c), each answering 400 requests from 8 threads
# of the kernel's prefork_client, every byte checked:
#   prefork   the parent listens and forks 4 workers, each accepting in a
#             loop on the inherited listener; no worker may die;
#   forkper   the parent accepts, forks a child per connection and closes
#             its own copy (the child's copy must keep the connection).
# SIGTERM then ends each server with status 0.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh" # own_tree
T=prefork
need_built $T prefork_server
[[ -x $KBUILD/prefork_client ]] || fail "$T: $KBUILD/prefork_client is missing (make -C c-tests)"
netns_create $T

run_mode() {
    local mode=$1 port=$2 pid status=0
    shift 2
    start_bg "$TEST_TMP/$mode.out" "$TEST_TMP/$mode.err" \
        "${PRELOAD[@]}" "$CBUILD/prefork_server" "$mode" "$port" "$@"
    pid=$BG_PID
    own_tree "$pid" prefork_server
    await 10 "$TEST_TMP/$mode.out" '^listening' ||
        fail "$T: prefork_server $mode did not start: $(head -c 300 "$TEST_TMP/$mode.err")"
    timeout 60 ip netns exec "$NS" "$KBUILD/prefork_client" 198.18.0.2 "$port" 400 8 \
        >"$TEST_TMP/$mode.client" 2>"$TEST_TMP/$mode.client.err" || status=$?
    echo "  $mode: $(grep '^completed' "$TEST_TMP/$mode.client" || echo "no summary (status $status)")"
    if ((status != 0)) || ! grep -qx OK "$TEST_TMP/$mode.client"; then
        fail "$T: $mode: $(grep '^FAIL' "$TEST_TMP/$mode.client" | head -n 2 | tr '\n' ';') $(head -n 2 "$TEST_TMP/$mode.client.err" | tr '\n' ' ') server: $(head -n 2 "$TEST_TMP/$mode.err" | tr '\n' ' ')"
    fi
    ! grep -q 'without being killed' "$TEST_TMP/$mode.err" ||
        fail "$T: $mode: $(grep 'without being killed' "$TEST_TMP/$mode.err" | head -n 2 | tr '\n' ' ')"
    stop_pid "$pid"
    ((STOP_STATUS == 0)) || fail "$T: $mode: the server ended with status $STOP_STATUS after SIGTERM"
}

run_mode prefork 7700 4
run_mode forkper 7701
pass $T
