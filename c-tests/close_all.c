/*
 * close_all MODE HOST PORT REFUSED_PORT
 *
 * A daemon that closes every fd it did not open itself, after its first
 * socket: MODE is closefrom (closefrom(3)), close_range
 * (close_range(3, ~0U, 0)) or loop (close() on 3..1023, each returning 0
 * or EBADF). Before that the program has a connection to HOST:PORT (an
 * echo server), a poll and an epoll_wait that blocked on it; after it, those
 * fds are closed (EBADF) and the stack must still serve new sockets: a
 * blocking connect to HOST:PORT is woken by the handshake, lines are echoed
 * back (through a blocking poll and a blocking epoll_wait), and a blocking
 * connect to REFUSED_PORT fails with ECONNREFUSED. Then dup2 onto every fd
 * from 900 to the fd limit (or 1100) succeeds and the stack still works.
 * Prints "OK" or FAIL lines.
 */
#include "common.h"
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>

/* Sends one line and reads it back, waiting in a blocking poll. */
static void echo_poll(int fd, const char *what)
{
    char msg[64], back[64];
    int n = snprintf(msg, sizeof msg, "%s\n", what);
    CHECK(write_all(fd, msg, (size_t)n) == n, "%s: send: %s", what, ERRNAME(errno));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, 10000);
    CHECK(r == 1 && (p.revents & POLLIN), "%s: poll returned %d, revents %#x (%s)", what, r,
          p.revents, ERRNAME(errno));
    CHECK(read_full(fd, back, (size_t)n) == n && memcmp(msg, back, (size_t)n) == 0,
          "%s: echo differs", what);
}

/* Sends one line and reads it back, waiting in a blocking epoll_wait. */
static void echo_epoll(int fd, const char *what)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0, "%s: epoll_create1: %s", what, ERRNAME(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd}, out[4];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "%s: epoll_ctl: %s", what,
          ERRNAME(errno));
    char msg[64], back[64];
    int n = snprintf(msg, sizeof msg, "%s\n", what);
    CHECK(write_all(fd, msg, (size_t)n) == n, "%s: send: %s", what, ERRNAME(errno));
    int r = epoll_wait(ep, out, 4, 10000);
    CHECK(r == 1 && out[0].data.fd == fd && (out[0].events & EPOLLIN),
          "%s: epoll_wait returned %d (%s)", what, r, ERRNAME(errno));
    CHECK(read_full(fd, back, (size_t)n) == n && memcmp(msg, back, (size_t)n) == 0,
          "%s: echo differs", what);
    close(ep);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s closefrom|close_range|loop HOST PORT REFUSED_PORT\n",
                argv[0]);
        return 2;
    }
    const char *mode = argv[1], *host = argv[2];
    int port = atoi(argv[3]), refused = atoi(argv[4]);
    alarm(60);

    /* The stack runs, with a poll and an epoll_wait that blocked on it. */
    int c1 = tcp_connect(host, port);
    struct pollfd p = {.fd = c1, .events = POLLIN};
    CHECK(poll(&p, 1, 20) == 0, "poll on an idle connection: %s", ERRNAME(errno));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = c1}, out[4];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, c1, &ev) == 0, "epoll_ctl: %s", ERRNAME(errno));
    CHECK(epoll_wait(ep, out, 4, 20) == 0, "epoll_wait on an idle connection: %s",
          ERRNAME(errno));
    echo_poll(c1, "before");

    if (strcmp(mode, "closefrom") == 0) {
        closefrom(3);
    } else if (strcmp(mode, "close_range") == 0) {
        CHECK(close_range(3, ~0U, 0) == 0, "close_range: %s", ERRNAME(errno));
    } else if (strcmp(mode, "loop") == 0) {
        for (int fd = 3; fd < 1024; fd++) {
            errno = 0;
            int r = close(fd);
            CHECK(r == 0 || errno == EBADF, "close(%d) = %d: %s", fd, r, ERRNAME(errno));
            if (fd == c1 || fd == ep)
                CHECK(r == 0, "close(%d), the program's own: %s", fd, ERRNAME(errno));
        }
    } else {
        DIE("unknown mode %s", mode);
    }
    CHECK(fcntl(c1, F_GETFD) == -1 && errno == EBADF, "the socket is still open after %s",
          mode);
    CHECK(fcntl(ep, F_GETFD) == -1 && errno == EBADF, "the epoll fd is still open after %s",
          mode);

    /* The stack still serves new sockets; blocking calls are woken. */
    int c2 = tcp_connect(host, port);
    echo_poll(c2, "after");
    echo_epoll(c2, "after, epoll");
    int c3 = tcp_socket();
    struct sockaddr_in a = addr_of(host, refused);
    int r = NET(connect)(c3, (struct sockaddr *)&a, sizeof a);
    CHECK(r == -1 && errno == ECONNREFUSED, "connect to a closed port: %d %s", r,
          ERRNAME(errno));
    close(c3);

    /* The program may dup2 onto any number below its limit. */
    struct rlimit lim;
    CHECK(getrlimit(RLIMIT_NOFILE, &lim) == 0, "getrlimit: %s", ERRNAME(errno));
    int top = lim.rlim_cur > 1100 ? 1100 : (int)lim.rlim_cur;
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK(null >= 0, "open /dev/null: %s", ERRNAME(errno));
    for (int fd = 900; fd < top; fd++) {
        if (fd == c2 || fd == null)
            continue;
        r = dup2(null, fd);
        CHECK(r == fd, "dup2(%d, %d) = %d: %s", null, fd, r, ERRNAME(errno));
    }
    echo_poll(c2, "after dup2");
    echo_epoll(c2, "after dup2, epoll");
    for (int fd = 900; fd < top; fd++)
        if (fd != c2 && fd != null)
            CHECK(close(fd) == 0, "close(%d) after dup2: %s", fd, ERRNAME(errno));
    int c4 = tcp_connect(host, port);
    echo_poll(c4, "new connection after dup2");
    close(c4);
    close(c2);
    close(null);

    if (failures)
        return 1;
    printf("OK\n");
    return 0;
}
