#!/usr/bin/env bash
# Usage: scripts/system/waiting_reader.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack
#
# The thread that waits, reads (src/runtime/reader.rs): a thread of a
# program alone on the stack, blocked in accept or recv, waits on the TAP
# itself and processes the frames that come. echo_server (c-tests: blocking,
# one thread per connection) on tapstack; from the kernel side, 4
# connections at once echo 300 messages each of 1 to 30,000 bytes, every
# byte checked. `tapstack stats` then shows frames read by waiting threads
# (rx_frames_by_waiter > 0, at most rx_frames). A second program joins the
# stack: the first one's threads stop reading the TAP (the counter stays
# where it was over another round of echoes, which both servers answer).
# SIGTERM, whose handler has no SA_RESTART, still interrupts the waiting
# accept (echo_server exits 0), as a futex wait would. Then an epoll echo
# server alone on its queue: its epoll_wait reads the TAP (the counter
# grows over 4 x 300 echoes), and SIGTERM still ends it.
source "$(dirname "$0")/../lib/netns.sh"
T=waiting_reader
TAPSTACK="$ROOT/target/release/tapstack"
need_built $T echo_server readiness_epoll_echo
[[ -x $TAPSTACK ]] || fail "$T: $TAPSTACK is missing (cargo build --release)"
need python3
netns_create $T

start_bg "$TEST_TMP/a.out" "$TEST_TMP/a.err" "${PRELOAD[@]}" "$CBUILD/echo_server" 7000
a=$BG_PID
await 10 "$TEST_TMP/a.out" '^listening' || fail "$T: echo_server did not start: $(head -c 300 "$TEST_TMP/a.err")"

# echo PORT CONNS MESSAGES: each connection sends messages of varied sizes
# and reads each one back whole before the next.
echo_round() {
    ns_exec timeout 60 python3 - "$@" <<'EOF'
import random, socket, sys, threading
port, conns, msgs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
errors = []
def one(seed):
    rnd = random.Random(seed)
    try:
        s = socket.create_connection(("198.18.0.2", port), timeout=20)
        for _ in range(msgs):
            data = rnd.randbytes(rnd.choice([1, 64, 1448, 5000, 30000]))
            s.sendall(data)
            got = b""
            while len(got) < len(data):
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("EOF after %d of %d bytes" % (len(got), len(data)))
                got += chunk
            if got != data:
                raise RuntimeError("echo differs")
        s.close()
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=one, args=(i,)) for i in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
if errors:
    print("; ".join(errors[:3]))
    sys.exit(1)
EOF
}
counter() { ns_exec "$TAPSTACK" stats | awk -v n="$1" '$1 == n {print $2}'; }
# stop_on_sigterm PID WHAT: SIGTERM must end it with status 0.
stop_on_sigterm() {
    sleep 0.3
    stop_pid "$1"
    ((STOP_STATUS == 0)) || fail "$T: $2 did not end on SIGTERM with status 0 (status $STOP_STATUS)"
}

out=$(echo_round 7000 4 300) || fail "$T: echo through the waiting threads failed: $out"
read_by_waiter=$(counter rx_frames_by_waiter)
rx=$(counter rx_frames)
[[ $read_by_waiter =~ ^[0-9]+$ && $rx =~ ^[0-9]+$ ]] ||
    fail "$T: tapstack stats has no rx_frames_by_waiter ($read_by_waiter) or rx_frames ($rx)"
((read_by_waiter > 0)) || fail "$T: no frame was read by a waiting thread (rx_frames $rx)"
((read_by_waiter <= rx)) || fail "$T: rx_frames_by_waiter $read_by_waiter > rx_frames $rx"
echo "  4 x 300 echoes checked; frames read by waiting threads: $read_by_waiter of $rx"

# A second program on the stack: waits go back to the sockets' words.
start_bg "$TEST_TMP/b.out" "$TEST_TMP/b.err" "${PRELOAD[@]}" "$CBUILD/echo_server" 7001
b=$BG_PID
await 10 "$TEST_TMP/b.out" '^listening' || fail "$T: the second echo_server did not start: $(head -c 300 "$TEST_TMP/b.err")"
out=$(echo_round 7000 2 50) || fail "$T: echo after the second program joined failed: $out"
before=$(counter rx_frames_by_waiter)
out=$(echo_round 7000 2 100) || fail "$T: echo (first program) failed: $out"
out=$(echo_round 7001 2 100) || fail "$T: echo (second program) failed: $out"
after=$(counter rx_frames_by_waiter)
((after == before)) ||
    fail "$T: with two programs on the stack, waiting threads still read the TAP ($before, then $after)"
echo "  with a second program on the stack: both echo, no thread reads the TAP ($after)"
stop_pid "$b"

# Alone again: a new wait reads the TAP again; then SIGTERM (no SA_RESTART)
# interrupts the accept that waits on it.
out=$(echo_round 7000 1 50) || fail "$T: echo after the second program left failed: $out"
again=$(counter rx_frames_by_waiter)
((again > after)) || fail "$T: alone again, no thread reads the TAP ($after, then $again)"
echo "  alone again: waiting threads read the TAP ($again)"
stop_on_sigterm "$a" echo_server
echo "  SIGTERM interrupted the waiting accept: exit status 0"

# An event loop alone on its queue: epoll_wait reads the TAP too, and its
# SIGTERM handler (a flag the loop looks at) still ends the wait with
# EINTR: the server says how many connections it served and exits 0.
start_bg "$TEST_TMP/e.out" "$TEST_TMP/e.err" "${PRELOAD[@]}" "$CBUILD/readiness_epoll_echo" 198.18.0.2 7002 lt
e=$BG_PID
await 10 "$TEST_TMP/e.out" '^LISTENING' || fail "$T: readiness_epoll_echo did not start: $(head -c 300 "$TEST_TMP/e.err")"
before=$(counter rx_frames_by_waiter)
out=$(echo_round 7002 4 300) || fail "$T: echo through epoll_wait failed: $out"
after=$(counter rx_frames_by_waiter)
((after > before)) || fail "$T: no frame was read by a thread waiting in epoll_wait ($before, then $after)"
echo "  4 x 300 echoes through epoll_wait checked; frames read by the waiting thread: $((after - before))"
stop_on_sigterm "$e" readiness_epoll_echo
echo "  SIGTERM ended the epoll_wait that reads the TAP: exit status 0"
pass $T
