/*
 * mixed_fds HOST ECHO_PORT
 *
 * Under the preload only IPv4 TCP sockets belong to the stack; everything
 * else must behave as without it. Opens TCP connections to the kernel's
 * echo server between and around a regular file, a pipe, a Unix socketpair
 * and a UDP socket, and checks each kernel fd with its usual calls (read,
 * write, lseek, fstat, fcntl O_NONBLOCK + EAGAIN, FIONREAD, send/recv with
 * MSG_PEEK, sendto/recvfrom, getsockname, dup, close), that every fd number
 * is distinct and small, and that the TCP connections still echo. The fds
 * that are not TCP use plain calls, even in the direct build. Prints "OK"
 * or FAIL lines.
 */
#include "common.h"
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/un.h>

static void tcp_echo(int fd, const char *msg)
{
    char buf[64] = {0};
    size_t n = strlen(msg);
    CHECK(write_all(fd, msg, n) == (ssize_t)n, "tcp fd %d: send: %s", fd, ERRNAME(errno));
    ssize_t r = read_full(fd, buf, n);
    CHECK(r == (ssize_t)n && memcmp(buf, msg, n) == 0, "tcp fd %d: echo of '%s' gave %zd '%s'",
          fd, msg, r, buf);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST ECHO_PORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(30);
    const char *host = argv[1];
    int port = atoi(argv[2]);
    char buf[256];

    int t1 = tcp_connect(host, port);

    char path[] = "/tmp/tapstack-mixed-XXXXXX";
    int file = mkstemp(path);
    CHECK(file >= 0, "mkstemp: %s", ERRNAME(errno));
    unlink(path);
    CHECK(write(file, "file data", 9) == 9, "file write: %s", ERRNAME(errno));
    CHECK(lseek(file, 0, SEEK_SET) == 0, "lseek: %s", ERRNAME(errno));
    memset(buf, 0, sizeof buf);
    CHECK(read(file, buf, sizeof buf) == 9 && strcmp(buf, "file data") == 0, "file read: '%s'",
          buf);
    struct stat st;
    CHECK(fstat(file, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 9,
          "fstat on the file: size %ld", (long)st.st_size);

    int p[2];
    CHECK(pipe(p) == 0, "pipe: %s", ERRNAME(errno));
    int t2 = tcp_connect(host, port);
    CHECK(write(p[1], "pipe!", 5) == 5, "pipe write: %s", ERRNAME(errno));
    int avail = -1;
    CHECK(ioctl(p[0], FIONREAD, &avail) == 0 && avail == 5, "pipe FIONREAD: %d", avail);
    memset(buf, 0, sizeof buf);
    CHECK(read(p[0], buf, sizeof buf) == 5 && strcmp(buf, "pipe!") == 0, "pipe read: '%s'", buf);
    CHECK(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0, "pipe F_SETFL: %s", ERRNAME(errno));
    errno = 0;
    ssize_t r = read(p[0], buf, 1);
    CHECK_ERR("read on an empty non-blocking pipe", r, errno, EAGAIN);
    CHECK(fstat(p[0], &st) == 0 && S_ISFIFO(st.st_mode), "fstat on the pipe: not a FIFO");

    int u[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, u) == 0, "socketpair: %s", ERRNAME(errno));
    CHECK(send(u[0], "unix", 4, 0) == 4, "unix send: %s", ERRNAME(errno));
    memset(buf, 0, sizeof buf);
    CHECK(recv(u[1], buf, sizeof buf, MSG_PEEK) == 4 && strcmp(buf, "unix") == 0,
          "unix MSG_PEEK: '%s'", buf);
    CHECK(recv(u[1], buf, sizeof buf, 0) == 4, "unix recv: %s", ERRNAME(errno));
    CHECK(shutdown(u[0], SHUT_WR) == 0, "unix shutdown: %s", ERRNAME(errno));
    CHECK(recv(u[1], buf, sizeof buf, 0) == 0, "unix recv after shutdown: want EOF");
    int ud = dup(u[1]);
    CHECK(ud >= 0, "dup of a unix socket: %s", ERRNAME(errno));

    /* Two UDP sockets: under TAPSTACK_LOG=info the library names the kind
     * once (scripts/system/mixed_fds.sh counts the lines). */
    int udp0 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(udp0 >= 0, "first udp socket: %s", ERRNAME(errno));
    close(udp0);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(udp >= 0, "udp socket: %s", ERRNAME(errno));
    struct sockaddr_in a = addr_of("127.0.0.1", 0);
    CHECK(bind(udp, (struct sockaddr *)&a, sizeof a) == 0, "udp bind: %s", ERRNAME(errno));
    socklen_t len = sizeof a;
    CHECK(getsockname(udp, (struct sockaddr *)&a, &len) == 0 && ntohs(a.sin_port) != 0,
          "udp getsockname: port %d", ntohs(a.sin_port));
    int t3 = tcp_connect(host, port);
    CHECK(sendto(udp, "datagram", 8, 0, (struct sockaddr *)&a, sizeof a) == 8, "udp sendto: %s",
          ERRNAME(errno));
    struct sockaddr_in from;
    len = sizeof from;
    memset(buf, 0, sizeof buf);
    r = recvfrom(udp, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
    CHECK(r == 8 && strcmp(buf, "datagram") == 0 && from.sin_port == a.sin_port,
          "udp recvfrom: %zd '%s' from port %d", r, buf, ntohs(from.sin_port));
    int type = -1;
    len = sizeof type;
    CHECK(getsockopt(udp, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM,
          "udp SO_TYPE: %d", type);

    int fds[] = {t1, file, p[0], p[1], t2, u[0], u[1], ud, udp, t3};
    int n = (int)(sizeof fds / sizeof fds[0]);
    for (int i = 0; i < n; i++) {
        CHECK(fds[i] >= 3 && fds[i] < 64, "fd %d is not a small number", fds[i]);
        for (int j = i + 1; j < n; j++)
            CHECK(fds[i] != fds[j], "fds %d and %d are both %d", i, j, fds[i]);
    }
    CHECK(fstat(t1, &st) == 0, "fstat on a TCP socket's fd: %s (want a real kernel fd)",
          ERRNAME(errno));

    tcp_echo(t1, "first");
    tcp_echo(t2, "second");
    tcp_echo(t3, "third");
    close(file);
    close(p[0]);
    close(p[1]);
    close(u[0]);
    close(u[1]);
    tcp_echo(t2, "after closing kernel fds");
    close(ud);
    close(udp);
    CHECK(NET(close)(t1) == 0 && NET(close)(t2) == 0 && NET(close)(t3) == 0, "tcp close: %s",
          ERRNAME(errno));
    errno = 0;
    r = write(p[1], "x", 1);
    CHECK_ERR("write on a closed pipe fd", r, errno, EBADF);
    if (failures)
        return 1;
    printf("OK\n");
    return 0;
}
