/*
 * raw_sockets: raw IPv4 and IPv6 sockets as ping, traceroute and routing daemons hold them, with their options:
 *  - fd 20: ICMP, an ICMP_FILTER passing echo replies only, IP_TTL 33, O_NONBLOCK: after go, an echo request
 *    to 127.0.0.1 comes back to it as its reply (its own request filtered out);
 *  - fd 21: IPPROTO_RAW (the process writes IP headers), bound to 127.0.0.1;
 *  - fd 22: protocol 254 (for experiments) with IP_HDRINCL, connected to 127.0.0.1: after go, a packet it sends
 *    (header and all) comes back to it;
 *  - fd 23: ICMPv6 with an ICMP6_FILTER blocking everything but echo replies;
 *  - fd 24: IPv6 protocol 253 (for experiments) with IPV6_CHECKSUM at offset 4.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>

/* linux/icmp.h, whose struct icmphdr clashes with glibc's: the ICMP types a raw ICMP socket drops, one bit each */
#define ICMP_FILTER 1

static unsigned short checksum(const void *p, size_t n)
{
    const unsigned char *b = p;
    unsigned long sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += (unsigned)b[i] << 8 | b[i + 1];
    }
    if (n % 2) {
        sum += (unsigned)b[n - 1] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return htons((unsigned short)~sum);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    h_place(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), 20);
    uint32_t only_replies = ~(1U << ICMP_ECHOREPLY);
    SETUP(setsockopt(20, SOL_RAW, ICMP_FILTER, &only_replies, sizeof only_replies) == 0, "ICMP_FILTER: %s", strerror(errno));
    h_setint(20, IPPROTO_IP, IP_TTL, 33);
    SETUP(fcntl(20, F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");

    h_place(socket(AF_INET, SOCK_RAW, IPPROTO_RAW), 21);
    SETUP(bind(21, (struct sockaddr *)&lo, sizeof lo) == 0, "bind: %s", strerror(errno));
    struct sockaddr_storage a21;
    socklen_t l21 = sizeof a21;
    getsockname(21, (struct sockaddr *)&a21, &l21);

    h_place(socket(AF_INET, SOCK_RAW, 254), 22);
    h_setint(22, IPPROTO_IP, IP_HDRINCL, 1);
    SETUP(connect(22, (struct sockaddr *)&lo, sizeof lo) == 0, "connect: %s", strerror(errno));

    h_place(socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), 23);
    struct icmp6_filter f6;
    ICMP6_FILTER_SETBLOCKALL(&f6);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f6);
    SETUP(setsockopt(23, IPPROTO_ICMPV6, ICMP6_FILTER, &f6, sizeof f6) == 0, "ICMP6_FILTER: %s", strerror(errno));

    h_place(socket(AF_INET6, SOCK_RAW, 253), 24);
    h_setint(24, IPPROTO_IPV6, IPV6_CHECKSUM, 4);

    h_ready();
    h_wait_go();

    CHECK(h_getint(20, IPPROTO_IP, IP_TTL) == 33, "fd 20: IP_TTL %d", h_getint(20, IPPROTO_IP, IP_TTL));
    CHECK((fcntl(20, F_GETFL) & O_NONBLOCK) != 0, "fd 20 lost O_NONBLOCK");
    uint32_t f = 0;
    socklen_t fl = sizeof f;
    CHECK(getsockopt(20, SOL_RAW, ICMP_FILTER, &f, &fl) == 0 && f == only_replies, "fd 20: ICMP_FILTER %#x", f);
    struct icmphdr echo = {.type = ICMP_ECHO, .un.echo = {.id = htons(0x5a5a), .sequence = htons(7)}};
    echo.checksum = checksum(&echo, sizeof echo);
    CHECK(sendto(20, &echo, sizeof echo, 0, (struct sockaddr *)&lo, sizeof lo) == sizeof echo, "fd 20 send: %s", strerror(errno));
    struct pollfd pf = {.fd = 20, .events = POLLIN};
    char buf[256];
    ssize_t n = poll(&pf, 1, 10000) == 1 ? recv(20, buf, sizeof buf, 0) : -1;
    struct icmphdr *got = (struct icmphdr *)(buf + sizeof(struct iphdr));
    CHECK(n >= (ssize_t)(sizeof(struct iphdr) + sizeof echo) && got->type == ICMP_ECHOREPLY,
          "fd 20 did not read an echo reply first (%zd bytes, type %d)", n, n > 20 ? got->type : -1);

    struct sockaddr_storage now;
    socklen_t ln = sizeof now;
    CHECK(getsockname(21, (struct sockaddr *)&now, &ln) == 0 && ln == l21 && memcmp(&now, &a21, ln) == 0, "fd 21: another address");
    CHECK(h_getint(21, IPPROTO_IP, IP_HDRINCL) == 1, "fd 21: IP_HDRINCL %d", h_getint(21, IPPROTO_IP, IP_HDRINCL));
    CHECK(h_getint(22, IPPROTO_IP, IP_HDRINCL) == 1, "fd 22 lost IP_HDRINCL");
    /* connected (a raw socket has no peer name to ask): send needs no address; the packet comes back to it */
    struct {
        struct iphdr ip;
        char data[4];
    } packet = {.ip = {.version = 4, .ihl = 5, .tot_len = htons(sizeof packet), .ttl = 8, .protocol = 254,
                       .daddr = htonl(INADDR_LOOPBACK)},
                .data = "pmig"};
    CHECK(send(22, &packet, sizeof packet, 0) == sizeof packet, "fd 22 send: %s", strerror(errno));
    struct pollfd p22 = {.fd = 22, .events = POLLIN};
    n = poll(&p22, 1, 10000) == 1 ? recv(22, buf, sizeof buf, MSG_DONTWAIT) : -1;
    CHECK(n == sizeof packet && memcmp(buf + sizeof(struct iphdr), "pmig", 4) == 0, "fd 22 did not get its packet back (%zd)", n);
    struct icmp6_filter g6;
    socklen_t gl = sizeof g6;
    CHECK(getsockopt(23, IPPROTO_ICMPV6, ICMP6_FILTER, &g6, &gl) == 0 && memcmp(&g6, &f6, sizeof f6) == 0, "fd 23: another ICMP6_FILTER");
    CHECK(h_getint(24, IPPROTO_IPV6, IPV6_CHECKSUM) == 4, "fd 24: IPV6_CHECKSUM %d", h_getint(24, IPPROTO_IPV6, IPV6_CHECKSUM));
    return h_finish();
}
