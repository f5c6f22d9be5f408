/*
 * udp_corked: a UDP socket corked (UDP_CORK) with nothing held back yet, and one that sent with MSG_MORE and
 * flushed since. After go, fd 20 is still corked: two sends reach the receiver fd 22 as one datagram only once
 * it is uncorked; fd 21 sends as usual.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

static struct sockaddr_in receiver = {.sin_family = AF_INET};

static void bind_loopback(int fd, struct sockaddr_in *a)
{
    socklen_t len = sizeof *a;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SETUP(bind(fd, (struct sockaddr *)a, len) == 0 && getsockname(fd, (struct sockaddr *)a, &len) == 0, "bind: %s", strerror(errno));
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    h_place(socket(AF_INET, SOCK_DGRAM, 0), 22);
    bind_loopback(22, &receiver);

    h_place(socket(AF_INET, SOCK_DGRAM, 0), 20);
    struct sockaddr_in a20 = {0};
    bind_loopback(20, &a20);
    int on = 1;
    SETUP(setsockopt(20, IPPROTO_UDP, UDP_CORK, &on, sizeof on) == 0, "UDP_CORK: %s", strerror(errno));

    h_place(socket(AF_INET, SOCK_DGRAM, 0), 21);
    struct sockaddr_in a21 = {0};
    bind_loopback(21, &a21);
    SETUP(sendto(21, "a", 1, MSG_MORE, (struct sockaddr *)&receiver, sizeof receiver) == 1
          && sendto(21, "b", 1, 0, (struct sockaddr *)&receiver, sizeof receiver) == 1, "MSG_MORE: %s", strerror(errno));
    char buf[16];
    SETUP(recv(22, buf, sizeof buf, 0) == 2 && memcmp(buf, "ab", 2) == 0, "the MSG_MORE datagram");

    h_ready();
    h_wait_go();

    CHECK(h_getint(20, IPPROTO_UDP, UDP_CORK) == 1, "fd 20 is no longer corked");
    CHECK(sendto(20, "c", 1, 0, (struct sockaddr *)&receiver, sizeof receiver) == 1
          && sendto(20, "d", 1, 0, (struct sockaddr *)&receiver, sizeof receiver) == 1, "fd 20 send: %s", strerror(errno));
    CHECK(recv(22, buf, sizeof buf, MSG_DONTWAIT) < 0 && errno == EAGAIN, "fd 20 sent while corked");
    int off = 0;
    CHECK(setsockopt(20, IPPROTO_UDP, UDP_CORK, &off, sizeof off) == 0, "uncork: %s", strerror(errno));
    ssize_t n = recv(22, buf, sizeof buf, 0);
    CHECK(n == 2 && memcmp(buf, "cd", 2) == 0, "fd 20's corked sends arrived as %zd bytes, not one datagram \"cd\"", n);
    CHECK(h_getint(21, IPPROTO_UDP, UDP_CORK) == 0, "fd 21 is corked");
    CHECK(sendto(21, "e", 1, 0, (struct sockaddr *)&receiver, sizeof receiver) == 1 && recv(22, buf, sizeof buf, 0) == 1
          && buf[0] == 'e', "fd 21 does not send");
    return h_finish();
}
