/*
 * unsupported_inotify: holds an inotify descriptor watching STATEDIR (IN_CREATE|IN_MOVED_TO).
 * A checkpoint must be refused naming "inotify" without disturbing the process; after go the
 * watch still works: the creation of STATEDIR/go was reported with its name.
 */
#include "harness.h"

#include <sys/inotify.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    SETUP(fd >= 0, "inotify_init1: %s", strerror(errno));
    int wd = inotify_add_watch(fd, h_dir, IN_CREATE | IN_MOVED_TO);
    SETUP(wd >= 0, "inotify_add_watch: %s", strerror(errno));

    h_ready();
    h_wait_go();

    /* drain events; "go" must be among them */
    int saw_go = 0, events = 0;
    char buf[65536] __attribute__((aligned(8)));
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
            CHECK(n == -1 && errno == EAGAIN, "inotify read: %s", n == 0 ? "EOF" : strerror(errno));
            break;
        }
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            events++;
            CHECK(e->wd == wd, "inotify event for watch %d, expected %d", e->wd, wd);
            if (e->len && (e->mask & (IN_CREATE | IN_MOVED_TO)) && strcmp(e->name, "go") == 0) {
                saw_go = 1;
            }
            p += sizeof *e + e->len;
        }
    }
    CHECK(saw_go, "inotify did not report the creation of 'go' (%d events)", events);
    close(fd);
    return h_finish();
}
