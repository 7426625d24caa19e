#!/usr/bin/env bash
# Usage: scripts/system/tcp_close_states.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# The close, seen from both sides at each step: the kernel's state from
# `ss -tan` in the namespace, tapstack's own from TCP_INFO (tcpi_state)
# printed by c-tests/sockctl, which both sides run, driven line by line.
# To hold the transient LAST_ACK long enough to see it, the kernel's side
# of the link (tap0) is set down while the last FIN is sent, and up again:
# the FIN is lost once and retransmitted.
#   A. tapstack closes first: tapstack FIN_WAIT2 / kernel CLOSE-WAIT;
#      kernel closes (link down): kernel LAST-ACK; link up: tapstack
#      TIME_WAIT, the kernel's socket gone.
#   B. the kernel closes first: kernel FIN-WAIT-2 / tapstack CLOSE_WAIT;
#      tapstack closes (link down): tapstack LAST_ACK; link up: tapstack
#      CLOSE, kernel TIME-WAIT.
# In kernel mode the "tapstack side" is a kernel socket, whose TCP_INFO
# says CLOSE in TIME_WAIT (Linux hands TIME_WAIT to a mini-socket), so
# there its TIME_WAIT is read with ss in its own namespace instead.
source "$(dirname "$0")/../lib/netns.sh"
T=tcp_close_states
need ss
need_built $T sockctl
netns_create $T

# kstate STATE PORT: the kernel's connection with 198.18.0.2 on PORT
# reaches STATE (ss's name, e.g. close-wait) within 10 s.
kstate() {
    wait_for 10 sh -c "ip netns exec '$NS' ss -Htan state $1 '( sport = :$2 or dport = :$2 )' | grep -q 198.18.0.2" ||
        fail "$T: $3: the kernel's socket is not in $1: $(ip netns exec "$NS" ss -Htan | grep 198.18.0.2 | tr '\n' ';')"
    echo "  $3: kernel $1"
}
kgone() {
    wait_for 10 sh -c "! ip netns exec '$NS' ss -Htan '( sport = :$1 or dport = :$1 )' | grep -q 198.18.0.2" ||
        fail "$T: $2: the kernel still has: $(ip netns exec "$NS" ss -Htan | grep 198.18.0.2 | tr '\n' ';')"
    echo "  $2: the kernel's socket is gone"
}
# expect NAME FILE REGEX WHAT: the next answer of a sockctl.
expect() {
    await 15 "$2" "$3" || fail "$T: $4: want /$3/, $1 said: $(tail -n 3 "$2" | tr '\n' ';')"
}
# tstate NAME STATE WHAT: tapstack's tcpi_state becomes STATE.
tstate() {
    local n
    n=$(grep -c . "$TEST_TMP/$1.out" || true)
    ctl "$1" "wait $2 10000"
    wait_for 15 bash -c "(( \$(grep -c . '$TEST_TMP/$1.out') > $n ))" || fail "$T: $3: sockctl did not answer"
    tail -n 1 "$TEST_TMP/$1.out" | grep -qx "state $2" ||
        fail "$T: $3: tapstack's state is $(tail -n 1 "$TEST_TMP/$1.out"), want $2"
    echo "  $3: tapstack $2"
}
link() {
    ip -n "$NS" link set tap0 "$1"
}

# A. tapstack closes first.
start_ctl ka "$TEST_TMP/ka.out" "$TEST_TMP/ka.err" ip netns exec "$NS" "$KBUILD/sockctl" accept 9100
expect kernel "$TEST_TMP/ka.out" '^listening' "A: kernel listen"
start_ctl ta "$TEST_TMP/ta.out" "$TEST_TMP/ta.err" "${PRELOAD[@]}" "$CBUILD/sockctl" connect 198.18.0.1 9100
TA_PID=$BG_PID
expect tapstack "$TEST_TMP/ta.out" '^connected' "A: connect"
expect kernel "$TEST_TMP/ka.out" '^accepted' "A: accept"
tstate ta ESTABLISHED "A: connected"
kstate established 9100 "A: connected"
ctl ta shutwr
expect tapstack "$TEST_TMP/ta.out" '^shutwr ok' "A: tapstack shutdown(SHUT_WR)"
ctl ka readeof
expect kernel "$TEST_TMP/ka.out" '^eof 0' "A: the kernel reads EOF"
tstate ta FIN_WAIT2 "A: tapstack closed first"
kstate close-wait 9100 "A: tapstack closed first"
link down
ctl ka close
expect kernel "$TEST_TMP/ka.out" '^closed' "A: the kernel closes"
kstate last-ack 9100 "A: the kernel closed, its FIN lost"
link up
ctl ta readeof
expect tapstack "$TEST_TMP/ta.out" '^eof 0' "A: tapstack reads EOF"
if [[ $SIDE == kernel ]]; then
    wait_for 10 sh -c "ip netns exec '$NS_FAR' ss -Htan state time-wait | grep -q 198.18.0.1:9100" ||
        fail "$T: A: the closing side is not in TIME-WAIT: $(ip netns exec "$NS_FAR" ss -Htan | tr '\n' ';')"
    echo "  A: both FINs acked: the closing side (kernel mode, ss) TIME-WAIT"
else
    tstate ta TIME_WAIT "A: both FINs acked"
fi
kgone 9100 "A: both FINs acked"
ctl ta exit
ctl ka exit
# B's program needs the TAP that A's holds until it has exited.
wait_exit "$TA_PID" 10 || fail "$T: A: the tapstack program did not exit within 10 s"

# B. The kernel closes first.
start_ctl tb "$TEST_TMP/tb.out" "$TEST_TMP/tb.err" "${PRELOAD[@]}" "$CBUILD/sockctl" accept 9101
expect tapstack "$TEST_TMP/tb.out" '^listening' "B: tapstack listen"
start_ctl kb "$TEST_TMP/kb.out" "$TEST_TMP/kb.err" ip netns exec "$NS" "$KBUILD/sockctl" connect 198.18.0.2 9101
expect kernel "$TEST_TMP/kb.out" '^connected' "B: connect"
expect tapstack "$TEST_TMP/tb.out" '^accepted' "B: accept"
tstate tb ESTABLISHED "B: connected"
ctl kb shutwr
expect kernel "$TEST_TMP/kb.out" '^shutwr ok' "B: the kernel's shutdown(SHUT_WR)"
ctl tb readeof
expect tapstack "$TEST_TMP/tb.out" '^eof 0' "B: tapstack reads EOF"
tstate tb CLOSE_WAIT "B: the kernel closed first"
kstate fin-wait-2 9101 "B: the kernel closed first"
link down
ctl tb shutwr
expect tapstack "$TEST_TMP/tb.out" '^shutwr ok' "B: tapstack's shutdown(SHUT_WR)"
tstate tb LAST_ACK "B: tapstack closed, its FIN lost"
link up
tstate tb CLOSE "B: the FIN retransmitted and acked"
kstate time-wait 9101 "B: the FIN retransmitted and acked"
ctl kb readeof
expect kernel "$TEST_TMP/kb.out" '^eof 0' "B: the kernel reads EOF"
ctl tb exit
ctl kb exit
pass $T
