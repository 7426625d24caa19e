#!/usr/bin/env bash
# Usage: scripts/system/several_programs.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel
#
# Several unrelated programs started with the same TAPSTACK_IFNAME share
# one stack (docs/shared-stack.md): two echo_servers (c-tests), started one
# after the other, listen on ports 7000 and 7001 of the same address, and
# the kernel side reaches both at 198.18.0.2; a third echo_server asking
# for port 7000 fails with EADDRINUSE; echo_client programs on the stack
# reach both servers via 127.0.0.1 and via 198.18.0.2, and one reaching the
# kernel side (198.18.0.1) goes out from 198.18.0.2. A server stopped, its
# port is free again for a new program, while the other server carries on.
# Every program logs at debug level: it writes out the connection events its
# stack thread takes, which another program may have recorded (an event
# that pointed into that program's copy of the library crashed the reader).
source "$(dirname "$0")/../lib/netns.sh"
T=several_programs
need_built $T echo_server echo_client
[[ -x $KBUILD/echo_client ]] || fail "$T: $KBUILD/echo_client is missing (make -C c-tests)"
netns_create $T
kernel_echo 7100
export TAPSTACK_LOG=debug

# client NAME HOST PORT [WANT_LOCAL]: echo_client on the stack side.
client() {
    local name=$1 host=$2 port=$3 want=${4:-} status=0
    timeout 20 "${PRELOAD[@]}" "$CBUILD/echo_client" "$host" "$port" \
        >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" || status=$?
    ((status == 0)) && grep -qx OK "$TEST_TMP/$name.out" ||
        fail "$T: $name: echo_client $host:$port on the stack: status $status, $(grep '^FAIL' "$TEST_TMP/$name.out" | head -n 2 | tr '\n' ';') $(tail -n 2 "$TEST_TMP/$name.err" | tr '\n' ' ')"
    if [[ -n $want ]]; then
        grep -q "^local $want:" "$TEST_TMP/$name.out" ||
            fail "$T: $name: $(grep '^local' "$TEST_TMP/$name.out"), want local address $want"
    fi
    echo "  $name: echo through $host:$port ok ($(grep '^local' "$TEST_TMP/$name.out"))"
}

# kclient PORT: the kernel's echo_client to the stack's address.
kclient() {
    local status=0
    timeout 20 ip netns exec "$NS" "$KBUILD/echo_client" 198.18.0.2 "$1" \
        >"$TEST_TMP/k$1.out" 2>&1 || status=$?
    ((status == 0)) && grep -qx OK "$TEST_TMP/k$1.out" ||
        fail "$T: the kernel's echo_client to 198.18.0.2:$1: status $status, $(grep '^FAIL' "$TEST_TMP/k$1.out" | head -n 2 | tr '\n' ';')"
    echo "  kernel side: echo through 198.18.0.2:$1 ok"
}

start_bg "$TEST_TMP/a.out" "$TEST_TMP/a.err" "${PRELOAD[@]}" "$CBUILD/echo_server" 7000
a=$BG_PID
await 10 "$TEST_TMP/a.out" '^listening' || fail "$T: program A (echo_server 7000) did not start: $(head -c 300 "$TEST_TMP/a.out" "$TEST_TMP/a.err")"
start_bg "$TEST_TMP/b.out" "$TEST_TMP/b.err" "${PRELOAD[@]}" "$CBUILD/echo_server" 7001
b=$BG_PID
await 10 "$TEST_TMP/b.out" '^listening' || fail "$T: program B (echo_server 7001), started while A runs, did not start: $(head -c 300 "$TEST_TMP/b.out" "$TEST_TMP/b.err" | tr '\n' ' ')"
kclient 7000
kclient 7001

# A port another program holds.
status=0
timeout 10 "${PRELOAD[@]}" "$CBUILD/echo_server" 7000 >"$TEST_TMP/c.out" 2>"$TEST_TMP/c.err" || status=$?
grep -q 'bind port 7000: EADDRINUSE' "$TEST_TMP/c.out" ||
    fail "$T: program C (echo_server 7000 again): status $status, $(head -c 300 "$TEST_TMP/c.out" "$TEST_TMP/c.err" | tr '\n' ' '), want bind failing with EADDRINUSE"
echo "  program C: port 7000 is taken: EADDRINUSE"

client loop-a 127.0.0.1 7000 127.0.0.1
client loop-b 127.0.0.1 7001 127.0.0.1
client self-a 198.18.0.2 7000 198.18.0.2
client self-b 198.18.0.2 7001 198.18.0.2
client out 198.18.0.1 7100 198.18.0.2

# Program A ends; its port is free for a new program, B carries on.
stop_pid "$a"
start_bg "$TEST_TMP/d.out" "$TEST_TMP/d.err" "${PRELOAD[@]}" "$CBUILD/echo_server" 7000
await 10 "$TEST_TMP/d.out" '^listening' || fail "$T: program D (echo_server 7000 after A ended) did not start: $(head -c 300 "$TEST_TMP/d.out" "$TEST_TMP/d.err" | tr '\n' ' ')"
kclient 7000
kclient 7001
kill -0 "$b" 2>/dev/null || fail "$T: program B died"
pass $T
