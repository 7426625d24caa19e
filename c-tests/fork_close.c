/*
 * fork_close HOST ECHO_PORT
 *
 * After fork, a child that closes an inherited connected socket must send
 * nothing, and the parent's connection carries on: the parent exchanges
 * "before" through the echo server, forks; the child closes the socket and
 * exits 0; the parent waits for it, waits 300 ms more (a FIN, had one gone
 * out, would make the echo server close), then exchanges "after" and
 * checks the socket is still ESTABLISHED. The script also counts FIN and
 * RST in the capture. Prints "OK" or FAIL lines.
 *
 * The child also makes a new socket first: on tapstack it is a socket of
 * the same shared stack, as on the kernel.
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
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST ECHO_PORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(30);
    int fd = tcp_connect(argv[1], atoi(argv[2]));
    CHECK(exchange(fd, "before") == 0, "echo before fork: %s", ERRNAME(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        DIE("fork: %s", ERRNAME(errno));
    if (pid == 0) {
        errno = 0;
        int s2 = NET(socket)(AF_INET, SOCK_STREAM, 0);
        CHECK(s2 >= 0, "child: a new socket gave %d %s", s2, ERRNAME(errno));
        if (s2 >= 0)
            NET(close)(s2);
        if (failures)
            _exit(4);
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
