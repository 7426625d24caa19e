#!/usr/bin/env bash
# Usage: scripts/system/panic_guard.sh   (after cargo build --release and make -C c-tests)
#
# A panic inside the library reaches the caller as -1/EIO with one line on
# stderr, and the program carries on (the test hook panics twice). Touches no
# network: it needs no namespace.
source "$(dirname "$0")/../lib/netns.sh"
T=panic_guard
need_built $T panic_guard

status=0
env LD_PRELOAD="$LIB" TAPSTACK_TEST_HOOKS=1 "$CBUILD/panic_guard" \
    >"$TEST_TMP/out" 2>"$TEST_TMP/err" || status=$?
((status == 0)) || fail "$T: exit status $status: $(tail -n 2 "$TEST_TMP/out" "$TEST_TMP/err" | tr '\n' ' ')"
grep -qx OK "$TEST_TMP/out" || fail "$T: the program did not print OK"
panics=$(grep -c 'panic in tapstack_debug_panic' "$TEST_TMP/err" || true)
lines=$(wc -l <"$TEST_TMP/err")
((panics == 2 && lines == 2)) ||
    fail "$T: want one stderr line per panic (2), got $lines lines, $panics about the panic"

pass $T
