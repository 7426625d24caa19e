#!/usr/bin/env bash
# Usage: scripts/system/fork_shared.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel
#
# Inherited stack sockets after fork and exec, with the kernel's semantics
# (docs/shared-stack.md), case by case (c-tests/fork_shared.c --list):
# accept on an inherited listener by both processes (each connection to one
# caller); send/recv on an inherited connection; an inherited epoll fd is
# the same instance; close or exit in one process leaves the connection to
# the other, the last close sends the FIN; shutdown acts for everyone; the
# child's new sockets are on the same stack; a socket survives execve
# (/bin/cat on stdin/stdout, and this program re-executed), a FD_CLOEXEC one
# does not.
#
# Differential: each case runs first on the kernel's sockets (198.18.0.1,
# in the test's namespace), then on the tapstack side (198.18.0.2); its
# kernel run must end "OK", and the tapstack run must print the same lines.
# The peer is the kernel's TCP in the namespace, driven over a Unix socket.
# Cases named fork_shared:CASE in KNOWN_FAILING are run and reported, but
# do not fail.
source "$(dirname "$0")/../lib/netns.sh"
T=fork_shared
need_built $T fork_shared
[[ -x $KBUILD/fork_shared ]] || fail "$T: $KBUILD/fork_shared is missing (make -C c-tests)"
netns_create $T

ctlsock=$TEST_TMP/peer.sock
start_bg "$TEST_TMP/peer.out" "$TEST_TMP/peer.err" ip netns exec "$NS" "$KBUILD/fork_shared" peer "$ctlsock"
await 10 "$TEST_TMP/peer.out" '^listening' || fail "$T: the kernel-side peer did not start: $(head -c 300 "$TEST_TMP/peer.err")"

bad=()
# FORK_SHARED_CASES="accept epoll" runs only those.
for c in ${FORK_SHARED_CASES:-$("$KBUILD/fork_shared" --list)}; do
    status=0
    timeout 40 ip netns exec "$NS" "$KBUILD/fork_shared" "$c" 198.18.0.1 198.18.0.1 "$ctlsock" \
        >"$TEST_TMP/$c.kernel" 2>"$TEST_TMP/$c.kernel.err" || status=$?
    if ((status != 0)) || ! grep -qx OK "$TEST_TMP/$c.kernel"; then
        sed 's/^/    /' "$TEST_TMP/$c.kernel"
        fail "$T: case $c fails on the kernel's own sockets (the test is wrong): status $status, $(grep '^FAIL' "$TEST_TMP/$c.kernel" | head -n 2 | tr '\n' ';') $(tail -n 2 "$TEST_TMP/$c.kernel.err" | tr '\n' ' ')"
    fi
    status=0
    timeout 40 "${PRELOAD[@]}" "$CBUILD/fork_shared" "$c" 198.18.0.2 198.18.0.1 "$ctlsock" \
        >"$TEST_TMP/$c.out" 2>"$TEST_TMP/$c.err" || status=$?
    if ((status == 0)) && diff -u "$TEST_TMP/$c.kernel" "$TEST_TMP/$c.out" >"$TEST_TMP/$c.diff"; then
        if known_failing "$T:$c"; then
            echo "  XPASS $c (listed in KNOWN_FAILING: remove it)"
        else
            echo "  ok $c"
        fi
        continue
    fi
    diff -u "$TEST_TMP/$c.kernel" "$TEST_TMP/$c.out" >"$TEST_TMP/$c.diff" || true
    why="status $status; first difference: $(grep '^[-+][^-+]' "$TEST_TMP/$c.diff" | head -n 2 | tr '\n' ';')"
    ((status != 124)) || why="timed out; $why"
    ((status != 142)) || why="SIGALRM (a hang); $why"
    if known_failing "$T:$c"; then
        echo "  XFAIL $c: $why"
    else
        echo "  FAIL $c: $why"
        sed 's/^/    /' "$TEST_TMP/$c.diff" | head -n 40
        bad+=("$c")
    fi
done
((${#bad[@]} == 0)) || fail "$T: ${#bad[@]} cases differ from the kernel: ${bad[*]}"
pass $T
