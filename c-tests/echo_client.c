/*
 * echo_client HOST PORT
 *
 * A client to an echo server (the kernel's, in the tests): connects,
 * checks getsockname/getpeername (peer = HOST:PORT, local port not 0),
 * sends 20 lines of growing size and reads each one back byte for byte,
 * then half-closes and reads EOF. Prints "OK" or FAIL lines; exit status
 * 0 only when everything matched.
 */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    alarm(30);
    int fd = tcp_connect(host, port);

    struct sockaddr_in me, peer;
    socklen_t len = sizeof me;
    CHECK(NET(getsockname)(fd, (struct sockaddr *)&me, &len) == 0 && len == sizeof me,
          "getsockname: %s", ERRNAME(errno));
    CHECK(me.sin_family == AF_INET && ntohs(me.sin_port) != 0,
          "getsockname: family %d port %d", me.sin_family, ntohs(me.sin_port));
    len = sizeof peer;
    CHECK(NET(getpeername)(fd, (struct sockaddr *)&peer, &len) == 0, "getpeername: %s",
          ERRNAME(errno));
    CHECK(peer.sin_addr.s_addr == inet_addr(host) && ntohs(peer.sin_port) == port,
          "getpeername: %s:%d, want %s:%d", inet_ntoa(peer.sin_addr), ntohs(peer.sin_port),
          host, port);
    printf("local %s:%d\n", inet_ntoa(me.sin_addr), ntohs(me.sin_port));

    char line[4096], back[4096];
    for (int i = 1; i <= 20; i++) {
        int n = snprintf(line, sizeof line, "line %d ", i);
        for (; n < i * 150; n++)
            line[n] = (char)('a' + (n + i) % 26);
        line[n++] = '\n';
        CHECK(write_all(fd, line, (size_t)n) == n, "send line %d: %s", i, ERRNAME(errno));
        ssize_t got = read_full(fd, back, (size_t)n);
        CHECK(got == n && memcmp(line, back, (size_t)n) == 0,
              "line %d: sent %d bytes, read back %zd (%s)", i, n, got,
              got == n ? "different bytes" : "short");
    }
    CHECK(NET(shutdown)(fd, SHUT_WR) == 0, "shutdown(SHUT_WR): %s", ERRNAME(errno));
    ssize_t n = NET(recv)(fd, back, sizeof back, 0);
    CHECK(n == 0, "after half-close want EOF (0), recv gave %zd %s", n, ERRNAME(errno));
    CHECK(NET(close)(fd) == 0, "close: %s", ERRNAME(errno));
    if (failures)
        return 1;
    printf("OK\n");
    return 0;
}
