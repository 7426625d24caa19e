#!/usr/bin/env bash
# Usage: scripts/system/tcp_offload.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack direct
#
# Bulk data both ways with TAPSTACK_OFFLOAD=on (virtio-net headers, TSO and
# checksum offload on the TAP), checked by SHA-256 on both sides like
# tcp_bulk.sh, then proof that large segments crossed the TAP: the kernel's
# counters on tap0 show frames far larger than the 1514-byte MTU both ways
# (our TSO segments in, its GSO segments out), and the stack's log says
# offload is on. Then 1 MiB each way with TAPSTACK_OFFLOAD=off on the same
# TAP: the offloads belong to the interface and must not outlive the
# process that set them. OFFLOAD_BYTES (default 50 MiB) each way.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/bulk.sh"
T=tcp_offload
BYTES=${OFFLOAD_BYTES:-$((50 * 1024 * 1024))}
SECS=120
need python3
need_built $T bulk
netns_create $T
PRELOAD+=(TAPSTACK_OFFLOAD=on TAPSTACK_LOG=info)

head -c "$BYTES" /dev/urandom >"$TEST_TMP/k.in"
kin=$(sha256sum "$TEST_TMP/k.in" | cut -d' ' -f1)
stat_of() { ns_exec cat "/sys/class/net/tap0/statistics/$1"; }
rx_p0=$(stat_of rx_packets) rx_b0=$(stat_of rx_bytes)
tx_p0=$(stat_of tx_packets) tx_b0=$(stat_of tx_bytes)

bulk_kernel_connects $T 9000 "$BYTES" "$SECS"
out=$TEST_TMP/listen.out
grep -h '^info' "$out" | sed "s/^/  /"
! grep -q '^FAIL' "$out" || fail "$T: $(grep '^FAIL' "$out" | head -n 2 | tr '\n' ';')"
kout=$(sha256sum "$TEST_TMP/k.out" | cut -d' ' -f1)
[[ $(grep '^sent ' "$out") == "sent $BYTES sha256 $kout" ]] ||
    fail "$T: tapstack sent '$(grep '^sent ' "$out")', the kernel received $(stat -c %s "$TEST_TMP/k.out") bytes sha256 $kout"
[[ $(grep '^received ' "$out") == "received $BYTES sha256 $kin" ]] ||
    fail "$T: the kernel sent $BYTES bytes sha256 $kin, tapstack received '$(grep '^received ' "$out")'"
((STOP_STATUS == 0)) || fail "$T: bulk listen exited with status $STOP_STATUS"
echo "  $BYTES bytes each way, hashes match"

grep -q 'offload on' "$TEST_TMP/listen.err" ||
    fail "$T: the stack did not report offload on: $(head -c 300 "$TEST_TMP/listen.err")"
# tap0's rx is what tapstack wrote, its tx what the kernel handed us.
rx_avg=$((($(stat_of rx_bytes) - rx_b0) / ($(stat_of rx_packets) - rx_p0 + 1)))
tx_avg=$((($(stat_of tx_bytes) - tx_b0) / ($(stat_of tx_packets) - tx_p0 + 1)))
echo "  average frame on tap0: $rx_avg bytes from tapstack, $tx_avg bytes to it"
((rx_avg > 3000)) || fail "$T: tapstack's frames average $rx_avg bytes: no TSO"
((tx_avg > 3000)) || fail "$T: the kernel's frames average $tx_avg bytes: no GSO to the TAP"

# The same TAP without offload: no large frame may reach a plain reader.
small=$((1024 * 1024))
head -c "$small" /dev/urandom >"$TEST_TMP/s.in"
sin=$(sha256sum "$TEST_TMP/s.in" | cut -d' ' -f1)
start_bg "$TEST_TMP/plain.out" "$TEST_TMP/plain.err" "${PRELOAD[@]}" TAPSTACK_OFFLOAD=off \
    "$CBUILD/bulk" listen 9001 "$small" 30
prog=$BG_PID
await 10 "$TEST_TMP/plain.out" '^listening' ||
    fail "$T: bulk listen (offload off) did not start: $(head -c 300 "$TEST_TMP/plain.err")"
status=0
ns_exec timeout 30 python3 "$ROOT/scripts/lib/kpeer.py" connect 198.18.0.2 9001 \
    "$TEST_TMP/s.in" "$TEST_TMP/s.out" >"$TEST_TMP/kpeer2.out" 2>&1 || status=$?
((status == 0)) || fail "$T: offload off after on: kpeer.py exited with $status: $(tail -c 300 "$TEST_TMP/kpeer2.out")"
for ((i = 0; i < 100; i++)); do
    kill -0 "$prog" 2>/dev/null || break
    sleep 0.1
done
stop_pid "$prog"
grep -q "^received $small sha256 $sin" "$TEST_TMP/plain.out" ||
    fail "$T: offload off after on: tapstack received '$(grep '^received ' "$TEST_TMP/plain.out")'"
echo "  then with offload off on the same TAP: 1 MiB each way, hash matches"
pass $T
