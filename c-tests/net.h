/*
 * net.h: the socket calls the tests make, by name.
 *
 * Built normally (c-tests/build/), NET(send) is plain send: the program
 * runs on the kernel's stack, or on tapstack's under LD_PRELOAD. Built with
 * -DTAPSTACK_DIRECT (c-tests/build/direct/), NET(send) is tapstack_send
 * from include/tapstack.h, linked with -ltapstack and no preload.
 *
 * Only calls on TCP sockets go through NET(); calls on files, pipes and
 * Unix or UDP sockets stay plain, since they belong to the kernel.
 */
#ifndef NET_H
#define NET_H

#ifdef TAPSTACK_DIRECT
#include "tapstack.h"
#define NET(f) tapstack_##f
#define NET_MODE "direct"
#else
#define NET(f) f
#define NET_MODE "posix"
#endif

#endif
