/*
 * The dirty-tracking benchmark's subject: holds N MiB of written memory; on each SIGUSR1 it writes
 * one byte in every page and then writes DONE_FILE.K (K = 1, 2, ...) holding how long that pass
 * took in nanoseconds, so the benchmark sees what tracking costs the process itself.
 *   dirtywrite SIZE_MB DONE_FILE
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t asked;

static void on_usr1(int sig)
{
    (void)sig;
    asked = 1;
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    size_t n = (size_t)atol(argv[1]) << 20;
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *p = malloc(n);
    if (!p) return 1;
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 7 + (i >> 12) + 1);
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old);
    signal(SIGUSR1, on_usr1);
    for (int pass = 1;; pass++) {
        while (!asked) sigsuspend(&old);
        asked = 0;
        long long t0 = now_ns();
        for (size_t i = 0; i < n; i += (size_t)pg) p[i]++;
        long long took = now_ns() - t0;
        char name[4096], tmp[4200];
        snprintf(name, sizeof name, "%s.%d", argv[2], pass);
        snprintf(tmp, sizeof tmp, "%s.tmp", name);
        FILE *f = fopen(tmp, "w");
        if (!f) return 3;
        fprintf(f, "%lld\n", took);
        fclose(f);
        rename(tmp, name);
    }
}
