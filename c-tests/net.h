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
/* tapstack_fcntl takes its argument as a plain third parameter: calls with
 * two arguments (F_GETFL, F_GETFD) get 0, and pointers or ints are passed
 * as unsigned long, as fcntl's variadic argument would be. */
static inline int net_fcntl3(int fd, int cmd, unsigned long arg)
{
    return (tapstack_fcntl)(fd, cmd, arg);
}
#define NET_FCNTL_(fd, cmd, arg, ...) net_fcntl3(fd, cmd, (unsigned long)(arg))
#define tapstack_fcntl(...) NET_FCNTL_(__VA_ARGS__, 0, 0)
#else
#define NET(f) f
#define NET_MODE "posix"
#endif

#endif
