/*
 * sysv_shm: System V shared memory moves with the tree that attaches it, with its id, key, mode and bytes.
 *
 *  - segment KEY (0x504d0000 | pid & 0xffff), 3 pages + 100 bytes, mode 0640, attached by the parent and (inherited
 *    across fork) its child, which also attaches it read-only (SHM_RDONLY) elsewhere. Its second page is zeros and
 *    read-only in both (mprotect: three mappings of one attachment), the rest a pattern; the child has unmapped the
 *    third page of its inherited attachment. nattch counts mappings: 3 + 3 + 1.
 *  - a private segment of 2 pages, attached by both, removed while attached (IPC_RMID: SHM_DEST, its key private).
 *    Its last bytes carry the ping between parent and child.
 * After go the parent checks both segments (id, key, mode, size, nattch, bytes, shmget by key), then pings the child,
 * which checks its own attachments (bytes, the read-only one refuses PROT_WRITE) and answers in the keyed segment.
 */
#include "harness.h"

#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>

#define PAGE 4096
#define SIZE (3 * PAGE + 100)
#define PRIVATE_SIZE (2 * PAGE)
#define PING 0x50494e47u
#define PONG 0x504f4e47u

struct sync {
    volatile uint32_t child_ready;
    volatile uint32_t ping;
};

/* whether /proc/self/maps has a mapping starting at "at" with these permissions */
static int has_perms(const void *at, const char *perms)
{
    static char maps[65536];
    char path[64], start[40];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)getpid());
    ssize_t n = h_read_file(path, maps, sizeof maps - 1);
    if (n <= 0) {
        return 0;
    }
    maps[n] = 0;
    snprintf(start, sizeof start, "\n%lx-", (unsigned long)at);
    char *line = strstr(maps, start);
    return line != NULL && strncmp(strchr(line, ' ') + 1, perms, 4) == 0;
}

/* the keyed segment's bytes: a pattern, its second page zeros */
static long check_keyed(const unsigned char *at)
{
    if (h_check(at, PAGE, 61, 0) >= 0 || h_check_zero(at + PAGE, PAGE) >= 0) {
        return 0;
    }
    return h_check(at + 2 * PAGE, SIZE - 2 * PAGE - 8, 61, 2 * PAGE) < 0;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    key_t key = (key_t)(0x504d0000 | (getpid() & 0xffff));
    int id = shmget(key, SIZE, IPC_CREAT | IPC_EXCL | 0640);
    SETUP(id >= 0, "shmget(0x%x): %s", key, strerror(errno));
    unsigned char *keyed = shmat(id, NULL, 0);
    SETUP(keyed != (void *)-1, "shmat: %s", strerror(errno));
    h_fill(keyed, SIZE, 61, 0);
    memset(keyed + PAGE, 0, PAGE);
    SETUP(mprotect(keyed + PAGE, PAGE, PROT_READ) == 0, "mprotect: %s", strerror(errno));
    volatile uint32_t *pong = (volatile uint32_t *)(keyed + SIZE - 4);
    *pong = 0;

    int priv = shmget(IPC_PRIVATE, PRIVATE_SIZE, IPC_CREAT | 0600);
    SETUP(priv >= 0, "shmget(IPC_PRIVATE): %s", strerror(errno));
    unsigned char *private = shmat(priv, NULL, 0);
    SETUP(private != (void *)-1, "shmat private: %s", strerror(errno));
    h_fill(private, PAGE, 62, 0);
    struct sync *sync = (struct sync *)(private + PRIVATE_SIZE - sizeof(struct sync));
    SETUP(shmctl(priv, IPC_RMID, NULL) == 0, "IPC_RMID of the private segment: %s", strerror(errno));

    pid_t child = fork();
    SETUP(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
        unsigned char *readonly = shmat(id, NULL, SHM_RDONLY);
        if (readonly == (void *)-1 || munmap(keyed + 2 * PAGE, PAGE) != 0) {
            _exit(1);
        }
        sync->child_ready = 1;
        if (!h_wait_word(&sync->ping, PING)) {
            _exit(2);
        }
        unsigned char in_core;
        if (!check_keyed(readonly) || h_check(keyed, PAGE, 61, 0) >= 0 || h_check(private, PAGE, 62, 0) >= 0
            || mincore(keyed + 2 * PAGE, PAGE, &in_core) == 0 || !has_perms(keyed + PAGE, "r--s")) {
            _exit(3);
        }
        if (mprotect(readonly, PAGE, PROT_READ | PROT_WRITE) == 0 || errno != EACCES) {
            _exit(4);
        }
        *pong = PONG;
        _exit(*(volatile uint32_t *)(readonly + SIZE - 4) == PONG ? 0 : 5);
    }
    SETUP(h_wait_word(&sync->child_ready, 1), "the child did not start");

    h_ready();
    h_wait_go();

    struct shmid_ds ds;
    CHECK(shmctl(id, IPC_STAT, &ds) == 0, "IPC_STAT of segment %d: %s", id, strerror(errno));
    CHECK(ds.shm_perm.__key == key, "segment %d has key 0x%x, not 0x%x", id, ds.shm_perm.__key, key);
    CHECK((ds.shm_perm.mode & 0777) == 0640, "segment %d has mode 0%o, not 0640", id, ds.shm_perm.mode & 0777);
    CHECK(ds.shm_segsz == SIZE, "segment %d has %zu bytes, not %d", id, (size_t)ds.shm_segsz, SIZE);
    CHECK(ds.shm_nattch == 7, "segment %d is attached %lu times, not 7", id, (unsigned long)ds.shm_nattch);
    CHECK(has_perms(keyed + PAGE, "r--s"), "the keyed segment's second page is no longer read-only");
    CHECK(ds.shm_perm.uid == getuid(), "segment %d belongs to uid %d", id, (int)ds.shm_perm.uid);
    CHECK(shmget(key, 0, 0) == id, "key 0x%x names segment %d, not %d", key, shmget(key, 0, 0), id);
    CHECK(check_keyed(keyed), "the keyed segment's bytes differ");

    CHECK(shmctl(priv, IPC_STAT, &ds) == 0, "IPC_STAT of the private segment %d: %s", priv, strerror(errno));
    CHECK(ds.shm_perm.mode & SHM_DEST, "the private segment is no longer marked removed (mode 0%o)", ds.shm_perm.mode);
    CHECK(ds.shm_perm.__key == IPC_PRIVATE, "the private segment has key 0x%x", ds.shm_perm.__key);
    CHECK(ds.shm_nattch == 2, "the private segment is attached %lu times, not 2", (unsigned long)ds.shm_nattch);
    CHECK(ds.shm_segsz == PRIVATE_SIZE, "the private segment has %zu bytes", (size_t)ds.shm_segsz);
    CHECK(h_check(private, PAGE, 62, 0) < 0, "the private segment's bytes differ");

    sync->ping = PING;
    CHECK(h_wait_word(pong, PONG), "the child's answer never showed in the keyed segment");
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child: status 0x%x (1: no read-only attach, 2: no ping seen, 3: bytes or mappings differ, 4: the read-only attachment "
          "became writable, 5: its answer did not show in the read-only attachment)", status);

    shmdt(keyed);
    shmdt(private);
    shmctl(id, IPC_RMID, NULL);
    return h_finish();
}
