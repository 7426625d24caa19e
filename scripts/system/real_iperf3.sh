#!/usr/bin/env bash
# Usage: scripts/system/real_iperf3.sh   (root; after cargo build --release)
# modes: tapstack kernel
#
# Unmodified iperf3 on tapstack, the kernel's iperf3 on the other side, both
# roles and both directions (-R). The server runs as users run it, `iperf3
# -s` with no flags: it opens an AF_INET6 socket on :: (dual-stack) and the
# kernel's client reaches it over IPv4 (its log names the client, whose
# v4-mapped address iperf3 prints as IPv4). The bytes each end counts must agree
# (within what can be in flight when the test ends), and
# the TCP_INFO figures iperf3 reports for a sender on tapstack are real: a
# congestion window of at least the initial window, and, with
# TAPSTACK_FAULTS dropping frames, retransmissions.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_iperf3
need iperf3 python3
need_built $T
real_setup iperf3

# check_json FILE WHAT: the sender's and receiver's byte counts agree;
# prints "bytes retransmits max_snd_cwnd" of the sender.
check_json() {
    python3 - "$1" "$2" <<'PY' || fail "$T: $2: $(cat "$TEST_TMP/py.err" 2>/dev/null)"
import json, sys
j = json.load(open(sys.argv[1]))
if "error" in j:
    sys.exit(f"iperf3 error: {j['error']}")
end = j["end"]
sent, recv = end["sum_sent"]["bytes"], end["sum_received"]["bytes"]
# The two ends stop counting at slightly different moments (what is in
# flight when the test ends), so they agree within the buffers' size:
# 16 MiB, or 1 % at the kernel's speeds, where autotuned buffers are large.
if sent <= 0 or recv <= 0 or abs(sent - recv) > max(16 << 20, sent // 100):
    sys.exit(f"sent {sent} bytes but received {recv}")
cwnd = max((s.get("max_snd_cwnd", 0) for s in end.get("streams", [{}]) for s in [s.get("sender", {})]), default=0)
print(sent, end["sum_sent"].get("retransmits", 0), cwnd)
PY
}

run_pair() { # WHAT SERVER_UNDER CLIENT_UNDER SERVER_IP [CLIENT ARGS...]
    local what=$1 sip=$4 server_side=$2
    local -n srv=$2 cli=$3
    shift 4
    # No -B and no -4: iperf3's own default, an AF_INET6 listener on ::.
    start_bg "$TEST_TMP/s.out" "$TEST_TMP/s.err" "${srv[@]}" "$(command -v iperf3)" -s -1
    local spid=$BG_PID
    sleep 0.5
    "${cli[@]}" "$(command -v iperf3)" -c "$sip" -t 2 -J "$@" >"$TEST_TMP/$what.json" 2>"$TEST_TMP/$what.err" ||
        fail "$T: $what: iperf3 -c failed: $(head -c 300 "$TEST_TMP/$what.json" "$TEST_TMP/$what.err" | tr '\n' ' ')"
    stop_pid "$spid"
    if [[ $server_side == UNDER ]]; then
        # The dual-stack listener's accept gave the peer v4-mapped, which
        # iperf3 prints as the plain IPv4 address.
        grep -q "Accepted connection from $PEER_IP, port" "$TEST_TMP/s.out" ||
            fail "$T: $what: the server's log does not name the peer $PEER_IP: $(head -n 5 "$TEST_TMP/s.out" | tr '\n' ' ')"
    fi
    read -r bytes retr cwnd < <(check_json "$TEST_TMP/$what.json" "$what")
    echo "  $what: $bytes bytes, $((bytes * 8 / 2 / 1000000)) Mbit/s, sender retransmits $retr, max cwnd $cwnd"
    LAST_RETR=$retr
    LAST_CWND=$cwnd
}

KERNEL=(ip netns exec "$NS" env)
# tapstack as the server: the kernel sends (-c), then receives (-R).
run_pair "server on stack, kernel sends" UNDER KERNEL "$STACK_IP"
run_pair "server on stack, stack sends (-R)" UNDER KERNEL "$STACK_IP" -R
# tapstack as the client.
run_pair "client on stack, stack sends" KERNEL UNDER "$PEER_IP"
((LAST_CWND >= 10 * 1400)) || fail "$T: the stack's cwnd as iperf3 reports it is $LAST_CWND"
run_pair "client on stack, kernel sends (-R)" KERNEL UNDER "$PEER_IP" -R
# With frames dropped, a sender on tapstack reports real retransmissions.
if [[ $SIDE != kernel ]]; then
    FAULTY=("${UNDER[@]}" TAPSTACK_FAULTS=drop=0.01,seed=5)
    run_pair "client on stack, 1% drop" KERNEL FAULTY "$PEER_IP"
    ((LAST_RETR > 0)) || fail "$T: with 1% of frames dropped, iperf3 reports no retransmits for the stack"
fi
pass $T
