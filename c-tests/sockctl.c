/*
 * sockctl connect HOST PORT | accept PORT | listen PORT BACKLOG
 *
 * One TCP socket driven line by line from stdin, so that a test script can
 * put a connection in a given state and look at it from both sides. Used on
 * the tapstack side (under the preload) and on the kernel's side alike.
 * Starts by printing "connected", "accepted" or "listening"; then each
 * command prints one line:
 *
 *   state            "state NAME"   tcpi_state from TCP_INFO (Linux names:
 *                                   ESTABLISHED, FIN_WAIT2, TIME_WAIT,
 *                                   CLOSE_WAIT, LAST_ACK, CLOSE, ...)
 *   wait NAME MS     "state NAME"   the state once it is NAME, or the last
 *                                   one seen after MS milliseconds
 *   send TEXT        "sent N" | "error ENAME"
 *   shutwr           "shutwr ok" | "error ENAME"   shutdown(SHUT_WR)
 *   readeof          "eof N" | "error ENAME N"     reads until EOF or an
 *                                   error, N = bytes read before it
 *   linger0          "linger0 ok"   SO_LINGER {1, 0}: close sends RST
 *   close            "closed" | "error ENAME"
 *   accept           "accepted" | "error ENAME"    (listen mode)
 *   exit             ends the program (status 0); so does EOF on stdin
 */
#include "common.h"

static int state_by_name(const char *name)
{
    for (int i = 0; i <= 11; i++)
        if (strcmp(state_names[i], name) == 0)
            return i;
    return -2;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    int fd = -1, lfd = -1;
    if (argc == 4 && strcmp(argv[1], "connect") == 0) {
        fd = tcp_connect(argv[2], atoi(argv[3]));
        printf("connected\n");
    } else if (argc == 3 && strcmp(argv[1], "accept") == 0) {
        lfd = tcp_listen(atoi(argv[2]), 8, 1);
        printf("listening\n");
        fd = NET(accept)(lfd, NULL, NULL);
        if (fd < 0)
            DIE("accept: %s", ERRNAME(errno));
        printf("accepted\n");
    } else if (argc == 4 && strcmp(argv[1], "listen") == 0) {
        lfd = tcp_listen(atoi(argv[2]), atoi(argv[3]), 1);
        printf("listening\n");
    } else {
        fprintf(stderr, "usage: %s connect HOST PORT | accept PORT | listen PORT BACKLOG\n",
                argv[0]);
        return 2;
    }

    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        char arg[400] = "";
        int ms = 0;
        if (strcmp(line, "state") == 0) {
            printf("state %s\n", STATE_NAME(tcp_state(fd)));
        } else if (sscanf(line, "wait %63s %d", arg, &ms) == 2) {
            printf("state %s\n", STATE_NAME(wait_state(fd, state_by_name(arg), ms)));
        } else if (strncmp(line, "send ", 5) == 0) {
            ssize_t n = NET(send)(fd, line + 5, strlen(line + 5), MSG_NOSIGNAL);
            if (n < 0)
                printf("error %s\n", ERRNAME(errno));
            else
                printf("sent %zd\n", n);
        } else if (strcmp(line, "shutwr") == 0) {
            if (NET(shutdown)(fd, SHUT_WR) == 0)
                printf("shutwr ok\n");
            else
                printf("error %s\n", ERRNAME(errno));
        } else if (strcmp(line, "readeof") == 0) {
            char buf[4096];
            long long total = 0;
            for (;;) {
                ssize_t n = NET(recv)(fd, buf, sizeof buf, 0);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0) {
                    printf("error %s %lld\n", ERRNAME(errno), total);
                    break;
                }
                if (n == 0) {
                    printf("eof %lld\n", total);
                    break;
                }
                total += n;
            }
        } else if (strcmp(line, "linger0") == 0) {
            struct linger lg = {1, 0};
            if (NET(setsockopt)(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0)
                printf("linger0 ok\n");
            else
                printf("error %s\n", ERRNAME(errno));
        } else if (strcmp(line, "close") == 0) {
            if (NET(close)(fd) == 0)
                printf("closed\n");
            else
                printf("error %s\n", ERRNAME(errno));
            fd = -1;
        } else if (strcmp(line, "accept") == 0) {
            int c = NET(accept)(lfd, NULL, NULL);
            if (c < 0) {
                printf("error %s\n", ERRNAME(errno));
            } else {
                if (fd < 0)
                    fd = c;
                printf("accepted\n");
            }
        } else if (strcmp(line, "exit") == 0) {
            break;
        } else {
            printf("FAIL unknown command '%s'\n", line);
        }
    }
    return 0;
}
