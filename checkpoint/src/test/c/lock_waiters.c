/*
 * lock_waiters: file locks held by one process and waited for by others come back as they were.
 *
 *  The parent holds a POSIX write lock on byte 0 of one file, an flock on a second and an OFD write
 *  lock on a third. Three children, each with a descriptor of its own, wait for them: P in
 *  fcntl(F_SETLKW), F in flock(LOCK_EX), O in fcntl(F_OFD_SETLKW). The program is ready once the
 *  kernel lists all three as blocked (/proc/locks, "->"). After go the parent checks that all three
 *  wait again (their calls restarted, not failed with EINTR), that it still holds its locks (another
 *  process cannot take them), then releases them: each child must get its lock and exit 0.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <sys/file.h>

static const char *names[3] = { "locks-posix", "locks-flock", "locks-ofd" };

static int open_file(int i)
{
    char path[4096];
    h_path(path, sizeof path, names[i]);
    return open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

static int posix_lock(int fd, int cmd, short type)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
    return fcntl(fd, cmd, &fl);
}

/* Takes lock i on a descriptor of its own, waiting for it; exits 0 once it has it, 1 if the wait failed. */
static void waiter(int i)
{
    int fd = open_file(i);
    int r;
    if (i == 0) {
        r = posix_lock(fd, F_SETLKW, F_WRLCK);
    } else if (i == 1) {
        r = flock(fd, LOCK_EX);
    } else {
        r = posix_lock(fd, F_OFD_SETLKW, F_WRLCK);
    }
    if (r != 0) {
        h_log("waiter %s: %s", names[i], strerror(errno));
    }
    _exit(r == 0 ? 0 : 1);
}

/* How many processes the kernel lists as blocked on the file with inode ino (lines of /proc/locks with "->"). */
static int blocked_on(ino_t ino)
{
    FILE *f = fopen("/proc/locks", "r");
    char line[256];
    int n = 0;
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char arrow[8], kind[16], mode[16], rw[16], dev[64];
        long pid;
        if (sscanf(line, "%*s %7s %15s %15s %15s %ld %63s", arrow, kind, mode, rw, &pid, dev) == 6
            && strcmp(arrow, "->") == 0) {
            char *colon = strrchr(dev, ':');
            if (colon != NULL && strtoull(colon + 1, NULL, 10) == (unsigned long long)ino) {
                n++;
            }
        }
    }
    fclose(f);
    return n;
}

/* Waits up to ~5 s for one waiter on each file; returns the bitmask of files with none. */
static int await_waiters(const ino_t *inos)
{
    int missing = 7;
    for (int tries = 0; tries < 2500 && missing != 0; tries++) {
        missing = 0;
        for (int i = 0; i < 3; i++) {
            if (blocked_on(inos[i]) < 1) {
                missing |= 1 << i;
            }
        }
        if (missing != 0) {
            h_sleep_ms(2);
        }
    }
    return missing;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    int fds[3];
    ino_t inos[3];
    for (int i = 0; i < 3; i++) {
        struct stat st;
        fds[i] = open_file(i);
        SETUP(fds[i] >= 0 && fstat(fds[i], &st) == 0, "open %s: %s", names[i], strerror(errno));
        inos[i] = st.st_ino;
    }
    SETUP(posix_lock(fds[0], F_SETLK, F_WRLCK) == 0, "F_SETLK: %s", strerror(errno));
    SETUP(flock(fds[1], LOCK_EX) == 0, "flock: %s", strerror(errno));
    SETUP(posix_lock(fds[2], F_OFD_SETLK, F_WRLCK) == 0, "F_OFD_SETLK: %s", strerror(errno));
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        SETUP(kids[i] >= 0, "fork: %s", strerror(errno));
        if (kids[i] == 0) {
            waiter(i);
        }
    }
    SETUP(await_waiters(inos) == 0, "the children never waited for the locks");
    h_ready();
    h_wait_go();

    int missing = await_waiters(inos);
    CHECK(missing == 0, "after the restore no process waits for %s%s%s (a wait failed or was lost)",
          (missing & 1) ? "the POSIX lock " : "", (missing & 2) ? "the flock " : "", (missing & 4) ? "the OFD lock" : "");
    for (int i = 0; i < 3; i++) {
        int status = 0;
        CHECK(waitpid(kids[i], &status, WNOHANG) == 0, "waiter of %s ended before the locks were released (0x%x)",
              names[i], status);
    }
    struct flock probe = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
    int other = open_file(0);
    CHECK(other >= 0 && fcntl(other, F_OFD_GETLK, &probe) == 0 && probe.l_type != F_UNLCK,
          "the parent's POSIX lock on byte 0 is gone");
    CHECK(posix_lock(fds[0], F_SETLK, F_UNLCK) == 0, "unlock POSIX: %s", strerror(errno));
    CHECK(flock(fds[1], LOCK_UN) == 0, "unlock flock: %s", strerror(errno));
    CHECK(posix_lock(fds[2], F_OFD_SETLK, F_UNLCK) == 0, "unlock OFD: %s", strerror(errno));
    for (int i = 0; i < 3; i++) {
        int status = 0;
        pid_t got = waitpid(kids[i], &status, 0);
        CHECK(got == kids[i] && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "waiter of %s: reaped %d, status 0x%x (1: its wait failed)", names[i], (int)got, status);
    }
    return h_finish();
}
