# Usage: source "$(dirname "$0")/../lib/netns.sh"   (from scripts/system/*.sh)
#
# Helpers for system tests: a network namespace of the test's own with a TAP,
# running programs under the preload inside it, bounded waits, and failing
# with a reason. Everything a test creates is undone on exit (normal, failure
# or Ctrl-C): the processes it started are ended by PID, the namespace and
# the temporary directory are deleted (the directory is kept on failure, for
# the pcap and logs).
#
#   netns_create NAME    namespace tapstack-NAME-$$ with lo up and tap0
#                        (kernel side 198.18.0.1/24, IPv6 off); sets NS
#   ns_exec CMD...       run CMD in the namespace (the kernel's side)
#   ns_preload [VAR=value...] CMD...
#                        run CMD in the namespace under the preload, with
#                        TAPSTACK_IFNAME=tap0 TAPSTACK_IP=198.18.0.2/24
#   PRELOAD              the same as an argv prefix, for start_bg (which
#                        needs a command, not a function, so that its PID is
#                        the program's: ip netns exec and env both exec)
#   start_bg OUT ERR CMD...
#                        start CMD in the background, stdout/stderr to files;
#                        sets BG_PID and remembers it for cleanup
#   stop_pid PID         SIGTERM, wait (bounded), SIGKILL if needed; sets
#                        STOP_STATUS to the exit status
#   wait_for SECONDS CMD...
#                        run CMD every 0.1 s until it succeeds; 1 on timeout
#   fail "test: why"     print FAIL with the reason and exit 1
#   pass "test"          print PASS and exit 0

set -euo pipefail
# A failure inside $(...) must stop the test too.
shopt -s inherit_errexit
# fail's message reaches the terminal even from inside $(...).
exec 3>&1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LIB="$ROOT/target/release/libtapstack.so"
CBUILD="$ROOT/c-tests/build"

NS=""
PRELOAD=()
STARTED_PIDS=()
PASSED=0
TEST_TMP=$(mktemp -d /tmp/tapstack-test.XXXXXX)

netns_cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n $NS ]]; then
        ip netns del "$NS" 2>/dev/null || true
    fi
    if [[ $PASSED == 1 ]]; then
        rm -rf "$TEST_TMP"
    else
        echo "  (logs and captures kept in $TEST_TMP)" >&2
    fi
}
trap netns_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    echo "FAIL $*" >&3
    exit 1
}

pass() {
    PASSED=1
    echo "PASS $1"
    exit 0
}

need_built() {
    [[ -f $LIB ]] || fail "$1: $LIB is missing (cargo build --release)"
    local prog
    for prog in "${@:2}"; do
        [[ -x $CBUILD/$prog ]] || fail "$1: $CBUILD/$prog is missing (make -C c-tests)"
    done
}

netns_create() {
    NS="tapstack-$1-$$"
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
    ip -n "$NS" tuntap add dev tap0 mode tap
    ip -n "$NS" addr add 198.18.0.1/24 dev tap0
    ip -n "$NS" link set tap0 up
    PRELOAD=(ip netns exec "$NS" env LD_PRELOAD="$LIB" TAPSTACK_IFNAME=tap0
        TAPSTACK_IP=198.18.0.2/24)
}

ns_exec() {
    ip netns exec "$NS" "$@"
}

ns_preload() {
    "${PRELOAD[@]}" "$@"
}

start_bg() {
    local out=$1 err=$2
    shift 2
    if [[ $(type -t "$1") != file ]]; then
        fail "start_bg: '$1' is not a program (use \"\${PRELOAD[@]}\", not ns_preload)"
    fi
    "$@" >"$out" 2>"$err" &
    BG_PID=$!
    STARTED_PIDS+=("$BG_PID")
}

stop_pid() {
    local pid=$1 i
    STOP_STATUS=0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" || STOP_STATUS=$?
}

wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}
