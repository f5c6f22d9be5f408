/*
 * unsupported_ns_other: a descriptor of the UTS namespace the program left (unshare(CLONE_NEWUTS) after opening
 * /proc/self/ns/uts): a copy could not hold it, so the checkpoint must be refused naming the namespace, the process
 * untouched. After go the descriptor still holds the namespace it left.
 */
#include "harness.h"

#include <sched.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    int fd = open("/proc/self/ns/uts", O_RDONLY);
    SETUP(fd >= 0, "open: %s", strerror(errno));
    struct stat left;
    SETUP(fstat(fd, &left) == 0 && unshare(CLONE_NEWUTS) == 0, "unshare: %s", strerror(errno));

    h_ready();
    h_wait_go();

    struct stat now, mine;
    CHECK(fstat(fd, &now) == 0 && now.st_ino == left.st_ino, "the descriptor holds another namespace");
    CHECK(stat("/proc/self/ns/uts", &mine) == 0 && mine.st_ino != left.st_ino, "the program is back in the namespace it left");
    return h_finish();
}
