/*
 * threads HOST ECHO_PORT
 *
 * Threads and one stack, against the kernel's echo server:
 *   shutdown_wakes_recv  a thread blocked in recv; another thread calls
 *                        shutdown(SHUT_RDWR) 300 ms later; the blocked recv
 *                        returns 0 (EOF) within 5 s
 *   many                 8 threads x 100 connections open at once (800):
 *                        each thread connects its 100, sends on each a
 *                        message unique to (thread, connection), reads every
 *                        echo back and checks it byte for byte, then closes
 * Prints "ok NAME" per check and "OK"; FAIL lines and exit 1 else.
 */
#include "common.h"
#include <pthread.h>

enum { THREADS = 8, CONNS = 100, MSG = 1000 };

static const char *host;
static int port;
static int blocked_fd;
static ssize_t blocked_ret = -2;
static int blocked_errno;
static volatile int blocked_done;

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "FAIL watchdog: threads did not finish in 120 s\n";
    ssize_t r = write(1, m, sizeof m - 1);
    (void)r;
    _exit(1);
}

static void *blocked_reader(void *arg)
{
    (void)arg;
    char c;
    blocked_ret = NET(recv)(blocked_fd, &c, 1, 0);
    blocked_errno = errno;
    blocked_done = 1;
    return NULL;
}

static int thread_fail[THREADS];

static void *many(void *arg)
{
    int id = (int)(intptr_t)arg;
    int fds[CONNS];
    unsigned char out[MSG], in[MSG];
    for (int i = 0; i < CONNS; i++)
        fds[i] = tcp_connect(host, port);
    for (int i = 0; i < CONNS; i++) {
        struct pattern p;
        pattern_init(&p, (uint64_t)(id * 1000 + i));
        pattern_fill(&p, out, MSG);
        if (write_all(fds[i], out, MSG) != MSG) {
            printf("FAIL many: thread %d conn %d: send: %s\n", id, i, ERRNAME(errno));
            thread_fail[id]++;
        }
    }
    for (int i = 0; i < CONNS; i++) {
        struct pattern p;
        pattern_init(&p, (uint64_t)(id * 1000 + i));
        pattern_fill(&p, out, MSG);
        ssize_t n = read_full(fds[i], in, MSG);
        if (n != MSG || memcmp(in, out, MSG) != 0) {
            printf("FAIL many: thread %d conn %d: read back %zd of %d bytes%s\n", id, i, n, MSG,
                   n == MSG ? ", different bytes" : "");
            thread_fail[id]++;
        }
    }
    for (int i = 0; i < CONNS; i++)
        NET(close)(fds[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST ECHO_PORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    alarm(120);
    host = argv[1];
    port = atoi(argv[2]);

    blocked_fd = tcp_connect(host, port);
    pthread_t t;
    pthread_create(&t, NULL, blocked_reader, NULL);
    sleep_ms(300);
    CHECK(!blocked_done, "shutdown_wakes_recv: recv returned before the shutdown (%zd %s)",
          blocked_ret, ERRNAME(blocked_errno));
    CHECK(NET(shutdown)(blocked_fd, SHUT_RDWR) == 0, "shutdown(SHUT_RDWR): %s", ERRNAME(errno));
    long long end = now_ms() + 5000;
    while (!blocked_done && now_ms() < end)
        sleep_ms(10);
    CHECK(blocked_done, "shutdown_wakes_recv: recv still blocked 5 s after shutdown(SHUT_RDWR)");
    if (!blocked_done)
        return 1;
    pthread_join(t, NULL);
    CHECK(blocked_ret == 0, "shutdown_wakes_recv: recv returned %zd %s, want 0", blocked_ret,
          blocked_ret < 0 ? ERRNAME(blocked_errno) : "");
    NET(close)(blocked_fd);
    if (!failures)
        printf("ok shutdown_wakes_recv\n");

    pthread_t ts[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&ts[i], NULL, many, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(ts[i], NULL);
        failures += thread_fail[i];
    }
    if (failures)
        return 1;
    printf("ok many (%d connections, %d bytes each way)\nOK\n", THREADS * CONNS,
           THREADS * CONNS * MSG);
    return 0;
}
