/* Printing readiness events the same way under the kernel and tapstack. */
#ifndef READINESS_EVENTS_H
#define READINESS_EVENTS_H
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

static const char *ev_name(unsigned bits, char *buf, size_t len)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        {EPOLLIN, "IN"},         {EPOLLPRI, "PRI"},       {EPOLLOUT, "OUT"},
        {EPOLLERR, "ERR"},       {EPOLLHUP, "HUP"},       {POLLNVAL, "NVAL"},
        {EPOLLRDNORM, "RDNORM"}, {EPOLLRDBAND, "RDBAND"}, {EPOLLWRNORM, "WRNORM"},
        {EPOLLWRBAND, "WRBAND"}, {EPOLLRDHUP, "RDHUP"},
    };
    buf[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (bits & names[i].bit) {
            if (buf[0])
                strncat(buf, "|", len - strlen(buf) - 1);
            strncat(buf, names[i].name, len - strlen(buf) - 1);
            bits &= ~names[i].bit;
        }
    }
    if (bits)
        snprintf(buf + strlen(buf), len - strlen(buf), "|0x%x", bits);
    if (!buf[0])
        strncpy(buf, "-", len);
    return buf;
}

static int by_data(const void *a, const void *b)
{
    const struct epoll_event *x = a, *y = b;
    return x->data.u64 < y->data.u64 ? -1 : x->data.u64 > y->data.u64;
}

/* epoll_wait, then one line: "step: tag=EVENTS tag=EVENTS" sorted by tag. */
__attribute__((unused)) static int show_wait(const char *step, int ep, int timeout_ms)
{
    struct epoll_event evs[32];
    int n = epoll_wait(ep, evs, 32, timeout_ms);
    if (n < 0) {
        printf("%s: epoll_wait error %s\n", step, strerror(errno));
        return n;
    }
    qsort(evs, n, sizeof evs[0], by_data);
    printf("%s:", step);
    if (n == 0)
        printf(" none");
    for (int i = 0; i < n; i++) {
        char b[128];
        printf(" %llu=%s", (unsigned long long)evs[i].data.u64, ev_name(evs[i].events, b, sizeof b));
    }
    printf("\n");
    fflush(stdout);
    return n;
}

__attribute__((unused)) static void show_ret(const char *what, int r)
{
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %d\n", what, r);
    fflush(stdout);
}

#define CHECK(x)                                                            \
    do {                                                                    \
        if (!(x)) {                                                         \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__,   \
                    #x, strerror(errno));                                   \
            exit(2);                                                        \
        }                                                                   \
    } while (0)

#endif
