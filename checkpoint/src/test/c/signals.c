/*
 * signals: handlers, flags, masks, alternate stacks and pending signals survive.
 *
 * Setup (three threads: main, T, U):
 *  - SIGUSR1: SA_SIGINFO|SA_RESTART, sa_mask {SIGUSR2,SIGTERM}; SIGUSR2: SA_SIGINFO|SA_ONSTACK;
 *    SIGPIPE ignored; SIGHUP/SIGRTMIN/SIGRTMIN+2 SA_SIGINFO; SIGWINCH SA_RESETHAND|SA_NODEFER;
 *    SIGCHLD SIG_DFL with SA_NOCLDSTOP. The whole sigaction table is snapshotted.
 *  - sigaltstack on main and T, none (SS_DISABLE) on U.
 *  - per-thread masks: main {HUP,RTMIN,RTMIN+2,TTOU}, T {HUP,RTMIN,RTMIN+2,INT}, U {HUP,RTMIN,RTMIN+2,TSTP,XCPU}.
 *  - pending, process-wide: SIGHUP (sent twice: one delivery), SIGRTMIN queued twice (values 111, 222);
 *    thread-directed: SIGRTMIN+2 to T (333) and to U (444).
 * After go:
 *  - sigaction table identical; masks, altstacks, SigPnd/ShdPnd per thread (/proc) as set up;
 *  - SIGPIPE still ignored (write to a broken pipe gives EPIPE);
 *  - SIGUSR1 handler runs with its si_value and sa_mask; SA_RESTART: a read() interrupted by
 *    SIGUSR1 completes instead of failing with EINTR;
 *  - SIGUSR2 runs on the alternate stack on main and T, on the normal stack on U;
 *  - unblocking delivers each pending signal exactly once, to the right thread, with its value,
 *    RT signals in queue order.
 */
#include "harness.h"

#include <signal.h>
#include <stdatomic.h>

#define MAXEV 64
struct ev {
    int signo, code, value;
    pid_t tid, sender;
    int on_alt;  /* SS_ONSTACK reported by sigaltstack inside the handler */
    int in_range; /* a local variable lies within the thread's alternate stack */
    int mask_usr1, mask_usr2, mask_term;
};
static struct ev evs[MAXEV];
static atomic_int nev;

static char altstack_main[65536] __attribute__((aligned(64)));
static char altstack_t[32768] __attribute__((aligned(64)));

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int i = atomic_fetch_add(&nev, 1);
    if (i >= MAXEV) {
        return;
    }
    struct ev *e = &evs[i];
    e->signo = sig;
    e->code = si->si_code;
    e->value = si->si_value.sival_int;
    e->sender = si->si_pid;
    e->tid = (pid_t)syscall(SYS_gettid);
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0) {
        e->on_alt = (ss.ss_flags & SS_ONSTACK) != 0;
        char local;
        e->in_range = !(ss.ss_flags & SS_DISABLE) && &local >= (char *)ss.ss_sp && &local < (char *)ss.ss_sp + ss.ss_size;
    }
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    e->mask_usr1 = sigismember(&cur, SIGUSR1);
    e->mask_usr2 = sigismember(&cur, SIGUSR2);
    e->mask_term = sigismember(&cur, SIGTERM);
}

static volatile sig_atomic_t watchdog_fired;

static void on_watchdog(int sig)
{
    (void)sig;
    watchdog_fired = 1;
}

static pid_t mypid;
static pthread_t main_th;

struct thr {
    const char *name;
    pthread_t th;
    pid_t tid;
    sigset_t mask;
    stack_t alt;      /* as set up */
    uint64_t sigpnd;  /* expected thread-pending bits (bit sig-1) */
    atomic_int done;  /* last phase completed */
};
static struct thr TM = {.name = "main"}, TT = {.name = "T"}, TU = {.name = "U"};
static atomic_int phase;
static uint64_t shdpnd_expect;

static uint64_t bit(int sig)
{
    return 1ULL << (sig - 1);
}

static int read_status_hex(pid_t tid, const char *key, uint64_t *out)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    if (h_read_file(path, buf, sizeof buf) < 0) {
        return -1;
    }
    char *p = strstr(buf, key);
    if (!p) {
        return -1;
    }
    *out = strtoull(p + strlen(key), NULL, 16);
    return 0;
}

static void check_mask(struct thr *t, const char *when)
{
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    for (int s = 1; s <= SIGRTMAX; s++) {
        if (s == 32 || s == 33) {
            continue; /* glibc-internal */
        }
        CHECK(sigismember(&cur, s) == sigismember(&t->mask, s), "%s %s: signal %d %s in the mask", t->name, when, s,
              sigismember(&cur, s) ? "unexpectedly" : "missing");
    }
}

static void check_pending(struct thr *t, const char *when, uint64_t thread_bits, uint64_t shared_bits)
{
    sigset_t p;
    sigpending(&p);
    uint64_t want = thread_bits | shared_bits;
    for (int s = 1; s <= SIGRTMAX; s++) {
        int w = (want & bit(s)) != 0;
        CHECK(sigismember(&p, s) == w, "%s %s: signal %d %s pending", t->name, when, s, w ? "not" : "unexpectedly");
    }
    uint64_t v;
    if (read_status_hex(t->tid, "SigPnd:", &v) == 0) {
        CHECK(v == thread_bits, "%s %s: SigPnd %016llx, expected %016llx", t->name, when, (unsigned long long)v,
              (unsigned long long)thread_bits);
    } else {
        h_fail("%s: cannot read SigPnd", t->name);
    }
    if (read_status_hex(t->tid, "ShdPnd:", &v) == 0) {
        CHECK(v == shared_bits, "%s %s: ShdPnd %016llx, expected %016llx", t->name, when, (unsigned long long)v,
              (unsigned long long)shared_bits);
    }
}

static void check_altstack(struct thr *t, const char *when)
{
    stack_t ss;
    sigaltstack(NULL, &ss);
    CHECK(ss.ss_sp == t->alt.ss_sp && ss.ss_size == t->alt.ss_size && ss.ss_flags == t->alt.ss_flags,
          "%s %s: sigaltstack sp=%p size=%zu flags=%d, expected sp=%p size=%zu flags=%d", t->name, when, ss.ss_sp,
          ss.ss_size, ss.ss_flags, t->alt.ss_sp, t->alt.ss_size, t->alt.ss_flags);
}

static void phase1(struct thr *t, const char *when)
{
    check_mask(t, when);
    check_pending(t, when, t->sigpnd, shdpnd_expect);
    check_altstack(t, when);
}

static int count_ev(int sig, pid_t tid)
{
    int n = 0, total = atomic_load(&nev);
    for (int i = 0; i < total && i < MAXEV; i++) {
        if (evs[i].signo == sig && (tid == 0 || evs[i].tid == tid)) {
            n++;
        }
    }
    return n;
}

static struct ev *find_ev(int sig, pid_t tid, int nth)
{
    int total = atomic_load(&nev);
    for (int i = 0; i < total && i < MAXEV; i++) {
        if (evs[i].signo == sig && evs[i].tid == tid && nth-- == 0) {
            return &evs[i];
        }
    }
    return NULL;
}

static int restart_pipe[2];

/* Threads T and U: wait for phases driven by main. */
static void *thr_main(void *arg)
{
    struct thr *t = arg;
    t->tid = h_gettid();
    if (t == &TT) {
        t->alt = (stack_t){.ss_sp = altstack_t, .ss_size = sizeof altstack_t, .ss_flags = 0};
        sigaltstack(&t->alt, NULL);
    } else {
        stack_t ss;
        sigaltstack(NULL, &ss);
        t->alt = ss; /* SS_DISABLE */
    }
    pthread_sigmask(SIG_SETMASK, &t->mask, NULL);
    atomic_store(&t->done, 0);
    for (int cur = 1; cur <= 4; cur++) {
        while (atomic_load(&phase) < cur) {
            h_sleep_ms(1);
        }
        switch (cur) {
        case 1:
            phase1(t, "after go");
            break;
        case 2:
            if (t == &TU) {
                /* interrupt main's read() with SIGUSR1, then give it data */
                h_sleep_ms(30);
                pthread_sigqueue(main_th, SIGUSR1, (union sigval){.sival_int = 556});
                h_sleep_ms(30);
                h_write_all(restart_pipe[1], "restart-ok", 10);
            }
            break;
        case 3:
            pthread_kill(pthread_self(), SIGUSR2);
            break;
        case 4: {
            sigset_t s;
            sigemptyset(&s);
            sigaddset(&s, SIGRTMIN + 2);
            pthread_sigmask(SIG_UNBLOCK, &s, NULL);
            sigdelset(&t->mask, SIGRTMIN + 2);
            check_mask(t, "after unblocking SIGRTMIN+2");
            break;
        }
        }
        atomic_store(&t->done, cur);
    }
    return NULL;
}

static void run_phase(int p)
{
    atomic_store(&phase, p);
    for (int i = 0; i < 5000 && (atomic_load(&TT.done) < p || atomic_load(&TU.done) < p); i++) {
        h_sleep_ms(1);
    }
    CHECK(atomic_load(&TT.done) >= p && atomic_load(&TU.done) >= p, "threads did not finish phase %d", p);
}

struct sa_snap {
    int rc;
    struct sigaction sa;
};
static struct sa_snap snap[65];

static void take_snapshot(struct sa_snap *s)
{
    for (int sig = 1; sig <= 64; sig++) {
        memset(&s[sig].sa, 0, sizeof s[sig].sa);
        s[sig].rc = sigaction(sig, NULL, &s[sig].sa);
    }
}

static void compare_snapshot(void)
{
    struct sa_snap now[65];
    take_snapshot(now);
    for (int sig = 1; sig <= 64; sig++) {
        struct sigaction *a = &snap[sig].sa, *b = &now[sig].sa;
        if (now[sig].rc != snap[sig].rc) {
            h_fail("sigaction(%d) query rc %d, was %d", sig, now[sig].rc, snap[sig].rc);
            continue;
        }
        if (snap[sig].rc != 0) {
            continue;
        }
        CHECK((void *)a->sa_sigaction == (void *)b->sa_sigaction, "signal %d: handler %p, was %p", sig,
              (void *)b->sa_sigaction, (void *)a->sa_sigaction);
        CHECK(a->sa_flags == b->sa_flags, "signal %d: sa_flags %#x, was %#x", sig, b->sa_flags, a->sa_flags);
        CHECK((void *)a->sa_restorer == (void *)b->sa_restorer, "signal %d: sa_restorer changed", sig);
        for (int m = 1; m <= 64; m++) {
            CHECK(sigismember(&a->sa_mask, m) == sigismember(&b->sa_mask, m), "signal %d: sa_mask bit %d changed", sig,
                  m);
        }
    }
}

static void install(int sig, int flags, int mask1, int mask2)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (mask1) {
        sigaddset(&sa.sa_mask, mask1);
    }
    if (mask2) {
        sigaddset(&sa.sa_mask, mask2);
    }
    SETUP(sigaction(sig, &sa, NULL) == 0, "sigaction %d: %s", sig, strerror(errno));
}

static void mkmask(sigset_t *s, int a, int b)
{
    sigemptyset(s);
    sigaddset(s, SIGHUP);
    sigaddset(s, SIGRTMIN);
    sigaddset(s, SIGRTMIN + 2);
    if (a) {
        sigaddset(s, a);
    }
    if (b) {
        sigaddset(s, b);
    }
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    mypid = getpid();
    main_th = pthread_self();
    TM.tid = mypid;
    SETUP(pipe2(restart_pipe, O_CLOEXEC) == 0, "pipe");

    install(SIGUSR1, SA_RESTART, SIGUSR2, SIGTERM);
    install(SIGUSR2, SA_ONSTACK, 0, 0);
    install(SIGHUP, 0, 0, 0);
    install(SIGRTMIN, 0, 0, 0);
    install(SIGRTMIN + 2, 0, 0, 0);
    install(SIGWINCH, SA_RESETHAND | SA_NODEFER, SIGQUIT, 0);
    struct sigaction ign = {0};
    ign.sa_handler = SIG_IGN;
    SETUP(sigaction(SIGPIPE, &ign, NULL) == 0, "ignore SIGPIPE");
    struct sigaction dfl = {0};
    dfl.sa_handler = SIG_DFL;
    dfl.sa_flags = SA_NOCLDSTOP;
    SETUP(sigaction(SIGCHLD, &dfl, NULL) == 0, "SIGCHLD flags");

    TM.alt = (stack_t){.ss_sp = altstack_main, .ss_size = sizeof altstack_main, .ss_flags = 0};
    SETUP(sigaltstack(&TM.alt, NULL) == 0, "sigaltstack: %s", strerror(errno));

    mkmask(&TM.mask, SIGTTOU, 0);
    mkmask(&TT.mask, SIGINT, 0);
    mkmask(&TU.mask, SIGTSTP, SIGXCPU);
    SETUP(pthread_sigmask(SIG_SETMASK, &TM.mask, NULL) == 0, "sigmask");
    atomic_store(&TT.done, -1);
    atomic_store(&TU.done, -1);
    SETUP(pthread_create(&TT.th, NULL, thr_main, &TT) == 0, "pthread_create");
    SETUP(pthread_create(&TU.th, NULL, thr_main, &TU) == 0, "pthread_create");
    for (int i = 0; i < 5000 && (atomic_load(&TT.done) < 0 || atomic_load(&TU.done) < 0); i++) {
        h_sleep_ms(1);
    }
    SETUP(atomic_load(&TT.done) == 0 && atomic_load(&TU.done) == 0, "threads did not start");
    pthread_setname_np(TT.th, "pmig-sigT");
    pthread_setname_np(TU.th, "pmig-sigU");

    /* pending signals */
    SETUP(sigqueue(mypid, SIGRTMIN, (union sigval){.sival_int = 111}) == 0, "sigqueue");
    SETUP(sigqueue(mypid, SIGRTMIN, (union sigval){.sival_int = 222}) == 0, "sigqueue");
    SETUP(kill(mypid, SIGHUP) == 0, "kill");
    SETUP(kill(mypid, SIGHUP) == 0, "kill");
    SETUP(pthread_sigqueue(TT.th, SIGRTMIN + 2, (union sigval){.sival_int = 333}) == 0, "pthread_sigqueue T");
    SETUP(pthread_sigqueue(TU.th, SIGRTMIN + 2, (union sigval){.sival_int = 444}) == 0, "pthread_sigqueue U");
    shdpnd_expect = bit(SIGHUP) | bit(SIGRTMIN);
    TM.sigpnd = 0;
    TT.sigpnd = bit(SIGRTMIN + 2);
    TU.sigpnd = bit(SIGRTMIN + 2);
    SETUP(atomic_load(&nev) == 0, "a signal was delivered during setup");
    take_snapshot(snap);

    /* the setup state must be what we claim, or a standalone run proves nothing */
    phase1(&TM, "at setup");
    SETUP(!h_failed(), "state not as expected at setup");

    h_ready();
    h_wait_go();

    /* ---- verify ---- */
    CHECK(getpid() == mypid, "getpid() %d, was %d", (int)getpid(), (int)mypid);
    compare_snapshot();
    phase1(&TM, "after go");
    run_phase(1);
    CHECK(atomic_load(&nev) == 0, "%d signal(s) delivered before being unblocked", atomic_load(&nev));

    /* SIGPIPE still ignored */
    {
        int p[2];
        if (pipe(p) == 0) {
            close(p[0]);
            ssize_t w = write(p[1], "x", 1);
            CHECK(w == -1 && errno == EPIPE, "write to broken pipe: %zd (%s), expected EPIPE", w, strerror(errno));
            close(p[1]);
        }
    }

    /* SIGUSR1: value, code, sender, handler mask */
    pthread_sigqueue(main_th, SIGUSR1, (union sigval){.sival_int = 555});
    struct ev *e = find_ev(SIGUSR1, mypid, 0);
    if (!e) {
        h_fail("SIGUSR1 not delivered to main");
    } else {
        CHECK(e->value == 555 && e->code == SI_QUEUE && e->sender == mypid,
              "SIGUSR1: value %d code %d sender %d, expected 555 SI_QUEUE %d", e->value, e->code, (int)e->sender,
              (int)mypid);
        CHECK(e->mask_usr1 && e->mask_usr2 && e->mask_term, "SIGUSR1 handler mask lacks USR1/USR2/TERM (%d%d%d)",
              e->mask_usr1, e->mask_usr2, e->mask_term);
        CHECK(!e->on_alt, "SIGUSR1 handler ran on the alternate stack without SA_ONSTACK");
    }

    /* SA_RESTART: read() interrupted by SIGUSR1 (sent by U) completes. A 5 s watchdog (SIGALRM
     * without SA_RESTART) turns a lost wake-up into a FAIL instead of a hang. */
    struct sigaction wd = {0};
    wd.sa_handler = on_watchdog;
    CHECK(sigaction(SIGALRM, &wd, NULL) == 0, "watchdog sigaction");
    alarm(5);
    atomic_store(&phase, 2);
    char buf[32];
    ssize_t n = read(restart_pipe[0], buf, sizeof buf);
    int rerr = errno;
    alarm(0);
    CHECK(!watchdog_fired, "SA_RESTART: read() still blocked after 5 s (U's SIGUSR1 or data lost)");
    CHECK(n == 10 && memcmp(buf, "restart-ok", 10) == 0, "SA_RESTART: read() returned %zd (%s)", n,
          n < 0 ? strerror(rerr) : "short");
    run_phase(2);
    e = find_ev(SIGUSR1, mypid, 1);
    CHECK(e && e->value == 556, "SA_RESTART: the interrupting SIGUSR1 (556) was not handled");

    /* SIGUSR2 on the alternate stack */
    pthread_kill(main_th, SIGUSR2);
    run_phase(3);
    e = find_ev(SIGUSR2, mypid, 0);
    CHECK(e && e->on_alt && e->in_range, "SIGUSR2 on main: not on the alternate stack (%d/%d)", e ? e->on_alt : -1,
          e ? e->in_range : -1);
    e = find_ev(SIGUSR2, TT.tid, 0);
    CHECK(e && e->on_alt && e->in_range, "SIGUSR2 on T: not on T's alternate stack (%d/%d)", e ? e->on_alt : -1,
          e ? e->in_range : -1);
    e = find_ev(SIGUSR2, TU.tid, 0);
    CHECK(e && !e->on_alt, "SIGUSR2 on U: %s", e ? "ran on an alternate stack U does not have" : "not delivered");

    /* pending process-wide: unblock in main */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGHUP);
    sigaddset(&s, SIGRTMIN);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    /* pending thread-directed: unblock in T and U */
    run_phase(4);
    h_sleep_ms(50);

    CHECK(count_ev(SIGHUP, 0) == 1, "SIGHUP delivered %d times, expected once", count_ev(SIGHUP, 0));
    e = find_ev(SIGHUP, mypid, 0);
    CHECK(e && e->code == SI_USER && e->sender == mypid, "SIGHUP: not delivered to main from pid %d as SI_USER",
          (int)mypid);
    CHECK(count_ev(SIGRTMIN, 0) == 2, "SIGRTMIN delivered %d times, expected 2 (queued twice)", count_ev(SIGRTMIN, 0));
    struct ev *r1 = find_ev(SIGRTMIN, mypid, 0), *r2 = find_ev(SIGRTMIN, mypid, 1);
    CHECK(r1 && r2 && r1->value == 111 && r2->value == 222 && r1->code == SI_QUEUE,
          "SIGRTMIN: values %d,%d (expected 111,222 in order, SI_QUEUE)", r1 ? r1->value : -1, r2 ? r2->value : -1);
    CHECK(count_ev(SIGRTMIN + 2, 0) == 2, "SIGRTMIN+2 delivered %d times, expected 2", count_ev(SIGRTMIN + 2, 0));
    e = find_ev(SIGRTMIN + 2, TT.tid, 0);
    CHECK(e && e->value == 333 && e->code == SI_QUEUE, "SIGRTMIN+2 to T: %s (value %d)", e ? "wrong" : "not delivered",
          e ? e->value : -1);
    e = find_ev(SIGRTMIN + 2, TU.tid, 0);
    CHECK(e && e->value == 444 && e->code == SI_QUEUE, "SIGRTMIN+2 to U: %s (value %d)", e ? "wrong" : "not delivered",
          e ? e->value : -1);
    int total = atomic_load(&nev);
    CHECK(total == 10, "%d signal deliveries in all, expected 10", total);
    sigset_t p;
    sigpending(&p);
    for (int sig = 1; sig <= SIGRTMAX; sig++) {
        CHECK(!sigismember(&p, sig), "signal %d still pending at the end", sig);
    }
    sigdelset(&TM.mask, SIGHUP);
    sigdelset(&TM.mask, SIGRTMIN);
    check_mask(&TM, "at the end");

    pthread_join(TT.th, NULL);
    pthread_join(TU.th, NULL);
    return h_finish();
}
