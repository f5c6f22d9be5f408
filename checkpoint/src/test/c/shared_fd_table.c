/*
 * shared_fd_table: a child cloned with CLONE_FILES (not CLONE_VM) shares its parent's descriptor
 * table again after a restore, as it did: one table, not two copies.
 *
 *  Before the checkpoint both see descriptor 40 (a file at offset 3). After go the parent opens a
 *  new descriptor and posts its number in shared memory; the child must find it open in its own
 *  table, read through 40 (which moves the one offset), then close 40; the parent must find 40
 *  closed for itself too. A grandchild forked normally by the child must have a table of its own.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define FD_SHARED 40

struct shared {
    volatile int opened;        /* the descriptor the parent opened after go, -1 until then */
    volatile int child_done;    /* bits of what the child found wrong, 0x100 once it checked */
    volatile int grandchild_ok;
};

static struct shared *sh;

static void run_child(void)
{
    pid_t g = fork();
    if (g == 0) {
        /* its own table: closing 40 here must not close it for the others */
        _exit(close(FD_SHARED) == 0 ? 0 : 1);
    }
    int status = 0;
    sh->grandchild_ok = g > 0 && waitpid(g, &status, 0) == g && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    while (sh->opened < 0) {
        h_sleep_ms(2);
    }
    int bad = 0;
    if (fcntl(sh->opened, F_GETFD) < 0) {
        bad |= 1;
    }
    char c;
    if (read(FD_SHARED, &c, 1) != 1 || c != '3') {
        bad |= 2;
    }
    if (close(FD_SHARED) != 0) {
        bad |= 4;
    }
    sh->child_done = 0x100 | bad;
    _exit(0);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    SETUP(sh != MAP_FAILED, "mmap: %s", strerror(errno));
    sh->opened = -1;
    char path[4096];
    h_path(path, sizeof path, "shared-table-file");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    SETUP(fd >= 0 && write(fd, "0123456789", 10) == 10 && lseek(fd, 3, SEEK_SET) == 3, "file: %s", strerror(errno));
    SETUP(dup2(fd, FD_SHARED) == FD_SHARED, "dup2: %s", strerror(errno));
    close(fd);
    pid_t child = (pid_t)syscall(SYS_clone, CLONE_FILES | SIGCHLD, NULL, NULL, NULL, 0);
    SETUP(child >= 0, "clone(CLONE_FILES): %s", strerror(errno));
    if (child == 0) {
        run_child();
    }
    while (!sh->grandchild_ok) {
        h_sleep_ms(2);
    }
    h_ready();
    h_wait_go();

    int opened = open("/dev/null", O_RDONLY);
    CHECK(opened >= 0, "open /dev/null: %s", strerror(errno));
    sh->opened = opened;
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the child: status 0x%x", status);
    CHECK(sh->child_done & 0x100, "the child never checked");
    CHECK(!(sh->child_done & 1), "the child does not see the descriptor the parent opened: two tables, not one");
    CHECK(!(sh->child_done & 2), "the child could not read the shared descriptor %d", FD_SHARED);
    CHECK(!(sh->child_done & 4), "the child could not close the shared descriptor %d", FD_SHARED);
    CHECK(fcntl(FD_SHARED, F_GETFD) < 0 && errno == EBADF, "descriptor %d, closed by the child, is still open here", FD_SHARED);
    return h_finish();
}
