#!/usr/bin/env bash
# Usage: scripts/system/trace.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack
#
# TAPSTACK_TRACE and the debug log, checked with python3 against what the
# echo pair did (docs/trace-format.md):
#   A. c-tests/echo_server on tapstack with TAPSTACK_TRACE, the kernel's
#      echo_client against it: the header line; the connection's states
#      LISTEN -> SYN_RECEIVED -> ESTABLISHED -> CLOSE_WAIT -> LAST_ACK ->
#      CLOSED, each with its cause; its first segments S in, S. out, . in;
#      the first line's ACK carried by its echo and the client's FIN's by
#      tapstack's FIN (no bare ACK first, unless after the delayed-ACK
#      timeout); timestamps that never go back; cc events with cwnd
#      growing.
#   B. echo_client on tapstack against the kernel's echo_server, with
#      TAPSTACK_TRACE, TAPSTACK_LOG=debug and TAPSTACK_LOG_FILE=DIR/log.%p:
#      the trace has the active side's states (SYN_SENT ... FIN_WAIT_1 ->
#      TIME_WAIT, or through FIN_WAIT_2); the log went to log.PID, PID the one the
#      trace's header names, with the state changes and their causes.
#   A'. `tapstack trace` prints A's real trace (relative sequence
#      numbers, states with causes, cc lines), `tapstack plot` draws it,
#      and scripts/system/plot_browser.sh lays the drawing out in headless
#      chromium and checks it there: the ladder names the
#      handshake's segments, ESTABLISHED and the peer's inferred states; the cwnd picture
#      has its curve.
#   C. a TAPSTACK_TRACE or TAPSTACK_LOG_FILE that cannot be created: the
#      stack does not start (socket() fails with ENETDOWN), and stderr has
#      one line naming the variable.
source "$(dirname "$0")/../lib/netns.sh"
T=trace
need python3
need_built $T echo_server echo_client bad_config
netns_create $T

BASE=("${PRELOAD[@]}")

# A. tapstack serves.
PRELOAD=("${BASE[@]}" TAPSTACK_TRACE="$TEST_TMP/server.jsonl")
start_bg "$TEST_TMP/server.out" "$TEST_TMP/server.err" "${PRELOAD[@]}" "$CBUILD/echo_server" 7100
SERVER=$BG_PID
await 10 "$TEST_TMP/server.out" '^listening' ||
    fail "$T: A: echo_server did not start: $(head -c 300 "$TEST_TMP/server.err")"
ip netns exec "$NS" timeout 30 "$KBUILD/echo_client" 198.18.0.2 7100 >"$TEST_TMP/kclient.out" 2>&1 ||
    fail "$T: A: the kernel's echo_client: $(grep FAIL "$TEST_TMP/kclient.out" | head -n 2 | tr '\n' ';')"
# Then 4 MiB echoed, for the sender's cwnd to grow (the 20 lines above
# never fill it).
ip netns exec "$NS" timeout 60 python3 -c '
import socket, threading
s = socket.create_connection(("198.18.0.2", 7100))
data = bytes(range(256)) * (4 << 12)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
got = bytearray()
while True:
    b = s.recv(1 << 16)
    if not b:
        break
    got += b
t.join()
assert got == data, "echoed %d bytes, not the same" % len(got)
' || fail "$T: A: the 4 MiB echo failed"
# The server closes after the client's EOF; the kernel's ACK of its FIN ends it.
wait_for 10 test "$(grep -c '"to":"CLOSED"' "$TEST_TMP/server.jsonl")" = 2 ||
    fail "$T: A: no CLOSED in the trace: $(tail -n 3 "$TEST_TMP/server.jsonl" | tr '\n' ';')"
stop_pid "$SERVER"
echo "  A: $(wc -l <"$TEST_TMP/server.jsonl") trace lines from the server"

python3 - "$TEST_TMP/server.jsonl" <<'PY' || fail "$T: A: the server's trace (above)"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
h = lines[0]
assert h["trace"] == "tapstack" and h["version"] == 1, h
assert isinstance(h["pid"], int) and h["ifname"] == "tap0" and h["ip"] == "198.18.0.2", h
ev = lines[1:]
t = [e["t_us"] for e in ev]
assert t == sorted(t), "t_us goes back"
conns = []
for e in ev:
    if e["conn"] not in conns:
        conns.append(e["conn"])
assert len(conns) == 2 and all(c.startswith("198.18.0.2:7100-198.18.0.1:") for c in conns), conns
# The echo_client's connection, then the 4 MiB one.
mine = [e for e in ev if e["conn"] == conns[0]]
big = [e for e in ev if e["conn"] == conns[1]]
states = [(e["from"], e["to"], e["cause"]) for e in mine if e["ev"] == "state"]
want = [("LISTEN", "SYN_RECEIVED", "rcvd SYN"),
        ("SYN_RECEIVED", "ESTABLISHED", "rcvd ACK of SYN"),
        ("ESTABLISHED", "CLOSE_WAIT", "rcvd FIN"),
        ("CLOSE_WAIT", "LAST_ACK", "close"),
        ("LAST_ACK", "CLOSED", "rcvd ACK of FIN")]
assert states == want, "states: %s" % states
states = [(e["from"], e["to"], e["cause"]) for e in big if e["ev"] == "state"]
assert states == want, "states of the 4 MiB connection: %s" % states
segs = [e for e in mine if e["ev"] == "seg"]
first = [(s["dir"], s["flags"]) for s in segs[:3]]
assert first == [("in", "S"), ("out", "S."), ("in", ".")], first
syn = segs[0]
assert syn["ack"] == 0 and "mss" in syn["opts"] and "wscale" in syn["opts"], syn
assert segs[1]["ack"] == (syn["seq"] + 1) % 2**32, segs[1]
for s in segs:
    for k in ("seq", "ack", "win", "len"):
        assert isinstance(s[k], int) and s[k] >= 0, s
bytes_in = sum(s["len"] for s in segs if s["dir"] == "in")
bytes_out = sum(s["len"] for s in segs if s["dir"] == "out")
assert bytes_in == bytes_out >= sum(range(150, 3001, 150)), "echoed %d of %d" % (bytes_out, bytes_in)
assert any("F" in s["flags"] for s in segs if s["dir"] == "out"), "no FIN out"
# What tapstack sent in answer, after segment i came in: the first
# segment out that acknowledges it. A request's quick ACK rides on the
# echo, and the client's FIN's ACK on tapstack's FIN, unless the
# delayed-ACK timer (ato, 40 ms at least) ran out first (docs/tcp.md, 5).
def answer(i):
    end = (segs[i]["seq"] + segs[i]["len"] + ("F" in segs[i]["flags"])) % 2**32
    return next(s for s in segs[i + 1:] if s["dir"] == "out" and s["ack"] == end)
req = next(i for i, s in enumerate(segs) if s["dir"] == "in" and s["len"] > 0)
a = answer(req)
assert a["len"] > 0 or a["t_us"] - segs[req]["t_us"] >= 40000, \
    "the first line (%d bytes) got a bare ACK before its echo: %s" % (segs[req]["len"], a)
fin = next(i for i, s in enumerate(segs) if s["dir"] == "in" and "F" in s["flags"])
a = answer(fin)
assert "F" in a["flags"] or a["t_us"] - segs[fin]["t_us"] >= 40000, \
    "the client's FIN got a bare ACK before tapstack's FIN: %s" % a
cc = [e for e in big if e["ev"] == "cc"]
assert cc, "no cc events"
for c in cc:
    for k in ("cwnd", "ssthresh", "flight", "rwnd", "srtt_us", "rttvar_us", "rto_us", "mss"):
        assert isinstance(c[k], int), c
    assert c["ca_state"] in ("open", "disorder", "recovery", "loss"), c
cw = [c["cwnd"] for c in cc]
assert max(cw) > cw[0], "cwnd never grew: %s" % cw
assert any(c["srtt_us"] > 0 for c in cc), "no srtt"
print("  A: states, segments and cc ok; cwnd %d -> %d" % (cw[0], max(cw)))
PY

# A'. The real trace drawn: the pictures hold the handshake and the states.
TAPSTACK="$ROOT/target/release/tapstack"
[[ -x $TAPSTACK ]] || fail "$T: $TAPSTACK is missing (cargo build --release)"
"$TAPSTACK" plot "$TEST_TMP/server.jsonl" -o "$TEST_TMP/plot" >"$TEST_TMP/plot.out" 2>&1 ||
    fail "$T: tapstack plot failed: $(head -c 400 "$TEST_TMP/plot.out")"
ladder=$(grep -m1 -- '-ladder.svg$' "$TEST_TMP/plot.out") || fail "$T: tapstack plot wrote no ladder: $(head -c 400 "$TEST_TMP/plot.out")"
cwnd=$(grep -m1 -- '-cwnd.svg$' "$TEST_TMP/plot.out") || fail "$T: tapstack plot wrote no cwnd picture"
for want in SYN ESTABLISHED '(inferred)'; do
    grep -qF "$want" "$ladder" || fail "$T: the ladder $ladder lacks '$want'"
done
grep -q '<polyline' "$cwnd" || fail "$T: the cwnd picture $cwnd has no curve"
"$TAPSTACK" trace "$TEST_TMP/server.jsonl" >"$TEST_TMP/trace.txt" 2>&1 ||
    fail "$T: tapstack trace failed: $(head -c 400 "$TEST_TMP/trace.txt")"
for want in '< S   seq 0 ack 0' '> S.  seq 0 ack 1' 'state SYN_RECEIVED -> ESTABLISHED (' 'cc    cwnd '; do
    grep -qF -- "$want" "$TEST_TMP/trace.txt" || fail "$T: tapstack trace printed no '$want': $(head -n 5 "$TEST_TMP/trace.txt")"
done
# ... and a headless browser lays the real run's pictures out.
bash "$ROOT/scripts/system/plot_browser.sh" "$TEST_TMP/server.jsonl" >"$TEST_TMP/browser.out" 2>&1 ||
    fail "$T: the real trace's pictures in chromium: $(tail -n 3 "$TEST_TMP/browser.out" | tr '\n' ' ')"
echo "  A': $(grep -c . "$TEST_TMP/plot.out") pictures, ladder with SYN, ESTABLISHED and the peer's inferred states"

# B. tapstack connects; the debug log goes to a file named with the pid.
kernel_echo 7200
PRELOAD=("${BASE[@]}" TAPSTACK_TRACE="$TEST_TMP/client.jsonl" TAPSTACK_LOG=debug
    TAPSTACK_LOG_FILE="$TEST_TMP/log.%p")
run_side $T 30 echo_client 198.18.0.1 7200
logs=("$TEST_TMP"/log.*)
((${#logs[@]} == 1)) && [[ -f ${logs[0]} ]] || fail "$T: B: want one log file, got: ${logs[*]}"
echo "  B: log file $(basename "${logs[0]}"), $(wc -l <"${logs[0]}") lines"
grep -q 'tapstack: debug' "$TEST_TMP/echo_client.err" &&
    fail "$T: B: debug lines went to stderr as well as the file"

python3 - "$TEST_TMP/client.jsonl" "${logs[0]}" <<'PY' || fail "$T: B: the client's trace or log (above)"
import json, os, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
pid = lines[0]["pid"]
assert os.path.basename(sys.argv[2]) == "log.%d" % pid, (sys.argv[2], pid)
mine = [e for e in lines[1:] if e["conn"].endswith("-198.18.0.1:7200")]
states = [(e["from"], e["to"], e["cause"]) for e in mine if e["ev"] == "state"]
want = [("CLOSED", "SYN_SENT", "connect"),
        ("SYN_SENT", "ESTABLISHED", "rcvd SYN-ACK"),
        ("ESTABLISHED", "FIN_WAIT_1", "shutdown")]
# The kernel acknowledges our FIN with its own (one segment) or first alone.
ends = ([("FIN_WAIT_1", "TIME_WAIT", "rcvd FIN and ACK of FIN")],
        [("FIN_WAIT_1", "FIN_WAIT_2", "rcvd ACK of FIN"), ("FIN_WAIT_2", "TIME_WAIT", "rcvd FIN")])
assert any(states[:len(want) + len(e)] == want + e for e in ends), "states: %s" % states
want = states[:len(want) + 2]
first = [(s["dir"], s["flags"]) for s in mine if s["ev"] == "seg"][:3]
assert first == [("out", "S"), ("in", "S."), ("out", ".")], first
log = open(sys.argv[2]).read()
for s in want:
    line = "%s -> %s (%s)" % s
    assert line in log, "log lacks %r:\n%s" % (line, log[-2000:])
print("  B: states ok; the log (pid %d) has them with their causes" % pid)
PY

# C. files that cannot be created.
PRELOAD=("${BASE[@]}")
for var in TAPSTACK_TRACE TAPSTACK_LOG_FILE; do
    status=0
    ns_preload "$var=$TEST_TMP/no/such/dir/f" "$CBUILD/bad_config" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || status=$?
    ((status == 0)) || fail "$T: C: $var: the program exited with status $status"
    grep -qx 'errno=ENETDOWN' "$TEST_TMP/out" ||
        fail "$T: C: $var: want socket() errno=ENETDOWN, program said: $(head -n 1 "$TEST_TMP/out")"
    lines=$(wc -l <"$TEST_TMP/err")
    named=$(grep -c "^tapstack: $var=" "$TEST_TMP/err" || true)
    ((lines == 1 && named == 1)) ||
        fail "$T: C: want one stderr line naming $var, got $lines: $(head -n 3 "$TEST_TMP/err" | tr '\n' '|')"
    echo "  C: $(cat "$TEST_TMP/err")"
done
pass $T
