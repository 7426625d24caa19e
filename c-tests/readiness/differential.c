/*
 * The differential readiness test (issue 5, item 2).
 *
 *   readiness_differential ADDR
 *
 * Listens on ADDR:7500 and runs a scripted sequence of socket and
 * readiness operations against a peer, printing every event it gets. The
 * peer is this program re-executed without LD_PRELOAD (so it always uses
 * the kernel's TCP), driven over a Unix socketpair. Run once on the
 * kernel's sockets (ADDR 198.18.0.1) and once under tapstack (198.18.0.2):
 * the two outputs must be the same.
 *
 * Covers LT, ET (an edge for each new arrival), ONESHOT, RDHUP, half-close,
 * reset, accept readiness, write readiness after a full send buffer
 * drains, and poll/select on the same states.
 */
#include "events.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PORT 7500
static int ctlfd;

/* ---- the peer (kernel TCP, no preload) ---- */

static int peer(const char *addr, int fd)
{
    int c = -1;
    char line[256];
    FILE *in = fdopen(fd, "r");
    CHECK(in);
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = 0;
        if (!strcmp(line, "connect")) {
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT)};
            inet_pton(AF_INET, addr, &sa.sin_addr);
            c = socket(AF_INET, SOCK_STREAM, 0);
            CHECK(c >= 0);
            CHECK(connect(c, (struct sockaddr *)&sa, sizeof sa) == 0);
        } else if (!strncmp(line, "send ", 5)) {
            CHECK(send(c, line + 5, strlen(line + 5), MSG_NOSIGNAL) == (ssize_t)strlen(line + 5));
        } else if (!strncmp(line, "drain ", 6)) {
            long want = atol(line + 6);
            static char buf[65536];
            while (want > 0) {
                ssize_t n = recv(c, buf, want < (long)sizeof buf ? want : (long)sizeof buf, 0);
                CHECK(n > 0);
                want -= n;
            }
        } else if (!strcmp(line, "shutwr")) {
            CHECK(shutdown(c, SHUT_WR) == 0);
        } else if (!strcmp(line, "reset")) {
            struct linger l = {1, 0};
            CHECK(setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0);
            close(c);
            c = -1;
        } else if (!strcmp(line, "close")) {
            close(c);
            c = -1;
        }
        CHECK(write(fd, "k", 1) == 1);
        if (!strcmp(line, "quit"))
            break;
    }
    return 0;
}

/* ---- the server (the program under test) ---- */

/* Tells the peer to do something and waits until it has. */
static void tell(const char *fmt, ...)
{
    char cmd[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd - 1, fmt, ap);
    va_end(ap);
    strcat(cmd, "\n");
    CHECK(write(ctlfd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd));
    char k;
    CHECK(read(ctlfd, &k, 1) == 1);
}

/* Lets packets settle on the wire. */
static void settle(void)
{
    usleep(200 * 1000);
}

static int ctl(int ep, int op, int fd, unsigned events, uint64_t tag)
{
    struct epoll_event ev = {.events = events, .data.u64 = tag};
    return epoll_ctl(ep, op, fd, &ev);
}

static void show_poll(const char *step, int fd, short events)
{
    struct pollfd p = {fd, events, 0};
    int n = poll(&p, 1, 0);
    char b[128];
    printf("%s: poll %d %s\n", step, n, ev_name((unsigned short)p.revents, b, sizeof b));
    fflush(stdout);
}

static void show_select(const char *step, int fd)
{
    fd_set r, w, e;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_ZERO(&e);
    FD_SET(fd, &r);
    FD_SET(fd, &w);
    FD_SET(fd, &e);
    struct timeval tv = {0, 0};
    int n = select(fd + 1, &r, &w, &e, &tv);
    printf("%s: select %d r=%d w=%d e=%d\n", step, n, FD_ISSET(fd, &r), FD_ISSET(fd, &w),
           FD_ISSET(fd, &e));
    fflush(stdout);
}

static int accept_one(int l)
{
    int c = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    CHECK(c >= 0);
    return c;
}

static void read_all(int c, const char *step)
{
    char buf[256];
    ssize_t n = recv(c, buf, sizeof buf - 1, 0);
    if (n < 0)
        printf("%s: recv -1 %s\n", step, strerrorname_np(errno));
    else {
        buf[n] = 0;
        printf("%s: recv %zd '%s'\n", step, n, buf);
    }
    fflush(stdout);
}

static int server(const char *addr)
{
    enum { L = 1, C = 2 };
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK(l >= 0);
    int one = 1;
    CHECK(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    CHECK(bind(l, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK(listen(l, 8) == 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);

    /* Accept readiness. */
    CHECK(ctl(ep, EPOLL_CTL_ADD, l, EPOLLIN, L) == 0);
    show_wait("listen idle", ep, 0);
    show_poll("listen idle", l, POLLIN | POLLOUT);
    tell("connect");
    settle();
    show_wait("listen pending", ep, 0);
    show_wait("listen pending LT", ep, 0);
    show_select("listen pending", l);
    int c = accept_one(l);
    show_wait("listen accepted", ep, 0);

    /* Level-triggered data. */
    CHECK(ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN | EPOLLOUT | EPOLLRDHUP, C) == 0);
    show_wait("LT connected", ep, 0);
    tell("send abc");
    settle();
    show_wait("LT data", ep, 0);
    show_wait("LT data again", ep, 0);
    show_poll("LT data", c, POLLIN | POLLOUT | POLLRDHUP);
    show_select("LT data", c);
    read_all(c, "LT read");
    show_wait("LT drained", ep, 0);

    /* Edge-triggered: an edge for each new arrival. */
    CHECK(ctl(ep, EPOLL_CTL_MOD, c, EPOLLIN | EPOLLRDHUP | EPOLLET, C) == 0);
    show_wait("ET armed", ep, 0);
    tell("send d");
    /* No settle: under tapstack this blocks until the segment arrives. */
    show_wait("ET data (blocking)", ep, 5000);
    show_wait("ET no new data", ep, 0);
    tell("send e");
    settle();
    show_wait("ET more data, unread before", ep, 0);
    read_all(c, "ET read");
    show_wait("ET after read", ep, 0);

    /* One-shot. */
    CHECK(ctl(ep, EPOLL_CTL_MOD, c, EPOLLIN | EPOLLONESHOT, C) == 0);
    show_wait("ONESHOT armed", ep, 0);
    tell("send f");
    settle();
    show_wait("ONESHOT data", ep, 0);
    tell("send g");
    settle();
    show_wait("ONESHOT disarmed", ep, 0);
    CHECK(ctl(ep, EPOLL_CTL_MOD, c, EPOLLIN | EPOLLONESHOT, C) == 0);
    show_wait("ONESHOT rearmed", ep, 0);
    read_all(c, "ONESHOT read");

    /* Write readiness after a full send buffer drains. */
    CHECK(ctl(ep, EPOLL_CTL_MOD, c, EPOLLOUT | EPOLLET, C) == 0);
    show_wait("ET out armed", ep, 0);
    static char chunk[16384];
    memset(chunk, 'x', sizeof chunk);
    long total = 0;
    for (int round = 0; round < 100; round++) {
        long before = total;
        for (;;) {
            ssize_t n = send(c, chunk, sizeof chunk, MSG_NOSIGNAL);
            if (n < 0) {
                CHECK(errno == EAGAIN);
                break;
            }
            total += n;
        }
        if (total == before && round > 0)
            break;
        settle();
    }
    show_wait("send buffer full", ep, 0);
    show_poll("send buffer full", c, POLLOUT);
    tell("drain %ld", total);
    settle();
    show_wait("send buffer drained", ep, 0);
    show_wait("send buffer drained again", ep, 0);
    show_poll("send buffer drained", c, POLLOUT);

    /* Half-close by the peer, then by us. */
    CHECK(ctl(ep, EPOLL_CTL_MOD, c, EPOLLIN | EPOLLOUT | EPOLLRDHUP, C) == 0);
    show_wait("before peer FIN", ep, 0);
    tell("shutwr");
    settle();
    show_wait("peer FIN", ep, 0);
    show_poll("peer FIN", c, POLLIN | POLLOUT | POLLRDHUP);
    show_select("peer FIN", c);
    read_all(c, "peer FIN read");
    CHECK(shutdown(c, SHUT_WR) == 0);
    settle();
    show_wait("both FIN", ep, 0);
    show_poll("both FIN", c, POLLIN | POLLOUT | POLLRDHUP);
    tell("close");
    close(c);
    settle();
    show_wait("closed while registered", ep, 0);

    /* Our FIN first (shutdown SHUT_WR), peer still open. */
    tell("connect");
    settle();
    show_wait("second connection pending", ep, 0);
    c = accept_one(l);
    CHECK(ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN | EPOLLOUT | EPOLLRDHUP, C) == 0);
    CHECK(shutdown(c, SHUT_WR) == 0);
    settle();
    show_wait("our FIN", ep, 0);
    show_poll("our FIN", c, POLLIN | POLLOUT | POLLRDHUP);

    /* Reset by the peer. */
    tell("reset");
    settle();
    show_wait("reset", ep, 0);
    show_poll("reset", c, POLLIN | POLLOUT | POLLRDHUP);
    show_select("reset", c);
    read_all(c, "reset read");
    show_wait("reset after read", ep, 0);
    close(c);

    /* ET accept readiness: one edge per connection. */
    CHECK(ctl(ep, EPOLL_CTL_MOD, l, EPOLLIN | EPOLLET, L) == 0);
    show_wait("ET listen armed", ep, 0);
    tell("connect");
    settle();
    show_wait("ET listen pending", ep, 0);
    show_wait("ET listen pending again", ep, 0);
    c = accept_one(l);
    int e = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    printf("ET accept again: %d %s\n", e, e < 0 ? strerrorname_np(errno) : "");
    tell("close");
    settle();
    close(c);

    tell("quit");
    close(l);
    close(ep);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "peer"))
        return peer(argv[2], atoi(argv[3]));
    if (argc != 2) {
        fprintf(stderr, "usage: %s ADDR\n", argv[0]);
        return 2;
    }
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    /* Before any TCP socket: the stack has not started in this process. */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        unsetenv("LD_PRELOAD");
        char fdarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", sv[1]);
        execl("/proc/self/exe", argv[0], "peer", argv[1], fdarg, (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    ctlfd = sv[0];
    int r = server(argv[1]);
    int status;
    waitpid(pid, &status, 0);
    return r || !WIFEXITED(status) || WEXITSTATUS(status);
}
