#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <arpa/inet.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    if (connect(s, (void *)&a, sizeof a)) { printf("connect: %s\n", strerror(errno)); return 1; }
    struct sockaddr_in me; socklen_t ml = sizeof me;
    getsockname(s, (void *)&me, &ml);
    printf("connected from port %d\n", ntohs(me.sin_port));
    const char *msg = argc > 3 ? argv[3] : "hello from tapstack\n";
    if (write(s, msg, strlen(msg)) < 0) perror("write");
    shutdown(s, SHUT_WR);
    char buf[4096]; ssize_t n;
    while ((n = read(s, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
    if (n < 0) perror("read");
    close(s);
    return 0;
}
