/*
 * dirty_writer: a region of known pages that the test writes by command, for dirty tracking.
 *
 * Maps REGION_PAGES anonymous pages in a mapping of their own (the first half written at setup, the
 * rest never touched: unpopulated pages must be tracked too), writes STATEDIR/region ("ADDR PAGES"),
 * then ready. Then, for N = 1, 2, ...: once STATEDIR/write-N exists it carries out its words and writes
 * STATEDIR/written-N. A number adds 1 to the first byte of that page of the region. "new" maps an
 * extra EXTRA_PAGES-page mapping, writes its pages 0 and 3 and puts its address in STATEDIR/extra;
 * "eK" writes page K of the extra mapping; "fresh" maps a new mapping over the extra one (MAP_FIXED:
 * same place, another mapping) and writes its page 1. Mapping churn: "move" grows the extra mapping
 * to twice its pages with mremap, moved elsewhere, and writes its page EXTRA_PAGES + 1 (STATEDIR/extra
 * tells the new place); "unmap" unmaps it; "brk" grows the heap by CHURN_PAGES pages with sbrk and
 * writes each; "stack" grows the main thread's stack by CHURN_PAGES pages and writes each; "thread"
 * runs a thread that writes CHURN_PAGES pages of its own stack. Each of the last three writes where
 * (the page-aligned "ADDR PAGES" holding the pages written) into STATEDIR/brk, stack or thread. On go:
 * every page of the region holds its setup value plus the number of writes it got, and every page can
 * still be written.
 */
#include "harness.h"

#include <alloca.h>
#include <sys/mman.h>

#define REGION_PAGES 1024
#define EXTRA_PAGES 8
#define CHURN_PAGES 16

static unsigned char writes[REGION_PAGES];

static unsigned char setup_value(int page)
{
    return page < REGION_PAGES / 2 ? (unsigned char)(page * 7 + 1) : 0;
}

/* Writes the first byte of every page of [from, from + CHURN_PAGES pages) rounded inwards, top down (as a
 * stack grows), and records them in STATEDIR/<name>. */
static void write_pages(const char *name, unsigned char *from, size_t pg)
{
    uintptr_t first = ((uintptr_t)from + pg - 1) & ~(uintptr_t)(pg - 1);
    for (int i = CHURN_PAGES - 2; i >= 0; i--) {
        ((volatile unsigned char *)first)[(size_t)i * pg] = (unsigned char)(i + 1);
    }
    char where[64];
    snprintf(where, sizeof where, "%lx %d\n", (unsigned long)first, CHURN_PAGES - 1);
    SETUP(h_write_file(name, where) == 0, "write %s", name);
}

/* 1 MiB below here is beyond the stack mapping the process started with: the writes at its bottom grow it */
static __attribute__((noinline)) void grow_stack(size_t pg)
{
    write_pages("stack", alloca(256 * pg), pg);
}

static void *stack_writer(void *arg)
{
    size_t pg = (size_t)(uintptr_t)arg;
    unsigned char pages[CHURN_PAGES * 4096]; /* the page size of x86-64 */
    write_pages("thread", pages, pg);
    return NULL;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    /* guard pages on both sides keep the region a mapping of its own */
    unsigned char *area = mmap(NULL, (REGION_PAGES + 2) * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    SETUP(area != MAP_FAILED, "mmap: %s", strerror(errno));
    unsigned char *region = area + pg;
    SETUP(mprotect(region, REGION_PAGES * pg, PROT_READ | PROT_WRITE) == 0, "mprotect: %s", strerror(errno));
    for (int i = 0; i < REGION_PAGES / 2; i++) {
        region[(size_t)i * pg] = setup_value(i);
    }
    char where[64];
    snprintf(where, sizeof where, "%lx %d\n", (unsigned long)region, REGION_PAGES);
    SETUP(h_write_file("region", where) == 0, "write region");
    h_ready();

    unsigned char *extra = NULL;
    size_t extra_pages = EXTRA_PAGES;
    for (int n = 1; !h_exists("go"); ) {
        char name[32], path[4096], list[16384];
        snprintf(name, sizeof name, "write-%d", n);
        h_path(path, sizeof path, name);
        ssize_t len = h_read_file(path, list, sizeof list - 1);
        if (len < 0) {
            h_sleep_ns(1000000LL);
            continue;
        }
        list[len] = 0;
        for (char *word = strtok(list, " \n"); word; word = strtok(NULL, " \n")) {
            if (strcmp(word, "new") == 0 || strcmp(word, "fresh") == 0) {
                int fresh = word[0] == 'f';
                extra_pages = EXTRA_PAGES;
                extra = mmap(fresh ? extra : NULL, EXTRA_PAGES * pg, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | (fresh ? MAP_FIXED : 0), -1, 0);
                SETUP(extra != MAP_FAILED, "mmap extra: %s", strerror(errno));
                if (fresh) {
                    extra[pg] = 1;
                } else {
                    extra[0] = 1;
                    extra[3 * pg] = 1;
                }
                snprintf(where, sizeof where, "%lx %d\n", (unsigned long)extra, EXTRA_PAGES);
                SETUP(h_write_file("extra", where) == 0, "write extra");
            } else if (strcmp(word, "move") == 0 && extra) {
                /* a reserved place elsewhere makes the grown mapping move */
                void *to = mmap(NULL, 2 * EXTRA_PAGES * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                SETUP(to != MAP_FAILED, "mmap: %s", strerror(errno));
                extra = mremap(extra, extra_pages * pg, 2 * EXTRA_PAGES * pg, MREMAP_MAYMOVE | MREMAP_FIXED, to);
                SETUP(extra != MAP_FAILED, "mremap extra: %s", strerror(errno));
                extra_pages = 2 * EXTRA_PAGES;
                extra[(EXTRA_PAGES + 1) * pg] += 1;
                snprintf(where, sizeof where, "%lx %zu\n", (unsigned long)extra, extra_pages);
                SETUP(h_write_file("extra", where) == 0, "write extra");
            } else if (strcmp(word, "unmap") == 0 && extra) {
                SETUP(munmap(extra, extra_pages * pg) == 0, "munmap extra: %s", strerror(errno));
                extra = NULL;
            } else if (strcmp(word, "brk") == 0) {
                unsigned char *grown = sbrk((intptr_t)(CHURN_PAGES * pg));
                SETUP(grown != (void *)-1, "sbrk: %s", strerror(errno));
                write_pages("brk", grown, pg);
            } else if (strcmp(word, "stack") == 0) {
                grow_stack(pg);
            } else if (strcmp(word, "thread") == 0) {
                pthread_t t;
                SETUP(pthread_create(&t, NULL, stack_writer, (void *)(uintptr_t)pg) == 0, "pthread_create");
                pthread_join(t, NULL);
            } else if (word[0] == 'e' && extra) {
                extra[strtoul(word + 1, NULL, 10) % extra_pages * pg] += 1;
            } else {
                long page = strtol(word, NULL, 10);
                if (page >= 0 && page < REGION_PAGES) {
                    region[(size_t)page * pg] += 1;
                    writes[page]++;
                }
            }
        }
        snprintf(name, sizeof name, "written-%d", n);
        SETUP(h_write_file(name, "done\n") == 0, "write %s", name);
        n++;
    }
    h_log("go");
    for (int i = 0; i < REGION_PAGES; i++) {
        unsigned char want = (unsigned char)(setup_value(i) + writes[i]);
        CHECK(region[(size_t)i * pg] == want, "page %d holds %d, expected %d", i, region[(size_t)i * pg], want);
        region[(size_t)i * pg + 1] = 1;
    }
    return h_finish();
}
