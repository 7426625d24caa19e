/*
 * fork_close HOST ECHO_PORT [inherited]
 *
 * After fork, a child that closes an inherited connected socket must send
 * nothing, and the parent's connection carries on: the parent exchanges
 * "before" through the echo server, forks; the child closes the socket and
 * exits 0; the parent waits for it, waits 300 ms more (a FIN, had one gone
 * out, would make the echo server close), then exchanges "after" and
 * checks the socket is still ESTABLISHED. The script also counts FIN and
 * RST in the capture. Prints "OK" or FAIL lines.
 *
 * With "inherited" (tapstack's side only: the kernel's stack shares the
 * socket with the child), the child first checks what README.md documents
 * for a stack socket inherited across fork: send and recv fail with EBADFD
 * (the connection is the parent's), and a new socket() fails fast with
 * ENETDOWN (the parent holds the TAP); then it closes its copy as above.
 */
#include "common.h"
#include <sys/wait.h>

static int exchange(int fd, const char *msg)
{
    char buf[64] = {0};
    size_t n = strlen(msg);
    if (write_all(fd, msg, n) != (ssize_t)n)
        return -1;
    return read_full(fd, buf, n) == (ssize_t)n && memcmp(buf, msg, n) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 3 && !(argc == 4 && strcmp(argv[3], "inherited") == 0)) {
        fprintf(stderr, "usage: %s HOST ECHO_PORT [inherited]\n", argv[0]);
        return 2;
    }
    int inherited = argc == 4;
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(30);
    int fd = tcp_connect(argv[1], atoi(argv[2]));
    CHECK(exchange(fd, "before") == 0, "echo before fork: %s", ERRNAME(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        DIE("fork: %s", ERRNAME(errno));
    if (pid == 0) {
        if (inherited) {
            char b[4];
            errno = 0;
            ssize_t n = NET(send)(fd, "x", 1, MSG_NOSIGNAL);
            CHECK(n == -1 && errno == EBADFD, "child: send on the inherited socket gave %zd %s, want -1 EBADFD",
                  n, ERRNAME(errno));
            errno = 0;
            n = NET(recv)(fd, b, sizeof b, MSG_DONTWAIT);
            CHECK(n == -1 && errno == EBADFD, "child: recv on the inherited socket gave %zd %s, want -1 EBADFD",
                  n, ERRNAME(errno));
            errno = 0;
            int s2 = NET(socket)(AF_INET, SOCK_STREAM, 0);
            CHECK(s2 == -1 && errno == ENETDOWN, "child: a new socket gave %d %s, want -1 ENETDOWN", s2,
                  ERRNAME(errno));
            if (failures)
                _exit(4);
        }
        int r = NET(close)(fd);
        printf("child: close gave %d %s\n", r, r ? ERRNAME(errno) : "");
        _exit(r == 0 ? 0 : 3);
    }
    int status = -1;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child: status 0x%x, want exit 0", status);
    sleep_ms(300);
    CHECK(exchange(fd, "after") == 0,
          "echo after the child closed its copy: %s (did the child's close reach the wire?)",
          ERRNAME(errno));
    int s = tcp_state(fd);
    CHECK(s == 1, "parent's state after the child's close: %s, want ESTABLISHED", STATE_NAME(s));
    CHECK(NET(close)(fd) == 0, "parent close: %s", ERRNAME(errno));
    if (failures)
        return 1;
    printf("OK\n");
    return 0;
}
