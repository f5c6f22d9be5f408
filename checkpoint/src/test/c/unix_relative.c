/*
 * unix_relative: Unix sockets bound to paths relative to the working directory (STATEDIR/run), as a service
 * started in its own directory binds them:
 *  - fd 20: a stream listener bound to "ctl"; fd 21 a client connected to it by that name; fd 22 the accepted end;
 *  - fd 23: a datagram socket bound to "sub/dgram".
 * After go the names read as they were bound (relative), the connection carries a byte both ways, a new client
 * reaches the listener and the datagram socket by the same relative names.
 */
#include "harness.h"

#include <sys/socket.h>
#include <stddef.h>
#include <sys/un.h>

static struct sockaddr_un named(const char *path, socklen_t *len)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
    return a;
}

/* 1 if fd's own name (or its peer's) is exactly path */
static int name_is(int fd, int peer, const char *path)
{
    struct sockaddr_un a;
    socklen_t len = sizeof a;
    int rc = peer ? getpeername(fd, (struct sockaddr *)&a, &len) : getsockname(fd, (struct sockaddr *)&a, &len);
    return rc == 0 && len > offsetof(struct sockaddr_un, sun_path) && strcmp(a.sun_path, path) == 0;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    char dir[4096];
    h_path(dir, sizeof dir, "run");
    SETUP(mkdir(dir, 0755) == 0 && chdir(dir) == 0 && mkdir("sub", 0755) == 0, "%s: %s", dir, strerror(errno));
    socklen_t len;
    struct sockaddr_un ctl = named("ctl", &len);
    h_place(socket(AF_UNIX, SOCK_STREAM, 0), 20);
    SETUP(bind(20, (struct sockaddr *)&ctl, len) == 0 && listen(20, 4) == 0, "listen on ctl: %s", strerror(errno));
    h_place(socket(AF_UNIX, SOCK_STREAM, 0), 21);
    SETUP(connect(21, (struct sockaddr *)&ctl, len) == 0, "connect to ctl: %s", strerror(errno));
    h_place(accept(20, NULL, NULL), 22);
    socklen_t dlen;
    struct sockaddr_un dgram = named("sub/dgram", &dlen);
    h_place(socket(AF_UNIX, SOCK_DGRAM, 0), 23);
    SETUP(bind(23, (struct sockaddr *)&dgram, dlen) == 0, "bind sub/dgram: %s", strerror(errno));

    h_ready();
    h_wait_go();

    CHECK(name_is(20, 0, "ctl"), "fd 20 is not named \"ctl\"");
    CHECK(name_is(21, 1, "ctl"), "fd 21's peer is not named \"ctl\"");
    CHECK(name_is(22, 0, "ctl"), "fd 22 (accepted) is not named \"ctl\"");
    CHECK(name_is(23, 0, "sub/dgram"), "fd 23 is not named \"sub/dgram\"");
    char c = 0;
    CHECK(write(21, "a", 1) == 1 && read(22, &c, 1) == 1 && c == 'a', "fd 21 -> 22: no byte");
    CHECK(write(22, "b", 1) == 1 && read(21, &c, 1) == 1 && c == 'b', "fd 22 -> 21: no byte");
    int client = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(connect(client, (struct sockaddr *)&ctl, len) == 0, "a new client cannot reach ctl: %s", strerror(errno));
    int served = accept(20, NULL, NULL);
    CHECK(served >= 0 && write(client, "c", 1) == 1 && read(served, &c, 1) == 1 && c == 'c', "the new connection carries nothing");
    int tx = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(sendto(tx, "d", 1, 0, (struct sockaddr *)&dgram, dlen) == 1, "send to sub/dgram: %s", strerror(errno));
    CHECK(recv(23, &c, 1, MSG_DONTWAIT) == 1 && c == 'd', "fd 23 received nothing");
    return h_finish();
}
