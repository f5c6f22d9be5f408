/*
 * TCP continuity: this process is the server of two connections, over IPv4 and IPv6 loopback,
 * with a peer process (forked, so not checkpointed with us) on the other ends. Both sides stream
 * sequence-checked bytes at a steady rate in both directions, so every queue holds data when the
 * checkpoint comes. After go: the peer is told to finish, both sides check that no byte was lost,
 * duplicated or reordered and that no reset or early EOF happened, the listeners still accept,
 * and socket options and addresses are unchanged.
 *
 * STATEDIR/ports holds the two listening ports, for the test's packet block during the move.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define CHUNK 8192
#define RATE_SLEEP_US 2000

static unsigned char to_peer(uint64_t i) { return (unsigned char)(i * 13 + 5); }
static unsigned char to_server(uint64_t i) { return (unsigned char)(i * 7 + (i >> 8)); }

struct stream {
    int fd;
    uint64_t sent, received;
    int eof;
    char error[160];
};

/* Sends a chunk if the socket takes it and checks what arrived; returns -1 on a broken stream. */
static int pump(struct stream *s, unsigned char (*out)(uint64_t), unsigned char (*in)(uint64_t), int sending)
{
    unsigned char buf[CHUNK];
    if (sending) {
        for (int i = 0; i < CHUNK; i++) buf[i] = out(s->sent + i);
        ssize_t n = send(s->fd, buf, CHUNK, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) s->sent += n;
        else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            snprintf(s->error, sizeof s->error, "send: %s after %llu bytes", strerror(errno), (unsigned long long)s->sent);
            return -1;
        }
    }
    for (;;) {
        ssize_t n = recv(s->fd, buf, CHUNK, MSG_DONTWAIT);
        if (n == 0) { s->eof = 1; return 0; }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return 0;
            snprintf(s->error, sizeof s->error, "recv: %s after %llu bytes", strerror(errno), (unsigned long long)s->received);
            return -1;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != in(s->received + i)) {
                snprintf(s->error, sizeof s->error, "byte %llu is 0x%02x, expected 0x%02x (lost, duplicated or reordered data)",
                         (unsigned long long)(s->received + i), buf[i], in(s->received + i));
                return -1;
            }
        }
        s->received += n;
    }
}

static int connect_to(int family, int port)
{
    int fd = socket(family, SOCK_STREAM, 0);
    if (family == AF_INET) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    } else {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    }
    return fd;
}

static int listen_on(int family, int *port)
{
    int fd = socket(family, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) return -1;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

/* The peer: streams to the server until told to stop, then half-closes and reads to EOF. */
static void peer(int port4, int port6, int l4, int l6)
{
    /* not the server's listeners, which must be free for the restored server to bind
       (the session of its own comes from h_fork_peer) */
    close(l4);
    close(l6);
    struct stream s[2] = {{.fd = connect_to(AF_INET, port4)}, {.fd = connect_to(AF_INET6, port6)}};
    char result[512];
    if (s[0].fd < 0 || s[1].fd < 0) {
        h_write_file("peer-result", "FAIL: peer cannot connect\n");
        _exit(0);
    }
    int stopping = 0;
    while (!(s[0].eof && s[1].eof)) {
        if (!stopping && h_exists("peer-stop")) {
            stopping = 1;
            shutdown(s[0].fd, SHUT_WR);
            shutdown(s[1].fd, SHUT_WR);
        }
        for (int k = 0; k < 2; k++) {
            if (!s[k].eof && pump(&s[k], to_server, to_peer, !stopping) < 0) {
                snprintf(result, sizeof result, "FAIL: peer, connection %d: %s\n", k, s[k].error);
                h_write_file("peer-result", result);
                _exit(0);
            }
        }
        usleep(RATE_SLEEP_US);
    }
    snprintf(result, sizeof result, "PASS v4 sent %llu received %llu, v6 sent %llu received %llu\n",
             (unsigned long long)s[0].sent, (unsigned long long)s[0].received,
             (unsigned long long)s[1].sent, (unsigned long long)s[1].received);
    h_write_file("peer-result", result);
    _exit(0);
}

static struct stream conn[2];
static volatile int stop_sending;
static volatile int server_failed;

static void *serve(void *arg)
{
    (void)arg;
    while (!(conn[0].eof && conn[1].eof)) {
        for (int k = 0; k < 2; k++) {
            if (!conn[k].eof && pump(&conn[k], to_peer, to_server, !stop_sending) < 0) {
                server_failed = 1;
                return NULL;
            }
        }
        usleep(RATE_SLEEP_US);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    int port4, port6;
    int l4 = listen_on(AF_INET, &port4), l6 = listen_on(AF_INET6, &port6);
    SETUP(l4 >= 0 && l6 >= 0, "listen: %s", strerror(errno));
    char ports[64];
    snprintf(ports, sizeof ports, "%d %d\n", port4, port6);
    SETUP(h_write_file("ports", ports) == 0, "write ports");
    pid_t child = h_fork_peer();
    if (child == 0) peer(port4, port6, l4, l6);
    conn[0].fd = accept(l4, NULL, NULL);
    conn[1].fd = accept(l6, NULL, NULL);
    SETUP(conn[0].fd >= 0 && conn[1].fd >= 0, "accept: %s", strerror(errno));
    int one = 1;
    setsockopt(conn[0].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(conn[1].fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    struct sockaddr_storage before[2];
    socklen_t blen = sizeof before[0];
    getpeername(conn[0].fd, (struct sockaddr *)&before[0], &blen);
    blen = sizeof before[1];
    getpeername(conn[1].fd, (struct sockaddr *)&before[1], &blen);
    pthread_t t;
    pthread_create(&t, NULL, serve, NULL);
    h_sleep_ms(200);
    h_ready();
    h_wait_go();
    h_sleep_ms(300);
    CHECK(!server_failed, "stream broken before the end: %s%s", conn[0].error, conn[1].error);
    h_write_file("peer-stop", "");
    for (int i = 0; i < 2000 && !(conn[0].eof && conn[1].eof) && !server_failed; i++) h_sleep_ms(5);
    stop_sending = 1;
    CHECK(conn[0].eof && conn[1].eof, "no EOF from the peer after it was told to stop");
    CHECK(!server_failed, "server stream: %s%s", conn[0].error, conn[1].error);
    int v = 0;
    socklen_t vl = sizeof v;
    getsockopt(conn[0].fd, IPPROTO_TCP, TCP_NODELAY, &v, &vl);
    CHECK(v == 1, "TCP_NODELAY lost");
    getsockopt(conn[1].fd, SOL_SOCKET, SO_KEEPALIVE, &v, &vl);
    CHECK(v == 1, "SO_KEEPALIVE lost");
    struct sockaddr_storage after;
    for (int k = 0; k < 2; k++) {
        blen = sizeof after;
        getpeername(conn[k].fd, (struct sockaddr *)&after, &blen);
        CHECK(memcmp(&after, &before[k], blen) == 0, "connection %d has another peer address now", k);
    }
    /* our last bytes out; the peer reads to EOF and reports what it got */
    for (int k = 0; k < 2; k++) shutdown(conn[k].fd, SHUT_WR);
    pthread_join(t, NULL);
    char peer_result[512] = "";
    char path[4096];
    h_path(path, sizeof path, "peer-result");
    for (int i = 0; i < 2000 && h_read_file(path, peer_result, sizeof peer_result) <= 0; i++) h_sleep_ms(5);
    CHECK(strncmp(peer_result, "PASS", 4) == 0, "peer: %s", peer_result[0] ? peer_result : "no result");
    h_log("server v4 sent %llu received %llu; %s", (unsigned long long)conn[0].sent, (unsigned long long)conn[0].received, peer_result);
    /* the listeners still take connections */
    int c4 = connect_to(AF_INET, port4), c6 = connect_to(AF_INET6, port6);
    CHECK(c4 >= 0 && c6 >= 0, "the listeners no longer accept: %s", strerror(errno));
    if (c4 >= 0) CHECK(accept(l4, NULL, NULL) >= 0, "accept on the IPv4 listener: %s", strerror(errno));
    if (c6 >= 0) CHECK(accept(l6, NULL, NULL) >= 0, "accept on the IPv6 listener: %s", strerror(errno));
    return h_finish();
}
