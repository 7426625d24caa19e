/*
 * pthread_cancel of a thread blocked in poll, epoll_wait or select on
 * kernel fds (cancellation points in glibc) must work under the preload
 * as without it: the thread unwinds and pthread_join sees
 * PTHREAD_CANCELED. (A Rust frame that cannot unwind in the way would
 * abort the whole program instead.) A stack socket is opened first, so
 * that the stack is running.
 *
 *   readiness_cancel     prints OK, or FAIL ... and exits 1
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

static int pipefd[2];

static void *in_poll(void *arg) {
    (void)arg;
    struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
    poll(&p, 1, -1);
    return NULL;
}

static void *in_epoll(void *arg) {
    (void)arg;
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = pipefd[0]};
    epoll_ctl(ep, EPOLL_CTL_ADD, pipefd[0], &ev);
    epoll_wait(ep, &ev, 1, -1);
    return NULL;
}

static void *in_select(void *arg) {
    (void)arg;
    fd_set r;
    FD_ZERO(&r);
    FD_SET(pipefd[0], &r);
    select(pipefd[0] + 1, &r, NULL, NULL, NULL);
    return NULL;
}

int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
        printf("FAIL socket: %s\n", strerror(errno));
        return 1;
    }
    if (pipe(pipefd) < 0) {
        printf("FAIL pipe: %s\n", strerror(errno));
        return 1;
    }
    struct { const char *name; void *(*fn)(void *); } cases[] = {
        {"poll", in_poll}, {"epoll_wait", in_epoll}, {"select", in_select}};
    int failures = 0;
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pthread_t t;
        pthread_create(&t, NULL, cases[i].fn, NULL);
        usleep(100 * 1000);
        pthread_cancel(t);
        void *res = NULL;
        pthread_join(t, &res);
        if (res != PTHREAD_CANCELED) {
            printf("FAIL %s: the thread was not cancelled\n", cases[i].name);
            failures++;
        }
    }
    close(s);
    if (failures) return 1;
    printf("OK\n");
    return 0;
}
