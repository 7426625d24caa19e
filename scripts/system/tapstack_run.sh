#!/usr/bin/env bash
# Usage: scripts/system/tapstack_run.sh   (root; after cargo build --release and make -C c-tests)
#
# The tapstack command (tools/tapstack/): in a namespace with no TAP yet,
# `tapstack run --setup -- echo_server` creates tap0, gives its kernel side
# 198.18.0.1/24 and sets it up, saying each; the server then runs under the
# preload as the same process (its pid, LD_PRELOAD an absolute path) and
# the kernel's nc gets its bytes echoed. A second --setup finds all of it
# right and changes nothing. Also: a misspelt TAPSTACK_IPP is named with
# TAPSTACK_IP suggested; --setup as a user, a bad --ip and a missing
# library each fail with their reason; an installed bin/ + lib/ layout
# finds the library.
source "$(dirname "$0")/../lib/netns.sh"
T=tapstack_run
TAPSTACK="$ROOT/target/release/tapstack"
need_built $T echo_server
[[ -x $TAPSTACK ]] || fail "$T: $TAPSTACK is missing (cargo build --release)"
need ip nc setpriv

# A namespace of our own without tap0 (netns_create would make it); the
# EXIT trap deletes it, the TAP with it.
NS="tapstack-$T-$$"
ip netns add "$NS"
ip -n "$NS" link set lo up
ns_exec sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ns_exec sysctl -qw net.ipv6.conf.default.disable_ipv6=1

# 1. A misspelt variable is named, with the one meant.
status=0
ns_exec env TAPSTACK_IPP=10.0.0.2/24 "$TAPSTACK" run -- true >"$TEST_TMP/typo.out" 2>"$TEST_TMP/typo.err" || status=$?
((status == 0)) || fail "$T: tapstack run -- true exited $status: $(head -c 300 "$TEST_TMP/typo.err")"
grep -q 'TAPSTACK_IPP.*did you mean TAPSTACK_IP?' "$TEST_TMP/typo.err" ||
    fail "$T: no warning naming TAPSTACK_IPP and suggesting TAPSTACK_IP; stderr: $(head -c 300 "$TEST_TMP/typo.err")"
echo "  warning: $(cat "$TEST_TMP/typo.err")"

# 2. --setup from nothing, then the server on tapstack.
start_bg "$TEST_TMP/server.out" "$TEST_TMP/server.err" \
    ip netns exec "$NS" "$TAPSTACK" run --setup -- "$CBUILD/echo_server" 7100
SERVER=$BG_PID
await 10 "$TEST_TMP/server.out" '^listening' ||
    fail "$T: echo_server did not start: $(head -c 400 "$TEST_TMP/server.err")"
sed 's/^/  /' "$TEST_TMP/server.err"
for said in 'created tap0' 'gave tap0 198.18.0.1/24' 'set tap0 up'; do
    grep -q "^tapstack: $said" "$TEST_TMP/server.err" ||
        fail "$T: --setup did not say '$said': $(tr '\n' '|' <"$TEST_TMP/server.err")"
done
ip -n "$NS" -4 -o addr show dev tap0 | grep -q 'inet 198.18.0.1/24' ||
    fail "$T: tap0 lacks 198.18.0.1/24: $(ip -n "$NS" -4 -o addr show dev tap0)"
# exec, not a child: the pid we started is echo_server's, preloaded.
comm=$(cat "/proc/$SERVER/comm")
[[ $comm == echo_server ]] || fail "$T: pid $SERVER is '$comm', not echo_server (no exec?)"
tr '\0' '\n' <"/proc/$SERVER/environ" | grep -qx "LD_PRELOAD=$LIB" ||
    fail "$T: echo_server's LD_PRELOAD is not $LIB: $(tr '\0' '\n' <"/proc/$SERVER/environ" | grep LD_PRELOAD)"

printf 'through tapstack run %s\n' {1..50} >"$TEST_TMP/sent"
ns_exec timeout 10 nc -n -N 198.18.0.2 7100 <"$TEST_TMP/sent" >"$TEST_TMP/got" ||
    fail "$T: nc to 198.18.0.2:7100 failed"
cmp -s "$TEST_TMP/sent" "$TEST_TMP/got" ||
    fail "$T: echoed $(wc -c <"$TEST_TMP/got") bytes, want the $(wc -c <"$TEST_TMP/sent") sent, byte for byte"
# SIGTERM reaches the server itself, which ends with status 0.
stop_pid "$SERVER"
((STOP_STATUS == 0)) || fail "$T: echo_server ended with status $STOP_STATUS after SIGTERM"

# 3. --setup again: everything is right, nothing changes.
status=0
ns_exec "$TAPSTACK" run --setup -- true >"$TEST_TMP/again.out" 2>"$TEST_TMP/again.err" || status=$?
((status == 0)) || fail "$T: the second --setup exited $status: $(tr '\n' '|' <"$TEST_TMP/again.err")"
for said in 'tap0 exists already' 'tap0 has 198.18.0.1/24 already' 'tap0 is up already'; do
    grep -q "^tapstack: $said" "$TEST_TMP/again.err" ||
        fail "$T: the second --setup did not say '$said': $(tr '\n' '|' <"$TEST_TMP/again.err")"
done
! grep -Eq '^tapstack: (created|gave|set) ' "$TEST_TMP/again.err" ||
    fail "$T: the second --setup changed something: $(tr '\n' '|' <"$TEST_TMP/again.err")"
n=$(ip -n "$NS" -4 -o addr show dev tap0 | grep -c inet || true)
((n == 1)) || fail "$T: tap0 has $n addresses after the second --setup, want 1"

# 4. Failures, each with its reason and no program run.
expect_fail() { # WANT_STATUS REGEX CMD...
    local want=$1 re=$2 status=0
    shift 2
    "$@" >"$TEST_TMP/f.out" 2>"$TEST_TMP/f.err" || status=$?
    ((status == want)) && grep -Eq "$re" "$TEST_TMP/f.err" ||
        fail "$T: '$*' exited $status (want $want), stderr: $(head -c 300 "$TEST_TMP/f.err") (want /$re/)"
    [[ ! -s $TEST_TMP/f.out ]] || fail "$T: '$*' ran the program: $(head -c 100 "$TEST_TMP/f.out")"
}
expect_fail 1 'setup needs root' \
    ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups "$TAPSTACK" run --setup -- echo ran
expect_fail 2 '^tapstack: run: --ip "10.0.0.1": ' ns_exec "$TAPSTACK" run --ip 10.0.0.1 -- echo ran
expect_fail 2 'no PROGRAM' ns_exec "$TAPSTACK" run --setup
mkdir -p "$TEST_TMP/inst/bin"
cp "$TAPSTACK" "$TEST_TMP/inst/bin/"
expect_fail 1 "looked for $TEST_TMP/inst/bin/libtapstack.so and $TEST_TMP/inst/lib/libtapstack.so" \
    "$TEST_TMP/inst/bin/tapstack" run -- echo ran

# 5. An installed layout: bin/tapstack finds lib/libtapstack.so.
mkdir -p "$TEST_TMP/inst/lib"
cp "$LIB" "$TEST_TMP/inst/lib/"
got=$(ns_exec "$TEST_TMP/inst/bin/tapstack" run -- sh -c 'echo "$LD_PRELOAD"')
[[ $got == "$TEST_TMP/inst/lib/libtapstack.so" ]] ||
    fail "$T: installed layout: LD_PRELOAD='$got', want $TEST_TMP/inst/lib/libtapstack.so"

pass $T
