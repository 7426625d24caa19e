/*
 * ipv6_dual SELF
 *
 * Dual-stack AF_INET6 TCP sockets, as a server opening socket(AF_INET6)
 * and binding :: sees them (iperf3, python3 -m http.server): bind, listen,
 * accept, connect, getsockname, getpeername, recvfrom and the IPv6 socket
 * options, with every errno case (wrong lengths, wrong families, an AF_INET
 * address on an AF_INET6 socket, IPV6_V6ONLY). Self-contained: the program
 * connects to its own listeners through SELF (its IPv4 address), 127.0.0.1
 * and ::1.
 *
 * Prints one line per result, with SELF in place of the address and "eph"
 * for an ephemeral port, so that the kernel's run and tapstack's can be
 * compared line by line (scripts/system/ipv6_dual.sh); also asserts the
 * values (Linux's) itself: "FAIL what" lines and exit status 1.
 */
#include "common.h"
#include <poll.h>
#include <sys/ioctl.h>

static const char *self;
enum { PORT_DUAL = 5301, PORT_LO = 5302, PORT_V6ONLY = 5303 };

/* Prints "what: 0" or "what: -1 ENAME" and checks it against want_errno
 * (0: success). */
static void res(const char *what, int r, int want_errno)
{
    int e = errno;
    if (r >= 0)
        printf("%s: ok\n", what);
    else
        printf("%s: -1 %s\n", what, ERRNAME(e));
    if (want_errno == 0)
        CHECK(r >= 0, "%s: got -1 %s, want success", what, ERRNAME(e));
    else
        CHECK_ERR(what, r, e, want_errno);
}

/* An address as text, SELF for our address, "eph" for a port other than
 * the fixed ones. */
static void addr_text(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    unsigned flow = 0, scope = 0;
    const char *fam = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        port = ntohs(s6->sin6_port);
        flow = ntohl(s6->sin6_flowinfo);
        scope = s6->sin6_scope_id;
        fam = "AF_INET6";
    } else if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        port = ntohs(s4->sin_port);
        fam = "AF_INET";
    }
    char shown[80];
    const char *at = strstr(ip, self);
    if (at && strlen(at) == strlen(self))
        snprintf(shown, sizeof shown, "%.*sSELF", (int)(at - ip), ip);
    else
        snprintf(shown, sizeof shown, "%s", ip);
    char ports[16];
    if (port == 0 || port == PORT_DUAL || port == PORT_LO || port == PORT_V6ONLY)
        snprintf(ports, sizeof ports, "%d", port);
    else
        snprintf(ports, sizeof ports, "eph");
    snprintf(out, n, "len=%u %s %s port=%s flow=%u scope=%u", (unsigned)len, fam, shown, ports,
             flow, scope);
}

/* Prints an address and checks it is `want` (as addr_text shows it). */
static void show(const char *what, const struct sockaddr_storage *ss, socklen_t len,
                 const char *want)
{
    char got[160];
    addr_text(ss, len, got, sizeof got);
    printf("%s: %s\n", what, got);
    CHECK(strcmp(got, want) == 0, "%s: got '%s', want '%s'", what, got, want);
}

static void name_of(const char *what, int fd, int peer, const char *want)
{
    struct sockaddr_storage ss;
    memset(&ss, 0xee, sizeof ss);
    socklen_t len = sizeof ss;
    int r = peer ? NET(getpeername)(fd, (struct sockaddr *)&ss, &len)
                 : NET(getsockname)(fd, (struct sockaddr *)&ss, &len);
    if (r != 0) {
        res(what, r, 0);
        return;
    }
    show(what, &ss, len, want);
}

static struct sockaddr_in6 in6(const char *ip, int port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, ip, &a.sin6_addr) != 1)
        DIE("bad address %s", ip);
    return a;
}

/* "::ffff:SELF" with the real address. */
static const char *mapped_self(void)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "::ffff:%s", self);
    return buf;
}

static int sock6(void)
{
    int fd = NET(socket)(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        DIE("socket(AF_INET6): %s", ERRNAME(errno));
    return fd;
}

static int getint(int fd, int level, int name, socklen_t *lenp)
{
    int v = -12345;
    socklen_t len = sizeof v;
    if (NET(getsockopt)(fd, level, name, &v, &len) != 0)
        return -1000 - errno;
    if (lenp)
        *lenp = len;
    return v;
}

static void opt_is(const char *what, int fd, int level, int name, int want)
{
    int v = getint(fd, level, name, NULL);
    printf("%s: %d\n", what, v);
    CHECK(v == want, "%s: got %d, want %d", what, v, want);
}

static int setint(int fd, int level, int name, int v, socklen_t len)
{
    return NET(setsockopt)(fd, level, name, &v, len);
}

static void exchange(int a, int b)
{
    char buf[8] = {0};
    CHECK(NET(send)(a, "ping", 4, 0) == 4, "send ping: %s", ERRNAME(errno));
    CHECK(read_full(b, buf, 4) == 4 && memcmp(buf, "ping", 4) == 0, "ping did not arrive");
    CHECK(NET(send)(b, "pong", 4, 0) == 4, "send pong: %s", ERRNAME(errno));
    CHECK(read_full(a, buf, 4) == 4 && memcmp(buf, "pong", 4) == 0, "pong did not arrive");
}

static void basics(void)
{
    int fd = sock6();
    opt_is("SO_DOMAIN", fd, SOL_SOCKET, SO_DOMAIN, AF_INET6);
    opt_is("SO_PROTOCOL", fd, SOL_SOCKET, SO_PROTOCOL, IPPROTO_TCP);
    opt_is("IPV6_V6ONLY default", fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
    name_of("getsockname unbound", fd, 0, "len=28 AF_INET6 :: port=0 flow=0 scope=0");
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    res("getpeername unconnected", NET(getpeername)(fd, (struct sockaddr *)&ss, &len), ENOTCONN);

    /* Wrong lengths and families, in Linux's order of checks. */
    struct sockaddr_in a4 = addr_of(self, PORT_DUAL);
    res("bind AF_INET addr len 16", NET(bind)(fd, (struct sockaddr *)&a4, sizeof a4), EINVAL);
    struct sockaddr_in6 a6 = in6("::", 0);
    res("bind len 23", NET(bind)(fd, (struct sockaddr *)&a6, 23), EINVAL);
    res("bind len 0", NET(bind)(fd, (struct sockaddr *)&a6, 0), EINVAL);
    res("bind len 129", NET(bind)(fd, (struct sockaddr *)&a6, 129), EINVAL);
    struct sockaddr_storage big;
    memset(&big, 0, sizeof big);
    memcpy(&big, &a4, sizeof a4);
    res("bind AF_INET addr len 28", NET(bind)(fd, (struct sockaddr *)&big, 28), EAFNOSUPPORT);
    struct sockaddr_in6 b = in6("2001:db8::1", 0);
    res("bind 2001:db8::1", NET(bind)(fd, (struct sockaddr *)&b, sizeof b), EADDRNOTAVAIL);
    b = in6("fe80::1", 0);
    res("bind fe80::1 no scope", NET(bind)(fd, (struct sockaddr *)&b, sizeof b), EINVAL);
    b = in6("ff02::1", 0);
    res("bind ff02::1", NET(bind)(fd, (struct sockaddr *)&b, sizeof b), EINVAL);
    b = in6("::ffff:192.0.2.1", 0);
    res("bind ::ffff:192.0.2.1", NET(bind)(fd, (struct sockaddr *)&b, sizeof b), EADDRNOTAVAIL);

    res("connect AF_INET addr len 16", NET(connect)(fd, (struct sockaddr *)&a4, sizeof a4),
        EINVAL);
    res("connect AF_INET addr len 28", NET(connect)(fd, (struct sockaddr *)&big, 28),
        EAFNOSUPPORT);
    b = in6("2001:db8::1", 9);
    res("connect 2001:db8::1", NET(connect)(fd, (struct sockaddr *)&b, sizeof b), ENETUNREACH);
    b = in6("fe80::1", 9);
    res("connect fe80::1 no scope", NET(connect)(fd, (struct sockaddr *)&b, sizeof b), EINVAL);
    b = in6("ff02::1", 9);
    res("connect ff02::1", NET(connect)(fd, (struct sockaddr *)&b, sizeof b), ENETUNREACH);

    /* An AF_INET6 address on an AF_INET socket. */
    int f4 = tcp_socket();
    a6 = in6("::", 0);
    res("AF_INET bind sockaddr_in6", NET(bind)(f4, (struct sockaddr *)&a6, sizeof a6),
        EAFNOSUPPORT);
    res("AF_INET connect sockaddr_in6", NET(connect)(f4, (struct sockaddr *)&a6, sizeof a6),
        EAFNOSUPPORT);
    res("AF_INET set IPV6_V6ONLY", setint(f4, IPPROTO_IPV6, IPV6_V6ONLY, 1, 4), ENOPROTOOPT);
    /* Linux's ip_getsockopt says EOPNOTSUPP where ip_setsockopt says
     * ENOPROTOOPT. */
    opt_is("AF_INET get IPV6_V6ONLY", f4, IPPROTO_IPV6, IPV6_V6ONLY, -1000 - EOPNOTSUPP);
    NET(close)(f4);
    NET(close)(fd);
}

static void options(void)
{
    int fd = sock6();
    res("IPV6_V6ONLY len 2", setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, 2), EINVAL);
    res("IPV6_V6ONLY 7", setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, 7, 4), 0);
    opt_is("IPV6_V6ONLY after 7", fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    res("IPV6_V6ONLY 0", setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0, 4), 0);
    opt_is("IPV6_V6ONLY after 0", fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
    unsigned char c = 0x55;
    socklen_t l1 = 1;
    res("get IPV6_V6ONLY len 1", NET(getsockopt)(fd, IPPROTO_IPV6, IPV6_V6ONLY, &c, &l1), 0);
    printf("get IPV6_V6ONLY len 1: len=%u value=%u\n", (unsigned)l1, c);
    CHECK(l1 == 1 && c == 0, "get IPV6_V6ONLY len 1: len %u value %u", (unsigned)l1, c);

    opt_is("IPV6_TCLASS default", fd, IPPROTO_IPV6, IPV6_TCLASS, 0);
    res("IPV6_TCLASS 0x2b", setint(fd, IPPROTO_IPV6, IPV6_TCLASS, 0x2b, 4), 0);
    opt_is("IPV6_TCLASS after 0x2b", fd, IPPROTO_IPV6, IPV6_TCLASS, 0x28);
    res("IPV6_TCLASS 256", setint(fd, IPPROTO_IPV6, IPV6_TCLASS, 256, 4), EINVAL);
    res("IPV6_TCLASS -2", setint(fd, IPPROTO_IPV6, IPV6_TCLASS, -2, 4), EINVAL);
    res("IPV6_TCLASS -1", setint(fd, IPPROTO_IPV6, IPV6_TCLASS, -1, 4), 0);
    opt_is("IPV6_TCLASS after -1", fd, IPPROTO_IPV6, IPV6_TCLASS, 0);
    res("IPV6_TCLASS len 2", setint(fd, IPPROTO_IPV6, IPV6_TCLASS, 8, 2), EINVAL);

    opt_is("IPV6_UNICAST_HOPS default", fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 64);
    res("IPV6_UNICAST_HOPS 10", setint(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 10, 4), 0);
    opt_is("IPV6_UNICAST_HOPS after 10", fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 10);
    res("IPV6_UNICAST_HOPS 256", setint(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 256, 4), EINVAL);
    res("IPV6_UNICAST_HOPS -1", setint(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, -1, 4), 0);
    opt_is("IPV6_UNICAST_HOPS after -1", fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 64);

    opt_is("IPV6_RECVPKTINFO default", fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 0);
    res("IPV6_RECVPKTINFO 1", setint(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, 4), 0);
    opt_is("IPV6_RECVPKTINFO after 1", fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
    res("IPV6_RECVTCLASS 1", setint(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1, 4), 0);
    opt_is("IPV6_RECVTCLASS after 1", fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
    opt_is("IPV6_MTU_DISCOVER default", fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_WANT);
    res("IPV6_MTU_DISCOVER 6", setint(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, 6, 4), EINVAL);
    res("IPV6_MTU_DISCOVER DO", setint(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO, 4),
        0);
    opt_is("IPV6_MTU_DISCOVER after DO", fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO);
    res("IPV6_MULTICAST_HOPS", setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 1, 4), ENOPROTOOPT);
    res("IPV6 option 9999", setint(fd, IPPROTO_IPV6, 9999, 1, 4), ENOPROTOOPT);

    /* IPv4 options apply to the v4-mapped traffic. */
    res("IP_TOS 0x10", setint(fd, IPPROTO_IP, IP_TOS, 0x10, 4), 0);
    opt_is("IP_TOS after 0x10", fd, IPPROTO_IP, IP_TOS, 0x10);
    NET(close)(fd);
}

/* A listener on [::]:PORT_DUAL takes IPv4 connections, v4-mapped. */
static void dual_listener(void)
{
    int l = sock6();
    int one = 1;
    res("SO_REUSEADDR", NET(setsockopt)(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    res("IPV6_V6ONLY 0 before bind", setint(l, IPPROTO_IPV6, IPV6_V6ONLY, 0, 4), 0);
    struct sockaddr_in6 any = in6("::", PORT_DUAL);
    res("bind [::]", NET(bind)(l, (struct sockaddr *)&any, sizeof any), 0);
    res("bind twice", NET(bind)(l, (struct sockaddr *)&any, sizeof any), EINVAL);
    res("IPV6_V6ONLY after bind", setint(l, IPPROTO_IPV6, IPV6_V6ONLY, 1, 4), EINVAL);
    res("listen", NET(listen)(l, 8), 0);
    name_of("listener name", l, 0, "len=28 AF_INET6 :: port=5301 flow=0 scope=0");

    /* An IPv4 client. */
    int c = tcp_connect(self, PORT_DUAL);
    struct sockaddr_storage ss;
    memset(&ss, 0xee, sizeof ss);
    socklen_t len = sizeof ss;
    int a = NET(accept)(l, (struct sockaddr *)&ss, &len);
    res("accept v4 client", a, 0);
    show("accept v4 client peer", &ss, len, "len=28 AF_INET6 ::ffff:SELF port=eph flow=0 scope=0");
    name_of("accepted name", a, 0, "len=28 AF_INET6 ::ffff:SELF port=5301 flow=0 scope=0");
    name_of("accepted peer", a, 1, "len=28 AF_INET6 ::ffff:SELF port=eph flow=0 scope=0");
    name_of("v4 client peer", c, 1, "len=16 AF_INET SELF port=5301 flow=0 scope=0");
    opt_is("accepted SO_DOMAIN", a, SOL_SOCKET, SO_DOMAIN, AF_INET6);
    opt_is("accepted IPV6_V6ONLY", a, IPPROTO_IPV6, IPV6_V6ONLY, 0);
    exchange(c, a);
    char buf[8];
    memset(&ss, 0xee, sizeof ss);
    len = sizeof ss;
    CHECK(NET(send)(c, "x", 1, 0) == 1, "send x");
    ssize_t n = NET(recvfrom)(a, buf, sizeof buf, 0, (struct sockaddr *)&ss, &len);
    printf("recvfrom: %zd len=%u\n", n, (unsigned)len);
    CHECK(n == 1 && len == 0, "recvfrom on TCP: %zd bytes, addrlen %u (want 1, 0)", n,
          (unsigned)len);
    NET(close)(a);
    NET(close)(c);

    /* An IPv6 client to a v4-mapped address. */
    int c6 = sock6();
    struct sockaddr_in6 to = in6(mapped_self(), PORT_DUAL);
    res("connect ::ffff:SELF", NET(connect)(c6, (struct sockaddr *)&to, sizeof to), 0);
    name_of("v6 client name", c6, 0, "len=28 AF_INET6 ::ffff:SELF port=eph flow=0 scope=0");
    name_of("v6 client peer", c6, 1, "len=28 AF_INET6 ::ffff:SELF port=5301 flow=0 scope=0");
    res("connect again", NET(connect)(c6, (struct sockaddr *)&to, sizeof to), EISCONN);
    /* A short address buffer: Linux copies what fits and reports 28. */
    unsigned char small[8];
    memset(small, 0xee, sizeof small);
    len = sizeof small;
    a = NET(accept)(l, (struct sockaddr *)small, &len);
    res("accept len 8", a, 0);
    sa_family_t fam;
    memcpy(&fam, small, sizeof fam);
    printf("accept len 8: len=%u family=%u port=%s\n", (unsigned)len, (unsigned)fam,
           small[2] == 0xee ? "absent" : "copied");
    CHECK(len == 28 && fam == AF_INET6 && small[2] != 0xee, "accept len 8: len %u family %u",
          (unsigned)len, (unsigned)fam);
    exchange(c6, a);
    NET(close)(a);
    NET(close)(c6);

    /* Through 127.0.0.1, and with a zero length. */
    c = tcp_connect("127.0.0.1", PORT_DUAL);
    len = 0;
    a = NET(accept)(l, (struct sockaddr *)&ss, &len);
    res("accept len 0", a, 0);
    printf("accept len 0: len=%u\n", (unsigned)len);
    CHECK(len == 28, "accept len 0: len %u", (unsigned)len);
    name_of("loopback accepted peer", a, 1,
            "len=28 AF_INET6 ::ffff:127.0.0.1 port=eph flow=0 scope=0");
    name_of("loopback accepted name", a, 0,
            "len=28 AF_INET6 ::ffff:127.0.0.1 port=5301 flow=0 scope=0");
    NET(close)(a);
    NET(close)(c);
    NET(close)(l);
}

/* ::1, as a client resolving localhost to ::1 first uses it. */
static void loopback6(void)
{
    int l = sock6();
    int one = 1;
    NET(setsockopt)(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in6 lo = in6("::1", PORT_LO);
    res("bind [::1]", NET(bind)(l, (struct sockaddr *)&lo, sizeof lo), 0);
    opt_is("IPV6_V6ONLY after bind ::1", l, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    res("listen [::1]", NET(listen)(l, 8), 0);
    name_of("[::1] listener name", l, 0, "len=28 AF_INET6 ::1 port=5302 flow=0 scope=0");
    int c = sock6();
    res("connect [::1]", NET(connect)(c, (struct sockaddr *)&lo, sizeof lo), 0);
    name_of("[::1] client name", c, 0, "len=28 AF_INET6 ::1 port=eph flow=0 scope=0");
    name_of("[::1] client peer", c, 1, "len=28 AF_INET6 ::1 port=5302 flow=0 scope=0");
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int a = NET(accept)(l, (struct sockaddr *)&ss, &len);
    res("accept [::1]", a, 0);
    show("[::1] accepted peer", &ss, len, "len=28 AF_INET6 ::1 port=eph flow=0 scope=0");
    exchange(c, a);
    NET(close)(a);
    NET(close)(c);
    /* ::1 is not 127.0.0.1: an IPv4 client finds no listener there. */
    int c4 = tcp_socket();
    struct sockaddr_in lo4 = addr_of("127.0.0.1", PORT_LO);
    res("connect 127.0.0.1 to the [::1] port", NET(connect)(c4, (struct sockaddr *)&lo4, sizeof lo4),
        ECONNREFUSED);
    NET(close)(c4);
    NET(close)(l);
}

/* IPV6_V6ONLY on [::]: no IPv4, and an AF_INET listener may share the
 * port (nginx's "listen 80; listen [::]:80;"). */
static void v6only(void)
{
    int l6 = sock6();
    res("V6ONLY 1", setint(l6, IPPROTO_IPV6, IPV6_V6ONLY, 1, 4), 0);
    struct sockaddr_in6 m = in6(mapped_self(), PORT_V6ONLY);
    res("V6ONLY bind ::ffff:SELF", NET(bind)(l6, (struct sockaddr *)&m, sizeof m), EINVAL);
    res("V6ONLY connect ::ffff:SELF", NET(connect)(l6, (struct sockaddr *)&m, sizeof m),
        ENETUNREACH);
    struct sockaddr_in6 any = in6("::", PORT_V6ONLY);
    res("V6ONLY bind [::]", NET(bind)(l6, (struct sockaddr *)&any, sizeof any), 0);
    res("V6ONLY bind twice", NET(bind)(l6, (struct sockaddr *)&any, sizeof any), EINVAL);
    res("V6ONLY listen", NET(listen)(l6, 8), 0);
    name_of("V6ONLY listener name", l6, 0, "len=28 AF_INET6 :: port=5303 flow=0 scope=0");
    int l4 = tcp_socket();
    struct sockaddr_in a4 = addr_of("0.0.0.0", PORT_V6ONLY);
    res("AF_INET bind same port", NET(bind)(l4, (struct sockaddr *)&a4, sizeof a4), 0);
    res("AF_INET listen same port", NET(listen)(l4, 8), 0);
    int c = tcp_connect(self, PORT_V6ONLY);
    int a = NET(accept)(l4, NULL, NULL);
    res("the AF_INET listener takes the IPv4 client", a, 0);
#ifndef TAPSTACK_DIRECT
    /* A listener with nothing to accept reports nothing (plain poll: the
     * direct build has no poll of its own; the script drops these lines
     * there). */
    struct pollfd p = {.fd = l6, .events = POLLIN | POLLOUT};
    int pr = poll(&p, 1, 0);
    printf("poll V6ONLY listener: %d revents=%#x\n", pr, (unsigned)p.revents);
    CHECK(pr == 0 && p.revents == 0, "poll V6ONLY listener: %d revents %#x", pr,
          (unsigned)p.revents);
#endif
    int on = 1;
    res("V6ONLY FIONBIO", NET(ioctl)(l6, FIONBIO, &on), 0);
    res("V6ONLY accept: nothing", NET(accept)(l6, NULL, NULL), EAGAIN);
    /* An IPv6 client over ::1 is the V6ONLY listener's. */
    int off = 0;
    res("V6ONLY FIONBIO 0", NET(ioctl)(l6, FIONBIO, &off), 0);
    int c6 = sock6();
    struct sockaddr_in6 lo6 = in6("::1", PORT_V6ONLY);
    res("V6ONLY connect [::1]", NET(connect)(c6, (struct sockaddr *)&lo6, sizeof lo6), 0);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int a6 = NET(accept)(l6, (struct sockaddr *)&ss, &len);
    res("V6ONLY accept [::1] client", a6, 0);
    show("V6ONLY accepted peer", &ss, len, "len=28 AF_INET6 ::1 port=eph flow=0 scope=0");
    name_of("V6ONLY accepted name", a6, 0, "len=28 AF_INET6 ::1 port=5303 flow=0 scope=0");
    exchange(c6, a6);
    NET(close)(a6);
    NET(close)(c6);
    NET(close)(a);
    NET(close)(c);
    NET(close)(l4);
    NET(close)(l6);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ipv6_dual SELF\n");
        return 2;
    }
    self = argv[1];
    alarm(30);
    basics();
    options();
    dual_listener();
    loopback6();
    v6only();
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
