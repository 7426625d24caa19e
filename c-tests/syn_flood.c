/*
 * syn_flood SRC DST PORT N
 *
 * The kernel's side of the backlog test's SYN-cookie case. Sends N TCP SYNs
 * to DST:PORT from the address SRC (spoofed: no host has it, so the
 * listener's SYN-ACKs wait for an ARP answer that never comes and its
 * half-open connections stay in the SYN queue), from source ports 20000,
 * 20001, ... through a raw socket (IP_HDRINCL; needs root). Prints "sent N".
 * Runs on the kernel only, inside the test's namespace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint16_t checksum(const void *data, size_t len, uint32_t sum)
{
    const uint8_t *p = data;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s SRC DST PORT N\n", argv[0]);
        return 2;
    }
    struct in_addr src, dst;
    if (inet_pton(AF_INET, argv[1], &src) != 1 || inet_pton(AF_INET, argv[2], &dst) != 1) {
        fprintf(stderr, "FAIL bad address\n");
        return 1;
    }
    int port = atoi(argv[3]), n = atoi(argv[4]);
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) {
        fprintf(stderr, "FAIL socket: %s\n", strerror(errno));
        return 1;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = dst};
    for (int i = 0; i < n; i++) {
        /* IPv4 header (20 bytes) and TCP header with an MSS option (24). */
        uint8_t pkt[44] = {0};
        uint8_t *ip = pkt, *tcp = pkt + 20;
        ip[0] = 0x45;
        ip[3] = sizeof pkt;
        ip[6] = 0x40; /* DF */
        ip[8] = 64;
        ip[9] = IPPROTO_TCP;
        memcpy(ip + 12, &src, 4);
        memcpy(ip + 16, &dst, 4);
        uint16_t c = checksum(ip, 20, 0);
        ip[10] = c >> 8;
        ip[11] = c & 0xff;
        uint16_t sport = 20000 + i;
        uint32_t seq = 0x10000000u + 7919u * i;
        tcp[0] = sport >> 8;
        tcp[1] = sport & 0xff;
        tcp[2] = port >> 8;
        tcp[3] = port & 0xff;
        tcp[4] = seq >> 24;
        tcp[5] = seq >> 16;
        tcp[6] = seq >> 8;
        tcp[7] = seq;
        tcp[12] = 6 << 4; /* data offset: 6 words */
        tcp[13] = 0x02;   /* SYN */
        tcp[14] = 0xfa;   /* window 64240 */
        tcp[15] = 0xf0;
        tcp[20] = 2; /* MSS 1460 */
        tcp[21] = 4;
        tcp[22] = 0x05;
        tcp[23] = 0xb4;
        /* Pseudo-header: addresses, protocol, TCP length. */
        uint32_t sum = 0;
        for (int k = 12; k < 20; k += 2)
            sum += (uint32_t)ip[k] << 8 | ip[k + 1];
        sum += IPPROTO_TCP + 24;
        c = checksum(tcp, 24, sum);
        tcp[16] = c >> 8;
        tcp[17] = c & 0xff;
        if (sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to) != sizeof pkt) {
            fprintf(stderr, "FAIL sendto: %s\n", strerror(errno));
            return 1;
        }
    }
    printf("sent %d\n", n);
    return 0;
}
