/*
 * mapping_churn: a server that maps a file per request, as Apache's event MPM does, while a
 * pre-copy round reads its mappings.
 *
 *  A thread maps STATEDIR/data (one page of a known pattern) read-only, checks it, and unmaps it,
 *  over and over until go: its mapping comes and goes while another process examines the mappings
 *  (whose /proc/PID/map_files link vanishes between the listing and the look). On go the thread
 *  stops; it must have gone round, and never have read other bytes than the file's.
 */
#include "harness.h"

#include <sys/mman.h>

#define SEED 4242

static volatile int stop;
static volatile unsigned long cycles;
static char path[4096];
static size_t pg;

static void *requests(void *arg)
{
    (void)arg;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        h_fail("open %s: %s", path, strerror(errno));
        return NULL;
    }
    while (!stop) {
        unsigned char *p = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            h_fail("mmap %s: %s", path, strerror(errno));
            break;
        }
        long bad = h_check(p, pg, SEED, 0);
        munmap(p, pg);
        if (bad >= 0) {
            h_fail("the mapped file's bytes differ at offset %ld", bad);
            break;
        }
        cycles++;
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    pg = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *pattern = malloc(pg);
    SETUP(pattern != NULL, "malloc: %s", strerror(errno));
    h_fill(pattern, pg, SEED, 0);
    h_path(path, sizeof path, "data");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    SETUP(fd >= 0, "create %s: %s", path, strerror(errno));
    SETUP(h_write_all(fd, pattern, pg) == 0, "write %s: %s", path, strerror(errno));
    close(fd);
    pthread_t t;
    SETUP(pthread_create(&t, NULL, requests, NULL) == 0, "pthread_create failed");

    h_ready();
    h_wait_go();

    stop = 1;
    pthread_join(t, NULL);
    CHECK(cycles > 0, "the file was never mapped");
    return h_finish();
}
