#!/usr/bin/env bash
# Usage: scripts/system/tapstack_ss.sh   (root; after cargo build --release and make -C c-tests)
#
# Live introspection through the stack's control socket: echo_server runs
# on tapstack, the kernel's nc holds one connection to it open. From the
# same namespace, `tapstack ss` shows the listener on 0.0.0.0:7777 and the
# ESTAB connection with nc's port and the server's pid; `tapstack ss -i
# --json` gives that connection a cwnd > 0; `tapstack neigh` shows the
# kernel's 198.18.0.1 with tap0's MAC as `ip link` reports it; `tapstack
# stats` has a segments-in counter (tcp_rx) that grows after more traffic.
# Then clients that connect to the control socket and never read, send half
# a request, or never send (more of them than it keeps), do not stall the stack: nc's bytes are
# still echoed and `tapstack ss` still answers.
source "$(dirname "$0")/../lib/netns.sh"
T=tapstack_ss
TAPSTACK="$ROOT/target/release/tapstack"
need_built $T echo_server
[[ -x $TAPSTACK ]] || fail "$T: $TAPSTACK is missing (cargo build --release)"
need ip nc python3 ss
netns_create $T

start_bg "$TEST_TMP/server.out" "$TEST_TMP/server.err" "${PRELOAD[@]}" "$CBUILD/echo_server" 7777
server=$BG_PID
await 10 "$TEST_TMP/server.out" '^listening' ||
    fail "$T: echo_server did not start: $(head -c 300 "$TEST_TMP/server.err")"

# The kernel's connection, kept open: nc's stdin is a FIFO we hold.
start_ctl nc "$TEST_TMP/nc.out" "$TEST_TMP/nc.err" ip netns exec "$NS" nc 198.18.0.2 7777
ctl nc hello-1
await 10 "$TEST_TMP/nc.out" '^hello-1$' || fail "$T: nc got no echo: $(head -c 300 "$TEST_TMP/nc.err")"
kport=$(ns_exec ss -Htn state established 'dport = :7777' | awk '{print $3}' | sed 's/.*://')
[[ $kport =~ ^[0-9]+$ ]] || fail "$T: the kernel's ss shows no connection to 7777 ($kport)"

tapstack() { ns_exec "$TAPSTACK" "$@"; }

# 1. ss: the listener and the connection, with the server's pid.
tapstack ss >"$TEST_TMP/ss.txt" 2>"$TEST_TMP/ss.err" || fail "$T: tapstack ss: $(cat "$TEST_TMP/ss.err")"
sed 's/^/  /' "$TEST_TMP/ss.txt"
grep -Eq "^State +Recv-Q +Send-Q +Local Address:Port +Peer Address:Port +Process$" "$TEST_TMP/ss.txt" ||
    fail "$T: ss has no ss -tan header"
grep -Eq "^LISTEN +0 +[0-9]+ +0\.0\.0\.0:7777 +0\.0\.0\.0:\* +pid=$server,tap=tap0$" "$TEST_TMP/ss.txt" ||
    fail "$T: ss shows no listener on 0.0.0.0:7777 owned by pid $server"
grep -Eq "^ESTAB +0 +0 +198\.18\.0\.2:7777 +198\.18\.0\.1:$kport +pid=$server,tap=tap0$" "$TEST_TMP/ss.txt" ||
    fail "$T: ss shows no ESTAB 198.18.0.2:7777 <-> 198.18.0.1:$kport"
# The stack is found by its TAP and by its pid; another TAP has none.
tapstack ss --ifname tap0 | grep -q ESTAB || fail "$T: ss --ifname tap0 finds nothing"
tapstack ss --pid "$server" | grep -q ESTAB || fail "$T: ss --pid $server finds nothing"
status=0
tapstack ss --ifname tap9 >/dev/null 2>"$TEST_TMP/none.err" || status=$?
((status == 1)) && grep -q "no running stack on tap9" "$TEST_TMP/none.err" ||
    fail "$T: ss --ifname tap9: status $status, $(cat "$TEST_TMP/none.err")"

# 2. ss -i --json: the connection's internals.
tapstack ss -i --json >"$TEST_TMP/ss.json" || fail "$T: tapstack ss -i --json failed"
python3 - "$TEST_TMP/ss.json" "$kport" "$server" <<'EOF' || fail "$T: ss -i --json: $(head -c 600 "$TEST_TMP/ss.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["pid"] == int(sys.argv[3]) and doc["ifname"] == "tap0", doc
est = [s for s in doc["sockets"] if s["state"] == "ESTAB"]
assert len(est) == 1, est
s = est[0]
assert s["local"] == "198.18.0.2:7777" and s["peer"] == "198.18.0.1:" + sys.argv[2], s
t = s["tcp"]
assert t["cwnd"] > 0 and t["snd_mss"] > 0 and t["rto_us"] > 0 and t["cc"], t
assert t["bytes_acked"] == 8 and t["bytes_received"] == 8, t  # "hello-1\n" each way
print("  ESTAB internals: %s cwnd %d rto %d us rtt %d us mss %d" % (t["cc"], t["cwnd"], t["rto_us"], t["rtt_us"], t["snd_mss"]))
EOF
tapstack ss -i | grep -Eq $'^\t[a-z]+ .*rto:[0-9.]+ rtt:[0-9.]+/[0-9.]+ .*cwnd:[1-9]' ||
    fail "$T: ss -i has no internals line: $(tapstack ss -i)"

# 3. neigh: the kernel's side with tap0's MAC.
mac=$(ip -n "$NS" link show tap0 | awk '/link\/ether/ {print $2}')
tapstack neigh >"$TEST_TMP/neigh.txt" || fail "$T: tapstack neigh failed"
sed 's/^/  /' "$TEST_TMP/neigh.txt"
grep -Eq "^198\.18\.0\.1 dev tap0 lladdr $mac (REACHABLE|PROBE) " "$TEST_TMP/neigh.txt" ||
    fail "$T: neigh shows no 198.18.0.1 lladdr $mac"

# 4. stats: segments in, and more after more traffic.
tcp_rx() { tapstack stats | awk '$1 == "tcp_rx" {print $2}'; }
before=$(tcp_rx)
[[ $before =~ ^[0-9]+$ ]] && ((before > 0)) || fail "$T: stats: tcp_rx is '$before'"
for i in 2 3 4 5; do ctl nc "hello-$i"; done
await 10 "$TEST_TMP/nc.out" '^hello-5$' || fail "$T: no echo of hello-5"
after=$(tcp_rx)
((after > before)) || fail "$T: tcp_rx did not grow with traffic: $before then $after"
echo "  stats: tcp_rx $before, then $after"
tapstack stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["counters"]["tcp_rx"] > 0 and "drop_ip_checksum" in d["counters"]' ||
    fail "$T: stats --json lacks the counters"

# 5. Clients that never read, or never send, do not stall the stack.
sock=$(ns_exec awk '$NF ~ /^@tapstack\// && $4 == "00010000" {print substr($NF, 2); exit}' /proc/net/unix)
[[ -n $sock ]] || fail "$T: no @tapstack/ listening socket in /proc/net/unix"
start_bg "$TEST_TMP/stuck.out" "$TEST_TMP/stuck.err" ip netns exec "$NS" python3 -c '
import socket, sys, time
held = []
for i in range(12):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("\0" + sys.argv[1])
    if i % 3 == 1:
        s.sendall(b"ss\n")   # asks, never reads
    elif i % 3 == 2:
        s.sendall(b"s")      # half a request, never the rest
    held.append(s)           # the others never even ask
print("connected", flush=True)
time.sleep(60)
' "$sock"
stuck=$BG_PID
await 10 "$TEST_TMP/stuck.out" '^connected' || fail "$T: the stuck clients did not connect: $(cat "$TEST_TMP/stuck.err")"
ctl nc hello-6
await 10 "$TEST_TMP/nc.out" '^hello-6$' || fail "$T: with stuck control clients, nc got no echo"
timeout 10 ip netns exec "$NS" "$TAPSTACK" ss | grep -q "198.18.0.1:$kport" ||
    fail "$T: with stuck control clients, tapstack ss did not answer"
stop_pid "$stuck"
kill -0 "$server" 2>/dev/null || fail "$T: echo_server died"
echo "  12 stuck control clients: the stack kept serving"

pass $T
