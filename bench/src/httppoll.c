/*
 * httppoll ADDR PORT PATH [INTERVAL_MS]: a light HTTP client that measures the stall a migration
 * gives it (bench/tree-migration). It asks GET PATH over one keep-alive connection every
 * INTERVAL_MS (default 5), reading each answer whole (Content-Length), and reconnects when the
 * server closes the connection. It prints "ready" once the first answer came; when its stdin ends
 * it waits for the answer in flight, then prints one line, "PASS requests=N reconnects=R
 * max_stall_ms=X" (the longest time between two answers, or from the first request to its answer),
 * or "FAIL: ..." at the first error, a status other than 200 or an answer not come in 30 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stream-protocol.h"

#define ANSWER_TIMEOUT_MS 30000

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void fail(const char *what, const char *detail)
{
    printf("FAIL: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static int dial(const struct sockaddr_storage *ss, socklen_t len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)ss, len) < 0) fail("cannot connect", strerror(errno));
    return fd;
}

/* Reads one whole answer from fd; returns 0, or -1 when the server closed the connection before it began. */
static int answer(int fd)
{
    static char buf[1 << 16];
    size_t have = 0;
    double deadline = now_ms() + ANSWER_TIMEOUT_MS;
    for (;;) {
        buf[have] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            if (strncmp(buf, "HTTP/1.1 200", 12)) fail("not 200", strtok(buf, "\r"));
            char *length = strcasestr(buf, "\r\nContent-Length:");
            if (!length || length > end) fail("an answer without Content-Length", NULL);
            size_t want = (size_t)(end + 4 - buf) + strtoul(length + 17, NULL, 10);
            if (have >= want) return 0;
        }
        if (have == sizeof buf - 1) fail("an answer over 64 KiB", NULL);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&p, 1, left) == 0) fail("no answer in 30 s", NULL);
        ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (n == 0 && have == 0) return -1;
        if (n <= 0) fail("the connection broke mid-answer", n < 0 ? strerror(errno) : "EOF");
        have += n;
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: httppoll ADDR PORT PATH [INTERVAL_MS]\n");
        return 2;
    }
    int interval = argc > 4 ? atoi(argv[4]) : 5;
    struct sockaddr_storage ss;
    socklen_t len = stream_address(&ss, argv[1], atoi(argv[2]));
    char request[512];
    int request_len = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", argv[3], argv[1]);
    setvbuf(stdout, NULL, _IOLBF, 0);

    int fd = dial(&ss, len);
    long requests = 0, reconnects = 0;
    int stopping = 0;
    double last = now_ms(), worst = 0;
    for (;;) {
        double asked = now_ms();
        if (send(fd, request, request_len, MSG_NOSIGNAL) != request_len || answer(fd) < 0) {
            close(fd);         /* the keep-alive connection ended between answers: ask again on a new one */
            fd = dial(&ss, len);
            reconnects++;
            continue;
        }
        double now = now_ms();
        if (now - last > worst) worst = now - last;
        last = now;
        if (requests++ == 0) printf("ready\n");
        if (stopping) break;
        /* wait out the interval, watching stdin for its end */
        struct pollfd in = {.fd = 0, .events = POLLIN};
        int wait = (int)(asked + interval - now_ms());
        if (poll(&in, 1, wait > 0 ? wait : 0) > 0) {
            char c;
            if (read(0, &c, 1) <= 0) stopping = 1;
        }
    }
    printf("PASS requests=%ld reconnects=%ld max_stall_ms=%.1f\n", requests, reconnects, worst);
    return 0;
}
