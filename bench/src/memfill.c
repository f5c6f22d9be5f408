/*
 * memfill MB text|random: holds MB MiB of written memory and sleeps, the subject of bench/compression.
 * text: a heap of 64-byte records (ids, counters, names, states) as a service's session table holds,
 * which zstd shrinks several times; random: bytes of a xorshift generator, which do not shrink.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct record {
    uint64_t id;
    uint32_t counter;
    uint32_t flags;
    char name[24];
    char state[16];
    uint64_t last_seen;
};

int main(int argc, char **argv)
{
    size_t n = (size_t)atol(argc > 1 ? argv[1] : "64") << 20;
    int text = argc < 3 || strcmp(argv[2], "random") != 0;
    unsigned char *p = malloc(n);
    if (!p) return 1;
    static const char *states[] = {"established", "idle", "closing", "authenticated"};
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    if (text) {
        struct record *r = (struct record *)p;
        for (size_t i = 0; i < n / sizeof *r; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            memset(&r[i], 0, sizeof r[i]);
            r[i].id = 1000000 + i;
            r[i].counter = (uint32_t)(x % 1000);
            r[i].flags = (uint32_t)(x >> 60);
            snprintf(r[i].name, sizeof r[i].name, "user-%06zu", i % 50000);
            strcpy(r[i].state, states[x % 4]);
            r[i].last_seen = 1700000000 + i / 16;
        }
    } else {
        for (size_t i = 0; i + 8 <= n; i += 8) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            memcpy(p + i, &x, 8);
        }
    }
    for (;;) pause();
}
