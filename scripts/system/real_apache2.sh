#!/usr/bin/env bash
# Usage: scripts/system/real_apache2.sh   (root; after cargo build --release)
# modes: tapstack kernel
#
# Unmodified apache2 with the prefork MPM (a parent that listens and forks
# child processes, each accepting on the inherited listener; -X, one
# process, is not used), its own configuration in a temp dir (the
# machine's /etc/apache2 is left alone), -DFOREGROUND so that the parent
# is the process we started. From the kernel side: curl of a 1 KiB and a
# 10 MiB file (sha256), and wrk for 2 s on both with every body checked
# and no socket error. At least 2 children must serve; SIGTERM ends it.
source "$(dirname "$0")/../lib/netns.sh"
source "$(dirname "$0")/../lib/real.sh"
T=real_apache2
need apache2 curl wrk
need_built $T
MODS=/usr/lib/apache2/modules
for m in mod_mpm_prefork mod_authz_core mod_mime mod_dir; do
    [[ -f $MODS/$m.so ]] || fail "$T: missing $MODS/$m.so (apt-get install apache2)"
done
id www-data >/dev/null 2>&1 || fail "$T: no www-data user for apache2's children"
real_setup apache2

chmod 755 "$TEST_TMP"
www=$TEST_TMP/www
mkdir -p "$www" "$TEST_TMP/apache/run"
chmod 755 "$www"
make_file "$www/1k" 1024
make_file "$www/10m" $((10 << 20))
chmod 644 "$www/1k" "$www/10m"
conf=$TEST_TMP/apache/apache2.conf
cat >"$conf" <<CONF
ServerRoot "$TEST_TMP/apache"
ServerName tapstack-test
Listen $STACK_IP:8081
PidFile $TEST_TMP/apache/apache2.pid
DefaultRuntimeDir $TEST_TMP/apache/run
ErrorLog $TEST_TMP/apache/error.log
LogLevel warn
LoadModule mpm_prefork_module $MODS/mod_mpm_prefork.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule mime_module $MODS/mod_mime.so
LoadModule dir_module $MODS/mod_dir.so
TypesConfig /etc/mime.types
User www-data
Group www-data
StartServers 3
MinSpareServers 2
MaxSpareServers 5
MaxRequestWorkers 16
KeepAlive On
DocumentRoot "$www"
<Directory "$www">
    Require all granted
</Directory>
CONF

# setsid: on shutdown, prefork's parent signals its whole process group,
# which must not be this script's. (setsid execs in place: BG_PID stays
# apache2's pid, checked below.)
start_bg "$TEST_TMP/apache.out" "$TEST_TMP/apache.err" setsid "${UNDER[@]}" "$(command -v apache2)" \
    -f "$conf" -DFOREGROUND
pid=$BG_PID
own_tree "$pid" apache2
wait_for 10 ns_exec curl -s --max-time 2 -o /dev/null "http://$STACK_IP:8081/1k" ||
    fail "$T: apache2 does not answer: $(tail -n 3 "$TEST_TMP/apache.err" "$TEST_TMP/apache/error.log" 2>/dev/null | tr '\n' ' ')"
grep -qa apache2 "/proc/$pid/cmdline" || fail "$T: the process started is not apache2 (setsid forked?)"
children=$(pgrep -P "$pid" | wc -l)
((children >= 2)) || fail "$T: apache2 has $children children, want prefork's (at least 2)"
echo "  apache2 prefork: parent and $children children"

wrk_check_lua "$TEST_TMP/check.lua"
for f in 1k 10m; do
    ns_exec curl -s --max-time 30 -o "$TEST_TMP/got-$f" "http://$STACK_IP:8081/$f" || fail "$T: curl of /$f failed"
    [[ $(sha "$TEST_TMP/got-$f") == $(sha "$www/$f") ]] ||
        fail "$T: /$f arrived with other content ($(stat -c %s "$TEST_TMP/got-$f") bytes)"
    out=$(timeout 30 ip netns exec "$NS" wrk -t 2 -c 8 -d 2s --timeout 5s -s "$TEST_TMP/check.lua" \
        "http://$STACK_IP:8081/$f" -- "$www/$f" 2>&1) || fail "$T: wrk /$f failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
    checked=$(grep -o 'CHECKED good=[0-9]* bad=[0-9]*' <<<"$out") || fail "$T: wrk /$f printed no check"
    [[ $checked =~ good=([0-9]+)\ bad=0$ ]] && ((BASH_REMATCH[1] > 0)) || fail "$T: wrk /$f: $checked"
    ! grep -q 'Socket errors' <<<"$out" || fail "$T: wrk /$f: $(grep 'Socket errors' <<<"$out")"
    echo "  /$f: curl sha256 ok; wrk: ${BASH_REMATCH[1]} responses checked, no socket error"
done
stop_pid "$pid"
! grep -E '\] \[[a-z_]*:(emerg|alert|crit)\]' "$TEST_TMP/apache/error.log" ||
    fail "$T: apache2 logged: $(grep -E ':(emerg|alert|crit)\]' "$TEST_TMP/apache/error.log" | head -n 2 | tr '\n' ' ')"
pass $T
