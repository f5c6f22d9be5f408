/*
 * inotify: an inotify descriptor whose watches keep their numbers across a restore: STATEDIR/w
 * (IN_CREATE) is watch 1; a watch on STATEDIR/sub is taken and dropped (its number, 2, is not
 * reused); STATEDIR/watched (IN_MODIFY) is watch 3. Before ready every event is read (the
 * IN_IGNORED of the dropped watch): a checkpoint cannot put queued events back, and the harness's
 * own files in STATEDIR are not watched. After go: a file created in STATEDIR/w is reported on
 * watch 1, and a write to STATEDIR/watched on watch 3.
 */
#include "harness.h"

#include <sys/inotify.h>

static char buf[65536] __attribute__((aligned(8)));

/* Reads every queued event; returns how many, and whether one matched watch wd with mask bits and name. */
static int drain(int fd, int wd, uint32_t mask, const char *name, int *matched)
{
    int events = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
            CHECK(n == -1 && errno == EAGAIN, "inotify read: %s", n == 0 ? "EOF" : strerror(errno));
            return events;
        }
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            events++;
            if (e->wd == wd && (e->mask & mask) && (name == NULL || (e->len && strcmp(e->name, name) == 0))) {
                *matched = 1;
            }
            p += sizeof *e + e->len;
        }
    }
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    char dir[4096], sub[4096], watched[4096], created[4096];
    h_path(dir, sizeof dir, "w");
    h_path(sub, sizeof sub, "sub");
    h_path(watched, sizeof watched, "watched");
    h_path(created, sizeof created, "w/created");
    SETUP(mkdir(dir, 0700) == 0 || errno == EEXIST, "mkdir %s: %s", dir, strerror(errno));
    SETUP(mkdir(sub, 0700) == 0 || errno == EEXIST, "mkdir %s: %s", sub, strerror(errno));
    SETUP(h_write_file("watched", "x\n") == 0, "cannot write %s", watched);
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    SETUP(fd >= 0, "inotify_init1: %s", strerror(errno));
    int dir_wd = inotify_add_watch(fd, dir, IN_CREATE);
    int sub_wd = inotify_add_watch(fd, sub, IN_CREATE);
    SETUP(dir_wd == 1 && sub_wd == 2, "watches %d and %d, not 1 and 2", dir_wd, sub_wd);
    SETUP(inotify_rm_watch(fd, sub_wd) == 0, "inotify_rm_watch: %s", strerror(errno));
    int file_wd = inotify_add_watch(fd, watched, IN_MODIFY);
    SETUP(file_wd == 3, "the watch on %s is %d, not 3", watched, file_wd);
    int ignored = 0;
    drain(fd, sub_wd, IN_IGNORED, NULL, &ignored);
    SETUP(ignored, "no IN_IGNORED for the dropped watch");

    h_ready();
    h_wait_go();

    int saw_create = 0, saw_write = 0;
    unlink(created); /* an instance restored from the same image before this one made it */
    int c = open(created, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    CHECK(c >= 0, "create %s: %s", created, strerror(errno));
    if (c >= 0) {
        close(c);
    }
    drain(fd, dir_wd, IN_CREATE, "created", &saw_create);
    CHECK(saw_create, "inotify did not report the creation of %s on watch %d", created, dir_wd);
    int w = open(watched, O_WRONLY | O_APPEND | O_CLOEXEC);
    CHECK(w >= 0 && write(w, "y\n", 2) == 2, "write %s: %s", watched, strerror(errno));
    if (w >= 0) {
        close(w);
    }
    drain(fd, file_wd, IN_MODIFY, NULL, &saw_write);
    CHECK(saw_write, "inotify did not report the write to %s on watch %d", watched, file_wd);
    return h_finish();
}
