/*
 * mapped_file: a private read-only mapping of a data file comes back with the file's bytes.
 *
 *  STATEDIR/data (three pages of a known pattern) is written, mapped MAP_PRIVATE and closed; none
 *  of its pages is written, so an image stores none of them and a restore maps them from the file
 *  at the same path again: it must hold the same bytes there (file identity by content).
 */
#include "harness.h"

#include <sys/mman.h>

#define DATA_BYTES (3 * 4096)
#define SEED 1313

int main(int argc, char **argv)
{
    h_init(argc, argv);

    static unsigned char pattern[DATA_BYTES];
    h_fill(pattern, sizeof pattern, SEED, 0);
    char path[4096];
    h_path(path, sizeof path, "data");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    SETUP(fd >= 0, "create %s: %s", path, strerror(errno));
    SETUP(h_write_all(fd, pattern, sizeof pattern) == 0, "write %s: %s", path, strerror(errno));
    unsigned char *mapped = mmap(NULL, DATA_BYTES, PROT_READ, MAP_PRIVATE, fd, 0);
    SETUP(mapped != MAP_FAILED, "mmap %s: %s", path, strerror(errno));
    close(fd);

    h_ready();
    h_wait_go();

    long bad = h_check(mapped, DATA_BYTES, SEED, 0);
    CHECK(bad < 0, "the mapped file's bytes differ at offset %ld", bad);
    return h_finish();
}
