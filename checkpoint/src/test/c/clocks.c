/*
 * Clocks: CLOCK_MONOTONIC and CLOCK_BOOTTIME go on across a checkpoint and restore, read both
 * through the vdso (clock_gettime) and by the raw system call (which the vdso's vvar page cannot
 * fool). After go, neither clock is behind its value at ready, and neither jumped by more than
 * MAX_JUMP_S, however far apart the restoring host's clocks are; the vdso and the system call agree.
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

int main(int argc, char **argv)
{
    long long vdso_before[2], raw_before[2];
    h_init(argc, argv);
    for (int c = 0; c < 2; c++) {
        vdso_before[c] = h_now_ns(CLOCKS[c]);
        raw_before[c] = raw_ns(CLOCKS[c]);
    }
    h_ready();
    h_wait_go();
    for (int c = 0; c < 2; c++) {
        long long vdso = h_now_ns(CLOCKS[c]);
        long long raw = raw_ns(CLOCKS[c]);
        CHECK(vdso >= vdso_before[c], "%s (vdso) went back by %.3f s", NAMES[c], (vdso_before[c] - vdso) / 1e9);
        CHECK(raw >= raw_before[c], "%s (syscall) went back by %.3f s", NAMES[c], (raw_before[c] - raw) / 1e9);
        CHECK(vdso - vdso_before[c] < MAX_JUMP_S * NS, "%s (vdso) jumped by %.3f s", NAMES[c], (vdso - vdso_before[c]) / 1e9);
        CHECK(raw - raw_before[c] < MAX_JUMP_S * NS, "%s (syscall) jumped by %.3f s", NAMES[c], (raw - raw_before[c]) / 1e9);
        long long apart = raw_ns(CLOCKS[c]) - h_now_ns(CLOCKS[c]);
        CHECK(apart < NS && apart > -NS, "%s: the vdso and the system call disagree by %.3f s", NAMES[c], apart / 1e9);
    }
    return h_finish();
}
