/*
 * tmpfs_files: files whose contents travel in the image (no other host has them) come back with them.
 *
 *  - POSIX shared memory /pmig-shm-PID (shm_open: /dev/shm), mapped MAP_SHARED by the parent and its child (inherited
 *    across fork). After go the parent writes a word there, the child sees it and answers with another word, which the
 *    parent waits for: the two map one object again.
 *  - STATEDIR/deleted: written, mapped MAP_SHARED, unlinked while open, its descriptor at offset 1000. After: it has no
 *    name (st_nlink 0), the offset and the bytes are the same, and a write through the descriptor shows in the mapping.
 *  - a memfd "pmig-memfd" sealed against shrinking and growing, mapped MAP_SHARED. After: its name, seals and bytes are
 *    the same, growing it fails with EPERM, a write through the mapping shows through the descriptor.
 *  - /dev/shm/pmig-tmpfs-PID (tmpfs), mode 0640, its descriptor at offset 3, another open write-only to append,
 *    mapped MAP_PRIVATE with its first page written (a private copy). The test removes the file between checkpoint and
 *    restore. After: the file is at its path again with its bytes and mode, both descriptors are that file with their
 *    flags, the first at offset 3, and the mapping holds the private page and the file's second page.
 */
#include "harness.h"

#include <sys/mman.h>

#define PAGE 4096
#define PING 0x50494e47u
#define PONG 0x504f4e47u

struct shared {
    volatile uint32_t child_ready;
    volatile uint32_t ping;
    volatile uint32_t pong;
};

int main(int argc, char **argv)
{
    h_init(argc, argv);
    pid_t self = getpid();

    /* POSIX shared memory, shared with a child */
    char shm_name[64];
    snprintf(shm_name, sizeof shm_name, "/pmig-shm-%d", (int)self);
    int shm = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL, 0600);
    SETUP(shm >= 0, "shm_open %s: %s", shm_name, strerror(errno));
    SETUP(ftruncate(shm, 2 * PAGE) == 0, "ftruncate %s: %s", shm_name, strerror(errno));
    unsigned char *shm_map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
    SETUP(shm_map != MAP_FAILED, "mmap %s: %s", shm_name, strerror(errno));
    close(shm);
    h_fill(shm_map + PAGE, PAGE, 11, 0);
    struct shared *sh = (struct shared *)shm_map;

    /* a deleted file, open and mapped */
    char deleted_path[4096];
    h_path(deleted_path, sizeof deleted_path, "deleted");
    int deleted = open(deleted_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    SETUP(deleted >= 0, "create %s: %s", deleted_path, strerror(errno));
    static unsigned char pattern[2 * PAGE];
    h_fill(pattern, sizeof pattern, 22, 0);
    SETUP(h_write_all(deleted, pattern, sizeof pattern) == 0, "write %s: %s", deleted_path, strerror(errno));
    unsigned char *deleted_map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, deleted, 0);
    SETUP(deleted_map != MAP_FAILED, "mmap %s: %s", deleted_path, strerror(errno));
    SETUP(unlink(deleted_path) == 0, "unlink %s: %s", deleted_path, strerror(errno));
    SETUP(lseek(deleted, 1000, SEEK_SET) == 1000, "lseek: %s", strerror(errno));

    /* a sealed memfd, mapped */
    int memfd = memfd_create("pmig-memfd", MFD_ALLOW_SEALING);
    SETUP(memfd >= 0, "memfd_create: %s", strerror(errno));
    SETUP(ftruncate(memfd, 2 * PAGE) == 0, "ftruncate memfd: %s", strerror(errno));
    unsigned char *memfd_map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    SETUP(memfd_map != MAP_FAILED, "mmap memfd: %s", strerror(errno));
    h_fill(memfd_map, 2 * PAGE, 33, 0);
    SETUP(fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0, "F_ADD_SEALS: %s", strerror(errno));

    /* a file on tmpfs, which the test removes between checkpoint and restore */
    char tmpfs_path[64];
    snprintf(tmpfs_path, sizeof tmpfs_path, "/dev/shm/pmig-tmpfs-%d", (int)self);
    int tmpfs = open(tmpfs_path, O_RDWR | O_CREAT | O_EXCL, 0600);
    SETUP(tmpfs >= 0, "create %s: %s", tmpfs_path, strerror(errno));
    SETUP(fchmod(tmpfs, 0640) == 0, "fchmod %s: %s", tmpfs_path, strerror(errno));
    h_fill(pattern, sizeof pattern, 44, 0);
    SETUP(h_write_all(tmpfs, pattern, sizeof pattern) == 0, "write %s: %s", tmpfs_path, strerror(errno));
    SETUP(lseek(tmpfs, 3, SEEK_SET) == 3, "lseek: %s", strerror(errno));
    unsigned char *tmpfs_map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, tmpfs, 0);
    SETUP(tmpfs_map != MAP_FAILED, "mmap %s: %s", tmpfs_path, strerror(errno));
    h_fill(tmpfs_map, PAGE, 55, 0);
    int appender = open(tmpfs_path, O_WRONLY | O_APPEND);
    SETUP(appender >= 0, "open %s to append: %s", tmpfs_path, strerror(errno));

    pid_t child = fork();
    SETUP(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
        sh->child_ready = 1;
        if (!h_wait_word(&sh->ping, PING)) {
            _exit(1);
        }
        sh->pong = PONG;
        _exit(h_check(shm_map + PAGE, PAGE, 11, 0) < 0 ? 0 : 2);
    }
    SETUP(h_wait_word(&sh->child_ready, 1), "the child did not start");

    h_ready();
    h_wait_go();

    /* POSIX shm: one object for parent and child */
    sh->ping = PING;
    CHECK(h_wait_word(&sh->pong, PONG), "the child's answer never showed in the shared memory");
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child: status 0x%x (1: no ping seen, 2: its shared page differs)", status);
    CHECK(h_check(shm_map + PAGE, PAGE, 11, 0) < 0, "the shared memory's second page differs");
    struct stat st;
    char shm_file[80];
    snprintf(shm_file, sizeof shm_file, "/dev/shm%s", shm_name);
    CHECK(stat(shm_file, &st) == 0, "%s is gone: %s", shm_file, strerror(errno));

    /* the deleted file */
    CHECK(fstat(deleted, &st) == 0 && st.st_nlink == 0 && st.st_size == 2 * PAGE,
          "the deleted file: nlink %ld, size %ld", (long)st.st_nlink, (long)st.st_size);
    CHECK(lseek(deleted, 0, SEEK_CUR) == 1000, "the deleted file's offset is %ld, not 1000", (long)lseek(deleted, 0, SEEK_CUR));
    static unsigned char back[2 * PAGE];
    h_fill(pattern, sizeof pattern, 22, 0);
    CHECK(pread(deleted, back, sizeof back, 0) == (ssize_t)sizeof back && memcmp(back, pattern, sizeof back) == 0,
          "the deleted file's bytes differ");
    CHECK(h_check(deleted_map, 2 * PAGE, 22, 0) < 0, "the deleted file's mapping differs");
    CHECK(pwrite(deleted, "fresh", 5, 100) == 5 && memcmp(deleted_map + 100, "fresh", 5) == 0,
          "a write through the deleted file's descriptor does not show in its mapping");

    /* the memfd */
    char link[256] = { 0 }, fd_path[64];
    snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", memfd);
    CHECK(readlink(fd_path, link, sizeof link - 1) > 0 && strcmp(link, "/memfd:pmig-memfd (deleted)") == 0,
          "the memfd is now %s", link);
    int seals = fcntl(memfd, F_GET_SEALS);
    CHECK(seals == (F_SEAL_SHRINK | F_SEAL_GROW), "the memfd's seals are 0x%x, not 0x%x", seals, F_SEAL_SHRINK | F_SEAL_GROW);
    CHECK(h_check(memfd_map, 2 * PAGE, 33, 0) < 0, "the memfd's bytes differ");
    CHECK(ftruncate(memfd, 3 * PAGE) != 0 && errno == EPERM, "the memfd grew: its seal is gone");
    memcpy(memfd_map + 200, "mapped", 6);
    CHECK(pread(memfd, back, 6, 200) == 6 && memcmp(back, "mapped", 6) == 0,
          "a write through the memfd's mapping does not show through its descriptor");

    /* the tmpfs file, removed and back */
    struct stat at_path;
    CHECK(stat(tmpfs_path, &at_path) == 0, "%s is not back: %s", tmpfs_path, strerror(errno));
    CHECK(fstat(tmpfs, &st) == 0 && st.st_ino == at_path.st_ino && st.st_dev == at_path.st_dev,
          "the descriptor is not the file at %s", tmpfs_path);
    CHECK(fstat(appender, &st) == 0 && st.st_ino == at_path.st_ino, "the appending descriptor is not the file at %s", tmpfs_path);
    int flags = fcntl(appender, F_GETFL);
    CHECK((flags & (O_ACCMODE | O_APPEND)) == (O_WRONLY | O_APPEND), "the appending descriptor has flags 0%o", flags);
    flags = fcntl(deleted, F_GETFL);
    CHECK((flags & (O_ACCMODE | O_APPEND)) == O_RDWR, "the deleted file's descriptor has flags 0%o", flags);
    CHECK((at_path.st_mode & 07777) == 0640, "%s has mode 0%o, not 0640", tmpfs_path, at_path.st_mode & 07777);
    CHECK(lseek(tmpfs, 0, SEEK_CUR) == 3, "the tmpfs file's offset is %ld, not 3", (long)lseek(tmpfs, 0, SEEK_CUR));
    h_fill(pattern, sizeof pattern, 44, 0);
    CHECK(pread(tmpfs, back, sizeof back, 0) == (ssize_t)sizeof back && memcmp(back, pattern, sizeof back) == 0,
          "the tmpfs file's bytes differ");
    CHECK(h_check(tmpfs_map, PAGE, 55, 0) < 0, "the private page of the tmpfs file's mapping differs");
    CHECK(memcmp(tmpfs_map + PAGE, pattern + PAGE, PAGE) == 0, "the tmpfs file's mapping does not hold its second page");

    shm_unlink(shm_name);
    unlink(tmpfs_path);
    return h_finish();
}
