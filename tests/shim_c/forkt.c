#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <sys/socket.h>
int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9000)}; inet_pton(AF_INET, "198.18.0.1", &a.sin_addr);
    if (connect(s, (void*)&a, sizeof a)) { perror("connect"); return 1; }
    pid_t p = fork();
    if (p == 0) {
        char b[4];
        int r = send(s, "x", 1, 0);
        printf("child: send on inherited -> %d %s\n", r, strerror(errno));
        r = recv(s, b, 1, 0);
        printf("child: recv on inherited -> %d %s\n", r, strerror(errno));
        r = close(s);
        printf("child: close inherited -> %d\n", r);
        double t0 = 0; (void)t0;
        int s2 = socket(AF_INET, SOCK_STREAM, 0);
        printf("child: new socket -> %d %s\n", s2, strerror(errno));
        execl("/bin/sh", "sh", "-c", "ls -l /proc/$$/fd | grep -c eventfd", (char*)NULL);
        _exit(0);
    }
    int st; waitpid(p, &st, 0);
    char buf[16];
    int r = send(s, "after fork", 10, 0);
    r = recv(s, buf, 10, MSG_WAITALL);
    printf("parent: connection still works: %d '%.*s'\n", r, r > 0 ? r : 0, buf);
    /* exit with the connection open: peers should see RST */
    return 0;
}
