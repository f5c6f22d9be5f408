/*
 * unsupported_epoll_oneshot: an epoll set's one-shot watch (EPOLLONESHOT) of an eventfd fired and was never
 * re-armed: disarmed, it reports nothing, not even EPOLLERR or EPOLLHUP, which epoll_ctl would give a copy.
 * The checkpoint must be refused naming the epoll, the process untouched. After go, re-armed, it reports.
 */
#include "harness.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    int efd = eventfd(1, 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 7};
    SETUP(efd >= 0 && ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0, "epoll_ctl: %s", strerror(errno));
    struct epoll_event got;
    SETUP(epoll_wait(ep, &got, 1, 0) == 1, "the one-shot watch did not fire");

    h_ready();
    h_wait_go();

    CHECK(epoll_wait(ep, &got, 1, 0) == 0, "the disarmed watch reported");
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev) == 0, "re-arm: %s", strerror(errno));
    CHECK(epoll_wait(ep, &got, 1, 0) == 1 && got.data.u64 == 7, "the re-armed watch did not report");
    return h_finish();
}
