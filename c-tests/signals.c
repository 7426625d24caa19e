/*
 * signals HOST ECHO_PORT LISTEN_PORT
 *
 * A signal interrupting a blocking call. A helper thread sends SIGUSR1 to
 * the main thread (pthread_kill) 300 ms after it blocked:
 *   recv_eintr      handler without SA_RESTART: recv returns -1 EINTR
 *   recv_restart    with SA_RESTART: recv carries on and returns the byte
 *                   the helper sends at 800 ms (through the echo server)
 *   recv_timeo_eintr     with SA_RESTART but SO_RCVTIMEO set (5 s): recv
 *                        returns -1 EINTR (Linux restarts only waits
 *                        without a timeout)
 *   recv_ignored_signal  SIGCHLD with its default disposition (ignored),
 *                        SO_RCVTIMEO set: nothing is interrupted, recv
 *                        returns the byte sent at 800 ms
 *   epoll_eintr     SA_RESTART handler: epoll_wait returns -1 EINTR (an
 *                   event loop's wait is never restarted)
 *   epoll_pwait_masked   epoll_pwait whose mask blocks SIGUSR1: the
 *                   signal does not end the wait, which returns the byte
 *                   sent at 800 ms; the handler runs once, as it returns
 *   epoll_ignored_signal SIGCHLD by default: epoll_wait returns the byte
 *   poll_eintr      SA_RESTART handler: poll returns -1 EINTR
 *   accept_eintr    without SA_RESTART: accept returns -1 EINTR
 *   accept_restart  with SA_RESTART: accept carries on; prints
 *                   "accept_restart waiting" and the test script connects
 *                   to LISTEN_PORT about 1 s later
 * Prints "ok NAME" per check, "OK" at the end; FAIL lines and exit 1 else.
 */
#include "common.h"
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>

static volatile sig_atomic_t hits;
static pthread_t main_thread;
static int echo_fd = -1;
static int helper_sig = SIGUSR1;

static void on_usr1(int sig)
{
    (void)sig;
    hits++;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "FAIL watchdog: a blocking call did not return in 20 s\n";
    ssize_t r = write(1, m, sizeof m - 1);
    (void)r;
    _exit(1);
}

static void handler(int restart)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGUSR1, &sa, NULL);
    hits = 0;
}

/* 300 ms: signal the main thread; 800 ms: if send_byte, send "k" to echo. */
static void *helper(void *arg)
{
    sleep_ms(300);
    pthread_kill(main_thread, helper_sig);
    if (arg) {
        sleep_ms(500);
        if (NET(send)(echo_fd, "k", 1, MSG_NOSIGNAL) != 1)
            printf("FAIL helper: send: %s\n", ERRNAME(errno));
    }
    return NULL;
}

/* The byte the helper had echoed, read back (the socket left empty). */
static void drain_byte(const char *name)
{
    char c = 0;
    ssize_t r = NET(recv)(echo_fd, &c, 1, 0);
    CHECK(r == 1 && c == 'k', "%s: the echoed byte: %zd", name, r);
}

/* An event loop's wait is never restarted: EINTR whatever SA_RESTART
 * says; a signal its mask blocks (epoll_pwait) or with no handler does
 * not end it. */
static void event_loop_cases(void)
{
    pthread_t t;
    struct epoll_event ev = {.events = EPOLLIN}, out[2];
    int ep = epoll_create1(0);
    CHECK(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, echo_fd, &ev) == 0, "epoll: %s",
          ERRNAME(errno));

    handler(1);
    pthread_create(&t, NULL, helper, NULL);
    errno = 0;
    int n = epoll_wait(ep, out, 2, 10000);
    int e = errno;
    pthread_join(t, NULL);
    CHECK_ERR("epoll_eintr: epoll_wait hit by an SA_RESTART handler", n, e, EINTR);
    CHECK(hits == 1, "epoll_eintr: the handler ran %d times, want 1", (int)hits);
    if (!failures)
        printf("ok epoll_eintr\n");

    handler(1);
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    pthread_create(&t, NULL, helper, (void *)1);
    n = epoll_pwait(ep, out, 2, 10000, &blocked);
    e = errno;
    pthread_join(t, NULL);
    CHECK(n == 1, "epoll_pwait_masked: gave %d %s, want the echoed byte's event", n,
          n < 0 ? ERRNAME(e) : "");
    /* Delivered as the call returned (the thread's mask back). */
    CHECK(hits == 1, "epoll_pwait_masked: the handler ran %d times, want 1", (int)hits);
    drain_byte("epoll_pwait_masked");
    if (!failures)
        printf("ok epoll_pwait_masked\n");

    signal(SIGCHLD, SIG_DFL);
    helper_sig = SIGCHLD;
    pthread_create(&t, NULL, helper, (void *)1);
    n = epoll_wait(ep, out, 2, 10000);
    e = errno;
    pthread_join(t, NULL);
    helper_sig = SIGUSR1;
    CHECK(n == 1, "epoll_ignored_signal: gave %d %s, want the echoed byte's event", n,
          n < 0 ? ERRNAME(e) : "");
    drain_byte("epoll_ignored_signal");
    if (!failures)
        printf("ok epoll_ignored_signal\n");
    close(ep);

    handler(1);
    struct pollfd p = {.fd = echo_fd, .events = POLLIN};
    pthread_create(&t, NULL, helper, NULL);
    errno = 0;
    n = poll(&p, 1, 10000);
    e = errno;
    pthread_join(t, NULL);
    CHECK_ERR("poll_eintr: poll hit by an SA_RESTART handler", n, e, EINTR);
    CHECK(hits == 1, "poll_eintr: the handler ran %d times, want 1", (int)hits);
    if (!failures)
        printf("ok poll_eintr\n");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s HOST ECHO_PORT LISTEN_PORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, on_alarm);
    main_thread = pthread_self();
    pthread_t t;
    char c = 0;

    alarm(20);
    echo_fd = tcp_connect(argv[1], atoi(argv[2]));
    handler(0);
    pthread_create(&t, NULL, helper, NULL);
    errno = 0;
    ssize_t r = NET(recv)(echo_fd, &c, 1, 0);
    int e = errno;
    pthread_join(t, NULL);
    CHECK_ERR("recv_eintr: blocking recv hit by a signal without SA_RESTART", r, e, EINTR);
    CHECK(hits == 1, "recv_eintr: the handler ran %d times, want 1", (int)hits);
    if (!failures)
        printf("ok recv_eintr\n");

    handler(1);
    pthread_create(&t, NULL, helper, (void *)1);
    r = NET(recv)(echo_fd, &c, 1, 0);
    e = errno;
    pthread_join(t, NULL);
    CHECK(r == 1 && c == 'k', "recv_restart: with SA_RESTART recv gave %zd %s, want the byte 'k'",
          r, r < 0 ? ERRNAME(e) : "");
    CHECK(hits == 1, "recv_restart: the handler ran %d times, want 1", (int)hits);
    if (!failures)
        printf("ok recv_restart\n");

    struct timeval tv = {.tv_sec = 5};
    CHECK(NET(setsockopt)(echo_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0,
          "setsockopt(SO_RCVTIMEO): %s", ERRNAME(errno));
    handler(1);
    pthread_create(&t, NULL, helper, (void *)1);
    errno = 0;
    r = NET(recv)(echo_fd, &c, 1, 0);
    e = errno;
    pthread_join(t, NULL);
    CHECK_ERR("recv_timeo_eintr: recv with SO_RCVTIMEO hit by an SA_RESTART handler", r, e,
              EINTR);
    CHECK(hits == 1, "recv_timeo_eintr: the handler ran %d times, want 1", (int)hits);
    /* The helper's byte, echoed meanwhile. */
    r = NET(recv)(echo_fd, &c, 1, 0);
    CHECK(r == 1 && c == 'k', "recv_timeo_eintr: the byte after: %zd", r);
    if (!failures)
        printf("ok recv_timeo_eintr\n");

    signal(SIGCHLD, SIG_DFL);
    helper_sig = SIGCHLD;
    pthread_create(&t, NULL, helper, (void *)1);
    r = NET(recv)(echo_fd, &c, 1, 0);
    e = errno;
    pthread_join(t, NULL);
    helper_sig = SIGUSR1;
    CHECK(r == 1 && c == 'k', "recv_ignored_signal: recv gave %zd %s, want the byte 'k'", r,
          r < 0 ? ERRNAME(e) : "");
    if (!failures)
        printf("ok recv_ignored_signal\n");
    event_loop_cases();
    NET(close)(echo_fd);

    int lfd = tcp_listen(atoi(argv[3]), 4, 1);
    alarm(20);
    handler(0);
    pthread_create(&t, NULL, helper, NULL);
    errno = 0;
    int fd = NET(accept)(lfd, NULL, NULL);
    e = errno;
    pthread_join(t, NULL);
    CHECK_ERR("accept_eintr: blocking accept hit by a signal without SA_RESTART", fd, e, EINTR);
    CHECK(hits == 1, "accept_eintr: the handler ran %d times, want 1", (int)hits);
    if (!failures)
        printf("ok accept_eintr\n");

    handler(1);
    pthread_create(&t, NULL, helper, NULL);
    printf("accept_restart waiting\n");
    fd = NET(accept)(lfd, NULL, NULL);
    e = errno;
    pthread_join(t, NULL);
    CHECK(fd >= 0, "accept_restart: with SA_RESTART accept gave %d %s, want a connection", fd,
          ERRNAME(e));
    CHECK(hits == 1, "accept_restart: the handler ran %d times, want 1", (int)hits);
    if (fd >= 0)
        NET(close)(fd);
    NET(close)(lfd);
    if (failures)
        return 1;
    printf("ok accept_restart\nOK\n");
    return 0;
}
