/*
 * unsupported_seccomp: runs under a seccomp filter (no_new_privs, then a filter that makes
 * userfaultfd(2) fail with EPERM and allows everything else). A checkpoint must be refused naming
 * "seccomp" (a copy would run without the filter) without disturbing the process; after go the
 * filter still holds: userfaultfd fails with EPERM.
 */
#include "harness.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_userfaultfd, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    SETUP(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    SETUP(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0, "PR_SET_SECCOMP: %s", strerror(errno));

    h_ready();
    h_wait_go();

    long fd = syscall(SYS_userfaultfd, 0);
    CHECK(fd == -1 && errno == EPERM, "userfaultfd under the filter: %ld (%s), expected EPERM", fd, strerror(errno));
    return h_finish();
}
