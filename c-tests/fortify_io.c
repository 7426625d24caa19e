/*
 * fortify_io MODE HOST PORT
 *
 * Meant to be built with -O2 -D_FORTIFY_SOURCE=2 (c-tests/build/fortify/),
 * as several distributions' compilers build by default: glibc's headers
 * then turn read, recv, recvfrom, poll, ppoll and FD_SET (with sizes the
 * compiler cannot check) into __read_chk, __recv_chk, __recvfrom_chk,
 * __poll_chk, __ppoll_chk and __fdelt_chk.
 *
 *   io        connects to the echo server at HOST:PORT; for each of read,
 *             recv and recvfrom, sends a line, waits for it with poll,
 *             ppoll or select, and reads it back byte for byte. Prints OK.
 *   overflow  connects, sends 64 bytes, then reads up to 64 bytes into a
 *             16-byte buffer: the fortified read must end the process as
 *             glibc does ("buffer overflow detected", SIGABRT).
 */
#include "common.h"
#include <poll.h>
#include <sys/select.h>

/* Sizes the compiler cannot see, so that the _chk variants are called. */
static volatile nfds_t one = 1;
static volatile size_t sixty_four = 64;
static volatile size_t zero = 0;

static void wait_readable(int fd, int how)
{
    int r = -1;
    if (how == 0) {
        struct pollfd p[1] = {{.fd = fd, .events = POLLIN}};
        r = poll(p, one, 10000);
        CHECK(r == 1 && (p[0].revents & POLLIN), "poll: %d revents %#x %s", r, p[0].revents,
              ERRNAME(errno));
    } else if (how == 1) {
        struct pollfd p[1] = {{.fd = fd, .events = POLLIN}};
        struct timespec ts = {.tv_sec = 10};
        r = ppoll(p, one, &ts, NULL);
        CHECK(r == 1 && (p[0].revents & POLLIN), "ppoll: %d revents %#x %s", r, p[0].revents,
              ERRNAME(errno));
    } else {
        fd_set set;
        FD_ZERO(&set);
        FD_SET(fd, &set);
        struct timeval tv = {.tv_sec = 10};
        r = select(fd + 1, &set, NULL, NULL, &tv);
        CHECK(r == 1 && FD_ISSET(fd, &set), "select: %d %s", r, ERRNAME(errno));
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s io|overflow HOST PORT\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1], *host = argv[2];
    int port = atoi(argv[3]);
    alarm(30);
    int fd = tcp_connect(host, port);

    if (strcmp(mode, "overflow") == 0) {
        char line[64], small[16];
        memset(line, 'x', sizeof line);
        CHECK(write_all(fd, line, sizeof line) == (ssize_t)sizeof line, "send: %s",
              ERRNAME(errno));
        wait_readable(fd, 0);
        printf("reading 64 bytes into 16\n");
        fflush(stdout);
        ssize_t n = read(fd, small, sixty_four);
        /* Not reached when fortified. */
        printf("FAIL read of %zu bytes into a 16-byte buffer returned %zd (%s)\n",
               (size_t)sixty_four, n, ERRNAME(errno));
        return 1;
    }

    static const char *const names[] = {"read", "recv", "recvfrom"};
    for (int i = 0; i < 3; i++) {
        char msg[64], back[64];
        int n = snprintf(msg, sizeof msg, "through %s, %d\n", names[i], i);
        CHECK(write_all(fd, msg, (size_t)n) == n, "send: %s", ERRNAME(errno));
        size_t want = (size_t)n, got = 0;
        while (got < want) {
            wait_readable(fd, i);
            /* Into a buffer whose size the compiler knows, a length it
             * does not: the fortified headers call the _chk variant. */
            char chunk[64];
            ssize_t r;
            size_t ask = want - got + zero;
            if (i == 0) {
                r = read(fd, chunk, ask);
            } else if (i == 1) {
                r = recv(fd, chunk, ask, 0);
            } else {
                struct sockaddr_in from;
                socklen_t len = sizeof from;
                r = recvfrom(fd, chunk, ask, 0, (struct sockaddr *)&from, &len);
            }
            if (r <= 0) {
                CHECK(0, "%s returned %zd: %s", names[i], r, ERRNAME(errno));
                break;
            }
            memcpy(back + got, chunk, (size_t)r);
            got += (size_t)r;
        }
        CHECK(got == want && memcmp(msg, back, want) == 0, "%s: echo differs", names[i]);
    }
    close(fd);
    if (failures)
        return 1;
    printf("OK\n");
    return 0;
}
