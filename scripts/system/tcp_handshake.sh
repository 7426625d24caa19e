#!/usr/bin/env bash
# Usage: scripts/system/tcp_handshake.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# The handshake's options, read from the capture with tshark: the kernel
# connects to tapstack's echo_server (tapstack sends the SYN-ACK), then
# tapstack's echo_client connects to the kernel's echo server (tapstack
# sends the SYN). Every SYN and SYN-ACK, from either side, must carry MSS
# (1460 from tapstack), window scale, SACK-permitted and timestamps
# (tcp.options.mss_val, tcp.options.wscale.shift, tcp.options.sack_perm,
# tcp.options.timestamp.tsval), laid out kind by kind as the kernel lays
# out its own (tcp.option_kind). The exchanges themselves check the bytes.
source "$(dirname "$0")/../lib/netns.sh"
T=tcp_handshake
need tshark
need_built $T echo_server echo_client
netns_create $T

# options PCAP FILTER WHAT: assert the four options on every packet matching.
options() {
    local pcap=$1 filter=$2 what=$3 n rows row mss ws sack ts
    rows=$(tshark_fields -E separator=, "$pcap" "$filter" \
        tcp.options.mss_val tcp.options.wscale.shift tcp.options.sack_perm tcp.options.timestamp.tsval)
    n=$(grep -c . <<<"$rows" || true)
    ((n >= 1)) || fail "$T: no $what in the capture ($filter)"
    n=$(tshark_count "$pcap" "$filter && tcp.options.sack_perm")
    while IFS=, read -r mss ws sack ts; do
        [[ -n $mss && -n $ws && -n $ts ]] ||
            fail "$T: $what lacks options: mss='$mss' wscale='$ws' tsval='$ts'"
        echo "  $what: mss $mss, wscale shift $ws, sack_perm, tsval $ts"
    done <<<"$rows"
    ((n == $(grep -c . <<<"$rows"))) || fail "$T: $what without SACK-permitted"
}

# 1. The kernel connects: tapstack answers with the SYN-ACK.
pcap1=$TEST_TMP/passive.pcap
capture_start "$pcap1"
start_bg "$TEST_TMP/server.out" "$TEST_TMP/server.err" "${PRELOAD[@]}" "$CBUILD/echo_server" 8080
server=$BG_PID
await 10 "$TEST_TMP/server.out" '^listening' ||
    fail "$T: echo_server did not start: $(head -c 300 "$TEST_TMP/server.err")"
ns_exec timeout 30 "$KBUILD/echo_client" 198.18.0.2 8080 >"$TEST_TMP/kclient.out" 2>&1 ||
    fail "$T: the kernel's echo_client to tapstack: $(grep FAIL "$TEST_TMP/kclient.out" | head -n 2 | tr '\n' ';')"
stop_pid "$server"
capture_stop
syn='tcp.flags.syn == 1 && tcp.flags.ack == 0'
synack='tcp.flags.syn == 1 && tcp.flags.ack == 1'
options "$pcap1" "ip.src == 198.18.0.1 && $syn" "kernel SYN"
options "$pcap1" "ip.src == 198.18.0.2 && $synack" "tapstack SYN-ACK"

# 2. tapstack connects: it sends the SYN.
kernel_echo 7000
pcap2=$TEST_TMP/active.pcap
capture_start "$pcap2"
run_side $T 30 echo_client 198.18.0.1 7000
capture_stop
options "$pcap2" "ip.src == 198.18.0.2 && $syn" "tapstack SYN"
options "$pcap2" "ip.src == 198.18.0.1 && $synack" "kernel SYN-ACK"

# The options' layout, kind by kind, must be Linux's (tcp_options_write):
# SYN and SYN-ACK as the kernel's own (mss,sackOK,TS,nop,wscale), and on
# every other segment the NOPs before TS and SACK (nop,nop,TS), which RFC
# 7323 Appendix A recommends and middleboxes and tools expect.
# kinds PCAP FILTER: the distinct option kind lists of the matching packets.
kinds() {
    tshark_fields -E occurrence=a -E aggregator=, "$1" "$2" tcp.option_kind | sort -u
}
k_syn=$(kinds "$pcap1" "ip.src == 198.18.0.1 && $syn")
t_syn=$(kinds "$pcap2" "ip.src == 198.18.0.2 && $syn")
[[ -n $k_syn && $t_syn == "$k_syn" ]] || fail "$T: tapstack's SYN options are laid out as $t_syn, the kernel's as $k_syn"
k_synack=$(kinds "$pcap2" "ip.src == 198.18.0.1 && $synack")
t_synack=$(kinds "$pcap1" "ip.src == 198.18.0.2 && $synack")
[[ -n $k_synack && $t_synack == "$k_synack" ]] ||
    fail "$T: tapstack's SYN-ACK options are laid out as $t_synack, the kernel's as $k_synack"
other='tcp.flags.syn == 0 && tcp.options'
k_other=$( (kinds "$pcap1" "ip.src == 198.18.0.1 && $other"; kinds "$pcap2" "ip.src == 198.18.0.1 && $other") | sort -u)
t_other=$( (kinds "$pcap1" "ip.src == 198.18.0.2 && $other"; kinds "$pcap2" "ip.src == 198.18.0.2 && $other") | sort -u)
[[ -n $k_other && -n $t_other ]] || fail "$T: no segments with options after the handshake"
while read -r layout; do
    grep -qxF "$layout" <<<"$k_other" ||
        fail "$T: tapstack lays options out as $layout after the handshake; the kernel: $(tr '\n' ' ' <<<"$k_other")"
done <<<"$t_other"
echo "  option kinds: SYN $t_syn, SYN-ACK $t_synack, others $(tr '\n' ' ' <<<"$t_other")(as the kernel's)"

mss=$(tshark_fields "$pcap2" "ip.src == 198.18.0.2 && $syn" tcp.options.mss_val)
mss=$(head -n 1 <<<"$mss")
[[ $mss == 1460 ]] || fail "$T: tapstack's SYN announces MSS $mss, want 1460 (MTU 1500)"
# (Not in kernel mode: veth leaves checksums to offload, so they look bad.)
[[ $SIDE == kernel ]] || bad=$(tshark_count -o tcp.check_checksum:TRUE "$pcap2" 'tcp.checksum.status == "Bad" || _ws.malformed')
((${bad:-0} == 0)) || fail "$T: $bad TCP segments with a bad checksum or malformed"
pass $T
