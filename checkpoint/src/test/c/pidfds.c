/*
 * pidfds: pidfds of the process itself, as a service holds one to signal or inspect itself:
 *  - fd 20: pidfd_open(getpid(), 0);
 *  - fd 21: pidfd_open(getpid(), PIDFD_NONBLOCK), close-on-exec.
 * After go each refers to this process (fdinfo Pid, and a signal 0 sent through it arrives), is not readable
 * (the process runs), and has its flags.
 */
#include "harness.h"

#include <poll.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif

static int pidfd_of(pid_t pid, unsigned flags)
{
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

/* The "Pid:" line of fd's fdinfo, or -2. */
static int fdinfo_pid(int fd)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    if (h_read_file(path, buf, sizeof buf) < 0) {
        return -2;
    }
    char *p = strstr(buf, "\nPid:");
    return p ? atoi(p + 5) : -2;
}

static void check(int fd, int flags)
{
    CHECK(fdinfo_pid(fd) == getpid(), "fd %d refers to pid %d, not %d", fd, fdinfo_pid(fd), (int)getpid());
    CHECK(syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) == 0, "fd %d: pidfd_send_signal: %s", fd, strerror(errno));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    CHECK(poll(&p, 1, 0) == 0, "fd %d is readable: its process has ended?", fd);
    CHECK(fcntl(fd, F_GETFL) == flags, "fd %d: flags %#o, were %#o", fd, fcntl(fd, F_GETFL), flags);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    int fd = pidfd_of(getpid(), 0);
    SETUP(fd >= 0 && dup2(fd, 20) == 20, "pidfd_open: %s", strerror(errno));
    close(fd);
    fd = pidfd_of(getpid(), PIDFD_NONBLOCK);
    SETUP(fd >= 0 && dup3(fd, 21, O_CLOEXEC) == 21, "pidfd_open(PIDFD_NONBLOCK): %s", strerror(errno));
    close(fd);
    int flags20 = fcntl(20, F_GETFL), flags21 = fcntl(21, F_GETFL);

    h_ready();
    h_wait_go();

    check(20, flags20);
    check(21, flags21);
    CHECK(fcntl(20, F_GETFD) == 0 && fcntl(21, F_GETFD) == FD_CLOEXEC, "close-on-exec flags changed");
    return h_finish();
}
