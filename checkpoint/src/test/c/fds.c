/*
 * fds: the descriptor table comes back number for number, kind for kind, with flags,
 * offsets, sharing and buffered data.
 *
 *   0        /dev/null (from the launcher), 1 and 2: STATEDIR/log, O_APPEND, one shared description
 *   3        regular file O_RDWR at offset 1234                                 (cloexec)
 *   4        regular file O_WRONLY|O_APPEND
 *   5, 50    one O_RDONLY description dup'ed: shared offset 100                 (50 cloexec)
 *   6        directory O_DIRECTORY, usable with openat                          (cloexec)
 *   7, 8, 9  /dev/null O_RDWR, /dev/zero, /dev/urandom O_NONBLOCK
 *   10, 11   pipe (F_SETPIPE_SZ 1 MB, 100 KB buffered), write end O_NONBLOCK
 *   12, 13   FIFO under STATEDIR, read end O_NONBLOCK, 5000 bytes buffered
 *   14       eventfd count 42, EFD_NONBLOCK
 *   15       eventfd count 7, EFD_SEMAPHORE
 *   16       epoll: pipe read end (EPOLLIN), eventfd 14 (EPOLLIN|EPOLLOUT), FIFO write end
 *            (EPOLLOUT|EPOLLET), each with its own data.u64                  (cloexec)
 *   17       timerfd CLOCK_MONOTONIC, 5 s initial, 1 s interval, TFD_NONBLOCK     (cloexec)
 *   18       signalfd {SIGUSR1} (SIGUSR1 blocked), SFD_NONBLOCK
 *   19, 20   socketpair(AF_UNIX, SOCK_STREAM), 3000 bytes queued at 19, 2000 at 20
 *   100, 101 socketpair(AF_UNIX, SOCK_DGRAM), datagrams of 100, 1, 3000 bytes queued at 101,
 *            one of 50 bytes at 100                                             (100 cloexec)
 *   200      a second, separate O_RDONLY description of the file of fd 3, offset 77 (cloexec)
 * Nothing else is open.
 */
#include "harness.h"

#include <dirent.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>

#define PIPE_DATA (100 * 1024)
#define FIFO_DATA 5000
#define RW_LEN 8192

static const int FDS[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 50, 100, 101, 200};
#define NFDS ((int)(sizeof FDS / sizeof FDS[0]))
static const int CLOEXEC_FDS[] = {3, 6, 16, 17, 50, 100, 200};

struct fdsnap {
    int flags;     /* F_GETFL without O_LARGEFILE */
    int fdflags;   /* F_GETFD */
    char link[4096];
    dev_t dev;
    ino_t ino;
    dev_t rdev;
    mode_t type;
};
static struct fdsnap snap[NFDS];

static char p_rw[4096], p_app[4096], p_ro[4096], p_dir[4096], p_fifo[4096], p_log[4096];

static int is_cloexec_fd(int fd)
{
    for (size_t i = 0; i < sizeof CLOEXEC_FDS / sizeof CLOEXEC_FDS[0]; i++) {
        if (CLOEXEC_FDS[i] == fd) {
            return 1;
        }
    }
    return 0;
}

/* Put fd at number target (target must be free unless fd == target) with the given FD_CLOEXEC. */
static void place(int fd, int target, const char *what)
{
    SETUP(fd >= 0, "%s: %s", what, strerror(errno));
    int cloexec = is_cloexec_fd(target);
    if (fd != target) {
        SETUP(fcntl(target, F_GETFD) == -1, "%s: fd %d already in use", what, target);
        SETUP(dup3(fd, target, cloexec ? O_CLOEXEC : 0) == target, "%s: dup3 to %d: %s", what, target, strerror(errno));
        close(fd);
    } else {
        SETUP(fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0) == 0, "%s: F_SETFD", what);
    }
}

/* Normalized kind: path for files; "pipe:", "socket:", "anon_inode:[eventfd]" ... without inode numbers. */
static void fd_link(int fd, char *out, size_t cap)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(p, out, cap - 1);
    out[n > 0 ? n : 0] = 0;
    if (strncmp(out, "pipe:[", 6) == 0) {
        out[5] = 0;
    } else if (strncmp(out, "socket:[", 8) == 0) {
        out[7] = 0;
    }
}

static void take_snap(struct fdsnap *s)
{
    for (int i = 0; i < NFDS; i++) {
        int fd = FDS[i];
        memset(&s[i], 0, sizeof s[i]);
        s[i].flags = fcntl(fd, F_GETFL);
        if (s[i].flags != -1) {
            s[i].flags &= ~0100000; /* O_LARGEFILE */
        }
        s[i].fdflags = fcntl(fd, F_GETFD);
        fd_link(fd, s[i].link, sizeof s[i].link);
        struct stat st;
        if (fstat(fd, &st) == 0) {
            s[i].type = st.st_mode & S_IFMT;
            s[i].rdev = st.st_rdev;
            if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
                s[i].dev = st.st_dev;
                s[i].ino = st.st_ino;
            }
        }
    }
}

/* Pipes made by pipe() and real FIFOs both show as S_IFIFO; for pipes the inode is new after restore. */
static int is_anon_pipe(int fd)
{
    return fd == 10 || fd == 11;
}

static void compare_snap(void)
{
    struct fdsnap now[NFDS];
    take_snap(now);
    for (int i = 0; i < NFDS; i++) {
        int fd = FDS[i];
        struct fdsnap *a = &snap[i], *b = &now[i];
        if (b->flags == -1) {
            h_fail("fd %d is not open", fd);
            continue;
        }
        CHECK(a->flags == b->flags, "fd %d: status flags %#o, were %#o", fd, b->flags, a->flags);
        CHECK(a->fdflags == b->fdflags, "fd %d: FD_CLOEXEC %d, was %d", fd, b->fdflags, a->fdflags);
        CHECK(strcmp(a->link, b->link) == 0, "fd %d: is '%s', was '%s'", fd, b->link, a->link);
        CHECK(a->type == b->type, "fd %d: file type %o, was %o", fd, b->type, a->type);
        CHECK(a->rdev == b->rdev, "fd %d: rdev %lx, was %lx", fd, (unsigned long)b->rdev, (unsigned long)a->rdev);
        if (!is_anon_pipe(fd)) {
            CHECK(a->dev == b->dev && a->ino == b->ino, "fd %d: another file (dev/inode %lx/%lu, was %lx/%lu)", fd,
                  (unsigned long)b->dev, (unsigned long)b->ino, (unsigned long)a->dev, (unsigned long)a->ino);
        }
    }
}

/* Every open descriptor number, excluding the one used to list them. */
static int list_fds(int *out, int cap)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        return -1;
    }
    int self = dirfd(d), n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') {
            continue;
        }
        int fd = atoi(e->d_name);
        if (fd != self && n < cap) {
            out[n++] = fd;
        }
    }
    closedir(d);
    return n;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Value of "key" in /proc/self/fdinfo/fd, as a string (first token after the key). */
static int fdinfo_value(int fd, const char *key, char *out, size_t cap)
{
    char p[64], buf[8192];
    snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
    if (h_read_file(p, buf, sizeof buf) < 0) {
        return -1;
    }
    char *k = strstr(buf, key);
    if (!k) {
        return -1;
    }
    k += strlen(key);
    while (*k == ' ' || *k == '\t') {
        k++;
    }
    size_t n = strcspn(k, "\n");
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(out, k, n);
    out[n] = 0;
    return 0;
}

/* The epoll interest list from fdinfo: "tfd: events: data:" triples, sorted by tfd. */
struct epi {
    int tfd;
    unsigned events;
    unsigned long long data;
};
static int epoll_list(int fd, struct epi *out, int cap)
{
    char p[64], buf[16384];
    snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
    if (h_read_file(p, buf, sizeof buf) < 0) {
        return -1;
    }
    int n = 0;
    for (char *l = strstr(buf, "tfd:"); l && n < cap; l = strstr(l + 4, "tfd:")) {
        if (sscanf(l, "tfd: %d events: %x data: %llx", &out[n].tfd, &out[n].events, &out[n].data) == 3) {
            n++;
        }
    }
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            if (out[j].tfd < out[i].tfd) {
                struct epi t = out[i];
                out[i] = out[j];
                out[j] = t;
            }
        }
    }
    return n;
}

static long long ts_ns(const struct timespec *t)
{
    return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static int inq(int fd)
{
    int n = -1;
    if (ioctl(fd, FIONREAD, &n) != 0) {
        return -1;
    }
    return n;
}

static long kcmp_file(int a, int b)
{
    pid_t p = getpid();
    return syscall(SYS_kcmp, p, p, KCMP_FILE, a, b);
}

/* Read up to len bytes, waiting at most 2 s for each chunk: missing data is a FAIL, not a hang. */
static ssize_t read_timeout(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 2000);
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr <= 0) {
            break;
        }
        ssize_t r = read(fd, (char *)buf + got, len - got);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return got ? (ssize_t)got : -1;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* One read of at most cap bytes, after waiting at most 2 s for data. */
static ssize_t read1(int fd, void *buf, size_t cap)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, 2000) <= 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    return read(fd, buf, cap);
}

static void check_read_pattern(int fd, size_t len, uint64_t seed, size_t off, const char *what)
{
    unsigned char *b = malloc(len);
    ssize_t n = read_timeout(fd, b, len);
    if (n != (ssize_t)len) {
        h_fail("%s: read %zd bytes, expected %zu (%s)", what, n, len, n < 0 ? strerror(errno) : "short");
    } else {
        long bad = h_check(b, len, seed, off);
        CHECK(bad < 0, "%s: data differs at byte %ld", what, bad);
    }
    free(b);
}

/* Read len bytes at the current offset, which must be fileoff, and compare with the file's pattern there. */
static void check_read_at(int fd, size_t len, uint64_t seed, size_t fileoff, const char *what)
{
    size_t whole = fileoff + len;
    unsigned char *exp = malloc(whole), *b = malloc(len);
    h_fill(exp, whole, seed, 0);
    ssize_t n = read_timeout(fd, b, len);
    if (n != (ssize_t)len) {
        h_fail("%s: read %zd bytes, expected %zu", what, n, len);
    } else {
        CHECK(memcmp(b, exp + fileoff, len) == 0, "%s: data differs", what);
    }
    free(exp);
    free(b);
}

static void write_pattern(int fd, size_t len, uint64_t seed, const char *what)
{
    unsigned char *b = malloc(len);
    h_fill(b, len, seed, 0);
    SETUP(h_write_all(fd, b, len) == 0, "%s: write: %s", what, strerror(errno));
    free(b);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    h_path(p_rw, sizeof p_rw, "fds-rw.dat");
    h_path(p_app, sizeof p_app, "fds-append.log");
    h_path(p_ro, sizeof p_ro, "fds-ro.dat");
    h_path(p_dir, sizeof p_dir, "fds-dir");
    h_path(p_fifo, sizeof p_fifo, "fds-fifo");
    h_path(p_log, sizeof p_log, "log");

    /* nothing but 0,1,2 may be open: drop whatever a launcher leaked */
    SETUP(syscall(SYS_close_range, 3, ~0U, 0) == 0, "close_range: %s", strerror(errno));
    int pre[64];
    int npre = list_fds(pre, 64);
    qsort(pre, npre > 0 ? (size_t)npre : 0, sizeof(int), cmp_int);
    SETUP(npre == 3 && pre[0] == 0 && pre[1] == 1 && pre[2] == 2, "started with %d descriptors open, expected 0,1,2", npre);

    /* files the descriptors refer to */
    int t = open(p_rw, O_RDWR | O_CREAT | O_TRUNC, 0644);
    SETUP(t >= 0, "create %s", p_rw);
    write_pattern(t, RW_LEN, 31, "rw file");
    close(t);
    t = open(p_ro, O_RDWR | O_CREAT | O_TRUNC, 0644);
    SETUP(t >= 0, "create %s", p_ro);
    write_pattern(t, RW_LEN, 32, "ro file");
    close(t);
    SETUP(mkdir(p_dir, 0755) == 0 || errno == EEXIST, "mkdir %s", p_dir);
    {
        char inner[sizeof p_dir + 16];
        snprintf(inner, sizeof inner, "%s/inner.txt", p_dir);
        t = open(inner, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        SETUP(t >= 0, "create inner.txt");
        SETUP(h_write_all(t, "inner file content\n", 19) == 0, "write inner");
        close(t);
    }
    unlink(p_fifo);
    SETUP(mkfifo(p_fifo, 0600) == 0, "mkfifo: %s", strerror(errno));

    /* 3: O_RDWR at 1234 */
    place(open(p_rw, O_RDWR), 3, "rw file");
    SETUP(lseek(3, 1234, SEEK_SET) == 1234, "lseek");
    /* 4: append */
    place(open(p_app, O_WRONLY | O_APPEND | O_CREAT, 0644), 4, "append file");
    SETUP(h_write_all(4, "first line\n", 11) == 0, "append write");
    off_t app_pos = lseek(4, 0, SEEK_CUR);
    /* 5 + 50: shared offset */
    place(open(p_ro, O_RDONLY), 5, "ro file");
    SETUP(lseek(5, 100, SEEK_SET) == 100, "lseek ro");
    SETUP(dup3(5, 50, O_CLOEXEC) == 50, "dup3 50");
    /* 6: directory */
    place(open(p_dir, O_RDONLY | O_DIRECTORY), 6, "directory");
    /* 7, 8, 9: devices */
    place(open("/dev/null", O_RDWR), 7, "/dev/null");
    place(open("/dev/zero", O_RDONLY), 8, "/dev/zero");
    place(open("/dev/urandom", O_RDONLY | O_NONBLOCK), 9, "/dev/urandom");
    /* 10, 11: pipe */
    int pp[2];
    SETUP(pipe(pp) == 0, "pipe");
    place(pp[0], 10, "pipe read end");
    place(pp[1], 11, "pipe write end");
    SETUP(fcntl(11, F_SETPIPE_SZ, 1 << 20) >= (1 << 20), "F_SETPIPE_SZ: %s", strerror(errno));
    SETUP(fcntl(11, F_SETFL, O_WRONLY | O_NONBLOCK) == 0, "pipe O_NONBLOCK");
    write_pattern(11, PIPE_DATA, 33, "pipe");
    /* 12, 13: FIFO */
    place(open(p_fifo, O_RDONLY | O_NONBLOCK), 12, "fifo read end");
    place(open(p_fifo, O_WRONLY), 13, "fifo write end");
    write_pattern(13, FIFO_DATA, 34, "fifo");
    /* 14, 15: eventfds */
    place(eventfd(42, EFD_NONBLOCK), 14, "eventfd");
    place(eventfd(7, EFD_SEMAPHORE), 15, "eventfd semaphore");
    /* 16: epoll */
    place(epoll_create1(EPOLL_CLOEXEC), 16, "epoll");
    struct epoll_event ee = {.events = EPOLLIN, .data.u64 = 0x1111222233334444ULL};
    SETUP(epoll_ctl(16, EPOLL_CTL_ADD, 10, &ee) == 0, "epoll add pipe");
    ee = (struct epoll_event){.events = EPOLLIN | EPOLLOUT, .data.u64 = 0xdeadbeefcafef00dULL};
    SETUP(epoll_ctl(16, EPOLL_CTL_ADD, 14, &ee) == 0, "epoll add eventfd");
    ee = (struct epoll_event){.events = EPOLLOUT | EPOLLET, .data.u64 = 7};
    SETUP(epoll_ctl(16, EPOLL_CTL_ADD, 13, &ee) == 0, "epoll add fifo");
    /* 17: timerfd */
    place(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), 17, "timerfd");
    struct itimerspec its = {.it_interval = {1, 0}, .it_value = {5, 0}};
    SETUP(timerfd_settime(17, 0, &its, NULL) == 0, "timerfd_settime");
    long long tfd_armed = h_now_ns(CLOCK_MONOTONIC);
    /* 18: signalfd */
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGUSR1);
    SETUP(sigprocmask(SIG_BLOCK, &ss, NULL) == 0, "block SIGUSR1");
    place(signalfd(-1, &ss, SFD_NONBLOCK), 18, "signalfd");
    /* 19, 20: stream socketpair */
    int sp[2];
    SETUP(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair stream");
    place(sp[0], 19, "stream socket a");
    place(sp[1], 20, "stream socket b");
    write_pattern(20, 3000, 35, "stream b->a");
    write_pattern(19, 2000, 36, "stream a->b");
    /* 100, 101: datagram socketpair */
    int dp[2];
    SETUP(socketpair(AF_UNIX, SOCK_DGRAM, 0, dp) == 0, "socketpair dgram");
    place(dp[0], 100, "dgram socket a");
    place(dp[1], 101, "dgram socket b");
    static const size_t DG[3] = {100, 1, 3000};
    for (int i = 0; i < 3; i++) {
        unsigned char b[3000];
        h_fill(b, DG[i], 40 + (uint64_t)i, 0);
        SETUP(send(100, b, DG[i], 0) == (ssize_t)DG[i], "send datagram %d: %s", i, strerror(errno));
    }
    {
        unsigned char b[50];
        h_fill(b, sizeof b, 45, 0);
        SETUP(send(101, b, sizeof b, 0) == (ssize_t)sizeof b, "send datagram back");
    }
    /* 200: separate description of the rw file */
    place(open(p_rw, O_RDONLY), 200, "second rw description");
    SETUP(lseek(200, 77, SEEK_SET) == 77, "lseek 200");

    int now[256];
    int nn = list_fds(now, 256);
    qsort(now, nn > 0 ? (size_t)nn : 0, sizeof(int), cmp_int);
    SETUP(nn == NFDS && memcmp(now, FDS, sizeof FDS) == 0, "setup left %d descriptors, expected %d", nn, NFDS);
    take_snap(snap);
    struct epi ep_setup[8];
    int nep_setup = epoll_list(16, ep_setup, 8);
    SETUP(nep_setup == 3, "epoll fdinfo lists %d targets, expected 3", nep_setup);
    char sigmask_setup[64] = "", efd_sem_setup[16] = "", efd2_sem_setup[16] = "";
    SETUP(fdinfo_value(18, "sigmask:", sigmask_setup, sizeof sigmask_setup) == 0, "signalfd fdinfo");
    fdinfo_value(14, "eventfd-semaphore:", efd_sem_setup, sizeof efd_sem_setup);
    fdinfo_value(15, "eventfd-semaphore:", efd2_sem_setup, sizeof efd2_sem_setup);

    /* let the timerfd run down a little so a reset (back to 5 s) is distinguishable */
    h_sleep_ms(300);

    h_ready();
    h_wait_go();

    /* ---- verify ---- */
    nn = list_fds(now, 256);
    qsort(now, nn > 0 ? (size_t)nn : 0, sizeof(int), cmp_int);
    if (nn != NFDS || memcmp(now, FDS, sizeof FDS) != 0) {
        char lst[1024] = "";
        size_t o = 0;
        for (int i = 0; i < nn && o < sizeof lst - 8; i++) {
            o += (size_t)snprintf(lst + o, sizeof lst - o, "%d ", now[i]);
        }
        h_fail("open descriptors are [%s], expected exactly the %d set up", lst, NFDS);
    }
    compare_snap();
    for (int i = 0; i < NFDS; i++) {
        int fdf = fcntl(FDS[i], F_GETFD);
        CHECK(fdf == (is_cloexec_fd(FDS[i]) ? FD_CLOEXEC : 0), "fd %d: FD_CLOEXEC is %d", FDS[i], fdf);
    }

    /* 0, 1, 2 */
    char l[4096];
    fd_link(0, l, sizeof l);
    CHECK(strcmp(l, "/dev/null") == 0, "fd 0 is '%s'", l);
    fd_link(1, l, sizeof l);
    CHECK(strcmp(l, p_log) == 0, "fd 1 is '%s', expected %s", l, p_log);
    CHECK(kcmp_file(1, 2) == 0, "fds 1 and 2 no longer share one file description");
    CHECK(fcntl(1, F_GETFL) & O_APPEND, "fd 1 lost O_APPEND");

    /* 3: O_RDWR, offset 1234, separate from 200 */
    CHECK((fcntl(3, F_GETFL) & O_ACCMODE) == O_RDWR, "fd 3 not O_RDWR");
    off_t pos = lseek(3, 0, SEEK_CUR);
    CHECK(pos == 1234, "fd 3 offset %lld, expected 1234", (long long)pos);
    check_read_at(3, 100, 31, 1234, "fd 3 at offset 1234");
    CHECK(kcmp_file(3, 200) != 0, "fds 3 and 200 share a description (were separate)");
    pos = lseek(200, 0, SEEK_CUR);
    CHECK(pos == 77, "fd 200 offset %lld, expected 77", (long long)pos);
    {
        unsigned char b[16], orig[16];
        CHECK(pread(3, orig, 16, 0) == 16, "pread fd 3");
        CHECK(pwrite(3, orig, 16, 0) == 16, "fd 3 not writable: %s", strerror(errno));
        CHECK(pread(200, b, 16, 0) == 16 && memcmp(b, orig, 16) == 0, "fd 200 reads other content");
    }

    /* 4: append */
    pos = lseek(4, 0, SEEK_CUR);
    CHECK(pos == app_pos, "fd 4 offset %lld, expected %lld", (long long)pos, (long long)app_pos);
    CHECK((fcntl(4, F_GETFL) & (O_ACCMODE | O_APPEND)) == (O_WRONLY | O_APPEND), "fd 4 not O_WRONLY|O_APPEND");
    lseek(4, 0, SEEK_SET);
    CHECK(h_write_all(4, "after go\n", 9) == 0, "append write: %s", strerror(errno));
    struct stat st;
    fstat(4, &st);
    CHECK(lseek(4, 0, SEEK_CUR) == st.st_size, "fd 4: write did not append (offset %lld, size %lld)",
          (long long)lseek(4, 0, SEEK_CUR), (long long)st.st_size);

    /* 5 + 50: shared offset */
    CHECK(kcmp_file(5, 50) == 0, "fds 5 and 50 no longer share one description");
    CHECK(lseek(5, 0, SEEK_CUR) == 100 && lseek(50, 0, SEEK_CUR) == 100, "fds 5/50 offsets %lld/%lld, expected 100",
          (long long)lseek(5, 0, SEEK_CUR), (long long)lseek(50, 0, SEEK_CUR));
    check_read_at(5, 16, 32, 100, "fd 5 at offset 100");
    CHECK(lseek(50, 0, SEEK_CUR) == 116, "reading fd 5 did not move fd 50 (offset %lld)", (long long)lseek(50, 0, SEEK_CUR));

    /* 6: directory */
    int in = openat(6, "inner.txt", O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        h_fail("openat(6, inner.txt): %s", strerror(errno));
    } else {
        char b[64] = {0};
        CHECK(read(in, b, sizeof b - 1) == 19 && strcmp(b, "inner file content\n") == 0, "inner.txt via fd 6: '%s'", b);
        close(in);
    }

    /* 7, 8, 9: devices */
    fstat(7, &st);
    CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3), "fd 7 is not /dev/null");
    CHECK(write(7, "hello", 5) == 5, "write /dev/null");
    {
        char b[4096];
        CHECK(read(7, b, sizeof b) == 0, "read /dev/null not EOF");
        memset(b, 1, sizeof b);
        CHECK(read(8, b, sizeof b) == (ssize_t)sizeof b && h_check_zero(b, sizeof b) < 0, "fd 8 (/dev/zero) read");
        fstat(8, &st);
        CHECK(st.st_rdev == makedev(1, 5), "fd 8 is not /dev/zero");
        CHECK(read(9, b, 16) == 16, "fd 9 (/dev/urandom) read");
        fstat(9, &st);
        CHECK(st.st_rdev == makedev(1, 9), "fd 9 is not /dev/urandom");
    }

    /* 16: epoll, before the pipe and eventfd are drained */
    struct epi ep[8];
    int nep = epoll_list(16, ep, 8);
    CHECK(nep == nep_setup, "epoll fdinfo lists %d targets, expected %d", nep, nep_setup);
    for (int i = 0; i < nep && i < nep_setup; i++) {
        CHECK(ep[i].tfd == ep_setup[i].tfd && ep[i].events == ep_setup[i].events && ep[i].data == ep_setup[i].data,
              "epoll target %d: tfd %d events %#x data %#llx, was tfd %d events %#x data %#llx", i, ep[i].tfd,
              ep[i].events, ep[i].data, ep_setup[i].tfd, ep_setup[i].events, ep_setup[i].data);
    }
    struct epoll_event evs[8];
    int ne = epoll_wait(16, evs, 8, 0);
    CHECK(ne == 3, "epoll_wait returned %d events, expected 3", ne);
    int seen = 0;
    for (int i = 0; i < ne; i++) {
        if (evs[i].data.u64 == 0x1111222233334444ULL) {
            CHECK(evs[i].events == EPOLLIN, "epoll pipe event %#x, expected EPOLLIN", evs[i].events);
            seen |= 1;
        } else if (evs[i].data.u64 == 0xdeadbeefcafef00dULL) {
            CHECK(evs[i].events == (EPOLLIN | EPOLLOUT), "epoll eventfd events %#x, expected IN|OUT", evs[i].events);
            seen |= 2;
        } else if (evs[i].data.u64 == 7) {
            CHECK(evs[i].events == EPOLLOUT, "epoll fifo events %#x, expected EPOLLOUT", evs[i].events);
            seen |= 4;
        } else {
            h_fail("epoll_wait: unexpected data %#llx", (unsigned long long)evs[i].data.u64);
        }
    }
    CHECK(seen == 7, "epoll_wait did not report all three targets (%#x)", seen);
    ne = epoll_wait(16, evs, 8, 0);
    CHECK(ne == 2, "second epoll_wait returned %d events, expected 2 (edge-triggered fifo silent)", ne);

    /* 10, 11: pipe */
    fstat(10, &st);
    struct stat st2;
    fstat(11, &st2);
    CHECK(S_ISFIFO(st.st_mode) && st.st_ino == st2.st_ino, "fds 10/11 are not the two ends of one pipe");
    CHECK(fcntl(10, F_GETPIPE_SZ) == 1 << 20, "pipe size %d, expected 1 MB", fcntl(10, F_GETPIPE_SZ));
    CHECK(inq(10) == PIPE_DATA, "pipe holds %d bytes, expected %d", inq(10), PIPE_DATA);
    check_read_pattern(10, PIPE_DATA, 33, 0, "pipe data");
    CHECK(write(11, "z", 1) == 1, "pipe write after go");
    {
        char c = 0;
        CHECK(read1(10, &c, 1) == 1 && c == 'z', "pipe round trip after go");
    }

    /* 12, 13: FIFO */
    struct stat sf;
    stat(p_fifo, &sf);
    fstat(12, &st);
    fstat(13, &st2);
    CHECK(S_ISFIFO(st.st_mode) && st.st_ino == sf.st_ino && st2.st_ino == sf.st_ino, "fds 12/13 are not the FIFO %s",
          p_fifo);
    CHECK(inq(12) == FIFO_DATA, "FIFO holds %d bytes, expected %d", inq(12), FIFO_DATA);
    check_read_pattern(12, FIFO_DATA, 34, 0, "FIFO data");
    CHECK(write(13, "f", 1) == 1, "FIFO write after go");
    {
        char c = 0;
        CHECK(read1(12, &c, 1) == 1 && c == 'f', "FIFO round trip after go");
    }

    /* 14, 15: eventfds */
    char v[64];
    CHECK(fdinfo_value(14, "eventfd-count:", v, sizeof v) == 0 && strtoull(v, NULL, 16) == 42, "eventfd count '%s', expected 2a", v);
    CHECK(fdinfo_value(15, "eventfd-count:", v, sizeof v) == 0 && strtoull(v, NULL, 16) == 7, "semaphore eventfd count '%s', expected 7", v);
    if (efd_sem_setup[0]) {
        CHECK(fdinfo_value(14, "eventfd-semaphore:", v, sizeof v) == 0 && strcmp(v, efd_sem_setup) == 0, "eventfd semaphore flag '%s'", v);
        CHECK(fdinfo_value(15, "eventfd-semaphore:", v, sizeof v) == 0 && strcmp(v, efd2_sem_setup) == 0, "eventfd 15 semaphore flag '%s'", v);
    }
    uint64_t val = 0;
    CHECK(read(14, &val, 8) == 8 && val == 42, "eventfd read %llu, expected 42", (unsigned long long)val);
    CHECK(read(14, &val, 8) == -1 && errno == EAGAIN, "eventfd second read not EAGAIN (nonblocking, zero)");
    val = 0;
    CHECK(read1(15, &val, 8) == 8 && val == 1, "semaphore eventfd read %llu, expected 1", (unsigned long long)val);
    CHECK(fdinfo_value(15, "eventfd-count:", v, sizeof v) == 0 && strtoull(v, NULL, 16) == 6, "semaphore eventfd count after one read '%s', expected 6", v);

    /* 17: timerfd */
    struct itimerspec cur;
    if (timerfd_gettime(17, &cur) != 0) {
        h_fail("timerfd_gettime: %s", strerror(errno));
    } else {
        long long el = h_now_ns(CLOCK_MONOTONIC) - tfd_armed, value = ts_ns(&cur.it_value);
        uint64_t ticks = 0;
        ssize_t r = read(17, &ticks, 8);
        CHECK(ts_ns(&cur.it_interval) == 1000000000LL, "timerfd interval %lld ns, expected 1 s", ts_ns(&cur.it_interval));
        if (r == 8) {
            /* expired at least once: 5 s must have passed (at least) */
            CHECK(el >= 5000000000LL - 50000000LL, "timerfd expired %llu times after only %lld ms", (unsigned long long)ticks,
                  el / 1000000);
            CHECK(value > 0 && value <= 1000000000LL, "timerfd value %lld ns after expiry, expected <= 1 s", value);
        } else {
            CHECK(r == -1 && errno == EAGAIN, "timerfd read: %s", strerror(errno));
            CHECK(value > 0 && value <= 5000000000LL - 250000000LL, "timerfd value %lld ns: reset? (armed 5 s, >= 300 ms elapsed before ready)",
                  value);
            CHECK(el + value >= 5000000000LL - 50000000LL, "timerfd ran fast: %lld ns left after %lld ns", value, el);
        }
        CHECK(fdinfo_value(17, "clockid:", v, sizeof v) == 0 && atoi(v) == CLOCK_MONOTONIC, "timerfd clockid '%s'", v);
    }

    /* 18: signalfd */
    CHECK(fdinfo_value(18, "sigmask:", v, sizeof v) == 0 && strcmp(v, sigmask_setup) == 0, "signalfd sigmask '%s', was '%s'", v,
          sigmask_setup);
    sigset_t blocked;
    sigprocmask(SIG_BLOCK, NULL, &blocked);
    CHECK(sigismember(&blocked, SIGUSR1), "SIGUSR1 no longer blocked");
    sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 4321});
    struct signalfd_siginfo si;
    memset(&si, 0, sizeof si);
    ssize_t sr = read(18, &si, sizeof si);
    CHECK(sr == (ssize_t)sizeof si && si.ssi_signo == SIGUSR1 && si.ssi_int == 4321 && si.ssi_code == SI_QUEUE,
          "signalfd read %zd: signo %u int %d code %d", sr, si.ssi_signo, si.ssi_int, si.ssi_code);

    /* 19, 20: stream sockets */
    int so = 0;
    socklen_t sl = sizeof so;
    CHECK(getsockopt(19, SOL_SOCKET, SO_TYPE, &so, &sl) == 0 && so == SOCK_STREAM, "fd 19 not SOCK_STREAM");
    sl = sizeof so;
    CHECK(getsockopt(19, SOL_SOCKET, SO_DOMAIN, &so, &sl) == 0 && so == AF_UNIX, "fd 19 not AF_UNIX");
    CHECK(inq(19) == 3000, "stream socket 19 has %d bytes queued, expected 3000", inq(19));
    CHECK(inq(20) == 2000, "stream socket 20 has %d bytes queued, expected 2000", inq(20));
    check_read_pattern(19, 3000, 35, 0, "stream data at 19");
    check_read_pattern(20, 2000, 36, 0, "stream data at 20");
    CHECK(write(19, "ping", 4) == 4, "stream write 19");
    {
        char b[8] = {0};
        CHECK(read1(20, b, 8) == 4 && memcmp(b, "ping", 4) == 0, "stream 19->20 after go");
        CHECK(write(20, "pong", 4) == 4 && read1(19, b, 8) == 4 && memcmp(b, "pong", 4) == 0, "stream 20->19 after go");
    }

    /* 100, 101: datagrams with boundaries */
    sl = sizeof so;
    CHECK(getsockopt(101, SOL_SOCKET, SO_TYPE, &so, &sl) == 0 && so == SOCK_DGRAM, "fd 101 not SOCK_DGRAM");
    for (int i = 0; i < 3; i++) {
        unsigned char b[4096];
        ssize_t n = recv(101, b, sizeof b, MSG_DONTWAIT);
        CHECK(n == (ssize_t)DG[i], "datagram %d: %zd bytes, expected %zu", i, n, DG[i]);
        if (n == (ssize_t)DG[i]) {
            CHECK(h_check(b, DG[i], 40 + (uint64_t)i, 0) < 0, "datagram %d content differs", i);
        }
    }
    {
        unsigned char b[4096];
        CHECK(recv(101, b, sizeof b, MSG_DONTWAIT) == -1 && errno == EAGAIN, "more than 3 datagrams at 101");
        ssize_t n = recv(100, b, sizeof b, MSG_DONTWAIT);
        CHECK(n == 50 && h_check(b, 50, 45, 0) < 0, "datagram at 100: %zd bytes", n);
        CHECK(send(100, "dg", 2, 0) == 2 && recv(101, b, sizeof b, MSG_DONTWAIT) == 2, "datagram round trip after go");
    }

    return h_finish();
}
