/*
 * Stack sockets next to kernel fds (eventfd, pipe, Unix socket, timerfd)
 * in one epoll, one poll and one select, plus epoll_ctl's errors, ET,
 * ONESHOT and a socket closed while registered. Only `socket` and `close`
 * are needed: a fresh TCP socket reports OUT|HUP on Linux and tapstack.
 * The output must be the same with and without the preload.
 */

#include "events.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int tcp(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(s >= 0);
    return s;
}

static int ctl(int ep, int op, int fd, unsigned events, uint64_t tag)
{
    struct epoll_event ev = {.events = events, .data.u64 = tag};
    return epoll_ctl(ep, op, fd, &ev);
}

static int pipe_w;

static void *write_later(void *arg)
{
    (void)arg;
    usleep(100 * 1000);
    CHECK(write(pipe_w, "x", 1) == 1);
    return NULL;
}

int main(void)
{
    int s = tcp();
    int efd = eventfd(0, EFD_NONBLOCK);
    int p[2], u[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, u) == 0);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    CHECK(efd >= 0 && tfd >= 0);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    CHECK(ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLOUT | EPOLLRDHUP, 1) == 0);
    CHECK(ctl(ep, EPOLL_CTL_ADD, efd, EPOLLIN, 2) == 0);
    CHECK(ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 3) == 0);
    CHECK(ctl(ep, EPOLL_CTL_ADD, u[0], EPOLLIN, 4) == 0);
    CHECK(ctl(ep, EPOLL_CTL_ADD, tfd, EPOLLIN, 5) == 0);
    show_wait("epoll fresh socket only", ep, 0);
    show_wait("epoll level again", ep, 0);

    uint64_t one = 1;
    CHECK(write(efd, &one, 8) == 8);
    CHECK(write(p[1], "p", 1) == 1);
    CHECK(write(u[1], "u", 1) == 1);
    struct itimerspec its = {.it_value = {.tv_nsec = 10 * 1000 * 1000}};
    CHECK(timerfd_settime(tfd, 0, &its, NULL) == 0);
    usleep(50 * 1000);
    show_wait("epoll all five", ep, 1000);

    /* A full-sized poll over the same fds. */
    struct pollfd pf[5] = {
        {s, POLLIN | POLLOUT | POLLRDHUP, 0}, {efd, POLLIN, 0}, {p[0], POLLIN, 0},
        {u[0], POLLIN | POLLOUT, 0},          {tfd, POLLIN, 0},
    };
    int n = poll(pf, 5, 0);
    printf("poll: %d", n);
    for (int i = 0; i < 5; i++) {
        char b[128];
        printf(" %d=%s", i + 1, ev_name((unsigned short)pf[i].revents, b, sizeof b));
    }
    printf("\n");

    /* select: the fresh socket is writable, and readable (HUP). */
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(s, &r);
    FD_SET(s, &w);
    FD_SET(p[0], &r);
    FD_SET(efd, &w);
    struct timeval tv = {0, 0};
    int maxfd = s > p[0] ? s : p[0];
    maxfd = maxfd > efd ? maxfd : efd;
    n = select(maxfd + 1, &r, &w, NULL, &tv);
    printf("select: %d sock r=%d w=%d pipe r=%d efd w=%d\n", n, FD_ISSET(s, &r),
           FD_ISSET(s, &w), FD_ISSET(p[0], &r), FD_ISSET(efd, &w));

    /* Drain the kernel fds; the socket alone is left. */
    char buf[16];
    CHECK(read(efd, buf, 8) == 8);
    CHECK(read(p[0], buf, 1) == 1);
    CHECK(read(u[0], buf, 1) == 1);
    CHECK(read(tfd, buf, 8) == 8);
    show_wait("epoll drained", ep, 0);

    /* Edge-triggered: once. */
    show_ret("mod ET", ctl(ep, EPOLL_CTL_MOD, s, EPOLLOUT | EPOLLET, 1));
    show_wait("ET first", ep, 0);
    show_wait("ET second", ep, 0);
    /* One-shot: once until modified. */
    show_ret("mod ONESHOT", ctl(ep, EPOLL_CTL_MOD, s, EPOLLOUT | EPOLLONESHOT, 1));
    show_wait("ONESHOT first", ep, 0);
    show_wait("ONESHOT second", ep, 0);
    show_ret("mod ONESHOT rearm", ctl(ep, EPOLL_CTL_MOD, s, EPOLLOUT | EPOLLONESHOT, 1));
    show_wait("ONESHOT rearmed", ep, 0);
    /* Asking for IN only: HUP comes anyway. */
    show_ret("mod IN", ctl(ep, EPOLL_CTL_MOD, s, EPOLLIN, 1));
    show_wait("IN only", ep, 0);

    /* epoll_ctl errors, as Linux. */
    int s2 = tcp();
    show_ret("add again (EEXIST)", ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN, 1));
    show_ret("mod absent (ENOENT)", ctl(ep, EPOLL_CTL_MOD, s2, EPOLLIN, 6));
    show_ret("del absent (ENOENT)", ctl(ep, EPOLL_CTL_DEL, s2, EPOLLIN, 6));
    show_ret("epfd is a socket (EINVAL)", ctl(s2, EPOLL_CTL_ADD, s, EPOLLIN, 1));
    show_ret("epfd bad (EBADF)", ctl(999, EPOLL_CTL_ADD, s2, EPOLLIN, 1));
    show_ret("bad op (EINVAL)", ctl(ep, 77, s2, EPOLLIN, 1));
    show_ret("add self (EINVAL)", ctl(ep, EPOLL_CTL_ADD, ep, EPOLLIN, 1));
    int file = open("/proc/self/exe", O_RDONLY);
    CHECK(file >= 0);
    show_ret("regular file (EPERM)", ctl(ep, EPOLL_CTL_ADD, file, EPOLLIN, 1));
    show_ret("exclusive+oneshot (EINVAL)",
             ctl(ep, EPOLL_CTL_ADD, s2, EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 6));
    show_ret("add exclusive", ctl(ep, EPOLL_CTL_ADD, s2, EPOLLIN | EPOLLEXCLUSIVE, 6));
    show_ret("mod exclusive (EINVAL)", ctl(ep, EPOLL_CTL_MOD, s2, EPOLLIN, 6));
    show_wait("with exclusive", ep, 0);
    show_ret("del exclusive", ctl(ep, EPOLL_CTL_DEL, s2, 0, 0));
    struct epoll_event one_ev;
    show_ret("wait maxevents 0 (EINVAL)", epoll_wait(ep, &one_ev, 0, 0));

    /* Two instances on one socket. */
    int ep2 = epoll_create(1);
    CHECK(ep2 >= 0);
    show_ret("second instance add", ctl(ep2, EPOLL_CTL_ADD, s, EPOLLOUT, 7));
    show_wait("second instance", ep2, 0);
    show_wait("first instance", ep, 0);

    /* An epoll fd inside another epoll and inside poll. */
    int outer = epoll_create1(0);
    CHECK(outer >= 0);
    show_ret("nest", ctl(outer, EPOLL_CTL_ADD, ep, EPOLLIN, 8));
    show_wait("outer sees inner", outer, 100);
    struct pollfd ip = {ep, POLLIN, 0};
    n = poll(&ip, 1, 100);
    printf("poll on epoll fd: %d revents=%s\n", n, ev_name((unsigned short)ip.revents, buf, sizeof buf));

    /* Closed while registered: gone from both sets. */
    close(s);
    show_wait("closed first", ep, 0);
    show_wait("closed second", ep2, 0);

    /* Blocking: a stack socket that is never ready (ONESHOT spent) and a
     * pipe written 100 ms later by another thread. */
    int s3 = tcp();
    CHECK(ctl(ep, EPOLL_CTL_ADD, s3, EPOLLOUT | EPOLLONESHOT, 9) == 0);
    show_wait("s3 once", ep, 0);
    show_wait("timeout 50ms", ep, 50);
    pipe_w = p[1];
    pthread_t t;
    CHECK(pthread_create(&t, NULL, write_later, NULL) == 0);
    show_wait("blocked until pipe", ep, 5000);
    pthread_join(t, NULL);
    CHECK(read(p[0], buf, 1) == 1);

    /* poll on a stack socket and a closed fd; select on a closed fd. */
    int closed = dup(0);
    CHECK(closed >= 0);
    close(closed);
    struct pollfd pc[2] = {{s3, POLLOUT, 0}, {closed, POLLIN, 0}};
    n = poll(pc, 2, 0);
    printf("poll closed fd: %d %s %s\n", n, ev_name((unsigned short)pc[0].revents, buf, sizeof buf),
           pc[1].revents == POLLNVAL ? "NVAL" : "?");
    FD_ZERO(&r);
    FD_SET(s3, &r);
    FD_SET(closed, &r);
    tv.tv_sec = 0;
    show_ret("select closed fd (EBADF)", select((s3 > closed ? s3 : closed) + 1, &r, NULL, NULL, &tv));
    return 0;
}
