# Usage: source "$(dirname "$0")/../lib/real.sh"   (after lib/netns.sh)
#
# For the tests of real, unmodified programs: where the program under test
# runs, and files with known content to serve.
#
#   real_setup NAME    netns_create NAME, then sets
#                      UNDER   argv prefix running a program on tapstack
#                              (the preload) or, with TAPSTACK_TEST_KERNEL=1,
#                              on the kernel's own stack (to check a test's
#                              logic against the reference);
#                      STACK_IP  the address that program serves on;
#                      PEER_IP   the kernel side's address.
#   make_file PATH BYTES   a file of pseudo-random bytes
#   sha FILE           its sha256

real_setup() {
    netns_create "$1"
    PEER_IP=198.18.0.1
    if [[ ${TAPSTACK_TEST_KERNEL:-0} == 1 ]]; then
        UNDER=(ip netns exec "$NS" env)
        STACK_IP=198.18.0.1
    else
        UNDER=("${PRELOAD[@]}")
        STACK_IP=198.18.0.2
    fi
}

make_file() {
    head -c "$2" /dev/urandom >"$1"
}

sha() {
    sha256sum "$1" | cut -d' ' -f1
}
