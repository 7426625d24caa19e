/*
 * prefork_client HOST PORT REQUESTS THREADS [--allow-errors]
 *
 * The kernel-side client of prefork_server: THREADS threads share
 * REQUESTS requests, one connection each: "SEED LEN\n" with request i's
 * own seed and a length from 1 byte to 256 KiB; the answer must be exactly
 * LEN bytes of pattern_fill(SEED), then EOF. Every byte received is
 * checked, complete or not.
 *
 * Without --allow-errors the first error stops new requests; with it, no
 * request starts after 30 s.
 *
 * Prints "completed C errors E wrong W" (errors: refused, reset or cut
 * short, or no answer within 5 s; wrong: a byte that differs, or more
 * bytes than asked), then "OK" when W is 0 and either every request
 * completed, or, with --allow-errors (workers killed under it), at least
 * half did. FAIL lines name the first few problems.
 */
#include "common.h"
#include <pthread.h>

static const char *host;
static int port, total;
static int next_req, completed, errors, wrong;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int allow;
static long long deadline;

static long req_len(int i)
{
    static const long sizes[] = {1, 100, 1460, 4096, 65536, 262144, 12345, 200000};
    return sizes[i % 8];
}

/* 0 completed, 1 error, 2 wrong. */
static int one(int i, char *why, size_t wl)
{
    int fd = NET(socket)(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    NET(setsockopt)(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    NET(setsockopt)(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = addr_of(host, port);
    if (NET(connect)(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(why, wl, "request %d: connect: %s", i, ERRNAME(errno));
        NET(close)(fd);
        return 1;
    }
    long len = req_len(i);
    char req[64];
    int n = snprintf(req, sizeof req, "%d %ld\n", 1000 + i, len);
    if (write_all(fd, req, (size_t)n) != n) {
        snprintf(why, wl, "request %d: send: %s", i, ERRNAME(errno));
        NET(close)(fd);
        return 1;
    }
    /* The whole answer, computed first (pattern_fill works 8 bytes at a
     * time; the received chunks need not be aligned). */
    static __thread unsigned char want[262144];
    unsigned char got[65536];
    struct pattern p;
    pattern_init(&p, (uint64_t)(1000 + i));
    pattern_fill(&p, want, (size_t)len);
    long done = 0;
    int result = 0;
    for (;;) {
        ssize_t k = NET(recv)(fd, got, sizeof got, 0);
        if (k < 0) {
            snprintf(why, wl, "request %d: recv after %ld of %ld bytes: %s", i, done, len, ERRNAME(errno));
            result = 1;
            break;
        }
        if (k == 0) {
            if (done < len) {
                snprintf(why, wl, "request %d: EOF after %ld of %ld bytes", i, done, len);
                result = 1;
            }
            break;
        }
        if (done + k > len) {
            snprintf(why, wl, "request %d: %ld bytes, more than the %ld asked", i, done + k, len);
            result = 2;
            break;
        }
        if (memcmp(got, want + done, (size_t)k) != 0) {
            snprintf(why, wl, "request %d: bytes differ in %ld..%ld", i, done, done + k);
            result = 2;
            break;
        }
        done += k;
    }
    NET(close)(fd);
    return result;
}

static void *run(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&mu);
        /* Without --allow-errors the first error ends the run (so a server
         * that does not answer fails in seconds, not REQUESTS x 5 s); with
         * it, no request starts after 30 s. */
        int give_up = allow ? now_ms() > deadline : errors > 0;
        int i = next_req < total && !give_up ? next_req++ : -1;
        pthread_mutex_unlock(&mu);
        if (i < 0)
            return NULL;
        char why[200] = "";
        int r = one(i, why, sizeof why);
        pthread_mutex_lock(&mu);
        if (r == 0)
            completed++;
        else if (r == 1) {
            if (errors++ < 3)
                fprintf(stderr, "error: %s\n", why);
        } else {
            if (wrong++ < 5)
                printf("FAIL %s\n", why);
        }
        pthread_mutex_unlock(&mu);
    }
}

int main(int argc, char **argv)
{
    if (argc != 5 && !(argc == 6 && !strcmp(argv[5], "--allow-errors"))) {
        fprintf(stderr, "usage: %s HOST PORT REQUESTS THREADS [--allow-errors]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    host = argv[1];
    port = atoi(argv[2]);
    total = atoi(argv[3]);
    int nt = atoi(argv[4]);
    allow = argc == 6;
    deadline = now_ms() + 30000;
    pthread_t th[64];
    if (nt < 1 || nt > 64)
        DIE("THREADS must be 1..64");
    for (int t = 0; t < nt; t++)
        pthread_create(&th[t], NULL, run, NULL);
    for (int t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    printf("completed %d errors %d wrong %d\n", completed, errors, wrong);
    int ok = wrong == 0 && (allow ? completed * 2 >= total : completed == total);
    if (!ok && wrong == 0)
        printf("FAIL %d of %d requests completed%s\n", completed, total,
               allow ? " (want at least half)" : "");
    if (ok)
        printf("OK\n");
    return ok ? 0 : 1;
}
