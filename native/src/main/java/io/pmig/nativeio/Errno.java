package io.pmig.nativeio;

/** The errno values pmig tells apart (asm-generic/errno-base.h, asm-generic/errno.h). */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int ESRCH = 3;
    public static final int EINTR = 4;
    public static final int EBADF = 9;
    public static final int ECHILD = 10;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int EINVAL = 22;
    public static final int EMFILE = 24;
    public static final int ENOSPC = 28;
    public static final int ERANGE = 34;
    public static final int ENODEV = 19;
    public static final int ENOSYS = 38;
    public static final int EOPNOTSUPP = 95;
    public static final int EADDRINUSE = 98;
    public static final int EADDRNOTAVAIL = 99;
    public static final int ENETDOWN = 100;
    public static final int ENOBUFS = 105;

    private static final String[] NAMES = new String[134];

    static {
        String[] pairs = {
            "1", "EPERM (operation not permitted)", "2", "ENOENT (no such file or directory)",
            "3", "ESRCH (no such process)", "4", "EINTR", "9", "EBADF (bad descriptor)",
            "10", "ECHILD", "11", "EAGAIN", "12", "ENOMEM (out of memory)", "13", "EACCES (permission denied)",
            "14", "EFAULT (bad address)", "16", "EBUSY (busy)", "17", "EEXIST (already exists)",
            "22", "EINVAL (invalid argument)", "24", "EMFILE (too many open files)",
            "28", "ENOSPC (no space left)", "34", "ERANGE (out of range)", "38", "ENOSYS (not implemented by this kernel)",
            "95", "EOPNOTSUPP (not supported)", "19", "ENODEV (no such device)",
            "98", "EADDRINUSE (address in use)", "99", "EADDRNOTAVAIL (address not available)",
            "100", "ENETDOWN (network is down)", "105", "ENOBUFS (no buffer space)"};
        for (int i = 0; i < pairs.length; i += 2) {
            NAMES[Integer.parseInt(pairs[i])] = pairs[i + 1];
        }
    }

    private Errno() {
    }

    public static String describe(int errno) {
        String name = errno > 0 && errno < NAMES.length ? NAMES[errno] : null;
        return name != null ? name : "errno " + errno;
    }

    /** A raw syscall return in [-4095, -1] is an error. */
    public static boolean isError(long raw) {
        return raw < 0 && raw > -4096;
    }
}
