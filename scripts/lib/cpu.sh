# Usage: source "$(dirname "$0")/../lib/cpu.sh"
#
#   cpu_ticks PID     utime + stime of PID (all its threads), in clock ticks
#   cpu_bound PID SECONDS PERCENT WHAT
#                     measures PID over SECONDS and fails with WHAT when it
#                     used PERCENT % of a CPU or more: a bound on busy
#                     polling, not a performance measurement.

cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    # Fields are counted after the ")" closing the command name, which may
    # hold spaces: f[0] is field 3 (state), utime is field 14, stime 15.
    stat=${stat##*) }
    read -r -a f <<<"$stat"
    echo $((f[11] + f[12]))
}

cpu_bound() {
    local pid=$1 secs=$2 pct=$3 what=$4 hz before after used
    hz=$(getconf CLK_TCK)
    before=$(cpu_ticks "$pid")
    sleep "$secs"
    after=$(cpu_ticks "$pid")
    used=$((after - before))
    ((used * 100 < pct * secs * hz)) ||
        fail "$what: over $secs s it used $used ticks of $((secs * hz)) ($((used * 100 / (secs * hz))) %), want < $pct %"
}
