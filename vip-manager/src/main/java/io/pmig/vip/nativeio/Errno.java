package io.pmig.vip.nativeio;

/** The errno values the VIP manager tells apart (asm-generic/errno-base.h, asm-generic/errno.h). */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int EACCES = 13;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;
    public static final int ENETDOWN = 100;
    public static final int EOPNOTSUPP = 95;
    public static final int EADDRINUSE = 98;
    public static final int EADDRNOTAVAIL = 99;
    public static final int ENOBUFS = 105;

    private Errno() {
    }

    public static String describe(int errno) {
        return switch (errno) {
            case EPERM -> "EPERM (operation not permitted)";
            case ENOENT -> "ENOENT (no such file or directory)";
            case EINTR -> "EINTR (interrupted)";
            case EAGAIN -> "EAGAIN (try again)";
            case EACCES -> "EACCES (permission denied)";
            case EEXIST -> "EEXIST (already exists)";
            case ENODEV -> "ENODEV (no such device)";
            case EINVAL -> "EINVAL (invalid argument)";
            case EOPNOTSUPP -> "EOPNOTSUPP (not supported)";
            case EADDRINUSE -> "EADDRINUSE (address in use)";
            case EADDRNOTAVAIL -> "EADDRNOTAVAIL (address not available)";
            case ENETDOWN -> "ENETDOWN (network is down)";
            case ENOBUFS -> "ENOBUFS (no buffer space)";
            default -> "errno " + errno;
        };
    }
}
