#!/usr/bin/env bash
# Usage: scripts/system/real_haproxy.sh   (root; after cargo build --release)
# modes: tapstack kernel
#
# Unmodified haproxy in master-worker mode, -Ws as Debian's systemd unit
# runs it (the master forks the worker that serves), proxying HTTP from
# 198.18.0.2:8082 to a kernel-side backend (python3 -m http.server in the
# test's namespace). From the kernel side: curl of a 1 KiB and a 1 MiB
# file through it (sha256), and wrk for 2 s with every body checked and no
# socket error; then SIGUSR2 to the master (its reload: a new worker) and
# the files again; SIGTERM ends it.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_haproxy
need haproxy python3 curl wrk
need_built $T
real_setup haproxy

www=$TEST_TMP/www
mkdir -p "$www"
make_file "$www/1k" 1024
make_file "$www/1m" $((1 << 20))
start_bg "$TEST_TMP/backend.out" "$TEST_TMP/backend.err" ip netns exec "$NS" \
    "$(command -v python3)" -m http.server 8090 --bind "$PEER_IP" --directory "$www"
wait_for 10 ns_exec curl -s --max-time 2 -o /dev/null "http://$PEER_IP:8090/1k" ||
    fail "$T: the kernel-side backend (python3 -m http.server) did not start: $(tail -n 2 "$TEST_TMP/backend.err" | tr '\n' ' ')"

cat >"$TEST_TMP/haproxy.cfg" <<CFG
global
    pidfile $TEST_TMP/haproxy.pid
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind $STACK_IP:8082
    default_backend be
backend be
    server kernel $PEER_IP:8090
CFG
start_bg "$TEST_TMP/haproxy.out" "$TEST_TMP/haproxy.err" "${UNDER[@]}" "$(command -v haproxy)" \
    -Ws -f "$TEST_TMP/haproxy.cfg"
pid=$BG_PID
own_tree "$pid" haproxy

wrk_check_lua "$TEST_TMP/check.lua"

check() {
    local when=$1 f out checked
    wait_for 10 ns_exec curl -s --max-time 2 -o /dev/null "http://$STACK_IP:8082/1k" ||
        fail "$T: haproxy ($when) does not answer: $(tail -n 3 "$TEST_TMP/haproxy.err" | tr '\n' ' ')"
    for f in 1k 1m; do
        ns_exec curl -s --max-time 20 -o "$TEST_TMP/got-$f" "http://$STACK_IP:8082/$f" ||
            fail "$T: curl of /$f through haproxy ($when) failed"
        [[ $(sha "$TEST_TMP/got-$f") == $(sha "$www/$f") ]] ||
            fail "$T: /$f through haproxy ($when) arrived with other content ($(stat -c %s "$TEST_TMP/got-$f") bytes)"
    done
    out=$(timeout 30 ip netns exec "$NS" wrk -t 2 -c 4 -d 2s --timeout 5s -s "$TEST_TMP/check.lua" \
        "http://$STACK_IP:8082/1k" -- "$www/1k" 2>&1) || fail "$T: wrk ($when) failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
    checked=$(grep -o 'CHECKED good=[0-9]* bad=[0-9]*' <<<"$out") || fail "$T: wrk ($when) printed no check"
    [[ $checked =~ good=([0-9]+)\ bad=0$ ]] && ((BASH_REMATCH[1] > 0)) || fail "$T: wrk ($when): $checked"
    ! grep -q 'Socket errors' <<<"$out" || fail "$T: wrk ($when): $(grep 'Socket errors' <<<"$out")"
    echo "  $when: 1 KiB and 1 MiB through haproxy (sha256); wrk: ${BASH_REMATCH[1]} responses checked"
}

check started
workers=$(pgrep -P "$pid" | sort | tr '\n' ' ')
[[ -n $workers ]] || fail "$T: the haproxy master has no worker"
kill -USR2 "$pid"
new_worker() {
    local w
    for w in $(pgrep -P "$pid"); do
        [[ " $workers " == *" $w "* ]] || return 0
    done
    return 1
}
wait_for 10 new_worker || fail "$T: no new worker after SIGUSR2 (reload): $(tail -n 3 "$TEST_TMP/haproxy.err" | tr '\n' ' ')"
check "after reload"
stop_pid "$pid"
pass $T
