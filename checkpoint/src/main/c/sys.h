/*
 * The restorer's whole view of the kernel: raw x86_64 syscalls and the few constants and
 * structures it uses. Mirrors <asm/unistd_64.h>, <asm-generic/mman-common.h>,
 * <asm-generic/fcntl.h>, <linux/sched.h> (struct clone_args, CLONE_NEWTIME), <linux/time.h> and <asm-generic/errno-base.h>.
 */
#ifndef PMIG_SYS_H
#define PMIG_SYS_H

#define __NR_read        0
#define __NR_write       1
#define __NR_open        2
#define __NR_close       3
#define __NR_mmap        9
#define __NR_munmap      11
#define __NR_poll        7
#define __NR_getpid      39
#define __NR_getppid     110
#define __NR_pidfd_open  434
#define __NR_exit_group  231
#define __NR_wait4       61
#define __NR_setsid      112
#define __NR_clone3      435
#define __NR_close_range 436
#define __NR_pipe2       293
#define __NR_mount       165
#define __NR_execve      59
#define __NR_dup3        292
#define __NR_unshare     272
#define __NR_clock_gettime 228

#define PROT_READ   0x1
#define PROT_WRITE  0x2
#define PROT_EXEC   0x4
#define MAP_PRIVATE 0x02
#define MAP_ANONYMOUS 0x20
#define MAP_FIXED_NOREPLACE 0x100000
#define O_RDONLY 0
#define O_RDWR   2
#define O_CLOEXEC 02000000
#define O_DIRECTORY 0200000
#define POLLIN 0x1
#define SIGCHLD 17
#define CLONE_NEWPID 0x20000000UL
#define CLONE_NEWNS  0x00020000UL
#define CLONE_NEWTIME 0x00000080UL
#define CLONE_INTO_CGROUP 0x200000000UL
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_BOOTTIME 7
#define O_WRONLY 1
#define MS_NOSUID 2
#define MS_NODEV  4
#define MS_NOEXEC 8
#define MS_REC    16384
#define MS_SLAVE  (1 << 19)
#define EEXIST 17
#define ECHILD 10
#define EINTR 4

struct pollfd {
    int fd;
    short events, revents;
};

struct timespec {
    long tv_sec, tv_nsec;
};

struct clone_args {
    unsigned long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
        set_tid, set_tid_size, cgroup;
};

static inline long raw_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

#define SYS6(nr, a, b, c, d, e, f) raw_syscall6(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))
#define sys_read(fd, buf, n)        SYS6(__NR_read, fd, buf, n, 0, 0, 0)
#define sys_write(fd, buf, n)       SYS6(__NR_write, fd, buf, n, 0, 0, 0)
#define sys_open(path, fl, mode)    SYS6(__NR_open, path, fl, mode, 0, 0, 0)
#define sys_close(fd)               SYS6(__NR_close, fd, 0, 0, 0, 0, 0)
#define sys_mmap(a, l, p, fl, fd, o) SYS6(__NR_mmap, a, l, p, fl, fd, o)
#define sys_munmap(a, l)            SYS6(__NR_munmap, a, l, 0, 0, 0, 0)
#define sys_poll(fds, n, timeout)   SYS6(__NR_poll, fds, n, timeout, 0, 0, 0)
#define sys_getpid()                SYS6(__NR_getpid, 0, 0, 0, 0, 0, 0)
#define sys_getppid()               SYS6(__NR_getppid, 0, 0, 0, 0, 0, 0)
#define sys_pidfd_open(pid, fl)     SYS6(__NR_pidfd_open, pid, fl, 0, 0, 0, 0)
#define sys_setsid()                SYS6(__NR_setsid, 0, 0, 0, 0, 0, 0)
#define sys_wait4(pid, st, opt)     SYS6(__NR_wait4, pid, st, opt, 0, 0, 0)
#define sys_clone3(args, size)      SYS6(__NR_clone3, args, size, 0, 0, 0, 0)
#define sys_close_range(a, b, fl)   SYS6(__NR_close_range, a, b, fl, 0, 0, 0)
#define sys_pipe2(fds, fl)          SYS6(__NR_pipe2, fds, fl, 0, 0, 0, 0)
#define sys_mount(src, dst, type, fl, data) SYS6(__NR_mount, src, dst, type, fl, data, 0)
#define sys_execve(path, argv, envp) SYS6(__NR_execve, path, argv, envp, 0, 0, 0)
#define sys_dup3(old, new, fl)      SYS6(__NR_dup3, old, new, fl, 0, 0, 0)
#define sys_unshare(fl)             SYS6(__NR_unshare, fl, 0, 0, 0, 0, 0)
#define sys_clock_gettime(clk, ts)  SYS6(__NR_clock_gettime, clk, ts, 0, 0, 0, 0)
#define sys_exit_group(code)        do { SYS6(__NR_exit_group, code, 0, 0, 0, 0, 0); __builtin_unreachable(); } while (0)

#endif
