/*
 * tree_cow: a tree's members share the pages they inherited from their parent, copy-on-write, as a prefork
 * server's workers do, and each still sees its own memory.
 *
 *  The parent fills 32 MiB (A) with a pattern and maps 8 MiB (B) it leaves untouched, then forks three
 *  children: C1 writes nothing, C2 rewrites the second half of A, C3 maps and fills 4 MiB of its own (D).
 *  After the forks the parent rewrites the first MiB of A and fills B, which its children never see.
 *  STATEDIR/children: the children's pids, one a line. Asked to (a file "fork" in the state directory, before go),
 *  the parent forks C4, which sees the parent's A and B as they are then, and writes "forked". After go, each child
 *  checks A (the parent's pattern, C2's own in its second half), B (zeros, but C4), and C3 its D, and exits with
 *  what failed; the parent checks its own A and B and reaps each child.
 */
#include "harness.h"

#include <sys/mman.h>
#include <sys/wait.h>

#define MIB (1024 * 1024)
#define A_BYTES (32 * MIB)
#define B_BYTES (8 * MIB)
#define D_BYTES (4 * MIB)
#define A_PARENT_BYTES (1 * MIB)             /* rewritten by the parent after the forks */
#define CHILDREN 3                          /* and C4, when asked */

enum { SEED_A = 11, SEED_A_PARENT = 12, SEED_A_C2 = 13, SEED_B = 14, SEED_D = 15 };

static unsigned char *a;
static unsigned char *b;
static volatile int *set_up;               /* shared: each child's set-up done */

static int child_checks(int which)
{
    int failed = 0;
    size_t half = A_BYTES / 2;
    int late = which == 4;                  /* forked after the parent's rewrite and B */
    if (late ? h_check(a, A_PARENT_BYTES, SEED_A_PARENT, 0) >= 0 || h_check(a + A_PARENT_BYTES, half - A_PARENT_BYTES, SEED_A, A_PARENT_BYTES) >= 0
             : h_check(a, half, SEED_A, 0) >= 0) {
        failed |= 1;                        /* the parent's rewrite of the first MiB leaked in, or worse */
    }
    if (which == 2 ? h_check(a + half, half, SEED_A_C2, half) >= 0 : h_check(a + half, half, SEED_A, half) >= 0) {
        failed |= 2;
    }
    if (late ? h_check(b, B_BYTES, SEED_B, 0) >= 0 : h_check_zero(b, B_BYTES) >= 0) {
        failed |= 4;                        /* the parent's B, written after the fork (before C4's) */
    }
    return failed;
}

static void run_child(int which)
{
    unsigned char *d = NULL;
    if (which == 2) {
        h_fill(a + A_BYTES / 2, A_BYTES / 2, SEED_A_C2, A_BYTES / 2);
    } else if (which == 3) {
        d = mmap(NULL, D_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (d == MAP_FAILED) {
            _exit(64);
        }
        h_fill(d, D_BYTES, SEED_D, 0);
    }
    __atomic_store_n(&set_up[which - 1], 1, __ATOMIC_SEQ_CST);
    while (!h_exists("go")) {
        h_sleep_ms(2);
    }
    int failed = child_checks(which);
    if (d != NULL && h_check(d, D_BYTES, SEED_D, 0) >= 0) {
        failed |= 8;
    }
    _exit(failed);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    a = mmap(NULL, A_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    b = mmap(NULL, B_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    set_up = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED || b == MAP_FAILED || set_up == MAP_FAILED) {
        h_log("mmap failed: %s", strerror(errno));
        return 1;
    }
    h_fill(a, A_BYTES, SEED_A, 0);
    pid_t kids[CHILDREN];
    char list[128] = "";
    for (int i = 0; i < CHILDREN; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            run_child(i + 1);
        }
        if (kids[i] < 0) {
            h_log("fork failed: %s", strerror(errno));
            return 1;
        }
        snprintf(list + strlen(list), sizeof list - strlen(list), "%d\n", kids[i]);
    }
    h_fill(a, A_PARENT_BYTES, SEED_A_PARENT, 0);
    h_fill(b, B_BYTES, SEED_B, 0);
    for (int i = 0; i < CHILDREN; i++) {
        while (!__atomic_load_n(&set_up[i], __ATOMIC_SEQ_CST)) {
            h_sleep_ms(1);
        }
    }
    if (h_write_file("children", list) != 0) {
        return 1;
    }
    h_ready();
    pid_t late = 0;
    while (!h_exists("go")) {
        if (late == 0 && h_exists("fork")) {
            late = fork();
            if (late == 0) {
                run_child(4);
            }
            CHECK(late > 0 && h_write_file("forked", "forked\n") == 0, "forking C4: %s", strerror(errno));
        }
        h_sleep_ms(2);
    }
    CHECK(h_check(a, A_PARENT_BYTES, SEED_A_PARENT, 0) < 0, "the parent's own first MiB of A changed");
    CHECK(h_check(a + A_PARENT_BYTES, A_BYTES - A_PARENT_BYTES, SEED_A, A_PARENT_BYTES) < 0, "the parent's A changed (a child's write?)");
    CHECK(h_check(b, B_BYTES, SEED_B, 0) < 0, "the parent's B changed");
    for (int i = 0; i < CHILDREN + (late > 0); i++) {
        int status;
        pid_t kid = i < CHILDREN ? kids[i] : late;
        if (waitpid(kid, &status, 0) != kid) {
            h_fail("child %d (pid %d) is not this process's to reap: %s", i + 1, kid, strerror(errno));
            continue;
        }
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "child %d: status %#x (1: its A's first half, 2: its second half, 4: B not zeros, 8: its own D, 64: no D)", i + 1, status);
    }
    return h_finish();
}
