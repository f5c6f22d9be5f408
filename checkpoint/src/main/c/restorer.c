/*
 * pmig-restorer: the process a restore turns into. Static, no libc, position independent.
 *
 *   pmig-restorer serve
 *   pmig-restorer run PROGRAM [ARG...]
 *
 * "serve" is started once by the engine's JVM and kept: starting a process from a JVM costs it
 * milliseconds (a helper exec'd, then the program), which every restore paid. It takes a pidfd of
 * the engine (its parent), then reads requests from stdin, one line each,
 *
 *   PID HOLE_ADDR HOLE_SIZE [ns] [time=MONOTONIC_NS,BOOTTIME_NS,REALTIME_NS] [cgroup=PATH]
 *
 * and for each forks a launcher, which creates the restored process with clone3(set_tid = PID)
 * (with "ns": inside a new PID namespace, under a minimal init that reaps; with "time=": inside a
 * new time namespace whose CLOCK_MONOTONIC and CLOCK_BOOTTIME read the given values, in ns, plus
 * the time CLOCK_REALTIME has run since REALTIME_NS (0: none), at the moment of the clone; with
 * "cgroup=" (the rest of the line): born into that cgroup v2 directory, CLONE_INTO_CGROUP, where
 * moving it there later would wait for an RCU grace period) and exits. The server reaps the
 * launcher and ends the reply with "end". Status lines go to stdout: "nsinit OUTER_PID" from the
 * launcher in "ns" mode, then "ok PID 0" or "error-STEP 0 ERRNO" from the new process, "retry 0 0"
 * from a launcher that holds PID itself (the engine asks again: the next launcher has another pid).
 * The new process keeps one descriptor, the pidfd of the engine, through which it later takes the
 * descriptors the engine prepared: that works across PID namespaces, where the engine's pid means
 * nothing. The new process copies this program into the hole the engine chose,
 * unmaps everything else but the vdso/vvar, closes every descriptor and waits. From there the
 * engine (ptrace) drives it: it runs syscall programs (rst_run_program) to rebuild the address
 * space, descriptors and process state, then sets every thread's registers and lets go. The
 * server ends when its stdin does (the engine's JVM closed it, or died).
 *
 * "run" is how pmigd starts a service (pmig run) in the shape a restore in a new PID namespace
 * gives it, so that it moves like one: once a byte arrives on stdin (pmigd has put this program
 * into the service's cgroup), the same minimal init in a new PID namespace, the program as its
 * only child (pid 2 there, a session of its own, /dev/null as stdin, stdout and stderr). Status:
 * "nsinit OUTER_PID", then "error-execve 0 ERRNO" if the program could not be started.
 */
#include "restorer.h"
#include "sys.h"

extern const char __ehdr_start[];
extern const char _end[];

void rst_relocated(struct rst_control *ctl, int status_fd);

static long engine_pidfd = -1;
static unsigned long read_xcr0(void);
void rst_run_program(struct rst_program *p);
void rst_syscall_stub(void);

static unsigned long parse_number(const char *s)
{
    unsigned long v = 0;
    int base = 10;
    if (s[0] == '0' && s[1] == 'x') {
        base = 16;
        s += 2;
    }
    for (; *s; s++) {
        int d;
        if (*s >= '0' && *s <= '9') d = *s - '0';
        else if (*s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
        else return (unsigned long)-1;
        if (d >= base) return (unsigned long)-1;
        v = v * base + d;
    }
    return v;
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) { a++; b++; }
    return *a == *b;
}

static void put_number(char *buf, unsigned long *len, long v)
{
    char tmp[24];
    int n = 0;
    if (v < 0) { buf[(*len)++] = '-'; v = -v; }
    do { tmp[n++] = '0' + v % 10; v /= 10; } while (v);
    while (n) buf[(*len)++] = tmp[--n];
}

static void report(int fd, const char *word, long a, long b)
{
    char buf[96];
    unsigned long len = 0, i;
    for (i = 0; word[i]; i++) buf[len++] = word[i];
    buf[len++] = ' ';
    put_number(buf, &len, a);
    buf[len++] = ' ';
    put_number(buf, &len, b);
    buf[len++] = '\n';
    sys_write(fd, buf, len);
}

static __attribute__((noreturn)) void fail(int fd, const char *step, long err)
{
    sys_write(fd, "error-", 6);
    report(fd, step, 0, -err);
    sys_exit_group(1);
}

void *memcpy(void *dst, const void *src, unsigned long n)
{
    char *d = dst;
    const char *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memset(void *dst, int c, unsigned long n)
{
    char *d = dst;
    while (n--) *d++ = (char)c;
    return dst;
}

/* A child with pid PID (0: any); CGROUP >= 0: born into that cgroup v2 directory. */
static long clone_with_pid(long pid, unsigned long flags, long cgroup)
{
    long tid = pid;
    struct clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = flags;
    args.exit_signal = SIGCHLD;
    if (pid > 0) {
        args.set_tid = (unsigned long)&tid;
        args.set_tid_size = 1;
    }
    if (cgroup >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (unsigned long)cgroup;
    }
    return sys_clone3(&args, sizeof(args));
}

/* Runs in the new process: copy this program into the hole and continue there. */
static __attribute__((noreturn)) void become_restored(unsigned long hole, unsigned long size, int status_fd)
{
    unsigned long blob = (unsigned long)(_end - __ehdr_start);
    long r;
    if (blob > RST_BLOB_MAX) fail(status_fd, "blob-too-large", -1);
    sys_setsid();
    r = sys_mmap(hole, size, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (r < 0) fail(status_fd, "map-hole", r);
    if ((unsigned long)r != hole) fail(status_fd, "map-hole", -EEXIST);
    memcpy((void *)hole, __ehdr_start, blob);

    struct rst_control *ctl = (struct rst_control *)(hole + RST_CTL_OFFSET);
    unsigned long delta = hole - (unsigned long)__ehdr_start;
    ctl->magic = RST_MAGIC;
    ctl->run_program = (unsigned long)rst_run_program + delta;
    ctl->syscall_stub = (unsigned long)rst_syscall_stub + delta;
    ctl->hole_start = hole;
    ctl->hole_size = size;
    ctl->blob_size = blob;
    ctl->engine_pidfd = engine_pidfd;
    ctl->xcr0 = read_xcr0();

    unsigned long entry = (unsigned long)rst_relocated + delta;
    unsigned long stack_top = hole + RST_STACKS_OFFSET + RST_STACK_SIZE;
    __asm__ volatile(
        "mov %0, %%rsp\n"
        "mov %1, %%rdi\n"
        "mov %2, %%rsi\n"
        "xor %%ebp, %%ebp\n"
        "call *%3\n"
        "ud2\n"
        :: "r"(stack_top), "r"(ctl), "r"((long)status_fd), "r"(entry)
        : "memory", "rdi", "rsi");
    __builtin_unreachable();
}

static void put_offset(char *buf, unsigned long *len, const char *clock, long offset_ns)
{
    long secs = offset_ns / 1000000000L, nsecs = offset_ns % 1000000000L;
    if (nsecs < 0) {                                   /* the kernel takes nanoseconds in [0, 1 s) */
        nsecs += 1000000000L;
        secs--;
    }
    while (*clock) buf[(*len)++] = *clock++;
    buf[(*len)++] = ' ';
    put_number(buf, len, secs);
    buf[(*len)++] = ' ';
    put_number(buf, len, nsecs);
    buf[(*len)++] = '\n';
}

static long clock_ns(int clock)
{
    struct timespec ts;
    sys_clock_gettime(clock, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* The children created from here on live in a new time namespace (its offsets 0 until written). */
static void new_time_namespace(int status_fd)
{
    long r = sys_unshare(CLONE_NEWTIME);
    if (r < 0) fail(status_fd, "unshare-time-namespace", r);
}

/*
 * Makes the children created from here on live in a new time namespace whose monotonic and boot
 * clocks read the targets plus the wall-clock time since {@code since} (the freeze) now: they run
 * on through the downtime as the process's timers did. The offsets count from this program's own
 * clocks, which the engine took into account; read just before the clone.
 */
static void enter_time_namespace(long monotonic_target, long boottime_target, long since, int status_fd)
{
    char buf[128];
    unsigned long len = 0;
    long elapsed = since > 0 ? clock_ns(CLOCK_REALTIME) - since : 0;
    if (elapsed > 0) {                                 /* a host whose wall clock is behind adds nothing */
        monotonic_target += elapsed;
        boottime_target += elapsed;
    }
    new_time_namespace(status_fd);
    long fd = sys_open("/proc/self/timens_offsets", O_WRONLY, 0);
    if (fd < 0) fail(status_fd, "open-timens_offsets", fd);
    put_offset(buf, &len, "monotonic", monotonic_target - clock_ns(CLOCK_MONOTONIC));
    put_offset(buf, &len, "boottime", boottime_target - clock_ns(CLOCK_BOOTTIME));
    long r = sys_write(fd, buf, len);
    if (r < 0) fail(status_fd, "write-timens_offsets", r);
    sys_close(fd);
}

static unsigned long read_xcr0(void)
{
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long)hi << 32) | lo;
}

static int is_kept_special(const char *name)
{
    return str_eq(name, "[vdso]") || str_eq(name, "[vvar]") || str_eq(name, "[vvar_vclock]")
        || str_eq(name, "[vsyscall]");
}

/*
 * Runs from the hole. Unmaps every mapping outside it but the kernel's own special ones,
 * which the engine moves to where the image had them.
 */
void rst_relocated(struct rst_control *ctl, int status_fd)
{
    char *buf = (char *)(ctl->hole_start + RST_SCRATCH_OFFSET);
    unsigned long cap = ctl->hole_size - RST_SCRATCH_OFFSET - 1;
    unsigned long len = 0;
    long fd = sys_open("/proc/self/maps", O_RDONLY, 0);
    if (fd < 0) fail(status_fd, "open-maps", fd);
    for (;;) {
        long n = sys_read(fd, buf + len, cap - len);
        if (n < 0) fail(status_fd, "read-maps", n);
        if (n == 0) break;
        len += n;
        if (len == cap) fail(status_fd, "maps-too-large", -1);
    }
    sys_close(fd);
    buf[len] = 0;

    char *line = buf;
    while (*line) {
        char *eol = line;
        while (*eol && *eol != '\n') eol++;
        char saved = *eol;
        *eol = 0;
        unsigned long start = 0, end = 0;
        char *p = line;
        for (; *p != '-'; p++) start = start * 16 + (*p <= '9' ? *p - '0' : *p - 'a' + 10);
        for (p++; *p != ' '; p++) end = end * 16 + (*p <= '9' ? *p - '0' : *p - 'a' + 10);
        /* the name is the sixth field: skip perms, offset, device and inode */
        int fields = 0;
        while (*p && fields < 4) {
            while (*p == ' ') p++;
            while (*p && *p != ' ') p++;
            fields++;
        }
        while (*p == ' ') p++;
        int inside_hole = start >= ctl->hole_start && end <= ctl->hole_start + ctl->hole_size;
        if (!inside_hole && !is_kept_special(p)) {
            long r = sys_munmap(start, end - start);
            if (r < 0) fail(status_fd, "unmap", r);
        }
        *eol = saved;
        line = saved ? eol + 1 : eol;
    }
    report(status_fd, "ok", sys_getpid(), 0);
    if (ctl->engine_pidfd > 0) sys_close_range(0, ctl->engine_pidfd - 1, 0);
    sys_close_range(ctl->engine_pidfd + 1, ~0U, 0);
    /* until the engine takes hold of this process with ptrace; if the engine dies first, so does this */
    struct pollfd engine = {(int)ctl->engine_pidfd, POLLIN, 0};
    for (;;) {
        if (sys_poll(&engine, 1, -1) > 0) sys_exit_group(1);
    }
}

void rst_run_program(struct rst_program *p)
{
    unsigned long i;
    int k;
    p->failed_at = -1;
    for (i = 0; i < p->count; i++) {
        struct rst_op *op = &p->ops[i];
        long a[6];
        for (k = 0; k < 6; k++)
            a[k] = (op->flags & RST_OP_ARG_FROM_REF(k)) ? p->ops[op->ref].result : op->arg[k];
        op->result = raw_syscall6(op->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        if ((op->flags & RST_OP_MUST_SUCCEED) && op->result < 0 && op->result > -4096) {
            p->failed_at = i;
            break;
        }
    }
    __asm__ volatile("int3");
    __builtin_unreachable();
}

static void mount_own_proc(int status_fd)
{
    long r = sys_mount(0, "/", 0, MS_REC | MS_SLAVE, 0);
    if (r < 0) fail(status_fd, "mount-slave", r);
    r = sys_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
    if (r < 0) fail(status_fd, "mount-proc", r);
}

/* The init's life once its process exists: no descriptors, reap until no child is left. */
static __attribute__((noreturn)) void reap_until_alone(void)
{
    sys_close_range(0, ~0U, 0);
    for (;;) {
        int status;
        long r = sys_wait4(-1, &status, 0);
        if (r == -ECHILD) sys_exit_group(0);
    }
}

/*
 * The ns-init of "--new-pid-namespace": gives the namespace a /proc of its own, creates the service's
 * process, then reaps until it is gone. Without its own /proc the process would find another
 * process at /proc/<its pid> and its threads under other ids in /proc/self/task. The mount namespace
 * (made with the PID namespace) is a slave of the host's: mounts made there later still appear here.
 */
static __attribute__((noreturn)) void pid_namespace_init(long pid, unsigned long hole, unsigned long size, int status_fd)
{
    mount_own_proc(status_fd);
    long child = clone_with_pid(pid, 0, -1);
    if (child < 0) fail(status_fd, "clone3-in-namespace", child);
    if (child == 0) become_restored(hole, size, status_fd);
    reap_until_alone();
}

/* The service's process under "run": only the status descriptor (closed by a successful execve) survives. */
static __attribute__((noreturn)) void exec_service(char **argv, char **envp, int status_fd)
{
    long r = sys_dup3(status_fd, 3, O_CLOEXEC);
    if (r < 0) fail(status_fd, "dup-status", r);
    long null = sys_open("/dev/null", O_RDWR, 0);
    if (null < 0) fail(3, "open-dev-null", null);
    for (int fd = 0; fd < 3; fd++) {
        if (fd != null && (r = sys_dup3(null, fd, 0)) < 0) fail(3, "dup-dev-null", r);
    }
    if (null > 3) sys_close(null);
    sys_close_range(4, ~0U, 0);
    sys_setsid();
    r = sys_execve(argv[0], argv, envp);
    fail(3, "execve", r);
}

static __attribute__((noreturn)) void run_init(char **argv, char **envp, int status_fd)
{
    mount_own_proc(status_fd);
    long child = clone_with_pid(0, 0, -1);
    if (child < 0) fail(status_fd, "clone3-in-namespace", child);
    if (child == 0) exec_service(argv, envp, status_fd);
    reap_until_alone();
}

/* pmig-restorer run PROGRAM [ARG...]: a service started in new PID and time namespaces, as after a restore */
static long run_service(long argc, char **argv)
{
    int status_fd = 1;
    char go;
    if (argc < 3) {
        static const char usage[] = "usage: pmig-restorer run PROGRAM [ARG...] (started by pmigd, not by hand)\n";
        sys_write(2, usage, sizeof(usage) - 1);
        return 2;
    }
    if (sys_read(0, &go, 1) != 1) return 1;     /* pmigd went away before it let the service start */
    /* a time namespace of its own from the start: its clocks then move with it, offsets and all */
    new_time_namespace(status_fd);
    long child = clone_with_pid(1, CLONE_NEWPID | CLONE_NEWNS, -1);
    if (child < 0) fail(status_fd, "clone3-new-pid-namespace", child);
    if (child == 0) run_init(argv + 2, argv + argc + 1, status_fd);
    report(status_fd, "nsinit", child, 0);
    return 0;
}

/*
 * One request of "serve", in a launcher of its own: WORDS are PID HOLE_ADDR HOLE_SIZE and options
 * (above); returns the launcher's exit status once the new process has reported.
 */
static long launch(long count, char **words)
{
    int status_fd = 1;
    if (count < 3) {
        fail(status_fd, "request", -1);
    }
    long pid = (long)parse_number(words[0]);
    unsigned long hole = parse_number(words[1]);
    unsigned long size = parse_number(words[2]);
    int new_ns = 0, new_time_ns = 0;
    long cgroup = -1;
    long times[3] = {0, 0, 0};                         /* monotonic and boot targets, the freeze's realtime */
    for (long i = 3; i < count; i++) {
        char *a = words[i];
        if (str_eq(a, "ns")) {
            new_ns = 1;
        } else if (a[0] == 't' && a[1] == 'i' && a[2] == 'm' && a[3] == 'e' && a[4] == '=') {
            char *field = a + 5;
            for (int k = 0; k < 3; k++) {
                char *end = field;
                while (*end && *end != ',') end++;
                if (!*end && k < 2) pid = -1;
                char saved = *end;
                *end = 0;
                times[k] = (long)parse_number(field);
                field = saved ? end + 1 : end;
            }
            new_time_ns = 1;
        } else if (a[0] == 'c' && a[1] == 'g' && a[2] == 'r' && a[3] == 'o' && a[4] == 'u' && a[5] == 'p' && a[6] == '=') {
            cgroup = sys_open(a + 7, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
            if (cgroup < 0) fail(status_fd, "open-cgroup", cgroup);
        } else {
            pid = -1;
        }
    }
    if (pid <= 0 || hole == (unsigned long)-1 || size <= RST_SCRATCH_OFFSET || (hole & 0xfff)
        || times[0] < 0 || times[1] < 0 || times[2] < 0) {
        fail(status_fd, "request", -1);
    }
    if (!new_ns && sys_getpid() == pid) {             /* the pid to create is this launcher's own */
        report(status_fd, "retry", 0, 0);
        return 1;
    }
    /*
     * The launcher stays until the new process has reported and closed every descriptor: the
     * server ends the reply once this program exits. The new process holds the write end of this
     * pipe until its close_range, so EOF here means it is done.
     */
    int done[2];
    long r = sys_pipe2(done, 0);
    if (r < 0) fail(status_fd, "pipe2", r);
    long child;
    if (new_time_ns) enter_time_namespace(times[0], times[1], times[2], status_fd);
    if (new_ns) {
        child = clone_with_pid(1, CLONE_NEWPID | CLONE_NEWNS, cgroup);
        if (child < 0) fail(status_fd, "clone3-new-pid-namespace", child);
        if (child == 0) pid_namespace_init(pid, hole, size, status_fd);
        report(status_fd, "nsinit", child, 0);
    } else {
        child = clone_with_pid(pid, 0, cgroup);
        if (child < 0) fail(status_fd, "clone3", child);
        if (child == 0) become_restored(hole, size, status_fd);
    }
    char byte;
    sys_close(done[1]);
    while (sys_read(done[0], &byte, 1) > 0) {
    }
    return 0;
}

/* Splits LINE in place at spaces into at most MAX words, the last ("cgroup=") running to the line's end. */
static long split_words(char *line, char **words, long max)
{
    long count = 0;
    while (*line && count < max) {
        while (*line == ' ') line++;
        if (!*line) break;
        words[count++] = line;
        if (line[0] == 'c' && line[1] == 'g' && line[2] == 'r' && line[3] == 'o' && line[4] == 'u' && line[5] == 'p' && line[6] == '=') {
            break;
        }
        while (*line && *line != ' ') line++;
        if (*line) *line++ = 0;
    }
    return count;
}

/* Serves one request line: a launcher forked for it, reaped, then "end". */
static void serve_request(char *line)
{
    char *words[8];
    long count = split_words(line, words, 8);
    long launcher = clone_with_pid(0, 0, -1);
    if (launcher == 0) sys_exit_group(launch(count, words));
    if (launcher < 0) {
        sys_write(1, "error-", 6);
        report(1, "fork", 0, -launcher);
    } else {
        int status;
        while (sys_wait4(launcher, &status, 0) == -EINTR) {
        }
    }
    sys_write(1, "end\n", 4);
}

/* pmig-restorer serve: requests on stdin until it ends, replies on stdout */
static long serve(void)
{
    static char buf[8192];
    unsigned long len = 0;
    engine_pidfd = sys_pidfd_open(sys_getppid(), 0);
    if (engine_pidfd < 0) fail(1, "pidfd_open-engine", engine_pidfd);
    for (;;) {
        long n = sys_read(0, buf + len, sizeof(buf) - 1 - len);
        if (n == -EINTR) continue;
        if (n <= 0) return 0;
        len += n;
        unsigned long start = 0;
        for (unsigned long i = 0; i < len; i++) {
            if (buf[i] == '\n') {
                buf[i] = 0;
                serve_request(buf + start);
                start = i + 1;
            }
        }
        if (start == 0 && len == sizeof(buf) - 1) fail(1, "request-too-long", -1);
        for (unsigned long i = start; i < len; i++) buf[i - start] = buf[i];
        len -= start;
    }
}

long restorer_main(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    if (argc > 1 && str_eq(argv[1], "run")) return run_service(argc, argv);
    if (argc == 2 && str_eq(argv[1], "serve")) return serve();
    static const char usage[] = "usage: pmig-restorer serve | run PROGRAM [ARG...] (started by pmig, not by hand)\n";
    sys_write(2, usage, sizeof(usage) - 1);
    return 2;
}
