#!/usr/bin/env bash
# Usage: scripts/system/tcp_bulk.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# Bulk data both ways at once, with the kernel at the other end, checked by
# SHA-256 on both sides (c-tests/bulk.c hashes what it sends and receives;
# the kernel side is scripts/lib/kpeer.py with files, and sha256sum):
#   1. the kernel connects to a tapstack listener (bulk listen / kpeer.py)
#   2. tapstack connects to a kernel listener (bulk connect / kpeer.py listen)
# BULK_BYTES (default 100 MiB) each way, each transfer bounded by
# BULK_SECONDS (default 300). TAPSTACK_FAULTS, when set (tcp_faults.sh sets
# it), applies to the tapstack side; the kernel mode ignores it. Without
# faults, SO_RCVBUF and SO_SNDBUF read larger after the transfer than
# before it (autotuning grew them, and the option reads the grown size;
# against the kernel, SO_SNDBUF may already be large enough: see check).
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/bulk.sh"
T=${BULK_NAME:-tcp_bulk}
BYTES=${BULK_BYTES:-$((100 * 1024 * 1024))}
SECS=${BULK_SECONDS:-300}
need python3
need_built $T bulk
netns_create $T
if [[ -n ${TAPSTACK_FAULTS:-} ]]; then
    PRELOAD+=(TAPSTACK_FAULTS="$TAPSTACK_FAULTS")
    echo "  faults on the tapstack side: $TAPSTACK_FAULTS"
fi

head -c "$BYTES" /dev/urandom >"$TEST_TMP/k.in"
kin=$(sha256sum "$TEST_TMP/k.in" | cut -d' ' -f1)

# check WHAT OUT: compare bulk's report in OUT with the kernel's files.
check() {
    local what=$1 out=$2 sent recv kout
    grep -h '^info\|^buffers' "$out" | sed "s/^/  $what: /"
    ! grep -q '^FAIL' "$out" || fail "$T: $what: $(grep '^FAIL' "$out" | head -n 2 | tr '\n' ';')"
    kout=$(sha256sum "$TEST_TMP/k.out" | cut -d' ' -f1)
    sent=$(grep '^sent ' "$out" || true)
    recv=$(grep '^received ' "$out" || true)
    [[ $sent == "sent $BYTES sha256 $kout" ]] ||
        fail "$T: $what: tapstack sent '$sent', the kernel received $(stat -c %s "$TEST_TMP/k.out") bytes sha256 $kout"
    [[ $recv == "received $BYTES sha256 $kin" ]] ||
        fail "$T: $what: the kernel sent $BYTES bytes sha256 $kin, tapstack received '$recv'"
    echo "  $what: $BYTES bytes each way, hashes match"
    # Without faults, both buffers grow (autotuning) and SO_RCVBUF and
    # SO_SNDBUF read back the grown sizes, as on Linux. Linux itself
    # (TAPSTACK_SIDE=kernel) sizes a connection's send buffer for its
    # congestion window when it is established (tcp_init_buffer_space),
    # and on some machines that size already covers this path's window,
    # so it never grows there (seen: 1251072 -> 1251072 connecting); for
    # the kernel the send buffer must only not shrink. Ours starts at
    # 256 KiB, which a 100 MiB transfer outgrows.
    if [[ -z ${TAPSTACK_FAULTS:-} ]]; then
        read -r r0 r1 s0 s1 < <(awk '/^buffers/ {print $3, $5, $7, $9}' "$out")
        [[ -n ${s1:-} ]] || fail "$T: $what: no buffers line"
        local s_ok=$((s1 > s0))
        [[ $SIDE != kernel ]] || s_ok=$((s1 >= s0))
        ((r1 > r0 && s_ok)) ||
            fail "$T: $what: SO_RCVBUF $r0 -> $r1, SO_SNDBUF $s0 -> $s1: not grown by the transfer"
    fi
}

# 1. The kernel connects.
bulk_kernel_connects $T 9000 "$BYTES" "$SECS"
check "kernel -> tapstack listener" "$TEST_TMP/listen.out"
((STOP_STATUS == 0)) || fail "$T: bulk listen exited with status $STOP_STATUS"

# 2. tapstack connects.
rm -f "$TEST_TMP/k.out"
start_bg "$TEST_TMP/knc.out" "$TEST_TMP/knc.err" ip netns exec "$NS" \
    timeout "$SECS" python3 "$ROOT/scripts/lib/kpeer.py" listen 198.18.0.1 9001 "$TEST_TMP/k.in" "$TEST_TMP/k.out"
knc=$BG_PID
await 10 "$TEST_TMP/knc.out" '^listening' || fail "$T: the kernel's kpeer.py listen did not start"
status=0
timeout "$SECS" "${PRELOAD[@]}" "$CBUILD/bulk" connect 198.18.0.1 9001 "$BYTES" "$SECS" \
    >"$TEST_TMP/connect.out" 2>"$TEST_TMP/connect.err" || status=$?
for ((i = 0; i < 100; i++)); do
    kill -0 "$knc" 2>/dev/null || break
    sleep 0.1
done
stop_pid "$knc"
check "tapstack -> kernel listener" "$TEST_TMP/connect.out"
((status == 0)) || fail "$T: bulk connect exited with status $status"
pass $T
