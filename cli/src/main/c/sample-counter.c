/*
 * sample-counter: the program `pmig demo` checkpoints and restores.
 *
 *   sample-counter LOGFILE [LINES]
 *
 * It holds 64 MiB of written anonymous memory and 4 threads (main + 3 workers). About every
 * 100 ms the main thread
 *   1. recomputes the checksum of all 64 MiB and compares it with the running checksum it
 *      keeps in memory (so any page that came back wrong after a restore is caught),
 *   2. rewrites 16 pages with fresh pseudo-random data, updating the running checksum,
 *   3. checks that every worker thread advanced since the previous line,
 *   4. appends one line to LOGFILE (opened once, O_APPEND):
 *        pid 1234 count 17 time_ms 1732270000123 checksum 0123456789abcdef memory ok threads 4
 * "memory ok" means the whole buffer matched the running checksum ("memory BAD" otherwise, and
 * the program exits 1); "threads N" counts the main thread and the workers that advanced.
 * The counter, the checksum and the random state live only in memory: a restored process
 * that goes on with count+1 and "memory ok" has its memory and threads back.
 *
 * It exits by itself after LINES lines (default 600, about a minute of running) so that it
 * never outlives whoever started it for long.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEMORY_BYTES (64UL << 20)
#define WORDS (MEMORY_BYTES / sizeof(uint64_t))
#define PAGE_WORDS (4096 / sizeof(uint64_t))
#define PAGES (MEMORY_BYTES / 4096)
#define PAGES_PER_TICK 16
#define WORKERS 3

static uint64_t *memory;
static uint64_t running_checksum;
static uint64_t random_state = 0x9e3779b97f4a7c15ULL;
static volatile uint64_t beats[WORKERS];

static uint64_t next_random(void) {
    /* xorshift64 */
    uint64_t x = random_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return random_state = x;
}

/* Position-weighted sum: word i counts (2i+1) times, so swapped or shifted pages change it too,
 * and writing one word updates it in O(1). */
static uint64_t weight(size_t i) {
    return 2 * (uint64_t)i + 1;
}

static uint64_t full_checksum(void) {
    uint64_t sum = 0;
    for (size_t i = 0; i < WORDS; i++) sum += memory[i] * weight(i);
    return sum;
}

static void write_word(size_t i, uint64_t value) {
    running_checksum += (value - memory[i]) * weight(i);
    memory[i] = value;
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

static void *worker(void *arg) {
    volatile uint64_t *beat = arg;
    for (;;) {
        __atomic_add_fetch(beat, 1, __ATOMIC_RELAXED);
        sleep_ms(5);
    }
    return NULL;
}

static uint64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("sample-counter: write");
            exit(1);
        }
        buf += n;
        len -= (size_t)n;
    }
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s LOGFILE [LINES]\n", argv[0]);
        return 2;
    }
    long lines = argc == 3 ? strtol(argv[2], NULL, 10) : 600;
    if (lines <= 0) {
        fprintf(stderr, "sample-counter: LINES must be a positive number, not %s\n", argv[2]);
        return 2;
    }
    int log = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) {
        fprintf(stderr, "sample-counter: cannot open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    memory = mmap(NULL, MEMORY_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        perror("sample-counter: mmap");
        return 1;
    }
    random_state ^= (uint64_t)getpid() << 32 ^ now_ms();
    for (size_t i = 0; i < WORDS; i++) memory[i] = next_random();
    running_checksum = full_checksum();

    for (int k = 0; k < WORKERS; k++) {
        pthread_t thread;
        int err = pthread_create(&thread, NULL, worker, (void *)&beats[k]);
        if (err != 0) {
            fprintf(stderr, "sample-counter: pthread_create: %s\n", strerror(err));
            return 1;
        }
    }

    uint64_t seen[WORKERS] = {0};
    for (long count = 1; count <= lines; count++) {
        sleep_ms(100);
        int memory_ok = full_checksum() == running_checksum;
        for (int p = 0; p < PAGES_PER_TICK; p++) {
            size_t first = (size_t)(next_random() % PAGES) * PAGE_WORDS;
            for (size_t i = first; i < first + PAGE_WORDS; i++) write_word(i, next_random());
        }
        int threads = 1;
        for (int k = 0; k < WORKERS; k++) {
            uint64_t beat = __atomic_load_n(&beats[k], __ATOMIC_RELAXED);
            if (beat != seen[k]) threads++;
            seen[k] = beat;
        }
        char line[200];
        int len = snprintf(line, sizeof line,
                           "pid %d count %ld time_ms %" PRIu64 " checksum %016" PRIx64 " memory %s threads %d\n",
                           getpid(), count, now_ms(), running_checksum, memory_ok ? "ok" : "BAD", threads);
        write_all(log, line, (size_t)len);
        if (!memory_ok) return 1;
    }
    return 0;
}
