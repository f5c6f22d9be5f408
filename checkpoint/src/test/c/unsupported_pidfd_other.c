/*
 * unsupported_pidfd_other: a pidfd of another process (a peer, not checkpointed with the program): a copy could not
 * refer to it, so the checkpoint must be refused naming the pidfd, the process untouched. After go the pidfd still
 * refers to the peer, which it can signal.
 */
#include "harness.h"

#include <signal.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    pid_t self = getpid();
    pid_t peer = h_fork_peer();
    if (peer == 0) {
        while (!h_exists("go") && kill(self, 0) == 0) {
            h_sleep_ms(20);
        }
        while (kill(self, 0) == 0) {
            h_sleep_ms(20);
        }
        _exit(0);
    }
    SETUP(peer > 0, "peer: %s", strerror(errno));
    int fd = (int)syscall(SYS_pidfd_open, peer, 0);
    SETUP(fd >= 0, "pidfd_open(%d): %s", (int)peer, strerror(errno));

    h_ready();
    h_wait_go();

    CHECK(syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) == 0, "pidfd_send_signal to the peer: %s", strerror(errno));
    return h_finish();
}
