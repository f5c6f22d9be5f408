/*
 * clocks: the clocks of a cluster guest (test-vm/cluster), built into each guest's root filesystem.
 *
 *   clocks             prints CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds as this process sees them:
 *                      started in another process's time namespace (nsenter --time --target PID clocks)
 *                      it shows the monotonic clock that process reads; realtime has no namespace offsets
 *   clocks sync FILE   sets the realtime clock to the host's: FILE, created on a directory the host shares,
 *                      gets the host's time as its mtime, which is the middle of the guest's readings around
 *                      the creation; the best of several tries, stepped in one process (no fork between
 *                      reading and setting: a fork takes a good part of a second under TCG). Prints the
 *                      step and the uncertainty left (half the best window) in seconds.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TRIES 8

static long long nanos(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int sync_clock(const char *file) {
    long long best_offset = 0, best_window = -1;
    for (int i = 0; i < TRIES; i++) {
        unlink(file);
        long long before = nanos(CLOCK_REALTIME);
        int fd = open(file, O_CREAT | O_EXCL | O_WRONLY, 0644);
        long long after = nanos(CLOCK_REALTIME);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            perror(file);
            return 1;
        }
        close(fd);
        long long host = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        if (best_window < 0 || after - before < best_window) {
            best_window = after - before;
            best_offset = host - (before + after) / 2;
        }
    }
    unlink(file);
    long long target = nanos(CLOCK_REALTIME) + best_offset;
    struct timespec t = {.tv_sec = target / 1000000000LL, .tv_nsec = target % 1000000000LL};
    if (clock_settime(CLOCK_REALTIME, &t) != 0) {
        perror("clock_settime");
        return 1;
    }
    printf("%.6f %.6f\n", best_offset / 1e9, best_window / 2e9);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "sync")) {
        return sync_clock(argv[2]);
    }
    long long realtime = nanos(CLOCK_REALTIME);
    long long monotonic = nanos(CLOCK_MONOTONIC);
    printf("monotonic_ns=%lld realtime_ns=%lld\n", monotonic, realtime);
    return 0;
}
