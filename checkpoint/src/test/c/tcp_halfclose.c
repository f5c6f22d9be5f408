/*
 * Half-closed TCP connections across a checkpoint, with a peer (a forked process) checking its
 * side. A: this server shut down its sending side and the peer acknowledged the FIN (FIN_WAIT2);
 * the peer still sends to it after go. B: the peer sent its data and its FIN, unread by the
 * server (CLOSE_WAIT); after go the server reads them, answers and closes. C and D close while
 * the test holds inbound packets (it writes STATEDIR/held once it does; this program asks for
 * that with STATEDIR/wants-held and answers with STATEDIR/held-done), so the peer's
 * acknowledgements do not arrive: C shuts down with its FIN unacknowledged (FIN_WAIT1), D reads
 * the peer's FIN and shuts down too (LAST_ACK). Without a test, C and D close after go.
 *
 * STATEDIR/ports holds the listening port, for the test's packet hold.
 */
#include "tcp-listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>

static int listener, port;

/* Reads until EOF; returns the bytes read or -1 on an error or time-out. */
static int read_to_eof(int fd, char *buf, int cap)
{
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int n = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r == 0) break;
        if (r < 0) return -1;
        n += r;
    }
    buf[n] = 0;
    return n;
}

static int tcp_state(int fd)
{
    struct tcp_info info;
    socklen_t len = sizeof info;
    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len);
    return info.tcpi_state;
}

static void peer(void)
{
    close(listener);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ca = socket(AF_INET, SOCK_STREAM, 0), cb = socket(AF_INET, SOCK_STREAM, 0);
    int cc = socket(AF_INET, SOCK_STREAM, 0), cd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(ca, (struct sockaddr *)&a, sizeof a) < 0 || connect(cb, (struct sockaddr *)&a, sizeof a) < 0
        || connect(cc, (struct sockaddr *)&a, sizeof a) < 0 || connect(cd, (struct sockaddr *)&a, sizeof a) < 0) {
        h_write_file("peer-result", "FAIL: connect\n");
        _exit(0);
    }
    send(cb, "peer-B-data", 11, 0);
    shutdown(cb, SHUT_WR);
    send(cd, "peer-D-data", 11, 0);
    shutdown(cd, SHUT_WR);
    char buf[256];
    if (read_to_eof(ca, buf, sizeof buf) < 0 || strcmp(buf, "server-A-data") != 0) {
        h_write_file("peer-result", "FAIL: connection A before the move\n");
        _exit(0);
    }
    h_write_file("peer-a-eof", "");
    while (!h_exists("peer-go")) h_sleep_ms(2);
    if (send(ca, "late-A", 6, MSG_NOSIGNAL) != 6) {
        h_write_file("peer-result", "FAIL: sending on A after the move\n");
        _exit(0);
    }
    close(ca);
    struct { int fd; const char *name, *want; } ends[] = {
        {cb, "B", "late-B"}, {cc, "C", "server-C-data"}, {cd, "D", "server-D-data"}};
    for (int k = 0; k < 3; k++) {
        int n = read_to_eof(ends[k].fd, buf, sizeof buf);
        if (n < 0 || strcmp(buf, ends[k].want) != 0) {
            char why[300];
            snprintf(why, sizeof why, "FAIL: connection %s after the move: %s\n", ends[k].name, n < 0 ? strerror(errno) : buf);
            h_write_file("peer-result", why);
            _exit(0);
        }
    }
    if (send(cc, "late-C", 6, MSG_NOSIGNAL) != 6) {
        h_write_file("peer-result", "FAIL: sending on C after the move\n");
        _exit(0);
    }
    close(cc);
    close(cd);
    h_write_file("peer-result", "PASS\n");
    _exit(0);
}

static int sc, sd;
static int states_while_held[2];
static char d_read[64];

/* Closes C and D once the test holds inbound packets (or after go, without a test). */
static void *close_c_and_d(void *arg)
{
    (void)arg;
    while (!h_exists("held") && !h_exists("go")) h_sleep_ms(2);
    int held = h_exists("held");
    send(sc, "server-C-data", 13, 0);
    shutdown(sc, SHUT_WR);
    read_to_eof(sd, d_read, sizeof d_read);
    send(sd, "server-D-data", 13, 0);
    shutdown(sd, SHUT_WR);
    if (held) {
        h_sleep_ms(20);
        states_while_held[0] = tcp_state(sc);
        states_while_held[1] = tcp_state(sd);
        h_write_file("held-done", "");
    }
    return NULL;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    listener = h_tcp_listener(4, &port);
    if (h_fork_peer() == 0) peer();
    int sa = accept(listener, NULL, NULL), sb = accept(listener, NULL, NULL);
    sc = accept(listener, NULL, NULL);
    sd = accept(listener, NULL, NULL);
    SETUP(sa >= 0 && sb >= 0 && sc >= 0 && sd >= 0, "accept: %s", strerror(errno));
    send(sa, "server-A-data", 13, 0);
    shutdown(sa, SHUT_WR);
    for (int i = 0; i < 2000 && !h_exists("peer-a-eof"); i++) h_sleep_ms(2);
    h_sleep_ms(50);
    SETUP(tcp_state(sa) == TCP_FIN_WAIT2, "connection A is in state %d, not FIN_WAIT2", tcp_state(sa));
    SETUP(tcp_state(sb) == TCP_CLOSE_WAIT, "connection B is in state %d, not CLOSE_WAIT", tcp_state(sb));
    SETUP(h_write_file("wants-held", "") == 0, "write wants-held");
    pthread_t closer;
    pthread_create(&closer, NULL, close_c_and_d, NULL);
    h_ready();
    h_wait_go();
    pthread_join(closer, NULL);
    CHECK(strcmp(d_read, "peer-D-data") == 0, "connection D: read '%s' before the end of stream", d_read);
    if (states_while_held[0]) {
        CHECK(states_while_held[0] == TCP_FIN_WAIT1, "connection C was in state %d while held, not FIN_WAIT1", states_while_held[0]);
        CHECK(states_while_held[1] == TCP_LAST_ACK, "connection D was in state %d while held, not LAST_ACK", states_while_held[1]);
    }
    h_write_file("peer-go", "");
    char buf[256];
    int n = read_to_eof(sb, buf, sizeof buf);
    CHECK(n == 11 && strcmp(buf, "peer-B-data") == 0, "connection B: read %d bytes '%s' before the end of stream", n, n > 0 ? buf : "");
    CHECK(send(sb, "late-B", 6, MSG_NOSIGNAL) == 6, "connection B: cannot answer: %s", strerror(errno));
    close(sb);
    n = read_to_eof(sa, buf, sizeof buf);
    CHECK(n == 6 && strcmp(buf, "late-A") == 0, "connection A: read %d bytes '%s'", n, n > 0 ? buf : "");
    n = read_to_eof(sc, buf, sizeof buf);
    CHECK(n == 6 && strcmp(buf, "late-C") == 0, "connection C: read %d bytes '%s'", n, n > 0 ? buf : "");
    char result[256] = "", path[4096];
    h_path(path, sizeof path, "peer-result");
    for (int i = 0; i < 4000 && h_read_file(path, result, sizeof result) <= 0; i++) h_sleep_ms(5);
    CHECK(strncmp(result, "PASS", 4) == 0, "peer: %s", result[0] ? result : "no result");
    return h_finish();
}
