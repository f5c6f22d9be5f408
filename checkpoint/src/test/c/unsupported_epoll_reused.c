/*
 * unsupported_epoll_reused: an epoll set watches an eventfd added as descriptor 5, which was then
 * closed (the watch lives on through a duplicate at 6) and 5 reused for a second eventfd, watched too:
 * fdinfo lists descriptor 5 twice. Such a watch cannot be added again under its number, so a checkpoint
 * must be refused naming the epoll, leaving the process as it was: after go both watches report.
 */
#include "harness.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    SETUP(ep >= 0 && dup2(eventfd(1, 0), 5) == 5 && dup2(5, 6) == 6, "setup: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    SETUP(epoll_ctl(ep, EPOLL_CTL_ADD, 5, &ev) == 0, "epoll_ctl 5: %s", strerror(errno));
    close(5);
    SETUP(dup2(eventfd(1, 0), 5) == 5, "second eventfd: %s", strerror(errno));
    ev.data.u64 = 2;
    SETUP(epoll_ctl(ep, EPOLL_CTL_ADD, 5, &ev) == 0, "epoll_ctl 5 again: %s", strerror(errno));

    h_ready();
    h_wait_go();

    struct epoll_event got[4];
    int n = epoll_wait(ep, got, 4, 0);
    CHECK(n == 2 && got[0].data.u64 + got[1].data.u64 == 3, "epoll_wait reported %d watches, expected both", n);
    return h_finish();
}
