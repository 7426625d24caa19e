#!/usr/bin/env bash
# Usage: scripts/system/tcp6.sh   (root; after cargo build --release and make -C c-tests)
#
# TCP over IPv6 against the kernel, with offload on (the default: TSO as
# GSO_TCPV6) and off (TAPSTACK_OFFLOAD=off):
#   a. the kernel's `curl -6` fetches a 1 MiB file from python3's
#      http.server bound to :: on tapstack, at [fd00:198:18::2];
#   b. c-tests' bulk on tapstack connects to [fd00:198:18::1] (the
#      kernel's scripts/lib/kpeer.py, AF_INET6) and moves BULK_BYTES
#      (default 20 MiB) each way; SHA-256 checked on both sides.
# IPv6 is turned on for tap0 alone inside the test's namespace, with DAD
# off on the kernel's side so its address is usable at once (as ping6.sh).
source "$(dirname "$0")/../lib/netns.sh"
T=tcp6
BYTES=${BULK_BYTES:-$((20 * 1024 * 1024))}
SECS=${BULK_SECONDS:-120}
need python3 curl
need_built $T bulk
netns_create $T

ns_exec sysctl -qw net.ipv6.conf.tap0.accept_dad=0
ns_exec sysctl -qw net.ipv6.conf.tap0.disable_ipv6=0
ip -n "$NS" -6 addr add fd00:198:18::1/64 dev tap0 nodad

www=$TEST_TMP/www
mkdir -p "$www"
head -c $((1 << 20)) /dev/urandom >"$www/file"
want_www=$(sha256sum "$www/file" | cut -d' ' -f1)
head -c "$BYTES" /dev/urandom >"$TEST_TMP/k.in"
kin=$(sha256sum "$TEST_TMP/k.in" | cut -d' ' -f1)
PY=$(command -v python3)
BASE=("${PRELOAD[@]}")

port=8600
for offload in on off; do
    PRELOAD=("${BASE[@]}" TAPSTACK_OFFLOAD=$offload)
    port=$((port + 1))

    # a. The kernel's curl -6 from http.server on :: on tapstack.
    start_bg "$TEST_TMP/s.out" "$TEST_TMP/s.err" \
        "${PRELOAD[@]}" "$PY" -m http.server "$port" --bind :: --directory "$www"
    spid=$BG_PID
    url="http://[fd00:198:18::2]:$port/file"
    wait_for 15 ns_exec curl -6 -s -o /dev/null --max-time 2 "$url" ||
        fail "$T: offload $offload: http.server on :: does not answer over IPv6: $(tail -n 3 "$TEST_TMP/s.err" | tr '\n' ' ')"
    ns_exec curl -6 -sS --max-time 60 -o "$TEST_TMP/got" "$url" 2>"$TEST_TMP/c.err" ||
        fail "$T: offload $offload: curl -6 failed: $(head -c 300 "$TEST_TMP/c.err")"
    got=$(sha256sum "$TEST_TMP/got" | cut -d' ' -f1)
    [[ $got == "$want_www" ]] ||
        fail "$T: offload $offload: curl -6 got other content ($(stat -c %s "$TEST_TMP/got") bytes)"
    grep -q 'fd00:198:18::1' "$TEST_TMP/s.err" ||
        fail "$T: offload $offload: http.server did not log its client as fd00:198:18::1: $(tail -n 2 "$TEST_TMP/s.err" | tr '\n' ' ')"
    stop_pid "$spid"
    echo "  offload $offload: curl -6 from http.server on [::]: 1 MiB, hash matches"

    # b. bulk on tapstack connects to the kernel over IPv6.
    port=$((port + 1))
    rm -f "$TEST_TMP/k.out"
    start_bg "$TEST_TMP/knc.out" "$TEST_TMP/knc.err" ip netns exec "$NS" \
        timeout "$SECS" python3 "$ROOT/scripts/lib/kpeer.py" listen fd00:198:18::1 "$port" "$TEST_TMP/k.in" "$TEST_TMP/k.out"
    knc=$BG_PID
    await 10 "$TEST_TMP/knc.out" '^listening' || fail "$T: the kernel's kpeer.py listen did not start"
    status=0
    timeout "$SECS" "${PRELOAD[@]}" "$CBUILD/bulk" connect fd00:198:18::1 "$port" "$BYTES" "$SECS" \
        >"$TEST_TMP/connect.out" 2>"$TEST_TMP/connect.err" || status=$?
    for ((i = 0; i < 100; i++)); do
        kill -0 "$knc" 2>/dev/null || break
        sleep 0.1
    done
    stop_pid "$knc"
    ! grep -q '^FAIL' "$TEST_TMP/connect.out" ||
        fail "$T: offload $offload: bulk: $(grep '^FAIL' "$TEST_TMP/connect.out" | head -n 2 | tr '\n' ';') $(tail -c 200 "$TEST_TMP/connect.err")"
    ((status == 0)) || fail "$T: offload $offload: bulk connect exited with $status: $(tail -c 300 "$TEST_TMP/connect.err")"
    kout=$(sha256sum "$TEST_TMP/k.out" | cut -d' ' -f1)
    sent=$(grep '^sent ' "$TEST_TMP/connect.out" || true)
    recv=$(grep '^received ' "$TEST_TMP/connect.out" || true)
    [[ $sent == "sent $BYTES sha256 $kout" ]] ||
        fail "$T: offload $offload: tapstack sent '$sent', the kernel received $(stat -c %s "$TEST_TMP/k.out") bytes sha256 $kout"
    [[ $recv == "received $BYTES sha256 $kin" ]] ||
        fail "$T: offload $offload: the kernel sent $BYTES bytes sha256 $kin, tapstack received '$recv'"
    echo "  offload $offload: bulk over IPv6 to the kernel: $BYTES bytes each way, hashes match"
done
pass $T
