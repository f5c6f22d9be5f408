/*
 * timers: interval timers and POSIX timers keep their ids, settings and rates.
 *
 *  - setitimer(ITIMER_REAL) 10 ms interval, SIGALRM counted (SA_RESTART handler)
 *  - setitimer(ITIMER_VIRTUAL) 100 s value / 50 s interval (never fires; value only decreases with CPU time)
 *  - POSIX timer A: CLOCK_MONOTONIC, SIGEV_SIGNAL SIGRTMIN+1, sival 0xBEEF, 20 ms interval
 *  - POSIX timer B: created then deleted (its id must stay unused)
 *  - POSIX timer C: CLOCK_MONOTONIC, SIGEV_NONE, 30 s one-shot (remaining time continues, not reset)
 *  - POSIX timer D: CLOCK_BOOTTIME, SIGEV_SIGNAL SIGRTMIN+3, disarmed
 * After go: settings via getitimer/timer_gettime on the saved ids, the deleted id is still invalid,
 * and both periodic timers fire at their rate over ~300 ms (within +-50%), the POSIX one with its
 * sigev_value, SI_TIMER and its own timer id in siginfo.
 */
#include "harness.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>

static atomic_int alrm_count, rt_count, rt_bad, rt3_count;
static volatile int rt_last_value, rt_last_timerid, rt_last_code;

static void on_alrm(int sig)
{
    (void)sig;
    atomic_fetch_add(&alrm_count, 1);
}

static int timer_a_id;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    atomic_fetch_add(&rt_count, 1);
    rt_last_value = si->si_value.sival_int;
    rt_last_timerid = si->si_timerid;
    rt_last_code = si->si_code;
    if (si->si_value.sival_int != 0xBEEF || si->si_code != SI_TIMER || si->si_timerid != timer_a_id) {
        atomic_fetch_add(&rt_bad, 1);
    }
}

static void on_rt3(int sig)
{
    (void)sig;
    atomic_fetch_add(&rt3_count, 1);
}

static long long ts_ns(const struct timespec *t)
{
    return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static long long tv_ns(const struct timeval *t)
{
    return (long long)t->tv_sec * 1000000000LL + (long long)t->tv_usec * 1000LL;
}

/* Count both periodic timers over ~300 ms; check rates within +-50%. */
static void measure(const char *when)
{
    int a0 = atomic_load(&alrm_count), r0 = atomic_load(&rt_count);
    long long t0 = h_now_ns(CLOCK_MONOTONIC);
    h_sleep_ms(300);
    long long el = h_now_ns(CLOCK_MONOTONIC) - t0;
    int a = atomic_load(&alrm_count) - a0, r = atomic_load(&rt_count) - r0;
    double ea = (double)el / 10e6, er = (double)el / 20e6;
    h_log("%s: %d SIGALRM (expected %.1f), %d SIGRTMIN+1 (expected %.1f) in %lld ms", when, a, ea, r, er, el / 1000000);
    CHECK(a >= ea * 0.5 && a <= ea * 1.5, "%s: ITIMER_REAL fired %d times in %lld ms, expected ~%.0f", when, a,
          el / 1000000, ea);
    CHECK(r >= er * 0.5 && r <= er * 1.5, "%s: POSIX timer fired %d times in %lld ms, expected ~%.0f", when, r,
          el / 1000000, er);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);

    struct sigaction sa = {0};
    sa.sa_handler = on_alrm;
    sa.sa_flags = SA_RESTART;
    SETUP(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction SIGALRM");
    struct sigaction sr = {0};
    sr.sa_sigaction = on_rt;
    sr.sa_flags = SA_SIGINFO | SA_RESTART;
    SETUP(sigaction(SIGRTMIN + 1, &sr, NULL) == 0, "sigaction SIGRTMIN+1");
    struct sigaction s3 = {0};
    s3.sa_handler = on_rt3;
    s3.sa_flags = SA_RESTART;
    SETUP(sigaction(SIGRTMIN + 3, &s3, NULL) == 0, "sigaction SIGRTMIN+3");

    /* POSIX timers (created in this order: A, B, C, D; B deleted) */
    timer_t ta, tb, tc, td;
    struct sigevent ev = {0};
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGRTMIN + 1;
    ev.sigev_value.sival_int = 0xBEEF;
    SETUP(timer_create(CLOCK_MONOTONIC, &ev, &ta) == 0, "timer_create A: %s", strerror(errno));
    timer_a_id = (int)(intptr_t)ta;
    struct sigevent evn = {0};
    evn.sigev_notify = SIGEV_NONE;
    SETUP(timer_create(CLOCK_REALTIME, &evn, &tb) == 0, "timer_create B: %s", strerror(errno));
    SETUP(timer_create(CLOCK_MONOTONIC, &evn, &tc) == 0, "timer_create C: %s", strerror(errno));
    struct sigevent ev3 = {0};
    ev3.sigev_notify = SIGEV_SIGNAL;
    ev3.sigev_signo = SIGRTMIN + 3;
    ev3.sigev_value.sival_int = 77;
    SETUP(timer_create(CLOCK_BOOTTIME, &ev3, &td) == 0, "timer_create D: %s", strerror(errno));
    SETUP(timer_delete(tb) == 0, "timer_delete B: %s", strerror(errno));
    h_log("timer ids: A=%d B=%d (deleted) C=%d D=%d", (int)(intptr_t)ta, (int)(intptr_t)tb, (int)(intptr_t)tc,
          (int)(intptr_t)td);

    struct itimerspec ia = {.it_interval = {0, 20000000}, .it_value = {0, 20000000}};
    SETUP(timer_settime(ta, 0, &ia, NULL) == 0, "timer_settime A");
    struct itimerspec ic = {.it_interval = {0, 0}, .it_value = {30, 0}};
    SETUP(timer_settime(tc, 0, &ic, NULL) == 0, "timer_settime C");
    long long c_armed = h_now_ns(CLOCK_MONOTONIC);

    struct itimerval ir = {.it_interval = {0, 10000}, .it_value = {0, 10000}};
    SETUP(setitimer(ITIMER_REAL, &ir, NULL) == 0, "setitimer REAL");
    struct itimerval iv = {.it_interval = {50, 0}, .it_value = {100, 0}};
    SETUP(setitimer(ITIMER_VIRTUAL, &iv, NULL) == 0, "setitimer VIRTUAL");

    /* ~300 ms of firing at setup: proves the rates here, and lets timer C run down before any checkpoint */
    measure("setup");
    SETUP(!h_failed(), "timers do not fire as expected even without checkpoint");
    struct itimerspec c_setup;
    timer_gettime(tc, &c_setup);

    h_ready();
    h_wait_go();

    /* ---- verify ---- */
    struct itimerval g;
    CHECK(getitimer(ITIMER_REAL, &g) == 0, "getitimer REAL: %s", strerror(errno));
    if (tv_ns(&g.it_value) == 0) {
        /* it expired while this thread was in the call (a stalled CPU): its SIGALRM, delivered on the way out, re-armed it */
        CHECK(getitimer(ITIMER_REAL, &g) == 0, "getitimer REAL: %s", strerror(errno));
    }
    CHECK(tv_ns(&g.it_interval) == 10000000LL, "ITIMER_REAL interval %lld ns, expected 10 ms", tv_ns(&g.it_interval));
    CHECK(tv_ns(&g.it_value) > 0 && tv_ns(&g.it_value) <= 10000000LL, "ITIMER_REAL value %lld ns not in (0,10ms]",
          tv_ns(&g.it_value));
    CHECK(getitimer(ITIMER_VIRTUAL, &g) == 0, "getitimer VIRTUAL: %s", strerror(errno));
    CHECK(tv_ns(&g.it_interval) == 50000000000LL, "ITIMER_VIRTUAL interval %lld ns, expected 50 s",
          tv_ns(&g.it_interval));
    /* the kernel reports CPU timers rounded up to its tick, hence the small allowance above 100 s */
    CHECK(tv_ns(&g.it_value) > 99000000000LL && tv_ns(&g.it_value) <= 100020000000LL,
          "ITIMER_VIRTUAL value %lld ns, expected about 100 s minus the little CPU time used", tv_ns(&g.it_value));

    struct itimerspec s;
    if (timer_gettime(ta, &s) != 0) {
        h_fail("timer_gettime(A id %d): %s", timer_a_id, strerror(errno));
    } else {
        CHECK(ts_ns(&s.it_interval) == 20000000LL, "timer A interval %lld ns, expected 20 ms", ts_ns(&s.it_interval));
        CHECK(ts_ns(&s.it_value) > 0 && ts_ns(&s.it_value) <= 20000000LL, "timer A value %lld ns not in (0,20ms]",
              ts_ns(&s.it_value));
        CHECK(timer_getoverrun(ta) >= 0, "timer_getoverrun(A): %s", strerror(errno));
    }
    CHECK(timer_gettime(tb, &s) == -1 && errno == EINVAL, "deleted timer B (id %d) exists again",
          (int)(intptr_t)tb);
    if (timer_gettime(tc, &s) != 0) {
        h_fail("timer_gettime(C id %d): %s", (int)(intptr_t)tc, strerror(errno));
    } else {
        long long v = ts_ns(&s.it_value), el = h_now_ns(CLOCK_MONOTONIC) - c_armed;
        CHECK(ts_ns(&s.it_interval) == 0, "timer C interval %lld, expected 0", ts_ns(&s.it_interval));
        /* it ran down at least as far as at setup (not reset), and not faster than real time */
        CHECK(v > 0 && v <= ts_ns(&c_setup.it_value), "timer C value %lld ns, was %lld at setup (reset?)", v,
              ts_ns(&c_setup.it_value));
        CHECK(el + v >= 30000000000LL - 50000000LL, "timer C ran too fast: %lld ns left after %lld ns of 30 s", v, el);
    }
    if (timer_gettime(td, &s) != 0) {
        h_fail("timer_gettime(D id %d): %s", (int)(intptr_t)td, strerror(errno));
    } else {
        CHECK(ts_ns(&s.it_value) == 0 && ts_ns(&s.it_interval) == 0, "timer D should be disarmed (%lld/%lld)",
              ts_ns(&s.it_value), ts_ns(&s.it_interval));
    }

    measure("after go");
    CHECK(atomic_load(&rt_bad) == 0, "%d POSIX timer signals had wrong siginfo (last: value %#x code %d timerid %d, expected %#x %d %d)",
          atomic_load(&rt_bad), rt_last_value, rt_last_code, rt_last_timerid, 0xBEEF, SI_TIMER, timer_a_id);
    CHECK(atomic_load(&rt3_count) == 0, "disarmed timer D fired");

    /* D still works when armed, and A can be re-armed through its id */
    struct itimerspec id1 = {.it_interval = {0, 0}, .it_value = {0, 5000000}};
    CHECK(timer_settime(td, 0, &id1, NULL) == 0, "timer_settime D: %s", strerror(errno));
    h_sleep_ms(50);
    CHECK(atomic_load(&rt3_count) == 1, "timer D fired %d times after arming, expected 1", atomic_load(&rt3_count));

    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    struct itimerspec zero = {{0, 0}, {0, 0}};
    timer_settime(ta, 0, &zero, NULL);
    return h_finish();
}
