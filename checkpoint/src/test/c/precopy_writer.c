/*
 * precopy_writer: memory that keeps changing while a pre-copy migration copies it, and checks
 * itself exactly afterwards.
 *
 * STATEDIR/config (written before start): "MB RATE CHURN"
 *   MB     size of the written region in MiB (filled entirely at setup);
 *   RATE   KiB per second the writer rewrites (whole pages, in order), 0 = idle, -1 = as fast as it can;
 *   CHURN  1: a second thread keeps changing the mappings: threads created and exiting (their stacks
 *          come and go), large malloc/free (glibc mmaps them), a mapping grown and moved with mremap,
 *          pages discarded with MADV_DONTNEED (must read as zeros), pages made read-only and then
 *          writable again and rewritten (mprotect), and the heap's break grown with new data (sbrk).
 * Every page of the region holds a pattern of its index and its version; the versions are kept in a
 * table of their own, so a page the migration missed, or copied half-written and never again, fails
 * the check on go. On go: stops both threads (a page being written at the freeze is finished first,
 * as the process resumes where it was), then verifies every word.
 */
#include "harness.h"

#include <sys/mman.h>

#define WORDS_PER_PAGE 512
#define BLOCKS 8
#define BLOCK_MAX (6 << 20)

static size_t pg;
static uint64_t *region;
static size_t region_pages;
static uint32_t *versions;
static volatile int stop;
static long rate_kib;

static uint64_t pattern(uint64_t seed, uint64_t version, uint64_t word)
{
    uint64_t x = (seed << 32) ^ (version * 0x9E3779B97F4A7C15ULL) ^ (word * 0xC2B2AE3D27D4EB4FULL);
    x ^= x >> 29;
    return x + 1; /* never 0: a page reading as zeros is always wrong */
}

static void write_page(size_t page, uint32_t version)
{
    uint64_t *p = region + page * WORDS_PER_PAGE;
    for (uint64_t w = 0; w < WORDS_PER_PAGE; w++) {
        p[w] = pattern(page, version, w);
    }
}

static void *writer(void *arg)
{
    (void)arg;
    size_t page = 0;
    /* pages owed per millisecond, in thousandths */
    long long credit = 0, owed_per_ms_x1000 = rate_kib < 0 ? 0 : rate_kib * 1024 / (long long)pg;
    while (!stop) {
        long n;
        if (rate_kib < 0) {
            n = 256;
        } else {
            h_sleep_ns(1000000LL);
            credit += owed_per_ms_x1000;
            n = (long)(credit / 1000);
            credit -= (long long)n * 1000;
        }
        for (long i = 0; i < n && !stop; i++) {
            page = (page + 1) % region_pages;
            uint32_t v = versions[page] + 1;
            write_page(page, v);
            versions[page] = v;
        }
    }
    return NULL;
}

/* ---- churn ---- */

struct block {
    uint64_t *p;
    size_t words;
    uint64_t seed;
    size_t zero_from, zero_to; /* words dropped with MADV_DONTNEED: zeros */
};

static struct block blocks[BLOCKS];
static uint64_t *moving;      /* grown and moved with mremap */
static size_t moving_words;
static uint64_t churn_seed = 1;
#define GUARDED_PAGES 16
static uint64_t *guarded;     /* pages whose protection changes, rewritten once writable again */
static uint32_t guarded_versions[GUARDED_PAGES];
#define BREAKS 32
static struct { uint64_t *p; size_t words; } breaks[BREAKS]; /* parts of the heap sbrk added, written once */
static int nbreaks;
static volatile long threads_done;

static uint64_t next_rand(void)
{
    churn_seed ^= churn_seed << 13;
    churn_seed ^= churn_seed >> 7;
    churn_seed ^= churn_seed << 17;
    return churn_seed;
}

static void *short_lived(void *arg)
{
    volatile uint64_t stackbuf[2048];
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    for (int i = 0; i < 2048; i++) {
        stackbuf[i] = pattern(seed, 7, (uint64_t)i);
    }
    for (int i = 0; i < 2048; i++) {
        if (stackbuf[i] != pattern(seed, 7, (uint64_t)i)) {
            h_fail("a short-lived thread's stack changed under it at word %d", i);
            break;
        }
    }
    __atomic_add_fetch(&threads_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void fill_block(struct block *b)
{
    for (size_t w = 0; w < b->words; w++) {
        b->p[w] = pattern(b->seed, 3, w);
    }
}

static void *churner(void *arg)
{
    (void)arg;
    moving_words = pg / 8 * 16;
    moving = mmap(NULL, moving_words * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (size_t w = 0; w < moving_words; w++) {
        moving[w] = pattern(99, 5, w);
    }
    guarded = mmap(NULL, GUARDED_PAGES * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (size_t w = 0; w < GUARDED_PAGES * pg / 8; w++) {
        guarded[w] = pattern(77, 0, w);
    }
    for (unsigned long step = 0; !stop; step++) {
        switch (step % 6) {
        case 0: { /* a thread comes and goes */
            pthread_t t;
            if (pthread_create(&t, NULL, short_lived, (void *)(uintptr_t)(step + 11)) == 0) {
                pthread_join(t, NULL);
            }
            break;
        }
        case 1: { /* free one block, allocate another of another size */
            struct block *b = &blocks[next_rand() % BLOCKS];
            free(b->p);
            b->words = ((size_t)(next_rand() % (BLOCK_MAX - (1 << 20))) + (1 << 20)) / 8;
            b->p = malloc(b->words * 8);
            b->seed = next_rand() & 0xffffff;
            b->zero_from = b->zero_to = 0;
            if (b->p) {
                fill_block(b);
            }
            break;
        }
        case 2: { /* grow the moving mapping, which may move it */
            size_t grown = moving_words + pg / 8 * (1 + next_rand() % 8);
            if (grown * 8 > (64u << 20)) {
                grown = pg / 8 * 16; /* shrink back in place */
            }
            uint64_t *m = mremap(moving, moving_words * 8, grown * 8, MREMAP_MAYMOVE);
            if (m == MAP_FAILED) {
                h_fail("mremap %p %zu -> %zu: %s", (void *)moving, moving_words * 8, grown * 8, strerror(errno));
                char maps[65536];
                if (h_read_file("/proc/self/maps", maps, sizeof maps) > 0) {
                    for (char *line = strtok(maps, "\n"); line; line = strtok(NULL, "\n")) {
                        h_log("%s", line);
                    }
                }
                stop = 1;
                break;
            }
            moving = m;
            for (size_t w = moving_words; w < grown; w++) {
                moving[w] = pattern(99, 5, w);
            }
            moving_words = grown;
            break;
        }
        case 3: { /* drop a page-aligned part of a block: it reads as zeros */
            struct block *b = &blocks[next_rand() % BLOCKS];
            if (!b->p || b->zero_to > b->zero_from) {
                break;
            }
            uintptr_t first = ((uintptr_t)b->p + pg - 1) / pg * pg;
            uintptr_t last = ((uintptr_t)(b->p + b->words)) / pg * pg;
            if (last <= first + 4 * pg) {
                break;
            }
            size_t pages = 1 + next_rand() % 4;
            if (madvise((void *)first, pages * pg, MADV_DONTNEED) != 0) {
                h_fail("madvise: %s", strerror(errno));
                break;
            }
            b->zero_from = (size_t)((uint64_t *)first - b->p);
            b->zero_to = b->zero_from + pages * pg / 8;
            break;
        }
        case 4: { /* pages read-only for a while (the mapping splits), then writable again and rewritten */
            size_t first = next_rand() % GUARDED_PAGES;
            size_t pages = 1 + next_rand() % (GUARDED_PAGES - first);
            uint64_t *from = guarded + first * pg / 8;
            if (mprotect(from, pages * pg, PROT_READ) != 0) {
                h_fail("mprotect read-only: %s", strerror(errno));
                stop = 1;
                break;
            }
            h_sleep_ns(1000000LL);
            if (mprotect(from, pages * pg, PROT_READ | PROT_WRITE) != 0) {
                h_fail("mprotect writable: %s", strerror(errno));
                stop = 1;
                break;
            }
            for (size_t page = first; page < first + pages; page++) {
                guarded_versions[page]++;
                for (size_t w = page * pg / 8; w < (page + 1) * pg / 8; w++) {
                    guarded[w] = pattern(77, guarded_versions[page], w);
                }
            }
            break;
        }
        case 5: { /* the heap's break moves up and the new part is written */
            if (nbreaks == BREAKS) {
                break;
            }
            size_t words = pg / 8 * (1 + next_rand() % 16);
            uint64_t *p = sbrk((intptr_t)(words * 8));
            if (p == (void *)-1) {
                break; /* no room for the heap to grow: nothing to check */
            }
            for (size_t w = 0; w < words; w++) {
                p[w] = pattern(55 + (uint64_t)nbreaks, 1, w);
            }
            breaks[nbreaks].p = p;
            breaks[nbreaks].words = words;
            nbreaks++;
            break;
        }
        }
        h_sleep_ns(1000000LL);
    }
    return NULL;
}

static void verify_churn(void)
{
    for (int i = 0; i < BLOCKS; i++) {
        struct block *b = &blocks[i];
        for (size_t w = 0; b->p && w < b->words; w++) {
            uint64_t want = w >= b->zero_from && w < b->zero_to ? 0 : pattern(b->seed, 3, w);
            if (b->p[w] != want) {
                h_fail("block %d (%zu words at %p): word %zu is %llx, not %llx", i, b->words, (void *)b->p, w,
                       (unsigned long long)b->p[w], (unsigned long long)want);
                break;
            }
        }
    }
    for (size_t w = 0; w < moving_words; w++) {
        if (moving[w] != pattern(99, 5, w)) {
            h_fail("the mremap'ed mapping (%zu words at %p): word %zu is %llx", moving_words, (void *)moving, w,
                   (unsigned long long)moving[w]);
            break;
        }
    }
    for (size_t w = 0; w < GUARDED_PAGES * pg / 8; w++) {
        if (guarded[w] != pattern(77, guarded_versions[w * 8 / pg], w)) {
            h_fail("the mprotect'ed mapping: word %zu is %llx (page version %u)", w, (unsigned long long)guarded[w],
                   guarded_versions[w * 8 / pg]);
            break;
        }
    }
    for (int i = 0; i < nbreaks; i++) {
        for (size_t w = 0; w < breaks[i].words; w++) {
            if (breaks[i].p[w] != pattern(55 + (uint64_t)i, 1, w)) {
                h_fail("heap part %d from sbrk (%zu words at %p): word %zu is %llx", i, breaks[i].words, (void *)breaks[i].p, w,
                       (unsigned long long)breaks[i].p[w]);
                break;
            }
        }
    }
    CHECK(threads_done > 0, "no short-lived thread ran");
    CHECK(nbreaks > 0, "the heap's break never grew");
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    pg = (size_t)sysconf(_SC_PAGESIZE);
    char cfgpath[4096], cfg[256];
    h_path(cfgpath, sizeof cfgpath, "config");
    SETUP(h_read_file(cfgpath, cfg, sizeof cfg) > 0, "no config");
    long mb = 0, churn = 0;
    SETUP(sscanf(cfg, "%ld %ld %ld", &mb, &rate_kib, &churn) == 3, "bad config '%s'", cfg);
    region_pages = (size_t)mb * (1 << 20) / pg;
    region = mmap(NULL, region_pages * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SETUP(region != MAP_FAILED, "mmap %ld MiB: %s", mb, strerror(errno));
    versions = calloc(region_pages, sizeof *versions);
    SETUP(versions != NULL, "calloc");
    for (size_t i = 0; i < region_pages; i++) {
        write_page(i, 0);
    }
    pthread_t w, c;
    SETUP(pthread_create(&w, NULL, writer, NULL) == 0, "writer thread");
    if (churn) {
        SETUP(pthread_create(&c, NULL, churner, NULL) == 0, "churn thread");
    }
    h_ready();
    h_wait_go();
    stop = 1;
    pthread_join(w, NULL);
    if (churn) {
        pthread_join(c, NULL);
        verify_churn();
    }
    unsigned long long written = 0;
    for (size_t i = 0; i < region_pages; i++) {
        uint64_t *p = region + i * WORDS_PER_PAGE;
        written += versions[i];
        for (uint64_t x = 0; x < WORDS_PER_PAGE; x++) {
            uint64_t want = pattern(i, versions[i], x);
            if (p[x] != want) {
                h_fail("page %zu (version %u) word %llu is %llx, not %llx", i, versions[i], (unsigned long long)x,
                       (unsigned long long)p[x], (unsigned long long)want);
                i = region_pages;
                break;
            }
        }
    }
    h_log("%llu page writes over %zu pages checked", written, region_pages);
    return h_finish();
}
