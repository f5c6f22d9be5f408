/*
 * What a stream-server and a stream-client share: the byte streams they exchange (byte i of each
 * direction is a fixed function of i, so either side can tell a lost, duplicated or reordered
 * byte at once) and how an address on their command line becomes a socket address.
 */
#ifndef PMIG_STREAM_PROTOCOL_H
#define PMIG_STREAM_PROTOCOL_H
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

static inline unsigned char to_client(uint64_t i) { return (unsigned char)(i * 13 + 5 + (i >> 10)); }
static inline unsigned char to_server(uint64_t i) { return (unsigned char)(i * 7 + (i >> 8)); }

/* Fills ss with ADDR (IPv4 or IPv6, by the presence of a ':') and PORT; returns its length. */
static inline socklen_t stream_address(struct sockaddr_storage *ss, const char *addr, int port)
{
    memset(ss, 0, sizeof *ss);
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, addr, &a->sin6_addr);
        return sizeof *a;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, addr, &a->sin_addr);
    return sizeof *a;
}

#endif
