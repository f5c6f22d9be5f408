/*
 * vdso_clocks: every function of the vdso keeps working across a checkpoint and restore, also on a
 * kernel whose vdso is another. The program looks the functions up once at start, as libc does
 * (dlsym in linux-vdso.so.1), and calls them through those addresses, and through libc, in a loop
 * until go, then a thousand times more: clock_gettime of CLOCK_MONOTONIC, CLOCK_REALTIME and
 * CLOCK_BOOTTIME, gettimeofday, time, getcpu, clock_getres. Each answer must be sane: no error, a
 * monotonic clock never behind its last reading nor more than MAX_JUMP_S ahead, and every clock
 * within a second of what the system call says (a vdso reading stale or foreign vvar data would not
 * be). The first failure is reported after go (until then the program writes nothing).
 */
#include "harness.h"

#include <dlfcn.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/time.h>

#define MAX_JUMP_S 60
#define NS 1000000000LL
#define AFTER_GO_ROUNDS 1000

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef int (*gettimeofday_fn)(struct timeval *, void *);
typedef time_t (*time_fn)(time_t *);
typedef long (*getcpu_fn)(unsigned *, unsigned *, void *);
typedef int (*clock_getres_fn)(clockid_t, struct timespec *);

static clock_gettime_fn v_clock_gettime;
static gettimeofday_fn v_gettimeofday;
static time_fn v_time;
static getcpu_fn v_getcpu;
static clock_getres_fn v_clock_getres;

static const clockid_t CLOCKS[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
static const char *const NAMES[] = {"CLOCK_MONOTONIC", "CLOCK_REALTIME", "CLOCK_BOOTTIME"};
static long long last[3];
static char failure[256];
static long rounds;

#define NOTE(cond, ...)                                                 \
    do {                                                                \
        if (!failure[0] && !(cond)) {                                   \
            snprintf(failure, sizeof failure, __VA_ARGS__);             \
        }                                                               \
    } while (0)

static void *vdso_function(void *vdso, const char *name)
{
    void *f = dlsym(vdso, name);
    SETUP(f != NULL, "the vdso has no %s", name);
    return f;
}

static long long ns_of(struct timespec ts)
{
    return (long long)ts.tv_sec * NS + ts.tv_nsec;
}

static long long raw_ns(clockid_t clk)
{
    struct timespec ts;
    syscall(SYS_clock_gettime, clk, &ts);
    return ns_of(ts);
}

/* One turn: every function once, each answer compared with the system call's and with the turn before. */
static void turn(void)
{
    rounds++;
    for (int c = 0; c < 3; c++) {
        struct timespec ts, libc_ts;
        NOTE(v_clock_gettime(CLOCKS[c], &ts) == 0, "vdso clock_gettime(%s) failed: %s", NAMES[c], strerror(errno));
        NOTE(clock_gettime(CLOCKS[c], &libc_ts) == 0, "clock_gettime(%s) failed: %s", NAMES[c], strerror(errno));
        long long now = ns_of(ts), raw = raw_ns(CLOCKS[c]);
        NOTE(raw - now < NS && now - raw < NS, "vdso clock_gettime(%s) is %.3f s from the system call's", NAMES[c], (raw - now) / 1e9);
        NOTE(llabs(ns_of(libc_ts) - raw) < NS, "clock_gettime(%s) is %.3f s from the system call's", NAMES[c],
             (raw - ns_of(libc_ts)) / 1e9);
        if (CLOCKS[c] != CLOCK_REALTIME && last[c]) {
            NOTE(now >= last[c], "%s went back by %.3f s (turn %ld)", NAMES[c], (last[c] - now) / 1e9, rounds);
            NOTE(now - last[c] < MAX_JUMP_S * NS, "%s jumped by %.3f s (turn %ld)", NAMES[c], (now - last[c]) / 1e9, rounds);
        }
        last[c] = now;
    }
    struct timeval tv;
    NOTE(v_gettimeofday(&tv, NULL) == 0, "vdso gettimeofday failed: %s", strerror(errno));
    long long tv_ns = (long long)tv.tv_sec * NS + tv.tv_usec * 1000LL, real = raw_ns(CLOCK_REALTIME);
    NOTE(llabs(real - tv_ns) < NS, "vdso gettimeofday is %.3f s from the system call's realtime", (real - tv_ns) / 1e9);
    time_t t_out = 0, t = v_time(&t_out);
    NOTE(t == t_out && llabs((long long)t - raw_ns(CLOCK_REALTIME) / NS) <= 2, "vdso time says %lld, the system call's realtime %lld",
         (long long)t, raw_ns(CLOCK_REALTIME) / NS);
    unsigned cpu = ~0U, node = ~0U;
    NOTE(v_getcpu(&cpu, &node, NULL) == 0, "vdso getcpu failed: %s", strerror(errno));
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    NOTE(cpu < (unsigned)cpus && node != ~0U, "vdso getcpu says cpu %u node %u of %ld cpus", cpu, node, cpus);
    struct timespec res, raw_res;
    NOTE(v_clock_getres(CLOCK_MONOTONIC, &res) == 0, "vdso clock_getres failed: %s", strerror(errno));
    syscall(SYS_clock_getres, CLOCK_MONOTONIC, &raw_res);
    NOTE(ns_of(res) == ns_of(raw_res) && ns_of(res) > 0, "vdso clock_getres(CLOCK_MONOTONIC) says %lld ns, the system call %lld ns",
         ns_of(res), ns_of(raw_res));
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    void *vdso = dlopen("linux-vdso.so.1", RTLD_LAZY | RTLD_NOLOAD);
    SETUP(vdso != NULL, "linux-vdso.so.1 is not loaded: %s", dlerror());
    v_clock_gettime = (clock_gettime_fn)vdso_function(vdso, "__vdso_clock_gettime");
    v_gettimeofday = (gettimeofday_fn)vdso_function(vdso, "__vdso_gettimeofday");
    v_time = (time_fn)vdso_function(vdso, "__vdso_time");
    v_getcpu = (getcpu_fn)vdso_function(vdso, "__vdso_getcpu");
    v_clock_getres = (clock_getres_fn)vdso_function(vdso, "__vdso_clock_getres");
    h_log("vdso at %#lx, clock_gettime at %p", getauxval(AT_SYSINFO_EHDR), (void *)v_clock_gettime);
    turn();
    h_ready();
    /* h_wait_go's loop with a turn before each look for go: a restore (before go) is always followed by a turn */
    for (;;) {
        turn();
        if (h_exists("go")) break;
        h_sleep_ns(2000000LL);
    }
    h_log("go after %ld turns", rounds);
    for (int i = 0; i < AFTER_GO_ROUNDS; i++) {
        turn();
    }
    CHECK(!failure[0], "%s", failure);
    struct h_vma vma;
    if (h_vma_at((uintptr_t)v_clock_gettime, &vma) == 0) {
        h_log("clock_gettime's entry now in %lx-%lx %s %s", (unsigned long)vma.start, (unsigned long)vma.end, vma.perms, vma.name);
    }
    return h_finish();
}
