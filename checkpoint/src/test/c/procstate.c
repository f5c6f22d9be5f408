/*
 * procstate: per-process attributes survive.
 *
 *  umask 027 (status line and effect on a new file), cwd in a directory under STATEDIR (with a
 *  space in its name), root, all rlimits (RLIMIT_NOFILE soft 512, RLIMIT_CORE soft 0; NOFILE
 *  still enforced), personality(ADDR_NO_RANDOMIZE), PR_SET_NAME "pmig-procst" (comm), cmdline,
 *  environ and auxv bytes, /proc/self/exe, the mm layout fields of /proc/self/stat (code, data,
 *  brk, stack, args, env), brk value (moved by sbrk, content kept), credentials (res uid/gid,
 *  supplementary groups set to a distinct list, capability sets), no_new_privs (set).
 */
#include "harness.h"

#include <grp.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>

static char buf_cmdline[65536], buf_environ[262144], buf_auxv[8192];
static ssize_t len_cmdline, len_environ, len_auxv;
static char exe_link[4096];

struct snapshot {
    struct rlimit rl[RLIM_NLIMITS];
    unsigned long mmfields[10];
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    gid_t groups[64];
    int ngroups;
    char caps[512];
    int persona;
    int no_new_privs;
    char comm[32];
    char cwd[4096];
    ino_t cwd_ino;
    dev_t cwd_dev;
    char root[4096];
    void *brk;
};

static ssize_t read_bin(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = h_read_all(fd, buf, cap);
    close(fd);
    return n;
}

/* Fields 26-28 (start_code, end_code, start_stack) and 45-51 (start_data .. env_end) of /proc/self/stat. */
static int read_mmfields(unsigned long *out)
{
    char buf[4096];
    if (h_read_file("/proc/self/stat", buf, sizeof buf) < 0) {
        return -1;
    }
    char *p = strrchr(buf, ')');
    if (!p) {
        return -1;
    }
    p += 2; /* field 3 */
    static const int want[10] = {26, 27, 28, 45, 46, 47, 48, 49, 50, 51};
    int field = 3, k = 0;
    while (*p && k < 10) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (field == want[k]) {
            out[k++] = v;
        }
        p = end;
        while (*p == ' ') {
            p++;
        }
        field++;
    }
    return k == 10 ? 0 : -1;
}

static void read_caps(char *out, size_t cap)
{
    char buf[8192];
    out[0] = 0;
    if (h_read_file("/proc/self/status", buf, sizeof buf) < 0) {
        return;
    }
    size_t o = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "Cap", 3) == 0 || strncmp(line, "NoNewPrivs", 10) == 0) {
            o += (size_t)snprintf(out + o, cap - o, "%s|", line);
            if (o >= cap) {
                break;
            }
        }
    }
}

static int read_umask_status(void)
{
    char buf[8192];
    if (h_read_file("/proc/self/status", buf, sizeof buf) < 0) {
        return -1;
    }
    char *p = strstr(buf, "Umask:");
    return p ? (int)strtol(p + 6, NULL, 8) : -1;
}

static void take(struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    for (int r = 0; r < RLIM_NLIMITS; r++) {
        getrlimit(r, &s->rl[r]);
    }
    read_mmfields(s->mmfields);
    getresuid(&s->ruid, &s->euid, &s->suid);
    getresgid(&s->rgid, &s->egid, &s->sgid);
    s->ngroups = getgroups(64, s->groups);
    read_caps(s->caps, sizeof s->caps);
    s->persona = personality(0xffffffff);
    s->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    prctl(PR_GET_NAME, s->comm, 0, 0, 0);
    if (!getcwd(s->cwd, sizeof s->cwd)) {
        snprintf(s->cwd, sizeof s->cwd, "(getcwd: %s)", strerror(errno));
    }
    struct stat st;
    if (stat(".", &st) == 0) {
        s->cwd_ino = st.st_ino;
        s->cwd_dev = st.st_dev;
    }
    ssize_t n = readlink("/proc/self/root", s->root, sizeof s->root - 1);
    s->root[n > 0 ? n : 0] = 0;
    s->brk = sbrk(0);
}

static const char *RLN[] = {"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
                            "MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"};
static const char *MMN[] = {"start_code", "end_code", "start_stack", "start_data", "end_data",
                            "start_brk", "arg_start", "arg_end", "env_start", "env_end"};

static void compare(const struct snapshot *a, const struct snapshot *b, const char *when)
{
    for (int r = 0; r < RLIM_NLIMITS; r++) {
        CHECK(a->rl[r].rlim_cur == b->rl[r].rlim_cur && a->rl[r].rlim_max == b->rl[r].rlim_max,
              "%s: RLIMIT_%s %llu/%llu, was %llu/%llu", when, r < 16 ? RLN[r] : "?", (unsigned long long)b->rl[r].rlim_cur,
              (unsigned long long)b->rl[r].rlim_max, (unsigned long long)a->rl[r].rlim_cur,
              (unsigned long long)a->rl[r].rlim_max);
    }
    for (int k = 0; k < 10; k++) {
        CHECK(a->mmfields[k] == b->mmfields[k], "%s: /proc/self/stat %s %lx, was %lx", when, MMN[k], b->mmfields[k],
              a->mmfields[k]);
    }
    CHECK(a->ruid == b->ruid && a->euid == b->euid && a->suid == b->suid, "%s: uids %d/%d/%d, were %d/%d/%d", when,
          (int)b->ruid, (int)b->euid, (int)b->suid, (int)a->ruid, (int)a->euid, (int)a->suid);
    CHECK(a->rgid == b->rgid && a->egid == b->egid && a->sgid == b->sgid, "%s: gids %d/%d/%d, were %d/%d/%d", when,
          (int)b->rgid, (int)b->egid, (int)b->sgid, (int)a->rgid, (int)a->egid, (int)a->sgid);
    CHECK(a->ngroups == b->ngroups && memcmp(a->groups, b->groups, (size_t)(a->ngroups > 0 ? a->ngroups : 0) * sizeof(gid_t)) == 0,
          "%s: supplementary groups changed (%d groups, were %d)", when, b->ngroups, a->ngroups);
    CHECK(strcmp(a->caps, b->caps) == 0, "%s: capabilities '%s', were '%s'", when, b->caps, a->caps);
    CHECK(a->persona == b->persona, "%s: personality %#x, was %#x", when, b->persona, a->persona);
    CHECK(a->no_new_privs == b->no_new_privs, "%s: no_new_privs %d, was %d", when, b->no_new_privs, a->no_new_privs);
    CHECK(strcmp(a->comm, b->comm) == 0, "%s: comm '%s', was '%s'", when, b->comm, a->comm);
    CHECK(strcmp(a->cwd, b->cwd) == 0, "%s: cwd '%s', was '%s'", when, b->cwd, a->cwd);
    CHECK(a->cwd_ino == b->cwd_ino && a->cwd_dev == b->cwd_dev, "%s: cwd is another directory (inode)", when);
    CHECK(strcmp(a->root, b->root) == 0, "%s: root '%s', was '%s'", when, b->root, a->root);
    CHECK(a->brk == b->brk, "%s: brk %p, was %p", when, b->brk, a->brk);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);

    len_cmdline = read_bin("/proc/self/cmdline", buf_cmdline, sizeof buf_cmdline);
    len_environ = read_bin("/proc/self/environ", buf_environ, sizeof buf_environ);
    len_auxv = read_bin("/proc/self/auxv", buf_auxv, sizeof buf_auxv);
    SETUP(len_cmdline > 0 && len_environ >= 0 && len_auxv > 0, "cannot read cmdline/environ/auxv");
    ssize_t n = readlink("/proc/self/exe", exe_link, sizeof exe_link - 1);
    SETUP(n > 0, "readlink exe");
    exe_link[n] = 0;

    umask(027);

    char dir[4096];
    h_path(dir, sizeof dir, "cwd dir");
    SETUP(mkdir(dir, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", dir, strerror(errno));
    SETUP(chdir(dir) == 0, "chdir %s: %s", dir, strerror(errno));

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = 512;
    SETUP(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit NOFILE: %s", strerror(errno));
    getrlimit(RLIMIT_CORE, &rl);
    rl.rlim_cur = 0;
    SETUP(setrlimit(RLIMIT_CORE, &rl) == 0, "setrlimit CORE: %s", strerror(errno));

    int pers = personality(0xffffffff);
    SETUP(personality((unsigned long)pers | ADDR_NO_RANDOMIZE) != -1, "personality: %s", strerror(errno));
    SETUP(prctl(PR_SET_NAME, "pmig-procst", 0, 0, 0) == 0, "PR_SET_NAME");
    SETUP(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));

    /* supplementary groups: a distinct list (root only; otherwise keep what we have) */
    if (geteuid() == 0) {
        gid_t gl[3] = {0, 4, 1234};
        SETUP(setgroups(3, gl) == 0, "setgroups: %s", strerror(errno));
    }

    /* move brk and put content there */
    unsigned char *grown = sbrk(3 * 4096);
    SETUP(grown != (void *)-1, "sbrk: %s", strerror(errno));
    h_fill(grown, 3 * 4096, 4242, 0);

    struct snapshot before, after;
    take(&before);
    SETUP(before.persona & ADDR_NO_RANDOMIZE, "ADDR_NO_RANDOMIZE not set");
    SETUP(before.no_new_privs == 1, "no_new_privs not set");
    SETUP(strcmp(before.comm, "pmig-procst") == 0, "comm '%s'", before.comm);
    SETUP(read_umask_status() == 027, "umask not 027 at setup");

    h_ready();
    h_wait_go();

    /* ---- verify ---- */
    take(&after);
    compare(&before, &after, "after go");
    CHECK(before.rl[RLIMIT_NOFILE].rlim_cur == 512 && before.rl[RLIMIT_CORE].rlim_cur == 0, "setup rlimits wrong");

    int um = read_umask_status();
    CHECK(um == 027, "umask %03o in /proc/self/status, expected 027", um);
    int fd = open("umask-probe", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) {
        h_fail("create umask-probe in cwd: %s", strerror(errno));
    } else {
        struct stat st;
        fstat(fd, &st);
        CHECK((st.st_mode & 0777) == 0640, "new file mode %03o, expected 0640 under umask 027", st.st_mode & 0777);
        close(fd);
        unlink("umask-probe");
    }
    CHECK(strcmp(after.cwd, dir) == 0, "cwd '%s', expected '%s'", after.cwd, dir);
    errno = 0;
    int hi = fcntl(0, F_DUPFD, 600);
    CHECK(hi == -1 && errno == EINVAL, "F_DUPFD to 600 with RLIMIT_NOFILE 512: %d (%s), expected EINVAL", hi,
          strerror(errno));
    if (hi >= 0) {
        close(hi);
    }

    static char b2[262144];
    ssize_t m = read_bin("/proc/self/cmdline", b2, sizeof b2);
    CHECK(m == len_cmdline && memcmp(b2, buf_cmdline, (size_t)m) == 0, "/proc/self/cmdline changed (%zd bytes, was %zd)",
          m, len_cmdline);
    m = read_bin("/proc/self/environ", b2, sizeof b2);
    CHECK(m == len_environ && memcmp(b2, buf_environ, (size_t)m) == 0, "/proc/self/environ changed (%zd bytes, was %zd)",
          m, len_environ);
    m = read_bin("/proc/self/auxv", b2, sizeof b2);
    if (m != len_auxv || memcmp(b2, buf_auxv, (size_t)m) != 0) {
        int first = -1;
        for (ssize_t i = 0; i + 16 <= m && i + 16 <= len_auxv; i += 16) {
            if (memcmp(b2 + i, buf_auxv + i, 16) != 0) {
                first = (int)(*(unsigned long *)(buf_auxv + i));
                break;
            }
        }
        h_fail("/proc/self/auxv changed (%zd bytes, was %zd; first differing entry type %d)", m, len_auxv, first);
    }
    char exe2[4096];
    n = readlink("/proc/self/exe", exe2, sizeof exe2 - 1);
    exe2[n > 0 ? n : 0] = 0;
    CHECK(strcmp(exe2, exe_link) == 0, "/proc/self/exe -> '%s', was '%s'", exe2, exe_link);
    char comm[64];
    h_read_file("/proc/self/comm", comm, sizeof comm);
    CHECK(strcmp(comm, "pmig-procst\n") == 0, "/proc/self/comm '%s'", comm);
    long bad = h_check(grown, 3 * 4096, 4242, 0);
    CHECK(bad < 0, "memory below brk changed at offset %ld", bad);
    return h_finish();
}
