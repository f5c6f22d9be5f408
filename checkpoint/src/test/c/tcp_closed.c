/*
 * tcp_closed: TCP sockets whose connection has ended (state CLOSE, both directions shut), as a server
 * keeps them until it notices: each must read end of stream, fail to send with EPIPE, have no peer,
 * no pending error, the same local address and poll state as before, and its options.
 *  - fd 20: IPv4 client, ephemeral port, reset by its peer (the error read), with SO_KEEPALIVE,
 *    TCP_NODELAY, SO_LINGER 1/3, TCP_KEEPIDLE 50, TCP_USER_TIMEOUT 7000: its port is free again;
 *  - fd 21: IPv6 client closed in order (our FIN, then the peer's);
 *  - fd 22: IPv4, bound to its port before connecting (SO_REUSEADDR), reset: the port stays held.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

struct closed {
    int fd;
    struct sockaddr_storage local;
    socklen_t local_len;
    short poll;
    int connect_errno;
};

static struct closed socks[3];

static short poll_of(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT | POLLPRI | POLLRDHUP};
    return poll(&p, 1, 0) < 0 ? -1 : p.revents;
}

static int connect_errno(int fd, const struct sockaddr_storage *to, socklen_t len)
{
    return connect(fd, (const struct sockaddr *)to, len) == 0 ? 0 : errno;
}

/* Connects fd to a listener of its family on loopback, then ends the connection: reset by the peer, or in order. */
static void connect_and_end(int fd, int family, int reset)
{
    struct sockaddr_storage a = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&a;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        len = sizeof *in6;
    }
    int l = socket(family, SOCK_STREAM, 0);
    SETUP(l >= 0 && bind(l, (struct sockaddr *)&a, len) == 0 && listen(l, 1) == 0, "listener: %s", strerror(errno));
    SETUP(getsockname(l, (struct sockaddr *)&a, &len) == 0, "getsockname: %s", strerror(errno));
    SETUP(connect(fd, (struct sockaddr *)&a, len) == 0, "fd %d connect: %s", fd, strerror(errno));
    int served = accept(l, NULL, NULL);
    SETUP(served >= 0, "accept: %s", strerror(errno));
    close(l);
    if (reset) {
        struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
        setsockopt(served, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
        close(served);
    } else {
        SETUP(shutdown(fd, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
        char c;
        SETUP(read(served, &c, 1) == 0, "the peer did not see our FIN");
        close(served);
    }
    /* the connection has ended once the socket is closed both ways */
    int state = -1;
    for (int i = 0; i < 5000; i++) {
        struct tcp_info ti;
        socklen_t tl = sizeof ti;
        getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl);
        state = ti.tcpi_state;
        if (state == TCP_CLOSE) {
            break;
        }
        h_sleep_ms(2);
    }
    SETUP(state == TCP_CLOSE, "fd %d: still in state %d", fd, state);
    if (reset) {
        SETUP(h_getint(fd, SOL_SOCKET, SO_ERROR) == ECONNRESET, "fd %d: no ECONNRESET", fd);
    }
}

static void record(int i, int fd)
{
    socks[i].fd = fd;
    socks[i].local_len = sizeof socks[i].local;
    SETUP(getsockname(fd, (struct sockaddr *)&socks[i].local, &socks[i].local_len) == 0, "getsockname: %s", strerror(errno));
    socks[i].poll = poll_of(fd);
    socks[i].connect_errno = connect_errno(fd, &socks[i].local, socks[i].local_len);
}

static void check(const struct closed *s)
{
    int fd = s->fd;
    struct sockaddr_storage now;
    socklen_t len = sizeof now;
    CHECK(getsockname(fd, (struct sockaddr *)&now, &len) == 0 && len == s->local_len && memcmp(&now, &s->local, len) == 0,
          "fd %d: its local address changed", fd);
    len = sizeof now;
    CHECK(getpeername(fd, (struct sockaddr *)&now, &len) < 0 && errno == ENOTCONN, "fd %d: getpeername did not fail ENOTCONN", fd);
    CHECK(poll_of(fd) == s->poll, "fd %d: poll %#x, was %#x", fd, poll_of(fd), s->poll);
    CHECK(h_getint(fd, SOL_SOCKET, SO_ERROR) == 0, "fd %d: a pending error %d", fd, h_getint(fd, SOL_SOCKET, SO_ERROR));
    char c;
    CHECK(recv(fd, &c, 1, MSG_DONTWAIT) == 0, "fd %d: no end of stream (%s)", fd, strerror(errno));
    CHECK(send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno == EPIPE, "fd %d: send did not fail EPIPE (%s)", fd, strerror(errno));
    CHECK(connect_errno(fd, &s->local, s->local_len) == s->connect_errno, "fd %d: connect fails with %s, was %s", fd,
          strerror(connect_errno(fd, &s->local, s->local_len)), strerror(s->connect_errno));
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    CHECK(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 && ti.tcpi_state == TCP_CLOSE, "fd %d: state %d", fd, ti.tcpi_state);
}

/* 0 if another socket could bind the address of s, else the errno. */
static int bind_errno(const struct closed *s)
{
    int t = socket(s->local.ss_family, SOCK_STREAM, 0);
    int err = bind(t, (const struct sockaddr *)&s->local, s->local_len) == 0 ? 0 : errno;
    close(t);
    return err;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    h_place(socket(AF_INET, SOCK_STREAM, 0), 20);
    h_setint(20, SOL_SOCKET, SO_KEEPALIVE, 1);
    h_setint(20, IPPROTO_TCP, TCP_NODELAY, 1);
    h_setint(20, IPPROTO_TCP, TCP_KEEPIDLE, 50);
    h_setint(20, IPPROTO_TCP, TCP_USER_TIMEOUT, 7000);
    struct linger linger = {.l_onoff = 1, .l_linger = 3};
    SETUP(setsockopt(20, SOL_SOCKET, SO_LINGER, &linger, sizeof linger) == 0, "SO_LINGER");
    connect_and_end(20, AF_INET, 1);
    record(0, 20);

    h_place(socket(AF_INET6, SOCK_STREAM, 0), 21);
    connect_and_end(21, AF_INET6, 0);
    record(1, 21);

    h_place(socket(AF_INET, SOCK_STREAM, 0), 22);
    h_setint(22, SOL_SOCKET, SO_REUSEADDR, 1);
    /* a port of its own named in the bind (one a bind to port 0 leaves to the connection, which frees it) */
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t lo_len = sizeof lo;
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    SETUP(bind(probe, (struct sockaddr *)&lo, lo_len) == 0 && getsockname(probe, (struct sockaddr *)&lo, &lo_len) == 0,
          "a free port: %s", strerror(errno));
    close(probe);
    SETUP(bind(22, (struct sockaddr *)&lo, sizeof lo) == 0, "bind: %s", strerror(errno));
    connect_and_end(22, AF_INET, 1);
    record(2, 22);
    SETUP(bind_errno(&socks[0]) == 0, "fd 20's port is still held: %s", strerror(bind_errno(&socks[0])));
    SETUP(bind_errno(&socks[2]) == EADDRINUSE, "fd 22's port is not held: %s", strerror(bind_errno(&socks[2])));

    h_ready();
    h_wait_go();

    for (int i = 0; i < 3; i++) {
        check(&socks[i]);
    }
    CHECK(h_getint(20, SOL_SOCKET, SO_KEEPALIVE) == 1 && h_getint(20, IPPROTO_TCP, TCP_NODELAY) == 1
          && h_getint(20, IPPROTO_TCP, TCP_KEEPIDLE) == 50 && h_getint(20, IPPROTO_TCP, TCP_USER_TIMEOUT) == 7000,
          "fd 20 lost an option");
    struct linger l2 = {0};
    socklen_t len = sizeof l2;
    getsockopt(20, SOL_SOCKET, SO_LINGER, &l2, &len);
    CHECK(l2.l_onoff == 1 && l2.l_linger == 3, "fd 20: SO_LINGER %d/%d, was 1/3", l2.l_onoff, l2.l_linger);
    CHECK(h_getint(22, SOL_SOCKET, SO_REUSEADDR) == 1, "fd 22 lost SO_REUSEADDR");
    CHECK(bind_errno(&socks[0]) == 0, "fd 20's port is held now: %s", strerror(bind_errno(&socks[0])));
    CHECK(bind_errno(&socks[2]) == EADDRINUSE, "fd 22's port is no longer held: %s", strerror(bind_errno(&socks[2])));
    return h_finish();
}
