/*
 * stream-serial-server ADDR PORT BACKLOG: a server that takes its clients one at a time, as a
 * single-process prefork server (Apache -X) does: accept, answer each "ping N" line with "pong N"
 * until the client closes, then the next. Under load its queue (listen backlog BACKLOG) fills, and
 * while it waits for the request of the client it accepted, the others wait in the queue.
 * SIGUSR1 stops it accepting, SIGUSR2 lets it go on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream-protocol.h"

static volatile sig_atomic_t accepting = 1;

static void on_signal(int sig)
{
    accepting = sig == SIGUSR2;
}

static void serve(int c)
{
    char line[64];
    int n = 0;
    for (;;) {
        char ch;
        ssize_t r = recv(c, &ch, 1, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return;
        if (n < (int)sizeof line - 1) line[n++] = ch;
        if (ch == '\n') {
            char reply[80];
            line[n] = 0;
            int len = snprintf(reply, sizeof reply, "pong %s", line + 5);
            if (send(c, reply, len, MSG_NOSIGNAL) != len) return;
            n = 0;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: stream-serial-server ADDR PORT BACKLOG\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};    /* no SA_RESTART: a waiting accept returns to see the flag */
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    struct sockaddr_storage ss;
    socklen_t len = stream_address(&ss, argv[1], atoi(argv[2]));
    int l = socket(ss.ss_family, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, atoi(argv[3])) < 0) {
        fprintf(stderr, "stream-serial-server: cannot listen on %s:%s: %s\n", argv[1], argv[2], strerror(errno));
        return 1;
    }
    for (;;) {
        if (!accepting) {
            usleep(10000);
            continue;
        }
        int c = accept(l, NULL, NULL);
        if (c < 0) continue;
        serve(c);
        close(c);
    }
}
