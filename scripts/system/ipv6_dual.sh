#!/usr/bin/env bash
# Usage: scripts/system/ipv6_dual.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# Dual-stack AF_INET6 TCP sockets (c-tests/ipv6_dual.c): a listener bound
# to :: accepts IPv4 connections and reports v4-mapped peers; connect to a
# v4-mapped address; ::1; getsockname/getpeername/accept lengths and
# truncation; IPV6_V6ONLY (set, read back, refused after bind, no IPv4,
# sharing a port with an AF_INET listener); the IPv6 options a server sets;
# every errno case (wrong lengths and families, an AF_INET address on an
# AF_INET6 socket). The program asserts Linux's values itself, and runs
# once on the kernel's stack and once on the tapstack side: the two
# outputs must be identical line by line.
source "$(dirname "$0")/../lib/netns.sh"
T=ipv6_dual
need_built $T ipv6_dual
netns_create $T
# The namespaces have IPv6 off (lib/netns.sh); ::1 on lo is part of the
# test, so lo gets it back on the kernel's side(s), the TAP and veth not.
for ns in "$NS" ${NS_FAR:+"$NS_FAR"}; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.lo.disable_ipv6=0
done

timeout 60 ip netns exec "$NS" "$KBUILD/ipv6_dual" 198.18.0.1 \
    >"$TEST_TMP/kernel.txt" 2>"$TEST_TMP/kernel.err" ||
    fail "$T: the kernel's run failed: $(grep '^FAIL' "$TEST_TMP/kernel.txt" | head -n 3 | tr '\n' ';') $(tail -c 300 "$TEST_TMP/kernel.err")"
# The direct build has no poll() of its own: its run skips those lines.
[[ $SIDE != direct ]] || sed -i '/^poll /d' "$TEST_TMP/kernel.txt"
status=0
timeout 60 "${PRELOAD[@]}" "$CBUILD/ipv6_dual" 198.18.0.2 \
    >"$TEST_TMP/stack.txt" 2>"$TEST_TMP/stack.err" || status=$?
diff -u "$TEST_TMP/kernel.txt" "$TEST_TMP/stack.txt" >&2 ||
    fail "$T: the tapstack side differs from the kernel (diff above; exit status $status; $(tail -c 200 "$TEST_TMP/stack.err"))"
((status == 0)) || fail "$T: exit status $status: $(tail -c 300 "$TEST_TMP/stack.err")"
pass $T
