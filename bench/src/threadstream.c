/*
 * threadstream ADDR PORT THREADS [RATE_KB_PER_S]: a multi-threaded streaming server, NEC's 14-thread
 * streaming server of their Table 3 (bench/tree-migration). THREADS threads (the main one among
 * them) accept on one listener on ADDR:PORT; each serves one client at a time, speaking
 * stream-server's protocol (cli/src/main/c/stream-protocol.h) so that stream-client checks every
 * byte: it streams the pattern at RATE KB/s (default 256) once the client's first byte came, checks
 * what the client streams back, and takes the next client when this one goes. Runs until killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stream-protocol.h"

#define CHUNK 4096
#define TICK_MS 10

static int listener;
static long per_tick;

static long ms_until(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
    return ms < 0 ? 0 : ms;
}

/* Checks what the client sent; returns -1 when the connection ends or a byte is wrong. */
static int receive(int fd, uint64_t *received)
{
    unsigned char buf[CHUNK];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return -1;
    if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] != to_server(*received + i)) {
            fprintf(stderr, "threadstream: byte %llu from the client is wrong\n", (unsigned long long)(*received + i));
            return -1;
        }
    }
    *received += n;
    return 0;
}

/* Streams to one client until it goes; a tick every TICK_MS sends it RATE/100 KB. */
static void serve(int fd)
{
    uint64_t sent = 0, received = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)ms_until(&next)) > 0 && receive(fd, &received) < 0) break;
        if (ms_until(&next) > 0) continue;
        next.tv_nsec += TICK_MS * 1000000L;
        if (next.tv_nsec >= 1000000000) { next.tv_sec++; next.tv_nsec -= 1000000000; }
        if (received == 0) continue;
        unsigned char buf[CHUNK];
        for (long done = 0; done < per_tick;) {
            long want = per_tick - done < CHUNK ? per_tick - done : CHUNK;
            for (long i = 0; i < want; i++) buf[i] = to_client(sent + i);
            ssize_t n = send(fd, buf, want, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n <= 0) break;
            sent += n;
            done += n;
        }
    }
    close(fd);
}

static void *worker(void *unused)
{
    (void)unused;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd >= 0) serve(fd);
        else if (errno != EINTR && errno != ECONNABORTED) perror("threadstream: accept");
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4 || atoi(argv[3]) < 1) {
        fprintf(stderr, "usage: threadstream ADDR PORT THREADS [RATE_KB_PER_S]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int threads = atoi(argv[3]);
    per_tick = (argc > 4 ? atol(argv[4]) : 256) * 1024 / (1000 / TICK_MS);
    struct sockaddr_storage ss;
    socklen_t len = stream_address(&ss, argv[1], atoi(argv[2]));
    listener = socket(ss.ss_family, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&ss, len) < 0 || listen(listener, 128) < 0) {
        fprintf(stderr, "threadstream: cannot listen on %s:%s: %s\n", argv[1], argv[2], strerror(errno));
        return 1;
    }
    for (int i = 1; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, NULL) != 0) {
            fprintf(stderr, "threadstream: cannot start thread %d\n", i + 1);
            return 1;
        }
    }
    worker(NULL);
}
