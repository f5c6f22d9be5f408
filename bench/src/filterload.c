/*
 * The data-filter benchmark's subjects, the kinds of workload Ruan et al. measured, each holding MB MiB of written
 * (page-distinct) memory. Usage: filterload KIND MB
 *   idle   nothing written after setup;
 *   top    small periodic updates: every 200 ms a 32-page screen and 8 random pages of a 4 MiB process table;
 *   build  kernel-build-like: a hot sixteenth of the memory (the compiler's tables) rewritten at random, 64 pages
 *          a millisecond, and a heap that grows by fresh 4 MiB mappings written once at 8 MiB/s, the oldest
 *          unmapped once 32 MiB of them live (objects that come and go); the rest is read-only input;
 *   loop   a write loop over the first half of the memory, page after page, as fast as it can.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define BLOCK_PAGES 1024
#define LIVE_BLOCKS 8

static unsigned char *mem;
static size_t pages;

static void touch(unsigned char *p, unsigned char v)
{
    for (size_t b = 0; b < PAGE; b += 64) {
        p[b] = v;
    }
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

static void top(void)
{
    for (unsigned char v = 1;; v++) {
        sleep_ms(200);
        for (size_t i = 0; i < 32; i++) {
            touch(mem + i * PAGE, v);
        }
        for (int i = 0; i < 8; i++) {
            touch(mem + (32 + (size_t)rand() % 1024) * PAGE, v);
        }
    }
}

static void build(void)
{
    size_t hot = pages / 16;
    unsigned char *blocks[LIVE_BLOCKS] = {0};
    size_t newest = 0, written = BLOCK_PAGES;
    long fresh_credit = 0; /* fresh pages owed, in thousandths: 8 MiB/s = 2048 pages/s = 2.048 a ms */
    for (unsigned char v = 1;; v++) {
        sleep_ms(1);
        for (int i = 0; i < 64; i++) {
            touch(mem + ((size_t)rand() % hot) * PAGE, v);
        }
        for (fresh_credit += 2048; fresh_credit >= 1000; fresh_credit -= 1000) {
            if (written == BLOCK_PAGES) {
                newest = (newest + 1) % LIVE_BLOCKS;
                if (blocks[newest]) munmap(blocks[newest], BLOCK_PAGES * PAGE);
                blocks[newest] = mmap(NULL, BLOCK_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (blocks[newest] == MAP_FAILED) exit(1);
                written = 0;
            }
            touch(blocks[newest] + written++ * PAGE, v);
        }
    }
}

static void loop(void)
{
    for (unsigned char v = 1;; v++) {
        for (size_t i = 0; i < pages / 2; i++) {
            touch(mem + i * PAGE, v);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    pages = ((size_t)atol(argv[2]) << 20) / PAGE;
    mem = malloc(pages * PAGE);
    if (!mem) return 1;
    for (size_t i = 0; i < pages * PAGE; i++) mem[i] = (unsigned char)(i * 7 + (i >> 12) + 1);
    if (strcmp(argv[1], "top") == 0) top();
    if (strcmp(argv[1], "build") == 0) build();
    if (strcmp(argv[1], "loop") == 0) loop();
    for (;;) pause();
}
