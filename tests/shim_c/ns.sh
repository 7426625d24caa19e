# source me: creates namespace $NS with tap0, sets PRE, cleans up on exit
LIB=/work/wt-posix/target/release/libtapstack.so
NS="tapstack-posix-$$"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; ip netns del "$NS" 2>/dev/null; }
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "$NS" tuntap add dev tap0 mode tap
ip -n "$NS" addr add 198.18.0.1/24 dev tap0
ip -n "$NS" link set tap0 up
PRE=(ip netns exec "$NS" env LD_PRELOAD="$LIB" TAPSTACK_IFNAME=tap0 TAPSTACK_IP=198.18.0.2/24)
NSX=(ip netns exec "$NS")
