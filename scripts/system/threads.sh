#!/usr/bin/env bash
# Usage: scripts/system/threads.sh   (root; after cargo build --release and make -C c-tests)
# modes: tapstack kernel direct
#
# Threads (c-tests/threads.c): a thread blocked in recv is woken with EOF
# when another thread calls shutdown(SHUT_RDWR); 8 threads x 100 connections
# open at once to the kernel's echo server, every byte checked.
source "$(dirname "$0")/../lib/netns.sh"
T=threads
need_built $T threads
netns_create $T
kernel_echo 7000
run_side $T 150 threads 198.18.0.1 7000
pass $T
