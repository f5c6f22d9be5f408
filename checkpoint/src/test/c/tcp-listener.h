/*
 * For the TCP test programs: a listener on an ephemeral port of 127.0.0.1, announced in
 * STATEDIR/ports so the test can hold the port's inbound packets while the program moves.
 */
#ifndef PMIG_TEST_TCP_LISTENER_H
#define PMIG_TEST_TCP_LISTENER_H

#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Returns the listening socket and sets *port; a failure fails the program's setup. */
static H_UNUSED int h_tcp_listener(int backlog, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    SETUP(bind(fd, (struct sockaddr *)&a, len) == 0 && listen(fd, backlog) == 0, "listen: %s", strerror(errno));
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    char ports[32];
    snprintf(ports, sizeof ports, "%d\n", *port);
    SETUP(h_write_file("ports", ports) == 0, "write ports");
    return fd;
}

#endif
