/*
 * connect_many HOST PORT N WAIT_MS
 *
 * The kernel's side of the backlog test. Opens N connections to HOST:PORT
 * one after the other, each with a non-blocking connect given WAIT_MS to
 * complete, and keeps them all open. Prints "conn I established" or
 * "conn I pending" for each (pending: the handshake did not complete, the
 * socket stays in SYN-SENT and keeps retrying), then "done", then waits
 * for stdin to close (or the test ends it). Runs on the kernel only.
 */
#include "common.h"
#include <poll.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST PORT N WAIT_MS\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int n = atoi(argv[3]), wait_ms = atoi(argv[4]);
    struct sockaddr_in a = addr_of(argv[1], atoi(argv[2]));
    for (int i = 1; i <= n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0)
            DIE("socket: %s", ERRNAME(errno));
        int r = connect(fd, (struct sockaddr *)&a, sizeof a);
        if (r != 0 && errno != EINPROGRESS)
            DIE("connect %d: %s", i, ERRNAME(errno));
        struct pollfd p = {fd, POLLOUT, 0};
        r = poll(&p, 1, wait_ms);
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (r == 1 && err == 0)
            printf("conn %d established\n", i);
        else if (r == 0)
            printf("conn %d pending\n", i);
        else
            printf("conn %d error %s\n", i, ERRNAME(err));
    }
    printf("done\n");
    char c;
    while (read(0, &c, 1) > 0)
        ;
    return 0;
}
