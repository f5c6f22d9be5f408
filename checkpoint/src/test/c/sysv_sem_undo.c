/*
 * sysv_sem_undo: the adjustments the kernel keeps per process for semaphore operations made with SEM_UNDO (semadj)
 * move with the tree: after the move each process gives back, when it lets go of its undo list, exactly what it took.
 *
 * Set A (KEY 0x504d0000 | pid & 0xffff, 3 semaphores) and set B (IPC_PRIVATE, 3; its semaphore 2 is the child's gate).
 * A = {10, 5, 0}, B = {20, 1, 0} (SETALL), then, with SEM_UNDO:
 *   parent:              A0 -3 (adj +3), B0 +4 (adj -4)
 *   parent's thread:     A1 -2 (adj +2, in the undo list the process's threads share)
 *   child:               A0 -2 (adj +2), A2 +6 (adj -6), B1 -1 (adj +1)
 * and without: the child B0 -10, the parent A2 -6 (so A2 is 0 under the child's -6: what the child's exit would give
 * back is clamped at 0, only the exact adjustment tells). The child then waits on the gate. A = {5, 3, 0}, B = {14, 0, 0}.
 * After go the parent checks the ids, key, values and last changers; ends its thread (the list stays the process's:
 * nothing given back); raises A2 by 10 (no undo) and opens the gate: the child exits, and A0 +2, A2 -6, B1 +1 must have
 * been applied; then the parent lets go of its own list (unshare(CLONE_SYSVSEM), as an exit does): A0 +3, A1 +2, B0 -4.
 */
#include "harness.h"

#include <sched.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#define COUNT 3
#define WAIT_MS 60000

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static volatile int thread_may_end;
static int set_a;

static int op(int id, unsigned short num, short delta, short flags)
{
    struct sembuf b = { .sem_num = num, .sem_op = delta, .sem_flg = flags };
    int r;
    do {
        r = semop(id, &b, 1);
    } while (r != 0 && errno == EINTR);
    return r;
}

static void *taker(void *arg)
{
    (void)arg;
    if (op(set_a, 1, -2, SEM_UNDO) != 0) {
        return (void *)1;
    }
    thread_may_end = -1;
    while (thread_may_end != 1) {
        h_sleep_ms(2);
    }
    return NULL;
}

/* Every value of set id as expected; what names the moment. */
static void check_values(int id, const char *name, const unsigned short *expected, const char *when)
{
    unsigned short values[COUNT];
    if (semctl(id, 0, GETALL, (union semun){ .array = values }) != 0) {
        h_fail("GETALL of set %s (%d) %s: %s", name, id, when, strerror(errno));
        return;
    }
    for (int i = 0; i < COUNT; i++) {
        CHECK(values[i] == expected[i], "%s: semaphore %s%d is %u, not %u", when, name, i, values[i], expected[i]);
    }
}

static void check_changer(int id, const char *name, int num, pid_t expected, const char *who)
{
    int pid = semctl(id, num, GETPID);
    CHECK(pid == expected, "semaphore %s%d was last changed by %d, not the %s %d", name, num, pid, who, (int)expected);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    key_t key = (key_t)(0x504d0000 | (getpid() & 0xffff));
    int a = semget(key, COUNT, IPC_CREAT | IPC_EXCL | 0600);
    SETUP(a >= 0, "semget(0x%x): %s", key, strerror(errno));
    int b = semget(IPC_PRIVATE, COUNT, 0600);
    SETUP(b >= 0, "semget(IPC_PRIVATE): %s", strerror(errno));
    set_a = a;
    unsigned short initial_a[COUNT] = { 10, 5, 0 }, initial_b[COUNT] = { 20, 1, 0 };
    SETUP(semctl(a, 0, SETALL, (union semun){ .array = initial_a }) == 0, "SETALL A: %s", strerror(errno));
    SETUP(semctl(b, 0, SETALL, (union semun){ .array = initial_b }) == 0, "SETALL B: %s", strerror(errno));
    SETUP(op(a, 0, -3, SEM_UNDO) == 0 && op(b, 0, 4, SEM_UNDO) == 0, "the parent's semop: %s", strerror(errno));
    pthread_t thread;
    SETUP(pthread_create(&thread, NULL, taker, NULL) == 0, "pthread_create");
    SETUP(h_wait_word((volatile uint32_t *)&thread_may_end, (uint32_t)-1), "the thread never took A1");

    pid_t child = fork();
    SETUP(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
        if (op(a, 0, -2, SEM_UNDO) != 0 || op(a, 2, 6, SEM_UNDO) != 0 || op(b, 1, -1, SEM_UNDO) != 0 || op(b, 0, -10, 0) != 0) {
            _exit(1);
        }
        _exit(op(b, 2, -1, 0) == 0 ? 0 : 2); /* the gate; the exit gives back A0 +2, A2 -6, B1 +1 */
    }
    int waited = 0;
    for (; waited < WAIT_MS && semctl(b, 2, GETNCNT) != 1; waited += 2) {
        h_sleep_ms(2);
    }
    SETUP(waited < WAIT_MS, "the child never waited at its gate");
    SETUP(op(a, 2, -6, 0) == 0, "semop A2: %s", strerror(errno));

    h_ready();
    h_wait_go();

    struct semid_ds ds;
    CHECK(semctl(a, 0, IPC_STAT, (union semun){ .buf = &ds }) == 0 && ds.sem_perm.__key == key && ds.sem_nsems == COUNT,
          "set A (%d) is not the one of key 0x%x with %d semaphores: %s", a, key, COUNT, strerror(errno));
    CHECK(semget(key, 0, 0) == a, "key 0x%x names set %d, not %d", key, semget(key, 0, 0), a);
    CHECK(semctl(b, 0, IPC_STAT, (union semun){ .buf = &ds }) == 0 && ds.sem_nsems == COUNT, "set B (%d): %s", b, strerror(errno));
    check_values(a, "A", (unsigned short[]){ 5, 3, 0 }, "after go");
    check_values(b, "B", (unsigned short[]){ 14, 0, 0 }, "after go");
    check_changer(a, "A", 0, child, "child");
    check_changer(a, "A", 1, getpid(), "parent");
    check_changer(a, "A", 2, getpid(), "parent");
    check_changer(b, "B", 0, child, "child");
    check_changer(b, "B", 1, child, "child");
    check_changer(b, "B", 2, getpid(), "parent");

    thread_may_end = 1;
    void *thread_result;
    CHECK(pthread_join(thread, &thread_result) == 0 && thread_result == NULL, "the thread failed to take A1");
    check_values(a, "A", (unsigned short[]){ 5, 3, 0 }, "once the thread ended (its list is the process's)");

    CHECK(op(a, 2, 10, 0) == 0, "raising A2: %s", strerror(errno));
    CHECK(op(b, 2, 1, 0) == 0, "opening the gate: %s", strerror(errno));
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child: status 0x%x (1: its setup failed, 2: its gate)", status);
    check_values(a, "A", (unsigned short[]){ 7, 3, 4 }, "once the child exited (it gives back A0 +2, A2 -6)");
    check_values(b, "B", (unsigned short[]){ 14, 1, 0 }, "once the child exited (it gives back B1 +1)");

    CHECK(unshare(CLONE_SYSVSEM) == 0, "unshare(CLONE_SYSVSEM): %s", strerror(errno));
    check_values(a, "A", (unsigned short[]){ 10, 5, 4 }, "once the parent let go (it gives back A0 +3, A1 +2)");
    check_values(b, "B", (unsigned short[]){ 10, 1, 0 }, "once the parent let go (it gives back B0 -4)");

    semctl(a, 0, IPC_RMID);
    semctl(b, 0, IPC_RMID);
    return h_finish();
}
