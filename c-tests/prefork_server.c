/*
 * prefork_server: the classic forking servers.
 *
 *   prefork_server prefork PORT N        the parent listens on 0.0.0.0:PORT
 *                                        and forks N workers, each accepting
 *                                        in a loop (Apache prefork's shape)
 *   prefork_server forkper PORT          the parent accepts, forks a child
 *                                        per connection and closes its copy
 *                                        (inetd's shape)
 *   prefork_server chaos PORT N KILLS MS as prefork, and the parent kills a
 *                                        worker picked at random with
 *                                        SIGKILL every MS ms, KILLS times,
 *                                        and starts a new one for each
 *                                        worker that dies
 *
 * Prints "listening PORT" once the workers are started, "chaos done K"
 * after the last kill. SIGTERM ends the parent and its workers.
 *
 * The request, one per connection: "SEED LEN\n"; the answer: LEN bytes of
 * pattern_fill(SEED) (common.h), then the worker closes. prefork_client
 * checks every byte.
 */
#include "common.h"
#include <sys/wait.h>

#define MAXW 64

static volatile sig_atomic_t stop;
static pid_t workers[MAXW];
static int nworkers;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

/* Serves one request on c; returns when done (or the client is gone). */
static void serve(int c)
{
    char line[64];
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t k = NET(recv)(c, line + n, 1, 0);
        if (k <= 0)
            return;
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = 0;
    unsigned long long seed = 0;
    long len = 0;
    if (sscanf(line, "%llu %ld", &seed, &len) != 2 || len < 0 || len > (64L << 20))
        return;
    struct pattern p;
    pattern_init(&p, seed);
    static unsigned char buf[65536];
    while (len > 0) {
        size_t chunk = len < (long)sizeof buf ? (size_t)len : sizeof buf;
        pattern_fill(&p, buf, chunk);
        if (write_all(c, buf, chunk) != (ssize_t)chunk)
            return;
        len -= (long)chunk;
    }
}

static void worker_loop(int l)
{
    signal(SIGTERM, SIG_DFL);
    for (;;) {
        int c = NET(accept)(l, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            fprintf(stderr, "worker: accept: %s\n", ERRNAME(errno));
            _exit(3);
        }
        serve(c);
        NET(close)(c);
    }
}

static pid_t start_worker(int l)
{
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork: %s\n", ERRNAME(errno));
        return -1;
    }
    if (pid == 0)
        worker_loop(l);
    return pid;
}

static void stop_workers(void)
{
    for (int i = 0; i < nworkers; i++)
        if (workers[i] > 0)
            kill(workers[i], SIGTERM);
    for (int i = 0; i < nworkers; i++)
        if (workers[i] > 0)
            waitpid(workers[i], NULL, 0);
}

/* Starts a new worker for each one that died; returns how many died. */
static int restart_dead(int l, int expected)
{
    int died = 0, st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < nworkers; i++) {
            if (workers[i] != pid)
                continue;
            died++;
            if (!expected)
                fprintf(stderr, "worker %d ended (%s %d) without being killed\n", i,
                        WIFEXITED(st) ? "status" : "signal",
                        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            workers[i] = stop ? -1 : start_worker(l);
        }
    }
    return died;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_term}; /* no SA_RESTART: accept returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (argc < 3) {
        fprintf(stderr, "usage: %s prefork PORT N | forkper PORT | chaos PORT N KILLS MS\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    int port = atoi(argv[2]);
    int l = tcp_listen(port, 1024, 1);

    if (!strcmp(mode, "forkper") && argc == 3) {
        signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
        printf("listening %d\n", port);
        while (!stop) {
            int c = NET(accept)(l, NULL, NULL);
            if (c < 0) {
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                fprintf(stderr, "accept: %s\n", ERRNAME(errno));
                return 1;
            }
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                signal(SIGTERM, SIG_DFL);
                NET(close)(l);
                serve(c);
                NET(close)(c);
                _exit(0);
            }
            if (pid < 0)
                fprintf(stderr, "fork: %s\n", ERRNAME(errno));
            NET(close)(c); /* the child's copy serves it */
        }
        return 0;
    }

    int chaos = !strcmp(mode, "chaos") && argc == 6;
    if (!(chaos || (!strcmp(mode, "prefork") && argc == 4))) {
        fprintf(stderr, "usage: %s prefork PORT N | forkper PORT | chaos PORT N KILLS MS\n", argv[0]);
        return 2;
    }
    nworkers = atoi(argv[3]);
    if (nworkers < 1 || nworkers > MAXW)
        DIE("N must be 1..%d", MAXW);
    int kills = chaos ? atoi(argv[4]) : 0;
    int every = chaos ? atoi(argv[5]) : 0;
    fflush(stdout);
    for (int i = 0; i < nworkers; i++)
        workers[i] = start_worker(l);
    printf("listening %d\n", port);
    srand(1);
    int killed = 0, died = 0;
    long long next = now_ms() + every;
    while (!stop) {
        died += restart_dead(l, chaos);
        if (killed < kills && now_ms() >= next) {
            int i = rand() % nworkers;
            if (workers[i] > 0 && kill(workers[i], SIGKILL) == 0)
                killed++;
            next = now_ms() + every;
            if (killed == kills)
                printf("chaos done %d\n", killed);
        }
        sleep_ms(5);
    }
    stop_workers();
    fprintf(stderr, "killed %d, %d died\n", killed, died);
    return 0;
}
