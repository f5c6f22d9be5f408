/*
 * The pre-copy benchmark's subject: holds MB MiB of written (page-distinct) memory, and rewrites the
 * first HOT_MB MiB of it at RATE KiB/s in a thread (0: idle, -1: as fast as it can), page by page.
 * Usage: precopyload MB RATE HOT_MB
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static unsigned char *mem;
static size_t hot_pages;
static long rate;

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
            page = (page + 1) % hot_pages;
            for (size_t b = 0; b < 4096; b += 64) {
                mem[page * 4096 + b] = v;
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
    mem = malloc(n);
    if (!mem) return 1;
    for (size_t i = 0; i < n; i++) mem[i] = (unsigned char)(i * 7 + (i >> 12) + 1);
    if (rate != 0 && hot_pages > 0) {
        pthread_t t;
        pthread_create(&t, NULL, writer, NULL);
    }
    for (;;) pause();
}
