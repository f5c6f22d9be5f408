/*
 * stream-client ADDR PORT SECONDS [--lockstep] [--connections N] [--rate KB_PER_S] [--until-eof]
 *
 * The client side of stream-server, with a verdict. Streaming mode: every connection streams
 * the pattern to the server at a steady rate and checks every byte that comes back. Lock-step
 * mode: one request ("ping N") at a time, each waiting for its answer. After SECONDS (or, with
 * --until-eof, once its stdin ends, if that comes first) it prints one line, "PASS ..." or
 * "FAIL: ...", with bytes moved and the longest stall (the longest time without a byte from the
 * server, or the slowest answer), and exits 0 or 1. A reset, an early EOF or a wrong byte fails
 * at once. Ended by its stdin, it ends once the server still answers: every connection has
 * received a byte since (streaming), or one more request was answered (lock-step); if SECONDS
 * pass first, it fails. The streaming verdict ends with the gaps: how many stalls of a
 * connection lasted 50 ms (GAP_MS) or more, and how long they were (the longest 16, in ms).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netdb.h>

#include "stream-protocol.h"

#define CHUNK 4096
#define GAP_MS 50.0
#define MAX_GAPS 16

struct conn {
    int fd;
    uint64_t sent, received;
    double last_byte_ms;
};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Connects to ADDR, an address or a name (resolved as the host's resolver does: a service's DNS name). */
static int dial(const char *addr, int port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(addr, service, &hints, &ai);
    if (rc != 0) {
        printf("FAIL: cannot resolve %s: %s\n", addr, gai_strerror(rc));
        exit(1);
    }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        printf("FAIL: cannot connect to %s:%d: %s\n", addr, port, strerror(errno));
        exit(1);
    }
    freeaddrinfo(ai);
    return fd;
}

static void fail(int k, const char *what, uint64_t at)
{
    printf("FAIL: connection %d: %s (after %llu bytes)\n", k, what, (unsigned long long)at);
    exit(1);
}

/* Whether stdin has ended (--until-eof), without waiting. */
static int stdin_ended(void)
{
    struct pollfd p = {.fd = 0, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) return 0;
    char buf[CHUNK];
    ssize_t r = read(0, buf, sizeof buf);
    return r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN);
}

static int lockstep(const char *addr, int port, double seconds, int until_eof)
{
    int fd = dial(addr, port);
    double end = now_ms() + seconds * 1e3, worst = 0;
    long n = 0, last = -1; /* with stdin ended: the last request to be answered */
    while (last < 0 || n <= last) {
        if (now_ms() >= end) {
            if (last >= 0) fail(0, "no answer since stdin ended", n);
            break;
        }
        if (until_eof && last < 0 && stdin_ended()) last = n;
        char req[64], resp[64];
        int len = snprintf(req, sizeof req, "ping %ld\n", n);
        double t0 = now_ms();
        if (send(fd, req, len, MSG_NOSIGNAL) != len) fail(0, strerror(errno), n);
        int got = 0;
        while (got == 0 || resp[got - 1] != '\n') {
            ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
            if (r == 0) fail(0, "EOF from the server", n);
            if (r < 0 && errno != EINTR) fail(0, errno == ECONNRESET ? "reset by the server" : strerror(errno), n);
            if (r > 0) got += r;
        }
        resp[got] = 0;
        char want[64];
        snprintf(want, sizeof want, "pong %ld\n", n);
        if (strcmp(resp, want) != 0) fail(0, "wrong answer", n);
        double rtt = now_ms() - t0;
        if (rtt > worst) worst = rtt;
        n++;
        usleep(10000);
    }
    printf("PASS lockstep requests=%ld max_stall_ms=%.1f\n", n, worst);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: stream-client ADDR|NAME PORT SECONDS [--lockstep] [--connections N] [--rate KB_PER_S] [--until-eof]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *addr = argv[1];
    int port = atoi(argv[2]);
    double seconds = atof(argv[3]);
    int n = 1, is_lockstep = 0, until_eof = 0;
    long rate = 1024;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--lockstep")) is_lockstep = 1;
        else if (!strcmp(argv[i], "--connections") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc) rate = atol(argv[++i]);
        else if (!strcmp(argv[i], "--until-eof")) until_eof = 1;
    }
    if (is_lockstep) return lockstep(addr, port, seconds, until_eof);
    struct conn *c = calloc(n, sizeof *c);
    struct pollfd *p = calloc(n + 1, sizeof *p); /* the last one: stdin, with --until-eof */
    for (int k = 0; k < n; k++) {
        c[k].fd = dial(addr, port);
        c[k].last_byte_ms = now_ms();
    }
    double start = now_ms(), end = start + seconds * 1e3, worst = 0, next_tick = start;
    double gaps[MAX_GAPS];
    int ngaps = 0;
    const long per_tick = rate * 1024 / 100;
    unsigned char buf[CHUNK];
    /* once stdin ended: what each connection had received then; the client ends when each received more */
    uint64_t *at_eof = NULL;
    for (;;) {
        if (at_eof) {
            int fresh = 0;
            while (fresh < n && c[fresh].received > at_eof[fresh]) fresh++;
            if (fresh == n) break;
            if (now_ms() >= end) fail(fresh, "no byte from the server since stdin ended", c[fresh].received);
        } else if (now_ms() >= end) {
            break;
        }
        for (int k = 0; k < n; k++) p[k] = (struct pollfd){.fd = c[k].fd, .events = POLLIN};
        p[n] = (struct pollfd){.fd = until_eof && !at_eof ? 0 : -1, .events = POLLIN};
        poll(p, n + 1, 5);
        double t = now_ms();
        if (p[n].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(0, buf, sizeof buf);
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
                at_eof = calloc(n, sizeof *at_eof);
                for (int k = 0; k < n; k++) at_eof[k] = c[k].received;
            }
        }
        for (int k = 0; k < n; k++) {
            if (!(p[k].revents & (POLLIN | POLLERR | POLLHUP))) continue;
            ssize_t r = recv(c[k].fd, buf, sizeof buf, MSG_DONTWAIT);
            if (r == 0) fail(k, "EOF from the server", c[k].received);
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                fail(k, errno == ECONNRESET ? "reset by the server" : strerror(errno), c[k].received);
            }
            for (ssize_t i = 0; i < r; i++)
                if (buf[i] != to_client(c[k].received + i)) fail(k, "wrong byte: data lost, duplicated or reordered", c[k].received + i);
            c[k].received += r;
            double stall = t - c[k].last_byte_ms;
            if (stall > worst) worst = stall;
            if (stall >= GAP_MS) {
                if (ngaps < MAX_GAPS) gaps[ngaps] = stall;
                else {
                    int least = 0; /* keep the longest */
                    for (int g = 1; g < MAX_GAPS; g++) if (gaps[g] < gaps[least]) least = g;
                    if (stall > gaps[least]) gaps[least] = stall;
                }
                ngaps++;
            }
            c[k].last_byte_ms = t;
        }
        if (t >= next_tick) {
            next_tick += 10;
            for (int k = 0; k < n; k++) {
                for (long done = 0; done < per_tick;) {
                    long want = per_tick - done < CHUNK ? per_tick - done : CHUNK;
                    for (long i = 0; i < want; i++) buf[i] = to_server(c[k].sent + i);
                    ssize_t s = send(c[k].fd, buf, want, MSG_DONTWAIT | MSG_NOSIGNAL);
                    if (s < 0 && errno != EAGAIN && errno != EINTR)
                        fail(k, errno == ECONNRESET ? "reset by the server" : strerror(errno), c[k].sent);
                    if (s <= 0) break;
                    c[k].sent += s;
                    done += s;
                }
            }
        }
    }
    uint64_t sent = 0, received = 0;
    for (int k = 0; k < n; k++) {
        sent += c[k].sent;
        received += c[k].received;
        if (now_ms() - c[k].last_byte_ms > worst) worst = now_ms() - c[k].last_byte_ms;
    }
    printf("PASS connections=%d sent=%llu received=%llu max_stall_ms=%.1f gaps=%d gaps_ms=", n, (unsigned long long)sent,
           (unsigned long long)received, worst, ngaps);
    for (int g = 0; g < ngaps && g < MAX_GAPS; g++) printf("%s%.1f", g ? "," : "", gaps[g]);
    printf("\n");
    return 0;
}
