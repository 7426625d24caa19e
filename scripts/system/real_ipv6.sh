#!/usr/bin/env bash
# Usage: scripts/system/real_ipv6.sh   (root; after cargo build --release)
# modes: tapstack
#
# Unmodified servers, started with no address flags, reached over both
# families from the kernel side, in one namespace where tap0 has
# 198.18.0.1/24 and fd00:198:18::1/64 (IPv6 on for tap0 alone, DAD off,
# as tcp6.sh):
#   1. `iperf3 -s` (an AF_INET6 dual-stack socket on ::): the kernel's
#      client at 198.18.0.2 and at fd00:198:18::2, each with and without
#      -R; the sender's and receiver's byte counts (--json) agree;
#   2. nginx with `listen 8080; listen [::]:8080;`, which opens an AF_INET
#      socket on 0.0.0.0 and an IPV6_V6ONLY one on [::] on the same port
#      (they must not conflict): curl fetches a 1 MiB file over each
#      family, sha256 checked;
#   3. a python3 asyncio echo server started with host=None, which binds
#      every family (an AF_INET socket and an IPV6_V6ONLY AF_INET6 one):
#      the kernel's python3 connects over each family and every line
#      comes back byte for byte.
# (python3 -m http.server --bind :: is reached over IPv4 in real_http.sh
# and over IPv6 in tcp6.sh.)
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_ipv6
need iperf3 nginx curl python3
need_built $T
real_setup ipv6
STACK_IP6=fd00:198:18::2

ns_exec sysctl -qw net.ipv6.conf.tap0.accept_dad=0
ns_exec sysctl -qw net.ipv6.conf.tap0.disable_ipv6=0
ip -n "$NS" -6 addr add fd00:198:18::1/64 dev tap0 nodad
PY=$(command -v python3)

# 1. iperf3 -s, no flags.
# check_json FILE WHAT: the sender's and receiver's byte counts agree
# (within what can be in flight when the test ends, as real_iperf3.sh).
check_json() {
    python3 - "$1" <<'PY' || fail "$T: iperf3 $2: the byte counts disagree"
import json, sys
j = json.load(open(sys.argv[1]))
if "error" in j:
    sys.exit(f"iperf3 error: {j['error']}")
end = j["end"]
sent, recv = end["sum_sent"]["bytes"], end["sum_received"]["bytes"]
if sent <= 0 or recv <= 0 or abs(sent - recv) > max(16 << 20, sent // 100):
    sys.exit(f"sent {sent} bytes but received {recv}")
print(sent)
PY
}
for ip in "$STACK_IP" "$STACK_IP6"; do
    for dir in "" -R; do
        what="-c $ip${dir:+ $dir}"
        start_bg "$TEST_TMP/s.out" "$TEST_TMP/s.err" "${UNDER[@]}" "$(command -v iperf3)" -s -1
        spid=$BG_PID
        sleep 0.5
        ns_exec iperf3 -c "$ip" -t 2 -J $dir >"$TEST_TMP/i.json" 2>"$TEST_TMP/i.err" ||
            fail "$T: iperf3 $what failed: $(head -c 300 "$TEST_TMP/i.json" "$TEST_TMP/i.err" | tr '\n' ' ')"
        stop_pid "$spid"
        # The server names its client by the family it came over (a
        # v4-mapped peer is printed as plain IPv4).
        peer=$PEER_IP
        [[ $ip == "$STACK_IP" ]] || peer=fd00:198:18::1
        grep -q "Accepted connection from $peer, port" "$TEST_TMP/s.out" ||
            fail "$T: iperf3 $what: the server's log does not name the peer $peer: $(head -n 5 "$TEST_TMP/s.out" | tr '\n' ' ')"
        bytes=$(check_json "$TEST_TMP/i.json" "$what")
        echo "  iperf3 -s, kernel $what: $bytes bytes, $((bytes * 8 / 2 / 1000000)) Mbit/s, counts agree"
    done
done

# 2. nginx with listen 8080; listen [::]:8080;
www=$TEST_TMP/www
mkdir -p "$www" "$TEST_TMP/nginx"
make_file "$www/1m" $((1 << 20))
conf=$TEST_TMP/nginx/nginx.conf
cat >"$conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $TEST_TMP/nginx/nginx.pid;
error_log $TEST_TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log $TEST_TMP/nginx/access.log;
    client_body_temp_path $TEST_TMP/nginx/body;
    proxy_temp_path $TEST_TMP/nginx/proxy;
    fastcgi_temp_path $TEST_TMP/nginx/fastcgi;
    uwsgi_temp_path $TEST_TMP/nginx/uwsgi;
    scgi_temp_path $TEST_TMP/nginx/scgi;
    default_type application/octet-stream;
    server {
        listen 8080;
        listen [::]:8080;
        root $www;
    }
}
CONF
start_bg "$TEST_TMP/nginx.out" "$TEST_TMP/nginx.err" \
    "${UNDER[@]}" "$(command -v nginx)" -c "$conf" -p "$TEST_TMP/nginx"
npid=$BG_PID
wait_for 10 ns_exec curl -s -o /dev/null --max-time 2 "http://$STACK_IP:8080/1m" ||
    fail "$T: nginx does not answer over IPv4: $(tail -n 3 "$TEST_TMP/nginx.err" "$TEST_TMP/nginx/error.log" 2>/dev/null | tr '\n' ' ')"
for url in "http://$STACK_IP:8080/1m" "http://[$STACK_IP6]:8080/1m"; do
    rm -f "$TEST_TMP/got"
    ns_exec curl -sS --max-time 30 -o "$TEST_TMP/got" "$url" 2>"$TEST_TMP/c.err" ||
        fail "$T: nginx: curl $url failed: $(head -c 300 "$TEST_TMP/c.err") $(tail -n 3 "$TEST_TMP/nginx/error.log" 2>/dev/null | tr '\n' ' ')"
    [[ $(sha "$TEST_TMP/got") == $(sha "$www/1m") ]] ||
        fail "$T: nginx: $url arrived with other content ($(stat -c %s "$TEST_TMP/got") bytes)"
    echo "  nginx (listen 8080; listen [::]:8080): curl $url: 1 MiB, hash matches"
done
stop_pid "$npid"
# Each family reached its own socket: the IPv4 client is logged as plain
# IPv4 (the AF_INET socket; the [::] one is V6ONLY), the IPv6 one as such.
grep -q "^$PEER_IP " "$TEST_TMP/nginx/access.log" && grep -q "^fd00:198:18::1 " "$TEST_TMP/nginx/access.log" ||
    fail "$T: nginx's access log does not name both clients: $(head -n 4 "$TEST_TMP/nginx/access.log" | tr '\n' ' ')"
if grep -E '\[(alert|crit|emerg)\]' "$TEST_TMP/nginx/error.log" >"$TEST_TMP/alerts"; then
    fail "$T: nginx logged: $(head -n 3 "$TEST_TMP/alerts" | tr '\n' ' ')"
fi

# 3. asyncio echo server with host=None.
cat >"$TEST_TMP/echo.py" <<'PY'
import asyncio, socket, sys

async def handle(reader, writer):
    while line := await reader.readline():
        writer.write(line)
        await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_server(handle, host=None, port=int(sys.argv[1]))
    fams = sorted(
        ("inet6" if s.family == socket.AF_INET6 else "inet")
        + (" v6only" if s.family == socket.AF_INET6
           and s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) else "")
        for s in server.sockets)
    print("listening", ", ".join(fams), flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
PY
cat >"$TEST_TMP/client.py" <<'PY'
import os, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
lines = [b"hello over %s\n" % host.encode(), os.urandom(3000).hex().encode() + b"\n",
         bytes(range(256)).replace(b"\n", b"") + b"\n", b"last\n"]
s = socket.create_connection((host, port), timeout=20)
peer = s.getpeername()[0]
want = b"".join(lines)
for l in lines:
    s.sendall(l)
s.shutdown(socket.SHUT_WR)
got = b""
while chunk := s.recv(65536):
    got += chunk
if got != want:
    sys.exit(f"sent {len(want)} bytes, {len(got)} came back, equal prefix {os.path.commonprefix([got, want]).__len__()}")
print("echoed", len(got), "bytes from", peer)
PY
port=8700
start_bg "$TEST_TMP/e.out" "$TEST_TMP/e.err" "${UNDER[@]}" "$PY" "$TEST_TMP/echo.py" $port
epid=$BG_PID
await 15 "$TEST_TMP/e.out" '^listening' ||
    fail "$T: asyncio server did not start: $(tail -n 3 "$TEST_TMP/e.err" | tr '\n' ' ')"
[[ $(cat "$TEST_TMP/e.out") == "listening inet, inet6 v6only" ]] ||
    fail "$T: asyncio host=None opened '$(cat "$TEST_TMP/e.out")', not an AF_INET and a V6ONLY AF_INET6 socket"
for ip in "$STACK_IP" "$STACK_IP6"; do
    out=$(ns_exec timeout 30 python3 "$TEST_TMP/client.py" "$ip" $port 2>&1) ||
        fail "$T: asyncio echo over $ip: $(tail -n 2 <<<"$out" | tr '\n' ' ') $(tail -n 3 "$TEST_TMP/e.err" | tr '\n' ' ')"
    echo "  asyncio host=None ($(cut -d' ' -f2- "$TEST_TMP/e.out")): $out"
done
stop_pid "$epid"
pass $T
