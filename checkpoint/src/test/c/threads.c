/*
 * threads: every thread comes back with its TID, name, TLS, registers and blocked syscall.
 *
 *  - 8 workers increment their own counter in a loop (1 ms sleeps): after go every counter
 *    still advances; gettid(), TLS (FS base), thread name, rseq registration and robust-list
 *    head are unchanged; getpid() unchanged; /proc/self/task lists exactly the same TIDs.
 *  - an FP thread spinning in an asm loop that keeps values in all vector registers
 *    (zmm0-31 and k1-k7 with AVX-512, else ymm0-15 with AVX, else xmm0-15) and x87 st0/st1,
 *    accumulating doubles (exact expected sums), with a non-default MXCSR and x87 control word;
 *    a second FP thread doing the same but sleeping in raw nanosleep syscalls between steps.
 *  - a thread blocked in read() on a pipe that only gets data after go (must not see EINTR).
 *  - a thread blocked in pthread_cond_wait (futex) woken after go.
 */
#include "harness.h"

#include <dirent.h>
#include <fenv.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/rseq.h>

#define NW 8

static pid_t pid_setup;
static volatile int stop_workers, stop_fp;
static __thread uint64_t tls_val;

/* ---------- per-thread self checks shared by all threads ---------- */

struct selfcheck {
    pid_t tid_setup;
    void *robust_head;
    size_t robust_len;
    char name[16];
};

static void selfcheck_init(struct selfcheck *s, const char *name)
{
    s->tid_setup = h_gettid();
    if (name) {
        prctl(PR_SET_NAME, name, 0, 0, 0);
    }
    prctl(PR_GET_NAME, s->name, 0, 0, 0);
    syscall(SYS_get_robust_list, 0, &s->robust_head, &s->robust_len);
}

/* 1 if this thread's glibc rseq area is registered with the kernel exactly as glibc did it. */
static int rseq_registered(void)
{
    if (__rseq_size == 0) {
        return 1; /* glibc did not register rseq (tunable off): nothing to check */
    }
    void *area = (char *)__builtin_thread_pointer() + __rseq_offset;
    unsigned lens[2] = {32, __rseq_size};
    for (int i = 0; i < 2; i++) {
        long r = syscall(SYS_rseq, area, lens[i], 0, RSEQ_SIG);
        if (r == -1 && errno == EBUSY) {
            return 1;
        }
        if (r == 0) {
            return 0; /* it was not registered: we just registered it */
        }
    }
    return 0;
}

static void selfcheck_verify(const struct selfcheck *s, const char *who)
{
    pid_t t = h_gettid();
    CHECK(t == s->tid_setup, "%s: gettid() %d, was %d", who, (int)t, (int)s->tid_setup);
    char nm[16] = {0};
    prctl(PR_GET_NAME, nm, 0, 0, 0);
    CHECK(strcmp(nm, s->name) == 0, "%s: thread name '%s', was '%s'", who, nm, s->name);
    void *head = NULL;
    size_t len = 0;
    syscall(SYS_get_robust_list, 0, &head, &len);
    CHECK(head == s->robust_head && len == s->robust_len, "%s: robust list %p/%zu, was %p/%zu", who, head, len,
          s->robust_head, s->robust_len);
    CHECK(rseq_registered(), "%s: rseq area not registered as glibc registered it", who);
    CHECK(getpid() == pid_setup, "%s: getpid() %d, was %d", who, (int)getpid(), (int)pid_setup);
}

/* ---------- workers ---------- */

struct worker {
    pthread_t th;
    int idx;
    atomic_ulong counter;
    atomic_int started;
    struct selfcheck sc;
    int tls_bad;
};
static struct worker W[NW];

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char name[16];
    snprintf(name, sizeof name, "pmig-w%d", w->idx);
    pthread_setname_np(pthread_self(), name);
    selfcheck_init(&w->sc, NULL);
    tls_val = 0xABC000ULL + (uint64_t)w->idx;
    atomic_store(&w->started, 1);
    while (!stop_workers) {
        atomic_fetch_add(&w->counter, 1);
        if (tls_val != 0xABC000ULL + (uint64_t)w->idx) {
            w->tls_bad = 1;
        }
        h_sleep_ns(1000000LL);
    }
    CHECK(!w->tls_bad && tls_val == 0xABC000ULL + (uint64_t)w->idx, "worker %d: TLS value changed", w->idx);
    char who[32];
    snprintf(who, sizeof who, "worker %d", w->idx);
    selfcheck_verify(&w->sc, who);
    return NULL;
}

/* ---------- FP / vector register threads ---------- */

struct fpctx {
    uint64_t in[32][8];   /* 0: register initial values, 64 bytes per register */
    uint64_t out[32][8];  /* 2048: register final values */
    uint64_t kin[8];      /* 4096: opmask initial values */
    uint64_t kout[8];     /* 4160: opmask final values */
    uint64_t iters;       /* 4224 */
    volatile int *stop;   /* 4232 */
    struct timespec ts;   /* 4240 */
    double x87in[2];      /* 4256 */
    double x87out[2];     /* 4272 */
};
_Static_assert(offsetof(struct fpctx, out) == 2048, "layout");
_Static_assert(offsetof(struct fpctx, kin) == 4096, "layout");
_Static_assert(offsetof(struct fpctx, kout) == 4160, "layout");
_Static_assert(offsetof(struct fpctx, iters) == 4224, "layout");
_Static_assert(offsetof(struct fpctx, stop) == 4232, "layout");
_Static_assert(offsetof(struct fpctx, ts) == 4240, "layout");
_Static_assert(offsetof(struct fpctx, x87in) == 4256, "layout");
_Static_assert(offsetof(struct fpctx, x87out) == 4272, "layout");

/* The loop: acc(0) += inc(1); r12++; optionally nanosleep(ts) via raw syscall; until *stop. */
#define LOOP_BODY(ADD)                                                                                   \
    "fldl 4256(%[c])\n"                                                                                  \
    "fldl 4264(%[c])\n"                                                                                  \
    "xor %%r12, %%r12\n"                                                                                 \
    "1:\n" ADD "inc %%r12\n"                                                                             \
    "test %[sl], %[sl]\n"                                                                                \
    "jz 2f\n"                                                                                            \
    "mov $35, %%eax\n"                                                                                   \
    "lea 4240(%[c]), %%rdi\n"                                                                            \
    "xor %%esi, %%esi\n"                                                                                 \
    "syscall\n"                                                                                          \
    "jmp 3f\n"                                                                                           \
    "2:\n"                                                                                               \
    "pause\n"                                                                                            \
    "3:\n"                                                                                               \
    "mov 4232(%[c]), %%rax\n"                                                                            \
    "cmpl $0, (%%rax)\n"                                                                                 \
    "je 1b\n"                                                                                            \
    "mov %%r12, 4224(%[c])\n"                                                                            \
    "fstpl 4280(%[c])\n"                                                                                 \
    "fstpl 4272(%[c])\n"

#define XL(n) "movdqu " #n "*64(%[c]), %%xmm" #n "\n"
#define XS(n) "movdqu %%xmm" #n ", 2048+" #n "*64(%[c])\n"
#define YL(n) "vmovdqu " #n "*64(%[c]), %%ymm" #n "\n"
#define YS(n) "vmovdqu %%ymm" #n ", 2048+" #n "*64(%[c])\n"
#define ZL(n) "vmovdqu64 " #n "*64(%[c]), %%zmm" #n "\n"
#define ZS(n) "vmovdqu64 %%zmm" #n ", 2048+" #n "*64(%[c])\n"
#define KL(n) "kmovw 4096+" #n "*8(%[c]), %%k" #n "\n"
#define KS(n) "kmovw %%k" #n ", 4160+" #n "*8(%[c])\n"
#define R16(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
#define R32(M) R16(M) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23) M(24) M(25) M(26) M(27) M(28) M(29) M(30) M(31)
#define K7(M) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#define CLOB16 "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
               "xmm12", "xmm13", "xmm14", "xmm15"
#define CLOBX "rax", "rdi", "rsi", "rcx", "r11", "r12", "st", "st(1)", "memory", "cc"

static void fp_loop_sse(struct fpctx *c, long sleep)
{
    __asm__ volatile(R16(XL) LOOP_BODY("addpd %%xmm1, %%xmm0\n") R16(XS)
                     :
                     : [c] "r"(c), [sl] "r"(sleep)
                     : CLOB16, CLOBX);
}

__attribute__((target("avx"))) static void fp_loop_avx(struct fpctx *c, long sleep)
{
    __asm__ volatile(R16(YL) LOOP_BODY("vaddpd %%ymm1, %%ymm0, %%ymm0\n") R16(YS) "vzeroupper\n"
                     :
                     : [c] "r"(c), [sl] "r"(sleep)
                     : CLOB16, CLOBX);
}

__attribute__((target("avx512f"))) static void fp_loop_avx512(struct fpctx *c, long sleep)
{
    __asm__ volatile(R32(ZL) K7(KL) LOOP_BODY("vaddpd %%zmm1, %%zmm0, %%zmm0\n") R32(ZS) K7(KS) "vzeroupper\n"
                     :
                     : [c] "r"(c), [sl] "r"(sleep)
                     : CLOB16, "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24",
                       "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "k1", "k2", "k3", "k4", "k5",
                       "k6", "k7", CLOBX);
}

struct fpthread {
    pthread_t th;
    const char *name;
    long sleep;
    int nregs, width; /* registers used, 64-bit words per register */
    const char *isa;
    atomic_int started;
    struct selfcheck sc;
    struct fpctx ctx;
    unsigned mxcsr_setup, mxcsr_after;
    unsigned short fcw_setup, fcw_after;
    int round_after;
};
static struct fpthread FP[2];

static const double INC[8] = {1.0, 0.5, 0.25, 3.0, 2.0, 4.0, 0.125, 8.0};

static void *fp_main(void *arg)
{
    struct fpthread *f = arg;
    pthread_setname_np(pthread_self(), f->name);
    selfcheck_init(&f->sc, NULL);
    struct fpctx *c = &f->ctx;
    memset(c, 0, sizeof *c);
    memcpy(c->in[1], INC, sizeof INC);
    for (int r = 2; r < 32; r++) {
        for (int j = 0; j < 8; j++) {
            c->in[r][j] = h_word(700 + (uint64_t)(f->sleep ? 1 : 0), (uint64_t)(r * 8 + j));
        }
    }
    for (int k = 1; k < 8; k++) {
        c->kin[k] = h_word(800, (uint64_t)k) & 0xffff;
    }
    c->x87in[0] = 3.14159265358979;
    c->x87in[1] = -2.718281828459045;
    c->stop = &stop_fp;
    c->ts.tv_sec = 0;
    c->ts.tv_nsec = 1000000;

    /* non-default rounding/control: round toward zero, flush-to-zero and denormals-are-zero */
    fesetround(FE_TOWARDZERO);
    unsigned mx;
    __asm__ volatile("stmxcsr %0" : "=m"(mx));
    mx |= (1u << 15) | (1u << 6);
    __asm__ volatile("ldmxcsr %0" : : "m"(mx));
    unsigned short cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    cw = (unsigned short)((cw & ~0x0300) | 0x0200); /* precision control: 53 bits */
    __asm__ volatile("fldcw %0" : : "m"(cw));
    __asm__ volatile("stmxcsr %0" : "=m"(f->mxcsr_setup));
    __asm__ volatile("fnstcw %0" : "=m"(f->fcw_setup));

    atomic_store(&f->started, 1);
    if (__builtin_cpu_supports("avx512f")) {
        f->isa = "avx512f", f->nregs = 32, f->width = 8;
        fp_loop_avx512(c, f->sleep);
    } else if (__builtin_cpu_supports("avx")) {
        f->isa = "avx", f->nregs = 16, f->width = 4;
        fp_loop_avx(c, f->sleep);
    } else {
        f->isa = "sse2", f->nregs = 16, f->width = 2;
        fp_loop_sse(c, f->sleep);
    }
    __asm__ volatile("stmxcsr %0" : "=m"(f->mxcsr_after));
    __asm__ volatile("fnstcw %0" : "=m"(f->fcw_after));
    f->round_after = fegetround();

    char who[48];
    snprintf(who, sizeof who, "%s (%s)", f->name, f->isa);
    h_log("%s: %llu iterations", who, (unsigned long long)c->iters);
    CHECK(c->iters > 0, "%s: loop never ran", who);
    for (int j = 0; j < f->width; j++) {
        double expect = (double)c->iters * INC[j];
        double got;
        memcpy(&got, &c->out[0][j], 8);
        CHECK(got == expect, "%s: accumulator lane %d = %.17g, expected %.17g after %llu iterations", who, j, got,
              expect, (unsigned long long)c->iters);
        CHECK(memcmp(c->out[1], c->in[1], (size_t)f->width * 8) == 0, "%s: increment register changed", who);
    }
    for (int r = 2; r < f->nregs; r++) {
        CHECK(memcmp(c->out[r], c->in[r], (size_t)f->width * 8) == 0,
              "%s: vector register %d changed (lane0 %016llx, was %016llx)", who, r, (unsigned long long)c->out[r][0],
              (unsigned long long)c->in[r][0]);
    }
    if (f->nregs == 32) {
        for (int k = 1; k < 8; k++) {
            CHECK(c->kout[k] == c->kin[k], "%s: opmask k%d = %llx, was %llx", who, k, (unsigned long long)c->kout[k],
                  (unsigned long long)c->kin[k]);
        }
    }
    CHECK(c->x87out[0] == c->x87in[0] && c->x87out[1] == c->x87in[1], "%s: x87 st0/st1 changed (%g %g)", who,
          c->x87out[0], c->x87out[1]);
    CHECK(f->mxcsr_after == f->mxcsr_setup, "%s: MXCSR %08x, was %08x", who, f->mxcsr_after, f->mxcsr_setup);
    CHECK(f->fcw_after == f->fcw_setup, "%s: x87 control word %04x, was %04x", who, f->fcw_after, f->fcw_setup);
    CHECK(f->round_after == FE_TOWARDZERO, "%s: rounding mode %d, expected FE_TOWARDZERO", who, f->round_after);
    selfcheck_verify(&f->sc, who);
    return NULL;
}

/* ---------- blocked in read() ---------- */

static int rd_pipe[2];
static const char RD_MSG[] = "data-written-after-go:0123456789";
static struct {
    pthread_t th;
    atomic_int started, done;
    struct selfcheck sc;
    char buf[128];
    ssize_t n;
    int err;
    atomic_int go_written;
    int early;
} RD;

static void *reader_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "pmig-rd");
    selfcheck_init(&RD.sc, NULL);
    atomic_store(&RD.started, 1);
    RD.n = read(rd_pipe[0], RD.buf, sizeof RD.buf);
    RD.err = errno;
    RD.early = !atomic_load(&RD.go_written);
    atomic_store(&RD.done, 1);
    selfcheck_verify(&RD.sc, "reader thread");
    return NULL;
}

/* ---------- blocked in pthread_cond_wait ---------- */

static pthread_mutex_t cv_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int cv_flag;
static struct {
    pthread_t th;
    atomic_int started, woke;
    struct selfcheck sc;
} CV;

static void *cv_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "pmig-cv");
    selfcheck_init(&CV.sc, NULL);
    pthread_mutex_lock(&cv_lock);
    atomic_store(&CV.started, 1);
    while (!cv_flag) {
        pthread_cond_wait(&cv, &cv_lock);
    }
    pthread_mutex_unlock(&cv_lock);
    atomic_store(&CV.woke, 1);
    selfcheck_verify(&CV.sc, "cv thread");
    return NULL;
}

/* ---------- helpers ---------- */

static int list_tasks(pid_t *out, int cap)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) {
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && n < cap) {
            out[n++] = (pid_t)atoi(e->d_name);
        }
    }
    closedir(d);
    return n;
}

static int cmp_pid(const void *a, const void *b)
{
    return *(const pid_t *)a - *(const pid_t *)b;
}

static void wait_flag(atomic_int *f, const char *what)
{
    for (int i = 0; i < 5000 && !atomic_load(f); i++) {
        h_sleep_ms(1);
    }
    SETUP(atomic_load(f), "%s did not start", what);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    pid_setup = getpid();
    struct selfcheck main_sc;
    selfcheck_init(&main_sc, NULL);
    tls_val = 0x5151;
    SETUP(pipe2(rd_pipe, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));

    for (int i = 0; i < NW; i++) {
        W[i].idx = i;
        SETUP(pthread_create(&W[i].th, NULL, worker_main, &W[i]) == 0, "pthread_create worker");
    }
    FP[0] = (struct fpthread){.name = "pmig-fpspin", .sleep = 0};
    FP[1] = (struct fpthread){.name = "pmig-fpsleep", .sleep = 1};
    for (int i = 0; i < 2; i++) {
        SETUP(pthread_create(&FP[i].th, NULL, fp_main, &FP[i]) == 0, "pthread_create fp");
    }
    SETUP(pthread_create(&RD.th, NULL, reader_main, NULL) == 0, "pthread_create reader");
    SETUP(pthread_create(&CV.th, NULL, cv_main, NULL) == 0, "pthread_create cv");
    for (int i = 0; i < NW; i++) {
        wait_flag(&W[i].started, "worker");
    }
    wait_flag(&FP[0].started, "fp spin thread");
    wait_flag(&FP[1].started, "fp sleep thread");
    wait_flag(&RD.started, "reader");
    wait_flag(&CV.started, "cv waiter");
    h_sleep_ms(20); /* let the reader and the cv waiter block */

    pid_t expect[NW + 5];
    int ne = 0;
    expect[ne++] = pid_setup;
    for (int i = 0; i < NW; i++) {
        expect[ne++] = W[i].sc.tid_setup;
    }
    expect[ne++] = FP[0].sc.tid_setup;
    expect[ne++] = FP[1].sc.tid_setup;
    expect[ne++] = RD.sc.tid_setup;
    expect[ne++] = CV.sc.tid_setup;
    qsort(expect, (size_t)ne, sizeof expect[0], cmp_pid);
    pid_t got[64];
    int ng = list_tasks(got, 64);
    SETUP(ng == ne, "expected %d tasks at setup, /proc/self/task has %d", ne, ng);

    h_ready();
    h_wait_go();

    /* ---- verify ---- */
    CHECK(getpid() == pid_setup, "getpid() %d, was %d", (int)getpid(), (int)pid_setup);
    ng = list_tasks(got, 64);
    qsort(got, ng > 0 ? (size_t)ng : 0, sizeof got[0], cmp_pid);
    CHECK(ng == ne && memcmp(got, expect, (size_t)ne * sizeof got[0]) == 0,
          "/proc/self/task has %d tasks, expected %d with the same TIDs", ng, ne);
    CHECK(tls_val == 0x5151, "main: TLS value changed");

    for (int i = 0; i < NW; i++) {
        char n[16] = {0}, e[16];
        snprintf(e, sizeof e, "pmig-w%d", i);
        CHECK(pthread_getname_np(W[i].th, n, sizeof n) == 0 && strcmp(n, e) == 0,
              "worker %d: pthread_getname_np '%s', expected '%s'", i, n, e);
    }
    for (int i = 0; i < 2; i++) {
        char n[16] = {0};
        CHECK(pthread_getname_np(FP[i].th, n, sizeof n) == 0 && strcmp(n, FP[i].name) == 0,
              "fp thread: name '%s', expected '%s'", n, FP[i].name);
    }

    /* counters keep advancing */
    unsigned long c0[NW], c1[NW];
    for (int i = 0; i < NW; i++) {
        c0[i] = atomic_load(&W[i].counter);
    }
    h_sleep_ms(200);
    for (int i = 0; i < NW; i++) {
        c1[i] = atomic_load(&W[i].counter);
        CHECK(c1[i] >= c0[i] + 10, "worker %d: counter advanced only %lu in 200 ms", i, c1[i] - c0[i]);
    }

    /* the reader gets its data now, and not before */
    CHECK(!atomic_load(&RD.done), "reader returned from read() before go (n=%zd, %s)", RD.n, strerror(RD.err));
    atomic_store(&RD.go_written, 1);
    CHECK(h_write_all(rd_pipe[1], RD_MSG, sizeof RD_MSG - 1) == 0, "write to reader pipe: %s", strerror(errno));

    /* the cv waiter wakes */
    pthread_mutex_lock(&cv_lock);
    cv_flag = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&cv_lock);

    stop_workers = 1;
    stop_fp = 1;
    /* bounded waits: a thread that does not come back is a FAIL with a reason, not a hang */
    for (int i = 0; i < 5000 && !(atomic_load(&RD.done) && atomic_load(&CV.woke)); i++) {
        h_sleep_ms(1);
    }
    if (!atomic_load(&RD.done) || !atomic_load(&CV.woke)) {
        CHECK(atomic_load(&RD.done), "reader thread still blocked in read() 5 s after the data was written");
        CHECK(atomic_load(&CV.woke), "cv waiter did not wake within 5 s");
        return h_finish();
    }
    for (int i = 0; i < NW; i++) {
        pthread_join(W[i].th, NULL);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(FP[i].th, NULL);
    }
    pthread_join(RD.th, NULL);
    pthread_join(CV.th, NULL);
    CHECK(RD.n == (ssize_t)(sizeof RD_MSG - 1) && memcmp(RD.buf, RD_MSG, sizeof RD_MSG - 1) == 0,
          "reader: read() returned %zd (%s), expected the %zu bytes written after go", RD.n,
          RD.n < 0 ? strerror(RD.err) : "data", sizeof RD_MSG - 1);
    CHECK(!RD.early, "reader: read() returned before the data was written");
    CHECK(atomic_load(&CV.woke), "cv waiter did not wake");
    selfcheck_verify(&main_sc, "main thread");
    return h_finish();
}
