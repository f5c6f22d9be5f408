/*
 * Clocks: CLOCK_MONOTONIC and CLOCK_BOOTTIME go on across a checkpoint and restore, read both
 * through the vdso (clock_gettime) and by the raw system call (which the vdso's vvar page cannot
 * fool). Until go the program reads them every 2 ms, so the freeze lies between two readings:
 * no reading may be behind the one before, nor more than MAX_JUMP_S ahead of it, however far
 * apart the restoring host's clocks are; after go the vdso and the system call agree.
 */
#include "harness.h"

#define MAX_JUMP_S 60
#define NS 1000000000LL

static const clockid_t CLOCKS[] = {CLOCK_MONOTONIC, CLOCK_BOOTTIME};
static const char *const NAMES[] = {"CLOCK_MONOTONIC", "CLOCK_BOOTTIME"};

static long long raw_ns(clockid_t clk)
{
    struct timespec ts;
    syscall(SYS_clock_gettime, clk, &ts);
    return (long long)ts.tv_sec * NS + ts.tv_nsec;
}

/*
 * Compares a reading with the one before (kept in *last) and keeps it; notes the first step out of bounds in
 * *failure (reported after go: until then the program writes nothing).
 */
static void step(long long now, long long *last, char *failure, size_t cap, const char *name, const char *how)
{
    if (!failure[0] && now < *last) {
        snprintf(failure, cap, "%s (%s) went back by %.3f s", name, how, (*last - now) / 1e9);
    } else if (!failure[0] && now - *last >= MAX_JUMP_S * NS) {
        snprintf(failure, cap, "%s (%s) jumped by %.3f s", name, how, (now - *last) / 1e9);
    }
    *last = now;
}

int main(int argc, char **argv)
{
    long long vdso_last[2], raw_last[2];
    static char failures[2][2][128];
    h_init(argc, argv);
    for (int c = 0; c < 2; c++) {
        vdso_last[c] = h_now_ns(CLOCKS[c]);
        raw_last[c] = raw_ns(CLOCKS[c]);
    }
    h_ready();
    /* h_wait_go's loop, reading the clocks at every turn before it looks for go: a restore (before go) is always followed by a reading */
    for (;;) {
        for (int c = 0; c < 2; c++) {
            step(h_now_ns(CLOCKS[c]), &vdso_last[c], failures[c][0], sizeof failures[c][0], NAMES[c], "vdso");
            step(raw_ns(CLOCKS[c]), &raw_last[c], failures[c][1], sizeof failures[c][1], NAMES[c], "syscall");
        }
        if (h_exists("go")) break;
        h_sleep_ns(2000000LL);
    }
    h_log("go");
    for (int c = 0; c < 2; c++) {
        CHECK(!failures[c][0][0], "%s", failures[c][0]);
        CHECK(!failures[c][1][0], "%s", failures[c][1]);
        long long apart = raw_ns(CLOCKS[c]) - h_now_ns(CLOCKS[c]);
        CHECK(apart < NS && apart > -NS, "%s: the vdso and the system call disagree by %.3f s", NAMES[c], apart / 1e9);
    }
    return h_finish();
}
