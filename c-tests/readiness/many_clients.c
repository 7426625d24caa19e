/*
 * Many concurrent clients, on the kernel's side, for the epoll servers.
 *
 *   readiness_many_clients ADDR PORT N
 *
 * Opens N non-blocking connections, sends each its own 64-byte pattern and
 * checks the echo byte for byte; prints "ROUND1 OK N" and then holds all N
 * connections open and idle until it reads a line on stdin; then a second
 * round of 1 KiB per connection, checked again ("ROUND2 OK N"), and closes
 * them all. Exits non-zero with "FAIL ..." on any mismatch, error or
 * timeout (60 s per phase).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct cl {
    int fd;
    size_t sent, got, want;
    int connected;
};

static struct cl *cls;
static int n;

static unsigned char pattern(int i, size_t k) { return (unsigned char)(i * 131 + k * 7 + (k >> 8)); }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Sends `want` pattern bytes on every connection and checks the echo. */
static void round_trip(int ep, size_t want, const char *name) {
    for (int i = 0; i < n; i++) {
        cls[i].sent = cls[i].got = 0;
        cls[i].want = want;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_MOD, cls[i].fd, &ev);
    }
    int done = 0;
    double deadline = now() + 60;
    struct epoll_event evs[512];
    unsigned char buf[4096];
    while (done < n) {
        if (now() > deadline) {
            printf("FAIL %s: timeout with %d of %d done\n", name, done, n);
            exit(1);
        }
        int k = epoll_wait(ep, evs, 512, 1000);
        for (int j = 0; j < k; j++) {
            int i = evs[j].data.u32;
            struct cl *c = &cls[i];
            if (evs[j].events & (EPOLLERR | EPOLLHUP)) {
                int err = 0;
                socklen_t l = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
                printf("FAIL %s: connection %d: %s\n", name, i, strerror(err));
                exit(1);
            }
            if ((evs[j].events & EPOLLOUT) && c->sent < c->want) {
                unsigned char out[4096];
                size_t m = c->want - c->sent;
                if (m > sizeof out) m = sizeof out;
                for (size_t q = 0; q < m; q++) out[q] = pattern(i, c->sent + q);
                ssize_t w = write(c->fd, out, m);
                if (w > 0) c->sent += w;
                if (c->sent == c->want) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (evs[j].events & EPOLLIN) {
                ssize_t r = read(c->fd, buf, sizeof buf);
                if (r == 0) {
                    printf("FAIL %s: connection %d closed early after %zu bytes\n", name, i, c->got);
                    exit(1);
                }
                for (ssize_t q = 0; q < r; q++) {
                    if (buf[q] != pattern(i, c->got + q)) {
                        printf("FAIL %s: connection %d byte %zu is %u, want %u\n", name, i, c->got + q,
                               buf[q], pattern(i, c->got + q));
                        exit(1);
                    }
                }
                if (r > 0) {
                    c->got += r;
                    if (c->got == c->want) done++;
                }
            }
        }
    }
    printf("%s OK %d\n", name, n);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s ADDR PORT N\n", argv[0]);
        return 2;
    }
    n = atoi(argv[3]);
    struct rlimit rl = {n + 64, n + 64};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        printf("FAIL setrlimit(%d): %s\n", n + 64, strerror(errno));
        return 1;
    }
    cls = calloc(n, sizeof *cls);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    int ep = epoll_create1(0);
    /* Connect in waves, so the listener's queues are not the test. */
    double deadline = now() + 60;
    int connected = 0;
    for (int i = 0; i < n; i++) {
        cls[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (cls[i].fd < 0) {
            printf("FAIL socket %d: %s\n", i, strerror(errno));
            return 1;
        }
        if (connect(cls[i].fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
            printf("FAIL connect %d: %s\n", i, strerror(errno));
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cls[i].fd, &ev);
        while (i + 1 - connected > 256 || (i == n - 1 && connected < n)) {
            struct epoll_event evs[256];
            int k = epoll_wait(ep, evs, 256, 1000);
            for (int j = 0; j < k; j++) {
                struct cl *c = &cls[evs[j].data.u32];
                if (c->connected) continue;
                int err = 0;
                socklen_t l = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
                if (err) {
                    printf("FAIL connect %u: %s\n", evs[j].data.u32, strerror(err));
                    return 1;
                }
                c->connected = 1;
                connected++;
                struct epoll_event ev = {.events = 0, .data.u32 = evs[j].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
            if (now() > deadline) {
                printf("FAIL connect: timeout with %d of %d connected\n", connected, n);
                return 1;
            }
        }
    }
    printf("CONNECTED %d\n", connected);
    fflush(stdout);
    round_trip(ep, 64, "ROUND1");
    char line[16];
    if (!fgets(line, sizeof line, stdin)) {
        printf("FAIL stdin closed\n");
        return 1;
    }
    round_trip(ep, 1024, "ROUND2");
    for (int i = 0; i < n; i++) close(cls[i].fd);
    return 0;
}
