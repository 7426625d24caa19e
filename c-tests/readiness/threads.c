/*
 * Several threads waiting on one epoll instance. Four threads block in
 * epoll_wait on one epoll holding a listening stack socket (level-
 * triggered); the kernel's side then connects four times. Every
 * connection must be accepted by some thread (the others see EAGAIN from
 * the non-blocking accept: Linux wakes every waiter of a level-triggered
 * listener), and every thread must come back from epoll_wait and finish.
 *
 *   readiness_threads ADDR PORT   prints WAITING, then OK or FAIL ...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define CONNS 4

static int ep, lfd;
static atomic_int accepted, waiting;

static void *waiter(void *arg) {
    (void)arg;
    time_t end = time(NULL) + 20;
    atomic_fetch_add(&waiting, 1);
    while (atomic_load(&accepted) < CONNS && time(NULL) < end) {
        struct epoll_event ev;
        int n = epoll_wait(ep, &ev, 1, 200);
        if (n < 0 && errno != EINTR) {
            printf("FAIL epoll_wait: %s\n", strerror(errno));
            exit(1);
        }
        if (n == 1) {
            int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
            if (c >= 0) {
                atomic_fetch_add(&accepted, 1);
                close(c);
            } else if (errno != EAGAIN) {
                printf("FAIL accept4: %s\n", strerror(errno));
                exit(1);
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ADDR PORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 16) < 0) {
        printf("FAIL bind/listen: %s\n", strerror(errno));
        return 1;
    }
    ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, waiter, NULL);
    while (atomic_load(&waiting) < THREADS) usleep(1000);
    printf("WAITING\n");
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    int n = atomic_load(&accepted);
    if (n != CONNS) {
        printf("FAIL accepted %d of %d connections\n", n, CONNS);
        return 1;
    }
    printf("OK\n");
    return 0;
}
