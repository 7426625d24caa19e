/*
 * socket_sleep SECONDS
 *
 * Opens one IPv4 TCP socket (which, under the preload, starts the stack),
 * prints "socket fd=N", then sleeps up to SECONDS and exits 0. SIGTERM ends
 * the sleep early and the program still exits normally, so the library's
 * exit handlers run. If socket() fails it prints "socket: errno=NAME" and
 * exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
        return 2;
    }
    unsigned left = (unsigned)strtoul(argv[1], NULL, 10);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        printf("socket: errno=%s\n", strerrorname_np(errno));
        return 1;
    }
    printf("socket fd=%d\n", fd);
    fflush(stdout);

    while (left > 0 && !stop)
        left = sleep(left);

    close(fd);
    printf("done\n");
    return 0;
}
