package io.pmig.nativeio;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.SaveError;

/**
 * The one native entry point of pmig: glibc's syscall(2). Everything that talks to the kernel
 * goes through here, so no other class sees errno or a raw return value.
 */
public final class Syscall {
    public interface LibC {
        @SaveError
        long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);
    }

    static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
    static final Runtime RUNTIME = Runtime.getRuntime(LIBC);

    private Syscall() {
    }

    /** Calls the syscall and returns its result; throws with the call's name on error. */
    public static long call(String name, int nr, long... args) {
        long result = raw(nr, args);
        if (result == -1) {
            int errno = RUNTIME.getLastError();
            throw new SyscallException(name, errno);
        }
        return result;
    }

    /** Calls the syscall and returns -errno instead of throwing (for probes and expected failures). */
    public static long tryCall(int nr, long... args) {
        long result = raw(nr, args);
        return result == -1 ? -RUNTIME.getLastError() : result;
    }

    private static long raw(int nr, long[] args) {
        long[] a = new long[6];
        System.arraycopy(args, 0, a, 0, args.length);
        return LIBC.syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
}
