/*
 * shares_with_another: two processes, this one (the parent) and a child, sharing one resource chosen
 * by the word in STATEDIR/mode. The child's pid is written to STATEDIR/target before ready: a
 * checkpoint of the child alone must be refused naming the resource (the parent with the child is a
 * tree, taken whole; mode "child" shares nothing else). Mode "nothing" shares only what every started process shares with its
 * parent (stdin /dev/null, a log appended to): checkpointing the child must be allowed.
 *
 * Modes: child, files (CLONE_FILES), vm (CLONE_VM), file (an inherited open file description),
 * socket (an inherited listening socket), pipe (both ends inherited), memory (MAP_SHARED anonymous),
 * lock (both lock ranges of one file), lockwait (the child waits in fcntl F_SETLKW for the parent's lock),
 * flockwait (the child waits in flock for the parent's), nothing.
 *
 * After go the parent checks that the child was left running (not stopped, not gone) and ends it. In
 * mode "nothing" a thread of the parent waits for the child to stop (waitid WSTOPPED) from ready to go,
 * as a shell or nsenter waiting for its job does: a checkpoint that leaves the child running must not
 * let its parent see it stop (a shell would stop too).
 */
#include "harness.h"

#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <pthread.h>

#define CHILD_STACK (64 * 1024)

static int child_loop(void *arg)
{
    (void)arg;
    for (;;) {
        pause();
    }
    return 0;
}

static volatile int child_seen_stopped;

/* Waits, without reaping, until the child stops; ends with the parent's final waitpid (ECHILD). */
static void *watch_child(void *arg)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)(intptr_t)arg, &info, WSTOPPED | WNOWAIT) == 0 && info.si_code == CLD_STOPPED) {
        child_seen_stopped = 1;
    }
    return NULL;
}

/* The shared file opened anew, so that no description is shared, only the file. */
static int open_locked_file(void)
{
    char path[512];
    h_path(path, sizeof path, "locked");
    return open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

/* The descriptor of the last lock taken; a child closes the parent's, so that they share no description. */
static int lock_fd = -1;

/* Locks one byte of the shared file at offset at with fcntl command cmd (F_SETLK, or F_SETLKW to wait for it). */
static int lock_byte(off_t at, int cmd)
{
    lock_fd = open_locked_file();
    if (lock_fd < 0) {
        return -1;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = at, .l_len = 1};
    return fcntl(lock_fd, cmd, &fl);
}

/* flock()s the shared file, waiting for it. */
static int flock_file(void)
{
    lock_fd = open_locked_file();
    return lock_fd < 0 ? -1 : flock(lock_fd, LOCK_EX);
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    char mode[32] = "", path[512];
    h_path(path, sizeof path, "mode");
    h_read_file(path, mode, sizeof mode);
    mode[strcspn(mode, "\n")] = 0;

    pid_t child;
    if (strcmp(mode, "files") == 0 || strcmp(mode, "vm") == 0) {
        char *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        SETUP(stack != MAP_FAILED, "mmap stack: %s", strerror(errno));
        int flags = (strcmp(mode, "files") == 0 ? CLONE_FILES : CLONE_VM) | SIGCHLD;
        child = clone(child_loop, stack + CHILD_STACK, flags, NULL);
        SETUP(child > 0, "clone: %s", strerror(errno));
    } else {
        if (strcmp(mode, "file") == 0) {
            char path[512];
            h_path(path, sizeof path, "shared-file");
            SETUP(open(path, O_RDWR | O_CREAT, 0600) >= 0, "open %s: %s", path, strerror(errno));
        } else if (strcmp(mode, "socket") == 0) {
            int s = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            SETUP(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 8) == 0, "listener: %s",
                  strerror(errno));
        } else if (strcmp(mode, "pipe") == 0) {
            int p[2];
            SETUP(pipe(p) == 0, "pipe: %s", strerror(errno));
        } else if (strcmp(mode, "memory") == 0) {
            void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
            SETUP(m != MAP_FAILED, "mmap shared: %s", strerror(errno));
        } else if (strcmp(mode, "lockwait") == 0) {
            SETUP(lock_byte(0, F_SETLK) == 0, "parent's lock: %s", strerror(errno));
        } else if (strcmp(mode, "flockwait") == 0) {
            SETUP(flock_file() == 0, "parent's flock: %s", strerror(errno));
        } else {
            SETUP(strcmp(mode, "child") == 0 || strcmp(mode, "nothing") == 0 || strcmp(mode, "lock") == 0, "unknown mode %s",
                  mode);
        }
        child = fork();
        SETUP(child >= 0, "fork: %s", strerror(errno));
        if (child == 0) {
            /* the waits block until the parent ends the child */
            if (lock_fd >= 0) {
                close(lock_fd);
            }
            if ((strcmp(mode, "lock") == 0 && lock_byte(1, F_SETLK) != 0) || (strcmp(mode, "lockwait") == 0 && lock_byte(0, F_SETLKW) != 0)
                || (strcmp(mode, "flockwait") == 0 && flock_file() != 0)) {
                _exit(1);
            }
            child_loop(NULL);
        }
    }
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "%d\n", (int)child);
    SETUP(h_write_file("target", pid_text) == 0, "cannot write target");
    int locking = strcmp(mode, "lock") == 0 || strcmp(mode, "lockwait") == 0 || strcmp(mode, "flockwait") == 0;
    if (strcmp(mode, "lock") == 0) {
        /* each opens the file itself after the fork, so that they share no description, only the file */
        SETUP(lock_byte(0, F_SETLK) == 0, "parent's lock: %s", strerror(errno));
    }
    if (locking) {
        /* the child has its lock, or waits for the parent's, once /proc/locks shows its pid */
        char want[32];
        snprintf(want, sizeof want, " %d ", (int)child);
        int found = 0;
        for (int i = 0; i < 5000 && !found; i++) {
            FILE *f = fopen("/proc/locks", "re");
            char line[256];
            while (f && fgets(line, sizeof line, f)) {
                found |= strstr(line, want) != NULL;
            }
            if (f) {
                fclose(f);
            }
            if (!found) {
                usleep(1000);
            }
        }
        SETUP(found, "the child %d took no lock", (int)child);
    }

    pthread_t watcher;
    if (strcmp(mode, "nothing") == 0) {
        SETUP(pthread_create(&watcher, NULL, watch_child, (void *)(intptr_t)child) == 0, "watcher thread");
    }
    h_ready();
    h_wait_go();

    CHECK(!child_seen_stopped, "the parent saw its child %d stop (CLD_STOPPED) while it was checkpointed", (int)child);
    int status;
    pid_t w = waitpid(child, &status, WNOHANG | WUNTRACED);
    CHECK(w == 0, "the child %d was not left running (waitpid %d, status 0x%x)", (int)child, (int)w, status);
    kill(child, SIGKILL);
    CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
          "the child %d did not end by the parent's SIGKILL (status 0x%x)", (int)child, status);
    return h_finish();
}
