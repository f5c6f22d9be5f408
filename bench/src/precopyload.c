/*
 * The pre-copy benchmarks' subject: holds MB MiB of written (page-distinct) memory, and writes at
 * RATE KiB/s in a thread (0: idle, -1: as fast as it can), page by page. By default it rewrites the
 * first HOT_MB MiB of that memory; with "fresh" it writes into blocks of 4 MiB it maps for the
 * purpose, unmapping the oldest once HOT_MB MiB of them are live, the way a compiler's heap comes
 * and goes (new mappings appear and vanish between pre-copy rounds).
 * Usage: precopyload MB RATE HOT_MB [fresh]
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BLOCK_PAGES 1024

static unsigned char *mem;
static size_t hot_pages;
static long rate;
static int fresh;

/* The fresh blocks, a ring: the next page to write is in the newest one. */
static unsigned char **blocks;
static size_t block_count, newest, written_in_newest = BLOCK_PAGES;

static unsigned char *next_page(size_t *page)
{
    if (!fresh) {
        *page = (*page + 1) % hot_pages;
        return mem + *page * 4096;
    }
    if (written_in_newest == BLOCK_PAGES) {
        newest = (newest + 1) % block_count;
        if (blocks[newest]) munmap(blocks[newest], BLOCK_PAGES * 4096);
        blocks[newest] = mmap(NULL, BLOCK_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (blocks[newest] == MAP_FAILED) exit(1);
        written_in_newest = 0;
    }
    return blocks[newest] + written_in_newest++ * 4096;
}

static void *writer(void *arg)
{
    (void)arg;
    size_t page = 0;
    long long credit = 0, owed_x1000 = rate < 0 ? 0 : rate * 1024 / 4096; /* pages per ms, in thousandths */
    struct timespec ms = {0, 1000000};
    for (unsigned char v = 1;; v++) {
        long n = 256;
        if (rate >= 0) {
            nanosleep(&ms, NULL);
            credit += owed_x1000;
            n = (long)(credit / 1000);
            credit -= n * 1000LL;
        }
        for (long i = 0; i < n; i++) {
            unsigned char *p = next_page(&page);
            for (size_t b = 0; b < 4096; b += 64) {
                p[b] = v;
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) return 2;
    size_t n = (size_t)atol(argv[1]) << 20;
    rate = atol(argv[2]);
    hot_pages = ((size_t)atol(argv[3]) << 20) / 4096;
    fresh = argc > 4 && strcmp(argv[4], "fresh") == 0;
    mem = malloc(n);
    if (!mem) return 1;
    for (size_t i = 0; i < n; i++) mem[i] = (unsigned char)(i * 7 + (i >> 12) + 1);
    if (fresh) {
        block_count = hot_pages / BLOCK_PAGES > 0 ? hot_pages / BLOCK_PAGES : 1;
        blocks = calloc(block_count, sizeof *blocks);
        if (!blocks) return 1;
    }
    if (rate != 0 && hot_pages > 0) {
        pthread_t t;
        pthread_create(&t, NULL, writer, NULL);
    }
    for (;;) pause();
}
