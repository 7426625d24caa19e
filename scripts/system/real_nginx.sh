#!/usr/bin/env bash
# Usage: scripts/system/real_nginx.sh   (root; after cargo build --release)
# modes: tapstack kernel
#
# Unmodified nginx (daemon off; a master and 2 workers, which share the
# stack) on tapstack, with
# sendfile on and off and tcp_nopush on, serving a 1 KiB and a 10 MiB file:
# curl from the kernel side fetches both and the sha256 must match; wrk runs
# with keep-alive and with "Connection: close", and a Lua check compares
# every response body with the file. The listen directive asks for the
# socket options production configurations use (deferred, so_keepalive);
# nginx must log no alert about any of them, nor anything worse.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_nginx
need nginx wrk curl
need_built $T
real_setup nginx

www=$TEST_TMP/www
mkdir -p "$www" "$TEST_TMP/nginx"
make_file "$www/1k" 1024
make_file "$www/10m" $((10 << 20))
# The workers run as nobody (nginx's default user when its master is root).
chmod 755 "$TEST_TMP" "$www"
chmod 644 "$www/1k" "$www/10m"

wrk_check_lua "$TEST_TMP/check.lua"

for sf in on off; do
    conf=$TEST_TMP/nginx/nginx-$sf.conf
    cat >"$conf" <<CONF
daemon off;
master_process on;
worker_processes 2;
pid $TEST_TMP/nginx/nginx.pid;
error_log $TEST_TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TEST_TMP/nginx/body;
    proxy_temp_path $TEST_TMP/nginx/proxy;
    fastcgi_temp_path $TEST_TMP/nginx/fastcgi;
    uwsgi_temp_path $TEST_TMP/nginx/uwsgi;
    scgi_temp_path $TEST_TMP/nginx/scgi;
    sendfile $sf;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    server {
        listen $STACK_IP:8080 deferred so_keepalive=60s:10s:3;
        root $www;
    }
}
CONF
    start_bg "$TEST_TMP/nginx-$sf.out" "$TEST_TMP/nginx-$sf.err" \
        "${UNDER[@]}" "$(command -v nginx)" -c "$conf" -p "$TEST_TMP/nginx"
    pid=$BG_PID
    wait_for 10 ns_exec curl -s -o /dev/null "http://$STACK_IP:8080/1k" ||
        fail "$T: nginx (sendfile $sf) does not answer: $(tail -n 3 "$TEST_TMP/nginx-$sf.err" "$TEST_TMP/nginx/error.log" 2>/dev/null | tr '\n' ' ')"
    for f in 1k 10m; do
        ns_exec curl -s --max-time 30 -o "$TEST_TMP/got-$f" "http://$STACK_IP:8080/$f" ||
            fail "$T: curl of /$f (sendfile $sf) failed"
        [[ $(sha "$TEST_TMP/got-$f") == $(sha "$www/$f") ]] ||
            fail "$T: /$f (sendfile $sf) arrived with other content ($(stat -c %s "$TEST_TMP/got-$f") bytes)"
    done
    for f in 1k 10m; do
        for conn in keep-alive close; do
            hdr=()
            [[ $conn == close ]] && hdr=(-H "Connection: close")
            out=$(ns_exec wrk -t 2 -c 8 -d 2s --timeout 5s "${hdr[@]}" -s "$TEST_TMP/check.lua" \
                "http://$STACK_IP:8080/$f" -- "$www/$f" 2>&1) ||
                fail "$T: wrk /$f $conn (sendfile $sf) failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
            checked=$(grep -o 'CHECKED good=[0-9]* bad=[0-9]*' <<<"$out") ||
                fail "$T: wrk /$f $conn (sendfile $sf) printed no check: $(tail -n 5 <<<"$out" | tr '\n' ' ')"
            good=$(sed 's/.*good=\([0-9]*\).*/\1/' <<<"$checked")
            bad=$(sed 's/.*bad=\([0-9]*\)/\1/' <<<"$checked")
            ((good > 0 && bad == 0)) ||
                fail "$T: wrk /$f $conn (sendfile $sf): $checked"
            ! grep -q 'Socket errors' <<<"$out" ||
                fail "$T: wrk /$f $conn (sendfile $sf): $(grep 'Socket errors' <<<"$out")"
            echo "  sendfile $sf, /$f, $conn: $good responses checked, $(grep 'Requests/sec' <<<"$out" | tr -s ' ')"
        done
    done
    stop_pid "$pid"
    if grep -E '\[(alert|crit|emerg)\]' "$TEST_TMP/nginx/error.log" >"$TEST_TMP/alerts"; then
        fail "$T: nginx (sendfile $sf) logged: $(head -n 3 "$TEST_TMP/alerts" | tr '\n' ' ')"
    fi
done
pass $T
