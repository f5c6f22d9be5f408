/*
 * ns_files: descriptors of the process's own namespace files, as a service keeps them to come back with setns:
 *  - fd 20: /proc/self/ns/net; fd 21: /proc/self/ns/uts, close-on-exec; fd 22: /proc/self/ns/pid_for_children.
 * After go each holds the namespace the process is in (the inode of /proc/self/ns/<type>), with its flags, and
 * setns through fd 20 succeeds.
 */
#include "harness.h"

#include <sched.h>

static void check(int fd, const char *entry, int flags)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/ns/%s", entry);
    struct stat mine, held;
    CHECK(stat(path, &mine) == 0 && fstat(fd, &held) == 0 && mine.st_ino == held.st_ino && mine.st_dev == held.st_dev,
          "fd %d holds another namespace than %s", fd, path);
    CHECK(fcntl(fd, F_GETFL) == flags, "fd %d: flags %#o, were %#o", fd, fcntl(fd, F_GETFL), flags);
}

static void place(const char *path, int target, int cloexec)
{
    int fd = open(path, O_RDONLY | cloexec);
    SETUP(fd >= 0 && dup3(fd, target, cloexec) == target, "%s: %s", path, strerror(errno));
    close(fd);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    place("/proc/self/ns/net", 20, 0);
    place("/proc/self/ns/uts", 21, O_CLOEXEC);
    place("/proc/self/ns/pid_for_children", 22, 0);
    int f20 = fcntl(20, F_GETFL), f21 = fcntl(21, F_GETFL), f22 = fcntl(22, F_GETFL);

    h_ready();
    h_wait_go();

    check(20, "net", f20);
    check(21, "uts", f21);
    check(22, "pid_for_children", f22);
    CHECK(fcntl(21, F_GETFD) == FD_CLOEXEC && fcntl(20, F_GETFD) == 0, "close-on-exec flags changed");
    CHECK(setns(20, CLONE_NEWNET) == 0, "setns through fd 20: %s", strerror(errno));
    return h_finish();
}
