/*
 * socket_filters: classic BPF socket filters (SO_ATTACH_FILTER) as packet-capturing and DNS servers attach them:
 *  - fd 20: UDP on 127.0.0.1 with a filter passing only datagrams whose first byte is 'y', locked
 *    (SO_LOCK_FILTER): after go, SO_GET_FILTER reads the same program back, it cannot be detached (EPERM),
 *    and of 'n' then 'y' sent to it only 'y' arrives;
 *  - fd 21: a TCP listener on 127.0.0.1 with a one-instruction filter that accepts all, not locked: the same
 *    program reads back, and it can be detached.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#ifndef SO_LOCK_FILTER
#define SO_LOCK_FILTER 44
#endif

static struct sock_filter only_y[] = {
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8), /* the first payload byte, after the UDP header */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 'y', 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 0xffff),
    BPF_STMT(BPF_RET | BPF_K, 0),
};
static struct sock_filter accept_all[] = {
    BPF_STMT(BPF_RET | BPF_K, 0xffff),
};

static void attach(int fd, struct sock_filter *code, unsigned short len)
{
    struct sock_fprog prog = {.len = len, .filter = code};
    SETUP(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) == 0, "fd %d SO_ATTACH_FILTER: %s", fd, strerror(errno));
}

/* 1 if fd's filter reads back as code[0..len) */
static int same_filter(int fd, const struct sock_filter *code, unsigned len)
{
    struct sock_filter got[16];
    socklen_t n = 16;
    return getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, got, &n) == 0 && n == len && memcmp(got, code, len * sizeof *code) == 0;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    struct sockaddr_in a20 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l20 = sizeof a20;
    h_place(socket(AF_INET, SOCK_DGRAM, 0), 20);
    SETUP(bind(20, (struct sockaddr *)&a20, l20) == 0 && getsockname(20, (struct sockaddr *)&a20, &l20) == 0, "bind: %s", strerror(errno));
    attach(20, only_y, 4);
    int on = 1;
    SETUP(setsockopt(20, SOL_SOCKET, SO_LOCK_FILTER, &on, sizeof on) == 0, "SO_LOCK_FILTER: %s", strerror(errno));

    struct sockaddr_in a21 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    h_place(socket(AF_INET, SOCK_STREAM, 0), 21);
    SETUP(bind(21, (struct sockaddr *)&a21, sizeof a21) == 0 && listen(21, 4) == 0, "listen: %s", strerror(errno));
    attach(21, accept_all, 1);

    h_ready();
    h_wait_go();

    CHECK(same_filter(20, only_y, 4), "fd 20: another filter, or none");
    int locked = 0;
    socklen_t ll = sizeof locked;
    CHECK(getsockopt(20, SOL_SOCKET, SO_LOCK_FILTER, &locked, &ll) == 0 && locked == 1, "fd 20: SO_LOCK_FILTER %d", locked);
    CHECK(setsockopt(20, SOL_SOCKET, SO_DETACH_FILTER, &on, sizeof on) < 0 && errno == EPERM, "fd 20: its locked filter detached");
    int tx = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(sendto(tx, "n", 1, 0, (struct sockaddr *)&a20, l20) == 1 && sendto(tx, "y", 1, 0, (struct sockaddr *)&a20, l20) == 1,
          "send: %s", strerror(errno));
    close(tx);
    char c = 0;
    struct pollfd p = {.fd = 20, .events = POLLIN};
    CHECK(poll(&p, 1, 10000) == 1 && recv(20, &c, 1, MSG_DONTWAIT) == 1 && c == 'y', "fd 20 read '%c' first, not 'y'", c);

    CHECK(same_filter(21, accept_all, 1), "fd 21: another filter, or none");
    CHECK(setsockopt(21, SOL_SOCKET, SO_DETACH_FILTER, &on, sizeof on) == 0, "fd 21: detach: %s", strerror(errno));
    return h_finish();
}
