/*
 * stream-client ADDR PORT SECONDS [--lockstep] [--connections N] [--rate KB_PER_S]
 *
 * The client side of stream-server, with a verdict. Streaming mode: every connection streams
 * the pattern to the server at a steady rate and checks every byte that comes back. Lock-step
 * mode: one request ("ping N") at a time, each waiting for its answer. After SECONDS it prints
 * one line, "PASS ..." or "FAIL: ...", with bytes moved and the longest stall (the longest time
 * without a byte from the server, or the slowest answer), and exits 0 or 1. A reset, an early
 * EOF or a wrong byte fails at once.
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

#include "stream-protocol.h"

#define CHUNK 4096

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

static int dial(const char *addr, int port)
{
    struct sockaddr_storage ss;
    socklen_t len = stream_address(&ss, addr, port);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        printf("FAIL: cannot connect to %s:%d: %s\n", addr, port, strerror(errno));
        exit(1);
    }
    return fd;
}

static void fail(int k, const char *what, uint64_t at)
{
    printf("FAIL: connection %d: %s (after %llu bytes)\n", k, what, (unsigned long long)at);
    exit(1);
}

static int lockstep(const char *addr, int port, double seconds)
{
    int fd = dial(addr, port);
    double end = now_ms() + seconds * 1e3, worst = 0;
    long n = 0;
    while (now_ms() < end) {
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
        fprintf(stderr, "usage: stream-client ADDR PORT SECONDS [--lockstep] [--connections N] [--rate KB_PER_S]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *addr = argv[1];
    int port = atoi(argv[2]);
    double seconds = atof(argv[3]);
    int n = 1, is_lockstep = 0;
    long rate = 1024;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--lockstep")) is_lockstep = 1;
        else if (!strcmp(argv[i], "--connections") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc) rate = atol(argv[++i]);
    }
    if (is_lockstep) return lockstep(addr, port, seconds);
    struct conn *c = calloc(n, sizeof *c);
    struct pollfd *p = calloc(n, sizeof *p);
    for (int k = 0; k < n; k++) {
        c[k].fd = dial(addr, port);
        c[k].last_byte_ms = now_ms();
    }
    double start = now_ms(), end = start + seconds * 1e3, worst = 0, next_tick = start;
    const long per_tick = rate * 1024 / 100;
    unsigned char buf[CHUNK];
    while (now_ms() < end) {
        for (int k = 0; k < n; k++) p[k] = (struct pollfd){.fd = c[k].fd, .events = POLLIN};
        poll(p, n, 5);
        double t = now_ms();
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
            if (t - c[k].last_byte_ms > worst) worst = t - c[k].last_byte_ms;
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
    printf("PASS connections=%d sent=%llu received=%llu max_stall_ms=%.1f\n", n, (unsigned long long)sent,
           (unsigned long long)received, worst);
    return 0;
}
