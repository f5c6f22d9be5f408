/*
 * pmig-lab-init: PID 1 of a `pmig lab` node.
 *
 *   pmig-lab-init NETNS
 *
 * `pmig lab up` starts it inside the node's network namespace as
 *   setsid --fork unshare --pid --mount --fork --mount-proc --propagation private pmig-lab-init NETNS
 * so that it is the first process of the node's own PID namespace, with the node's own /proc,
 * and no child of the JVM. It does two things:
 *   - it reaps every child, forever: a process started or restored into the node whose parent
 *     dies is reparented to it, and must not stay a zombie;
 *   - it exits (status 0) on SIGTERM or SIGINT, which is how `pmig lab down` stops the node: when
 *     the init of a PID namespace exits, the kernel kills every other process in it.
 * NETNS, the name of the node's network namespace, is only there so that `pmig lab down` can
 * recognise the init in /proc/PID/cmdline after a crash, without the lab's state file.
 *
 * Being PID 1 of its namespace, it receives no signal it has no handler for (except SIGKILL from
 * an ancestor namespace); it installs handlers, blocks the signals and takes them with
 * sigtimedwait, so nothing runs in signal context.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_signal(int sig) {
    (void)sig; /* never runs: the signals are blocked and taken by sigtimedwait */
}

static void reap_all(void) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(int argc, char **argv) {
    static const int signals[] = {SIGCHLD, SIGTERM, SIGINT};
    sigset_t set;
    struct sigaction action;

    (void)argv; /* argv[1] is for pmig lab down to read in /proc/1/cmdline */
    if (argc != 2) {
        fprintf(stderr, "usage: pmig-lab-init NETNS\n");
        return 2;
    }
    if (getpid() != 1) {
        fprintf(stderr, "pmig-lab-init: must be PID 1 of its own PID namespace, it is pid %d\n", (int)getpid());
        return 2;
    }
    if (chdir("/") != 0) {
        perror("pmig-lab-init: chdir /");
        return 1;
    }

    sigemptyset(&set);
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        sigaddset(&set, signals[i]);
        if (sigaction(signals[i], &action, NULL) != 0) {
            perror("pmig-lab-init: sigaction");
            return 1;
        }
    }
    signal(SIGHUP, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        perror("pmig-lab-init: sigprocmask");
        return 1;
    }

    for (;;) {
        reap_all(); /* also catches children whose SIGCHLDs were merged into one */
        /* a zombie handed over without a SIGCHLD (a traced process whose tracer died) is
           reaped within a second all the same */
        static const struct timespec second = {.tv_sec = 1};
        int sig = sigtimedwait(&set, NULL, &second);
        if (sig < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            perror("pmig-lab-init: sigtimedwait");
            return 1;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            return 0;
        }
    }
}
