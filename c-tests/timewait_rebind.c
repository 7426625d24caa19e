/*
 * timewait_rebind HOST ECHO_PORT PORT
 *
 * After an active close leaves TIME_WAIT on a port, bind to that port fails
 * with EADDRINUSE without SO_REUSEADDR and succeeds with it (Linux: both the
 * old socket and the new one set SO_REUSEADDR, as servers do).
 *   server  listen on PORT (SO_REUSEADDR), accept the kernel's connection
 *           (the script runs `nc -d`), close first: shutdown(SHUT_WR), read
 *           EOF, close; then bind PORT again: EADDRINUSE without
 *           SO_REUSEADDR, 0 with it; listen and print "rebound", accept a
 *           second connection from the kernel.
 *   client  bind PORT+1 (SO_REUSEADDR), connect to HOST:ECHO_PORT, close
 *           first (half-close, EOF from the echo server), then bind PORT+1:
 *           EADDRINUSE without SO_REUSEADDR, 0 with it.
 * Prints "OK" or FAIL lines.
 */
#include "common.h"

static int bind_port(int port, int reuse, int *err)
{
    int fd = tcp_socket();
    int one = 1;
    if (reuse)
        NET(setsockopt)(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = addr_of("0.0.0.0", port);
    errno = 0;
    int r = NET(bind)(fd, (struct sockaddr *)&a, sizeof a);
    *err = r == 0 ? 0 : errno;
    return fd;
}

static void active_close(int fd, const char *who)
{
    CHECK(NET(shutdown)(fd, SHUT_WR) == 0, "%s: shutdown: %s", who, ERRNAME(errno));
    char buf[256];
    ssize_t n;
    while ((n = NET(recv)(fd, buf, sizeof buf, 0)) > 0)
        ;
    CHECK(n == 0, "%s: want EOF after our FIN, got %zd %s", who, n, ERRNAME(errno));
    CHECK(NET(close)(fd) == 0, "%s: close: %s", who, ERRNAME(errno));
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s HOST ECHO_PORT PORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(40);
    int port = atoi(argv[3]), err;

    int lfd = tcp_listen(port, 4, 1);
    printf("listening\n");
    int fd = NET(accept)(lfd, NULL, NULL);
    if (fd < 0)
        DIE("accept: %s", ERRNAME(errno));
    active_close(fd, "server");
    CHECK(NET(close)(lfd) == 0, "close the listener: %s", ERRNAME(errno));

    int s = bind_port(port, 0, &err);
    CHECK(err == EADDRINUSE, "server: bind over TIME_WAIT without SO_REUSEADDR: %s, want EADDRINUSE",
          err ? ERRNAME(err) : "0");
    NET(close)(s);
    s = bind_port(port, 1, &err);
    CHECK(err == 0, "server: bind over TIME_WAIT with SO_REUSEADDR: %s, want 0", ERRNAME(err));
    CHECK(NET(listen)(s, 4) == 0, "listen on the rebound port: %s", ERRNAME(errno));
    printf("rebound\n");
    fd = NET(accept)(s, NULL, NULL);
    CHECK(fd >= 0, "accept on the rebound port: %s", ERRNAME(errno));
    if (fd >= 0)
        NET(close)(fd);
    NET(close)(s);

    int cport = port + 1;
    int c = bind_port(cport, 1, &err);
    CHECK(err == 0, "client: bind %d: %s", cport, ERRNAME(err));
    struct sockaddr_in a = addr_of(argv[1], atoi(argv[2]));
    CHECK(NET(connect)(c, (struct sockaddr *)&a, sizeof a) == 0, "client: connect: %s",
          ERRNAME(errno));
    active_close(c, "client");
    s = bind_port(cport, 0, &err);
    CHECK(err == EADDRINUSE, "client: bind over TIME_WAIT without SO_REUSEADDR: %s, want EADDRINUSE",
          err ? ERRNAME(err) : "0");
    NET(close)(s);
    s = bind_port(cport, 1, &err);
    CHECK(err == 0, "client: bind over TIME_WAIT with SO_REUSEADDR: %s, want 0", ERRNAME(err));
    NET(close)(s);
    if (failures)
        return 1;
    printf("OK\n");
    return 0;
}
