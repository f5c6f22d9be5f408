/*
 * mem: every kind of memory mapping keeps its content, protection and kind.
 *
 *  - private anonymous, 4 MB, pattern                    - untouched anonymous, 2 MB, reads zero
 *  - shared anonymous (MAP_SHARED|MAP_ANONYMOUS), 1 MB    - private file mapping, some pages modified
 *  - shared file mapping (writes reach the file)         - heap: thousands of malloc blocks, brk
 *  - read-only (mprotect) region                         - PROT_NONE guard pages between regions
 *  - MAP_GROWSDOWN region (still grows)                  - 64 MB region, sparse (every 16th page untouched)
 *  - .data/.bss arrays and the main thread's stack
 * Checksums are taken at setup and compared after go; on a mismatch the first bad
 * offset is found against the deterministic pattern.
 */
#include "harness.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#define KB (1024UL)
#define MB (1024UL * 1024UL)

static size_t pg;

struct region {
    const char *what;
    unsigned char *p;
    size_t len;
    uint64_t sum;
};

static struct region R_priv, R_untouched, R_shanon, R_fpriv, R_fshared, R_ro, R_guardA, R_guardB, R_grows, R_big;
static unsigned char *guard_base; /* [G0][A][G1][B][G2], 64 KB each */
static const size_t GSZ = 64 * KB;

#define NBLK 6000
static unsigned char **blocks;
static size_t *blk_len;
static uint64_t heap_sum;
static void *brk_setup;

static uint64_t bss_arr[8192];
static uint64_t data_arr[512] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

static char fpriv_path[4096], fshared_path[4096];
static const size_t FPRIV_LEN = 1 * MB, FSHARED_LEN = 256 * KB;
static uintptr_t grows_start_setup; /* start of the growsdown VMA after setup growth */

static sigjmp_buf segv_jmp;
static volatile sig_atomic_t segv_armed;

static void on_segv(int sig)
{
    (void)sig;
    if (segv_armed) {
        siglongjmp(segv_jmp, 1);
    }
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
}

/* Touch (write) addr; returns 0 on success, -1 when it faults. */
static int try_touch(volatile unsigned char *addr, unsigned char v)
{
    if (sigsetjmp(segv_jmp, 1) == 0) {
        segv_armed = 1;
        *addr = v;
        segv_armed = 0;
        return 0;
    }
    segv_armed = 0;
    return -1;
}

static int vma_flag(uintptr_t start, const char *flag)
{
    static char buf[4 << 20];
    if (h_read_file("/proc/self/smaps", buf, sizeof buf) < 0) {
        return -1;
    }
    char hdr[64];
    snprintf(hdr, sizeof hdr, "%lx-", (unsigned long)start);
    char *p = buf;
    while (p && *p) {
        if (strncmp(p, hdr, strlen(hdr)) == 0) {
            char *vf = strstr(p, "VmFlags:");
            if (!vf) {
                return -1;
            }
            char *eol = strchr(vf, '\n');
            if (eol) {
                *eol = 0;
            }
            char needle[8];
            snprintf(needle, sizeof needle, " %s", flag);
            char *f = vf + 8;
            size_t nl = strlen(needle);
            while ((f = strstr(f, needle)) != NULL) {
                if (f[nl] == ' ' || f[nl] == 0) {
                    return 1;
                }
                f += nl;
            }
            return 0;
        }
        p = strchr(p, '\n');
        if (p) {
            p++;
        }
    }
    return -1;
}

static void check_perms(const char *what, void *addr, const char *perms)
{
    struct h_vma v;
    if (h_vma_at((uintptr_t)addr, &v) != 0) {
        h_fail("%s: no mapping at %p", what, addr);
        return;
    }
    CHECK(strcmp(v.perms, perms) == 0, "%s: perms at %p are %s, expected %s", what, addr, v.perms, perms);
}

static void check_region_perms(const char *what, void *addr, size_t len, const char *perms)
{
    check_perms(what, addr, perms);
    check_perms(what, (char *)addr + len - 1, perms);
}

static void check_name(const char *what, void *addr, const char *name)
{
    struct h_vma v;
    if (h_vma_at((uintptr_t)addr, &v) != 0) {
        h_fail("%s: no mapping at %p", what, addr);
        return;
    }
    CHECK(strcmp(v.name, name) == 0, "%s: mapping name '%s', expected '%s'", what, v.name, name);
}

static void *map(size_t len, int prot, int flags)
{
    void *p = mmap(NULL, len, prot, flags, -1, 0);
    SETUP(p != MAP_FAILED, "mmap %zu: %s", len, strerror(errno));
    return p;
}

static void make_file(const char *path, size_t len, uint64_t seed)
{
    /* scratch buffers come from mmap so the heap (and brk) stay as they were */
    unsigned char *tmp = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SETUP(tmp != MAP_FAILED, "mmap scratch");
    h_fill(tmp, len, seed, 0);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    SETUP(fd >= 0, "create %s: %s", path, strerror(errno));
    SETUP(h_write_all(fd, tmp, len) == 0, "write %s: %s", path, strerror(errno));
    close(fd);
    munmap(tmp, len);
}

static void *map_file(const char *path, size_t len, int flags)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    SETUP(fd >= 0, "open %s: %s", path, strerror(errno));
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
    SETUP(p != MAP_FAILED, "mmap %s: %s", path, strerror(errno));
    close(fd);
    return p;
}

/* Read the file into a fresh mmap'ed buffer (caller unslurps); not malloc, so brk stays put. */
static unsigned char *slurp(const char *path, size_t len)
{
    unsigned char *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) {
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : h_read_all(fd, b, len);
    if (fd >= 0) {
        close(fd);
    }
    if (n != (ssize_t)len) {
        munmap(b, len);
        return NULL;
    }
    return b;
}

static void unslurp(unsigned char *b, size_t len)
{
    munmap(b, len);
}

/* ---- expected content of each region ---- */

#define SEED_PRIV 101
#define SEED_SHANON 102
#define SEED_FPRIV_FILE 103
#define SEED_FPRIV_MEM 104
#define SEED_FSHARED_FILE 105
#define SEED_FSHARED_MEM 106
#define SEED_RO 107
#define SEED_GA 108
#define SEED_GB 109
#define SEED_GROWS 110
#define SEED_GROWN 111
#define SEED_BIG 112
#define SEED_STACK 113
#define SEED_BSS 114
#define SEED_HEAP 5000

static int fpriv_modified(size_t page) { return page % 5 == 0; }
static int fshared_modified(size_t page) { return page == 1 || page == 3; }
static int big_untouched(size_t page) { return page % 16 == 5; }

/* Check region against its expected content, page by page; returns 0 if all good. */
static int verify_fpriv(const unsigned char *p, const char *what)
{
    for (size_t pgi = 0; pgi < FPRIV_LEN / pg; pgi++) {
        uint64_t seed = fpriv_modified(pgi) ? SEED_FPRIV_MEM : SEED_FPRIV_FILE;
        long bad = h_check(p + pgi * pg, pg, seed, pgi * pg);
        if (bad >= 0) {
            h_fail("%s: page %zu differs at offset %zu (expected %s content)", what, pgi, pgi * pg + (size_t)bad,
                   fpriv_modified(pgi) ? "modified" : "file");
            return -1;
        }
    }
    return 0;
}

static int verify_fshared(const unsigned char *p, const char *what)
{
    for (size_t pgi = 0; pgi < FSHARED_LEN / pg; pgi++) {
        uint64_t seed = fshared_modified(pgi) ? SEED_FSHARED_MEM : SEED_FSHARED_FILE;
        long bad = h_check(p + pgi * pg, pg, seed, pgi * pg);
        if (bad >= 0) {
            h_fail("%s: page %zu differs at offset %zu", what, pgi, pgi * pg + (size_t)bad);
            return -1;
        }
    }
    return 0;
}

static int verify_big(void)
{
    for (size_t pgi = 0; pgi < R_big.len / pg; pgi++) {
        long bad = big_untouched(pgi) ? h_check_zero(R_big.p + pgi * pg, pg)
                                      : h_check(R_big.p + pgi * pg, pg, SEED_BIG, pgi * pg);
        if (bad >= 0) {
            h_fail("64MB region: page %zu differs at offset %zu (expected %s)", pgi, pgi * pg + (size_t)bad,
                   big_untouched(pgi) ? "zero" : "pattern");
            return -1;
        }
    }
    return 0;
}

static void verify_simple(struct region *r, uint64_t seed)
{
    uint64_t sum = h_fnv(r->p, r->len);
    if (sum != r->sum) {
        long bad = h_check(r->p, r->len, seed, 0);
        h_fail("%s: checksum %016llx != %016llx at setup, first bad byte at offset %ld", r->what,
               (unsigned long long)sum, (unsigned long long)r->sum, bad);
    }
}

static uint64_t heap_checksum(void)
{
    uint64_t h = 0;
    for (int i = 0; i < NBLK; i++) {
        if (blocks[i]) {
            h = h * 31 + h_fnv(blocks[i], blk_len[i]);
        }
    }
    return h;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    pg = (size_t)sysconf(_SC_PAGESIZE);

    struct sigaction sa = {0};
    sa.sa_handler = on_segv;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);

    /* main thread stack content */
    unsigned char stackbuf[16384];
    h_fill(stackbuf, sizeof stackbuf, SEED_STACK, 0);
    uint64_t stack_sum = h_fnv(stackbuf, sizeof stackbuf);

    /* .bss and .data */
    h_fill(bss_arr, sizeof bss_arr, SEED_BSS, 0);
    for (int i = 0; i < 512; i++) {
        data_arr[i] = data_arr[i] * 1000003ULL + (uint64_t)i;
    }
    uint64_t bss_sum = h_fnv(bss_arr, sizeof bss_arr), data_sum = h_fnv(data_arr, sizeof data_arr);

    /* heap: many small blocks, every third freed again */
    blocks = calloc(NBLK, sizeof *blocks);
    blk_len = calloc(NBLK, sizeof *blk_len);
    SETUP(blocks && blk_len, "calloc");
    for (int i = 0; i < NBLK; i++) {
        blk_len[i] = (size_t)(h_mix((uint64_t)i) % 480) + 1;
        blocks[i] = malloc(blk_len[i]);
        SETUP(blocks[i] != NULL, "malloc block %d", i);
        h_fill(blocks[i], blk_len[i], SEED_HEAP + (uint64_t)i, 0);
    }
    for (int i = 0; i < NBLK; i += 3) {
        free(blocks[i]);
        blocks[i] = NULL;
    }
    heap_sum = heap_checksum();

    /* private anonymous, written */
    R_priv = (struct region){"private anon", map(4 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS), 4 * MB, 0};
    h_fill(R_priv.p, R_priv.len, SEED_PRIV, 0);

    /* untouched anonymous */
    R_untouched = (struct region){"untouched anon", map(2 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS), 2 * MB, 0};

    /* shared anonymous */
    R_shanon = (struct region){"shared anon", map(1 * MB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS), 1 * MB, 0};
    h_fill(R_shanon.p, R_shanon.len, SEED_SHANON, 0);

    /* private file mapping with some pages modified in memory; some pages only read, some never touched */
    h_path(fpriv_path, sizeof fpriv_path, "mem-private.dat");
    make_file(fpriv_path, FPRIV_LEN, SEED_FPRIV_FILE);
    R_fpriv = (struct region){"private file mapping", map_file(fpriv_path, FPRIV_LEN, MAP_PRIVATE), FPRIV_LEN, 0};
    volatile unsigned char sink = 0;
    for (size_t pgi = 0; pgi < FPRIV_LEN / pg; pgi++) {
        if (fpriv_modified(pgi)) {
            h_fill(R_fpriv.p + pgi * pg, pg, SEED_FPRIV_MEM, pgi * pg);
        } else if (pgi % 5 == 2) {
            sink ^= R_fpriv.p[pgi * pg];
        }
    }
    (void)sink;

    /* shared file mapping, two pages written through the mapping */
    h_path(fshared_path, sizeof fshared_path, "mem-shared.dat");
    make_file(fshared_path, FSHARED_LEN, SEED_FSHARED_FILE);
    R_fshared = (struct region){"shared file mapping", map_file(fshared_path, FSHARED_LEN, MAP_SHARED), FSHARED_LEN, 0};
    for (size_t pgi = 0; pgi < FSHARED_LEN / pg; pgi++) {
        if (fshared_modified(pgi)) {
            h_fill(R_fshared.p + pgi * pg, pg, SEED_FSHARED_MEM, pgi * pg);
        }
    }

    /* read-only region */
    R_ro = (struct region){"read-only region", map(64 * KB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS), 64 * KB, 0};
    h_fill(R_ro.p, R_ro.len, SEED_RO, 0);
    SETUP(mprotect(R_ro.p, R_ro.len, PROT_READ) == 0, "mprotect ro: %s", strerror(errno));

    /* guard pages: [G0][A][G1][B][G2] */
    guard_base = map(5 * GSZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
    R_guardA = (struct region){"region between guards A", guard_base + GSZ, GSZ, 0};
    R_guardB = (struct region){"region between guards B", guard_base + 3 * GSZ, GSZ, 0};
    SETUP(mprotect(R_guardA.p, GSZ, PROT_READ | PROT_WRITE) == 0, "mprotect A");
    SETUP(mprotect(R_guardB.p, GSZ, PROT_READ | PROT_WRITE) == 0, "mprotect B");
    h_fill(R_guardA.p, GSZ, SEED_GA, 0);
    h_fill(R_guardB.p, GSZ, SEED_GB, 0);

    /* 64 MB, sparse */
    R_big = (struct region){"64MB region", map(64 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS), 64 * MB, 0};
    for (size_t pgi = 0; pgi < R_big.len / pg; pgi++) {
        if (!big_untouched(pgi)) {
            h_fill(R_big.p + pgi * pg, pg, SEED_BIG, pgi * pg);
        }
    }

    /* MAP_GROWSDOWN: a PROT_NONE reservation below, a hole, then the region at the top of the hole */
    unsigned char *resv = map(8 * MB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
    SETUP(munmap(resv + 1 * MB, 7 * MB) == 0, "munmap: %s", strerror(errno));
    unsigned char *gd = mmap(resv + 8 * MB - 64 * KB, 64 * KB, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED_NOREPLACE, -1, 0);
    SETUP(gd != MAP_FAILED, "mmap growsdown: %s", strerror(errno));
    h_fill(gd, 64 * KB, SEED_GROWS, 0);
    SETUP(try_touch(gd - pg, 0) == 0, "growsdown region did not grow at setup");
    h_fill(gd - pg, pg, SEED_GROWN, 0);
    struct h_vma gv;
    SETUP(h_vma_at((uintptr_t)gd, &gv) == 0, "growsdown vma missing");
    grows_start_setup = gv.start;
    SETUP(grows_start_setup <= (uintptr_t)(gd - pg), "growsdown vma start %lx not below %p", (unsigned long)gv.start, gd - pg);
    SETUP(vma_flag(grows_start_setup, "gd") == 1, "growsdown vma has no gd flag at setup");
    R_grows = (struct region){"growsdown region", gd - pg, 64 * KB + pg, 0};

    /* checksums at setup */
    struct region *simple[] = {&R_priv, &R_shanon, &R_ro, &R_guardA, &R_guardB, &R_grows};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        simple[i]->sum = h_fnv(simple[i]->p, simple[i]->len);
    }
    R_fpriv.sum = h_fnv(R_fpriv.p, R_fpriv.len);
    R_fshared.sum = h_fnv(R_fshared.p, R_fshared.len);
    R_big.sum = h_fnv(R_big.p, R_big.len);
    brk_setup = sbrk(0);
    struct h_vma heapv;
    SETUP(h_vma_at((uintptr_t)blocks[1], &heapv) == 0, "heap vma");
    SETUP(strcmp(heapv.name, "[heap]") == 0, "malloc blocks not in [heap] but '%s'", heapv.name);
    uintptr_t heap_start = heapv.start;

    /* the setup must itself be right, or a standalone run would prove nothing */
    SETUP(verify_fpriv(R_fpriv.p, "private file mapping (setup)") == 0, "private file mapping wrong at setup");
    SETUP(verify_fshared(R_fshared.p, "shared file mapping (setup)") == 0, "shared file mapping wrong at setup");
    SETUP(verify_big() == 0, "big region wrong at setup");

    h_ready();
    h_wait_go();

    /* ---- verify ---- */
    CHECK(sbrk(0) == brk_setup, "brk moved: %p, was %p", sbrk(0), brk_setup);
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        uint64_t seed = simple[i] == &R_priv ? SEED_PRIV
                      : simple[i] == &R_shanon ? SEED_SHANON
                      : simple[i] == &R_ro ? SEED_RO
                      : simple[i] == &R_guardA ? SEED_GA
                      : simple[i] == &R_guardB ? SEED_GB : SEED_GROWS;
        if (simple[i] == &R_grows) {
            /* two patterns: the grown page, then the original 64 KB */
            uint64_t sum = h_fnv(R_grows.p, R_grows.len);
            if (sum != R_grows.sum) {
                long bad1 = h_check(R_grows.p, pg, SEED_GROWN, 0);
                long bad2 = h_check(R_grows.p + pg, 64 * KB, SEED_GROWS, 0);
                h_fail("growsdown region: checksum changed (grown page bad at %ld, body bad at %ld)", bad1, bad2);
            }
            continue;
        }
        verify_simple(simple[i], seed);
    }
    long z = h_check_zero(R_untouched.p, R_untouched.len);
    CHECK(z < 0, "untouched anon region: non-zero byte at offset %ld", z);

    if (h_fnv(R_fpriv.p, R_fpriv.len) != R_fpriv.sum) {
        if (verify_fpriv(R_fpriv.p, "private file mapping") == 0) {
            h_fail("private file mapping: checksum changed but pattern matches?");
        }
    }
    unsigned char *fb = slurp(fpriv_path, FPRIV_LEN);
    if (!fb) {
        h_fail("cannot read %s", fpriv_path);
    } else {
        long bad = h_check(fb, FPRIV_LEN, SEED_FPRIV_FILE, 0);
        CHECK(bad < 0, "private file mapping: the file itself changed at offset %ld (private writes leaked?)", bad);
        unslurp(fb, FPRIV_LEN);
    }

    if (h_fnv(R_fshared.p, R_fshared.len) != R_fshared.sum) {
        if (verify_fshared(R_fshared.p, "shared file mapping") == 0) {
            h_fail("shared file mapping: checksum changed but pattern matches?");
        }
    }
    fb = slurp(fshared_path, FSHARED_LEN);
    if (!fb) {
        h_fail("cannot read %s", fshared_path);
    } else {
        CHECK(memcmp(fb, R_fshared.p, FSHARED_LEN) == 0, "shared file mapping: file content differs from mapping");
        unslurp(fb, FSHARED_LEN);
    }
    /* still shared: a write through the mapping reaches the file (then undone) */
    {
        unsigned char save[64], probe[64];
        memcpy(save, R_fshared.p + 5 * pg, sizeof save);
        h_fill(R_fshared.p + 5 * pg, sizeof save, 999, 0);
        int fd = open(fshared_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || pread(fd, probe, sizeof probe, (off_t)(5 * pg)) != (ssize_t)sizeof probe) {
            h_fail("shared file mapping: cannot pread file");
        } else {
            CHECK(memcmp(probe, R_fshared.p + 5 * pg, sizeof probe) == 0,
                  "shared file mapping: write through the mapping not visible in the file (not shared any more)");
        }
        if (fd >= 0) {
            close(fd);
        }
        memcpy(R_fshared.p + 5 * pg, save, sizeof save);
    }

    if (h_fnv(R_big.p, R_big.len) != R_big.sum) {
        if (verify_big() == 0) {
            h_fail("64MB region: checksum changed but pattern matches?");
        }
    }

    CHECK(h_fnv(stackbuf, sizeof stackbuf) == stack_sum, "main stack buffer changed (first bad byte %ld)",
          h_check(stackbuf, sizeof stackbuf, SEED_STACK, 0));
    CHECK(h_fnv(bss_arr, sizeof bss_arr) == bss_sum, "bss array changed");
    CHECK(h_fnv(data_arr, sizeof data_arr) == data_sum, "data array changed");

    if (heap_checksum() != heap_sum) {
        for (int i = 0; i < NBLK; i++) {
            if (blocks[i]) {
                long bad = h_check(blocks[i], blk_len[i], SEED_HEAP + (uint64_t)i, 0);
                if (bad >= 0) {
                    h_fail("heap block %d (%p, %zu bytes) differs at %ld", i, (void *)blocks[i], blk_len[i], bad);
                    break;
                }
            }
        }
    }
    struct h_vma hv2;
    if (h_vma_at((uintptr_t)blocks[1], &hv2) != 0) {
        h_fail("heap: no mapping at block 1");
    } else {
        CHECK(strcmp(hv2.name, "[heap]") == 0, "heap: mapping name '%s'", hv2.name);
        CHECK(hv2.start == heap_start, "heap: start %lx, was %lx", (unsigned long)hv2.start, (unsigned long)heap_start);
        CHECK(strcmp(hv2.perms, "rw-p") == 0, "heap perms %s", hv2.perms);
    }

    /* protections and kinds via /proc/self/maps */
    check_region_perms("private anon", R_priv.p, R_priv.len, "rw-p");
    check_region_perms("untouched anon", R_untouched.p, R_untouched.len, "rw-p");
    check_region_perms("shared anon", R_shanon.p, R_shanon.len, "rw-s");
    check_region_perms("private file mapping", R_fpriv.p, R_fpriv.len, "rw-p");
    check_region_perms("shared file mapping", R_fshared.p, R_fshared.len, "rw-s");
    check_name("private file mapping", R_fpriv.p, fpriv_path);
    check_name("shared file mapping", R_fshared.p, fshared_path);
    check_region_perms("read-only region", R_ro.p, R_ro.len, "r--p");
    check_region_perms("guard G0", guard_base, GSZ, "---p");
    check_region_perms("region A", guard_base + GSZ, GSZ, "rw-p");
    check_region_perms("guard G1", guard_base + 2 * GSZ, GSZ, "---p");
    check_region_perms("region B", guard_base + 3 * GSZ, GSZ, "rw-p");
    check_region_perms("guard G2", guard_base + 4 * GSZ, GSZ, "---p");
    check_region_perms("64MB region", R_big.p, R_big.len, "rw-p");
    check_region_perms("growsdown region", R_grows.p, R_grows.len, "rw-p");
    check_region_perms("reservation below growsdown", resv, 1 * MB, "---p");

    /* the read-only region must still refuse writes */
    CHECK(try_touch(R_ro.p + 100, 1) != 0, "read-only region became writable");
    /* guard pages must still fault */
    CHECK(try_touch(guard_base + 2 * GSZ + 10, 1) != 0, "guard page G1 became accessible");

    /* growsdown: same start, still flagged, still grows */
    struct h_vma gv2;
    if (h_vma_at((uintptr_t)gd, &gv2) != 0) {
        h_fail("growsdown: mapping gone");
    } else {
        CHECK(gv2.start == grows_start_setup, "growsdown: start %lx, was %lx", (unsigned long)gv2.start,
              (unsigned long)grows_start_setup);
        CHECK(vma_flag(gv2.start, "gd") == 1, "growsdown: VmFlags lost 'gd'");
        unsigned char *below = (unsigned char *)grows_start_setup - pg;
        if (try_touch(below, 0x5a) != 0) {
            h_fail("growsdown: touching the page below did not grow the region");
        } else {
            struct h_vma gv3;
            CHECK(h_vma_at((uintptr_t)below, &gv3) == 0 && gv3.start == (uintptr_t)below,
                  "growsdown: region did not extend down to %p", (void *)below);
        }
    }

    /* the allocator still works on the restored heap */
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(h_mix((uint64_t)i + 77) % 1000) + 1;
        unsigned char *b = malloc(n);
        if (!b) {
            h_fail("malloc after go failed");
            break;
        }
        memset(b, 0xab, n);
        free(b);
    }
    for (int i = 0; i < NBLK; i++) {
        free(blocks[i]);
    }

    return h_finish();
}
