#!/usr/bin/env bash
# Usage: scripts/system/posix_api.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# The socket API's answers, case by case (c-tests/posix_api.c, one process
# per case): ECONNREFUSED; non-blocking connect (EINPROGRESS, then SO_ERROR
# 0, or ECONNREFUSED to a closed port); MSG_PEEK and FIONREAD; MSG_WAITALL;
# MSG_DONTWAIT; SO_RCVTIMEO (EAGAIN after the timeout); EPIPE with SIGPIPE,
# and without it under MSG_NOSIGNAL (after our shutdown, and after the
# peer's RST); EBADF; ENOTCONN; EISCONN; EFAULT for NULL buffers; dup,
# F_DUPFD, dup2; half-close then EOF and TIME_WAIT; writev/readv/sendmsg/
# recvmsg; socket options, FD_CLOEXEC, FIONBIO; SO_LINGER making close wait
# for the peer's ACK; loopback (the program reaching its own listener
# through 127.0.0.1, 0.0.0.0 and its own address); TCP_DEFER_ACCEPT;
# sendto(MSG_FASTOPEN). The kernel is the peer: an echo server, a server that
# closes at once, a closed port, and a server that never reads. Cases named
# posix_api:CASE in KNOWN_FAILING are run and reported, but do not fail.
source "$(dirname "$0")/../lib/netns.sh"
T=posix_api
need_built $T posix_api
[[ -x $KBUILD/echo_server ]] || fail "$T: $KBUILD/echo_server is missing"
netns_create $T

start_bg "$TEST_TMP/echo.out" "$TEST_TMP/echo.err" ip netns exec "$NS" "$KBUILD/echo_server" 7000
await 10 "$TEST_TMP/echo.out" '^listening' || fail "$T: the kernel's echo server did not start"
start_bg "$TEST_TMP/close.out" "$TEST_TMP/close.err" ip netns exec "$NS" "$KBUILD/echo_server" --close 7001
await 10 "$TEST_TMP/close.out" '^listening' || fail "$T: the kernel's closing server did not start"
start_bg "$TEST_TMP/sink.out" "$TEST_TMP/sink.err" ip netns exec "$NS" "$KBUILD/echo_server" --sink 7003
await 10 "$TEST_TMP/sink.out" '^listening' || fail "$T: the kernel's sink server did not start"

bad=()
xfail=()
for c in $("$KBUILD/posix_api" --list); do
    status=0
    timeout 30 "${PRELOAD[@]}" "$CBUILD/posix_api" 198.18.0.1 7000 7001 7002 7003 "$c" \
        >"$TEST_TMP/$c.out" 2>"$TEST_TMP/$c.err" || status=$?
    if ((status == 0)) && grep -qx "ok $c" "$TEST_TMP/$c.out"; then
        if known_failing "$T:$c"; then
            echo "  XPASS $c (listed in KNOWN_FAILING: remove it)"
        else
            echo "  ok $c"
        fi
        continue
    fi
    why=$(grep '^FAIL' "$TEST_TMP/$c.out" | head -n 3 | tr '\n' ';')
    [[ -n $why ]] || why="exit status $status; $(tail -n 2 "$TEST_TMP/$c.err" | tr '\n' ' ')"
    if known_failing "$T:$c"; then
        echo "  XFAIL $c: $why"
        xfail+=("$c")
    else
        echo "  FAIL $c: $why"
        bad+=("$c")
    fi
done
((${#bad[@]} == 0)) || fail "$T: ${#bad[@]} cases failed: ${bad[*]}"
pass $T
