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
#                        (kernel side 198.18.0.1/24, IPv6 off); sets NS;
#                        with TAP_USER set, that user may attach to tap0
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
#   stack_report         the tapstack side's counters and sockets by state, for a
#                        failure message (the tapstack command asks the stack)
#
# Which stack is "the tapstack side" (TAPSTACK_SIDE, default tapstack):
#   tapstack   the program runs under LD_PRELOAD on tap0 at 198.18.0.2
#   direct     the same program built against include/tapstack.h
#              (c-tests/build/direct/), tapstack_* called directly, no preload
#   kernel     no tapstack at all: tap0 in NS is one end of a veth pair whose
#              other end (eth0, 198.18.0.2, MAC 02:00:c6:12:00:02) is in a
#              second namespace NS_FAR where the program runs on the kernel's
#              own stack. Proves a test right before it judges tapstack.
#   fortify    as tapstack, with the programs built -O2 -D_FORTIFY_SOURCE=2
#              (c-tests/build/fortify/: read, recv, poll... become glibc's
#              __read_chk, __recv_chk, __poll_chk...); scripts/system/
#              fortify.sh runs some tests this way
# Scripts that work in every mode say so with a line "# modes: tapstack
# kernel direct"; scripts/test --kernel / --direct run only those.
#   CBUILD               where the tapstack side's programs are (build/ or
#                        build/direct/); KBUILD: build/, for the kernel's side
#   capture_start FILE   capture the tapstack side's frames into FILE: sets
#                        TAPSTACK_PCAP for the next programs started with
#                        PRELOAD (tapstack/direct), or runs tcpdump on tap0
#                        (kernel mode)
#   capture_stop         ends the tcpdump of kernel mode (no-op otherwise)
#   tshark_fields [-o PREF:VALUE | -E FIELDOPT]... PCAP FILTER FIELD...
#                        tshark's FIELDs (tab-separated unless -E
#                        separator=, says otherwise; one frame a line)
#                        of PCAP's frames matching the display FILTER; a
#                        tshark failure (missing, unreadable pcap, filter
#                        or field it rejects) fails the test with its words
#   tshark_count [-o PREF:VALUE]... PCAP FILTER
#                        how many frames match FILTER (same failures)
#   start_ctl NAME OUT ERR CMD...
#                        like start_bg, with CMD's stdin a FIFO; then
#                        `ctl NAME LINE` writes a command line to it (sockctl)
#   await SECONDS FILE REGEX
#                        wait until a line of FILE matches REGEX
#   kernel_echo PORT [--http|--close]
#                        start c-tests' echo_server on the kernel's side
#   run_side T SECONDS PROG ARGS...
#                        run c-tests' PROG on the tapstack side, bounded;
#                        fail T with its FAIL lines unless it exits 0 and
#                        prints OK; its output is in $TEST_TMP/PROG.out
#   known_failing NAME   true when NAME (script or script:case) is in
#                        KNOWN_FAILING_LIST, exported by scripts/test
#   need TOOL...         fail unless each TOOL is installed, naming its
#                        package (scripts/lib/need.sh)

set -euo pipefail
# A failure inside $(...) must stop the test too.
shopt -s inherit_errexit
# fail's message reaches the terminal even from inside $(...).
exec 3>&1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/scripts/lib/need.sh"
LIB="$ROOT/target/release/libtapstack.so"
KBUILD="$ROOT/c-tests/build"
SIDE=${TAPSTACK_SIDE:-tapstack}
case $SIDE in
tapstack | kernel) CBUILD="$ROOT/c-tests/build" ;;
direct) CBUILD="$ROOT/c-tests/build/direct" ;;
fortify) CBUILD="$ROOT/c-tests/build/fortify" ;;
*)
    echo "TAPSTACK_SIDE must be tapstack, kernel, direct or fortify, not '$SIDE'" >&2
    exit 2
    ;;
esac

NS=""
NS_FAR=""
CAPTURE_PID=""
declare -A CTL_FDS=()
PRELOAD=()
STARTED_PIDS=()
PASSED=0
TEST_TMP=$(mktemp -d /tmp/tapstack-test.XXXXXX)

netns_cleanup() {
    local pid fd
    for pid in "${STARTED_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    for fd in "${CTL_FDS[@]}"; do
        exec {fd}>&- || true
    done
    if [[ -n $NS ]]; then
        # A stack whose processes were all killed leaves its shared region
        # behind (named after the namespace's inode): remove it.
        local inode
        inode=$(stat -L -c %i "/run/netns/$NS" 2>/dev/null) &&
            rm -f /dev/shm/tapstack-"$inode"-* 2>/dev/null
        ip netns del "$NS" 2>/dev/null || true
    fi
    if [[ -n $NS_FAR ]]; then
        ip netns del "$NS_FAR" 2>/dev/null || true
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

# stack_report: for a failure message, what the stack in NS looks like
# now (tapstack side only): its counters that are not zero and how many
# sockets are in each state, from the `tapstack` command, indented. Says
# so instead when it cannot ask (no command, no answer in 5 s: a stack
# whose lock is stuck does not answer).
stack_report() {
    [[ $SIDE == tapstack || $SIDE == fortify ]] || return 0
    local bin=$ROOT/target/release/tapstack out
    [[ -x $bin ]] || { echo "  (no $bin to ask the stack)"; return 0; }
    if ! out=$(timeout 5 ip netns exec "$NS" "$bin" stats 2>&1); then
        echo "  (tapstack stats: no answer: $(head -n 1 <<<"$out"))"
        return 0
    fi
    echo "  the stack's counters that are not zero:"
    awk 'NR > 1 && $2 != 0 { printf "    %s %s\n", $1, $2 }' <<<"$out"
    out=$(timeout 5 ip netns exec "$NS" "$bin" ss 2>&1) || return 0
    echo "  its sockets by state: $(awk 'NR > 1 && !/^\t/ { n[$1]++ } END { for (s in n) printf "%s %d  ", s, n[s] }' <<<"$out")"
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
    need ip sysctl
    NS="tapstack-$1-$$"
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
    if [[ $SIDE == kernel ]]; then
        NS_FAR="$NS-far"
        ip netns add "$NS_FAR"
        ip -n "$NS_FAR" link set lo up
        ip netns exec "$NS_FAR" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
        ip netns exec "$NS_FAR" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
        ip -n "$NS" link add tap0 type veth peer name eth0 netns "$NS_FAR"
        ip -n "$NS_FAR" link set eth0 address 02:00:c6:12:00:02
        ip -n "$NS_FAR" addr add 198.18.0.2/24 dev eth0
        ip -n "$NS_FAR" link set eth0 up
        PRELOAD=(ip netns exec "$NS_FAR" env TAPSTACK_IFNAME=tap0 TAPSTACK_IP=198.18.0.2/24)
    else
        # TAP_USER: a user (not root) that may attach to tap0, for a
        # program that runs as that user from its start (postgres).
        ip -n "$NS" tuntap add dev tap0 mode tap multi_queue ${TAP_USER:+user "$TAP_USER"}
        if [[ $SIDE == direct ]]; then
            PRELOAD=(ip netns exec "$NS" env TAPSTACK_IFNAME=tap0 TAPSTACK_IP=198.18.0.2/24)
        else
            PRELOAD=(ip netns exec "$NS" env LD_PRELOAD="$LIB" TAPSTACK_IFNAME=tap0
                TAPSTACK_IP=198.18.0.2/24)
        fi
    fi
    ip -n "$NS" addr add 198.18.0.1/24 dev tap0
    ip -n "$NS" link set tap0 up
}

capture_start() {
    if [[ $SIDE == kernel ]]; then
        local err
        need tcpdump
        err="$TEST_TMP/tcpdump.$(basename "$1").err"
        start_bg "$TEST_TMP/tcpdump.out" "$err" \
            ip netns exec "$NS" tcpdump -i tap0 --immediate-mode -U -Z root -n -w "$1"
        CAPTURE_PID=$BG_PID
        wait_for 10 grep -q 'listening on' "$err" ||
            fail "capture: tcpdump did not start: $(head -c 300 "$err")"
    else
        PRELOAD+=(TAPSTACK_PCAP="$1")
    fi
}

capture_stop() {
    if [[ -n $CAPTURE_PID ]]; then
        sleep 0.3 # the last frames
        stop_pid "$CAPTURE_PID"
        CAPTURE_PID=""
    fi
}

tshark_fields() {
    local opts=() pcap filter f args=()
    while [[ ${1:-} == -[oE] ]]; do
        opts+=("$1" "$2")
        shift 2
    done
    pcap=$1 filter=$2
    shift 2
    for f; do args+=(-e "$f"); done
    need tshark
    tshark -r "$pcap" "${opts[@]}" -Y "$filter" -T fields "${args[@]}" 2>"$TEST_TMP/tshark.err" ||
        fail "${T:+$T: }tshark -r $(basename "$pcap") -Y '$filter' failed: $(grep -v 'Running as user' "$TEST_TMP/tshark.err" | head -n 2 | tr '\n' ' ')"
}

tshark_count() {
    local out
    out=$(tshark_fields "$@" frame.number)
    grep -c . <<<"$out" || true
}

start_ctl() {
    local name=$1 out=$2 err=$3 fifo fd
    shift 3
    fifo="$TEST_TMP/ctl.$name"
    mkfifo "$fifo"
    "$@" <"$fifo" >"$out" 2>"$err" &
    BG_PID=$!
    STARTED_PIDS+=("$BG_PID")
    exec {fd}>"$fifo"
    CTL_FDS[$name]=$fd
}

ctl() {
    echo "$2" >&"${CTL_FDS[$1]}"
}

await() {
    wait_for "$1" grep -Eq "$3" "$2"
}

known_failing() {
    [[ " ${KNOWN_FAILING_LIST:-} " == *" $1 "* ]]
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

# wait_exit PID SECONDS: waits for a process we started to end on its own
# (a TAP serves one process at a time: the next program needs it free).
wait_exit() {
    local pid=$1 i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    ! kill -0 "$pid" 2>/dev/null
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

kernel_echo() {
    local port=$1
    shift
    start_bg "$TEST_TMP/kecho.$port.out" "$TEST_TMP/kecho.$port.err" \
        ip netns exec "$NS" "$KBUILD/echo_server" "$@" "$port"
    await 10 "$TEST_TMP/kecho.$port.out" '^listening' ||
        fail "kernel echo_server on port $port did not start: $(head -c 300 "$TEST_TMP/kecho.$port.err")"
}

run_side() {
    local t=$1 secs=$2 prog=$3 status=0 why
    shift 3
    timeout "$secs" "${PRELOAD[@]}" "$CBUILD/$prog" "$@" \
        >"$TEST_TMP/$prog.out" 2>"$TEST_TMP/$prog.err" || status=$?
    sed 's/^/  /' "$TEST_TMP/$prog.out"
    if ((status != 0)) || ! grep -qx OK "$TEST_TMP/$prog.out"; then
        why=$(grep '^FAIL' "$TEST_TMP/$prog.out" | head -n 3 | tr '\n' ';')
        ((status != 124)) || why="timed out after $secs s; $why"
        [[ -n $why ]] || why="exit status $status; $(tail -n 2 "$TEST_TMP/$prog.err" | tr '\n' ' ')"
        fail "$t: $prog: $why"
    fi
}
