/*
 * unsupported_tcp_error: a TCP client reset by its peer whose error (ECONNRESET) the program has not read yet:
 * reading it would take it from the program, so the checkpoint must be refused naming the pending error, the
 * process untouched. After go the error is still there to read.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof lo;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    SETUP(l >= 0 && bind(l, (struct sockaddr *)&lo, len) == 0 && listen(l, 1) == 0 && getsockname(l, (struct sockaddr *)&lo, &len) == 0,
          "listener: %s", strerror(errno));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    SETUP(connect(fd, (struct sockaddr *)&lo, len) == 0, "connect: %s", strerror(errno));
    int served = accept(l, NULL, NULL);
    struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
    SETUP(served >= 0 && setsockopt(served, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) == 0, "accept: %s",
          strerror(errno));
    close(served);
    close(l);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    SETUP(poll(&p, 1, 10000) == 1 && (p.revents & POLLERR), "no reset arrived");

    h_ready();
    h_wait_go();

    CHECK(h_getint(fd, SOL_SOCKET, SO_ERROR) == ECONNRESET, "the pending ECONNRESET is gone (%d)", h_getint(fd, SOL_SOCKET, SO_ERROR));
    return h_finish();
}
