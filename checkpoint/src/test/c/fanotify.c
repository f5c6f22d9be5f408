/*
 * fanotify: a notification group (FAN_CLASS_NOTIF, FAN_NONBLOCK, events opened O_RDONLY|O_LARGEFILE) with marks
 * on files of STATEDIR/w:
 *  - "watched": FAN_MODIFY;
 *  - the directory: FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD;
 *  - "quiet": FAN_CLOSE_WRITE ignored (an ignored mask that survives modification).
 * After go, writing both files reports FAN_MODIFY and FAN_CLOSE_WRITE of "watched" and nothing of "quiet".
 */
#include "harness.h"

#include <sys/fanotify.h>

static char dir[2048], watched[4096], quiet[4096];

static void write_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, "x", 1) == 1, "write %s: %s", path, strerror(errno));
    close(fd);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    h_path(dir, sizeof dir, "w");
    snprintf(watched, sizeof watched, "%s/watched", dir);
    snprintf(quiet, sizeof quiet, "%s/quiet", dir);
    SETUP(mkdir(dir, 0755) == 0, "mkdir %s: %s", dir, strerror(errno));
    close(open(watched, O_CREAT | O_WRONLY, 0644));
    close(open(quiet, O_CREAT | O_WRONLY, 0644));
    int fan = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
    SETUP(fan >= 0, "fanotify_init: %s", strerror(errno));
    SETUP(fanotify_mark(fan, FAN_MARK_ADD, FAN_MODIFY, AT_FDCWD, watched) == 0, "mark watched: %s", strerror(errno));
    SETUP(fanotify_mark(fan, FAN_MARK_ADD, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD, AT_FDCWD, dir) == 0, "mark dir: %s", strerror(errno));
    SETUP(fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_CLOSE_WRITE, AT_FDCWD, quiet) == 0,
          "mark quiet: %s", strerror(errno));
    int flags = fcntl(fan, F_GETFL);

    h_ready();
    h_wait_go();

    CHECK(fcntl(fan, F_GETFL) == flags, "flags %#o, were %#o", fcntl(fan, F_GETFL), flags);
    write_file(quiet);
    write_file(watched);
    char buf[4096];
    unsigned long long seen_watched = 0;
    int seen_quiet = 0;
    for (int i = 0; i < 2000 && !(seen_watched & FAN_MODIFY && seen_watched & FAN_CLOSE_WRITE); i++) {
        ssize_t n = read(fan, buf, sizeof buf);
        if (n <= 0) {
            h_sleep_ms(5);
            continue;
        }
        for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
            char link[64], path[4096] = {0};
            snprintf(link, sizeof link, "/proc/self/fd/%d", m->fd);
            if (readlink(link, path, sizeof path - 1) > 0) {
                if (strcmp(path, watched) == 0) {
                    seen_watched |= m->mask;
                } else if (strcmp(path, quiet) == 0) {
                    seen_quiet = 1;
                }
            }
            close(m->fd);
        }
    }
    CHECK((seen_watched & FAN_MODIFY) && (seen_watched & FAN_CLOSE_WRITE), "events of watched: %#llx", seen_watched);
    CHECK(!seen_quiet, "an event of quiet, whose FAN_CLOSE_WRITE is ignored");
    return h_finish();
}
