/*
 * Tiny protocol harness shared by the checkpoint/restore test programs.
 *
 * Protocol (the Java side is io.pmig.checkpoint.it.TestProgram):
 *   prog STATEDIR          stdin /dev/null, stdout+stderr appended to STATEDIR/log
 *   1. set up one kind of state
 *   2. write STATEDIR/ready (temp name + rename)
 *   3. poll every 2 ms (nanosleep, EINTR-safe) until STATEDIR/go exists
 *   4. verify the state, write STATEDIR/result = "PASS\n" or "FAIL: <reason>\n"
 *      (temp name + rename), exit 0.
 *
 * The harness never keeps a descriptor open between calls (every file is opened
 * and closed around its use, the go poll uses stat()), so it does not disturb
 * the program's own descriptor table. A program cannot know whether it was
 * checkpointed: every check must hold either way.
 */
#ifndef PMIG_TEST_HARNESS_H
#define PMIG_TEST_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define H_UNUSED __attribute__((unused))

static const char *h_dir;
static const char *h_prog = "?";
static char h_fail_buf[3072];
static size_t h_fail_len;
static int h_fail_count;
static pthread_mutex_t h_fail_lock = PTHREAD_MUTEX_INITIALIZER;

static H_UNUSED pid_t h_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* Log a line to stderr (the STATEDIR/log file). */
static H_UNUSED __attribute__((format(printf, 1, 2))) void h_log(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n = snprintf(line, sizeof line, "[%s %d/%d] ", h_prog, (int)getpid(), (int)h_gettid());
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    if (len + 1 < sizeof line) {
        line[len++] = '\n';
    }
    ssize_t w = write(2, line, len);
    (void)w;
}

/* Record a verification failure (thread-safe, not async-signal-safe). */
static H_UNUSED __attribute__((format(printf, 1, 2))) void h_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    h_log("FAIL: %s", msg);
    pthread_mutex_lock(&h_fail_lock);
    h_fail_count++;
    size_t room = sizeof h_fail_buf - h_fail_len;
    if (room > 1) {
        int n = snprintf(h_fail_buf + h_fail_len, room, "%s%s", h_fail_len ? "; " : "", msg);
        if (n > 0) {
            h_fail_len += (size_t)n < room ? (size_t)n : room - 1;
        }
    }
    pthread_mutex_unlock(&h_fail_lock);
}

#define CHECK(cond, ...)            \
    do {                            \
        if (!(cond)) {              \
            h_fail(__VA_ARGS__);    \
        }                           \
    } while (0)

static H_UNUSED int h_failed(void)
{
    pthread_mutex_lock(&h_fail_lock);
    int n = h_fail_count;
    pthread_mutex_unlock(&h_fail_lock);
    return n;
}

static H_UNUSED void h_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", h_dir, name);
}

static H_UNUSED int h_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static H_UNUSED ssize_t h_read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Write STATEDIR/name atomically (temp + rename). The descriptor is closed before returning. */
static H_UNUSED int h_write_file(const char *name, const char *content)
{
    char tmp[4096], fin[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", h_dir, name);
    h_path(fin, sizeof fin, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        h_log("open %s: %s", tmp, strerror(errno));
        return -1;
    }
    int rc = h_write_all(fd, content, strlen(content));
    if (close(fd) != 0) {
        rc = -1;
    }
    if (rc == 0 && rename(tmp, fin) != 0) {
        h_log("rename %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    return rc;
}

/* Read a whole small file (e.g. under /proc) into buf; returns length or -1. NUL-terminates. */
static H_UNUSED ssize_t h_read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = h_read_all(fd, buf, cap - 1);
    close(fd);
    if (n >= 0) {
        buf[n] = 0;
    }
    return n;
}

/* Sleep for ns nanoseconds, resuming after signal interruptions. */
static H_UNUSED void h_sleep_ns(long long ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static H_UNUSED void h_sleep_ms(long ms)
{
    h_sleep_ns((long long)ms * 1000000LL);
}

static H_UNUSED long long h_now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Wait (up to a minute, polling every 2 ms) until a word another process writes holds value; 1 if it did. */
static H_UNUSED int h_wait_word(volatile uint32_t *word, uint32_t value)
{
    for (int ms = 0; ms < 60000; ms += 2) {
        if (*word == value) {
            return 1;
        }
        h_sleep_ms(2);
    }
    return 0;
}

static H_UNUSED int h_exists(const char *name)
{
    char p[4096];
    struct stat st;
    h_path(p, sizeof p, name);
    return stat(p, &st) == 0;
}

static H_UNUSED void h_init(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s STATEDIR\n", argv[0]);
        exit(2);
    }
    const char *slash = strrchr(argv[0], '/');
    h_prog = slash ? slash + 1 : argv[0];
    h_dir = argv[1];
    h_log("started in %s", h_dir);
}

/* Logs first: once "ready" exists the program writes nothing until go (its fd offsets stay put). */
static H_UNUSED void h_ready(void)
{
    h_log("ready");
    if (h_write_file("ready", "ready\n") != 0) {
        h_log("cannot write ready");
        exit(3);
    }
}

/* Poll for STATEDIR/go every 2 ms. Gives up (exit 4) after ~1 hour so no orphan lingers forever. */
static H_UNUSED void h_wait_go(void)
{
    for (long i = 0; i < 1800000L; i++) {
        if (h_exists("go")) {
            h_log("go");
            return;
        }
        h_sleep_ns(2000000LL);
    }
    h_log("no go after an hour, giving up");
    exit(4);
}

/* Write STATEDIR/result from the recorded failures; returns the exit status (0). */
static H_UNUSED int h_finish(void)
{
    char res[sizeof h_fail_buf + 16];
    pthread_mutex_lock(&h_fail_lock);
    if (h_fail_count == 0) {
        snprintf(res, sizeof res, "PASS\n");
    } else {
        snprintf(res, sizeof res, "FAIL: %s\n", h_fail_buf);
    }
    pthread_mutex_unlock(&h_fail_lock);
    h_log("result: %.*s", (int)(strlen(res) - 1), res);
    if (h_write_file("result", res) != 0) {
        exit(5);
    }
    return 0;
}

/*
 * A peer process that must not be checkpointed with this program: forked through a middle process
 * that exits at once, so the peer is not this program's child (a process with children is refused:
 * moving it alone would split them) and lives in the middle's session, not this program's (else a
 * restore right after the checkpoint could not take this program's pid again). Returns the peer's
 * pid, or -1; 0 in the peer. The middle is reaped before this returns, so no process but the peer
 * holds this program's descriptors.
 */
static H_UNUSED pid_t h_fork_peer(void)
{
    int p[2];
    if (pipe(p) != 0) {
        return -1;
    }
    pid_t middle = fork();
    if (middle == 0) {
        setsid();
        pid_t peer = fork();
        if (peer == 0) {
            close(p[0]);
            close(p[1]);
            return 0;
        }
        ssize_t w = write(p[1], &peer, sizeof peer);
        _exit(w == sizeof peer ? 0 : 1);
    }
    close(p[1]);
    pid_t peer = -1;
    if (middle < 0 || read(p[0], &peer, sizeof peer) != sizeof peer) {
        peer = -1;
    }
    close(p[0]);
    if (middle > 0) {
        waitpid(middle, NULL, 0);
    }
    return peer;
}

/* A setup step failed: report it through the normal protocol and exit. */
static H_UNUSED __attribute__((noreturn, format(printf, 1, 2))) void h_die(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    h_fail("setup: %s", msg);
    h_ready();
    h_wait_go();
    h_finish();
    exit(0);
}

#define SETUP(cond, ...)              \
    do {                              \
        if (!(cond)) {                \
            h_die(__VA_ARGS__);       \
        }                             \
    } while (0)

/* ---- descriptors and socket options ---- */

/* Moves a new descriptor fd (setup fails if it is -1) to number target, closing fd. */
static H_UNUSED void h_place(int fd, int target)
{
    SETUP(fd >= 0 && dup2(fd, target) == target, "fd %d: %s", target, strerror(errno));
    close(fd);
}

/* An int socket option, or -1000 - errno. */
static H_UNUSED int h_getint(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    return getsockopt(fd, level, name, &v, &len) == 0 ? v : -1000 - errno;
}

static H_UNUSED void h_setint(int fd, int level, int name, int v)
{
    SETUP(setsockopt(fd, level, name, &v, sizeof v) == 0, "setsockopt %d/%d: %s", level, name, strerror(errno));
}

/* ---- deterministic content patterns ---- */

static inline uint64_t h_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static inline uint64_t h_word(uint64_t seed, uint64_t idx)
{
    return h_mix(seed * 0xD6E8FEB86659FD93ULL + idx);
}

/* Fill p[0..n) with the pattern of seed as seen from logical offset off (off % 8 == 0). */
static H_UNUSED void h_fill(void *p, size_t n, uint64_t seed, size_t off)
{
    unsigned char *b = p;
    size_t words = n / 8;
    uint64_t base = off / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t w = h_word(seed, base + i);
        memcpy(b + i * 8, &w, 8);
    }
    if (n % 8) {
        uint64_t w = h_word(seed, base + words);
        memcpy(b + words * 8, &w, n % 8);
    }
}

/* Offset of the first byte of p[0..n) that differs from the pattern, or -1. */
static H_UNUSED long h_check(const void *p, size_t n, uint64_t seed, size_t off)
{
    const unsigned char *b = p;
    size_t words = n / 8;
    uint64_t base = off / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t w = h_word(seed, base + i);
        if (memcmp(b + i * 8, &w, 8) != 0) {
            for (size_t k = 0; k < 8; k++) {
                if (b[i * 8 + k] != ((unsigned char *)&w)[k]) {
                    return (long)(i * 8 + k);
                }
            }
        }
    }
    if (n % 8) {
        uint64_t w = h_word(seed, base + words);
        for (size_t k = 0; k < n % 8; k++) {
            if (b[words * 8 + k] != ((unsigned char *)&w)[k]) {
                return (long)(words * 8 + k);
            }
        }
    }
    return -1;
}

/* Offset of the first non-zero byte, or -1. */
static H_UNUSED long h_check_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i]) {
            return (long)i;
        }
    }
    return -1;
}

/* FNV-1a 64 over a buffer. */
static H_UNUSED uint64_t h_fnv(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---- /proc/self/maps ---- */

struct h_vma {
    uintptr_t start, end;
    char perms[5];
    unsigned long long offset;
    char name[512];
};

/* Find the mapping containing addr. Returns 0 if found. */
static H_UNUSED int h_vma_at(uintptr_t addr, struct h_vma *out)
{
    static char buf[1 << 20];
    if (h_read_file("/proc/self/maps", buf, sizeof buf) < 0) {
        return -1;
    }
    char *line = buf;
    while (*line) {
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = 0;
        }
        unsigned long s, e;
        unsigned long long off;
        char perms[5];
        int pos = 0;
        if (sscanf(line, "%lx-%lx %4s %llx %*s %*s%n", &s, &e, perms, &off, &pos) >= 4 && addr >= s && addr < e) {
            out->start = s;
            out->end = e;
            memcpy(out->perms, perms, 5);
            out->offset = off;
            const char *nm = line + pos;
            while (*nm == ' ') {
                nm++;
            }
            snprintf(out->name, sizeof out->name, "%s", nm);
            return 0;
        }
        if (!nl) {
            break;
        }
        line = nl + 1;
    }
    return -1;
}

#endif
