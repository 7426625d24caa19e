/*
 * fork_shared: inherited stack sockets after fork and exec, with the
 * kernel's semantics (the shared stack, docs/shared-stack.md).
 *
 *   fork_shared --list
 *   fork_shared peer CTLPATH
 *   fork_shared CASE SELF PEER CTLPATH
 *
 * "peer" is the kernel side: it listens on the Unix socket CTLPATH (a path,
 * so it reaches across network namespaces) and runs one line command at a
 * time on TCP connections of its own, for one control connection after
 * another. The script starts it in the test's namespace, without the
 * preload, so it always uses the kernel's TCP at PEER.
 *
 * A CASE runs on "the stack side" at address SELF: once on the kernel's
 * sockets, once under the preload; the script compares the two outputs line
 * for line. Each line says what a process saw (bytes, errno, counts; no
 * pid, no time). Processes take turns, told over pipes, so the order of
 * lines is fixed. The program also checks what Linux does (FAIL lines) and
 * ends with "OK" when all matched.
 *
 * Cases:
 *   accept     an inherited listener: the child accepts alone, the parent
 *              accepts alone, then both (child and a thread of the parent)
 *              accept 10 connections at once: each goes to one caller
 *   conn       an inherited connection: send and recv from both, the
 *              same local and peer names in both
 *   epoll      an inherited epoll fd is the same instance: readiness seen
 *              by both, the child's EPOLL_CTL_MOD/DEL/ADD seen by the parent
 *   close      close (or exit) in one process leaves the connection to
 *              the other; the last close sends the FIN; the same for a
 *              listener
 *   shutdown   shutdown in the child acts on the parent's connection (and
 *              on an inherited listener)
 *   newsock    the child's new sockets are on the same stack: same local
 *              address, a port the parent holds gives EADDRINUSE, and the
 *              child reaches the parent's listener via 127.0.0.1 and SELF
 *   exec_cat   execve of /bin/cat with the connection on stdin and stdout:
 *              cat echoes the peer's lines
 *   exec_self  execve of this program ("exec-child" mode) with the
 *              connection on fd 10: the new image uses it; a FD_CLOEXEC
 *              socket is gone after exec
 */
#include "common.h"
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <sys/wait.h>

static const char *SELF, *PEER;
static int ctl = -1;

/* ---- the peer: the kernel's TCP, driven over the control socket ---- */

#define NCONN 32
static int pconn[NCONN];
static int plisten[8];
static int plisten_port[8];

static void peer_reset(void)
{
    for (int i = 0; i < NCONN; i++) {
        if (pconn[i] >= 0)
            close(pconn[i]);
        pconn[i] = -1;
    }
    for (int i = 0; i < 8; i++) {
        if (plisten[i] >= 0)
            close(plisten[i]);
        plisten[i] = -1;
    }
}

/* Reads one line (without '\n') from fd within ms: "data LINE", "eof",
 * "timeout" or "err ENAME". */
static void peer_recvline(int fd, int ms, char *out, size_t outlen)
{
    char line[512];
    size_t n = 0;
    long long end = now_ms() + ms;
    for (;;) {
        long long left = end - now_ms();
        if (left < 0)
            left = 0;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r == 0) {
            snprintf(out, outlen, n ? "partial %.*s" : "timeout", (int)n, line);
            return;
        }
        char c;
        ssize_t k = recv(fd, &c, 1, 0);
        if (k < 0) {
            snprintf(out, outlen, "err %s", ERRNAME(errno));
            return;
        }
        if (k == 0) {
            snprintf(out, outlen, n ? "partial-eof %.*s" : "eof", (int)n, line);
            return;
        }
        if (c == '\n') {
            snprintf(out, outlen, "data %.*s", (int)n, line);
            return;
        }
        if (n < sizeof line - 1)
            line[n++] = c;
    }
}

static const char *addr_word(struct sockaddr_in *a, const char *self)
{
    static char buf[64];
    char s[32];
    inet_ntop(AF_INET, &a->sin_addr, s, sizeof s);
    if (strcmp(s, self) == 0)
        return "self";
    snprintf(buf, sizeof buf, "other:%s", s);
    return buf;
}

static void peer_command(char *line, char *reply, size_t rl)
{
    char cmd[32] = "", a1[64] = "", a2[64] = "", a3[400] = "";
    int i;
    sscanf(line, "%31s %63s %63s %399[^\n]", cmd, a1, a2, a3);
    i = atoi(a1);
    if (i < 0 || i >= NCONN)
        i = 0;
    snprintf(reply, rl, "ok");
    if (!strcmp(cmd, "connect")) { /* connect I ADDR PORT */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = addr_of(a2, atoi(a3));
        if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            snprintf(reply, rl, "err %s", ERRNAME(errno));
            close(fd);
            return;
        }
        pconn[i] = fd;
    } else if (!strcmp(cmd, "send")) { /* send I TEXT: TEXT and '\n' */
        char buf[512];
        int n = snprintf(buf, sizeof buf, "%s %s", a2, a3);
        while (n > 0 && buf[n - 1] == ' ')
            n--;
        buf[n++] = '\n';
        if (send(pconn[i], buf, n, MSG_NOSIGNAL) != n)
            snprintf(reply, rl, "err %s", ERRNAME(errno));
    } else if (!strcmp(cmd, "recv")) { /* recv I MS */
        peer_recvline(pconn[i], atoi(a2), reply, rl);
    } else if (!strcmp(cmd, "shutwr")) {
        if (shutdown(pconn[i], SHUT_WR) != 0)
            snprintf(reply, rl, "err %s", ERRNAME(errno));
    } else if (!strcmp(cmd, "close")) {
        close(pconn[i]);
        pconn[i] = -1;
    } else if (!strcmp(cmd, "listen")) { /* listen PORT */
        int k;
        for (k = 0; k < 8 && plisten[k] >= 0; k++)
            ;
        if (k == 8) {
            snprintf(reply, rl, "err too many");
            return;
        }
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = addr_of("0.0.0.0", atoi(a1));
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0) {
            snprintf(reply, rl, "err %s", ERRNAME(errno));
            close(fd);
            return;
        }
        plisten[k] = fd;
        plisten_port[k] = atoi(a1);
    } else if (!strcmp(cmd, "accept")) { /* accept I PORT MS SELF */
        int k, port = atoi(a2), ms = 0;
        char self[64] = "";
        sscanf(a3, "%d %63s", &ms, self);
        for (k = 0; k < 8 && !(plisten[k] >= 0 && plisten_port[k] == port); k++)
            ;
        if (k == 8) {
            snprintf(reply, rl, "err not listening");
            return;
        }
        struct pollfd p = {plisten[k], POLLIN, 0};
        if (poll(&p, 1, ms) != 1) {
            snprintf(reply, rl, "timeout");
            return;
        }
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        int fd = accept(plisten[k], (struct sockaddr *)&from, &fl);
        if (fd < 0) {
            snprintf(reply, rl, "err %s", ERRNAME(errno));
            return;
        }
        pconn[i] = fd;
        snprintf(reply, rl, "from %s", addr_word(&from, self));
    } else {
        snprintf(reply, rl, "err unknown command");
    }
}

static int run_peer(const char *path)
{
    for (int i = 0; i < NCONN; i++)
        pconn[i] = -1;
    for (int i = 0; i < 8; i++)
        plisten[i] = -1;
    signal(SIGPIPE, SIG_IGN);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    snprintf(u.sun_path, sizeof u.sun_path, "%s", path);
    unlink(path);
    if (bind(l, (struct sockaddr *)&u, sizeof u) != 0 || listen(l, 4) != 0)
        DIE("peer: bind %s: %s", path, ERRNAME(errno));
    printf("listening\n");
    fflush(stdout);
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0)
            continue;
        FILE *in = fdopen(c, "r");
        char line[512], reply[600];
        while (fgets(line, sizeof line, in)) {
            line[strcspn(line, "\n")] = 0;
            peer_command(line, reply, sizeof reply - 1);
            strcat(reply, "\n");
            if (write(c, reply, strlen(reply)) < 0)
                break;
        }
        fclose(in);
        peer_reset();
    }
}

/* ---- the stack side ---- */

/* Sends a command to the peer, returns its reply (static buffer). */
static const char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *P(const char *fmt, ...)
{
    static char reply[600];
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    if (write(ctl, line, n) != n)
        DIE("control write: %s", ERRNAME(errno));
    size_t k = 0;
    for (;;) {
        char c;
        ssize_t r = read(ctl, &c, 1);
        if (r <= 0)
            DIE("control read: the peer is gone");
        if (c == '\n')
            break;
        if (k < sizeof reply - 1)
            reply[k++] = c;
    }
    reply[k] = 0;
    return reply;
}

/* The peer's reply, printed as "WHAT: REPLY", and checked against want. */
static void PX(const char *what, const char *want, const char *reply)
{
    printf("%s: %s\n", what, reply);
    CHECK(strcmp(reply, want) == 0, "%s: peer got '%s', want '%s'", what, reply, want);
}

static int sync_p[2], sync_c[2]; /* parent -> child, child -> parent */

static void tell(int *p)
{
    if (write(p[1], "x", 1) != 1)
        DIE("pipe write: %s", ERRNAME(errno));
}

static void await_turn(int *p)
{
    char c;
    if (read(p[0], &c, 1) != 1)
        DIE("pipe read: the other process is gone");
}

static pid_t fork_child(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        DIE("fork: %s", ERRNAME(errno));
    if (pid == 0)
        alarm(10); /* alarms are not inherited */
    return pid;
}

/* The parent waits for the child and adds its failures (its exit status). */
static void reap(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        DIE("waitpid: %s", ERRNAME(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("FAIL child ended with %s %d\n", WIFEXITED(st) ? "status" : "signal",
               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        failures++;
    }
}

static void child_exit(void)
{
    fflush(stdout);
    _exit(failures ? 1 : 0);
}

static int listen_on(const char *addr, int port)
{
    int fd = tcp_socket(), one = 1;
    NET(setsockopt)(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = addr_of(addr, port);
    if (NET(bind)(fd, (struct sockaddr *)&a, sizeof a) != 0)
        DIE("bind %s:%d: %s", addr, port, ERRNAME(errno));
    if (NET(listen)(fd, 64) != 0)
        DIE("listen: %s", ERRNAME(errno));
    return fd;
}

/* Sends "TEXT\n"; prints and checks the result. */
static void say(const char *who, int fd, const char *text)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s\n", text);
    errno = 0;
    ssize_t r = NET(send)(fd, buf, n, MSG_NOSIGNAL);
    printf("%s: send '%s': %s\n", who, text, r == n ? "ok" : ERRNAME(errno));
    CHECK(r == n, "%s: send gave %zd %s", who, r, ERRNAME(errno));
}

/* Reads one line within 3 s: "data TEXT", "eof", "timeout", "err E". */
static const char *hear(int fd, int ms)
{
    static char out[300];
    char line[256];
    size_t n = 0;
    long long end = now_ms() + ms;
    for (;;) {
        long long left = end - now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        int r = NET(poll)(&p, 1, left < 0 ? 0 : (int)left);
        if (r < 0) {
            snprintf(out, sizeof out, "err poll %s", ERRNAME(errno));
            return out;
        }
        if (r == 0) {
            snprintf(out, sizeof out, "timeout");
            return out;
        }
        char c;
        ssize_t k = NET(recv)(fd, &c, 1, 0);
        if (k < 0) {
            snprintf(out, sizeof out, "err %s", ERRNAME(errno));
            return out;
        }
        if (k == 0) {
            snprintf(out, sizeof out, n ? "partial-eof %.*s" : "eof", (int)n, line);
            return out;
        }
        if (c == '\n') {
            snprintf(out, sizeof out, "data %.*s", (int)n, line);
            return out;
        }
        if (n < sizeof line - 1)
            line[n++] = c;
    }
}

static void expect_hear(const char *who, int fd, const char *want)
{
    const char *got = hear(fd, 3000);
    printf("%s: recv: %s\n", who, got);
    CHECK(strcmp(got, want) == 0, "%s: recv gave '%s', want '%s'", who, got, want);
}

/* Accepts one connection on l as WHO ("WHO: accept HOW: ok"), hears
 * "data TAG" on it, answers "WHO has TAG" and closes it. */
static void accept_answer(const char *who, const char *how, int l, const char *tag)
{
    char want[64], reply[64];
    int c = NET(accept)(l, NULL, NULL);
    printf("%s: accept %s: %s\n", who, how, c >= 0 ? "ok" : ERRNAME(errno));
    CHECK(c >= 0, "%s accept: %s", who, ERRNAME(errno));
    if (c < 0)
        return;
    snprintf(want, sizeof want, "data %s", tag);
    snprintf(reply, sizeof reply, "%s has %s", who, tag);
    expect_hear(who, c, want);
    say(who, c, reply);
    NET(close)(c);
}

static void sync_pipes(void)
{
    if (pipe(sync_p) != 0 || pipe(sync_c) != 0)
        DIE("pipe: %s", ERRNAME(errno));
}

static const char *name_word(int fd, int peer)
{
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    memset(&a, 0, sizeof a);
    int r = peer ? NET(getpeername)(fd, (struct sockaddr *)&a, &l)
                 : NET(getsockname)(fd, (struct sockaddr *)&a, &l);
    if (r != 0) {
        static char e[64];
        snprintf(e, sizeof e, "err %s", ERRNAME(errno));
        return e;
    }
    return addr_word(&a, peer ? PEER : SELF);
}

/* Connects to the peer's listener on port and has the peer accept it as
 * connection i. */
static int connect_peer(int i, int port)
{
    PX("peer listen", "ok", P("listen %d", port));
    int fd = tcp_connect(PEER, port);
    PX("peer accept", "from self", P("accept %d %d 3000 %s", i, port, SELF));
    return fd;
}

/* ---- accept ---- */

#define NCONC 10
static int conc_listener;
static int conc_stop[2];
static int parent_accepted;

/* Accepts until told to stop: reads "cN", answers "ok cN". Returns the
 * count; writes each N to report (when >= 0). */
static int accept_loop(int lfd, int stopfd, int report)
{
    int count = 0;
    /* Both processes set it (it is one open file's flag on Linux, but
     * this test does not depend on that). */
    NET(fcntl)(lfd, F_SETFL, NET(fcntl)(lfd, F_GETFL) | O_NONBLOCK);
    for (;;) {
        struct pollfd p[2] = {{lfd, POLLIN, 0}, {stopfd, POLLIN, 0}};
        int r = NET(poll)(p, 2, 5000);
        if (r <= 0 || (p[1].revents & POLLIN))
            break;
        int c = NET(accept4)(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (c < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue; /* the other process took it */
            printf("FAIL concurrent accept: %s\n", ERRNAME(errno));
            failures++;
            break;
        }
        int fl = NET(fcntl)(c, F_GETFL);
        NET(fcntl)(c, F_SETFL, fl & ~O_NONBLOCK);
        const char *got = hear(c, 3000);
        int id = -1;
        if (sscanf(got, "data c%d", &id) == 1) {
            char reply[32];
            snprintf(reply, sizeof reply, "ok c%d\n", id);
            write_all(c, reply, strlen(reply));
            count++;
            if (report >= 0) {
                unsigned char b = (unsigned char)id;
                if (write(report, &b, 1) != 1)
                    failures++;
            }
        }
        NET(close)(c);
    }
    return count;
}

static void *parent_acceptor(void *arg)
{
    (void)arg;
    parent_accepted = accept_loop(conc_listener, conc_stop[0], -1);
    return NULL;
}

static void case_accept(void)
{
    sync_pipes();
    int l = listen_on(SELF, 7601);
    int ids[2];
    if (pipe(conc_stop) != 0 || pipe(ids) != 0)
        DIE("pipe");
    pid_t pid = fork_child();
    if (pid == 0) {
        /* 1. the child accepts alone */
        await_turn(sync_p);
        accept_answer("child", "on the inherited listener", l, "a0");
        tell(sync_c);
        /* 3. both accept at once */
        await_turn(sync_p);
        accept_loop(l, conc_stop[0], ids[1]);
        child_exit();
    }
    PX("peer connect a0", "ok", P("connect 0 %s 7601", SELF));
    PX("peer send a0", "ok", P("send 0 a0"));
    tell(sync_p);
    await_turn(sync_c);
    PX("peer recv a0", "data child has a0", P("recv 0 3000"));
    /* 2. the parent accepts alone (the child waits) */
    PX("peer connect a1", "ok", P("connect 1 %s 7601", SELF));
    PX("peer send a1", "ok", P("send 1 a1"));
    accept_answer("parent", "on the listener it shares", l, "a1");
    PX("peer recv a1", "data parent has a1", P("recv 1 3000"));
    /* 3. the child and a thread of the parent accept NCONC connections */
    conc_listener = l;
    pthread_t th;
    pthread_create(&th, NULL, parent_acceptor, NULL);
    tell(sync_p);
    int replies = 0;
    for (int i = 0; i < NCONC; i++) {
        char want[32];
        P("connect %d %s 7601", 2 + i, SELF);
        P("send %d c%d", 2 + i, i);
        snprintf(want, sizeof want, "data ok c%d", i);
        const char *r = P("recv %d 5000", 2 + i);
        if (strcmp(r, want) == 0)
            replies++;
        else
            printf("FAIL concurrent connection c%d: peer got '%s'\n", i, r), failures++;
    }
    if (write(conc_stop[1], "ss", 2) != 2)
        DIE("pipe");
    pthread_join(th, NULL);
    reap(pid);
    close(ids[1]);
    unsigned char seen[NCONC] = {0}, b;
    int child_accepted = 0;
    while (read(ids[0], &b, 1) == 1) {
        child_accepted++;
        if (b < NCONC)
            seen[b]++;
    }
    printf("concurrent: %d connections answered, %d accepted in all\n", replies,
           child_accepted + parent_accepted);
    CHECK(replies == NCONC && child_accepted + parent_accepted == NCONC,
          "concurrent: %d replies, child accepted %d, parent %d, want %d in all", replies,
          child_accepted, parent_accepted, NCONC);
    for (int i = 0; i < NCONC; i++)
        CHECK(seen[i] <= 1, "c%d accepted %d times by the child", i, seen[i]);
    NET(close)(l);
}

/* ---- idle_parent ---- */

/* A parent that holds only a listener and makes no call on it while its
 * child serves (nginx's master): on tapstack its TAP queue stops taking new
 * connections, which go to the child's. Once the child has gone, the
 * parent must be reached again: a TAP with no queue taking frames drops
 * them all. */
static void case_idle_parent(void)
{
    sync_pipes();
    int l = listen_on(SELF, 7620);
    pid_t pid = fork_child();
    if (pid == 0) {
        /* A call on the stack (on tapstack the child's own TAP queue
         * takes frames from then on); it accepts once the parent has
         * printed its lines. */
        (void)name_word(l, 0);
        await_turn(sync_p);
        accept_answer("child", "while the parent idles", l, "i0");
        tell(sync_c);
        child_exit();
    }
    /* No call on the stack for well over tapstack's 100 ms. */
    usleep(400 * 1000);
    PX("peer connect i0", "ok", P("connect 0 %s 7620", SELF));
    PX("peer send i0", "ok", P("send 0 i0"));
    tell(sync_p);
    /* The child's lines first, as in the other cases: the peer may have
     * its answer before the child's send returns to print "ok". */
    await_turn(sync_c);
    PX("peer recv i0", "data child has i0", P("recv 0 3000"));
    reap(pid);
    usleep(300 * 1000);
    /* The parent still makes no call until the connection is made. */
    PX("peer connect i1 after the child left", "ok", P("connect 1 %s 7620", SELF));
    PX("peer send i1", "ok", P("send 1 i1"));
    accept_answer("parent", "after the child left", l, "i1");
    PX("peer recv i1", "data parent has i1", P("recv 1 3000"));
    NET(close)(l);
}

/* ---- conn ---- */

static void case_conn(void)
{
    sync_pipes();
    int fd = connect_peer(0, 7602);
    printf("parent: local %s, peer %s\n", name_word(fd, 0), name_word(fd, 1));
    pid_t pid = fork_child();
    if (pid == 0) {
        printf("child: local %s, peer %s\n", name_word(fd, 0), name_word(fd, 1));
        say("child", fd, "from child");
        tell(sync_c);
        await_turn(sync_p);
        expect_hear("child", fd, "data to child");
        tell(sync_c);
        await_turn(sync_p);
        say("child", fd, "child again");
        child_exit();
    }
    await_turn(sync_c);
    PX("peer recv", "data from child", P("recv 0 3000"));
    PX("peer send", "ok", P("send 0 to child"));
    tell(sync_p);
    await_turn(sync_c);
    say("parent", fd, "from parent");
    PX("peer recv", "data from parent", P("recv 0 3000"));
    PX("peer send", "ok", P("send 0 to parent"));
    expect_hear("parent", fd, "data to parent");
    tell(sync_p);
    reap(pid);
    PX("peer recv", "data child again", P("recv 0 3000"));
    NET(close)(fd);
    PX("peer recv after the last close", "eof", P("recv 0 3000"));
}

/* ---- epoll ---- */

static void show_wait(const char *who, int ep, int ms, int want_n, uint64_t want_tag)
{
    struct epoll_event ev[4];
    memset(ev, 0, sizeof ev);
    int n = NET(epoll_wait)(ep, ev, 4, ms);
    if (n < 0) {
        printf("%s: epoll_wait: %s\n", who, ERRNAME(errno));
        CHECK(0, "%s: epoll_wait: %s", who, ERRNAME(errno));
        return;
    }
    printf("%s: epoll_wait: %d", who, n);
    for (int i = 0; i < n; i++)
        printf(" [tag %llu%s]", (unsigned long long)ev[i].data.u64,
               ev[i].events & EPOLLIN ? " IN" : "");
    printf("\n");
    CHECK(n == want_n && (n == 0 || (ev[0].data.u64 == want_tag && (ev[0].events & EPOLLIN))),
          "%s: epoll_wait gave %d (tag %llu), want %d (tag %llu)", who, n,
          (unsigned long long)ev[0].data.u64, want_n, (unsigned long long)want_tag);
}

static void case_epoll(void)
{
    sync_pipes();
    int fd = connect_peer(0, 7603);
    int ep = NET(epoll_create1)(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    CHECK(NET(epoll_ctl)(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl ADD: %s", ERRNAME(errno));
    pid_t pid = fork_child();
    if (pid == 0) {
        show_wait("child", ep, 0, 0, 0);
        tell(sync_c);
        await_turn(sync_p); /* the peer has sent "x" */
        show_wait("child", ep, 3000, 1, 1);
        tell(sync_c);
        await_turn(sync_p); /* the parent saw it too */
        ev.data.u64 = 2;
        int r = NET(epoll_ctl)(ep, EPOLL_CTL_MOD, fd, &ev);
        printf("child: EPOLL_CTL_MOD to tag 2: %s\n", r == 0 ? "ok" : ERRNAME(errno));
        CHECK(r == 0, "child: MOD: %s", ERRNAME(errno));
        tell(sync_c);
        await_turn(sync_p);
        expect_hear("child", fd, "data x");
        tell(sync_c);
        await_turn(sync_p);
        r = NET(epoll_ctl)(ep, EPOLL_CTL_DEL, fd, NULL);
        printf("child: EPOLL_CTL_DEL: %s\n", r == 0 ? "ok" : ERRNAME(errno));
        CHECK(r == 0, "child: DEL: %s", ERRNAME(errno));
        tell(sync_c);
        await_turn(sync_p);
        /* A socket of the child's own, added to the shared instance. */
        int mine = tcp_connect(PEER, 7603);
        struct epoll_event e2 = {.events = EPOLLIN, .data.u64 = 4};
        r = NET(epoll_ctl)(ep, EPOLL_CTL_ADD, mine, &e2);
        printf("child: EPOLL_CTL_ADD of its own new socket, tag 4: %s\n",
               r == 0 ? "ok" : ERRNAME(errno));
        CHECK(r == 0, "child: ADD: %s", ERRNAME(errno));
        tell(sync_c);
        await_turn(sync_p); /* the parent has seen tag 4; keep mine open until then */
        NET(close)(mine);
        child_exit();
    }
    await_turn(sync_c);
    PX("peer send", "ok", P("send 0 x"));
    tell(sync_p);
    await_turn(sync_c);
    show_wait("parent", ep, 3000, 1, 1);
    tell(sync_p);
    await_turn(sync_c); /* the child changed the tag */
    show_wait("parent", ep, 3000, 1, 2);
    tell(sync_p);
    await_turn(sync_c); /* the child read "x" */
    show_wait("parent", ep, 0, 0, 0);
    tell(sync_p);
    await_turn(sync_c); /* the child deleted fd from the set */
    PX("peer send", "ok", P("send 0 y"));
    show_wait("parent", ep, 300, 0, 0);
    ev.data.u64 = 3;
    CHECK(NET(epoll_ctl)(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "parent: ADD again: %s", ERRNAME(errno));
    printf("parent: EPOLL_CTL_ADD again, tag 3\n");
    show_wait("parent", ep, 3000, 1, 3);
    expect_hear("parent", fd, "data y");
    show_wait("parent", ep, 0, 0, 0);
    tell(sync_p);
    await_turn(sync_c); /* the child added its socket */
    PX("peer accept", "from self", P("accept 1 7603 3000 %s", SELF));
    PX("peer send", "ok", P("send 1 z"));
    show_wait("parent", ep, 3000, 1, 4);
    tell(sync_p);
    reap(pid);
    NET(close)(ep);
    NET(close)(fd);
}

/* ---- close ---- */

static void case_close(void)
{
    sync_pipes();
    /* 1. the child closes its copy */
    int fd = connect_peer(0, 7604);
    pid_t pid = fork_child();
    if (pid == 0) {
        int r = NET(close)(fd);
        printf("child: close: %s\n", r == 0 ? "ok" : ERRNAME(errno));
        child_exit();
    }
    reap(pid);
    PX("peer recv after the child's close", "timeout", P("recv 0 300"));
    say("parent", fd, "parent alive");
    PX("peer recv", "data parent alive", P("recv 0 3000"));
    /* 2. the child exits holding its copy */
    pid = fork_child();
    if (pid == 0)
        child_exit();
    reap(pid);
    PX("peer recv after the child's exit", "timeout", P("recv 0 300"));
    say("parent", fd, "still alive");
    PX("peer recv", "data still alive", P("recv 0 3000"));
    /* 3. the parent closes first; the child carries on, its close is the last */
    pid = fork_child();
    if (pid == 0) {
        await_turn(sync_p);
        say("child", fd, "child alive");
        tell(sync_c);
        await_turn(sync_p);
        expect_hear("child", fd, "data to child");
        NET(close)(fd);
        tell(sync_c);
        await_turn(sync_p);
        child_exit();
    }
    NET(close)(fd);
    printf("parent: closed its copy\n");
    PX("peer recv after the parent's close", "timeout", P("recv 0 300"));
    tell(sync_p);
    await_turn(sync_c);
    PX("peer recv", "data child alive", P("recv 0 3000"));
    PX("peer send", "ok", P("send 0 to child"));
    tell(sync_p);
    await_turn(sync_c);
    PX("peer recv after the last close", "eof", P("recv 0 3000"));
    tell(sync_p);
    reap(pid);
    /* 4. a listener: the parent closes its copy, the child still accepts */
    int l = listen_on(SELF, 7605);
    pid = fork_child();
    if (pid == 0) {
        await_turn(sync_p);
        int c = NET(accept)(l, NULL, NULL);
        printf("child: accept after the parent closed the listener: %s\n",
               c >= 0 ? "ok" : ERRNAME(errno));
        CHECK(c >= 0, "child accept: %s", ERRNAME(errno));
        if (c >= 0) {
            say("child", c, "accepted");
            NET(close)(c);
        }
        NET(close)(l);
        tell(sync_c);
        child_exit();
    }
    NET(close)(l);
    PX("peer connect", "ok", P("connect 1 %s 7605", SELF));
    tell(sync_p);
    await_turn(sync_c);
    PX("peer recv", "data accepted", P("recv 1 3000"));
    reap(pid);
    PX("peer connect after the last close of the listener", "err ECONNREFUSED",
       P("connect 2 %s 7605", SELF));
}

/* ---- shutdown ---- */

static void case_shutdown(void)
{
    sync_pipes();
    signal(SIGPIPE, SIG_IGN);
    int fd = connect_peer(0, 7606);
    pid_t pid = fork_child();
    if (pid == 0) {
        int r = NET(shutdown)(fd, SHUT_WR);
        printf("child: shutdown(SHUT_WR): %s\n", r == 0 ? "ok" : ERRNAME(errno));
        child_exit();
    }
    reap(pid);
    PX("peer recv after the child's shutdown", "eof", P("recv 0 3000"));
    errno = 0;
    ssize_t r = NET(send)(fd, "z\n", 2, MSG_NOSIGNAL);
    printf("parent: send after the child's shutdown: %zd %s\n", r, r < 0 ? ERRNAME(errno) : "");
    CHECK_ERR("parent send after shutdown", r, errno, EPIPE);
    PX("peer send", "ok", P("send 0 late"));
    expect_hear("parent", fd, "data late");
    PX("peer close", "ok", P("close 0"));
    expect_hear("parent", fd, "eof");
    NET(close)(fd);
    /* A listener: the child's shutdown stops it for the parent too. */
    int l = listen_on(SELF, 7607);
    pid = fork_child();
    if (pid == 0) {
        int r2 = NET(shutdown)(l, SHUT_RDWR);
        printf("child: shutdown of the inherited listener: %s\n", r2 == 0 ? "ok" : ERRNAME(errno));
        child_exit();
    }
    reap(pid);
    NET(fcntl)(l, F_SETFL, O_NONBLOCK);
    errno = 0;
    int c = NET(accept)(l, NULL, NULL);
    printf("parent: accept after the child's shutdown: %d %s\n", c, c < 0 ? ERRNAME(errno) : "");
    CHECK_ERR("parent accept after shutdown", c, errno, EINVAL);
    PX("peer connect", "err ECONNREFUSED", P("connect 1 %s 7607", SELF));
    NET(close)(l);
}

/* ---- newsock ---- */

static void case_newsock(void)
{
    sync_pipes();
    int l = listen_on("0.0.0.0", 7608);
    PX("peer listen", "ok", P("listen 7609"));
    pid_t pid = fork_child();
    if (pid == 0) {
        /* A new connection to the peer: from the same address. */
        int c = tcp_connect(PEER, 7609);
        printf("child: new socket, local %s\n", name_word(c, 0));
        tell(sync_c);
        await_turn(sync_p);
        say("child", c, "child's own");
        tell(sync_c);
        await_turn(sync_p);
        /* The parent's port is taken on this stack. */
        int s = tcp_socket();
        struct sockaddr_in a = addr_of("0.0.0.0", 7608);
        errno = 0;
        int r = NET(bind)(s, (struct sockaddr *)&a, sizeof a);
        printf("child: bind to the parent's port: %d %s\n", r, r < 0 ? ERRNAME(errno) : "");
        CHECK_ERR("child bind to the parent's port", r, errno, EADDRINUSE);
        NET(close)(s);
        /* A listener of the child's own, reached by the peer at SELF. */
        int cl = listen_on(SELF, 7610);
        tell(sync_c);
        await_turn(sync_p);
        int a1 = NET(accept)(cl, NULL, NULL);
        printf("child: accept on its own listener: %s\n", a1 >= 0 ? "ok" : ERRNAME(errno));
        if (a1 >= 0) {
            say("child", a1, "child listens");
            NET(close)(a1);
        }
        NET(close)(cl);
        tell(sync_c);
        await_turn(sync_p);
        /* The parent's listener, through 127.0.0.1 and SELF. */
        const char *to[2] = {"127.0.0.1", SELF};
        for (int i = 0; i < 2; i++) {
            int k = tcp_connect(to[i], 7608);
            say(i ? "child to self" : "child to 127.0.0.1", k, i ? "via self" : "via loopback");
            tell(sync_c);
            await_turn(sync_p);
            NET(close)(k);
        }
        NET(close)(c);
        child_exit();
    }
    await_turn(sync_c);
    PX("peer accept the child's connection", "from self", P("accept 0 7609 3000 %s", SELF));
    tell(sync_p);
    await_turn(sync_c);
    PX("peer recv", "data child's own", P("recv 0 3000"));
    tell(sync_p);
    await_turn(sync_c);
    PX("peer connect to the child's listener", "ok", P("connect 1 %s 7610", SELF));
    tell(sync_p);
    await_turn(sync_c);
    PX("peer recv", "data child listens", P("recv 1 3000"));
    tell(sync_p);
    const char *want[2] = {"data via loopback", "data via self"};
    for (int i = 0; i < 2; i++) {
        await_turn(sync_c);
        int a = NET(accept)(l, NULL, NULL);
        printf("parent: accept the child's connection: %s\n", a >= 0 ? "ok" : ERRNAME(errno));
        CHECK(a >= 0, "parent accept: %s", ERRNAME(errno));
        if (a >= 0) {
            expect_hear("parent", a, want[i]);
            NET(close)(a);
        }
        tell(sync_p);
    }
    reap(pid);
    NET(close)(l);
}

/* ---- exec ---- */

static char *self_exe;

static void case_exec_cat(void)
{
    int fd = connect_peer(0, 7611);
    pid_t pid = fork_child();
    if (pid == 0) {
        if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
            DIE("dup2: %s", ERRNAME(errno));
        close(fd);
        execl("/bin/cat", "cat", (char *)NULL);
        DIE("exec /bin/cat: %s", ERRNAME(errno));
    }
    NET(close)(fd);
    printf("parent: cat started with the connection on stdin and stdout\n");
    PX("peer send", "ok", P("send 0 hello cat"));
    PX("peer recv", "data hello cat", P("recv 0 3000"));
    PX("peer send", "ok", P("send 0 second line"));
    PX("peer recv", "data second line", P("recv 0 3000"));
    PX("peer shutwr", "ok", P("shutwr 0"));
    reap(pid);
    printf("parent: cat ended\n");
    PX("peer recv after cat's exit", "eof", P("recv 0 3000"));
}

/* The exec'd image: fd 10 is the connection, fd 11 had FD_CLOEXEC. */
static int exec_child(void)
{
    alarm(10);
    int fd = 10;
    int fl = fcntl(fd, F_GETFD);
    printf("exec-child: fd 10 F_GETFD: %d\n", fl);
    CHECK(fl == 0, "exec-child: fd 10 F_GETFD %d %s", fl, ERRNAME(errno));
    errno = 0;
    int r = fcntl(11, F_GETFD);
    printf("exec-child: fd 11 (FD_CLOEXEC) after exec: %d %s\n", r, r < 0 ? ERRNAME(errno) : "");
    CHECK_ERR("exec-child: the FD_CLOEXEC socket", r, errno, EBADF);
    printf("exec-child: fd 10 local %s, peer %s\n", name_word(fd, 0), name_word(fd, 1));
    int type = -1;
    socklen_t tl = sizeof type;
    r = NET(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &tl);
    printf("exec-child: SO_TYPE %s\n", r == 0 && type == SOCK_STREAM ? "SOCK_STREAM" : "other");
    expect_hear("exec-child", fd, "data to the new image");
    say("exec-child", fd, "from the new image");
    NET(close)(fd);
    fflush(stdout);
    return failures ? 1 : 0;
}

static void case_exec_self(void)
{
    int fd = connect_peer(0, 7612);
    int ce = tcp_connect(PEER, 7612);
    PX("peer accept", "from self", P("accept 1 7612 3000 %s", SELF));
    int ce_fl = NET(fcntl)(ce, F_GETFD);
    NET(fcntl)(ce, F_SETFD, ce_fl | FD_CLOEXEC);
    int out[2];
    if (pipe(out) != 0)
        DIE("pipe: %s", ERRNAME(errno));
    pid_t pid = fork_child();
    if (pid == 0) {
        /* The new image's lines come back through a pipe: the parent
         * prints them after it, in a fixed order. */
        if (dup2(out[1], 1) < 0)
            DIE("dup2: %s", ERRNAME(errno));
        close(out[0]);
        close(out[1]);
        if (NET(dup2)(fd, 10) < 0 || NET(dup2)(ce, 11) < 0)
            DIE("dup2: %s", ERRNAME(errno));
        NET(close)(fd);
        NET(close)(ce);
        NET(fcntl)(11, F_SETFD, FD_CLOEXEC);
        execl(self_exe, "fork_shared", "exec-child", SELF, PEER, (char *)NULL);
        DIE("exec %s: %s", self_exe, ERRNAME(errno));
    }
    NET(close)(fd);
    NET(close)(ce);
    printf("parent: closed its copies\n");
    /* The FD_CLOEXEC socket's last fd went with the exec (and the parent's
     * close): the peer sees its FIN. */
    PX("peer recv on the FD_CLOEXEC connection", "eof", P("recv 1 3000"));
    PX("peer send", "ok", P("send 0 to the new image"));
    PX("peer recv", "data from the new image", P("recv 0 3000"));
    close(out[1]);
    reap(pid);
    char buf[4096];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    close(out[0]);
    PX("peer recv after the new image's close", "eof", P("recv 0 3000"));
}

/* ---- main ---- */

static const struct {
    const char *name;
    void (*run)(void);
} cases[] = {
    {"accept", case_accept},     {"conn", case_conn},         {"epoll", case_epoll},
    {"close", case_close},       {"shutdown", case_shutdown}, {"newsock", case_newsock},
    {"exec_cat", case_exec_cat}, {"exec_self", case_exec_self}, {"idle_parent", case_idle_parent},
};

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && !strcmp(argv[1], "--list")) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            printf("%s\n", cases[i].name);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "peer"))
        return run_peer(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "exec-child")) {
        SELF = argv[2];
        PEER = argv[3];
        return exec_child();
    }
    if (argc != 5) {
        fprintf(stderr, "usage: %s --list | peer CTLPATH | CASE SELF PEER CTLPATH\n", argv[0]);
        return 2;
    }
    SELF = argv[2];
    PEER = argv[3];
    self_exe = realpath("/proc/self/exe", NULL);
    alarm(10);
    ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    snprintf(u.sun_path, sizeof u.sun_path, "%s", argv[4]);
    if (connect(ctl, (struct sockaddr *)&u, sizeof u) != 0)
        DIE("connect to the peer at %s: %s", argv[4], ERRNAME(errno));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!strcmp(argv[1], cases[i].name)) {
            cases[i].run();
            if (failures == 0)
                printf("OK\n");
            return failures ? 1 : 0;
        }
    }
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
}
