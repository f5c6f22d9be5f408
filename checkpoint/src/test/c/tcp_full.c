/*
 * TCP with full queues: this process is the server of two connections (IPv4 and IPv6 loopback) with a
 * peer process (forked, not checkpointed with us) on the other ends. Neither side reads until go, and
 * both send until the connection takes no more: the server's send and receive queues, and the peer's,
 * are full when the checkpoint comes. After go both shut their sending side, read to the end and check
 * every byte and the count the other side sent; the peer reports through STATEDIR/peer-result.
 *
 * STATEDIR/ports holds the two listening ports, for the test's packet block during the move.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#define CHUNK 65536

static unsigned char from_server(uint64_t i) { return (unsigned char)(i * 13 + 5); }
static unsigned char from_peer(uint64_t i) { return (unsigned char)(i * 7 + (i >> 8)); }

/* Sends the pattern until the connection has taken nothing for 300 ms; returns the bytes sent. */
static uint64_t fill(int fd, unsigned char (*pattern)(uint64_t))
{
    static unsigned char buf[CHUNK];
    uint64_t sent = 0;
    long long idle_since = h_now_ns(CLOCK_MONOTONIC);
    while (h_now_ns(CLOCK_MONOTONIC) - idle_since < 300000000LL) {
        for (int i = 0; i < CHUNK; i++) {
            buf[i] = pattern(sent + i);
        }
        ssize_t n = send(fd, buf, CHUNK, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += (uint64_t)n;
            idle_since = h_now_ns(CLOCK_MONOTONIC);
        } else {
            h_sleep_ms(5);
        }
    }
    return sent;
}

/* Shuts the sending side, reads to EOF checking the pattern; "" if all of expected arrived, else why not. */
static const char *drain(int fd, unsigned char (*pattern)(uint64_t), uint64_t expected, char *why, size_t cap)
{
    static unsigned char buf[CHUNK];
    uint64_t got = 0;
    if (shutdown(fd, SHUT_WR) != 0) {
        snprintf(why, cap, "shutdown: %s", strerror(errno));
        return why;
    }
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20000) != 1) {
            snprintf(why, cap, "nothing to read for 20 s after %llu of %llu bytes", (unsigned long long)got,
                     (unsigned long long)expected);
            return why;
        }
        ssize_t n = recv(fd, buf, CHUNK, MSG_DONTWAIT);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            snprintf(why, cap, "recv: %s after %llu of %llu bytes", strerror(errno), (unsigned long long)got,
                     (unsigned long long)expected);
            return why;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != pattern(got + (uint64_t)i)) {
                snprintf(why, cap, "byte %llu differs (lost, duplicated or reordered data)", (unsigned long long)(got + i));
                return why;
            }
        }
        got += (uint64_t)n;
    }
    if (got != expected) {
        snprintf(why, cap, "EOF after %llu bytes, %llu were sent", (unsigned long long)got, (unsigned long long)expected);
        return why;
    }
    why[0] = 0;
    return why;
}

static int connect_to(int family, const char *address, int port)
{
    int fd = socket(family, SOCK_STREAM, 0);
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        inet_pton(AF_INET, address, &a->sin_addr);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, address, &a->sin6_addr);
        len = sizeof *a;
    }
    return connect(fd, (struct sockaddr *)&ss, len) == 0 ? fd : -1;
}

static int listener(int family, const char *address, int *port)
{
    int fd = socket(family, SOCK_STREAM, 0);
    struct sockaddr_storage ss = {0};
    socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    ss.ss_family = family;
    if (family == AF_INET) {
        inet_pton(AF_INET, address, &((struct sockaddr_in *)&ss)->sin_addr);
    } else {
        inet_pton(AF_INET6, address, &((struct sockaddr_in6 *)&ss)->sin6_addr);
    }
    SETUP(bind(fd, (struct sockaddr *)&ss, len) == 0 && listen(fd, 4) == 0, "listen on %s: %s", address, strerror(errno));
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static uint64_t read_count(const char *name)
{
    char p[4096], b[64];
    h_path(p, sizeof p, name);
    return h_read_file(p, b, sizeof b) > 0 ? strtoull(b, NULL, 10) : 0;
}

static void peer(int port4, int port6)
{
    int fd[2] = {connect_to(AF_INET, "127.0.0.1", port4), connect_to(AF_INET6, "::1", port6)};
    char counts[64];
    if (fd[0] < 0 || fd[1] < 0) {
        h_write_file("peer-result", "connect failed\n");
        _exit(1);
    }
    /* wait until the server holds both connections, then fill */
    while (!h_exists("server-accepted")) {
        h_sleep_ms(2);
    }
    uint64_t sent[2] = {fill(fd[0], from_peer), fill(fd[1], from_peer)};
    snprintf(counts, sizeof counts, "%llu\n", (unsigned long long)sent[0]);
    h_write_file("peer-sent-4", counts);
    snprintf(counts, sizeof counts, "%llu\n", (unsigned long long)sent[1]);
    h_write_file("peer-sent-6", counts);
    h_wait_go();
    while (!h_exists("server-sent-6")) {
        h_sleep_ms(2);
    }
    char why[2][200];
    drain(fd[0], from_server, read_count("server-sent-4"), why[0], sizeof why[0]);
    drain(fd[1], from_server, read_count("server-sent-6"), why[1], sizeof why[1]);
    char result[512];
    if (why[0][0] || why[1][0]) {
        snprintf(result, sizeof result, "FAIL: IPv4: %s; IPv6: %s\n", why[0][0] ? why[0] : "ok", why[1][0] ? why[1] : "ok");
    } else {
        snprintf(result, sizeof result, "PASS\n");
    }
    h_write_file("peer-result", result);
    _exit(0);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    int port4, port6;
    int l4 = listener(AF_INET, "127.0.0.1", &port4), l6 = listener(AF_INET6, "::1", &port6);
    char ports[64];
    snprintf(ports, sizeof ports, "%d %d\n", port4, port6);
    SETUP(h_write_file("ports", ports) == 0, "write ports");
    if (h_fork_peer() == 0) {
        close(l4); /* else the listeners' ports stay taken when this process moves */
        close(l6);
        peer(port4, port6);
    }
    int fd[2] = {accept(l4, NULL, NULL), accept(l6, NULL, NULL)};
    SETUP(fd[0] >= 0 && fd[1] >= 0, "accept: %s", strerror(errno));
    SETUP(h_write_file("server-accepted", "") == 0, "write server-accepted");
    uint64_t sent[2] = {fill(fd[0], from_server), fill(fd[1], from_server)};
    while (!h_exists("peer-sent-6")) {
        h_sleep_ms(2);
    }
    char counts[64];
    snprintf(counts, sizeof counts, "%llu\n", (unsigned long long)sent[0]);
    h_write_file("server-sent-4", counts);
    snprintf(counts, sizeof counts, "%llu\n", (unsigned long long)sent[1]);
    h_write_file("server-sent-6", counts);
    h_log("sent %llu/%llu bytes, the peer %llu/%llu", (unsigned long long)sent[0], (unsigned long long)sent[1],
          (unsigned long long)read_count("peer-sent-4"), (unsigned long long)read_count("peer-sent-6"));

    h_ready();
    h_wait_go();

    char why[200];
    CHECK(!drain(fd[0], from_peer, read_count("peer-sent-4"), why, sizeof why)[0], "IPv4: %s", why);
    CHECK(!drain(fd[1], from_peer, read_count("peer-sent-6"), why, sizeof why)[0], "IPv6: %s", why);
    char p[4096], result[512] = "";
    h_path(p, sizeof p, "peer-result");
    for (int i = 0; i < 10000 && h_read_file(p, result, sizeof result) <= 0; i++) {
        h_sleep_ms(2);
    }
    CHECK(strncmp(result, "PASS", 4) == 0, "peer: %s", result[0] ? result : "no result");
    return h_finish();
}
