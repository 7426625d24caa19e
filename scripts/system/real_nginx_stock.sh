#!/usr/bin/env bash
# Usage: scripts/system/real_nginx_stock.sh   (root; after cargo build --release)
# modes: tapstack kernel
#
# Unmodified nginx with Debian's stock process model: the stock
# /etc/nginx/nginx.conf (user www-data, worker_processes auto, so a master
# and one worker per core; its events and http settings: sendfile,
# tcp_nopush, gzip, mime types, the enabled modules), changed only where a
# test must: pid, error_log and access_log go to the test's directory, the
# machine's conf.d/ and sites-enabled/ are left out, and our own server
# block (listen 198.18.0.2:8080, root a temp dir) is included instead. Run
# twice: in the foreground (-g "daemon off;") and as the stock daemon (the
# process that started it exits, the master carries on). Each time: curl
# from the kernel side fetches a 1 KiB and a 10 MiB file (sha256 must
# match), wrk runs on both with every body checked and no socket error,
# `nginx -s reload` starts new workers that serve too, and `nginx -s quit`
# ends it. nginx must log no alert, crit or emerg. On tapstack, frames
# must have been read by workers waiting in epoll_wait (each worker reads
# a queue of its own, opened at fork), and the master, idle on the stack,
# must have detached its queue (one attached queue per worker).
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_nginx_stock
need_stock_nginx
need_built $T
real_setup nginxstock
stock_nginx_www 1k:1024 10m:$((10 << 20))

wrk_check_lua "$TEST_TMP/check.lua"

# serve MODE: curl both files and wrk on both, checked.
serve() {
    local mode=$1 f out checked good bad
    wait_for 10 ns_exec curl -s --max-time 2 -o /dev/null "http://$STACK_IP:8080/1k" ||
        fail "$T: nginx ($mode) does not answer: $(tail -n 3 "$dir/error.log" 2>/dev/null | tr '\n' ' ')"
    for f in 1k 10m; do
        ns_exec curl -s --max-time 30 -o "$TEST_TMP/got-$f" "http://$STACK_IP:8080/$f" ||
            fail "$T: curl of /$f ($mode) failed"
        [[ $(sha "$TEST_TMP/got-$f") == $(sha "$www/$f") ]] ||
            fail "$T: /$f ($mode) arrived with other content ($(stat -c %s "$TEST_TMP/got-$f") bytes)"
    done
    for f in 1k 10m; do
        out=$(timeout 30 ip netns exec "$NS" wrk -t 2 -c 8 -d 2s --timeout 5s -s "$TEST_TMP/check.lua" \
            "http://$STACK_IP:8080/$f" -- "$www/$f" 2>&1) ||
            fail "$T: wrk /$f ($mode) failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        checked=$(grep -o 'CHECKED good=[0-9]* bad=[0-9]*' <<<"$out") ||
            fail "$T: wrk /$f ($mode) printed no check: $(tail -n 5 <<<"$out" | tr '\n' ' ')"
        good=$(sed 's/.*good=\([0-9]*\).*/\1/' <<<"$checked")
        bad=$(sed 's/.*bad=\([0-9]*\)/\1/' <<<"$checked")
        ((good > 0 && bad == 0)) || fail "$T: wrk /$f ($mode): $checked"
        ! grep -q 'Socket errors' <<<"$out" || fail "$T: wrk /$f ($mode): $(grep 'Socket errors' <<<"$out")"
        echo "  $mode: curl and wrk on /$f: $good responses checked"
    done
}

# read_by_waiters: the stack's rx_frames_by_waiter (0 on the kernel).
read_by_waiters() {
    [[ $SIDE == tapstack ]] || { echo 0; return; }
    ns_exec "$ROOT/target/release/tapstack" stats | awk '$1 == "rx_frames_by_waiter" {print $2}'
}

# workers_of PID: the master's children (its workers).
workers_of() {
    pgrep -P "$1" | sort | tr '\n' ' '
}

# attached_queues: how many queues of tap0 are attached, those tun spreads
# new flows over (it sizes the device's real queues to them).
attached_queues() {
    ns_exec sh -c 'ls -d /sys/class/net/tap0/queues/tx-* | wc -l'
}

# one_queue_per_worker MASTER: as many queues attached as MASTER has
# children (its workers, those shutting down after a reload included).
one_queue_per_worker() {
    [[ $(attached_queues) -eq $(wc -w <<<"$(workers_of "$1")") ]]
}

# only_workers_take_flows MODE MASTER: the master, idle on the stack and
# holding only listeners, has detached its queue, so that new connections'
# SYNs go to the workers' queues (not to a process that accepts nothing).
only_workers_take_flows() {
    [[ $SIDE == tapstack ]] || return 0
    wait_for 5 one_queue_per_worker "$2" ||
        fail "$T: nginx ($1): $(attached_queues) TAP queues attached for $(wc -w <<<"$(workers_of "$2")") workers (the idle master's should be detached)"
    echo "  $1: $(attached_queues) queues attached, one per worker: the master's is detached"
}

# new_worker PID "OLD...": PID has a child not among OLD.
new_worker() {
    local w
    for w in $(workers_of "$1"); do
        [[ " $2 " == *" $w "* ]] || return 0
    done
    return 1
}

for mode in foreground daemon; do
    dir=$TEST_TMP/$mode
    stock_nginx_conf "$dir" "$www"
    nginx_cmd=("$(command -v nginx)" -c "$dir/nginx.conf")
    if [[ $mode == foreground ]]; then
        start_bg "$dir/nginx.out" "$dir/nginx.err" "${UNDER[@]}" "${nginx_cmd[@]}" -g "daemon off;"
        master=$BG_PID
        own_tree "$master" nginx
        wait_for 10 test -s "$dir/nginx.pid" || fail "$T: nginx ($mode) wrote no pid file: $(tail -n 3 "$dir/nginx.err" | tr '\n' ' ')"
    else
        start_bg "$dir/nginx.out" "$dir/nginx.err" "${UNDER[@]}" "${nginx_cmd[@]}"
        starter=$BG_PID
        wait_exit "$starter" 10 || fail "$T: nginx ($mode): the starting process did not exit"
        wait "$starter" || fail "$T: nginx ($mode): the starting process failed: $(tail -n 3 "$dir/nginx.err" "$dir/error.log" 2>/dev/null | tr '\n' ' ')"
        wait_for 10 test -s "$dir/nginx.pid" || fail "$T: nginx ($mode) wrote no pid file"
        master=$(cat "$dir/nginx.pid")
        # The daemon descends from the process we started: ours to end.
        own_tree "$master" nginx
        kill -0 "$master" 2>/dev/null || fail "$T: nginx ($mode): the daemon (pid file) is not running: $(tail -n 3 "$dir/error.log" | tr '\n' ' ')"
    fi
    wait_for 10 test -n "$(workers_of "$master")" || fail "$T: nginx ($mode) started no worker"
    before=$(workers_of "$master")
    echo "  $mode: master and $(wc -w <<<"$before") workers"
    waited0=$(read_by_waiters)
    serve "$mode"
    # Each worker reads a TAP queue of its own, opened at fork while it
    # was still root: its epoll_wait reads the TAP (on its parent's queue,
    # shared, it would not).
    if [[ $SIDE == tapstack ]]; then
        waited1=$(read_by_waiters)
        ((waited1 > waited0)) ||
            fail "$T: nginx ($mode): no frame read by a worker waiting in epoll_wait ($waited0, then $waited1)"
        echo "  $mode: frames read by workers waiting in epoll_wait: $((waited1 - waited0))"
    fi
    only_workers_take_flows "$mode" "$master"

    timeout 10 "${nginx_cmd[@]}" -s reload 2>"$dir/reload.err" ||
        fail "$T: nginx -s reload ($mode) failed: $(head -n 2 "$dir/reload.err" | tr '\n' ' ')"
    wait_for 10 new_worker "$master" "$before" ||
        fail "$T: after nginx -s reload ($mode) no new worker started"
    serve "$mode after reload"
    only_workers_take_flows "$mode after reload" "$master"

    timeout 10 "${nginx_cmd[@]}" -s quit 2>"$dir/quit.err" ||
        fail "$T: nginx -s quit ($mode) failed: $(head -n 2 "$dir/quit.err" | tr '\n' ' ')"
    if [[ $mode == foreground ]]; then
        wait_exit "$master" 15 || fail "$T: nginx -s quit ($mode): the master did not exit"
        wait "$master" || fail "$T: nginx ($mode) exited with status $? after -s quit"
    else
        wait_for 15 sh -c "! kill -0 $master 2>/dev/null" || fail "$T: nginx -s quit ($mode): the daemon did not exit"
    fi
    echo "  $mode: nginx -s quit ended it"
    if grep -E '\[(alert|crit|emerg)\]' "$dir/error.log" >"$dir/alerts"; then
        fail "$T: nginx ($mode) logged: $(head -n 3 "$dir/alerts" | tr '\n' ' ')"
    fi
done
pass $T
