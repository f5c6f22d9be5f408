/*
 * UDP sockets with queued datagrams:
 *   - a bound, unconnected IPv4 socket on 127.0.0.1 (SO_REUSEADDR, SO_REUSEPORT, SO_BROADCAST,
 *     chosen buffer sizes, O_NONBLOCK) with 5 datagrams queued: 3 from two senders of this
 *     program on distinct loopback ports (closed before ready), 1 from 192.0.2.1:4444, an
 *     address this host does not have (sent with IP_TRANSPARENT; skipped if that is refused),
 *     and 1 from a socket the peer child keeps open (its port stays taken);
 *   - an IPv6 socket (IPV6_V6ONLY, a chosen receive buffer) bound to ::1 and connected to a peer
 *     in a forked child (not checkpointed with us, its port stays taken), with 2 datagrams queued
 *     from that peer.
 * After go: the queued datagrams come out in order with the same payloads and source addresses,
 * the connected socket still talks to its peer both ways, options and addresses are unchanged,
 * and a fresh datagram sent to the bound socket arrives.
 *
 * STATEDIR/ports holds the two local ports ("v4 v6"). STATEDIR/nonlocal says whether the
 * non-local datagram was queued ("1") or not ("0"); STATEDIR/peer-pid is the peer child's pid.
 * If STATEDIR/join-multicast exists before the start, the IPv4 socket also joins 239.1.2.3 on
 * lo (a checkpoint must refuse that; the checks after go are the same).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#define PEER_IDLE_MS 120000

struct expect {
    char payload[64];
    size_t len;
    struct sockaddr_storage from;
    socklen_t fromlen;
};

static struct expect q4[5], q6[2];
static int n4, n6;

static int bound_socket(int family, const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
    int fd = socket(family, SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        inet_pton(AF_INET, addr, &a->sin_addr);
        *len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        inet_pton(AF_INET6, addr, &a->sin6_addr);
        *len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)ss, *len) < 0) return -1;
    getsockname(fd, (struct sockaddr *)ss, len);
    return fd;
}

static int port_of(const struct sockaddr_storage *ss)
{
    return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

static const char *show(const struct sockaddr_storage *ss, char *buf, size_t n)
{
    char a[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof a);
    else if (ss->ss_family == AF_INET6) inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof a);
    snprintf(buf, n, "%s:%d", a, port_of(ss));
    return buf;
}

/* Sends payload from sender to dest and records it as expected next at the receiver. */
static void queue_from(int sender, const char *payload, const struct sockaddr_storage *dest, socklen_t destlen,
                       struct expect *e)
{
    e->len = strlen(payload);
    memcpy(e->payload, payload, e->len);
    e->fromlen = sizeof e->from;
    getsockname(sender, (struct sockaddr *)&e->from, &e->fromlen);
    SETUP(sendto(sender, payload, e->len, 0, (const struct sockaddr *)dest, destlen) == (ssize_t)e->len, "sendto: %s", strerror(errno));
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

/* Receives one datagram (waiting up to 2 s) and checks it against e. */
static void expect_datagram(int fd, const char *what, int index, const struct expect *e)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 2000) != 1) {
        h_fail("%s: datagram %d ('%.*s') never came", what, index, (int)e->len, e->payload);
        return;
    }
    char buf[256], s1[80], s2[80];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    memset(&from, 0, sizeof from);
    ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
    if (n < 0) {
        h_fail("%s: datagram %d: recvfrom: %s", what, index, strerror(errno));
        return;
    }
    CHECK((size_t)n == e->len && memcmp(buf, e->payload, e->len) == 0, "%s: datagram %d is '%.*s', expected '%.*s'",
          what, index, (int)n, buf, (int)e->len, e->payload);
    CHECK(same_addr(&from, &e->from), "%s: datagram %d came from %s, expected %s", what, index,
          show(&from, s1, sizeof s1), show(&e->from, s2, sizeof s2));
}

static int getint(int fd, int level, int name)
{
    int v = -1;
    socklen_t l = sizeof v;
    getsockopt(fd, level, name, &v, &l);
    return v;
}

/* The peer: replies "pong:<what it got>" to every datagram, ends on "bye" or after a long idle time. */
static void peer(int fd)
{
    char buf[256], reply[300];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, PEER_IDLE_MS) != 1) _exit(0);
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n < 0) {
            if (errno == EINTR || errno == ECONNREFUSED) continue;
            _exit(0);
        }
        buf[n] = 0;
        if (strcmp(buf, "bye") == 0) _exit(0);
        int len = snprintf(reply, sizeof reply, "pong:%s", buf);
        send(fd, reply, (size_t)len, 0);
    }
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    int one = 1;

    /* IPv4: bound, unconnected, options a server sets */
    struct sockaddr_storage a4;
    socklen_t l4;
    int s4 = socket(AF_INET, SOCK_DGRAM, 0);
    SETUP(s4 >= 0, "socket: %s", strerror(errno));
    SETUP(setsockopt(s4, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "SO_REUSEADDR");
    SETUP(setsockopt(s4, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0, "SO_REUSEPORT");
    SETUP(setsockopt(s4, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) == 0, "SO_BROADCAST");
    int rcv = 150000, snd = 70000;
    SETUP(setsockopt(s4, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv) == 0, "SO_RCVBUF");
    SETUP(setsockopt(s4, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd) == 0, "SO_SNDBUF");
    memset(&a4, 0, sizeof a4);
    ((struct sockaddr_in *)&a4)->sin_family = AF_INET;
    ((struct sockaddr_in *)&a4)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l4 = sizeof(struct sockaddr_in);
    SETUP(bind(s4, (struct sockaddr *)&a4, l4) == 0, "bind v4: %s", strerror(errno));
    getsockname(s4, (struct sockaddr *)&a4, &l4);
    SETUP(fcntl(s4, F_SETFL, fcntl(s4, F_GETFL) | O_NONBLOCK) == 0, "O_NONBLOCK");
    if (h_exists("join-multicast")) {
        struct ip_mreqn mr = {.imr_ifindex = (int)if_nametoindex("lo")};
        inet_pton(AF_INET, "239.1.2.3", &mr.imr_multiaddr);
        SETUP(setsockopt(s4, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) == 0, "IP_ADD_MEMBERSHIP: %s", strerror(errno));
    }

    /* two senders on distinct ports, closed before ready */
    struct sockaddr_storage sa;
    socklen_t sl;
    int t1 = bound_socket(AF_INET, "127.0.0.1", &sa, &sl), t2 = bound_socket(AF_INET, "127.0.0.1", &sa, &sl);
    SETUP(t1 >= 0 && t2 >= 0, "senders: %s", strerror(errno));
    queue_from(t1, "first from sender one", &a4, l4, &q4[n4++]);
    queue_from(t2, "second, from sender two", &a4, l4, &q4[n4++]);
    queue_from(t1, "third: one again", &a4, l4, &q4[n4++]);
    close(t1);
    close(t2);

    /* from an address this host does not have, as a remote client's would be */
    int nonlocal = 0;
    int tr = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in remote = {.sin_family = AF_INET, .sin_port = htons(4444)};
    inet_pton(AF_INET, "192.0.2.1", &remote.sin_addr);
    if (tr >= 0 && setsockopt(tr, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof one) == 0
        && bind(tr, (struct sockaddr *)&remote, sizeof remote) == 0) {
        queue_from(tr, "fourth, from afar", &a4, l4, &q4[n4++]);
        nonlocal = 1;
    } else {
        h_log("no non-local sender (IP_TRANSPARENT): %s", strerror(errno));
    }
    if (tr >= 0) close(tr);

    /* IPv6: bound to ::1, connected to a peer in a child */
    struct sockaddr_storage a6, p6;
    socklen_t l6, pl6;
    int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    SETUP(s6 >= 0, "socket v6: %s", strerror(errno));
    SETUP(setsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == 0, "IPV6_V6ONLY");
    int rcv6 = 90000;
    SETUP(setsockopt(s6, SOL_SOCKET, SO_RCVBUF, &rcv6, sizeof rcv6) == 0, "SO_RCVBUF v6");
    memset(&a6, 0, sizeof a6);
    ((struct sockaddr_in6 *)&a6)->sin6_family = AF_INET6;
    ((struct sockaddr_in6 *)&a6)->sin6_addr = in6addr_loopback;
    l6 = sizeof(struct sockaddr_in6);
    SETUP(bind(s6, (struct sockaddr *)&a6, l6) == 0, "bind v6: %s", strerror(errno));
    getsockname(s6, (struct sockaddr *)&a6, &l6);
    int pfd = bound_socket(AF_INET6, "::1", &p6, &pl6);
    SETUP(pfd >= 0, "peer socket: %s", strerror(errno));
    int live4 = bound_socket(AF_INET, "127.0.0.1", &sa, &sl);
    SETUP(live4 >= 0, "live sender: %s", strerror(errno));
    queue_from(live4, "fifth, from a live socket", &a4, l4, &q4[n4++]);
    SETUP(connect(pfd, (struct sockaddr *)&a6, l6) == 0, "peer connect: %s", strerror(errno));
    SETUP(connect(s6, (struct sockaddr *)&p6, pl6) == 0, "connect v6: %s", strerror(errno));
    queue_from(pfd, "v6 one", &a6, l6, &q6[n6++]);
    queue_from(pfd, "v6 two, the last", &a6, l6, &q6[n6++]);
    pid_t child = h_fork_peer();
    SETUP(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
        close(s4);
        close(s6);
        peer(pfd);
    }
    close(pfd);
    close(live4);
    char pidtext[32];
    snprintf(pidtext, sizeof pidtext, "%d\n", (int)child);
    SETUP(h_write_file("peer-pid", pidtext) == 0, "write peer-pid");

    /* what must hold after go */
    int opts4[5] = {getint(s4, SOL_SOCKET, SO_REUSEADDR), getint(s4, SOL_SOCKET, SO_REUSEPORT), getint(s4, SOL_SOCKET, SO_BROADCAST),
                    getint(s4, SOL_SOCKET, SO_RCVBUF), getint(s4, SOL_SOCKET, SO_SNDBUF)};
    int opts6[3] = {getint(s6, IPPROTO_IPV6, IPV6_V6ONLY), getint(s6, SOL_SOCKET, SO_RCVBUF), getint(s6, SOL_SOCKET, SO_REUSEADDR)};
    char ports[64];
    snprintf(ports, sizeof ports, "%d %d\n", port_of(&a4), port_of(&a6));
    SETUP(h_write_file("ports", ports) == 0, "write ports");
    SETUP(h_write_file("nonlocal", nonlocal ? "1\n" : "0\n") == 0, "write nonlocal");
    h_sleep_ms(20);
    h_ready();
    h_wait_go();

    char s1[80], s2[80];
    struct sockaddr_storage now;
    socklen_t nl = sizeof now;
    getsockname(s4, (struct sockaddr *)&now, &nl);
    CHECK(same_addr(&now, &a4), "v4 socket is bound to %s now, was %s", show(&now, s1, sizeof s1), show(&a4, s2, sizeof s2));
    nl = sizeof now;
    CHECK(getpeername(s4, (struct sockaddr *)&now, &nl) < 0 && errno == ENOTCONN, "v4 socket is connected now");
    nl = sizeof now;
    getsockname(s6, (struct sockaddr *)&now, &nl);
    CHECK(same_addr(&now, &a6), "v6 socket is bound to %s now, was %s", show(&now, s1, sizeof s1), show(&a6, s2, sizeof s2));
    nl = sizeof now;
    CHECK(getpeername(s6, (struct sockaddr *)&now, &nl) == 0 && same_addr(&now, &p6), "v6 socket's peer is %s now, was %s",
          show(&now, s1, sizeof s1), show(&p6, s2, sizeof s2));
    CHECK(fcntl(s4, F_GETFL) & O_NONBLOCK, "v4 socket lost O_NONBLOCK");
    CHECK(!(fcntl(s6, F_GETFL) & O_NONBLOCK), "v6 socket became O_NONBLOCK");
    const char *names4[5] = {"SO_REUSEADDR", "SO_REUSEPORT", "SO_BROADCAST", "SO_RCVBUF", "SO_SNDBUF"};
    int now4[5] = {getint(s4, SOL_SOCKET, SO_REUSEADDR), getint(s4, SOL_SOCKET, SO_REUSEPORT), getint(s4, SOL_SOCKET, SO_BROADCAST),
                   getint(s4, SOL_SOCKET, SO_RCVBUF), getint(s4, SOL_SOCKET, SO_SNDBUF)};
    for (int i = 0; i < 5; i++) CHECK(now4[i] == opts4[i], "v4 %s is %d, was %d", names4[i], now4[i], opts4[i]);
    const char *names6[3] = {"IPV6_V6ONLY", "SO_RCVBUF", "SO_REUSEADDR"};
    int now6[3] = {getint(s6, IPPROTO_IPV6, IPV6_V6ONLY), getint(s6, SOL_SOCKET, SO_RCVBUF), getint(s6, SOL_SOCKET, SO_REUSEADDR)};
    for (int i = 0; i < 3; i++) CHECK(now6[i] == opts6[i], "v6 %s is %d, was %d", names6[i], now6[i], opts6[i]);
    CHECK(getint(s4, SOL_SOCKET, SO_PEEK_OFF) == -1 && getint(s6, SOL_SOCKET, SO_PEEK_OFF) == -1, "SO_PEEK_OFF left set");

    /* the queues, in order, with their sources */
    for (int i = 0; i < n4; i++) expect_datagram(s4, "v4", i, &q4[i]);
    for (int i = 0; i < n6; i++) expect_datagram(s6, "v6", i, &q6[i]);
    char buf[256];
    CHECK(recv(s4, buf, sizeof buf, MSG_DONTWAIT) < 0 && errno == EAGAIN, "v4 socket has more datagrams than were queued");
    CHECK(recv(s6, buf, sizeof buf, MSG_DONTWAIT) < 0 && errno == EAGAIN, "v6 socket has more datagrams than were queued");

    /* the connected socket talks to its peer both ways */
    struct expect pong = {.len = 0};
    const char *ping = "ping after go";
    CHECK(send(s6, ping, strlen(ping), 0) == (ssize_t)strlen(ping), "send to the peer: %s", strerror(errno));
    pong.len = (size_t)snprintf(pong.payload, sizeof pong.payload, "pong:%s", ping);
    pong.from = p6;
    expect_datagram(s6, "v6 reply", 0, &pong);
    send(s6, "bye", 3, 0);

    /* a fresh datagram to the bound socket */
    int t3 = bound_socket(AF_INET, "127.0.0.1", &sa, &sl);
    CHECK(t3 >= 0, "fresh sender: %s", strerror(errno));
    if (t3 >= 0) {
        struct expect fresh;
        queue_from(t3, "fresh after go", &a4, l4, &fresh);
        expect_datagram(s4, "v4 fresh", 0, &fresh);
        /* and the bound socket can answer it */
        CHECK(sendto(s4, "answer", 6, 0, (struct sockaddr *)&fresh.from, fresh.fromlen) == 6, "answer: %s", strerror(errno));
        struct pollfd p = {.fd = t3, .events = POLLIN};
        CHECK(poll(&p, 1, 2000) == 1 && recv(t3, buf, sizeof buf, 0) == 6, "no answer from the bound socket");
        close(t3);
    }
    return h_finish();
}
