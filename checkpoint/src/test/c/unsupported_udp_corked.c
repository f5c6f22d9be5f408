/*
 * unsupported_udp_corked: a corked UDP socket (UDP_CORK) holds a datagram being assembled, which no call reads
 * back: the checkpoint must be refused naming the cork, the process untouched. After go, uncorking sends
 * the datagram whole.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof to;
    int rx = socket(AF_INET, SOCK_DGRAM, 0);
    SETUP(rx >= 0 && bind(rx, (struct sockaddr *)&to, len) == 0 && getsockname(rx, (struct sockaddr *)&to, &len) == 0,
          "receiver: %s", strerror(errno));
    int tx = socket(AF_INET, SOCK_DGRAM, 0);
    int on = 1;
    SETUP(tx >= 0 && setsockopt(tx, IPPROTO_UDP, UDP_CORK, &on, sizeof on) == 0, "UDP_CORK: %s", strerror(errno));
    SETUP(sendto(tx, "held", 4, 0, (struct sockaddr *)&to, len) == 4, "send: %s", strerror(errno));

    h_ready();
    h_wait_go();

    int off = 0;
    CHECK(setsockopt(tx, IPPROTO_UDP, UDP_CORK, &off, sizeof off) == 0, "uncork: %s", strerror(errno));
    char buf[16];
    ssize_t n = recv(rx, buf, sizeof buf, 0);
    CHECK(n == 4 && memcmp(buf, "held", 4) == 0, "the corked datagram arrived as %zd bytes", n);
    return h_finish();
}
