package io.pmig.checkpoint.nativeio;

/** x86_64 system call numbers, as in asm/unistd_64.h. */
public final class Nr {
    public static final int READ = 0;
    public static final int WRITE = 1;
    public static final int OPEN = 2;
    public static final int CLOSE = 3;
    public static final int LSEEK = 8;
    public static final int MMAP = 9;
    public static final int MPROTECT = 10;
    public static final int MUNMAP = 11;
    public static final int BRK = 12;
    public static final int RT_SIGACTION = 13;
    public static final int RT_SIGPROCMASK = 14;
    public static final int IOCTL = 16;
    public static final int PREAD64 = 17;
    public static final int PWRITE64 = 18;
    public static final int MREMAP = 25;
    public static final int MADVISE = 28;
    public static final int PAUSE = 34;
    public static final int GETITIMER = 36;
    public static final int SETITIMER = 38;
    public static final int GETPID = 39;
    public static final int SOCKET = 41;
    public static final int SENDTO = 44;
    public static final int RECVFROM = 45;
    public static final int SOCKETPAIR = 53;
    public static final int SETSOCKOPT = 54;
    public static final int GETSOCKOPT = 55;
    public static final int WAIT4 = 61;
    public static final int KILL = 62;
    public static final int FCNTL = 72;
    public static final int CHDIR = 80;
    public static final int UMASK = 95;
    public static final int PTRACE = 101;
    public static final int SETGROUPS = 116;
    public static final int SETRESUID = 117;
    public static final int SETRESGID = 119;
    public static final int RT_SIGQUEUEINFO = 129;
    public static final int SIGALTSTACK = 131;
    public static final int PERSONALITY = 135;
    public static final int PRCTL = 157;
    public static final int ARCH_PRCTL = 158;
    public static final int CHROOT = 161;
    public static final int GETTID = 186;
    public static final int SET_TID_ADDRESS = 218;
    public static final int TIMER_CREATE = 222;
    public static final int TIMER_SETTIME = 223;
    public static final int TIMER_GETTIME = 224;
    public static final int TIMER_DELETE = 226;
    public static final int EPOLL_CTL = 233;
    public static final int MKNODAT = 259;
    public static final int SET_ROBUST_LIST = 273;
    public static final int GET_ROBUST_LIST = 274;
    public static final int TEE = 276;
    public static final int TIMERFD_CREATE = 283;
    public static final int TIMERFD_SETTIME = 286;
    public static final int TIMERFD_GETTIME = 287;
    public static final int SIGNALFD4 = 289;
    public static final int EVENTFD2 = 290;
    public static final int EPOLL_CREATE1 = 291;
    public static final int DUP3 = 292;
    public static final int PIPE2 = 293;
    public static final int RT_TGSIGQUEUEINFO = 297;
    public static final int PRLIMIT64 = 302;
    public static final int PROCESS_VM_READV = 310;
    public static final int PROCESS_VM_WRITEV = 311;
    public static final int KCMP = 312;
    public static final int RSEQ = 334;
    public static final int PIDFD_OPEN = 434;
    public static final int CLONE3 = 435;
    public static final int CLOSE_RANGE = 436;
    public static final int PIDFD_GETFD = 438;

    private Nr() {
    }
}
