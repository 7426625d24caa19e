#!/usr/bin/env bash
# Usage: scripts/system/real_servers.sh   (root; after cargo build --release)
# modes: tapstack kernel
#
# More unmodified programs on tapstack, each checked on content:
#   redis-server (epoll, keepalive, TCP_NODELAY): the kernel's redis-cli
#     stores a 1 MiB random value and reads it back byte for byte, then
#     redis-benchmark runs 20 clients and must report no error;
#   memcached (libevent, 4 worker threads handing connections over): a
#     set and a get through the kernel's nc;
#   socat as a proxy: it accepts on the stack and connects from the stack
#     to a kernel listener; 4 MiB cross it with the same sha256.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_servers
need redis-server redis-cli redis-benchmark memcached socat nc
need_built $T
real_setup servers

# 1. redis
start_bg "$TEST_TMP/redis.out" "$TEST_TMP/redis.err" "${UNDER[@]}" "$(command -v redis-server)" \
    --port 6379 --bind "$STACK_IP" --save "" --appendonly no --protected-mode no --dir "$TEST_TMP"
pid=$BG_PID
wait_for 10 sh -c "ip netns exec '$NS' redis-cli -h $STACK_IP ping | grep -q PONG" ||
    fail "$T: redis-server on the stack does not answer: $(tail -n 3 "$TEST_TMP/redis.out" | tr '\n' ' ')"
head -c $((1 << 20)) /dev/urandom | base64 -w0 >"$TEST_TMP/value"
ns_exec redis-cli -h "$STACK_IP" -x set big <"$TEST_TMP/value" >"$TEST_TMP/set.out" 2>&1
grep -q OK "$TEST_TMP/set.out" || fail "$T: redis SET: $(head -c 200 "$TEST_TMP/set.out")"
ns_exec redis-cli -h "$STACK_IP" get big | head -c -1 >"$TEST_TMP/got"
cmp -s "$TEST_TMP/value" "$TEST_TMP/got" ||
    fail "$T: redis GET returned other content ($(stat -c %s "$TEST_TMP/got") of $(stat -c %s "$TEST_TMP/value") bytes)"
out=$(ns_exec redis-benchmark -h "$STACK_IP" -q -n 20000 -c 20 -t set,get,lpush 2>&1) ||
    fail "$T: redis-benchmark failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
! grep -qi 'error' <<<"$out" || fail "$T: redis-benchmark: $(grep -i error <<<"$out" | head -n 2 | tr '\n' ' ')"
echo "  redis: 1 MiB value stored and read back; $(tr '\r' '\n' <<<"$out" | grep -o 'GET: [0-9.]* requests per second' | tail -n 1)"
stop_pid "$pid"

# 2. memcached
start_bg "$TEST_TMP/mc.out" "$TEST_TMP/mc.err" "${UNDER[@]}" "$(command -v memcached)" \
    -u root -l "$STACK_IP" -p 11211 -U 0 -t 4
pid=$BG_PID
wait_for 10 sh -c "printf 'version\r\nquit\r\n' | ip netns exec '$NS' nc -n -q 2 $STACK_IP 11211 | grep -q VERSION" ||
    fail "$T: memcached on the stack does not answer: $(tail -n 3 "$TEST_TMP/mc.err" | tr '\n' ' ')"
got=$(printf 'set k 0 0 5\r\nhello\r\nget k\r\nquit\r\n' | ns_exec nc -n -q 2 "$STACK_IP" 11211 | tr -d '\r')
[[ $got == $'STORED\nVALUE k 0 5\nhello\nEND' ]] || fail "$T: memcached answered: $got"
echo "  memcached: set and get answered"
stop_pid "$pid"

# 3. socat as a proxy: kernel client -> socat on the stack -> kernel server.
start_bg "$TEST_TMP/sink.out" "$TEST_TMP/sink.err" ip netns exec "$NS" nc -n -d -l -p 7002
sink=$BG_PID
start_bg "$TEST_TMP/socat.out" "$TEST_TMP/socat.err" "${UNDER[@]}" "$(command -v socat)" \
    "TCP-LISTEN:7000,bind=$STACK_IP,reuseaddr,nodelay,keepalive" "TCP:$PEER_IP:7002"
pid=$BG_PID
make_file "$TEST_TMP/sent" $((4 << 20))
# socat serves one connection: no probe, but retries while it is not yet
# listening (refused at once, before any byte goes).
wait_for 10 ns_exec nc -n -q 1 "$STACK_IP" 7000 <"$TEST_TMP/sent" ||
    fail "$T: sending through socat failed: $(tail -n 3 "$TEST_TMP/socat.err" | tr '\n' ' ')"
wait_exit "$sink" 15 || fail "$T: the kernel-side sink did not see the end of the stream"
[[ $(sha "$TEST_TMP/sink.out") == $(sha "$TEST_TMP/sent") ]] ||
    fail "$T: through socat, $(stat -c %s "$TEST_TMP/sink.out") bytes of other content arrived"
echo "  socat: 4 MiB proxied from the stack's listener to a kernel server, sha256 equal"
stop_pid "$pid"
pass $T
