#!/usr/bin/env bash
# Usage: scripts/system/real_http.sh   (root; after cargo build --release)
# modes: tapstack kernel
#
# Unmodified curl and python3's http.server on tapstack: curl under the
# preload fetches a 10 MiB file (and a small one) from the kernel side's
# http.server; then http.server runs under the preload and the kernel's curl
# fetches from it: bound to the stack's address, with no --bind, and on ::
# (an AF_INET6 dual-stack socket, reached over IPv4, logging its client as
# ::ffff:198.18.0.1). The sha256 of every transfer must match.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_http
need python3 curl
need_built $T
real_setup http

www=$TEST_TMP/www
mkdir -p "$www"
make_file "$www/small" 1000
make_file "$www/big" $((10 << 20))
PY=$(command -v python3)

# 1. curl on tapstack, http.server on the kernel.
start_bg "$TEST_TMP/k.out" "$TEST_TMP/k.err" ip netns exec "$NS" "$PY" -m http.server 8000 --bind "$PEER_IP" --directory "$www"
kpid=$BG_PID
wait_for 10 ns_exec curl -s -o /dev/null "http://$PEER_IP:8000/small" || fail "$T: the kernel-side http.server did not start"
for f in small big; do
    "${UNDER[@]}" "$(command -v curl)" -sS --max-time 60 -o "$TEST_TMP/c-$f" "http://$PEER_IP:8000/$f" 2>"$TEST_TMP/c.err" ||
        fail "$T: curl on the stack fetching /$f failed: $(head -c 300 "$TEST_TMP/c.err")"
    [[ $(sha "$TEST_TMP/c-$f") == $(sha "$www/$f") ]] ||
        fail "$T: curl on the stack got /$f with other content ($(stat -c %s "$TEST_TMP/c-$f") bytes)"
done
stop_pid "$kpid"

# 2. http.server on tapstack, curl on the kernel.
start_bg "$TEST_TMP/s.out" "$TEST_TMP/s.err" "${UNDER[@]}" "$PY" -m http.server 8001 --bind "$STACK_IP" --directory "$www"
spid=$BG_PID
wait_for 15 ns_exec curl -s -o /dev/null "http://$STACK_IP:8001/small" ||
    fail "$T: http.server on the stack does not answer: $(tail -n 3 "$TEST_TMP/s.err" | tr '\n' ' ')"
for f in small big; do
    ns_exec curl -sS --max-time 60 -o "$TEST_TMP/s-$f" "http://$STACK_IP:8001/$f" 2>"$TEST_TMP/c.err" ||
        fail "$T: kernel curl from http.server on the stack, /$f: $(head -c 300 "$TEST_TMP/c.err")"
    [[ $(sha "$TEST_TMP/s-$f") == $(sha "$www/$f") ]] ||
        fail "$T: http.server on the stack sent /$f with other content ($(stat -c %s "$TEST_TMP/s-$f") bytes)"
done
# Several at once, through the server's threads.
curls=()
for i in 1 2 3 4; do
    ns_exec curl -sS --max-time 60 -o "$TEST_TMP/p-$i" "http://$STACK_IP:8001/big" &
    curls+=($!)
done
for c in "${curls[@]}"; do
    wait "$c" || fail "$T: parallel fetch (curl pid $c) failed"
done
for i in 1 2 3 4; do
    [[ $(sha "$TEST_TMP/p-$i") == $(sha "$www/big") ]] || fail "$T: parallel fetch $i arrived with other content"
done
stop_pid "$spid"

# 3. http.server on tapstack as users run it, with no --bind (Python binds
# getaddrinfo's first passive address: 0.0.0.0 or ::, as glibc orders
# them), then with --bind ::, an AF_INET6 socket on :: with IPV6_V6ONLY 0
# (dual-stack): the kernel's curl reaches both over IPv4, and the
# dual-stack server logs its client by the v4-mapped address.
port=8002
for bind in "" "::"; do
    args=()
    [[ -z $bind ]] || args=(--bind "$bind")
    start_bg "$TEST_TMP/d.out" "$TEST_TMP/d.err" "${UNDER[@]}" "$PY" -m http.server $port "${args[@]}" --directory "$www"
    dpid=$BG_PID
    wait_for 15 ns_exec curl -s -o /dev/null "http://$STACK_IP:$port/small" ||
        fail "$T: http.server ${bind:+--bind $bind }on the stack does not answer over IPv4: $(tail -n 3 "$TEST_TMP/d.err" | tr '\n' ' ')"
    for f in small big; do
        ns_exec curl -sS --max-time 60 -o "$TEST_TMP/d-$f" "http://$STACK_IP:$port/$f" 2>"$TEST_TMP/c.err" ||
            fail "$T: kernel curl from http.server ${bind:+--bind $bind }on the stack, /$f: $(head -c 300 "$TEST_TMP/c.err")"
        [[ $(sha "$TEST_TMP/d-$f") == $(sha "$www/$f") ]] ||
            fail "$T: http.server ${bind:+--bind $bind }on the stack sent /$f with other content ($(stat -c %s "$TEST_TMP/d-$f") bytes)"
    done
    stop_pid "$dpid"
    echo "  http.server ${bind:+--bind $bind }: $(head -n 1 "$TEST_TMP/d.out")"
    if [[ $bind == "::" ]]; then
        grep -q "^Serving HTTP on :: port $port" "$TEST_TMP/d.out" ||
            fail "$T: http.server --bind :: did not report listening on :: ($(head -n 2 "$TEST_TMP/d.out" | tr '\n' ' '))"
        grep -q "^::ffff:$PEER_IP - .*\"GET /big HTTP" "$TEST_TMP/d.err" ||
            fail "$T: http.server --bind :: did not log the client as ::ffff:$PEER_IP: $(tail -n 2 "$TEST_TMP/d.err" | tr '\n' ' ')"
    fi
    port=$((port + 1))
done
pass $T
