/*
 * An epoll echo server, level- or edge-triggered, for many connections.
 *
 *   readiness_epoll_echo ADDR PORT lt|et
 *
 * Prints "LISTENING" once it accepts, then echoes every connection until
 * the peer closes it. On SIGTERM it prints how many connections it served
 * and exits 0. Edge-triggered mode drains accept, read and write until
 * EAGAIN, as such servers must.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 65536
#define BUF 4096

struct conn {
    char buf[BUF];
    size_t len, off;  /* pending echo bytes: buf[off..len] */
};

static struct conn *conns[MAXFD];
static volatile sig_atomic_t stop;
static long served, bytes;

static void on_term(int sig) { (void)sig; stop = 1; }

static void die(const char *what) {
    printf("FAIL %s: %s\n", what, strerror(errno));
    exit(1);
}

static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd]);
    conns[fd] = NULL;
}

/* Reads and echoes until EAGAIN (or, level-triggered, one round). Returns
 * 0 when the connection is finished. */
static int service(int ep, int fd, int et, uint32_t events) {
    struct conn *c = conns[fd];
    for (;;) {
        while (c->off < c->len) {
            ssize_t n = write(fd, c->buf + c->off, c->len - c->off);
            if (n < 0 && errno == EAGAIN) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | (et ? EPOLLET : 0), .data.fd = fd};
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
                return 1;
            }
            if (n <= 0) return 0;
            c->off += n;
            bytes += n;
        }
        c->off = c->len = 0;
        ssize_t n = read(fd, c->buf, BUF);
        if (n == 0) return 0;
        if (n < 0) {
            if (errno != EAGAIN) return 0;
            if (events & EPOLLOUT) {
                struct epoll_event ev = {.events = EPOLLIN | (et ? EPOLLET : 0), .data.fd = fd};
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
            }
            return 1;
        }
        c->len = n;
        if (!et && c->len == 0) return 1;
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s ADDR PORT lt|et\n", argv[0]);
        return 2;
    }
    int et = strcmp(argv[3], "et") == 0;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);

    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (l < 0) die("socket");
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(l, 4096) < 0) die("listen");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN | (et ? EPOLLET : 0), .data.fd = l};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) < 0) die("epoll_ctl listener");
    printf("LISTENING %s\n", et ? "et" : "lt");
    fflush(stdout);

    struct epoll_event evs[256];
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l) {
                for (;;) {
                    int c = accept4(l, NULL, NULL, SOCK_NONBLOCK);
                    if (c < 0) {
                        if (errno != EAGAIN && errno != ECONNABORTED) die("accept4");
                        break;
                    }
                    if (c >= MAXFD) die("fd too large");
                    conns[c] = calloc(1, sizeof(struct conn));
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP | (et ? EPOLLET : 0), .data.fd = c};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) < 0) die("epoll_ctl conn");
                    served++;
                    if (!et) break;
                }
                continue;
            }
            if (conns[fd] && !service(ep, fd, et, evs[i].events)) drop(ep, fd);
        }
    }
    printf("SERVED %ld connections, %ld bytes\n", served, bytes);
    return 0;
}
