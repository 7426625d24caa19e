#!/usr/bin/env bash
# Usage: scripts/system/privdrop.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel
#
# A daemon that drops root before its first socket still gets the stack:
# tapstack starts it at the program's setgroups/setgid/setuid, while the
# TAP may still be opened (opening tap0 needs CAP_NET_ADMIN).
#   - c-tests/privdrop_server: setuid(65534), then listen; the kernel's nc
#     sends a line and reads it back;
#   - memcached -u nobody: a set and a get through the kernel's nc.
source "$(dirname "$0")/../lib/netns.sh"
T=privdrop
for p in memcached nc; do
    command -v $p >/dev/null || fail "$T: $p is not installed"
done
need_built $T privdrop_server
netns_create $T

# 1. The C program.
start_bg "$TEST_TMP/priv.out" "$TEST_TMP/priv.err" "${PRELOAD[@]}" "$CBUILD/privdrop_server" 7000
pid=$BG_PID
await 10 "$TEST_TMP/priv.out" '^listening|^FAIL' ||
    fail "$T: privdrop_server did not start: $(tail -n 3 "$TEST_TMP/priv.err" | tr '\n' ' ')"
grep -q '^FAIL' "$TEST_TMP/priv.out" &&
    fail "$T: privdrop_server: $(grep '^FAIL' "$TEST_TMP/priv.out" | head -n 3 | tr '\n' ';') $(tail -n 2 "$TEST_TMP/priv.err" | tr '\n' ' ')"
got=$(printf 'after setuid\n' | ns_exec timeout 10 nc -n -q 2 198.18.0.2 7000) ||
    fail "$T: the kernel's nc could not reach privdrop_server: $(tail -n 2 "$TEST_TMP/priv.err" | tr '\n' ' ')"
[[ $got == 'after setuid' ]] || fail "$T: privdrop_server echoed '$got'"
wait_exit "$pid" 10 || fail "$T: privdrop_server did not exit"
sed 's/^/  /' "$TEST_TMP/priv.out"
grep -qx OK "$TEST_TMP/priv.out" ||
    fail "$T: privdrop_server: $(grep '^FAIL' "$TEST_TMP/priv.out" | head -n 3 | tr '\n' ';')"

# 2. memcached -u nobody.
start_bg "$TEST_TMP/mc.out" "$TEST_TMP/mc.err" "${PRELOAD[@]}" "$(command -v memcached)" \
    -u nobody -l 198.18.0.2 -p 11211 -U 0 -t 2
pid=$BG_PID
wait_for 10 sh -c "printf 'version\r\nquit\r\n' | ip netns exec '$NS' nc -n -q 2 198.18.0.2 11211 | grep -q VERSION" ||
    fail "$T: memcached -u nobody does not answer: $(tail -n 3 "$TEST_TMP/mc.err" | tr '\n' ' ')"
got=$(printf 'set k 0 0 5\r\nhello\r\nget k\r\nquit\r\n' | ns_exec nc -n -q 2 198.18.0.2 11211 | tr -d '\r')
[[ $got == $'STORED\nVALUE k 0 5\nhello\nEND' ]] || fail "$T: memcached answered: $got"
user=$(ps -o user= -p "$pid" | tr -d ' ')
[[ $user == nobody ]] || fail "$T: memcached runs as '$user', not nobody"
echo "  memcached -u nobody: set and get answered, running as $user"
stop_pid "$pid"
pass $T
