/*
 * privdrop_server PORT
 *
 * A daemon that gives up root before its first socket, as
 * `memcached -u nobody` does: setgroups, setgid(65534), setuid(65534)
 * (checked: every id is then 65534), and only then socket, bind, listen
 * on PORT. Prints "listening", accepts one connection, echoes what it
 * reads until EOF, and prints "OK" (or FAIL lines).
 */
#include "common.h"
#include <grp.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    alarm(30);
    if (geteuid() != 0)
        DIE("must start as root (euid %d)", (int)geteuid());
    CHECK(setgroups(0, NULL) == 0, "setgroups: %s", ERRNAME(errno));
    CHECK(setgid(65534) == 0, "setgid: %s", ERRNAME(errno));
    CHECK(setuid(65534) == 0, "setuid: %s", ERRNAME(errno));
    uid_t r, e, s;
    CHECK(getresuid(&r, &e, &s) == 0 && r == 65534 && e == 65534 && s == 65534,
          "ids after setuid: %d %d %d", (int)r, (int)e, (int)s);
    CHECK(getegid() == 65534, "egid after setgid: %d", (int)getegid());

    int l = tcp_listen(port, 4, 1);
    printf("listening\n");
    fflush(stdout);
    int c = NET(accept)(l, NULL, NULL);
    if (c < 0)
        DIE("accept: %s", ERRNAME(errno));
    char buf[4096];
    long total = 0;
    for (;;) {
        ssize_t n = NET(recv)(c, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        CHECK(n >= 0, "recv: %s", ERRNAME(errno));
        if (n <= 0)
            break;
        CHECK(write_all(c, buf, (size_t)n) == n, "send: %s", ERRNAME(errno));
        total += n;
    }
    CHECK(total > 0, "nothing was received");
    NET(close)(c);
    NET(close)(l);
    if (failures)
        return 1;
    printf("OK\n");
    return 0;
}
