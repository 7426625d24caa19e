/*
 * common.h: small helpers shared by the C test programs (header only, so
 * each program stays one file plus this).
 *
 *   CHECK(cond, fmt, ...)   on false: print "FAIL <what>" with the values,
 *                           count the failure (failures), carry on
 *   DIE(fmt, ...)           print "FAIL ..." and exit 1
 *   ERRNAME(e)              "ECONNREFUSED" for ECONNREFUSED
 *   addr_of(host, port)     a sockaddr_in
 *   tcp_connect(host, port) blocking connect, or DIE
 *   tcp_listen(port, backlog, reuse)
 *   tcp_state(fd)           tcpi_state from TCP_INFO, or -1
 *   STATE_NAME(s)           "ESTABLISHED", "CLOSE_WAIT", ... (Linux numbering)
 *   pattern_fill            a deterministic byte stream (xorshift64)
 *   sha256_*                a small SHA-256 (FIPS 180-4), hex digest
 *   write_all / read_full   loops over partial transfers
 *   now_ms()                monotonic milliseconds
 */
#ifndef COMMON_H
#define COMMON_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

static int failures __attribute__((unused));

#define ERRNAME(e) (strerrorname_np(e) ? strerrorname_np(e) : "E?")

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            printf("FAIL ");                                                 \
            printf(__VA_ARGS__);                                             \
            printf("\n");                                                    \
            fflush(stdout);                                                  \
            failures++;                                                      \
        }                                                                    \
    } while (0)

#define DIE(...)                                                             \
    do {                                                                     \
        printf("FAIL ");                                                     \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
        fflush(stdout);                                                      \
        exit(1);                                                             \
    } while (0)

/* Call returned r with errno e; want -1 and errno want. */
#define CHECK_ERR(what, r, e, want)                                          \
    CHECK((r) == -1 && (e) == (want), "%s: got %ld errno=%s, want -1 %s",   \
          what, (long)(r), ERRNAME(e), ERRNAME(want))

static inline long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static inline struct sockaddr_in addr_of(const char *host, int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        DIE("bad address %s", host);
    return a;
}

static inline int tcp_socket(void)
{
    int fd = NET(socket)(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        DIE("socket: %s", ERRNAME(errno));
    return fd;
}

static inline int tcp_connect(const char *host, int port)
{
    int fd = tcp_socket();
    struct sockaddr_in a = addr_of(host, port);
    if (NET(connect)(fd, (struct sockaddr *)&a, sizeof a) != 0)
        DIE("connect %s:%d: %s", host, port, ERRNAME(errno));
    return fd;
}

static inline int tcp_listen(int port, int backlog, int reuse)
{
    int fd = tcp_socket();
    int one = 1;
    if (reuse && NET(setsockopt)(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        DIE("setsockopt SO_REUSEADDR: %s", ERRNAME(errno));
    struct sockaddr_in a = addr_of("0.0.0.0", port);
    if (NET(bind)(fd, (struct sockaddr *)&a, sizeof a) != 0)
        DIE("bind port %d: %s", port, ERRNAME(errno));
    if (NET(listen)(fd, backlog) != 0)
        DIE("listen: %s", ERRNAME(errno));
    return fd;
}

/* tcpi_state of a TCP socket (Linux numbering), -1 on error. */
static inline int tcp_state(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (NET(getsockopt)(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return -1;
    return ti.tcpi_state;
}

static const char *const state_names[] = {
    "0?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
    "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
};
#define STATE_NAME(s) ((s) >= 0 && (s) <= 11 ? state_names[s] : "ERROR")

/* Waits up to ms for fd's TCP state to become want; returns the last seen. */
static inline int wait_state(int fd, int want, long ms)
{
    long long end = now_ms() + ms;
    int s = tcp_state(fd);
    while (s != want && now_ms() < end) {
        sleep_ms(10);
        s = tcp_state(fd);
    }
    return s;
}

static inline ssize_t write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = NET(send)(fd, p + done, len - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* Reads exactly len bytes unless EOF or an error comes first. */
static inline ssize_t read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = NET(recv)(fd, p + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* A deterministic byte stream: xorshift64, 8 bytes per step. */
struct pattern {
    uint64_t s;
};

static inline void pattern_init(struct pattern *p, uint64_t seed)
{
    p->s = seed * 0x9E3779B97F4A7C15ull + 1;
}

static inline void pattern_fill(struct pattern *p, unsigned char *buf, size_t len)
{
    for (size_t i = 0; i < len; i += 8) {
        p->s ^= p->s << 13;
        p->s ^= p->s >> 7;
        p->s ^= p->s << 17;
        uint64_t v = p->s;
        for (size_t j = 0; j < 8 && i + j < len; j++)
            buf[i + j] = (unsigned char)(v >> (8 * j));
    }
}

/* SHA-256, FIPS 180-4. */
struct sha256 {
    uint32_t h[8];
    unsigned char buf[64];
    size_t used;
    uint64_t bytes;
};

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static inline void sha256_block(struct sha256 *c, const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR32(w[i - 15], 7) ^ ROR32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR32(w[i - 2], 17) ^ ROR32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
    uint32_t e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = ROR32(e, 6) ^ ROR32(e, 11) ^ ROR32(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = h + S1 + ch + sha256_k[i] + w[i];
        uint32_t S0 = ROR32(a, 2) ^ ROR32(a, 13) ^ ROR32(a, 22);
        uint32_t mj = (a & b) ^ (a & cc) ^ (b & cc);
        uint32_t t2 = S0 + mj;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = cc;
        cc = b;
        b = a;
        a = t1 + t2;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
    c->h[5] += f;
    c->h[6] += g;
    c->h[7] += h;
}

static inline void sha256_init(struct sha256 *c)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, iv, sizeof iv);
    c->used = 0;
    c->bytes = 0;
}

static inline void sha256_update(struct sha256 *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    c->bytes += len;
    if (c->used) {
        size_t take = 64 - c->used < len ? 64 - c->used : len;
        memcpy(c->buf + c->used, p, take);
        c->used += take;
        p += take;
        len -= take;
        if (c->used < 64)
            return;
        sha256_block(c, c->buf);
        c->used = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        sha256_block(c, p);
    memcpy(c->buf, p, len);
    c->used = len;
}

/* Writes 64 hex digits and a NUL to out. */
static inline void sha256_hex(struct sha256 *c, char out[65])
{
    uint64_t bits = c->bytes * 8;
    unsigned char pad = 0x80, zero = 0, len[8];
    sha256_update(c, &pad, 1);
    while (c->used != 56)
        sha256_update(c, &zero, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_update(c, len, 8);
    for (int i = 0; i < 8; i++)
        sprintf(out + 8 * i, "%08x", c->h[i]);
}

#endif
