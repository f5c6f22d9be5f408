package io.pmig.checkpoint.nativeio;

import io.pmig.nativeio.Errno;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;
import io.pmig.nativeio.SyscallException;

import java.nio.charset.StandardCharsets;

/**
 * Typed system calls on descriptors, memory and processes. Constants mirror asm-generic/fcntl.h,
 * asm-generic/mman-common.h, linux/kcmp.h, linux/eventfd.h, linux/timerfd.h, linux/socket.h,
 * asm-generic/resource.h and linux/prctl.h.
 */
public final class Linux {
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_ACCMODE = 3;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_NOCTTY = 0400;
    public static final int O_TRUNC = 01000;
    public static final int O_APPEND = 02000;
    public static final int O_NONBLOCK = 04000;
    public static final int O_DIRECTORY = 0200000;
    public static final int O_CLOEXEC = 02000000;
    public static final int O_PATH = 010000000;
    public static final int O_NOFOLLOW = 0400000;
    public static final int F_DUPFD_CLOEXEC = 1030;
    public static final int F_GETFD = 1;
    public static final int F_SETFD = 2;
    public static final int F_GETFL = 3;
    public static final int F_SETFL = 4;
    public static final int F_GETPIPE_SZ = 1032;
    public static final int F_SETPIPE_SZ = 1031;
    public static final int SEEK_SET = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int PROT_EXEC = 4;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_GROWSDOWN = 0x0100;
    public static final int MAP_NORESERVE = 0x4000;
    /** A mapping type of its own (in place of MAP_PRIVATE): the kernel may drop its pages under memory pressure (Linux 6.11+). */
    public static final int MAP_DROPPABLE = 0x08;
    /** asm-generic/mman-common.h */
    public static final int MADV_DONTNEED = 4;
    public static final int MADV_REMOVE = 9;
    public static final int MADV_RANDOM = 1;
    public static final int MADV_SEQUENTIAL = 2;
    public static final int MADV_DONTFORK = 10;
    public static final int MADV_MERGEABLE = 12;
    public static final int MADV_HUGEPAGE = 14;
    public static final int MADV_NOHUGEPAGE = 15;
    public static final int MADV_DONTDUMP = 16;
    public static final int MADV_WIPEONFORK = 18;
    public static final int MLOCK_ONFAULT = 1;
    public static final int MREMAP_MAYMOVE = 1;
    public static final int MREMAP_FIXED = 2;
    /** asm-generic/fcntl.h: record locks (struct flock) and flock(2) */
    public static final int F_SETLK = 6;
    public static final int F_SETLKW = 7;
    public static final int F_OFD_SETLK = 37;
    public static final int F_OFD_SETLKW = 38;
    public static final short F_RDLCK = 0;
    public static final short F_WRLCK = 1;
    public static final int LOCK_SH = 1;
    public static final int LOCK_EX = 2;
    public static final int LOCK_NB = 4;
    private static final int FLOCK_BYTES = 32;
    /** linux/sched.h: what a clone shares with its creator. */
    public static final long CLONE_VM = 0x00000100L;
    public static final long CLONE_FS = 0x00000200L;
    public static final long CLONE_FILES = 0x00000400L;
    public static final long CLONE_SIGHAND = 0x00000800L;
    public static final long CLONE_THREAD = 0x00010000L;
    public static final long CLONE_SYSVSEM = 0x00040000L;
    public static final long CLONE_CHILD_CLEARTID = 0x00200000L;
    /** linux/kcmp.h: what kcmp(2) compares between two processes. */
    public static final int KCMP_FILE = 0;
    public static final int KCMP_VM = 1;
    public static final int KCMP_FILES = 2;
    public static final int KCMP_FS = 3;
    public static final int KCMP_SIGHAND = 4;
    public static final int KCMP_EPOLL_TFD = 7;
    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_SEQPACKET = 5;
    public static final int SOCK_CLOEXEC = O_CLOEXEC;
    public static final int SOCK_NONBLOCK = O_NONBLOCK;
    public static final int SOL_SOCKET = 1;
    public static final int SO_TYPE = 3;
    public static final int SO_PEEK_OFF = 42;
    public static final int SO_DOMAIN = 39;
    public static final int MSG_PEEK = 2;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int SIGKILL = 9;
    /** poll.h */
    public static final int POLLIN = 0x1;
    /** linux/resource.h */
    public static final int PRIO_PROCESS = 0;
    public static final int SIGSTOP = 19;
    public static final int SIGCONT = 18;
    public static final int SIGCHLD = 17;
    /** wait4's option to wait for any child, cloned or not (linux/wait.h). */
    public static final int WALL = 0x40000000;
    /** The kernel's syscall restart codes, seen in rax of a thread stopped inside a syscall (include/linux/errno.h). */
    public static final int ERESTARTSYS = 512;
    public static final int ERESTARTNOINTR = 513;
    public static final int ERESTARTNOHAND = 514;
    public static final int ERESTART_RESTARTBLOCK = 516;

    private Linux() {
    }

    /** A NUL-terminated copy of {@code s} in native memory. */
    public static NativeMemory cString(String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        NativeMemory m = NativeMemory.allocate(bytes.length + 1L);
        m.put(0, bytes);
        m.put(bytes.length, new byte[] {0});
        return m;
    }

    /**
     * Gives the calling thread a working directory of its own (unshare(CLONE_FS)) and moves it to {@code path}: the
     * process's and its other threads' stay where they were.
     */
    /**
     * Gives the calling thread (alone: Linux keeps a nice value per thread) the nice value {@code nice}
     * (setpriority(PRIO_PROCESS, gettid(), nice), linux/resource.h); a higher value yields the CPU to the
     * process's other threads.
     */
    public static void niceThisThread(int nice) {
        long tid = Syscall.call("gettid", Nr.GETTID);
        Syscall.call("setpriority(PRIO_PROCESS, " + tid + ", " + nice + ")", Nr.SETPRIORITY, PRIO_PROCESS, tid, nice);
    }

    public static void chdirThisThread(String path) {
        Syscall.call("unshare(CLONE_FS)", Nr.UNSHARE, CLONE_FS);
        NativeMemory p = cString(path);
        Syscall.call("chdir(" + path + ")", Nr.CHDIR, p.address());
    }

    public static int open(String path, int flags, int mode) {
        NativeMemory p = cString(path);
        return (int) Syscall.call("open(" + path + ")", Nr.OPEN, p.address(), flags, mode);
    }

    /** linux/limits.h: a path's bytes, its terminating NUL included. */
    private static final int PATH_MAX = 4096;
    /** A file buffer grown past this is dropped after its read rather than kept by the thread (a large smaps, say). */
    private static final long KEPT_FILE_BUFFER = 1 << 20;
    /** Per thread: a path and a file's bytes ({@link #readFile}); a /proc read then allocates no native memory of its own. */
    private static final ThreadLocal<NativeMemory[]> READ_BUFFERS = ThreadLocal.withInitial(() -> new NativeMemory[] {
        NativeMemory.allocate(PATH_MAX), NativeMemory.allocate(64 << 10)});

    /**
     * The whole of the file at {@code path}, read to its end (a /proc file, whose size is known only once read) with
     * open, read and close into this thread's buffers: the engine reads hundreds of them while a process is frozen, and
     * the JDK's file reading cost twice to three times the system calls' own time each. Throws SyscallException
     * (with its errno) when the file cannot be opened or read.
     */
    public static byte[] readFile(String path) {
        NativeMemory[] buffers = READ_BUFFERS.get();
        byte[] name = path.getBytes(StandardCharsets.UTF_8);
        if (name.length >= PATH_MAX) {
            throw new IllegalArgumentException("a path of " + name.length + " bytes: " + path);
        }
        buffers[0].put(0, name);
        buffers[0].put(name.length, new byte[] {0});
        long fd = Syscall.tryCall(Nr.OPEN, buffers[0].address(), O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0) {
            throw new SyscallException("open(" + path + ")", (int) -fd);
        }
        try {
            long used = 0;
            while (true) {
                NativeMemory data = buffers[1];
                if (used == data.size()) {
                    NativeMemory larger = NativeMemory.allocate(data.size() * 2);
                    larger.put(0, data.bytes(0, (int) used));
                    buffers[1] = larger;
                    data = larger;
                }
                long n = Syscall.tryCall(Nr.READ, fd, data.address() + used, data.size() - used);
                if (n < 0) {
                    throw new SyscallException("read(" + path + ")", (int) -n);
                }
                if (n == 0) {
                    byte[] out = data.bytes(0, (int) used);
                    if (data.size() > KEPT_FILE_BUFFER) {
                        buffers[1] = NativeMemory.allocate(64 << 10);
                    }
                    return out;
                }
                used += n;
            }
        } finally {
            close((int) fd);
        }
    }

    public static void close(int fd) {
        Syscall.tryCall(Nr.CLOSE, fd);
    }

    /**
     * poll(2) of one descriptor: the events of {@code events} (and POLLERR/POLLHUP) ready on {@code fd}, waiting up to
     * {@code timeoutMillis} (0: never waits); 0 when the time ran out.
     */
    public static int poll(int fd, int events, int timeoutMillis) {
        NativeMemory m = NativeMemory.allocate(8);
        m.putInt(0, fd);
        m.putInt(4, events & 0xffff);           // struct pollfd: events (short); revents (short) = 0
        long n = Syscall.tryCall(Nr.POLL, m.address(), 1, timeoutMillis);
        if (n == -Errno.EINTR) {
            return 0;
        }
        if (n < 0) {
            throw new SyscallException("poll(" + fd + ")", (int) -n);
        }
        return m.getInt(4) >>> 16;
    }

    public static long lseek(int fd, long offset, int whence) {
        return Syscall.call("lseek(" + fd + ")", Nr.LSEEK, fd, offset, whence);
    }

    public static long read(int fd, long address, long length) {
        return Syscall.call("read(" + fd + ")", Nr.READ, fd, address, length);
    }

    public static long write(int fd, long address, long length) {
        return Syscall.call("write(" + fd + ")", Nr.WRITE, fd, address, length);
    }

    /** Writes all of {@code data} to {@code fd}. */
    public static void writeFully(int fd, byte[] data) {
        NativeMemory m = NativeMemory.allocate(Math.max(1, data.length));
        m.put(0, data);
        long done = 0;
        while (done < data.length) {
            done += write(fd, m.address() + done, data.length - done);
        }
    }

    public static int fcntl(int fd, int cmd, long arg) {
        return (int) Syscall.call("fcntl(" + fd + ", " + cmd + ")", Nr.FCNTL, fd, cmd, arg);
    }

    /** Both ends of a new pipe: [read, write]. */
    public static int[] pipe(int flags) {
        NativeMemory m = NativeMemory.allocate(8);
        Syscall.call("pipe2", Nr.PIPE2, m.address(), flags);
        return new int[] {m.getInt(0), m.getInt(4)};
    }

    public static int[] socketpair(int domain, int type) {
        NativeMemory m = NativeMemory.allocate(8);
        Syscall.call("socketpair", Nr.SOCKETPAIR, domain, type, 0, m.address());
        return new int[] {m.getInt(0), m.getInt(4)};
    }

    public static long tee(int in, int out, long length, int flags) {
        return Syscall.call("tee", Nr.TEE, in, out, length, flags);
    }

    public static int getsockoptInt(int fd, int level, int name) {
        NativeMemory m = NativeMemory.allocate(8);
        m.putInt(4, 4);
        Syscall.call("getsockopt(" + fd + ", " + name + ")", Nr.GETSOCKOPT, fd, level, name, m.address(), m.address() + 4);
        return m.getInt(0);
    }

    public static void setsockoptInt(int fd, int level, int name, int value) {
        NativeMemory m = NativeMemory.allocate(4);
        m.putInt(0, value);
        Syscall.call("setsockopt(" + fd + ", " + name + ")", Nr.SETSOCKOPT, fd, level, name, m.address(), 4);
    }

    /** recv(2) into native memory; returns the byte count or -errno. */
    public static long recv(int fd, long address, long length, int flags) {
        return Syscall.tryCall(Nr.RECVFROM, fd, address, length, flags, 0, 0);
    }

    public static long send(int fd, long address, long length, int flags) {
        return Syscall.call("send(" + fd + ")", Nr.SENDTO, fd, address, length, flags, 0, 0);
    }

    public static void fchown(int fd, int uid, int gid) {
        Syscall.call("fchown(" + fd + ", " + uid + ", " + gid + ")", Nr.FCHOWN, fd, uid, gid);
    }

    public static int pidfdOpen(int pid) {
        return pidfdOpen(pid, 0);
    }

    /** pidfd_open(2) with {@code flags}: PIDFD_NONBLOCK (O_NONBLOCK), PIDFD_THREAD (O_EXCL, Linux 6.9+) (linux/pidfd.h). */
    public static int pidfdOpen(int pid, int flags) {
        return (int) Syscall.call("pidfd_open(" + pid + ")", Nr.PIDFD_OPEN, pid, flags);
    }

    /**
     * fallocate(2) with mode 0: gives the file behind {@code fd} its blocks (tmpfs: its pages) from {@code offset} for
     * {@code length} bytes, growing it to that size if shorter; 0 or -errno (EOPNOTSUPP where the filesystem cannot).
     */
    public static long fallocate(int fd, long offset, long length) {
        return Syscall.tryCall(Nr.FALLOCATE, fd, 0, offset, length);
    }

    /** pidfd_send_signal(2): {@code signal} to the process behind {@code pidfd} (never to a later one with its pid); 0 or -errno. */
    public static long pidfdSendSignal(int pidfd, int signal) {
        return Syscall.tryCall(Nr.PIDFD_SEND_SIGNAL, pidfd, signal, 0, 0);
    }

    /** A copy, in this process, of descriptor {@code fd} of the process behind {@code pidfd}. */
    public static int pidfdGetfd(int pidfd, int fd) {
        return (int) Syscall.call("pidfd_getfd(" + fd + ")", Nr.PIDFD_GETFD, pidfd, fd, 0);
    }

    /** Whether two descriptors of one process share one open file description. */
    public static boolean sameFile(int pid, int fd1, int fd2) {
        return Syscall.call("kcmp(" + pid + ", " + fd1 + ", " + fd2 + ")", Nr.KCMP, pid, pid, KCMP_FILE, fd1, fd2) == 0;
    }

    /**
     * Whether two processes share one kernel object of kind {@code type} (a {@code KCMP_*} other than
     * {@link #KCMP_FILE}); false as well when either is gone or cannot be compared.
     */
    public static boolean shareObject(int pid1, int pid2, int type) {
        return Syscall.tryCall(Nr.KCMP, pid1, pid2, type, 0, 0) == 0;
    }

    /** Whether descriptor {@code fd1} of {@code pid1} and {@code fd2} of {@code pid2} are one open file description. */
    public static boolean shareFile(int pid1, int fd1, int pid2, int fd2) {
        return Syscall.tryCall(Nr.KCMP, pid1, pid2, KCMP_FILE, fd1, fd2) == 0;
    }

    /** A struct flock (asm-generic/fcntl.h: l_type, l_whence as shorts, l_start, l_len, l_pid) from the file's start. */
    public static byte[] flock(short type, long start, long length) {
        return java.nio.ByteBuffer.allocate(FLOCK_BYTES).order(java.nio.ByteOrder.LITTLE_ENDIAN)
            .putShort(type).putShort((short) SEEK_SET).putInt(0).putLong(start).putLong(length).putInt(0).putInt(0).array();
    }

    /**
     * Whether descriptor {@code fd} of process {@code pid} refers to the file that the {@code toff}-th watch
     * registered under number {@code tfd} in its epoll {@code epfd} watches (struct kcmp_epoll_slot, linux/kcmp.h).
     */
    public static boolean epollWatches(int pid, int fd, int epfd, int tfd, int toff) {
        NativeMemory slot = NativeMemory.allocate(12);
        slot.putInt(0, epfd);
        slot.putInt(4, tfd);
        slot.putInt(8, toff);
        return Syscall.call("kcmp(" + pid + ", EPOLL_TFD " + fd + ", " + epfd + ")", Nr.KCMP, pid, pid, KCMP_EPOLL_TFD, fd,
            slot.address()) == 0;
    }

    public static void kill(int pid, int signal) {
        Syscall.call("kill(" + pid + ", " + signal + ")", Nr.KILL, pid, signal);
    }

    public static boolean processExists(int pid) {
        return Syscall.tryCall(Nr.KILL, pid, 0) != -Errno.ESRCH;
    }

    /** rlimit {cur, max} of {@code resource} of process {@code pid}. */
    public static long[] getRlimit(int pid, int resource) {
        NativeMemory m = NativeMemory.allocate(16);
        Syscall.call("prlimit64(" + pid + ", " + resource + ")", Nr.PRLIMIT64, pid, resource, 0, m.address());
        return new long[] {m.getLong(0), m.getLong(8)};
    }

    public static void setRlimit(int pid, int resource, long cur, long max) {
        NativeMemory m = NativeMemory.allocate(16);
        m.putLong(0, cur);
        m.putLong(8, max);
        Syscall.call("prlimit64(" + pid + ", " + resource + ")", Nr.PRLIMIT64, pid, resource, m.address(), 0);
    }

    /** {head, length} of the robust futex list of thread {@code tid}. */
    public static long[] robustList(int tid) {
        NativeMemory m = NativeMemory.allocate(16);
        Syscall.call("get_robust_list(" + tid + ")", Nr.GET_ROBUST_LIST, tid, m.address(), m.address() + 8);
        return new long[] {m.getLong(0), m.getLong(8)};
    }

    /**
     * Copies between this process and another: {@code localIov} and {@code remoteIov} are arrays
     * of struct iovec {void *base; size_t len} in native memory. Returns the bytes moved.
     */
    public static long processVmReadv(int pid, long localIov, int localCount, long remoteIov, int remoteCount) {
        return Syscall.call("process_vm_readv(" + pid + ")", Nr.PROCESS_VM_READV, pid, localIov, localCount, remoteIov, remoteCount, 0);
    }

    public static long processVmWritev(int pid, long localIov, int localCount, long remoteIov, int remoteCount) {
        return Syscall.call("process_vm_writev(" + pid + ")", Nr.PROCESS_VM_WRITEV, pid, localIov, localCount, remoteIov, remoteCount, 0);
    }
}
