/*
 * unsupported_unix_relative: a Unix socket bound to the relative path "ctl" in STATEDIR/run, after which the program
 * moved to another working directory: the directory to bind it in again is no longer known, so the checkpoint must
 * be refused naming the relative path, the process untouched. After go the socket is still named "ctl".
 */
#include "harness.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    char dir[4096];
    h_path(dir, sizeof dir, "run");
    SETUP(mkdir(dir, 0755) == 0 && chdir(dir) == 0, "%s: %s", dir, strerror(errno));
    struct sockaddr_un ctl = {.sun_family = AF_UNIX, .sun_path = "ctl"};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    SETUP(fd >= 0 && bind(fd, (struct sockaddr *)&ctl, sizeof ctl) == 0 && listen(fd, 4) == 0, "listen on ctl: %s", strerror(errno));
    SETUP(chdir("/") == 0, "chdir /: %s", strerror(errno));

    h_ready();
    h_wait_go();

    struct sockaddr_un a;
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0 && strcmp(a.sun_path, "ctl") == 0, "the socket is not named \"ctl\"");
    return h_finish();
}
