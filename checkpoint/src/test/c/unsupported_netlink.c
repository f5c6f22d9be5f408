/*
 * unsupported_netlink: holds a netlink route socket bound to its port id. A checkpoint must be
 * refused naming the kind of socket, without disturbing the process; after go the socket still
 * answers a request for the loopback link.
 */
#include "harness.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    SETUP(fd >= 0, "socket(AF_NETLINK): %s", strerror(errno));
    struct sockaddr_nl local = {.nl_family = AF_NETLINK};
    SETUP(bind(fd, (struct sockaddr *)&local, sizeof local) == 0, "bind: %s", strerror(errno));

    h_ready();
    h_wait_go();

    struct {
        struct nlmsghdr h;
        struct ifinfomsg i;
    } req = {.h = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1},
             .i = {.ifi_family = AF_UNSPEC, .ifi_index = (int)if_nametoindex("lo")}};
    CHECK(send(fd, &req, sizeof req, 0) == (ssize_t)sizeof req, "netlink send: %s", strerror(errno));
    char buf[8192];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    CHECK(n > 0 && ((struct nlmsghdr *)buf)->nlmsg_type == RTM_NEWLINK, "netlink answer: %zd bytes, type %d", n,
          n > 0 ? ((struct nlmsghdr *)buf)->nlmsg_type : -1);
    close(fd);
    return h_finish();
}
