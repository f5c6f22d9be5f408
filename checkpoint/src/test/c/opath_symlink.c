/*
 * opath_symlink: O_PATH descriptors of symbolic links themselves (O_PATH|O_NOFOLLOW), as a service walks a tree
 * without following links:
 *  - fd 20: STATEDIR/link -> "target" (a file that exists);
 *  - fd 21: STATEDIR/dangling -> "nowhere", close-on-exec.
 * After go each is still a link (fstatat with AT_EMPTY_PATH), reads back its target (readlinkat with an empty
 * path), and has its flags and close-on-exec flag as before.
 */
#include "harness.h"

static int flags20, flags21;

static void check_link(int fd, const char *target, int flags)
{
    struct stat st;
    CHECK(fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && S_ISLNK(st.st_mode), "fd %d is not a symbolic link", fd);
    char buf[256] = {0};
    ssize_t n = readlinkat(fd, "", buf, sizeof buf - 1);
    CHECK(n == (ssize_t)strlen(target) && strcmp(buf, target) == 0, "fd %d reads \"%s\", not \"%s\"", fd, buf, target);
    CHECK(fcntl(fd, F_GETFL) == flags, "fd %d: flags %#o, were %#o", fd, fcntl(fd, F_GETFL), flags);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    char path[4096];
    h_path(path, sizeof path, "target");
    int t = open(path, O_CREAT | O_WRONLY, 0644);
    SETUP(t >= 0, "%s: %s", path, strerror(errno));
    close(t);
    h_path(path, sizeof path, "link");
    SETUP(symlink("target", path) == 0, "symlink %s: %s", path, strerror(errno));
    int fd = open(path, O_PATH | O_NOFOLLOW);
    SETUP(fd >= 0 && dup2(fd, 20) == 20, "open %s: %s", path, strerror(errno));
    close(fd);
    h_path(path, sizeof path, "dangling");
    SETUP(symlink("nowhere", path) == 0, "symlink %s: %s", path, strerror(errno));
    fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    SETUP(fd >= 0 && dup3(fd, 21, O_CLOEXEC) == 21, "open %s: %s", path, strerror(errno));
    close(fd);
    flags20 = fcntl(20, F_GETFL);
    flags21 = fcntl(21, F_GETFL);

    h_ready();
    h_wait_go();

    check_link(20, "target", flags20);
    check_link(21, "nowhere", flags21);
    CHECK(fcntl(20, F_GETFD) == 0, "fd 20 became close-on-exec");
    CHECK(fcntl(21, F_GETFD) == FD_CLOEXEC, "fd 21 lost close-on-exec");
    return h_finish();
}
