/*
 * unsupported_lease: holds a read lease (F_SETLEASE) on a file of its own. A checkpoint must be refused
 * naming the lease without disturbing the process; after go the lease is still held.
 */
#include "harness.h"

int main(int argc, char **argv)
{
    h_init(argc, argv);
    char path[4096];
    h_path(path, sizeof path, "leased");
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    SETUP(fd >= 0, "open %s: %s", path, strerror(errno));
    close(fd);
    fd = open(path, O_RDONLY);
    SETUP(fd >= 0 && fcntl(fd, F_SETLEASE, F_RDLCK) == 0, "F_SETLEASE: %s", strerror(errno));

    h_ready();
    h_wait_go();

    CHECK(fcntl(fd, F_GETLEASE) == F_RDLCK, "the read lease is gone (F_GETLEASE %d)", fcntl(fd, F_GETLEASE));
    close(fd);
    return h_finish();
}
