# Usage: source "$(dirname "$0")/../lib/real.sh"   (after lib/netns.sh)
#
# For the tests of real, unmodified programs (nginx, iperf3, curl, python):
#
#   real_setup NAME    netns_create NAME, then sets
#                      UNDER     argv prefix running a program on "the
#                                tapstack side" (under the preload, or on
#                                the kernel's own stack with
#                                TAPSTACK_SIDE=kernel: see lib/netns.sh);
#                      STACK_IP  that side's address (198.18.0.2);
#                      PEER_IP   the kernel side's address (198.18.0.1).
#   make_file PATH BYTES   a file of pseudo-random bytes
#   sha FILE           its sha256
#   own_tree PID WORD  on exit, kill PID and its descendants (a forking
#                      server, a daemon) if PID still runs WORD

real_setup() {
    netns_create "$1"
    UNDER=("${PRELOAD[@]}")
    STACK_IP=198.18.0.2
    PEER_IP=198.18.0.1
}

make_file() {
    head -c "$2" /dev/urandom >"$1"
}

sha() {
    sha256sum "$1" | cut -d' ' -f1
}

# Forking servers (a master and its workers, a daemon) leave processes
# behind when the master is killed. own_tree PID WORD marks PID as one we
# started (directly or as the daemon of one we started): on exit, failure
# included, PID and all its descendants are killed, if PID is still a
# process whose command line has WORD (so a pid the system gave to someone
# else since is left alone).
REAL_TREES=()
own_tree() {
    REAL_TREES+=("$1:$2")
}

real_descendants() {
    local c
    for c in $(pgrep -P "$1"); do
        echo "$c"
        real_descendants "$c"
    done
}

real_cleanup() {
    local e pid word
    for e in "${REAL_TREES[@]}"; do
        pid=${e%%:*} word=${e#*:}
        if grep -qa -- "$word" "/proc/$pid/cmdline" 2>/dev/null; then
            # shellcheck disable=SC2046
            kill -KILL "$pid" $(real_descendants "$pid") 2>/dev/null || true
        fi
    done
    netns_cleanup
}
trap real_cleanup EXIT

# wrk_check_lua PATH: writes a wrk script that checks the status and the
# body of every response against the file named by wrk's first script
# argument (wrk ... -s PATH URL -- FILE), and prints
# "CHECKED good=N bad=N" at the end.
wrk_check_lua() {
    cat >"$1" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  local f = io.open(args[1], "rb"); expected = f:read("*a"); f:close()
  good = 0; bad = 0
end
function response(status, headers, body)
  if status == 200 and body == expected then good = good + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local g, b = 0, 0
  for _, t in ipairs(threads) do g = g + t:get("good"); b = b + t:get("bad") end
  io.write(string.format("CHECKED good=%d bad=%d\n", g, b))
end
LUA
}

# need_stock_nginx: the test ($T) needs nginx, wrk and curl, Debian's
# stock /etc/nginx/nginx.conf and the www-data user its workers run as.
need_stock_nginx() {
    need nginx wrk curl
    [[ -f /etc/nginx/nginx.conf ]] || fail "$T: missing /etc/nginx/nginx.conf, Debian's stock configuration (apt-get install nginx-common)"
    id www-data >/dev/null 2>&1 || fail "$T: the stock configuration runs workers as www-data, and there is no such user"
}

# stock_nginx_www NAME:BYTES...: makes $TEST_TMP/www (sets www) with a file
# of random bytes for each NAME, all readable by nginx's workers, which run
# as www-data.
stock_nginx_www() {
    local spec
    chmod 755 "$TEST_TMP"
    www=$TEST_TMP/www
    mkdir -p "$www"
    chmod 755 "$www"
    for spec in "$@"; do
        make_file "$www/${spec%%:*}" "${spec#*:}"
        chmod 644 "$www/${spec%%:*}"
    done
}

# stock_nginx_conf DIR WWW: writes DIR/nginx.conf, Debian's stock
# /etc/nginx/nginx.conf changed only where a test must: pid, error_log and
# access_log in DIR, the machine's conf.d/ and sites-enabled/ left out, and
# DIR/site.conf (listen $STACK_IP:8080, root WWW) included instead. Fails
# the test ($T) when the stock file is missing or has no sites-enabled
# include to replace.
stock_nginx_conf() {
    local dir=$1 www=$2 stock=/etc/nginx/nginx.conf
    [[ -f $stock ]] || fail "$T: missing $stock, Debian's stock configuration (apt-get install nginx-common)"
    mkdir -p "$dir"
    cat >"$dir/site.conf" <<CONF
server {
    listen $STACK_IP:8080;
    root $www;
}
CONF
    sed -e "s|^pid .*|pid $dir/nginx.pid;|" \
        -e "s|^error_log .*|error_log $dir/error.log;|" \
        -e "s|access_log .*;|access_log $dir/access.log;|" \
        -e "s|include /etc/nginx/conf.d/\*.conf;|# conf.d left out (machine-local)|" \
        -e "s|include /etc/nginx/sites-enabled/\*;|include $dir/site.conf;|" \
        "$stock" >"$dir/nginx.conf"
    grep -q "include $dir/site.conf;" "$dir/nginx.conf" ||
        fail "$T: $stock has no 'include /etc/nginx/sites-enabled/*;' to put the test's server block in"
}
