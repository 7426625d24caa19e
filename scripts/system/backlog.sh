#!/usr/bin/env bash
# Usage: scripts/system/backlog.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# listen(backlog) when the program never accepts, as documented in
# src/stack/socket.rs (Linux-like): with backlog 2, the kernel's connects,
# made one after the other, complete the handshake for the first 3
# (backlog + 1 in the accept queue); the 4th and 5th SYN get no answer and
# stay in SYN-SENT (ss -tan on the kernel's side). After one accept there
# is room again: the next SYN retransmission completes the 4th. The 5th
# completes too, from the client's view, if its SYN arrived before the 4th's
# ACK filled the queue again (its ACK is then dropped and it waits in
# SYN-RECEIVED on the listener: the documented "the peer believes it is
# connected"), else it stays in SYN-SENT: 4 or 5 established, never fewer.
source "$(dirname "$0")/../lib/netns.sh"
T=backlog
need_built $T sockctl
[[ -x $KBUILD/connect_many ]] || fail "$T: $KBUILD/connect_many is missing"
netns_create $T
start_ctl t "$TEST_TMP/t.out" "$TEST_TMP/t.err" "${PRELOAD[@]}" "$CBUILD/sockctl" listen 9300 2
await 10 "$TEST_TMP/t.out" '^listening' || fail "$T: listen: $(head -c 300 "$TEST_TMP/t.out" "$TEST_TMP/t.err")"
start_ctl k "$TEST_TMP/k.out" "$TEST_TMP/k.err" ip netns exec "$NS" "$KBUILD/connect_many" 198.18.0.2 9300 5 1000
await 20 "$TEST_TMP/k.out" '^done|^FAIL' || fail "$T: connect_many did not finish"
sed 's/^/  /' "$TEST_TMP/k.out"
want=$'conn 1 established\nconn 2 established\nconn 3 established\nconn 4 pending\nconn 5 pending\ndone'
[[ $(<"$TEST_TMP/k.out") == "$want" ]] || fail "$T: want 3 established then 2 pending"

count() {
    ip netns exec "$NS" ss -Htan state "$1" 'dport = :9300' | grep -c 198.18.0.2 || true
}
sleep 1.5 # a SYN retransmission of each pending one, still unanswered
e=$(count established)
s=$(count syn-sent)
((e == 3 && s == 2)) || fail "$T: ss shows $e established and $s syn-sent, want 3 and 2"
echo "  ss -tan: $e ESTAB, $s SYN-SENT"

ctl t accept
await 10 "$TEST_TMP/t.out" '^accepted' || fail "$T: accept: $(tail -n 1 "$TEST_TMP/t.out")"
wait_for 15 bash -c "(( \$(ip netns exec '$NS' ss -Htan state established 'dport = :9300' | grep -c 198.18.0.2) >= 4 ))" ||
    fail "$T: after one accept, ss shows $(count established) established, want 4 (or 5)"
sleep 0.5
e=$(count established)
s=$(count syn-sent)
((e >= 4 && e + s == 5)) ||
    fail "$T: after one accept, ss shows $e established and $s syn-sent, want 4+1 or 5+0"
echo "  after one accept: $e ESTAB, $s SYN-SENT"
ctl t exit
ctl k exit
pass $T
