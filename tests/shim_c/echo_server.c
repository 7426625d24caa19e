#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <arpa/inet.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 7000;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)) perror("setsockopt");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (bind(l, (void *)&a, sizeof a)) { perror("bind"); return 1; }
    if (listen(l, 16)) { perror("listen"); return 1; }
    printf("listening fd=%d\n", l); fflush(stdout);
    for (;;) {
        struct sockaddr_in p; socklen_t pl = sizeof p;
        int c = accept(l, (void *)&p, &pl);
        if (c < 0) { perror("accept"); return 1; }
        printf("accepted fd=%d from %s:%d len=%u\n", c, inet_ntoa(p.sin_addr), ntohs(p.sin_port), pl); fflush(stdout);
        char buf[65536]; ssize_t n; long total = 0;
        while ((n = read(c, buf, sizeof buf)) > 0) {
            ssize_t off = 0;
            while (off < n) { ssize_t w = write(c, buf + off, n - off); if (w < 0) { perror("write"); break; } off += w; }
            total += n;
        }
        if (n < 0) perror("read");
        printf("closed after %ld bytes\n", total); fflush(stdout);
        close(c);
        if (argc > 2) break;
    }
    close(l);
    return 0;
}
