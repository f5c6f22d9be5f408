package io.pmig.checkpoint.nativeio;

import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

/**
 * Files whose contents live in memory (tmpfs, memfd) and files without a name: memfd_create and its flags
 * (linux/memfd.h), file seals (linux/fcntl.h), O_TMPFILE (asm-generic/fcntl.h), the filesystem a file is on
 * (statfs(2), asm-generic/statfs.h; magic numbers of linux/magic.h).
 */
public final class Shmem {
    public static final long TMPFS_MAGIC = 0x01021994L;
    public static final int MFD_CLOEXEC = 1;
    public static final int MFD_ALLOW_SEALING = 2;
    public static final int F_ADD_SEALS = 1033;
    public static final int F_GET_SEALS = 1034;
    /** __O_TMPFILE | O_DIRECTORY: open(2) of a directory makes an unnamed file in it. */
    public static final int O_TMPFILE = 020000000 | Linux.O_DIRECTORY;
    /** struct statfs (asm-generic/statfs.h on x86_64): f_type first, the whole struct 120 bytes. */
    private static final int STATFS_BYTES = 120;

    private Shmem() {
    }

    /** f_type of the filesystem holding {@code path} (a /proc magic link is followed to the file it names). */
    public static long filesystemType(String path) {
        NativeMemory buf = NativeMemory.allocate(STATFS_BYTES);
        Syscall.call("statfs(" + path + ")", Nr.STATFS, Linux.cString(path).address(), buf.address());
        return buf.getLong(0);
    }

    /** A new memfd named {@code name} (as /proc shows it: "/memfd:NAME (deleted)"). */
    public static int memfdCreate(String name, int flags) {
        return (int) Syscall.call("memfd_create(" + name + ")", Nr.MEMFD_CREATE, Linux.cString(name).address(), flags);
    }

    public static void fchmod(int fd, int mode) {
        Syscall.call("fchmod(" + fd + ", 0" + Integer.toOctalString(mode) + ")", Nr.FCHMOD, fd, mode);
    }
}
