#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <time.h>
#include <sys/time.h>
#include <sys/ioctl.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
static int fails;
#define CHECK(cond, ...) do { if (cond) printf("ok   " __VA_ARGS__); else { fails++; printf("FAIL " __VA_ARGS__); } printf("  [errno=%s]\n", strerror(errno)); } while (0)
static struct sockaddr_in peer(int port) { struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)}; inet_pton(AF_INET, "198.18.0.1", &a.sin_addr); return a; }
static int conn(void) { int s = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in a = peer(9000); if (connect(s, (void*)&a, sizeof a)) { perror("connect"); exit(1); } return s; }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static volatile int sigs;
static void on_sig(int s) { (void)s; sigs++; }
static int g_fd;
static void *later_send(void *arg) { usleep((long)arg); send(g_fd, "x", 1, 0); return NULL; }
static void *later_shut(void *arg) { usleep((long)arg); shutdown(g_fd, SHUT_RD); return NULL; }
static void *blocked_recv(void *arg) { char b[16]; long r = recv(g_fd, b, sizeof b, 0); *(long*)arg = r < 0 ? -errno : r; return NULL; }
int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    /* 1. non-blocking connect */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = peer(9000);
    int r = connect(s, (void*)&a, sizeof a);
    CHECK(r == -1 && errno == EINPROGRESS, "nonblocking connect -> EINPROGRESS");
    r = connect(s, (void*)&a, sizeof a);
    int e2 = errno;
    printf("     second connect right away: r=%d errno=%s\n", r, strerror(e2));
    for (int i = 0; i < 100 && r == -1 && errno == EALREADY; i++) { usleep(10000); r = connect(s, (void*)&a, sizeof a); }
    int err = -1; socklen_t el = sizeof err;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
    CHECK(err == 0, "SO_ERROR after connect = %d", err);
    r = connect(s, (void*)&a, sizeof a);
    CHECK(r == -1 && errno == EISCONN, "connect once connected -> EISCONN");
    char buf[65536];
    r = recv(s, buf, sizeof buf, 0);
    CHECK(r == -1 && errno == EAGAIN, "nonblocking recv empty -> EAGAIN");
    close(s);
    /* 2. refused */
    s = socket(AF_INET, SOCK_STREAM, 0); a = peer(9001);
    r = connect(s, (void*)&a, sizeof a);
    CHECK(r == -1 && errno == ECONNREFUSED, "connect to closed port -> ECONNREFUSED");
    r = send(s, "x", 1, MSG_NOSIGNAL);
    CHECK(r == -1 && errno == EPIPE, "send after refused -> EPIPE");
    close(s);
    /* 3. blocking socket, DONTWAIT, timeouts */
    s = conn(); g_fd = s;
    r = recv(s, buf, 10, MSG_DONTWAIT);
    CHECK(r == -1 && errno == EAGAIN, "MSG_DONTWAIT -> EAGAIN");
    struct timeval tv = {0, 200000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    double t0 = now(); r = recv(s, buf, 10, 0); double dt = now() - t0;
    CHECK(r == -1 && errno == EAGAIN && dt > 0.18 && dt < 0.5, "SO_RCVTIMEO 200ms -> EAGAIN after %.3fs", dt);
    struct timeval tv2; socklen_t tl = sizeof tv2;
    getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv2, &tl);
    CHECK(tv2.tv_usec == 200000 && tl == sizeof tv2, "getsockopt SO_RCVTIMEO");
    tv.tv_usec = 0; setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* 4. EINTR without SA_RESTART */
    struct sigaction sa = {.sa_handler = on_sig}; sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {.it_value = {0, 100000}}; setitimer(ITIMER_REAL, &it, NULL);
    r = recv(s, buf, 10, 0);
    CHECK(r == -1 && errno == EINTR && sigs == 1, "signal without SA_RESTART -> EINTR");
    /* 5. SA_RESTART: restarted, then data arrives */
    sa.sa_flags = SA_RESTART; sigaction(SIGALRM, &sa, NULL);
    pthread_t th; pthread_create(&th, NULL, later_send, (void*)300000L);
    setitimer(ITIMER_REAL, &it, NULL);
    r = recv(s, buf, 10, 0);
    CHECK(r == 1 && sigs == 2, "SA_RESTART: recv restarted and got %d byte(s)", r);
    pthread_join(th, NULL);
    /* 6. MSG_PEEK, FIONREAD, MSG_WAITALL */
    send(s, "hello", 5, 0); usleep(100000);
    int avail = -1; ioctl(s, FIONREAD, &avail);
    CHECK(avail == 5, "FIONREAD = %d", avail);
    r = recv(s, buf, 10, MSG_PEEK);
    CHECK(r == 5 && memcmp(buf, "hello", 5) == 0, "MSG_PEEK got %d", r);
    r = recv(s, buf, 3, 0);
    CHECK(r == 3, "short read 3");
    pthread_create(&th, NULL, later_send, (void*)200000L);
    r = recv(s, buf, 3, MSG_WAITALL);
    CHECK(r == 3 && memcmp(buf, "lox", 3) == 0, "MSG_WAITALL waited for 3 bytes: %d", r);
    pthread_join(th, NULL);
    /* 7. options */
    int v; socklen_t vl = sizeof v;
    getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &vl); CHECK(v == SOCK_STREAM, "SO_TYPE");
    v = 100000; setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v); vl = sizeof v;
    getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &vl); CHECK(v == 200000, "SO_RCVBUF doubled: %d", v);
    vl = sizeof v; getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &vl); CHECK(v == AF_INET, "SO_DOMAIN");
    vl = sizeof v; getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl); CHECK(v == 0, "SO_ACCEPTCONN 0");
    v = 1; CHECK(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) == 0, "TCP_NODELAY set");
    vl = sizeof v; getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &vl); CHECK(v == 1, "TCP_NODELAY get");
    vl = sizeof v; getsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &v, &vl); CHECK(v > 500 && v <= 1460, "TCP_MAXSEG %d", v);
    struct tcp_info ti; socklen_t til = sizeof ti;
    r = getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &til);
    CHECK(r == 0 && ti.tcpi_state == 1 && ti.tcpi_snd_mss > 0, "TCP_INFO state=%d mss=%u rtt=%u cwnd=%u len=%u", ti.tcpi_state, ti.tcpi_snd_mss, ti.tcpi_rtt, ti.tcpi_snd_cwnd, til);
    char cc[16] = {0}; socklen_t ccl = sizeof cc;
    getsockopt(s, IPPROTO_TCP, TCP_CONGESTION, cc, &ccl); CHECK(strcmp(cc, "cubic") == 0, "TCP_CONGESTION %s", cc);
    vl = sizeof v; r = getsockopt(s, SOL_SOCKET, SO_PEERCRED, &v, &vl);
    CHECK(r == -1 && errno == ENOPROTOOPT, "unknown option -> ENOPROTOOPT");
    /* 8. EFAULT / EINVAL */
    r = send(s, NULL, 10, 0); CHECK(r == -1 && errno == EFAULT, "send NULL -> EFAULT");
    r = recv(s, NULL, 10, 0); CHECK(r == -1 && errno == EFAULT, "recv NULL -> EFAULT");
    int s2 = socket(AF_INET, SOCK_STREAM, 0);
    r = bind(s2, NULL, 16); CHECK(r == -1 && errno == EFAULT, "bind NULL -> EFAULT");
    a = peer(9000); r = connect(s2, (void*)&a, 8); CHECK(r == -1 && errno == EINVAL, "connect short len -> EINVAL");
    r = recv(s2, buf, 1, 0); CHECK(r == -1 && errno == ENOTCONN, "recv unconnected -> ENOTCONN");
    struct sockaddr_in pa; socklen_t pl = sizeof pa;
    r = getpeername(s2, (void*)&pa, &pl); CHECK(r == -1 && errno == ENOTCONN, "getpeername unconnected -> ENOTCONN");
    r = listen(s2, 5); CHECK(r == 0, "listen unbound socket");
    fcntl(s2, F_SETFL, fcntl(s2, F_GETFL) | O_NONBLOCK);
    r = accept(s2, NULL, NULL); CHECK(r == -1 && errno == EAGAIN, "accept nonblocking -> EAGAIN");
    close(s2);
    r = close(s2); CHECK(r == -1 && errno == EBADF, "double close -> EBADF");
    /* 9. dup */
    int d = dup(s); CHECK(d > s, "dup -> %d", d);
    CHECK(fcntl(d, F_GETFD) == 0, "dup has no FD_CLOEXEC");
    int d2 = fcntl(s, F_DUPFD_CLOEXEC, 100); CHECK(d2 >= 100 && fcntl(d2, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC -> %d", d2);
    close(s);
    r = send(d, "abc", 3, 0); r = recv(d2, buf, 3, MSG_WAITALL);
    CHECK(r == 3, "I/O through dups after closing the original");
    int fl = 1; ioctl(d, FIONBIO, &fl);
    CHECK(fcntl(d2, F_GETFL) & O_NONBLOCK, "FIONBIO shared by dups");
    fl = 0; ioctl(d, FIONBIO, &fl);
    /* 10. shutdown wakes a blocked recv */
    g_fd = d;
    pthread_create(&th, NULL, later_shut, (void*)200000L);
    t0 = now(); r = recv(d, buf, 10, 0); dt = now() - t0;
    CHECK(r == 0 && dt > 0.15, "shutdown(SHUT_RD) from another thread -> recv 0 after %.2fs", dt);
    pthread_join(th, NULL);
    close(d); close(d2);
    /* 11. RST from peer -> ECONNRESET, then EPIPE + SIGPIPE */
    s = conn(); send(s, "RST", 3, 0); usleep(200000);
    r = recv(s, buf, 10, 0); CHECK(r == -1 && errno == ECONNRESET, "recv after peer RST -> ECONNRESET");
    struct sigaction sp = {.sa_handler = on_sig}; sigaction(SIGPIPE, &sp, NULL); sigs = 0;
    r = send(s, "x", 1, 0); CHECK(r == -1 && errno == EPIPE && sigs == 1, "send after reset -> EPIPE + SIGPIPE (%d)", sigs);
    r = send(s, "x", 1, MSG_NOSIGNAL); CHECK(r == -1 && errno == EPIPE && sigs == 1, "MSG_NOSIGNAL -> no SIGPIPE");
    close(s);
    /* 12. shutdown(SHUT_WR) then write -> EPIPE */
    s = conn(); shutdown(s, SHUT_WR);
    r = write(s, "x", 1); CHECK(r == -1 && errno == EPIPE && sigs == 2, "write after SHUT_WR -> EPIPE + SIGPIPE");
    r = recv(s, buf, 10, 0); CHECK(r == 0, "EOF after peer closes");
    close(s);
    /* 13. blocked recv, another thread closes: Linux keeps waiting until data */
    s = conn(); g_fd = s; long res = 99;
    pthread_create(&th, NULL, blocked_recv, &res);
    usleep(100000); close(s); usleep(200000);
    printf("     after close from another thread: blocked recv res=%ld (99 = still blocked)\n", res);
    pthread_cancel(th);
    printf("%s: %d failures\n", fails ? "FAILED" : "PASSED", fails);
    return fails != 0;
}
