/*
 * unsupported_restart_syscall: a thread waits in poll() with a 60 s timeout; a stop and continue
 * (SIGSTOP, SIGCONT from a child) interrupted the call, which the kernel then resumes as restart_syscall
 * from state it keeps for the thread. A checkpoint must be refused naming "restart_syscall" and leave the wait as it was: after go a
 * byte written into the pipe wakes the thread with POLLIN.
 */
#include "harness.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

static int fds[2];
static volatile int result = -2, revents;
static pid_t poller_tid;

static void *poller(void *arg)
{
    (void)arg;
    poller_tid = h_gettid();
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    int r = poll(&p, 1, 60000);
    revents = p.revents;
    __atomic_store_n(&result, r, __ATOMIC_SEQ_CST);
    return NULL;
}

/* The system call number /proc shows the poller in, or -1. */
static int poller_syscall(void)
{
    char path[64], b[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)poller_tid);
    return h_read_file(path, b, sizeof b) > 0 && b[0] >= '0' && b[0] <= '9' ? atoi(b) : -1;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    SETUP(pipe(fds) == 0, "pipe");
    pthread_t t;
    SETUP(pthread_create(&t, NULL, poller, NULL) == 0, "pthread_create");
    for (int i = 0; i < 5000 && (poller_tid == 0 || poller_syscall() != SYS_poll); i++) {
        h_sleep_ms(2);
    }
    pid_t self = getpid(), child = fork();
    if (child == 0) {
        kill(self, SIGSTOP);
        h_sleep_ms(50);
        kill(self, SIGCONT);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    for (int i = 0; i < 5000 && poller_syscall() != SYS_restart_syscall; i++) {
        h_sleep_ms(2);
    }
    SETUP(poller_syscall() == SYS_restart_syscall, "the poller is in system call %d, not restart_syscall", poller_syscall());

    h_ready();
    h_wait_go();

    CHECK(__atomic_load_n(&result, __ATOMIC_SEQ_CST) == -2, "poll returned %d before anything was written", result);
    CHECK(write(fds[1], "p", 1) == 1, "pipe write");
    pthread_join(t, NULL);
    CHECK(result == 1 && (revents & POLLIN), "poll returned %d, revents %#x", result, revents);
    return h_finish();
}
