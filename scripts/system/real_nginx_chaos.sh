#!/usr/bin/env bash
# Usage: scripts/system/real_nginx_chaos.sh   (root; after cargo build --release)
# modes: tapstack kernel
#
# Unmodified nginx as shipped (Debian's stock nginx.conf: a master and one
# worker per core, see real_nginx_stock.sh) whose workers die by SIGKILL
# under load: while wrk fetches a 64 KiB file over 16 connections, a
# worker picked at random is killed every 50 ms, 60 times; nginx's master
# starts a new one for each, as it does on the kernel. A worker may die
# holding the stack's lock, in the middle of its epoll_wait or of a send.
# Every response wrk completed must be the file byte for byte (connections
# whose worker died may fail). Afterwards nginx must serve as if nothing
# happened: curl gets a 1 KiB and a 10 MiB file (sha256), and wrk runs
# with no socket error. nginx may log the deaths (signal 9), nothing else
# at alert, crit or emerg.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_nginx_chaos
need_stock_nginx
need_built $T
real_setup nginxchaos
stock_nginx_www 1k:1024 64k:$((64 << 10)) 10m:$((10 << 20))
wrk_check_lua "$TEST_TMP/check.lua"

dir=$TEST_TMP/nginx
stock_nginx_conf "$dir" "$www"
start_bg "$dir/nginx.out" "$dir/nginx.err" "${UNDER[@]}" "$(command -v nginx)" -c "$dir/nginx.conf" -g "daemon off;"
master=$BG_PID
own_tree "$master" nginx
wait_for 10 ns_exec curl -s --max-time 2 -o /dev/null "http://$STACK_IP:8080/1k" ||
    fail "$T: nginx does not answer: $(tail -n 3 "$dir/error.log" "$dir/nginx.err" 2>/dev/null | tr '\n' ' ')"
echo "  master and $(pgrep -P "$master" | wc -l) workers"

# wrk_run SECONDS FILE OUT: wrk on /FILE, every response checked.
wrk_run() {
    timeout $(($1 + 30)) ip netns exec "$NS" wrk -t 2 -c 16 -d "${1}s" --timeout 2s \
        -s "$TEST_TMP/check.lua" "http://$STACK_IP:8080/$2" -- "$www/$2" >"$3" 2>&1
}
# checked OUT: "GOOD BAD" from wrk's output.
checked() {
    local line
    line=$(grep -o 'CHECKED good=[0-9]* bad=[0-9]*' "$1") ||
        fail "$T: wrk printed no check: $(tail -n 5 "$1" | tr '\n' ' ')"
    sed 's/.*good=\([0-9]*\) bad=\([0-9]*\)/\1 \2/' <<<"$line"
}

wrk_run 5 64k "$TEST_TMP/chaos.wrk" &
load=$!
sleep 0.5
kills=0
for _ in $(seq 1 60); do
    mapfile -t workers < <(pgrep -P "$master")
    if ((${#workers[@]} > 0)); then
        kill -KILL "${workers[RANDOM % ${#workers[@]}]}" 2>/dev/null && kills=$((kills + 1))
    fi
    sleep 0.05
done
wait "$load" || fail "$T: wrk under the kills failed: $(tail -n 3 "$TEST_TMP/chaos.wrk" | tr '\n' ' ')"
read -r good bad < <(checked "$TEST_TMP/chaos.wrk")
((bad == 0)) || fail "$T: under the kills, $bad responses were wrong ($good right)"
((good > 0)) || fail "$T: under the kills, no response completed"
echo "  $kills workers killed under load: $good responses checked, $(grep -o 'Socket errors.*' "$TEST_TMP/chaos.wrk" || echo 'no socket errors')"
kill -0 "$master" 2>/dev/null || fail "$T: nginx's master died: $(tail -n 3 "$dir/error.log" | tr '\n' ' ')"

wait_for 10 test -n "$(pgrep -P "$master")" || fail "$T: the master started no worker after the kills"
for f in 1k 10m; do
    wait_for 10 ns_exec curl -s --max-time 30 -o "$TEST_TMP/got-$f" "http://$STACK_IP:8080/$f" ||
        { stack_report; fail "$T: after the kills, curl of /$f failed: $(tail -n 3 "$dir/error.log" | tr '\n' ' ')"; }
    [[ $(sha "$TEST_TMP/got-$f") == $(sha "$www/$f") ]] ||
        fail "$T: after the kills, /$f arrived with other content ($(stat -c %s "$TEST_TMP/got-$f") bytes)"
done
wrk_run 2 1k "$TEST_TMP/after.wrk" || fail "$T: wrk after the kills failed: $(tail -n 3 "$TEST_TMP/after.wrk" | tr '\n' ' ')"
read -r good bad < <(checked "$TEST_TMP/after.wrk")
((good > 0 && bad == 0)) || fail "$T: after the kills, wrk: good=$good bad=$bad"
! grep -q 'Socket errors' "$TEST_TMP/after.wrk" ||
    fail "$T: after the kills, wrk: $(grep 'Socket errors' "$TEST_TMP/after.wrk")"
echo "  after the kills: curl (1 KiB, 10 MiB) and wrk ($good responses) as before"

stop_pid "$master"
if grep -E '\[(alert|crit|emerg)\]' "$dir/error.log" | grep -v 'exited on signal 9' >"$dir/alerts"; then
    fail "$T: nginx logged: $(head -n 3 "$dir/alerts" | tr '\n' ' ')"
fi
pass $T
