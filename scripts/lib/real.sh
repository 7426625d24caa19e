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
