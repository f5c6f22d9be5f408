package io.pmig.vip.nativeio;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.SaveError;

/**
 * The VIP manager's one native entry point: glibc's syscall(2). Everything in this module that
 * talks to the kernel goes through here, so no other class sees errno or a raw return value.
 * (A copy of the checkpoint module's layer on purpose: vip-manager does not depend on checkpoint.)
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
            throw new SyscallException(name, RUNTIME.getLastError());
        }
        return result;
    }

    /** Calls the syscall and returns -errno instead of throwing (for probes and expected failures). */
    public static long tryCall(int nr, long... args) {
        long result = raw(nr, args);
        return result == -1 ? -RUNTIME.getLastError() : result;
    }

    private static long raw(int nr, long[] args) {
        long a0 = args.length > 0 ? args[0] : 0;
        long a1 = args.length > 1 ? args[1] : 0;
        long a2 = args.length > 2 ? args[2] : 0;
        long a3 = args.length > 3 ? args[3] : 0;
        long a4 = args.length > 4 ? args[4] : 0;
        long a5 = args.length > 5 ? args[5] : 0;
        return LIBC.syscall(nr, a0, a1, a2, a3, a4, a5);
    }
}
