#!/usr/bin/env bash
# Usage: scripts/system/tcp_faults.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# tcp_bulk.sh under TAPSTACK_FAULTS=drop=0.02,reorder=0.05,dup=0.01 (on every
# frame in and out of tapstack, seeded): FAULT_BYTES (default 100 MiB) each
# way, both directions of connection, hashes checked. In kernel mode there
# is no fault injector: it is the plain transfer.
export BULK_NAME=tcp_faults
export BULK_BYTES=${FAULT_BYTES:-$((100 * 1024 * 1024))}
export BULK_SECONDS=${FAULT_SECONDS:-400}
export TAPSTACK_FAULTS=${FAULTS:-drop=0.02,reorder=0.05,dup=0.01,seed=7}
exec bash "$(dirname "$0")/tcp_bulk.sh"
