/*
 * large_memfd: a memfd of 24 MiB, more than one piece of a carried file (8 MiB, one base64 string each), mapped
 * MAP_SHARED, comes back with every byte; CarriedFilesTest raises the size limit for it.
 */
#include "harness.h"

#include <sys/mman.h>

#define BYTES (24 << 20)
#define SEED 2424

int main(int argc, char **argv)
{
    h_init(argc, argv);

    int memfd = memfd_create("pmig-large", 0);
    SETUP(memfd >= 0, "memfd_create: %s", strerror(errno));
    SETUP(ftruncate(memfd, BYTES) == 0, "ftruncate: %s", strerror(errno));
    unsigned char *mapped = mmap(NULL, BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    SETUP(mapped != MAP_FAILED, "mmap: %s", strerror(errno));
    h_fill(mapped, BYTES, SEED, 0);

    h_ready();
    h_wait_go();

    struct stat st;
    CHECK(fstat(memfd, &st) == 0 && st.st_size == BYTES, "the memfd has %ld bytes, not %d", (long)st.st_size, BYTES);
    long bad = h_check(mapped, BYTES, SEED, 0);
    CHECK(bad < 0, "the memfd's bytes differ at offset %ld", bad);
    static unsigned char tail[4096];
    CHECK(pread(memfd, tail, sizeof tail, BYTES - sizeof tail) == (ssize_t)sizeof tail
          && memcmp(tail, mapped + BYTES - sizeof tail, sizeof tail) == 0, "the descriptor and the mapping differ");
    return h_finish();
}
