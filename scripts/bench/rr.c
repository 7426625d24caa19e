/* The small-message programs of scripts/bench/run, one binary, plain POSIX
 * sockets (the server runs on the kernel or under the preload):
 *
 *   rr serve PORT           serve one connection at a time: read 64 bytes,
 *                           write 64 back, until EOF; close; next
 *   rr hold PORT N          accept N connections and keep them, idle
 *   rr latency ADDR PORT S  one connection, TCP_NODELAY, 64 bytes each way
 *                           for S seconds; prints "p50_us p99_us count"
 *   rr conns ADDR PORT S    for S seconds, one at a time: connect, 64 bytes
 *                           each way, close; prints "per_second count"
 *   rr open ADDR PORT N     open N connections, print "open N", stay idle
 *
 * A measurement tool, not a test: it prints numbers and asserts nothing.
 * Build: cc -O2 -o rr rr.c (scripts/bench/run does).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* 1 on a full message, 0 on EOF, -1 on error. */
static int read_full(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r == 0)
            return 0;
        if (r < 0)
            return -1;
        got += (size_t)r;
    }
    return 1;
}

static int write_full(int fd, const char *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t w = write(fd, buf + put, n - put);
        if (w <= 0)
            return -1;
        put += (size_t)w;
    }
    return 0;
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int listener(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("bind");
    if (listen(fd, 4096) < 0)
        die("listen");
    printf("listening\n");
    fflush(stdout);
    return fd;
}

static int dial(const char *addr, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (fd < 0)
        die("socket");
    if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
        fprintf(stderr, "bad address %s\n", addr);
        exit(2);
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect");
    nodelay(fd);
    return fd;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    char buf[MSG];
    memset(buf, 'x', sizeof buf);
    if (argc == 3 && !strcmp(argv[1], "serve")) {
        int l = listener(atoi(argv[2]));
        for (;;) {
            int c = accept(l, NULL, NULL);
            if (c < 0)
                continue;
            nodelay(c);
            while (read_full(c, buf, MSG) == 1 && write_full(c, buf, MSG) == 0)
                ;
            close(c);
        }
    }
    if (argc == 4 && !strcmp(argv[1], "hold")) {
        int l = listener(atoi(argv[2])), n = atoi(argv[3]);
        for (int i = 0; i < n;)
            if (accept(l, NULL, NULL) >= 0)
                i++;
        printf("held %d\n", n);
        fflush(stdout);
        for (;;)
            pause();
    }
    if (argc == 5 && !strcmp(argv[1], "latency")) {
        int fd = dial(argv[2], atoi(argv[3]));
        double secs = atof(argv[4]), end = now_s() + secs;
        size_t cap = 1 << 20, n = 0;
        double *lat = malloc(cap * sizeof *lat);
        if (!lat)
            die("malloc");
        for (double t0 = now_s(); t0 < end && n < cap; n++) {
            if (write_full(fd, buf, MSG) < 0 || read_full(fd, buf, MSG) != 1)
                die("exchange");
            double t1 = now_s();
            lat[n] = (t1 - t0) * 1e6;
            t0 = t1;
        }
        qsort(lat, n, sizeof *lat, cmp_double);
        printf("%.1f %.1f %zu\n", lat[n / 2], lat[n * 99 / 100], n);
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "conns")) {
        double secs = atof(argv[4]), start = now_s(), t = start;
        long n = 0;
        for (; t < start + secs; n++) {
            int fd = dial(argv[2], atoi(argv[3]));
            if (write_full(fd, buf, MSG) < 0 || read_full(fd, buf, MSG) != 1)
                die("exchange");
            close(fd);
            t = now_s();
        }
        printf("%.0f %ld\n", n / (t - start), n);
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "open")) {
        int n = atoi(argv[4]);
        for (int i = 0; i < n; i++)
            dial(argv[2], atoi(argv[3]));
        printf("open %d\n", n);
        fflush(stdout);
        for (;;)
            pause();
    }
    fprintf(stderr, "usage: see the comment at the top of rr.c\n");
    return 2;
}
