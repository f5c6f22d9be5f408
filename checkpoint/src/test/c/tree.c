/*
 * tree: a process tree comes back whole, its shared objects shared again.
 *
 *  The parent makes a MAP_SHARED anonymous page, a pipe, a listening TCP socket on 127.0.0.1 and a
 *  file opened read-write at offset 3, then forks:
 *    A  stays in the parent's group and session; it has a second thread;
 *    B  leads a process group of its own (setpgid) and holds a POSIX lock on bytes 0-1 of the shared
 *       file, while the parent holds one on byte 5: each checks the other's with F_GETLK after go;
 *    C  leads a session of its own (setsid) and forks D, which stays in C's session and group;
 *    E  exits with status 5 and F is killed by SIGTERM, both left unreaped (zombies) until after go;
 *    O  an orphan: the parent is a child subreaper, and O's own parent ended (reaped before ready),
 *       so O is the parent's child now; after go it checks its parent and session, and the parent is
 *       still a subreaper and reaps it.
 *    X  waits, and ends when the test asks for churn (a file "churn" in the state directory) before go:
 *       the parent reaps it then and forks G, which checks its parent and group after go; the parent
 *       writes "churned" once G runs. A pre-copy whose rounds began before the churn must end X's copy
 *       and create G's.
 *  After go, every member checks its parent, group and session, and the parent writes a generation
 *  number into the shared page that each child must see. Through the shared objects: the parent
 *  writes into the pipe and A reads it (one pipe, not two copies); the parent connects to the
 *  listener and A accepts (one listening socket); A reads the shared file, which moves the offset
 *  the parent sees (one open file description). Each child exits with a status that encodes
 *  what failed, and the parent reaps each (its children are its own again): all must be 0, and the
 *  zombies must give the parent their statuses.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/socket.h>

struct shared {
    volatile int reported[4];      /* A B C D: set up */
    volatile int generation;       /* set by the parent after go */
    volatile pid_t pids[4];
    volatile int seen[4];          /* each child: saw the generation */
    volatile int locks_checked;    /* the parent has looked at B's lock: B may end */
    volatile int b_saw_parent_lock;
    volatile int g_started;
};

enum { A, B, C, D };

static struct shared *sh;
static int pipe_fds[2];
static int listener;
static int file_fd;
static pid_t parent_pid;

static void *idle_thread(void *arg)
{
    (void)arg;
    for (;;) {
        pause();
    }
    return NULL;
}

/* Waits for the parent's generation; returns the failures of the checks common to every child, as bits. */
static int child_checks(int who, pid_t want_parent, pid_t want_pgid, pid_t want_sid)
{
    int bad = 0;
    while (sh->generation == 0) {
        h_sleep_ms(2);
    }
    sh->seen[who] = sh->generation;
    if (getppid() != want_parent) {
        bad |= 1;
    }
    if (getpgid(0) != want_pgid) {
        bad |= 2;
    }
    if (getsid(0) != want_sid) {
        bad |= 4;
    }
    return bad;
}

static void run_a(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, idle_thread, NULL) != 0) {
        _exit(100);
    }
    sh->pids[A] = getpid();
    sh->reported[A] = 1;
    int bad = child_checks(A, parent_pid, getpgid(parent_pid), getsid(parent_pid));
    char msg[16] = { 0 };
    if (read(pipe_fds[0], msg, 5) != 5 || memcmp(msg, "hello", 5) != 0) {
        bad |= 8;
    }
    int c = accept(listener, NULL, NULL);
    if (c < 0) {
        bad |= 16;
    } else {
        close(c);
    }
    char data[4];
    if (read(file_fd, data, 4) != 4 || memcmp(data, "3456", 4) != 0) {
        bad |= 32;
    }
    _exit(bad);
}

/* The pid of the process holding a POSIX lock on [start, start+len) of fd, 0 if none. */
static pid_t lock_holder(int fd, off_t start, off_t len)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
    if (fcntl(fd, F_GETLK, &fl) != 0 || fl.l_type == F_UNLCK) {
        return 0;
    }
    return fl.l_pid;
}

static void run_b(void)
{
    setpgid(0, 0);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 2 };
    if (fcntl(file_fd, F_SETLK, &fl) != 0) {
        _exit(101);
    }
    sh->pids[B] = getpid();
    sh->reported[B] = 1;
    int bad = child_checks(B, parent_pid, getpid(), getsid(parent_pid));
    sh->b_saw_parent_lock = lock_holder(file_fd, 5, 1) == parent_pid;
    while (!sh->locks_checked) {
        h_sleep_ms(2);
    }
    _exit(bad);
}

static void run_d(pid_t c)
{
    sh->pids[D] = getpid();
    sh->reported[D] = 1;
    _exit(child_checks(D, c, c, c));
}

static void run_c(void)
{
    setsid();
    pid_t d = fork();
    if (d == 0) {
        run_d(getppid());
    }
    sh->pids[C] = getpid();
    sh->reported[C] = 1;
    int bad = child_checks(C, parent_pid, getpid(), getpid());
    int status;
    if (d < 0 || waitpid(d, &status, 0) != d || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bad |= 64;
    }
    _exit(bad);
}

static void run_x(void)
{
    while (!h_exists("churn")) {
        h_sleep_ms(2);
    }
    _exit(0);
}

static void run_g(void)
{
    sh->g_started = 1;
    while (sh->generation == 0) {
        h_sleep_ms(2);
    }
    _exit((getppid() == parent_pid ? 0 : 1) | (getpgid(0) == getpgid(parent_pid) ? 0 : 2));
}

/* Waits for go; asked for churn meanwhile, reaps X and forks G. Returns G's pid, or 0 without churn. */
static pid_t wait_go_churning(pid_t x)
{
    pid_t g = 0;
    while (!h_exists("go")) {
        if (g == 0 && h_exists("churn")) {
            int status = 0;
            if (waitpid(x, &status, 0) != x || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                h_die("X did not end as asked: status 0x%x", status);
            }
            g = fork();
            if (g == 0) {
                run_g();
            }
            if (g < 0) {
                h_die("fork of G failed: %s", strerror(errno));
            }
            while (!sh->g_started) {
                h_sleep_ms(2);
            }
            h_write_file("churned", "churned\n");
        }
        h_sleep_ms(2);
    }
    h_log("go");
    return g;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    parent_pid = getpid();
    sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED || pipe(pipe_fds) != 0) {
        h_log("setup failed: %s", strerror(errno));
        return 1;
    }
    listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof addr;
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 8) != 0
        || getsockname(listener, (struct sockaddr *)&addr, &alen) != 0) {
        h_log("listener failed: %s", strerror(errno));
        return 1;
    }
    char path[4096];
    h_path(path, sizeof path, "tree-file");
    file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (file_fd < 0 || write(file_fd, "0123456789", 10) != 10 || lseek(file_fd, 3, SEEK_SET) != 3) {
        h_log("file failed: %s", strerror(errno));
        return 1;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        h_log("subreaper failed: %s", strerror(errno));
        return 1;
    }
    int orphan_pipe[2];
    if (pipe(orphan_pipe) != 0) {
        return 1;
    }
    pid_t middle = fork();
    if (middle == 0) {
        pid_t o = fork();
        if (o == 0) {
            close(orphan_pipe[0]);
            close(orphan_pipe[1]);
            while (sh->generation == 0) {
                h_sleep_ms(2);
            }
            _exit((getppid() == parent_pid ? 0 : 1) | (getsid(0) == getsid(parent_pid) ? 0 : 2));
        }
        _exit(write(orphan_pipe[1], &o, sizeof o) == sizeof o ? 0 : 1);
    }
    pid_t orphan = -1;
    close(orphan_pipe[1]);
    if (middle < 0 || read(orphan_pipe[0], &orphan, sizeof orphan) != sizeof orphan || waitpid(middle, NULL, 0) != middle) {
        h_log("orphan failed: %s", strerror(errno));
        return 1;
    }
    close(orphan_pipe[0]);
    struct flock mine = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1 };
    if (fcntl(file_fd, F_SETLK, &mine) != 0) {
        h_log("lock failed: %s", strerror(errno));
        return 1;
    }
    pid_t exited = fork();
    if (exited == 0) {
        _exit(5);
    }
    pid_t killed = fork();
    if (killed == 0) {
        raise(SIGTERM);
        _exit(1);
    }
    /* both ended, not reaped: WNOWAIT leaves them zombies */
    siginfo_t info;
    if (exited < 0 || killed < 0 || waitid(P_PID, (id_t)exited, &info, WEXITED | WNOWAIT) != 0
        || waitid(P_PID, (id_t)killed, &info, WEXITED | WNOWAIT) != 0) {
        h_log("zombies failed: %s", strerror(errno));
        return 1;
    }
    pid_t kids[3];
    void (*runs[3])(void) = { run_a, run_b, run_c };
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            runs[i]();
        }
        if (kids[i] < 0) {
            h_log("fork failed: %s", strerror(errno));
            return 1;
        }
    }
    for (int i = 0; i < 4; i++) {
        while (!sh->reported[i]) {
            h_sleep_ms(2);
        }
    }
    pid_t x = fork();
    if (x == 0) {
        run_x();
    }
    if (x < 0) {
        h_log("fork of X failed: %s", strerror(errno));
        return 1;
    }
    h_ready();
    pid_t g = wait_go_churning(x);

    sh->generation = 7;
    while (!sh->seen[B]) {
        h_sleep_ms(2);
    }
    pid_t holder = lock_holder(file_fd, 0, 2);
    CHECK(holder == kids[1], "B's POSIX lock on bytes 0-1: held by %d, not B (%d)", (int)holder, (int)kids[1]);
    sh->locks_checked = 1;
    CHECK(write(pipe_fds[1], "hello", 5) == 5, "write into the pipe: %s", strerror(errno));
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c >= 0 && connect(c, (struct sockaddr *)&addr, sizeof addr) == 0, "connect to the shared listener: %s", strerror(errno));
    const char *names = "ABC";
    for (int i = 0; i < 3; i++) {
        int status = 0;
        pid_t got = waitpid(kids[i], &status, 0);
        CHECK(got == kids[i], "reap child %c (%d): %s", names[i], (int)kids[i], got < 0 ? strerror(errno) : "another pid");
        CHECK(got != kids[i] || (WIFEXITED(status) && WEXITSTATUS(status) == 0),
              "child %c: status 0x%x (exit bits: 1 parent, 2 group, 4 session, 8 pipe, 16 listener, 32 file, 64 grandchild)",
              names[i], status);
    }
    int status = 0;
    CHECK(waitpid(exited, &status, WNOHANG) == exited && WIFEXITED(status) && WEXITSTATUS(status) == 5,
          "zombie E: status 0x%x, not an exit with 5", status);
    status = 0;
    CHECK(waitpid(killed, &status, WNOHANG) == killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
          "zombie F: status 0x%x, not killed by SIGTERM", status);
    CHECK(sh->b_saw_parent_lock, "B did not see the parent's POSIX lock on byte 5");
    int subreaper = 0;
    CHECK(prctl(PR_GET_CHILD_SUBREAPER, &subreaper) == 0 && subreaper == 1, "the parent is no child subreaper any more");
    status = 0;
    pid_t got_orphan = waitpid(orphan, &status, 0);
    CHECK(got_orphan == orphan && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "orphan O (%d): reaped %d, status 0x%x (exit bits: 1 parent, 2 session)", (int)orphan, (int)got_orphan, status);
    if (g > 0) {
        status = 0;
        CHECK(waitpid(g, &status, 0) == g && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "G (forked during the pre-copy): status 0x%x (exit bits: 1 parent, 2 group)", status);
    } else {
        kill(x, SIGKILL);
        CHECK(waitpid(x, NULL, 0) == x, "reap X: %s", strerror(errno));
    }
    for (int i = 0; i < 4; i++) {
        CHECK(sh->seen[i] == 7, "child %c did not see the parent's write in the shared page (%d)", "ABCD"[i], sh->seen[i]);
    }
    CHECK(lseek(file_fd, 0, SEEK_CUR) == 7, "offset of the shared file: %ld, not 7 (A's read moves it)", (long)lseek(file_fd, 0, SEEK_CUR));
    if (c >= 0) {
        close(c);
    }
    return h_finish();
}
