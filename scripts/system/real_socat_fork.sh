#!/usr/bin/env bash
# Usage: scripts/system/real_socat_fork.sh   (root; after cargo build --release)
# modes: tapstack kernel
#
# Unmodified socat as an inetd: "TCP4-LISTEN:7800,fork,reuseaddr
# EXEC:cat" on the tapstack side forks a child per connection, which
# execs cat with the connection on its stdin and stdout (through socat's
# socketpair). 20 kernel-side socat clients at once each send 256 KiB of
# their own random bytes, half-close, and must read the same bytes back.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_socat_fork
need socat
need_built $T
real_setup socatfork

start_bg "$TEST_TMP/socat.out" "$TEST_TMP/socat.err" "${UNDER[@]}" "$(command -v socat)" \
    TCP4-LISTEN:7800,fork,reuseaddr EXEC:cat
pid=$BG_PID
# socat's children (and their cat) outlive a failed run otherwise.
own_tree "$pid" socat
wait_for 10 sh -c "echo probe | ip netns exec '$NS' socat -t 5 -T 5 - TCP4:$STACK_IP:7800 | grep -q probe" ||
    fail "$T: socat on the stack does not echo: $(tail -n 3 "$TEST_TMP/socat.err" | tr '\n' ' ')"

clients=()
for i in $(seq 1 20); do
    make_file "$TEST_TMP/in.$i" $((256 << 10))
    timeout 30 ip netns exec "$NS" socat -t 20 -T 25 - "TCP4:$STACK_IP:7800" \
        <"$TEST_TMP/in.$i" >"$TEST_TMP/out.$i" 2>"$TEST_TMP/client.$i.err" &
    clients+=($!)
done
bad=0
for i in $(seq 1 20); do
    wait "${clients[$((i - 1))]}" || true
    if ! cmp -s "$TEST_TMP/in.$i" "$TEST_TMP/out.$i"; then
        echo "  client $i: got $(stat -c %s "$TEST_TMP/out.$i") bytes of $(stat -c %s "$TEST_TMP/in.$i"), not the same: $(head -c 200 "$TEST_TMP/client.$i.err")"
        bad=$((bad + 1))
    fi
done
((bad == 0)) || stack_report
((bad == 0)) || fail "$T: $bad of 20 clients did not get their bytes back: $(tail -n 3 "$TEST_TMP/socat.err" | tr '\n' ' ')"
echo "  20 concurrent clients: 256 KiB each echoed byte for byte through socat fork + EXEC:cat"
kill -0 "$pid" 2>/dev/null || fail "$T: the listening socat died"
stop_pid "$pid"
pass $T
