/*
 * stream-server ADDR PORT [RATE_KB_PER_S [MEMORY_MB]]: a sample service for moving (MEMORY_MB of
 * written memory makes it as big to move as a real service). Accepts any number of
 * clients on ADDR:PORT; to each it streams the pattern of stream-pattern.h at a steady rate and
 * checks what the client streams back, from the client's first byte on. A client whose first
 * line is "ping N\n" is in lock-step mode: it gets "pong N\n" for each such line instead. A broken stream is logged to stderr and its connection
 * closed; the server runs until killed.
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

#define MAX_CONN 20000
#define CHUNK 4096

struct conn {
    int fd;
    uint64_t sent, received;
    int lockstep;
    char line[64];
    int line_len;
};

static struct conn conns[MAX_CONN];
static struct pollfd fds[MAX_CONN + 1];
static int nconn;

static void drop(int k, const char *why)
{
    if (why) fprintf(stderr, "stream-server: connection %d: %s\n", k, why);
    close(conns[k].fd);
    conns[k] = conns[nconn - 1];
    nconn--;
}

static int serve_input(struct conn *c)
{
    unsigned char buf[CHUNK];
    ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return -1;
    if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    for (ssize_t i = 0; i < n; i++) {
        if (c->received == 0 && i == 0 && buf[0] == 'p') c->lockstep = 1;
        if (c->lockstep) {
            if (c->line_len < (int)sizeof c->line - 1) c->line[c->line_len++] = (char)buf[i];
            if (buf[i] == '\n') {
                char reply[80];
                c->line[c->line_len] = 0;
                int len = snprintf(reply, sizeof reply, "pong %s", c->line + 5);
                if (send(c->fd, reply, len, MSG_NOSIGNAL) != len) return -1;
                c->line_len = 0;
            }
        } else if (buf[i] != to_server(c->received + i)) {
            fprintf(stderr, "stream-server: byte %llu from the client is wrong\n", (unsigned long long)(c->received + i));
            return -1;
        }
    }
    c->received += n;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: stream-server ADDR PORT [RATE_KB_PER_S [MEMORY_MB]]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    long rate = argc > 3 ? atol(argv[3]) : 2048;
    size_t memory = argc > 4 ? (size_t)atol(argv[4]) << 20 : 0;
    if (memory) {
        char *ballast = malloc(memory);
        if (!ballast) {
            fprintf(stderr, "stream-server: cannot allocate %s MB\n", argv[4]);
            return 1;
        }
        for (size_t i = 0; i < memory; i += 4096) ballast[i] = (char)(i >> 12 | 1);    /* written: not the zero page */
    }
    struct sockaddr_storage ss;
    socklen_t len = stream_address(&ss, argv[1], atoi(argv[2]));
    int l = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 4096) < 0) {
        fprintf(stderr, "stream-server: cannot listen on %s:%s: %s\n", argv[1], argv[2], strerror(errno));
        return 1;
    }
    /* a tick every 10 ms: each streaming connection gets rate/100 KB per tick */
    const long per_tick = rate * 1024 / 100;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        fds[0] = (struct pollfd){.fd = l, .events = POLLIN};
        for (int k = 0; k < nconn; k++) fds[k + 1] = (struct pollfd){.fd = conns[k].fd, .events = POLLIN};
        poll(fds, nconn + 1, 10);
        if (fds[0].revents & POLLIN) {
            int c;
            while (nconn < MAX_CONN && (c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                conns[nconn++] = (struct conn){.fd = c};
            }
        }
        for (int k = nconn - 1; k >= 0; k--) {
            if (k + 1 <= nconn && (fds[k + 1].revents & (POLLIN | POLLHUP | POLLERR)) && serve_input(&conns[k]) < 0) drop(k, NULL);
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
            next.tv_nsec += 10000000;
            if (next.tv_nsec >= 1000000000) { next.tv_sec++; next.tv_nsec -= 1000000000; }
            unsigned char buf[CHUNK];
            for (int k = nconn - 1; k >= 0; k--) {
                struct conn *c = &conns[k];
                /* a client's first byte tells its mode: stream only to streaming clients */
                if (c->lockstep || c->received == 0) continue;
                for (long done = 0; done < per_tick;) {
                    long want = per_tick - done < CHUNK ? per_tick - done : CHUNK;
                    for (long i = 0; i < want; i++) buf[i] = to_client(c->sent + i);
                    ssize_t n = send(c->fd, buf, want, MSG_DONTWAIT | MSG_NOSIGNAL);
                    if (n <= 0) break;
                    c->sent += n;
                    done += n;
                }
            }
        }
    }
}
