/*
 * unsupported_deleted_cwd: works in a directory that was deleted since (STATEDIR/gone). A restore
 * re-enters the working directory by path, so a checkpoint must be refused naming it ("deleted"),
 * leaving the process as it was: after go its working directory is still the deleted one.
 */
#include "harness.h"

int main(int argc, char **argv)
{
    h_init(argc, argv);
    char gone[4096];
    h_path(gone, sizeof gone, "gone");
    SETUP(mkdir(gone, 0755) == 0 && chdir(gone) == 0 && rmdir(gone) == 0, "%s: %s", gone, strerror(errno));

    h_ready();
    h_wait_go();

    char cwd[4096];
    ssize_t n = readlink("/proc/self/cwd", cwd, sizeof cwd - 1);
    cwd[n > 0 ? n : 0] = 0;
    CHECK(n > 0 && strstr(cwd, "/gone (deleted)") != NULL, "working directory is '%s', expected the deleted %s", cwd, gone);
    return h_finish();
}
