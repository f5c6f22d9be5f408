/*
 * Half-closed TCP connections across a checkpoint. Connection A: this server has shut down its
 * sending side and the peer acknowledged the FIN (FIN_WAIT2); the peer still sends to it
 * after go. Connection B: the peer has sent its data and its FIN, unread by the server
 * (CLOSE_WAIT); after go the server reads the data and the end of stream, then answers and
 * closes. The peer is a forked process that checks its side.
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
    setsid();
    close(listener);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ca = socket(AF_INET, SOCK_STREAM, 0), cb = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(ca, (struct sockaddr *)&a, sizeof a) < 0 || connect(cb, (struct sockaddr *)&a, sizeof a) < 0) {
        h_write_file("peer-result", "FAIL: connect\n");
        _exit(0);
    }
    send(cb, "peer-B-data", 11, 0);
    shutdown(cb, SHUT_WR);
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
    int n = read_to_eof(cb, buf, sizeof buf);
    if (n < 0 || strcmp(buf, "late-B") != 0) {
        char why[300];
        snprintf(why, sizeof why, "FAIL: connection B after the move: %s\n", n < 0 ? strerror(errno) : buf);
        h_write_file("peer-result", why);
        _exit(0);
    }
    h_write_file("peer-result", "PASS\n");
    _exit(0);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    listener = h_tcp_listener(4, &port);
    if (fork() == 0) peer();
    int sa = accept(listener, NULL, NULL), sb = accept(listener, NULL, NULL);
    SETUP(sa >= 0 && sb >= 0, "accept: %s", strerror(errno));
    send(sa, "server-A-data", 13, 0);
    shutdown(sa, SHUT_WR);
    for (int i = 0; i < 2000 && !h_exists("peer-a-eof"); i++) h_sleep_ms(2);
    h_sleep_ms(50);
    SETUP(tcp_state(sa) == TCP_FIN_WAIT2, "connection A is in state %d, not FIN_WAIT2", tcp_state(sa));
    SETUP(tcp_state(sb) == TCP_CLOSE_WAIT, "connection B is in state %d, not CLOSE_WAIT", tcp_state(sb));
    h_ready();
    h_wait_go();
    h_write_file("peer-go", "");
    char buf[256];
    int n = read_to_eof(sb, buf, sizeof buf);
    CHECK(n == 11 && strcmp(buf, "peer-B-data") == 0, "connection B: read %d bytes '%s' before the end of stream", n, n > 0 ? buf : "");
    CHECK(send(sb, "late-B", 6, MSG_NOSIGNAL) == 6, "connection B: cannot answer: %s", strerror(errno));
    close(sb);
    n = read_to_eof(sa, buf, sizeof buf);
    CHECK(n == 6 && strcmp(buf, "late-A") == 0, "connection A: read %d bytes '%s'", n, n > 0 ? buf : "");
    char result[256] = "", path[4096];
    h_path(path, sizeof path, "peer-result");
    for (int i = 0; i < 4000 && h_read_file(path, result, sizeof result) <= 0; i++) h_sleep_ms(5);
    CHECK(strncmp(result, "PASS", 4) == 0, "peer: %s", result[0] ? result : "no result");
    return h_finish();
}
