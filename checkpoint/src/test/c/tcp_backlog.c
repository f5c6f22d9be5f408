/*
 * A listener whose server accepts slowly: three clients (a forked peer process) have completed
 * their connections before the checkpoint, and most of them still wait in the accept queue when
 * it comes. Such connections cannot be put back into a queue, so the checkpoint must let the
 * server take them first. After go: every client got its answer over its own connection.
 *
 * STATEDIR/ports holds the listening port, for the test's packet hold.
 */
#include "tcp-listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#define CLIENTS 3

static int port;
static int listener;
static volatile int served;
static volatile int released;

static void peer(void)
{
    close(listener);
    int fds[CLIENTS];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int k = 0; k < CLIENTS; k++) {
        fds[k] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fds[k], (struct sockaddr *)&a, sizeof a) < 0) {
            h_write_file("peer-result", "FAIL: connect\n");
            _exit(0);
        }
        char hello[32];
        int len = snprintf(hello, sizeof hello, "hello %d\n", k);
        send(fds[k], hello, len, 0);
    }
    for (int k = 0; k < CLIENTS; k++) {
        struct timeval tv = {.tv_sec = 30};
        setsockopt(fds[k], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char want[32], got[32] = "";
        int len = snprintf(want, sizeof want, "bye %d\n", k), n = 0;
        while (n < len) {
            ssize_t r = recv(fds[k], got + n, len - n, 0);
            if (r <= 0) {
                char why[96];
                snprintf(why, sizeof why, "FAIL: client %d: %s\n", k, r == 0 ? "EOF" : strerror(errno));
                h_write_file("peer-result", why);
                _exit(0);
            }
            n += r;
        }
        if (memcmp(got, want, len) != 0) {
            h_write_file("peer-result", "FAIL: wrong answer\n");
            _exit(0);
        }
    }
    h_write_file("peer-result", "PASS\n");
    _exit(0);
}

static void *serve(void *arg)
{
    (void)arg;
    for (int k = 0; k < CLIENTS; k++) {
        h_sleep_ms(150);
        int c = accept(listener, NULL, NULL);
        if (c < 0) return NULL;
        char buf[32];
        int n = 0;
        while (n == 0 || buf[n - 1] != '\n') {
            ssize_t r = recv(c, buf + n, sizeof buf - 1 - n, 0);
            if (r <= 0) return NULL;
            n += r;
        }
        buf[n] = 0;
        int which = atoi(buf + 6);
        char bye[32];
        int len = snprintf(bye, sizeof bye, "bye %d\n", which);
        send(c, bye, len, MSG_NOSIGNAL);
        served++;
    }
    /* stays until go, so the thread count does not change under the checkpoint */
    while (!released) h_sleep_ms(5);
    return NULL;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    listener = h_tcp_listener(16, &port);
    if (h_fork_peer() == 0) peer();
    pthread_t t;
    pthread_create(&t, NULL, serve, NULL);
    h_sleep_ms(50);
    h_ready();
    h_wait_go();
    released = 1;
    pthread_join(t, NULL);
    CHECK(served == CLIENTS, "served %d of %d clients", served, CLIENTS);
    char result[256] = "", path[4096];
    h_path(path, sizeof path, "peer-result");
    for (int i = 0; i < 2000 && h_read_file(path, result, sizeof result) <= 0; i++) h_sleep_ms(5);
    CHECK(strncmp(result, "PASS", 4) == 0, "peer: %s", result[0] ? result : "no result");
    return h_finish();
}
