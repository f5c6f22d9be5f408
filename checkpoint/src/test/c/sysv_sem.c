/*
 * sysv_sem: a System V semaphore set moves with the tree that uses it, with its id, key, mode, values and who last
 * changed each semaphore.
 *
 * KEY (0x504d0000 | pid & 0xffff), 4 semaphores, mode 0660: set to {3, 0, 7, 1}; the parent takes one of semaphore 0
 * (2 left), the child one of semaphore 3 (0 left) and then waits in semop for semaphore 1, which is 0. After go the
 * parent checks the set (id, key, mode, values, the last changer of semaphores 0 and 3, the child waiting on 1), then
 * gives semaphore 1: the child wakes, checks semaphore 2 and exits.
 * (SEM_UNDO adjustments: sysv_sem_undo.c.)
 */
#include "harness.h"

#include <sys/ipc.h>
#include <sys/sem.h>

#define COUNT 4
#define WAIT_MS 60000

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static int op(int id, unsigned short num, short delta)
{
    struct sembuf b = { .sem_num = num, .sem_op = delta, .sem_flg = 0 };
    int r;
    do {
        r = semop(id, &b, 1);
    } while (r != 0 && errno == EINTR);
    return r;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    key_t key = (key_t)(0x504d0000 | (getpid() & 0xffff));
    int id = semget(key, COUNT, IPC_CREAT | IPC_EXCL | 0660);
    SETUP(id >= 0, "semget(0x%x): %s", key, strerror(errno));
    unsigned short initial[COUNT] = { 3, 0, 7, 1 };
    SETUP(semctl(id, 0, SETALL, (union semun){ .array = initial }) == 0, "SETALL: %s", strerror(errno));
    SETUP(op(id, 0, -1) == 0, "semop 0: %s", strerror(errno));

    pid_t child = fork();
    SETUP(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
        if (op(id, 3, -1) != 0) {
            _exit(1);
        }
        if (op(id, 1, -1) != 0) {
            _exit(2);
        }
        _exit(semctl(id, 2, GETVAL) == 7 ? 0 : 3);
    }
    int waited = 0;
    for (; waited < WAIT_MS && semctl(id, 1, GETNCNT) != 1; waited += 2) {
        h_sleep_ms(2);
    }
    SETUP(waited < WAIT_MS, "the child never waited on semaphore 1");

    h_ready();
    h_wait_go();

    struct semid_ds ds;
    CHECK(semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds }) == 0, "IPC_STAT of set %d: %s", id, strerror(errno));
    CHECK(ds.sem_perm.__key == key, "set %d has key 0x%x, not 0x%x", id, ds.sem_perm.__key, key);
    CHECK((ds.sem_perm.mode & 0777) == 0660, "set %d has mode 0%o, not 0660", id, ds.sem_perm.mode & 0777);
    CHECK(ds.sem_nsems == COUNT, "set %d has %lu semaphores", id, (unsigned long)ds.sem_nsems);
    CHECK(semget(key, 0, 0) == id, "key 0x%x names set %d, not %d", key, semget(key, 0, 0), id);
    unsigned short values[COUNT];
    CHECK(semctl(id, 0, GETALL, (union semun){ .array = values }) == 0, "GETALL: %s", strerror(errno));
    unsigned short expected[COUNT] = { 2, 0, 7, 0 };
    for (int i = 0; i < COUNT; i++) {
        CHECK(values[i] == expected[i], "semaphore %d is %u, not %u", i, values[i], expected[i]);
    }
    CHECK(semctl(id, 0, GETPID) == getpid(), "semaphore 0 was last changed by %d, not %d", semctl(id, 0, GETPID), (int)getpid());
    CHECK(semctl(id, 3, GETPID) == child, "semaphore 3 was last changed by %d, not the child %d", semctl(id, 3, GETPID), (int)child);
    for (waited = 0; waited < WAIT_MS && semctl(id, 1, GETNCNT) != 1; waited += 2) {
        h_sleep_ms(2);
    }
    CHECK(waited < WAIT_MS, "the child no longer waits on semaphore 1 (%d waiting)", semctl(id, 1, GETNCNT));

    CHECK(op(id, 1, 1) == 0, "semop 1: %s", strerror(errno));
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child: status 0x%x (1, 2: its semop failed, 3: semaphore 2 differs)", status);
    CHECK(semctl(id, 1, GETVAL) == 0, "the child did not take semaphore 1");

    semctl(id, 0, IPC_RMID);
    return h_finish();
}
