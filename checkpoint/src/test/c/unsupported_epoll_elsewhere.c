/*
 * unsupported_epoll_elsewhere: an epoll set watches an eventfd whose descriptor the program has closed; the
 * watch lives on because another process (a peer, not checkpointed with it) still holds the eventfd. The copy
 * could not watch the peer's eventfd: the checkpoint must be refused naming the epoll, the process untouched.
 * After go the peer signals the eventfd and the watch reports it.
 */
#include "harness.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    int efd = eventfd(0, 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42};
    SETUP(efd >= 0 && ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0, "epoll_ctl: %s", strerror(errno));
    pid_t self = getpid();
    pid_t peer = h_fork_peer();
    if (peer == 0) {
        /* holds the eventfd until go, then signals it, and holds it on (the last close would end the watch) as long as
           the program runs */
        close(ep);
        while (!h_exists("go") && kill(self, 0) == 0) {
            h_sleep_ms(20);
        }
        uint64_t one = 1;
        int written = write(efd, &one, 8) == 8;
        while (kill(self, 0) == 0) {
            h_sleep_ms(20);
        }
        _exit(written ? 0 : 1);
    }
    SETUP(peer > 0, "peer: %s", strerror(errno));
    close(efd);

    h_ready();
    h_wait_go();

    struct epoll_event got;
    int n = epoll_wait(ep, &got, 1, 20000);
    CHECK(n == 1 && got.data.u64 == 42, "the watch of the peer's eventfd did not report (%d: %s)", n, n < 0 ? strerror(errno) : "");
    return h_finish();
}
