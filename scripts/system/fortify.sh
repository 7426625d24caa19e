#!/usr/bin/env bash
# Usage: scripts/system/fortify.sh   (root; after cargo build --release and make -C c-tests)
#
# Programs built with -O2 -D_FORTIFY_SOURCE=2 (the default of several
# distributions' compilers) call glibc's __read_chk, __recv_chk,
# __recvfrom_chk, __poll_chk, __ppoll_chk and __fdelt_chk (FD_SET) instead
# of read, recv, recvfrom, poll and ppoll; tapstack serves those too.
#   - c-tests/build/fortify/fortify_io really imports the six (nm -D);
#   - it echoes lines through each of read/recv/recvfrom after poll/ppoll/
#     select on a stack socket, the kernel's echo server as the peer;
#   - a fortified read of 64 bytes into a 16-byte buffer ends the process
#     as glibc does (SIGABRT, "buffer overflow detected"), before reading;
#   - posix_api and tcp_client pass with their fortified builds.
source "$(dirname "$0")/../lib/netns.sh"
T=fortify
FBUILD="$ROOT/c-tests/build/fortify"
[[ -f $LIB ]] || fail "$T: $LIB is missing (cargo build --release)"
for p in fortify_io posix_api echo_client; do
    [[ -x $FBUILD/$p ]] || fail "$T: $FBUILD/$p is missing (make -C c-tests)"
done
imports=$(nm -D "$FBUILD/fortify_io")
for sym in __read_chk __recv_chk __recvfrom_chk __poll_chk __ppoll_chk __fdelt_chk; do
    grep -q " U $sym\b" <<<"$imports" || fail "$T: fortify_io does not import $sym"
done
echo "  fortify_io imports __read_chk __recv_chk __recvfrom_chk __poll_chk __ppoll_chk __fdelt_chk"

netns_create $T
kernel_echo 7000
CBUILD=$FBUILD
run_side $T 30 fortify_io io 198.18.0.1 7000

status=0
# (In a subshell whose stderr is dropped: bash's own "Aborted" line.)
(timeout 30 "${PRELOAD[@]}" "$FBUILD/fortify_io" overflow 198.18.0.1 7000 \
    >"$TEST_TMP/overflow.out" 2>"$TEST_TMP/overflow.err") 2>/dev/null || status=$?
sed 's/^/  /' "$TEST_TMP/overflow.out"
grep -q '^reading 64 bytes into 16' "$TEST_TMP/overflow.out" ||
    fail "$T: overflow: $(grep '^FAIL' "$TEST_TMP/overflow.out" | head -n 2 | tr '\n' ';') (exit status $status)"
((status == 134)) && grep -q 'buffer overflow detected' "$TEST_TMP/overflow.err" ||
    fail "$T: overflow: exit status $status, not SIGABRT with glibc's message: $(grep '^FAIL' "$TEST_TMP/overflow.out" | head -n 1) $(tail -n 2 "$TEST_TMP/overflow.err" | tr '\n' ' ')"
echo "  a fortified read past its buffer: SIGABRT, $(grep -o 'buffer overflow detected' "$TEST_TMP/overflow.err")"

for t in posix_api tcp_client; do
    out=$(TAPSTACK_SIDE=fortify bash "$ROOT/scripts/system/$t.sh" 2>&1) ||
        fail "$T: $t with the fortified build: $(grep '^FAIL' <<<"$out" | head -n 3 | tr '\n' ';')"
    echo "  $(grep "^PASS" <<<"$out") (fortified build)"
done
pass $T
