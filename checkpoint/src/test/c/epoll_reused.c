/*
 * epoll_reused: an epoll set watches an eventfd added as descriptor 5, which was then closed (the watch
 * lives on through a duplicate at 6) and 5 reused for a second eventfd, watched too: fdinfo lists
 * descriptor 5 twice. After go both watches report, with their own data, and fd 5 is the second eventfd.
 * Two more watches keep their flags: an EPOLLONESHOT one on eventfd 7, not fired yet (it has nothing to read),
 * and an EPOLLEXCLUSIVE one on an eventfd 8, nothing to read yet either.
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
    SETUP(dup2(eventfd(0, 0), 7) == 7 && dup2(eventfd(0, 0), 8) == 8, "eventfds 7, 8: %s", strerror(errno));
    struct epoll_event oneshot = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 7};
    struct epoll_event exclusive = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = 8};
    SETUP(epoll_ctl(ep, EPOLL_CTL_ADD, 7, &oneshot) == 0 && epoll_ctl(ep, EPOLL_CTL_ADD, 8, &exclusive) == 0,
          "epoll_ctl 7, 8: %s", strerror(errno));

    h_ready();
    h_wait_go();

    struct epoll_event got[4];
    int n = epoll_wait(ep, got, 4, 0);
    CHECK(n == 2 && got[0].data.u64 + got[1].data.u64 == 3, "epoll_wait reported %d watches, expected both", n);
    /* the first eventfd (at 6 only) read empty makes its watch quiet; the one at 5 still reports */
    uint64_t v;
    CHECK(read(6, &v, 8) == 8 && v == 1, "fd 6 is not the first eventfd");
    n = epoll_wait(ep, got, 4, 0);
    CHECK(n == 1 && got[0].data.u64 == 2, "after the first eventfd was read: %d events (data %llu), expected the second's",
          n, n > 0 ? (unsigned long long)got[0].data.u64 : 0ULL);
    uint64_t one = 1;
    CHECK(write(8, &one, 8) == 8, "write eventfd 8: %s", strerror(errno));
    n = epoll_wait(ep, got, 4, 0);
    CHECK(n == 2 && got[0].data.u64 + got[1].data.u64 == 10, "the exclusive watch of eventfd 8 did not report (%d events)", n);
    CHECK(write(7, &one, 8) == 8, "write eventfd 7: %s", strerror(errno));
    n = epoll_wait(ep, got, 4, 0);
    CHECK(n == 3, "the one-shot watch of eventfd 7 did not report (%d events)", n);
    n = epoll_wait(ep, got, 4, 0);
    CHECK(n == 2, "the one-shot watch of eventfd 7 reported twice (%d events)", n);
    return h_finish();
}
