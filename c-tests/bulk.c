/*
 * bulk connect HOST PORT BYTES [SECONDS]
 * bulk listen PORT BYTES [SECONDS]
 *
 * HOST is an IPv4 address, or an IPv6 one (it has a ':'): then the
 * connection is made from an AF_INET6 socket.
 *
 * Moves BYTES both ways at once over one connection: a thread sends BYTES
 * of a deterministic pattern then half-closes (shutdown SHUT_WR), while the
 * main thread reads to EOF. Prints
 *     sent N sha256 HEX
 *     received N sha256 HEX
 *     state STATE (tcpi_state after EOF; the side that half-closed first
 *                  and then read EOF is in TIME_WAIT)
 *     buffers rcv A -> B snd C -> D (SO_RCVBUF and SO_SNDBUF before the
 *                  transfer and after it: autotuning grows them)
 * The peer can be anything that sends and reads (nc with files, and
 * sha256sum on the kernel side, or bulk itself). The whole run is bounded
 * by SECONDS (default 300): past it, "FAIL timeout" and exit 1.
 */
#include "common.h"
#include <pthread.h>

static int fd;
static long long want;

/* An int socket option, or -1. */
static int sockopt_int(int s, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    if (NET(getsockopt)(s, level, name, &v, &len) != 0)
        return -1;
    return v;
}
static char sent_hex[65];
static int send_err;

/* A blocking connect over IPv6, or DIE. */
static int tcp6_connect(const char *host, int port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a.sin6_addr) != 1)
        DIE("bad address %s", host);
    int s = NET(socket)(AF_INET6, SOCK_STREAM, 0);
    if (s < 0)
        DIE("socket AF_INET6: %s", ERRNAME(errno));
    if (NET(connect)(s, (struct sockaddr *)&a, sizeof a) != 0)
        DIE("connect [%s]:%d: %s", host, port, ERRNAME(errno));
    return s;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "FAIL timeout: the transfer did not finish in time\n";
    write(1, m, sizeof m - 1);
    _exit(1);
}

static void *sender(void *arg)
{
    (void)arg;
    static unsigned char buf[65536];
    struct pattern p;
    struct sha256 h;
    pattern_init(&p, 42);
    sha256_init(&h);
    long long left = want;
    while (left > 0) {
        size_t n = left < (long long)sizeof buf ? (size_t)left : sizeof buf;
        pattern_fill(&p, buf, n);
        sha256_update(&h, buf, n);
        if (write_all(fd, buf, n) < 0) {
            send_err = errno;
            return NULL;
        }
        left -= (long long)n;
    }
    sha256_hex(&h, sent_hex);
    if (NET(shutdown)(fd, SHUT_WR) != 0)
        send_err = errno;
    return NULL;
}

int main(int argc, char **argv)
{
    int secs = 300;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 5 && strcmp(argv[1], "connect") == 0) {
        want = atoll(argv[4]);
        if (argc > 5)
            secs = atoi(argv[5]);
        signal(SIGALRM, on_alarm);
        alarm((unsigned)secs);
        fd = strchr(argv[2], ':') ? tcp6_connect(argv[2], atoi(argv[3]))
                                  : tcp_connect(argv[2], atoi(argv[3]));
    } else if (argc >= 4 && strcmp(argv[1], "listen") == 0) {
        want = atoll(argv[3]);
        if (argc > 4)
            secs = atoi(argv[4]);
        int lfd = tcp_listen(atoi(argv[2]), 8, 1);
        printf("listening %s\n", argv[2]);
        signal(SIGALRM, on_alarm);
        alarm((unsigned)secs);
        fd = NET(accept)(lfd, NULL, NULL);
        if (fd < 0)
            DIE("accept: %s", ERRNAME(errno));
        NET(close)(lfd);
    } else {
        fprintf(stderr, "usage: %s connect HOST PORT BYTES [SECONDS] | listen PORT BYTES [SECONDS]\n",
                argv[0]);
        return 2;
    }
    int rcv0 = sockopt_int(fd, SOL_SOCKET, SO_RCVBUF);
    int snd0 = sockopt_int(fd, SOL_SOCKET, SO_SNDBUF);
    long long t0 = now_ms();
    pthread_t t;
    pthread_create(&t, NULL, sender, NULL);

    static unsigned char buf[65536];
    struct sha256 h;
    sha256_init(&h);
    long long got = 0;
    int recv_err = 0;
    for (;;) {
        ssize_t n = NET(recv)(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            recv_err = errno;
            break;
        }
        if (n == 0)
            break;
        sha256_update(&h, buf, (size_t)n);
        got += n;
    }
    pthread_join(t, NULL);
    char hex[65];
    sha256_hex(&h, hex);
    long long ms = now_ms() - t0;
    if (send_err)
        printf("FAIL send: %s\n", ERRNAME(send_err));
    else
        printf("sent %lld sha256 %s\n", want, sent_hex);
    if (recv_err)
        printf("FAIL recv: %s after %lld bytes\n", ERRNAME(recv_err), got);
    printf("received %lld sha256 %s\n", got, hex);
    int st = tcp_state(fd);
    printf("state %s\n", STATE_NAME(st));
    printf("buffers rcv %d -> %d snd %d -> %d\n", rcv0, sockopt_int(fd, SOL_SOCKET, SO_RCVBUF),
           snd0, sockopt_int(fd, SOL_SOCKET, SO_SNDBUF));
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    NET(getsockopt)(fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
    printf("info: %lld ms, %.1f MB/s each way, total_retrans %u, rtt %u us\n", ms,
           ms ? (double)want / 1e3 / (double)ms : 0.0, ti.tcpi_total_retrans, ti.tcpi_rtt);
    NET(close)(fd);
    return send_err || recv_err;
}
