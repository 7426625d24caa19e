#!/usr/bin/env bash
# Usage: scripts/system/real_forking_python.sh   (root; after cargo build --release)
# modes: tapstack kernel
#
# Unmodified python3: socketserver.ForkingTCPServer (the standard library's
# fork-per-connection server: the parent accepts, forks, closes its copy)
# echoing on the tapstack side. 20 kernel-side socat clients at once each
# send 256 KiB of their own random bytes, half-close, and must read the
# same bytes back; every connection must have been handled in a child
# process (the handler logs whether its pid is the server's).
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_forking_python
need python3 socat
need_built $T
real_setup forkpy

cat >"$TEST_TMP/server.py" <<'PY'
import os, socketserver, sys

PARENT = os.getpid()

class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                break
            self.request.sendall(data)
        # One write(2): print's pieces from 20 children interleaved.
        where = "the parent" if os.getpid() == PARENT else "a child"
        os.write(2, f"handled in {where}\n".encode())

class Server(socketserver.ForkingTCPServer):
    allow_reuse_address = True

with Server((sys.argv[1], int(sys.argv[2])), Echo) as s:
    print("listening", flush=True)
    s.serve_forever()
PY

start_bg "$TEST_TMP/py.out" "$TEST_TMP/py.err" "${UNDER[@]}" "$(command -v python3)" \
    "$TEST_TMP/server.py" "$STACK_IP" 7900
pid=$BG_PID
own_tree "$pid" server.py
await 10 "$TEST_TMP/py.out" '^listening' || fail "$T: the python server did not start: $(tail -n 3 "$TEST_TMP/py.err" | tr '\n' ' ')"

clients=()
for i in $(seq 1 20); do
    make_file "$TEST_TMP/in.$i" $((256 << 10))
    timeout 30 ip netns exec "$NS" socat -t 20 -T 25 - "TCP4:$STACK_IP:7900" \
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
((bad == 0)) || fail "$T: $bad of 20 clients did not get their bytes back: $(grep -v '^handled' "$TEST_TMP/py.err" | tail -n 3 | tr '\n' ' ')"
all_in_children() { (($(grep -c '^handled in a child' "$TEST_TMP/py.err") >= 20)); }
wait_for 10 all_in_children ||
    fail "$T: $(grep -c '^handled in a child' "$TEST_TMP/py.err") of 20 connections handled in a child process"
! grep -q '^handled in the parent' "$TEST_TMP/py.err" || fail "$T: a connection was handled in the parent"
echo "  20 concurrent clients: 256 KiB each echoed byte for byte, each by a forked child"
kill -0 "$pid" 2>/dev/null || fail "$T: the server died"
stop_pid "$pid"
pass $T
