#!/usr/bin/env bash
# Usage: scripts/system/bad_config.sh   (root; after cargo build --release and make -C c-tests)
#
# A bad TAPSTACK_IP (or TAPSTACK_IP6) must not crash the program: socket() fails with
# ENETDOWN, the program exits normally, and stderr has one line naming the
# variable. A misspelt variable (TAPSTACK_IPP) next to a good configuration
# is named in a warning when the stack starts, with the one meant.
source "$(dirname "$0")/../lib/netns.sh"
T=bad_config
need_built $T bad_config
netns_create $T

status=0
ns_preload TAPSTACK_IP=banana "$CBUILD/bad_config" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || status=$?
((status == 0)) || fail "$T: the program exited with status $status (killed or crashed?)"
grep -qx 'errno=ENETDOWN' "$TEST_TMP/out" ||
    fail "$T: want socket() errno=ENETDOWN, program said: $(head -n 1 "$TEST_TMP/out")"
lines=$(wc -l <"$TEST_TMP/err")
named=$(grep -c 'TAPSTACK_IP' "$TEST_TMP/err" || true)
((lines == 1 && named == 1)) ||
    fail "$T: want exactly one stderr line naming TAPSTACK_IP, got $lines lines: $(head -n 3 "$TEST_TMP/err" | tr '\n' '|')"

# The same for a bad TAPSTACK_IP6 (an IPv4 address where IPv6 is wanted).
status=0
ns_preload TAPSTACK_IP6=198.18.0.2/24 "$CBUILD/bad_config" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || status=$?
((status == 0)) || fail "$T: the program exited with status $status (killed or crashed?)"
grep -qx 'errno=ENETDOWN' "$TEST_TMP/out" ||
    fail "$T: TAPSTACK_IP6: want socket() errno=ENETDOWN, program said: $(head -n 1 "$TEST_TMP/out")"
lines=$(wc -l <"$TEST_TMP/err")
named=$(grep -c '^tapstack: TAPSTACK_IP6=' "$TEST_TMP/err" || true)
((lines == 1 && named == 1)) ||
    fail "$T: want exactly one stderr line naming TAPSTACK_IP6, got $lines lines: $(head -n 3 "$TEST_TMP/err" | tr '\n' '|')"

status=0
ns_preload TAPSTACK_IPP=10.0.0.2/24 "$CBUILD/bad_config" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || status=$?
((status == 0)) || fail "$T: the program exited with status $status (killed or crashed?)"
grep -qx 'socket succeeded' "$TEST_TMP/out" ||
    fail "$T: with a good configuration socket() should succeed, program said: $(head -n 1 "$TEST_TMP/out")"
grep -q '^tapstack: warn.*TAPSTACK_IPP.*did you mean TAPSTACK_IP?' "$TEST_TMP/err" ||
    fail "$T: no warning naming TAPSTACK_IPP and suggesting TAPSTACK_IP; stderr: $(head -c 300 "$TEST_TMP/err")"
echo "  $(head -n 1 "$TEST_TMP/err")"

pass $T
