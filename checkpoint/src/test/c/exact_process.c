/*
 * exact_process: process attributes that a restore once gave back differently.
 *
 *  - oom_score_adj 321;
 *  - PR_SET_THP_DISABLE;
 *  - madvise flags on regions of their own: MADV_DONTFORK, MADV_WIPEONFORK, MADV_DONTDUMP,
 *    MADV_NOHUGEPAGE, MADV_HUGEPAGE, an mlock'ed region and a MAP_DROPPABLE one where the kernel has them
 *    (smaps VmFlags dc, wf, dd, nh, hg, lo, dp);
 *    after go a child sees the wipe-on-fork region zeroed and the don't-fork region absent;
 *  - dumpable: a root process makes itself non-dumpable; any other keeps the default (dumpable), which a
 *    change of credentials in the restore would take away (no ptrace, core or /proc for the owner);
 *  - membarrier registrations for private and global expedited barriers (MEMBARRIER_CMD_GET_REGISTRATIONS
 *    lists them where the kernel has it; else the private barrier answers EPERM without its registration);
 *  - a thread blocked in poll() on a pipe with a 60 s timeout when checkpointed: after go, a byte
 *    written into the pipe wakes it with POLLIN;
 *  - a SIGTRAP pending (blocked) in the main thread, another SIGTRAP and a SIGUSR2 pending for the process, and
 *    a handler for SIGTRAP: a checkpoint steps the threads with traps of its own, which must not take them (a
 *    trap forced while SIGTRAP is blocked also resets its handler to the default).
 */
#include "harness.h"

#include <signal.h>
#include <linux/membarrier.h>
#include <dirent.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
#ifndef MEMBARRIER_CMD_GET_REGISTRATIONS
#define MEMBARRIER_CMD_GET_REGISTRATIONS (1 << 9)
#endif

#define REGION (2UL << 20)
enum { R_DONTFORK, R_WIPEONFORK, R_DONTDUMP, R_NOHUGEPAGE, R_HUGEPAGE, R_LOCKED, R_DROPPABLE, REGIONS };
static const char *const FLAG[REGIONS] = {"dc", "wf", "dd", "nh", "hg", "lo", "dp"};
enum { LOCK = -1, DROPPABLE = -2 };
static const int ADVICE[REGIONS] = {MADV_DONTFORK, MADV_WIPEONFORK, MADV_DONTDUMP, MADV_NOHUGEPAGE, MADV_HUGEPAGE, LOCK, DROPPABLE};
static unsigned char *region[REGIONS];

static int poll_pipe[2];

static void on_trap(int sig)
{
    (void)sig;
}

/* Whether signal sig is pending, for the process (shared) or for the main thread, per /proc/self/status. */
static int pending_in(const char *field, int sig)
{
    char status[8192];
    if (h_read_file("/proc/self/status", status, sizeof status) < 0) {
        return -1;
    }
    const char *line = strstr(status, field);
    return line ? (int)((strtoull(line + strlen(field), NULL, 16) >> (sig - 1)) & 1) : -1;
}

static volatile int poll_result = -2, poll_revents, poll_errno;

static void *poller(void *arg)
{
    (void)arg;
    struct pollfd p = {.fd = poll_pipe[0], .events = POLLIN};
    int r = poll(&p, 1, 60000);
    poll_errno = errno;
    poll_revents = p.revents;
    __atomic_store_n(&poll_result, r, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Whether a thread other than this one waits in poll (its /proc wchan names a poll function). */
static int poller_in_poll(void)
{
    DIR *d = opendir("/proc/self/task");
    int found = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL && !found;) {
        char path[300], wchan[64];
        snprintf(path, sizeof path, "/proc/self/task/%s/wchan", e->d_name);
        found = atoi(e->d_name) != getpid() && h_read_file(path, wchan, sizeof wchan) > 0 && strstr(wchan, "poll") != NULL;
    }
    if (d) {
        closedir(d);
    }
    return found;
}

/* The VmFlags of the mapping at addr, from /proc/self/smaps. */
static int vmflags(void *addr, char *out, size_t cap)
{
    static char buf[1 << 20];
    if (h_read_file("/proc/self/smaps", buf, sizeof buf) < 0) {
        return -1;
    }
    int in = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, ' ') == strchr(line, '-') + strcspn(strchr(line, '-'), " ")) {
            in = (uintptr_t)addr >= s && (uintptr_t)addr < e;
        } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(out, cap, "%s ", line + 8);
            return 0;
        }
    }
    return -1;
}

static int has_flag(void *addr, const char *flag)
{
    char flags[256], want[8];
    if (vmflags(addr, flags, sizeof flags) != 0) {
        return 0;
    }
    snprintf(want, sizeof want, " %s ", flag);
    return strstr(flags, want) != NULL;
}

static int proc_self_int(const char *path)
{
    char b[64];
    return h_read_file(path, b, sizeof b) > 0 ? atoi(b) : -9999;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    int root = geteuid() == 0;
    /* blocked in every thread (the poller inherits the mask), so that they stay pending */
    sigset_t traps;
    sigemptyset(&traps);
    sigaddset(&traps, SIGTRAP);
    sigaddset(&traps, SIGUSR2);
    SETUP(pthread_sigmask(SIG_BLOCK, &traps, NULL) == 0, "sigprocmask");
    struct sigaction on_trap_action = {.sa_handler = on_trap, .sa_flags = SA_RESTART};
    SETUP(sigaction(SIGTRAP, &on_trap_action, NULL) == 0, "sigaction(SIGTRAP): %s", strerror(errno));

    int fd = open("/proc/self/oom_score_adj", O_WRONLY);
    SETUP(fd >= 0 && write(fd, "321", 3) == 3, "oom_score_adj: %s", strerror(errno));
    close(fd);
    SETUP(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0, "PR_SET_THP_DISABLE: %s", strerror(errno));
    for (int i = 0; i < REGIONS; i++) {
        region[i] = mmap(NULL, REGION, PROT_READ | PROT_WRITE, (ADVICE[i] == DROPPABLE ? MAP_DROPPABLE : MAP_PRIVATE) | MAP_ANONYMOUS,
                         -1, 0);
        if (region[i] == MAP_FAILED && ADVICE[i] == DROPPABLE) {
            h_log("no MAP_DROPPABLE here (%s)", strerror(errno));
            region[i] = NULL;
            continue;
        }
        SETUP(region[i] != MAP_FAILED, "mmap");
        if (ADVICE[i] != DROPPABLE) { /* its pages may go under memory pressure */
            memset(region[i], 0x5a, REGION);
        }
        if (ADVICE[i] >= 0) {
            SETUP(madvise(region[i], REGION, ADVICE[i]) == 0, "madvise %s: %s", FLAG[i], strerror(errno));
        } else if (ADVICE[i] == LOCK) {
            SETUP(mlock(region[i], REGION) == 0, "mlock: %s", strerror(errno));
        }
        SETUP(has_flag(region[i], FLAG[i]), "region %d does not show VmFlag %s", i, FLAG[i]);
    }
    if (root) {
        SETUP(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0, "PR_SET_DUMPABLE: %s", strerror(errno));
    }
    int want_dumpable = root ? 0 : 1;
    SETUP(syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0, "membarrier register: %s",
          strerror(errno));
    SETUP(syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0, "membarrier register global: %s",
          strerror(errno));
    long registrations = syscall(SYS_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0); /* -1 before Linux 6.3 */

    SETUP(pipe(poll_pipe) == 0, "pipe");
    pthread_t t;
    SETUP(pthread_create(&t, NULL, poller, NULL) == 0, "pthread_create");
    /* ready only once the thread sits in poll */
    for (int i = 0; i < 5000 && !poller_in_poll(); i++) {
        h_sleep_ms(2);
    }

    raise(SIGTRAP);
    kill(getpid(), SIGTRAP);
    kill(getpid(), SIGUSR2);

    h_ready();
    h_wait_go();

    sigset_t pending;
    sigpending(&pending);
    CHECK(sigismember(&pending, SIGTRAP) && sigismember(&pending, SIGUSR2), "pending SIGTRAP %d, SIGUSR2 %d (both were)",
          sigismember(&pending, SIGTRAP), sigismember(&pending, SIGUSR2));
    CHECK(pending_in("SigPnd:", SIGTRAP) == 1 && pending_in("ShdPnd:", SIGTRAP) == 1 && pending_in("ShdPnd:", SIGUSR2) == 1,
          "SIGTRAP pending for the thread %d, for the process %d; SIGUSR2 for the process %d (all were)",
          pending_in("SigPnd:", SIGTRAP), pending_in("ShdPnd:", SIGTRAP), pending_in("ShdPnd:", SIGUSR2));
    struct sigaction now;
    CHECK(sigaction(SIGTRAP, NULL, &now) == 0 && now.sa_handler == on_trap && (now.sa_flags & SA_RESTART),
          "SIGTRAP's handler is no longer the program's");
    siginfo_t si;
    struct timespec none = {0, 0};
    CHECK(sigtimedwait(&traps, &si, &none) > 0 && sigtimedwait(&traps, &si, &none) > 0 && sigtimedwait(&traps, &si, &none) > 0,
          "the pending signals cannot be taken");

    CHECK(proc_self_int("/proc/self/oom_score_adj") == 321, "oom_score_adj is %d, was 321",
          proc_self_int("/proc/self/oom_score_adj"));
    CHECK(prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1, "THP disable lost");
    for (int i = 0; i < REGIONS; i++) {
        if (region[i] == NULL) {
            continue;
        }
        CHECK(has_flag(region[i], FLAG[i]), "region %d lost VmFlag %s", i, FLAG[i]);
        CHECK(ADVICE[i] == DROPPABLE || region[i][REGION - 1] == 0x5a, "region %d lost its content", i);
    }
    CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == want_dumpable, "dumpable is %d, was %d", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0),
          want_dumpable);
    CHECK(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0, "membarrier registration lost: %s",
          strerror(errno));
    CHECK(syscall(SYS_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0) == registrations, "membarrier registrations are %#lx, were %#lx",
          syscall(SYS_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0), registrations);

    pid_t child = fork();
    if (child == 0) {
        /* wipe-on-fork reads zero in the child; the don't-fork region is not there at all */
        _exit(region[R_WIPEONFORK][0] == 0 && region[R_WIPEONFORK][REGION - 1] == 0
              && msync(region[R_DONTFORK], 4096, MS_ASYNC) != 0 && errno == ENOMEM ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a child saw the wipe-on-fork or don't-fork region (status %#x)", status);

    CHECK(__atomic_load_n(&poll_result, __ATOMIC_SEQ_CST) == -2, "poll returned %d (errno %d) before anything was written",
          poll_result, poll_errno);
    CHECK(write(poll_pipe[1], "p", 1) == 1, "pipe write");
    pthread_join(t, NULL);
    CHECK(poll_result == 1 && (poll_revents & POLLIN), "poll in progress returned %d, revents %#x, errno %d", poll_result,
          poll_revents, poll_errno);
    return h_finish();
}
