/*
 * echo_server [--http | --close | --sink] PORT
 *
 * A blocking TCP server, one thread per connection, listening on
 * 0.0.0.0:PORT with SO_REUSEADDR and backlog 1024. Prints "listening PORT"
 * once ready, and one line per connection it finishes.
 *
 *   default   echoes every byte back until the peer half-closes, then
 *             closes (so a half-closing client reads everything, then EOF)
 *   --http    a tiny HTTP/1.0 server: reads the request head and answers
 *             200 with a text body naming the method and path, then closes
 *   --close   accepts and closes at once, without reading (a peer that is
 *             gone, for EPIPE tests)
 *   --sink    accepts and keeps each connection open without ever reading
 *             (its window fills, then stays shut: for SO_LINGER tests)
 *
 * SIGTERM or SIGINT end it with status 0 (accept is interrupted: the
 * handler is installed without SA_RESTART).
 */
#include "common.h"
#include <pthread.h>

static enum { ECHO, HTTP, CLOSE, SINK } mode = ECHO;
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static void serve_echo(int fd)
{
    static __thread char buf[65536];
    long long total = 0;
    for (;;) {
        ssize_t n = NET(recv)(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                printf("echo: recv: %s after %lld bytes\n", ERRNAME(errno), total);
            break;
        }
        if (write_all(fd, buf, (size_t)n) < 0) {
            printf("echo: send: %s after %lld bytes\n", ERRNAME(errno), total);
            break;
        }
        total += n;
    }
    printf("echo: connection done, %lld bytes\n", total);
}

static void serve_http(int fd)
{
    char req[8192];
    size_t used = 0;
    while (used < sizeof req - 1) {
        ssize_t n = NET(recv)(fd, req + used, sizeof req - 1 - used, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        req[used] = 0;
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    req[used] = 0;
    char method[16] = "?", path[1024] = "?";
    if (sscanf(req, "%15s %1023s", method, path) != 2) {
        const char *bad = "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        write_all(fd, bad, strlen(bad));
        printf("http: bad request (%zu bytes)\n", used);
        return;
    }
    char body[1200], head[256];
    int blen = snprintf(body, sizeof body, "hello from tapstack: %s %s\n", method, path);
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.0 200 OK\r\nServer: tapstack-echo_server\r\n"
                        "Content-Type: text/plain\r\nContent-Length: %d\r\n"
                        "Connection: close\r\n\r\n",
                        blen);
    write_all(fd, head, (size_t)hlen);
    if (strcmp(method, "HEAD") != 0)
        write_all(fd, body, (size_t)blen);
    printf("http: %s %s -> 200\n", method, path);
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    if (mode == HTTP)
        serve_http(fd);
    else if (mode == ECHO)
        serve_echo(fd);
    NET(close)(fd);
    fflush(stdout);
    return NULL;
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--http") == 0)
            mode = HTTP;
        else if (strcmp(argv[i], "--close") == 0)
            mode = CLOSE;
        else if (strcmp(argv[i], "--sink") == 0)
            mode = SINK;
        else
            break;
    }
    if (i != argc - 1) {
        fprintf(stderr, "usage: %s [--http|--close|--sink] PORT\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[i]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int lfd = tcp_listen(port, 1024, 1);
    printf("listening %d\n", port);
    while (!stop) {
        struct sockaddr_in peer;
        socklen_t plen = sizeof peer;
        int fd = NET(accept)(lfd, (struct sockaddr *)&peer, &plen);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            printf("FAIL accept: %s\n", ERRNAME(errno));
            return 1;
        }
        if (mode == CLOSE) {
            NET(close)(fd);
            printf("closed a connection from %s:%d\n", inet_ntoa(peer.sin_addr),
                   ntohs(peer.sin_port));
            continue;
        }
        if (mode == SINK) {
            /* Held, never read, until the server exits. */
            printf("holding a connection from %s:%d\n", inet_ntoa(peer.sin_addr),
                   ntohs(peer.sin_port));
            continue;
        }
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 256 * 1024);
        if (pthread_create(&t, &at, serve, (void *)(intptr_t)fd) != 0) {
            printf("FAIL pthread_create\n");
            return 1;
        }
        pthread_attr_destroy(&at);
    }
    NET(close)(lfd);
    printf("stopped\n");
    return 0;
}
