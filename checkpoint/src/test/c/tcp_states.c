/*
 * tcp_states: TCP sockets in the states every server and client goes through before a connection,
 * with their options:
 *  - fd 20: created, not bound (IPv4), with SO_KEEPALIVE, TCP_NODELAY, SO_LINGER 1/3 and TCP_KEEPIDLE 50:
 *    after go it connects to fd 23 and a byte goes through;
 *  - fd 21: bound to [::1] on an ephemeral port, not listening, SO_REUSEADDR: after go it has the same
 *    address and can listen;
 *  - fd 22: bound with IP_FREEBIND to 192.0.2.77 (an address no host here has), not listening: after go
 *    it has the same address and IP_FREEBIND;
 *  - fd 23: a listener on 127.0.0.1.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    h_place(socket(AF_INET, SOCK_STREAM, 0), 20);
    h_setint(20, SOL_SOCKET, SO_KEEPALIVE, 1);
    h_setint(20, IPPROTO_TCP, TCP_NODELAY, 1);
    h_setint(20, IPPROTO_TCP, TCP_KEEPIDLE, 50);
    struct linger linger = {.l_onoff = 1, .l_linger = 3};
    SETUP(setsockopt(20, SOL_SOCKET, SO_LINGER, &linger, sizeof linger) == 0, "SO_LINGER");

    h_place(socket(AF_INET6, SOCK_STREAM, 0), 21);
    h_setint(21, SOL_SOCKET, SO_REUSEADDR, 1);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t l6 = sizeof a6;
    SETUP(bind(21, (struct sockaddr *)&a6, l6) == 0, "bind [::1]: %s", strerror(errno));
    getsockname(21, (struct sockaddr *)&a6, &l6);

    h_place(socket(AF_INET, SOCK_STREAM, 0), 22);
    h_setint(22, IPPROTO_IP, IP_FREEBIND, 1);
    struct sockaddr_in foreign = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.0.2.77", &foreign.sin_addr);
    socklen_t lf = sizeof foreign;
    SETUP(bind(22, (struct sockaddr *)&foreign, lf) == 0, "bind 192.0.2.77 with IP_FREEBIND: %s", strerror(errno));
    getsockname(22, (struct sockaddr *)&foreign, &lf);

    h_place(socket(AF_INET, SOCK_STREAM, 0), 23);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t ll = sizeof lo;
    SETUP(bind(23, (struct sockaddr *)&lo, ll) == 0 && listen(23, 4) == 0, "listen: %s", strerror(errno));
    getsockname(23, (struct sockaddr *)&lo, &ll);

    h_ready();
    h_wait_go();

    CHECK(h_getint(20, SOL_SOCKET, SO_KEEPALIVE) == 1 && h_getint(20, IPPROTO_TCP, TCP_NODELAY) == 1
          && h_getint(20, IPPROTO_TCP, TCP_KEEPIDLE) == 50, "fd 20 lost an option");
    struct linger l2 = {0};
    socklen_t len = sizeof l2;
    getsockopt(20, SOL_SOCKET, SO_LINGER, &l2, &len);
    CHECK(l2.l_onoff == 1 && l2.l_linger == 3, "fd 20: SO_LINGER %d/%d, was 1/3", l2.l_onoff, l2.l_linger);
    CHECK(connect(20, (struct sockaddr *)&lo, ll) == 0, "fd 20 connect: %s", strerror(errno));
    int served = accept(23, NULL, NULL);
    char c = 0;
    CHECK(served >= 0 && write(20, "x", 1) == 1 && read(served, &c, 1) == 1 && c == 'x', "fd 20: no byte through");

    struct sockaddr_in6 b6;
    socklen_t bl6 = sizeof b6;
    getsockname(21, (struct sockaddr *)&b6, &bl6);
    CHECK(b6.sin6_port == a6.sin6_port && memcmp(&b6.sin6_addr, &a6.sin6_addr, 16) == 0, "fd 21: bound to another address");
    CHECK(h_getint(21, SOL_SOCKET, SO_REUSEADDR) == 1, "fd 21 lost SO_REUSEADDR");
    CHECK(listen(21, 4) == 0, "fd 21 cannot listen: %s", strerror(errno));

    struct sockaddr_in f2;
    socklen_t lf2 = sizeof f2;
    getsockname(22, (struct sockaddr *)&f2, &lf2);
    CHECK(f2.sin_port == foreign.sin_port && f2.sin_addr.s_addr == foreign.sin_addr.s_addr, "fd 22: bound to another address");
    CHECK(h_getint(22, IPPROTO_IP, IP_FREEBIND) == 1, "fd 22 lost IP_FREEBIND");
    return h_finish();
}
